// The worker's entry module: worker-build bundles it (as CUSTOM_SHIM, see scripts/build.sh)
// with wasm-bindgen's glue into build/worker/shim.mjs, next to build/worker/index.wasm.
//
// It does only what is cheaper in JavaScript than through Rust futures: reading the request
// body (whole when its length is declared within the limit, else through `readLimited` of
// src/glue.js, which stops past the limit). Everything else (routing, limits, the response,
// the log line) is `respond` in
// src/adapter.rs, called synchronously; it returns a Response, or a Promise of one when the
// core has to wait for the network (an identity provider's keys, WebCrypto). Measured with
// workerd, awaiting the body here instead of in Rust saves about 14 µs of CPU per request.
import { env } from "cloudflare:workers";
import * as imports from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

// wasm-bindgen's JavaScript snippets (src/glue.js) by path, for the wasm and for us.
const snippets = {
  $SNIPPET_WASM_IMPORTS
};
const { readLimited, holdFirstLine, muteLines } = Object.values(snippets).find(
  (m) => typeof m.readLimited === "function",
);

let exports;

function instantiate() {
  const instance = new WebAssembly.Instance(wasmModule, {
    "./index_bg.js": imports,
    ...snippets,
  });
  imports.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  exports = instance.exports;
}

instantiate();

// A trap (a Rust panic: a bug, never expected) may leave the module's state half-updated, so
// the next request gets a new instance. `grow(0)` detaches the old memory's buffer, which makes
// the glue's cached views of it refresh from the new instance. The client gets a JSON 500; the
// log names the kind of failure only (a panic message could quote the request).
function failed(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    const old = exports.memory;
    instantiate();
    old.grow(0);
  }
  console.error(JSON.stringify({ level: "error", event: "internal_error", problem: e?.name ?? "unknown" }));
  return new Response(
    '{"error":{"code":"internal_error","message":"the request failed inside the worker; the operator has been told in the logs"}}',
    { status: 500, headers: { "content-type": "application/json" } },
  );
}

// Whether the isolate's first log line is still to be written (see `holdFirstLine` in
// src/glue.js: it is written after the first answer, not before).
let holding = true;

// `respond` of the wasm, with a trap turned into the JSON 500 of `failed`.
function callRespond(request, body, env, ctx) {
  try {
    if (holding) holdFirstLine(ctx);
    const out = imports.respond(request, body, env, ctx);
    return out instanceof Promise ? out.catch(failed) : out;
  } catch (e) {
    return failed(e);
  } finally {
    if (holding) holding = holdFirstLine(null);
  }
}

// The most body bytes taken (MAX_BODY_BYTES; 0 when the configuration is invalid), asked once
// per isolate: the configuration never changes within one.
let limit;

// Per-isolate set-up at module evaluation rather than in the first request (on Cloudflare the
// evaluation overlaps the TLS handshake): `prepare` builds the service from the bindings
// (`env` of cloudflare:workers) and logs nothing; the first request logs what it has to say.
// `warm_up` runs a made-up upload grant through the service, and a GET /healthz through
// `respond` (its log line dropped) runs this module's and the glue's side of a request once, so
// that V8 has compiled both before the first request. A trap leaves it to the first request,
// with a fresh instance.
try {
  limit = imports.prepare(env);
  imports.warm_up(env);
  muteLines(true);
  try {
    imports.respond(new Request("http://warm-up.invalid/healthz"), null, env, { waitUntil() {} });
  } finally {
    muteLines(false);
  }
} catch (e) {
  if (e instanceof WebAssembly.RuntimeError) {
    const old = exports.memory;
    instantiate();
    old.grow(0);
  }
}
// How much of a body without a declared length is read and dropped past the limit before it is
// cancelled and refused (see `readLimited` in src/glue.js).
const DRAIN_BYTES = 1 << 20;

export default {
  fetch(request, env, ctx) {
    const method = request.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
      return callRespond(request, null, env, ctx);
    }
    try {
      limit ??= imports.body_limit(env);
    } catch (e) {
      return failed(e);
    }
    // Over the limit (declared, or counted), or unreadable: `undefined`, and the answer is 413
    // (`respond` measures what was read against the same limit before copying it).
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      return callRespond(request, undefined, env, ctx);
    }
    // A declared length bounds the body (the runtime holds the client to it): read it whole.
    // Without one (chunked), never more than the limit is read.
    const read =
      declared !== null ? request.arrayBuffer() : readLimited(request, limit, DRAIN_BYTES);
    return read.then(
      (buf) => callRespond(request, buf, env, ctx),
      () => callRespond(request, undefined, env, ctx),
    );
  },
};

// The upload ledger's Durable Object class, bound as LEDGER in wrangler.toml: one object per
// subject. Its rules and storage format are Rust (`ledger_step`, src/durable.rs); this class
// reads the stored book, steps it and writes it back without awaiting in between, so calls
// never interleave, then sets the alarm that removes what expired.
export class Ledger {
  constructor(ctx, env) {
    this.storage = ctx.storage;
    this.env = env;
    const sql = this.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS book (id INTEGER PRIMARY KEY, json TEXT NOT NULL)");
    // The granted uploads, one row each (src/durable.rs, ledger_step): a call reads and
    // writes only its own, however many a subject has. `next`: when (Unix seconds) the alarm
    // has to act on it; `open`: not completed.
    sql.exec(
      "CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, json TEXT NOT NULL, " +
        "next INTEGER NOT NULL, open INTEGER NOT NULL, granted INTEGER NOT NULL)",
    );
    // Every query below reads an index, never the rows' JSON: the alarm's next time and the
    // rows it acts on (`next`), the counts and the oldest rows to forget (`open, granted`).
    sql.exec("CREATE INDEX IF NOT EXISTS uploads_next ON uploads (next)");
    sql.exec("CREATE INDEX IF NOT EXISTS uploads_age ON uploads (open, granted)");
  }

  // One call (a JSON ledger call, or null for the alarm): the reply and the next alarm time.
  step(call) {
    const sql = this.storage.sql;
    const now = Date.now();
    const row = sql.exec("SELECT json FROM book WHERE id = 1").toArray()[0];
    const id = call === null ? undefined : imports.ledger_upload_of(call);
    const loaded =
      call === null
        ? sql.exec("SELECT json FROM uploads WHERE next <= ?", Math.floor(now / 1000)).toArray()
        : id === undefined
          ? []
          : sql.exec("SELECT json FROM uploads WHERE id = ?", id).toArray();
    const n = sql.exec("SELECT COUNT(*) AS n FROM uploads").one().n;
    const open = sql.exec("SELECT COUNT(*) AS n FROM uploads WHERE open = 1").one().n;
    const [reply, book, next, due, written] = imports.ledger_step(
      row ? row.json : null,
      call,
      now,
      "[" + loaded.map((r) => r.json).join(",") + "]",
      n,
      open,
    );
    if (book === null) {
      sql.exec("DELETE FROM book WHERE id = 1");
    } else if (book !== undefined) {
      sql.exec("INSERT OR REPLACE INTO book (id, json) VALUES (1, ?)", book);
    }
    const { rows, evict } = JSON.parse(written);
    for (const [rid, json, at, open, granted] of rows) {
      if (json === null) sql.exec("DELETE FROM uploads WHERE id = ?", rid);
      else
        sql.exec(
          "INSERT OR REPLACE INTO uploads (id, json, next, open, granted) VALUES (?, ?, ?, ?, ?)",
          rid, json, at, open, granted,
        );
    }
    if (evict > 0) {
      // The ledger's rule (MAX_UPLOADS): completed ones first, then the oldest.
      sql.exec(
        "DELETE FROM uploads WHERE id IN (SELECT id FROM uploads ORDER BY open, granted LIMIT ?)",
        evict,
      );
    }
    const first = sql.exec("SELECT MIN(next) AS at FROM uploads").one().at;
    const wake = first === null ? next : next === null ? first * 1000 : Math.min(next, first * 1000);
    return [reply, wake, due];
  }

  // `this.alarmAt` caches the alarm's time (the object is its only writer); `undefined` until
  // read, reset when the alarm runs.
  async schedule(next) {
    if (next === null) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > next) {
      await this.storage.setAlarm(next);
      this.alarmAt = next;
    }
  }

  // A failure answers 500 (`failed`): the worker then refuses the grant (ledger_unavailable).
  async fetch(request) {
    try {
      const [reply, next] = this.step(await request.text());
      await this.schedule(next);
      return new Response(reply, { headers: { "content-type": "application/json" } });
    } catch (e) {
      return failed(e);
    }
  }

  // A failure is thrown again, so that the runtime retries the alarm.
  async alarm() {
    this.alarmAt = null;
    try {
      let [, next, due] = this.step(null);
      if (due !== null) {
        // Stale multipart uploads (MULTIPART_CLEANUP_GRACE) aborted at the store and webhooks
        // delivered (WEBHOOK_URL), then their outcomes recorded in the book. Calls that come
        // meanwhile see them still waiting, which only errs on the safe side.
        const calls = JSON.parse(await imports.run_due(this.env, due, Date.now()));
        for (const call of calls) [, next] = this.step(JSON.stringify(call));
      }
      await this.schedule(next);
    } catch (e) {
      failed(e);
      throw e;
    }
  }
}
