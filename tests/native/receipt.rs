//! `POST /v1/uploads/complete` through `Service::handle_io` against a store in memory
//! ([`FakeStore`]): the receipt verifies with `jsonwebtoken` and says what the store holds,
//! and every rule and refusal (missing object, key not granted, size, content type, content
//! sniffing, `DELETE_MISMATCHED`, store failures, no `RECEIPT_SECRET`).
use crate::api_support::{hs256, request_io, service_from, FakeLedger, FakeStore};
use presign_worker::api::{Response, Service};
use presign_worker::store::StoreError;
use serde_json::{json, Value};

const JWT_SECRET: &str = "receipt-test-jwt-secret-0123456789abcdef";
const RECEIPT_SECRET: &str = "receipt-test-receipt-secret-0123456789ab";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
/// `Sun, 01 Jan 2006 12:00:00 GMT`, the FakeStore's `Last-Modified`.
const MODIFIED: u64 = 1_136_116_800;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06";

fn service(extra: &[(&str, &str)]) -> Service {
    let base = [
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDRECEIPT"),
        ("S3_SECRET_ACCESS_KEY", "receipt-s3-secret"),
        ("JWT_SECRET", JWT_SECRET),
        ("RECEIPT_SECRET", RECEIPT_SECRET),
        ("RECEIPT_ISSUER", "https://uploads.example"),
        (
            "ALLOWED_CONTENT_TYPES",
            "image/*,text/plain,application/octet-stream",
        ),
    ];
    service_from(&[&base[..], extra].concat())
}

fn alice() -> String {
    hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": NOW + 3600 }))
}

fn complete_as(svc: &Service, store: &FakeStore, token: &str, body: &Value) -> Response {
    let auth = format!("Bearer {token}");
    request_io(
        svc,
        &FakeLedger::default(),
        store,
        ("POST", "/v1/uploads/complete"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
        NOW * 1000,
    )
}

fn complete(svc: &Service, store: &FakeStore, key: &str) -> Response {
    complete_as(svc, store, &alice(), &json!({ "key": key }))
}

fn error(r: &Response) -> Value {
    serde_json::from_str::<Value>(&r.body).unwrap()["error"].clone()
}

fn header<'r>(r: &'r Response, name: &str) -> Option<&'r str> {
    r.headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// The receipt's claims, verified by `jsonwebtoken` with `RECEIPT_SECRET`.
fn verified(receipt: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_required_spec_claims(&["iss", "sub"]);
    v.validate_exp = false;
    v.set_issuer(&["https://uploads.example"]);
    let key = jsonwebtoken::DecodingKey::from_secret(RECEIPT_SECRET.as_bytes());
    jsonwebtoken::decode::<Value>(receipt, &key, &v)
        .expect("the receipt verifies")
        .claims
}

/// The methods of the requests the store took.
fn methods(store: &FakeStore) -> Vec<String> {
    store
        .requests
        .borrow()
        .iter()
        .map(|r| r.0.clone())
        .collect()
}

#[test]
fn a_landed_upload_gets_a_receipt_that_verifies_and_is_the_same_again() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/p/a.png", "image/png", PNG);
    let etag = store.files.borrow()["alice/p/a.png"].etag.clone();
    let r = complete(&svc, &store, "alice/p/a.png");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let claims = verified(v["receipt"].as_str().unwrap());
    assert_eq!(
        claims,
        json!({
            "key": "alice/p/a.png", "bucket": "uploads", "target": "uploads",
            "size": PNG.len(), "content_type": "image/png", "etag": etag,
            "content_checked": true, "sub": "alice", "iss": "https://uploads.example",
            "completed_at": MODIFIED
        })
    );
    for name in [
        "key",
        "bucket",
        "target",
        "size",
        "content_type",
        "etag",
        "content_checked",
    ] {
        assert_eq!(v[name], claims[name], "{name}");
    }
    assert_eq!(v["completed_at"], "2006-01-01T12:00:00Z");
    assert!(v.get("checksum").is_none(), "{v}");
    // HeadObject, then the first 512 bytes of that very object; nothing written.
    assert_eq!(methods(&store), ["HEAD", "GET"]);
    let requests = store.requests.borrow().clone();
    let get_headers = &requests[1].2;
    assert!(get_headers.contains(&("range".into(), "bytes=0-511".into())));
    assert!(get_headers.contains(&("if-match".into(), etag.clone())));
    for (_, url, headers, _) in &requests {
        assert_eq!(url, "http://127.0.0.1:9000/uploads/alice/p/a.png");
        let signed = headers.iter().find(|(n, _)| n == "authorization").unwrap();
        assert!(signed.1.contains("SignedHeaders="), "{}", signed.1);
    }
    // Asked again (later), the same receipt byte for byte.
    let again = request_io(
        &svc,
        &FakeLedger::default(),
        &store,
        ("POST", "/v1/uploads/complete"),
        &[
            ("authorization", &format!("Bearer {}", alice())),
            ("content-type", "application/json"),
        ],
        br#"{"key":"alice/p/a.png","target":"uploads"}"#,
        (NOW + 600) * 1000,
    );
    assert_eq!(again.body, r.body);
    // Replaced by another object: another receipt.
    store.put_file("alice/p/a.png", "image/png", &[PNG, b"more"].concat());
    let other = complete(&svc, &store, "alice/p/a.png");
    assert_eq!(other.status, 200, "{}", other.body);
    assert_ne!(other.body, r.body);
}

#[test]
fn the_stored_checksum_is_in_the_receipt() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/c.png", "image/png", PNG);
    let sum = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    store
        .files
        .borrow_mut()
        .get_mut("alice/c.png")
        .unwrap()
        .checksum = Some(("x-amz-checksum-sha256".into(), sum.into()));
    let r = complete(&svc, &store, "alice/c.png");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["checksum"], json!({ "sha256": sum }));
    assert_eq!(
        verified(v["receipt"].as_str().unwrap())["checksum"],
        json!({ "sha256": sum })
    );
}

#[test]
fn nothing_under_the_key_is_409_upload_missing() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    let r = complete(&svc, &store, "alice/never.png");
    assert_eq!(
        (r.status, r.error_code),
        (409, Some("upload_missing")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("receipt"), "{}", r.body);
    assert_eq!(methods(&store), ["HEAD"]);
}

#[test]
fn keys_are_granted_as_for_downloads() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("bob/a.png", "image/png", PNG);
    for (key, code) in [
        ("bob/a.png", "key_not_granted"),
        ("alice/../bob/a.png", "invalid_key"),
    ] {
        let r = complete(&svc, &store, key);
        assert_eq!(r.error_code, Some(code), "{key}: {}", r.body);
        assert!(r.status == 403 || r.status == 422, "{key}: {}", r.status);
    }
    let r = complete_as(
        &svc,
        &store,
        &alice(),
        &json!({ "key": "alice/a", "target": "nope" }),
    );
    assert_eq!(
        (r.status, r.error_code),
        (422, Some("unknown_target")),
        "{}",
        r.body
    );
    // Nothing was asked of the store.
    assert!(methods(&store).is_empty());
    let r = complete_as(
        &svc,
        &store,
        &alice(),
        &json!({ "key": "alice/a", "size": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn content_that_is_not_its_type_is_422_upload_mismatch_and_kept_unless_configured() {
    let html = b"<!DOCTYPE html><script>alert(1)</script>";
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/x.png", "image/png", html);
    let r = complete(&svc, &store, "alice/x.png");
    assert_eq!(
        (r.status, r.error_code),
        (422, Some("upload_mismatch")),
        "{}",
        r.body
    );
    let e = error(&r);
    assert_eq!(e["mismatch"], json!(["content"]));
    assert_eq!(e["deleted"], json!(false));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not image/png: no PNG signature"),
        "{e}"
    );
    assert!(store.files.borrow().contains_key("alice/x.png"));
    assert_eq!(methods(&store), ["HEAD", "GET"]);

    let svc = service(&[("DELETE_MISMATCHED", "true")]);
    let r = complete(&svc, &store, "alice/x.png");
    assert_eq!(
        (r.status, r.error_code),
        (422, Some("upload_mismatch")),
        "{}",
        r.body
    );
    let e = error(&r);
    assert_eq!(e["deleted"], json!(true));
    assert!(
        e["message"].as_str().unwrap().ends_with("it was deleted"),
        "{e}"
    );
    assert!(!store.files.borrow().contains_key("alice/x.png"));
    assert_eq!(methods(&store)[2..], ["HEAD", "GET", "DELETE"]);
    // Gone: now it is missing.
    let r = complete(&svc, &store, "alice/x.png");
    assert_eq!(r.error_code, Some("upload_missing"));
}

#[test]
fn size_and_content_type_must_keep_the_tokens_grant() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/big.png", "image/png", &[PNG, &[0u8; 100]].concat());
    let small = hs256(
        JWT_SECRET,
        &json!({ "sub": "alice", "exp": NOW + 3600, "max_size": 50 }),
    );
    let r = complete_as(&svc, &store, &small, &json!({ "key": "alice/big.png" }));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(error(&r)["mismatch"], json!(["size"]));
    // A type the configuration does not allow, and one the token's claim does not, with
    // content that is not of the type either: every difference is listed.
    store.put_file("alice/page", "text/html", b"<html>");
    let r = complete(&svc, &store, "alice/page");
    assert_eq!(error(&r)["mismatch"], json!(["content_type"]), "{}", r.body);
    store.put_file("alice/t.txt", "text/plain", b"a\x00b");
    let images = hs256(
        JWT_SECRET,
        &json!({ "sub": "alice", "exp": NOW + 3600, "content_types": ["image/*"] }),
    );
    let r = complete_as(&svc, &store, &images, &json!({ "key": "alice/t.txt" }));
    assert_eq!(
        error(&r)["mismatch"],
        json!(["content_type", "content"]),
        "{}",
        r.body
    );
}

#[test]
fn text_must_be_utf8_without_nul_and_a_cut_character_passes() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    // 1000 bytes of 4-byte characters: the 512-byte read cuts none (512 = 4 * 128)...
    let long = "\u{1f600}".repeat(250);
    store.put_file("alice/a.txt", "text/plain; charset=utf-8", long.as_bytes());
    assert_eq!(complete(&svc, &store, "alice/a.txt").status, 200);
    // ...and with one byte before, the read ends inside a character: still text.
    store.put_file("alice/b.txt", "text/plain", format!("x{long}").as_bytes());
    let r = complete(&svc, &store, "alice/b.txt");
    assert_eq!(r.status, 200, "{}", r.body);
    // A whole object that ends inside a character is not.
    store.put_file("alice/c.txt", "text/plain", &"\u{e9}".as_bytes()[..1]);
    assert_eq!(complete(&svc, &store, "alice/c.txt").status, 422);
    store.put_file("alice/d.txt", "text/plain", b"\xff\xfeh\x00i\x00");
    assert_eq!(complete(&svc, &store, "alice/d.txt").status, 422);
}

#[test]
fn types_without_a_rule_pass_unread_and_empty_objects_are_not_images() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file(
        "alice/blob",
        "application/octet-stream",
        b"\x00\x01anything",
    );
    let r = complete(&svc, &store, "alice/blob");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["content_checked"], json!(false));
    assert_eq!(methods(&store), ["HEAD"]);
    // An empty object has no first bytes to read: no PNG signature.
    store.put_file("alice/empty.png", "image/png", b"");
    let r = complete(&svc, &store, "alice/empty.png");
    assert_eq!(error(&r)["mismatch"], json!(["content"]), "{}", r.body);
    assert_eq!(methods(&store)[1..], ["HEAD"]);
    store.put_file("alice/empty.txt", "text/plain", b"");
    assert_eq!(complete(&svc, &store, "alice/empty.txt").status, 200);
}

#[test]
fn store_failures_are_gateway_errors_with_retry_after() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/a.png", "image/png", PNG);
    for (fail, status, code) in [
        (StoreError::Unreachable, 503, "store_unavailable"),
        (StoreError::Timeout, 504, "store_timeout"),
    ] {
        *store.fail.borrow_mut() = Some(fail);
        let r = complete(&svc, &store, "alice/a.png");
        assert_eq!((r.status, r.error_code), (status, Some(code)), "{}", r.body);
        assert_eq!(header(&r, "retry-after"), Some("5"));
        assert!(!r.body.contains("receipt"), "{}", r.body);
    }
    *store.fail.borrow_mut() = None;
    // A store that refuses the HEAD (no body: no S3 code).
    *store.answer.borrow_mut() = Some((403, String::new()));
    let r = complete(&svc, &store, "alice/a.png");
    assert_eq!(
        (r.status, r.error_code),
        (502, Some("store_error")),
        "{}",
        r.body
    );
    assert_eq!(header(&r, "retry-after"), Some("5"));
    // A HEAD answer without the headers of an object.
    *store.answer.borrow_mut() = Some((200, String::new()));
    let r = complete(&svc, &store, "alice/a.png");
    assert_eq!(r.error_code, Some("store_answer_malformed"), "{}", r.body);
    // Then it works.
    assert_eq!(complete(&svc, &store, "alice/a.png").status, 200);
}

#[test]
fn without_receipt_secret_the_route_is_501_and_method_and_token_are_checked() {
    let svc = service(&[("RECEIPT_SECRET", "")]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/a.png", "image/png", PNG);
    let r = complete(&svc, &store, "alice/a.png");
    assert_eq!(
        (r.status, r.error_code),
        (501, Some("receipts_not_configured")),
        "{}",
        r.body
    );
    assert!(methods(&store).is_empty());
    assert!(!r.body.contains("RECEIPT_SECRET="), "{}", r.body);

    let svc = service(&[]);
    let r = request_io(
        &svc,
        &FakeLedger::default(),
        &store,
        ("GET", "/v1/uploads/complete"),
        &[],
        b"",
        NOW * 1000,
    );
    assert_eq!(r.status, 405);
    assert_eq!(header(&r, "allow"), Some("POST, OPTIONS"));
    let r = request_io(
        &svc,
        &FakeLedger::default(),
        &store,
        ("POST", "/v1/uploads/complete"),
        &[("content-type", "application/json")],
        br#"{"key":"alice/a.png"}"#,
        NOW * 1000,
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.route, "/v1/uploads/complete");
    // A receipt is never a token: the worker refuses RECEIPT_SECRET = JWT_SECRET.
    let vars = crate::api_support::vars_from(&[
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDRECEIPT"),
        ("S3_SECRET_ACCESS_KEY", "receipt-s3-secret"),
        ("JWT_SECRET", JWT_SECRET),
        ("RECEIPT_SECRET", JWT_SECRET),
    ]);
    let e = Service::from_lookup(&|k| vars.get(k).cloned()).unwrap_err();
    assert_eq!(e.variable, "RECEIPT_SECRET");
    assert!(!e.to_string().contains(JWT_SECRET));
}

#[test]
fn an_object_replaced_during_the_check_is_409_upload_changed() {
    let svc = service(&[]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/a.png", "image/png", PNG);
    store
        .files
        .borrow_mut()
        .get_mut("alice/a.png")
        .unwrap()
        .head_etag = Some("\"old\"".into());
    let r = complete(&svc, &store, "alice/a.png");
    assert_eq!(
        (r.status, r.error_code),
        (409, Some("upload_changed")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("receipt"), "{}", r.body);
    // The GET asked for the object the HEAD described.
    let requests = store.requests.borrow();
    assert!(requests[1]
        .2
        .contains(&("if-match".into(), "\"old\"".into())));
}

#[test]
fn a_completed_single_put_is_announced_once_per_object_version() {
    let svc = service(&[
        ("WEBHOOK_URL", "https://app.example.com/hooks"),
        ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ]);
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/1/a.png", "image/png", PNG);
    let ledger = FakeLedger::default();
    let auth = format!("Bearer {}", alice());
    let body = json!({ "key": "alice/1/a.png" }).to_string();
    let complete = || {
        request_io(
            &svc,
            &ledger,
            &store,
            ("POST", "/v1/uploads/complete"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
            NOW * 1000,
        )
    };
    assert_eq!(complete().status, 200);
    assert_eq!(complete().status, 200);
    let books = ledger.books.borrow();
    let due = books.values().next().unwrap().deliveries(NOW);
    assert_eq!(due.len(), 1, "one event for one object version");
    let event: Value = serde_json::from_str(&due[0].1.body).unwrap();
    assert_eq!(event["data"]["key"], "alice/1/a.png");
    assert_eq!(event["data"]["content_type"], "image/png");
    assert_eq!(event["data"]["size"], PNG.len());
    assert_eq!(
        (event["data"]["iss"].as_str(), event["data"]["sub"].as_str()),
        (Some("local"), Some("alice"))
    );
}
