//! Published test vectors: RFC 7515 Appendix A (A.1 is also RFC 7519 §3.1), the RFC 7520 JOSE
//! cookbook (§4.4 HMAC) and Wycheproof's `json_web_signature` cases that use HMAC keys.
//!
//! The vectors live in `../shared/jwt-vectors/` (outside the crate). When they are missing the
//! tests print a skip notice, unless `CI=true`, where they fail.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use presign_worker::jwt::{self, Algorithm, ErrorKind, Key, KeySet, Validation};
use serde_json::Value;

use crate::shared_data::jwt_vector as load;

/// A JWK `k` (base64url) as key bytes.
fn jwk_k(jwk: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwk["k"].as_str().expect("jwk has k"))
        .expect("k is base64url")
}

fn all_hmac() -> Vec<Algorithm> {
    vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
}

/// RFC 7515 A.1 / RFC 7519 §3.1 validation: no `sub` in that token; clock pinned before its exp.
fn rfc_validation() -> Validation {
    Validation {
        required_claims: vec!["exp".to_owned()],
        ..Validation::default()
    }
}

/// exp of the RFC 7515 A.1 token (2011-03-22T18:43:00Z).
const RFC_EXP: u64 = 1_300_819_380;

#[test]
fn rfc7515_a1_hs256_verifies_with_its_key() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let a1 = &v["A.1_HS256"];
    let token = a1["jws"].as_str().unwrap();
    let keys = KeySet::from_secret(&jwk_k(&a1["jwk"]));

    let claims = jwt::verify(token, &keys, &rfc_validation(), RFC_EXP - 100).expect("A.1 verifies");
    assert_eq!(claims.iss.as_deref(), Some("joe"));
    assert_eq!(claims.exp, Some(RFC_EXP as f64));
    assert_eq!(
        claims.extra["http://example.com/is_root"],
        Value::Bool(true)
    );

    // The JWS layer: payload bytes are exactly the RFC's (with CRLF), never re-serialized.
    let jws = jwt::verify_jws(token, &keys, &[Algorithm::HS256]).expect("A.1 JWS verifies");
    assert_eq!(
        jws.payload,
        v["payload_json"].as_str().unwrap().as_bytes(),
        "payload bytes"
    );
    assert_eq!(jws.header.alg, Algorithm::HS256);
    assert_eq!(jws.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
        a1["protected_header_json"].as_str().unwrap().as_bytes()
    );
}

#[test]
fn rfc7515_a1_is_expired_with_a_real_clock() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let a1 = &v["A.1_HS256"];
    let keys = KeySet::from_secret(&jwk_k(&a1["jwk"]));
    let token = a1["jws"].as_str().unwrap();
    // Just after exp + leeway (60 s): expired.
    let err = jwt::verify(token, &keys, &rfc_validation(), RFC_EXP + 60).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    // Within the leeway: accepted.
    assert!(jwt::verify(token, &keys, &rfc_validation(), RFC_EXP + 59).is_ok());
}

#[test]
fn rfc7515_a1_rejected_with_another_key() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let token = v["A.1_HS256"]["jws"].as_str().unwrap();
    let keys = KeySet::from_secret(b"not the RFC key");
    let err = jwt::verify(token, &keys, &rfc_validation(), RFC_EXP - 100).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadSignature);
}

#[test]
fn rfc7519_3_1_example_verifies() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let token = v["RFC7519_3.1_example_JWT"]["jwt"].as_str().unwrap();
    let keys = KeySet::from_secret(&jwk_k(&v["A.1_HS256"]["jwk"]));
    let claims = jwt::verify(token, &keys, &rfc_validation(), RFC_EXP - 1).expect("verifies");
    assert_eq!(claims.iss.as_deref(), Some("joe"));
}

#[test]
fn rfc7515_a5_unsecured_none_is_rejected() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let token = v["A.5_unsecured_none_MUST_REJECT"]["jws"].as_str().unwrap();
    let keys = KeySet::from_secret(&jwk_k(&v["A.1_HS256"]["jwk"]));
    let mut validation = rfc_validation();
    validation.algorithms = all_hmac();
    let err = jwt::verify(token, &keys, &validation, RFC_EXP - 100).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgNotAllowed);
    let err = jwt::verify_jws(token, &keys, &all_hmac()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgNotAllowed);
}

#[test]
fn rfc7515_asymmetric_examples_are_not_accepted_by_an_hmac_verifier() {
    let Some(v) = load("rfc7515_appendixA.json") else {
        return;
    };
    let keys = KeySet::from_secret(&jwk_k(&v["A.1_HS256"]["jwk"]));
    for name in ["A.2_RS256", "A.3_ES256", "A.4_ES512"] {
        let token = v[name]["jws"].as_str().unwrap();
        let err = jwt::verify_jws(token, &keys, &all_hmac()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlgNotAllowed, "{name}");
    }
}

#[test]
fn rfc7520_cookbook_4_4_hmac() {
    let Some(v) = load("jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json") else {
        return;
    };
    let key = &v["input"]["key"];
    let kid = key["kid"].as_str().unwrap().to_owned();
    let keys = KeySet::new(vec![Key::hmac(Some(kid.clone()), jwk_k(key))]);
    let token = v["output"]["compact"].as_str().unwrap();
    let jws = jwt::verify_jws(token, &keys, &[Algorithm::HS256]).expect("cookbook 4.4 verifies");
    assert_eq!(
        jws.payload,
        v["input"]["payload"].as_str().unwrap().as_bytes()
    );
    assert_eq!(jws.header.kid.as_deref(), Some(kid.as_str()));

    // Its payload is prose, not a claims set: the JWT verifier refuses it after the signature.
    let err = jwt::verify(token, &keys, &Validation::default(), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);

    // Same token against a key with another kid: unknown key, never "try every key".
    let other = KeySet::new(vec![Key::hmac(Some("other".to_owned()), jwk_k(key))]);
    let err = jwt::verify_jws(token, &other, &[Algorithm::HS256]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
}

/// Wycheproof tcIds skipped because the data is wrong (see `../shared/jwt-vectors/README.md`):
/// - 367 and 370 are byte-identical to the valid tcId 357 but labelled invalid ("invalid base64
///   padding" cases whose padding was lost when the file was generated);
/// - 372 and 373 contain `?` (outside the base64url alphabet) yet are labelled valid.
const WYCHEPROOF_SKIP: [u64; 4] = [367, 370, 372, 373];

#[test]
fn wycheproof_json_web_signature_hmac_cases() {
    let Some(v) = load("wycheproof/testvectors_v1_json_web_signature_test.json") else {
        return;
    };
    let mut checked = 0;
    let mut valid = 0;
    for group in v["testGroups"].as_array().unwrap() {
        let key = group
            .get("private")
            .or_else(|| group.get("public"))
            .unwrap();
        if key["kty"] != "oct" {
            continue; // RSA / EC groups: not applicable to an HMAC-only verifier
        }
        let alg = Algorithm::from_name(key["alg"].as_str().unwrap()).expect("HMAC alg");
        let kid = key["kid"].as_str().map(str::to_owned);
        let keys = KeySet::new(vec![Key::hmac(kid, jwk_k(key))]);
        for case in group["tests"].as_array().unwrap() {
            let id = case["tcId"].as_u64().unwrap();
            if WYCHEPROOF_SKIP.contains(&id) {
                continue;
            }
            let token = case["jws"].as_str().unwrap();
            let result = jwt::verify_jws(token, &keys, &[alg]);
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(
                        result.is_ok(),
                        "tcId {id} ({}): {result:?}",
                        case["comment"]
                    );
                    valid += 1;
                }
                "invalid" => {
                    assert!(result.is_err(), "tcId {id} ({}) accepted", case["comment"]);
                    // The JWT layer must refuse it as well.
                    assert!(jwt::verify(token, &keys, &Validation::default(), 0).is_err());
                }
                other => panic!("tcId {id}: unexpected result {other}"),
            }
            checked += 1;
        }
    }
    // 17 (hs256) + 2 (rfc7520) + 21 (base64) cases, minus the 4 skipped ones.
    assert_eq!(checked, 36, "number of HMAC cases checked");
    assert!(valid >= 7, "valid cases checked: {valid}");
}

/// Selected Wycheproof cases with the exact error kind this verifier reports.
#[test]
fn wycheproof_selected_error_kinds() {
    let Some(v) = load("wycheproof/testvectors_v1_json_web_signature_test.json") else {
        return;
    };
    let mut cases = std::collections::HashMap::new();
    let mut keys_by_id = std::collections::HashMap::new();
    for group in v["testGroups"].as_array().unwrap() {
        let key = group
            .get("private")
            .or_else(|| group.get("public"))
            .unwrap();
        if key["kty"] != "oct" {
            continue;
        }
        for case in group["tests"].as_array().unwrap() {
            let id = case["tcId"].as_u64().unwrap();
            cases.insert(id, case["jws"].as_str().unwrap().to_owned());
            keys_by_id.insert(
                id,
                KeySet::new(vec![Key::hmac(
                    key["kid"].as_str().map(str::to_owned),
                    jwk_k(key),
                )]),
            );
        }
    }
    let expect = [
        (2, ErrorKind::BadSignature),   // modified signature
        (3, ErrorKind::BadSignature),   // missing signature
        (4, ErrorKind::Malformed),      // two segments
        (5, ErrorKind::BadSignature),   // modified payload
        (8, ErrorKind::UnknownKey),     // modified header: the kid changed
        (13, ErrorKind::Malformed),     // empty string
        (14, ErrorKind::Malformed),     // extra empty component
        (16, ErrorKind::AlgNotAllowed), // alg none
        (17, ErrorKind::Malformed),     // JSON serialization
        (360, ErrorKind::Malformed),    // spaces in MAC
        (365, ErrorKind::Malformed),    // spaces in header
        (369, ErrorKind::Malformed),    // '#' in payload
        // 374: payload "AB" (non-canonical) with the MAC of the canonical form: the signature
        // is over the bytes received, so it fails first.
        (374, ErrorKind::BadSignature),
        // 375: the MAC covers the non-canonical "AB"; strict base64url decoding refuses it.
        (375, ErrorKind::Malformed),
    ];
    for (id, kind) in expect {
        let err = jwt::verify_jws(&cases[&id], &keys_by_id[&id], &[Algorithm::HS256]).unwrap_err();
        assert_eq!(err.kind(), kind, "tcId {id}");
    }
}

/// Every case of the RSA / EC groups (valid ones included) must be refused by a verifier that
/// only trusts HMAC keys, even one holding HMAC keys under the same `kid`s: tcId 31 is the
/// "symmetric key from the EC verification key" confusion attack, 341-344 are `alg: none`.
#[test]
fn wycheproof_asymmetric_and_none_cases_rejected_by_hmac_verifier() {
    let Some(v) = load("wycheproof/testvectors_v1_json_web_signature_test.json") else {
        return;
    };
    let mut checked = 0;
    for group in v["testGroups"].as_array().unwrap() {
        let key = group
            .get("public")
            .or_else(|| group.get("private"))
            .unwrap();
        if key["kty"] == "oct" {
            continue;
        }
        let kid = key["kid"].as_str().map(str::to_owned);
        let keys = KeySet::new(vec![
            Key::hmac(kid, key.to_string().into_bytes()),
            Key::hmac(None, b"default".to_vec()),
        ]);
        for case in group["tests"].as_array().unwrap() {
            let id = case["tcId"].as_u64().unwrap();
            let token = case["jws"].as_str().unwrap();
            let err = jwt::verify_jws(token, &keys, &all_hmac()).unwrap_err();
            if (341..=344).contains(&id) {
                assert_eq!(err.kind(), ErrorKind::AlgNotAllowed, "tcId {id}");
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "checked {checked}");
}
