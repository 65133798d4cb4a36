//! What the HTTP front accepts: the largest request body (`MAX_BODY_BYTES`) and the origins
//! that may call the API from a browser (`CORS_ALLOWED_ORIGINS`, `CORS_MAX_AGE`).

use super::{parse_endpoint, parse_list, show, ConfigError, Result, Vars};
use super::{DEFAULT_CORS_MAX_AGE, DEFAULT_MAX_BODY_BYTES};

/// Cross-origin settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins, normalised as a browser sends them (`scheme://host[:port]`, lower
    /// case, no default port). Empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    /// `Access-Control-Max-Age` in seconds.
    pub max_age_secs: u64,
}

/// `CORS_ALLOWED_ORIGINS` and `CORS_MAX_AGE`.
pub(super) fn parse_cors(vars: &Vars<'_>) -> Result<CorsConfig> {
    Ok(CorsConfig {
        allowed_origins: match vars.get("CORS_ALLOWED_ORIGINS") {
            Some(v) => parse_origins("CORS_ALLOWED_ORIGINS", &v)?,
            None => Vec::new(),
        },
        max_age_secs: vars.number("CORS_MAX_AGE", DEFAULT_CORS_MAX_AGE, 0, 86_400)?,
    })
}

/// `MAX_BODY_BYTES`: 256 bytes to 1 MiB.
pub(super) fn parse_max_body_bytes(vars: &Vars<'_>) -> Result<u64> {
    vars.number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 256, 1 << 20)
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
    use super::super::testing::*;

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
}
