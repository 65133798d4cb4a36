// The worker's entry module: worker-build bundles it (as CUSTOM_SHIM, see scripts/build.sh)
// with wasm-bindgen's glue into build/worker/shim.mjs, next to build/worker/index.wasm.
//
// It does only what is cheaper in JavaScript than through Rust futures: reading the request
// body. Everything else (routing, limits, the answer, the log line) is `respond` in
// src/adapter.rs, called synchronously; it returns a Response, or a Promise of one when the
// core has to wait for the network (an identity provider's keys, WebCrypto). Measured with
// workerd, awaiting the body here instead of in Rust saves about 14 µs of CPU per request.
import * as imports from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

let exports;
// Counts instances, so that Durable Objects notice a new one (see `Ledger` below).
let generation = 0;

function instantiate() {
  const instance = new WebAssembly.Instance(wasmModule, {
    "./index_bg.js": imports,
    $SNIPPET_WASM_IMPORTS
  });
  imports.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  exports = instance.exports;
  generation += 1;
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

function answer(request, body, env, ctx) {
  try {
    const out = imports.respond(request, body, env, ctx);
    return out instanceof Promise ? out.catch(failed) : out;
  } catch (e) {
    return failed(e);
  }
}

// The most body bytes taken (MAX_BODY_BYTES; 0 when the configuration is invalid), asked once
// per isolate: the configuration never changes within one.
let limit;

export default {
  fetch(request, env, ctx) {
    const method = request.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
      return answer(request, null, env, ctx);
    }
    try {
      limit ??= imports.body_limit(env);
    } catch (e) {
      return failed(e);
    }
    // Declared over the limit, or unreadable: `undefined`, and the answer is 413 (`respond`
    // measures what was read against the same limit before copying it).
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      return answer(request, undefined, env, ctx);
    }
    return request.arrayBuffer().then(
      (buf) => answer(request, buf, env, ctx),
      () => answer(request, undefined, env, ctx),
    );
  },
};

// The upload ledger's Durable Object class (src/durable.rs), bound as LEDGER in wrangler.toml.
// Its Rust object lives in the wasm instance's memory: after a trap replaced the instance (see
// `failed`), it is made again from the same state, which is all in the object's storage. A trap
// answers the worker's call with the 500 of `failed` (the worker then refuses the grant).
export class Ledger {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  inner() {
    if (this.made !== generation) {
      this.rust = new imports.Ledger(this.state, this.env);
      this.made = generation;
    }
    return this.rust;
  }

  fetch(request) {
    try {
      return this.inner().fetch(request).catch(failed);
    } catch (e) {
      return failed(e);
    }
  }

  async alarm() {
    try {
      return await this.inner().alarm();
    } catch (e) {
      // Logged and the instance renewed; thrown again so that the runtime retries the alarm.
      failed(e);
      throw e;
    }
  }
}
