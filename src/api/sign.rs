//! `POST /v1/sign`: signs any single S3 request of an upload, in the shape of Uppy's
//! `signRequest` (`@uppy/aws-s3` 6): the request is `{method, key, uploadId?, partNumber?,
//! contentType?, expiresIn?}` plus our optional `size` and `target`; the answer is `{url, key,
//! headers}` plus `method`, `expires_at` and `expires_in`. Plain clients use it the same way.
//!
//! | request | S3 operation | key |
//! | --- | --- | --- |
//! | `PUT`, no `uploadId` | PutObject | made by the server from the file name in `key` |
//! | `POST`, no `uploadId` | CreateMultipartUpload: a worker URL (`multipart.rs`) | made by the server |
//! | `PUT` + `uploadId` + `partNumber` | UploadPart | must be granted |
//! | `GET` + `uploadId` | ListParts | must be granted |
//! | `POST` + `uploadId` | CompleteMultipartUpload: a worker URL (`multipart.rs`) | must be granted |
//! | `DELETE` + `uploadId` | AbortMultipartUpload: a worker URL | must be granted |
//! | `GET`, no `uploadId` | GetObject | must be granted |
//! | `DELETE`, no `uploadId` | DeleteObject, only with `ALLOW_DELETE=true` | must be granted |
//!
//! The content type of PutObject and CreateMultipartUpload is checked and signed (for
//! CreateMultipartUpload, when the client does not say, the type the file name's extension
//! implies); it is returned in `headers`, which Uppy sends in place of its own. PutObject
//! requires `size` and signs it as the exact `content-length` (a POST policy bounds it with
//! `content-length-range` instead, so there it stays optional); `content-length` is never
//! returned in `headers` (browsers set it). Writes to a key that may already exist (with a
//! template without `{uuid}`: PutObject and CompleteMultipartUpload) are signed with
//! `If-None-Match: *`, returned in `headers` ([`policy::no_overwrite_header`]).

use super::body::{Fields, FromBody};
use super::multipart;
use super::upload::{header_refs, AskedType, UploadAsk};
use super::{ApiError, Granting, Platform, Service, Signed};
use crate::config::Access;
use crate::jwt::Claims;
use crate::policy::{self, PolicyError, Scope};
use crate::sigv4::{Method, ObjectRequest};

/// Uppy's request (camelCase) plus our `size` and `target`; other members are ignored.
pub(super) struct SignBody {
    method: String,
    key: String,
    upload_id: Option<String>,
    part_number: Option<u64>,
    content_type: Option<String>,
    expires_in: Option<u64>,
    size: Option<u64>,
    part_size: Option<u64>,
    target: Option<String>,
}

impl FromBody for SignBody {
    const DENY_UNKNOWN: bool = false;

    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            method: f.str("method")?,
            key: f.str("key")?,
            upload_id: f.opt_str("uploadId")?,
            part_number: f.opt_u64("partNumber")?,
            content_type: f.opt_str("contentType")?,
            expires_in: f.opt_u64("expiresIn")?,
            size: f.opt_u64("size")?,
            part_size: f.opt_u64("partSize")?,
            target: f.opt_str("target")?,
        })
    }
}

/// The S3 operation a sign request stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    PutObject,
    CreateMultipartUpload,
    UploadPart(u16),
    ListParts,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    GetObject,
    DeleteObject,
}

fn operation(req: &SignBody) -> Result<Operation, PolicyError> {
    if let Some(id) = &req.upload_id {
        policy::validate_upload_id(id)?;
    }
    let has_id = req.upload_id.is_some();
    Ok(match (req.method.as_str(), has_id, req.part_number) {
        ("PUT", false, None) => Operation::PutObject,
        ("POST", false, None) => Operation::CreateMultipartUpload,
        ("PUT", true, Some(n)) => Operation::UploadPart(policy::validate_part_number(n)?),
        ("GET", true, None) => Operation::ListParts,
        ("POST", true, None) => Operation::CompleteMultipartUpload,
        ("DELETE", true, None) => Operation::AbortMultipartUpload,
        ("GET", false, None) => Operation::GetObject,
        ("DELETE", false, None) => Operation::DeleteObject,
        _ => {
            return Err(PolicyError::invalid(
                "unsupported_operation",
                "not an S3 request this service signs (see the /v1/sign table in the README)",
            ))
        }
    })
}

impl Service {
    /// `POST /v1/sign`: the S3 operation the request stands for, checked and signed.
    pub(super) fn sign_operation(
        &self,
        scope: &Scope,
        claims: &Claims,
        req: &SignBody,
        now: u64,
        platform: &mut dyn Platform,
        origin: &str,
    ) -> Result<Granting, ApiError> {
        let cfg = &self.config.policy;
        let op = operation(req)?;
        let target = self.target(scope, claims, req.target.as_deref())?;
        let grant = scope.grant(claims)?;
        let mut ttl = policy::url_ttl(cfg, claims, now)?;
        if let Some(asked) = req.expires_in.filter(|s| *s >= 1) {
            ttl = ttl.min(u32::try_from(asked).unwrap_or(u32::MAX));
        }

        // The upload a PutObject grants (the other operations grant none here).
        let mut upload = None;
        let (key, headers, store_id) = match op {
            Operation::PutObject | Operation::CreateMultipartUpload => {
                let ask = UploadAsk {
                    filename: &req.key,
                    content_type: match (&req.content_type, op) {
                        (Some(t), _) => AskedType::Given(t),
                        (None, Operation::CreateMultipartUpload) => AskedType::FromExtension,
                        (None, _) => AskedType::Unspecified,
                    },
                    size: req.size,
                    // A POST policy bounds the size itself (`content-length-range`).
                    single_put: op == Operation::PutObject && !target.post_policy,
                    checksum: None,
                    metadata: None,
                    key: None,
                };
                let creates = op == Operation::CreateMultipartUpload;
                if creates && req.size.is_none() {
                    // The worker completes the upload only at exactly this size.
                    return Err(PolicyError::invalid(
                        "size_required",
                        "give the file's size in bytes (`size`): a multipart upload is completed \
                         only at exactly that size",
                    )
                    .into());
                }
                let plan = self.plan_upload(scope, claims, &grant, &ask, now, platform)?;
                if op == Operation::PutObject && target.post_policy {
                    return self.post_policy_form(target, claims, &plan, ttl, now);
                }
                if let (true, Some(size)) = (creates, plan.size) {
                    let part_size = multipart::part_size(req.part_size, size)?;
                    let account = self
                        .account(scope, claims)?
                        .map(|a| (a.subject, a.limits.open_multipart));
                    let mut nonce = [0u8; 16];
                    platform.fill_random(&mut nonce);
                    let url = self.create_url(
                        origin,
                        target,
                        &plan.key,
                        &plan.content_type,
                        size,
                        part_size,
                        account,
                        now + u64::from(ttl),
                        nonce,
                    );
                    let headers = [("content-type".to_owned(), plan.content_type.clone())];
                    let resp = Signed::new(target, "POST", &url, &plan.key, ttl, now)
                        .headers(&headers)
                        .answer();
                    return Ok(Granting {
                        resp,
                        upload: Some(plan.record(target, size, now)),
                    });
                }
                upload = Some(plan.record(target, 0, now));
                (plan.key, plan.headers, None)
            }
            _ => {
                if op == Operation::DeleteObject && !cfg.allow_delete {
                    return Err(PolicyError::forbidden(
                        "delete_not_allowed",
                        "deleting objects is not enabled (ALLOW_DELETE)",
                    )
                    .into());
                }
                let key = platform.nfc(&req.key);
                grant.check_key(&key)?;
                let mut headers = Vec::new();
                let id = req.upload_id.as_deref().unwrap_or_default();
                let store_id = match op {
                    Operation::UploadPart(n) => {
                        let ticket = self.open_ticket(target, &key, id, now)?;
                        let max = ticket.max_parts();
                        if n > max {
                            return Err(PolicyError::invalid(
                                "too_many_parts",
                                format!("this upload has at most {max} parts"),
                            )
                            .into());
                        }
                        if let Some(length) = ticket.part_length(n) {
                            if req.size.is_some_and(|s| s != length) {
                                return Err(PolicyError::invalid(
                                    "part_size_mismatch",
                                    format!("part {n} of this upload is {length} bytes"),
                                )
                                .into());
                            }
                            headers.push(("content-length".to_owned(), length.to_string()));
                        }
                        Some(ticket.upload_id)
                    }
                    Operation::ListParts => {
                        Some(self.open_ticket(target, &key, id, now)?.upload_id)
                    }
                    // The worker runs both itself; an expired upload may still be aborted.
                    Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => {
                        let (run, method, at) = match op {
                            Operation::AbortMultipartUpload => (multipart::Op::Abort, "DELETE", 0),
                            _ => (multipart::Op::Complete, "POST", now),
                        };
                        self.open_ticket(target, &key, id, at)?;
                        // The ledger that checks the grant and records the upload's end
                        // (budgets, cleanups, webhooks), and the receipt's subject.
                        let subject = self.account(scope, claims)?.map(|a| a.subject);
                        let owner = (scope.issuer.clone(), grant.sub.clone());
                        let expires = now + u64::from(ttl);
                        let url = self
                            .control_url(run, origin, target, &key, id, subject, owner, expires);
                        return Ok(Signed::new(target, method, &url, &key, ttl, now)
                            .headers(&[])
                            .answer()
                            .into());
                    }
                    _ => None,
                };
                (key, headers, store_id)
            }
        };

        let part;
        let upload_id = store_id.as_deref().unwrap_or_default();
        let query: Vec<(&str, &str)> = match op {
            Operation::CreateMultipartUpload => vec![("uploads", "")],
            Operation::UploadPart(n) => {
                part = n.to_string();
                vec![("partNumber", part.as_str()), ("uploadId", upload_id)]
            }
            Operation::ListParts
            | Operation::CompleteMultipartUpload
            | Operation::AbortMultipartUpload => vec![("uploadId", upload_id)],
            _ => Vec::new(),
        };
        let method = match op {
            Operation::PutObject | Operation::UploadPart(_) => Method::Put,
            Operation::CreateMultipartUpload | Operation::CompleteMultipartUpload => Method::Post,
            Operation::ListParts | Operation::GetObject => Method::Get,
            Operation::AbortMultipartUpload | Operation::DeleteObject => Method::Delete,
        };
        let object = ObjectRequest {
            method,
            key: &key,
            query: &query,
            headers: &header_refs(&headers),
        };
        // Only a download reads; every other operation writes (or is part of an upload).
        let access = match op {
            Operation::GetObject => Access::Read,
            _ => Access::Write,
        };
        let presigned = target
            .signer(access)
            .presign(&target.bucket, &object, ttl, now)?;
        // What a browser may set: everything signed but content-length.
        let to_send: Vec<(String, String)> = presigned
            .headers
            .into_iter()
            .filter(|(n, _)| n != "content-length")
            .collect();
        let resp = Signed::new(target, method.as_str(), &presigned.url, &key, ttl, now)
            .headers(&to_send)
            .answer();
        Ok(Granting { resp, upload })
    }
}

impl super::quota::Charged for SignBody {
    /// PutObject and CreateMultipartUpload are new uploads (of `size`, else the maximum); the
    /// other operations belong to an upload already granted, or grant no bytes.
    fn upload_bytes(&self, max: u64) -> Option<u64> {
        match operation(self) {
            Ok(Operation::PutObject | Operation::CreateMultipartUpload) => {
                Some(self.size.unwrap_or(max))
            }
            _ => None,
        }
    }
}
