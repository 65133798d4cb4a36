//! Verification keys and key sets (selection by `kid`).

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use hmac::digest::KeyInit;
use hmac::Hmac;
use sha2::{Sha256, Sha384, Sha512};

use super::algorithm::{Algorithm, KeyFamily};
use super::error::{Error, ErrorKind};
use super::jwk::{self, Jwks, PublicKey};

/// Prefix marking a secret given in base64 rather than as raw text.
pub(crate) const BASE64_SECRET_PREFIX: &str = "base64:";

/// Precomputed HMAC states (inner and outer pads already absorbed) for each hash.
#[derive(Clone)]
pub(crate) struct HmacKey {
    pub(crate) len: usize,
    pub(crate) hs256: Option<Hmac<Sha256>>,
    pub(crate) hs384: Option<Hmac<Sha384>>,
    pub(crate) hs512: Option<Hmac<Sha512>>,
}

#[derive(Clone)]
pub(crate) enum KeyMaterial {
    Hmac(Box<HmacKey>),
    Public(Box<PublicKey>),
}

/// One verification key: an optional key id (`kid`), an optional pinned algorithm, and key
/// material of one [`KeyFamily`]: an HMAC secret or a public key (from a JWK).
///
/// A key only ever verifies algorithms of its family (an RSA, EC or OKP key never verifies an
/// HS* token, a secret never an asymmetric one), checked before any cryptography.
///
/// The `Debug` output shows the `kid` and family only; the secret is never printed.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    algorithm: Option<Algorithm>,
    pub(crate) material: KeyMaterial,
}

impl Key {
    /// An HMAC key (for HS256, HS384 and HS512) with the given shared secret.
    ///
    /// The HMAC states are precomputed here, so verification only hashes the token. An empty
    /// secret is accepted here but never verifies anything ([`ErrorKind::InvalidKey`]).
    pub fn hmac(kid: Option<String>, secret: Vec<u8>) -> Self {
        let hmac = HmacKey {
            len: secret.len(),
            hs256: <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).ok(),
            hs384: <Hmac<Sha384> as KeyInit>::new_from_slice(&secret).ok(),
            hs512: <Hmac<Sha512> as KeyInit>::new_from_slice(&secret).ok(),
        };
        drop(secret);
        Key {
            kid,
            algorithm: None,
            material: KeyMaterial::Hmac(Box::new(hmac)),
        }
    }

    /// A public key (RSA, EC or OKP), e.g. from [`Key::from_jwk`].
    pub fn public(kid: Option<String>, key: PublicKey) -> Self {
        Key {
            kid,
            algorithm: None,
            material: KeyMaterial::Public(Box::new(key)),
        }
    }

    /// Parses one JWK (see [`jwk`](crate::jwt::jwk) for the accepted members); a JWK `alg`
    /// pins the key to that algorithm. Errors are [`ErrorKind::InvalidKey`].
    pub fn from_jwk(text: &str) -> Result<Self, Error> {
        jwk::key_from_jwk(text)
    }

    /// The public key, for keys that are not HMAC secrets.
    pub fn public_key(&self) -> Option<&PublicKey> {
        match &self.material {
            KeyMaterial::Public(key) => Some(key),
            KeyMaterial::Hmac(_) => None,
        }
    }

    /// Restricts this key to a single algorithm (like a JWK's `alg`). Tokens with any other `alg`
    /// are refused with [`ErrorKind::AlgNotAllowed`] when they select this key.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm this key is pinned to, if any.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The family of this key's material.
    pub fn family(&self) -> KeyFamily {
        match &self.material {
            KeyMaterial::Hmac(_) => KeyFamily::Hmac,
            KeyMaterial::Public(key) => key.family(),
        }
    }

    /// Refuses an algorithm this key must not be used with (other family, or not the pinned one):
    /// [`ErrorKind::AlgNotAllowed`].
    pub fn check_algorithm(&self, alg: Algorithm) -> Result<(), Error> {
        if alg.family() != self.family() {
            return Err(Error::new(
                ErrorKind::AlgNotAllowed,
                "algorithm does not match the family of the selected key",
            ));
        }
        if self.algorithm.is_some_and(|pinned| pinned != alg) {
            return Err(Error::new(
                ErrorKind::AlgNotAllowed,
                "algorithm is not the one the selected key is restricted to",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("family", &self.family())
            .field(
                "material",
                &match &self.material {
                    KeyMaterial::Hmac(_) => "<redacted>",
                    KeyMaterial::Public(_) => "<public key>",
                },
            )
            .finish()
    }
}

/// The keys a verifier trusts, selected by `kid`.
///
/// Selection rule (no key is ever tried "just in case"):
/// - a token **with** a `kid` uses the one key whose `kid` is equal (case-sensitive); if there is
///   none, or several, the token is refused with [`ErrorKind::UnknownKey`];
/// - a token **without** a `kid` uses the one key that has no `kid` (the default key, e.g. from
///   `JWT_SECRET`); if there is none, or several, it is refused with [`ErrorKind::UnknownKey`].
///   A key set holding only keys with ids therefore refuses tokens without `kid`.
///
/// The selected key's family and pinned algorithm are then checked against the token's `alg`
/// before the key is used.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// A key set holding these keys.
    pub fn new(keys: Vec<Key>) -> Self {
        KeySet { keys }
    }

    /// A key set with one HMAC key without `kid`, used for tokens without `kid`.
    pub fn from_secret(secret: &[u8]) -> Self {
        KeySet::new(vec![Key::hmac(None, secret.to_vec())])
    }

    /// Parses a `JWT_KEYS` value: a JSON object mapping each `kid` to an HMAC secret, given as raw
    /// text or as `"base64:..."` (see [`parse_secret`]); the rules of [`KeySet::from_settings`].
    ///
    /// Refused with [`ErrorKind::InvalidKey`]: text that is not a JSON object of strings, no
    /// key, duplicate, empty or overlong `kid`s, empty secrets, bad base64. Error messages never
    /// contain a secret.
    pub fn from_json_map(s: &str) -> Result<Self, Error> {
        Ok(KeySet::from_settings(None, Some(s), 1)?)
    }

    /// The key set described by the two usual settings: `JWT_SECRET` (one default key without
    /// `kid`, raw text or `base64:...`) and `JWT_KEYS` (see [`KeySet::from_json_map`]). Either or
    /// both may be given; with both, tokens with a `kid` use `JWT_KEYS` and tokens without use
    /// `JWT_SECRET`. Neither, or an empty value, is [`ErrorKind::InvalidKey`].
    pub fn from_config(jwt_secret: Option<&str>, jwt_keys: Option<&str>) -> Result<Self, Error> {
        let set = KeySet::from_settings(jwt_secret, jwt_keys, 1)?;
        if set.keys.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                "no verification key is configured",
            ));
        }
        Ok(set)
    }

    /// The HMAC keys of `JWT_SECRET` (the default key, without `kid`) and `JWT_KEYS` (a JSON
    /// object of `kid` to secret, each `kid` 1 to 128 bytes without control characters, once),
    /// every secret at least `min_secret_len` bytes once decoded ([`parse_secret`]). The one
    /// reader of these settings: `JWT_SECRET` is checked first, then the `JWT_KEYS` entries in
    /// order. Neither setting gives an empty set.
    pub fn from_settings(
        jwt_secret: Option<&str>,
        jwt_keys: Option<&str>,
        min_secret_len: usize,
    ) -> Result<Self, KeySettingsError> {
        let hmac = |kid: Option<&str>, secret: &str| {
            let kid = kid.map(str::to_owned);
            let bytes = match parse_secret(secret) {
                Ok(bytes) => bytes,
                Err(error) => return Err(KeySettingsError::Secret { kid, error }),
            };
            if bytes.len() < min_secret_len {
                return Err(KeySettingsError::TooShort {
                    kid,
                    min: min_secret_len,
                });
            }
            Ok(Key::hmac(kid, bytes))
        };
        let default = jwt_secret.map(|s| hmac(None, s)).transpose()?;
        let mut keys = Vec::new();
        if let Some(json) = jwt_keys {
            // serde_json's messages may quote the offending value: keep only the position.
            let KeyList(list) =
                serde_json::from_str(json).map_err(|e| KeySettingsError::NotAnObject {
                    line: e.line(),
                    column: e.column(),
                })?;
            if list.is_empty() {
                return Err(KeySettingsError::NoKeys);
            }
            keys.reserve(list.len() + 1);
            for (i, (kid, secret)) in list.iter().enumerate() {
                if kid.is_empty() || kid.len() > 128 || kid.chars().any(char::is_control) {
                    return Err(KeySettingsError::InvalidKid);
                }
                // Few keys: a linear search is smaller code than a set.
                if list[..i].iter().any(|(seen, _)| seen == kid) {
                    return Err(KeySettingsError::DuplicateKid(kid.clone()));
                }
                keys.push(hmac(Some(kid), secret)?);
            }
        }
        keys.extend(default);
        Ok(KeySet::new(keys))
    }

    /// Parses a JWK set (`{"keys": [...]}`) keeping the usable keys; see
    /// [`jwk::parse_jwks`](crate::jwt::jwk::parse_jwks).
    pub fn from_jwks(text: &str) -> Result<Jwks, Error> {
        jwk::parse_jwks(text)
    }

    /// Adds a key.
    pub fn push(&mut self, key: Key) {
        self.keys.push(key);
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there is no key (every token is then refused with [`ErrorKind::UnknownKey`]).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Selects the key for a token's `kid` following the rule documented on [`KeySet`].
    pub fn select(&self, kid: Option<&str>) -> Result<&Key, Error> {
        let mut found: Option<&Key> = None;
        for key in &self.keys {
            if key.kid.as_deref() == kid {
                if found.is_some() {
                    return Err(Error::new(
                        ErrorKind::UnknownKey,
                        "several keys match the token's kid",
                    ));
                }
                found = Some(key);
            }
        }
        found.ok_or_else(|| match kid {
            Some(_) => Error::new(ErrorKind::UnknownKey, "no key has the token's kid"),
            None => Error::new(
                ErrorKind::UnknownKey,
                "token has no kid and there is no default key (a key without kid)",
            ),
        })
    }
}

/// Why `JWT_SECRET` or `JWT_KEYS` was refused by [`KeySet::from_settings`]. It may name a key
/// id, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySettingsError {
    /// `JWT_KEYS` is not a JSON object of strings; where the JSON reader stopped.
    NotAnObject {
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
    },
    /// `JWT_KEYS` is an empty object.
    NoKeys,
    /// A `JWT_KEYS` key id is empty, longer than 128 bytes or has a control character.
    InvalidKid,
    /// This key id appears twice in `JWT_KEYS`.
    DuplicateKid(String),
    /// A secret is empty or bad base64 ([`parse_secret`]); `kid` is `None` for `JWT_SECRET`.
    Secret {
        /// The key id of the secret (`None`: `JWT_SECRET`).
        kid: Option<String>,
        /// What [`parse_secret`] said.
        error: Error,
    },
    /// A secret is shorter than `min` bytes once decoded; `kid` is `None` for `JWT_SECRET`.
    TooShort {
        /// The key id of the secret (`None`: `JWT_SECRET`).
        kid: Option<String>,
        /// The least length in bytes.
        min: usize,
    },
}

impl From<KeySettingsError> for Error {
    fn from(e: KeySettingsError) -> Self {
        let invalid = |message| Error::new(ErrorKind::InvalidKey, message);
        match e {
            KeySettingsError::NotAnObject { .. } => {
                invalid("JWT_KEYS is not a JSON object of kid to secret strings")
            }
            KeySettingsError::NoKeys => invalid("JWT_KEYS has no keys"),
            KeySettingsError::InvalidKid => invalid(
                "JWT_KEYS has a kid that is empty, over 128 bytes or has control characters",
            ),
            KeySettingsError::DuplicateKid(_) => invalid("JWT_KEYS names the same kid twice"),
            KeySettingsError::Secret { error, .. } => error,
            KeySettingsError::TooShort { .. } => invalid("secret is too short"),
        }
    }
}

impl fmt::Display for KeySettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Error::from(self.clone()), f)
    }
}

impl std::error::Error for KeySettingsError {}

/// `JWT_KEYS` entries in document order, duplicates kept so that they can be refused.
struct KeyList(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of key id to secret strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<KeyList, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    out.push(entry);
                }
                Ok(KeyList(out))
            }
        }
        d.deserialize_map(V)
    }
}

const SECRET_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const SECRET_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Turns a configured secret into key bytes: `"base64:..."` is decoded (standard or URL-safe
/// alphabet, padding optional), anything else is used as raw UTF-8 bytes.
///
/// An empty secret, or bad base64, is [`ErrorKind::InvalidKey`].
pub fn parse_secret(text: &str) -> Result<Vec<u8>, Error> {
    let bytes = match text.strip_prefix(BASE64_SECRET_PREFIX) {
        Some(b64) => {
            let b64 = b64.trim();
            SECRET_STANDARD
                .decode(b64)
                .or_else(|_| SECRET_URL_SAFE.decode(b64))
                .map_err(|_| Error::new(ErrorKind::InvalidKey, "secret is not valid base64"))?
        }
        None => text.as_bytes().to_vec(),
    };
    if bytes.is_empty() {
        return Err(Error::new(ErrorKind::InvalidKey, "secret is empty"));
    }
    Ok(bytes)
}
