// Entry module of the `rust-min` baseline (see Cargo.toml): wasm-bindgen's glue (`--target
// web`) instantiated with the module workerd gives for index.wasm, the configuration handed to
// the wasm at module evaluation, then one call into it per POST /v1/uploads. It writes one log
// line per request like presign-worker and the floor.
import { env } from "cloudflare:workers";
import wasmModule from "./index.wasm";
import { initSync, prepare, handle } from "./rust_min.js";

initSync({ module: wasmModule });
const target = (env.TARGETS || "uploads").split(",")[0].trim();
const T = `TARGET_${target.toUpperCase()}_`;
const problem = prepare(
  env.JWT_SECRET || "",
  env.S3_ACCESS_KEY_ID || "",
  env.S3_SECRET_ACCESS_KEY || "",
  env[T + "ENDPOINT"] || "",
  env[T + "BUCKET"] || "",
  env[T + "REGION"] || "",
  target,
  env.ALLOWED_CONTENT_TYPES || "",
  env.MAX_UPLOAD_SIZE || "",
  env.URL_TTL || "",
  env.JWT_LEEWAY || "",
);

function json(status, body) {
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

function error(status, code, message) {
  return json(status, JSON.stringify({ error: { code, message } }));
}

export default {
  async fetch(request) {
    const started = Date.now();
    const url = new URL(request.url);
    let res;
    if (problem) res = error(500, "not_configured", problem);
    else if (url.pathname !== "/v1/uploads") res = error(404, "not_found", "no such route");
    else if (request.method !== "POST") res = error(405, "method_not_allowed", "use POST");
    else {
      const body = new Uint8Array(await request.arrayBuffer());
      const out = handle(
        request.headers.get("authorization") || "",
        request.headers.get("content-type") || "",
        body,
        Math.floor(Date.now() / 1000),
        crypto.randomUUID(),
      );
      res = json(Number(out.slice(0, 3)), out.slice(3));
    }
    console.log(
      JSON.stringify({ method: request.method, route: url.pathname, status: res.status, duration_ms: Date.now() - started, error: null }),
    );
    return res;
  },
};
