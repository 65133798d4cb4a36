//! The two control requests of a multipart upload, run by the worker itself:
//! `POST /v1/multipart/create` and `POST /v1/multipart/complete`. The bytes never pass
//! through the worker; only these two requests do, so that no upload becomes an object larger
//! than its grant, on any store.
//!
//! `/v1/sign` answers CreateMultipartUpload and CompleteMultipartUpload with a URL to these
//! routes instead of a presigned store URL. The URL carries a *pass* in its query, sealed with
//! the target's ticket key and valid as long as a presigned URL would be; it stands in for the
//! bearer token, so that Uppy can POST to it unchanged.
//!
//! - **Create** sends the store a header-signed CreateMultipartUpload with the granted content
//!   type, then answers the store's `InitiateMultipartUploadResult` with the upload id replaced
//!   by the *ticketed* one ([`Ticket`]): the store's id, the declared size, the part size and
//!   the upload's expiry (`MULTIPART_LIFETIME`), under a MAC. Every later request of the upload
//!   carries it. When the token has a ledger, a pass creates at most one upload: it is spent
//!   once the store created the upload, and a replay's upload is aborted again.
//! - **Complete** lists the parts at the store (ListParts, every page), builds the
//!   CompleteMultipartUpload body from that list (the client's body is never read), and
//!   completes only when the parts are what the ticket grants: at most
//!   `ceil(size / part size)`, each of its exact length, adding up to exactly the declared size.
//!   Otherwise it aborts the upload at the store (its parts are freed) and answers `422
//!   size_exceeded` (or `size_mismatch` when smaller). The completed object is then read: of
//!   another size than declared (a part replaced at the store between the listing and the
//!   completion), it is deleted and refused the same way. Else it is settled as
//!   `/v1/uploads/complete` does (`receipt.rs`). The answer is a
//!   `CompleteMultipartUploadResult` with `Location`, which Uppy needs, and the receipt when
//!   receipts are configured.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::quota::Ledger;
use super::{ApiError, Request, Response, Service, Target};
use crate::ledger::{Ask, Call, Limits, Outcome, Reply, Stale, Upload};
use crate::policy;
use crate::store::abort::Gone;
use crate::store::complete::Breach;
use crate::store::list_parts::{self, Part};
use crate::store::ticket::{Ticket, TicketError};
use crate::store::{abort, complete, create, delete, Answer, StoreError, Transport};

/// The route of the worker-run CreateMultipartUpload.
pub(super) const CREATE_PATH: &str = "/v1/multipart/create";
/// The route of the worker-run CompleteMultipartUpload.
pub(super) const COMPLETE_PATH: &str = "/v1/multipart/complete";
/// The route of the worker-run AbortMultipartUpload.
pub(super) const ABORT_PATH: &str = "/v1/multipart/abort";

/// S3's smallest part (all but the last).
pub(super) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub(super) const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts.
const MAX_PARTS: u64 = 10_000;

/// Which control request a pass is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// `/v1/multipart/create`.
    Create,
    /// `/v1/multipart/complete`.
    Complete,
    /// `/v1/multipart/abort`.
    Abort,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Complete => "complete",
            Self::Abort => "abort",
        }
    }

    /// The control request of a route, if it is one.
    pub(super) fn from_path(path: &str) -> Option<Self> {
        [Self::Create, Self::Complete, Self::Abort]
            .into_iter()
            .find(|op| op.path() == path)
    }

    /// Its route.
    pub(super) fn path(self) -> &'static str {
        match self {
            Self::Create => CREATE_PATH,
            Self::Complete => COMPLETE_PATH,
            Self::Abort => ABORT_PATH,
        }
    }

    /// The methods the route takes (its `Allow`, and what its CORS preflight allows).
    fn allow(self) -> &'static str {
        match self {
            Self::Create | Self::Complete => "POST, OPTIONS",
            Self::Abort => "DELETE, OPTIONS",
        }
    }

    /// The HTTP method of the route (Uppy sends AbortMultipartUpload's own, `DELETE`).
    fn method(self) -> &'static str {
        match self {
            Self::Create | Self::Complete => "POST",
            Self::Abort => "DELETE",
        }
    }
}

/// What a worker URL of `/v1/sign` lets its holder do, sealed into its query.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Pass {
    /// `create` or `complete`.
    op: String,
    /// The target's name.
    target: String,
    /// The object key.
    key: String,
    /// Unix seconds after which the pass is refused.
    expires: u64,
    /// Create: the content type to sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    /// Create: the declared total size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Create: each part's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    part_size: Option<u64>,
    /// Create: a random id; with a ledger, the pass is used once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    /// The ledger's subject of the token that asked: create, when the token has a ledger;
    /// complete and abort, when it has an open-multipart budget (the upload is closed there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    /// Create: the token's open-multipart budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_limit: Option<u64>,
    /// Complete, abort: the ticketed upload id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
    /// Complete, abort: the issuer (its configured name) and `sub` of the token that asked,
    /// for the receipt and the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<(String, String)>,
}

/// The MAC of a pass's encoded body.
fn pass_mac(key: &[u8], body: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(b"presign-worker pass v1\0");
    m.update(body.as_bytes());
    m
}

impl Pass {
    /// `<base64url(JSON)>.<base64url(MAC)>`, for the URL's query (no character to escape).
    fn seal(&self, key: &[u8]) -> String {
        // A struct of strings and numbers: serialising cannot fail.
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let mac = URL_SAFE_NO_PAD.encode(pass_mac(key, &body).finalize().into_bytes());
        format!("{body}.{mac}")
    }

    /// The pass in `text` for `op`, when its MAC is the key of the target it names and it has
    /// not expired at `now`.
    fn open<'t>(
        text: &str,
        op: Op,
        now: u64,
        targets: &'t [Target],
    ) -> Result<(Self, &'t Target), TicketError> {
        let (body, mac) = text.split_once('.').ok_or(TicketError::Forged)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TicketError::Forged)?;
        let pass: Pass = serde_json::from_slice(&json).map_err(|_| TicketError::Forged)?;
        let target = targets
            .iter()
            .find(|t| t.name == pass.target)
            .ok_or(TicketError::Forged)?;
        let given = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TicketError::Forged)?;
        // verify_slice compares in constant time.
        pass_mac(&target.ticket_key, body)
            .verify_slice(&given)
            .map_err(|_| TicketError::Forged)?;
        if pass.op != op.name() {
            return Err(TicketError::Forged);
        }
        if now > pass.expires {
            return Err(TicketError::Expired);
        }
        Ok((pass, target))
    }
}

/// The value of `name` in a URL query (`a=1&b=2`), as written (passes need no decoding).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The part size of an upload of `size` bytes: the client's (`partSize`), else what Uppy and
/// most S3 clients use, `max(5 MiB, ceil(size / 10 000))`. Every part but the last has it.
pub(super) fn part_size(asked: Option<u64>, size: u64) -> Result<u64, ApiError> {
    let part = asked.unwrap_or_else(|| MIN_PART_SIZE.max(size.div_ceil(MAX_PARTS)));
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part) || size.div_ceil(part) > MAX_PARTS {
        return Err(policy::PolicyError::invalid(
            "invalid_part_size",
            "partSize must be 5 MiB to 5 GiB, and give at most 10 000 parts for size",
        )
        .into());
    }
    Ok(part)
}

/// An `InitiateMultipartUploadResult` with the ticketed upload id.
fn create_answer(bucket: &str, key: &str, upload_id: &str) -> String {
    use crate::store::xml::escape;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket><Key>{}</Key>\
         <UploadId>{}</UploadId></InitiateMultipartUploadResult>",
        escape(bucket),
        escape(key),
        escape(upload_id)
    )
}

impl Service {
    /// The worker URL of a CreateMultipartUpload of `/v1/sign`: `key` of `content_type`,
    /// `size` bytes in parts of `part_size`, for the ledger's `subject` when there is one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_url(
        &self,
        origin: &str,
        target: &Target,
        key: &str,
        content_type: &str,
        size: u64,
        part_size: u64,
        account: Option<(String, Option<u64>)>,
        expires: u64,
        nonce: [u8; 16],
    ) -> String {
        let (subject, open_limit) = account.map_or((None, None), |(s, l)| (Some(s), l));
        let pass = Pass {
            op: Op::Create.name().to_owned(),
            target: target.name.clone(),
            key: key.to_owned(),
            expires,
            content_type: Some(content_type.to_owned()),
            size: Some(size),
            part_size: Some(part_size),
            nonce: Some(URL_SAFE_NO_PAD.encode(nonce)),
            subject,
            open_limit,
            upload_id: None,
            owner: None,
        };
        format!(
            "{origin}{CREATE_PATH}?pass={}",
            pass.seal(&target.ticket_key)
        )
    }

    /// The worker URL of a CompleteMultipartUpload (`op` [`Op::Complete`]) or an
    /// AbortMultipartUpload ([`Op::Abort`]) of `/v1/sign`; `subject` closes the upload in that
    /// ledger.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn control_url(
        &self,
        op: Op,
        origin: &str,
        target: &Target,
        key: &str,
        upload_id: &str,
        subject: Option<String>,
        owner: (String, String),
        expires: u64,
    ) -> String {
        let pass = Pass {
            op: op.name().to_owned(),
            target: target.name.clone(),
            key: key.to_owned(),
            expires,
            content_type: None,
            size: None,
            part_size: None,
            nonce: None,
            subject,
            open_limit: None,
            upload_id: Some(upload_id.to_owned()),
            owner: Some(owner),
        };
        format!(
            "{origin}{}?pass={}",
            op.path(),
            pass.seal(&target.ticket_key)
        )
    }

    /// The ticket of a client's `upload_id` for `key` on `target` at `now` (`0`: any time, for
    /// aborting an expired upload).
    pub(super) fn open_ticket(
        &self,
        target: &Target,
        key: &str,
        upload_id: &str,
        now: u64,
    ) -> Result<Ticket, ApiError> {
        Ticket::open(&target.ticket_key, key, upload_id, now).map_err(ApiError::Ticket)
    }

    /// `/v1/multipart/create`, `/v1/multipart/complete` and `/v1/multipart/abort` (and their
    /// CORS preflights).
    pub(super) async fn multipart<R: crate::jwks::Remote, L: Ledger, T: Transport>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        remote: &R,
        ledger: &L,
        store: &T,
        op: Op,
    ) -> Result<Response, ApiError> {
        match req.method {
            m if m == op.method() => {}
            "OPTIONS" => return self.preflight_for(req, op.allow()),
            _ => return Err(ApiError::MethodNotAllowed { allow: op.allow() }),
        }
        let now = now_ms / 1000;
        let text = query_param(req.query, "pass").ok_or(ApiError::Ticket(TicketError::Forged))?;
        let (pass, target) = Pass::open(text, op, now, &self.targets).map_err(ApiError::Ticket)?;
        debug_assert_eq!(op.path(), req.path);
        match op {
            Op::Create => self.run_create(target, &pass, now, ledger, store).await,
            Op::Complete => {
                self.run_complete(target, &pass, now, remote, ledger, store)
                    .await
            }
            Op::Abort => self.run_abort(target, &pass, ledger, store, now).await,
        }
    }

    /// CreateMultipartUpload at the store, for a create pass.
    async fn run_create<L: Ledger, T: Transport>(
        &self,
        target: &Target,
        pass: &Pass,
        now: u64,
        ledger: &L,
        store: &T,
    ) -> Result<Response, ApiError> {
        let (Some(content_type), Some(size), Some(part_size), Some(nonce)) =
            (&pass.content_type, pass.size, pass.part_size, &pass.nonce)
        else {
            return Err(ApiError::Ticket(TicketError::Forged));
        };
        let expires = now + self.config.policy.multipart_lifetime_secs;
        let request = create::request(&target.write, &target.bucket, &pass.key, content_type, now)?;
        let (status, body) = store.send(&request, b"").await?;
        let store_id = create::parse(
            &Answer {
                status,
                body: &body,
            },
            &pass.key,
        )?;
        if let Some(subject) = &pass.subject {
            // The pass is spent in the token's ledger once the store created the upload (so a
            // store failure leaves it usable for a retry); a replay's upload is aborted again.
            let limits = Limits {
                open_multipart: pass.open_limit,
                ..Limits::default()
            };
            let grace = self.config.quota.cleanup_grace_secs;
            let ask = Ask {
                bytes: 0,
                grant: false,
                jti: Some((format!("create:{nonce}"), pass.expires)),
                upload: None,
                // The upload /v1/sign granted is now this multipart upload, and is kept at
                // least until it can no longer be completed or is cleaned up.
                link: Some((
                    Upload::id(&target.name, &pass.key),
                    store_id.clone(),
                    expires.saturating_add(grace.unwrap_or(0)),
                )),
                // Open until its ticket expires, unless completed or aborted before.
                open: pass.open_limit.map(|_| (store_id.clone(), expires)),
                // Aborted by the ledger's alarm once stale, unless completed or aborted before.
                cleanup: grace.map(|grace| {
                    let stale = Stale {
                        at: expires.saturating_add(grace),
                        target: target.name.clone(),
                        key: pass.key.clone(),
                    };
                    (store_id.clone(), stale)
                }),
                limits,
            };
            let refusal = match ledger.call(subject, &Call::Reserve(Box::new(ask))).await {
                Ok(Reply::Reserved(Outcome::Granted { .. })) => None,
                Ok(Reply::Reserved(Outcome::Replayed)) => Some(ApiError::TicketUsed),
                Ok(Reply::Reserved(Outcome::Expired)) => {
                    Some(ApiError::Ticket(TicketError::Expired))
                }
                Ok(Reply::Reserved(Outcome::Exceeded {
                    budget,
                    retry_after,
                    usage,
                })) => Some(ApiError::QuotaExceeded(super::quota::Exceeded {
                    budget,
                    retry_after,
                    usage,
                    limits,
                })),
                _ => Some(ApiError::LedgerUnavailable),
            };
            if let Some(refusal) = refusal {
                self.abort_at_store(target, &pass.key, &store_id, now, store)
                    .await?;
                return Err(refusal);
            }
        }
        let ticket = Ticket {
            key: pass.key.clone(),
            upload_id: store_id,
            size,
            part_size: Some(part_size),
            expires,
        };
        let upload_id = ticket.client_upload_id(&target.ticket_key);
        Ok(Response::xml(
            200,
            create_answer(target.bucket.name(), &pass.key, &upload_id),
        ))
    }

    /// Every part the store lists for `ticket`'s upload, sorted; it stops early once there
    /// are more than the upload may have (the breach is then plain).
    async fn list_all<T: Transport>(
        &self,
        target: &Target,
        ticket: &Ticket,
        now: u64,
        store: &T,
    ) -> Result<Vec<Part>, ApiError> {
        let mut parts: Vec<Part> = Vec::new();
        let mut marker = None;
        loop {
            let request = list_parts::request(
                &target.write,
                &target.bucket,
                &ticket.key,
                &ticket.upload_id,
                marker,
                now,
            )?;
            let (status, body) = store.send(&request, b"").await?;
            let page = list_parts::parse(
                &Answer {
                    status,
                    body: &body,
                },
                marker,
            )?;
            parts.extend(page.parts);
            match page.next_marker {
                Some(next) if parts.len() <= usize::from(ticket.max_parts()) => marker = Some(next),
                _ => return Ok(parts),
            }
        }
    }

    /// CompleteMultipartUpload at the store for a complete pass, when the listed parts keep
    /// the ticket's grant; else the upload is aborted. The completed object is then checked
    /// and settled as `/v1/uploads/complete` does ([`Service::settle`]): its first bytes, its
    /// grant in the ledger, the webhook; the answer carries the receipt in `<Receipt>` when
    /// receipts are configured. Completing again after a success (the answer was lost) finds
    /// the upload gone at the store and the object of the ticket's size in its place: it is
    /// settled again, with the same receipt.
    async fn run_complete<R: crate::jwks::Remote, L: Ledger, T: Transport>(
        &self,
        target: &Target,
        pass: &Pass,
        now: u64,
        remote: &R,
        ledger: &L,
        store: &T,
    ) -> Result<Response, ApiError> {
        let upload_id = pass
            .upload_id
            .as_deref()
            .ok_or(ApiError::Ticket(TicketError::Forged))?;
        let ticket = self.open_ticket(target, &pass.key, upload_id, now)?;
        let subject = pass.subject.as_deref();
        let listed = self.list_all(target, &ticket, now, store).await;
        // Completed before (the answer was lost) or aborted: the store no longer knows the
        // upload, or lists it without parts (s3s-fs lists a completed upload as empty).
        let gone = match &listed {
            Ok(parts) => parts.is_empty(),
            Err(ApiError::Store(e)) => e.code() == "upload_not_found",
            Err(_) => false,
        };
        let seen = if gone {
            // Only an object of the ticket's size under its key counts as this upload's.
            match self.inspect(target, &ticket.key, now, store).await {
                Ok(seen) if seen.object.size == ticket.size => {
                    if matches!(&listed, Ok(parts) if parts.is_empty()) {
                        // Listed without parts: completed (s3s-fs lists it so), or still open
                        // with none uploaded yet (AWS) and the object another grant's. Aborted
                        // before it is settled and closed in the ledger below, so that it
                        // takes no parts from then on. A completed one is unknown to the abort
                        // (`Ok`), or refused by it (s3s-fs: 403): that refusal is no reason to
                        // fail; an unreachable or failing store is.
                        let aborted = self
                            .abort_at_store(target, &ticket.key, &ticket.upload_id, now, store)
                            .await;
                        match aborted {
                            Err(ApiError::Store(StoreError::Refused { status, .. }))
                                if (400..500).contains(&status) => {}
                            other => {
                                other?;
                            }
                        }
                    }
                    seen
                }
                Ok(_) | Err(ApiError::UploadMissing) => {
                    return Err(listed.err().unwrap_or(ApiError::Breach(Breach::Empty)))
                }
                Err(other) => return Err(other),
            }
        } else {
            let parts = listed?;
            let body = match complete::body(&ticket, &parts) {
                Ok(body) => body,
                Err(breach) => {
                    if breach.aborts() {
                        let gone = self
                            .abort_at_store(target, &ticket.key, &ticket.upload_id, now, store)
                            .await?;
                        self.removed(target, &ticket, gone, subject, ledger).await;
                    }
                    return Err(ApiError::Breach(breach));
                }
            };
            let if_none_match = policy::no_overwrite_header(&self.config.policy, false).is_some();
            let request = complete::request(
                &target.write,
                &target.bucket,
                &ticket.key,
                &ticket.upload_id,
                body.as_bytes(),
                if_none_match,
                now,
            )?;
            let (status, answer) = store.send(&request, body.as_bytes()).await?;
            complete::parse(&Answer {
                status,
                body: &answer,
            })?;
            let seen = self.inspect(target, &ticket.key, now, store).await?;
            if seen.object.size != ticket.size {
                // The store completed other bytes than it listed: a part was replaced in
                // between (the list names parts by number when the store gives no ETags).
                // Nothing of another size than granted is kept, with a ledger or without.
                self.delete_at_store(target, &ticket.key, now, store)
                    .await?;
                // Deleted: it ended without a completion of the grant's size.
                self.removed(target, &ticket, Gone::Aborted, subject, ledger)
                    .await;
                return Err(ApiError::Breach(Breach::Object {
                    size: seen.object.size,
                    declared: ticket.size,
                }));
            }
            seen
        };
        let (iss, sub) = pass.owner.clone().unwrap_or_default();
        let owner = super::receipt::Owner {
            iss: &iss,
            sub: &sub,
            ledger: subject,
        };
        let mismatch = super::receipt::Mismatch {
            fields: Vec::new(),
            details: Vec::new(),
            deleted: false,
        };
        let event_id = crate::webhook::event_id(&target.name, &ticket.key, &ticket.upload_id);
        let done = self
            .settle(
                target,
                &ticket.key,
                seen,
                mismatch,
                &owner,
                Some(&ticket.upload_id),
                &event_id,
                now,
                remote,
                ledger,
                store,
            )
            .await?;
        let bucket = &target.bucket;
        let location = format!(
            "{}{}{}",
            bucket.origin(),
            bucket.path_prefix(),
            crate::sigv4::uri_encode(&ticket.key, true)
        );
        Ok(Response::xml(
            200,
            complete::answer(
                &location,
                bucket.name(),
                &ticket.key,
                &done.object.etag,
                done.receipt.as_deref(),
            ),
        ))
    }
}

impl Service {
    /// Tells the ledger of the pass's subject that the upload is gone from the store: it is no
    /// longer open, and when `gone` is [`Gone::Aborted`] (this worker ended it without a
    /// completion) its bytes go back to the budget. An upload the store no longer knows
    /// ([`Gone::Unknown`]) may have been completed by a completion still settling: its bytes
    /// stay counted. A failure is not the client's: the upload then stays counted until its
    /// ticket expires.
    async fn removed<L: Ledger>(
        &self,
        target: &Target,
        ticket: &Ticket,
        gone: Gone,
        subject: Option<&str>,
        ledger: &L,
    ) {
        if let Some(subject) = subject {
            let call = match gone {
                Gone::Aborted => Call::Removed(
                    target.name.clone(),
                    ticket.key.clone(),
                    Some(ticket.upload_id.clone()),
                ),
                Gone::Unknown => Call::Close(ticket.upload_id.clone()),
            };
            let _ = ledger.call(subject, &call).await;
        }
    }

    /// AbortMultipartUpload at the store for an abort pass (an expired upload too), then the
    /// upload is closed in the ledger. `204` also when the store no longer knows it.
    async fn run_abort<L: Ledger, T: Transport>(
        &self,
        target: &Target,
        pass: &Pass,
        ledger: &L,
        store: &T,
        now: u64,
    ) -> Result<Response, ApiError> {
        let upload_id = pass
            .upload_id
            .as_deref()
            .ok_or(ApiError::Ticket(TicketError::Forged))?;
        let ticket = self.open_ticket(target, &pass.key, upload_id, 0)?;
        let gone = self
            .abort_at_store(target, &ticket.key, &ticket.upload_id, now, store)
            .await?;
        self.removed(target, &ticket, gone, pass.subject.as_deref(), ledger)
            .await;
        Ok(Response::empty(204))
    }

    /// Aborts a stale multipart upload for its subject's ledger (the alarm of
    /// `MULTIPART_CLEANUP_GRACE`): the store's upload `store_id` of `key` on the target named
    /// `target`. `Ok` once it is gone, saying how; the error says why not, without a secret.
    pub async fn abort_stale<T: Transport>(
        &self,
        target: &str,
        key: &str,
        store_id: &str,
        now: u64,
        store: &T,
    ) -> Result<Gone, String> {
        let target = self
            .targets
            .iter()
            .find(|t| t.name == target)
            .ok_or_else(|| format!("no target {target} in the configuration"))?;
        self.abort_at_store(target, key, store_id, now, store)
            .await
            .map_err(|e| e.to_string())
    }

    /// AbortMultipartUpload of the store's upload `store_id` of `key`: `Ok` once it is gone,
    /// saying how ([`Gone`]).
    async fn abort_at_store<T: Transport>(
        &self,
        target: &Target,
        key: &str,
        store_id: &str,
        now: u64,
        store: &T,
    ) -> Result<Gone, ApiError> {
        let request = abort::request(&target.write, &target.bucket, key, store_id, now)?;
        let (status, body) = store.send(&request, b"").await?;
        Ok(abort::parse(&Answer {
            status,
            body: &body,
        })?)
    }
}

impl Service {
    /// DeleteObject of `key` (the target's write credentials): `Ok` once it is gone (deleted
    /// now, or not there).
    pub(super) async fn delete_at_store<T: Transport>(
        &self,
        target: &Target,
        key: &str,
        now: u64,
        store: &T,
    ) -> Result<(), ApiError> {
        let request = delete::request(&target.write, &target.bucket, key, now)?;
        let (status, body) = store.send(&request, b"").await?;
        delete::parse(&Answer {
            status,
            body: &body,
        })?;
        Ok(())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_follow_s3s_limits() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(part_size(None, 1).unwrap(), 5 * MIB);
        assert_eq!(part_size(None, 100_000 * MIB).unwrap(), 10 * MIB);
        assert_eq!(part_size(None, 50_000 * MIB + 1).unwrap(), 5 * MIB + 1);
        assert_eq!(part_size(Some(8 * MIB), 20 * MIB).unwrap(), 8 * MIB);
        for (asked, size) in [
            (Some(5 * MIB - 1), 20 * MIB),
            (Some(MAX_PART_SIZE + 1), 20 * MIB),
            (Some(5 * MIB), 50_000 * MIB + 1),
        ] {
            assert!(part_size(asked, size).is_err(), "{asked:?} {size}");
        }
    }

    #[test]
    fn query_params_are_found_by_name() {
        assert_eq!(query_param("a=1&pass=x.y&b=", "pass"), Some("x.y"));
        assert_eq!(query_param("passx=1", "pass"), None);
        assert_eq!(query_param("", "pass"), None);
    }
}
