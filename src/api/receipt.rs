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
//! 5. When the token has a ledger, the grant it remembers for the key ([`Upload`]) must match
//!    exactly (size, content type, checksum), and the upload is recorded there as completed in
//!    the same call that queues its webhook ([`Service::settle`]); a ledger that cannot be
//!    reached is `503 ledger_unavailable` and nothing is recorded. Without a ledger nothing is
//!    recorded. Completing spends nothing: a single-use token that granted the upload may
//!    complete it.
//!
//! The worker-run multipart completion (`multipart.rs`) settles the object it completed the
//! same way ([`Service::inspect`], [`Service::settle`]).
//!
//! [`Upload`]: crate::ledger::Upload

use serde_json::{Map, Value};

use super::body::{self, Fields, FromBody};
use super::{iso8601, ApiError, Request, Response, Service, Target};
use crate::jwks::Remote;
use crate::ledger::{Call, Completion, Reply, Verdict};
use crate::policy::{self, sniff};
use crate::store::get_range::{self, Start};
use crate::store::{head, Transport};

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

/// What the store holds under a key, and whether its first bytes are of its type.
pub(super) struct Inspected {
    pub(super) object: head::Object,
    /// Whether its type has a sniffing rule (its first bytes were read).
    pub(super) content_checked: bool,
    /// Why its first bytes are not of its type, if they are not.
    content_differs: Option<String>,
}

/// Who an upload is completed for: the grant's issuer and subject, and its ledger (when the
/// token has one: the grant is checked there and recorded as completed).
pub(super) struct Owner<'a> {
    pub(super) iss: &'a str,
    pub(super) sub: &'a str,
    pub(super) ledger: Option<&'a str>,
}

/// A completion that holds: the object and its receipt (when receipts are configured).
pub(super) struct Settled {
    pub(super) object: head::Object,
    pub(super) content_checked: bool,
    pub(super) receipt: Option<String>,
}

/// The static name of a field the ledger says differs.
fn field_name(name: &str) -> &'static str {
    match name {
        "size" => "size",
        "content_type" => "content_type",
        "checksum" => "checksum",
        "late" => "late",
        _ => "content",
    }
}

impl Service {
    /// Reads what the store holds under `key`: a HeadObject, then (for types with a rule)
    /// a ranged GET of its first bytes, pinned to its ETag. `409 upload_missing` when there is
    /// nothing, `409 upload_changed` when it was replaced in between.
    pub(super) async fn inspect<T: Transport>(
        &self,
        target: &Target,
        key: &str,
        now: u64,
        store: &T,
    ) -> Result<Inspected, ApiError> {
        let request = head::request(&target.read, &target.bucket, key, now)?;
        let object =
            head::parse(&store.exchange(&request, b"").await?)?.ok_or(ApiError::UploadMissing)?;
        let content_checked = sniff::has_rule(&object.content_type);
        let mut content_differs = None;
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
                content_differs = Some(format!(
                    "its first bytes are not {}: {why}",
                    policy::media_type_essence(&object.content_type).unwrap_or_default()
                ));
            }
        }
        Ok(Inspected {
            object,
            content_checked,
            content_differs,
        })
    }

    /// Settles the completion of what [`inspect`](Self::inspect) read under `key`, given what
    /// the caller found differs already (`mismatch`): the owner's ledger checks it against the
    /// grant it remembers and records it as completed, queueing its webhook (`event_id`) in
    /// the same step; then the receipt is signed. When anything differs, nothing is recorded,
    /// the object is deleted with `DELETE_MISMATCHED=true` (and its bytes given back), and the
    /// answer is `422 upload_mismatch`. A ledger that cannot be reached gives `503
    /// ledger_unavailable` and records nothing: the client completes again.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn settle<R: Remote, L: super::Ledger, T: Transport>(
        &self,
        target: &Target,
        key: &str,
        seen: Inspected,
        mut mismatch: Mismatch,
        owner: &Owner<'_>,
        multipart: Option<&str>,
        event_id: &str,
        now: u64,
        remote: &R,
        ledger: &L,
        store: &T,
    ) -> Result<Settled, ApiError> {
        let object = seen.object;
        if let Some(why) = seen.content_differs {
            mismatch.fields.push("content");
            mismatch.details.push(why);
        }
        if let (true, Some(subject)) = (mismatch.fields.is_empty(), owner.ledger) {
            let webhook = self.config.webhook.as_ref().map(|_| {
                let data = crate::webhook::Completed {
                    key,
                    bucket: target.bucket.name(),
                    target: &target.name,
                    size: object.size,
                    content_type: Some(&object.content_type),
                    etag: &object.etag,
                    iss: owner.iss,
                    sub: owner.sub,
                };
                (
                    event_id.to_owned(),
                    crate::webhook::completed_body(&data, now),
                )
            });
            let done = Completion {
                target: target.name.clone(),
                key: key.to_owned(),
                size: object.size,
                content_type: object.content_type.clone(),
                checksum: object
                    .checksum
                    .as_ref()
                    .map(|(a, v)| ((*a).to_owned(), v.clone())),
                etag: object.etag.clone(),
                multipart: multipart.map(str::to_owned),
                webhook,
            };
            match ledger.call(subject, &Call::Complete(done)).await {
                Ok(Reply::Completion(Verdict::Completed { .. })) => {}
                Ok(Reply::Completion(Verdict::Differs { fields, .. })) => {
                    for (name, why) in fields {
                        mismatch.fields.push(field_name(&name));
                        mismatch.details.push(why);
                    }
                }
                _ => return Err(ApiError::LedgerUnavailable),
            }
        }
        if !mismatch.fields.is_empty() {
            if self.config.policy.delete_mismatched {
                self.delete_at_store(target, key, now, store).await?;
                mismatch.deleted = true;
                if let Some(subject) = owner.ledger {
                    // Its bytes go back to the budget; a failure only leaves them counted.
                    let call = Call::Removed(
                        target.name.clone(),
                        key.to_owned(),
                        multipart.map(str::to_owned),
                    );
                    let _ = ledger.call(subject, &call).await;
                }
            }
            return Err(ApiError::UploadMismatch(mismatch));
        }
        let receipt = match self.config.receipts.enabled() {
            false => None,
            true => {
                let claims =
                    receipt_claims(target, key, &object, seen.content_checked, owner, self);
                Some(self.sign_receipt(&claims, remote).await?)
            }
        };
        Ok(Settled {
            object,
            content_checked: seen.content_checked,
            receipt,
        })
    }

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

        let seen = self.inspect(target, key, now, store).await?;
        let cfg = &self.config.policy;
        let mut mismatch = Mismatch {
            fields: Vec::new(),
            details: Vec::new(),
            deleted: false,
        };
        let max = policy::max_upload_size(cfg, &claims);
        if seen.object.size > max {
            mismatch.fields.push("size");
            mismatch.details.push(format!(
                "its size of {} bytes is over the grant's {max}",
                seen.object.size
            ));
        }
        if let Err(e) = policy::content_type(cfg, &claims, &seen.object.content_type) {
            mismatch.fields.push("content_type");
            mismatch
                .details
                .push(format!("its content type: {}", e.message));
        }
        let account = self.account(scope, &claims)?;
        let owner = Owner {
            iss: &scope.issuer,
            sub: &grant.sub,
            ledger: account.as_ref().map(|a| a.subject.as_str()),
        };
        // Announced (WEBHOOK_URL) once per object version: the event's id is its ETag's.
        let event_id = crate::webhook::event_id(&target.name, key, &seen.object.etag);
        let done = self
            .settle(
                target, key, seen, mismatch, &owner, None, &event_id, now, remote, ledger, store,
            )
            .await?;
        let object = &done.object;
        let checksum = checksum_claim(object);
        Ok(Response::json(
            200,
            &Completed {
                receipt: done.receipt.unwrap_or_default(),
                key,
                bucket: target.bucket.name(),
                target: &target.name,
                size: object.size,
                content_type: &object.content_type,
                etag: &object.etag,
                checksum,
                content_checked: done.content_checked,
                completed_at: iso8601(object.last_modified),
            },
        ))
    }
}

/// The receipt's `checksum` claim: `{"<algorithm>": "<value>"}`, when the store keeps one.
fn checksum_claim(object: &head::Object) -> Option<Map<String, Value>> {
    object.checksum.as_ref().map(|(alg, value)| {
        let mut m = Map::new();
        m.insert((*alg).to_owned(), Value::String(value.clone()));
        m
    })
}

/// The claims of the receipt of `object` under `key` on `target` for `owner`.
fn receipt_claims(
    target: &Target,
    key: &str,
    object: &head::Object,
    content_checked: bool,
    owner: &Owner<'_>,
    svc: &Service,
) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut put = |name: &str, v: Value| {
        claims.insert(name.to_owned(), v);
    };
    put("key", key.into());
    put("bucket", target.bucket.name().into());
    put("target", target.name.as_str().into());
    put("size", object.size.into());
    put("content_type", object.content_type.as_str().into());
    put("etag", object.etag.as_str().into());
    put("content_checked", content_checked.into());
    put("sub", owner.sub.into());
    put("iss", svc.config.receipts.issuer.as_str().into());
    put("completed_at", object.last_modified.into());
    if let Some(c) = checksum_claim(object) {
        put("checksum", Value::Object(c));
    }
    claims
}
