//! The authorisation policy: from verified claims, the configuration and a request to exactly
//! what may be signed (key, content type, size, lifetime). Pure and deterministic: the time,
//! the random bytes and Unicode normalisation are given by the caller.
//!
//! # What a token grants
//!
//! - **Uploads** get a key made by the server from `KEY_TEMPLATE` (default
//!   `{sub}/{uuid}/{filename}`). With a `prefix` claim, the key is placed inside that prefix
//!   (prepended unless the template already starts with it). A client may name its own key only
//!   inside its grant (below).
//! - **The grant** of a token is its `prefix` claim when present; otherwise the template's text
//!   up to its first placeholder other than `{sub}`, cut after the last `/`, provided a segment
//!   holding `{sub}` is complete by then (`alice/` for the default template and subject
//!   `alice`; none for `uploads/{sub}-{uuid}/{filename}`, where `uploads/` would hold every
//!   subject's keys). A token without either may upload only under server-made keys and may
//!   not download.
//! - **Downloads** and client-named keys must start with the grant.
//! - **Content types** must be allowed by the configuration and, when the token has a
//!   `content_types` claim, by one of its patterns too (a claim narrows, never widens).
//! - **Size** must not exceed the configured maximum nor the token's `max_size` claim.
//! - **Lifetime**: the configured `URL_TTL`, cut to the token's remaining life unless
//!   `ALLOW_URL_PAST_TOKEN_EXPIRY` is set.
//! - **Issuers**: the template, grant and keys above are those of the token's issuer
//!   ([`Scope`]): `{iss}` is its short name, and when tokens of several issuers are accepted
//!   every key of one issuer lies under a prefix of its own. **Targets** are limited per issuer
//!   and by the token's `targets` claim.

mod scope;
pub mod sniff;
mod template;

use std::fmt;

pub use scope::Scope;
pub use template::{KeyTemplate, KeyTemplatePart, Placeholder};

use crate::config::PolicyConfig;
use crate::jwt::Claims;
use crate::sigv4::{AmzDate, MAX_EXPIRES, MAX_KEY_LEN};

/// Longest file name kept in a key, in bytes (longer names are shortened, extension kept).
pub const MAX_FILENAME_BYTES: usize = 200;
/// Longest grant prefix accepted from a `prefix` claim, in bytes.
pub const MAX_PREFIX_BYTES: usize = 512;
/// Most user metadata S3 accepts (names and values), in bytes.
pub const MAX_METADATA_BYTES: usize = 2048;

/// Whether a refusal is about who asks (403) or about what is asked (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token does not allow this (HTTP 403).
    Forbidden,
    /// The request breaks a rule (HTTP 422).
    Invalid,
}

/// A policy refusal with a stable code and a message for the client (no secrets in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 403 or 422.
    pub refusal: Refusal,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl PolicyError {
    /// The token does not allow this (403).
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::Forbidden,
            code,
            message: message.into(),
        }
    }

    /// The request breaks a rule (422).
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::Invalid,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Characters never allowed in a key or file name: control characters and the invisible
/// direction overrides that make `evil\u{202E}gnp.exe` display as `evilexe.png`.
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Sanitises a client's file name (already in Unicode NFC): keeps the last path component
/// (`C:\fakepath\a.png` → `a.png`), trims spaces and trailing dots, refuses control and
/// direction-override characters, `.` and `..`, and shortens it to [`MAX_FILENAME_BYTES`]
/// keeping the extension.
pub fn sanitize_filename(nfc_name: &str) -> Result<String, PolicyError> {
    let bad = |why: &str| PolicyError::invalid("invalid_filename", format!("filename {why}"));
    let base = nfc_name.rsplit(['/', '\\']).next().unwrap_or_default();
    if base.chars().any(is_forbidden_char) {
        return Err(bad("contains a control or direction-override character"));
    }
    let name = base.trim().trim_end_matches(['.', ' ']);
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("is empty once path components and dots are removed"));
    }
    if name.len() <= MAX_FILENAME_BYTES {
        return Ok(name.to_owned());
    }
    let ext = extension_with_dot(name);
    let mut stem_len = MAX_FILENAME_BYTES - ext.len();
    while !name.is_char_boundary(stem_len) {
        stem_len -= 1;
    }
    Ok(format!("{}{}", &name[..stem_len], ext))
}

/// `.ext` when the name has a short alphanumeric extension, else empty.
fn extension_with_dot(name: &str) -> &str {
    match name.rfind('.') {
        Some(i)
            if i > 0
                && name.len() - i <= 17
                && name[i + 1..].bytes().all(|b| b.is_ascii_alphanumeric())
                && i + 1 < name.len() =>
        {
            &name[i..]
        }
        _ => "",
    }
}

/// The lower-case extension of a file name without the dot (`photo.JPG` → `jpg`), or empty.
pub fn extension(filename: &str) -> String {
    extension_with_dot(filename)
        .trim_start_matches('.')
        .to_ascii_lowercase()
}

/// Checks a full object key named by a client: at most 1024 bytes, no control or
/// direction-override characters, no `\`, and no empty, `.` or `..` segment.
pub fn validate_key(key: &str) -> Result<(), PolicyError> {
    let bad = |why: &str| PolicyError::invalid("invalid_key", format!("key {why}"));
    if key.is_empty() {
        return Err(bad("is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(bad("is longer than 1024 bytes"));
    }
    if key.chars().any(|c| is_forbidden_char(c) || c == '\\') {
        return Err(bad(
            "contains a control, direction-override or backslash character",
        ));
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad("has an empty, '.' or '..' segment"));
    }
    Ok(())
}

/// What a verified token may touch: its subject and its key prefix, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token subject, usable as one key segment.
    pub sub: String,
    /// Keys starting with this may be read and named by the client; `None`: no such keys.
    pub prefix: Option<String>,
    /// Whether the prefix came from the `prefix` claim (uploads are then placed inside it).
    pub prefix_from_claim: bool,
}

impl Grant {
    /// The grant of `claims` under `template` (see the module documentation).
    pub fn new(claims: &Claims, template: &KeyTemplate) -> Result<Self, PolicyError> {
        let sub = claims
            .sub
            .as_deref()
            .ok_or_else(|| PolicyError::forbidden("no_subject", "the token has no subject"))?;
        if sub.is_empty()
            || sub.len() > 256
            || sub == "."
            || sub == ".."
            || sub.contains(['/', '\\'])
            || sub.chars().any(is_forbidden_char)
        {
            return Err(PolicyError::forbidden(
                "invalid_subject",
                "the token subject cannot be used in a key",
            ));
        }
        if let Some(p) = claims.prefix.as_deref() {
            let bad = || {
                PolicyError::forbidden(
                    "invalid_prefix_claim",
                    "the token's prefix claim is not a usable key prefix",
                )
            };
            if p.is_empty()
                || p.len() > MAX_PREFIX_BYTES
                || p.starts_with('/')
                || p.chars().any(|c| is_forbidden_char(c) || c == '\\')
            {
                return Err(bad());
            }
            // Every complete segment must be a real name (the last one may be partial).
            let complete = p.rsplit_once('/').map_or("", |(head, _)| head);
            if !complete.is_empty()
                && complete
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..")
            {
                return Err(bad());
            }
            if p.rsplit('/')
                .next()
                .is_some_and(|last| last == "." || last == "..")
            {
                return Err(bad());
            }
            return Ok(Self {
                sub: sub.to_owned(),
                prefix: Some(p.to_owned()),
                prefix_from_claim: true,
            });
        }
        Ok(Self {
            sub: sub.to_owned(),
            prefix: implicit_prefix(template, sub),
            prefix_from_claim: false,
        })
    }

    /// Refuses a key outside the grant (for downloads and client-named upload keys).
    pub fn check_key(&self, key: &str) -> Result<(), PolicyError> {
        validate_key(key)?;
        match &self.prefix {
            Some(p) if key.starts_with(p.as_str()) => Ok(()),
            Some(_) => Err(PolicyError::forbidden(
                "key_not_granted",
                "the key is outside what the token grants",
            )),
            None => Err(PolicyError::forbidden(
                "key_not_granted",
                "the token grants no keys to name or read",
            )),
        }
    }
}

/// The grant of subject `sub` without a `prefix` claim: the keys of `template` up to the `/`
/// that closes a segment holding `{sub}`, when that comes before any other placeholder (for
/// `{sub}/{uuid}/{filename}`, `alice/`). Such a segment is literal text and `{sub}` only, and a
/// subject holds no `/`, so it differs for every subject: no subject's grant holds another's
/// keys. `None` when no `{sub}` segment is complete before another placeholder
/// (`uploads/{sub}-{uuid}/...`: the text `uploads/` would be everyone's, whatever the subject).
fn implicit_prefix(template: &KeyTemplate, sub: &str) -> Option<String> {
    let mut prefix = String::new();
    // The end of the last complete segment, and whether a complete segment holds `{sub}`.
    let (mut cut, mut owned) = (0, false);
    let mut segment_has_sub = false;
    for part in &template.parts {
        match part {
            KeyTemplatePart::Literal(text) => {
                for (i, c) in text.char_indices() {
                    if c == '/' {
                        cut = prefix.len() + i + 1;
                        owned |= segment_has_sub;
                        segment_has_sub = false;
                    }
                }
                prefix.push_str(text);
            }
            KeyTemplatePart::Placeholder(Placeholder::Sub) => {
                prefix.push_str(sub);
                segment_has_sub = true;
            }
            KeyTemplatePart::Placeholder(_) => break,
        }
    }
    owned.then(|| {
        prefix.truncate(cut);
        prefix
    })
}

/// Fills the key template for an upload. `template` is the issuer's ([`Scope::template`]: no
/// `{iss}` left; one left is refused); `filename` must already be sanitised; `uuid` is 16
/// random bytes from the caller; `now` is Unix seconds.
pub fn upload_key(
    grant: &Grant,
    template: &KeyTemplate,
    filename: &str,
    uuid: [u8; 16],
    now: u64,
) -> Result<String, PolicyError> {
    let mut key = String::with_capacity(template.raw.len() + filename.len() + 64);
    for part in &template.parts {
        match part {
            KeyTemplatePart::Literal(text) => key.push_str(text),
            KeyTemplatePart::Placeholder(p) => match p {
                Placeholder::Sub => key.push_str(&grant.sub),
                Placeholder::Uuid => push_uuid_v4(&mut key, uuid),
                Placeholder::Filename => key.push_str(filename),
                Placeholder::Ext => key.push_str(&extension(filename)),
                Placeholder::Iss => {
                    return Err(PolicyError::invalid(
                        "invalid_key",
                        "the key template was not resolved for the token's issuer",
                    ))
                }
                Placeholder::Date => {
                    let d = AmzDate::from_unix(now).ok_or_else(|| {
                        PolicyError::invalid("invalid_time", "the clock is out of range")
                    })?;
                    let d = d.date();
                    key.push_str(&d[..4]);
                    key.push('-');
                    key.push_str(&d[4..6]);
                    key.push('-');
                    key.push_str(&d[6..8]);
                }
            },
        }
    }
    if let (true, Some(p)) = (grant.prefix_from_claim, grant.prefix.as_deref()) {
        if !key.starts_with(p) {
            key.insert_str(0, p);
        }
    }
    if key.len() > MAX_KEY_LEN {
        return Err(PolicyError::invalid(
            "key_too_long",
            "the object key would be longer than 1024 bytes; use a shorter filename",
        ));
    }
    validate_key(&key)?;
    Ok(key)
}

/// Writes a version-4 UUID made from 16 random bytes (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
fn push_uuid_v4(out: &mut String, mut b: [u8; 16]) {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut hex = [0u8; 32];
    // 16 bytes always fit 32 hex digits.
    let _ = hex::encode_to_slice(b, &mut hex);
    for (i, chunk) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        out.push_str(core::str::from_utf8(&hex[chunk]).unwrap_or_default());
    }
}

/// Whether `s` is a media type's type or subtype: the restricted names of RFC 6838 §4.2.
fn is_type_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2), as parameter names and unquoted values are.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `rest`, what follows `type/subtype` in a `Content-Type` value, is a list of
/// parameters: `*( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )` (RFC 9110 §8.3.1),
/// printable ASCII only. A comma is refused anywhere, also quoted: browsers split a
/// `Content-Type` on commas and use the last type (WHATWG Fetch, "extract a MIME type"), so
/// `image/png; a=b, text/html` would be checked as a PNG and rendered as HTML.
fn media_type_params_ok(rest: &str) -> bool {
    if !rest
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
        || rest.contains(',')
    {
        return false;
    }
    let ows = |s: &str| s.trim_start_matches([' ', '\t']).len();
    let mut s = rest;
    loop {
        s = &s[s.len() - ows(s)..];
        let Some(after) = s.strip_prefix(';') else {
            return s.is_empty();
        };
        s = &after[after.len() - ows(after)..];
        if s.is_empty() || s.starts_with(';') {
            continue;
        }
        let Some((name, value)) = s.split_once('=') else {
            return false;
        };
        if !is_token(name) {
            return false;
        }
        s = if let Some(quoted) = value.strip_prefix('"') {
            // qdtext or a quoted-pair, up to the closing quote.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            match end {
                Some(i) => &quoted[i + 1..],
                None => return false,
            }
        } else {
            let len = value.find([';', ' ', '\t']).unwrap_or(value.len());
            if !is_token(&value[..len]) {
                return false;
            }
            &value[len..]
        };
    }
}

/// The lower-case `type/subtype` of a `Content-Type` value, if the whole value is well formed
/// (see `media_type_params_ok` for its parameters).
pub fn media_type_essence(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t']);
    let end = value.find(';').unwrap_or(value.len());
    let main = value[..end].trim_end_matches([' ', '\t']);
    let (ty, sub) = main.split_once('/')?;
    (is_type_name(ty) && is_type_name(sub) && media_type_params_ok(&value[end..]))
        .then(|| main.to_ascii_lowercase())
}

/// The JavaScript MIME types of the WHATWG MIME Sniffing standard (§4.6), lower case.
const JAVASCRIPT_TYPES: &[&str] = &[
    "application/ecmascript",
    "application/javascript",
    "application/x-ecmascript",
    "application/x-javascript",
    "text/ecmascript",
    "text/javascript",
    "text/javascript1.0",
    "text/javascript1.1",
    "text/javascript1.2",
    "text/javascript1.3",
    "text/javascript1.4",
    "text/javascript1.5",
    "text/jscript",
    "text/livescript",
    "text/x-ecmascript",
    "text/x-javascript",
];

/// Whether a browser may run code from an object of media type `essence` (lower case
/// `type/subtype`) when the store serves it from its own origin: HTML; XML of any kind
/// (`text/xml`, `application/xml`, every `+xml` type: XHTML, SVG, MathML, RSS, XSLT... an
/// XML document runs the `<script>` of the XHTML namespace); XSL; the JavaScript types (a page
/// of the bucket's origin loads them as scripts); `multipart/x-mixed-replace` (each part is
/// rendered with its own type); Flash. Such a type is matched only by an exact entry of
/// `ALLOWED_CONTENT_TYPES` or of a token's `content_types`, never by `type/*` or `*/*`.
pub fn is_active_content(essence: &str) -> bool {
    let Some((_, sub)) = essence.split_once('/') else {
        return false;
    };
    sub == "xml"
        || sub.ends_with("+xml")
        || matches!(
            essence,
            "text/html"
                | "text/xsl"
                | "multipart/x-mixed-replace"
                | "application/x-shockwave-flash"
        )
        || JAVASCRIPT_TYPES.contains(&essence)
}

/// Whether a claim's pattern (`*/*`, `type/*` or exact, any case) admits `essence`; wildcards
/// never admit [active content](is_active_content).
fn claim_pattern_matches(pattern: &str, essence: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    match pattern.strip_suffix("/*") {
        _ if pattern == essence => true,
        Some(_) if is_active_content(essence) => false,
        Some("*") => true,
        Some(ty) => essence.split_once('/').is_some_and(|(t, _)| t == ty),
        None => false,
    }
}

/// Checks the upload's `Content-Type` value and returns it as it must be sent and signed.
pub fn content_type(
    cfg: &PolicyConfig,
    claims: &Claims,
    value: &str,
) -> Result<String, PolicyError> {
    let value = value.trim();
    if value.len() > 256 || !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(PolicyError::invalid(
            "invalid_content_type",
            "content_type must be printable ASCII, at most 256 bytes",
        ));
    }
    let essence = media_type_essence(value).ok_or_else(|| {
        PolicyError::invalid(
            "invalid_content_type",
            "content_type is not a media type like image/png",
        )
    })?;
    if !cfg.content_type_allowed(&essence) {
        return Err(PolicyError::invalid(
            "content_type_not_allowed",
            format!("content type {essence} is not allowed"),
        ));
    }
    if let Some(patterns) = &claims.content_types {
        if !patterns.iter().any(|p| claim_pattern_matches(p, &essence)) {
            return Err(PolicyError::forbidden(
                "content_type_not_granted",
                format!("the token does not allow content type {essence}"),
            ));
        }
    }
    Ok(value.to_owned())
}

/// `If-None-Match: *`, to sign on a write to a key that may already hold an object, so that
/// the store refuses it (412) instead of replacing the object: a key the client names, or any
/// key when the template has no `{uuid}` (the client's file name then decides the key). `None`
/// with `ALLOW_OVERWRITE=true`, and for server-made keys that are unique anyway.
pub fn no_overwrite_header(cfg: &PolicyConfig, client_named: bool) -> Option<(String, String)> {
    let unique = cfg
        .key_template
        .parts
        .contains(&KeyTemplatePart::Placeholder(Placeholder::Uuid));
    (!cfg.allow_overwrite && (client_named || !unique))
        .then(|| ("if-none-match".to_owned(), "*".to_owned()))
}

/// The largest upload this token may sign: the configured maximum, narrowed by `max_size`.
pub fn max_upload_size(cfg: &PolicyConfig, claims: &Claims) -> u64 {
    claims
        .max_size
        .map_or(cfg.max_upload_size, |m| m.min(cfg.max_upload_size))
}

/// Refuses a size over [`max_upload_size`].
pub fn check_size(cfg: &PolicyConfig, claims: &Claims, size: u64) -> Result<(), PolicyError> {
    let max = max_upload_size(cfg, claims);
    if size > max {
        return Err(PolicyError::invalid(
            "size_too_large",
            format!("size {size} is over the maximum of {max} bytes"),
        ));
    }
    Ok(())
}

/// The URL lifetime in seconds: `URL_TTL`, cut to the token's remaining life unless allowed.
pub fn url_ttl(cfg: &PolicyConfig, claims: &Claims, now: u64) -> Result<u32, PolicyError> {
    let mut ttl = cfg.url_ttl_secs.min(u64::from(MAX_EXPIRES));
    if !cfg.allow_url_past_token_expiry {
        if let Some(exp) = claims.exp {
            // `exp` is a verified, finite, non-negative number of seconds.
            let left = (exp.floor() as u64).saturating_sub(now);
            if left == 0 {
                return Err(PolicyError::forbidden(
                    "token_expiring",
                    "the token expires now; get a fresh one",
                ));
            }
            ttl = ttl.min(left);
        }
    }
    Ok(u32::try_from(ttl).unwrap_or(MAX_EXPIRES))
}

/// `x-amz-meta-*` headers from the request's metadata object (names `a-z 0-9 - _`, values
/// printable ASCII; at most 2 KiB in all, S3's limit).
pub fn metadata_headers(
    meta: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, PolicyError> {
    let bad = |why: String| PolicyError::invalid("invalid_metadata", why);
    let mut total = 0;
    let mut out = Vec::with_capacity(meta.len());
    for (name, value) in meta {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(bad(format!(
                "metadata name {} must be 1 to 64 of a-z 0-9 - _",
                crate::config::show(name)
            )));
        }
        let serde_json::Value::String(v) = value else {
            return Err(bad(format!("metadata {name} must be a string")));
        };
        if !v.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(bad(format!("metadata {name} must be printable ASCII")));
        }
        total += name.len() + v.len();
        out.push((format!("x-amz-meta-{name}"), v.trim().to_owned()));
    }
    if total > MAX_METADATA_BYTES {
        return Err(bad(format!(
            "metadata is {total} bytes, over S3's {MAX_METADATA_BYTES}"
        )));
    }
    Ok(out)
}

/// The checksum header for an upload: `x-amz-checksum-sha256` (32 bytes) or
/// `x-amz-checksum-crc32` (4 bytes), the value in standard base64.
pub fn checksum_header(
    algorithm: &str,
    value_b64: &str,
) -> Result<(&'static str, String), PolicyError> {
    use base64::Engine as _;
    let (header, len) = match algorithm {
        "sha256" => ("x-amz-checksum-sha256", 32),
        "crc32" => ("x-amz-checksum-crc32", 4),
        _ => {
            return Err(PolicyError::invalid(
                "invalid_checksum",
                "checksum must be {\"sha256\": ...} or {\"crc32\": ...}",
            ))
        }
    };
    match base64::engine::general_purpose::STANDARD.decode(value_b64) {
        Ok(bytes) if bytes.len() == len => Ok((header, value_b64.to_owned())),
        _ => Err(PolicyError::invalid(
            "invalid_checksum",
            format!("{algorithm} checksum must be {len} bytes in standard base64"),
        )),
    }
}

/// `Content-Disposition` for a download under `filename` (sanitised): an ASCII fallback and the
/// RFC 5987 UTF-8 form.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut out = format!("attachment; filename=\"{fallback}\"");
    if !filename.is_ascii() || fallback != filename {
        out.push_str("; filename*=UTF-8''");
        out.push_str(&crate::sigv4::uri_encode(filename, false));
    }
    out
}

/// The media type usually meant by a file name's extension (`application/octet-stream` when
/// unknown), for clients that do not say (Uppy's CreateMultipartUpload does not).
pub fn guess_content_type(filename: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("avif", "image/avif"),
        ("bmp", "image/bmp"),
        ("csv", "text/csv"),
        ("gif", "image/gif"),
        ("gz", "application/gzip"),
        ("heic", "image/heic"),
        ("htm", "text/html"),
        ("html", "text/html"),
        ("jpeg", "image/jpeg"),
        ("jpg", "image/jpeg"),
        ("js", "text/javascript"),
        ("json", "application/json"),
        ("m4a", "audio/mp4"),
        ("mov", "video/quicktime"),
        ("mp3", "audio/mpeg"),
        ("mp4", "video/mp4"),
        ("pdf", "application/pdf"),
        ("png", "image/png"),
        ("svg", "image/svg+xml"),
        ("tar", "application/x-tar"),
        ("tif", "image/tiff"),
        ("tiff", "image/tiff"),
        ("txt", "text/plain"),
        ("wav", "audio/wav"),
        ("webm", "video/webm"),
        ("webp", "image/webp"),
        ("xml", "application/xml"),
        ("zip", "application/zip"),
    ];
    let ext = extension(filename);
    TYPES
        .binary_search_by(|(e, _)| e.cmp(&ext.as_str()))
        .map_or("application/octet-stream", |i| TYPES[i].1)
}

/// Checks an S3 multipart upload id: 1 to 1024 characters of `A-Z a-z 0-9 . _ ~ + / = -`.
pub fn validate_upload_id(id: &str) -> Result<(), PolicyError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PolicyError::invalid(
            "invalid_upload_id",
            "uploadId must be 1 to 1024 characters of A-Z a-z 0-9 . _ ~ + / = -",
        ))
    }
}

/// Checks a multipart part number: 1 to 10 000 (S3's limit).
pub fn validate_part_number(n: u64) -> Result<u16, PolicyError> {
    match u16::try_from(n) {
        Ok(p) if (1..=10_000).contains(&p) => Ok(p),
        _ => Err(PolicyError::invalid(
            "invalid_part_number",
            "partNumber must be between 1 and 10000",
        )),
    }
}

/// Largest single PUT (and single part) S3 accepts: 5 GiB.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[cfg(test)]
mod tests;
