//! Worker configuration: read once per isolate from environment bindings (`wrangler.toml`
//! `[vars]` and `wrangler secret put`), validated fully, and rejected as a whole at the first
//! problem (fail closed).
//!
//! The parser is pure: it takes a lookup function over variable names, so the wasm32 adapter
//! feeds it `worker::Env` and the tests feed it a map. Every value is a string (keep `[vars]`
//! values quoted in `wrangler.toml`). Surrounding whitespace is trimmed from non-secret values
//! and list entries, and a value that is empty after trimming counts as unset. Numbers are
//! plain decimal digits (no sign, no leading zeros, no units). Booleans are `true` or `false`.
//! Lists are comma-separated; empty entries and duplicates are rejected.
//!
//! A [`ConfigError`] names the variable and the exact problem, and never contains the value
//! of a secret.
//!
//! # Variables
//!
//! Secrets (set with `wrangler secret put NAME`, or in `.dev.vars` locally) are marked *secret*.
//!
//! | Variable | Default | Meaning |
//! | --- | --- | --- |
//! | `TARGETS` | `uploads` | Comma list of storage target names (`[a-z][a-z0-9_]*`, at most 32 characters). The first is the default target. `<NAME>` below is a target name in upper case. |
//! | `TARGET_<NAME>_KIND` | required | `r2`, `s3` or `custom`. |
//! | `TARGET_<NAME>_BUCKET` | required | Bucket name: 3 to 63 characters `a-z`, `0-9`, `-`, `.` (no `.` for `r2`), starting and ending with a letter or digit. |
//! | `TARGET_<NAME>_ACCOUNT_ID` | required for `r2`, refused otherwise | Cloudflare account id (32 hex digits). The endpoint is `https://<account>.r2.cloudflarestorage.com`, the region `auto`. |
//! | `TARGET_<NAME>_REGION` | required for `s3`; `us-east-1` for `custom`; refused for `r2` | Signing region (`a-z`, `0-9`, `-`). For `s3` the endpoint is `https://s3.<region>.amazonaws.com` (`.amazonaws.com.cn` for `cn-` regions). |
//! | `TARGET_<NAME>_ENDPOINT` | required for `custom`, refused otherwise | `http://host[:port]` or `https://host[:port]` (IPv6 in brackets), no path. A default port (80, 443) is dropped. |
//! | `TARGET_<NAME>_PATH_STYLE` | `true` for `r2` and `custom`, `false` for `s3` | `true`: `https://endpoint/bucket/key`; `false`: virtual-hosted `https://bucket.endpoint/key` (refused for IP-address endpoints and, over https, for bucket names with dots). |
//! | `TARGET_<NAME>_POST_POLICY` | `false` | `true`: `/v1/sign` answers PutObject with an S3 POST policy form (`fields`) that bounds the size with `content-length-range`. Refused for `r2` (R2 has no POST uploads). |
//! | `S3_ACCESS_KEY_ID` | required unless every target has its own | *secret*. Access key id for all targets (no `/`, no whitespace). |
//! | `S3_SECRET_ACCESS_KEY` | required with `S3_ACCESS_KEY_ID` | *secret*. Secret access key for all targets. |
//! | `S3_SESSION_TOKEN` | unset | *secret*. Session token for temporary credentials (needs the two above). |
//! | `TARGET_<NAME>_ACCESS_KEY_ID`, `TARGET_<NAME>_SECRET_ACCESS_KEY`, `TARGET_<NAME>_SESSION_TOKEN` | unset | *secret*. Credentials for one target; they replace the three `S3_*` ones as a whole (the id and the secret must both be set). |
//! | `JWT_SECRET` | at least one of the two is required, unless an issuer (`ISSUERS` or `ACCESS_TEAM`) is configured | *secret*. HMAC secret for tokens without `kid`: raw text, or `base64:` followed by base64; at least 32 bytes (after decoding). |
//! | `JWT_KEYS` | | *secret*. A JSON object `{"kid": "secret", ...}` (key rotation): tokens with a `kid` header use the key of that id. Secrets as for `JWT_SECRET`; no duplicate or empty ids. May be set together with `JWT_SECRET`. |
//! | `JWT_ALGORITHMS` | `HS256` | Comma list of accepted algorithms: `HS256`, `HS384`, `HS512`. |
//! | `JWT_ISSUER` | unset (not checked) | Comma list; when set, the token's `iss` must be one of them. |
//! | `JWT_AUDIENCE` | unset (not checked) | Comma list; when set, the token's `aud` must contain one of them. |
//! | `JWT_LEEWAY` | `60` | Clock skew allowed on `exp`/`nbf`/`iat`, in seconds, 0 to 600. |
//! | `JWT_HEADER` | `authorization` | Request header carrying the token. `authorization` uses the `Bearer` scheme; any other header carries the bare token. |
//! | `ISSUERS` | unset | Comma list of identity-provider names (`[a-z][a-z0-9_]*`, at most 32 characters) whose tokens are signed with public keys from a JWKS. A token is checked against the issuer whose `ISSUER_<NAME>_ISS` equals its `iss`; other tokens use the HMAC keys above. `<NAME>` below is an issuer name in upper case. |
//! | `ISSUER_<NAME>_ISS` | required | The exact `iss` of this provider's tokens (unique across issuers). |
//! | `ISSUER_<NAME>_JWKS_URL` | one of the two is required | URL of the provider's JWK set: `https://`, or `http://` on a loopback host only (`127.0.0.1`, `localhost`, `[::1]`). Fetched on first use, cached per isolate and in the Cache API. |
//! | `ISSUER_<NAME>_JWKS` | | The JWK set itself (`{"keys":[...]}`), for keys that never rotate or for tests. |
//! | `ISSUER_<NAME>_AUDIENCE` | required | Comma list; the token's `aud` must contain one of them. |
//! | `ISSUER_<NAME>_ALGORITHMS` | `RS256` | Comma list of accepted algorithms: `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA` (HMAC is never accepted with public keys). |
//! | `ACCESS_TEAM` | unset | Cloudflare Access preset: the team name (`<team>` of `<team>.cloudflareaccess.com`, or that whole host). Adds the issuer `access` with `iss` `https://<team>.cloudflareaccess.com`, the JWKS `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs` and `RS256`, and reads the token from the `Cf-Access-Jwt-Assertion` header when `JWT_HEADER` carries none. |
//! | `ACCESS_AUD` | required with `ACCESS_TEAM` | The Access application's audience (AUD) tag. |
//! | `JWKS_REFETCH_INTERVAL` | `30` | Seconds, 1 to 3600: a token with an unknown `kid` refetches its issuer's JWKS at most once per interval. |
//! | `KEY_TEMPLATE` | `{sub}/{uuid}/{filename}` | Object key template. Placeholders: `{sub}` (token subject), `{uuid}` (random UUID), `{filename}` (sanitised file name), `{date}` (UTC `YYYY-MM-DD`), `{ext}` (file extension). Must contain `{sub}` and one of `{uuid}`, `{filename}`; literal text is limited to `A-Z a-z 0-9 / - _ . =`; no leading or trailing `/`, no `//`, no `.` or `..` segment; at most 256 bytes. |
//! | `ALLOWED_CONTENT_TYPES` | `image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/octet-stream` | Comma list of media types allowed for uploads: exact (`image/png`), a whole type (`image/*`), or `*/*` for anything. The default leaves out types a browser would run as active content (HTML, SVG, JavaScript, XML). |
//! | `MAX_UPLOAD_SIZE` | `104857600` (100 MiB) | Largest upload in bytes, 1 to 5368709120 (5 GiB, the limit of a single S3 PUT). |
//! | `URL_TTL` | `300` | Lifetime of presigned URLs in seconds, 1 to 604800 (7 days). |
//! | `ALLOW_URL_PAST_TOKEN_EXPIRY` | `false` | `true` lets a URL outlive the token that obtained it. |
//! | `ALLOW_DELETE` | `false` | `true` lets `/v1/sign` sign DeleteObject for keys the token grants. |
//! | `ALLOW_OVERWRITE` | `false` | `true` signs writes to keys that may already exist (client-named, or from a template without `{uuid}`) without `If-None-Match: *`, so they may replace an object. |
//! | `CORS_ALLOWED_ORIGINS` | unset (no CORS) | Comma list of exact origins `scheme://host[:port]` (`*` and `null` are refused). |
//! | `CORS_MAX_AGE` | `600` | `Access-Control-Max-Age` of preflight answers, 0 to 86400 seconds. |
//! | `MAX_BODY_BYTES` | `16384` | Largest accepted JSON request body in bytes, 256 to 1048576. |

use std::fmt;

use crate::jwt::Algorithm;

/// Default of `TARGETS`.
pub const DEFAULT_TARGETS: &str = "uploads";
/// Default of `KEY_TEMPLATE`.
pub const DEFAULT_KEY_TEMPLATE: &str = "{sub}/{uuid}/{filename}";
/// Default of `ALLOWED_CONTENT_TYPES`.
pub const DEFAULT_ALLOWED_CONTENT_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/octet-stream";
/// Default of `MAX_UPLOAD_SIZE`: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 100 * 1024 * 1024;
/// Upper bound of `MAX_UPLOAD_SIZE`: 5 GiB, the largest single S3 `PUT`.
pub const MAX_MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Default of `URL_TTL`, in seconds.
pub const DEFAULT_URL_TTL: u64 = 300;
/// Upper bound of `URL_TTL`: 7 days, the SigV4 presigning limit.
pub const MAX_URL_TTL: u64 = 604_800;
/// Default of `JWT_LEEWAY`, in seconds.
pub const DEFAULT_JWT_LEEWAY: u64 = 60;
/// Default of `JWT_HEADER`.
pub const DEFAULT_JWT_HEADER: &str = "authorization";
/// Default of `CORS_MAX_AGE`, in seconds.
pub const DEFAULT_CORS_MAX_AGE: u64 = 600;
/// Default of `MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024;
/// Default of `JWKS_REFETCH_INTERVAL`, in seconds.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: u64 = 30;
/// Name of the issuer added by the Cloudflare Access preset (`ACCESS_TEAM`).
pub const ACCESS_ISSUER_NAME: &str = "access";
/// Header in which Cloudflare Access sends its token.
pub const ACCESS_HEADER: &str = "cf-access-jwt-assertion";
/// Minimum length in bytes of an HMAC secret (`JWT_SECRET`, each `JWT_KEYS` entry).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Storage targets, never empty; the first is the default.
    pub targets: Vec<TargetConfig>,
    /// Token verification settings.
    pub jwt: JwtConfig,
    /// What may be signed.
    pub policy: PolicyConfig,
    /// Cross-origin settings.
    pub cors: CorsConfig,
    /// Largest accepted request body in bytes (`MAX_BODY_BYTES`).
    pub max_body_bytes: u64,
}

/// One named storage target (bucket plus endpoint plus credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// Name as listed in `TARGETS` (lower case).
    pub name: String,
    /// Kind of store.
    pub kind: TargetKind,
    /// Bucket name.
    pub bucket: String,
    /// Service endpoint, without the bucket (see [`TargetConfig::path_style`]).
    pub endpoint: Endpoint,
    /// SigV4 signing region (`auto` for R2).
    pub region: String,
    /// `true`: the bucket is the first path segment (`endpoint/bucket/key`); `false`: the
    /// bucket is prepended to the endpoint host (`bucket.endpoint/key`).
    pub path_style: bool,
    /// Whether `/v1/sign` answers PutObject with a POST policy form (`TARGET_<NAME>_POST_POLICY`).
    pub post_policy: bool,
    /// Credentials that sign this target's URLs.
    pub credentials: S3Credentials,
}

/// Kind of a storage target (`TARGET_<NAME>_KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Cloudflare R2 (`r2`).
    R2,
    /// Amazon S3 (`s3`).
    S3,
    /// Any S3-compatible endpoint (`custom`), e.g. MinIO or s3s-fs.
    Custom,
}

impl TargetKind {
    /// The configuration spelling: `r2`, `s3` or `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::R2 => "r2",
            TargetKind::S3 => "s3",
            TargetKind::Custom => "custom",
        }
    }
}

/// Scheme, host and port of an S3 endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for `https`, `false` for `http`.
    pub scheme_https: bool,
    /// Host in lower case: a DNS name, an IPv4 address, or an IPv6 address in brackets.
    pub host: String,
    /// Explicit port; `None` for the scheme's default (a default port given is dropped).
    pub port: Option<u16>,
}

impl Endpoint {
    /// The scheme: `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.scheme_https {
            "https"
        } else {
            "http"
        }
    }

    /// `host[:port]`, as sent in the `Host` header.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// Whether the host is an IP address literal (no virtual-hosted buckets there).
    pub fn host_is_ip(&self) -> bool {
        self.host.starts_with('[')
            || (self.host.split('.').count() == 4
                && self
                    .host
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    }
}

impl fmt::Display for Endpoint {
    /// `scheme://host[:port]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.authority())
    }
}

/// S3 credentials. `Debug` redacts the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// Access key id (not secret by itself, but not logged either).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Token verification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The verification key material, as configured.
    pub keys: JwtKeys,
    /// Accepted algorithms (`JWT_ALGORITHMS`), never empty.
    pub algorithms: Vec<Algorithm>,
    /// Accepted issuers; empty means not checked.
    pub issuers: Vec<String>,
    /// Accepted audiences; empty means not checked.
    pub audiences: Vec<String>,
    /// Allowed clock skew in seconds.
    pub leeway_secs: u64,
    /// Lower-case name of the header carrying the token.
    pub header: String,
    /// `true` when `header` is `authorization` and the token follows `Bearer `.
    pub bearer_scheme: bool,
    /// Identity providers whose tokens are checked with JWKS public keys (`ISSUERS`, `ACCESS_*`).
    pub jwks_issuers: Vec<IssuerConfig>,
    /// Least time between two refetches of one issuer's JWKS for an unknown `kid`, in seconds.
    pub jwks_refetch_secs: u64,
    /// Whether a token may come in [`ACCESS_HEADER`] when `header` carries none (`ACCESS_TEAM`).
    pub access_header: bool,
}

/// One identity provider (`ISSUER_<NAME>_*`, or the Cloudflare Access preset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// Name as listed in `ISSUERS` (lower case), or `access`.
    pub name: String,
    /// The exact `iss` of its tokens.
    pub iss: String,
    /// Where its keys come from.
    pub jwks: JwksSource,
    /// Accepted audiences, never empty.
    pub audiences: Vec<String>,
    /// Accepted algorithms, never empty, never HMAC.
    pub algorithms: Vec<Algorithm>,
}

/// Where an issuer's JWK set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Fetched from this URL (`https://`, or `http://` on loopback).
    Url(String),
    /// Given in the configuration (validated: at least one usable key).
    Inline(String),
}

/// JWT key material, raw as configured: at least one of the two is set. Validated here (shape,
/// `base64:` decoding, length); [`crate::jwt::KeySet::from_config`] turns it into keys. `Debug`
/// redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtKeys {
    /// `JWT_SECRET`: the key for tokens without `kid` (raw text or `base64:...`).
    pub secret: Option<String>,
    /// `JWT_KEYS`: the raw JSON object mapping `kid` to secret (raw text or `base64:...`).
    pub keys_json: Option<String>,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("JwtKeys")
            .field("secret", &redacted(&self.secret))
            .field("keys_json", &redacted(&self.keys_json))
            .finish()
    }
}

/// What may be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Object key template (`KEY_TEMPLATE`).
    pub key_template: KeyTemplate,
    /// Allowed upload media types, never empty.
    pub allowed_content_types: Vec<ContentTypeRule>,
    /// Largest upload in bytes.
    pub max_upload_size: u64,
    /// Presigned URL lifetime in seconds.
    pub url_ttl_secs: u64,
    /// Whether a URL may outlive the token's `exp`.
    pub allow_url_past_token_expiry: bool,
    /// Whether DeleteObject may be signed (`ALLOW_DELETE`).
    pub allow_delete: bool,
    /// Whether a write may replace an object (`ALLOW_OVERWRITE`); else `If-None-Match: *` is
    /// signed on writes to keys that may exist.
    pub allow_overwrite: bool,
}

impl PolicyConfig {
    /// Whether `essence` (a media type without parameters, already lower case, e.g.
    /// `image/png`) is allowed by at least one rule.
    pub fn content_type_allowed(&self, essence: &str) -> bool {
        self.allowed_content_types
            .iter()
            .any(|r| r.matches(essence))
    }
}

/// A parsed object key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    /// The template as configured.
    pub raw: String,
    /// Literal text and placeholders, in order.
    pub parts: Vec<KeyTemplatePart>,
}

/// One piece of a [`KeyTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyTemplatePart {
    /// Text copied as is.
    Literal(String),
    /// A value filled in per request.
    Placeholder(Placeholder),
}

/// A key template placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{sub}`: the token subject.
    Sub,
    /// `{uuid}`: a random UUID.
    Uuid,
    /// `{filename}`: the sanitised file name.
    Filename,
    /// `{date}`: the UTC date, `YYYY-MM-DD`.
    Date,
    /// `{ext}`: the file name's extension.
    Ext,
}

impl Placeholder {
    /// The name between braces.
    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Sub => "sub",
            Placeholder::Uuid => "uuid",
            Placeholder::Filename => "filename",
            Placeholder::Date => "date",
            Placeholder::Ext => "ext",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sub" => Placeholder::Sub,
            "uuid" => Placeholder::Uuid,
            "filename" => Placeholder::Filename,
            "date" => Placeholder::Date,
            "ext" => Placeholder::Ext,
            _ => return None,
        })
    }
}

/// One entry of `ALLOWED_CONTENT_TYPES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentTypeRule {
    /// `*/*`: any media type.
    Any,
    /// `type/*`: any subtype of the given type (stored without `/*`, e.g. `image`).
    AnySubtype(String),
    /// `type/subtype`, exactly.
    Exact(String),
}

impl ContentTypeRule {
    /// Whether `essence` (lower case `type/subtype`, no parameters) matches this rule.
    pub fn matches(&self, essence: &str) -> bool {
        match self {
            ContentTypeRule::Any => true,
            ContentTypeRule::AnySubtype(t) => essence
                .split_once('/')
                .is_some_and(|(ty, sub)| ty == t && !sub.is_empty()),
            ContentTypeRule::Exact(e) => e == essence,
        }
    }
}

/// Cross-origin settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins, normalised as a browser sends them (`scheme://host[:port]`, lower
    /// case, no default port). Empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    /// `Access-Control-Max-Age` in seconds.
    pub max_age_secs: u64,
}

/// Why the configuration was rejected: the variable and the problem, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Name of the offending variable.
    pub variable: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

type Result<T> = std::result::Result<T, ConfigError>;

impl Config {
    /// Reads and validates the whole configuration through `lookup` (variable name → value).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let vars = Vars { lookup };
        let targets = parse_targets(&vars)?;
        let jwt = parse_jwt(&vars)?;
        let policy = parse_policy(&vars)?;
        let cors = CorsConfig {
            allowed_origins: match vars.get("CORS_ALLOWED_ORIGINS") {
                Some(v) => parse_origins("CORS_ALLOWED_ORIGINS", &v)?,
                None => Vec::new(),
            },
            max_age_secs: vars.number("CORS_MAX_AGE", DEFAULT_CORS_MAX_AGE, 0, 86_400)?,
        };
        let max_body_bytes = vars.number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 256, 1 << 20)?;
        Ok(Config {
            targets,
            jwt,
            policy,
            cors,
            max_body_bytes,
        })
    }

    /// The target called `name`, or the default (first) target for `None`.
    pub fn target(&self, name: Option<&str>) -> Option<&TargetConfig> {
        match name {
            None => self.targets.first(),
            Some(n) => self.targets.iter().find(|t| t.name == n),
        }
    }
}

/// Access to the variables with the common trimming rules.
struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// A non-secret value, trimmed; `None` when unset or blank.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A secret value, untrimmed; `None` when unset or empty. Refuses surrounding
    /// whitespace and control characters without echoing the value.
    fn secret(&self, name: &str) -> Result<Option<String>> {
        let Some(v) = (self.lookup)(name) else {
            return Ok(None);
        };
        if v.is_empty() {
            return Ok(None);
        }
        if v.trim() != v {
            return Err(ConfigError::new(
                name,
                "has leading or trailing whitespace (a copy-paste error?)",
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(ConfigError::new(name, "contains control characters"));
        }
        Ok(Some(v))
    }

    fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_number(name, &v, min, max),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ConfigError::new(
                name,
                format!("must be true or false, got {}", show(v)),
            )),
        }
    }
}

/// Quotes a non-secret value for an error message: `'`, [`escaped`], `'`.
pub(crate) fn show(value: &str) -> String {
    format!("'{}'", escaped(value))
}

/// `value` shortened to 64 characters (then `…`), control characters, `'` and `\` written as
/// `\u{..}`.
pub(crate) fn escaped(value: &str) -> String {
    const LIMIT: usize = 64;
    let mut s = String::with_capacity(value.len().min(LIMIT) + 3);
    for c in value.chars().take(LIMIT) {
        if c.is_control() || c == '\'' || c == '\\' {
            s.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            s.push(c);
        }
    }
    if value.chars().nth(LIMIT).is_some() {
        s.push('…');
    }
    s
}

fn parse_number(name: &str, v: &str, min: u64, max: u64) -> Result<u64> {
    let range = || format!("must be a whole number from {min} to {max}");
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::new(
            name,
            format!("{} (digits only), got {}", range(), show(v)),
        ));
    }
    if v.len() > 1 && v.starts_with('0') {
        return Err(ConfigError::new(
            name,
            format!("{} without leading zeros, got {}", range(), show(v)),
        ));
    }
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            name,
            format!("{}, got {}", range(), show(v)),
        )),
    }
}

/// Splits a comma list: trimmed entries, no empty entry, no duplicate.
fn parse_list(name: &str, v: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for item in v.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(ConfigError::new(name, "has an empty entry in its list"));
        }
        // Lists are short: a linear search is smaller code than a set.
        if out.iter().any(|seen| seen == item) {
            return Err(ConfigError::new(
                name,
                format!("lists {} twice", show(item)),
            ));
        }
        out.push(item.to_owned());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Targets

fn parse_targets(vars: &Vars<'_>) -> Result<Vec<TargetConfig>> {
    let list = vars
        .get("TARGETS")
        .unwrap_or_else(|| DEFAULT_TARGETS.to_owned());
    let names = parse_list("TARGETS", &list)?;
    let global = global_credentials(vars)?;
    names
        .iter()
        .map(|name| parse_target(vars, name, global.as_ref()))
        .collect()
}

fn valid_target_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn parse_target(
    vars: &Vars<'_>,
    name: &str,
    global: Option<&S3Credentials>,
) -> Result<TargetConfig> {
    if !valid_target_name(name) {
        return Err(ConfigError::new(
            "TARGETS",
            format!(
                "target name {} must be a lower-case letter then letters, digits or '_', at most 32 characters",
                show(name)
            ),
        ));
    }
    let var = |suffix: &str| format!("TARGET_{}_{suffix}", name.to_ascii_uppercase());
    let kind_var = var("KIND");
    let kind = match vars.get(&kind_var).as_deref() {
        None => {
            return Err(ConfigError::new(
                kind_var,
                format!(
                    "missing (target {} is listed in TARGETS; set r2, s3 or custom)",
                    show(name)
                ),
            ))
        }
        Some("r2") => TargetKind::R2,
        Some("s3") => TargetKind::S3,
        Some("custom") => TargetKind::Custom,
        Some(other) => {
            return Err(ConfigError::new(
                kind_var,
                format!("unknown kind {}; expected r2, s3 or custom", show(other)),
            ))
        }
    };
    let refuse = |suffix: &str| -> Result<()> {
        let v = var(suffix);
        if vars.get(&v).is_some() {
            return Err(ConfigError::new(
                v,
                format!("is not used by kind {}; remove it", kind.as_str()),
            ));
        }
        Ok(())
    };
    let require = |suffix: &str| -> Result<(String, String)> {
        let v = var(suffix);
        match vars.get(&v) {
            Some(value) => Ok((v, value)),
            None => Err(ConfigError::new(
                v,
                format!("missing (required for kind {})", kind.as_str()),
            )),
        }
    };

    let (bucket_var, bucket) = require("BUCKET")?;
    validate_bucket(&bucket_var, &bucket, kind)?;

    let (endpoint, region, default_path_style) = match kind {
        TargetKind::R2 => {
            refuse("REGION")?;
            refuse("ENDPOINT")?;
            let (v, account) = require("ACCOUNT_ID")?;
            let account = account.to_ascii_lowercase();
            if account.len() != 32 || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::new(
                    v,
                    format!(
                        "must be a Cloudflare account id (32 hex digits), got {}",
                        show(&account)
                    ),
                ));
            }
            let endpoint = Endpoint {
                scheme_https: true,
                host: format!("{account}.r2.cloudflarestorage.com"),
                port: None,
            };
            (endpoint, "auto".to_owned(), true)
        }
        TargetKind::S3 => {
            refuse("ACCOUNT_ID")?;
            refuse("ENDPOINT")?;
            let (v, region) = require("REGION")?;
            validate_region(&v, &region)?;
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            let endpoint = Endpoint {
                scheme_https: true,
                host: format!("s3.{region}.{suffix}"),
                port: None,
            };
            (endpoint, region, false)
        }
        TargetKind::Custom => {
            refuse("ACCOUNT_ID")?;
            let (v, raw) = require("ENDPOINT")?;
            let endpoint = parse_endpoint(&v, &raw, true)?;
            let region_var = var("REGION");
            let region = match vars.get(&region_var) {
                Some(r) => {
                    validate_region(&region_var, &r)?;
                    r
                }
                None => "us-east-1".to_owned(),
            };
            (endpoint, region, true)
        }
    };

    let path_style_var = var("PATH_STYLE");
    let path_style = vars.boolean(&path_style_var, default_path_style)?;
    if !path_style {
        if endpoint.host_is_ip() {
            return Err(ConfigError::new(
                path_style_var,
                "virtual-hosted style (false) needs a DNS endpoint, not an IP address",
            ));
        }
        if endpoint.scheme_https && bucket.contains('.') {
            return Err(ConfigError::new(
                path_style_var,
                "virtual-hosted style (false) over https does not work with dots in the bucket name (TLS); use true",
            ));
        }
    }

    let post_policy_var = var("POST_POLICY");
    let post_policy = vars.boolean(&post_policy_var, false)?;
    if post_policy && kind == TargetKind::R2 {
        return Err(ConfigError::new(
            post_policy_var,
            "R2 does not support POST policy uploads",
        ));
    }

    let credentials = target_credentials(vars, name, &var, global)?;
    Ok(TargetConfig {
        name: name.to_owned(),
        kind,
        bucket,
        endpoint,
        region,
        path_style,
        post_policy,
        credentials,
    })
}

fn validate_bucket(var: &str, bucket: &str, kind: TargetKind) -> Result<()> {
    let b = bucket.as_bytes();
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| edge_ok(c) || c == b'-' || (c == b'.' && kind != TargetKind::R2))
        && b.first().is_some_and(|&c| edge_ok(c))
        && b.last().is_some_and(|&c| edge_ok(c))
        && !bucket.contains("..");
    if ok {
        return Ok(());
    }
    let chars = if kind == TargetKind::R2 {
        "a-z, 0-9 and '-'"
    } else {
        "a-z, 0-9, '-' and '.'"
    };
    Err(ConfigError::new(
        var,
        format!(
            "invalid bucket name {}: 3 to 63 characters of {chars}, starting and ending with a letter or digit",
            show(bucket)
        ),
    ))
}

fn validate_region(var: &str, region: &str) -> Result<()> {
    let b = region.as_bytes();
    let ok = (1..=32).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            var,
            format!(
                "invalid region {}: use a-z, 0-9 and '-' (e.g. us-east-1)",
                show(region)
            ),
        ))
    }
}

/// Parses `http(s)://host[:port]`. `allow_trailing_slash` accepts (and drops) one `/`.
fn parse_endpoint(var: &str, raw: &str, allow_trailing_slash: bool) -> Result<Endpoint> {
    let bad = |why: &str| {
        Err(ConfigError::new(
            var,
            format!("{} is not scheme://host[:port]: {why}", show(raw)),
        ))
    };
    let lower = raw.to_ascii_lowercase();
    let (scheme_https, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (false, r)
    } else {
        return bad("the scheme must be http:// or https://");
    };
    let rest = match rest.strip_suffix('/') {
        Some(r) if allow_trailing_slash => r,
        Some(_) => return bad("no trailing '/'"),
        None => rest,
    };
    if rest.contains(['/', '?', '#']) {
        return bad("no path, query or fragment");
    }
    if rest.contains('@') {
        return bad("no user info");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return bad("unclosed '[' in the host");
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return bad("invalid IPv6 address");
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return bad("unexpected text after ']'"),
            },
        };
        (format!("[{addr}]"), port)
    } else {
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if !valid_dns_host(host) {
            return bad("invalid host name");
        }
        (host.to_owned(), port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n = match parse_number(var, p, 1, 65_535) {
                Ok(n) => n,
                Err(_) => return bad("the port must be a number from 1 to 65535"),
            };
            let n = u16::try_from(n).ok();
            let default = if scheme_https { 443 } else { 80 };
            n.filter(|&n| n != default)
        }
    };
    Ok(Endpoint {
        scheme_https,
        host,
        port,
    })
}

fn valid_dns_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            (1..=63).contains(&b.len())
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

// ---------------------------------------------------------------------------------------------
// Credentials

fn validate_access_key_id(var: &str, id: &str) -> Result<()> {
    if id.len() > 128 || id.contains('/') || id.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            var,
            "must be at most 128 characters without '/' or whitespace",
        ));
    }
    Ok(())
}

/// `S3_*`: either the id and secret together (plus an optional token), or none of them.
fn global_credentials(vars: &Vars<'_>) -> Result<Option<S3Credentials>> {
    let id = vars.secret("S3_ACCESS_KEY_ID")?;
    let secret = vars.secret("S3_SECRET_ACCESS_KEY")?;
    let token = vars.secret("S3_SESSION_TOKEN")?;
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            validate_access_key_id("S3_ACCESS_KEY_ID", &access_key_id)?;
            Ok(Some(S3Credentials {
                access_key_id,
                secret_access_key,
                session_token: token,
            }))
        }
        (Some(_), None) => Err(ConfigError::new(
            "S3_SECRET_ACCESS_KEY",
            "missing (S3_ACCESS_KEY_ID is set; both are needed)",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "S3_ACCESS_KEY_ID",
            "missing (S3_SECRET_ACCESS_KEY is set; both are needed)",
        )),
        (None, None) if token.is_some() => Err(ConfigError::new(
            "S3_SESSION_TOKEN",
            "set without S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
        )),
        (None, None) => Ok(None),
    }
}

fn target_credentials(
    vars: &Vars<'_>,
    name: &str,
    var: &dyn Fn(&str) -> String,
    global: Option<&S3Credentials>,
) -> Result<S3Credentials> {
    let (id_var, secret_var, token_var) = (
        var("ACCESS_KEY_ID"),
        var("SECRET_ACCESS_KEY"),
        var("SESSION_TOKEN"),
    );
    let id = vars.secret(&id_var)?;
    let secret = vars.secret(&secret_var)?;
    let token = vars.secret(&token_var)?;
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            validate_access_key_id(&id_var, &access_key_id)?;
            Ok(S3Credentials {
                access_key_id,
                secret_access_key,
                session_token: token,
            })
        }
        (Some(_), None) => Err(ConfigError::new(
            secret_var,
            format!("missing ({id_var} is set; per-target credentials need both)"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            id_var,
            format!("missing ({secret_var} is set; per-target credentials need both)"),
        )),
        (None, None) if token.is_some() => Err(ConfigError::new(
            token_var,
            format!("set without {id_var} and {secret_var}"),
        )),
        (None, None) => match global {
            Some(c) => Ok(c.clone()),
            None => Err(ConfigError::new(
                "S3_ACCESS_KEY_ID",
                format!(
                    "missing (target {} has no {id_var} either); set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
                    show(name)
                ),
            )),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// JWT

fn parse_jwt(vars: &Vars<'_>) -> Result<JwtConfig> {
    let secret = vars.secret("JWT_SECRET")?;
    let keys_json = vars.secret("JWT_KEYS")?;
    let jwks_issuers = parse_issuers(vars)?;
    if secret.is_none() && keys_json.is_none() && jwks_issuers.is_empty() {
        return Err(ConfigError::new(
            "JWT_SECRET",
            "missing (set JWT_SECRET, or JWT_KEYS for several keys, or ISSUERS for JWKS keys)",
        ));
    }
    if let Some(secret) = &secret {
        check_hmac_secret("JWT_SECRET", "", secret)?;
    }
    if let Some(json) = &keys_json {
        validate_jwt_keys(json)?;
    }
    // The jwt module must agree (its messages never contain a key).
    let hmac_keys = secret.is_some() || keys_json.is_some();
    let checked = match hmac_keys {
        true => crate::jwt::KeySet::from_config(secret.as_deref(), keys_json.as_deref()).map(drop),
        false => Ok(()),
    };
    if let Err(e) = checked {
        let var = if keys_json.is_some() {
            "JWT_KEYS"
        } else {
            "JWT_SECRET"
        };
        return Err(ConfigError::new(var, e.to_string()));
    }
    let keys = JwtKeys { secret, keys_json };

    let algorithms = match vars.get("JWT_ALGORITHMS") {
        None => vec![Algorithm::HS256],
        Some(v) => parse_list("JWT_ALGORITHMS", &v)?
            .iter()
            .map(|a| {
                // Public-key algorithms belong to issuers (ISSUER_<NAME>_ALGORITHMS).
                Algorithm::from_name(a)
                    .filter(Algorithm::is_hmac)
                    .ok_or_else(|| {
                        ConfigError::new(
                            "JWT_ALGORITHMS",
                            format!(
                                "unsupported algorithm {}; expected HS256, HS384 or HS512 \
                                 (public-key algorithms go in ISSUER_<NAME>_ALGORITHMS)",
                                show(a)
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?,
    };

    let claim_list = |name: &str| -> Result<Vec<String>> {
        match vars.get(name) {
            None => Ok(Vec::new()),
            Some(v) => claim_values(name, &v),
        }
    };
    let issuers = claim_list("JWT_ISSUER")?;
    let audiences = claim_list("JWT_AUDIENCE")?;
    let leeway_secs = vars.number("JWT_LEEWAY", DEFAULT_JWT_LEEWAY, 0, 600)?;

    let header = vars
        .get("JWT_HEADER")
        .unwrap_or_else(|| DEFAULT_JWT_HEADER.to_owned())
        .to_ascii_lowercase();
    if header.len() > 64 || !header.bytes().all(is_tchar) {
        return Err(ConfigError::new(
            "JWT_HEADER",
            format!("{} is not a valid header name", show(&header)),
        ));
    }
    let bearer_scheme = header == DEFAULT_JWT_HEADER;
    let jwks_refetch_secs = vars.number(
        "JWKS_REFETCH_INTERVAL",
        DEFAULT_JWKS_REFETCH_INTERVAL,
        1,
        3600,
    )?;
    let access_header = jwks_issuers.iter().any(|i| i.name == ACCESS_ISSUER_NAME);
    Ok(JwtConfig {
        keys,
        algorithms,
        issuers,
        audiences,
        leeway_secs,
        header,
        bearer_scheme,
        jwks_issuers,
        jwks_refetch_secs,
        access_header,
    })
}

/// A comma list of claim values (issuers, audiences): no control characters.
fn claim_values(name: &str, v: &str) -> Result<Vec<String>> {
    let items = parse_list(name, v)?;
    if items.iter().any(|i| i.chars().any(char::is_control)) {
        return Err(ConfigError::new(name, "contains control characters"));
    }
    Ok(items)
}

/// `ISSUERS` with their `ISSUER_<NAME>_*` settings, then the Cloudflare Access preset.
fn parse_issuers(vars: &Vars<'_>) -> Result<Vec<IssuerConfig>> {
    let mut out: Vec<IssuerConfig> = Vec::new();
    if let Some(list) = vars.get("ISSUERS") {
        for name in parse_list("ISSUERS", &list)? {
            if !valid_target_name(&name) {
                return Err(ConfigError::new(
                    "ISSUERS",
                    format!(
                        "{} is not a valid name ([a-z][a-z0-9_]*, at most 32 characters)",
                        show(&name)
                    ),
                ));
            }
            if name == ACCESS_ISSUER_NAME {
                return Err(ConfigError::new(
                    "ISSUERS",
                    "the name access is reserved for the Cloudflare Access preset (ACCESS_TEAM)",
                ));
            }
            out.push(parse_issuer(vars, &name)?);
        }
    }
    if let Some(access) = parse_access(vars)? {
        out.push(access);
    }
    for (i, issuer) in out.iter().enumerate() {
        if out[..i].iter().any(|o| o.iss == issuer.iss) {
            let variable = match issuer.name.as_str() {
                ACCESS_ISSUER_NAME => "ACCESS_TEAM".to_owned(),
                name => format!("ISSUER_{}_ISS", name.to_ascii_uppercase()),
            };
            return Err(ConfigError::new(
                variable,
                format!("{} is the iss of another issuer too", show(&issuer.iss)),
            ));
        }
    }
    Ok(out)
}

fn parse_issuer(vars: &Vars<'_>, name: &str) -> Result<IssuerConfig> {
    let var = |what: &str| format!("ISSUER_{}_{what}", name.to_ascii_uppercase());
    let required = |what: &str| {
        let v = var(what);
        vars.get(&v)
            .ok_or_else(|| ConfigError::new(v.clone(), format!("missing (issuer {name})")))
    };
    let iss_var = var("ISS");
    let iss = required("ISS")?;
    claim_values(&iss_var, &iss)?;
    if iss.contains(',') {
        return Err(ConfigError::new(iss_var, "one issuer only (no ',')"));
    }
    let jwks = match (vars.get(&var("JWKS_URL")), vars.get(&var("JWKS"))) {
        (Some(url), None) => JwksSource::Url(parse_jwks_url(&var("JWKS_URL"), &url)?),
        (None, Some(json)) => JwksSource::Inline(check_inline_jwks(&var("JWKS"), json)?),
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                var("JWKS"),
                format!("set {} or {}, not both", var("JWKS_URL"), var("JWKS")),
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                var("JWKS_URL"),
                format!(
                    "missing (issuer {name}: set {} or {})",
                    var("JWKS_URL"),
                    var("JWKS")
                ),
            ))
        }
    };
    let audiences = claim_values(&var("AUDIENCE"), &required("AUDIENCE")?)?;
    let algorithms = match vars.get(&var("ALGORITHMS")) {
        None => vec![Algorithm::RS256],
        Some(v) => parse_public_algorithms(&var("ALGORITHMS"), &v)?,
    };
    Ok(IssuerConfig {
        name: name.to_owned(),
        iss,
        jwks,
        audiences,
        algorithms,
    })
}

fn parse_public_algorithms(var: &str, v: &str) -> Result<Vec<Algorithm>> {
    parse_list(var, v)?
        .iter()
        .map(|a| {
            Algorithm::from_name(a)
                .filter(|alg| !alg.is_hmac())
                .ok_or_else(|| {
                    ConfigError::new(
                        var,
                        format!(
                            "unsupported algorithm {}; expected RS256, RS384, RS512, PS256, \
                             PS384, PS512, ES256, ES384 or EdDSA",
                            show(a)
                        ),
                    )
                })
        })
        .collect()
}

/// `https://host[:port]/path`, or `http://` on a loopback host. Returned as given (trimmed).
fn parse_jwks_url(var: &str, raw: &str) -> Result<String> {
    let scheme_end = raw.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match raw[scheme_end..].find('/') {
        Some(i) => raw.split_at(scheme_end + i),
        None => (raw, "/"),
    };
    let endpoint = parse_endpoint(var, origin, false)?;
    if !endpoint.scheme_https
        && !matches!(endpoint.host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
    {
        return Err(ConfigError::new(
            var,
            "must be https:// (http:// only for 127.0.0.1, localhost or [::1])",
        ));
    }
    if path.contains('#') || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            var,
            "the path must be printable ASCII without spaces or '#'",
        ));
    }
    Ok(raw.to_owned())
}

fn check_inline_jwks(var: &str, json: String) -> Result<String> {
    crate::jwt::jwk::parse_jwks(&json).map_err(|e| ConfigError::new(var, e.to_string()))?;
    Ok(json)
}

/// `ACCESS_TEAM` and `ACCESS_AUD`: the Cloudflare Access issuer, or `None` when unset.
fn parse_access(vars: &Vars<'_>) -> Result<Option<IssuerConfig>> {
    let team = vars.get("ACCESS_TEAM").map(|t| t.to_ascii_lowercase());
    let aud = vars.get("ACCESS_AUD");
    let team = match (team, aud.is_some()) {
        (None, false) => return Ok(None),
        (None, true) => {
            return Err(ConfigError::new(
                "ACCESS_TEAM",
                "missing (ACCESS_AUD is set)",
            ))
        }
        (Some(t), _) => t,
    };
    let host = match team.strip_suffix(".cloudflareaccess.com") {
        Some(t) => t.to_owned(),
        None => team,
    };
    let b = host.as_bytes();
    let valid = !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && !host.starts_with('-')
        && !host.ends_with('-');
    if !valid {
        return Err(ConfigError::new(
            "ACCESS_TEAM",
            format!("{} is not a team name (letters, digits, '-')", show(&host)),
        ));
    }
    let Some(aud) = aud else {
        return Err(ConfigError::new(
            "ACCESS_AUD",
            "missing (the application's audience tag, required with ACCESS_TEAM)",
        ));
    };
    let audiences = claim_values("ACCESS_AUD", &aud)?;
    let origin = format!("https://{host}.cloudflareaccess.com");
    Ok(Some(IssuerConfig {
        name: ACCESS_ISSUER_NAME.to_owned(),
        jwks: JwksSource::Url(format!("{origin}/cdn-cgi/access/certs")),
        iss: origin,
        audiences,
        algorithms: vec![Algorithm::RS256],
    }))
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// `JWT_KEYS` entries in document order, duplicates kept so they can be refused.
struct KeyList(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of key id to secret strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<KeyList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(KeyList(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn validate_jwt_keys(json: &str) -> Result<()> {
    const VAR: &str = "JWT_KEYS";
    // serde_json's messages may quote the offending value: report only the position.
    let list = serde_json::from_str::<KeyList>(json).map_err(|e| {
        ConfigError::new(
            VAR,
            format!(
                "not a JSON object of key id to secret strings (error at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if list.0.is_empty() {
        return Err(ConfigError::new(VAR, "has no keys"));
    }
    for (i, (kid, secret)) in list.0.iter().enumerate() {
        if kid.is_empty() || kid.len() > 128 || kid.chars().any(char::is_control) {
            return Err(ConfigError::new(
                VAR,
                "key ids must be 1 to 128 characters without control characters",
            ));
        }
        if list.0.iter().take(i).any(|(seen, _)| seen == kid) {
            return Err(ConfigError::new(
                VAR,
                format!("key id {} appears twice", show(kid)),
            ));
        }
        check_hmac_secret(VAR, &format!(" (key id {})", show(kid)), secret)?;
    }
    Ok(())
}

/// A secret, as the jwt module decodes it (`base64:...` or raw), must give at least
/// [`MIN_JWT_SECRET_BYTES`] bytes.
fn check_hmac_secret(var: &str, which: &str, secret: &str) -> Result<()> {
    let bytes = crate::jwt::parse_secret(secret).map_err(|e| {
        // The jwt module's messages are fixed sentences, never the secret.
        ConfigError::new(var, format!("{e}{which}"))
    })?;
    if bytes.len() < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError::new(
            var,
            format!(
                "secret too short{which}: HMAC secrets need at least {MIN_JWT_SECRET_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policy

fn parse_policy(vars: &Vars<'_>) -> Result<PolicyConfig> {
    let template = vars
        .get("KEY_TEMPLATE")
        .unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.to_owned());
    let key_template = parse_key_template(&template)?;
    let types = vars
        .get("ALLOWED_CONTENT_TYPES")
        .unwrap_or_else(|| DEFAULT_ALLOWED_CONTENT_TYPES.to_owned());
    let allowed_content_types = parse_content_types("ALLOWED_CONTENT_TYPES", &types)?;
    Ok(PolicyConfig {
        key_template,
        allowed_content_types,
        max_upload_size: vars.number(
            "MAX_UPLOAD_SIZE",
            DEFAULT_MAX_UPLOAD_SIZE,
            1,
            MAX_MAX_UPLOAD_SIZE,
        )?,
        url_ttl_secs: vars.number("URL_TTL", DEFAULT_URL_TTL, 1, MAX_URL_TTL)?,
        allow_url_past_token_expiry: vars.boolean("ALLOW_URL_PAST_TOKEN_EXPIRY", false)?,
        allow_delete: vars.boolean("ALLOW_DELETE", false)?,
        allow_overwrite: vars.boolean("ALLOW_OVERWRITE", false)?,
    })
}

fn parse_key_template(raw: &str) -> Result<KeyTemplate> {
    const VAR: &str = "KEY_TEMPLATE";
    let err = |why: String| Err(ConfigError::new(VAR, why));
    if raw.len() > 256 {
        return err("longer than 256 bytes".to_owned());
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return err("has an unclosed '{'".to_owned()),
                        Some(n) => name.push(n),
                    }
                }
                let Some(p) = Placeholder::parse(&name) else {
                    return err(format!(
                        "unknown placeholder {{{}}}; use {{sub}}, {{uuid}}, {{filename}}, {{date}} or {{ext}}",
                        escaped(&name)
                    ));
                };
                if !literal.is_empty() {
                    parts.push(KeyTemplatePart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(KeyTemplatePart::Placeholder(p));
            }
            '}' => return err("has a '}' without '{'".to_owned()),
            c if c.is_ascii_alphanumeric() || "/-_.=".contains(c) => literal.push(c),
            c => {
                return err(format!(
                    "character {} is not allowed outside placeholders (use A-Z a-z 0-9 / - _ . =)",
                    show(&c.to_string())
                ))
            }
        }
    }
    if !literal.is_empty() {
        parts.push(KeyTemplatePart::Literal(literal));
    }
    if raw.starts_with('/') || raw.ends_with('/') {
        return err("must not start or end with '/'".to_owned());
    }
    if raw.contains("//") {
        return err("must not contain '//'".to_owned());
    }
    if raw.split('/').any(|seg| seg == "." || seg == "..") {
        return err("must not contain a '.' or '..' segment".to_owned());
    }
    let has = |p: Placeholder| parts.contains(&KeyTemplatePart::Placeholder(p));
    if !has(Placeholder::Sub) {
        return err("must contain {sub} so that keys stay per subject".to_owned());
    }
    if !has(Placeholder::Uuid) && !has(Placeholder::Filename) {
        return err("must contain {uuid} or {filename}".to_owned());
    }
    Ok(KeyTemplate {
        raw: raw.to_owned(),
        parts,
    })
}

/// RFC 6838 restricted-name characters (lower case).
fn valid_media_token(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=127).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
}

fn parse_content_types(var: &str, v: &str) -> Result<Vec<ContentTypeRule>> {
    let lower = v.to_ascii_lowercase();
    parse_list(var, &lower)?
        .into_iter()
        .map(|item| {
            let bad = || {
                Err(ConfigError::new(
                    var,
                    format!(
                        "{} is not a media type like image/png, image/* or */* (no parameters)",
                        show(&item)
                    ),
                ))
            };
            let Some((ty, sub)) = item.split_once('/') else {
                return bad();
            };
            match (ty, sub) {
                ("*", "*") => Ok(ContentTypeRule::Any),
                (t, "*") if valid_media_token(t) => Ok(ContentTypeRule::AnySubtype(t.to_owned())),
                (t, s) if valid_media_token(t) && valid_media_token(s) => {
                    Ok(ContentTypeRule::Exact(item.clone()))
                }
                _ => bad(),
            }
        })
        .collect()
}

fn parse_origins(var: &str, v: &str) -> Result<Vec<String>> {
    let items = parse_list(var, v)?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if item == "*" {
            return Err(ConfigError::new(
                var,
                "'*' is not allowed; list the exact origins",
            ));
        }
        if item.eq_ignore_ascii_case("null") {
            return Err(ConfigError::new(var, "'null' is not an allowed origin"));
        }
        let origin = parse_endpoint(var, &item, false)?.to_string();
        if out.contains(&origin) {
            return Err(ConfigError::new(
                var,
                format!("lists {} twice", show(&origin)),
            ));
        }
        out.push(origin);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn base() -> HashMap<String, String> {
        [
            ("TARGET_UPLOADS_KIND", "custom"),
            ("TARGET_UPLOADS_BUCKET", "uploads"),
            ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "S3_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("JWT_SECRET", SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn parse(vars: &HashMap<String, String>) -> Result<Config> {
        Config::from_lookup(&|k: &str| vars.get(k).cloned())
    }

    fn with(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m = base();
        for (k, v) in pairs {
            m.insert((*k).to_owned(), (*v).to_owned());
        }
        m
    }

    fn without(keys: &[&str]) -> HashMap<String, String> {
        let mut m = base();
        for k in keys {
            m.remove(*k);
        }
        m
    }

    /// Asserts rejection, naming `var`, with `needle` in the message.
    #[track_caller]
    fn rejects(vars: HashMap<String, String>, var: &str, needle: &str) {
        match parse(&vars) {
            Ok(c) => panic!("expected {var} to be rejected, got {c:?}"),
            Err(e) => {
                assert_eq!(e.variable, var, "{e}");
                assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn shown_values_are_escaped_and_shortened() {
        assert_eq!(show("plain é"), "'plain é'");
        assert_eq!(show("a\u{1}b'c\\d\ne"), "'a\\u{1}b\\u{27}c\\u{5c}d\\u{a}e'");
        let long = "x".repeat(70);
        assert_eq!(show(&long), format!("'{}…'", "x".repeat(64)));
        assert_eq!(show(&"y".repeat(64)), format!("'{}'", "y".repeat(64)));
    }

    #[test]
    fn defaults() {
        let c = parse(&base()).expect("valid");
        assert_eq!(c.targets.len(), 1);
        let t = &c.targets[0];
        assert_eq!(t.name, "uploads");
        assert_eq!(t.kind, TargetKind::Custom);
        assert_eq!(t.bucket, "uploads");
        assert_eq!(t.endpoint.to_string(), "http://127.0.0.1:9000");
        assert_eq!(t.endpoint.authority(), "127.0.0.1:9000");
        assert_eq!(t.region, "us-east-1");
        assert!(t.path_style);
        assert_eq!(t.credentials.access_key_id, "AKIDEXAMPLE");
        assert_eq!(t.credentials.session_token, None);
        assert_eq!(
            c.jwt.keys,
            JwtKeys {
                secret: Some(SECRET.to_owned()),
                keys_json: None
            }
        );
        assert_eq!(c.jwt.algorithms, vec![Algorithm::HS256]);
        assert!(c.jwt.issuers.is_empty() && c.jwt.audiences.is_empty());
        assert_eq!(c.jwt.leeway_secs, 60);
        assert_eq!(c.jwt.header, "authorization");
        assert!(c.jwt.bearer_scheme);
        assert_eq!(c.policy.key_template.raw, DEFAULT_KEY_TEMPLATE);
        assert_eq!(
            c.policy.key_template.parts,
            vec![
                KeyTemplatePart::Placeholder(Placeholder::Sub),
                KeyTemplatePart::Literal("/".into()),
                KeyTemplatePart::Placeholder(Placeholder::Uuid),
                KeyTemplatePart::Literal("/".into()),
                KeyTemplatePart::Placeholder(Placeholder::Filename),
            ]
        );
        assert!(c.policy.content_type_allowed("image/png"));
        assert!(c.policy.content_type_allowed("text/plain"));
        assert!(!c.policy.content_type_allowed("text/html"));
        assert!(!c.policy.content_type_allowed("image/svg+xml"));
        assert_eq!(c.policy.max_upload_size, 104_857_600);
        assert_eq!(c.policy.url_ttl_secs, 300);
        assert!(!c.policy.allow_url_past_token_expiry);
        assert!(c.cors.allowed_origins.is_empty());
        assert_eq!(c.cors.max_age_secs, 600);
        assert_eq!(c.max_body_bytes, 16_384);
        assert_eq!(c.target(None).map(|t| t.name.as_str()), Some("uploads"));
        assert_eq!(
            c.target(Some("uploads")).map(|t| t.name.as_str()),
            Some("uploads")
        );
        assert!(c.target(Some("nope")).is_none());
    }

    #[test]
    fn everything_set() {
        let c = parse(&with(&[
            ("TARGETS", " uploads , archive,eu "),
            ("TARGET_ARCHIVE_KIND", "s3"),
            ("TARGET_ARCHIVE_BUCKET", "my.archive"),
            ("TARGET_ARCHIVE_REGION", "eu-west-1"),
            ("TARGET_ARCHIVE_PATH_STYLE", "true"),
            ("TARGET_ARCHIVE_ACCESS_KEY_ID", "AKIAARCHIVE"),
            ("TARGET_ARCHIVE_SECRET_ACCESS_KEY", "archive-secret"),
            ("TARGET_ARCHIVE_SESSION_TOKEN", "tok"),
            ("TARGET_EU_KIND", "r2"),
            ("TARGET_EU_BUCKET", "eu-files"),
            ("TARGET_EU_ACCOUNT_ID", "0123456789ABCDEF0123456789abcdef"),
            ("S3_SESSION_TOKEN", "global-token"),
            ("JWT_ALGORITHMS", "HS512, HS256"),
            ("JWT_ISSUER", "https://issuer.example"),
            ("JWT_AUDIENCE", "uploads,web"),
            ("JWT_LEEWAY", "0"),
            ("JWT_HEADER", "X-Upload-Token"),
            ("KEY_TEMPLATE", "in/{date}/{sub}/{uuid}.{ext}"),
            ("ALLOWED_CONTENT_TYPES", "Image/*, application/pdf"),
            ("MAX_UPLOAD_SIZE", "5368709120"),
            ("URL_TTL", "604800"),
            ("ALLOW_URL_PAST_TOKEN_EXPIRY", "true"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:3000,https://X.example:443",
            ),
            ("CORS_MAX_AGE", "86400"),
            ("MAX_BODY_BYTES", "1048576"),
        ]))
        .expect("valid");
        let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["uploads", "archive", "eu"]);
        let up = &c.targets[0];
        assert_eq!(
            up.credentials.session_token.as_deref(),
            Some("global-token")
        );
        let ar = &c.targets[1];
        assert_eq!(
            ar.endpoint.to_string(),
            "https://s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(ar.region, "eu-west-1");
        assert!(ar.path_style);
        assert_eq!(ar.credentials.access_key_id, "AKIAARCHIVE");
        assert_eq!(ar.credentials.session_token.as_deref(), Some("tok"));
        let eu = &c.targets[2];
        assert_eq!(eu.kind, TargetKind::R2);
        assert_eq!(
            eu.endpoint.to_string(),
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
        );
        assert_eq!(eu.region, "auto");
        assert!(eu.path_style);
        assert_eq!(c.jwt.algorithms, vec![Algorithm::HS512, Algorithm::HS256]);
        assert_eq!(c.jwt.issuers, ["https://issuer.example"]);
        assert_eq!(c.jwt.audiences, ["uploads", "web"]);
        assert_eq!(c.jwt.leeway_secs, 0);
        assert_eq!(c.jwt.header, "x-upload-token");
        assert!(!c.jwt.bearer_scheme);
        assert!(c.policy.content_type_allowed("image/svg+xml"));
        assert!(c.policy.content_type_allowed("application/pdf"));
        assert!(!c.policy.content_type_allowed("text/plain"));
        assert!(!c.policy.content_type_allowed("image/"));
        assert_eq!(c.policy.max_upload_size, MAX_MAX_UPLOAD_SIZE);
        assert_eq!(c.policy.url_ttl_secs, MAX_URL_TTL);
        assert!(c.policy.allow_url_past_token_expiry);
        assert_eq!(
            c.cors.allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:3000",
                "https://x.example"
            ]
        );
        assert_eq!(c.cors.max_age_secs, 86_400);
        assert_eq!(c.max_body_bytes, 1 << 20);
    }

    #[test]
    fn s3_virtual_hosted_by_default_and_china_suffix() {
        let c = parse(&with(&[
            ("TARGET_UPLOADS_KIND", "s3"),
            ("TARGET_UPLOADS_REGION", "cn-north-1"),
            ("TARGET_UPLOADS_ENDPOINT", ""),
        ]))
        .expect("valid");
        let t = &c.targets[0];
        assert!(!t.path_style);
        assert_eq!(t.endpoint.host, "s3.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn custom_endpoint_forms() {
        let cases = [
            (
                "https://minio.example.com/",
                "https://minio.example.com",
                None,
            ),
            (
                "HTTPS://Minio.Example.com:443",
                "https://minio.example.com",
                None,
            ),
            ("http://localhost:80", "http://localhost", None),
            ("http://[::1]:9000", "http://[::1]:9000", Some(9000)),
            (
                "https://s3.example:8443",
                "https://s3.example:8443",
                Some(8443),
            ),
        ];
        for (raw, shown, port) in cases {
            let c = parse(&with(&[("TARGET_UPLOADS_ENDPOINT", raw)])).expect(raw);
            assert_eq!(c.targets[0].endpoint.to_string(), shown);
            assert_eq!(c.targets[0].endpoint.port, port);
        }
        let c = parse(&with(&[
            ("TARGET_UPLOADS_ENDPOINT", "https://minio.example.com"),
            ("TARGET_UPLOADS_PATH_STYLE", "false"),
            ("TARGET_UPLOADS_REGION", "auto"),
        ]))
        .expect("valid");
        assert!(!c.targets[0].path_style);
        assert_eq!(c.targets[0].region, "auto");
    }

    #[test]
    fn per_target_credentials_replace_missing_globals() {
        let c = parse(&with(&[
            ("S3_ACCESS_KEY_ID", ""),
            ("S3_SECRET_ACCESS_KEY", ""),
            ("TARGET_UPLOADS_ACCESS_KEY_ID", "own"),
            ("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own-secret"),
        ]))
        .expect("valid");
        assert_eq!(c.targets[0].credentials.access_key_id, "own");
    }

    #[test]
    fn jwt_keys_accepted() {
        let keys = format!(r#"{{"k1":"{SECRET}","k2":"{SECRET}x"}}"#);
        let c = parse(&with(&[("JWT_KEYS", keys.as_str()), ("JWT_SECRET", "")])).expect("valid");
        assert_eq!(
            c.jwt.keys,
            JwtKeys {
                secret: None,
                keys_json: Some(keys.clone())
            }
        );
        // Both together: kid-less tokens use JWT_SECRET.
        let c = parse(&with(&[("JWT_KEYS", keys.as_str())])).expect("valid");
        assert!(c.jwt.keys.secret.is_some() && c.jwt.keys.keys_json.is_some());
        // base64: secrets count their decoded length.
        let b64 = "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let c = parse(&with(&[("JWT_SECRET", b64)])).expect("valid");
        assert_eq!(c.jwt.keys.secret.as_deref(), Some(b64));
    }

    #[test]
    fn debug_redacts_secrets() {
        let keys = format!(r#"{{"k1":"{SECRET}"}}"#);
        let with_token = with(&[("S3_SESSION_TOKEN", "session-token-value")]);
        let c = parse(&with_token).expect("valid");
        let k = parse(&with(&[("JWT_KEYS", keys.as_str()), ("JWT_SECRET", "")])).expect("valid");
        let shown = format!("{c:?} {c:#?} {k:?}");
        for secret in [
            SECRET,
            "wJalrXUtnFEMI",
            "AKIDEXAMPLE",
            "session-token-value",
            "k1",
        ] {
            assert!(!shown.contains(secret), "Debug shows {secret}: {shown}");
        }
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn errors_never_show_secret_values() {
        let secret = "TOP-SECRET-VALUE";
        let cases = [
            with(&[("JWT_SECRET", secret)]),
            with(&[
                ("JWT_SECRET", ""),
                ("JWT_KEYS", r#"{"a": 5, "b": "TOP-SECRET-VALUE"}"#),
            ]),
            with(&[("JWT_SECRET", ""), ("JWT_KEYS", r#"["TOP-SECRET-VALUE"]"#)]),
            with(&[
                ("JWT_SECRET", ""),
                ("JWT_KEYS", r#"{"a": "TOP-SECRET-VALUE"}"#),
            ]),
            with(&[("S3_SECRET_ACCESS_KEY", " TOP-SECRET-VALUE")]),
            with(&[("S3_ACCESS_KEY_ID", "TOP-SECRET-VALUE/x")]),
            with(&[("S3_SESSION_TOKEN", "TOP-SECRET-VALUE\n")]),
        ];
        for vars in cases {
            let e = parse(&vars).expect_err("rejected");
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
        }
    }

    #[test]
    fn rejects_target_lists() {
        rejects(with(&[("TARGETS", "uploads,uploads")]), "TARGETS", "twice");
        rejects(with(&[("TARGETS", "uploads,,x")]), "TARGETS", "empty entry");
        rejects(with(&[("TARGETS", "Uploads")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", "my-bucket")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", "9lives")]), "TARGETS", "lower-case");
        rejects(with(&[("TARGETS", &"a".repeat(33))]), "TARGETS", "32");
        rejects(
            with(&[("TARGETS", "uploads,archive")]),
            "TARGET_ARCHIVE_KIND",
            "missing",
        );
    }

    #[test]
    fn rejects_kinds_and_misplaced_settings() {
        rejects(
            without(&["TARGET_UPLOADS_KIND"]),
            "TARGET_UPLOADS_KIND",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_KIND", "R2")]),
            "TARGET_UPLOADS_KIND",
            "unknown kind 'R2'",
        );
        rejects(
            with(&[("TARGET_UPLOADS_KIND", "gcs")]),
            "TARGET_UPLOADS_KIND",
            "unknown kind",
        );
        rejects(
            with(&[(
                "TARGET_UPLOADS_ACCOUNT_ID",
                "0123456789abcdef0123456789abcdef",
            )]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "not used by kind custom",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_REGION", "us-east-1"),
            ]),
            "TARGET_UPLOADS_ENDPOINT",
            "not used by kind s3",
        );
        let r2 = |extra: &[(&str, &str)]| {
            let mut m = with(&[
                ("TARGET_UPLOADS_KIND", "r2"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
                (
                    "TARGET_UPLOADS_ACCOUNT_ID",
                    "0123456789abcdef0123456789abcdef",
                ),
            ]);
            for (k, v) in extra {
                m.insert((*k).into(), (*v).into());
            }
            m
        };
        assert!(parse(&r2(&[])).is_ok());
        rejects(
            r2(&[("TARGET_UPLOADS_REGION", "auto")]),
            "TARGET_UPLOADS_REGION",
            "not used by kind r2",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ENDPOINT", "https://x.example")]),
            "TARGET_UPLOADS_ENDPOINT",
            "not used by kind r2",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ACCOUNT_ID", "")]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "missing",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_ACCOUNT_ID", "abc")]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "32 hex",
        );
        rejects(
            r2(&[(
                "TARGET_UPLOADS_ACCOUNT_ID",
                "0123456789abcdef0123456789abcdeg",
            )]),
            "TARGET_UPLOADS_ACCOUNT_ID",
            "32 hex",
        );
        rejects(
            r2(&[("TARGET_UPLOADS_BUCKET", "my.bucket")]),
            "TARGET_UPLOADS_BUCKET",
            "invalid bucket",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
            ]),
            "TARGET_UPLOADS_REGION",
            "missing",
        );
        rejects(
            without(&["TARGET_UPLOADS_ENDPOINT"]),
            "TARGET_UPLOADS_ENDPOINT",
            "missing",
        );
    }

    #[test]
    fn rejects_buckets_and_regions() {
        for bad in [
            "ab",
            "Uploads",
            "-up",
            "up-",
            "up..x",
            "up_x",
            &"a".repeat(64),
            "up/x",
        ] {
            rejects(
                with(&[("TARGET_UPLOADS_BUCKET", bad)]),
                "TARGET_UPLOADS_BUCKET",
                "invalid bucket",
            );
        }
        rejects(
            without(&["TARGET_UPLOADS_BUCKET"]),
            "TARGET_UPLOADS_BUCKET",
            "missing",
        );
        for bad in ["US-EAST-1", "-x", "x-", "eu west", &"a".repeat(33)] {
            rejects(
                with(&[("TARGET_UPLOADS_REGION", bad)]),
                "TARGET_UPLOADS_REGION",
                "invalid region",
            );
        }
    }

    #[test]
    fn rejects_endpoints() {
        for (bad, why) in [
            ("127.0.0.1:9000", "scheme"),
            ("ftp://x.example", "scheme"),
            ("http://x.example/path", "no path"),
            ("http://x.example?q", "no path"),
            ("http://user@x.example", "user info"),
            ("http://", "invalid host"),
            ("http://x..example", "invalid host"),
            ("http://-x.example", "invalid host"),
            ("http://x_y.example", "invalid host"),
            ("http://x.example:0", "port"),
            ("http://x.example:65536", "port"),
            ("http://x.example:", "port"),
            ("http://x.example:+80", "port"),
            ("http://[::1", "unclosed"),
            ("http://[]:80", "IPv6"),
            ("http://[::1]x", "after ']'"),
        ] {
            rejects(
                with(&[("TARGET_UPLOADS_ENDPOINT", bad)]),
                "TARGET_UPLOADS_ENDPOINT",
                why,
            );
        }
    }

    #[test]
    fn rejects_virtual_hosted_where_it_cannot_work() {
        rejects(
            with(&[("TARGET_UPLOADS_PATH_STYLE", "false")]),
            "TARGET_UPLOADS_PATH_STYLE",
            "IP address",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_KIND", "s3"),
                ("TARGET_UPLOADS_ENDPOINT", ""),
                ("TARGET_UPLOADS_REGION", "us-east-1"),
                ("TARGET_UPLOADS_BUCKET", "my.bucket"),
            ]),
            "TARGET_UPLOADS_PATH_STYLE",
            "dots",
        );
        rejects(
            with(&[("TARGET_UPLOADS_PATH_STYLE", "yes")]),
            "TARGET_UPLOADS_PATH_STYLE",
            "true or false",
        );
    }

    #[test]
    fn rejects_credentials() {
        rejects(
            without(&["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
            "S3_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            without(&["S3_SECRET_ACCESS_KEY"]),
            "S3_SECRET_ACCESS_KEY",
            "missing",
        );
        rejects(
            without(&["S3_ACCESS_KEY_ID"]),
            "S3_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            {
                let mut m = without(&["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]);
                m.insert("S3_SESSION_TOKEN".into(), "t".into());
                m
            },
            "S3_SESSION_TOKEN",
            "without",
        );
        rejects(
            with(&[("S3_ACCESS_KEY_ID", "a/b")]),
            "S3_ACCESS_KEY_ID",
            "'/'",
        );
        rejects(
            with(&[("S3_ACCESS_KEY_ID", "a b")]),
            "S3_ACCESS_KEY_ID",
            "whitespace",
        );
        rejects(
            with(&[("S3_SECRET_ACCESS_KEY", "secret\n")]),
            "S3_SECRET_ACCESS_KEY",
            "whitespace",
        );
        rejects(
            with(&[("S3_SECRET_ACCESS_KEY", "sec\u{7}ret")]),
            "S3_SECRET_ACCESS_KEY",
            "control",
        );
        rejects(
            with(&[("TARGET_UPLOADS_ACCESS_KEY_ID", "own")]),
            "TARGET_UPLOADS_SECRET_ACCESS_KEY",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own")]),
            "TARGET_UPLOADS_ACCESS_KEY_ID",
            "missing",
        );
        rejects(
            with(&[("TARGET_UPLOADS_SESSION_TOKEN", "t")]),
            "TARGET_UPLOADS_SESSION_TOKEN",
            "without",
        );
        rejects(
            with(&[
                ("TARGET_UPLOADS_ACCESS_KEY_ID", "o/wn"),
                ("TARGET_UPLOADS_SECRET_ACCESS_KEY", "own"),
            ]),
            "TARGET_UPLOADS_ACCESS_KEY_ID",
            "'/'",
        );
    }

    #[test]
    fn rejects_jwt_settings() {
        rejects(without(&["JWT_SECRET"]), "JWT_SECRET", "missing");
        rejects(
            with(&[("JWT_SECRET", "short")]),
            "JWT_SECRET",
            "at least 32 bytes",
        );
        // 31 bytes once decoded, although the text is longer than 32.
        rejects(
            with(&[(
                "JWT_SECRET",
                "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
            )]),
            "JWT_SECRET",
            "too short",
        );
        rejects(
            with(&[("JWT_SECRET", "base64:not base64 at all, not at all!")]),
            "JWT_SECRET",
            "base64",
        );
        let only_keys = |json: &str| with(&[("JWT_SECRET", ""), ("JWT_KEYS", json)]);
        rejects(only_keys("not json"), "JWT_KEYS", "line 1");
        rejects(only_keys("[]"), "JWT_KEYS", "not a JSON object");
        rejects(only_keys(r#"{"k": 1}"#), "JWT_KEYS", "not a JSON object");
        rejects(only_keys("{}"), "JWT_KEYS", "no keys");
        rejects(
            only_keys(&format!(r#"{{"":"{SECRET}"}}"#)),
            "JWT_KEYS",
            "key ids",
        );
        rejects(
            only_keys(&format!(r#"{{"a":"{SECRET}","a":"{SECRET}"}}"#)),
            "JWT_KEYS",
            "appears twice",
        );
        rejects(only_keys(r#"{"a":"short"}"#), "JWT_KEYS", "too short");
        rejects(
            with(&[("JWT_ALGORITHMS", "none")]),
            "JWT_ALGORITHMS",
            "unsupported",
        );
        rejects(
            with(&[("JWT_ALGORITHMS", "RS256")]),
            "JWT_ALGORITHMS",
            "unsupported",
        );
        rejects(
            with(&[("JWT_ALGORITHMS", "hs256")]),
            "JWT_ALGORITHMS",
            "unsupported",
        );
        rejects(
            with(&[("JWT_ALGORITHMS", "HS256,HS256")]),
            "JWT_ALGORITHMS",
            "twice",
        );
        rejects(with(&[("JWT_ISSUER", "a,a")]), "JWT_ISSUER", "twice");
        rejects(
            with(&[("JWT_AUDIENCE", "a,,b")]),
            "JWT_AUDIENCE",
            "empty entry",
        );
        rejects(
            with(&[("JWT_AUDIENCE", "a\u{1}b")]),
            "JWT_AUDIENCE",
            "control",
        );
        rejects(with(&[("JWT_LEEWAY", "601")]), "JWT_LEEWAY", "0 to 600");
        rejects(with(&[("JWT_LEEWAY", "-1")]), "JWT_LEEWAY", "digits only");
        rejects(
            with(&[("JWT_HEADER", "x token")]),
            "JWT_HEADER",
            "header name",
        );
        rejects(with(&[("JWT_HEADER", "x:y")]), "JWT_HEADER", "header name");
    }

    #[test]
    fn rejects_key_templates() {
        for (bad, why) in [
            ("{sub}/{uuid}/{name}", "unknown placeholder {name}"),
            ("{sub}/{uuid", "unclosed"),
            ("{sub}/{{uuid}}", "unclosed"),
            ("{sub}/uuid}", "without '{'"),
            ("{sub}/{uuid} x", "not allowed"),
            ("{sub}/{uuid}/ä", "not allowed"),
            ("/{sub}/{uuid}", "start or end"),
            ("{sub}/{uuid}/", "start or end"),
            ("{sub}//{uuid}", "'//'"),
            ("{sub}/../{uuid}", "'..'"),
            ("{sub}/./{uuid}", "'.'"),
            ("{uuid}/{filename}", "{sub}"),
            ("{sub}/{date}.{ext}", "{uuid} or {filename}"),
        ] {
            rejects(with(&[("KEY_TEMPLATE", bad)]), "KEY_TEMPLATE", why);
        }
        let long = format!("{{sub}}/{{uuid}}/{}", "a".repeat(250));
        rejects(with(&[("KEY_TEMPLATE", &long)]), "KEY_TEMPLATE", "256");
    }

    #[test]
    fn rejects_content_types() {
        for bad in [
            "image",
            "*/png",
            "image/",
            "/png",
            "image/png; charset=x",
            "im age/png",
            "image/**",
        ] {
            rejects(
                with(&[("ALLOWED_CONTENT_TYPES", bad)]),
                "ALLOWED_CONTENT_TYPES",
                "not a media type",
            );
        }
        rejects(
            with(&[("ALLOWED_CONTENT_TYPES", "image/png,IMAGE/PNG")]),
            "ALLOWED_CONTENT_TYPES",
            "twice",
        );
        let c = parse(&with(&[("ALLOWED_CONTENT_TYPES", "*/*")])).expect("valid");
        assert!(c.policy.content_type_allowed("text/html"));
    }

    #[test]
    fn rejects_numbers_and_booleans() {
        for (var, bad, why) in [
            ("MAX_UPLOAD_SIZE", "0", "1 to 5368709120"),
            ("MAX_UPLOAD_SIZE", "5368709121", "1 to 5368709120"),
            ("MAX_UPLOAD_SIZE", "100MB", "digits only"),
            ("MAX_UPLOAD_SIZE", "1e6", "digits only"),
            (
                "MAX_UPLOAD_SIZE",
                "99999999999999999999999",
                "1 to 5368709120",
            ),
            ("URL_TTL", "0", "1 to 604800"),
            ("URL_TTL", "604801", "1 to 604800"),
            ("URL_TTL", "0300", "leading zeros"),
            ("URL_TTL", "+300", "digits only"),
            ("URL_TTL", "3 00", "digits only"),
            ("URL_TTL", "300.0", "digits only"),
            ("CORS_MAX_AGE", "86401", "0 to 86400"),
            ("MAX_BODY_BYTES", "255", "256 to 1048576"),
            ("MAX_BODY_BYTES", "1048577", "256 to 1048576"),
            ("ALLOW_URL_PAST_TOKEN_EXPIRY", "TRUE", "true or false"),
            ("ALLOW_URL_PAST_TOKEN_EXPIRY", "1", "true or false"),
        ] {
            rejects(with(&[(var, bad)]), var, why);
        }
        // Blank means unset: the default applies.
        let c = parse(&with(&[("URL_TTL", "  "), ("MAX_UPLOAD_SIZE", "")])).expect("valid");
        assert_eq!(c.policy.url_ttl_secs, DEFAULT_URL_TTL);
        assert_eq!(c.policy.max_upload_size, DEFAULT_MAX_UPLOAD_SIZE);
    }

    #[test]
    fn allow_overwrite_is_off_unless_true() {
        assert!(!parse(&with(&[])).expect("valid").policy.allow_overwrite);
        let c = parse(&with(&[("ALLOW_OVERWRITE", "true")])).expect("valid");
        assert!(c.policy.allow_overwrite);
        rejects(
            with(&[("ALLOW_OVERWRITE", "yes")]),
            "ALLOW_OVERWRITE",
            "true or false",
        );
    }

    #[test]
    fn rejects_cors_origins() {
        for (bad, why) in [
            ("*", "'*'"),
            ("null", "'null'"),
            ("https://app.example.com/", "trailing"),
            ("https://app.example.com/path", "no path"),
            ("app.example.com", "scheme"),
            ("https://a.example,https://A.example", "twice"),
            ("https://a.example,,https://b.example", "empty entry"),
        ] {
            rejects(
                with(&[("CORS_ALLOWED_ORIGINS", bad)]),
                "CORS_ALLOWED_ORIGINS",
                why,
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // JWKS issuers and the Cloudflare Access preset

    const ISS: &str = "https://idp.example.com";
    const JWKS_URL: &str = "https://idp.example.com/.well-known/jwks.json";
    /// An Ed25519 public JWK (RFC 8037 A.2).
    const OKP_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    /// The base variables plus issuer `idp` (JWKS URL) and `extra`.
    fn with_idp(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m = with(&[
            ("ISSUERS", "idp"),
            ("ISSUER_IDP_ISS", ISS),
            ("ISSUER_IDP_JWKS_URL", JWKS_URL),
            ("ISSUER_IDP_AUDIENCE", "presign"),
        ]);
        for (k, v) in extra {
            m.insert((*k).to_owned(), (*v).to_owned());
        }
        m
    }

    #[test]
    fn issuers_are_parsed() {
        let c = parse(&base()).expect("valid");
        assert!(c.jwt.jwks_issuers.is_empty());
        assert!(!c.jwt.access_header);
        assert_eq!(c.jwt.jwks_refetch_secs, DEFAULT_JWKS_REFETCH_INTERVAL);

        let c = parse(&with(&[
            ("ISSUERS", " okta , auth0_eu "),
            (
                "ISSUER_OKTA_ISS",
                " https://example.okta.com/oauth2/default ",
            ),
            (
                "ISSUER_OKTA_JWKS_URL",
                "https://example.okta.com/oauth2/default/v1/keys",
            ),
            ("ISSUER_OKTA_AUDIENCE", "api://presign, api://other"),
            ("ISSUER_AUTH0_EU_ISS", "https://tenant.eu.auth0.com/"),
            ("ISSUER_AUTH0_EU_JWKS", OKP_JWKS),
            ("ISSUER_AUTH0_EU_AUDIENCE", "presign"),
            ("ISSUER_AUTH0_EU_ALGORITHMS", "EdDSA, ES256,PS512"),
        ]))
        .expect("valid");
        let issuers = &c.jwt.jwks_issuers;
        assert_eq!(issuers.len(), 2);
        assert_eq!(
            issuers[0],
            IssuerConfig {
                name: "okta".to_owned(),
                iss: "https://example.okta.com/oauth2/default".to_owned(),
                jwks: JwksSource::Url("https://example.okta.com/oauth2/default/v1/keys".to_owned()),
                audiences: vec!["api://presign".to_owned(), "api://other".to_owned()],
                algorithms: vec![Algorithm::RS256],
            }
        );
        assert_eq!(issuers[1].name, "auth0_eu");
        assert_eq!(issuers[1].iss, "https://tenant.eu.auth0.com/");
        assert_eq!(issuers[1].jwks, JwksSource::Inline(OKP_JWKS.to_owned()));
        assert_eq!(
            issuers[1].algorithms,
            vec![Algorithm::EdDSA, Algorithm::ES256, Algorithm::PS512]
        );
        // The HMAC settings are untouched, and no Access header without the preset.
        assert_eq!(c.jwt.algorithms, vec![Algorithm::HS256]);
        assert!(!c.jwt.access_header);
    }

    #[test]
    fn rejects_issuer_names() {
        rejects(
            with_idp(&[("ISSUERS", "Okta")]),
            "ISSUERS",
            "not a valid name",
        );
        rejects(
            with_idp(&[("ISSUERS", "my-idp")]),
            "ISSUERS",
            "not a valid name",
        );
        rejects(
            with_idp(&[("ISSUERS", "1idp")]),
            "ISSUERS",
            "not a valid name",
        );
        rejects(
            with_idp(&[("ISSUERS", &"a".repeat(33))]),
            "ISSUERS",
            "at most 32",
        );
        rejects(with_idp(&[("ISSUERS", "idp,idp")]), "ISSUERS", "twice");
        rejects(with_idp(&[("ISSUERS", "idp,,x")]), "ISSUERS", "empty entry");
        rejects(with_idp(&[("ISSUERS", "access")]), "ISSUERS", "reserved");
        rejects(
            with_idp(&[("ISSUERS", "idp,access")]),
            "ISSUERS",
            "reserved",
        );
        // A listed issuer needs its settings.
        rejects(
            with_idp(&[("ISSUERS", "idp,other")]),
            "ISSUER_OTHER_ISS",
            "missing (issuer other)",
        );
    }

    #[test]
    fn rejects_incomplete_issuers() {
        let mut m = with_idp(&[]);
        m.remove("ISSUER_IDP_ISS");
        rejects(m, "ISSUER_IDP_ISS", "missing");
        rejects(
            with_idp(&[("ISSUER_IDP_ISS", "  ")]),
            "ISSUER_IDP_ISS",
            "missing",
        );
        let mut m = with_idp(&[]);
        m.remove("ISSUER_IDP_AUDIENCE");
        rejects(m, "ISSUER_IDP_AUDIENCE", "missing");
        rejects(
            with_idp(&[("ISSUER_IDP_AUDIENCE", "a,,b")]),
            "ISSUER_IDP_AUDIENCE",
            "empty entry",
        );
        let mut m = with_idp(&[]);
        m.remove("ISSUER_IDP_JWKS_URL");
        rejects(
            m,
            "ISSUER_IDP_JWKS_URL",
            "set ISSUER_IDP_JWKS_URL or ISSUER_IDP_JWKS",
        );
        rejects(
            with_idp(&[("ISSUER_IDP_JWKS", OKP_JWKS)]),
            "ISSUER_IDP_JWKS",
            "not both",
        );
        rejects(
            with_idp(&[("ISSUER_IDP_ISS", "https://a.example,https://b.example")]),
            "ISSUER_IDP_ISS",
            "one issuer only",
        );
        rejects(
            with_idp(&[("ISSUER_IDP_ISS", "https://a.example\u{1}")]),
            "ISSUER_IDP_ISS",
            "control",
        );
    }

    #[test]
    fn jwks_urls_are_https_or_loopback_http() {
        for ok in [
            "https://idp.example.com/.well-known/jwks.json",
            "https://idp.example.com",
            "https://idp.example.com:8443/keys?tenant=1",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            let c = parse(&with_idp(&[("ISSUER_IDP_JWKS_URL", ok)])).expect(ok);
            assert_eq!(c.jwt.jwks_issuers[0].jwks, JwksSource::Url(ok.to_owned()));
        }
        for (bad, why) in [
            ("http://idp.example.com/jwks", "must be https://"),
            ("http://127.0.0.2/jwks", "must be https://"),
            ("http://localhost.evil.example/jwks", "must be https://"),
            ("http://10.0.0.1/jwks", "must be https://"),
            ("ftp://idp.example.com/jwks", "scheme"),
            ("idp.example.com/jwks", "scheme"),
            ("https://user@idp.example.com/jwks", "user info"),
            ("http://127.0.0.1@evil.example/jwks", "user info"),
            ("https://idp.example.com/jw ks", "printable ASCII"),
            ("https://idp.example.com/jwks#frag", "'#'"),
            ("https://idp.example.com:99999/jwks", "port"),
            ("https://idp..example.com/jwks", "invalid host"),
        ] {
            rejects(
                with_idp(&[("ISSUER_IDP_JWKS_URL", bad)]),
                "ISSUER_IDP_JWKS_URL",
                why,
            );
        }
    }

    #[test]
    fn issuers_refuse_hmac_and_unknown_algorithms() {
        for bad in [
            "HS256",
            "RS256,HS512",
            "none",
            "rs256",
            "ES512",
            "EdDSA,EdDSA",
        ] {
            let needle = if bad == "EdDSA,EdDSA" {
                "twice"
            } else {
                "unsupported"
            };
            rejects(
                with_idp(&[("ISSUER_IDP_ALGORITHMS", bad)]),
                "ISSUER_IDP_ALGORITHMS",
                needle,
            );
        }
        // And the HMAC list refuses public-key algorithms.
        rejects(
            with_idp(&[("JWT_ALGORITHMS", "RS256")]),
            "JWT_ALGORITHMS",
            "ISSUER_<NAME>_ALGORITHMS",
        );
    }

    #[test]
    fn rejects_two_issuers_with_one_iss() {
        rejects(
            with_idp(&[
                ("ISSUERS", "idp,other"),
                ("ISSUER_OTHER_ISS", ISS),
                ("ISSUER_OTHER_JWKS", OKP_JWKS),
                ("ISSUER_OTHER_AUDIENCE", "other"),
            ]),
            "ISSUER_OTHER_ISS",
            "iss of another issuer",
        );
        // The Access preset's iss is taken too.
        let e = parse(&with_idp(&[
            ("ISSUER_IDP_ISS", "https://myteam.cloudflareaccess.com"),
            ("ACCESS_TEAM", "myteam"),
            ("ACCESS_AUD", "tag"),
        ]))
        .expect_err("rejected");
        assert!(e.problem.contains("iss of another issuer"), "{e}");
        assert_eq!(e.variable, "ACCESS_TEAM", "the variable the user set");
    }

    #[test]
    fn inline_jwks_need_a_usable_key() {
        for (bad, why) in [
            (r#"{"keys":[]}"#, "no usable key"),
            (
                r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
                "no usable key",
            ),
            ("not json", "not valid JSON"),
            (r#"[{"kty":"OKP"}]"#, "not a JSON object"),
            (r#"{"jwks":[]}"#, "no keys array"),
        ] {
            rejects(
                {
                    let mut m = with_idp(&[("ISSUER_IDP_JWKS", bad)]);
                    m.remove("ISSUER_IDP_JWKS_URL");
                    m
                },
                "ISSUER_IDP_JWKS",
                why,
            );
        }
        // A symmetric key is refused, and its secret never shows in the error.
        let oct = r#"{"keys":[{"kty":"oct","k":"TOP-SECRET-OCT-VALUE"}]}"#;
        let mut m = with_idp(&[("ISSUER_IDP_JWKS", oct)]);
        m.remove("ISSUER_IDP_JWKS_URL");
        let e = parse(&m).expect_err("oct refused");
        assert_eq!(e.variable, "ISSUER_IDP_JWKS");
        assert!(!format!("{e} {e:?}").contains("TOP-SECRET"), "{e:?}");
        // One usable key among unusable ones is enough.
        let mixed = r#"{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let mut m = with_idp(&[("ISSUER_IDP_JWKS", mixed)]);
        m.remove("ISSUER_IDP_JWKS_URL");
        let c = parse(&m).expect("valid");
        assert_eq!(
            c.jwt.jwks_issuers[0].jwks,
            JwksSource::Inline(mixed.to_owned())
        );
    }

    #[test]
    fn access_preset() {
        const TAG: &str = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
        let expected = IssuerConfig {
            name: ACCESS_ISSUER_NAME.to_owned(),
            iss: "https://myteam.cloudflareaccess.com".to_owned(),
            jwks: JwksSource::Url(
                "https://myteam.cloudflareaccess.com/cdn-cgi/access/certs".to_owned(),
            ),
            audiences: vec![TAG.to_owned()],
            algorithms: vec![Algorithm::RS256],
        };
        for team in ["myteam", "MyTeam", " myteam.cloudflareaccess.com "] {
            let c = parse(&with(&[("ACCESS_TEAM", team), ("ACCESS_AUD", TAG)])).expect(team);
            assert_eq!(c.jwt.jwks_issuers, vec![expected.clone()], "{team}");
            assert!(c.jwt.access_header);
            assert_eq!(c.jwt.header, "authorization");
        }
        // After the ISSUERS ones.
        let c = parse(&with_idp(&[("ACCESS_TEAM", "myteam"), ("ACCESS_AUD", TAG)])).expect("valid");
        let names: Vec<&str> = c.jwt.jwks_issuers.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["idp", "access"]);

        rejects(with(&[("ACCESS_TEAM", "myteam")]), "ACCESS_AUD", "missing");
        rejects(with(&[("ACCESS_AUD", TAG)]), "ACCESS_TEAM", "missing");
        for bad in [
            "https://myteam.cloudflareaccess.com",
            "my_team",
            "-myteam",
            "my.team",
            ".cloudflareaccess.com",
            &"a".repeat(64),
        ] {
            rejects(
                with(&[("ACCESS_TEAM", bad), ("ACCESS_AUD", TAG)]),
                "ACCESS_TEAM",
                "not a team name",
            );
        }
        rejects(
            with(&[("ACCESS_TEAM", "myteam"), ("ACCESS_AUD", "a,a")]),
            "ACCESS_AUD",
            "twice",
        );
    }

    #[test]
    fn jwt_secret_is_optional_with_issuers() {
        let c = parse(&{
            let mut m = with_idp(&[]);
            m.remove("JWT_SECRET");
            m
        })
        .expect("issuers alone are enough");
        assert_eq!(c.jwt.keys.secret, None);
        assert_eq!(c.jwt.keys.keys_json, None);
        let c = parse(&with(&[
            ("JWT_SECRET", ""),
            ("ACCESS_TEAM", "myteam"),
            ("ACCESS_AUD", "tag"),
        ]))
        .expect("Access alone is enough");
        assert_eq!(c.jwt.keys.secret, None);
        // Neither: refused, naming the ways out.
        rejects(without(&["JWT_SECRET"]), "JWT_SECRET", "ISSUERS");
        // A JWT_SECRET given with issuers is still checked.
        rejects(
            with_idp(&[("JWT_SECRET", "short")]),
            "JWT_SECRET",
            "at least 32 bytes",
        );
    }

    #[test]
    fn jwks_refetch_interval_bounds() {
        for (v, n) in [("1", 1), ("30", 30), ("3600", 3600), (" ", 30)] {
            let c = parse(&with_idp(&[("JWKS_REFETCH_INTERVAL", v)])).expect(v);
            assert_eq!(c.jwt.jwks_refetch_secs, n);
        }
        for (bad, why) in [
            ("0", "1 to 3600"),
            ("3601", "1 to 3600"),
            ("30s", "digits only"),
            ("-1", "digits only"),
            ("030", "leading zeros"),
        ] {
            rejects(
                with_idp(&[("JWKS_REFETCH_INTERVAL", bad)]),
                "JWKS_REFETCH_INTERVAL",
                why,
            );
        }
    }
}
