//! Completion webhooks (`WEBHOOK_URL`, `WEBHOOK_SECRET`, `WEBHOOK_MAX_ATTEMPTS`,
//! `WEBHOOK_RETRY_BASE`): each completed upload is POSTed to the URL in the Standard Webhooks
//! format by its subject's ledger, with retries (see `crate::webhook`). Off unless both the
//! URL and the secret are set.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{parse_number, ConfigError, Result, Vars};

/// Default of `WEBHOOK_MAX_ATTEMPTS`.
const DEFAULT_MAX_ATTEMPTS: u64 = 8;
/// Default of `WEBHOOK_RETRY_BASE`, in seconds.
const DEFAULT_RETRY_BASE: u64 = 5;

/// Where and how completions are announced.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The receiver (`http://` or `https://`).
    pub url: String,
    /// The signing key: the bytes of `WEBHOOK_SECRET` after its `whsec_` prefix, base64-decoded.
    pub key: Vec<u8>,
    /// Deliveries tried before an event is given up (1 to 20).
    pub max_attempts: u32,
    /// Seconds before the first retry; each later one waits 4 times longer, at most 6 hours.
    pub retry_base_secs: u64,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("key", &"<redacted>")
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_secs", &self.retry_base_secs)
            .finish()
    }
}

/// The webhook settings, `None` when neither `WEBHOOK_URL` nor `WEBHOOK_SECRET` is set.
pub(super) fn parse_webhook(vars: &Vars<'_>) -> Result<Option<WebhookConfig>> {
    let url = vars.get("WEBHOOK_URL");
    let secret = vars.secret("WEBHOOK_SECRET")?;
    let (url, secret) = match (url, secret) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "WEBHOOK_SECRET",
                "must be set with WEBHOOK_URL",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "WEBHOOK_URL",
                "must be set with WEBHOOK_SECRET",
            ))
        }
        (Some(u), Some(s)) => (u, s),
    };
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(
            "WEBHOOK_URL",
            "must be an http:// or https:// URL",
        ));
    }
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .filter(|k| (24..=64).contains(&k.len()))
        .ok_or_else(|| {
            ConfigError::new(
                "WEBHOOK_SECRET",
                "must be whsec_ followed by 24 to 64 random bytes in base64 (Standard Webhooks)",
            )
        })?;
    let max_attempts = match vars.get("WEBHOOK_MAX_ATTEMPTS") {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(v) => parse_number("WEBHOOK_MAX_ATTEMPTS", &v, 1, 20)?,
    };
    let retry_base_secs = match vars.get("WEBHOOK_RETRY_BASE") {
        None => DEFAULT_RETRY_BASE,
        Some(v) => parse_number("WEBHOOK_RETRY_BASE", &v, 1, 3600)?,
    };
    Ok(Some(WebhookConfig {
        url,
        key,
        max_attempts: u32::try_from(max_attempts).unwrap_or(20),
        retry_base_secs,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn webhook_settings() {
        let off = parse(&base()).map(|c| c.webhook);
        assert!(matches!(off, Ok(None)), "{off:?}");
        let on = parse(&with(&[
            ("WEBHOOK_URL", "https://app.example.com/hooks/uploads"),
            ("WEBHOOK_SECRET", SECRET),
        ]))
        .expect("valid")
        .webhook
        .expect("on");
        assert_eq!(
            (on.key.len(), on.max_attempts, on.retry_base_secs),
            (24, 8, 5)
        );
        assert!(!format!("{on:?}").contains("MfKQ"), "{on:?}");
        for (vars, var) in [
            (vec![("WEBHOOK_URL", "https://a.example")], "WEBHOOK_SECRET"),
            (vec![("WEBHOOK_SECRET", SECRET)], "WEBHOOK_URL"),
            (
                vec![
                    ("WEBHOOK_URL", "ftp://a.example"),
                    ("WEBHOOK_SECRET", SECRET),
                ],
                "WEBHOOK_URL",
            ),
            (
                vec![
                    ("WEBHOOK_URL", "https://a.example"),
                    ("WEBHOOK_SECRET", "plain-secret"),
                ],
                "WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("WEBHOOK_URL", "https://a.example"),
                    ("WEBHOOK_SECRET", "whsec_AAAA"),
                ],
                "WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("WEBHOOK_URL", "https://a.example"),
                    ("WEBHOOK_SECRET", SECRET),
                    ("WEBHOOK_MAX_ATTEMPTS", "0"),
                ],
                "WEBHOOK_MAX_ATTEMPTS",
            ),
        ] {
            rejects(with(&vars), var, "");
        }
    }
}
