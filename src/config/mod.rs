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
//! Each value is parsed once, into the type that uses it: a target holds its
//! [`sigv4::Bucket`](crate::sigv4::Bucket) and [`sigv4::Endpoint`](crate::sigv4::Endpoint), the
//! token settings hold the HMAC [`KeySet`](crate::jwt::KeySet) and every inline JWK set, the policy
//! its [`KeyTemplate`](crate::policy::KeyTemplate). Their errors become a [`ConfigError`], which
//! names the variable and the exact problem, and never contains the value of a secret.
//!
//! One file per concept: `targets` (stores and credentials), `tokens` (JWT keys and claim
//! checks), `issuers` (JWKS identity providers), `policy` (what may be signed) and `limits`
//! (request body and CORS). The defaults below are the `DEFAULT_*` constants; a test holds this
//! table and the README's to them.
//!
//! # Variables
//!
//! Secrets (set with `wrangler secret put NAME`, or in `.dev.vars` locally) are marked *secret*.
//!
//! | Variable | Default | Meaning |
//! | --- | --- | --- |
//! | `TARGETS` | `uploads` | Comma list of storage target names (`[a-z][a-z0-9_]*`, at most 32 characters). The first is the default target. `<NAME>` below is a target name in upper case. |
//! | `TARGET_<NAME>_KIND` | required | `r2`, `s3` or `custom`. |
//! | `TARGET_<NAME>_BUCKET` | required | Bucket name, by S3's naming rules: 3 to 63 characters `a-z`, `0-9`, `-`, `.` (no `.` for `r2`), starting and ending with a letter or digit, no `..`, `.-` or `-.`, not shaped like an IP address. |
//! | `TARGET_<NAME>_ACCOUNT_ID` | required for `r2`, refused otherwise | Cloudflare account id (32 hex digits). The endpoint is `https://<account>.r2.cloudflarestorage.com`, the region `auto`. |
//! | `TARGET_<NAME>_REGION` | required for `s3`; `us-east-1` for `custom`; refused for `r2` | Signing region (`a-z`, `0-9`, `-`). For `s3` the endpoint is `https://s3.<region>.amazonaws.com` (`.amazonaws.com.cn` for `cn-` regions). |
//! | `TARGET_<NAME>_ENDPOINT` | required for `custom`, refused otherwise | `http://host[:port]` or `https://host[:port]` (IPv6 in brackets), no path. A default port (80, 443) is dropped. |
//! | `TARGET_<NAME>_PATH_STYLE` | `true` for `r2` and `custom`, `false` for `s3` | `true`: `https://endpoint/bucket/key`; `false`: virtual-hosted `https://bucket.endpoint/key` (refused for IP-address endpoints and, over https, for bucket names with dots). |
//! | `TARGET_<NAME>_POST_POLICY` | `false` | `true`: `/v1/sign` answers PutObject with an S3 POST policy form (`fields`) that bounds the size with `content-length-range`. Refused for `r2` (R2 has no POST uploads). |
//! | `S3_ACCESS_KEY_ID` | required unless every target has its own | *secret*. Access key id for all targets (no `/`, no whitespace). |
//! | `S3_SECRET_ACCESS_KEY` | required with `S3_ACCESS_KEY_ID` | *secret*. Secret access key for all targets. |
//! | `S3_SESSION_TOKEN` | unset | *secret*. Session token for temporary credentials (needs the two above). |
//! | `TARGET_<NAME>_ACCESS_KEY_ID`, `TARGET_<NAME>_SECRET_ACCESS_KEY`, `TARGET_<NAME>_SESSION_TOKEN` | unset | *secret*. Credentials for one target; they replace the three `S3_*` ones as a whole (the id and the secret must both be set). |
//! | `TARGET_<NAME>_WRITE_ACCESS_KEY_ID`, `TARGET_<NAME>_WRITE_SECRET_ACCESS_KEY`, `TARGET_<NAME>_WRITE_SESSION_TOKEN` | unset (the target's credentials) | *secret*. Credentials of uploads only (PutObject, multipart, POST policies, deletes), e.g. write-only ones: a store that executes an unsigned `x-amz-copy-source` added to an upload URL then cannot read the source. The id and the secret must both be set. |
//! | `TARGET_<NAME>_READ_ACCESS_KEY_ID`, `TARGET_<NAME>_READ_SECRET_ACCESS_KEY`, `TARGET_<NAME>_READ_SESSION_TOKEN` | unset (the target's credentials) | *secret*. Credentials of downloads only (GetObject). |
//! | `JWT_SECRET` | at least one of the two is required, unless an issuer (`ISSUERS` or `ACCESS_TEAM`) is configured | *secret*. HMAC secret for tokens without `kid`: raw text, or `base64:` followed by base64; at least 32 bytes (after decoding). |
//! | `JWT_KEYS` | | *secret*. A JSON object `{"kid": "secret", ...}` (key rotation): tokens with a `kid` header use the key of that id. Secrets as for `JWT_SECRET`; no duplicate or empty ids. May be set together with `JWT_SECRET`. |
//! | `JWT_ALGORITHMS` | `HS256` | Comma list of accepted algorithms: `HS256`, `HS384`, `HS512`. |
//! | `JWT_ISSUER` | unset (not checked) | Comma list; when set, the token's `iss` must be one of them. |
//! | `JWT_AUDIENCE` | unset (not checked) | Comma list; when set, the token's `aud` must contain one of them. |
//! | `JWT_LEEWAY` | `60` | Clock skew allowed on `exp` and `nbf`, in seconds, 0 to 600 (`iat` is not checked). |
//! | `JWT_TARGETS` | all targets | Comma list of the targets (from `TARGETS`) that tokens of the HMAC keys may use; refused when no HMAC key is set. |
//! | `JWT_HEADER` | `authorization` | Request header carrying the token. `authorization` uses the `Bearer` scheme; any other header carries the bare token. |
//! | `ISSUERS` | unset | Comma list of identity-provider names (`[a-z][a-z0-9_]*`, at most 32 characters) whose tokens are signed with public keys from a JWKS. A token is checked against the issuer whose `ISSUER_<NAME>_ISS` equals its `iss`; other tokens use the HMAC keys above. `access` and `local` are reserved. `<NAME>` below is an issuer name in upper case. |
//! | `ISSUER_<NAME>_ISS` | required | The exact `iss` of this provider's tokens (unique across issuers). |
//! | `ISSUER_<NAME>_JWKS_URL` | one of the two is required | URL of the provider's JWK set: `https://`, or `http://` on a loopback host only (`127.0.0.1`, `localhost`, `[::1]`). Fetched on first use, cached per isolate and in the Cache API. |
//! | `ISSUER_<NAME>_JWKS` | | The JWK set itself (`{"keys":[...]}`), for keys that never rotate or for tests. |
//! | `ISSUER_<NAME>_AUDIENCE` | required | Comma list; the token's `aud` must contain one of them. |
//! | `ISSUER_<NAME>_TARGETS` | all targets | Comma list of the targets (from `TARGETS`) that this provider's tokens may use. |
//! | `ISSUER_<NAME>_ALGORITHMS` | `RS256` | Comma list of accepted algorithms: `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA` (HMAC is never accepted with public keys). |
//! | `ACCESS_TEAM` | unset | Cloudflare Access preset: the team name (`<team>` of `<team>.cloudflareaccess.com`, or that whole host). Adds the issuer `access` with `iss` `https://<team>.cloudflareaccess.com`, the JWKS `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs` and `RS256`, and reads the token from the `Cf-Access-Jwt-Assertion` header when `JWT_HEADER` carries none. |
//! | `ACCESS_AUD` | required with `ACCESS_TEAM` | The Access application's audience (AUD) tag. |
//! | `ACCESS_TARGETS` | all targets | Comma list of the targets (from `TARGETS`) that the Access preset's tokens may use. |
//! | `JWKS_REFETCH_INTERVAL` | `30` | Seconds, 1 to 3600: a token with an unknown `kid` refetches its issuer's JWKS at most once per interval. |
//! | `KEY_TEMPLATE` | `{sub}/{uuid}/{filename}` | Object key template. Placeholders: `{sub}` (token subject), `{iss}` (the name of the token's issuer: `local` for the HMAC keys, the `ISSUERS` entry, `access`), `{uuid}` (random UUID), `{filename}` (sanitised file name), `{date}` (UTC `YYYY-MM-DD`), `{ext}` (file extension). Must contain `{sub}` and one of `{uuid}`, `{filename}`; `{iss}` at most once, as a whole segment with only literal text before it. When tokens of more than one issuer are accepted (HMAC keys and an issuer, or several issuers) and there is no `{iss}`, `<issuer>/` is put in front (`local/{sub}/{uuid}/{filename}`); literal text is limited to `A-Z a-z 0-9 / - _ . =`; no leading or trailing `/`, no `//`, no `.` or `..` segment; at most 256 bytes. |
//! | `ALLOWED_CONTENT_TYPES` | `image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/octet-stream` | Comma list of media types allowed for uploads: exact (`image/png`), a whole type (`image/*`), or `*/*` for any type. Wildcards never match active content (HTML, SVG and all XML, JavaScript, ...: `policy::is_active_content`), which only an exact entry admits; the default leaves it out. |
//! | `MAX_UPLOAD_SIZE` | `104857600` (100 MiB) | Largest upload in bytes, 1 to 5368709120 (5 GiB, the limit of a single S3 PUT). |
//! | `URL_TTL` | `300` | Lifetime of presigned URLs in seconds, 1 to 604800 (7 days). |
//! | `ALLOW_URL_PAST_TOKEN_EXPIRY` | `false` | `true` lets a URL outlive the token that obtained it. |
//! | `ALLOW_DELETE` | `false` | `true` lets `/v1/sign` sign DeleteObject for keys the token grants. |
//! | `ALLOW_OVERWRITE` | `false` | `true` signs writes to keys that may already exist (client-named, or from a template without `{uuid}`) without `If-None-Match: *`, so they may replace an object. |
//! | `CORS_ALLOWED_ORIGINS` | unset (no CORS) | Comma list of exact origins `scheme://host[:port]` (`*` and `null` are refused). |
//! | `CORS_MAX_AGE` | `600` | `Access-Control-Max-Age` of preflight answers, 0 to 86400 seconds. |
//! | `MAX_BODY_BYTES` | `16384` | Largest accepted JSON request body in bytes, 256 to 1048576. |
//! | `QUOTA_BYTES_PER_DAY` | unset (no budget) | Bytes a subject (issuer + `sub`) may be granted per rolling day, 1 to 2^53, kept in the `LEDGER` Durable Object. A token's `quota_bytes_per_day` claim may lower it. |
//! | `QUOTA_GRANTS_PER_HOUR` | unset (no budget) | Upload grants a subject may get per rolling hour, 1 to 2^53; a token's `quota_grants_per_hour` claim may lower it. |
//! | `RECEIPT_SECRET` | unset (no receipts) | *secret*. HS256 key of the receipts of `/v1/uploads/complete`: raw text or `base64:…`, at least 32 bytes, never a token key (`JWT_SECRET`, `JWT_KEYS`). Unset, like `RECEIPT_SIGNING_KEY`: the route answers `501 receipts_not_configured`. |
//! | `RECEIPT_SIGNING_KEY` | unset (no EdDSA receipts) | *secret*. Ed25519 private key of EdDSA receipts instead (refused together with `RECEIPT_SECRET`): a PKCS#8 PEM block (`-----BEGIN PRIVATE KEY-----`, from `openssl genpkey -algorithm ed25519`; line breaks may be written `\n`) or a private OKP JWK (`{"kty":"OKP","crv":"Ed25519","d":…,"x":…}`, `x` checked against `d`). Never a key of an issuer's inline `ISSUER_<NAME>_JWKS`. Its public key is served by `GET /v1/receipts/jwks.json`, with the RFC 7638 thumbprint as `kid` (the receipts' header names it). |
//! | `RECEIPT_PREVIOUS_KEYS` | unset | The rotation of `RECEIPT_SIGNING_KEY`: the public keys of earlier signing keys, as the JWK set `GET /v1/receipts/jwks.json` served (`{"keys": [...]}`, 1 to 16 Ed25519 public keys; a private key, another key type, a `kid` that is not the thumbprint or a key listed twice are refused). Published after the current key (which they may list: it is not published twice), so that receipts signed before a rotation still verify; published even without a signing key. |
//! | `RECEIPT_ISSUER` | `presign-worker` | The `iss` of the receipts (at most 256 bytes). |
//! | `DELETE_MISMATCHED` | `false` | `true`: `/v1/uploads/complete` deletes an object whose first bytes are not of its content type (the answer says `"deleted": true`). |
//! | `SINGLE_USE_TOKENS` | `false` | `true`: every token must carry `jti` and `exp` and grants once (a token's `single_use: true` claim asks the same when the ledger is on). |

mod issuers;
mod limits;
mod policy;
mod quota;
mod receipts;
mod targets;
mod tokens;
mod webhook;

use std::fmt;

use crate::jwt::Algorithm;
use crate::sigv4::{Endpoint, EndpointError};

pub use issuers::{IssuerConfig, JwksSource};
pub use limits::CorsConfig;
pub use policy::{ContentTypeRule, PolicyConfig};
pub use quota::QuotaConfig;
pub(crate) use receipts::check_public_key as check_receipt_key;
pub use receipts::ReceiptConfig;
pub use targets::{Access, S3Credentials, TargetConfig, TargetKind};
pub use tokens::JwtConfig;
pub use webhook::WebhookConfig;

/// Default of `TARGETS`.
pub(crate) const DEFAULT_TARGETS: &str = "uploads";
/// Default of `TARGET_<NAME>_REGION` for `custom` targets.
pub(crate) const DEFAULT_CUSTOM_REGION: &str = "us-east-1";
/// Default of `TARGET_<NAME>_POST_POLICY`.
pub(crate) const DEFAULT_POST_POLICY: bool = false;
/// Default of `JWT_ALGORITHMS`.
pub(crate) const DEFAULT_JWT_ALGORITHM: Algorithm = Algorithm::HS256;
/// Default of `ISSUER_<NAME>_ALGORITHMS` (and the algorithm of the Cloudflare Access preset).
pub(crate) const DEFAULT_ISSUER_ALGORITHM: Algorithm = Algorithm::RS256;
/// Default of `KEY_TEMPLATE`.
pub(crate) const DEFAULT_KEY_TEMPLATE: &str = "{sub}/{uuid}/{filename}";
/// Default of `ALLOWED_CONTENT_TYPES`.
pub(crate) const DEFAULT_ALLOWED_CONTENT_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/octet-stream";
/// Default of `MAX_UPLOAD_SIZE`: 100 MiB.
pub(crate) const DEFAULT_MAX_UPLOAD_SIZE: u64 = 100 * 1024 * 1024;
/// Upper bound of `MAX_UPLOAD_SIZE`: 5 GiB, the largest single S3 `PUT`.
pub(crate) const MAX_MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Default of `URL_TTL`, in seconds.
pub(crate) const DEFAULT_URL_TTL: u64 = 300;
/// Upper bound of `URL_TTL`: 7 days, the SigV4 presigning limit.
pub(crate) const MAX_URL_TTL: u64 = 604_800;
/// Default of `MULTIPART_LIFETIME`, in seconds: a day.
pub(crate) const DEFAULT_MULTIPART_LIFETIME: u64 = 86_400;
/// Upper bound of `MULTIPART_LIFETIME`: 7 days.
pub(crate) const MAX_MULTIPART_LIFETIME: u64 = 604_800;
/// Default of `ALLOW_URL_PAST_TOKEN_EXPIRY`.
pub(crate) const DEFAULT_ALLOW_URL_PAST_TOKEN_EXPIRY: bool = false;
/// Default of `ALLOW_DELETE`.
pub(crate) const DEFAULT_ALLOW_DELETE: bool = false;
/// Default of `ALLOW_OVERWRITE`.
pub(crate) const DEFAULT_ALLOW_OVERWRITE: bool = false;
/// Default of `DELETE_MISMATCHED`.
pub(crate) const DEFAULT_DELETE_MISMATCHED: bool = false;
/// Default of `JWT_LEEWAY`, in seconds.
pub(crate) const DEFAULT_JWT_LEEWAY: u64 = 60;
/// Default of `JWT_HEADER`.
pub(crate) const DEFAULT_JWT_HEADER: &str = "authorization";
/// Default of `CORS_MAX_AGE`, in seconds.
pub(crate) const DEFAULT_CORS_MAX_AGE: u64 = 600;
/// Default of `MAX_BODY_BYTES`.
pub(crate) const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024;
/// Default of `JWKS_REFETCH_INTERVAL`, in seconds.
pub(crate) const DEFAULT_JWKS_REFETCH_INTERVAL: u64 = 30;
/// Name of the HMAC keys (`JWT_SECRET`, `JWT_KEYS`) as an issuer: what `{iss}` is for their
/// tokens, and their key prefix when several issuers are configured.
pub(crate) const HMAC_ISSUER_NAME: &str = "local";
/// Name of the issuer added by the Cloudflare Access preset (`ACCESS_TEAM`).
pub(crate) const ACCESS_ISSUER_NAME: &str = "access";
/// Header in which Cloudflare Access sends its token.
pub const ACCESS_HEADER: &str = "cf-access-jwt-assertion";
/// Minimum length in bytes of an HMAC secret (`JWT_SECRET`, each `JWT_KEYS` entry).
pub(crate) const MIN_JWT_SECRET_BYTES: usize = 32;

/// The whole validated configuration.
#[derive(Debug, Clone)]
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
    /// The upload ledger's budgets and single-use tokens (off unless set).
    pub quota: QuotaConfig,
    /// The signed receipts of `/v1/uploads/complete` (off unless `RECEIPT_SECRET` or
    /// `RECEIPT_SIGNING_KEY` is set).
    pub receipts: ReceiptConfig,
    /// Completion webhooks (off unless set).
    pub webhook: Option<WebhookConfig>,
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

    /// `variable` (one name, or several joined by `, `) is bound, but not to text: a `[vars]`
    /// value of `wrangler.toml` written without quotes (a number, a boolean, an array), which
    /// the runtime hands over as JSON.
    pub fn not_text(variable: impl Into<String>) -> Self {
        ConfigError::new(
            variable,
            "is not text: write its value in quotes in wrangler.toml's [vars] (e.g. \"10485760\", \"true\", \"image/png,image/jpeg\")",
        )
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
        let config = Config {
            targets: targets::parse_targets(&vars)?,
            jwt: tokens::parse_jwt(&vars)?,
            policy: policy::parse_policy(&vars)?,
            cors: limits::parse_cors(&vars)?,
            max_body_bytes: limits::parse_max_body_bytes(&vars)?,
            quota: quota::parse_quota(&vars)?,
            receipts: receipts::parse_receipts(&vars)?,
            webhook: webhook::parse_webhook(&vars)?,
        };
        check_targets(&config)?;
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(key) = &config.receipts.signing_key {
            // In the worker, where no curve arithmetic is linked, the same checks run on the
            // first receipt, once WebCrypto derived the public key.
            check_receipt_key(&config, key, &crate::jwt::ed25519::derive_public(key))?;
        }
        Ok(config)
    }
}

/// Every target named in `JWT_TARGETS`, `ISSUER_<NAME>_TARGETS` and `ACCESS_TARGETS` is one of
/// `TARGETS`.
fn check_targets(config: &Config) -> Result<()> {
    let check = |var: &dyn Fn() -> String, list: &Option<Vec<String>>| {
        let unknown = list
            .iter()
            .flatten()
            .find(|name| !config.targets.iter().any(|t| &t.name == *name));
        match unknown {
            Some(name) => Err(ConfigError::new(
                var(),
                format!("{} is not one of TARGETS", show(name)),
            )),
            None => Ok(()),
        }
    };
    check(&|| "JWT_TARGETS".to_owned(), &config.jwt.targets)?;
    for i in &config.jwt.jwks_issuers {
        let var = || match i.name.as_str() {
            ACCESS_ISSUER_NAME => "ACCESS_TARGETS".to_owned(),
            name => format!("ISSUER_{}_TARGETS", name.to_ascii_uppercase()),
        };
        check(&var, &i.targets)?;
    }
    Ok(())
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

    /// A secret that may span lines (a PEM block): trimmed, `None` when unset or blank.
    /// Refuses control characters other than line breaks and tabs, without echoing the value.
    fn multiline_secret(&self, name: &str) -> Result<Option<String>> {
        let Some(v) = (self.lookup)(name) else {
            return Ok(None);
        };
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        if v.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ConfigError::new(name, "contains control characters"));
        }
        Ok(Some(v.to_owned()))
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

/// A comma list of claim values (issuers, audiences): no control characters.
fn claim_values(name: &str, v: &str) -> Result<Vec<String>> {
    let items = parse_list(name, v)?;
    if items.iter().any(|i| i.chars().any(char::is_control)) {
        return Err(ConfigError::new(name, "contains control characters"));
    }
    Ok(items)
}

/// A target or issuer name: a lower-case letter, then lower-case letters, digits or `_`, at
/// most 32 characters (it becomes part of variable names in upper case).
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// `http(s)://host[:port]` of variable `var`; `trailing_slash` accepts (and drops) one `/`.
fn parse_endpoint(var: &str, raw: &str, trailing_slash: bool) -> Result<Endpoint> {
    Endpoint::parse_checked(raw, trailing_slash).map_err(|why: EndpointError| {
        ConfigError::new(
            var,
            format!("{} is not scheme://host[:port]: {why}", show(raw)),
        )
    })
}

/// What the tests of every concept share: a valid base configuration and the checks on it.
#[cfg(test)]
mod testing {
    pub(super) use super::*;
    pub(super) use std::collections::HashMap;

    use crate::jwt::{self, KeySet, Validation};

    pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef";

    pub(super) fn base() -> HashMap<String, String> {
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

    pub(super) fn parse(vars: &HashMap<String, String>) -> Result<Config> {
        Config::from_lookup(&|k: &str| vars.get(k).cloned())
    }

    pub(super) fn with(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m = base();
        for (k, v) in pairs {
            m.insert((*k).to_owned(), (*v).to_owned());
        }
        m
    }

    pub(super) fn without(keys: &[&str]) -> HashMap<String, String> {
        let mut m = base();
        for k in keys {
            m.remove(*k);
        }
        m
    }

    /// Asserts rejection, naming `var`, with `needle` in the message.
    #[track_caller]
    pub(super) fn rejects(vars: HashMap<String, String>, var: &str, needle: &str) {
        match parse(&vars) {
            Ok(c) => panic!("expected {var} to be rejected, got {c:?}"),
            Err(e) => {
                assert_eq!(e.variable, var, "{e}");
                assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
            }
        }
    }

    /// Whether `keys` accept an HS256 token signed with `secret` (raw bytes) and `kid`.
    pub(super) fn verifies(keys: &KeySet, secret: &[u8], kid: Option<&str>) -> bool {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), "alice".into());
        claims.insert("exp".into(), 100.into());
        let token = jwt::sign_hs(jwt::Algorithm::HS256, secret, kid, &claims);
        jwt::verify(&token, keys, &Validation::default(), 0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use crate::sigv4::AddressingStyle;

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
        assert_eq!(t.bucket.name(), "uploads");
        assert_eq!(t.endpoint.to_string(), "http://127.0.0.1:9000");
        assert_eq!(t.endpoint.authority(), "127.0.0.1:9000");
        assert_eq!(t.region, "us-east-1");
        assert!(t.path_style());
        assert_eq!(t.credentials.access_key_id, "AKIDEXAMPLE");
        assert_eq!(t.credentials.session_token, None);
        // JWT_SECRET alone: one key, without kid.
        assert_eq!(c.jwt.keys.len(), 1);
        assert!(verifies(&c.jwt.keys, SECRET.as_bytes(), None));
        assert_eq!(c.jwt.algorithms, vec![Algorithm::HS256]);
        assert!(c.jwt.issuers.is_empty() && c.jwt.audiences.is_empty());
        assert_eq!(c.jwt.leeway_secs, 60);
        assert_eq!(c.jwt.header, "authorization");
        assert!(c.jwt.bearer_scheme);
        assert_eq!(c.policy.key_template.raw, DEFAULT_KEY_TEMPLATE);
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
        assert!(ar.path_style());
        assert_eq!(ar.bucket.origin(), "https://s3.eu-west-1.amazonaws.com");
        assert_eq!(ar.bucket.path_prefix(), "/my.archive/");
        assert_eq!(ar.credentials.access_key_id, "AKIAARCHIVE");
        assert_eq!(ar.credentials.session_token.as_deref(), Some("tok"));
        let eu = &c.targets[2];
        assert_eq!(eu.kind, TargetKind::R2);
        assert_eq!(
            eu.endpoint.to_string(),
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
        );
        assert_eq!(eu.region, "auto");
        assert!(eu.path_style());
        assert_eq!(eu.bucket.style(), AddressingStyle::Path);
        assert_eq!(c.jwt.algorithms, vec![Algorithm::HS512, Algorithm::HS256]);
        assert_eq!(c.jwt.issuers, ["https://issuer.example"]);
        assert_eq!(c.jwt.audiences, ["uploads", "web"]);
        assert_eq!(c.jwt.leeway_secs, 0);
        assert_eq!(c.jwt.header, "x-upload-token");
        assert!(!c.jwt.bearer_scheme);
        assert_eq!(c.policy.key_template.raw, "in/{date}/{sub}/{uuid}.{ext}");
        assert!(c.policy.content_type_allowed("image/png"));
        // `image/*` never matches active content (see `policy::is_active_content`).
        assert!(!c.policy.content_type_allowed("image/svg+xml"));
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

    /// The defaults, as the two tables write them (`` `value` `` in the Default column).
    fn documented_defaults() -> Vec<(&'static str, String)> {
        let n = |v: u64| v.to_string();
        vec![
            ("TARGETS", DEFAULT_TARGETS.to_owned()),
            ("TARGET_<NAME>_REGION", DEFAULT_CUSTOM_REGION.to_owned()),
            ("TARGET_<NAME>_POST_POLICY", DEFAULT_POST_POLICY.to_string()),
            ("JWT_ALGORITHMS", DEFAULT_JWT_ALGORITHM.name().to_owned()),
            ("JWT_LEEWAY", n(DEFAULT_JWT_LEEWAY)),
            ("JWT_HEADER", DEFAULT_JWT_HEADER.to_owned()),
            (
                "ISSUER_<NAME>_ALGORITHMS",
                DEFAULT_ISSUER_ALGORITHM.name().to_owned(),
            ),
            ("JWKS_REFETCH_INTERVAL", n(DEFAULT_JWKS_REFETCH_INTERVAL)),
            ("KEY_TEMPLATE", DEFAULT_KEY_TEMPLATE.to_owned()),
            (
                "ALLOWED_CONTENT_TYPES",
                DEFAULT_ALLOWED_CONTENT_TYPES.to_owned(),
            ),
            ("MAX_UPLOAD_SIZE", n(DEFAULT_MAX_UPLOAD_SIZE)),
            ("URL_TTL", n(DEFAULT_URL_TTL)),
            (
                "ALLOW_URL_PAST_TOKEN_EXPIRY",
                DEFAULT_ALLOW_URL_PAST_TOKEN_EXPIRY.to_string(),
            ),
            ("ALLOW_DELETE", DEFAULT_ALLOW_DELETE.to_string()),
            ("ALLOW_OVERWRITE", DEFAULT_ALLOW_OVERWRITE.to_string()),
            ("CORS_MAX_AGE", n(DEFAULT_CORS_MAX_AGE)),
            ("MAX_BODY_BYTES", n(DEFAULT_MAX_BODY_BYTES)),
            (
                "RECEIPT_ISSUER",
                receipts::DEFAULT_RECEIPT_ISSUER.to_owned(),
            ),
            ("DELETE_MISMATCHED", DEFAULT_DELETE_MISMATCHED.to_string()),
        ]
    }

    /// The Default column of the row of `variable` in the Markdown table in `text`; `prefix`
    /// is what starts each line (`//! ` in Rust docs).
    fn default_cell<'t>(text: &'t str, prefix: &str, variable: &str) -> Option<&'t str> {
        let first = format!("| `{variable}` |");
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .find(|l| l.starts_with(&first))
            .and_then(|l| l.split(" | ").nth(1))
    }

    #[test]
    fn documented_defaults_are_the_constants() {
        let module_doc = include_str!("mod.rs");
        let readme = include_str!("../../README.md");
        for (variable, value) in documented_defaults() {
            let quoted = format!("`{value}`");
            for (doc, text, prefix) in [
                ("src/config/mod.rs", module_doc, "//! "),
                ("README.md", readme, ""),
            ] {
                let cell = default_cell(text, prefix, variable)
                    .unwrap_or_else(|| panic!("{doc} has no row for {variable}"));
                assert!(
                    cell.contains(&quoted),
                    "{doc}: the default of {variable} is {quoted}, the table says {cell:?}"
                );
            }
        }
        // The parser uses them: an empty configuration (but what is required) gets them.
        let c = parse(&base()).expect("valid");
        assert_eq!(c.jwt.algorithms, [DEFAULT_JWT_ALGORITHM]);
        assert_eq!(c.targets[0].region, DEFAULT_CUSTOM_REGION);
        assert_eq!(c.targets[0].post_policy, DEFAULT_POST_POLICY);
        assert_eq!(c.policy.allow_delete, DEFAULT_ALLOW_DELETE);
        assert_eq!(c.jwt.leeway_secs, DEFAULT_JWT_LEEWAY);
        assert_eq!(c.cors.max_age_secs, DEFAULT_CORS_MAX_AGE);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }
}
