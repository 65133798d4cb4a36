//! The upload ledger on Durable Objects (wasm32 only): [`ledger_step`], what the `Ledger`
//! class of `src/shim.js` runs on its subject's stored book for each call and alarm, and
//! [`JsLedger`], the core's [`api::Ledger`](crate::api::Ledger) that calls the object.
//!
//! One object per subject (named by the token's issuer and `sub`). It keeps the subject's
//! [`Book`] as one JSON row of its SQLite storage, and the book's granted uploads as a row
//! each (so that a call's cost does not grow with them: it loads only the one it needs); the class reads the row, calls
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
use crate::ledger::{Book, Call, Delivery, Reply, Stale, Upload, MAX_UPLOADS};
use crate::store::abort::Gone;
use crate::webhook;

/// Longest wait for the object's answer; then the grant is refused (`ledger_unavailable`).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[wasm_bindgen(module = "/src/ledger.js")]
extern "C" {
    /// `ledgerCall(env, name, body)` of `src/ledger.js`: the object's answer, as text.
    #[wasm_bindgen(js_name = ledgerCall, catch)]
    fn ledger_call(env: &JsValue, name: &str, body: &str) -> Result<js_sys::Promise, JsValue>;
}

/// The upload record a ledger call reads or changes ([`Call::upload_id`]), for the `Ledger`
/// class of `src/shim.js` to load before [`ledger_step`]; `None` for other calls (or a call it
/// cannot read, which the step then refuses).
#[wasm_bindgen]
pub fn ledger_upload_of(call: &str) -> Option<String> {
    serde_json::from_str::<Call>(call).ok()?.upload_id()
}

/// One step of a subject's ledger, for the `Ledger` class of `src/shim.js`: `stored` is the
/// book's row (`null` when there is none), `call` a [`Call`] as JSON (`null` for the alarm,
/// which only prunes), `now_ms` the object's clock. The upload records are kept apart, one
/// row each: `loaded` is the JSON array of those the step needs (the call's,
/// [`ledger_upload_of`]; for the alarm, those whose time has come), `total` and `uncompleted`
/// count all the rows (loaded ones included).
///
/// Returns `[reply, book, next, due, rows]`: the [`Reply`] as JSON (`null` for the alarm); the
/// book to store (`undefined`: unchanged, `null`: delete the row); when (milliseconds) the
/// alarm should next run for the book itself (`null`: nothing to expire; the class also
/// wakes for the records' own times); for the alarm, the stale multipart uploads to abort, the
/// uploads to delete and the webhooks to deliver now, as JSON (`null`: nothing), for
/// [`run_due`]; and the upload rows to write, as JSON `{"rows": [[id, json | null, next
/// (seconds), uncompleted (0/1), granted_at], …], "evict": n}` (`null` json: delete the row;
/// `evict`: how many rows to forget beyond [`MAX_UPLOADS`], completed ones first, then the
/// oldest). Fails (throws) on a stored book or call it cannot read, so that the grant is
/// refused rather than counted against an empty book.
#[wasm_bindgen]
pub fn ledger_step(
    stored: Option<String>,
    call: Option<String>,
    now_ms: f64,
    loaded: &str,
    total: f64,
    uncompleted: f64,
) -> Result<js_sys::Array, JsValue> {
    let now = (now_ms / 1000.0) as u64;
    let mut book: Book = match stored {
        None => Book::default(),
        Some(s) => serde_json::from_str(&s).map_err(|_| JsValue::from_str("unreadable book"))?,
    };
    let loaded: Vec<Upload> =
        serde_json::from_str(loaded).map_err(|_| JsValue::from_str("unreadable uploads"))?;
    let loaded_ids: Vec<String> = loaded
        .iter()
        .map(|u| Upload::id(&u.target, &u.key))
        .collect();
    let loaded_open = loaded.iter().filter(|u| u.uncompleted()).count() as u64;
    let others = (uncompleted as u64).saturating_sub(loaded_open);
    let others_total = (total as u64).saturating_sub(loaded.len() as u64);
    book.load_uploads(loaded, others);
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
                // Every call but a read changes the book.
                !matches!(call, Call::Usage),
            )
        }
    };
    let work = Work {
        aborts: book.due(now),
        deliveries: book.deliveries(now),
        deletions: book.deletions(now),
    };
    let uploads = book.take_uploads();
    let mut rows: Vec<serde_json::Value> = loaded_ids
        .iter()
        .filter(|id| !uploads.contains_key(*id))
        .map(|id| serde_json::json!([id, null, 0, 0, 0]))
        .collect();
    if changed {
        for (id, u) in &uploads {
            let json = serde_json::to_string(u).unwrap_or_default();
            let open = u8::from(u.uncompleted());
            rows.push(serde_json::json!([
                id,
                json,
                u.next_event(),
                open,
                u.granted_at
            ]));
        }
    }
    let evict = (others_total + uploads.len() as u64).saturating_sub(MAX_UPLOADS as u64);
    let rows = serde_json::json!({ "rows": rows, "evict": evict }).to_string();
    let stored = match (changed, book.is_empty()) {
        (false, _) => JsValue::UNDEFINED,
        (true, true) => JsValue::NULL,
        (true, false) => JsValue::from_str(&serde_json::to_string(&book).unwrap_or_default()),
    };
    let next = book
        .next_expiry()
        .map_or(JsValue::NULL, |at| JsValue::from_f64(at as f64 * 1000.0));
    let due = match (reply.is_null(), work.is_empty()) {
        (true, false) => JsValue::from_str(&serde_json::to_string(&work).unwrap_or_default()),
        _ => JsValue::NULL,
    };
    let out = js_sys::Array::of4(&reply, &stored, &next, &due);
    out.push(&JsValue::from_str(&rows));
    Ok(out)
}

/// What an alarm has to do outside the book: stale uploads to abort, webhooks to deliver.
#[derive(serde::Serialize, serde::Deserialize)]
struct Work {
    aborts: Vec<(String, Stale)>,
    deliveries: Vec<(String, Delivery)>,
    #[serde(default)]
    deletions: Vec<Upload>,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.aborts.is_empty() && self.deliveries.is_empty() && self.deletions.is_empty()
    }
}

/// Seconds before a failed abort of a stale upload is tried again.
const ABORT_RETRY_SECS: u64 = 300;
/// Longest wait for a webhook receiver's answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Does the alarm's `work` (the fourth value of [`ledger_step`]) for the `Ledger` class:
/// aborts the stale multipart uploads at the store, deletes the uncompleted uploads
/// (`DELETE_UNCOMPLETED_AFTER`) and delivers the due webhooks, logging each
/// (`multipart_cleaned_up` / `multipart_cleanup_failed`, `upload_cleaned_up` /
/// `upload_cleanup_failed`, `webhook_delivered` / `webhook_failed` / `webhook_given_up`).
/// Resolves to the ledger calls that record the outcomes, as a JSON array: [`Call::Removed`]
/// or [`Call::Postpone`] for each abort, [`Call::Removed`] or [`Call::PostponeDelete`] for
/// each deletion, [`Call::Delivered`] or [`Call::Retry`] for each delivery.
#[wasm_bindgen]
pub fn run_due(env: Env, work: String, now_ms: f64) -> js_sys::Promise {
    worker::wasm_bindgen_futures::future_to_promise(async move {
        run_all(&env, &work, now_ms).await.map(JsValue::from)
    })
}

/// [`run_due`]'s work.
async fn run_all(env: &Env, work: &str, now_ms: f64) -> Result<String, JsValue> {
    let work: Work =
        serde_json::from_str(work).map_err(|_| JsValue::from_str("not the alarm's work"))?;
    let svc = crate::adapter::service_of(env)
        .ok_or_else(|| JsValue::from_str("the configuration is invalid"))?;
    let now = (now_ms / 1000.0) as u64;
    let mut calls =
        Vec::with_capacity(work.aborts.len() + work.deliveries.len() + work.deletions.len());
    for (id, stale) in work.aborts {
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
            // Its bytes go back to the budget.
            Ok(Gone::Aborted) => Call::Removed(stale.target, stale.key, Some(id)),
            // Completed (maybe by a completion still settling), or ended before: no longer
            // open, its bytes stay counted.
            Ok(Gone::Unknown) => Call::Close(id),
            Err(_) => Call::Postpone(id, now + ABORT_RETRY_SECS),
        });
    }
    for upload in work.deletions {
        let done = svc
            .delete_uncompleted(&upload, now, &crate::adapter::JsStore)
            .await;
        let line = serde_json::json!({
            "level": if done.is_ok() { "info" } else { "warn" },
            "event": if done.is_ok() { "upload_cleaned_up" } else { "upload_cleanup_failed" },
            "target": upload.target,
            "key": upload.key,
            "outcome": done.as_ref().ok().map(|d| d.name()),
            "size": match done { Ok(crate::api::Deleted::Object { size }) => Some(size), _ => None },
            "problem": done.as_ref().err(),
        });
        worker::console_log!("{line}");
        calls.push(match done {
            Ok(deleted) => deleted.ledger_call(upload.target, upload.key, now),
            Err(_) => Call::PostponeDelete(upload.target, upload.key, now + ABORT_RETRY_SECS),
        });
    }
    for (id, delivery) in work.deliveries {
        // Without a webhook configured any more, what waits is given up at once.
        let sent = match svc.webhook() {
            None => Err("WEBHOOK_URL is no longer set".to_owned()),
            Some(cfg) => {
                let headers = webhook::headers(&cfg.key, &id, delivery.timestamp, &delivery.body);
                crate::adapter::post(&cfg.url, &headers, &delivery.body, WEBHOOK_TIMEOUT).await
            }
        };
        let attempts = delivery.attempts + 1;
        let retry = match (&sent, svc.webhook()) {
            (Ok(s), _) if (200..300).contains(s) => None,
            (_, Some(cfg)) => Some(webhook::retry_at(cfg, attempts, now)),
            (_, None) => Some(None),
        };
        let event = match retry {
            None => "webhook_delivered",
            Some(Some(_)) => "webhook_failed",
            Some(None) => "webhook_given_up",
        };
        let problem = match &sent {
            Ok(status) => format!("HTTP status {status}"),
            Err(e) => e.clone(),
        };
        // The id and the outcome only: the body and the signature stay out of the logs.
        let line = serde_json::json!({
            "level": if retry.is_none() { "info" } else { "warn" },
            "event": event,
            "webhook_id": id,
            "attempt": attempts,
            "problem": (retry.is_some()).then_some(problem),
        });
        worker::console_log!("{line}");
        calls.push(match retry {
            None => Call::Delivered(id),
            Some(next) => Call::Retry(id, next),
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
