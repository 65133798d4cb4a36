//! Differential tests against the independent `jsonwebtoken` crate:
//! - tokens it signs over random claims are accepted, with the same claims;
//! - tokens our signer makes are accepted by it;
//! - tampered tokens are refused by both, and the expired / wrong-audience / wrong-issuer /
//!   not-yet-valid / bad-signature verdicts match.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind as JKind;
use jsonwebtoken::{Algorithm as JAlg, DecodingKey, EncodingKey, Header as JHeader};
use presign_worker::jwt::{self, Algorithm, ErrorKind, Key, KeySet, Validation};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// jsonwebtoken reads the clock itself; both sides use the real time, and generated times stay
/// far (≥ 10 minutes) from every boundary.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jalg(alg: Algorithm) -> JAlg {
    match alg {
        Algorithm::HS256 => JAlg::HS256,
        Algorithm::HS384 => JAlg::HS384,
        Algorithm::HS512 => JAlg::HS512,
        _ => unreachable!("only HMAC exists"),
    }
}

fn their_validation(
    alg: Algorithm,
    aud: Option<&str>,
    iss: Option<&str>,
) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(jalg(alg));
    v.set_required_spec_claims(&["exp", "sub"]);
    v.leeway = 60;
    v.validate_nbf = true;
    match aud {
        Some(aud) => v.set_audience(&[aud]),
        None => v.validate_aud = false,
    }
    if let Some(iss) = iss {
        v.set_issuer(&[iss]);
    }
    v
}

fn our_validation(alg: Algorithm, aud: Option<&str>, iss: Option<&str>) -> Validation {
    Validation {
        algorithms: vec![alg],
        audiences: aud.map(str::to_owned).into_iter().collect(),
        issuers: iss.map(str::to_owned).into_iter().collect(),
        ..Validation::default()
    }
}

fn their_sign(alg: Algorithm, secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = JHeader::new(jalg(alg));
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn their_verify(
    token: &str,
    secret: &[u8],
    validation: &jsonwebtoken::Validation,
) -> Result<Value, JKind> {
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(secret), validation)
        .map(|d| d.claims)
        .map_err(|e| e.into_kind())
}

fn keyset(secret: &[u8], kid: Option<&str>) -> KeySet {
    KeySet::new(vec![Key::hmac(kid.map(str::to_owned), secret.to_vec())])
}

fn alg_strategy() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::HS256),
        Just(Algorithm::HS384),
        Just(Algorithm::HS512)
    ]
}

/// Any JSON value without duplicate names (serde_json maps cannot hold duplicates).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
struct Case {
    alg: Algorithm,
    secret: Vec<u8>,
    kid: Option<String>,
    claims: Value,
    aud: Option<String>,
    iss: Option<String>,
}

prop_compose! {
    fn case()(
        alg in alg_strategy(),
        secret in prop::collection::vec(any::<u8>(), 1..100),
        kid in proptest::option::of("[A-Za-z0-9._-]{1,16}"),
        sub in ".{0,40}",
        iss in proptest::option::of("https://[a-z]{1,10}\\.example"),
        aud in proptest::option::of(prop_oneof![
            "[a-z]{1,10}".prop_map(|a| (json!(a), a)),
            ("[a-z]{1,10}", prop::collection::vec("[a-z]{1,10}", 0..3)).prop_map(|(a, mut more)| {
                more.push(a.clone());
                (json!(more), a)
            }),
        ]),
        exp_in in 600u64..100_000_000,
        iat_ago in proptest::option::of(0u64..100_000),
        nbf_ago in proptest::option::of(600u64..100_000),
        fraction in proptest::option::of(0.0f64..1.0),
        prefix in proptest::option::of("[a-z0-9/]{0,20}"),
        max_size in proptest::option::of(any::<u64>()),
        extra in prop::collection::btree_map("x_[a-z]{1,8}", json_value(), 0..5),
    ) -> Case {
        let now = now();
        let mut m = Map::new();
        m.insert("sub".into(), json!(sub));
        let exp = now + exp_in;
        m.insert("exp".into(), match fraction {
            Some(f) => json!(exp as f64 + f),
            None => json!(exp),
        });
        if let Some(ago) = iat_ago { m.insert("iat".into(), json!(now - ago)); }
        if let Some(ago) = nbf_ago { m.insert("nbf".into(), json!(now - ago)); }
        if let Some(iss) = &iss { m.insert("iss".into(), json!(iss)); }
        if let Some((aud, _)) = &aud { m.insert("aud".into(), aud.clone()); }
        if let Some(p) = prefix { m.insert("prefix".into(), json!(p)); }
        if let Some(s) = max_size { m.insert("max_size".into(), json!(s)); }
        for (k, v) in extra { m.insert(k, v); }
        Case {
            alg,
            secret,
            kid,
            claims: Value::Object(m),
            aud: aud.map(|(_, ours)| ours),
            iss,
        }
    }
}

/// JSON equality where floats may differ in the last place: serde_json's default float parser
/// is not correctly rounded (no `float_roundtrip` feature), on either side.
fn json_close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => {
                x == y || (x - y).abs() <= x.abs().max(y.abs()) * 4.0 * f64::EPSILON
            }
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

/// Our claims, serialized back, equal what jsonwebtoken decoded (numbers compared as f64).
fn same_claims(ours: &jwt::Claims, theirs: &Value) -> bool {
    let ours = serde_json::to_value(ours).unwrap();
    let Value::Object(theirs) = theirs else {
        return false;
    };
    let Value::Object(ours) = ours else {
        return false;
    };
    if ours.len() != theirs.len() {
        return false;
    }
    theirs.iter().all(|(k, v)| {
        let o = &ours[k];
        match (k.as_str(), v, o) {
            ("aud", Value::Array(a), Value::String(s)) => a.len() == 1 && a[0] == *s,
            (_, Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => v == o,
        }
    })
}

/// The verdict class shared by both libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    OtherError,
}

fn our_verdict(r: &Result<jwt::Claims, jwt::Error>) -> Verdict {
    match r {
        Ok(_) => Verdict::Ok,
        Err(e) => match e.kind() {
            ErrorKind::BadSignature => Verdict::BadSignature,
            ErrorKind::Expired => Verdict::Expired,
            ErrorKind::NotYetValid => Verdict::NotYetValid,
            ErrorKind::WrongIssuer => Verdict::WrongIssuer,
            ErrorKind::WrongAudience => Verdict::WrongAudience,
            _ => Verdict::OtherError,
        },
    }
}

fn their_verdict(r: &Result<Value, JKind>) -> Verdict {
    match r {
        Ok(_) => Verdict::Ok,
        Err(JKind::InvalidSignature) => Verdict::BadSignature,
        Err(JKind::ExpiredSignature) => Verdict::Expired,
        Err(JKind::ImmatureSignature) => Verdict::NotYetValid,
        Err(JKind::InvalidIssuer) => Verdict::WrongIssuer,
        Err(JKind::InvalidAudience) => Verdict::WrongAudience,
        Err(_) => Verdict::OtherError,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// jsonwebtoken signs random claims; we accept them and read the same claims.
    #[test]
    fn we_accept_what_jsonwebtoken_signs(c in case()) {
        let token = their_sign(c.alg, &c.secret, c.kid.as_deref(), &c.claims);
        let theirs = their_verify(&token, &c.secret, &their_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()));
        prop_assert!(theirs.is_ok(), "jsonwebtoken refused its own token: {:?}", theirs);
        let ours = jwt::verify(
            &token,
            &keyset(&c.secret, c.kid.as_deref()),
            &our_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()),
            now(),
        );
        let ours = ours.map_err(|e| format!("{}: {e}", e.code()));
        prop_assert!(ours.is_ok(), "we refused: {:?}", ours);
        let ours = ours.unwrap();
        let theirs = theirs.unwrap();
        prop_assert!(same_claims(&ours, &theirs), "claims differ:\nours   {:?}\ntheirs {}", ours, theirs);
        prop_assert_eq!(ours.sub.as_deref(), theirs["sub"].as_str());
    }

    /// Our signer's tokens are accepted by jsonwebtoken with the same claims.
    #[test]
    fn jsonwebtoken_accepts_what_we_sign(c in case()) {
        let Value::Object(map) = &c.claims else { unreachable!() };
        let token = jwt::sign_hs(c.alg, &c.secret, c.kid.as_deref(), map);
        let theirs = their_verify(&token, &c.secret, &their_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()));
        prop_assert!(theirs.is_ok(), "jsonwebtoken refused: {:?}", theirs);
        let theirs = theirs.unwrap();
        prop_assert!(json_close(&theirs, &c.claims), "claims differ:\n{}\n{}", theirs, c.claims);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        prop_assert_eq!(header.kid, c.kid.clone());
        prop_assert_eq!(header.alg, jalg(c.alg));
    }

    /// Any single-character change, truncation or extension: both refuse.
    #[test]
    fn tampered_tokens_refused_by_both(
        c in case(),
        pos in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".chars().collect::<Vec<_>>()
        ),
        mode in 0u8..3,
    ) {
        let token = their_sign(c.alg, &c.secret, c.kid.as_deref(), &c.claims);
        let mut chars: Vec<char> = token.chars().collect();
        let i = pos.index(chars.len());
        match mode {
            0 => {
                prop_assume!(chars[i] != replacement);
                chars[i] = replacement;
            }
            1 => chars.insert(i, replacement),
            _ => { chars.remove(i); }
        }
        let tampered: String = chars.into_iter().collect();
        let theirs = their_verify(&tampered, &c.secret, &their_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()));
        let ours = jwt::verify(
            &tampered,
            &keyset(&c.secret, c.kid.as_deref()),
            &our_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()),
            now(),
        );
        prop_assert!(theirs.is_err(), "jsonwebtoken accepted a tampered token");
        prop_assert!(ours.is_err(), "we accepted a tampered token");
    }

    /// Same verdict on valid-signature tokens that fail a claim check.
    #[test]
    fn claim_verdicts_match(
        c in case(),
        which in 0u8..5,
    ) {
        let now = now();
        let Value::Object(mut m) = c.claims.clone() else { unreachable!() };
        let mut aud = c.aud.clone();
        let mut iss = c.iss.clone();
        match which {
            0 => { m.insert("exp".into(), json!(now - 600)); }
            1 => { m.insert("nbf".into(), json!(now + 600)); }
            2 => { m.insert("aud".into(), json!(["someone-else"])); aud = Some("presign".into()); }
            3 => { m.insert("iss".into(), json!("https://evil.example")); iss = Some("https://good.example".into()); }
            _ => {}
        }
        let claims = Value::Object(m);
        let token = their_sign(c.alg, &c.secret, c.kid.as_deref(), &claims);
        let theirs = their_verify(&token, &c.secret, &their_validation(c.alg, aud.as_deref(), iss.as_deref()));
        let ours = jwt::verify(
            &token,
            &keyset(&c.secret, c.kid.as_deref()),
            &our_validation(c.alg, aud.as_deref(), iss.as_deref()),
            now,
        );
        prop_assert_eq!(our_verdict(&ours), their_verdict(&theirs));
        let expected = [Verdict::Expired, Verdict::NotYetValid, Verdict::WrongAudience, Verdict::WrongIssuer, Verdict::Ok];
        prop_assert_eq!(our_verdict(&ours), expected[which as usize]);
    }

    /// Signed with another secret: both say bad signature.
    #[test]
    fn wrong_key_verdicts_match(c in case(), other in prop::collection::vec(any::<u8>(), 1..64)) {
        prop_assume!(other != c.secret);
        let token = their_sign(c.alg, &other, c.kid.as_deref(), &c.claims);
        let theirs = their_verify(&token, &c.secret, &their_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()));
        let ours = jwt::verify(
            &token,
            &keyset(&c.secret, c.kid.as_deref()),
            &our_validation(c.alg, c.aud.as_deref(), c.iss.as_deref()),
            now(),
        );
        prop_assert_eq!(their_verdict(&theirs), Verdict::BadSignature);
        prop_assert_eq!(our_verdict(&ours), Verdict::BadSignature);
    }
}

/// An HS384 token is refused by both when only HS256 is allowed.
#[test]
fn algorithm_not_allowed_by_both() {
    let claims = json!({"sub": "alice", "exp": now() + 3600});
    let token = their_sign(Algorithm::HS384, b"secret", None, &claims);
    let theirs = their_verify(
        &token,
        b"secret",
        &their_validation(Algorithm::HS256, None, None),
    );
    assert_eq!(theirs.unwrap_err(), JKind::InvalidAlgorithm);
    let err = jwt::verify(
        &token,
        &KeySet::from_secret(b"secret"),
        &our_validation(Algorithm::HS256, None, None),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgNotAllowed);
}
