//! `POST /v1/uploads/complete`: did the upload land, and is it what it claims to be? The
//! worker asks the store itself, with its own signed requests, and answers a signed receipt.
//!
//! 1. The key must be granted to the token exactly as for a download
//!    ([`Grant::check_key`](crate::policy::Grant::check_key)).
//! 2. A header-signed HeadObject (the target's read credentials) says whether the object
//!    exists (else `409 upload_missing`) and gives its size, content type, ETag,
//!    `Last-Modified` and stored checksum, if any.
//! 3. The object must keep the token's grant: its size at most the token's maximum
//!    (`MAX_UPLOAD_SIZE`, `max_size`), its content type allowed (`ALLOWED_CONTENT_TYPES`,
//!    `content_types`), and its first bytes of that type ([`sniff`]: a ranged GET of at most
//!    512 bytes with `if-match` on the ETag, only for types that have a rule). What differs is
//!    listed in `422 upload_mismatch` (`size`, `content_type`, `content`); with
//!    `DELETE_MISMATCHED=true` the object is deleted first (the target's write credentials).
//! 4. The answer carries a receipt: a compact JWS (HS256 with `RECEIPT_SECRET`, or EdDSA with
//!    `RECEIPT_SIGNING_KEY`: `receipt_keys.rs`) of the claims
//!    `key`, `bucket`, `target`, `size`, `content_type`, `checksum` (when the store keeps one,
//!    `{"<algorithm>": "<base64>"}`), `etag`, `content_checked`, `sub`, `iss`
//!    (`RECEIPT_ISSUER`) and `completed_at`. `completed_at` is the object's `Last-Modified`
//!    (Unix seconds), not the clock: asking again for the same object gives the same receipt,
//!    byte for byte (the claims are serialised in name order).
//!
//! Nothing is recorded: the receipt is stateless, and completing needs no ledger (a
//! single-use token that granted the upload may complete it; nothing is spent).

use serde_json::{Map, Value};

use super::body::{self, Fields, FromBody};
use super::{iso8601, ApiError, Request, Response, Service};
use crate::jwks::Remote;
use crate::policy::{self, sniff};
use crate::store::get_range::{self, Start};
use crate::store::{delete, head, Transport};

/// The route.
pub(super) const COMPLETE_PATH: &str = "/v1/uploads/complete";

/// The body of `POST /v1/uploads/complete`.
struct CompleteBody {
    key: String,
    target: Option<String>,
}

impl FromBody for CompleteBody {
    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            key: f.str("key")?,
            target: f.opt_str("target")?,
        })
    }
}

/// What an object that is not what its grant allows differs in.
#[derive(Debug)]
pub(crate) struct Mismatch {
    /// `size`, `content_type`, `content`: the names of the answer's `mismatch` list.
    pub(crate) fields: Vec<&'static str>,
    /// One sentence per field, for the message.
    pub(crate) details: Vec<String>,
    /// Whether the object was deleted (`DELETE_MISMATCHED`).
    pub(crate) deleted: bool,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the object is not what was granted: ")?;
        f.write_str(&self.details.join("; "))?;
        if self.deleted {
            f.write_str("; it was deleted")?;
        }
        Ok(())
    }
}

/// The answer: the receipt and its main claims, readable without decoding it.
#[derive(serde::Serialize)]
struct Completed<'a> {
    receipt: String,
    key: &'a str,
    bucket: &'a str,
    target: &'a str,
    size: u64,
    content_type: &'a str,
    etag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<Map<String, Value>>,
    content_checked: bool,
    completed_at: String,
}

impl Service {
    /// `POST /v1/uploads/complete` (and its CORS preflight).
    pub(super) async fn complete_upload<R: Remote, L: super::Ledger, T: Transport>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        remote: &R,
        ledger: &L,
        store: &T,
    ) -> Result<Response, ApiError> {
        if req.method == "OPTIONS" {
            return self.preflight(req);
        }
        let (scope, claims, body, now) = self.admit(req, now_ms, remote).await?;
        let asked: CompleteBody = body::parse(body).map_err(ApiError::InvalidRequest)?;
        self.receipts_enabled()?;
        let target = self.target(scope, &claims, asked.target.as_deref())?;
        let grant = scope.grant(&claims)?;
        grant.check_key(&asked.key)?;
        let key = asked.key.as_str();

        let request = head::request(&target.read, &target.bucket, key, now)?;
        let object =
            head::parse(&store.exchange(&request, b"").await?)?.ok_or(ApiError::UploadMissing)?;

        let cfg = &self.config.policy;
        let mut mismatch = Mismatch {
            fields: Vec::new(),
            details: Vec::new(),
            deleted: false,
        };
        let max = policy::max_upload_size(cfg, &claims);
        if object.size > max {
            mismatch.fields.push("size");
            mismatch.details.push(format!(
                "its size of {} bytes is over the grant's {max}",
                object.size
            ));
        }
        if let Err(e) = policy::content_type(cfg, &claims, &object.content_type) {
            mismatch.fields.push("content_type");
            mismatch
                .details
                .push(format!("its content type: {}", e.message));
        }
        let content_checked = sniff::has_rule(&object.content_type);
        if content_checked {
            let start = if object.size == 0 {
                Vec::new()
            } else {
                let request =
                    get_range::request(&target.read, &target.bucket, key, &object.etag, now)?;
                match get_range::parse(&store.exchange(&request, b"").await?)? {
                    Start::Bytes(bytes) => bytes,
                    Start::Gone => return Err(ApiError::UploadMissing),
                    Start::Changed => return Err(ApiError::UploadChanged),
                }
            };
            let whole = object.size <= start.len() as u64;
            if let sniff::Verdict::Differs(why) = sniff::sniff(&object.content_type, &start, whole)
            {
                mismatch.fields.push("content");
                mismatch.details.push(format!(
                    "its first bytes are not {}: {why}",
                    policy::media_type_essence(&object.content_type).unwrap_or_default()
                ));
            }
        }
        if !mismatch.fields.is_empty() {
            if cfg.delete_mismatched {
                let request = delete::request(&target.write, &target.bucket, key, now)?;
                let (status, body) = store.send(&request, b"").await?;
                delete::parse(&crate::store::Answer {
                    status,
                    body: &body,
                })?;
                mismatch.deleted = true;
            }
            return Err(ApiError::UploadMismatch(mismatch));
        }

        let checksum = object.checksum.as_ref().map(|(alg, value)| {
            let mut m = Map::new();
            m.insert((*alg).to_owned(), Value::String(value.clone()));
            m
        });
        let mut claims_out = Map::new();
        let mut put = |name: &str, v: Value| {
            claims_out.insert(name.to_owned(), v);
        };
        put("key", key.into());
        put("bucket", target.bucket.name().into());
        put("target", target.name.as_str().into());
        put("size", object.size.into());
        put("content_type", object.content_type.as_str().into());
        put("etag", object.etag.as_str().into());
        put("content_checked", content_checked.into());
        put("sub", grant.sub.as_str().into());
        put("iss", self.config.receipts.issuer.as_str().into());
        put("completed_at", object.last_modified.into());
        if let Some(c) = &checksum {
            put("checksum", Value::Object(c.clone()));
        }
        let receipt = self.sign_receipt(&claims_out, remote).await?;
        // Announced (WEBHOOK_URL) once per object version: the event's id is its ETag's.
        if let (Some(_), Some(account)) = (&self.config.webhook, self.account(scope, &claims)?) {
            let data = crate::webhook::Completed {
                key,
                bucket: target.bucket.name(),
                target: &target.name,
                size: object.size,
                content_type: Some(&object.content_type),
                etag: &object.etag,
                iss: &scope.issuer,
                sub: &grant.sub,
            };
            let id = crate::webhook::event_id(&target.name, key, &object.etag);
            let body = crate::webhook::completed_body(&data, now);
            let call = crate::ledger::Call::Enqueue(id, body, now);
            let _ = ledger.call(&account.subject, &call).await;
        }
        Ok(Response::json(
            200,
            &Completed {
                receipt,
                key,
                bucket: target.bucket.name(),
                target: &target.name,
                size: object.size,
                content_type: &object.content_type,
                etag: &object.etag,
                checksum,
                content_checked,
                completed_at: iso8601(object.last_modified),
            },
        ))
    }
}
