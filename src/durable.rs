//! The upload ledger on Durable Objects (wasm32 only): [`ledger_step`], what the `Ledger`
//! class of `src/shim.js` runs on its subject's stored book for each call and alarm, and
//! [`JsLedger`], the core's [`api::Ledger`](crate::api::Ledger) that calls the object.
//!
//! One object per subject (named by the token's issuer and `sub`). It keeps the subject's
//! [`Book`] as one JSON row of its SQLite storage; the class reads the row, calls
//! [`ledger_step`] and writes the result without awaiting anything in between, so no two calls
//! interleave: the object is the one place where a subject's budget is counted. Its alarm
//! removes what has expired (used `jti`s after their token's `exp` plus leeway, buckets past the
//! day's window), so idle subjects' storage empties too.
//!
//! The class is JavaScript rather than workers-rs's `#[durable_object]` (which works behind our
//! shim too): the macro's `Request`/`Response` conversions and storage wrappers made the wasm
//! about 25 KB (gzipped) larger than this does (measured with scripts/build.sh on 2026-12-01).

use std::time::Duration;

use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, Env};

use crate::adapter::{warn, within};
use crate::api::{Ledger, LedgerUnavailable};
use crate::ledger::{Book, Call, Reply, Stale};

/// Longest wait for the object's answer; then the grant is refused (`ledger_unavailable`).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[wasm_bindgen(module = "/src/ledger.js")]
extern "C" {
    /// `ledgerCall(env, name, body)` of `src/ledger.js`: the object's answer, as text.
    #[wasm_bindgen(js_name = ledgerCall, catch)]
    fn ledger_call(env: &JsValue, name: &str, body: &str) -> Result<js_sys::Promise, JsValue>;
}

/// One step of a subject's ledger, for the `Ledger` class of `src/shim.js`: `stored` is the
/// book's row (`null` when there is none), `call` a [`Call`] as JSON (`null` for the alarm,
/// which only prunes), `now_ms` the object's clock.
///
/// Returns `[reply, book, next, due]`: the [`Reply`] as JSON (`null` for the alarm); the book
/// to store (`undefined`: unchanged, `null`: delete the row); when (milliseconds) the alarm
/// should next run (`null`: nothing to expire); and for the alarm, the stale multipart uploads
/// to abort now as JSON `[[store id, {at, target, key}], …]` (`null`: none), for
/// [`abort_stale`]. Fails (throws) on a stored book or call it
/// cannot read, so that the grant is refused rather than counted against an empty book.
#[wasm_bindgen]
pub fn ledger_step(
    stored: Option<String>,
    call: Option<String>,
    now_ms: f64,
) -> Result<js_sys::Array, JsValue> {
    let now = (now_ms / 1000.0) as u64;
    let mut book: Book = match stored {
        None => Book::default(),
        Some(s) => serde_json::from_str(&s).map_err(|_| JsValue::from_str("unreadable book"))?,
    };
    let (reply, changed) = match call {
        None => {
            book.prune(now);
            (JsValue::NULL, true)
        }
        Some(c) => {
            let call: Call =
                serde_json::from_str(&c).map_err(|_| JsValue::from_str("not a ledger call"))?;
            let reply = book.answer(&call, now);
            let text = serde_json::to_string(&reply).unwrap_or_default();
            (
                JsValue::from_str(&text),
                matches!(call, Call::Reserve(_) | Call::Close(_) | Call::Postpone(..)),
            )
        }
    };
    let stored = match (changed, book.is_empty()) {
        (false, _) => JsValue::UNDEFINED,
        (true, true) => JsValue::NULL,
        (true, false) => JsValue::from_str(&serde_json::to_string(&book).unwrap_or_default()),
    };
    let next = book
        .next_expiry()
        .map_or(JsValue::NULL, |at| JsValue::from_f64(at as f64 * 1000.0));
    let due = match (reply.is_null(), book.due(now)) {
        (true, due) if !due.is_empty() => {
            JsValue::from_str(&serde_json::to_string(&due).unwrap_or_default())
        }
        _ => JsValue::NULL,
    };
    Ok(js_sys::Array::of4(&reply, &stored, &next, &due))
}

/// Seconds before a failed abort of a stale upload is tried again.
const ABORT_RETRY_SECS: u64 = 300;

/// Aborts the stale multipart uploads `due` (the fourth value of [`ledger_step`]) at the
/// store, for the `Ledger` class's alarm, and logs each (`multipart_cleaned_up`, or
/// `multipart_cleanup_failed`). Resolves to the ledger calls that record the outcome, as a
/// JSON array: [`Call::Close`] for each upload gone, [`Call::Postpone`] (by
/// `ABORT_RETRY_SECS`) for each that failed.
#[wasm_bindgen]
pub fn abort_stale(env: Env, due: String, now_ms: f64) -> js_sys::Promise {
    worker::wasm_bindgen_futures::future_to_promise(async move {
        abort_all(&env, &due, now_ms).await.map(JsValue::from)
    })
}

/// [`abort_stale`]'s work.
async fn abort_all(env: &Env, due: &str, now_ms: f64) -> Result<String, JsValue> {
    let due: Vec<(String, Stale)> =
        serde_json::from_str(due).map_err(|_| JsValue::from_str("not a list of stale uploads"))?;
    let svc = crate::adapter::service_of(env)
        .ok_or_else(|| JsValue::from_str("the configuration is invalid"))?;
    let now = (now_ms / 1000.0) as u64;
    let mut calls = Vec::with_capacity(due.len());
    for (id, stale) in due {
        let done = svc
            .abort_stale(
                &stale.target,
                &stale.key,
                &id,
                now,
                &crate::adapter::JsStore,
            )
            .await;
        let line = serde_json::json!({
            "level": if done.is_ok() { "info" } else { "warn" },
            "event": if done.is_ok() { "multipart_cleaned_up" } else { "multipart_cleanup_failed" },
            "target": stale.target,
            "key": stale.key,
            "upload_id": id,
            "problem": done.as_ref().err(),
        });
        worker::console_log!("{line}");
        calls.push(match done {
            Ok(()) => Call::Close(id),
            Err(_) => Call::Postpone(id, now + ABORT_RETRY_SECS),
        });
    }
    Ok(serde_json::to_string(&calls).unwrap_or_default())
}

/// The subjects' ledgers as the core calls them: one `fetch` to the subject's object.
pub(crate) struct JsLedger<'a> {
    /// The bindings with the object's namespace; `None` for the warm-up request of module
    /// evaluation (`adapter::warm_up`), which must not call out: the ledger is then unavailable.
    pub(crate) env: Option<&'a Env>,
}

impl JsLedger<'_> {
    async fn try_call(&self, env: &Env, subject: &str, call: &Call) -> Result<Reply, String> {
        let body = serde_json::to_string(call).map_err(|e| e.to_string())?;
        let answered = within(
            async {
                let text = JsFuture::from(ledger_call(env.as_ref(), subject, &body)?).await?;
                Ok::<_, JsValue>(text.as_string())
            },
            CALL_TIMEOUT,
        )
        .await
        .ok_or_else(|| format!("no answer within {} s", CALL_TIMEOUT.as_secs()))?;
        let text = answered
            .map_err(|e| crate::adapter::js_problem(&e))?
            .ok_or("the answer is not text")?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

impl Ledger for JsLedger<'_> {
    async fn call(&self, subject: &str, call: &Call) -> Result<Reply, LedgerUnavailable> {
        let Some(env) = self.env else {
            return Err(LedgerUnavailable);
        };
        self.try_call(env, subject, call).await.map_err(|problem| {
            // The subject is not logged: it is the token's identity.
            warn("ledger_unavailable", &problem);
            LedgerUnavailable
        })
    }
}
