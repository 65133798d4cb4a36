//! Verified completion end to end: an upload through `/v1/uploads` straight to `s3s-fs`, then
//! `POST /v1/uploads/complete` to `wrangler dev`, which asks the store itself (HeadObject, a
//! ranged GET) and answers a receipt that the independent `jsonwebtoken` crate verifies and
//! whose fields are the store's object. Refusals: before the upload, content that is not its
//! type (deleted with `DELETE_MISMATCHED=true`), and the store down. EdDSA receipts
//! (`RECEIPT_SIGNING_KEY`, signed with WebCrypto in workerd) verify under the key set the
//! worker serves, whose public key is the one openssl derives from the key.
use crate::support::{http, now_secs, openssl_ed25519_key, post_json, TestEnv};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{JwkSet, ThumbprintHash};
use serde_json::{json, Value};

const RECEIPT_SECRET: &str = "e2e-receipt-secret-0123456789abcdef-xyz";
const ISSUER: &str = "https://receipts.e2e.example";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";

fn vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ALLOWED_CONTENT_TYPES", "image/*,text/plain"),
        ("RECEIPT_SECRET", RECEIPT_SECRET),
        ("RECEIPT_ISSUER", ISSUER),
    ]
}

fn token(env: &TestEnv) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": "alice", "exp": now_secs() + 600 }),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .unwrap()
}

fn api(env: &TestEnv, path: &str, token: &str, body: &Value) -> crate::support::HttpResponse {
    let auth = format!("Bearer {token}");
    post_json(&env.worker.url(path), &[("authorization", &auth)], body)
}

/// An upload of `bytes` as `content_type` through `/v1/uploads` and the presigned PUT; the key.
fn upload(env: &TestEnv, token: &str, name: &str, content_type: &str, bytes: &[u8]) -> String {
    let r = api(
        env,
        "/v1/uploads",
        token,
        &json!({ "filename": name, "content_type": content_type, "size": bytes.len() }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let grant = r.json();
    let put = crate::e2e_multipart::send(&grant, bytes);
    assert_eq!(
        put.status,
        200,
        "the store refused the upload: {}",
        put.text()
    );
    grant["key"].as_str().unwrap().to_owned()
}

fn verified(receipt: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_required_spec_claims(&["iss", "sub"]);
    v.validate_exp = false;
    v.set_issuer(&[ISSUER]);
    let key = jsonwebtoken::DecodingKey::from_secret(RECEIPT_SECRET.as_bytes());
    jsonwebtoken::decode::<Value>(receipt, &key, &v)
        .expect("jsonwebtoken verifies the receipt")
        .claims
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn an_upload_then_complete_gets_a_receipt_of_the_stores_object() {
    let env = TestEnv::start(&vars());
    let alice = token(&env);

    // Before the upload: refused, no receipt.
    let key_before = "alice/not-yet.png";
    let r = api(
        &env,
        "/v1/uploads/complete",
        &alice,
        &json!({ "key": key_before }),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], "upload_missing", "{v}");
    assert!(v.get("receipt").is_none());

    let key = upload(&env, &alice, "pixel.png", "image/png", PNG);
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let claims = verified(v["receipt"].as_str().unwrap());
    // The fields are the store's object: its bytes on disk, and what a GET of it says.
    let stored = env.store.read_object(&key).expect("the object is stored");
    assert_eq!(stored, PNG);
    let dl = api(&env, "/v1/downloads", &alice, &json!({ "key": key })).json();
    let url = dl["url"].as_str().unwrap();
    let got = http("GET", url, &[], b"");
    assert_eq!(got.status, 200);
    // The store honours the worker's `range` (s3s-fs 0.14.1 ignores `if-match` on GET: the
    // check that the bytes are of the object the HEAD described is then the store's to skip;
    // S3, R2 and MinIO answer 412).
    let etag = got.header("etag").unwrap();
    let ranged = http(
        "GET",
        url,
        &[("range", "bytes=0-3"), ("if-match", etag)],
        b"",
    );
    assert_eq!((ranged.status, ranged.body.as_slice()), (206, &PNG[..4]));
    assert_eq!(claims["key"], key.as_str());
    assert_eq!(claims["bucket"], env.store.bucket.as_str());
    assert_eq!(claims["target"], "uploads");
    assert_eq!(claims["size"], stored.len());
    assert_eq!(claims["content_type"], "image/png");
    assert_eq!(claims["etag"], got.header("etag").unwrap());
    assert_eq!(claims["content_checked"], true);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], ISSUER);
    let at = claims["completed_at"].as_u64().unwrap();
    assert!(at.abs_diff(now_secs()) < 300, "completed_at {at}");
    for name in ["key", "bucket", "target", "size", "content_type", "etag"] {
        assert_eq!(v[name], claims[name], "{name}");
    }
    // Again: the same receipt.
    let again = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(again.json()["receipt"], v["receipt"]);

    // PNG by its type, not by its bytes: refused, kept (DELETE_MISMATCHED is off).
    let fake = upload(
        &env,
        &alice,
        "fake.png",
        "image/png",
        b"<html><script>1</script>",
    );
    let r = api(
        &env,
        "/v1/uploads/complete",
        &alice,
        &json!({ "key": fake }),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], "upload_mismatch");
    assert_eq!(e["mismatch"], json!(["content"]));
    assert_eq!(e["deleted"], false);
    assert!(env.store.read_object(&fake).is_some());

    // Text is read only up to 512 bytes, and a long file passes.
    let text = "caf\u{e9} ".repeat(400);
    let txt = upload(&env, &alice, "notes.txt", "text/plain", text.as_bytes());
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": txt }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["size"], text.len());
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn mismatched_objects_are_deleted_and_a_store_down_is_503_with_retry_after() {
    let mut vars = vars();
    vars.push(("DELETE_MISMATCHED", "true"));
    let mut env = TestEnv::start(&vars);
    let alice = token(&env);
    let fake = upload(&env, &alice, "fake.png", "image/png", b"GIF89a not a png");
    let r = api(
        &env,
        "/v1/uploads/complete",
        &alice,
        &json!({ "key": fake }),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(
        (e["code"].clone(), e["deleted"].clone()),
        (json!("upload_mismatch"), json!(true))
    );
    assert_eq!(
        env.store.read_object(&fake),
        None,
        "the object was not deleted"
    );

    let key = upload(&env, &alice, "ok.png", "image/png", PNG);
    env.store.stop();
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["error"]["code"], "store_unavailable", "{v}");
    assert!(v.get("receipt").is_none());
}

/// Writes `bytes` under `key` with the store's own credential (not through a grant): a
/// different body than the one granted.
fn put_directly(env: &TestEnv, key: &str, content_type: &str, bytes: &[u8]) {
    use presign_worker::sigv4::{Method, ObjectRequest};
    let (signer, bucket) = crate::e2e_bounded::store_signer(env);
    let req = ObjectRequest {
        method: Method::Put,
        key,
        query: &[],
        headers: &[("content-type", content_type)],
    };
    let url = signer.presign(&bucket, &req, 300, now_secs()).unwrap().url;
    let put = http("PUT", &url, &[("content-type", content_type)], bytes);
    assert_eq!(put.status, 200, "{}", put.text());
}

/// With the ledger on, each grant is remembered: the completion checks the object against
/// exactly what was granted, not only against the token's maximum, and a multipart upload's
/// completion answers the receipt itself.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn a_completion_is_checked_against_its_grant_in_the_ledger() {
    let mut v = vars();
    v.push(("QUOTA_BYTES_PER_DAY", "100000000"));
    v.push((
        "ALLOWED_CONTENT_TYPES",
        "image/*,text/plain,application/octet-stream",
    ));
    let env = TestEnv::start(&v);
    let alice = token(&env);
    let key = upload(&env, &alice, "notes.txt", "text/plain", b"granted body");
    // Another body under the key, smaller than granted but within the token's maximum.
    put_directly(&env, &key, "text/plain", b"other");
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 422, "{}", r.text());
    let e = &r.json()["error"];
    assert_eq!(
        (&e["code"], &e["mismatch"]),
        (&json!("upload_mismatch"), &json!(["size"]))
    );
    // The granted size again, but of another type than the grant's.
    put_directly(&env, &key, "application/octet-stream", b"granted body");
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["mismatch"], json!(["content_type"]));
    put_directly(&env, &key, "text/plain", b"granted body");
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(verified(r.json()["receipt"].as_str().unwrap())["size"], 12);

    // Multipart: the worker's completion answers the receipt, which /v1/uploads/complete
    // gives again byte for byte.
    let auth = format!("Bearer {alice}");
    let sign = |body: Value| {
        let r = post_json(
            &env.worker.url("/v1/sign"),
            &[("authorization", &auth)],
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let create = sign(json!({ "method": "POST", "key": "pic.png", "size": PNG.len() }));
    let r = http("POST", create["url"].as_str().unwrap(), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let field = |text: &str, tag: &str| {
        text.split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    let (key, id) = (field(&text, "Key"), field(&text, "UploadId"));
    let part = sign(json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 }));
    assert_eq!(
        http("PUT", part["url"].as_str().unwrap(), &[], PNG).status,
        200
    );
    let done = sign(json!({ "method": "POST", "key": key, "uploadId": id }));
    let r = http("POST", done["url"].as_str().unwrap(), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let receipt = field(&r.text(), "Receipt");
    let claims = verified(&receipt);
    assert_eq!(
        (&claims["key"], &claims["size"]),
        (&json!(key), &json!(PNG.len()))
    );
    assert_eq!(claims["content_checked"], true);
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.json()["receipt"].as_str(), Some(receipt.as_str()));
}

#[test]
#[ignore = "end-to-end: needs s3s-fs, wrangler and openssl; run by make test"]
fn an_eddsa_receipt_verifies_under_the_key_set_the_worker_serves() {
    let (pem, public) = openssl_ed25519_key();
    // A key rotated out: its public key, as an operator would write it (no kid).
    let (_, previous) = openssl_ed25519_key();
    let previous_set = json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(previous)
    }]})
    .to_string();
    let env = TestEnv::start(&[
        ("ALLOWED_CONTENT_TYPES", "image/*"),
        ("RECEIPT_SIGNING_KEY", pem.as_str()),
        ("RECEIPT_PREVIOUS_KEYS", previous_set.as_str()),
        ("RECEIPT_ISSUER", ISSUER),
    ]);
    let alice = token(&env);

    // The key set: WebCrypto's public key of the PEM is openssl's; then the previous key,
    // named by its thumbprint.
    let set = http("GET", &env.worker.url("/v1/receipts/jwks.json"), &[], b"");
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.header("cache-control"), Some("public, max-age=3600"));
    let published = set.json();
    let keys: JwkSet = serde_json::from_value(published.clone()).expect("a JWK set");
    let thumbprint = keys.keys[0].thumbprint(ThumbprintHash::SHA256);
    let previous_thumbprint = keys.keys[1].thumbprint(ThumbprintHash::SHA256);
    assert_eq!(
        published,
        json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public),
            "kid": thumbprint, "alg": "EdDSA", "use": "sig"
        }, {
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(previous),
            "kid": previous_thumbprint, "alg": "EdDSA", "use": "sig"
        }]})
    );

    let key = upload(&env, &alice, "pixel.png", "image/png", PNG);
    let r = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let receipt = v["receipt"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(receipt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(thumbprint.as_str()));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_required_spec_claims(&["iss", "sub"]);
    validation.validate_exp = false;
    validation.set_issuer(&[ISSUER]);
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&keys.keys[0]).unwrap();
    let claims = jsonwebtoken::decode::<Value>(receipt, &decoding, &validation)
        .expect("jsonwebtoken verifies the EdDSA receipt")
        .claims;
    let stored = env.store.read_object(&key).expect("the object is stored");
    assert_eq!(claims["key"], key.as_str());
    assert_eq!(claims["size"], stored.len());
    assert_eq!(claims["content_type"], "image/png");
    assert_eq!(claims["sub"], "alice");
    for name in ["key", "bucket", "target", "size", "content_type", "etag"] {
        assert_eq!(v[name], claims[name], "{name}");
    }
    // Ed25519 is deterministic: asked again (WebCrypto's key now imported), the same receipt.
    let again = api(&env, "/v1/uploads/complete", &alice, &json!({ "key": key }));
    assert_eq!(again.json()["receipt"], v["receipt"]);
    // Nothing of the private key in the worker's output.
    let body = pem.lines().nth(1).unwrap();
    assert!(!env.worker.logs().contains(body), "the key is in the logs");
}
