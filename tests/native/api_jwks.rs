//! JWKS identity providers through the public API (`Service::serve`), natively: which issuer a
//! token goes to, when keys are (re)fetched, what survives a failing provider, the shared
//! cache, the Cloudflare Access preset and requests waiting for a running fetch.
//!
//! The network, the shared cache and the logs are a [`FakeRemote`] that counts what the core
//! asks of it; signatures are checked with RustCrypto (`jwt::verify_public`), as on the CLI.
//! Tokens are signed with fixed Ed25519 and P-256 keys (and the RFC 7515 A.2 RSA key for
//! Access) by the RustCrypto signers, never by this crate.
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::api_support::{hs256 as mint_hs256, service_from, TestPlatform};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use presign_worker::api::{Body, Request, Response, Service};
use presign_worker::jwks::{Remote, FETCH_DEADLINE};
use presign_worker::jwt::ed25519::{self, Ed25519PrivateKey};
use presign_worker::jwt::{self, Algorithm, PublicKey};
use serde_json::{json, Value};

const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";
const S3_SECRET: &str = "s3-secret-DO-NOT-LEAK-0123456789";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
/// `ISSUER_IDP_ISS`.
const IDP_ISS: &str = "https://idp.example.com";
/// `ISSUER_IDP_JWKS_URL`.
const IDP_URL: &str = "https://idp.example.com/.well-known/jwks.json";
/// `ISSUER_IDP_AUDIENCE`.
const AUD: &str = "presign";
/// The default `JWKS_REFETCH_INTERVAL`.
const INTERVAL: u64 = 30;
/// Lifetime of the test tokens: longer than any test's time span.
const LONG: u64 = 10 * 86_400;
/// What the fake provider answers in [`Mode::Garbage`]: never to be echoed in a log line.
const GARBAGE: &str = "<html><body>502 Bad Gateway GARBAGE-MARKER-7f3a</body></html>";
/// More shared-cache reads or fetches than any test makes: a loop in the core (a test fails
/// instead of hanging).
const RUNAWAY: usize = 10_000;
const UPLOAD: &[u8] = br#"{"filename":"a.txt","content_type":"text/plain","size":5}"#;

// ---------------------------------------------------------------------------------------------
// The fake runtime

/// What the fake identity provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// The JWKS body with its Cache-Control.
    #[default]
    Serve,
    /// A network error.
    Refuse,
    /// A 200 that is not JSON.
    Garbage,
    /// `{"keys":[]}`.
    NoKeys,
    /// JSON, but not a JWK set.
    NotJwks,
}

/// The [`Remote`] of these tests: a settable provider, a shared cache that keeps what is
/// stored in it, collected log lines, a gate that can hold network fetches pending, and timers
/// that ring when the test says.
#[derive(Default)]
struct FakeRemote {
    jwks: RefCell<String>,
    cache_control: RefCell<Option<String>>,
    mode: Cell<Mode>,
    /// URL of every network fetch, in order.
    fetched: RefCell<Vec<String>>,
    /// The shared cache (the Cache API): URL → (body, fresh until).
    shared: RefCell<HashMap<String, (String, u64)>>,
    cache_reads: Cell<usize>,
    /// Every `store_jwks` call: (URL, body, fresh until).
    stored: RefCell<Vec<(String, String, u64)>>,
    logs: RefCell<Vec<String>>,
    verifies: Cell<usize>,
    /// While true, network fetches stay pending (after being counted).
    gate_closed: Cell<bool>,
    gate_waiters: RefCell<Vec<Waker>>,
    /// Every `sleep` asked for (milliseconds), in order.
    sleeps: RefCell<Vec<u64>>,
    /// How many of those have rung (they ring in order, when the test says).
    rung: Cell<usize>,
    timer_waiters: RefCell<Vec<Waker>>,
}

impl FakeRemote {
    fn serving(jwks: &Value, cache_control: Option<&str>) -> Self {
        let remote = FakeRemote::default();
        remote.set_jwks(jwks);
        *remote.cache_control.borrow_mut() = cache_control.map(str::to_owned);
        remote
    }

    fn set_jwks(&self, jwks: &Value) {
        *self.jwks.borrow_mut() = jwks.to_string();
    }

    fn set_mode(&self, mode: Mode) {
        self.mode.set(mode);
    }

    /// Network fetches so far.
    fn fetches(&self) -> usize {
        self.fetched.borrow().len()
    }

    fn logs(&self) -> Vec<String> {
        self.logs.borrow().clone()
    }

    /// The log lines with `event: jwks_fetch_failed`, parsed.
    fn fetch_failures(&self) -> Vec<Value> {
        self.logs
            .borrow()
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).expect("log lines are JSON"))
            .filter(|v| v["event"] == "jwks_fetch_failed")
            .collect()
    }

    fn open_gate(&self) {
        self.gate_closed.set(false);
        for w in self.gate_waiters.take() {
            w.wake();
        }
    }

    /// Rings every timer asked for so far.
    fn ring_timers(&self) {
        self.rung.set(self.sleeps.borrow().len());
        for w in self.timer_waiters.take() {
            w.wake();
        }
    }
}

impl Remote for FakeRemote {
    async fn cached_jwks(&self, url: &str) -> Option<(String, u64)> {
        self.cache_reads.set(self.cache_reads.get() + 1);
        assert!(
            self.cache_reads.get() < RUNAWAY,
            "runaway shared-cache reads"
        );
        self.shared.borrow().get(url).cloned()
    }

    async fn fetch_jwks(&self, url: &str) -> Result<(String, Option<String>), String> {
        self.fetched.borrow_mut().push(url.to_owned());
        assert!(self.fetches() < RUNAWAY, "runaway fetches");
        poll_fn(|cx| {
            if self.gate_closed.get() {
                self.gate_waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        let cache_control = self.cache_control.borrow().clone();
        match self.mode.get() {
            Mode::Serve => Ok((self.jwks.borrow().clone(), cache_control)),
            Mode::Refuse => Err("connection refused".to_owned()),
            Mode::Garbage => Ok((GARBAGE.to_owned(), cache_control)),
            Mode::NoKeys => Ok((r#"{"keys":[]}"#.to_owned(), cache_control)),
            Mode::NotJwks => Ok((r#"{"error":"not_found"}"#.to_owned(), cache_control)),
        }
    }

    async fn store_jwks(&self, url: &str, body: &str, fresh_until: u64) {
        self.stored
            .borrow_mut()
            .push((url.to_owned(), body.to_owned(), fresh_until));
        self.shared
            .borrow_mut()
            .insert(url.to_owned(), (body.to_owned(), fresh_until));
    }

    async fn sleep(&self, ms: u64) {
        let number = {
            let mut sleeps = self.sleeps.borrow_mut();
            sleeps.push(ms);
            sleeps.len()
        };
        poll_fn(|cx| {
            if self.rung.get() >= number {
                Poll::Ready(())
            } else {
                self.timer_waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    async fn verify(&self, alg: Algorithm, key: &PublicKey, input: &[u8], sig: &[u8]) -> bool {
        self.verifies.set(self.verifies.get() + 1);
        jwt::verify_public(key, alg, input, sig).unwrap_or(false)
    }

    async fn ed25519_public(&self, key: &Ed25519PrivateKey) -> Result<[u8; 32], String> {
        Ok(ed25519::derive_public(key))
    }

    async fn sign_ed25519(
        &self,
        key: &Ed25519PrivateKey,
        input: &[u8],
    ) -> Result<[u8; 64], String> {
        Ok(ed25519::sign(key, input))
    }

    fn log(&self, line: &str) {
        self.logs.borrow_mut().push(line.to_owned());
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl WakeCount {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs a future that must not wait (the fake remote with its gate open never pends).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("serve waited although nothing could make it wait"),
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Signs a JWS signing input.
type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A private key, its public JWK (with `kid`) and its algorithm.
struct TestKey {
    kid: String,
    alg: Algorithm,
    jwk: Value,
    sign: SignFn,
}

impl TestKey {
    /// A token with this key's `alg` and `kid`, signed by it.
    fn token(&self, claims: &Value) -> String {
        self.token_with_kid(Some(&self.kid), claims)
    }

    /// A token signed by this key under any `kid` (or none).
    fn token_with_kid(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({ "alg": self.alg.name(), "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        sign_jwt(&header, claims, &self.sign)
    }
}

fn sign_jwt(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// A fixed Ed25519 key (seed `[seed; 32]`).
fn ed_key(seed: u8, kid: &str) -> TestKey {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let x = b64(signing.verifying_key().as_bytes());
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::EdDSA,
        jwk: json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid }),
        sign: Box::new(move |m| {
            use ed25519_dalek::Signer as _;
            signing.sign(m).to_bytes().to_vec()
        }),
    }
}

/// A fixed P-256 key (scalar `[seed; 32]`).
fn ec_key(seed: u8, kid: &str) -> TestKey {
    let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("valid scalar");
    let point = signing.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().expect("x"), point.y().expect("y"));
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES256,
        jwk: json!({ "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": kid }),
        sign: Box::new(move |m| {
            let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&signing, m);
            sig.to_bytes().to_vec()
        }),
    }
}

/// The RSA key of RFC 7515 Appendix A.2 (published example values), for RS256.
fn rsa_key(kid: &str) -> TestKey {
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const E: &str = "AQAB";
    const D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
    const P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
    const Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
    let int = |v: &str| rsa::BigUint::from_bytes_be(&unb64(v));
    let private = rsa::RsaPrivateKey::from_components(int(N), int(E), int(D), vec![int(P), int(Q)])
        .expect("the RFC 7515 A.2 key");
    let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private);
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::RS256,
        jwk: json!({ "kty": "RSA", "n": N, "e": E, "kid": kid }),
        sign: Box::new(move |m| {
            use rsa::signature::{SignatureEncoding as _, Signer as _};
            signing.sign(m).to_vec()
        }),
    }
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

fn claims(iss: &str, aud: &str, exp: u64) -> Value {
    json!({ "sub": "alice", "iss": iss, "aud": aud, "exp": exp })
}

/// A token of the `idp` issuer, valid for [`LONG`] seconds from [`NOW`] (the tests span days).
fn idp_token(key: &TestKey) -> String {
    key.token(&claims(IDP_ISS, AUD, NOW + LONG))
}

/// An HS256 token signed with `JWT_SECRET` by `jsonwebtoken`.
fn hs256(claims: &Value) -> String {
    mint_hs256(JWT_SECRET, claims)
}

/// A small deterministic generator for made-up `kid`s.
struct XorShift(u64);

impl XorShift {
    fn next_kid(&mut self) -> String {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        format!("{:016x}", self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Service and requests

/// The configuration every test starts from (`service` adds to it).
const VARS: &[(&str, &str)] = &[
    ("TARGET_UPLOADS_KIND", "custom"),
    ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
    ("TARGET_UPLOADS_BUCKET", "uploads"),
    ("S3_ACCESS_KEY_ID", "AKIDTEST"),
    ("S3_SECRET_ACCESS_KEY", S3_SECRET),
    ("JWT_SECRET", JWT_SECRET),
    ("ALLOWED_CONTENT_TYPES", "text/plain"),
];

fn service(extra: &[(&str, &str)]) -> Service {
    service_from(&[VARS, extra].concat())
}

/// The `idp` issuer: JWKS from [`IDP_URL`], EdDSA and ES256, audience [`AUD`].
fn idp_service(extra: &[(&str, &str)]) -> Service {
    let mut all = vec![
        ("ISSUERS", "idp"),
        ("ISSUER_IDP_ISS", IDP_ISS),
        ("ISSUER_IDP_JWKS_URL", IDP_URL),
        ("ISSUER_IDP_AUDIENCE", AUD),
        ("ISSUER_IDP_ALGORITHMS", "EdDSA,ES256"),
    ];
    all.extend_from_slice(extra);
    service(&all)
}

/// Asserts that nothing secret is in `text`: the HMAC and S3 secrets, nor any of `tokens`.
#[track_caller]
fn assert_no_secret(text: &str, tokens: &[&str]) {
    assert!(!text.contains(JWT_SECRET), "JWT_SECRET leaked: {text}");
    assert!(!text.contains(S3_SECRET), "S3 secret leaked: {text}");
    for t in tokens {
        assert!(!text.contains(t), "a token leaked: {text}");
        // Not its signature alone either.
        if let Some((_, sig)) = t.rsplit_once('.') {
            assert!(
                sig.len() < 16 || !text.contains(sig),
                "a signature leaked: {text}"
            );
        }
    }
}

/// POSTs an upload at time `now` (seconds) with these headers, through `serve`, then, as the
/// worker does after answering, the refresh of stale keys when one is due.
fn request_at(svc: &Service, remote: &FakeRemote, now: u64, headers: &[(&str, &str)]) -> Response {
    serve_at(svc, remote, now, "/v1/uploads", headers, UPLOAD)
}

/// POSTs `body` to `path` at time `now` as [`request_at`] does.
fn serve_at(
    svc: &Service,
    remote: &FakeRemote,
    now: u64,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .chain([("content-type".to_owned(), "application/json".to_owned())])
        .collect();
    let lookup = move |name: &str| map.get(name).cloned();
    let req = Request {
        method: "POST",
        path,
        query: "",
        origin: "https://presign.test",
        header: &lookup,
        body: Body::Bytes(body),
    };
    let resp = block_on(svc.serve(&req, now * 1000, &mut TestPlatform(0), remote));
    if svc.refresh_due() {
        block_on(svc.refresh(now * 1000, remote));
    }
    let tokens: Vec<&str> = headers
        .iter()
        .map(|(_, v)| v.strip_prefix("Bearer ").unwrap_or(v))
        .collect();
    assert_no_secret(&format!("{:?} {}", resp.headers, resp.body), &tokens);
    for line in remote.logs() {
        assert_no_secret(&line, &tokens);
    }
    resp
}

/// POSTs an upload with `Authorization: Bearer <token>` at time `now`.
fn post_at(svc: &Service, remote: &FakeRemote, now: u64, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    let resp = request_at(svc, remote, now, &[("authorization", &auth)]);
    assert!(!resp.body.contains(token), "the token is echoed");
    resp
}

fn body(r: &Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

fn header<'r>(r: &'r Response, name: &str) -> Option<&'r str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Asserts a presigned upload for subject `alice`: under `alice/`, or, when tokens of several
/// issuers are accepted, under `<issuer>/alice/`.
#[track_caller]
fn assert_signed(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = body(r);
    let url = v["url"].as_str().expect("a url");
    let key = url
        .strip_prefix("http://127.0.0.1:9000/uploads/")
        .unwrap_or_else(|| panic!("{url}"));
    let issuer = key.split_once('/').map_or("", |(first, _)| first);
    let issuer_ok = ["local", "idp", "ed", "ec", "a", "b", "access"].contains(&issuer);
    assert!(
        key.starts_with("alice/") || (issuer_ok && key[issuer.len() + 1..].starts_with("alice/")),
        "{url}"
    );
}

/// Asserts a 401 refusal with this `reason`.
#[track_caller]
fn assert_refused(r: &Response, reason: &str) {
    let v = body(r);
    assert_eq!(
        (
            r.status,
            v["error"]["code"].as_str(),
            v["error"]["reason"].as_str()
        ),
        (401, Some("invalid_token"), Some(reason)),
        "{}",
        r.body
    );
    let challenge = header(r, "www-authenticate").expect("a challenge");
    assert!(challenge.contains(reason), "{challenge}");
}

// ---------------------------------------------------------------------------------------------
// 1. Caching

#[test]
fn token_of_a_jwks_url_issuer_is_accepted_after_one_fetch_then_cached() {
    let key = ed_key(1, "ed-1");
    let remote = FakeRemote::serving(&jwks(&[&key]), Some("max-age=3600"));
    let svc = idp_service(&[]);
    let token = idp_token(&key);

    let r = post_at(&svc, &remote, NOW, &token);
    assert_signed(&r);
    assert_eq!(*remote.fetched.borrow(), vec![IDP_URL.to_owned()]);
    // A cold isolate looks in the shared cache first (empty here).
    assert_eq!(remote.cache_reads.get(), 1);
    for i in 0..50 {
        assert_signed(&post_at(&svc, &remote, NOW + i * 10, &token));
    }
    assert_eq!(remote.fetches(), 1, "later requests use the cached keys");
    assert_eq!(remote.cache_reads.get(), 1);
    assert_eq!(remote.verifies.get(), 51, "every token is still verified");
    assert!(remote.logs().is_empty(), "{:?}", remote.logs());
}

// ---------------------------------------------------------------------------------------------
// 2. Unknown kids

#[test]
fn an_unknown_kid_flood_is_answered_from_memory() {
    let key = ed_key(2, "ed-2");
    let remote = FakeRemote::serving(&jwks(&[&key]), Some("max-age=3600"));
    let svc = idp_service(&[]);
    let good = idp_token(&key);
    assert_signed(&post_at(&svc, &remote, NOW, &good));
    assert_eq!(remote.fetches(), 1);

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for i in 0..1000u64 {
        let kid = rng.next_kid();
        let forged = key.token_with_kid(Some(&kid), &claims(IDP_ISS, AUD, NOW + 3600));
        let at = NOW + i % INTERVAL;
        assert_refused(&post_at(&svc, &remote, at, &forged), "unknown_key");
        if i % 100 == 0 {
            // The real users are not hurt by the flood.
            assert_signed(&post_at(&svc, &remote, at, &good));
        }
    }
    assert!(
        remote.fetches() <= 2,
        "at most one refetch within the interval, got {}",
        remote.fetches() - 1
    );
    let before = remote.fetches();
    assert_eq!(
        remote.verifies.get(),
        11,
        "no signature check for unknown kids"
    );

    // Past the interval, one more unknown kid: exactly one refetch, then quiet again.
    let late = key.token_with_kid(Some("late"), &claims(IDP_ISS, AUD, NOW + 3600));
    assert_refused(&post_at(&svc, &remote, NOW + 31, &late), "unknown_key");
    assert_eq!(remote.fetches(), before + 1);
    for t in NOW + 31..NOW + 31 + INTERVAL {
        assert_refused(&post_at(&svc, &remote, t, &late), "unknown_key");
    }
    assert_eq!(remote.fetches(), before + 1);
    // Unknown kids are not fetch failures.
    assert!(remote.logs().is_empty(), "{:?}", remote.logs());
}

#[test]
fn a_token_without_kid_needs_a_key_without_kid() {
    let key = ed_key(3, "ed-3");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    let svc = idp_service(&[]);
    let no_kid = key.token_with_kid(None, &claims(IDP_ISS, AUD, NOW + 3600));
    assert_refused(&post_at(&svc, &remote, NOW, &no_kid), "unknown_key");
    assert_eq!(remote.fetches(), 1);
    // A JWKS whose key has no kid serves tokens without one.
    let mut bare = key.jwk.clone();
    bare.as_object_mut().unwrap().remove("kid");
    remote.set_jwks(&json!({ "keys": [bare] }));
    assert_refused(&post_at(&svc, &remote, NOW + 10, &no_kid), "unknown_key");
    assert_eq!(remote.fetches(), 1, "within the interval");
    assert_signed(&post_at(&svc, &remote, NOW + INTERVAL, &no_kid));
    assert_eq!(remote.fetches(), 2);
}

// ---------------------------------------------------------------------------------------------
// 3. Rotation

#[test]
fn a_rotated_key_is_fetched_once_the_interval_allows_it() {
    let old = ed_key(4, "old");
    let new = ec_key(5, "new");
    let remote = FakeRemote::serving(&jwks(&[&old]), Some("max-age=3600"));
    let svc = idp_service(&[]);
    let old_token = idp_token(&old);
    let new_token = idp_token(&new);
    assert_signed(&post_at(&svc, &remote, NOW, &old_token));
    assert_eq!(remote.fetches(), 1);

    // The provider publishes the new key.
    remote.set_jwks(&jwks(&[&old, &new]));
    for t in [NOW + 1, NOW + 15, NOW + INTERVAL - 1] {
        assert_refused(&post_at(&svc, &remote, t, &new_token), "unknown_key");
    }
    assert_eq!(remote.fetches(), 1, "no fetch within the interval");
    assert_signed(&post_at(&svc, &remote, NOW + 31, &new_token));
    assert_eq!(remote.fetches(), 2, "one refetch");
    assert_signed(&post_at(&svc, &remote, NOW + 32, &old_token));
    assert_signed(&post_at(&svc, &remote, NOW + 33, &new_token));
    assert_eq!(remote.fetches(), 2);
    // The refetched JWKS went to the shared cache, fresh for its max-age.
    let stored = remote.stored.borrow().clone();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].0, IDP_URL);
    assert_eq!(stored[1].2, NOW + 31 + 3600);
    assert_eq!(
        serde_json::from_str::<Value>(unsealed(&stored[1].1)).unwrap(),
        jwks(&[&old, &new])
    );

    // The old key is withdrawn: refused once a refetch (for another reason) sees it gone.
    remote.set_jwks(&jwks(&[&new]));
    let newer = ed_key(6, "newer");
    let newer_token = idp_token(&newer);
    assert_refused(
        &post_at(&svc, &remote, NOW + 70, &newer_token),
        "unknown_key",
    );
    assert_eq!(remote.fetches(), 3);
    assert_refused(&post_at(&svc, &remote, NOW + 71, &old_token), "unknown_key");
    assert_signed(&post_at(&svc, &remote, NOW + 72, &new_token));
    assert_eq!(remote.fetches(), 3);
}

// ---------------------------------------------------------------------------------------------
// 4. Freshness

/// With the provider answering `cache_control`: fresh keys are used for `ttl` seconds, and the
/// first request at `ttl` refetches once.
#[track_caller]
fn keys_stay_fresh_for(cache_control: Option<&str>, ttl: u64) {
    let key = ed_key(7, "ed-7");
    let remote = FakeRemote::serving(&jwks(&[&key]), cache_control);
    let svc = idp_service(&[]);
    let token = idp_token(&key);
    let at = |t: u64| post_at(&svc, &remote, t, &token);
    assert_signed(&at(NOW));
    assert_eq!(remote.fetches(), 1);
    assert_eq!(remote.stored.borrow()[0].2, NOW + ttl, "{cache_control:?}");
    assert_signed(&at(NOW + ttl - 1));
    assert_eq!(
        remote.fetches(),
        1,
        "{cache_control:?}: still fresh at ttl - 1"
    );
    assert_signed(&at(NOW + ttl));
    assert_eq!(remote.fetches(), 2, "{cache_control:?}: refetched at ttl");
    // The refetched keys are fresh again for ttl, whatever the interval.
    assert_signed(&at(NOW + ttl + INTERVAL + 1));
    assert_signed(&at(NOW + 2 * ttl - 1));
    assert_eq!(remote.fetches(), 2, "{cache_control:?}");
    assert_signed(&at(NOW + 2 * ttl));
    assert_eq!(remote.fetches(), 3, "{cache_control:?}");
}

#[test]
fn cache_control_sets_how_long_keys_are_fresh() {
    keys_stay_fresh_for(Some("max-age=600"), 600);
    keys_stay_fresh_for(Some("public, max-age=7200, must-revalidate"), 7200);
    keys_stay_fresh_for(Some("max-age=600, s-maxage=900"), 900);
}

#[test]
fn freshness_is_clamped_to_5_minutes_to_a_day() {
    keys_stay_fresh_for(Some("max-age=10"), 300);
    keys_stay_fresh_for(Some("max-age=0"), 300);
    keys_stay_fresh_for(Some("no-store"), 300);
    keys_stay_fresh_for(Some("no-cache, max-age=3600"), 300);
    keys_stay_fresh_for(None, 300);
    keys_stay_fresh_for(Some("max-age=banana"), 300);
    keys_stay_fresh_for(Some("max-age=10000000"), 86_400);
}

#[test]
fn a_refetch_for_an_unknown_kid_also_renews_freshness() {
    let key = ed_key(8, "ed-8");
    let remote = FakeRemote::serving(&jwks(&[&key]), Some("max-age=300"));
    let svc = idp_service(&[]);
    let token = idp_token(&key);
    let unknown = key.token_with_kid(Some("nope"), &claims(IDP_ISS, AUD, NOW + 3600));
    assert_signed(&post_at(&svc, &remote, NOW, &token));
    // An unknown kid just before the keys go stale refetches (fresh again until NOW+290+300).
    assert_refused(&post_at(&svc, &remote, NOW + 290, &unknown), "unknown_key");
    assert_eq!(remote.fetches(), 2);
    assert_signed(&post_at(&svc, &remote, NOW + 300, &token));
    assert_eq!(
        remote.fetches(),
        2,
        "the refetch at +290 made the keys fresh"
    );
    assert_signed(&post_at(&svc, &remote, NOW + 590, &token));
    assert_eq!(remote.fetches(), 3);
}

// ---------------------------------------------------------------------------------------------
// 5. Failing provider

#[test]
fn a_failing_provider_keeps_the_last_good_keys() {
    for mode in [Mode::Refuse, Mode::Garbage, Mode::NoKeys, Mode::NotJwks] {
        let key = ed_key(9, "ed-9");
        let remote = FakeRemote::serving(&jwks(&[&key]), Some("max-age=300"));
        let svc = idp_service(&[]);
        let token = idp_token(&key);
        assert_signed(&post_at(&svc, &remote, NOW, &token));
        assert_eq!(remote.fetches(), 1);
        remote.set_mode(mode);

        // Fresh keys: nothing is fetched, nothing fails.
        assert_signed(&post_at(&svc, &remote, NOW + 299, &token));
        assert_eq!(remote.fetches(), 1, "{mode:?}");
        // Stale keys: one refetch, which fails; the stale keys still serve.
        assert_signed(&post_at(&svc, &remote, NOW + 300, &token));
        assert_eq!(remote.fetches(), 2, "{mode:?}");
        let failures = remote.fetch_failures();
        assert_eq!(failures.len(), 1, "{mode:?}: {:?}", remote.logs());
        assert_eq!(failures[0]["level"], "warn");
        assert_eq!(failures[0]["issuer"], "idp");
        assert_eq!(failures[0]["kept_keys"], 1);
        let problem = failures[0]["problem"].as_str().expect("a problem");
        match mode {
            Mode::Refuse => assert_eq!(problem, "connection refused"),
            _ => assert!(problem.starts_with("not a usable JWKS"), "{problem}"),
        }
        for line in remote.logs() {
            assert!(
                !line.contains("GARBAGE-MARKER"),
                "the body is echoed: {line}"
            );
            assert!(!line.contains(key.jwk["x"].as_str().unwrap()), "{line}");
        }
        // Nothing bad went to the shared cache.
        assert_eq!(remote.stored.borrow().len(), 1, "{mode:?}");

        // Within the interval: no retry, still served (also for a kid it does not know).
        for t in NOW + 301..NOW + 300 + INTERVAL {
            assert_signed(&post_at(&svc, &remote, t, &token));
        }
        let unknown = key.token_with_kid(Some("other"), &claims(IDP_ISS, AUD, NOW + 3600));
        assert_refused(&post_at(&svc, &remote, NOW + 310, &unknown), "unknown_key");
        assert_eq!(
            remote.fetches(),
            2,
            "{mode:?}: no retry within the interval"
        );
        // Next interval: one retry, still failing, still served.
        assert_signed(&post_at(&svc, &remote, NOW + 300 + INTERVAL, &token));
        assert_signed(&post_at(&svc, &remote, NOW + 301 + INTERVAL, &token));
        assert_eq!(remote.fetches(), 3, "{mode:?}");
        assert_eq!(remote.fetch_failures().len(), 2, "{mode:?}");
        // Much later (stale for a day): still the last good keys.
        assert_signed(&post_at(&svc, &remote, NOW + 86_400, &token));
        assert_eq!(remote.fetches(), 4, "{mode:?}");

        // The provider recovers: the next allowed refetch takes its keys.
        remote.set_mode(Mode::Serve);
        assert_signed(&post_at(&svc, &remote, NOW + 86_400 + INTERVAL, &token));
        assert_eq!(remote.fetches(), 5, "{mode:?}");
        assert_signed(&post_at(
            &svc,
            &remote,
            NOW + 86_400 + INTERVAL + 299,
            &token,
        ));
        assert_eq!(remote.fetches(), 5, "{mode:?}: fresh again");
        assert_eq!(remote.fetch_failures().len(), 3, "{mode:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Cold and down

#[test]
fn cold_isolate_with_the_provider_down_answers_503_then_recovers() {
    let key = ed_key(10, "ed-10");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    remote.set_mode(Mode::Refuse);
    let svc = idp_service(&[]);
    let token = idp_token(&key);

    let r = post_at(&svc, &remote, NOW, &token);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(header(&r, "retry-after"), Some("30"));
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(body(&r)["error"]["code"], "jwks_unavailable");
    assert!(body(&r)["error"]["message"].is_string());
    assert_eq!(r.error_code, Some("jwks_unavailable"));
    assert_eq!(remote.fetches(), 1);
    let failures = remote.fetch_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["kept_keys"], 0);

    // No second fetch within the interval, even once the provider is back.
    assert_eq!(post_at(&svc, &remote, NOW + 10, &token).status, 503);
    remote.set_mode(Mode::Serve);
    assert_eq!(
        post_at(&svc, &remote, NOW + INTERVAL - 1, &token).status,
        503
    );
    assert_eq!(remote.fetches(), 1);
    // Then it recovers.
    assert_signed(&post_at(&svc, &remote, NOW + INTERVAL, &token));
    assert_eq!(remote.fetches(), 2);
    assert_eq!(remote.fetch_failures().len(), 1);

    // Retry-After follows JWKS_REFETCH_INTERVAL.
    let remote = FakeRemote::default();
    remote.set_mode(Mode::Garbage);
    let svc = idp_service(&[("JWKS_REFETCH_INTERVAL", "120")]);
    let r = post_at(&svc, &remote, NOW, &token);
    assert_eq!((r.status, header(&r, "retry-after")), (503, Some("120")));
    assert_eq!(post_at(&svc, &remote, NOW + 119, &token).status, 503);
    assert_eq!(remote.fetches(), 1);
    assert_eq!(post_at(&svc, &remote, NOW + 120, &token).status, 503);
    assert_eq!(remote.fetches(), 2);
}

#[test]
fn tokens_refused_before_the_keys_do_not_fetch() {
    // A malformed token, a bad alg or a missing header never reach the provider, even cold and
    // down: the answer is 401, not 503.
    let key = ed_key(11, "ed-11");
    let remote = FakeRemote::default();
    remote.set_mode(Mode::Refuse);
    let svc = idp_service(&[]);
    assert_refused(&post_at(&svc, &remote, NOW, "not.a.token"), "malformed");
    let rs = rsa_key("rs").token(&claims(IDP_ISS, AUD, NOW + 3600));
    assert_refused(&post_at(&svc, &remote, NOW, &rs), "alg_not_allowed");
    let r = request_at(&svc, &remote, NOW, &[]);
    assert_eq!((r.status, r.error_code), (401, Some("missing_token")));
    assert_eq!(remote.fetches(), 0);
    assert_eq!(remote.cache_reads.get(), 0);
    // An expired token of the issuer does need the keys (claims are read after the signature).
    let expired = key.token(&claims(IDP_ISS, AUD, NOW - 3600));
    assert_eq!(post_at(&svc, &remote, NOW, &expired).status, 503);
    assert_eq!(remote.fetches(), 1);
}

// ---------------------------------------------------------------------------------------------
// 7. Shared cache

/// The JWKS of a shared-cache copy: what follows its tag line.
fn unsealed(copy: &str) -> &str {
    let (tag, body) = copy.split_once('\n').expect("a tag line");
    assert_eq!(tag.len(), 64, "an HMAC-SHA256 tag in hex: {tag}");
    body
}

/// The shared-cache copy of `keys` as another isolate of the same worker stores it: fetched
/// with `max-age=300`, fresh until `fresh_until`.
fn shared_copy(keys: &[&TestKey], fresh_until: u64) -> (String, u64) {
    shared_copy_of(&[], keys, fresh_until)
}

/// [`shared_copy`] by a worker configured with `extra` too.
fn shared_copy_of(extra: &[(&str, &str)], keys: &[&TestKey], fresh_until: u64) -> (String, u64) {
    let seeder = FakeRemote::serving(&jwks(keys), Some("max-age=300"));
    let isolate = idp_service(extra);
    assert_signed(&post_at(
        &isolate,
        &seeder,
        fresh_until - 300,
        &idp_token(keys[0]),
    ));
    let copy = seeder.shared.borrow()[IDP_URL].clone();
    assert_eq!(copy.1, fresh_until);
    assert_eq!(unsealed(&copy.0), jwks(keys).to_string());
    copy
}

#[test]
fn a_fresh_shared_copy_spares_the_network() {
    let key = ed_key(12, "ed-12");
    let token = idp_token(&key);
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    remote.set_mode(Mode::Refuse);
    remote
        .shared
        .borrow_mut()
        .insert(IDP_URL.to_owned(), shared_copy(&[&key], NOW + 100));
    let svc = idp_service(&[]);
    assert_signed(&post_at(&svc, &remote, NOW, &token));
    assert_eq!(remote.fetches(), 0);
    assert_eq!(remote.cache_reads.get(), 1);
    assert!(remote.stored.borrow().is_empty(), "nothing to store back");
    // Fresh until the shared copy's time; then the shared cache again (stale), then the network.
    assert_signed(&post_at(&svc, &remote, NOW + 99, &token));
    assert_eq!((remote.fetches(), remote.cache_reads.get()), (0, 1));
    remote.set_mode(Mode::Serve);
    assert_signed(&post_at(&svc, &remote, NOW + 100, &token));
    assert_eq!((remote.fetches(), remote.cache_reads.get()), (1, 2));
    assert_eq!(remote.stored.borrow()[0].2, NOW + 100 + 300);
}

#[test]
fn an_expired_shared_copy_is_ignored_and_a_fetch_is_stored() {
    let key = ed_key(13, "ed-13");
    let token = idp_token(&key);
    let remote = FakeRemote::serving(&jwks(&[&key]), Some("max-age=900"));
    // Expired exactly now, with keys the provider no longer has.
    let gone = ed_key(14, "gone");
    remote
        .shared
        .borrow_mut()
        .insert(IDP_URL.to_owned(), shared_copy(&[&gone], NOW));
    let svc = idp_service(&[]);
    assert_signed(&post_at(&svc, &remote, NOW, &token));
    assert_eq!((remote.fetches(), remote.cache_reads.get()), (1, 1));
    let stored: Vec<_> = remote
        .stored
        .borrow()
        .iter()
        .map(|(url, copy, fresh)| (url.clone(), unsealed(copy).to_owned(), *fresh))
        .collect();
    assert_eq!(
        stored,
        vec![(IDP_URL.to_owned(), jwks(&[&key]).to_string(), NOW + 900)]
    );
    // The expired copy's key was never used.
    let old = idp_token(&gone);
    assert_refused(&post_at(&svc, &remote, NOW + 1, &old), "unknown_key");

    // A second isolate (a new Service) now finds the stored copy fresh: no network.
    let svc2 = idp_service(&[]);
    remote.set_mode(Mode::Refuse);
    assert_signed(&post_at(&svc2, &remote, NOW + 5, &token));
    assert_eq!(remote.fetches(), 1);
    assert_eq!(remote.cache_reads.get(), 2);
}

#[test]
fn a_shared_copy_without_the_kid_or_unusable_falls_back_to_the_network() {
    let old = ed_key(15, "old");
    let new = ed_key(16, "new");
    // Fresh, but older than the rotation.
    let remote = FakeRemote::serving(&jwks(&[&old, &new]), None);
    remote
        .shared
        .borrow_mut()
        .insert(IDP_URL.to_owned(), shared_copy(&[&old], NOW + 200));
    let svc = idp_service(&[]);
    assert_signed(&post_at(&svc, &remote, NOW, &idp_token(&new)));
    assert_eq!((remote.fetches(), remote.cache_reads.get()), (1, 1));
    assert_signed(&post_at(&svc, &remote, NOW + 1, &idp_token(&old)));
    assert_eq!(remote.fetches(), 1);

    // Garbage in the shared cache (not stored by this worker): logged, then the network.
    let remote = FakeRemote::serving(&jwks(&[&old]), None);
    remote
        .shared
        .borrow_mut()
        .insert(IDP_URL.to_owned(), (GARBAGE.to_owned(), NOW + 200));
    let svc = idp_service(&[]);
    assert_signed(&post_at(&svc, &remote, NOW, &idp_token(&old)));
    assert_eq!((remote.fetches(), remote.cache_reads.get()), (1, 1));
    assert_eq!(remote.logs().len(), 1);
    assert!(remote.logs()[0].contains(r#""event":"jwks_cache_rejected""#));
    assert!(!remote.logs()[0].contains("GARBAGE-MARKER"));
    // The good copy replaced it.
    let (copy, fresh_until) = remote.shared.borrow()[IDP_URL].clone();
    assert_eq!(
        (unsealed(&copy), fresh_until),
        (jwks(&[&old]).to_string().as_str(), NOW + 300)
    );
}

#[test]
fn a_shared_copy_not_stored_by_this_worker_is_never_trusted() {
    let real = ed_key(40, "real");
    let rogue = ed_key(41, "rogue");
    let genuine = shared_copy(&[&real], NOW + 100);
    let tag = genuine.0.split_once('\n').unwrap().0;
    let cases = [
        // Another Worker of the zone puts its own key set under the issuer's URL.
        ("a plain key set", (jwks(&[&rogue]).to_string(), NOW + 3600)),
        (
            "a copy made with another secret",
            shared_copy_of(
                &[("S3_SECRET_ACCESS_KEY", "another-workers-secret-0123456789")],
                &[&rogue],
                NOW + 100,
            ),
        ),
        (
            "this worker's tag on another key set",
            (format!("{tag}\n{}", jwks(&[&rogue])), NOW + 100),
        ),
        (
            "this worker's copy kept fresh longer",
            (genuine.0.clone(), NOW + 86_400),
        ),
    ];
    for (what, copy) in cases {
        let remote = FakeRemote::serving(&jwks(&[&real]), None);
        remote.shared.borrow_mut().insert(IDP_URL.to_owned(), copy);
        let svc = idp_service(&[]);
        assert_refused(
            &post_at(&svc, &remote, NOW, &idp_token(&rogue)),
            "unknown_key",
        );
        assert_eq!(remote.fetches(), 1, "{what}: the network, not the copy");
        let logs = remote.logs();
        assert!(
            logs.iter()
                .any(|l| l.contains(r#""event":"jwks_cache_rejected""#)),
            "{what}: {logs:?}"
        );
        assert_signed(&post_at(&svc, &remote, NOW + 1, &idp_token(&real)));
        assert_eq!(remote.fetches(), 1, "{what}");
    }
    // The genuine copy is taken as it is.
    let remote = FakeRemote::serving(&jwks(&[&real]), None);
    remote.set_mode(Mode::Refuse);
    remote
        .shared
        .borrow_mut()
        .insert(IDP_URL.to_owned(), genuine);
    let svc = idp_service(&[]);
    assert_signed(&post_at(&svc, &remote, NOW, &idp_token(&real)));
    assert_eq!((remote.fetches(), remote.logs().len()), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// 8. Algorithms and confusion

/// Issuer `ed` (EdDSA only, JWKS fetched) and issuer `ec` (ES256 only, inline JWKS), plus the
/// HMAC `JWT_SECRET`.
fn two_issuers(ec: &TestKey) -> Service {
    let ec_jwks = jwks(&[ec]).to_string();
    service(&[
        ("ISSUERS", "ed,ec"),
        ("ISSUER_ED_ISS", "https://ed.example"),
        ("ISSUER_ED_JWKS_URL", "https://ed.example/jwks"),
        ("ISSUER_ED_AUDIENCE", "presign"),
        ("ISSUER_ED_ALGORITHMS", "EdDSA"),
        ("ISSUER_EC_ISS", "https://ec.example"),
        ("ISSUER_EC_JWKS", &ec_jwks),
        ("ISSUER_EC_AUDIENCE", "presign, other-app"),
        ("ISSUER_EC_ALGORITHMS", "ES256"),
    ])
}

#[test]
fn each_issuer_has_its_own_algorithms() {
    let ed = ed_key(17, "ed");
    let ec = ec_key(18, "ec");
    let remote = FakeRemote::serving(&jwks(&[&ed, &ec]), None);
    let svc = two_issuers(&ec);
    let at = |t: &str| post_at(&svc, &remote, NOW, t);
    let ed_claims = claims("https://ed.example", "presign", NOW + 3600);

    // ES256 (allowed for `ec`) under the EdDSA-only issuer, even with a key it would publish.
    assert_refused(&at(&ec.token(&ed_claims)), "alg_not_allowed");
    // HS256 with the HMAC secret, claiming to be `ed`.
    assert_refused(&at(&hs256(&ed_claims)), "alg_not_allowed");
    // Checked before any key is fetched.
    assert_eq!(remote.fetches(), 0);
    // EdDSA with an unknown iss, or none: the HMAC path, which allows HS256 only.
    let unknown_iss = claims("https://evil.example", "presign", NOW + 3600);
    assert_refused(&at(&ed.token(&unknown_iss)), "alg_not_allowed");
    let no_iss = json!({ "sub": "alice", "aud": "presign", "exp": NOW + 3600 });
    assert_refused(&at(&ed.token(&no_iss)), "alg_not_allowed");
    // An iss differing only by case or a trailing slash is another issuer.
    for iss in ["https://ED.example", "https://ed.example/"] {
        let c = claims(iss, "presign", NOW + 3600);
        assert_refused(&at(&ed.token(&c)), "alg_not_allowed");
    }
    // alg none, whatever the iss.
    let none = sign_jwt(&json!({ "alg": "none" }), &ed_claims, |_| Vec::new());
    assert_refused(&at(&none), "alg_not_allowed");
    assert_eq!(remote.fetches(), 0);

    // The right alg: the claims are that issuer's.
    assert_signed(&at(&ed.token(&ed_claims)));
    assert_eq!(remote.fetches(), 1);
    let wrong_aud = claims("https://ed.example", "other-app", NOW + 3600);
    assert_refused(&at(&ed.token(&wrong_aud)), "wrong_audience");
    let expired = claims("https://ed.example", "presign", NOW - 61);
    assert_refused(&at(&ed.token(&expired)), "expired");
    // Within the leeway the token passes; the policy then refuses a URL for a spent token.
    let within_leeway = claims("https://ed.example", "presign", NOW - 59);
    let r = at(&ed.token(&within_leeway));
    assert_eq!(
        (r.status, r.error_code),
        (403, Some("token_expiring")),
        "{}",
        r.body
    );
    let mut tampered = ed.token(&ed_claims);
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert_refused(&at(&tampered), "bad_signature");
    let no_exp = json!({ "sub": "alice", "iss": "https://ed.example", "aud": "presign" });
    assert_refused(&at(&ed.token(&no_exp)), "missing_claim");
    // `ec` accepts both its audiences, and ES256 only.
    let ec_claims = claims("https://ec.example", "other-app", NOW + 3600);
    assert_signed(&at(&ec.token(&ec_claims)));
    let ec_as_ed = ed_key(19, "ec").token(&ec_claims);
    assert_refused(&at(&ec_as_ed), "alg_not_allowed");

    // HMAC tokens without an issuer's iss keep working with JWT_SECRET.
    assert_signed(&at(&hs256(&json!({ "sub": "alice", "exp": NOW + 3600 }))));
    let other = json!({ "sub": "alice", "iss": "https://hmac.example", "exp": NOW + 3600 });
    assert_signed(&at(&hs256(&other)));
    assert_eq!(remote.fetches(), 1);
}

#[test]
fn without_jwt_secret_only_issuer_tokens_pass() {
    let ed = ed_key(20, "ed");
    let remote = FakeRemote::serving(&jwks(&[&ed]), None);
    let svc = idp_service(&[("JWT_SECRET", "")]);
    assert_signed(&post_at(&svc, &remote, NOW, &idp_token(&ed)));
    let hmac = hs256(&json!({ "sub": "alice", "exp": NOW + 3600 }));
    assert_refused(&post_at(&svc, &remote, NOW, &hmac), "unknown_key");
    let hmac_idp = hs256(&claims(IDP_ISS, AUD, NOW + 3600));
    assert_refused(&post_at(&svc, &remote, NOW, &hmac_idp), "alg_not_allowed");
}

// ---------------------------------------------------------------------------------------------
// 9. Inline JWKS

#[test]
fn inline_jwks_need_no_fetch_and_issuers_do_not_share_keys() {
    let a = ed_key(21, "a-1");
    let b = ed_key(22, "b-1");
    let (ja, jb) = (jwks(&[&a]).to_string(), jwks(&[&b]).to_string());
    let svc = service(&[
        ("ISSUERS", "a,b"),
        ("ISSUER_A_ISS", "https://a.example"),
        ("ISSUER_A_JWKS", &ja),
        ("ISSUER_A_AUDIENCE", "presign"),
        ("ISSUER_A_ALGORITHMS", "EdDSA"),
        ("ISSUER_B_ISS", "https://b.example"),
        ("ISSUER_B_JWKS", &jb),
        ("ISSUER_B_AUDIENCE", "presign"),
        ("ISSUER_B_ALGORITHMS", "EdDSA"),
    ]);
    let remote = FakeRemote::default();
    remote.set_mode(Mode::Refuse);
    let of_a = claims("https://a.example", "presign", NOW + 3600);
    let of_b = claims("https://b.example", "presign", NOW + 3600);
    let at = |t: &str| post_at(&svc, &remote, NOW, t);

    assert_signed(&at(&a.token(&of_a)));
    assert_signed(&at(&b.token(&of_b)));
    // A token of A signed with B's key under B's kid: A has no such kid.
    assert_refused(&at(&b.token(&of_a)), "unknown_key");
    // ... under A's kid: A's key does not verify it.
    assert_refused(&at(&b.token_with_kid(Some("a-1"), &of_a)), "bad_signature");
    // A's own key for B's claims: B has no kid a-1.
    assert_refused(&at(&a.token(&of_b)), "unknown_key");
    // Much later, still no network: inline keys never go stale.
    assert_signed(&post_at(
        &svc,
        &remote,
        NOW + 10 * 86_400,
        &a.token(&claims("https://a.example", "presign", NOW + 11 * 86_400)),
    ));
    assert_eq!(remote.fetches(), 0);
    assert_eq!(remote.cache_reads.get(), 0);
    assert!(remote.logs().is_empty());

    // The offline `handle` serves inline issuers too.
    let token = a.token(&of_a);
    let auth = format!("Bearer {token}");
    let lookup = |name: &str| match name {
        "authorization" => Some(auth.clone()),
        "content-type" => Some("application/json".to_owned()),
        _ => None,
    };
    let req = Request {
        method: "POST",
        path: "/v1/uploads",
        query: "",
        origin: "https://presign.test",
        header: &lookup,
        body: Body::Bytes(UPLOAD),
    };
    assert_signed(&svc.handle(&req, NOW * 1000, &mut TestPlatform(0)));
}

#[test]
fn same_kid_in_two_issuers_is_two_keys() {
    let a = ec_key(23, "shared-kid");
    let b = ec_key(24, "shared-kid");
    let remote = FakeRemote::default();
    let (ja, jb) = (jwks(&[&a]).to_string(), jwks(&[&b]).to_string());
    let svc = service(&[
        ("ISSUERS", "a,b"),
        ("ISSUER_A_ISS", "https://a.example"),
        ("ISSUER_A_JWKS", &ja),
        ("ISSUER_A_AUDIENCE", "presign"),
        ("ISSUER_A_ALGORITHMS", "ES256"),
        ("ISSUER_B_ISS", "https://b.example"),
        ("ISSUER_B_JWKS", &jb),
        ("ISSUER_B_AUDIENCE", "presign"),
        ("ISSUER_B_ALGORITHMS", "ES256"),
    ]);
    let of_a = claims("https://a.example", "presign", NOW + 3600);
    let of_b = claims("https://b.example", "presign", NOW + 3600);
    assert_signed(&post_at(&svc, &remote, NOW, &a.token(&of_a)));
    assert_signed(&post_at(&svc, &remote, NOW, &b.token(&of_b)));
    assert_refused(
        &post_at(&svc, &remote, NOW, &b.token(&of_a)),
        "bad_signature",
    );
    assert_refused(
        &post_at(&svc, &remote, NOW, &a.token(&of_b)),
        "bad_signature",
    );
    assert_eq!(remote.fetches(), 0);
}

// ---------------------------------------------------------------------------------------------
// 10. Cloudflare Access

const ACCESS_AUD: &str = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
const ACCESS_ISS: &str = "https://myteam.cloudflareaccess.com";
const ACCESS_CERTS: &str = "https://myteam.cloudflareaccess.com/cdn-cgi/access/certs";

#[test]
fn cloudflare_access_preset() {
    let rsa = rsa_key("access-2026");
    let remote = FakeRemote::serving(&jwks(&[&rsa]), Some("max-age=3600"));
    let svc = service(&[("ACCESS_TEAM", "myteam"), ("ACCESS_AUD", ACCESS_AUD)]);
    let access_claims = json!({
        "sub": "alice", "email": "alice@example.com", "iss": ACCESS_ISS,
        "aud": [ACCESS_AUD], "exp": NOW + 3600, "iat": NOW - 10, "nbf": NOW - 10,
    });
    let token = rsa.token(&access_claims);

    // Cloudflare's header, no Authorization.
    let r = request_at(&svc, &remote, NOW, &[("cf-access-jwt-assertion", &token)]);
    assert_signed(&r);
    assert_eq!(*remote.fetched.borrow(), vec![ACCESS_CERTS.to_owned()]);
    assert_eq!(remote.stored.borrow()[0].0, ACCESS_CERTS);
    // The same token as a bearer token works too.
    assert_signed(&post_at(&svc, &remote, NOW + 1, &token));
    assert_eq!(remote.fetches(), 1);

    // The Authorization header wins when present (here an HMAC token).
    let hmac = hs256(&json!({ "sub": "alice", "exp": NOW + 3600 }));
    let auth = format!("Bearer {hmac}");
    let garbage_access = "x.y.z";
    let r = request_at(
        &svc,
        &remote,
        NOW,
        &[
            ("authorization", &auth),
            ("cf-access-jwt-assertion", garbage_access),
        ],
    );
    assert_signed(&r);

    // Another application's tag, another team, or an expired assertion: refused; RS256 only.
    let mut other_aud = access_claims.clone();
    other_aud["aud"] = json!(["0".repeat(64)]);
    let mut other_team = access_claims.clone();
    other_team["iss"] = json!("https://otherteam.cloudflareaccess.com");
    let mut expired = access_claims.clone();
    expired["exp"] = json!(NOW - 3600);
    let ed = ed_key(25, "access-2026");
    for (token, reason) in [
        (rsa.token(&other_aud), "wrong_audience"),
        (rsa.token(&other_team), "alg_not_allowed"),
        (rsa.token(&expired), "expired"),
        (ed.token(&access_claims), "alg_not_allowed"),
    ] {
        let r = request_at(&svc, &remote, NOW, &[("cf-access-jwt-assertion", &token)]);
        assert_refused(&r, reason);
    }
    // Neither header.
    let r = request_at(&svc, &remote, NOW, &[]);
    assert_eq!((r.status, r.error_code), (401, Some("missing_token")));
    assert_eq!(remote.fetches(), 1);
}

#[test]
fn access_header_is_only_read_with_the_preset() {
    let rsa = rsa_key("k");
    let remote = FakeRemote::serving(&jwks(&[&rsa]), None);
    let svc = service(&[
        ("ISSUERS", "idp"),
        ("ISSUER_IDP_ISS", ACCESS_ISS),
        ("ISSUER_IDP_JWKS_URL", ACCESS_CERTS),
        ("ISSUER_IDP_AUDIENCE", ACCESS_AUD),
    ]);
    let token = rsa.token(&claims(ACCESS_ISS, ACCESS_AUD, NOW + 3600));
    let r = request_at(&svc, &remote, NOW, &[("cf-access-jwt-assertion", &token)]);
    assert_eq!((r.status, r.error_code), (401, Some("missing_token")));
    assert_eq!(remote.fetches(), 0);
    assert_signed(&post_at(&svc, &remote, NOW, &token));
}

// ---------------------------------------------------------------------------------------------
// 11. Concurrent requests

/// The headers of an upload with a bearer token, for polling `serve` by hand.
fn bearer_lookup(token: &str) -> impl Fn(&str) -> Option<String> {
    let auth = format!("Bearer {token}");
    move |name: &str| match name {
        "authorization" => Some(auth.clone()),
        "content-type" => Some("application/json".to_owned()),
        _ => None,
    }
}

fn upload_request(lookup: &dyn Fn(&str) -> Option<String>) -> Request<'_> {
    Request {
        method: "POST",
        path: "/v1/uploads",
        query: "",
        origin: "https://presign.test",
        header: lookup,
        body: Body::Bytes(UPLOAD),
    }
}

#[test]
fn requests_wait_for_the_running_fetch() {
    let key = ed_key(26, "ed-26");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    remote.gate_closed.set(true);
    let svc = idp_service(&[]);
    let (la, lb) = (
        bearer_lookup(&idp_token(&key)),
        bearer_lookup(&idp_token(&key)),
    );
    let (ra, rb) = (upload_request(&la), upload_request(&lb));
    let (mut pa, mut pb) = (TestPlatform(0), TestPlatform(1));
    let mut fa = Box::pin(svc.serve(&ra, NOW * 1000, &mut pa, &remote));
    let mut fb = Box::pin(svc.serve(&rb, NOW * 1000 + 500, &mut pb, &remote));
    let (wa, wb) = (
        Arc::new(WakeCount::default()),
        Arc::new(WakeCount::default()),
    );
    let (waker_a, waker_b) = (Waker::from(wa.clone()), Waker::from(wb.clone()));
    let mut cx_a = Context::from_waker(&waker_a);
    let mut cx_b = Context::from_waker(&waker_b);

    assert!(fa.as_mut().poll(&mut cx_a).is_pending(), "A fetches");
    assert_eq!(remote.fetches(), 1);
    assert!(fb.as_mut().poll(&mut cx_b).is_pending(), "B waits");
    assert!(fb.as_mut().poll(&mut cx_b).is_pending(), "B still waits");
    assert_eq!(remote.fetches(), 1, "B does not fetch too");
    assert_eq!(remote.cache_reads.get(), 1);

    assert_eq!(
        *remote.sleeps.borrow(),
        [10],
        "B looks again on its own timer"
    );

    remote.open_gate();
    assert_eq!(wa.count(), 1, "the gate wakes A");
    assert_eq!(wb.count(), 0);
    let Poll::Ready(resp_a) = fa.as_mut().poll(&mut cx_a) else {
        panic!("A is done once its fetch is");
    };
    assert_signed(&resp_a);
    assert_eq!(
        wb.count(),
        0,
        "A never wakes B: B goes on in its own context"
    );
    remote.ring_timers();
    assert!(wb.count() >= 1, "B's timer wakes it");
    let Poll::Ready(resp_b) = fb.as_mut().poll(&mut cx_b) else {
        panic!("B is done once A's fetch is");
    };
    assert_signed(&resp_b);
    assert_eq!(remote.fetches(), 1);
    assert_eq!(remote.verifies.get(), 2);
}

#[test]
fn a_dropped_fetching_request_does_not_wedge_the_waiting_ones() {
    let key = ed_key(27, "ed-27");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    remote.gate_closed.set(true);
    let svc = idp_service(&[]);
    let token = idp_token(&key);
    let (la, lb) = (bearer_lookup(&token), bearer_lookup(&token));
    let (ra, rb) = (upload_request(&la), upload_request(&lb));
    let (mut pa, mut pb) = (TestPlatform(0), TestPlatform(1));
    let mut fa = Box::pin(svc.serve(&ra, NOW * 1000, &mut pa, &remote));
    let mut fb = Box::pin(svc.serve(&rb, NOW * 1000, &mut pb, &remote));
    let wb = Arc::new(WakeCount::default());
    let waker_b = Waker::from(wb.clone());
    let mut cx_b = Context::from_waker(&waker_b);
    let mut cx_a = Context::from_waker(Waker::noop());

    assert!(fa.as_mut().poll(&mut cx_a).is_pending());
    assert!(fb.as_mut().poll(&mut cx_b).is_pending());
    assert_eq!(remote.fetches(), 1);
    drop(fa);
    remote.ring_timers();
    assert!(wb.count() >= 1, "B's timer wakes it");
    remote.open_gate();
    let Poll::Ready(resp_b) = fb.as_mut().poll(&mut cx_b) else {
        panic!("B must answer once the fetching request is gone");
    };
    // The abandoned fetch does not count against the interval: B fetched itself.
    assert_eq!(resp_b.status, 200, "{}", resp_b.body);
    assert_eq!(remote.fetches(), 2);
    drop(fb);
    // Nothing stays stuck: a later request is served.
    let fetched = remote.fetches();
    assert_signed(&post_at(&svc, &remote, NOW + INTERVAL, &token));
    assert!(remote.fetches() <= fetched + 1);
}

#[test]
fn a_fetch_whose_request_is_never_resumed_holds_up_nobody_past_its_deadline() {
    let key = ed_key(42, "ed-42");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    remote.gate_closed.set(true);
    let svc = idp_service(&[]);
    let token = idp_token(&key);
    let (la, lb) = (bearer_lookup(&token), bearer_lookup(&token));
    let (ra, rb) = (upload_request(&la), upload_request(&lb));
    let (mut pa, mut pb) = (TestPlatform(0), TestPlatform(1));
    // A starts the fetch; then the runtime stops serving A (its client went away) without
    // dropping it: A is never polled again.
    let mut fa = Box::pin(svc.serve(&ra, NOW * 1000, &mut pa, &remote));
    assert!(fa
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    assert_eq!(remote.fetches(), 1);
    // B, 2 s later, with the same unknown kid, waits for A's fetch, looking again on its
    // own timer.
    let mut fb = Box::pin(svc.serve(&rb, (NOW + 2) * 1000, &mut pb, &remote));
    let wb = Arc::new(WakeCount::default());
    let waker_b = Waker::from(wb.clone());
    let mut cx_b = Context::from_waker(&waker_b);
    assert!(fb.as_mut().poll(&mut cx_b).is_pending(), "B waits");
    // The provider answers, but A's fetch never ends (nobody polls it): B waits until its
    // deadline, FETCH_DEADLINE after its start.
    remote.open_gate();
    let resp_b = loop {
        let waited: u64 = remote.sleeps.borrow().iter().sum();
        if let Poll::Ready(resp) = fb.as_mut().poll(&mut cx_b) {
            break resp;
        }
        assert!(waited < 10_000, "B still waits after {waited} ms");
        assert_eq!(remote.fetches(), 1, "after {waited} ms");
        remote.ring_timers();
    };
    let waited: u64 = remote.sleeps.borrow().iter().sum();
    assert!(
        ((FETCH_DEADLINE - 2) * 1000..(FETCH_DEADLINE - 1) * 1000).contains(&waited),
        "B waited {waited} ms"
    );
    // A's abandoned fetch does not count against the interval: B fetched itself.
    assert_signed(&resp_b);
    assert_eq!(remote.fetches(), 2);
    // Later requests find the keys in memory.
    assert_signed(&post_at(&svc, &remote, NOW + 10, &token));
    assert_eq!(remote.fetches(), 2);
    // A, were it ever resumed, is answered too and leaves nothing running.
    let Poll::Ready(resp_a) = fa.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("A's fetch has its answer");
    };
    assert_signed(&resp_a);
    let newer = ed_key(43, "ed-43");
    remote.set_jwks(&jwks(&[&key, &newer]));
    assert_signed(&post_at(&svc, &remote, NOW + 40, &idp_token(&newer)));
}

#[test]
fn one_issuer_fetching_does_not_hold_up_another() {
    let ed = ed_key(28, "ed");
    let ec = ec_key(29, "ec");
    let remote = FakeRemote::serving(&jwks(&[&ed, &ec]), None);
    remote.gate_closed.set(true);
    let svc = two_issuers(&ec);
    let la = bearer_lookup(&ed.token(&claims("https://ed.example", "presign", NOW + 3600)));
    let lb = bearer_lookup(&ec.token(&claims("https://ec.example", "presign", NOW + 3600)));
    let (ra, rb) = (upload_request(&la), upload_request(&lb));
    let (mut pa, mut pb) = (TestPlatform(0), TestPlatform(1));
    let mut fa = Box::pin(svc.serve(&ra, NOW * 1000, &mut pa, &remote));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fa.as_mut().poll(&mut cx).is_pending());
    // The inline issuer answers while the other one's fetch is pending.
    let resp_b = block_on(svc.serve(&rb, NOW * 1000, &mut pb, &remote));
    assert_signed(&resp_b);
    remote.open_gate();
    let Poll::Ready(resp_a) = fa.as_mut().poll(&mut cx) else {
        panic!("A is done");
    };
    assert_signed(&resp_a);
}

// ---------------------------------------------------------------------------------------------
// 12. Nothing secret leaves

#[test]
fn no_token_or_secret_in_any_answer_or_log_line() {
    // `post_at` / `request_at` check every answer and log line; here every error path at once,
    // with tokens that embed the secrets in their claims.
    let key = ed_key(30, "ed-30");
    let remote = FakeRemote::serving(&jwks(&[&key]), None);
    let svc = idp_service(&[]);
    let mut c = claims(IDP_ISS, AUD, NOW + LONG);
    c["note"] = json!(format!("{JWT_SECRET} {S3_SECRET}"));
    let good = key.token(&c);

    remote.set_mode(Mode::Garbage);
    assert_eq!(post_at(&svc, &remote, NOW, &good).status, 503);
    remote.set_mode(Mode::Serve);
    assert_signed(&post_at(&svc, &remote, NOW + INTERVAL, &good));
    remote.set_mode(Mode::Refuse);
    let mut wrong = c.clone();
    wrong["aud"] = json!("someone-else");
    let mut expired = c.clone();
    expired["exp"] = json!(NOW - 3600);
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    for token in [
        key.token(&wrong),
        key.token(&expired),
        key.token_with_kid(Some("unknown"), &c),
        tampered,
        hs256(&c),
        format!("{good}.extra"),
        good.replace('.', ""),
    ] {
        let r = post_at(&svc, &remote, NOW + 2 * INTERVAL, &token);
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // Stale keys and a failing refetch: logged, still clean.
    assert_signed(&post_at(&svc, &remote, NOW + 10_000, &good));
    // The garbage at NOW, the unknown kid at +60, the stale keys at +10000.
    assert_eq!(remote.fetch_failures().len(), 3);
    for line in remote.logs() {
        assert_no_secret(&line, &[&good]);
        assert!(!line.contains("GARBAGE-MARKER"), "{line}");
        assert!(!line.contains(key.jwk["x"].as_str().unwrap()), "{line}");
    }
}

#[test]
fn known_kids_never_wait_for_a_running_fetch() {
    let (known, new) = (ed_key(40, "known"), ed_key(41, "new"));
    let remote = FakeRemote::serving(&jwks(&[&known]), Some("max-age=600"));
    let svc = idp_service(&[]);
    let good = idp_token(&known);
    assert_signed(&post_at(&svc, &remote, NOW, &good));
    assert_eq!(remote.fetches(), 1);

    // 1. Fresh keys: a token with a new kid starts a refetch that hangs (the provider is slow);
    //    a token with the known kid is answered meanwhile.
    remote.set_jwks(&jwks(&[&known, &new]));
    remote.gate_closed.set(true);
    let fresh_now = NOW + INTERVAL;
    let rotated = idp_token(&new);
    let (lu, lk) = (bearer_lookup(&rotated), bearer_lookup(&good));
    let (ru, rk) = (upload_request(&lu), upload_request(&lk));
    let (mut pu, mut pk) = (TestPlatform(0), TestPlatform(1));
    let mut cx = Context::from_waker(Waker::noop());
    let mut unknown = Box::pin(svc.serve(&ru, fresh_now * 1000, &mut pu, &remote));
    assert!(
        unknown.as_mut().poll(&mut cx).is_pending(),
        "the refetch hangs"
    );
    assert_eq!(remote.fetches(), 2);
    let mut known_req = Box::pin(svc.serve(&rk, fresh_now * 1000, &mut pk, &remote));
    let Poll::Ready(r) = known_req.as_mut().poll(&mut cx) else {
        panic!("a known kid waited for another request's fetch");
    };
    assert_signed(&r);
    remote.open_gate();
    let Poll::Ready(r) = unknown.as_mut().poll(&mut cx) else {
        panic!("the refetching request must finish once the provider answers");
    };
    assert_signed(&r);
    drop((unknown, known_req));

    // 2. Stale keys serve known kids at once; the refresh comes after the answer (the worker
    //    runs it with waitUntil) and hangs (the provider is slow); meanwhile tokens of known
    //    keys are still answered from the stale keys.
    remote.gate_closed.set(true);
    let stale_now = NOW + INTERVAL + 600;
    let r = block_on(svc.serve(&rk, stale_now * 1000, &mut pk, &remote));
    assert_signed(&r);
    assert_eq!(remote.fetches(), 2, "no fetch before the answer");
    assert!(svc.refresh_due(), "stale keys served: a refresh is due");
    let mut refresh = Box::pin(svc.refresh(stale_now * 1000, &remote));
    assert!(
        refresh.as_mut().poll(&mut cx).is_pending(),
        "the refresh hangs"
    );
    assert_eq!(remote.fetches(), 3);
    assert!(!svc.refresh_due());
    let lb = bearer_lookup(&rotated);
    let rb = upload_request(&lb);
    let mut pb = TestPlatform(3);
    let Poll::Ready(r) = Box::pin(svc.serve(&rb, stale_now * 1000, &mut pb, &remote))
        .as_mut()
        .poll(&mut cx)
    else {
        panic!("a known kid waited for the refresh of stale keys");
    };
    assert_signed(&r);
    assert!(!svc.refresh_due(), "no second refresh while one runs");
    remote.open_gate();
    assert!(
        refresh.as_mut().poll(&mut cx).is_ready(),
        "the refresh ends"
    );
    // Fresh again: no refresh due, no fetch.
    assert_signed(&post_at(&svc, &remote, stale_now + 1, &good));
    assert!(!svc.refresh_due());
    assert_eq!(remote.fetches(), 3);
}

// ---------------------------------------------------------------------------------------------
// 11. Subjects are scoped by issuer, tokens by target (#14 item 5)

/// POSTs `body` to `path` at [`NOW`] with `token`; the status and the JSON answer.
fn post_json(
    svc: &Service,
    remote: &FakeRemote,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = serve_at(
        svc,
        remote,
        NOW,
        path,
        &[("authorization", &auth)],
        body.to_string().as_bytes(),
    );
    (r.status, self::body(&r))
}

/// The `key` of an upload answer, which must be a 200.
#[track_caller]
fn key_of(answer: (u16, Value)) -> String {
    field_of(answer, "key")
}

/// The string `field` of an answer, which must be a 200.
#[track_caller]
fn field_of((status, v): (u16, Value), field: &str) -> String {
    assert_eq!(status, 200, "{v}");
    v[field].as_str().expect(field).to_owned()
}

#[track_caller]
fn assert_code((status, v): (u16, Value), expected: (u16, &str)) {
    assert_eq!(
        (status, v["error"]["code"].as_str().unwrap_or("<none>")),
        expected,
        "{v}"
    );
}

#[test]
fn the_same_sub_of_two_issuers_is_two_people() {
    // JWT_SECRET and the provider `idp` both configured: `alice` of the HMAC keys must not reach
    // what the provider's `alice` uploaded (measured before the fix: a download URL for it).
    let ed = ed_key(40, "ed-40");
    let remote = FakeRemote::serving(&jwks(&[&ed]), None);
    let svc = idp_service(&[]);
    let idp_alice = idp_token(&ed);
    let hmac_alice = hs256(&json!({ "sub": "alice", "exp": NOW + 3600 }));
    let file = json!({ "filename": "a.txt", "content_type": "text/plain", "size": 5 });
    let theirs = key_of(post_json(&svc, &remote, "/v1/uploads", &idp_alice, &file));

    let forbidden = (403, "key_not_granted");
    let down = json!({ "key": theirs });
    assert_code(
        post_json(&svc, &remote, "/v1/downloads", &hmac_alice, &down),
        forbidden,
    );
    let get = json!({ "method": "GET", "key": theirs });
    assert_code(
        post_json(&svc, &remote, "/v1/sign", &hmac_alice, &get),
        forbidden,
    );
    let overwrite =
        json!({ "filename": "a.txt", "content_type": "text/plain", "size": 5, "key": theirs });
    assert_code(
        post_json(&svc, &remote, "/v1/uploads", &hmac_alice, &overwrite),
        forbidden,
    );
    let part = json!({ "method": "PUT", "key": theirs, "uploadId": "u1", "partNumber": 1 });
    assert_code(
        post_json(&svc, &remote, "/v1/sign", &hmac_alice, &part),
        forbidden,
    );
    // A prefix claim stays inside its issuer's keys too.
    let reach = hs256(&json!({ "sub": "mallory", "prefix": "idp/", "exp": NOW + 3600 }));
    assert_code(
        post_json(&svc, &remote, "/v1/downloads", &reach, &down),
        forbidden,
    );

    // Each issuer's keys start with its short name (never the iss URL), and stay readable.
    assert!(theirs.starts_with("idp/alice/"), "{theirs}");
    let ours = key_of(post_json(&svc, &remote, "/v1/uploads", &hmac_alice, &file));
    assert!(ours.starts_with("local/alice/"), "{ours}");
    for (token, key) in [(&idp_alice, &theirs), (&hmac_alice, &ours)] {
        let (status, v) = post_json(
            &svc,
            &remote,
            "/v1/downloads",
            token,
            &json!({ "key": key }),
        );
        assert_eq!(status, 200, "{v}");
    }
    assert_code(
        post_json(
            &svc,
            &remote,
            "/v1/downloads",
            &idp_alice,
            &json!({ "key": ours }),
        ),
        forbidden,
    );
    // /v1/sign makes the same keys.
    let put = json!({ "method": "PUT", "key": "b.txt", "contentType": "text/plain", "size": 5 });
    let signed = key_of(post_json(&svc, &remote, "/v1/sign", &idp_alice, &put));
    assert!(signed.starts_with("idp/alice/"), "{signed}");
    // The operator is told where the keys now go, once per isolate.
    let told: Vec<_> = svc
        .warnings()
        .into_iter()
        .filter(|(e, _)| *e == "issuer_prefix")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0]
            .1
            .contains("(local/{sub}/{uuid}/{filename}, idp/{sub}/{uuid}/{filename})"),
        "{told:?}"
    );
}

#[test]
fn the_iss_placeholder_and_single_issuer_keys() {
    let ed = ed_key(41, "ed-41");
    let remote = FakeRemote::serving(&jwks(&[&ed]), None);
    let file = json!({ "filename": "a.txt", "content_type": "text/plain", "size": 5 });
    let (idp_alice, hmac_alice) = (
        idp_token(&ed),
        hs256(&json!({ "sub": "alice", "exp": NOW + 3600 })),
    );
    let iss_inside = idp_service(&[("KEY_TEMPLATE", "in/{iss}/{sub}/{uuid}")]);
    let only_idp = idp_service(&[("JWT_SECRET", "")]);
    let only_hmac = service(&[]);
    let only_hmac_iss = service(&[("KEY_TEMPLATE", "{iss}/{sub}/{uuid}")]);
    for (svc, token, prefix) in [
        // `{iss}` where the operator wants it, with several issuers.
        (&iss_inside, &idp_alice, "in/idp/alice/"),
        (&iss_inside, &hmac_alice, "in/local/alice/"),
        // One issuer only: keys as they always were, and readable; `{iss}` still works.
        (&only_idp, &idp_alice, "alice/"),
        (&only_hmac, &hmac_alice, "alice/"),
        (&only_hmac_iss, &hmac_alice, "local/alice/"),
    ] {
        let k = key_of(post_json(svc, &remote, "/v1/uploads", token, &file));
        assert!(k.starts_with(prefix), "{k} is not under {prefix}");
        let down = json!({ "key": k });
        assert_eq!(
            field_of(
                post_json(svc, &remote, "/v1/downloads", token, &down),
                "key"
            ),
            k
        );
        // Nothing to tell: one issuer, or {iss} placed by the operator.
        assert!(svc.warnings().iter().all(|(e, _)| *e != "issuer_prefix"));
    }
}

#[test]
fn each_issuer_uses_only_its_targets() {
    let ed = ed_key(42, "ed-42");
    let remote = FakeRemote::serving(&jwks(&[&ed]), None);
    let svc = idp_service(&[
        ("TARGETS", "uploads,archive"),
        ("TARGET_ARCHIVE_KIND", "custom"),
        ("TARGET_ARCHIVE_ENDPOINT", "http://127.0.0.1:9001"),
        ("TARGET_ARCHIVE_BUCKET", "archive"),
        ("ISSUER_IDP_TARGETS", "archive"),
    ]);
    let idp_alice = idp_token(&ed);
    let hmac_alice = hs256(&json!({ "sub": "alice", "exp": NOW + 3600 }));
    let file = |target: Option<&str>| {
        let mut f = json!({ "filename": "a.txt", "content_type": "text/plain", "size": 5 });
        if let Some(t) = target {
            f["target"] = json!(t);
        }
        f
    };
    let not_granted = (403, "target_not_granted");
    assert_code(
        post_json(
            &svc,
            &remote,
            "/v1/uploads",
            &idp_alice,
            &file(Some("uploads")),
        ),
        not_granted,
    );
    let down = json!({ "key": "idp/alice/x", "target": "uploads" });
    assert_code(
        post_json(&svc, &remote, "/v1/downloads", &idp_alice, &down),
        not_granted,
    );
    let get = json!({ "method": "GET", "key": "idp/alice/x", "target": "uploads" });
    assert_code(
        post_json(&svc, &remote, "/v1/sign", &idp_alice, &get),
        not_granted,
    );
    // Without a target: the first one it may use.
    assert_eq!(
        field_of(
            post_json(&svc, &remote, "/v1/uploads", &idp_alice, &file(None)),
            "target"
        ),
        "archive"
    );
    // The HMAC keys' tokens keep every target (no JWT_TARGETS).
    assert_eq!(
        field_of(
            post_json(&svc, &remote, "/v1/uploads", &hmac_alice, &file(None)),
            "target"
        ),
        "uploads"
    );
    // A targets claim cannot widen what the issuer allows.
    let mut c = claims(IDP_ISS, AUD, NOW + 3600);
    c["targets"] = json!(["uploads", "archive"]);
    let widened = ed.token(&c);
    assert_code(
        post_json(
            &svc,
            &remote,
            "/v1/uploads",
            &widened,
            &file(Some("uploads")),
        ),
        not_granted,
    );
    assert_eq!(
        field_of(
            post_json(&svc, &remote, "/v1/uploads", &widened, &file(None)),
            "target"
        ),
        "archive"
    );
}
