//! Signed receipts of `/v1/uploads/complete`: `RECEIPT_SECRET` (the HS256 key, at least 32
//! bytes, never one of the token keys) or `RECEIPT_SIGNING_KEY` (an Ed25519 private key, PEM or
//! JWK: EdDSA receipts whose public key `GET /v1/receipts/jwks.json` publishes), and
//! `RECEIPT_ISSUER` (the receipts' `iss`). Without either key the route answers
//! `501 receipts_not_configured`; both set is a configuration error (which one signs would
//! otherwise be a guess). `RECEIPT_PREVIOUS_KEYS` is the rotation: the public keys of earlier
//! signing keys (a JWK set, as the key set served them), published after the current one so
//! that receipts signed before a rotation still verify.

use std::fmt;

use serde_json::Value;

use super::{show, Config, ConfigError, JwksSource, Result, Vars, MIN_JWT_SECRET_BYTES};
use crate::jwt::ed25519::{thumbprint, Ed25519PrivateKey};
use crate::jwt::jwk::key_from_jwk_object;
use crate::jwt::{parse_secret, OkpCurve, PublicKey};

/// Default of `RECEIPT_ISSUER`.
pub(crate) const DEFAULT_RECEIPT_ISSUER: &str = "presign-worker";

/// The receipts' settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReceiptConfig {
    /// The HS256 key (`RECEIPT_SECRET`, decoded); `None`: no HS256 receipts.
    pub secret: Option<Vec<u8>>,
    /// The Ed25519 key of EdDSA receipts (`RECEIPT_SIGNING_KEY`); `None`: no EdDSA receipts.
    /// Never set together with `secret`.
    pub signing_key: Option<Ed25519PrivateKey>,
    /// The receipts' `iss` (`RECEIPT_ISSUER`).
    pub issuer: String,
    /// The Ed25519 public keys of earlier signing keys (`RECEIPT_PREVIOUS_KEYS`), in the
    /// order given: published by the key set after the current key (which is left out of
    /// them, so that the set saved just before a rotation can be set first), never used to
    /// sign.
    pub previous: Vec<[u8; 32]>,
}

impl ReceiptConfig {
    /// Whether receipts are signed (with either key).
    pub fn enabled(&self) -> bool {
        self.secret.is_some() || self.signing_key.is_some()
    }
}

impl fmt::Debug for ReceiptConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("signing_key", &self.signing_key.as_ref().map(|_| "<set>"))
            .field("issuer", &self.issuer)
            .field("previous", &self.previous.len())
            .finish()
    }
}

/// The variable of the Ed25519 key.
pub(crate) const SIGNING_KEY_VAR: &str = "RECEIPT_SIGNING_KEY";

/// The variable of the earlier keys' public keys.
pub(crate) const PREVIOUS_KEYS_VAR: &str = "RECEIPT_PREVIOUS_KEYS";

/// The most keys `RECEIPT_PREVIOUS_KEYS` may list: the key set is one answer, cached by every
/// verifier, and a receipt names its key by `kid` among them.
pub(crate) const MAX_PREVIOUS_RECEIPT_KEYS: usize = 16;

/// The checks of `RECEIPT_SIGNING_KEY` that need its public key `public` (derived from the
/// private key by the signer): it is the public key the text states, if any, and not a key of
/// an issuer's inline JWK set (whose tokens the worker accepts).
pub(crate) fn check_public_key(
    config: &Config,
    key: &Ed25519PrivateKey,
    public: &[u8; 32],
) -> Result<()> {
    if key.stated_public().is_some_and(|stated| stated != public) {
        return Err(ConfigError::new(
            SIGNING_KEY_VAR,
            "its public key (the JWK's x, or the PKCS#8 publicKey) is not the one of its private key",
        ));
    }
    for issuer in &config.jwt.jwks_issuers {
        let JwksSource::Inline(keys) = &issuer.jwks else {
            continue;
        };
        let shared = keys.keys().iter().any(
            |k| matches!(k.public_key(), Some(PublicKey::Okp { x, .. }) if x.as_slice() == public),
        );
        if shared {
            return Err(ConfigError::new(
                SIGNING_KEY_VAR,
                format!(
                    "is the key of a token issuer ({}): receipts need their own key",
                    show(&issuer.name)
                ),
            ));
        }
    }
    Ok(())
}

/// `RECEIPT_SECRET` (raw text or `base64:…`, like `JWT_SECRET`) and `RECEIPT_ISSUER`.
pub(super) fn parse_receipts(vars: &Vars<'_>) -> Result<ReceiptConfig> {
    const VAR: &str = "RECEIPT_SECRET";
    let issuer = vars
        .get("RECEIPT_ISSUER")
        .unwrap_or_else(|| DEFAULT_RECEIPT_ISSUER.to_owned());
    if issuer.len() > 256 || issuer.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "RECEIPT_ISSUER",
            format!(
                "{} must be at most 256 bytes without control characters",
                show(&issuer)
            ),
        ));
    }
    let signing_key = match vars.multiline_secret(SIGNING_KEY_VAR)? {
        Some(text) => Some(
            Ed25519PrivateKey::parse(&text)
                .map_err(|e| ConfigError::new(SIGNING_KEY_VAR, e.to_string()))?,
        ),
        None => None,
    };
    let previous = parse_previous_keys(vars)?;
    let Some(text) = vars.secret(VAR)? else {
        return Ok(ReceiptConfig {
            secret: None,
            signing_key,
            issuer,
            previous,
        });
    };
    if signing_key.is_some() {
        return Err(ConfigError::new(
            VAR,
            "set RECEIPT_SECRET (HS256 receipts) or RECEIPT_SIGNING_KEY (EdDSA receipts), not both",
        ));
    }
    let secret = parse_secret(&text).map_err(|e| ConfigError::new(VAR, e.to_string()))?;
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError::new(
            VAR,
            format!("secret too short: it needs at least {MIN_JWT_SECRET_BYTES} bytes"),
        ));
    }
    // A receipt signed with a token key would be a token the worker accepts.
    let mut token_secrets = Vec::new();
    if let Some(s) = vars.secret("JWT_SECRET")? {
        token_secrets.push(s);
    }
    if let Some(json) = vars.secret("JWT_KEYS")? {
        if let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json) {
            token_secrets.extend(map.values().filter_map(|v| v.as_str().map(str::to_owned)));
        }
    }
    if token_secrets
        .iter()
        .any(|t| parse_secret(t).is_ok_and(|k| k == secret))
    {
        return Err(ConfigError::new(
            VAR,
            "is the same as a token key (JWT_SECRET or JWT_KEYS): receipts need their own secret",
        ));
    }
    Ok(ReceiptConfig {
        secret: Some(secret),
        signing_key: None,
        issuer,
        previous,
    })
}

/// `RECEIPT_PREVIOUS_KEYS`: a JWK set (`{"keys": [...]}`, what `/v1/receipts/jwks.json` served
/// before a rotation) of 1 to [`MAX_PREVIOUS_RECEIPT_KEYS`] Ed25519 public keys. Every key must
/// be usable, unlike an identity provider's set, where unusable keys are skipped: a key left
/// out here would leave its receipts unverifiable without a word. Refused: a private key (`d`:
/// this variable is published, and no secret), another key type or curve, a `kid` that is not
/// the key's RFC 7638 thumbprint (the receipts' headers name that one), a key listed twice.
/// The current key's public key may be among them (see [`ReceiptConfig::previous`]). The
/// errors name the key by its position, never by its contents.
fn parse_previous_keys(vars: &Vars<'_>) -> Result<Vec<[u8; 32]>> {
    let Some(text) = vars.get(PREVIOUS_KEYS_VAR) else {
        return Ok(Vec::new());
    };
    let refused = |problem: String| ConfigError::new(PREVIOUS_KEYS_VAR, problem);
    let set: Value = serde_json::from_str(&text).map_err(|_| {
        refused(
            "is not JSON: write the JWK set that /v1/receipts/jwks.json served, {\"keys\": [...]}"
                .to_owned(),
        )
    })?;
    let Some(list) = set.get("keys").and_then(Value::as_array) else {
        return Err(refused(
            "is not a JWK set: write the one /v1/receipts/jwks.json served, {\"keys\": [...]}"
                .to_owned(),
        ));
    };
    if list.is_empty() || list.len() > MAX_PREVIOUS_RECEIPT_KEYS {
        return Err(refused(format!(
            "must list 1 to {MAX_PREVIOUS_RECEIPT_KEYS} keys, not {}",
            list.len()
        )));
    }
    let mut keys: Vec<[u8; 32]> = Vec::with_capacity(list.len());
    for (i, jwk) in list.iter().enumerate() {
        let n = i + 1;
        let Some(object) = jwk.as_object() else {
            return Err(refused(format!("key {n} is not a JSON object")));
        };
        if object.contains_key("d") {
            return Err(refused(format!(
                "key {n} is a private key (it has d): this variable is published, list public keys only"
            )));
        }
        let key = key_from_jwk_object(object).map_err(|e| refused(format!("key {n}: {e}")))?;
        let x = match key.public_key() {
            Some(PublicKey::Okp {
                curve: OkpCurve::Ed25519,
                x,
            }) => <[u8; 32]>::try_from(x.as_slice())
                .map_err(|_| refused(format!("key {n}: an Ed25519 x has 32 bytes")))?,
            _ => {
                return Err(refused(format!(
                    "key {n} is not an Ed25519 (OKP) public key: receipts are EdDSA"
                )))
            }
        };
        if key.kid().is_some_and(|kid| kid != thumbprint(&x)) {
            return Err(refused(format!(
                "key {n}'s kid is not its RFC 7638 thumbprint, which is what receipts name"
            )));
        }
        if keys.contains(&x) {
            return Err(refused(format!("key {n} is listed twice")));
        }
        keys.push(x);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::DEFAULT_RECEIPT_ISSUER;

    #[test]
    fn receipt_settings() {
        let off = parse(&base()).expect("valid").receipts;
        assert_eq!(
            (off.secret, off.issuer.as_str()),
            (None, DEFAULT_RECEIPT_ISSUER)
        );
        let on = parse(&with(&[
            ("RECEIPT_SECRET", "receipts-0123456789abcdef-0123456789"),
            ("RECEIPT_ISSUER", "https://uploads.example"),
        ]))
        .expect("valid")
        .receipts;
        assert_eq!(
            on.secret.as_deref(),
            Some(b"receipts-0123456789abcdef-0123456789".as_slice())
        );
        assert_eq!(on.issuer, "https://uploads.example");
        assert!(!format!("{on:?}").contains("receipts-0123"), "{on:?}");
        rejects(
            with(&[("RECEIPT_SECRET", "short")]),
            "RECEIPT_SECRET",
            "32 bytes",
        );
        rejects(
            with(&[("RECEIPT_SECRET", SECRET)]),
            "RECEIPT_SECRET",
            "token key",
        );
        let keys = format!("{{\"k1\":\"{}\"}}", "k".repeat(40));
        rejects(
            with(&[("JWT_KEYS", &keys), ("RECEIPT_SECRET", &"k".repeat(40))]),
            "RECEIPT_SECRET",
            "token key",
        );
        rejects(
            with(&[("RECEIPT_ISSUER", &"i".repeat(257))]),
            "RECEIPT_ISSUER",
            "256 bytes",
        );
    }

    /// RFC 8410 §10.3's key, as `openssl genpkey` writes one (a trailing line feed too).
    const PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    /// RFC 8037 §A.1's private JWK.
    const JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn signing_key_settings() {
        let pem = parse(&with(&[("RECEIPT_SIGNING_KEY", PEM)]))
            .expect("valid")
            .receipts;
        assert!(pem.enabled() && pem.secret.is_none());
        let key = pem.signing_key.as_ref().expect("the key");
        assert_eq!(key.stated_public(), None);
        assert!(!format!("{pem:?}").contains("MC4C"), "{pem:?}");
        let jwk = parse(&with(&[("RECEIPT_SIGNING_KEY", JWK)]))
            .expect("valid")
            .receipts;
        assert!(jwk.signing_key.is_some());
        assert!(!parse(&base()).expect("valid").receipts.enabled());

        // The parser's refusals name the variable (the rest is jwt::ed25519's).
        rejects(
            with(&[("RECEIPT_SIGNING_KEY", "not a key")]),
            "RECEIPT_SIGNING_KEY",
            "neither a PEM block",
        );
        rejects(
            with(&[("RECEIPT_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\u{1}")]),
            "RECEIPT_SIGNING_KEY",
            "control characters",
        );
        rejects(
            with(&[
                ("RECEIPT_SIGNING_KEY", PEM),
                ("RECEIPT_SECRET", "receipts-0123456789abcdef-0123456789"),
            ]),
            "RECEIPT_SECRET",
            "not both",
        );
        // x must be d's public key (RFC 8410's public key is another key's).
        let wrong_x = JWK.replace(
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
        );
        rejects(
            with(&[("RECEIPT_SIGNING_KEY", &wrong_x)]),
            "RECEIPT_SIGNING_KEY",
            "not the one of its private key",
        );
        // Never an issuer's key: RFC 8037's public key is in this inline JWK set.
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let idp = [
            ("ISSUERS", "idp"),
            ("ISSUER_IDP_ISS", "https://idp.example"),
            ("ISSUER_IDP_JWKS", jwks),
            ("ISSUER_IDP_AUDIENCE", "presign"),
            ("ISSUER_IDP_ALGORITHMS", "EdDSA"),
        ];
        rejects(
            with(&[&idp[..], &[("RECEIPT_SIGNING_KEY", JWK)]].concat()),
            "RECEIPT_SIGNING_KEY",
            "token issuer ('idp')",
        );
        assert!(parse(&with(&[&idp[..], &[("RECEIPT_SIGNING_KEY", PEM)]].concat())).is_ok());
    }
}
