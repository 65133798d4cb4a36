//! Every refusal of the API as one type, and the one place where it becomes an HTTP answer.
//!
//! Handlers return `Result<Response, ApiError>` and use `?` on the errors of the layers below
//! ([`PolicyError`], [`jwt::Error`], [`SignError`]): each has a `From` impl. The status, the
//! stable `code`, the optional `reason` and the extra headers of each variant are decided by
//! [`ApiError::status`], [`ApiError::code`] and `From<ApiError> for Response` below, nowhere else.
//!
//! | status | variant | code |
//! | --- | --- | --- |
//! | 400 | [`ApiError::InvalidRequest`] | `invalid_request` |
//! | 401 | [`ApiError::MissingToken`] | `missing_token` (with `WWW-Authenticate: Bearer`) |
//! | 401 | [`ApiError::Token`] | `invalid_token`, with the token's `reason` |
//! | 403 / 422 | [`ApiError::Policy`] | the policy's code, 403 when the token does not allow it, 422 when the request breaks a rule |
//! | 404 | [`ApiError::NotFound`] | `not_found` |
//! | 405 | [`ApiError::MethodNotAllowed`] | `method_not_allowed` (with `Allow`) |
//! | 413 | [`ApiError::BodyTooLarge`] | `body_too_large` |
//! | 415 | [`ApiError::UnsupportedMediaType`] | `unsupported_media_type` |
//! | 422 | [`ApiError::Sign`] | the signer's code |
//! | 429 | [`ApiError::QuotaExceeded`] | `quota_exceeded`, with the budget as `reason`, a `quota` member (`limit`, `used`, `remaining`, `retry_after`) and `Retry-After` |
//! | 500 | [`ApiError::ConfigInvalid`] | `config_invalid` |
//! | 503 | [`ApiError::JwksUnavailable`] | `jwks_unavailable` (with `Retry-After`) |
//! | 503 | [`ApiError::LedgerUnavailable`] | `ledger_unavailable` (with `Retry-After`) |
//! | 403 / 422 | [`ApiError::Ticket`] | `ticket_invalid`, `ticket_expired` (403), `invalid_upload_id` (422): a multipart upload's ticket or a worker URL's pass |
//! | 409 | [`ApiError::TicketUsed`] | `ticket_used`: a create URL already created its upload |
//! | 422 | [`ApiError::Breach`] | `size_exceeded`, `size_mismatch`: the parts break the grant (the upload was aborted), or the completed object does (it was deleted) |
//! | 501 | [`ApiError::ReceiptsNotConfigured`] | `receipts_not_configured`: `/v1/uploads/complete` without `RECEIPT_SECRET` or `RECEIPT_SIGNING_KEY` |
//! | 404 | [`ApiError::ReceiptKeysNotConfigured`] | `receipt_keys_not_configured`: `/v1/receipts/jwks.json` without `RECEIPT_SIGNING_KEY` or `RECEIPT_PREVIOUS_KEYS` (no receipts, or HS256 ones) |
//! | 409 | [`ApiError::UploadMissing`] | `upload_missing`: no object under the key (not uploaded yet, or deleted) |
//! | 409 | [`ApiError::UploadChanged`] | `upload_changed`: the object was replaced while it was checked (retry) |
//! | 422 | [`ApiError::UploadMismatch`] | `upload_mismatch`, with `mismatch` (`size`, `content_type`, `content`) and `deleted` |
//! | 404 / 412 / 502 / 503 / 504 | [`ApiError::Store`] | `upload_not_found`, `object_exists`, `store_error`, `store_answer_malformed`, `store_unavailable`, `store_timeout` (5xx with `Retry-After`) |

use std::fmt;

use super::quota::{Exceeded, LEDGER_RETRY_AFTER};
use super::receipt::Mismatch;
use super::{ErrorExtra, Response};
use crate::jwt;
use crate::policy::{PolicyError, Refusal};
use crate::sigv4::SignError;
use crate::store::complete::Breach;
use crate::store::ticket::TicketError;
use crate::store::{StoreError, RETRY_AFTER_SECS};

/// The `WWW-Authenticate` challenge of every 401 answer.
const REALM: &str = "Bearer realm=\"presign-worker\"";

/// Why the API refuses a request. Messages are for the client and never hold a secret.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The body is not JSON of the route's shape (the text names the field or the problem).
    InvalidRequest(String),
    /// No token where the configuration says to look (the text says where).
    MissingToken(String),
    /// The token was refused: bad signature, expired, wrong audience, …
    Token(jwt::Error),
    /// The token does not allow it, or the request breaks a rule.
    Policy(PolicyError),
    /// No such route.
    NotFound,
    /// The route exists but not for this method; `allow` lists the methods it takes.
    MethodNotAllowed {
        /// The `Allow` header's value, the first method being the one to use.
        allow: &'static str,
    },
    /// The body is over `MAX_BODY_BYTES` (or could not be read).
    BodyTooLarge {
        /// `MAX_BODY_BYTES`.
        limit: u64,
    },
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The signer refused what the policy let through: a request the store cannot take.
    Sign(SignError),
    /// The configuration is invalid (the details were logged; the client learns nothing).
    ConfigInvalid,
    /// The subject's budget does not allow this grant (nothing was reserved).
    QuotaExceeded(Exceeded),
    /// The subject's ledger could not be reached: nothing is granted (fail closed).
    LedgerUnavailable,
    /// A multipart upload's ticket, or a worker URL's pass, is malformed, forged or expired.
    Ticket(TicketError),
    /// A create URL whose upload was already created (with a ledger, each is used once).
    TicketUsed,
    /// The store's parts break the upload's grant; it was aborted unless it had no part. Or
    /// the completed object does ([`Breach::Object`]); it was deleted.
    Breach(Breach),
    /// The store failed or refused the worker's own request.
    Store(StoreError),
    /// `/v1/uploads/complete` without `RECEIPT_SECRET` or `RECEIPT_SIGNING_KEY`: receipts
    /// cannot be signed.
    ReceiptsNotConfigured,
    /// `/v1/receipts/jwks.json` without `RECEIPT_SIGNING_KEY` or `RECEIPT_PREVIOUS_KEYS`: no
    /// public key to publish.
    ReceiptKeysNotConfigured,
    /// `/v1/uploads/complete` of a key that holds no object.
    UploadMissing,
    /// The object was replaced between the worker's HeadObject and its ranged GET.
    UploadChanged,
    /// The object is not what the token grants (and was deleted with `DELETE_MISMATCHED`).
    UploadMismatch(Mismatch),
    /// An identity provider's keys were never fetched successfully.
    JwksUnavailable {
        /// Seconds until a new fetch may be tried (`JWKS_REFETCH_INTERVAL`).
        retry_after_secs: u64,
    },
}

impl ApiError {
    /// The HTTP status of this refusal.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) => 400,
            Self::MissingToken(_) | Self::Token(_) => 401,
            Self::Policy(e) => match e.refusal {
                Refusal::Forbidden => 403,
                Refusal::Invalid => 422,
            },
            Self::NotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::BodyTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::Sign(_) => 422,
            Self::QuotaExceeded(_) => 429,
            Self::ConfigInvalid => 500,
            Self::JwksUnavailable { .. } | Self::LedgerUnavailable => 503,
            Self::Ticket(TicketError::Malformed) => 422,
            Self::Ticket(_) => 403,
            Self::TicketUsed => 409,
            Self::Breach(_) => 422,
            Self::Store(e) => e.status(),
            Self::ReceiptsNotConfigured => 501,
            Self::ReceiptKeysNotConfigured => 404,
            Self::UploadMissing | Self::UploadChanged => 409,
            Self::UploadMismatch(_) => 422,
        }
    }

    /// The stable snake_case code of the answer's `error.code`.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::MissingToken(_) => "missing_token",
            Self::Token(_) => "invalid_token",
            Self::Policy(e) => e.code,
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Sign(e) => e.code(),
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::ConfigInvalid => "config_invalid",
            Self::JwksUnavailable { .. } => "jwks_unavailable",
            Self::LedgerUnavailable => "ledger_unavailable",
            Self::Ticket(t) => t.code(),
            Self::TicketUsed => "ticket_used",
            Self::Breach(b) => b.code(),
            Self::Store(e) => e.code(),
            Self::ReceiptsNotConfigured => "receipts_not_configured",
            Self::ReceiptKeysNotConfigured => "receipt_keys_not_configured",
            Self::UploadMissing => "upload_missing",
            Self::UploadChanged => "upload_changed",
            Self::UploadMismatch(_) => "upload_mismatch",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest(why) => write!(f, "the request body is not valid: {why}"),
            Self::MissingToken(why) => f.write_str(why),
            Self::Token(e) => write!(f, "the token was refused: {e}"),
            Self::Policy(e) => f.write_str(&e.message),
            Self::NotFound => f.write_str("no such route"),
            Self::MethodNotAllowed { allow } => {
                let first = allow.split(',').next().unwrap_or(allow);
                write!(f, "use {first}")
            }
            Self::BodyTooLarge { limit } => write!(f, "the body is over {limit} bytes"),
            Self::UnsupportedMediaType => f.write_str("send the body as application/json"),
            Self::Sign(e) => write!(f, "{e}"),
            Self::ConfigInvalid => {
                f.write_str("the service is misconfigured; the operator has been told in the logs")
            }
            Self::JwksUnavailable { .. } => {
                f.write_str("the identity provider's keys could not be fetched; try again later")
            }
            Self::QuotaExceeded(e) => {
                let d = e.detail();
                match e.retry_after {
                    Some(_) => write!(f, "over the {} budget; try again later", e.reason()),
                    None => write!(
                        f,
                        "larger than the whole {} budget of {}",
                        e.reason(),
                        d.limit()
                    ),
                }
            }
            Self::LedgerUnavailable => {
                f.write_str("the usage ledger could not be reached; try again later")
            }
            Self::Ticket(TicketError::Malformed) => {
                f.write_str("uploadId is not one this service's create request gave")
            }
            Self::Ticket(TicketError::Forged) => f.write_str(
                "the upload's ticket (or the URL's pass) is not valid for this key and upload",
            ),
            Self::Ticket(TicketError::Expired) => {
                f.write_str("the upload's ticket (or the URL's pass) has expired")
            }
            Self::TicketUsed => f.write_str(
                "this create URL already created its upload; ask /v1/sign for a new one",
            ),
            Self::Breach(b @ Breach::Object { .. }) => {
                write!(f, "{b}; the object was deleted at the store")
            }
            Self::Breach(b) if b.aborts() => write!(f, "{b}; the upload was aborted at the store"),
            Self::Breach(b) => write!(f, "{b}"),
            Self::Store(e) if e.retryable() => write!(f, "{e}; try again later"),
            Self::Store(e) => write!(f, "{e}"),
            Self::ReceiptsNotConfigured => f.write_str(
                "this service signs no receipts (neither RECEIPT_SECRET nor RECEIPT_SIGNING_KEY \
                 is set); ask its operator",
            ),
            Self::ReceiptKeysNotConfigured => f.write_str(
                "this service publishes no receipt keys: its receipts are not signed with a \
                 public key (neither RECEIPT_SIGNING_KEY nor RECEIPT_PREVIOUS_KEYS is set)",
            ),
            Self::UploadMissing => {
                f.write_str("the store holds no object under this key; upload it first")
            }
            Self::UploadChanged => {
                f.write_str("the object changed while it was checked; try again")
            }
            Self::UploadMismatch(m) => write!(f, "{m}"),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl From<jwt::Error> for ApiError {
    fn from(e: jwt::Error) -> Self {
        Self::Token(e)
    }
}

impl From<SignError> for ApiError {
    fn from(e: SignError) -> Self {
        Self::Sign(e)
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        let reason = match &e {
            ApiError::Token(t) => Some(t.code()),
            ApiError::QuotaExceeded(q) => Some(q.reason()),
            _ => None,
        };
        let extra = ErrorExtra {
            quota: match &e {
                ApiError::QuotaExceeded(q) => Some(q.detail()),
                _ => None,
            },
            mismatch: match &e {
                ApiError::UploadMismatch(m) => Some((m.fields.as_slice(), m.deleted)),
                _ => None,
            },
        };
        let resp = Response::error(e.status(), e.code(), reason, &e.to_string(), extra);
        match e {
            ApiError::MissingToken(_) => resp.header("www-authenticate", REALM),
            ApiError::Token(t) => resp.header(
                "www-authenticate",
                format!(
                    "{REALM}, error=\"invalid_token\", error_description=\"{}\"",
                    t.code()
                ),
            ),
            ApiError::MethodNotAllowed { allow } => resp.header("allow", allow),
            ApiError::JwksUnavailable { retry_after_secs } => {
                resp.header("retry-after", retry_after_secs.to_string())
            }
            ApiError::QuotaExceeded(Exceeded {
                retry_after: Some(secs),
                ..
            }) => resp.header("retry-after", secs.max(1).to_string()),
            ApiError::LedgerUnavailable => {
                resp.header("retry-after", LEDGER_RETRY_AFTER.to_string())
            }
            ApiError::Store(e) if e.retryable() => {
                resp.header("retry-after", RETRY_AFTER_SECS.to_string())
            }
            _ => resp,
        }
    }
}
