//! The wasm32 adapter, the only code that touches the Workers runtime: it turns the runtime's
//! `Request` into an [`api::Request`], asks the [`Service`] (built once per isolate from the
//! environment), and turns the [`api::Response`] back, writing one log line.
//! [`JsRemote`] gives the core `fetch`, the Cache API, timers and WebCrypto for JWKS issuers.
//!
//! # The request path
//!
//! It differs from the workers-rs template (`#[event(fetch)]`, an async handler), because
//! awaiting in Rust costs about 14 µs of CPU per request in workerd (measured):
//!
//! 1. `src/shim.js` (the entry module, worker-build's `CUSTOM_SHIM`) reads the body in
//!    JavaScript: whole when its declared length is within `MAX_BODY_BYTES` (asked once per
//!    isolate with [`body_limit`]), counted and cut when it has none, not at all when it declares
//!    more.
//! 2. It calls [`respond`] synchronously with the request and the body.
//! 3. [`respond`] polls the request's future ([`handle_request`]) once, in place, with a no-op
//!    waker. Most requests (HMAC tokens) finish in that poll: the `Response` is returned as is.
//! 4. Only a request that really waits (an identity provider's keys to fetch, WebCrypto) is
//!    still pending: it becomes a `Promise`, handed to the event loop and to `waitUntil`.
//! 5. `src/glue.js` writes the log line and builds the `Response` in one call
//!    (`logAndBuildResponse`). A trap in the wasm is answered by the shim with a JSON 500, and
//!    the next request gets a fresh instance.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Poll, Waker};
use std::time::Duration;

use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::{console_warn, js_sys, web_sys, worker_sys, Env};

use crate::api::{self, Body, Platform, Service};
use crate::config::ConfigError;
use crate::jwks::Remote;
use crate::jwt::ed25519::Ed25519PrivateKey;
use crate::jwt::{Algorithm, PublicKey};
use crate::sigv4::SignedRequest;
use crate::store::{Fetched, StoreError, Transport, ANSWER_HEADERS};

/// talc: smaller and faster than the default dlmalloc, and needs no `unsafe` here.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// `logAndBuildResponse(status, headers, body, line)` of `src/glue.js`: logs `line`, then builds the
    /// `Response`.
    #[wasm_bindgen(js_name = logAndBuildResponse, catch)]
    fn log_and_build_response(
        status: u16,
        headers: &str,
        body: &[u8],
        line: &str,
    ) -> std::result::Result<web_sys::Response, JsValue>;

    /// `startupLine(error, line)` of `src/glue.js`: a line of building the service, written
    /// with the first request's log line (after its answer when that is ready at once).
    #[wasm_bindgen(js_name = startupLine)]
    fn glue_startup_line(error: bool, line: &str);

    /// `readLimited(message, limit, drain)` of `src/glue.js`: a promise of the body of a
    /// `Request` or `Response` as an `ArrayBuffer`, or of `undefined` once more than `limit`
    /// bytes came (then up to `drain` more are read and dropped, the rest cancelled).
    #[wasm_bindgen(js_name = readLimited)]
    fn glue_read_limited(message: &JsValue, limit: f64, drain: f64) -> js_sys::Promise;
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, the runtime's cryptographically strong generator.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);

    /// `setTimeout(handler, ms)`: the timer's id.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;

    /// `clearTimeout(id)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);

    /// The global `fetch(url, init)`.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn js_fetch(url: &str, init: &js_sys::Object) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `caches.open(name)`: a promise of the Cache API's cache `name`.
    #[wasm_bindgen(js_namespace = caches, js_name = open, catch)]
    fn caches_open(name: &str) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `crypto.subtle.importKey(format, keyData, algorithm, extractable, usages)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        key_data: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &js_sys::Array,
    ) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `crypto.subtle.exportKey(format, key)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = exportKey, catch)]
    fn export_key(format: &str, key: &JsValue) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `crypto.subtle.sign(algorithm, key, data)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign, catch)]
    fn subtle_sign(
        algorithm: &JsValue,
        key: &JsValue,
        data: &[u8],
    ) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `crypto.subtle.verify(algorithm, key, signature, data)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Randomness and normalisation from the JavaScript runtime (no Unicode tables in the wasm).
struct JsPlatform;

impl Platform for JsPlatform {
    fn fill_random(&mut self, buf: &mut [u8]) {
        get_random_values(buf);
    }

    fn nfc(&self, s: &str) -> String {
        // ASCII text is its own NFC: no call into JavaScript for the usual file name.
        if s.is_ascii() {
            return s.to_owned();
        }
        String::from(js_sys::JsString::from(s).normalize("NFC"))
    }
}

/// Longest wait for a JWKS answer; past it the fetch is aborted and counted as failed.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_millis(crate::jwks::FETCH_TIMEOUT_MS);
/// Largest JWKS body taken (real ones are a few KB), decompressed: read through a counter, so
/// a larger one (declared or not, compressed or not) is never read past this.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The Cache API cache of JWKS copies: a named one, not `caches.default`, which every Worker of
/// the zone reads and writes under any URL. Other Workers may still open it by name: its copies
/// carry an HMAC that the core checks (see `crate::jwks::CacheKey`).
const JWKS_CACHE: &str = "presign-worker:jwks";
/// Header of our Cache API copies: until when (Unix seconds) the JWKS is fresh.
const FRESH_UNTIL_HEADER: &str = "x-presign-jwks-fresh-until";
/// Imported WebCrypto keys kept per isolate (then the list starts over).
const MAX_CRYPTO_KEYS: usize = 32;

thread_local! {
    /// The service of this isolate: built once, at module evaluation ([`prepare`], called by
    /// `src/shim.js`) or else at the first request; `None` if the config is invalid.
    static SERVICE: OnceCell<Option<&'static Service>> = const { OnceCell::new() };
    /// What building the service has to tell the operator (its warnings, or the invalid
    /// configuration) as (is an error, JSON line), not yet logged: the isolate's first request
    /// logs it, so that it lands in a request's logs even when the service was built at module
    /// evaluation.
    static STARTUP_LOG: Cell<Vec<(bool, String)>> = const { Cell::new(Vec::new()) };
    /// WebCrypto keys already imported, with the `verify` parameters of their algorithm.
    static CRYPTO_KEYS: RefCell<Vec<ImportedKey>> = const { RefCell::new(Vec::new()) };
    /// The receipts' Ed25519 key imported for signing (not extractable), with its private key
    /// to tell it is the same.
    static RECEIPT_KEY: RefCell<Option<(Ed25519PrivateKey, JsValue)>> = const { RefCell::new(None) };
}

/// `fetch`, the Cache API and WebCrypto, for the keys of JWKS issuers.
struct JsRemote;

/// WebCrypto's `importKey` and `verify` algorithm parameters for `alg`, as JSON.
fn webcrypto_params(alg: Algorithm) -> (&'static str, &'static str) {
    use Algorithm::*;
    match alg {
        RS256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        RS384 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-384"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        RS512 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-512"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        // RFC 7518 §3.5: the salt is as long as the hash.
        PS256 => (
            r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
            r#"{"name":"RSA-PSS","saltLength":32}"#,
        ),
        PS384 => (
            r#"{"name":"RSA-PSS","hash":"SHA-384"}"#,
            r#"{"name":"RSA-PSS","saltLength":48}"#,
        ),
        PS512 => (
            r#"{"name":"RSA-PSS","hash":"SHA-512"}"#,
            r#"{"name":"RSA-PSS","saltLength":64}"#,
        ),
        ES256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
        ES384 => (
            r#"{"name":"ECDSA","namedCurve":"P-384"}"#,
            r#"{"name":"ECDSA","hash":"SHA-384"}"#,
        ),
        EdDSA => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
        // HMAC never reaches WebCrypto: an empty name makes importKey fail (a refusal).
        HS256 | HS384 | HS512 => ("{}", "{}"),
    }
}

/// A public key imported into WebCrypto for one algorithm.
#[derive(Clone)]
struct ImportedKey {
    public: PublicKey,
    alg: Algorithm,
    /// The `CryptoKey`.
    key: JsValue,
    /// `crypto.subtle.verify`'s algorithm parameters for `alg`.
    params: JsValue,
}

/// `key` imported for `alg`, once per isolate: later tokens find it by comparing the key's
/// bytes, without building its JWK again.
async fn imported(alg: Algorithm, key: &PublicKey) -> std::result::Result<ImportedKey, JsValue> {
    let cached = CRYPTO_KEYS.with(|c| {
        c.borrow()
            .iter()
            .find(|k| k.alg == alg && k.public == *key)
            .cloned()
    });
    if let Some(k) = cached {
        return Ok(k);
    }
    let (import, verify) = webcrypto_params(alg);
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let data = js_sys::JSON::parse(&key.to_jwk_json())?;
    let import = js_sys::JSON::parse(import)?;
    let crypto_key = JsFuture::from(import_key("jwk", &data, &import, false, &usages)?).await?;
    let entry = ImportedKey {
        public: key.clone(),
        alg,
        key: crypto_key,
        params: js_sys::JSON::parse(verify)?,
    };
    CRYPTO_KEYS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CRYPTO_KEYS {
            c.clear();
        }
        c.push(entry.clone());
    });
    Ok(entry)
}

/// `{"name":"Ed25519"}`, WebCrypto's algorithm of EdDSA keys and signatures.
fn ed25519_algorithm() -> std::result::Result<JsValue, JsValue> {
    js_sys::JSON::parse(r#"{"name":"Ed25519"}"#)
}

/// `key` imported into WebCrypto (`pkcs8`) for `usage`, `extractable` or not.
async fn import_ed25519(
    key: &Ed25519PrivateKey,
    extractable: bool,
    usage: &str,
) -> std::result::Result<JsValue, JsValue> {
    let der = js_sys::Uint8Array::from(key.pkcs8_der().as_slice());
    let usages = js_sys::Array::of1(&JsValue::from_str(usage));
    let import = import_key("pkcs8", &der, &ed25519_algorithm()?, extractable, &usages)?;
    JsFuture::from(import).await
}

/// The receipts' key imported for signing, once per isolate.
async fn receipt_signing_key(key: &Ed25519PrivateKey) -> std::result::Result<JsValue, JsValue> {
    let cached = RECEIPT_KEY.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|(private, _)| private == key)
            .map(|(_, crypto_key)| crypto_key.clone())
    });
    if let Some(k) = cached {
        return Ok(k);
    }
    let crypto_key = import_ed25519(key, false, "sign").await?;
    RECEIPT_KEY.with(|k| *k.borrow_mut() = Some((key.clone(), crypto_key.clone())));
    Ok(crypto_key)
}

pub(crate) fn warn(event: &str, problem: &str) {
    let line = serde_json::json!({ "level": "warn", "event": event, "problem": problem });
    console_warn!("{line}");
}

pub(crate) fn js_problem(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e.as_string().unwrap_or_else(|| "unknown error".to_owned()),
    }
}

/// A `setTimeout` timer, cleared when dropped.
struct Timer(JsValue);

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.0);
    }
}

/// `Some` output of `fut`, or `None` when `limit` passes first. The timer is a promise, so
/// that it wakes whichever task polled last (see [`respond`]); it is cleared when this ends or
/// is dropped.
pub(crate) async fn within<F: Future>(fut: F, limit: Duration) -> Option<F::Output> {
    let mut timer = Timer(JsValue::UNDEFINED);
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    let elapsed = js_sys::Promise::new(&mut |resolve, _reject| {
        timer.0 = set_timeout(&resolve, ms);
    });
    let mut fut = pin!(fut);
    let mut elapsed = JsFuture::from(elapsed);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            Poll::Ready(Some(out))
        } else if Pin::new(&mut elapsed).poll(cx).is_ready() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    })
    .await
}

/// The Cache API cache of JWKS copies, opened for this request (a cache object belongs to the
/// request that opened it).
async fn jwks_cache() -> std::result::Result<web_sys::Cache, JsValue> {
    Ok(JsFuture::from(caches_open(JWKS_CACHE)?)
        .await?
        .unchecked_into())
}

/// The body of `message` (a `Request` or `Response`) read through [`glue_read_limited`]: the
/// bytes, or `None` once more than `limit` came.
async fn read_limited(
    message: &JsValue,
    limit: usize,
) -> std::result::Result<Option<Vec<u8>>, JsValue> {
    let read = JsFuture::from(glue_read_limited(message, limit as f64, 0.0)).await?;
    Ok(read
        .dyn_ref::<js_sys::ArrayBuffer>()
        .map(|b| js_sys::Uint8Array::new(b).to_vec()))
}

impl Remote for JsRemote {
    async fn cached_jwks(&self, url: &str) -> Option<(String, u64)> {
        let cache = jwks_cache().await.ok()?;
        let found = JsFuture::from(cache.match_with_str(url)).await.ok()?;
        let resp = found.dyn_into::<web_sys::Response>().ok()?;
        let fresh_until = resp.headers().get(FRESH_UNTIL_HEADER).ok()??.parse().ok()?;
        let body = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
        Some((body, fresh_until))
    }

    async fn fetch_jwks(&self, url: &str) -> std::result::Result<(String, Option<String>), String> {
        let controller = web_sys::AbortController::new().map_err(|e| js_problem(&e))?;
        let fetched = within(
            async {
                // The global `fetch` straight away: `worker::Fetch` would parse the URL with
                // the `url` crate and its Unicode tables (73.5 KB more gzipped wasm, measured).
                let init = js_sys::Object::new();
                js_sys::Reflect::set(&init, &"signal".into(), &controller.signal())?;
                let resp: web_sys::Response = JsFuture::from(js_fetch(url, &init)?)
                    .await?
                    .unchecked_into();
                let cache_control = resp.headers().get("cache-control")?;
                let declared = resp.headers().get("content-length")?;
                let too_large = declared
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n > MAX_JWKS_BYTES);
                if too_large {
                    // Not read at all: a body that large is no JWK set.
                    return Ok((resp.status(), None, cache_control));
                }
                let body = read_limited(&resp, MAX_JWKS_BYTES).await?;
                Ok::<_, JsValue>((resp.status(), body, cache_control))
            },
            JWKS_FETCH_TIMEOUT,
        )
        .await;
        let Some(fetched) = fetched else {
            controller.abort();
            return Err(format!(
                "no answer within {} s",
                JWKS_FETCH_TIMEOUT.as_secs()
            ));
        };
        match fetched.map_err(|e| format!("fetch failed: {}", js_problem(&e)))? {
            (200, Some(body), cache_control) => match String::from_utf8(body) {
                // As `Response.text()` reads it: without a byte order mark.
                Ok(text) => Ok((
                    text.trim_start_matches('\u{feff}').to_owned(),
                    cache_control,
                )),
                Err(_) => Err("the JWKS is not UTF-8".to_owned()),
            },
            (200, None, _) => Err(format!("the JWKS is over {MAX_JWKS_BYTES} bytes")),
            (status, _, _) => Err(format!("HTTP status {status}")),
        }
    }

    async fn store_jwks(&self, url: &str, body: &str, fresh_until: u64) {
        let now = (js_sys::Date::now() / 1000.0) as u64;
        let stored = async {
            let headers = web_sys::Headers::new()?;
            headers.set("content-type", "application/json")?;
            let max_age = fresh_until.saturating_sub(now);
            headers.set("cache-control", &format!("max-age={max_age}"))?;
            headers.set(FRESH_UNTIL_HEADER, &fresh_until.to_string())?;
            let init = web_sys::ResponseInit::new();
            init.set_headers(&headers);
            let resp = web_sys::Response::new_with_opt_str_and_init(Some(body), &init)?;
            JsFuture::from(jwks_cache().await?.put_with_str(url, &resp)).await
        };
        if let Err(e) = stored.await {
            warn("jwks_cache_put_failed", &js_problem(&e));
        }
    }

    async fn sleep(&self, ms: u64) {
        within(std::future::pending::<()>(), Duration::from_millis(ms)).await;
    }

    async fn verify(
        &self,
        alg: Algorithm,
        key: &PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        let checked = async {
            let k = imported(alg, key).await?;
            JsFuture::from(subtle_verify(&k.params, &k.key, signature, input)?).await
        };
        match checked.await {
            Ok(v) => v.as_bool().unwrap_or(false),
            Err(e) => {
                warn("webcrypto_failed", &js_problem(&e));
                false
            }
        }
    }

    async fn ed25519_public(
        &self,
        key: &Ed25519PrivateKey,
    ) -> std::result::Result<[u8; 32], String> {
        // WebCrypto has no "public key of": an extractable copy, exported as a JWK, holds it
        // (`x`). That copy is dropped; signing uses a key that is not extractable.
        let exported = async {
            let copy = import_ed25519(key, true, "sign").await?;
            let jwk = JsFuture::from(export_key("jwk", &copy)?).await?;
            js_sys::Reflect::get(&jwk, &JsValue::from_str("x"))
        };
        let x = exported
            .await
            .map_err(|e| format!("WebCrypto refused the Ed25519 key: {}", js_problem(&e)))?
            .as_string()
            .ok_or("WebCrypto's JWK of the Ed25519 key has no x")?;
        let bytes = crate::jwt::base64url_decode(&x).ok_or("WebCrypto's x is not base64url")?;
        bytes
            .try_into()
            .map_err(|_| "WebCrypto's x is not 32 bytes long".to_owned())
    }

    async fn sign_ed25519(
        &self,
        key: &Ed25519PrivateKey,
        input: &[u8],
    ) -> std::result::Result<[u8; 64], String> {
        let signed = async {
            let crypto_key = receipt_signing_key(key).await?;
            JsFuture::from(subtle_sign(&ed25519_algorithm()?, &crypto_key, input)?).await
        };
        let signature = signed
            .await
            .map_err(|e| format!("WebCrypto could not sign: {}", js_problem(&e)))?;
        let buffer = signature
            .dyn_into::<js_sys::ArrayBuffer>()
            .map_err(|_| "WebCrypto's signature is not an ArrayBuffer".to_owned())?;
        js_sys::Uint8Array::new(&buffer)
            .to_vec()
            .try_into()
            .map_err(|_| "WebCrypto's signature is not 64 bytes long".to_owned())
    }

    fn log(&self, line: &str) {
        console_warn!("{line}");
    }
}

/// Longest wait for the store's answer to one of the worker's own requests (multipart create,
/// list, complete, abort; the HEAD, ranged GET and DELETE of `/v1/uploads/complete`); past it
/// the fetch is aborted and the client gets `504 store_timeout`.
const STORE_TIMEOUT: Duration = Duration::from_secs(8);
/// Largest store answer read: a ListParts page of 1000 parts is about 250 KB. A ranged GET
/// answers 512 bytes; from a store that ignores `range`, an object over this is malformed.
const MAX_STORE_ANSWER: usize = 1 << 20;

/// The worker's own header-signed requests to the store, through the global `fetch`.
pub(crate) struct JsStore;

impl Transport for JsStore {
    async fn exchange(
        &self,
        req: &SignedRequest,
        body: &[u8],
    ) -> std::result::Result<Fetched, StoreError> {
        let controller = web_sys::AbortController::new().map_err(|_| StoreError::Unreachable)?;
        let sent = within(
            async {
                let init = js_sys::Object::new();
                js_sys::Reflect::set(&init, &"method".into(), &req.method.as_str().into())?;
                let headers = web_sys::Headers::new()?;
                for (name, value) in &req.headers {
                    headers.set(name, value)?;
                }
                js_sys::Reflect::set(&init, &"headers".into(), &headers)?;
                if !body.is_empty() {
                    js_sys::Reflect::set(&init, &"body".into(), &js_sys::Uint8Array::from(body))?;
                }
                js_sys::Reflect::set(&init, &"signal".into(), &controller.signal())?;
                let resp: web_sys::Response = JsFuture::from(js_fetch(&req.url, &init)?)
                    .await?
                    .unchecked_into();
                let mut kept = Vec::new();
                let got = resp.headers();
                for name in ANSWER_HEADERS {
                    if let Some(value) = got.get(name)? {
                        kept.push(((*name).to_owned(), value));
                    }
                }
                let answer = read_limited(&resp, MAX_STORE_ANSWER).await?;
                Ok::<_, JsValue>((resp.status(), kept, answer))
            },
            STORE_TIMEOUT,
        )
        .await;
        // Logged without the URL's query or any header: the key and status are enough.
        let Some(sent) = sent else {
            controller.abort();
            warn(
                "store_timeout",
                &format!("no answer within {} s", STORE_TIMEOUT.as_secs()),
            );
            return Err(StoreError::Timeout);
        };
        match sent {
            Err(e) => {
                warn("store_unreachable", &js_problem(&e));
                Err(StoreError::Unreachable)
            }
            Ok((_, _, None)) => Err(StoreError::Malformed("an answer over 1 MiB")),
            Ok((status, headers, Some(body))) => Ok(Fetched {
                status,
                headers,
                body,
            }),
        }
    }
}

/// The service of this isolate, built on the first call; what building it had to tell the
/// operator is logged by the first call from a request ([`service`]), not here.
fn build_service(env: &Env) -> Option<&'static Service> {
    SERVICE.with(|cell| {
        *cell.get_or_init(|| {
            // A `[vars]` entry written without quotes (a number, a boolean, an array) reaches
            // the worker as a JSON binding, not as text: refused by name rather than read as
            // unset, which would quietly put a default (no budget, a larger size) in its place.
            let not_text = RefCell::new(Vec::new());
            // One property read per name (no `Env::var`, which formats an error for each of
            // the many unset ones).
            let lookup = |name: &str| {
                let v = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
                if v.is_undefined() {
                    return None;
                }
                let text = v.as_string();
                if text.is_none() {
                    not_text.borrow_mut().push(name.to_owned());
                }
                text
            };
            let built = Service::from_lookup(&lookup);
            let not_text = not_text.into_inner();
            let built = match not_text.is_empty() {
                true => built,
                false => Err(ConfigError::not_text(not_text.join(", "))),
            };
            let mut lines = Vec::new();
            let svc = match built {
                // One service per isolate, alive as long as the isolate: leaking it is the point.
                Ok(svc) => {
                    for (event, problem) in svc.warnings() {
                        let line = serde_json::json!({ "level": "warn", "event": event, "problem": problem });
                        lines.push((false, line.to_string()));
                    }
                    Some(&*Box::leak(Box::new(svc)))
                }
                Err(e) => {
                    // Logged once per isolate; names the variable, never a secret's value.
                    let line = serde_json::json!({ "level": "error", "event": "config_invalid", "problem": e.to_string() });
                    lines.push((true, line.to_string()));
                    None
                }
            };
            STARTUP_LOG.set(lines);
            svc
        })
    })
}

/// POSTs `body` with `headers` to `url` (a webhook delivery): the answer's status, or why
/// none came within `limit`. The answer's body is read (up to 64 KiB) and dropped.
pub(crate) async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &str,
    limit: Duration,
) -> std::result::Result<u16, String> {
    let controller = web_sys::AbortController::new().map_err(|e| js_problem(&e))?;
    let sent = within(
        async {
            let init = js_sys::Object::new();
            js_sys::Reflect::set(&init, &"method".into(), &"POST".into())?;
            let h = web_sys::Headers::new()?;
            for (name, value) in headers {
                h.set(name, value)?;
            }
            js_sys::Reflect::set(&init, &"headers".into(), &h)?;
            js_sys::Reflect::set(&init, &"body".into(), &body.into())?;
            js_sys::Reflect::set(&init, &"signal".into(), &controller.signal())?;
            let resp: web_sys::Response = JsFuture::from(js_fetch(url, &init)?)
                .await?
                .unchecked_into();
            let _ = read_limited(&resp, 64 * 1024).await;
            Ok::<_, JsValue>(resp.status())
        },
        limit,
    )
    .await;
    match sent {
        None => {
            controller.abort();
            Err(format!("no answer within {} s", limit.as_secs()))
        }
        Some(Err(e)) => Err(js_problem(&e)),
        Some(Ok(status)) => Ok(status),
    }
}

/// The service of this isolate for the ledger's alarms (no request to log start-up lines in).
pub(crate) fn service_of(env: &Env) -> Option<&'static Service> {
    build_service(env)
}

/// The service of this isolate, for a request: the first one also logs what building it had
/// to tell the operator.
fn service(env: &Env) -> Option<&'static Service> {
    let svc = build_service(env);
    for (error, line) in STARTUP_LOG.take() {
        glue_startup_line(error, &line);
    }
    svc
}

/// Builds the service of this isolate at module evaluation (`src/shim.js`, with the `env` of
/// `cloudflare:workers`), so that the first request does not: what [`body_limit`] answers.
/// Logs nothing: the first request does.
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JavaScript, not to Rust
pub fn prepare(env: &Env) -> f64 {
    build_service(env).map_or(0.0, |svc| svc.max_body_bytes() as f64)
}

/// Randomness of the warm-up's made-up request ([`warm_up`]): a fixed pattern (the runtime
/// refuses random values at module evaluation; nothing made with it leaves the isolate).
struct WarmUpPlatform;

impl Platform for WarmUpPlatform {
    fn fill_random(&mut self, buf: &mut [u8]) {
        buf.fill(0x5a);
    }

    fn nfc(&self, s: &str) -> String {
        s.to_owned()
    }
}

/// Runs one made-up upload grant (an HS256 token made here with `JWT_SECRET`, sub `warm-up`)
/// through the service at module evaluation and drops the answer, so that the wasm code of the
/// request path is compiled before the first request. No I/O: its ledger calls nothing (a
/// configured budget refuses it), nothing is logged, the answer is never seen. Without
/// `JWT_SECRET`, or when the configuration refuses the request, it warms what it reaches.
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JavaScript, not to Rust
pub fn warm_up(env: &Env) {
    let (Some(svc), Some(secret)) = (build_service(env), env.var("JWT_SECRET").ok()) else {
        return;
    };
    let now_ms = js_sys::Date::now().max(0.0) as u64;
    let now = now_ms / 1000;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".to_owned(), "warm-up".into());
    claims.insert("iat".to_owned(), now.into());
    claims.insert("exp".to_owned(), (now + 60).into());
    let token = crate::jwt::sign_hs(
        Algorithm::HS256,
        secret.to_string().as_bytes(),
        None,
        &claims,
    );
    let authorization = format!("Bearer {token}");
    let header = |name: &str| match name {
        "authorization" => Some(authorization.clone()),
        "content-type" => Some("application/json".to_owned()),
        _ => None,
    };
    let req = api::Request {
        method: "POST",
        path: "/v1/uploads",
        query: "",
        origin: "https://warm-up.invalid",
        header: &header,
        body: Body::Bytes(br#"{"filename":"warm-up.jpg","content_type":"image/jpeg","size":1}"#),
    };
    let mut platform = WarmUpPlatform;
    // The request path's own types (a ledger that calls nothing), so that the very code of
    // real requests is what gets compiled.
    let ledger = crate::durable::JsLedger { env: None };
    // The store is never called for an upload grant.
    let serving = svc.serve_io(&req, now_ms, &mut platform, &JsRemote, &ledger, &JsStore);
    let mut serving = pin!(serving);
    let _ = serving
        .as_mut()
        .poll(&mut std::task::Context::from_waker(Waker::noop()));
}

/// The worker's entry, called by `src/shim.js` for every request with the body it read:
/// `null` for bodiless methods, an `ArrayBuffer`, or `undefined` when the body is over
/// [`body_limit`] (declared, or counted while read) or could not be read. A body read whole is
/// measured here.
///
/// Answers synchronously with a `Response` when the core does not wait on anything (every
/// request but those whose identity provider's keys must be fetched, or whose token is checked
/// with WebCrypto), else with a `Promise` of one. The future is polled once in place; only if
/// it is still pending is it handed to the JavaScript event loop, and to `waitUntil`: the
/// request's work (a JWKS fetch that other requests wait for above all) goes on when its
/// client goes away.
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JavaScript, not to Rust
pub fn respond(
    req: web_sys::Request,
    body: JsValue,
    env: Env,
    ctx: worker_sys::Context,
) -> std::result::Result<JsValue, JsValue> {
    let mut handling = Box::pin(handle_request(req, body, env));
    match handling
        .as_mut()
        .poll(&mut std::task::Context::from_waker(Waker::noop()))
    {
        Poll::Ready((resp, refresh)) => {
            refresh_after(&ctx, refresh);
            resp.map(JsValue::from)
        }
        // Polled again at once by the event loop, with a real waker (every future here
        // registers the waker of its latest poll: JsFuture, the JWKS fetch's waiters).
        Poll::Pending => {
            let ctx = std::rc::Rc::new(ctx);
            let inner = std::rc::Rc::clone(&ctx);
            let promise = future_to_promise(async move {
                let (resp, refresh) = handling.await;
                refresh_after(&inner, refresh);
                resp.map(JsValue::from)
            });
            let _ = ctx.wait_until(&promise);
            Ok(promise.into())
        }
    }
}

/// The service and time of a request whose stale JWKS keys served it: [`Service::refresh`]
/// is due after the answer.
type Refresh = Option<(&'static Service, u64)>;

/// Runs a due refresh after the answer, with `waitUntil`.
fn refresh_after(ctx: &worker_sys::Context, refresh: Refresh) {
    if let Some((svc, started)) = refresh {
        let refreshing = future_to_promise(async move {
            svc.refresh(started, &JsRemote).await;
            Ok(JsValue::UNDEFINED)
        });
        let _ = ctx.wait_until(&refreshing);
    }
}

/// The largest body [`respond`] takes, in bytes (`MAX_BODY_BYTES`); 0 when the configuration
/// is invalid (every request is then answered `config_invalid`).
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JavaScript, not to Rust
pub fn body_limit(env: &Env) -> f64 {
    service(env).map_or(0.0, |svc| svc.max_body_bytes() as f64)
}

/// One request through the core: the service of the isolate, the [`api::Request`] read from
/// the runtime's, the [`api::Response`] turned back into the runtime's with its log line, and
/// whether stale JWKS keys should be refreshed after it.
async fn handle_request(
    req: web_sys::Request,
    body: JsValue,
    env: Env,
) -> (std::result::Result<web_sys::Response, JsValue>, Refresh) {
    let started = js_sys::Date::now();
    let method = req.method();
    let url = req.url();
    let path = api::url_path(&url);
    let mut refresh = None;
    let resp = match service(&env) {
        None => api::config_invalid_response(),
        Some(svc) => {
            let headers = req.headers();
            let lookup = |name: &str| headers.get(name).ok().flatten();
            let body = body_bytes(&method, &body, svc.max_body_bytes());
            let api_req = api::Request {
                method: &method,
                path,
                query: api::url_query(&url),
                origin: api::url_origin(&url),
                header: &lookup,
                body: body.as_ref().map_or(Body::TooLarge, |b| Body::Bytes(b)),
            };
            let ledger = crate::durable::JsLedger { env: Some(&env) };
            let resp = svc
                .serve_io(
                    &api_req,
                    started as u64,
                    &mut JsPlatform,
                    &JsRemote,
                    &ledger,
                    &JsStore,
                )
                .await;
            if svc.refresh_due() {
                // Stale JWKS keys served this token: refresh them after the answer.
                refresh = Some((svc, started as u64));
            }
            resp
        }
    };
    let elapsed = (js_sys::Date::now() - started).max(0.0) as u64;
    (
        to_js_response(&resp, &resp.log_line(&method, elapsed)),
        refresh,
    )
}

/// The body's bytes, or `None` when it is over `max` or was not read (see [`respond`]).
/// Bodiless methods have an empty body whatever was passed.
fn body_bytes(method: &str, body: &JsValue, max: u64) -> Option<Vec<u8>> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Some(Vec::new());
    }
    let buffer = body.dyn_ref::<js_sys::ArrayBuffer>()?;
    let bytes = js_sys::Uint8Array::new(buffer);
    (u64::from(bytes.length()) <= max).then(|| bytes.to_vec())
}

/// The runtime's `Response` (status, headers, the JSON body if any), after writing the
/// request's log line: one call into JavaScript (`src/glue.js`).
fn to_js_response(
    resp: &api::Response,
    line: &str,
) -> std::result::Result<web_sys::Response, JsValue> {
    let mut headers = String::with_capacity(128);
    // A line feed is in no valid header; such a pair would be refused by `Headers` anyway.
    for (name, value) in resp
        .headers
        .iter()
        .filter(|(n, v)| !n.contains('\n') && !v.contains('\n'))
    {
        headers.push_str(name);
        headers.push('\n');
        headers.push_str(value);
        headers.push('\n');
    }
    log_and_build_response(resp.status, &headers, resp.body.as_bytes(), line)
}
