//! The HTTP API as a pure function: a request (method, path, headers, body) and the time in,
//! a response (status, headers, JSON body, log fields) out. The wasm32 adapter only converts
//! between this and the Workers runtime, so every route, status and error is tested natively.
//!
//! | Route | Method | Auth | Answer |
//! | --- | --- | --- | --- |
//! | `/healthz` | GET, HEAD | none | `{"status":"ok"}` |
//! | `/v1/uploads` | POST | JWT | a presigned PUT: `{"method","url","headers","key","bucket","target","expires_at","expires_in"}` |
//! | `/v1/downloads` | POST | JWT | a presigned GET: `{"method","url","key","bucket","target","expires_at","expires_in"}` |
//!
//! Errors are `{"error":{"code","message"}}`: 400 malformed, 401 missing or invalid token (with
//! `WWW-Authenticate: Bearer`), 403 not granted, 404, 405, 413 body too large, 415 not JSON,
//! 422 a rule broken, 500 `config_invalid`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::config::{Config, ConfigError, TargetConfig, ACCESS_HEADER};
use crate::jwks::{CacheKey, Issuer, Remote, Unavailable};
use crate::jwt::{self, Claims, KeySet, Validation};
use crate::policy::{self, Grant, PolicyError, Refusal};
mod body;
mod sign;

use body::{Fields, FromBody};

use crate::sigv4::{
    self, AddressingStyle, AmzDate, Bucket, Credentials, Method, ObjectRequest, Signer,
};

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
    /// The URL path (no query).
    pub path: &'a str,
    /// Header lookup by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The body.
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
    /// The error code, for logs.
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

/// The answer of every signing route: what to send where, until when.
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

    fn error(status: u16, code: &'static str, message: &str) -> Self {
        Self::error_with_reason(status, code, None, message)
    }

    fn error_with_reason(
        status: u16,
        code: &'static str,
        reason: Option<&str>,
        message: &str,
    ) -> Self {
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                reason,
                message,
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

/// The answer of a worker whose configuration is invalid (details go to the log only).
pub fn config_invalid_response() -> Response {
    Response::error(
        500,
        "config_invalid",
        "the service is misconfigured; the operator has been told in the logs",
    )
}

/// A JSON route's handler: claims, parsed body, time in seconds → the answer (or a refusal).
type Handler<T> = fn(&Service, &Claims, &T, u64, &mut dyn Platform) -> Result<Response, Response>;

/// The answer for a URL (or form) signed on `target`, valid `ttl` seconds from `now`.
#[allow(clippy::too_many_arguments)]
fn signed_answer(
    target: &Target,
    method: &'static str,
    url: &str,
    key: &str,
    headers: Option<&[(String, String)]>,
    fields: Option<&[(String, String)]>,
    ttl: u32,
    now: u64,
) -> Response {
    Response::json(
        200,
        &Signed {
            method,
            url,
            headers: headers.map(Pairs),
            fields: fields.map(Pairs),
            key,
            bucket: target.bucket.name(),
            target: &target.name,
            expires_at: iso8601(now + u64::from(ttl)),
            expires_in: ttl,
        },
    )
}

/// One storage target, ready to sign.
struct Target {
    name: String,
    /// Answer PutObject of `/v1/sign` with a POST policy form.
    post_policy: bool,
    bucket: Bucket,
    signer: Signer,
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
    /// The header checks before a path is chosen: every configured algorithm.
    decode: Validation,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("targets", &self.targets.len())
            .finish_non_exhaustive()
    }
}

fn target_from_config(t: &TargetConfig) -> Result<Target, ConfigError> {
    let err = |what: &str, e: sigv4::SignError| ConfigError {
        variable: format!("TARGET_{}_{what}", t.name.to_ascii_uppercase()),
        problem: e.to_string(),
    };
    let endpoint = sigv4::Endpoint::new(t.endpoint.scheme_https, &t.endpoint.host, t.endpoint.port)
        .map_err(|e| err("ENDPOINT", e))?;
    let style = if t.path_style {
        AddressingStyle::Path
    } else {
        AddressingStyle::VirtualHosted
    };
    let bucket = Bucket::new(&endpoint, &t.bucket, style).map_err(|e| err("BUCKET", e))?;
    let c = &t.credentials;
    let creds = Credentials::new(
        &c.access_key_id,
        &c.secret_access_key,
        c.session_token.as_deref(),
    );
    let signer = Signer::s3(creds, &t.region).map_err(|e| err("REGION", e))?;
    Ok(Target {
        name: t.name.clone(),
        post_policy: t.post_policy,
        bucket,
        signer,
    })
}

struct UploadBody {
    filename: String,
    content_type: String,
    size: u64,
    checksum: Option<Map<String, Value>>,
    metadata: Option<Map<String, Value>>,
    target: Option<String>,
    key: Option<String>,
}

impl FromBody for UploadBody {
    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            filename: f.str("filename")?,
            content_type: f.str("content_type")?,
            size: f.u64("size")?,
            checksum: f.opt_object("checksum")?,
            metadata: f.opt_object("metadata")?,
            target: f.opt_str("target")?,
            key: f.opt_str("key")?,
        })
    }
}

struct DownloadBody {
    key: String,
    target: Option<String>,
    filename: Option<String>,
}

impl FromBody for DownloadBody {
    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            key: f.str("key")?,
            target: f.opt_str("target")?,
            filename: f.opt_str("filename")?,
        })
    }
}

fn policy_response(e: &PolicyError) -> Response {
    let status = match e.refusal {
        Refusal::Forbidden => 403,
        Refusal::Invalid => 422,
    };
    Response::error(status, e.code, &e.message)
}

/// `2013-05-24T00:00:00Z` for Unix seconds.
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
        let keys = match (&jwt_cfg.keys.secret, &jwt_cfg.keys.keys_json) {
            (None, None) => KeySet::default(),
            (secret, json) => {
                KeySet::from_config(secret.as_deref(), json.as_deref()).map_err(|e| {
                    ConfigError {
                        variable: "JWT_SECRET/JWT_KEYS".to_owned(),
                        problem: e.to_string(),
                    }
                })?
            }
        };
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
            decode,
        })
    }

    /// Reads the configuration through `lookup` and builds the service.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::new(Config::from_lookup(lookup)?)
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
        let fut = std::pin::pin!(self.serve(req, now_ms, platform, &Offline));
        // `Offline` never waits and one request never waits for itself: one poll completes.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(fut, &mut cx) {
            std::task::Poll::Ready(resp) => resp,
            std::task::Poll::Pending => Response::error(503, "unavailable", "try again"),
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
    /// `remote` fetches JWKS and checks public-key signatures.
    pub async fn serve<R: Remote>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
    ) -> Response {
        let (route, mut resp) = match req.path {
            "/healthz" => (
                "/healthz",
                match req.method {
                    "GET" | "HEAD" => {
                        Response::json(200, &Pairs(&[("status".into(), "ok".into())]))
                    }
                    _ => Response::error(405, "method_not_allowed", "use GET")
                        .header("allow", "GET, HEAD"),
                },
            ),
            "/v1/uploads" => (
                "/v1/uploads",
                self.api_route(req, now_ms, platform, remote, Self::sign_upload)
                    .await,
            ),
            "/v1/sign" => (
                "/v1/sign",
                self.api_route(req, now_ms, platform, remote, Self::sign_operation)
                    .await,
            ),
            "/v1/downloads" => (
                "/v1/downloads",
                self.api_route(req, now_ms, platform, remote, Self::sign_download)
                    .await,
            ),
            _ => ("other", Response::error(404, "not_found", "no such route")),
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

    fn preflight(&self, req: &Request<'_>) -> Response {
        if (req.header)("origin").is_none() {
            return Response {
                status: 204,
                headers: vec![("allow", "POST, OPTIONS".to_owned())],
                body: String::new(),
                route: "other",
                error_code: None,
            };
        }
        if self.allowed_origin(req).is_none() {
            return Response::error(
                403,
                "origin_not_allowed",
                "this origin may not call the API",
            );
        }
        let header = &self.config.jwt.header;
        Response {
            status: 204,
            headers: Vec::new(),
            body: String::new(),
            route: "other",
            error_code: None,
        }
        .header("access-control-allow-methods", "POST, OPTIONS")
        .header(
            "access-control-allow-headers",
            format!("{header}, content-type"),
        )
        .header(
            "access-control-max-age",
            self.config.cors.max_age_secs.to_string(),
        )
    }

    /// A JSON route: POST (or a CORS preflight), authenticated, JSON body within the limit,
    /// parsed into `T` and handed to `handler`.
    async fn api_route<T: FromBody, R: Remote>(
        &self,
        req: &Request<'_>,
        now_ms: u64,
        platform: &mut dyn Platform,
        remote: &R,
        handler: Handler<T>,
    ) -> Response {
        let result = self
            .admit(req, now_ms, remote)
            .await
            .and_then(|(claims, body, now)| {
                let parsed: T = Self::parse(body)?;
                handler(self, &claims, &parsed, now, platform)
            });
        match result {
            Ok(r) | Err(r) => r,
        }
    }

    /// Everything a JSON route checks before its body: method, token, media type, size.
    /// Returns the verified claims, the body and the time in seconds.
    async fn admit<'r, R: Remote>(
        &self,
        req: &Request<'r>,
        now_ms: u64,
        remote: &R,
    ) -> Result<(Claims, &'r [u8], u64), Response> {
        match req.method {
            "POST" => {}
            "OPTIONS" => return Err(self.preflight(req)),
            _ => {
                return Err(Response::error(405, "method_not_allowed", "use POST")
                    .header("allow", "POST, OPTIONS"))
            }
        }
        let now = now_ms / 1000;
        let claims = self.authenticate(req, now, remote).await?;
        let is_json = (req.header)("content-type")
            .and_then(|v| policy::media_type_essence(&v))
            .is_some_and(|e| e == "application/json");
        if !is_json {
            return Err(Response::error(
                415,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        match req.body {
            Body::Bytes(b) if b.len() as u64 <= self.config.max_body_bytes => Ok((claims, b, now)),
            _ => {
                let msg = format!("the body is over {} bytes", self.config.max_body_bytes);
                Err(Response::error(413, "body_too_large", &msg))
            }
        }
    }

    /// The token of the request: the configured header (with `Bearer` when it is
    /// `authorization`), else Cloudflare Access's header when that preset is on.
    fn token(&self, req: &Request<'_>) -> Result<String, Response> {
        let jwt_cfg = &self.config.jwt;
        let missing = |message: &str| {
            Err(Response::error(401, "missing_token", message)
                .header("www-authenticate", REALM.to_owned()))
        };
        let Some(raw) = (req.header)(&jwt_cfg.header) else {
            if jwt_cfg.access_header {
                if let Some(t) = (req.header)(ACCESS_HEADER) {
                    return Ok(t.trim().to_owned());
                }
            }
            return missing(&format!("send a token in the {} header", jwt_cfg.header));
        };
        if !jwt_cfg.bearer_scheme {
            return Ok(raw.trim().to_owned());
        }
        match raw.trim().split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => Ok(t.trim().to_owned()),
            _ => missing("use Authorization: Bearer <token>"),
        }
    }

    /// Verifies the request's token: with the keys of the issuer named by its `iss` when one
    /// is configured (that issuer's algorithms and audiences), else with the HMAC keys.
    async fn authenticate<R: Remote>(
        &self,
        req: &Request<'_>,
        now: u64,
        remote: &R,
    ) -> Result<Claims, Response> {
        let token = self.token(req)?;
        let unverified = jwt::decode_unverified(&token, &self.decode).map_err(refused)?;
        let hint = match self.issuers.is_empty() {
            true => None,
            false => unverified.issuer_hint(),
        };
        let issuer = hint.and_then(|iss| self.issuers.iter().find(|i| i.config.iss == iss));
        let Some(issuer) = issuer else {
            if !self.validation.algorithms.contains(&unverified.alg()) {
                return Err(refused(not_allowed()));
            }
            let key = unverified.select_key(&self.keys).map_err(refused)?;
            let ok = unverified.verify_signature(key).map_err(refused)?;
            return unverified
                .into_claims(ok, &self.validation, now)
                .map_err(refused);
        };
        // The issuer's own allow-list, before any of its keys is looked at.
        if !issuer.validation.algorithms.contains(&unverified.alg()) {
            return Err(refused(not_allowed()));
        }
        let keys = issuer
            .keys(unverified.kid(), now, remote)
            .await
            .map_err(|Unavailable| {
                let wait = self.config.jwt.jwks_refetch_secs.to_string();
                Response::error(
                    503,
                    "jwks_unavailable",
                    "the identity provider's keys could not be fetched; try again later",
                )
                .header("retry-after", wait)
            })?;
        let key = unverified.select_key(&keys).map_err(refused)?;
        let ok = match key.public_key() {
            Some(public) => {
                let input = unverified.signing_input();
                remote
                    .verify(unverified.alg(), public, input, unverified.signature())
                    .await
            }
            // Never: JWK sets hold no secrets. Refused all the same.
            None => false,
        };
        unverified
            .into_claims(ok, &issuer.validation, now)
            .map_err(refused)
    }

    fn target(&self, name: Option<&str>) -> Result<&Target, Response> {
        match name {
            None => self.targets.first(),
            Some(n) => self.targets.iter().find(|t| t.name == n),
        }
        .ok_or_else(|| Response::error(422, "unknown_target", "no such target"))
    }

    fn parse<T: FromBody>(body: &[u8]) -> Result<T, Response> {
        body::parse(body).map_err(|e| {
            let msg = format!("the request body is not valid: {e}");
            Response::error(400, "invalid_request", &msg)
        })
    }

    fn sign_upload(
        &self,
        claims: &Claims,
        req: &UploadBody,
        now: u64,
        platform: &mut dyn Platform,
    ) -> Result<Response, Response> {
        let policy_cfg = &self.config.policy;
        let p = |e: PolicyError| policy_response(&e);
        let target = self.target(req.target.as_deref())?;
        let grant = Grant::new(claims, &policy_cfg.key_template).map_err(p)?;
        let filename = policy::sanitize_filename(&platform.nfc(&req.filename)).map_err(p)?;
        let content_type =
            policy::content_type(policy_cfg, claims, &req.content_type).map_err(p)?;
        policy::check_size(policy_cfg, claims, req.size).map_err(p)?;
        let ttl = policy::url_ttl(policy_cfg, claims, now).map_err(p)?;
        let key = match &req.key {
            Some(k) => {
                let k = platform.nfc(k);
                grant.check_key(&k).map_err(p)?;
                k
            }
            None => {
                let mut uuid = [0u8; 16];
                platform.fill_random(&mut uuid);
                policy::upload_key(&grant, &policy_cfg.key_template, &filename, uuid, now)
                    .map_err(p)?
            }
        };
        let size = req.size.to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".to_owned(), content_type),
            ("content-length".to_owned(), size),
        ];
        if let Some(checksum) = &req.checksum {
            let mut entries = checksum.iter();
            let (Some((alg, Value::String(v))), None) = (entries.next(), entries.next()) else {
                return Err(p(PolicyError {
                    refusal: Refusal::Invalid,
                    code: "invalid_checksum",
                    message: "checksum must be one of {\"sha256\": base64} or {\"crc32\": base64}"
                        .to_owned(),
                }));
            };
            let (name, value) = policy::checksum_header(alg, v).map_err(p)?;
            headers.push((name.to_owned(), value));
        }
        if let Some(meta) = &req.metadata {
            headers.extend(policy::metadata_headers(meta).map_err(p)?);
        }
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let object = ObjectRequest {
            method: Method::Put,
            key: &key,
            query: &[],
            headers: &h,
        };
        let presigned = target
            .signer
            .presign(&target.bucket, &object, ttl, now)
            .map_err(sign_error)?;
        Ok(signed_answer(
            target,
            "PUT",
            &presigned.url,
            &key,
            Some(&presigned.headers),
            None,
            ttl,
            now,
        ))
    }

    fn sign_download(
        &self,
        claims: &Claims,
        req: &DownloadBody,
        now: u64,
        platform: &mut dyn Platform,
    ) -> Result<Response, Response> {
        let p = |e: PolicyError| policy_response(&e);
        let target = self.target(req.target.as_deref())?;
        let grant = Grant::new(claims, &self.config.policy.key_template).map_err(p)?;
        grant.check_key(&req.key).map_err(p)?;
        let ttl = policy::url_ttl(&self.config.policy, claims, now).map_err(p)?;
        let disposition = match &req.filename {
            Some(f) => Some(policy::content_disposition(
                &policy::sanitize_filename(&platform.nfc(f)).map_err(p)?,
            )),
            None => None,
        };
        let query: Vec<(&str, &str)> = disposition
            .iter()
            .map(|d| ("response-content-disposition", d.as_str()))
            .collect();
        let object = ObjectRequest {
            method: Method::Get,
            key: &req.key,
            query: &query,
            headers: &[],
        };
        let presigned = target
            .signer
            .presign(&target.bucket, &object, ttl, now)
            .map_err(sign_error)?;
        Ok(signed_answer(
            target,
            "GET",
            &presigned.url,
            &req.key,
            None,
            None,
            ttl,
            now,
        ))
    }
}

const REALM: &str = "Bearer realm=\"presign-worker\"";

fn not_allowed() -> jwt::Error {
    jwt::Error::new(
        jwt::ErrorKind::AlgNotAllowed,
        "the token's alg is not allowed for its issuer",
    )
}

/// The 401 answer for a refused token: its reason code in the body and the challenge.
fn refused(e: jwt::Error) -> Response {
    let code = e.code();
    Response::error_with_reason(
        401,
        "invalid_token",
        Some(code),
        &format!("the token was refused: {e}"),
    )
    .header(
        "www-authenticate",
        format!("{REALM}, error=\"invalid_token\", error_description=\"{code}\""),
    )
}

/// The [`Remote`] of [`Service::handle`]: no network, no shared cache, RustCrypto signatures.
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
        alg: jwt::Algorithm,
        key: &jwt::PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        jwt::verify_public(key, alg, input, signature).unwrap_or(false)
    }

    fn log(&self, _line: &str) {}
}

/// A signer refusal after policy checks is a request the store cannot take (422).
fn sign_error(e: sigv4::SignError) -> Response {
    Response::error(422, e.code(), &e.to_string())
}
