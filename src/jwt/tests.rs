//! Unit tests of the internals (the public behaviour is tested in `tests/jwt_*.rs`).

use super::*;

#[test]
fn decoded_len_matches_unpadded_base64() {
    assert_eq!(decoded_len(0), Some(0));
    assert_eq!(decoded_len(1), None);
    assert_eq!(decoded_len(2), Some(1));
    assert_eq!(decoded_len(3), Some(2));
    assert_eq!(decoded_len(4), Some(3));
    assert_eq!(decoded_len(43), Some(32));
    assert_eq!(decoded_len(86), Some(64));
}

#[test]
fn signature_lengths_in_characters() {
    for (alg, chars) in [
        (Algorithm::HS256, 43),
        (Algorithm::HS384, 64),
        (Algorithm::HS512, 86),
    ] {
        assert_eq!((alg.fixed_signature_len().unwrap() * 4).div_ceil(3), chars);
    }
}

#[test]
fn strict_base64url_engine() {
    assert_eq!(B64.decode("e30").unwrap(), b"{}");
    assert!(B64.decode("e31").is_err(), "non-canonical trailing bits");
    assert!(B64.decode("e30=").is_err(), "padding");
    assert!(B64.decode("e3 0").is_err(), "whitespace");
    assert!(B64.decode("a+b/").is_err(), "standard alphabet");
    assert!(B64.decode("a").is_err(), "impossible length");
}

#[test]
fn decode_segment_uses_stack_or_heap() {
    let mut stack = [0u8; 4];
    let mut heap = Vec::new();
    assert_eq!(
        decode_segment("e30", &mut stack, &mut heap, "x").unwrap(),
        b"{}"
    );
    assert!(heap.is_empty());
    let long = B64.encode(b"0123456789");
    assert_eq!(
        decode_segment(&long, &mut stack, &mut heap, "x").unwrap(),
        b"0123456789"
    );
    assert_eq!(
        decode_segment("e31", &mut stack, &mut heap, "x")
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn split_rules() {
    let p = split("aa.bb.cc").unwrap();
    assert_eq!(
        (p.header, p.payload, p.signature, p.signing_input),
        ("aa", "bb", "cc", "aa.bb")
    );
    let p = split("..").unwrap();
    assert_eq!((p.header, p.payload, p.signature), ("", "", ""));
    for bad in [
        "", "a", "a.b", "a.b.c.d", "a.b.c.", "a b.c.d", "a=.b.c", "a.b.c\n", "é.b.c",
    ] {
        assert_eq!(
            split(bad).unwrap_err().kind(),
            ErrorKind::Malformed,
            "{bad:?}"
        );
    }
    let big = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(split(&big).unwrap_err().kind(), ErrorKind::TooLarge);
    let max = format!("a.b.{}", "c".repeat(MAX_TOKEN_LEN - 4));
    assert!(split(&max).is_ok());
}

#[test]
fn typ_values() {
    for ok in [
        "JWT",
        "jwt",
        "Jwt",
        "at+jwt",
        "AT+JWT",
        "application/jwt",
        "Application/At+Jwt",
    ] {
        assert!(header::typ_ok(ok), "{ok}");
    }
    for bad in [
        "",
        "JWS",
        "jose",
        "application/",
        "application/jose",
        "jwt ",
        "xapplication/jwt",
    ] {
        assert!(!header::typ_ok(bad), "{bad}");
    }
}

#[test]
fn algorithm_names_round_trip_and_none_is_never_one() {
    for alg in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(alg.name()), Some(*alg));
        assert_eq!(
            alg.family() == KeyFamily::Hmac,
            Algorithm::HMAC.contains(alg)
        );
    }
    for name in [
        "none", "None", "NONE", "nOnE", "hs256", "HS256 ", "rs256", "ES512", "EdDsa", "Ed25519", "",
    ] {
        assert_eq!(Algorithm::from_name(name), None, "{name}");
    }
}

/// The index of `kind` in [`ErrorKind::ALL`]; an exhaustive match, so that a new kind does
/// not compile until it is listed there.
fn position(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Malformed => 0,
        ErrorKind::TooLarge => 1,
        ErrorKind::BadSignature => 2,
        ErrorKind::AlgNotAllowed => 3,
        ErrorKind::UnknownKey => 4,
        ErrorKind::InvalidKey => 5,
        ErrorKind::UnsupportedCrit => 6,
        ErrorKind::BadType => 7,
        ErrorKind::DuplicateClaim => 8,
        ErrorKind::Expired => 9,
        ErrorKind::NotYetValid => 10,
        ErrorKind::TooOld => 11,
        ErrorKind::MissingClaim => 12,
        ErrorKind::InvalidClaim => 13,
        ErrorKind::WrongIssuer => 14,
        ErrorKind::WrongAudience => 15,
        ErrorKind::AsyncVerificationRequired => 16,
        ErrorKind::Replayed => 17,
    }
}

#[test]
fn error_codes_are_unique_snake_case() {
    for (i, kind) in ErrorKind::ALL.iter().enumerate() {
        assert_eq!(position(*kind), i, "{kind:?}");
    }
    let mut codes: Vec<&str> = ErrorKind::ALL.iter().map(ErrorKind::code).collect();
    for c in &codes {
        assert!(
            c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{c}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ErrorKind::ALL.len());
}

#[test]
fn key_debug_never_shows_the_secret() {
    let key = Key::hmac(Some("k1".to_owned()), b"super-secret-value".to_vec());
    let keys = KeySet::new(vec![key.clone()]);
    for text in [
        format!("{key:?}"),
        format!("{keys:?}"),
        format!("{keys:#?}"),
    ] {
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(!text.contains("73757065"), "{text}"); // hex of "supe"
        assert!(text.contains("k1") && text.contains("redacted"), "{text}");
    }
}

#[test]
fn key_selection_rule() {
    let keys = KeySet::new(vec![
        Key::hmac(Some("a".to_owned()), b"1".to_vec()),
        Key::hmac(Some("b".to_owned()), b"2".to_vec()),
        Key::hmac(None, b"3".to_vec()),
    ]);
    assert_eq!(keys.select(Some("a")).unwrap().kid(), Some("a"));
    assert_eq!(keys.select(None).unwrap().kid(), None);
    assert_eq!(
        keys.select(Some("c")).unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
    assert_eq!(
        keys.select(Some("A")).unwrap_err().kind(),
        ErrorKind::UnknownKey
    );

    let two_defaults = KeySet::new(vec![
        Key::hmac(None, b"1".to_vec()),
        Key::hmac(None, b"2".to_vec()),
    ]);
    assert_eq!(
        two_defaults.select(None).unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
    let duplicate_kid = KeySet::new(vec![
        Key::hmac(Some("a".to_owned()), b"1".to_vec()),
        Key::hmac(Some("a".to_owned()), b"2".to_vec()),
    ]);
    assert_eq!(
        duplicate_kid.select(Some("a")).unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
    assert_eq!(
        KeySet::default().select(None).unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
}

#[test]
fn key_algorithm_pinning() {
    let key = Key::hmac(None, b"k".to_vec()).with_algorithm(Algorithm::HS384);
    assert!(key.check_algorithm(Algorithm::HS384).is_ok());
    assert_eq!(
        key.check_algorithm(Algorithm::HS256).unwrap_err().kind(),
        ErrorKind::AlgNotAllowed
    );
}

#[test]
fn secrets_raw_or_base64() {
    assert_eq!(parse_secret("plain").unwrap(), b"plain");
    assert_eq!(parse_secret("base64:aGVsbG8=").unwrap(), b"hello");
    assert_eq!(parse_secret("base64:aGVsbG8").unwrap(), b"hello");
    assert_eq!(parse_secret("base64:-_8").unwrap(), [0xfb, 0xff]);
    assert_eq!(parse_secret("base64:+/8=").unwrap(), [0xfb, 0xff]);
    for bad in ["", "base64:", "base64:!!", "base64:a"] {
        let err = parse_secret(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad}");
    }
}

#[test]
fn json_key_map() {
    let keys = KeySet::from_json_map(r#"{"k1":"one","k2":"base64:dHdv"}"#).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.select(Some("k2")).is_ok());
    for bad in [
        "",
        "[]",
        r#"{"k1":"a","k1":"b"}"#,
        r#"{"":"a"}"#,
        r#"{"k":1}"#,
        r#"{"k":""}"#,
        r#"{"k":"base64:*"}"#,
        r#"{"k":"a"} x"#,
    ] {
        let err = KeySet::from_json_map(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad}");
        assert!(!err.to_string().contains("base64:*"));
    }
}

#[test]
fn key_settings_are_read_by_one_set_of_rules() {
    use super::KeySettingsError as E;
    let long = "s".repeat(32);
    let ok = KeySet::from_settings(Some(&long), Some(&format!(r#"{{"a":"{long}"}}"#)), 32);
    assert!(ok.is_ok_and(|k| k.select(None).is_ok() && k.select(Some("a")).is_ok()));
    // Neither setting: an empty set (the caller decides whether that is enough).
    assert!(KeySet::from_settings(None, None, 32).is_ok_and(|k| k.is_empty()));
    let err = |secret: Option<&str>, keys: &str| {
        KeySet::from_settings(secret, Some(keys), 32).map(|k| k.len())
    };
    assert_eq!(
        err(None, "{\n  x"),
        Err(E::NotAnObject { line: 2, column: 3 })
    );
    assert!(matches!(
        err(None, r#"{"a": 5}"#),
        Err(E::NotAnObject { .. })
    ));
    assert!(matches!(err(None, "[]"), Err(E::NotAnObject { .. })));
    assert_eq!(err(None, "{}"), Err(E::NoKeys));
    let kid129 = format!(r#"{{"{}":"{long}"}}"#, "k".repeat(129));
    assert_eq!(err(None, &kid129), Err(E::InvalidKid));
    assert_eq!(
        err(None, &format!(r#"{{"a\u0001":"{long}"}}"#)),
        Err(E::InvalidKid)
    );
    assert_eq!(
        err(None, &format!(r#"{{"a":"{long}","a":"{long}"}}"#)),
        Err(E::DuplicateKid("a".to_owned()))
    );
    assert_eq!(
        err(None, r#"{"a":"short"}"#),
        Err(E::TooShort {
            kid: Some("a".to_owned()),
            min: 32
        })
    );
    // JWT_SECRET is checked first; base64 secrets count their decoded bytes.
    assert_eq!(
        err(Some("base64:AAAA"), r#"{"a":"short"}"#),
        Err(E::TooShort { kid: None, min: 32 })
    );
    assert!(matches!(
        err(None, r#"{"b":"base64:*"}"#),
        Err(E::Secret { kid: Some(k), .. }) if k == "b"
    ));
    // The CLI's readers keep the same rules, with the jwt error kind.
    assert_eq!(
        KeySet::from_json_map("{}").unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

#[test]
fn key_config_combinations() {
    let both = KeySet::from_config(Some("d"), Some(r#"{"k":"s"}"#)).unwrap();
    assert!(both.select(None).is_ok() && both.select(Some("k")).is_ok());
    assert_eq!(
        KeySet::from_config(None, None).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        KeySet::from_config(Some(""), None).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

#[test]
fn sign_then_verify_every_algorithm() {
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::from("a"));
    claims.insert("exp".into(), Value::from(100));
    for alg in Algorithm::HMAC {
        let token = sign_hs(*alg, b"k", Some("id\"quoted"), &claims);
        let keys = KeySet::new(vec![Key::hmac(
            Some("id\"quoted".to_owned()),
            b"k".to_vec(),
        )]);
        let validation = Validation {
            algorithms: vec![*alg],
            ..Validation::default()
        };
        let c = verify(&token, &keys, &validation, 0).unwrap();
        assert_eq!(c.sub.as_deref(), Some("a"));
        assert_eq!(c.exp, Some(100.0));
    }
}

#[test]
fn claims_parse_types_and_extra() {
    let ctx = Ctx::default();
    let json = br#"{"sub":"s","iss":"i","aud":"a","exp":1.5,"nbf":0,"iat":2,
        "prefix":"p/","content_types":["image/png","text/plain"],"max_size":1e3,
        "targets":"uploads","x":{"y":[1,"z"]}}"#;
    let c =
        json::parse_object(&json[..], claims::ClaimsSeed { ctx: &ctx }, &ctx, "a", "b").unwrap();
    assert_eq!(c.aud, vec!["a".to_owned()]);
    assert_eq!(c.exp, Some(1.5));
    assert_eq!(c.max_size, Some(1000));
    assert_eq!(
        c.content_types.as_deref(),
        Some(&["image/png".to_owned(), "text/plain".to_owned()][..])
    );
    assert_eq!(c.targets.as_deref(), Some(&["uploads".to_owned()][..]));
    assert_eq!(c.extra.len(), 1);
    assert!(c.has("x") && c.has("prefix") && c.has("targets") && !c.has("y"));

    let out = serde_json::to_value(&c).unwrap();
    assert_eq!(out["aud"], "a");
    assert_eq!(out["nbf"], 0);
    assert_eq!(out["exp"], 1.5);
    assert_eq!(out["max_size"], 1000);
    assert_eq!(out["targets"], serde_json::json!(["uploads"]));
    assert_eq!(out["x"]["y"][1], "z");
}

#[test]
fn claims_type_errors_name_the_claim() {
    for (json, claim) in [
        (&br#"{"max_size":-1}"#[..], "max_size"),
        (br#"{"max_size":1.5}"#, "max_size"),
        (br#"{"content_types":[1]}"#, "content_types"),
        (br#"{"targets":{"a":1}}"#, "targets"),
        (br#"{"targets":null}"#, "targets"),
        (br#"{"prefix":null}"#, "prefix"),
        (br#"{"iat":"1"}"#, "iat"),
        (br#"{"nbf":[]}"#, "nbf"),
        (br#"{"aud":{}}"#, "aud"),
    ] {
        let ctx = Ctx::default();
        let err =
            json::parse_object(json, claims::ClaimsSeed { ctx: &ctx }, &ctx, "a", "b").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidClaim, "{claim}");
        assert_eq!(err.claim(), Some(claim));
    }
}

#[test]
fn validation_defaults() {
    let v = Validation::default();
    assert_eq!(v.algorithms, vec![Algorithm::HS256]);
    assert_eq!(v.required_claims, vec!["exp".to_owned(), "sub".to_owned()]);
    assert!(v.issuers.is_empty() && v.audiences.is_empty());
    assert_eq!(v.leeway, 60);
    assert_eq!(v.max_age, None);
    assert!(v.validate_nbf);
}

#[test]
fn empty_allow_list_refuses_everything() {
    let token = sign_hs(Algorithm::HS256, b"k", None, &Map::new());
    let v = Validation {
        algorithms: Vec::new(),
        ..Validation::default()
    };
    let err = verify(&token, &KeySet::from_secret(b"k"), &v, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgNotAllowed);
}
