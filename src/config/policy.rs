//! What may be signed: the key template, the allowed media types, the size and lifetime
//! limits, and the optional permissions (`KEY_TEMPLATE`, `ALLOWED_CONTENT_TYPES`,
//! `MAX_UPLOAD_SIZE`, `URL_TTL`, `ALLOW_URL_PAST_TOKEN_EXPIRY`, `ALLOW_DELETE`, `ALLOW_OVERWRITE`,
//! `MULTIPART_LIFETIME`, `DELETE_MISMATCHED`). The
//! [`policy`](crate::policy) module applies them to each request.

use super::{parse_list, show, ConfigError, Result, Vars};
use super::{
    DEFAULT_ALLOWED_CONTENT_TYPES, DEFAULT_ALLOW_DELETE, DEFAULT_ALLOW_OVERWRITE,
    DEFAULT_ALLOW_URL_PAST_TOKEN_EXPIRY, DEFAULT_DELETE_MISMATCHED, DEFAULT_KEY_TEMPLATE,
    DEFAULT_MAX_UPLOAD_SIZE, DEFAULT_MULTIPART_LIFETIME, DEFAULT_URL_TTL, MAX_MAX_UPLOAD_SIZE,
    MAX_MULTIPART_LIFETIME, MAX_URL_TTL,
};
use crate::policy::KeyTemplate;

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
    /// Seconds a multipart upload may take from its creation (`MULTIPART_LIFETIME`): its
    /// ticket, and so its part, list and complete requests, are refused after that.
    pub multipart_lifetime_secs: u64,
    /// Whether `/v1/uploads/complete` deletes an object whose first bytes are not of its
    /// content type (`DELETE_MISMATCHED`).
    pub delete_mismatched: bool,
}

impl PolicyConfig {
    /// Whether `essence` (a media type without parameters, already lower case, e.g.
    /// `image/png`) is allowed by at least one rule.
    pub(crate) fn content_type_allowed(&self, essence: &str) -> bool {
        self.allowed_content_types
            .iter()
            .any(|r| r.matches(essence))
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
    /// Whether `essence` (lower case `type/subtype`, no parameters) matches this rule; the
    /// wildcards never match [active content](crate::policy::is_active_content).
    pub fn matches(&self, essence: &str) -> bool {
        match self {
            ContentTypeRule::Exact(e) => e == essence,
            _ if crate::policy::is_active_content(essence) => false,
            ContentTypeRule::Any => true,
            ContentTypeRule::AnySubtype(t) => essence
                .split_once('/')
                .is_some_and(|(ty, sub)| ty == t && !sub.is_empty()),
        }
    }
}

/// The policy variables.
pub(super) fn parse_policy(vars: &Vars<'_>) -> Result<PolicyConfig> {
    let template = vars
        .get("KEY_TEMPLATE")
        .unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.to_owned());
    let key_template =
        KeyTemplate::parse(&template).map_err(|why| ConfigError::new("KEY_TEMPLATE", why))?;
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
        allow_url_past_token_expiry: vars.boolean(
            "ALLOW_URL_PAST_TOKEN_EXPIRY",
            DEFAULT_ALLOW_URL_PAST_TOKEN_EXPIRY,
        )?,
        allow_delete: vars.boolean("ALLOW_DELETE", DEFAULT_ALLOW_DELETE)?,
        allow_overwrite: vars.boolean("ALLOW_OVERWRITE", DEFAULT_ALLOW_OVERWRITE)?,
        multipart_lifetime_secs: vars.number(
            "MULTIPART_LIFETIME",
            DEFAULT_MULTIPART_LIFETIME,
            1,
            MAX_MULTIPART_LIFETIME,
        )?,
        delete_mismatched: vars.boolean("DELETE_MISMATCHED", DEFAULT_DELETE_MISMATCHED)?,
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;

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
            // {iss} is one whole segment, after literal text only: a prefix per issuer.
            ("{sub}/{iss}/{uuid}", "whole segment"),
            ("{date}/{iss}/{sub}/{uuid}", "whole segment"),
            ("x{iss}/{sub}/{uuid}", "whole segment"),
            ("{iss}-x/{sub}/{uuid}", "whole segment"),
            ("{iss}{sub}/{uuid}", "whole segment"),
            ("{iss}/{iss}/{sub}/{uuid}", "at most once"),
            ("{iss}/{sub}/{uuid}/{iss}", "at most once"),
        ] {
            rejects(with(&[("KEY_TEMPLATE", bad)]), "KEY_TEMPLATE", why);
        }
        for good in [
            "{iss}/{sub}/{uuid}/{filename}",
            "uploads/{iss}/{sub}/{uuid}",
            "a/b/{iss}/{date}/{sub}-{uuid}",
        ] {
            let c = parse(&with(&[("KEY_TEMPLATE", good)])).expect(good);
            assert_eq!(c.policy.key_template.raw, good);
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
        assert!(c.policy.content_type_allowed("application/zip"));
        assert!(!c.policy.content_type_allowed("text/html"));
        let c = parse(&with(&[("ALLOWED_CONTENT_TYPES", "*/*,Text/HTML")])).expect("valid");
        assert!(c.policy.content_type_allowed("text/html"));
        assert!(!c.policy.content_type_allowed("application/xhtml+xml"));
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
}
