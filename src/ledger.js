// JavaScript helper of src/durable.rs (imported by its `extern` block; wasm-bindgen bundles this
// file with the glue): one call to the subject's Durable Object through the LEDGER binding.

// POSTs `body` (a ledger call, JSON) to the object named `name`; resolves to its answer's text,
// rejects when there is no binding, the object cannot be reached or it answers other than 200.
export function ledgerCall(env, name, body) {
  const ns = env.LEDGER;
  if (!ns) {
    return Promise.reject(new Error("no Durable Object binding LEDGER (see wrangler.toml)"));
  }
  return ns
    .get(ns.idFromName(name))
    .fetch("https://ledger.invalid/", { method: "POST", body })
    .then((r) => (r.status === 200 ? r.text() : Promise.reject(new Error(`HTTP status ${r.status}`))));
}
