//! Identity providers whose tokens are signed with public keys from a JWK set: `ISSUERS` with
//! `ISSUER_<NAME>_*`, and the Cloudflare Access preset (`ACCESS_TEAM`, `ACCESS_AUD`). An inline
//! JWK set is parsed here, once, into its [`KeySet`].

use std::rc::Rc;

use super::{
    claim_values, parse_endpoint, parse_list, show, valid_name, ConfigError, Result, Vars,
};
use super::{ACCESS_ISSUER_NAME, DEFAULT_ISSUER_ALGORITHM, HMAC_ISSUER_NAME};
use crate::jwt::{jwk, Algorithm, Key, KeySet, PublicKey};

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
    /// The targets its tokens may use (`ISSUER_<NAME>_TARGETS`, `ACCESS_TARGETS`); `None`: all.
    pub targets: Option<Vec<String>>,
}

/// Where an issuer's JWK set comes from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Fetched from this URL (`https://`, or `http://` on loopback).
    Url(String),
    /// Given in the configuration: its usable public keys (at least one).
    Inline(Rc<KeySet>),
}

impl PartialEq for JwksSource {
    /// The same URL, or inline sets with the same public keys (ids, pinned algorithms, key
    /// material) in the same order.
    fn eq(&self, other: &Self) -> bool {
        fn key(k: &Key) -> (Option<&str>, Option<Algorithm>, Option<&PublicKey>) {
            (k.kid(), k.algorithm(), k.public_key())
        }
        match (self, other) {
            (JwksSource::Url(a), JwksSource::Url(b)) => a == b,
            (JwksSource::Inline(a), JwksSource::Inline(b)) => {
                a.keys().iter().map(key).eq(b.keys().iter().map(key))
            }
            _ => false,
        }
    }
}

impl Eq for JwksSource {}

/// `ISSUERS` with their `ISSUER_<NAME>_*` settings, then the Cloudflare Access preset.
pub(super) fn parse_issuers(vars: &Vars<'_>) -> Result<Vec<IssuerConfig>> {
    let mut out: Vec<IssuerConfig> = Vec::new();
    if let Some(list) = vars.get("ISSUERS") {
        for name in parse_list("ISSUERS", &list)? {
            if !valid_name(&name) {
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
            if name == HMAC_ISSUER_NAME {
                return Err(ConfigError::new(
                    "ISSUERS",
                    "the name local is reserved for the tokens of the HMAC keys (JWT_SECRET, JWT_KEYS)",
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
        (None, Some(json)) => JwksSource::Inline(inline_jwks(&var("JWKS"), &json)?),
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
        None => vec![DEFAULT_ISSUER_ALGORITHM],
        Some(v) => parse_public_algorithms(&var("ALGORITHMS"), &v)?,
    };
    let targets = target_list(vars, &var("TARGETS"))?;
    Ok(IssuerConfig {
        name: name.to_owned(),
        iss,
        jwks,
        audiences,
        algorithms,
        targets,
    })
}

/// A comma list of target names (`JWT_TARGETS`, `ISSUER_<NAME>_TARGETS`, `ACCESS_TARGETS`),
/// `None` when unset; checked against `TARGETS` by [`check_targets`](super::check_targets).
pub(super) fn target_list(vars: &Vars<'_>, var: &str) -> Result<Option<Vec<String>>> {
    vars.get(var).map(|v| parse_list(var, &v)).transpose()
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
    if !endpoint.is_https() && !matches!(endpoint.host(), "127.0.0.1" | "localhost" | "[::1]") {
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

/// The usable keys of an inline JWK set (at least one); the jwt module's messages never
/// contain key material.
fn inline_jwks(var: &str, json: &str) -> Result<Rc<KeySet>> {
    match jwk::parse_jwks(json) {
        Ok(jwks) => Ok(Rc::new(jwks.keys)),
        Err(e) => Err(ConfigError::new(var, e.to_string())),
    }
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
        algorithms: vec![DEFAULT_ISSUER_ALGORITHM],
        targets: target_list(vars, "ACCESS_TARGETS")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const ISS: &str = "https://idp.example.com";
    const JWKS_URL: &str = "https://idp.example.com/.well-known/jwks.json";
    /// An Ed25519 public JWK (RFC 8037 A.2).
    const OKP_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    /// The keys of an inline JWK set, as the configuration holds them.
    fn inline(json: &str) -> JwksSource {
        JwksSource::Inline(Rc::new(jwk::parse_jwks(json).expect("valid").keys))
    }

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
                targets: None,
            }
        );
        assert_eq!(issuers[1].name, "auth0_eu");
        assert_eq!(issuers[1].iss, "https://tenant.eu.auth0.com/");
        assert_eq!(issuers[1].jwks, inline(OKP_JWKS));
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
        // `local` is what `{iss}` and the key prefix of HMAC tokens are.
        rejects(with_idp(&[("ISSUERS", "local")]), "ISSUERS", "HMAC");
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
        assert_eq!(c.jwt.jwks_issuers[0].jwks, inline(mixed));
        let JwksSource::Inline(keys) = &c.jwt.jwks_issuers[0].jwks else {
            panic!("inline keys expected");
        };
        assert_eq!(keys.len(), 1, "the OKP key only");
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
            targets: None,
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
        assert!(c.jwt.keys.is_empty());
        let c = parse(&with(&[
            ("JWT_SECRET", ""),
            ("ACCESS_TEAM", "myteam"),
            ("ACCESS_AUD", "tag"),
        ]))
        .expect("Access alone is enough");
        assert!(c.jwt.keys.is_empty());
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
    fn targets_per_issuer() {
        let two = [
            ("TARGETS", "uploads,archive"),
            ("TARGET_ARCHIVE_KIND", "custom"),
            ("TARGET_ARCHIVE_BUCKET", "archive"),
            ("TARGET_ARCHIVE_ENDPOINT", "http://127.0.0.1:9001"),
        ];
        let c = parse(&with_idp(&two)).expect("valid");
        assert_eq!(c.jwt.targets, None);
        assert_eq!(c.jwt.jwks_issuers[0].targets, None);
        assert!(c.jwt.several_issuers());
        let mut m = with_idp(&two);
        m.insert("JWT_TARGETS".into(), " archive ".into());
        m.insert("ISSUER_IDP_TARGETS".into(), "uploads, archive".into());
        m.insert("ACCESS_TEAM".into(), "myteam".into());
        m.insert("ACCESS_AUD".into(), "tag".into());
        m.insert("ACCESS_TARGETS".into(), "uploads".into());
        let c = parse(&m).expect("valid");
        assert_eq!(c.jwt.targets, Some(vec!["archive".to_owned()]));
        let lists: Vec<_> = c
            .jwt
            .jwks_issuers
            .iter()
            .map(|i| i.targets.clone())
            .collect();
        assert_eq!(
            lists,
            [
                Some(vec!["uploads".to_owned(), "archive".to_owned()]),
                Some(vec!["uploads".to_owned()])
            ]
        );

        for var in ["JWT_TARGETS", "ISSUER_IDP_TARGETS"] {
            rejects(
                with_idp(&[(var, "uploads,nope")]),
                var,
                "'nope' is not one of TARGETS",
            );
            rejects(with_idp(&[(var, "uploads,uploads")]), var, "twice");
        }
        rejects(
            with(&[
                ("ACCESS_TEAM", "myteam"),
                ("ACCESS_AUD", "tag"),
                ("ACCESS_TARGETS", "archive"),
            ]),
            "ACCESS_TARGETS",
            "not one of TARGETS",
        );
        let mut m = with_idp(&[("JWT_TARGETS", "uploads")]);
        m.remove("JWT_SECRET");
        rejects(m, "JWT_TARGETS", "no HMAC key");
    }

    #[test]
    fn several_issuers_means_more_than_one_kind_of_token() {
        assert!(!parse(&base()).expect("valid").jwt.several_issuers());
        let mut m = with_idp(&[]);
        assert!(parse(&m).expect("valid").jwt.several_issuers());
        m.remove("JWT_SECRET");
        assert!(!parse(&m).expect("valid").jwt.several_issuers());
        m.insert("ACCESS_TEAM".into(), "myteam".into());
        m.insert("ACCESS_AUD".into(), "tag".into());
        assert!(parse(&m).expect("valid").jwt.several_issuers());
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
