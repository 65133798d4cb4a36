//! Token verification: the HMAC keys (`JWT_SECRET`, `JWT_KEYS`) and the claim checks
//! (`JWT_*`), with the identity providers of [`issuers`](super::issuers). The keys are parsed
//! here, once, into the [`KeySet`] that verifies tokens.

use std::fmt;

use super::issuers::{parse_issuers, target_list, IssuerConfig};
use super::{claim_values, parse_list, show, ConfigError, Result, Vars};
use super::{
    ACCESS_ISSUER_NAME, DEFAULT_JWKS_REFETCH_INTERVAL, DEFAULT_JWT_ALGORITHM, DEFAULT_JWT_HEADER,
    DEFAULT_JWT_LEEWAY, MIN_JWT_SECRET_BYTES,
};
use crate::jwt::{Algorithm, KeySet, KeySettingsError};

/// Token verification settings. `Debug` shows how many HMAC keys there are, not their ids.
#[derive(Clone)]
pub struct JwtConfig {
    /// The HMAC keys of `JWT_SECRET` (no `kid`) and `JWT_KEYS`; empty when only issuers are
    /// configured.
    pub keys: KeySet,
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
    /// Whether a token may come in [`ACCESS_HEADER`](super::ACCESS_HEADER) when `header`
    /// carries none (`ACCESS_TEAM`).
    pub access_header: bool,
    /// The targets the HMAC keys' tokens may use (`JWT_TARGETS`); `None`: all.
    pub targets: Option<Vec<String>>,
}

impl JwtConfig {
    /// Whether tokens of more than one issuer can be accepted (HMAC keys and an identity
    /// provider, or several providers): then each issuer's keys lie under a prefix of its own.
    pub fn several_issuers(&self) -> bool {
        usize::from(!self.keys.is_empty()) + self.jwks_issuers.len() > 1
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field(
                "keys",
                &format_args!("<redacted: {} HMAC keys>", self.keys.len()),
            )
            .field("algorithms", &self.algorithms)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway_secs", &self.leeway_secs)
            .field("header", &self.header)
            .field("bearer_scheme", &self.bearer_scheme)
            .field("jwks_issuers", &self.jwks_issuers)
            .field("jwks_refetch_secs", &self.jwks_refetch_secs)
            .field("access_header", &self.access_header)
            .field("targets", &self.targets)
            .finish()
    }
}

/// `JWT_*`, `ISSUERS`, `ISSUER_<NAME>_*`, `ACCESS_*` and `JWKS_REFETCH_INTERVAL`.
pub(super) fn parse_jwt(vars: &Vars<'_>) -> Result<JwtConfig> {
    let secret = vars.secret("JWT_SECRET")?;
    let keys_json = vars.secret("JWT_KEYS")?;
    let jwks_issuers = parse_issuers(vars)?;
    if secret.is_none() && keys_json.is_none() && jwks_issuers.is_empty() {
        return Err(ConfigError::new(
            "JWT_SECRET",
            "missing (set JWT_SECRET, or JWT_KEYS for several keys, or ISSUERS for JWKS keys)",
        ));
    }
    let keys = KeySet::from_settings(
        secret.as_deref(),
        keys_json.as_deref(),
        MIN_JWT_SECRET_BYTES,
    )
    .map_err(key_settings_error)?;

    let algorithms = match vars.get("JWT_ALGORITHMS") {
        None => vec![DEFAULT_JWT_ALGORITHM],
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
    let targets = target_list(vars, "JWT_TARGETS")?;
    if targets.is_some() && keys.is_empty() {
        return Err(ConfigError::new(
            "JWT_TARGETS",
            "is set but no HMAC key is (JWT_SECRET, JWT_KEYS)",
        ));
    }
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
        targets,
    })
}

/// The jwt module's refusal of `JWT_SECRET` / `JWT_KEYS`, naming the variable (and the key id,
/// which is not secret); its messages never contain a secret.
fn key_settings_error(e: KeySettingsError) -> ConfigError {
    const KEYS: &str = "JWT_KEYS";
    let which = |kid: &Option<String>| match kid {
        Some(kid) => (KEYS, format!(" (key id {})", show(kid))),
        None => ("JWT_SECRET", String::new()),
    };
    match e {
        KeySettingsError::NotAnObject { line, column } => ConfigError::new(
            KEYS,
            format!(
                "not a JSON object of key id to secret strings (error at line {line} column {column})"
            ),
        ),
        KeySettingsError::NoKeys => ConfigError::new(KEYS, "has no keys"),
        KeySettingsError::InvalidKid => ConfigError::new(
            KEYS,
            "key ids must be 1 to 128 characters without control characters",
        ),
        KeySettingsError::DuplicateKid(kid) => {
            ConfigError::new(KEYS, format!("key id {} appears twice", show(&kid)))
        }
        KeySettingsError::Secret { kid, error } => {
            let (var, which) = which(&kid);
            ConfigError::new(var, format!("{error}{which}"))
        }
        KeySettingsError::TooShort { kid, min } => {
            let (var, which) = which(&kid);
            ConfigError::new(
                var,
                format!("secret too short{which}: HMAC secrets need at least {min} bytes"),
            )
        }
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn jwt_keys_accepted() {
        let keys = format!(r#"{{"k1":"{SECRET}","k2":"{SECRET}x"}}"#);
        let c = parse(&with(&[("JWT_KEYS", keys.as_str()), ("JWT_SECRET", "")])).expect("valid");
        // Two keys with ids, and no default key for tokens without kid.
        assert_eq!(c.jwt.keys.len(), 2);
        assert!(verifies(&c.jwt.keys, SECRET.as_bytes(), Some("k1")));
        assert!(verifies(
            &c.jwt.keys,
            format!("{SECRET}x").as_bytes(),
            Some("k2")
        ));
        assert!(!verifies(&c.jwt.keys, SECRET.as_bytes(), None));
        // Both together: kid-less tokens use JWT_SECRET.
        let c = parse(&with(&[("JWT_KEYS", keys.as_str())])).expect("valid");
        assert!(verifies(&c.jwt.keys, SECRET.as_bytes(), None));
        assert!(verifies(&c.jwt.keys, SECRET.as_bytes(), Some("k1")));
        // base64: secrets count their decoded length.
        let b64 = "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let c = parse(&with(&[("JWT_SECRET", b64)])).expect("valid");
        let decoded: Vec<u8> = (0..32).collect();
        assert!(verifies(&c.jwt.keys, &decoded, None));
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
}
