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

mod template;

use std::fmt;

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

/// Fills the key template for an upload. `filename` must already be sanitised; `uuid` is 16
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

/// The lower-case `type/subtype` of a `Content-Type` value, if it is well formed.
pub fn media_type_essence(value: &str) -> Option<String> {
    let main = value.split(';').next()?.trim();
    let (ty, sub) = main.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(ty) && token(sub)).then(|| main.to_ascii_lowercase())
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
mod tests {
    //! Each public function of the policy on its own. Expected values are written out by hand
    //! (dates checked against Python's `datetime`, base64 and percent-encoding against Python's
    //! `base64` and `urllib.parse.quote`), never taken from this module's output.

    use super::*;
    use crate::config::Config;

    /// 2026-01-01T00:00:00Z.
    const NOW: u64 = 1_767_225_600;

    /// The policy of a minimal configuration plus `extra` (later pairs win).
    fn config(extra: &[(&str, &str)]) -> PolicyConfig {
        let base = [
            ("TARGET_UPLOADS_KIND", "custom"),
            ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
            ("TARGET_UPLOADS_BUCKET", "uploads"),
            ("S3_ACCESS_KEY_ID", "AKIDTEST"),
            ("S3_SECRET_ACCESS_KEY", "s3-secret-0123456789"),
            ("JWT_SECRET", "policy-test-secret-0123456789-abcdef"),
        ];
        let all = [&base[..], extra].concat();
        let lookup = |name: &str| {
            all.iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        Config::from_lookup(&lookup)
            .unwrap_or_else(|e| panic!("test configuration refused: {e}"))
            .policy
    }

    fn template(raw: &str) -> KeyTemplate {
        config(&[("KEY_TEMPLATE", raw)]).key_template
    }

    fn claims(sub: Option<&str>, prefix: Option<&str>) -> Claims {
        Claims {
            sub: sub.map(str::to_owned),
            prefix: prefix.map(str::to_owned),
            ..Claims::default()
        }
    }

    fn grant(sub: &str, prefix: Option<&str>, raw_template: &str) -> Result<Grant, PolicyError> {
        Grant::new(&claims(Some(sub), prefix), &template(raw_template))
    }

    /// The error code of a refusal, and whether it is a 403 or a 422.
    fn refusal<T: fmt::Debug>(r: Result<T, PolicyError>) -> (Refusal, &'static str) {
        let e = r.expect_err("a refusal");
        (e.refusal, e.code)
    }

    const DEFAULT_TEMPLATE: &str = "{sub}/{uuid}/{filename}";

    #[test]
    fn sanitize_filename_keeps_the_last_path_component_trimmed() {
        for (given, kept) in [
            ("a.png", "a.png"),
            ("C:\\fakepath\\a.png", "a.png"),
            ("../../etc/passwd", "passwd"),
            ("dir/sub\\mixed/b.txt", "b.txt"),
            ("  report.pdf. . ", "report.pdf"),
            ("name with spaces.txt", "name with spaces.txt"),
            ("résumé.pdf", "résumé.pdf"),
            (".bashrc", ".bashrc"),
        ] {
            assert_eq!(sanitize_filename(given).as_deref(), Ok(kept), "{given:?}");
        }
    }

    #[test]
    fn sanitize_filename_refuses_empty_dots_and_invisible_characters() {
        for given in [
            "",
            " ",
            ".",
            "..",
            "...",
            "a/",
            "a/..",
            "a\\.",
            "dir/ . ",
            "a\u{0}b",
            "a\nb.txt",
            "tab\t.txt",
            "a\u{7f}",
            "evil\u{202E}gnp.exe",
            "a\u{200F}b",
            "\u{FEFF}a.txt",
            "a\u{2066}b",
        ] {
            assert_eq!(
                refusal(sanitize_filename(given)),
                (Refusal::Invalid, "invalid_filename"),
                "{given:?}"
            );
        }
        // Only the last component is looked at: a bad directory name does not matter.
        assert_eq!(sanitize_filename("a\u{0}/b.txt").as_deref(), Ok("b.txt"));
    }

    #[test]
    fn sanitize_filename_shortens_to_200_bytes_keeping_the_extension() {
        let long = format!("{}.jpeg", "a".repeat(300));
        let short = sanitize_filename(&long).unwrap();
        assert_eq!(short, format!("{}.jpeg", "a".repeat(195)));
        assert_eq!(short.len(), MAX_FILENAME_BYTES);
        // Exactly 200 bytes stays as it is.
        let exact = format!("{}.txt", "b".repeat(196));
        assert_eq!(sanitize_filename(&exact).unwrap(), exact);
        // No usable extension (too long, or not alphanumeric): the first 200 bytes.
        let ext_too_long = format!("{}.{}", "c".repeat(250), "x".repeat(17));
        assert_eq!(sanitize_filename(&ext_too_long).unwrap(), "c".repeat(200));
        let odd_ext = format!("{}.a-b", "d".repeat(250));
        assert_eq!(sanitize_filename(&odd_ext).unwrap(), "d".repeat(200));
        // The cut never splits a character: "a" + 150 × "é" (2 bytes each) + ".png" is cut to
        // 196 bytes of stem, which falls inside an "é", so 195 bytes are kept.
        let multibyte = format!("a{}.png", "é".repeat(150));
        let cut = sanitize_filename(&multibyte).unwrap();
        assert_eq!(cut, format!("a{}.png", "é".repeat(97)));
        assert_eq!(cut.len(), 199);
    }

    #[test]
    fn extension_is_short_alphanumeric_and_lower_case() {
        for (name, ext) in [
            ("photo.JPG", "jpg"),
            ("archive.tar.gz", "gz"),
            ("a.b.C0", "c0"),
            (".bashrc", ""),
            ("noext", ""),
            ("trailing.", ""),
            ("a.b-c", ""),
            ("a.ünï", ""),
            ("x.abcdefghijklmnop", "abcdefghijklmnop"),
            ("x.abcdefghijklmnopq", ""),
        ] {
            assert_eq!(extension(name), ext, "{name:?}");
        }
    }

    #[test]
    fn validate_key_refuses_what_s3_or_a_path_would_misread() {
        for ok in [
            "a",
            "a/b",
            "alice/x y/é.txt",
            "a.b/..c/d..",
            &"k".repeat(1024),
        ] {
            assert_eq!(validate_key(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "a/./b",
            "a/../b",
            "..",
            ".",
            "a\\b",
            "a\u{0}",
            "a\u{202E}b",
            &"k".repeat(1025),
        ] {
            assert_eq!(
                refusal(validate_key(bad)),
                (Refusal::Invalid, "invalid_key"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_implicit_grant_is_the_template_up_to_its_first_other_placeholder() {
        for (raw, prefix) in [
            (DEFAULT_TEMPLATE, Some("alice/")),
            ("users/{sub}/{filename}", Some("users/alice/")),
            ("users/{sub}/in/{uuid}", Some("users/alice/in/")),
            ("t/{sub}/{date}/{sub}/{uuid}", Some("t/alice/")),
            // The cut is after the last '/': a partial segment is not granted.
            ("{sub}-{uuid}", None),
            // No segment names the subject: nothing to name or read.
            ("uploads/{date}/{sub}/{uuid}", None),
            ("{uuid}/{sub}", None),
        ] {
            let g = grant("alice", None, raw).unwrap();
            assert_eq!(g.prefix.as_deref(), prefix, "{raw}");
            assert!(!g.prefix_from_claim);
            assert_eq!(g.sub, "alice");
        }
    }

    #[test]
    fn a_prefix_claim_is_the_grant_whatever_the_template() {
        for p in [
            "team-a/",
            "team-a/partial",
            "a",
            "a/b/c/",
            "x/.hidden",
            "a/b..c",
        ] {
            let g = grant("alice", Some(p), DEFAULT_TEMPLATE).unwrap();
            assert_eq!(g.prefix.as_deref(), Some(p), "{p:?}");
            assert!(g.prefix_from_claim);
        }
        let long = "p".repeat(MAX_PREFIX_BYTES);
        assert!(grant("alice", Some(&long), DEFAULT_TEMPLATE).is_ok());
    }

    #[test]
    fn unusable_prefix_claims_and_subjects_are_403() {
        let too_long = "p".repeat(MAX_PREFIX_BYTES + 1);
        for p in [
            "",
            "/abs",
            "a//b/",
            "a/./b",
            "a/../b",
            "../a",
            "a/..",
            "a/.",
            "..",
            "a\\b",
            "a\u{1}b",
            "a\u{202E}",
            too_long.as_str(),
        ] {
            assert_eq!(
                refusal(grant("alice", Some(p), DEFAULT_TEMPLATE)),
                (Refusal::Forbidden, "invalid_prefix_claim"),
                "{p:?}"
            );
        }
        let tpl = template(DEFAULT_TEMPLATE);
        assert_eq!(
            refusal(Grant::new(&claims(None, None), &tpl)),
            (Refusal::Forbidden, "no_subject")
        );
        let too_long = "s".repeat(257);
        for sub in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\u{0}",
            "a\u{202E}b",
            too_long.as_str(),
        ] {
            assert_eq!(
                refusal(grant(sub, None, DEFAULT_TEMPLATE)),
                (Refusal::Forbidden, "invalid_subject"),
                "{sub:?}"
            );
        }
        assert!(grant(&"s".repeat(256), None, DEFAULT_TEMPLATE).is_ok());
    }

    #[test]
    fn check_key_allows_only_keys_inside_the_grant() {
        let g = grant("alice", None, DEFAULT_TEMPLATE).unwrap();
        assert_eq!(g.check_key("alice/x/a.txt"), Ok(()));
        for outside in ["bob/a.txt", "alice", "alicex/a.txt", "Alice/a.txt"] {
            assert_eq!(
                refusal(g.check_key(outside)),
                (Refusal::Forbidden, "key_not_granted"),
                "{outside:?}"
            );
        }
        // The key's own form is checked first (a 422, not a 403).
        assert_eq!(
            refusal(g.check_key("alice/../bob/a.txt")),
            (Refusal::Invalid, "invalid_key")
        );
        // A partial last segment in a claim grants every key that starts with it.
        let partial = grant("alice", Some("team/pre"), DEFAULT_TEMPLATE).unwrap();
        assert_eq!(partial.check_key("team/prefix/a"), Ok(()));
        assert_eq!(
            refusal(partial.check_key("team/other")),
            (Refusal::Forbidden, "key_not_granted")
        );
        // No grant: nothing may be named or read.
        let none = grant("alice", None, "{uuid}/{sub}").unwrap();
        assert_eq!(
            refusal(none.check_key("alice/a")),
            (Refusal::Forbidden, "key_not_granted")
        );
    }

    #[test]
    fn upload_key_fills_the_template() {
        let g = grant("alice", None, DEFAULT_TEMPLATE).unwrap();
        let tpl = template(DEFAULT_TEMPLATE);
        // The version (4) and variant (10xx) bits are set whatever the random bytes.
        assert_eq!(
            upload_key(&g, &tpl, "a.png", [0; 16], NOW).unwrap(),
            "alice/00000000-0000-4000-8000-000000000000/a.png"
        );
        assert_eq!(
            upload_key(&g, &tpl, "a.png", [0xff; 16], NOW).unwrap(),
            "alice/ffffffff-ffff-4fff-bfff-ffffffffffff/a.png"
        );
        let bytes: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
        assert_eq!(
            upload_key(&g, &tpl, "a.png", bytes, NOW).unwrap(),
            "alice/00112233-4455-4677-8899-aabbccddeeff/a.png"
        );
        let dated = template("{date}/{sub}/{ext}/{filename}");
        let g = grant("bob", None, "{date}/{sub}/{ext}/{filename}").unwrap();
        // 951782400 is 2000-02-29T00:00:00Z, 4107542399 is 2100-02-28T23:59:59Z.
        assert_eq!(
            upload_key(&g, &dated, "Photo.JPG", [0; 16], 951_782_400).unwrap(),
            "2000-02-29/bob/jpg/Photo.JPG"
        );
        assert_eq!(
            upload_key(&g, &dated, "x.tar", [0; 16], 4_107_542_399).unwrap(),
            "2100-02-28/bob/tar/x.tar"
        );
        // A name without extension leaves an empty segment here: refused, never signed.
        assert_eq!(
            refusal(upload_key(&g, &dated, "x", [0; 16], NOW)),
            (Refusal::Invalid, "invalid_key")
        );
    }

    #[test]
    fn upload_key_goes_inside_a_prefix_claim() {
        let tpl = template(DEFAULT_TEMPLATE);
        let g = grant("alice", Some("team/"), DEFAULT_TEMPLATE).unwrap();
        assert_eq!(
            upload_key(&g, &tpl, "a.txt", [0; 16], NOW).unwrap(),
            "team/alice/00000000-0000-4000-8000-000000000000/a.txt"
        );
        // Not prepended again when the template already starts with the prefix.
        let own = template("team/{sub}/{filename}");
        let g = grant("alice", Some("team/"), "team/{sub}/{filename}").unwrap();
        assert_eq!(
            upload_key(&g, &own, "a.txt", [0; 16], NOW).unwrap(),
            "team/alice/a.txt"
        );
        // An implicit grant never changes the key.
        let g = grant("alice", None, "users/{sub}/{filename}").unwrap();
        let users = template("users/{sub}/{filename}");
        assert_eq!(
            upload_key(&g, &users, "a.txt", [0; 16], NOW).unwrap(),
            "users/alice/a.txt"
        );
    }

    #[test]
    fn upload_key_refuses_keys_over_1024_bytes_and_unusable_clocks() {
        let raw = "{sub}/{filename}{filename}{filename}{filename}{filename}{filename}";
        let (tpl, g) = (template(raw), grant("alice", None, raw).unwrap());
        let name = "n".repeat(MAX_FILENAME_BYTES);
        assert_eq!(
            refusal(upload_key(&g, &tpl, &name, [0; 16], NOW)),
            (Refusal::Invalid, "key_too_long")
        );
        // 6 × 169 + "alice/" = 1020 bytes: fits.
        assert!(upload_key(&g, &tpl, &"n".repeat(169), [0; 16], NOW).is_ok());
        let dated = template("{sub}/{date}/{uuid}");
        let g = grant("alice", None, "{sub}/{date}/{uuid}").unwrap();
        assert_eq!(
            refusal(upload_key(&g, &dated, "a", [0; 16], u64::MAX)),
            (Refusal::Invalid, "invalid_time")
        );
    }

    #[test]
    fn media_type_essence_is_the_lower_case_type_and_subtype() {
        for (value, essence) in [
            ("image/png", Some("image/png")),
            ("Image/PNG; charset=x", Some("image/png")),
            ("  text/plain  ;q=1", Some("text/plain")),
            ("application/vnd.api+json", Some("application/vnd.api+json")),
            ("text", None),
            ("text/", None),
            ("/plain", None),
            ("te xt/plain", None),
            ("text/pl(ain", None),
            ("", None),
        ] {
            assert_eq!(media_type_essence(value).as_deref(), essence, "{value:?}");
        }
    }

    #[test]
    fn content_type_must_be_allowed_and_granted() {
        let cfg = config(&[("ALLOWED_CONTENT_TYPES", "text/plain,image/*")]);
        let any = claims(Some("alice"), None);
        assert_eq!(
            content_type(&cfg, &any, " text/plain; charset=utf-8 ").as_deref(),
            Ok("text/plain; charset=utf-8")
        );
        assert_eq!(
            refusal(content_type(&cfg, &any, "application/pdf")),
            (Refusal::Invalid, "content_type_not_allowed")
        );
        let too_long = format!("text/{}", "p".repeat(252));
        for bad in [
            "text/plain\u{7f}",
            "text/plain\u{e9}",
            "nope",
            too_long.as_str(),
        ] {
            assert_eq!(
                refusal(content_type(&cfg, &any, bad)),
                (Refusal::Invalid, "invalid_content_type"),
                "{bad:?}"
            );
        }
        // A claim narrows what the configuration allows, never widens it.
        let images = Claims {
            content_types: Some(vec!["image/*".to_owned()]),
            ..any.clone()
        };
        assert!(content_type(&cfg, &images, "image/png").is_ok());
        assert_eq!(
            refusal(content_type(&cfg, &images, "text/plain")),
            (Refusal::Forbidden, "content_type_not_granted")
        );
        let wider = Claims {
            content_types: Some(vec!["*/*".to_owned()]),
            ..any
        };
        assert_eq!(
            refusal(content_type(&cfg, &wider, "application/pdf")),
            (Refusal::Invalid, "content_type_not_allowed")
        );
    }

    #[test]
    fn sizes_are_bounded_by_the_configuration_and_the_claim() {
        let cfg = config(&[("MAX_UPLOAD_SIZE", "1000")]);
        let no_claim = claims(Some("alice"), None);
        let narrower = Claims {
            max_size: Some(10),
            ..no_claim.clone()
        };
        let wider = Claims {
            max_size: Some(5000),
            ..no_claim.clone()
        };
        assert_eq!(max_upload_size(&cfg, &no_claim), 1000);
        assert_eq!(max_upload_size(&cfg, &narrower), 10);
        assert_eq!(max_upload_size(&cfg, &wider), 1000);
        assert_eq!(check_size(&cfg, &no_claim, 0), Ok(()));
        assert_eq!(check_size(&cfg, &no_claim, 1000), Ok(()));
        assert_eq!(
            refusal(check_size(&cfg, &no_claim, 1001)),
            (Refusal::Invalid, "size_too_large")
        );
        assert_eq!(check_size(&cfg, &narrower, 10), Ok(()));
        assert_eq!(
            refusal(check_size(&cfg, &narrower, 11)),
            (Refusal::Invalid, "size_too_large")
        );
        assert_eq!(
            refusal(check_size(&cfg, &wider, 1001)),
            (Refusal::Invalid, "size_too_large")
        );
    }

    #[test]
    fn url_ttl_is_cut_to_the_token_life_unless_allowed() {
        let cfg = config(&[("URL_TTL", "3600")]);
        let exp = |e: f64| Claims {
            exp: Some(e),
            ..claims(Some("alice"), None)
        };
        assert_eq!(url_ttl(&cfg, &claims(Some("a"), None), NOW), Ok(3600));
        assert_eq!(url_ttl(&cfg, &exp((NOW + 7200) as f64), NOW), Ok(3600));
        assert_eq!(url_ttl(&cfg, &exp((NOW + 600) as f64), NOW), Ok(600));
        // A fractional exp counts down to its whole second.
        assert_eq!(url_ttl(&cfg, &exp(NOW as f64 + 1.9), NOW), Ok(1));
        for gone in [NOW as f64, NOW as f64 + 0.5, (NOW - 10) as f64] {
            assert_eq!(
                refusal(url_ttl(&cfg, &exp(gone), NOW)),
                (Refusal::Forbidden, "token_expiring"),
                "{gone}"
            );
        }
        let past = config(&[
            ("URL_TTL", "604800"),
            ("ALLOW_URL_PAST_TOKEN_EXPIRY", "true"),
        ]);
        assert_eq!(url_ttl(&past, &exp((NOW + 600) as f64), NOW), Ok(604_800));
        assert_eq!(url_ttl(&past, &exp(NOW as f64), NOW), Ok(604_800));
    }

    #[test]
    fn metadata_becomes_x_amz_meta_headers_within_s3_limits() {
        let meta = |v: serde_json::Value| v.as_object().cloned().unwrap();
        assert_eq!(
            metadata_headers(&meta(serde_json::json!({ "a-b_1": " v ", "z": "" }))),
            Ok(vec![
                ("x-amz-meta-a-b_1".to_owned(), "v".to_owned()),
                ("x-amz-meta-z".to_owned(), String::new()),
            ])
        );
        let long_name = "n".repeat(65);
        for bad in [
            serde_json::json!({ "": "v" }),
            serde_json::json!({ "Upper": "v" }),
            serde_json::json!({ "a.b": "v" }),
            serde_json::json!({ long_name: "v" }),
            serde_json::json!({ "n": 1 }),
            serde_json::json!({ "n": null }),
            serde_json::json!({ "n": "caf\u{e9}" }),
            serde_json::json!({ "n": "a\nb" }),
            // 2 + 2047 bytes: one over S3's 2 KiB.
            serde_json::json!({ "n1": "v".repeat(2047) }),
        ] {
            assert_eq!(
                refusal(metadata_headers(&meta(bad.clone()))),
                (Refusal::Invalid, "invalid_metadata"),
                "{bad}"
            );
        }
        assert!(metadata_headers(&meta(serde_json::json!({ "n1": "v".repeat(2046) }))).is_ok());
        assert!(metadata_headers(&meta(serde_json::json!({ "n".repeat(64): "v" }))).is_ok());
    }

    #[test]
    fn checksum_header_takes_sha256_or_crc32_in_standard_base64() {
        // SHA-256 of the empty string, and a CRC32 of 4 zero bytes, in standard base64.
        let sha = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(
            checksum_header("sha256", sha),
            Ok(("x-amz-checksum-sha256", sha.to_owned()))
        );
        assert_eq!(
            checksum_header("crc32", "AAAAAA=="),
            Ok(("x-amz-checksum-crc32", "AAAAAA==".to_owned()))
        );
        for (alg, value) in [
            ("sha256", "AAAAAA=="),
            ("crc32", sha),
            // The URL-safe alphabet and missing padding are not standard base64.
            ("sha256", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="),
            ("crc32", "AAAAAA"),
            ("sha256", ""),
            ("md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("SHA256", sha),
        ] {
            assert_eq!(
                refusal(checksum_header(alg, value)),
                (Refusal::Invalid, "invalid_checksum"),
                "{alg} {value}"
            );
        }
    }

    #[test]
    fn content_disposition_has_an_ascii_fallback_and_the_utf8_form() {
        assert_eq!(
            content_disposition("a b.txt"),
            "attachment; filename=\"a b.txt\""
        );
        assert_eq!(
            content_disposition("résumé \"x\".pdf"),
            "attachment; filename=\"r_sum_ _x_.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
        assert_eq!(
            content_disposition("back\\slash"),
            "attachment; filename=\"back_slash\"; filename*=UTF-8''back%5Cslash"
        );
    }

    #[test]
    fn guess_content_type_knows_the_common_extensions() {
        for (name, ty) in [
            ("a.avif", "image/avif"),
            ("a.bmp", "image/bmp"),
            ("a.csv", "text/csv"),
            ("a.gif", "image/gif"),
            ("a.tar.gz", "application/gzip"),
            ("a.heic", "image/heic"),
            ("a.htm", "text/html"),
            ("a.HTML", "text/html"),
            ("a.jpeg", "image/jpeg"),
            ("Photo.JPG", "image/jpeg"),
            ("a.js", "text/javascript"),
            ("a.json", "application/json"),
            ("a.m4a", "audio/mp4"),
            ("a.mov", "video/quicktime"),
            ("a.mp3", "audio/mpeg"),
            ("a.mp4", "video/mp4"),
            ("a.pdf", "application/pdf"),
            ("a.png", "image/png"),
            ("a.svg", "image/svg+xml"),
            ("a.tar", "application/x-tar"),
            ("a.tif", "image/tiff"),
            ("a.tiff", "image/tiff"),
            ("a.txt", "text/plain"),
            ("a.wav", "audio/wav"),
            ("a.webm", "video/webm"),
            ("a.webp", "image/webp"),
            ("a.xml", "application/xml"),
            ("a.zip", "application/zip"),
            ("a.exe", "application/octet-stream"),
            ("noext", "application/octet-stream"),
            (".png", "application/octet-stream"),
        ] {
            assert_eq!(guess_content_type(name), ty, "{name}");
        }
    }

    #[test]
    fn upload_ids_and_part_numbers_have_s3_ranges() {
        let longest = "A".repeat(1024);
        for ok in ["a", "abc.DEF_0~9+/=-", longest.as_str()] {
            assert_eq!(validate_upload_id(ok), Ok(()), "{ok}");
        }
        let too_long = "A".repeat(1025);
        for bad in ["", "a b", "a%20", "a?b", "a&b", "é", too_long.as_str()] {
            assert_eq!(
                refusal(validate_upload_id(bad)),
                (Refusal::Invalid, "invalid_upload_id"),
                "{bad:?}"
            );
        }
        assert_eq!(validate_part_number(1), Ok(1));
        assert_eq!(validate_part_number(10_000), Ok(10_000));
        for bad in [0, 10_001, 65_536 + 1, u64::MAX] {
            assert_eq!(
                refusal(validate_part_number(bad)),
                (Refusal::Invalid, "invalid_part_number"),
                "{bad}"
            );
        }
    }
}
