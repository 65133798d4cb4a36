// JavaScript helpers of src/adapter.rs (imported by its `extern` block; wasm-bindgen bundles
// this file with the glue). One call instead of one per header.

// workerd loads its console's formatting code at an isolate's first console call: 2 to 3 ms
// that the first request's client would wait for (README.md, start-up). So the isolate's first
// lines (the warnings of building the service, then the first request's log line) are written
// once that request's answer is on its way, in its `waitUntil`: src/shim.js calls
// `holdFirstLine(ctx)` before `respond` and `holdFirstLine(null)` after it, until they are
// written. When the first answer waits for the network, they are written with it, at once.
let firstLine = true;
let firstCtx = null;
const held = [];

// The `ctx` of the request being answered (or `null`); whether the first lines are still due.
export function holdFirstLine(ctx) {
  firstCtx = firstLine ? ctx : null;
  return firstLine;
}

function write([error, line]) {
  if (error) console.error(line);
  else console.warn(line);
}

// A line of building the service (a warning, or an error when the configuration is invalid),
// logged by the first request.
export function startupLine(error, line) {
  if (firstLine) held.push([error, line]);
  else write([error, line]);
}

// Whether log lines are dropped: only while src/shim.js answers its warm-up request.
let muted = false;
export function muteLines(on) {
  muted = on;
}

// Writes the request's log line, then builds the Response: `headers` is "name\nvalue\n…"
// (header names and values never hold a line feed), `body` a view of the wasm memory, copied.
export function logAndBuildResponse(status, headers, body, line) {
  if (muted) {
    // The warm-up request of src/shim.js: no line.
  } else if (!firstLine) {
    console.log(line);
  } else {
    firstLine = false;
    const lines = held.splice(0);
    const writeAll = () => {
      lines.forEach(write);
      console.log(line);
    };
    if (firstCtx) {
      firstCtx.waitUntil(
        new Promise((written) =>
          setTimeout(() => {
            writeAll();
            written();
          }, 0),
        ),
      );
      firstCtx = null;
    } else {
      writeAll();
    }
  }
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
