//! The attack table of issue 3: one test per attack, each asserting the exact `ErrorKind`.
//!
//! Tokens are assembled by hand (base64url of literal JSON) and signed with the `jsonwebtoken`
//! crate's HMAC, so nothing here depends on this crate's own signer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm as JAlg, EncodingKey};
use presign_worker::jwt::{self, Algorithm, Claims, Error, ErrorKind, Key, KeySet, Validation};

const SECRET: &[u8] = b"attack-table-secret-0123456789abcdef";
const OTHER_SECRET: &[u8] = b"someone-else's-secret-0123456789abc";
const NOW: u64 = 1_700_000_000;
const HDR: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url HMAC of `input`, computed by jsonwebtoken.
fn mac_with(input: &str, secret: &[u8], alg: JAlg) -> String {
    jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(secret), alg).unwrap()
}

fn forge_with(header: &str, payload: &str, secret: &[u8], alg: JAlg) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = mac_with(&input, secret, alg);
    format!("{input}.{sig}")
}

/// A token with exactly this header and payload JSON, HS256-signed with `SECRET`.
fn forge(header: &str, payload: &str) -> String {
    forge_with(header, payload, SECRET, JAlg::HS256)
}

fn payload_with(extra: &str) -> String {
    format!(
        r#"{{"sub":"alice","iss":"https://issuer.example","aud":"presign","exp":{},"iat":{}{extra}}}"#,
        NOW + 3600,
        NOW
    )
}

fn good_payload() -> String {
    payload_with("")
}

fn keys() -> KeySet {
    KeySet::from_secret(SECRET)
}

fn verify_with(token: &str, keys: &KeySet, validation: &Validation) -> Result<Claims, Error> {
    jwt::verify(token, keys, validation, NOW)
}

/// Asserts that `token` is refused with `kind`, and that the error text leaks neither the
/// token nor the secret.
fn expect_with(token: &str, keys: &KeySet, validation: &Validation, kind: ErrorKind) {
    let err = verify_with(token, keys, validation).expect_err("token must be refused");
    assert_eq!(err.kind(), kind, "error was: {err}");
    assert_eq!(err.code(), kind.code());
    let text = format!("{err} {err:?}");
    for segment in token.split('.').filter(|s| s.len() >= 8) {
        assert!(
            !text.contains(segment),
            "error text leaks the token: {text}"
        );
    }
    assert!(!text.contains(std::str::from_utf8(SECRET).unwrap()));
}

fn expect(token: &str, kind: ErrorKind) {
    expect_with(token, &keys(), &Validation::default(), kind);
}

#[test]
fn baseline_token_is_accepted() {
    let claims = verify_with(
        &forge(HDR, &good_payload()),
        &keys(),
        &Validation::default(),
    )
    .expect("baseline accepted");
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(claims.aud, vec!["presign".to_owned()]);
}

// --- alg none, in every spelling, with and without a signature -------------------------------

fn none_token(alg: &str, with_signature: bool) -> String {
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(good_payload().as_bytes())
    );
    if with_signature {
        let sig = mac_with(&input, SECRET, JAlg::HS256);
        format!("{input}.{sig}")
    } else {
        format!("{input}.")
    }
}

#[test]
fn alg_none_lowercase_without_signature() {
    expect(&none_token("none", false), ErrorKind::AlgNotAllowed);
}

#[test]
fn alg_none_capitalised_without_signature() {
    expect(&none_token("None", false), ErrorKind::AlgNotAllowed);
}

#[test]
fn alg_none_uppercase_without_signature() {
    expect(&none_token("NONE", false), ErrorKind::AlgNotAllowed);
}

#[test]
fn alg_none_mixed_case_without_signature() {
    expect(&none_token("nOnE", false), ErrorKind::AlgNotAllowed);
}

#[test]
fn alg_none_with_a_valid_hmac_signature() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        expect(&none_token(alg, true), ErrorKind::AlgNotAllowed);
    }
}

#[test]
fn alg_none_even_when_every_algorithm_is_allowed() {
    let validation = Validation {
        algorithms: Algorithm::ALL.to_vec(),
        ..Validation::default()
    };
    expect_with(
        &none_token("none", false),
        &keys(),
        &validation,
        ErrorKind::AlgNotAllowed,
    );
}

// --- signature ----------------------------------------------------------------------------

#[test]
fn empty_signature() {
    let token = forge(HDR, &good_payload());
    let unsigned = &token[..token.rfind('.').unwrap() + 1];
    expect(unsigned, ErrorKind::BadSignature);
}

#[test]
fn signature_of_another_key() {
    expect(
        &forge_with(HDR, &good_payload(), OTHER_SECRET, JAlg::HS256),
        ErrorKind::BadSignature,
    );
}

#[test]
fn payload_modified_after_signing() {
    let token = forge(HDR, &good_payload());
    let sig = token.rsplit('.').next().unwrap();
    let evil = payload_with(r#","prefix":"""#).replace("alice", "admin");
    let tampered = format!("{}.{}.{sig}", b64(HDR.as_bytes()), b64(evil.as_bytes()));
    expect(&tampered, ErrorKind::BadSignature);
}

#[test]
fn header_modified_after_signing() {
    let token = forge(HDR, &good_payload());
    let mut parts = token.splitn(2, '.');
    parts.next();
    let rest = parts.next().unwrap();
    let header = r#"{"alg":"HS256","typ":"JWT","cty":"JWT"}"#;
    let tampered = format!("{}.{rest}", b64(header.as_bytes()));
    expect(&tampered, ErrorKind::BadSignature);
}

#[test]
fn signature_truncated() {
    let token = forge(HDR, &good_payload());
    expect(&token[..token.len() - 4], ErrorKind::BadSignature);
}

#[test]
fn signature_of_hs512_under_an_hs256_header() {
    // A longer (HS512) MAC under an HS256 header: wrong length, refused.
    let input = format!("{}.{}", b64(HDR.as_bytes()), b64(good_payload().as_bytes()));
    let sig = mac_with(&input, SECRET, JAlg::HS512);
    expect(&format!("{input}.{sig}"), ErrorKind::BadSignature);
}

// --- algorithm allow-list and keys ----------------------------------------------------------

#[test]
fn algorithm_switched_to_one_not_allowed() {
    let header = r#"{"alg":"HS512","typ":"JWT"}"#;
    let token = forge_with(header, &good_payload(), SECRET, JAlg::HS512);
    expect(&token, ErrorKind::AlgNotAllowed);
    // The same token is fine once HS512 is allowed: the refusal came from the allow-list.
    let validation = Validation {
        algorithms: vec![Algorithm::HS512],
        ..Validation::default()
    };
    assert!(verify_with(&token, &keys(), &validation).is_ok());
}

#[test]
fn algorithm_switched_to_rs256() {
    // RS256 header (key-confusion attempt): refused before any key is looked at.
    let token = forge(r#"{"alg":"RS256","typ":"JWT"}"#, &good_payload());
    expect(&token, ErrorKind::AlgNotAllowed);
}

#[test]
fn algorithm_name_in_wrong_case() {
    expect(
        &forge(r#"{"alg":"hs256","typ":"JWT"}"#, &good_payload()),
        ErrorKind::AlgNotAllowed,
    );
}

#[test]
fn algorithm_checked_before_key_lookup() {
    // Unknown kid AND alg not allowed: the allow-list answers first.
    let token = forge(r#"{"alg":"HS384","kid":"nope"}"#, &good_payload());
    expect(&token, ErrorKind::AlgNotAllowed);
}

#[test]
fn key_pinned_to_another_algorithm() {
    let keys = KeySet::new(vec![
        Key::hmac(Some("k1".to_owned()), SECRET.to_vec()).with_algorithm(Algorithm::HS512)
    ]);
    let token = forge(r#"{"alg":"HS256","kid":"k1"}"#, &good_payload());
    expect_with(
        &token,
        &keys,
        &Validation::default(),
        ErrorKind::AlgNotAllowed,
    );
}

fn rotating_keys() -> KeySet {
    KeySet::new(vec![
        Key::hmac(Some("2024".to_owned()), OTHER_SECRET.to_vec()),
        Key::hmac(Some("2025".to_owned()), SECRET.to_vec()),
    ])
}

#[test]
fn kid_selects_the_key() {
    let token = forge(r#"{"alg":"HS256","kid":"2025"}"#, &good_payload());
    assert!(verify_with(&token, &rotating_keys(), &Validation::default()).is_ok());
    // Signed with the 2025 secret but claiming kid 2024: bad signature, no fallback.
    let token = forge(r#"{"alg":"HS256","kid":"2024"}"#, &good_payload());
    expect_with(
        &token,
        &rotating_keys(),
        &Validation::default(),
        ErrorKind::BadSignature,
    );
}

#[test]
fn unknown_kid() {
    let token = forge(r#"{"alg":"HS256","kid":"2023"}"#, &good_payload());
    expect_with(
        &token,
        &rotating_keys(),
        &Validation::default(),
        ErrorKind::UnknownKey,
    );
}

#[test]
fn kid_with_path_traversal() {
    let token = forge(
        r#"{"alg":"HS256","kid":"../../../../../../dev/null"}"#,
        &good_payload(),
    );
    expect_with(
        &token,
        &rotating_keys(),
        &Validation::default(),
        ErrorKind::UnknownKey,
    );
}

#[test]
fn kid_with_sql_injection() {
    let token = forge(
        r#"{"alg":"HS256","kid":"x' UNION SELECT 'attack-table-secret-0123456789abcdef' -- "}"#,
        &good_payload(),
    );
    expect_with(
        &token,
        &rotating_keys(),
        &Validation::default(),
        ErrorKind::UnknownKey,
    );
}

#[test]
fn no_kid_when_every_key_has_one() {
    expect_with(
        &forge(HDR, &good_payload()),
        &rotating_keys(),
        &Validation::default(),
        ErrorKind::UnknownKey,
    );
}

#[test]
fn kid_when_only_a_default_key_exists() {
    expect(
        &forge(r#"{"alg":"HS256","kid":"2025"}"#, &good_payload()),
        ErrorKind::UnknownKey,
    );
}

#[test]
fn empty_secret_never_verifies() {
    let keys = KeySet::from_secret(b"");
    let token = forge_with(HDR, &good_payload(), b"", JAlg::HS256);
    expect_with(&token, &keys, &Validation::default(), ErrorKind::InvalidKey);
}

// --- header parameters ----------------------------------------------------------------------

#[test]
fn crit_header() {
    let token = forge(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &good_payload());
    expect(&token, ErrorKind::UnsupportedCrit);
}

#[test]
fn crit_header_rfc7797_b64() {
    let token = forge(
        r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
        &good_payload(),
    );
    expect(&token, ErrorKind::UnsupportedCrit);
}

#[test]
fn typ_other_than_jwt() {
    expect(
        &forge(r#"{"alg":"HS256","typ":"JWS"}"#, &good_payload()),
        ErrorKind::BadType,
    );
    expect(
        &forge(r#"{"alg":"HS256","typ":"dpop+jwt"}"#, &good_payload()),
        ErrorKind::BadType,
    );
    expect(
        &forge(r#"{"alg":"HS256","typ":7}"#, &good_payload()),
        ErrorKind::BadType,
    );
}

#[test]
fn typ_jwt_and_at_jwt_accepted_case_insensitively() {
    for typ in [
        "JWT",
        "jwt",
        "at+jwt",
        "AT+JWT",
        "application/jwt",
        "application/at+jwt",
    ] {
        let token = forge(
            &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
            &good_payload(),
        );
        assert!(
            verify_with(&token, &keys(), &Validation::default()).is_ok(),
            "typ {typ}"
        );
    }
}

#[test]
fn header_without_alg() {
    expect(
        &forge(r#"{"typ":"JWT"}"#, &good_payload()),
        ErrorKind::Malformed,
    );
}

#[test]
fn duplicate_alg_in_header() {
    expect(
        &forge(r#"{"alg":"none","alg":"HS256"}"#, &good_payload()),
        ErrorKind::DuplicateClaim,
    );
}

#[test]
fn non_json_header() {
    expect(&forge("alg=HS256", &good_payload()), ErrorKind::Malformed);
    expect(
        &forge(r#"{"alg":"HS256""#, &good_payload()),
        ErrorKind::Malformed,
    );
}

#[test]
fn header_is_a_json_array() {
    expect(
        &forge(r#"["alg","HS256"]"#, &good_payload()),
        ErrorKind::Malformed,
    );
}

#[test]
fn header_is_a_json_string() {
    expect(&forge(r#""HS256""#, &good_payload()), ErrorKind::Malformed);
}

// --- time claims ----------------------------------------------------------------------------

#[test]
fn expired() {
    let payload = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW - 3600);
    expect(&forge(HDR, &payload), ErrorKind::Expired);
}

#[test]
fn expired_exactly_at_exp_plus_leeway() {
    let payload = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW - 60);
    expect(&forge(HDR, &payload), ErrorKind::Expired);
}

#[test]
fn expired_within_leeway_is_accepted() {
    let payload = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW - 59);
    assert!(verify_with(&forge(HDR, &payload), &keys(), &Validation::default()).is_ok());
    // ... and refused with no leeway.
    let strict = Validation {
        leeway: 0,
        ..Validation::default()
    };
    expect_with(&forge(HDR, &payload), &keys(), &strict, ErrorKind::Expired);
}

#[test]
fn fractional_exp_is_valid() {
    let payload = format!(r#"{{"sub":"alice","exp":{}.5}}"#, NOW + 10);
    let claims = verify_with(&forge(HDR, &payload), &keys(), &Validation::default()).unwrap();
    assert_eq!(claims.exp, Some((NOW + 10) as f64 + 0.5));
}

#[test]
fn nbf_in_the_future() {
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"nbf":{}}}"#,
        NOW + 7200,
        NOW + 3600
    );
    expect(&forge(HDR, &payload), ErrorKind::NotYetValid);
    let ignore_nbf = Validation {
        validate_nbf: false,
        ..Validation::default()
    };
    assert!(verify_with(&forge(HDR, &payload), &keys(), &ignore_nbf).is_ok());
}

#[test]
fn nbf_within_leeway_is_accepted() {
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"nbf":{}}}"#,
        NOW + 7200,
        NOW + 60
    );
    assert!(verify_with(&forge(HDR, &payload), &keys(), &Validation::default()).is_ok());
}

#[test]
fn too_old_by_max_age() {
    let validation = Validation {
        max_age: Some(300),
        ..Validation::default()
    };
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"iat":{}}}"#,
        NOW + 60,
        NOW - 361
    );
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &validation,
        ErrorKind::TooOld,
    );
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"iat":{}}}"#,
        NOW + 60,
        NOW - 300
    );
    assert!(verify_with(&forge(HDR, &payload), &keys(), &validation).is_ok());
    // iat is required once a maximum age is set.
    let payload = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW + 60);
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &validation,
        ErrorKind::MissingClaim,
    );
    // iat in the future.
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"iat":{}}}"#,
        NOW + 600,
        NOW + 300
    );
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &validation,
        ErrorKind::NotYetValid,
    );
}

#[test]
fn missing_exp() {
    let err = verify_with(
        &forge(HDR, r#"{"sub":"alice"}"#),
        &keys(),
        &Validation::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingClaim);
    assert_eq!(err.claim(), Some("exp"));
}

#[test]
fn missing_sub() {
    let payload = format!(r#"{{"exp":{}}}"#, NOW + 60);
    let err = verify_with(&forge(HDR, &payload), &keys(), &Validation::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingClaim);
    assert_eq!(err.claim(), Some("sub"));
}

#[test]
fn duplicate_exp() {
    // The first exp is long past; a parser keeping the last one would accept the token.
    let payload = format!(r#"{{"sub":"alice","exp":1,"exp":{}}}"#, NOW + 3600);
    expect(&forge(HDR, &payload), ErrorKind::DuplicateClaim);
}

#[test]
fn duplicate_exp_spelled_with_an_escape() {
    let payload = format!(r#"{{"sub":"alice","exp":1,"e\u0078p":{}}}"#, NOW + 3600);
    expect(&forge(HDR, &payload), ErrorKind::DuplicateClaim);
}

#[test]
fn duplicate_custom_and_nested_claims() {
    expect(
        &forge(HDR, &payload_with(r#","role":"user","role":"admin""#)),
        ErrorKind::DuplicateClaim,
    );
    expect(
        &forge(HDR, &payload_with(r#","o":{"a":1,"a":2}"#)),
        ErrorKind::DuplicateClaim,
    );
    expect(
        &forge(HDR, &payload_with(r#","prefix":"a/","prefix":"b/""#)),
        ErrorKind::DuplicateClaim,
    );
}

#[test]
fn exp_as_string() {
    let payload = format!(r#"{{"sub":"alice","exp":"{}"}}"#, NOW + 3600);
    let err = verify_with(&forge(HDR, &payload), &keys(), &Validation::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidClaim);
    assert_eq!(err.claim(), Some("exp"));
}

#[test]
fn exp_as_boolean() {
    expect(
        &forge(HDR, r#"{"sub":"alice","exp":true}"#),
        ErrorKind::InvalidClaim,
    );
}

#[test]
fn exp_as_null() {
    expect(
        &forge(HDR, r#"{"sub":"alice","exp":null}"#),
        ErrorKind::InvalidClaim,
    );
}

#[test]
fn exp_as_huge_number() {
    for exp in [
        "1e300",
        "18446744073709551616",
        "18446744073709551615",
        "253402300800",
    ] {
        let payload = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
        expect(&forge(HDR, &payload), ErrorKind::InvalidClaim);
    }
}

#[test]
fn exp_as_negative_number() {
    expect(
        &forge(HDR, r#"{"sub":"alice","exp":-1}"#),
        ErrorKind::InvalidClaim,
    );
    expect(
        &forge(HDR, r#"{"sub":"alice","exp":-1.5}"#),
        ErrorKind::InvalidClaim,
    );
}

#[test]
fn nbf_and_iat_types_checked_too() {
    expect(
        &forge(HDR, &payload_with(r#","nbf":"0""#)),
        ErrorKind::InvalidClaim,
    );
    let payload = format!(r#"{{"sub":"alice","exp":{},"iat":1e300}}"#, NOW + 60);
    expect(&forge(HDR, &payload), ErrorKind::InvalidClaim);
}

#[test]
fn sub_not_a_string() {
    let payload = format!(r#"{{"sub":42,"exp":{}}}"#, NOW + 60);
    expect(&forge(HDR, &payload), ErrorKind::InvalidClaim);
}

// --- issuer and audience --------------------------------------------------------------------

fn iss_aud_validation() -> Validation {
    Validation {
        issuers: vec!["https://issuer.example".to_owned()],
        audiences: vec!["presign".to_owned()],
        ..Validation::default()
    }
}

#[test]
fn expected_issuer_and_audience_accepted() {
    assert!(verify_with(&forge(HDR, &good_payload()), &keys(), &iss_aud_validation()).is_ok());
}

#[test]
fn wrong_iss() {
    let payload = good_payload().replace("https://issuer.example", "https://evil.example");
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &iss_aud_validation(),
        ErrorKind::WrongIssuer,
    );
}

#[test]
fn wrong_aud() {
    let payload = good_payload().replace(r#""aud":"presign""#, r#""aud":"other-service""#);
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &iss_aud_validation(),
        ErrorKind::WrongAudience,
    );
}

#[test]
fn aud_array_without_ours() {
    let payload = good_payload().replace(r#""aud":"presign""#, r#""aud":["a","b","presign2"]"#);
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &iss_aud_validation(),
        ErrorKind::WrongAudience,
    );
}

#[test]
fn aud_array_with_ours() {
    let payload = good_payload().replace(r#""aud":"presign""#, r#""aud":["a","presign"]"#);
    let claims = verify_with(&forge(HDR, &payload), &keys(), &iss_aud_validation()).unwrap();
    assert_eq!(claims.aud, vec!["a".to_owned(), "presign".to_owned()]);
}

#[test]
fn aud_of_wrong_type() {
    let payload = good_payload().replace(r#""aud":"presign""#, r#""aud":["presign",1]"#);
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &iss_aud_validation(),
        ErrorKind::InvalidClaim,
    );
}

#[test]
fn missing_iss_and_aud_when_expected() {
    let payload = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW + 60);
    expect_with(
        &forge(HDR, &payload),
        &keys(),
        &iss_aud_validation(),
        ErrorKind::MissingClaim,
    );
}

// --- structure ------------------------------------------------------------------------------

#[test]
fn two_segments() {
    let token = forge(HDR, &good_payload());
    let two = &token[..token.rfind('.').unwrap()];
    expect(two, ErrorKind::Malformed);
}

#[test]
fn four_segments() {
    let token = forge(HDR, &good_payload());
    expect(&format!("{token}.{}", b64(b"extra")), ErrorKind::Malformed);
    expect(&format!("{token}."), ErrorKind::Malformed);
}

#[test]
fn whitespace_in_segments() {
    let token = forge(HDR, &good_payload());
    let first_dot = token.find('.').unwrap();
    let last_dot = token.rfind('.').unwrap();
    for pos in [0, 5, first_dot, first_dot + 1, last_dot + 1, token.len()] {
        for ws in [" ", "\t", "\n", "\r\n"] {
            let mut t = token.clone();
            t.insert_str(pos, ws);
            expect(&t, ErrorKind::Malformed);
        }
    }
}

#[test]
fn padding_in_segments() {
    let header = b64(HDR.as_bytes());
    let payload = b64(good_payload().as_bytes());
    let input = format!("{header}.{payload}");
    let sig = mac_with(&input, SECRET, JAlg::HS256);
    // HS256 signatures are 43 characters, so "=" is their padding; the signature is even valid
    // over the same bytes.
    expect(&format!("{input}.{sig}="), ErrorKind::Malformed);
    // Padding in header and payload segments, re-signed over the padded text.
    let padded_header = base64::engine::general_purpose::URL_SAFE.encode(HDR.as_bytes());
    let padded_payload =
        base64::engine::general_purpose::URL_SAFE.encode(good_payload().as_bytes());
    for (h, p) in [(&padded_header, &payload), (&header, &padded_payload)] {
        if !h.ends_with('=') && !p.ends_with('=') {
            continue;
        }
        let input = format!("{h}.{p}");
        let sig = mac_with(&input, SECRET, JAlg::HS256);
        expect(&format!("{input}.{sig}"), ErrorKind::Malformed);
    }
    // Standard (not URL-safe) alphabet characters.
    expect(
        &format!("{input}.{}", sig.replace('-', "+").replace('_', "/") + "+/"),
        ErrorKind::Malformed,
    );
}

#[test]
fn non_canonical_trailing_bits() {
    // "e30" is "{}"; "e31" decodes to the same byte with non-zero unused bits.
    let input = format!("{}.{}", b64(HDR.as_bytes()), "e31");
    let sig = mac_with(&input, SECRET, JAlg::HS256);
    expect(&format!("{input}.{sig}"), ErrorKind::Malformed);
}

#[test]
fn one_megabyte_token() {
    let big = "a".repeat(1 << 20);
    expect(
        &forge(HDR, &payload_with(&format!(r#","pad":"{big}""#))),
        ErrorKind::TooLarge,
    );
    expect(&"A".repeat(1 << 20), ErrorKind::TooLarge);
}

#[test]
fn just_over_the_size_limit() {
    let token = forge(HDR, &good_payload());
    let filler = "a".repeat(jwt::MAX_TOKEN_LEN);
    let token_big = forge(
        HDR,
        &payload_with(&format!(r#","pad":"{}""#, &filler[..6000])),
    );
    assert!(token_big.len() > jwt::MAX_TOKEN_LEN);
    expect(&token_big, ErrorKind::TooLarge);
    assert!(token.len() < jwt::MAX_TOKEN_LEN);
}

#[test]
fn payload_is_a_json_array() {
    expect(&forge(HDR, r#"[{"sub":"alice"}]"#), ErrorKind::Malformed);
}

#[test]
fn payload_is_a_json_string() {
    expect(
        &forge(HDR, r#""{\"sub\":\"alice\"}""#),
        ErrorKind::Malformed,
    );
}

#[test]
fn payload_not_json_or_with_trailing_data() {
    expect(&forge(HDR, "sub=alice"), ErrorKind::Malformed);
    expect(
        &forge(HDR, &format!("{} x", good_payload())),
        ErrorKind::Malformed,
    );
    expect(
        &forge(HDR, &format!("{}{{}}", good_payload())),
        ErrorKind::Malformed,
    );
    expect(&forge(HDR, ""), ErrorKind::Malformed);
}

#[test]
fn empty_and_garbage_tokens() {
    for t in ["", ".", "..", "...", "a.b.c", "😀.😀.😀"] {
        let err = verify_with(t, &keys(), &Validation::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{t:?}");
    }
}
