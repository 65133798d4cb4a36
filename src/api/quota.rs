//! The upload ledger in the API: which requests reserve what, the subject's budgets (the
//! configuration narrowed by the token), and `GET /v1/usage`. The ledger itself is reached
//! through the [`Ledger`] trait (the worker: the subject's Durable Object; tests: a fake), so
//! the core stays free of I/O. A signed answer leaves only after its reservation succeeded.
//!
//! The ledger is consulted only when the configuration sets a budget or single-use tokens, or
//! the token itself asks for them (`quota_bytes_per_day`, `quota_grants_per_hour`,
//! `quota_open_multipart`, `single_use`): otherwise nothing here runs. The open-multipart
//! budget is counted by the worker-run multipart requests (`multipart.rs`): an upload opens
//! when the store created it and closes when the worker completes or aborts it, or its ticket
//! expires.

use serde_json::Value;

use super::download::DownloadBody;
use super::upload::UploadBody;
use super::{ApiError, Request, Response, Service};
use crate::jwt::{self, Claims, ErrorKind};
use crate::ledger::{Ask, Budget, Call, Limits, Outcome, Reply, Upload, Usage};
use crate::policy::{self, Scope};

/// Seconds a client is told to wait when the ledger could not be reached.
pub(crate) const LEDGER_RETRY_AFTER: u64 = 5;
/// Seconds a ledger remembers a granted upload (longer while its deletion is pending): the
/// completion checks it against the grant within this time.
pub(crate) const UPLOAD_RECORD_SECS: u64 = 86_400;
/// Longest `jti` remembered, in bytes.
const MAX_JTI_LEN: usize = 256;

/// The ledger could not be reached or gave no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerUnavailable;

/// The per-subject ledgers, as the core sees them.
///
/// The future is not `Send`: the worker runs on one thread.
pub trait Ledger {
    /// Sends `call` to the ledger of `subject` (a stable name built from the token's issuer
    /// and subject) and returns its reply.
    fn call(
        &self,
        subject: &str,
        call: &Call,
    ) -> impl std::future::Future<Output = Result<Reply, LedgerUnavailable>>;
}

/// No ledger at all: every call fails, so a request that needs one is refused (fail closed).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLedger;

impl Ledger for NoLedger {
    async fn call(&self, _subject: &str, _call: &Call) -> Result<Reply, LedgerUnavailable> {
        Err(LedgerUnavailable)
    }
}

/// What a request body reserves when it is granted.
pub(super) trait Charged {
    /// The bytes of the upload it grants (`max` when the size is not declared), or `None`
    /// when it grants no new upload (parts, completion, downloads, …).
    fn upload_bytes(&self, max: u64) -> Option<u64>;
}

impl Charged for UploadBody {
    fn upload_bytes(&self, _max: u64) -> Option<u64> {
        Some(self.size)
    }
}

impl Charged for DownloadBody {
    fn upload_bytes(&self, _max: u64) -> Option<u64> {
        None
    }
}

/// A budget claim: a whole number, or absent.
fn limit_claim(claims: &Claims, name: &'static str) -> Result<Option<u64>, jwt::Error> {
    match claims.extra.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            jwt::Error::new(
                ErrorKind::InvalidClaim,
                "a budget claim is not a whole number",
            )
        }),
    }
}

/// The smaller of two optional limits (`None` is unlimited).
fn narrowest(config: Option<u64>, claim: Option<u64>) -> Option<u64> {
    match (config, claim) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The ledger's view of one token: its subject, budgets and single-use id.
pub(super) struct Account {
    /// The Durable Object's name: `["<iss>","<sub>"]` as JSON.
    pub(super) subject: String,
    pub(super) limits: Limits,
    /// The `jti` and until when it must be remembered, for a single-use token.
    jti: Option<(String, u64)>,
}

impl Service {
    /// The token's account when the ledger applies to it, `None` when it does not.
    pub(super) fn account(
        &self,
        scope: &Scope,
        claims: &Claims,
    ) -> Result<Option<Account>, ApiError> {
        let cfg = &self.config.quota;
        let limits = Limits {
            bytes_per_day: narrowest(
                cfg.limits.bytes_per_day,
                limit_claim(claims, "quota_bytes_per_day")?,
            ),
            grants_per_hour: narrowest(
                cfg.limits.grants_per_hour,
                limit_claim(claims, "quota_grants_per_hour")?,
            ),
            open_multipart: narrowest(
                cfg.limits.open_multipart,
                limit_claim(claims, "quota_open_multipart")?,
            ),
        };
        let single_use = match claims.extra.get("single_use") {
            None => cfg.single_use_tokens,
            Some(Value::Bool(b)) => cfg.single_use_tokens || *b,
            Some(_) => {
                return Err(jwt::Error::new(
                    ErrorKind::InvalidClaim,
                    "the single_use claim is not a boolean",
                )
                .into())
            }
        };
        let kept = cfg.cleanup_grace_secs.is_some()
            || cfg.delete_uncompleted_secs.is_some()
            || self.config.webhook.is_some();
        if limits == Limits::default() && !single_use && !kept {
            return Ok(None);
        }
        let Some(sub) = claims.sub.as_deref() else {
            return Err(jwt::Error::new(
                ErrorKind::MissingClaim,
                "a token with a budget needs a sub claim",
            )
            .into());
        };
        // The issuer that verified the token (its configured name), never the token's own `iss`
        // claim, which an HMAC token could set to a provider's: one ledger per issuer and subject.
        let subject = serde_json::to_string(&(scope.issuer.as_str(), sub)).unwrap_or_default();
        let jti = match single_use {
            false => None,
            true => {
                let jti = claims.extra.get("jti").and_then(Value::as_str);
                let (Some(jti), Some(exp)) = (jti, claims.exp) else {
                    return Err(jwt::Error::new(
                        ErrorKind::MissingClaim,
                        "a single-use token needs jti and exp claims",
                    )
                    .into());
                };
                if jti.is_empty() || jti.len() > MAX_JTI_LEN {
                    return Err(jwt::Error::new(
                        ErrorKind::InvalidClaim,
                        "jti must be 1 to 256 bytes",
                    )
                    .into());
                }
                // `exp` is verified: finite, non-negative, in range.
                let until = (exp.ceil() as u64).saturating_add(self.config.jwt.leeway_secs);
                Some((jti.to_owned(), until))
            }
        };
        Ok(Some(Account {
            subject,
            limits,
            jti,
        }))
    }

    /// Reserves what a granted `body` costs in the token's ledger, and remembers the `upload`
    /// it grants at `now`; `Ok` lets the answer go.
    pub(super) async fn reserve<T: Charged, L: Ledger>(
        &self,
        scope: &Scope,
        claims: &Claims,
        body: &T,
        upload: Option<Upload>,
        now: u64,
        ledger: &L,
    ) -> Result<(), ApiError> {
        let Some(account) = self.account(scope, claims)? else {
            return Ok(());
        };
        let max = policy::max_upload_size(&self.config.policy, claims);
        let bytes = body.upload_bytes(max);
        if bytes.is_none() && account.jti.is_none() {
            // Nothing to count or remember: parts and downloads of a token that may be used
            // again.
            return Ok(());
        }
        let upload = upload.map(|mut u| {
            let cfg = &self.config;
            // Deleted no earlier than its URL expires: an upload may still come until then.
            u.delete_at = cfg
                .quota
                .delete_uncompleted_secs
                .map(|after| now.saturating_add(after.max(cfg.policy.url_ttl_secs)));
            u.until = now
                .saturating_add(UPLOAD_RECORD_SECS)
                .max(u.delete_at.unwrap_or(0));
            u
        });
        let ask = Ask {
            bytes: bytes.unwrap_or(0),
            grant: bytes.is_some(),
            jti: account.jti,
            open: None,
            cleanup: None,
            upload,
            link: None,
            limits: account.limits,
        };
        let reply = ledger
            .call(&account.subject, &Call::Reserve(Box::new(ask)))
            .await
            .map_err(|LedgerUnavailable| ApiError::LedgerUnavailable)?;
        match reply {
            Reply::Reserved(Outcome::Granted { .. }) => Ok(()),
            Reply::Reserved(Outcome::Replayed) => Err(jwt::Error::new(
                ErrorKind::Replayed,
                "this single-use token was already used",
            )
            .into()),
            Reply::Reserved(Outcome::Expired) => Err(jwt::Error::new(
                ErrorKind::Expired,
                "the single-use token expired before it could be recorded as used",
            )
            .into()),
            Reply::Reserved(Outcome::Exceeded {
                budget,
                retry_after,
                usage,
            }) => Err(ApiError::QuotaExceeded(Exceeded {
                budget,
                retry_after,
                usage,
                limits: account.limits,
            })),
            Reply::Usage(_) | Reply::Completion(_) => Err(ApiError::LedgerUnavailable),
        }
    }

    /// `GET /v1/usage`: the token's subject, budgets and usage in the current windows (and its
    /// CORS preflight).
    pub(super) async fn usage<R: crate::jwks::Remote, L: Ledger>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        remote: &R,
        ledger: &L,
    ) -> Result<Response, ApiError> {
        match req.method {
            "GET" | "HEAD" => {}
            // A browser asks before sending `Authorization` cross-origin (GET needs no listing).
            "OPTIONS" => return self.preflight(req),
            _ => {
                return Err(ApiError::MethodNotAllowed {
                    allow: "GET, HEAD, OPTIONS",
                })
            }
        }
        let (scope, claims) = self.authenticate(req, now_ms / 1000, remote).await?;
        let account = self.account(scope, &claims)?;
        let (limits, used) = match &account {
            None => (Limits::default(), None),
            Some(a) => match ledger.call(&a.subject, &Call::Usage).await {
                Ok(Reply::Usage(u)) => (a.limits, Some(u)),
                _ => return Err(ApiError::LedgerUnavailable),
            },
        };
        #[derive(serde::Serialize)]
        struct Body<'a> {
            subject: Option<&'a str>,
            issuer: Option<&'a str>,
            limits: Limits,
            used: Option<Usage>,
            remaining: Option<Limits>,
            single_use: bool,
        }
        let remaining = used.map(|u| Limits {
            bytes_per_day: limits.bytes_per_day.map(|l| l.saturating_sub(u.bytes_day)),
            grants_per_hour: limits
                .grants_per_hour
                .map(|l| l.saturating_sub(u.grants_hour)),
            open_multipart: limits
                .open_multipart
                .map(|l| l.saturating_sub(u.open_multipart)),
        });
        let body = Body {
            subject: claims.sub.as_deref(),
            issuer: Some(scope.issuer.as_str()),
            limits,
            used,
            remaining,
            single_use: account.is_some_and(|a| a.jti.is_some()),
        };
        Ok(Response::json(200, &body).header("cache-control", "no-store"))
    }
}

/// A reservation refused for a budget: the answer says which, what is left and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded {
    pub(crate) budget: Budget,
    /// Seconds until the same request would fit; `None` when it never can.
    pub(crate) retry_after: Option<u64>,
    pub(crate) usage: Usage,
    pub(crate) limits: Limits,
}

/// The `quota` member of a `429 quota_exceeded` answer.
#[derive(Debug, serde::Serialize)]
pub(crate) struct QuotaDetail {
    budget: Budget,
    limit: u64,
    used: u64,
    remaining: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl QuotaDetail {
    /// The budget's limit.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

impl Exceeded {
    /// The budget's name (the answer's `reason`).
    pub(crate) fn reason(&self) -> &'static str {
        match self.budget {
            Budget::BytesPerDay => "bytes_per_day",
            Budget::GrantsPerHour => "grants_per_hour",
            Budget::OpenMultipart => "open_multipart",
        }
    }

    /// What the answer shows of the budget.
    pub(crate) fn detail(&self) -> QuotaDetail {
        let (limit, used) = match self.budget {
            Budget::BytesPerDay => (self.limits.bytes_per_day, self.usage.bytes_day),
            Budget::GrantsPerHour => (self.limits.grants_per_hour, self.usage.grants_hour),
            Budget::OpenMultipart => (self.limits.open_multipart, self.usage.open_multipart),
        };
        let limit = limit.unwrap_or(u64::MAX);
        QuotaDetail {
            budget: self.budget,
            limit,
            used,
            remaining: limit.saturating_sub(used),
            retry_after: self.retry_after,
        }
    }
}
