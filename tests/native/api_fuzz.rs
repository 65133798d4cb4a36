//! Property tests of the whole API: whatever the method, path, headers and body — including
//! bodies that pass authentication with a valid token — the answer is a 2xx/4xx with a JSON body
//! (an `error.code` on every 4xx), never a panic, never a 5xx, and never a secret. And for any
//! valid `KEY_TEMPLATE`, no subject's grant covers another subject's keys.
use std::collections::HashMap;

use crate::api_support::{hs256, request, service_from};
use presign_worker::api::Service;
use presign_worker::config::Config;
use presign_worker::jwt::Claims;
use presign_worker::policy::KeyTemplate;
use presign_worker::policy::{self, Grant, Scope};
use proptest::prelude::*;
use serde_json::{json, Value};

const JWT_SECRET: &str = "fuzz-jwt-secret-0123456789-abcdefghijkl";
const S3_SECRET: &str = "fuzz-s3-secret-never-in-an-answer";
const NOW: u64 = 1_767_225_600;

fn service() -> Service {
    service_from(&[
        ("TARGETS", "uploads,posts"),
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("TARGET_POSTS_KIND", "s3"),
        ("TARGET_POSTS_REGION", "us-west-2"),
        ("TARGET_POSTS_BUCKET", "posts"),
        ("TARGET_POSTS_POST_POLICY", "true"),
        ("S3_ACCESS_KEY_ID", "AKIDFUZZ"),
        ("S3_SECRET_ACCESS_KEY", S3_SECRET),
        ("JWT_SECRET", JWT_SECRET),
        ("ALLOWED_CONTENT_TYPES", "*/*"),
        ("CORS_ALLOWED_ORIGINS", "https://a.example"),
        ("ALLOW_DELETE", "true"),
    ])
}

fn token(claims: &Value) -> String {
    hs256(JWT_SECRET, claims)
}

fn check(svc: &Service, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = request(svc, method, path, &h, body, NOW * 1000);
    assert!(
        (200..500).contains(&r.status),
        "status {} for {method} {path}: {}",
        r.status,
        r.body
    );
    assert!(!r.body.contains(S3_SECRET) && !r.body.contains(JWT_SECRET));
    if !r.body.is_empty() {
        let v: Value = serde_json::from_str(&r.body).expect("JSON body");
        if r.status >= 400 {
            assert!(v["error"]["code"].is_string(), "{}", r.body);
        }
    }
}

/// JSON values that look like API requests, with wrong types and odd strings mixed in.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "PUT",
            "POST",
            "GET",
            "DELETE",
            "HEAD",
            "image/png",
            "text/plain",
            "a.png",
            "..",
            "alice/x",
            "alice/../bob",
            "posts",
            "uploads",
            "u1",
            "",
        ])
        .prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "filename",
        "content_type",
        "size",
        "checksum",
        "metadata",
        "target",
        "key",
        "method",
        "uploadId",
        "partNumber",
        "contentType",
        "expiresIn",
        "sha256",
        "crc32",
        "x",
    ]);
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((keys.clone(), inner), 0..7).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn authenticated_json_never_fails_badly(
        path in prop::sample::select(vec!["/v1/uploads", "/v1/downloads", "/v1/sign"]),
        body in arb_json(),
        claims in prop::sample::select(vec![
            json!({ "sub": "alice", "exp": NOW + 100 }),
            json!({ "sub": "alice", "exp": NOW + 100, "prefix": "alice/x", "max_size": 3, "content_types": ["image/*"] }),
            json!({ "sub": "../x", "exp": NOW + 100 }),
            json!({ "sub": "alice", "exp": NOW }),
        ]),
    ) {
        let svc = service();
        let auth = format!("Bearer {}", token(&claims));
        let headers = vec![("authorization".to_owned(), auth), ("content-type".to_owned(), "application/json".to_owned())];
        check(&svc, "POST", path, &headers, body.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_requests_never_fail_badly(
        method in "[A-Z]{0,8}",
        path in prop_oneof![Just("/v1/uploads".to_owned()), Just("/healthz".to_owned()), "\\PC{0,30}"],
        headers in prop::collection::vec(("[a-z-]{1,20}", "\\PC{0,60}"), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check(&service(), &method, &path, &headers, &body);
    }
}

/// A value for an identity-provider variable: plausible, wrong, or arbitrary.
fn issuer_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "https://idp.example",
            "http://127.0.0.1:8080/jwks.json",
            "http://example.com/jwks.json",
            "https://[::1]:443/keys?x=1",
            "https://idp.example/#frag",
            "RS256,ES256",
            "HS256",
            "EdDSA,EdDSA",
            "a,,b",
            "myteam",
            "myteam.cloudflareaccess.com",
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            "",
            " ",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any identity-provider configuration is accepted or refused with a named variable, never
    /// a panic, and a refusal never quotes a secret (nor the key of an inline JWKS).
    #[test]
    fn issuer_configuration_never_panics(
        names in prop::sample::select(vec!["idp", "idp,other", "access", "Bad-Name", "idp,idp", ""]),
        values in prop::collection::vec(issuer_value(), 8),
        with_secret in any::<bool>(),
    ) {
        let keys = [
            "ISSUER_IDP_ISS", "ISSUER_IDP_JWKS_URL", "ISSUER_IDP_JWKS", "ISSUER_IDP_AUDIENCE",
            "ISSUER_IDP_ALGORITHMS", "ACCESS_TEAM", "ACCESS_AUD", "JWKS_REFETCH_INTERVAL",
        ];
        let mut vars: HashMap<String, String> = [
            ("TARGET_UPLOADS_KIND", "custom"),
            ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
            ("TARGET_UPLOADS_BUCKET", "uploads"),
            ("S3_ACCESS_KEY_ID", "AKIDFUZZ"),
            ("S3_SECRET_ACCESS_KEY", S3_SECRET),
            ("ISSUERS", names),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if with_secret {
            vars.insert("JWT_SECRET".to_owned(), JWT_SECRET.to_owned());
        }
        for (k, v) in keys.iter().zip(&values) {
            vars.insert((*k).to_owned(), v.clone());
        }
        if let Err(e) = Service::from_lookup(&|k| vars.get(k).cloned()) {
            prop_assert!(!e.variable.is_empty());
            prop_assert!(!e.to_string().contains(S3_SECRET), "{e}");
            prop_assert!(!e.to_string().contains(JWT_SECRET), "{e}");
            if e.variable == "ISSUER_IDP_JWKS" {
                // An inline JWKS with a symmetric key is refused without quoting the key.
                prop_assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
            }
        }
    }
}

/// The parsed `KEY_TEMPLATE`, or `None` when the configuration refuses it.
fn key_template(raw: &str) -> Option<KeyTemplate> {
    let vars: HashMap<&str, &str> = [
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDFUZZ"),
        ("S3_SECRET_ACCESS_KEY", S3_SECRET),
        ("JWT_SECRET", JWT_SECRET),
        ("KEY_TEMPLATE", raw),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(&|k| vars.get(k).map(|v| v.to_string()))
        .ok()
        .map(|c| c.policy.key_template)
}

/// Pieces of key template segments: placeholders, separators, and words a subject may also be
/// called.
const TEMPLATE_PIECES: &[&str] = &[
    "{sub}",
    "{sub}",
    "{uuid}",
    "{filename}",
    "{date}",
    "{ext}",
    "-",
    "_",
    ".",
    "=",
    "uploads",
    "u",
    "bob",
    "x",
];

/// Key templates of one to four segments of those pieces, with `{sub}` and `{uuid}` or
/// `{filename}` added when missing; a few (a `.` segment) are invalid.
fn template_text() -> impl Strategy<Value = String> {
    let segment = prop::collection::vec(prop::sample::select(TEMPLATE_PIECES), 1..4);
    (prop::collection::vec(segment, 1..5), any::<bool>()).prop_map(|(segments, sub_last)| {
        let mut raw = segments
            .iter()
            .map(|s| s.concat())
            .collect::<Vec<_>>()
            .join("/");
        if !raw.contains("{sub}") {
            raw = if sub_last {
                format!("{raw}/{{sub}}")
            } else {
                format!("{{sub}}/{raw}")
            };
        }
        if !raw.contains("{uuid}") && !raw.contains("{filename}") {
            raw.push_str("/{filename}");
        }
        raw
    })
}

/// Subjects named like the template's words, like each other's prefixes, or anything.
fn subject() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "uploads",
            "u",
            "bob",
            "bob-",
            "bob-x",
            "x",
            "-",
            "_",
            "=",
            "uploads-bob",
            "u.x",
            "bob_u",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9._=-]{1,8}",
    ]
}

fn grant(sub: &str, template: &KeyTemplate) -> Option<Grant> {
    let claims = Claims {
        sub: Some(sub.to_owned()),
        ..Claims::default()
    };
    Grant::new(&claims, template).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Whatever the valid template and two different subjects, neither grant covers a key made
    /// for the other, nor is one grant inside the other (so no key either may name); a grant
    /// covers its own subject's keys.
    #[test]
    fn no_grant_covers_another_subjects_keys(
        raw in template_text(),
        a in subject(),
        b in subject(),
        uuid in any::<[u8; 16]>(),
        filename in prop::sample::select(vec!["f.txt", "bob", "uploads", "x-y.png"]),
    ) {
        prop_assume!(a != b);
        let template = key_template(&raw);
        prop_assume!(template.is_some());
        let template = template.unwrap();
        let (Some(ga), Some(gb)) = (grant(&a, &template), grant(&b, &template)) else {
            // Subjects that cannot be used in a key are refused outright.
            return Ok(());
        };
        for (mine, theirs) in [(&ga, &gb), (&gb, &ga)] {
            let Ok(key) = policy::upload_key(mine, &template, filename, uuid, NOW) else {
                continue;
            };
            prop_assert!(
                theirs.check_key(&key).is_err(),
                "{raw}: the grant {:?} of {:?} covers {key}, made for {:?}",
                theirs.prefix, theirs.sub, mine.sub
            );
            if mine.prefix.is_some() {
                prop_assert!(mine.check_key(&key).is_ok(), "{raw}: {:?} misses its own {key}", mine.prefix);
            }
        }
        if let (Some(pa), Some(pb)) = (&ga.prefix, &gb.prefix) {
            prop_assert!(!pa.starts_with(pb.as_str()) && !pb.starts_with(pa.as_str()), "{raw}: {pa} and {pb} overlap");
        }
    }
}

/// Issuer names like the template's words, like each other's prefixes, and the fixed ones.
fn issuer_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "local", "access", "idp", "id", "uploads", "u", "bob", "x",
    ])
    .prop_map(str::to_owned)
}

/// Template texts as [`template_text`], some with `{iss}` as the first segment or the second
/// after a literal one.
fn template_text_with_iss() -> impl Strategy<Value = String> {
    (template_text(), 0..3u8).prop_map(|(raw, place)| match place {
        0 => raw,
        1 => format!("{{iss}}/{raw}"),
        _ => format!("in/{{iss}}/{raw}"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// With tokens of several issuers accepted, whatever the valid template (with `{iss}` or
    /// not), the issuers and the subjects: no grant of one (issuer, subject) covers a key made
    /// for another, and no `prefix` claim of one issuer covers a key of another issuer's tokens,
    /// whatever the claim says.
    #[test]
    fn no_grant_covers_another_issuers_keys(
        raw in template_text_with_iss(),
        (ia, a) in (issuer_name(), subject()),
        (ib, b) in (issuer_name(), subject()),
        claim in prop::option::of(prop_oneof![subject(), "[a-z/]{1,12}", Just("local/".to_owned())]),
        uuid in any::<[u8; 16]>(),
    ) {
        prop_assume!((&ia, &a) != (&ib, &b));
        let template = key_template(&raw);
        prop_assume!(template.is_some());
        let template = template.unwrap();
        let (sa, sb) = (Scope::new(&template, &ia, true, None), Scope::new(&template, &ib, true, None));
        let claims = |sub: &str, prefix: Option<&String>| Claims {
            sub: Some(sub.to_owned()),
            prefix: prefix.cloned(),
            ..Claims::default()
        };
        let (Ok(ga), Ok(gb)) = (sa.grant(&claims(&a, None)), sb.grant(&claims(&b, None))) else {
            return Ok(());
        };
        let Ok(key) = policy::upload_key(&ga, &sa.template, "f.txt", uuid, NOW) else {
            return Ok(());
        };
        prop_assert!(gb.check_key(&key).is_err(), "{raw}: {ib}/{b} ({:?}) covers {key} of {ia}/{a}", gb.prefix);
        if ga.prefix.is_some() {
            prop_assert!(ga.check_key(&key).is_ok(), "{raw}: {:?} misses its own {key}", ga.prefix);
        }
        if ia != ib {
            if let Ok(with_claim) = sb.grant(&claims(&b, claim.as_ref())) {
                prop_assert!(with_claim.check_key(&key).is_err(), "{raw}: prefix claim {claim:?} of {ib} ({:?}) covers {key} of {ia}", with_claim.prefix);
            }
        }
    }
}
