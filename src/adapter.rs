//! The wasm32 adapter, the only code that touches the Workers runtime: it turns a
//! `worker::Request` into an [`api::Request`], asks the [`Service`] (built once per isolate
//! from the environment), and turns the [`api::Response`] back, writing one log line.

use std::cell::OnceCell;

use worker::wasm_bindgen::{self, prelude::wasm_bindgen};
use worker::{
    console_error, console_log, event, js_sys, Context, Env, Headers, Request, Response, Result,
};

use crate::api::{self, Body, Platform, Service};

/// talc: smaller and faster than the default dlmalloc, and needs no `unsafe` here.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, the runtime's cryptographically strong generator.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Randomness and normalisation from the JavaScript runtime (no Unicode tables in the wasm).
struct JsPlatform;

impl Platform for JsPlatform {
    fn fill_random(&mut self, buf: &mut [u8]) {
        get_random_values(buf);
    }

    fn nfc(&self, s: &str) -> String {
        String::from(js_sys::JsString::from(s).normalize("NFC"))
    }
}

thread_local! {
    /// The service of this isolate: built at its first request; `None` if the config is invalid.
    static SERVICE: OnceCell<Option<&'static Service>> = const { OnceCell::new() };
}

fn service(env: &Env) -> Option<&'static Service> {
    SERVICE.with(|cell| {
        *cell.get_or_init(|| {
            let lookup = |name: &str| env.var(name).ok().map(|v| v.to_string());
            match Service::from_lookup(&lookup) {
                // One service per isolate, alive as long as the isolate: leaking it is the point.
                Ok(svc) => Some(&*Box::leak(Box::new(svc))),
                Err(e) => {
                    // Logged once per isolate; names the variable, never a secret's value.
                    let line = serde_json::json!({ "level": "error", "event": "config_invalid", "problem": e.to_string() });
                    console_error!("{line}");
                    None
                }
            }
        })
    })
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let started = js_sys::Date::now();
    let method = req.method().to_string();
    let path = req.path();
    let resp = match service(&env) {
        None => api::config_invalid_response(),
        Some(svc) => {
            let body = read_body(&mut req, &method, svc.max_body_bytes()).await;
            let headers = req.headers();
            let lookup = |name: &str| headers.get(name).ok().flatten();
            let api_req = api::Request {
                method: &method,
                path: &path,
                header: &lookup,
                body: body.as_ref().map_or(Body::TooLarge, |b| Body::Bytes(b)),
            };
            svc.handle(&api_req, started as u64, &mut JsPlatform)
        }
    };
    let line = serde_json::json!({
        "method": method,
        "route": resp.route,
        "status": resp.status,
        "duration_ms": js_sys::Date::now() - started,
        "error": resp.error_code,
    });
    console_log!("{line}");
    to_worker_response(resp)
}

/// The body, or `None` when its declared or actual length is over `max`. Bodiless methods
/// are not read.
async fn read_body(req: &mut Request, method: &str, max: u64) -> Option<Vec<u8>> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Some(Vec::new());
    }
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return None;
    }
    // A body that cannot be read (client gone, bad encoding) is treated as too large to take.
    let bytes = req.bytes().await.ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

fn to_worker_response(resp: api::Response) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &resp.headers {
        headers.set(name, value)?;
    }
    let builder = Response::builder()
        .with_status(resp.status)
        .with_headers(headers);
    Ok(if resp.body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(resp.body.into_bytes())
    })
}
