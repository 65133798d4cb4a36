//! Ed25519 private keys, for signing (the receipts of `/v1/uploads/complete`): read from a
//! PKCS#8 PEM block (RFC 5958, RFC 8410: what `openssl genpkey -algorithm ed25519` writes) or
//! from a private OKP JWK (RFC 8037: `{"kty":"OKP","crv":"Ed25519","d":…,"x":…}`).
//!
//! Only the 32-byte private key (the RFC 8032 seed) and the public key the text states, if any
//! (a JWK's `x`, a version 2 PKCS#8's `publicKey`), are kept. This module does no curve
//! arithmetic, so that the worker links none: the public key is derived by whoever signs
//! (WebCrypto in the worker, [`derive_public`] natively), and checked against the stated one.
//!
//! Refused, with [`ErrorKind::InvalidKey`] and a fixed sentence that never holds any part of
//! the key: other PEM blocks (a public key, `RSA PRIVATE KEY`, `EC PRIVATE KEY`, an encrypted
//! key), bad base64 or DER, another algorithm in the PKCS#8 (RSA, EC, X25519, Ed448, …),
//! algorithm parameters (RFC 8410 §3 forbids them), a JWK of another `kty` or `crv`, a public
//! JWK (no `d`), lengths other than 32 bytes, a JWK `alg` other than `EdDSA`, `use` other than
//! `sig`, `key_ops` without `sign`. A JWK's `kid` is ignored: the key's id is its RFC 7638
//! thumbprint ([`thumbprint`]).

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::{Error, ErrorKind};
use super::{json, B64};

/// The DER of a version 1 PKCS#8 Ed25519 private key before its 32 bytes (RFC 8410 §7):
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The DER contents of the algorithm identifiers a PKCS#8 may name, with what to say of them.
const OTHER_ALGORITHMS: [(&[u8], &str); 6] = [
    (&[0x2b, 0x65, 0x6e], "X25519"),
    (&[0x2b, 0x65, 0x6f], "X448"),
    (&[0x2b, 0x65, 0x71], "Ed448"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
        "RSA",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
        "RSA-PSS",
    ),
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01], "EC"),
];
/// 1.3.101.112, id-Ed25519 (RFC 8410 §3).
const ED25519_OID: &[u8] = &[0x2b, 0x65, 0x70];

/// Standard base64 as PEM holds it (padding optional).
const PEM_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorKind::InvalidKey, message)
}

/// An Ed25519 private key. `Debug` shows neither key.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PrivateKey {
    seed: [u8; 32],
    stated_public: Option<[u8; 32]>,
}

impl fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519PrivateKey(<redacted>)")
    }
}

impl Ed25519PrivateKey {
    /// The key of `text`: a JWK when it starts with `{`, else PEM (see the [module](self)
    /// docs). Surrounding whitespace is ignored, and in PEM the two-character escape `\n`
    /// counts as a line break (a key pasted on one line).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.starts_with('{') {
            Self::from_jwk(text)
        } else {
            Self::from_pem(text)
        }
    }

    /// The key of a `-----BEGIN PRIVATE KEY-----` PEM block (nothing else around it).
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let label = pem_label(text).ok_or_else(|| {
            invalid("is neither a PEM block (-----BEGIN PRIVATE KEY-----) nor a JWK ({...})")
        })?;
        match label {
            "PRIVATE KEY" => {}
            "PUBLIC KEY" => {
                return Err(invalid(
                    "is a public key: receipts are signed with the private key (-----BEGIN PRIVATE KEY-----)",
                ))
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(
                    "is an encrypted private key: give it unencrypted (openssl pkey -in key.pem)",
                ))
            }
            "RSA PRIVATE KEY" => return Err(invalid("is an RSA key: an Ed25519 key is needed")),
            "EC PRIVATE KEY" => return Err(invalid("is an EC key: an Ed25519 key is needed")),
            _ => {
                return Err(invalid(
                    "is a PEM block of another kind: expected -----BEGIN PRIVATE KEY----- (PKCS#8)",
                ))
            }
        }
        let begin = "-----BEGIN PRIVATE KEY-----";
        let end = "-----END PRIVATE KEY-----";
        let body = text
            .strip_prefix(begin)
            .and_then(|rest| rest.strip_suffix(end))
            .ok_or_else(|| {
                invalid(
                    "PEM block does not end with -----END PRIVATE KEY----- (or has text around it)",
                )
            })?;
        let b64: String = body
            .replace("\\n", "\n")
            .replace("\\r", "\r")
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = PEM_B64
            .decode(b64.as_bytes())
            .map_err(|_| invalid("PEM block is not valid base64"))?;
        Self::from_pkcs8_der(&der)
    }

    /// The key of a DER PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5958, RFC 8410).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let bad = || invalid("is not a DER PKCS#8 private key");
        let mut outer = Der(der);
        let mut info = Der(outer.take(0x30).ok_or_else(bad)?);
        if !outer.0.is_empty() {
            return Err(bad());
        }
        match info.take(0x02).ok_or_else(bad)? {
            [0] | [1] => {}
            _ => return Err(invalid("PKCS#8 version is neither 1 nor 2")),
        }
        let mut algorithm = Der(info.take(0x30).ok_or_else(bad)?);
        let oid = algorithm.take(0x06).ok_or_else(bad)?;
        if oid != ED25519_OID {
            for (other, name) in OTHER_ALGORITHMS {
                if oid == other {
                    return Err(invalid(match name {
                        "X25519" | "X448" | "Ed448" => {
                            "is a key of another curve (X25519, X448 or Ed448): an Ed25519 key is needed"
                        }
                        "EC" => "is an EC key: an Ed25519 key is needed",
                        _ => "is an RSA key: an Ed25519 key is needed",
                    }));
                }
            }
            return Err(invalid(
                "PKCS#8 key is of an unknown algorithm: an Ed25519 key is needed",
            ));
        }
        if !algorithm.0.is_empty() {
            return Err(invalid(
                "PKCS#8 Ed25519 algorithm identifier has parameters (RFC 8410 forbids them)",
            ));
        }
        let mut private = Der(info.take(0x04).ok_or_else(bad)?);
        let seed = private.take(0x04).ok_or_else(bad)?;
        if !private.0.is_empty() {
            return Err(bad());
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| invalid("Ed25519 private key is not 32 bytes long"))?;
        // Optional attributes [0], then (version 2) the public key [1] as a BIT STRING.
        if info.0.first() == Some(&0xa0) {
            info.take(0xa0).ok_or_else(bad)?;
        }
        let mut stated_public = None;
        if info.0.first() == Some(&0x81) {
            let bits = info.take(0x81).ok_or_else(bad)?;
            let public = match bits {
                [0, rest @ ..] => <[u8; 32]>::try_from(rest).ok(),
                _ => None,
            };
            stated_public =
                Some(public.ok_or_else(|| invalid("PKCS#8 public key is not 32 bytes long"))?);
        }
        if !info.0.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            seed,
            stated_public,
        })
    }

    /// The key of a private OKP JWK (RFC 8037 §2): `kty` `OKP`, `crv` `Ed25519`, `d` and `x`
    /// (32 bytes each, canonical unpadded base64url).
    pub fn from_jwk(text: &str) -> Result<Self, Error> {
        let jwk = match json::parse_value(text.as_bytes()) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(invalid("JWK is not a JSON object")),
            Err(e) if e.kind() == ErrorKind::DuplicateClaim => {
                return Err(invalid("JWK has a member name twice"))
            }
            Err(_) => return Err(invalid("JWK is not valid JSON")),
        };
        let text_member = |name: &str| match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(invalid("JWK member is not a string")),
        };
        match text_member("kty")? {
            Some("OKP") => {}
            Some("RSA") => return Err(invalid("is an RSA JWK: an Ed25519 key is needed")),
            Some("EC") => return Err(invalid("is an EC JWK: an Ed25519 key is needed")),
            Some("oct") => {
                return Err(invalid(
                    "is a symmetric (oct) JWK: an Ed25519 key is needed (HS256 receipts take RECEIPT_SECRET)",
                ))
            }
            Some(_) => return Err(invalid("JWK kty is not OKP")),
            None => return Err(invalid("JWK has no kty")),
        }
        match text_member("crv")? {
            Some("Ed25519") => {}
            Some(_) => {
                return Err(invalid(
                    "is an OKP JWK of another curve: an Ed25519 key is needed",
                ))
            }
            None => return Err(invalid("JWK has no crv")),
        }
        if let Some(alg) = text_member("alg")? {
            if alg != "EdDSA" {
                return Err(invalid("JWK alg is not EdDSA"));
            }
        }
        if let Some(usage) = text_member("use")? {
            if usage != "sig" {
                return Err(invalid("JWK use is not sig"));
            }
        }
        if let Some(ops) = jwk.get("key_ops") {
            let allows_sign = ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("sign")));
            if !allows_sign {
                return Err(invalid("JWK key_ops does not allow sign"));
            }
        }
        if !jwk.contains_key("d") {
            return Err(invalid(
                "is a public JWK (no d): receipts are signed with the private key",
            ));
        }
        let seed = okp_bytes(&jwk, "d", "JWK d is not 32 bytes of base64url")?;
        let public = match jwk.get("x") {
            Some(_) => okp_bytes(&jwk, "x", "JWK x is not 32 bytes of base64url")?,
            None => return Err(invalid("JWK has no x (RFC 8037 requires it)")),
        };
        Ok(Self {
            seed,
            stated_public: Some(public),
        })
    }

    /// The 32-byte private key (RFC 8032 §5.1.5's seed).
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key the text stated (a JWK's `x`, a version 2 PKCS#8's `publicKey`), not
    /// checked against the private key: the signer derives the real one.
    pub fn stated_public(&self) -> Option<&[u8; 32]> {
        self.stated_public.as_ref()
    }

    /// The key as a version 1 PKCS#8 DER (what WebCrypto's `importKey("pkcs8", …)` takes).
    pub fn pkcs8_der(&self) -> [u8; 48] {
        let mut der = [0u8; 48];
        der[..16].copy_from_slice(&PKCS8_PREFIX);
        der[16..].copy_from_slice(&self.seed);
        der
    }
}

/// `jwk[name]`: canonical unpadded base64url of exactly 32 bytes.
fn okp_bytes(
    jwk: &Map<String, Value>,
    name: &str,
    message: &'static str,
) -> Result<[u8; 32], Error> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(message))?;
    let bytes = B64.decode(text).map_err(|_| invalid(message))?;
    bytes.try_into().map_err(|_| invalid(message))
}

/// The label of a PEM block (`PRIVATE KEY` of `-----BEGIN PRIVATE KEY-----`), if `text` starts
/// like one.
fn pem_label(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("-----BEGIN ")?;
    let (label, _) = rest.split_once("-----")?;
    (label.len() <= 40 && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' '))
        .then_some(label)
}

/// A cursor over DER: [`take`](Der::take) reads one element of an expected tag.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The contents of the next element when its tag is `tag` (definite, minimal length of at
    /// most two bytes), moving past it.
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&first, rest) = self.0.split_first()?;
        if first != tag {
            return None;
        }
        let (&len0, rest) = rest.split_first()?;
        let (len, rest) = match len0 {
            0..=0x7f => (usize::from(len0), rest),
            0x81 => {
                let (&l, rest) = rest.split_first()?;
                (l >= 0x80).then_some((usize::from(l), rest))?
            }
            0x82 => {
                let (&[hi, lo], rest) = rest.split_first_chunk::<2>()?;
                let l = usize::from(u16::from_be_bytes([hi, lo]));
                (l >= 0x100).then_some((l, rest))?
            }
            _ => return None,
        };
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.0 = rest;
        Some(value)
    }
}

/// The RFC 7638 thumbprint of the Ed25519 public key `x`: base64url of the SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":"…"}` (RFC 8037 §A.3).
pub fn thumbprint(x: &[u8; 32]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(x));
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// The public key of `key` (RFC 8032 §5.1.5), natively with `ed25519-dalek`.
#[cfg(not(target_arch = "wasm32"))]
pub fn derive_public(key: &Ed25519PrivateKey) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&key.seed)
        .verifying_key()
        .to_bytes()
}

/// The Ed25519 signature of `input` under `key` (RFC 8032 §5.1.6), natively with
/// `ed25519-dalek`.
#[cfg(not(target_arch = "wasm32"))]
pub fn sign(key: &Ed25519PrivateKey, input: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    ed25519_dalek::SigningKey::from_bytes(&key.seed)
        .sign(input)
        .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410 §10.3: a version 1 PKCS#8 Ed25519 key.
    const RFC8410_V1: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    /// RFC 8410 §10.3: the same key as version 2, with an attribute and its public key.
    const RFC8410_V2: &str = "-----BEGIN PRIVATE KEY-----\n\
        MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB\n\
        Z9w7lshQhqowtrbLDFw4rXAxZuE=\n\
        -----END PRIVATE KEY-----";
    /// RFC 8410 §10.1: its public key (the end of the SubjectPublicKeyInfo).
    const RFC8410_PUBLIC_SPKI: &str =
        "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";
    /// RFC 8037 §A.1: a private OKP JWK.
    const RFC8037_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    fn rfc8410_public() -> [u8; 32] {
        let spki = PEM_B64.decode(RFC8410_PUBLIC_SPKI).unwrap();
        spki[12..].try_into().unwrap()
    }

    #[test]
    fn reads_the_rfc_examples() {
        let v1 = Ed25519PrivateKey::parse(RFC8410_V1).expect("v1");
        let v2 = Ed25519PrivateKey::parse(RFC8410_V2).expect("v2");
        assert_eq!(v1.seed(), v2.seed());
        assert_eq!(v1.stated_public(), None);
        assert_eq!(v2.stated_public(), Some(&rfc8410_public()));
        // What WebCrypto imports is the v1 DER again.
        let der = PEM_B64
            .decode("MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC")
            .unwrap();
        assert_eq!(v1.pkcs8_der().as_slice(), der.as_slice());
        // Pasted on one line with `\n` escapes, or without line breaks at all.
        let escaped = RFC8410_V1.trim().replace('\n', "\\n");
        assert_eq!(Ed25519PrivateKey::parse(&escaped).expect("escaped"), v1);
        let flat = RFC8410_V1.replace('\n', "");
        assert_eq!(Ed25519PrivateKey::parse(&flat).expect("flat"), v1);

        let jwk = Ed25519PrivateKey::parse(RFC8037_JWK).expect("jwk");
        assert_eq!(
            B64.encode(jwk.stated_public().unwrap()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(
            B64.encode(jwk.seed()),
            "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
        );
        assert!(!format!("{jwk:?}").contains("nWG"), "{jwk:?}");
    }

    /// Known answers from the RFCs, not from this code: the public keys (RFC 8410 §10.1,
    /// RFC 8037 §A.1), the thumbprint (RFC 8037 §A.3) and the signature (RFC 8037 §A.4).
    #[test]
    fn derives_signs_and_thumbprints_as_the_rfcs_say() {
        let v1 = Ed25519PrivateKey::parse(RFC8410_V1).unwrap();
        assert_eq!(derive_public(&v1), rfc8410_public());
        let jwk = Ed25519PrivateKey::parse(RFC8037_JWK).unwrap();
        assert_eq!(&derive_public(&jwk), jwk.stated_public().unwrap());
        assert_eq!(
            thumbprint(jwk.stated_public().unwrap()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        assert_eq!(
            B64.encode(sign(&jwk, input)),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[track_caller]
    fn refused(text: &str, needle: &str) {
        match Ed25519PrivateKey::parse(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidKey);
                assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
            }
        }
    }

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            PEM_B64.encode(der)
        )
    }

    #[test]
    fn refuses_what_is_not_an_ed25519_private_key() {
        let v1 = Ed25519PrivateKey::parse(RFC8410_V1).unwrap().pkcs8_der();
        refused("", "neither a PEM block");
        refused(
            "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
            "neither a PEM block",
        );
        refused(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----",
            "public key",
        );
        refused(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            "RSA",
        );
        refused(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "EC key",
        );
        refused(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "encrypted",
        );
        refused(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "another kind",
        );
        refused(
            &RFC8410_V1.replace("-----END PRIVATE KEY-----", ""),
            "does not end",
        );
        refused(&RFC8410_V1.replace("MC4C", "MC4C!"), "not valid base64");
        // DER: truncated, trailing bytes, another curve, parameters, a short key.
        refused(&pem(&v1[..47]), "not a DER PKCS#8");
        refused(&pem(&[&v1[..], &[0]].concat()), "not a DER PKCS#8");
        let mut x25519 = v1;
        x25519[11] = 0x6e;
        refused(&pem(&x25519), "another curve");
        let mut ed448 = v1;
        ed448[11] = 0x71;
        refused(&pem(&ed448), "another curve");
        let mut version = v1;
        version[4] = 2;
        refused(&pem(&version), "version");
        let with_params = [
            &[
                0x30, 0x30, 0x02, 0x01, 0x00, 0x30, 0x07, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x05, 0x00,
            ][..],
            &v1[12..],
        ]
        .concat();
        refused(&pem(&with_params), "parameters");
        let short = [
            &[
                0x30, 0x2d, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x21,
                0x04, 0x1f,
            ][..],
            &v1[16..47],
        ]
        .concat();
        refused(&pem(&short), "32 bytes");
        // JWKs.
        let jwk: Value = serde_json::from_str(RFC8037_JWK).unwrap();
        let changed = |name: &str, value: Option<Value>| {
            let mut j = jwk.clone();
            match value {
                Some(v) => j[name] = v,
                None => {
                    j.as_object_mut().unwrap().remove(name);
                }
            }
            j.to_string()
        };
        refused(&changed("d", None), "public JWK");
        refused(&changed("x", None), "no x");
        refused(&changed("crv", Some("X25519".into())), "another curve");
        refused(&changed("kty", Some("RSA".into())), "RSA");
        refused(&changed("kty", Some("EC".into())), "EC JWK");
        refused(&changed("kty", Some("oct".into())), "symmetric");
        refused(&changed("d", Some("AAAA".into())), "d is not 32 bytes");
        refused(
            &changed("d", Some(format!("{}=", jwk["d"].as_str().unwrap()).into())),
            "d is not",
        );
        refused(&changed("alg", Some("ES256".into())), "alg");
        refused(&changed("use", Some("enc".into())), "use");
        refused(
            &changed("key_ops", Some(serde_json::json!(["verify"]))),
            "key_ops",
        );
        refused(r#"{"kty":"OKP","kty":"OKP"}"#, "twice");
        refused("{not json", "not valid JSON");
        // The refusals never show the key.
        for bad in [
            changed("crv", Some("X25519".into())),
            changed("alg", Some("x".into())),
        ] {
            let e = Ed25519PrivateKey::parse(&bad).unwrap_err();
            assert!(!e.to_string().contains("nWGxne"), "{e}");
        }
    }
}
