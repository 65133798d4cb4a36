//! The HTTP API as a pure function: a request (method, path, headers, body) and the time in,
//! a response (status, headers, JSON body, log fields) out. The wasm32 adapter only converts
//! between this and the Workers runtime, so every route, status and error is tested natively.
//!
//! | Route | Method | Auth | Answer |
//! | --- | --- | --- | --- |
//! | `/healthz` | GET, HEAD | none | `{"status":"ok"}` |
//! | `/v1/uploads` | POST | JWT | a presigned PUT: `{"method","url","headers","key","bucket","target","expires_at","expires_in"}` |
//! | `/v1/sign` | POST | JWT | any single S3 request of an upload, in the shape of Uppy's `signRequest` (see `sign.rs`): `{"method","url","headers","key",…}`, or a POST policy form (`fields`) |
//! | `/v1/uploads/complete` | POST | JWT | whether the upload landed and is what it claims: `{"receipt","key","bucket","target","size","content_type","etag",…}` with a signed receipt (`receipt.rs`) |
//! | `/v1/receipts/jwks.json` | GET, HEAD | none | the public key of EdDSA receipts: `{"keys":[{"kty":"OKP","crv":"Ed25519","x","kid","alg":"EdDSA","use":"sig"}]}` (`receipt_keys.rs`) |
//! | `/v1/downloads` | POST | JWT | a presigned GET: `{"method","url","key","bucket","target","expires_at","expires_in"}` |
//! | `/v1/usage` | GET, HEAD | JWT | the subject's budgets and usage (`quota.rs`) |
//! | `/v1/multipart/create` | POST | the URL's pass | the store's `InitiateMultipartUploadResult`, with the ticketed upload id (`multipart.rs`) |
//! | `/v1/multipart/complete` | POST | the URL's pass | the store's `CompleteMultipartUploadResult` with `Location`, once the parts keep the grant |
//! | `/v1/multipart/abort` | DELETE | the URL's pass | `204` once the store aborted the upload |
//!
//! Every JSON route also answers CORS preflights (`OPTIONS`). Handlers return
//! `Result<Response, ApiError>`; refusals become answers in one place, `error.rs`, whose table
//! lists every status and code.
//!
//! The files: `auth.rs` finds and verifies the token; `upload.rs` is the one upload path
//! (`/v1/uploads`, and PutObject and CreateMultipartUpload of `/v1/sign`); `sign.rs` the other
//! operations of `/v1/sign`; `download.rs` `/v1/downloads`; `body.rs` the JSON bodies.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::config::{Access, Config, ConfigError, TargetConfig, HMAC_ISSUER_NAME};
use crate::jwks::{CacheKey, Issuer, Remote};
use crate::jwt::{Claims, KeySet, Validation};
use crate::policy::{self, PolicyError, Scope};
mod auth;
mod body;
mod cleanup;
mod download;
mod error;
mod multipart;
mod quota;
mod receipt;
mod receipt_keys;
mod sign;
#[cfg(test)]
mod tests;
mod upload;

use body::FromBody;
pub use cleanup::Deleted;
pub(crate) use error::ApiError;
pub use quota::{Ledger, LedgerUnavailable, NoLedger};

use crate::sigv4::{AmzDate, Bucket, Signer};
use crate::store::{NoTransport, Transport};

/// What the core needs from the platform besides the request: randomness and Unicode NFC.
pub trait Platform {
    /// Fills `buf` with cryptographically strong random bytes.
    fn fill_random(&mut self, buf: &mut [u8]);
    /// Unicode Normalization Form C of `s`.
    fn nfc(&self, s: &str) -> String;
}

/// The request body as the adapter read it.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// The whole body.
    Bytes(&'a [u8]),
    /// Not read: its declared or actual length is over the limit.
    TooLarge,
}

/// An HTTP request, reduced to what the API looks at.
pub struct Request<'a> {
    /// The method, upper case.
    pub method: &'a str,
    /// The URL path (no query), still percent-encoded.
    pub path: &'a str,
    /// The URL query, without `?` (`""` when there is none), still percent-encoded.
    pub query: &'a str,
    /// The worker's own origin as the client reached it (`https://host[:port]`): the base of
    /// the worker URLs that `/v1/sign` hands out for multipart uploads.
    pub origin: &'a str,
    /// Header lookup by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The body as read by the adapter, within `MAX_BODY_BYTES` or marked too large.
    pub body: Body<'a>,
}

/// An HTTP response with the fields of its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (`content-type` included when there is a body).
    pub headers: Vec<(&'static str, String)>,
    /// The body (JSON, or empty).
    pub body: String,
    /// The matched route for logs (`/v1/uploads`, …, or `other`).
    pub route: &'static str,
    /// The error code of a refusal, for logs; `None` for an answer.
    pub error_code: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(serde::Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    message: &'a str,
    /// The budget of a `quota_exceeded` answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    quota: Option<quota::QuotaDetail>,
    /// What differs, in an `upload_mismatch` answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatch: Option<&'a [&'static str]>,
    /// Whether the mismatched object was deleted, in an `upload_mismatch` answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
}

/// The members of an error answer that only some refusals have.
#[derive(Default)]
struct ErrorExtra<'a> {
    /// The budget of a `quota_exceeded` answer.
    quota: Option<quota::QuotaDetail>,
    /// The `mismatch` list and `deleted` of an `upload_mismatch` answer.
    mismatch: Option<(&'a [&'static str], bool)>,
}

/// Name/value pairs written as a JSON object, in their order.
struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The answer of every signing route: what to send where, until when. Built with
/// [`Signed::new`], then [`headers`](Signed::headers) or [`fields`](Signed::fields).
#[derive(serde::Serialize)]
struct Signed<'a> {
    method: &'static str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Pairs<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Pairs<'a>>,
    key: &'a str,
    bucket: &'a str,
    target: &'a str,
    expires_at: String,
    expires_in: u32,
}

impl<'a> Signed<'a> {
    /// A `method` request to `url` for `key` on `target`, valid `ttl` seconds from `now`.
    fn new(
        target: &'a Target,
        method: &'static str,
        url: &'a str,
        key: &'a str,
        ttl: u32,
        now: u64,
    ) -> Self {
        Self {
            method,
            url,
            headers: None,
            fields: None,
            key,
            bucket: target.bucket.name(),
            target: &target.name,
            expires_at: iso8601(now + u64::from(ttl)),
            expires_in: ttl,
        }
    }

    /// The headers the client must send.
    fn headers(mut self, headers: &'a [(String, String)]) -> Self {
        self.headers = Some(Pairs(headers));
        self
    }

    /// The form fields the client must post.
    fn fields(mut self, fields: &'a [(String, String)]) -> Self {
        self.fields = Some(Pairs(fields));
        self
    }

    /// The `200` answer.
    fn answer(&self) -> Response {
        Response::json(200, self)
    }
}

impl Response {
    fn json<T: Serialize>(status: u16, body: &T) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            // Our answer types have string keys only: serialising them cannot fail.
            body: serde_json::to_string(body).unwrap_or_default(),
            route: "other",
            error_code: None,
        }
    }

    /// An S3 XML answer (the worker-run multipart requests).
    fn xml(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/xml".to_owned())],
            body,
            route: "other",
            error_code: None,
        }
    }

    /// An empty answer (CORS preflights).
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            route: "other",
            error_code: None,
        }
    }

    /// The JSON error answer `{"error":{"code","reason"?,"message"}}`; only [`ApiError`]'s
    /// conversion calls it.
    /// `extra` holds the members of some refusals (a budget, what mismatched).
    fn error(
        status: u16,
        code: &'static str,
        reason: Option<&str>,
        message: &str,
        extra: ErrorExtra<'_>,
    ) -> Self {
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                reason,
                message,
                quota: extra.quota,
                mismatch: extra.mismatch.map(|(m, _)| m),
                deleted: extra.mismatch.map(|(_, d)| d),
            },
        };
        let mut r = Self::json(status, &body);
        r.error_code = Some(code);
        r
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The request's log line, one JSON object: `method`, `route`, `status`, `duration_ms`
    /// and `error` (the error code or `null`). Nothing from the request but its method.
    pub fn log_line(&self, method: &str, duration_ms: u64) -> String {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            method: &'a str,
            route: &'a str,
            status: u16,
            duration_ms: u64,
            error: Option<&'a str>,
        }
        let line = Line {
            method,
            route: self.route,
            status: self.status,
            duration_ms,
            error: self.error_code,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The path of an absolute URL as the runtime gives it (`https://host[:port]/path?query`):
/// `/path`, without query or fragment, still percent-encoded; `/` when there is none.
pub fn url_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let Some(start) = rest.find(['/', '?', '#']) else {
        return "/";
    };
    let path = &rest[start..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    if end == 0 {
        "/"
    } else {
        &path[..end]
    }
}

/// The query of an absolute URL (after `?`, before `#`), `""` when there is none.
pub fn url_query(url: &str) -> &str {
    let Some(start) = url.find('?') else {
        return "";
    };
    let query = &url[start + 1..];
    query.find('#').map_or(query, |end| &query[..end])
}

/// The origin of an absolute URL (`scheme://host[:port]`), `""` when it has none.
pub fn url_origin(url: &str) -> &str {
    let Some(after_scheme) = url.find("://").map(|i| i + 3) else {
        return "";
    };
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The answer of a worker whose configuration is invalid (details go to the log only).
pub fn config_invalid_response() -> Response {
    ApiError::ConfigInvalid.into()
}

/// A JSON route's handler: the token's issuer scope and claims, parsed body, time in seconds,
/// randomness, and the worker's origin → the answer (or a refusal). A successful answer leaves
/// only after the ledger reserved what it grants (`quota.rs`).
type Handler<T> =
    fn(&Service, &Scope, &Claims, &T, u64, &mut dyn Platform, &str) -> Result<Granting, ApiError>;

/// A signing route's answer with the upload it grants, if any: the ledger remembers it when
/// the token has one ([`Service::reserve`]).
pub(super) struct Granting {
    resp: Response,
    upload: Option<crate::ledger::Upload>,
}

impl From<Response> for Granting {
    /// An answer that grants no upload (downloads, parts, the control URLs).
    fn from(resp: Response) -> Self {
        Self { resp, upload: None }
    }
}

/// One storage target, ready to sign.
struct Target {
    name: String,
    /// Answer PutObject of `/v1/sign` with a POST policy form.
    post_policy: bool,
    bucket: Bucket,
    /// Signs uploads, multipart requests, POST policies and deletes.
    write: Signer,
    /// Signs downloads.
    read: Signer,
    /// Seals multipart tickets and the passes of worker URLs: derived from the write secret
    /// key, so only who may write to the store can make one.
    ticket_key: [u8; 32],
}

impl Target {
    /// The signer of requests of kind `access`.
    fn signer(&self, access: Access) -> &Signer {
        match access {
            Access::Write => &self.write,
            Access::Read => &self.read,
        }
    }
}

/// The configured service: targets with their signers, keys and rules. Built once per isolate.
pub struct Service {
    config: Config,
    targets: Vec<Target>,
    /// HMAC keys (`JWT_SECRET`, `JWT_KEYS`); may be empty when issuers are configured.
    keys: KeySet,
    /// Checks of HMAC tokens.
    validation: Validation,
    /// Identity providers with JWKS keys, chosen by the token's `iss`.
    issuers: Vec<Issuer>,
    /// What the HMAC keys' tokens may reach (issuer `local`).
    hmac_scope: Scope,
    /// What each identity provider's tokens may reach, in the order of `issuers`.
    issuer_scopes: Vec<Scope>,
    /// The header checks before a path is chosen: every configured algorithm.
    decode: Validation,
    /// The public key of `RECEIPT_SIGNING_KEY`, once the [`Remote`] derived it.
    receipt_public: std::cell::OnceCell<receipt_keys::ReceiptPublicKey>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("targets", &self.targets.len())
            .finish_non_exhaustive()
    }
}

/// The target's signers; the bucket and endpoint come parsed from the configuration.
fn target_from_config(t: &TargetConfig) -> Result<Target, ConfigError> {
    let secret = &t.credentials_for(Access::Write).secret_access_key;
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    hmac::Mac::update(&mut mac, b"presign-worker ticket key v1");
    let ticket_key = hmac::Mac::finalize(mac).into_bytes().into();
    Ok(Target {
        ticket_key,
        name: t.name.clone(),
        post_policy: t.post_policy,
        bucket: t.bucket.clone(),
        write: t.signer(Access::Write)?,
        read: t.signer(Access::Read)?,
    })
}

/// `2013-05-24T00:00:00Z` for Unix seconds (empty past year 9999).
fn iso8601(unix: u64) -> String {
    match AmzDate::from_unix(unix) {
        Some(d) => {
            let s = d.as_str();
            format!(
                "{}-{}-{}T{}:{}:{}Z",
                &s[0..4],
                &s[4..6],
                &s[6..8],
                &s[9..11],
                &s[11..13],
                &s[13..15]
            )
        }
        None => String::new(),
    }
}

impl Service {
    /// Builds the service from a validated configuration; fails closed on anything unusable.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let targets = config
            .targets
            .iter()
            .map(target_from_config)
            .collect::<Result<Vec<_>, _>>()?;
        let jwt_cfg = &config.jwt;
        let keys = jwt_cfg.keys.clone();
        let validation = Validation {
            algorithms: jwt_cfg.algorithms.clone(),
            issuers: jwt_cfg.issuers.clone(),
            audiences: jwt_cfg.audiences.clone(),
            leeway: jwt_cfg.leeway_secs,
            ..Validation::default()
        };
        // Shared-cache copies are authenticated with a key only this worker's configuration
        // gives: derived from the first target's secret access key (always set).
        let cache_key = CacheKey::derive(
            config
                .targets
                .first()
                .map_or("", |t| t.credentials.secret_access_key.as_str())
                .as_bytes(),
        );
        let issuers: Vec<Issuer> = jwt_cfg
            .jwks_issuers
            .iter()
            .map(|i| {
                let (leeway, refetch) = (jwt_cfg.leeway_secs, jwt_cfg.jwks_refetch_secs);
                Issuer::new(i.clone(), leeway, refetch, cache_key.clone())
            })
            .collect();
        let template = &config.policy.key_template;
        let separate = jwt_cfg.several_issuers();
        let hmac_scope = Scope::new(
            template,
            HMAC_ISSUER_NAME,
            separate,
            jwt_cfg.targets.clone(),
        );
        let issuer_scopes = jwt_cfg
            .jwks_issuers
            .iter()
            .map(|i| Scope::new(template, &i.name, separate, i.targets.clone()))
            .collect();
        let mut decode = validation.clone();
        for issuer in &issuers {
            for alg in &issuer.config.algorithms {
                if !decode.algorithms.contains(alg) {
                    decode.algorithms.push(*alg);
                }
            }
        }
        Ok(Self {
            config,
            targets,
            keys,
            validation,
            issuers,
            hmac_scope,
            issuer_scopes,
            decode,
            receipt_public: std::cell::OnceCell::new(),
        })
    }

    /// Reads the configuration through `lookup` and builds the service.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::new(Config::from_lookup(lookup)?)
    }

    /// What the operator should hear about at start-up (logged once per isolate by the
    /// worker), as (event, problem): `shared_credentials` for `custom` targets whose uploads and
    /// downloads share one credential; `issuer_prefix` when tokens of several issuers are
    /// accepted and `KEY_TEMPLATE` does not say where `{iss}` goes, so keys are put under
    /// `<issuer>/`.
    pub fn warnings(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = self
            .config
            .targets
            .iter()
            .filter_map(TargetConfig::shared_credentials_warning)
            .map(|w| ("shared_credentials", w))
            .collect();
        let template = &self.config.policy.key_template;
        if self.config.jwt.several_issuers() && !template.raw.contains("{iss}") {
            let hmac = (!self.keys.is_empty()).then_some(&self.hmac_scope);
            let mut templates = String::new();
            for scope in hmac.into_iter().chain(&self.issuer_scopes) {
                if !templates.is_empty() {
                    templates.push_str(", ");
                }
                templates.push_str(&scope.template.raw);
            }
            out.push((
                "issuer_prefix",
                format!(
                    "tokens of several issuers are accepted and KEY_TEMPLATE has no {{iss}}: each \
                     issuer's keys go under its name ({templates}); put {{iss}} in KEY_TEMPLATE to \
                     choose where"
                ),
            ));
        }
        out
    }

    /// The completion webhooks' settings, when configured.
    pub fn webhook(&self) -> Option<&crate::config::WebhookConfig> {
        self.config.webhook.as_ref()
    }

    /// Largest request body the adapter should read.
    pub fn max_body_bytes(&self) -> u64 {
        self.config.max_body_bytes
    }

    /// Answers one request without a network: HMAC tokens, and public-key tokens whose issuer's
    /// JWKS is inline, checked with RustCrypto. For tests and tools; the worker uses
    /// [`serve`](Self::serve). `now_ms` is the current time in milliseconds since the Unix epoch.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle(&self, req: &Request<'_>, now_ms: u64, platform: &mut dyn Platform) -> Response {
        self.handle_with(req, now_ms, platform, &NoLedger)
    }

    /// [`handle`](Self::handle) with a ledger whose calls complete at once (a fake in tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle_with<L: Ledger>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        ledger: &L,
    ) -> Response {
        self.handle_io(req, now_ms, platform, ledger, &NoTransport)
    }

    /// [`handle_with`](Self::handle_with) with a store `transport` whose sends complete at
    /// once (a fake in tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle_io<L: Ledger, T: Transport>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        ledger: &L,
        transport: &T,
    ) -> Response {
        let fut = std::pin::pin!(self.serve_io(req, now_ms, platform, &Offline, ledger, transport));
        // `Offline` never waits and one request never waits for itself: one poll completes.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(fut, &mut cx) {
            std::task::Poll::Ready(resp) => resp,
            std::task::Poll::Pending => {
                Response::error(503, "unavailable", None, "try again", ErrorExtra::default())
            }
        }
    }

    /// Whether some issuer's keys were served stale and should be refreshed with
    /// [`refresh`](Self::refresh) after the answer.
    pub fn refresh_due(&self) -> bool {
        self.issuers.iter().any(Issuer::refresh_due)
    }

    /// Refreshes the stale keys that served tokens (see [`Issuer::refresh`]); the worker runs it
    /// after the answer with `waitUntil`. `now_ms` as for [`serve`](Self::serve).
    pub async fn refresh<R: Remote>(&self, now_ms: u64, remote: &R) {
        for issuer in &self.issuers {
            issuer.refresh(now_ms / 1000, remote).await;
        }
    }

    /// Answers one request. `now_ms` is the current time in milliseconds since the Unix epoch;
    /// `remote` fetches JWKS and checks public-key signatures. Without a ledger: a request that
    /// needs one (budgets, single-use tokens) gets `503 ledger_unavailable`.
    pub async fn serve<R: Remote>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
    ) -> Response {
        self.serve_with(req, now_ms, platform, remote, &NoLedger)
            .await
    }

    /// [`serve`](Self::serve) with the subjects' `ledger` (budgets and single-use tokens;
    /// called only when they apply). Without a store transport: the multipart control routes
    /// answer `503 store_unavailable`.
    pub async fn serve_with<R: Remote, L: Ledger>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
        ledger: &L,
    ) -> Response {
        self.serve_io(req, now_ms, platform, remote, ledger, &NoTransport)
            .await
    }

    /// [`serve_with`](Self::serve_with) with the `transport` of the worker's own requests to
    /// the store (the multipart control routes).
    pub async fn serve_io<R: Remote, L: Ledger, T: Transport>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
        ledger: &L,
        transport: &T,
    ) -> Response {
        let (route, mut resp) = match req.path {
            "/healthz" => (
                "/healthz",
                match req.method {
                    "GET" | "HEAD" => {
                        Response::json(200, &Pairs(&[("status".into(), "ok".into())]))
                    }
                    _ => ApiError::MethodNotAllowed { allow: "GET, HEAD" }.into(),
                },
            ),
            "/v1/uploads" => (
                "/v1/uploads",
                self.api_route(req, now_ms, platform, remote, ledger, Self::sign_upload)
                    .await,
            ),
            "/v1/sign" => (
                "/v1/sign",
                self.api_route(req, now_ms, platform, remote, ledger, Self::sign_operation)
                    .await,
            ),
            receipt::COMPLETE_PATH => (
                receipt::COMPLETE_PATH,
                out_of_line(self.complete_upload(req, now_ms, remote, ledger, transport)).await,
            ),
            receipt_keys::JWKS_PATH => (
                receipt_keys::JWKS_PATH,
                out_of_line(self.receipt_jwks(req, remote)).await,
            ),
            "/v1/downloads" => (
                "/v1/downloads",
                self.api_route(req, now_ms, platform, remote, ledger, Self::sign_download)
                    .await,
            ),
            "/v1/usage" => (
                "/v1/usage",
                out_of_line(self.usage(req, now_ms, remote, ledger)).await,
            ),
            path => match multipart::Op::from_path(path) {
                Some(op) => (
                    op.path(),
                    out_of_line(self.multipart(req, now_ms, remote, ledger, transport, op)).await,
                ),
                None => ("other", ApiError::NotFound.into()),
            },
        };
        resp.route = route;
        if req.method == "HEAD" {
            resp.body.clear();
        }
        self.add_cors(req, &mut resp);
        resp
    }

    fn allowed_origin(&self, req: &Request<'_>) -> Option<String> {
        let origin = (req.header)("origin")?;
        self.config
            .cors
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(&origin))
            .then_some(origin)
    }

    fn add_cors(&self, req: &Request<'_>, resp: &mut Response) {
        if self.config.cors.allowed_origins.is_empty() {
            return;
        }
        resp.headers.push(("vary", "Origin".to_owned()));
        if let Some(origin) = self.allowed_origin(req) {
            resp.headers.push(("access-control-allow-origin", origin));
        }
    }

    /// The answer to `OPTIONS` on a JSON route: a CORS preflight when there is an `Origin`.
    fn preflight(&self, req: &Request<'_>) -> Result<Response, ApiError> {
        self.preflight_for(req, "POST, OPTIONS")
    }

    /// [`preflight`](Self::preflight) of a route taking `methods` (a method other than GET,
    /// HEAD and POST must be listed for a browser to send it: the worker-run abort's DELETE).
    fn preflight_for(
        &self,
        req: &Request<'_>,
        methods: &'static str,
    ) -> Result<Response, ApiError> {
        if (req.header)("origin").is_none() {
            return Ok(Response::empty(204).header("allow", methods));
        }
        if self.allowed_origin(req).is_none() {
            return Err(PolicyError::forbidden(
                "origin_not_allowed",
                "this origin may not call the API",
            )
            .into());
        }
        let header = &self.config.jwt.header;
        Ok(Response::empty(204)
            .header("access-control-allow-methods", methods)
            .header(
                "access-control-allow-headers",
                format!("{header}, content-type"),
            )
            .header(
                "access-control-max-age",
                self.config.cors.max_age_secs.to_string(),
            ))
    }

    /// A JSON route: POST (or a CORS preflight), authenticated, JSON body within the limit,
    /// parsed into `T` and handed to `handler`.
    async fn api_route<T: FromBody + quota::Charged, R: Remote, L: Ledger>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
        ledger: &L,
        handler: Handler<T>,
    ) -> Response {
        let result = match req.method {
            "OPTIONS" => self.preflight(req),
            _ => {
                self.api_call(req, now_ms, platform, remote, ledger, handler)
                    .await
            }
        };
        result.unwrap_or_else(Response::from)
    }

    /// [`api_route`](Self::api_route) past the preflight: admitted, parsed, handled, and sent
    /// only once the ledger reserved what it grants.
    async fn api_call<T: FromBody + quota::Charged, R: Remote, L: Ledger>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
        ledger: &L,
        handler: Handler<T>,
    ) -> Result<Response, ApiError> {
        let (scope, claims, body, now) = self.admit(req, now_ms, remote).await?;
        let parsed: T = body::parse(body).map_err(ApiError::InvalidRequest)?;
        let granting = handler(self, scope, &claims, &parsed, now, platform, req.origin)?;
        self.reserve(scope, &claims, &parsed, granting.upload, now, ledger)
            .await?;
        Ok(granting.resp)
    }

    /// Everything a JSON route checks before its body: method, token, media type, size.
    /// Returns the token issuer's scope, the verified claims, the body and the time in seconds.
    async fn admit<'r, R: Remote>(
        &self,
        req: &Request<'r>,
        now_ms: u64,
        remote: &R,
    ) -> Result<(&Scope, Claims, &'r [u8], u64), ApiError> {
        if req.method != "POST" {
            return Err(ApiError::MethodNotAllowed {
                allow: "POST, OPTIONS",
            });
        }
        let now = now_ms / 1000;
        let (scope, claims) = self.authenticate(req, now, remote).await?;
        let is_json = (req.header)("content-type")
            .and_then(|v| policy::media_type_essence(&v))
            .is_some_and(|e| e == "application/json");
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        match req.body {
            Body::Bytes(b) if b.len() as u64 <= self.config.max_body_bytes => {
                Ok((scope, claims, b, now))
            }
            _ => Err(ApiError::BodyTooLarge {
                limit: self.config.max_body_bytes,
            }),
        }
    }

    /// The target named in a request, or the first one the token may use
    /// ([`Scope::pick_target`]).
    fn target(
        &self,
        scope: &Scope,
        claims: &Claims,
        name: Option<&str>,
    ) -> Result<&Target, ApiError> {
        let names = self.targets.iter().map(|t| t.name.as_str());
        let i = scope.pick_target(claims, name, names)?;
        self.targets
            .get(i)
            .ok_or_else(|| PolicyError::invalid("unknown_target", "no such target").into())
    }
}

/// The [`Remote`] of [`Service::handle`]: no network, no shared cache, RustCrypto signatures
/// (checked, and the receipts' Ed25519 ones made).
#[cfg(not(target_arch = "wasm32"))]
struct Offline;

#[cfg(not(target_arch = "wasm32"))]
impl Remote for Offline {
    async fn cached_jwks(&self, _url: &str) -> Option<(String, u64)> {
        None
    }

    async fn fetch_jwks(&self, _url: &str) -> Result<(String, Option<String>), String> {
        Err("no network in Service::handle (use Service::serve)".to_owned())
    }

    async fn store_jwks(&self, _url: &str, _body: &str, _fresh_until: u64) {}

    /// Never waited on: one request alone never waits for a fetch.
    async fn sleep(&self, _ms: u64) {}

    async fn verify(
        &self,
        alg: crate::jwt::Algorithm,
        key: &crate::jwt::PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        crate::jwt::verify_public(key, alg, input, signature).unwrap_or(false)
    }

    async fn ed25519_public(
        &self,
        key: &crate::jwt::ed25519::Ed25519PrivateKey,
    ) -> Result<[u8; 32], String> {
        Ok(crate::jwt::ed25519::derive_public(key))
    }

    async fn sign_ed25519(
        &self,
        key: &crate::jwt::ed25519::Ed25519PrivateKey,
        input: &[u8],
    ) -> Result<[u8; 64], String> {
        Ok(crate::jwt::ed25519::sign(key, input))
    }

    fn log(&self, _line: &str) {}
}

/// A route's future behind a pointer, its error made an answer. The routes that are not the
/// signing hot path (completion, receipt keys, usage, the worker-run multipart requests) go
/// through it, so that their code is not inlined into [`Service::serve_io`]'s state machine:
/// V8 compiles a wasm function whole at its first call, and the first request of an isolate
/// then compiles only the code of its own route (`README.md`, start-up).
fn out_of_line<'a>(
    route: impl std::future::Future<Output = Result<Response, ApiError>> + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + 'a>> {
    Box::pin(async move { route.await.unwrap_or_else(Response::from) })
}
