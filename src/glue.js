// JavaScript helpers of src/adapter.rs (imported by its `extern` block; wasm-bindgen bundles
// this file with the glue). One call instead of one per header.

// Writes the request's log line, then builds the Response: `headers` is "name\nvalue\n…"
// (header names and values never hold a line feed), `body` a view of the wasm memory, copied.
export function logAndBuildResponse(status, headers, body, line) {
  console.log(line);
  const h = new Headers();
  if (headers) {
    const parts = headers.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) h.set(parts[i], parts[i + 1]);
  }
  return new Response(body.length ? body.slice() : null, { status, headers: h });
}

// The body of `message` (a Request or a Response) as an ArrayBuffer, read through a counter:
// `undefined` once more than `limit` bytes have come, whatever the message declared. Past the
// limit nothing is kept: up to `drain` more bytes are read and dropped (so that a body a little
// too large ends normally: `wrangler dev`'s proxy fails the next request of a connection whose
// request body was cut short), then the rest is cancelled. No body: an empty buffer.
export async function readLimited(message, limit, drain) {
  const stream = message.body;
  if (stream === null) return new ArrayBuffer(0);
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit + drain) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    if (size <= limit) chunks.push(value);
  }
  if (size > limit) return undefined;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out.buffer;
}
