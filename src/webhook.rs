//! Completion webhooks in the Standard Webhooks format (<https://www.standardwebhooks.com>),
//! sans IO: the event's id and body, the three signed headers, and the retry schedule. The
//! subject's ledger keeps each event until it is delivered or given up (`crate::ledger`),
//! and its alarm sends them (`src/durable.rs`), so deliveries survive restarts and a
//! receiver's failure never touches the client's answer.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::WebhookConfig;

/// Longest wait between two attempts: 6 hours.
const MAX_RETRY_SECS: u64 = 6 * 3600;

/// The `webhook-signature` header of a message: `v1,` and the base64 HMAC-SHA256 of
/// `<id>.<timestamp>.<body>` under the secret's key.
pub fn signature(key: &[u8], id: &str, timestamp: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The headers of one delivery: `content-type`, `webhook-id`, `webhook-timestamp`,
/// `webhook-signature`.
pub fn headers(key: &[u8], id: &str, timestamp: u64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature(key, id, timestamp, body)),
    ]
}

/// The id of the completion event of the store's upload `upload_id` of `key` on `target`:
/// `msg_` and 128 bits of a hash of the three, the same at every attempt.
pub fn event_id(target: &str, key: &str, upload_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [target, key, upload_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    format!("msg_{}", URL_SAFE_NO_PAD.encode(&h.finalize()[..16]))
}

/// What an `upload.completed` event tells about the object.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Completed<'a> {
    /// The object key.
    pub key: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The configured target.
    pub target: &'a str,
    /// Its size in bytes.
    pub size: u64,
    /// Its content type, as granted.
    pub content_type: Option<&'a str>,
    /// The store's ETag.
    pub etag: &'a str,
    /// The issuer (its configured name) and subject of the token that granted it.
    pub iss: &'a str,
    /// The token's subject.
    pub sub: &'a str,
}

/// The body of an `upload.completed` event at `timestamp` (Unix seconds).
pub fn completed_body(data: &Completed<'_>, timestamp: u64) -> String {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        r#type: &'static str,
        timestamp: u64,
        data: &'a Completed<'a>,
    }
    let event = Event {
        r#type: "upload.completed",
        timestamp,
        data,
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// When to try again after attempt number `attempts` (1-based) failed at `now`: the base
/// wait times 4 per attempt before, at most 6 hours; `None` once `max_attempts` were made
/// (the event is given up).
pub fn retry_at(cfg: &WebhookConfig, attempts: u32, now: u64) -> Option<u64> {
    if attempts >= cfg.max_attempts {
        return None;
    }
    let factor = 4u64.saturating_pow(attempts.saturating_sub(1));
    let wait = cfg
        .retry_base_secs
        .saturating_mul(factor)
        .min(MAX_RETRY_SECS);
    Some(now.saturating_add(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_backs_off_and_gives_up() {
        let cfg = WebhookConfig {
            url: "https://a.example".into(),
            key: vec![1; 24],
            max_attempts: 4,
            retry_base_secs: 5,
        };
        assert_eq!(retry_at(&cfg, 1, 100), Some(105));
        assert_eq!(retry_at(&cfg, 2, 100), Some(120));
        assert_eq!(retry_at(&cfg, 3, 100), Some(180));
        assert_eq!(retry_at(&cfg, 4, 100), None);
        let many = WebhookConfig {
            max_attempts: 20,
            ..cfg
        };
        assert_eq!(retry_at(&many, 19, 0), Some(MAX_RETRY_SECS));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = event_id("uploads", "alice/1/a.bin", "u1");
        assert_eq!(a, event_id("uploads", "alice/1/a.bin", "u1"));
        assert_ne!(a, event_id("uploads", "alice/1/a.bin", "u2"));
        assert_ne!(event_id("a", "bc", "d"), event_id("ab", "c", "d"));
        assert!(a.starts_with("msg_") && a.len() == 4 + 22, "{a}");
    }
}
