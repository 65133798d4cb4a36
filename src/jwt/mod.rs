//! JWT verification (RFC 7519 over compact JWS, RFC 7515) for HS256/384/512, RS256/384/512,
//! PS256/384/512, ES256, ES384 and EdDSA (Ed25519), with keys from secrets or JWKs ([`jwk`]).
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
//!    key's family (HMAC secret, RSA, EC curve, OKP curve) and pinned algorithm against `alg`
//!    ([`ErrorKind::AlgNotAllowed`]: no algorithm confusion), then the signature's length
//!    ([`ErrorKind::BadSignature`]) and encoding ([`ErrorKind::Malformed`]);
//! 6. the signature over exactly the received `header.payload` bytes (HMAC compared in constant
//!    time; [`ErrorKind::BadSignature`]);
//! 7. payload: strict base64url, one JSON object, no duplicate names, typed claims
//!    ([`Claims`]);
//! 8. required claims, `exp`, `nbf`, `iat`/`max_age`, `iss`, `aud` ([`Validation`]).
//!
//! Steps 1–4 are [`decode_unverified`], step 5 [`Unverified::select_key`], step 6
//! [`Unverified::verify_signature`] (or WebCrypto in the worker) and steps 7–8
//! [`Unverified::into_claims`]. On `wasm32` the RustCrypto crates are not linked: asymmetric
//! signatures give [`ErrorKind::AsyncVerificationRequired`] from the synchronous calls.
//!
//! Error texts never contain the token or a key.
//!
//! Signing, for receipts, the CLI and tests: [`sign_hs`] (HMAC), and [`signing_input`] with
//! [`with_signature`] for a signature made elsewhere (the receipts' Ed25519 ones, whose private
//! keys [`ed25519`] reads).

mod algorithm;
mod claims;
pub mod ed25519;
mod error;
mod header;
pub(crate) mod json;
pub mod jwk;
mod key;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod validation;

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};

pub use algorithm::{Algorithm, EcCurve, KeyFamily, OkpCurve};
pub use claims::Claims;
pub use error::{Error, ErrorKind};
pub use header::Header;
pub use jwk::{Jwks, PublicKey, SkippedKey};
pub use key::{parse_secret, Key, KeySet, KeySettingsError};
pub use validation::Validation;

use error::{malformed, missing_claim};
use header::{typ_ok, HeaderSeed};
use json::{CowStr, Ctx};
use key::{HmacKey, KeyMaterial};

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
/// the order of checks. Built from the two phases [`decode_unverified`] and
/// [`Unverified::into_claims`]: HMAC is checked inline everywhere, asymmetric algorithms natively
/// with RustCrypto; on `wasm32` an asymmetric token is refused with
/// [`ErrorKind::AsyncVerificationRequired`] (after the key checks), because the worker checks
/// those signatures asynchronously with WebCrypto.
pub fn verify(
    token: &str,
    keys: &KeySet,
    validation: &Validation,
    now: u64,
) -> Result<Claims, Error> {
    let unverified = decode(token, &validation.algorithms)?;
    let key = unverified.select_key(keys)?;
    let ok = unverified.verify_signature(key)?;
    unverified.into_claims(ok, validation, now)
}

/// Phase one of verification: steps 1–4 of the [module](self) docs (size, segments, strict
/// base64url header, `alg` against [`Validation::algorithms`], `crit`, `typ`), without any key.
///
/// Then: pick a key with [`Unverified::select_key`] (checks that it fits `alg` and that the
/// signature has the right shape), check the signature over [`Unverified::signing_input`] —
/// synchronously with [`Unverified::verify_signature`], or elsewhere (WebCrypto) — and finish
/// with [`Unverified::into_claims`].
pub fn decode_unverified<'t>(
    token: &'t str,
    validation: &Validation,
) -> Result<Unverified<'t>, Error> {
    decode(token, &validation.algorithms)
}

/// A token whose header passed the checks of [`decode_unverified`] and whose signature has not
/// been checked yet. Nothing in it is trustworthy besides the header's `alg` being allowed.
///
/// The `Debug` output shows the header only, never the token (a bearer credential).
#[derive(Clone)]
pub struct Unverified<'t> {
    alg: Algorithm,
    kid: Option<String>,
    header_segment: &'t str,
    signing_input: &'t str,
    payload: &'t str,
    signature_segment: &'t str,
    signature: SigBytes,
}

/// Longest signature kept inline (ES384); RSA signatures go to the heap.
const INLINE_SIG: usize = 96;

/// The decoded signature, inline when short (no allocation for HMAC, ECDSA, EdDSA).
#[derive(Clone)]
enum SigBytes {
    /// Not canonical unpadded base64url.
    Bad,
    Inline([u8; INLINE_SIG], usize),
    Heap(Vec<u8>),
}

impl SigBytes {
    fn decode(segment: &str) -> Self {
        match decoded_len(segment.len()) {
            Some(len) if len <= INLINE_SIG => {
                let mut buf = [0u8; INLINE_SIG];
                match B64.decode_slice(segment, &mut buf) {
                    Ok(written) => SigBytes::Inline(buf, written),
                    Err(_) => SigBytes::Bad,
                }
            }
            Some(_) => B64.decode(segment).map_or(SigBytes::Bad, SigBytes::Heap),
            None => SigBytes::Bad,
        }
    }

    fn get(&self) -> Option<&[u8]> {
        match self {
            SigBytes::Bad => None,
            SigBytes::Inline(buf, len) => buf.get(..*len),
            SigBytes::Heap(v) => Some(v),
        }
    }
}

impl<'t> Unverified<'t> {
    /// The header's algorithm (in the allow-list).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The payload's `iss`, read **without** any check (no signature yet): only to choose which
    /// issuer's key set to use. `None` when the payload is not canonical base64url of a JSON
    /// object with exactly one string `iss`. The real `iss` check happens in
    /// [`into_claims`](Self::into_claims).
    pub fn issuer_hint(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Peek {
            iss: Option<String>,
        }
        let bytes = B64.decode(self.payload).ok()?;
        // Only an object: the derived visitor would also read a sequence.
        let first = bytes
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
        if *first != b'{' {
            return None;
        }
        let peek: Peek = serde_json::from_slice(&bytes).ok()?;
        peek.iss
    }

    /// The bytes the signature is computed over: the received `header.payload`, exactly.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature (empty when the segment is not canonical base64url, which
    /// [`select_key`](Self::select_key) refuses). ECDSA signatures are raw `r || s`, as WebCrypto
    /// expects them.
    pub fn signature(&self) -> &[u8] {
        self.signature.get().unwrap_or_default()
    }

    /// Step 5 of the [module](self) docs: selects the key for the token's `kid` (rule on
    /// [`KeySet`]), then refuses it unless it fits `alg` (family, curve, pinned algorithm:
    /// [`ErrorKind::AlgNotAllowed`]), and refuses a signature of the wrong length
    /// ([`ErrorKind::BadSignature`]) or encoding ([`ErrorKind::Malformed`]), or an empty secret
    /// ([`ErrorKind::InvalidKey`]). No cryptography is done.
    pub fn select_key<'k>(&self, keys: &'k KeySet) -> Result<&'k Key, Error> {
        let key = keys.select(self.kid())?;
        self.check_key(key)?;
        Ok(key)
    }

    /// The checks of [`select_key`](Self::select_key) on a key chosen by the caller.
    pub fn check_key(&self, key: &Key) -> Result<(), Error> {
        let alg = self.alg;
        key.check_algorithm(alg)?;
        let len = match &key.material {
            KeyMaterial::Hmac(_) => alg.fixed_signature_len(),
            KeyMaterial::Public(public) => Some(public.signature_len()),
        }
        .unwrap_or(0);
        if self.signature_segment.len() != (len * 4).div_ceil(3) {
            return Err(bad_signature());
        }
        let Some(signature) = self.signature.get() else {
            return Err(malformed("signature is not canonical unpadded base64url"));
        };
        if signature.len() != len {
            return Err(bad_signature());
        }
        if let KeyMaterial::Hmac(h) = &key.material {
            if h.len == 0 {
                return Err(Error::new(
                    ErrorKind::InvalidKey,
                    "the selected key is empty",
                ));
            }
        }
        Ok(())
    }

    /// Step 6 synchronously: `Ok(true)` when the signature is good. Runs
    /// [`check_key`](Self::check_key) first. HMAC works everywhere; asymmetric algorithms
    /// natively only: on `wasm32` they give [`ErrorKind::AsyncVerificationRequired`].
    pub fn verify_signature(&self, key: &Key) -> Result<bool, Error> {
        self.check_key(key)?;
        let input = self.signing_input.as_bytes();
        let signature = self.signature();
        match &key.material {
            KeyMaterial::Hmac(h) => verify_mac(h, self.alg, input, signature),
            KeyMaterial::Public(public) => verify_public(public, self.alg, input, signature),
        }
    }

    /// Steps 7–8: refuses the token with [`ErrorKind::BadSignature`] unless `signature_ok`, then
    /// reads the payload and checks the claims against `validation` at time `now`.
    ///
    /// `signature_ok` must come from checking [`signature`](Self::signature) over
    /// [`signing_input`](Self::signing_input) with the algorithm [`alg`](Self::alg) and a key
    /// that passed [`select_key`](Self::select_key) or [`check_key`](Self::check_key).
    pub fn into_claims(
        self,
        signature_ok: bool,
        validation: &Validation,
        now: u64,
    ) -> Result<Claims, Error> {
        if !signature_ok {
            return Err(bad_signature());
        }
        let claims = parse_claims(self.payload)?;
        validate_claims(&claims, validation, now)?;
        Ok(claims)
    }
}

impl fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Whether `signature` is a valid `alg` signature of `input` under the public `key`, checked
/// synchronously with RustCrypto (natively only: on `wasm32` this is
/// [`ErrorKind::AsyncVerificationRequired`], the worker uses WebCrypto). The key must fit `alg`
/// (see [`Unverified::check_key`]); a mismatch is `Ok(false)` or an error, never a pass.
#[cfg(not(target_arch = "wasm32"))]
pub fn verify_public(
    key: &PublicKey,
    alg: Algorithm,
    input: &[u8],
    signature: &[u8],
) -> Result<bool, Error> {
    native::verify(key, alg, input, signature)
}

/// On `wasm32` asymmetric signatures are checked with WebCrypto: always
/// [`ErrorKind::AsyncVerificationRequired`].
#[cfg(target_arch = "wasm32")]
pub fn verify_public(
    _key: &PublicKey,
    _alg: Algorithm,
    _input: &[u8],
    _signature: &[u8],
) -> Result<bool, Error> {
    Err(Error::new(
        ErrorKind::AsyncVerificationRequired,
        "asymmetric signatures are checked asynchronously (WebCrypto) in this build",
    ))
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
    let unverified = decode(token, algorithms)?;
    let key = unverified.select_key(keys)?;
    if !unverified.verify_signature(key)? {
        return Err(bad_signature());
    }
    let payload = B64
        .decode(unverified.payload)
        .map_err(|_| malformed("payload is not canonical unpadded base64url"))?;
    let typ = read_typ(unverified.header_segment)?;
    Ok(VerifiedJws {
        header: Header {
            alg: unverified.alg,
            kid: unverified.kid,
            typ,
        },
        payload,
    })
}

/// Signs `claims` as a compact JWS with an HMAC algorithm; the header is
/// `{"alg":…,"typ":"JWT"}` plus `"kid"` when given. For the CLI and tests.
///
/// HMAC accepts any key length, so this cannot fail; an empty `secret`, or an `alg` that is not
/// HMAC (see [`Algorithm::HMAC`]), makes a token that [`verify`] never accepts.
pub fn sign_hs(
    alg: Algorithm,
    secret: &[u8],
    kid: Option<&str>,
    claims: &Map<String, Value>,
) -> String {
    let input = signing_input(alg, kid, claims);
    let signature = hmac_sign(alg, secret, input.as_bytes());
    with_signature(input, &signature)
}

/// The signing input of a compact JWS of `claims`, `base64url(header).base64url(payload)`,
/// whose header is `{"alg":…,"typ":"JWT"}` plus `"kid"` when given. Sign its bytes, then
/// [`with_signature`].
pub fn signing_input(alg: Algorithm, kid: Option<&str>, claims: &Map<String, Value>) -> String {
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
    token
}

/// `bytes` in unpadded base64url (RFC 7515 §2), as JWS and JWK members hold them.
pub fn base64url(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The bytes of canonical unpadded base64url `text`, or `None`.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

/// The compact JWS of a [`signing_input`] and its `signature`.
pub fn with_signature(mut input: String, signature: &[u8]) -> String {
    input.push('.');
    B64.encode_string(signature, &mut input);
    input
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
        // Not an HMAC algorithm: an empty signature, which never verifies.
        _ => Vec::new(),
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

/// Steps 1–4: split, header, allow-list, crit/typ; decodes the signature.
fn decode<'t>(token: &'t str, algorithms: &[Algorithm]) -> Result<Unverified<'t>, Error> {
    let parts = split(token)?;
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let bytes = decode_segment(
        parts.header,
        &mut stack,
        &mut heap,
        "header is not canonical unpadded base64url",
    )?;
    let raw = parse_header(bytes)?;

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

    Ok(Unverified {
        alg,
        kid: raw.kid.map(CowStr::into_owned),
        header_segment: parts.header,
        signing_input: parts.signing_input,
        payload: parts.payload,
        signature_segment: parts.signature,
        signature: SigBytes::decode(parts.signature),
    })
}

fn parse_header(bytes: &[u8]) -> Result<header::RawHeader<'_>, Error> {
    let ctx = Ctx::default();
    json::parse_object(
        bytes,
        HeaderSeed { ctx: &ctx },
        &ctx,
        "header is not a JSON object",
        "header is not valid JSON",
    )
}

/// The `typ` of an already checked header segment (for [`verify_jws`], which returns it).
fn read_typ(segment: &str) -> Result<Option<String>, Error> {
    let bytes = B64
        .decode(segment)
        .map_err(|_| malformed("header is not canonical unpadded base64url"))?;
    Ok(parse_header(&bytes)?.typ.map(CowStr::into_owned))
}

fn bad_signature() -> Error {
    Error::new(ErrorKind::BadSignature, "signature does not match")
}

/// HMAC check; the caller has checked the key fits `alg` and the signature length.
fn verify_mac(h: &HmacKey, alg: Algorithm, input: &[u8], sig: &[u8]) -> Result<bool, Error> {
    fn check<M: Mac + Clone>(mac: Option<&M>, input: &[u8], sig: &[u8]) -> Option<bool> {
        let mut mac = mac?.clone();
        mac.update(input);
        Some(mac.verify_slice(sig).is_ok())
    }
    let ok = match alg {
        Algorithm::HS256 => check(h.hs256.as_ref(), input, sig),
        Algorithm::HS384 => check(h.hs384.as_ref(), input, sig),
        Algorithm::HS512 => check(h.hs512.as_ref(), input, sig),
        _ => None,
    };
    ok.ok_or_else(|| Error::new(ErrorKind::InvalidKey, "the selected key is unusable"))
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
