//! What the tokens of one issuer may reach. A `sub` is unique only within its issuer (RFC 7519
//! §4.1.2): `alice` of the HMAC keys and `alice` of an identity provider are two people. So
//! when tokens of several issuers are accepted, each issuer's keys lie under a prefix of its
//! own, and each issuer may be limited to some of the storage targets.

use super::{Grant, KeyTemplate, PolicyError};
use crate::jwt::Claims;

/// The reach of one issuer's tokens: its key template, its key namespace and its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The issuer's short, key-safe name (`local`, an `ISSUERS` entry, `access`).
    pub issuer: String,
    /// `KEY_TEMPLATE` for this issuer ([`KeyTemplate::for_issuer`]): no `{iss}` left.
    pub template: KeyTemplate,
    /// When tokens of several issuers are accepted: the prefix of every key this issuer's
    /// tokens may make, name or read (`prefix` claims are placed inside it). `None` otherwise.
    pub namespace: Option<String>,
    /// The targets this issuer's tokens may use (`JWT_TARGETS`, `ISSUER_<NAME>_TARGETS`);
    /// `None`: all of them.
    pub targets: Option<Vec<String>>,
}

impl Scope {
    /// The scope of issuer `name` under `template`; `separate` when tokens of more than one
    /// issuer are accepted.
    pub fn new(
        template: &KeyTemplate,
        name: &str,
        separate: bool,
        targets: Option<Vec<String>>,
    ) -> Self {
        Self {
            issuer: name.to_owned(),
            template: template.for_issuer(name, separate),
            namespace: separate.then(|| template.issuer_namespace(name)),
            targets,
        }
    }

    /// The grant of `claims` ([`Grant::new`] under this issuer's template), a `prefix` claim
    /// placed inside the issuer's namespace (kept as is when it already starts with it).
    pub fn grant(&self, claims: &Claims) -> Result<Grant, PolicyError> {
        let mut grant = Grant::new(claims, &self.template)?;
        if let (true, Some(ns), Some(prefix)) = (
            grant.prefix_from_claim,
            self.namespace.as_deref(),
            grant.prefix.as_mut(),
        ) {
            if !prefix.starts_with(ns) {
                prefix.insert_str(0, ns);
            }
        }
        Ok(grant)
    }

    /// Whether the token may use the target named `name`: allowed for its issuer and, when it
    /// has a `targets` claim, listed there (a claim narrows, never widens).
    pub fn may_use(&self, claims: &Claims, name: &str) -> bool {
        let listed =
            |list: &Option<Vec<String>>| list.as_ref().is_none_or(|l| l.iter().any(|t| t == name));
        listed(&self.targets) && listed(&claims.targets)
    }

    /// The index, among the `configured` target names, of the target a request may use: the
    /// one it asks for, or else the first the token may use. An unknown name is `422
    /// unknown_target`; a target the token may not use is `403 target_not_granted`.
    pub fn pick_target<'n>(
        &self,
        claims: &Claims,
        asked: Option<&str>,
        configured: impl IntoIterator<Item = &'n str>,
    ) -> Result<usize, PolicyError> {
        let mut names = configured.into_iter();
        match asked {
            Some(asked) => {
                let i = names
                    .position(|n| n == asked)
                    .ok_or_else(|| PolicyError::invalid("unknown_target", "no such target"))?;
                if self.may_use(claims, asked) {
                    Ok(i)
                } else {
                    Err(PolicyError::forbidden(
                        "target_not_granted",
                        format!("the token may not use target {asked}"),
                    ))
                }
            }
            None => names.position(|n| self.may_use(claims, n)).ok_or_else(|| {
                PolicyError::forbidden(
                    "target_not_granted",
                    "the token may use none of the configured targets",
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_KEY_TEMPLATE;
    use crate::policy::upload_key;

    fn claims(sub: &str) -> Claims {
        Claims {
            sub: Some(sub.to_owned()),
            ..Claims::default()
        }
    }

    fn template(raw: &str) -> KeyTemplate {
        KeyTemplate::parse(raw).expect("valid template")
    }

    fn key(scope: &Scope, claims: &Claims) -> String {
        let grant = scope.grant(claims).expect("granted");
        upload_key(&grant, &scope.template, "a.png", [7; 16], 0).expect("a key")
    }

    #[test]
    fn one_issuer_keeps_todays_keys() {
        let t = template(DEFAULT_KEY_TEMPLATE);
        let s = Scope::new(&t, "local", false, None);
        assert_eq!(s.template, t);
        assert_eq!(s.namespace, None);
        let alice = claims("alice");
        assert_eq!(s.grant(&alice).unwrap().prefix.as_deref(), Some("alice/"));
        assert!(key(&s, &alice).starts_with("alice/"));
        // A prefix claim is taken as it is.
        let team = Claims {
            prefix: Some("team/".into()),
            ..claims("alice")
        };
        assert_eq!(s.grant(&team).unwrap().prefix.as_deref(), Some("team/"));
    }

    #[test]
    fn several_issuers_get_a_prefix_each() {
        let t = template(DEFAULT_KEY_TEMPLATE);
        let local = Scope::new(&t, "local", true, None);
        let idp = Scope::new(&t, "idp", true, None);
        assert_eq!(local.template.raw, "local/{sub}/{uuid}/{filename}");
        assert_eq!(local.namespace.as_deref(), Some("local/"));
        let alice = claims("alice");
        let (a, b) = (local.grant(&alice).unwrap(), idp.grant(&alice).unwrap());
        assert_eq!(a.prefix.as_deref(), Some("local/alice/"));
        assert_eq!(b.prefix.as_deref(), Some("idp/alice/"));
        let made = key(&idp, &alice);
        assert!(made.starts_with("idp/alice/"), "{made}");
        assert!(a.check_key(&made).is_err());
        assert!(b.check_key(&made).is_ok());
        // A prefix claim stays inside the issuer's namespace.
        let reach = Claims {
            prefix: Some("idp/alice/".into()),
            ..claims("mallory")
        };
        let g = local.grant(&reach).unwrap();
        assert_eq!(g.prefix.as_deref(), Some("local/idp/alice/"));
        assert!(g.check_key(&made).is_err());
        assert!(key(&local, &reach).starts_with("local/idp/alice/"));
        let own = Claims {
            prefix: Some("idp/shared/".into()),
            ..claims("bob")
        };
        assert_eq!(
            idp.grant(&own).unwrap().prefix.as_deref(),
            Some("idp/shared/")
        );
    }

    #[test]
    fn the_iss_placeholder_places_the_issuer() {
        let t = template("uploads/{iss}/{sub}/{uuid}");
        for separate in [false, true] {
            let s = Scope::new(&t, "access", separate, None);
            assert_eq!(s.template.raw, "uploads/access/{sub}/{uuid}");
            let g = s.grant(&claims("alice")).unwrap();
            assert_eq!(g.prefix.as_deref(), Some("uploads/access/alice/"));
        }
        let s = Scope::new(&t, "access", true, None);
        assert_eq!(s.namespace.as_deref(), Some("uploads/access/"));
        let t = template("{iss}/{date}/{sub}/{uuid}");
        let s = Scope::new(&t, "local", true, None);
        assert_eq!(s.namespace.as_deref(), Some("local/"));
        let k = key(&s, &claims("alice"));
        assert!(k.starts_with("local/1970-01-01/alice/"), "{k}");
        // A template not resolved for an issuer makes no key (rather than one without it).
        let grant = s.grant(&claims("alice")).unwrap();
        let refused = upload_key(&grant, &t, "a.png", [7; 16], 0).map_err(|e| e.code);
        assert_eq!(refused, Err("invalid_key"));
    }

    #[test]
    fn targets_narrow_by_issuer_and_claim() {
        let t = template(DEFAULT_KEY_TEMPLATE);
        let names = ["uploads", "archive", "eu"];
        let all = Scope::new(&t, "local", false, None);
        let some = Scope::new(&t, "idp", true, Some(vec!["archive".into(), "eu".into()]));
        let alice = claims("alice");
        assert_eq!(all.pick_target(&alice, None, names), Ok(0));
        assert_eq!(all.pick_target(&alice, Some("eu"), names), Ok(2));
        assert_eq!(some.pick_target(&alice, None, names), Ok(1));
        let code = |r: Result<usize, PolicyError>| r.map_err(|e| e.code);
        assert_eq!(
            code(some.pick_target(&alice, Some("uploads"), names)),
            Err("target_not_granted")
        );
        assert_eq!(
            code(some.pick_target(&alice, Some("nope"), names)),
            Err("unknown_target")
        );
        // The claim narrows; it never adds a target the issuer may not use.
        let only = |list: &[&str]| Claims {
            targets: Some(list.iter().map(|s| (*s).to_owned()).collect()),
            ..claims("alice")
        };
        assert_eq!(all.pick_target(&only(&["eu"]), None, names), Ok(2));
        assert_eq!(
            code(all.pick_target(&only(&["eu"]), Some("uploads"), names)),
            Err("target_not_granted")
        );
        assert_eq!(
            code(some.pick_target(&only(&["uploads"]), None, names)),
            Err("target_not_granted")
        );
        assert_eq!(
            code(some.pick_target(&only(&["uploads"]), Some("uploads"), names)),
            Err("target_not_granted")
        );
        assert_eq!(
            code(all.pick_target(&only(&[]), None, names)),
            Err("target_not_granted")
        );
        // A claim naming a store this worker does not have grants nothing more.
        assert_eq!(all.pick_target(&only(&["other", "eu"]), None, names), Ok(2));
    }
}
