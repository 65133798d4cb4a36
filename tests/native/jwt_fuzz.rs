//! Property tests: no input makes the verifier (or the key parsers) panic, including inputs
//! that get past the signature check because they are correctly signed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm as JAlg, EncodingKey};
use presign_worker::jwt::{self, Algorithm, ErrorKind, Key, KeySet, Validation};
use proptest::prelude::*;

const SECRET: &[u8] = b"fuzz-secret";

fn keys() -> KeySet {
    KeySet::new(vec![
        Key::hmac(None, SECRET.to_vec()),
        Key::hmac(Some("k1".to_owned()), SECRET.to_vec()),
    ])
}

fn lenient() -> Validation {
    Validation {
        algorithms: Algorithm::ALL.to_vec(),
        required_claims: Vec::new(),
        max_age: Some(1_000_000),
        issuers: vec!["i".to_owned()],
        audiences: vec!["a".to_owned()],
        ..Validation::default()
    }
}

/// Exercises every entry point; returns nothing, the point is not panicking.
fn poke(token: &str) {
    let _ = jwt::verify(token, &keys(), &Validation::default(), 1_700_000_000);
    let _ = jwt::verify(token, &keys(), &lenient(), 0);
    let _ = jwt::verify(token, &keys(), &lenient(), u64::MAX);
    let _ = jwt::verify_jws(token, &keys(), Algorithm::ALL);
}

/// A correctly HS256-signed token with these exact header and payload bytes.
fn signed(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        JAlg::HS256,
    )
    .unwrap();
    format!("{input}.{sig}")
}

const JSONISH: &str = r#"[{}\[\]":,a-z0-9.eE+\\ -]{0,80}"#;

fn header_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"alg":"HS256"}"#.to_vec()),
        Just(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#.to_vec()),
        JSONISH.prop_map(|s| format!(r#"{{"alg":"HS256",{s}}}"#).into_bytes()),
        JSONISH.prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        JSONISH.prop_map(|s| format!(r#"{{"sub":"s","exp":9e9,{s}}}"#).into_bytes()),
        JSONISH.prop_map(|s| format!(r#"{{{s}}}"#).into_bytes()),
        JSONISH.prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..200),
        (
            prop::sample::select(vec![
                "exp",
                "nbf",
                "iat",
                "sub",
                "iss",
                "aud",
                "prefix",
                "content_types",
                "max_size",
                "x"
            ]),
            prop::sample::select(vec![
                "0",
                "-0",
                "1.5",
                "-1",
                "1e300",
                "-1e300",
                "1e400",
                "18446744073709551616",
                "253402300799",
                "253402300799.5",
                "true",
                "null",
                "\"s\"",
                "[]",
                "[\"a\"]",
                "[1]",
                "{}",
                "{\"a\":1,\"a\":2}",
                "9007199254740993",
                "0.0000001",
            ]),
        )
            .prop_map(|(k, v)| format!(r#"{{"{k}":{v}}}"#).into_bytes()),
    ]
}

/// A JWK-shaped object: members drawn from the real ones, with real, wrong and odd values.
fn jwk_strategy() -> impl Strategy<Value = String> {
    let b64 = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..70).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        Just("AQAB".to_owned()),
        "[A-Za-z0-9_=+/-]{0,40}",
    ];
    let member = prop_oneof![
        prop::sample::select(vec!["RSA", "EC", "OKP", "oct", "rsa", ""])
            .prop_map(|v| format!(r#""kty":"{v}""#)),
        prop::sample::select(vec![
            "P-256",
            "P-384",
            "P-521",
            "Ed25519",
            "X25519",
            "secp256k1"
        ])
        .prop_map(|v| format!(r#""crv":"{v}""#)),
        prop::sample::select(vec![
            "RS256", "PS384", "ES256", "ES384", "EdDSA", "HS256", "none"
        ])
        .prop_map(|v| format!(r#""alg":"{v}""#)),
        prop::sample::select(vec!["sig", "enc", ""]).prop_map(|v| format!(r#""use":"{v}""#)),
        (
            prop::sample::select(vec!["n", "e", "x", "y", "d", "k"]),
            b64
        )
            .prop_map(|(m, v)| format!(r#""{m}":"{v}""#)),
        "[a-z]{1,8}".prop_map(|kid| format!(r#""kid":"{kid}""#)),
        Just(r#""key_ops":["verify"]"#.to_owned()),
        Just(r#""key_ops":"verify""#.to_owned()),
        Just(r#""kid":5"#.to_owned()),
        Just(r#""n":null"#.to_owned()),
    ];
    prop::collection::vec(member, 0..8).prop_map(|m| format!("{{{}}}", m.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        poke(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,300}") {
        poke(&s);
    }

    #[test]
    fn token_shaped_strings_never_panic(s in "[A-Za-z0-9_=+/ -]{0,60}(\\.[A-Za-z0-9_=+/ -]{0,120}){0,4}") {
        poke(&s);
    }

    #[test]
    fn signed_arbitrary_contents_never_panic(header in header_strategy(), payload in payload_strategy()) {
        let token = signed(&header, &payload);
        poke(&token);
        // A signed token is never refused for its signature.
        if let Err(e) = jwt::verify_jws(&token, &keys(), &[Algorithm::HS256]) {
            prop_assert_ne!(e.kind(), ErrorKind::BadSignature);
        }
    }

    #[test]
    fn jwk_and_jwks_parsers_never_panic(jwks in prop::collection::vec(jwk_strategy(), 0..4)) {
        for jwk in &jwks {
            let _ = Key::from_jwk(jwk);
        }
        let set = format!(r#"{{"keys":[{}]}}"#, jwks.join(","));
        if let Ok(parsed) = KeySet::from_jwks(&set) {
            // Whatever was kept is a public key: never an HMAC secret from a published set.
            prop_assert!(parsed.keys.keys().iter().all(|k| k.public_key().is_some()));
            prop_assert_eq!(parsed.keys.len() + parsed.skipped.len(), jwks.len());
        }
        let _ = KeySet::from_jwks(&set[..set.len() / 2]);
    }

    #[test]
    fn key_parsers_never_panic(s in ".{0,200}") {
        let _ = KeySet::from_json_map(&s);
        let _ = jwt::parse_secret(&s);
        let _ = KeySet::from_config(Some(&s), Some(&s));
        let _ = KeySet::from_json_map(&format!(r#"{{"k":"{s}"}}"#));
        let _ = jwt::parse_secret(&format!("base64:{s}"));
    }
}

#[test]
fn deep_nesting_is_refused_without_stack_overflow() {
    let depth = 3000;
    let payload = format!(
        r#"{{"sub":"s","exp":9e9,"x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let token = signed(br#"{"alg":"HS256"}"#, payload.as_bytes());
    assert!(token.len() <= jwt::MAX_TOKEN_LEN);
    let err = jwt::verify(&token, &keys(), &Validation::default(), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);

    let header = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "{\"a\":".repeat(1000),
        "}".repeat(1000)
    );
    let token = signed(header.as_bytes(), br#"{"sub":"s","exp":9e9}"#);
    let err = jwt::verify(&token, &keys(), &Validation::default(), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
}

#[test]
fn moderate_nesting_in_custom_claims_is_kept() {
    let payload = br#"{"sub":"s","exp":9e9,"x":[[[[{"a":[1,{"b":null}]}]]]]}"#;
    let token = signed(br#"{"alg":"HS256"}"#, payload);
    let claims = jwt::verify(&token, &keys(), &Validation::default(), 0).unwrap();
    assert_eq!(
        claims.extra["x"][0][0][0][0]["a"][1]["b"],
        serde_json::Value::Null
    );
}
