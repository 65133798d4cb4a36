// JavaScript helpers of src/adapter.rs (imported by its `extern` block; wasm-bindgen bundles
// this file with the glue). One call instead of one per header.

// Writes the request's log line, then builds the Response: `headers` is "name\nvalue\n…"
// (header names and values never hold a line feed), `body` a view of the wasm memory, copied.
export function answer(status, headers, body, line) {
  console.log(line);
  const h = new Headers();
  if (headers) {
    const parts = headers.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) h.set(parts[i], parts[i + 1]);
  }
  return new Response(body.length ? body.slice() : null, { status, headers: h });
}
