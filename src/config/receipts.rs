//! Signed receipts of `/v1/uploads/complete`: `RECEIPT_SECRET` (the HS256 key, at least 32
//! bytes, never one of the token keys) and `RECEIPT_ISSUER` (the receipts' `iss`). Without a
//! secret the route answers `501 receipts_not_configured`.

use std::fmt;

use super::{show, ConfigError, Result, Vars, MIN_JWT_SECRET_BYTES};
use crate::jwt::parse_secret;

/// Default of `RECEIPT_ISSUER`.
pub(crate) const DEFAULT_RECEIPT_ISSUER: &str = "presign-worker";

/// The receipts' settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReceiptConfig {
    /// The HS256 key (`RECEIPT_SECRET`, decoded); `None`: no receipts.
    pub secret: Option<Vec<u8>>,
    /// The receipts' `iss` (`RECEIPT_ISSUER`).
    pub issuer: String,
}

impl fmt::Debug for ReceiptConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("issuer", &self.issuer)
            .finish()
    }
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
    let Some(text) = vars.secret(VAR)? else {
        return Ok(ReceiptConfig {
            secret: None,
            issuer,
        });
    };
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
        issuer,
    })
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
}
