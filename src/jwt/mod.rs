//! JWT verification (RFC 7519 over compact JWS, RFC 7515) for HS256, HS384 and HS512.
//!
//! [`verify`] is pure and deterministic: the current time is an argument. It performs, in this
//! order, stopping at the first failure:
//!
//! 1. size limit ([`MAX_TOKEN_LEN`], [`ErrorKind::TooLarge`]), then exactly three segments made
//!    only of base64url characters ([`ErrorKind::Malformed`]);
//! 2. header: strict base64url (no padding, no non-canonical trailing bits), a JSON object
//!    without duplicate member names, `alg` present;
//! 3. `alg` against [`Validation::algorithms`], before any key is looked at
//!    ([`ErrorKind::AlgNotAllowed`]; `none` in any spelling is never an [`Algorithm`]);
//! 4. `crit` present → [`ErrorKind::UnsupportedCrit`]; `typ` present and not `JWT` / `at+jwt`
//!    (case-insensitive, optional `application/`) → [`ErrorKind::BadType`];
//! 5. key selection by `kid` ([`KeySet`] documents the rule; never "try every key"), then the
//!    key's family and pinned algorithm against `alg`;
//! 6. HMAC over exactly the received `header.payload` bytes, compared in constant time
//!    ([`ErrorKind::BadSignature`]);
//! 7. payload: strict base64url, one JSON object, no duplicate names, typed claims
//!    ([`Claims`]);
//! 8. required claims, `exp`, `nbf`, `iat`/`max_age`, `iss`, `aud` ([`Validation`]).
//!
//! Error texts never contain the token or a key. Asymmetric algorithms can be added as new
//! [`Algorithm`] variants and [`KeyFamily`] / key material kinds without changing these
//! signatures.

mod algorithm;
mod claims;
mod error;
mod header;
mod json;
mod key;
mod validation;

use std::borrow::Cow;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};

pub use algorithm::{Algorithm, KeyFamily};
pub use claims::Claims;
pub use error::{Error, ErrorKind};
pub use header::Header;
pub use json::MAX_NUMERIC_DATE;
pub use key::{parse_secret, Key, KeySet, BASE64_SECRET_PREFIX};
pub use validation::Validation;

use error::{malformed, missing_claim};
use header::{typ_ok, HeaderSeed};
use json::{CowStr, Ctx};
use key::KeyMaterial;

/// Longest accepted token, in bytes (8 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// base64url without padding; decoding refuses padding and non-canonical trailing bits.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Verifies `token` (a compact JWS carrying a JWT claims set) and returns its claims.
///
/// `now` is the current time in seconds since the Unix epoch. See the [module](self) docs for
/// the order of checks.
pub fn verify(
    token: &str,
    keys: &KeySet,
    validation: &Validation,
    now: u64,
) -> Result<Claims, Error> {
    let parts = split(token)?;
    check_signature(&parts, keys, &validation.algorithms, false)?;
    let claims = parse_claims(parts.payload)?;
    validate_claims(&claims, validation, now)?;
    Ok(claims)
}

/// A JWS whose signature has been verified; the payload is not interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The understood header parameters.
    pub header: Header,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
}

/// Verifies only the JWS layer (steps 1–6 of the [module](self) docs, then strict base64url of
/// the payload) and returns the header and the raw payload, which need not be JSON.
///
/// Used for JWS test vectors whose payload is not a claims set; applications want [`verify`].
pub fn verify_jws(
    token: &str,
    keys: &KeySet,
    algorithms: &[Algorithm],
) -> Result<VerifiedJws, Error> {
    let parts = split(token)?;
    let header = check_signature(&parts, keys, algorithms, true)?;
    let payload = B64
        .decode(parts.payload)
        .map_err(|_| malformed("payload is not canonical unpadded base64url"))?;
    let header = header.ok_or_else(|| malformed("header could not be read"))?;
    Ok(VerifiedJws { header, payload })
}

/// Signs `claims` as a compact JWS with an HMAC algorithm; the header is
/// `{"alg":…,"typ":"JWT"}` plus `"kid"` when given. For the CLI and tests.
///
/// HMAC accepts any key length, so this cannot fail; an empty `secret` makes a token that
/// [`verify`] never accepts.
pub fn sign_hs(
    alg: Algorithm,
    secret: &[u8],
    kid: Option<&str>,
    claims: &Map<String, Value>,
) -> String {
    let mut header = String::with_capacity(64);
    header.push_str("{\"alg\":\"");
    header.push_str(alg.name());
    header.push_str("\",\"typ\":\"JWT\"");
    if let Some(kid) = kid {
        header.push_str(",\"kid\":");
        header.push_str(&Value::String(kid.to_owned()).to_string());
    }
    header.push('}');
    // Serializing a map with string keys and `Value`s cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();

    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 100);
    B64.encode_string(header.as_bytes(), &mut token);
    token.push('.');
    B64.encode_string(&payload, &mut token);
    let signature = hmac_sign(alg, secret, token.as_bytes());
    token.push('.');
    B64.encode_string(&signature, &mut token);
    token
}

fn hmac_sign(alg: Algorithm, secret: &[u8], data: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
        match <M as KeyInit>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match alg {
        Algorithm::HS256 => run::<Hmac<Sha256>>(secret, data),
        Algorithm::HS384 => run::<Hmac<Sha384>>(secret, data),
        Algorithm::HS512 => run::<Hmac<Sha512>>(secret, data),
    }
}

/// The three segments of a compact JWS, plus the signing input (`header.payload`).
#[derive(Debug)]
struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    signing_input: &'t str,
}

/// `true` for the base64url alphabet.
const fn b64url_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        i += 1;
    }
    t
}
const B64URL: [bool; 256] = b64url_table();

fn split(token: &str) -> Result<Parts<'_>, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "token is longer than the 8 KiB limit",
        ));
    }
    let bytes = token.as_bytes();
    let mut dots = [0usize; 2];
    let mut n = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'.' {
            if n == 2 {
                return Err(malformed("token has more than three segments"));
            }
            dots[n] = i;
            n += 1;
        } else if !B64URL[usize::from(b)] {
            return Err(malformed(
                "token has a character outside the base64url alphabet (padding, whitespace, ...)",
            ));
        }
    }
    if n != 2 {
        return Err(malformed("token has fewer than three segments"));
    }
    let [d1, d2] = dots;
    // The dots are ASCII, so these are char boundaries.
    match (
        token.get(..d1),
        token.get(d1 + 1..d2),
        token.get(d2 + 1..),
        token.get(..d2),
    ) {
        (Some(header), Some(payload), Some(signature), Some(signing_input)) => Ok(Parts {
            header,
            payload,
            signature,
            signing_input,
        }),
        _ => Err(malformed("token could not be split")),
    }
}

/// Exact decoded length of unpadded base64 of `len` characters, `None` if impossible.
fn decoded_len(len: usize) -> Option<usize> {
    let full = len / 4 * 3;
    match len % 4 {
        0 => Some(full),
        2 => Some(full + 1),
        3 => Some(full + 2),
        _ => None,
    }
}

/// Decodes a segment into `stack` when it fits, else into `heap`.
fn decode_segment<'b>(
    segment: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
    what: &'static str,
) -> Result<&'b [u8], Error> {
    let len = decoded_len(segment.len()).ok_or_else(|| malformed(what))?;
    let out: &'b mut [u8] = match stack.get_mut(..len) {
        Some(out) => out,
        None => {
            heap.resize(len, 0);
            heap.as_mut_slice()
        }
    };
    let written = B64
        .decode_slice(segment, &mut *out)
        .map_err(|_| malformed(what))?;
    let out: &'b [u8] = out;
    out.get(..written).ok_or_else(|| malformed(what))
}

/// Steps 2–6: header, allow-list, crit/typ, key selection, signature. Returns the header when
/// `want_header`.
fn check_signature(
    parts: &Parts<'_>,
    keys: &KeySet,
    algorithms: &[Algorithm],
    want_header: bool,
) -> Result<Option<Header>, Error> {
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let bytes = decode_segment(
        parts.header,
        &mut stack,
        &mut heap,
        "header is not canonical unpadded base64url",
    )?;
    let ctx = Ctx::default();
    let raw = json::parse_object(
        bytes,
        HeaderSeed { ctx: &ctx },
        &ctx,
        "header is not a JSON object",
        "header is not valid JSON",
    )?;

    let alg_name = raw
        .alg
        .as_ref()
        .ok_or_else(|| malformed("header has no alg"))?;
    let alg = match Algorithm::from_name(alg_name.as_str()) {
        Some(alg) if algorithms.contains(&alg) => alg,
        Some(_) => {
            return Err(Error::new(
                ErrorKind::AlgNotAllowed,
                "algorithm is not in the allowed list",
            ))
        }
        None => {
            return Err(Error::new(
                ErrorKind::AlgNotAllowed,
                "algorithm is unknown or unsupported",
            ))
        }
    };
    if raw.crit {
        return Err(Error::new(
            ErrorKind::UnsupportedCrit,
            "header has a crit parameter naming extensions this verifier does not support",
        ));
    }
    if let Some(typ) = &raw.typ {
        if !typ_ok(typ.as_str()) {
            return Err(Error::new(
                ErrorKind::BadType,
                "typ header parameter is neither JWT nor at+jwt",
            ));
        }
    }

    let key = keys.select(raw.kid.as_ref().map(CowStr::as_str))?;
    key.check_algorithm(alg)?;
    verify_mac(key, alg, parts.signing_input, parts.signature)?;

    Ok(want_header.then(|| Header {
        alg,
        kid: raw.kid.map(CowStr::into_owned),
        typ: raw.typ.map(CowStr::into_owned),
    }))
}

fn bad_signature() -> Error {
    Error::new(ErrorKind::BadSignature, "signature does not match")
}

fn verify_mac(key: &Key, alg: Algorithm, input: &str, signature: &str) -> Result<(), Error> {
    let len = alg.signature_len();
    if signature.len() != (len * 4).div_ceil(3) {
        return Err(bad_signature());
    }
    let mut buf = [0u8; 64];
    let written = B64
        .decode_slice(signature, &mut buf)
        .map_err(|_| malformed("signature is not canonical unpadded base64url"))?;
    let sig = buf.get(..written).ok_or_else(bad_signature)?;

    let KeyMaterial::Hmac(h) = &key.material;
    if h.len == 0 {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            "the selected key is empty",
        ));
    }
    fn check<M: Mac + Clone>(mac: Option<&M>, input: &[u8], sig: &[u8]) -> Option<bool> {
        let mut mac = mac?.clone();
        mac.update(input);
        Some(mac.verify_slice(sig).is_ok())
    }
    let input = input.as_bytes();
    let ok = match alg {
        Algorithm::HS256 => check(h.hs256.as_ref(), input, sig),
        Algorithm::HS384 => check(h.hs384.as_ref(), input, sig),
        Algorithm::HS512 => check(h.hs512.as_ref(), input, sig),
    };
    match ok {
        Some(true) => Ok(()),
        Some(false) => Err(bad_signature()),
        None => Err(Error::new(
            ErrorKind::InvalidKey,
            "the selected key is unusable",
        )),
    }
}

fn parse_claims(payload: &str) -> Result<Claims, Error> {
    let mut stack = [0u8; 1024];
    let mut heap = Vec::new();
    let bytes = decode_segment(
        payload,
        &mut stack,
        &mut heap,
        "payload is not canonical unpadded base64url",
    )?;
    let ctx = Ctx::default();
    json::parse_object(
        bytes,
        claims::ClaimsSeed { ctx: &ctx },
        &ctx,
        "payload is not a JSON object",
        "payload is not valid JSON",
    )
}

fn validate_claims(c: &Claims, v: &Validation, now: u64) -> Result<(), Error> {
    for name in &v.required_claims {
        if !c.has(name) {
            return Err(missing_claim(Cow::Owned(name.clone())));
        }
    }
    let now = now as f64;
    let leeway = v.leeway as f64;
    if let Some(exp) = c.exp {
        // RFC 7519 §4.1.4: the current time must be before exp (plus leeway).
        if now >= exp + leeway {
            return Err(Error::new(ErrorKind::Expired, "token has expired"));
        }
    }
    if v.validate_nbf {
        if let Some(nbf) = c.nbf {
            if now + leeway < nbf {
                return Err(Error::new(
                    ErrorKind::NotYetValid,
                    "token is not valid yet (nbf)",
                ));
            }
        }
    }
    if let Some(max_age) = v.max_age {
        let iat = c.iat.ok_or_else(|| missing_claim(Cow::Borrowed("iat")))?;
        if iat > now + leeway {
            return Err(Error::new(
                ErrorKind::NotYetValid,
                "token is issued in the future (iat)",
            ));
        }
        if now - iat > max_age as f64 + leeway {
            return Err(Error::new(
                ErrorKind::TooOld,
                "token is older than the maximum age (iat)",
            ));
        }
    }
    if !v.issuers.is_empty() {
        let iss = c
            .iss
            .as_ref()
            .ok_or_else(|| missing_claim(Cow::Borrowed("iss")))?;
        if !v.issuers.iter().any(|i| i == iss) {
            return Err(Error::new(
                ErrorKind::WrongIssuer,
                "issuer is not an expected one",
            ));
        }
    }
    if !v.audiences.is_empty() {
        if c.aud.is_empty() {
            return Err(missing_claim(Cow::Borrowed("aud")));
        }
        if !c.aud.iter().any(|a| v.audiences.contains(a)) {
            return Err(Error::new(
                ErrorKind::WrongAudience,
                "no audience is an expected one",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
