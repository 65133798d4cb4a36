//! EdDSA receipts (`RECEIPT_SIGNING_KEY`): a receipt of `POST /v1/uploads/complete` verifies
//! with the independent `jsonwebtoken` crate under the public key that
//! `GET /v1/receipts/jwks.json` publishes, whose `kid` is `jsonwebtoken`'s RFC 7638
//! thumbprint; the PEM and the JWK of one key give the same receipts; the key set is
//! `404 receipt_keys_not_configured` without the key; the configuration refuses what is not an
//! Ed25519 private key, without echoing it; and the checks the worker makes at run time (its
//! WebCrypto derives the public key) answer `500 config_invalid` and log why.
//!
//! The test keys are made here from fixed seeds and written as PKCS#8 PEM by the RustCrypto
//! encoders (`ed25519-dalek`, `p256`, `rsa`, `pkcs8`), not by the worker's parser.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::api_support::{hs256, request_io, vars_from, FakeLedger, FakeStore, TestPlatform};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::jwk::{JwkSet, ThumbprintHash};
use pkcs8::der::pem::LineEnding;
use pkcs8::EncodePrivateKey as _;
use presign_worker::api::{Body, Request, Response, Service};
use presign_worker::jwks::Remote;
use presign_worker::jwt::ed25519::{self, Ed25519PrivateKey};
use presign_worker::jwt::{self, Algorithm, PublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const JWT_SECRET: &str = "receipt-ed-test-jwt-secret-0123456789abc";
const ISSUER: &str = "https://uploads.example";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
/// `Sun, 01 Jan 2006 12:00:00 GMT`, the FakeStore's `Last-Modified`.
const MODIFIED: u64 = 1_136_116_800;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06";
const JWKS_PATH: &str = "/v1/receipts/jwks.json";

/// A test key: the Ed25519 key of seed SHA-256(`label`).
struct TestKey {
    signing: ed25519_dalek::SigningKey,
}

impl TestKey {
    fn new(label: &str) -> Self {
        let seed: [u8; 32] = Sha256::digest(label.as_bytes()).into();
        Self {
            signing: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes it.
    fn pem(&self) -> String {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 PEM")
            .to_string()
    }

    /// `x`, base64url.
    fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes())
    }

    /// The private OKP JWK (RFC 8037).
    fn jwk(&self) -> String {
        json!({
            "kty": "OKP", "crv": "Ed25519",
            "d": URL_SAFE_NO_PAD.encode(self.signing.to_bytes()),
            "x": self.x(),
        })
        .to_string()
    }

    /// The base64 body of the PEM (what must never show in an answer or an error).
    fn pem_body(&self) -> String {
        self.pem().lines().nth(1).expect("a base64 line").to_owned()
    }
}

fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let base = [
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDRECEIPT"),
        ("S3_SECRET_ACCESS_KEY", "receipt-s3-secret"),
        ("JWT_SECRET", JWT_SECRET),
        ("RECEIPT_ISSUER", ISSUER),
        ("ALLOWED_CONTENT_TYPES", "image/*,text/plain"),
    ];
    [&base[..], extra]
        .concat()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn configure(extra: &[(&str, &str)]) -> Result<Service, presign_worker::config::ConfigError> {
    let all = vars(extra);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let map = vars_from(&refs);
    Service::from_lookup(&|k| map.get(k).cloned())
}

fn service(extra: &[(&str, &str)]) -> Service {
    configure(extra).expect("valid config")
}

fn alice() -> String {
    hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": NOW + 3600 }))
}

fn call(svc: &Service, store: &FakeStore, method: &str, path: &str, body: &[u8]) -> Response {
    let auth = format!("Bearer {}", alice());
    request_io(
        svc,
        &FakeLedger::default(),
        store,
        (method, path),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
        NOW * 1000,
    )
}

fn complete(svc: &Service, store: &FakeStore, key: &str) -> Response {
    let body = json!({ "key": key }).to_string();
    call(svc, store, "POST", "/v1/uploads/complete", body.as_bytes())
}

fn header<'r>(r: &'r Response, name: &str) -> Option<&'r str> {
    r.headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

fn store_with_png() -> FakeStore {
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/p/a.png", "image/png", PNG);
    store
}

/// The receipt's claims, verified by `jsonwebtoken` with the published key set.
fn verified(receipt: &str, set: &JwkSet) -> Value {
    let header = jsonwebtoken::decode_header(receipt).expect("a JWS header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let kid = header.kid.expect("the receipt names its key");
    let jwk = set.find(&kid).expect("the kid is in the key set");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("an Ed25519 key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_required_spec_claims(&["iss", "sub"]);
    v.validate_exp = false;
    v.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(receipt, &key, &v)
        .expect("the receipt verifies")
        .claims
}

fn key_set(svc: &Service) -> (Response, JwkSet) {
    let r = call(svc, &FakeStore::new("/uploads/"), "GET", JWKS_PATH, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let set = serde_json::from_str(&r.body).expect("a JWK set jsonwebtoken reads");
    (r, set)
}

/// The receipt of the PNG in a fresh store, signed by `svc`.
fn png_receipt(svc: &Service) -> String {
    let r = complete(svc, &store_with_png(), "alice/p/a.png");
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()["receipt"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_eddsa_receipt_verifies_with_jsonwebtoken_under_the_published_key() {
    let key = TestKey::new("receipts");
    let pem = key.pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let svc = service(&[("RECEIPT_SIGNING_KEY", &pem)]);

    // The key set: the public key only, with its thumbprint as kid; cacheable.
    let (r, set) = key_set(&svc);
    assert_eq!(header(&r, "cache-control"), Some("public, max-age=3600"));
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    let published: Value = serde_json::from_str(&r.body).unwrap();
    let thumbprint = set.keys[0].thumbprint(ThumbprintHash::SHA256);
    assert_eq!(
        published,
        json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": key.x(), "kid": thumbprint,
            "alg": "EdDSA", "use": "sig"
        }]})
    );
    assert!(!r
        .body
        .contains(&URL_SAFE_NO_PAD.encode(key.signing.to_bytes())));

    let store = store_with_png();
    let r = complete(&svc, &store, "alice/p/a.png");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let receipt = v["receipt"].as_str().unwrap();
    let etag = store.files.borrow()["alice/p/a.png"].etag.clone();
    assert_eq!(
        verified(receipt, &set),
        json!({
            "key": "alice/p/a.png", "bucket": "uploads", "target": "uploads",
            "size": PNG.len(), "content_type": "image/png", "etag": etag,
            "content_checked": true, "sub": "alice", "iss": ISSUER,
            "completed_at": MODIFIED
        })
    );
    assert_eq!(
        jsonwebtoken::decode_header(receipt).unwrap().kid.as_deref(),
        Some(thumbprint.as_str())
    );
    // Ed25519 signatures are deterministic: the same object, the same receipt.
    assert_eq!(complete(&svc, &store, "alice/p/a.png").body, r.body);

    // Not a receipt of another key, nor a changed one.
    let other = TestKey::new("another");
    let other_svc = service(&[("RECEIPT_SIGNING_KEY", &other.pem())]);
    let (_, other_set) = key_set(&other_svc);
    let other_key = jsonwebtoken::DecodingKey::from_jwk(&other_set.keys[0]).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.set_required_spec_claims::<&str>(&[]);
    assert!(jsonwebtoken::decode::<Value>(receipt, &other_key, &validation).is_err());
    let (input, sig) = receipt.rsplit_once('.').unwrap();
    let (head, _) = input.split_once('.').unwrap();
    let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"key":"alice/other.png","sub":"alice"}"#);
    let forged = format!("{head}.{forged_claims}.{sig}");
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
}

#[test]
fn the_pem_and_the_jwk_of_a_key_sign_the_same_receipts() {
    let key = TestKey::new("receipts");
    let by_pem = service(&[("RECEIPT_SIGNING_KEY", &key.pem())]);
    let by_jwk = service(&[("RECEIPT_SIGNING_KEY", &key.jwk())]);
    // The PEM as `wrangler secret put` may get it: `\n` escapes on one line.
    let escaped = key.pem().trim_end().replace('\n', "\\n");
    let by_escaped = service(&[("RECEIPT_SIGNING_KEY", &escaped)]);
    let receipts: Vec<String> = [&by_pem, &by_jwk, &by_escaped]
        .iter()
        .map(|svc| png_receipt(svc))
        .collect();
    assert_eq!(receipts[0], receipts[1]);
    assert_eq!(receipts[0], receipts[2]);
    assert_eq!(key_set(&by_pem).0.body, key_set(&by_jwk).0.body);
}

#[test]
fn without_a_signing_key_the_key_set_is_404_and_only_get_and_head_are_answered() {
    let store = FakeStore::new("/uploads/");
    for svc in [
        service(&[]),
        service(&[("RECEIPT_SECRET", "receipt-ed-hs256-secret-0123456789abcdef")]),
    ] {
        let r = call(&svc, &store, "GET", JWKS_PATH, b"");
        assert_eq!(
            (r.status, r.error_code),
            (404, Some("receipt_keys_not_configured")),
            "{}",
            r.body
        );
        let e: Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("RECEIPT_SIGNING_KEY"),
            "{e}"
        );
        assert!(!r.body.contains("receipt-ed-hs256"), "{}", r.body);
    }
    let svc = service(&[("RECEIPT_SIGNING_KEY", &TestKey::new("receipts").pem())]);
    let head = call(&svc, &store, "HEAD", JWKS_PATH, b"");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = call(&svc, &store, method, JWKS_PATH, b"{}");
        assert_eq!((r.status, r.error_code), (405, Some("method_not_allowed")));
        assert_eq!(header(&r, "allow"), Some("GET, HEAD"));
    }
    // CORS as on every route: the allowed origin is named.
    let cors = service(&[
        ("RECEIPT_SIGNING_KEY", &TestKey::new("receipts").pem()),
        ("CORS_ALLOWED_ORIGINS", "https://app.example"),
    ]);
    let r = request_io(
        &cors,
        &FakeLedger::default(),
        &store,
        ("GET", JWKS_PATH),
        &[("origin", "https://app.example")],
        b"",
        NOW * 1000,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://app.example")
    );
}

/// PKCS#8 PEM of a key of another algorithm: its OID and `private_key` as RustCrypto's
/// `pkcs8` encodes them.
fn other_pkcs8(oid: &str, private_key: &[u8]) -> String {
    use pkcs8::der::EncodePem as _;
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: pkcs8::ObjectIdentifier::new_unwrap(oid),
            parameters: None,
        },
        private_key,
        public_key: None,
    };
    info.to_pem(LineEnding::LF).expect("PEM")
}

/// The RSA key of RFC 7515 §A.2, as PKCS#8 PEM.
fn rsa_pem() -> String {
    let int = |v: &str| rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(v).unwrap());
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
    const P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
    const Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
    rsa::RsaPrivateKey::from_components(int(N), int("AQAB"), int(D), vec![int(P), int(Q)])
        .expect("the RFC 7515 A.2 key")
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PEM")
        .to_string()
}

/// Asserts that the configuration refuses `RECEIPT_SIGNING_KEY = value` naming the variable,
/// saying `needle`, and showing nothing of `value` past its PEM label.
#[track_caller]
fn refused(value: &str, needle: &str) {
    let e = match configure(&[("RECEIPT_SIGNING_KEY", value)]) {
        Ok(_) => panic!("RECEIPT_SIGNING_KEY was accepted: {value}"),
        Err(e) => e,
    };
    assert_eq!(e.variable, "RECEIPT_SIGNING_KEY", "{e}");
    assert!(e.problem.contains(needle), "{e} lacks {needle:?}");
    for line in value
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 8)
    {
        assert!(!e.to_string().contains(&line[..8]), "{e} shows the key");
    }
    for member in ["\"d\":\"", "\"x\":\""] {
        if let Some((_, rest)) = value.split_once(member) {
            assert!(!e.to_string().contains(&rest[..8]), "{e} shows the key");
        }
    }
}

#[test]
fn the_configuration_refuses_what_is_not_an_ed25519_private_key() {
    let key = TestKey::new("receipts");
    // Bad PEM: base64 broken, the end line missing.
    let pem = key.pem();
    let body = key.pem_body();
    refused(
        &pem.replace(&body, &format!("{}*{}", &body[..10], &body[11..])),
        "base64",
    );
    refused(
        &pem.replace("-----END PRIVATE KEY-----", ""),
        "does not end",
    );
    refused(&body, "neither a PEM block");
    // Other curves (RFC 8410's X25519 and Ed448 identifiers), EC and RSA keys.
    let inner = [&[0x04, 0x20][..], &[7u8; 32]].concat();
    refused(&other_pkcs8("1.3.101.110", &inner), "another curve");
    let inner448 = [&[0x04, 0x39][..], &[7u8; 57]].concat();
    refused(&other_pkcs8("1.3.101.113", &inner448), "another curve");
    let ec = p256::SecretKey::from_slice(&[7u8; 32])
        .unwrap()
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    refused(&ec, "EC key");
    refused(&rsa_pem(), "RSA key");
    // Public keys: the SubjectPublicKeyInfo PEM, a public JWK.
    let spki = {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        key.signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    refused(&spki, "public key");
    let public_jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": key.x() }).to_string();
    refused(&public_jwk, "public JWK");
    // A JWK whose x is another key's.
    let other_x = TestKey::new("another").x();
    refused(
        &key.jwk().replace(&key.x(), &other_x),
        "not the one of its private key",
    );
    // Another JWK curve or type.
    refused(&key.jwk().replace("Ed25519", "X25519"), "another curve");
    refused(
        &json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB" }).to_string(),
        "RSA JWK",
    );
    // Both kinds of receipts at once.
    let both = configure(&[
        ("RECEIPT_SIGNING_KEY", &pem),
        ("RECEIPT_SECRET", "receipt-ed-hs256-secret-0123456789abcdef"),
    ])
    .expect_err("both keys");
    assert_eq!(both.variable, "RECEIPT_SECRET");
    assert!(both.problem.contains("not both"), "{both}");
}

// ---------------------------------------------------------------------------------------------
// The worker's run-time checks, with a Remote that plays WebCrypto wrong.

/// What [`OddRemote`] does wrong.
#[derive(Clone, Copy, PartialEq)]
enum Odd {
    /// Derives another public key than the private key's.
    WrongPublic,
    /// Refuses to derive the public key.
    NoPublic,
    /// Refuses to sign.
    NoSignature,
}

struct OddRemote {
    odd: Odd,
    logs: RefCell<Vec<String>>,
    signatures: Cell<u32>,
}

impl Remote for OddRemote {
    async fn cached_jwks(&self, _url: &str) -> Option<(String, u64)> {
        None
    }
    async fn fetch_jwks(&self, _url: &str) -> Result<(String, Option<String>), String> {
        Err("no network".into())
    }
    async fn store_jwks(&self, _url: &str, _body: &str, _fresh_until: u64) {}
    async fn sleep(&self, _ms: u64) {}
    async fn verify(&self, alg: Algorithm, key: &PublicKey, input: &[u8], sig: &[u8]) -> bool {
        jwt::verify_public(key, alg, input, sig).unwrap_or(false)
    }
    async fn ed25519_public(&self, key: &Ed25519PrivateKey) -> Result<[u8; 32], String> {
        match self.odd {
            Odd::WrongPublic => Ok(TestKey::new("another").signing.verifying_key().to_bytes()),
            Odd::NoPublic => Err("DataError: invalid key data".into()),
            Odd::NoSignature => Ok(ed25519::derive_public(key)),
        }
    }
    async fn sign_ed25519(
        &self,
        _key: &Ed25519PrivateKey,
        _input: &[u8],
    ) -> Result<[u8; 64], String> {
        self.signatures.set(self.signatures.get() + 1);
        Err("OperationError: cannot sign".into())
    }
    fn log(&self, line: &str) {
        self.logs.borrow_mut().push(line.to_owned());
    }
}

fn serve(
    svc: &Service,
    remote: &OddRemote,
    store: &FakeStore,
    method: &str,
    path: &str,
) -> Response {
    let auth = format!("Bearer {}", alice());
    let body = br#"{"key":"alice/p/a.png"}"#;
    let lookup = |name: &str| match name {
        "authorization" => Some(auth.clone()),
        "content-type" => Some("application/json".to_owned()),
        _ => None,
    };
    let req = Request {
        method,
        path,
        query: "",
        origin: "https://presign.test",
        header: &lookup,
        body: Body::Bytes(body),
    };
    let ledger = FakeLedger::default();
    let mut platform = TestPlatform(1);
    let fut = pin!(svc.serve_io(&req, NOW * 1000, &mut platform, remote, &ledger, store));
    match fut.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("nothing here waits"),
    }
}

#[test]
fn a_public_key_webcrypto_gets_wrong_or_a_failed_signature_is_500_and_logged() {
    let key = TestKey::new("receipts");
    // The stated x is checked against the derived one at run time too (natively the
    // configuration already did, with the right derivation).
    for (odd, event, problem) in [
        (
            Odd::WrongPublic,
            "receipt_key_invalid",
            "not the one of its private key",
        ),
        (Odd::NoPublic, "receipt_key_invalid", "DataError"),
        (Odd::NoSignature, "receipt_signing_failed", "cannot sign"),
    ] {
        let svc = service(&[("RECEIPT_SIGNING_KEY", &key.jwk())]);
        let remote = OddRemote {
            odd,
            logs: RefCell::default(),
            signatures: Cell::new(0),
        };
        let store = store_with_png();
        for path in ["/v1/uploads/complete", JWKS_PATH] {
            let method = if path == JWKS_PATH { "GET" } else { "POST" };
            let r = serve(&svc, &remote, &store, method, path);
            if odd == Odd::NoSignature && path == JWKS_PATH {
                // The key set needs no signature.
                assert_eq!(r.status, 200, "{}", r.body);
                continue;
            }
            assert_eq!(
                (r.status, r.error_code),
                (500, Some("config_invalid")),
                "{path}: {}",
                r.body
            );
            assert!(!r.body.contains("receipt\""), "{}", r.body);
        }
        let logs = remote.logs.borrow();
        let line: Value = serde_json::from_str(&logs[0]).expect("a JSON log line");
        assert_eq!(line["event"], event, "{line}");
        assert!(
            line["problem"].as_str().unwrap().contains(problem),
            "{line}"
        );
        for l in logs.iter() {
            assert!(
                !l.contains(&URL_SAFE_NO_PAD.encode(key.signing.to_bytes())),
                "{l}"
            );
            assert!(!l.contains(&STANDARD.encode(key.signing.to_bytes())), "{l}");
        }
        assert_eq!(remote.signatures.get(), u32::from(odd == Odd::NoSignature));
    }
}

/// The README's Node.js snippet, run on a receipt the worker signs, with the key set it serves:
/// it gives the claims, and refuses a changed payload, another key's receipt and an HS256 one.
#[test]
fn the_readmes_node_snippet_verifies_what_the_worker_signs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```js\nimport { createPublicKey, verify } from 'node:crypto'")
        .expect("the snippet in the README");
    let code = &readme[start + "```js\n".len()..];
    let code = &code[..code.find("```").unwrap()];

    let svc = service(&[("RECEIPT_SIGNING_KEY", &TestKey::new("receipts").pem())]);
    let good = png_receipt(&svc);
    let (set, _) = key_set(&svc);
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let changed = format!(
        "{head}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(br#"{"key":"alice/other.png","sub":"alice"}"#)
    );
    let other = png_receipt(&service(&[(
        "RECEIPT_SIGNING_KEY",
        &TestKey::new("another").pem(),
    )]));
    let hs = png_receipt(&service(&[(
        "RECEIPT_SECRET",
        "receipt-ed-hs256-secret-0123456789abcdef",
    )]));
    let script = format!(
        "{code}\nconst keys = JSON.parse({set:?}).keys\n\
         console.log(JSON.stringify([{good:?}, {changed:?}, {other:?}, {hs:?}].map((r) => verifyReceipt(r, keys))))\n",
        set = set.body,
    );
    let Some(stdout) = crate::api_support::node_output("readme-receipt", &script, &[]) else {
        return;
    };
    let results: Value = serde_json::from_str(stdout.trim()).expect("JSON from node");
    assert_eq!(results[0]["key"], "alice/p/a.png", "{results}");
    assert_eq!(results[0]["iss"], ISSUER, "{results}");
    assert_eq!(results[0]["sub"], "alice", "{results}");
    assert_eq!(
        &results.as_array().unwrap()[1..],
        [Value::Null, Value::Null, Value::Null]
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation: RECEIPT_PREVIOUS_KEYS.

#[test]
fn after_a_rotation_the_key_set_still_verifies_the_receipts_of_the_previous_keys() {
    // Before: the first key signs, and the operator saves the key set it serves.
    let first = TestKey::new("receipts");
    let before = service(&[("RECEIPT_SIGNING_KEY", &first.pem())]);
    let (saved, _) = key_set(&before);
    let old_receipt = png_receipt(&before);

    // After: a new key signs; the saved set is RECEIPT_PREVIOUS_KEYS.
    let second = TestKey::new("rotated");
    let after = service(&[
        ("RECEIPT_SIGNING_KEY", &second.pem()),
        ("RECEIPT_PREVIOUS_KEYS", &saved.body),
    ]);
    let (r, set) = key_set(&after);
    assert_eq!(header(&r, "cache-control"), Some("public, max-age=3600"));
    let published: Value = serde_json::from_str(&r.body).unwrap();
    let old: Value = serde_json::from_str(&saved.body).unwrap();
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        2,
        "{published}"
    );
    // The current key first, with its thumbprint (jsonwebtoken's) as kid; then the saved one
    // as it was served.
    assert_eq!(published["keys"][0]["x"], second.x());
    assert_eq!(
        published["keys"][0]["kid"],
        set.keys[0].thumbprint(ThumbprintHash::SHA256)
    );
    assert_eq!(published["keys"][1], old["keys"][0]);
    // Both receipts verify under the one set, each by its kid; the new one is the second key's.
    let new_receipt = png_receipt(&after);
    assert_ne!(new_receipt, old_receipt);
    assert_eq!(verified(&old_receipt, &set), verified(&new_receipt, &set));
    assert_eq!(
        jsonwebtoken::decode_header(&new_receipt).unwrap().kid,
        set.keys[0].common.key_id
    );
    assert_eq!(
        jsonwebtoken::decode_header(&old_receipt).unwrap().kid,
        set.keys[1].common.key_id
    );

    // A second rotation: the set served after the first is the next RECEIPT_PREVIOUS_KEYS.
    let third = TestKey::new("rotated again");
    let later = service(&[
        ("RECEIPT_SIGNING_KEY", &third.pem()),
        ("RECEIPT_PREVIOUS_KEYS", &r.body),
    ]);
    let (_, set3) = key_set(&later);
    assert_eq!(set3.keys.len(), 3);
    for receipt in [&old_receipt, &new_receipt, &png_receipt(&later)] {
        verified(receipt, &set3);
    }

    // Public keys written by hand: without kid (the worker adds the thumbprint), with
    // alg/use/key_ops as RFC 7517 allows.
    let by_hand = json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "x": first.x(), "use": "sig", "key_ops": ["verify"]
    }]})
    .to_string();
    let svc = service(&[
        ("RECEIPT_SIGNING_KEY", &second.pem()),
        ("RECEIPT_PREVIOUS_KEYS", &by_hand),
    ]);
    assert_eq!(key_set(&svc).0.body, r.body);

    // The order the README gives: the saved set first (it lists the current key: published
    // once), then the new signing key.
    let staged = service(&[
        ("RECEIPT_SIGNING_KEY", &first.pem()),
        ("RECEIPT_PREVIOUS_KEYS", &saved.body),
    ]);
    assert_eq!(key_set(&staged).0.body, saved.body);
    let staged = service(&[
        ("RECEIPT_SIGNING_KEY", &second.pem()),
        ("RECEIPT_PREVIOUS_KEYS", &r.body),
    ]);
    assert_eq!(key_set(&staged).0.body, r.body);

    // Receipts now HS256 (or off): the previous keys are still published, alone.
    for extra in [
        &[("RECEIPT_SECRET", "receipt-ed-hs256-secret-0123456789abcdef")][..],
        &[][..],
    ] {
        let svc = service(&[extra, &[("RECEIPT_PREVIOUS_KEYS", saved.body.as_str())][..]].concat());
        let (r, set) = key_set(&svc);
        assert_eq!(r.body, saved.body);
        verified(&old_receipt, &set);
    }
}

/// Asserts that the configuration refuses `RECEIPT_PREVIOUS_KEYS = value` (with `extra`
/// variables), saying `needle`, and quoting nothing of the keys' members.
#[track_caller]
fn previous_refused(extra: &[(&str, &str)], value: &str, needle: &str) {
    let e = match configure(&[extra, &[("RECEIPT_PREVIOUS_KEYS", value)][..]].concat()) {
        Ok(_) => panic!("RECEIPT_PREVIOUS_KEYS was accepted: {value}"),
        Err(e) => e,
    };
    assert_eq!(e.variable, "RECEIPT_PREVIOUS_KEYS", "{e}");
    assert!(e.problem.contains(needle), "{e} lacks {needle:?}");
    for member in ["\"d\":\"", "\"x\":\"", "\"n\":\""] {
        let mut rest = value;
        while let Some(at) = rest.find(member) {
            rest = &rest[at + member.len()..];
            assert!(!e.to_string().contains(&rest[..8]), "{e} quotes a key");
        }
    }
}

#[test]
fn the_configuration_refuses_previous_keys_that_are_not_ed25519_public_keys() {
    let key = TestKey::new("receipts");
    let public = |k: &TestKey| json!({ "kty": "OKP", "crv": "Ed25519", "x": k.x() });
    let set = |keys: Vec<Value>| json!({ "keys": keys }).to_string();
    previous_refused(&[], "not json", "is not JSON");
    previous_refused(&[], &public(&key).to_string(), "is not a JWK set");
    previous_refused(&[], r#"{"keys": []}"#, "1 to 16 keys, not 0");
    let many: Vec<Value> = (0..17)
        .map(|i| public(&TestKey::new(&format!("key {i}"))))
        .collect();
    previous_refused(&[], &set(many.clone()), "1 to 16 keys, not 17");
    previous_refused(&[], r#"{"keys": ["a key"]}"#, "key 1 is not a JSON object");
    // A private key: refused, never quoted (this variable is not a secret).
    let private: Value = serde_json::from_str(&key.jwk()).unwrap();
    previous_refused(
        &[],
        &set(vec![public(&TestKey::new("other")), private]),
        "key 2 is a private key",
    );
    // Other key types and curves.
    let rsa = json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 256]), "e": "AQAB" });
    previous_refused(&[], &set(vec![rsa]), "key 1");
    let mut x25519 = public(&key);
    x25519["crv"] = json!("X25519");
    previous_refused(&[], &set(vec![x25519]), "key 1");
    let oct = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode([1u8; 32]) });
    previous_refused(&[], &set(vec![oct]), "key 1");
    let mut short = public(&key);
    short["x"] = json!(URL_SAFE_NO_PAD.encode([9u8; 31]));
    previous_refused(&[], &set(vec![short]), "key 1");
    // A kid that is not the key's thumbprint (a receipt names its key by thumbprint).
    let mut renamed = public(&key);
    renamed["kid"] = json!("2024-receipts");
    previous_refused(
        &[],
        &set(vec![renamed]),
        "key 1's kid is not its RFC 7638 thumbprint",
    );
    // The same key twice.
    previous_refused(
        &[],
        &set(vec![
            public(&TestKey::new("other")),
            public(&key),
            public(&key),
        ]),
        "key 3 is listed twice",
    );
    // 16 distinct public keys are accepted.
    configure(&[("RECEIPT_PREVIOUS_KEYS", set(many[..16].to_vec()).as_str())])
        .expect("16 previous keys");
}
