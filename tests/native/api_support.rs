//! Helpers of the native API tests (`api*`, `openapi`): a deterministic
//! platform, HS256 tokens minted by the independent `jsonwebtoken`, a service configured from
//! name/value pairs, and one request through `Service::handle`.

use std::collections::HashMap;

use std::cell::{Cell, RefCell};

use presign_worker::api::{
    Body, Ledger, LedgerUnavailable, NoLedger, Platform, Request, Response, Service,
};
use presign_worker::ledger::{Book, Call, Reply};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Deterministic "random" bytes (a counter stepping by 37 from the seed) and real NFC.
pub struct TestPlatform(pub u8);

impl Platform for TestPlatform {
    fn fill_random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(37);
            *b = self.0;
        }
    }

    fn nfc(&self, s: &str) -> String {
        s.nfc().collect()
    }
}

/// An HS256 token of `claims` signed with `secret` by `jsonwebtoken`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 token")
}

/// These name/value pairs as a map of variables (later pairs win).
pub fn vars_from(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The service configured by these variables (later pairs win); panics if it is refused.
pub fn service_from(pairs: &[(&str, &str)]) -> Service {
    let vars = vars_from(pairs);
    Service::from_lookup(&|k| vars.get(k).cloned()).expect("valid config")
}

/// One request through [`Service::handle`] at `now_ms`; header names are matched in lower case.
pub fn request(
    svc: &Service,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: u64,
) -> Response {
    request_with(svc, &NoLedger, (method, path), headers, body, now_ms)
}

/// [`request`] through [`Service::handle_with`] and `ledger`.
pub fn request_with<L: Ledger>(
    svc: &Service,
    ledger: &L,
    (method, path): (&str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: u64,
) -> Response {
    let h: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| h.get(name).cloned();
    let req = Request {
        method,
        path,
        header: &lookup,
        body: Body::Bytes(body),
    };
    svc.handle_with(&req, now_ms, &mut TestPlatform(0), ledger)
}

/// Per-subject ledgers in memory (the real rules of `Book`), with a clock the test sets;
/// `down` makes every call fail, `calls` counts them.
#[derive(Default)]
pub struct FakeLedger {
    pub books: RefCell<HashMap<String, Book>>,
    pub now: Cell<u64>,
    pub down: Cell<bool>,
    pub calls: Cell<u32>,
}

impl Ledger for FakeLedger {
    async fn call(&self, subject: &str, call: &Call) -> Result<Reply, LedgerUnavailable> {
        self.calls.set(self.calls.get() + 1);
        if self.down.get() {
            return Err(LedgerUnavailable);
        }
        // Through JSON, as between the worker and its Durable Object.
        let json = serde_json::to_string(call).map_err(|_| LedgerUnavailable)?;
        let call: Call = serde_json::from_str(&json).map_err(|_| LedgerUnavailable)?;
        let mut books = self.books.borrow_mut();
        let book = books.entry(subject.to_owned()).or_default();
        Ok(book.answer(&call, self.now.get()))
    }
}
