//! Public keys from JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) and JWK sets.
//!
//! Accepted key types: `RSA` (`n`, `e`; modulus of 2048 to 8192 bits), `EC` on `P-256` or
//! `P-384` (`x`, `y` of exactly 32 or 48 bytes), `OKP` on `Ed25519` (`x` of 32 bytes). Every
//! binary member must be canonical unpadded base64url. Optional members: `kid` (a non-empty
//! string), `alg` (a supported algorithm that fits the key type and curve: the key is then
//! pinned to it), `use` (must be `sig`), `key_ops` (must contain `verify`). Private members
//! (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`) and anything else (`x5c`, `x5t`, ...) are ignored and
//! never stored. Symmetric `oct` keys are refused: a published key set never holds secrets.
//!
//! Natively, RSA keys are also checked to be usable by the verifier, and EC/OKP points to lie on
//! their curve; on `wasm32` those checks are left to the WebCrypto key import.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::algorithm::{Algorithm, EcCurve, KeyFamily, OkpCurve};
use super::error::{Error, ErrorKind};
use super::key::{Key, KeySet};
use super::{json, B64};

/// Smallest accepted RSA modulus, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// A public verification key, as read from a JWK.
///
/// Byte strings are unsigned big-endian integers (RSA, without leading zero bytes) or
/// fixed-length coordinates (EC, OKP), exactly as WebCrypto's key import expects them. Values
/// are built only by this crate (after the checks listed in the [module](self) docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// RSA public key.
    #[non_exhaustive]
    Rsa {
        /// Modulus, big-endian, no leading zero byte.
        n: Vec<u8>,
        /// Public exponent, big-endian, no leading zero byte.
        e: Vec<u8>,
    },
    /// Elliptic-curve public key (uncompressed affine coordinates).
    #[non_exhaustive]
    Ec {
        /// The curve.
        curve: EcCurve,
        /// x coordinate, [`EcCurve::coordinate_len`] bytes.
        x: Vec<u8>,
        /// y coordinate, [`EcCurve::coordinate_len`] bytes.
        y: Vec<u8>,
    },
    /// Octet key pair public key (RFC 8037).
    #[non_exhaustive]
    Okp {
        /// The curve.
        curve: OkpCurve,
        /// The public key bytes (32 for Ed25519).
        x: Vec<u8>,
    },
}

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorKind::InvalidKey, message)
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

impl PublicKey {
    /// An RSA public key from its modulus and exponent (big-endian; leading zero bytes are
    /// dropped). Refused with [`ErrorKind::InvalidKey`]: a modulus under [`MIN_RSA_BITS`] or over
    /// [`MAX_RSA_BITS`] bits or even, an exponent that is even, below 3 or over 2^33 - 1.
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, Error> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = match n.first() {
            Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        };
        if bits < MIN_RSA_BITS {
            return Err(invalid("RSA modulus is shorter than 2048 bits"));
        }
        if bits > MAX_RSA_BITS {
            return Err(invalid("RSA modulus is longer than 8192 bits"));
        }
        if n.last().is_some_and(|b| b & 1 == 0) {
            return Err(invalid("RSA modulus is even"));
        }
        if e.len() > 8 {
            return Err(invalid("RSA public exponent is too large"));
        }
        let e_value = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if e_value < 3 || e_value % 2 == 0 || e_value > (1 << 33) - 1 {
            return Err(invalid(
                "RSA public exponent must be odd, at least 3 and below 2^33",
            ));
        }
        let key = PublicKey::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        };
        native_check(&key)?;
        Ok(key)
    }

    /// An elliptic-curve public key from its affine coordinates, each exactly
    /// [`EcCurve::coordinate_len`] bytes ([`ErrorKind::InvalidKey`] otherwise, or natively when
    /// the point is not on the curve).
    pub fn ec(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self, Error> {
        let len = curve.coordinate_len();
        if x.len() != len || y.len() != len {
            return Err(invalid(
                "EC key coordinates do not have the length of the curve",
            ));
        }
        let key = PublicKey::Ec {
            curve,
            x: x.to_vec(),
            y: y.to_vec(),
        };
        native_check(&key)?;
        Ok(key)
    }

    /// An octet-key-pair public key (32 bytes for Ed25519; [`ErrorKind::InvalidKey`] otherwise,
    /// or natively when the bytes are not a valid point).
    pub fn okp(curve: OkpCurve, x: &[u8]) -> Result<Self, Error> {
        if x.len() != 32 {
            return Err(invalid("Ed25519 public key is not 32 bytes long"));
        }
        let key = PublicKey::Okp {
            curve,
            x: x.to_vec(),
        };
        native_check(&key)?;
        Ok(key)
    }

    /// The key family, which decides the algorithms this key can verify.
    pub fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa { .. } => KeyFamily::Rsa,
            PublicKey::Ec { curve, .. } => KeyFamily::Ec(*curve),
            PublicKey::Okp { curve, .. } => KeyFamily::Okp(*curve),
        }
    }

    /// Length in bytes of a signature made with this key (modulus length for RSA).
    pub(crate) fn signature_len(&self) -> usize {
        match self {
            PublicKey::Rsa { n, .. } => n.len(),
            PublicKey::Ec { curve, .. } => 2 * curve.coordinate_len(),
            PublicKey::Okp { .. } => 64,
        }
    }

    /// The public JWK (only `kty`, `crv`, `n`/`e` or `x`/`y`), as JSON text: what WebCrypto's
    /// `importKey("jwk", ...)` takes once parsed.
    pub fn to_jwk_json(&self) -> String {
        let b64 = |bytes: &[u8]| Value::String(B64.encode(bytes));
        let mut map = Map::new();
        match self {
            PublicKey::Rsa { n, e } => {
                map.insert("kty".to_owned(), Value::from("RSA"));
                map.insert("n".to_owned(), b64(n));
                map.insert("e".to_owned(), b64(e));
            }
            PublicKey::Ec { curve, x, y } => {
                map.insert("kty".to_owned(), Value::from("EC"));
                map.insert("crv".to_owned(), Value::from(curve.name()));
                map.insert("x".to_owned(), b64(x));
                map.insert("y".to_owned(), b64(y));
            }
            PublicKey::Okp { curve, x } => {
                map.insert("kty".to_owned(), Value::from("OKP"));
                map.insert("crv".to_owned(), Value::from(curve.name()));
                map.insert("x".to_owned(), b64(x));
            }
        }
        Value::Object(map).to_string()
    }

    /// For EC keys, the SEC 1 uncompressed point `04 || x || y` (WebCrypto `importKey("raw")`).
    pub fn ec_uncompressed_point(&self) -> Option<Vec<u8>> {
        match self {
            PublicKey::Ec { x, y, .. } => {
                let mut out = Vec::with_capacity(1 + x.len() + y.len());
                out.push(4);
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Some(out)
            }
            _ => None,
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn native_check(key: &PublicKey) -> Result<(), Error> {
    super::native::check_key(key)
}

#[cfg(target_arch = "wasm32")]
fn native_check(_key: &PublicKey) -> Result<(), Error> {
    Ok(())
}

/// A parsed JWK set: the usable keys, and why the others were skipped.
#[derive(Debug, Clone)]
pub struct Jwks {
    /// The usable keys, in the order of the set (never empty).
    pub keys: KeySet,
    /// The keys that were skipped (unsupported type, curve or algorithm, `use` other than `sig`,
    /// bad encoding, ...), in order.
    pub skipped: Vec<SkippedKey>,
}

/// A key of a JWK set that was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped (always [`ErrorKind::InvalidKey`]).
    pub error: Error,
}

fn parse_json_object(text: &str, what: &'static str) -> Result<Map<String, Value>, Error> {
    match json::parse_value(text.as_bytes()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(what)),
        Err(e) if e.kind() == ErrorKind::DuplicateClaim => Err(invalid(
            "JWK or JWK set has a member name twice in one object",
        )),
        Err(_) => Err(invalid("JWK or JWK set is not valid JSON")),
    }
}

/// Parses one JWK (a JSON object) into a verification key; see the [module](self) docs.
pub(crate) fn key_from_jwk(text: &str) -> Result<Key, Error> {
    key_from_jwk_object(&parse_json_object(text, "JWK is not a JSON object")?)
}

/// Parses a JWK set (`{"keys": [...]}`); see the [module](self) docs. Unusable keys are
/// skipped and listed in [`Jwks::skipped`]; a set without any usable key is
/// [`ErrorKind::InvalidKey`], as is text that is not such an object.
pub fn parse_jwks(text: &str) -> Result<Jwks, Error> {
    let map = parse_json_object(text, "JWK set is not a JSON object")?;
    let Some(Value::Array(list)) = map.get("keys") else {
        return Err(invalid("JWK set has no keys array"));
    };
    let mut keys = Vec::with_capacity(list.len());
    let mut skipped = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let result = match item {
            Value::Object(jwk) => key_from_jwk_object(jwk),
            _ => Err(invalid("JWK is not a JSON object")),
        };
        match result {
            Ok(key) => keys.push(key),
            Err(error) => skipped.push(SkippedKey {
                index,
                kid: item.get("kid").and_then(Value::as_str).map(str::to_owned),
                error,
            }),
        }
    }
    if keys.is_empty() {
        return Err(invalid("JWK set has no usable key"));
    }
    Ok(Jwks {
        keys: KeySet::new(keys),
        skipped,
    })
}

fn opt_str<'a>(
    jwk: &'a Map<String, Value>,
    name: &str,
    message: &'static str,
) -> Result<Option<&'a str>, Error> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(message)),
    }
}

fn bytes(jwk: &Map<String, Value>, name: &str, missing: &'static str) -> Result<Vec<u8>, Error> {
    match jwk.get(name) {
        Some(Value::String(s)) => B64
            .decode(s)
            .map_err(|_| invalid("JWK member is not canonical unpadded base64url")),
        Some(_) => Err(invalid("JWK member is not a string")),
        None => Err(invalid(missing)),
    }
}

/// One JWK already parsed as a JSON object (see [`key_from_jwk`]).
pub(crate) fn key_from_jwk_object(jwk: &Map<String, Value>) -> Result<Key, Error> {
    let kty =
        opt_str(jwk, "kty", "JWK kty is not a string")?.ok_or_else(|| invalid("JWK has no kty"))?;
    if let Some(usage) = opt_str(jwk, "use", "JWK use is not a string")? {
        if usage != "sig" {
            return Err(invalid("JWK use is not sig"));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let Value::Array(ops) = ops else {
            return Err(invalid("JWK key_ops is not an array"));
        };
        if ops.iter().any(|op| !op.is_string()) {
            return Err(invalid("JWK key_ops has a member that is not a string"));
        }
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return Err(invalid("JWK key_ops does not allow verify"));
        }
    }
    let kid = match opt_str(jwk, "kid", "JWK kid is not a string")? {
        Some("") => return Err(invalid("JWK kid is empty")),
        Some(kid) => Some(kid.to_owned()),
        None => None,
    };
    let alg = match opt_str(jwk, "alg", "JWK alg is not a string")? {
        Some(name) => Some(
            Algorithm::from_name(name)
                .ok_or_else(|| invalid("JWK alg is unknown or unsupported"))?,
        ),
        None => None,
    };

    let crv = || opt_str(jwk, "crv", "JWK crv is not a string");
    let public = match kty {
        "RSA" => PublicKey::rsa(
            &bytes(jwk, "n", "RSA JWK has no n")?,
            &bytes(jwk, "e", "RSA JWK has no e")?,
        )?,
        "EC" => {
            let curve = match crv()? {
                Some("P-256") => EcCurve::P256,
                Some("P-384") => EcCurve::P384,
                Some(_) => return Err(invalid("EC JWK curve is not supported (P-256, P-384)")),
                None => return Err(invalid("EC JWK has no crv")),
            };
            PublicKey::ec(
                curve,
                &bytes(jwk, "x", "EC JWK has no x")?,
                &bytes(jwk, "y", "EC JWK has no y")?,
            )?
        }
        "OKP" => {
            let curve = match crv()? {
                Some("Ed25519") => OkpCurve::Ed25519,
                Some(_) => return Err(invalid("OKP JWK curve is not supported (Ed25519)")),
                None => return Err(invalid("OKP JWK has no crv")),
            };
            PublicKey::okp(curve, &bytes(jwk, "x", "OKP JWK has no x")?)?
        }
        "oct" => {
            return Err(invalid(
                "symmetric (oct) JWKs are refused: a public key set must not hold secrets",
            ))
        }
        _ => return Err(invalid("JWK kty is not supported (RSA, EC, OKP)")),
    };
    if let Some(alg) = alg {
        if alg.family() != public.family() {
            return Err(invalid("JWK alg does not fit its kty or crv"));
        }
    }
    let key = Key::public(kid, public);
    Ok(match alg {
        Some(alg) => key.with_algorithm(alg),
        None => key,
    })
}
