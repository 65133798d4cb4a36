//! The upload ledger on Durable Objects (wasm32 only): the `Ledger` class, one object per
//! subject (named by the token's issuer and `sub`), and [`JsLedger`], the core's
//! [`api::Ledger`](crate::api::Ledger) that calls it.
//!
//! The object keeps its subject's [`Book`] as one JSON row of its SQLite storage and applies
//! [`Book::answer`] between reading and writing it without awaiting anything, so no two calls
//! interleave: the object is the one place where a subject's budget is counted. An alarm removes
//! what has expired (used `jti`s after their token's `exp` plus leeway, buckets past the day's
//! window), so idle subjects' storage empties too.
//!
//! `src/shim.js` exports the class (as `Ledger`); `wrangler.toml` binds it as `LEDGER` with a
//! `new_sqlite_classes` migration.

use std::time::Duration;

// The `durable_object` macro's expansion names `wasm_bindgen`.
use worker::wasm_bindgen::{self, JsValue};
use worker::{js_sys, Env, Method, RequestInit, SqlStorage, SqlStorageValue, State};

use crate::adapter::{warn, within};
use crate::api::{Ledger as LedgerApi, LedgerUnavailable};
use crate::ledger::{Book, Call, Reply};

/// The binding of the class in `wrangler.toml`.
const BINDING: &str = "LEDGER";
/// Longest wait for the object's answer; then the grant is refused (`ledger_unavailable`).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Now, in Unix seconds, by the runtime's clock.
fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A subject's ledger (see the module documentation).
#[worker::durable_object]
pub struct Ledger {
    state: State,
}

impl Ledger {
    fn sql(&self) -> worker::Result<SqlStorage> {
        let sql = self.state.storage().sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS book (id INTEGER PRIMARY KEY, json TEXT NOT NULL)",
            None,
        )?;
        Ok(sql)
    }

    /// The stored book (empty when there is none yet).
    fn load(sql: &SqlStorage) -> worker::Result<Book> {
        #[derive(serde::Deserialize)]
        struct Row {
            json: String,
        }
        let rows: Vec<Row> = sql
            .exec("SELECT json FROM book WHERE id = 1", None)?
            .to_array()?;
        match rows.first() {
            None => Ok(Book::default()),
            Some(r) => {
                serde_json::from_str(&r.json).map_err(|e| worker::Error::from(e.to_string()))
            }
        }
    }

    /// Stores `book`, or deletes the row when it is empty.
    fn save(sql: &SqlStorage, book: &Book) -> worker::Result<()> {
        if book.is_empty() {
            sql.exec("DELETE FROM book WHERE id = 1", None)?;
            return Ok(());
        }
        let json = serde_json::to_string(book).map_err(|e| worker::Error::from(e.to_string()))?;
        sql.exec(
            "INSERT OR REPLACE INTO book (id, json) VALUES (1, ?)",
            vec![SqlStorageValue::from(json)],
        )?;
        Ok(())
    }

    /// Sets the alarm to the book's next expiry unless one is already due by then.
    async fn schedule(&self, book: &Book) -> worker::Result<()> {
        let Some(at) = book.next_expiry() else {
            return Ok(());
        };
        let at_ms = i64::try_from(at.saturating_mul(1000)).unwrap_or(i64::MAX);
        let storage = self.state.storage();
        match storage.get_alarm().await? {
            Some(current) if current <= at_ms => Ok(()),
            _ => storage.set_alarm(at_ms).await,
        }
    }
}

impl worker::DurableObject for Ledger {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
        let text = req.text().await?;
        let Ok(call) = serde_json::from_str::<Call>(&text) else {
            return worker::Response::error("not a ledger call", 400);
        };
        let sql = self.sql()?;
        // Read, apply, write: no await in between, so calls never interleave.
        let mut book = Self::load(&sql)?;
        let reply = book.answer(&call, now_secs());
        if matches!(call, Call::Reserve(_)) {
            Self::save(&sql, &book)?;
            self.schedule(&book).await?;
        }
        let body = serde_json::to_string(&reply).map_err(|e| worker::Error::from(e.to_string()))?;
        worker::Response::ok(body)
    }

    async fn alarm(&self) -> worker::Result<worker::Response> {
        let sql = self.sql()?;
        let mut book = Self::load(&sql)?;
        book.prune(now_secs());
        Self::save(&sql, &book)?;
        self.schedule(&book).await?;
        worker::Response::ok("")
    }
}

/// The subjects' ledgers as the core calls them: one `fetch` to the subject's object.
pub(crate) struct JsLedger<'a> {
    pub(crate) env: &'a Env,
}

impl JsLedger<'_> {
    async fn try_call(&self, subject: &str, call: &Call) -> Result<Reply, String> {
        let ns = self
            .env
            .durable_object(BINDING)
            .map_err(|_| format!("no Durable Object binding {BINDING} (see wrangler.toml)"))?;
        let stub = ns
            .id_from_name(subject)
            .and_then(|id| id.get_stub())
            .map_err(|e| e.to_string())?;
        let body = serde_json::to_string(call).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body)));
        let req = worker::Request::new_with_init("https://ledger.invalid/", &init)
            .map_err(|e| e.to_string())?;
        let answered = within(
            async {
                let mut resp = stub.fetch_with_request(req).await?;
                let status = resp.status_code();
                Ok::<_, worker::Error>((status, resp.text().await?))
            },
            CALL_TIMEOUT,
        )
        .await
        .ok_or_else(|| format!("no answer within {} s", CALL_TIMEOUT.as_secs()))?;
        match answered.map_err(|e| e.to_string())? {
            (200, text) => serde_json::from_str(&text).map_err(|e| e.to_string()),
            (status, _) => Err(format!("HTTP status {status}")),
        }
    }
}

impl LedgerApi for JsLedger<'_> {
    async fn call(&self, subject: &str, call: &Call) -> Result<Reply, LedgerUnavailable> {
        self.try_call(subject, call).await.map_err(|problem| {
            // The subject is not logged: it is the token's identity.
            warn("ledger_unavailable", &problem);
            LedgerUnavailable
        })
    }
}
