// The latency of the worker-run multipart requests under `make dev` (wrangler dev + s3s-fs):
// N uploads of one 1 KiB part in a row, each as Uppy makes it (sign the create, POST the
// worker's create URL, sign and PUT the part at the store, sign the complete, POST the worker's
// complete URL), timed with Node's `fetch` on one machine. Prints the median, p90 and minimum of
// `/v1/sign`, `POST /v1/multipart/create` (one CreateMultipartUpload at the store) and
// `POST /v1/multipart/complete` (ListParts, CompleteMultipartUpload, then the completion check:
// HeadObject and a ranged GET).
//
//   make dev                      # in another shell; it prints TOKEN=...
//   TOKEN=... node bench/multipart-latency.mjs [N]     # N = 40 by default
//
// WORKER (default http://127.0.0.1:8787) points it elsewhere. Every upload must succeed, and
// each completed object must be the part sent: the script fails otherwise.
const worker = process.env.WORKER ?? "http://127.0.0.1:8787";
const token = process.env.TOKEN;
const n = Number(process.argv[2] ?? 40);
if (!token) {
  console.error("TOKEN is not set: `make dev` prints one (TOKEN=...)");
  process.exit(2);
}

async function timed(label, url, init) {
  const started = performance.now();
  const r = await fetch(url, init);
  const body = await r.text();
  const ms = performance.now() - started;
  if (!r.ok) throw new Error(`${label}: ${r.status} ${body}`);
  return { ms, body };
}

async function sign(request) {
  const { ms, body } = await timed("/v1/sign", `${worker}/v1/sign`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  return { ms, grant: JSON.parse(body) };
}

function send(label, grant, body) {
  return timed(label, grant.url, { method: grant.method, headers: grant.headers, body });
}

const xml = (text, tag) => text.match(new RegExp(`<${tag}>([^<]*)</${tag}>`))?.[1];
const times = { sign: [], create: [], complete: [] };
const part = new Uint8Array(1024).map((_, i) => (i * 31 + 7) & 0xff);
for (let i = 0; i < n; i++) {
  const name = `latency-${Date.now()}-${i}.bin`;
  const created = await sign({
    method: "POST",
    key: name,
    size: part.length,
    contentType: "application/octet-stream",
  });
  times.sign.push(created.ms);
  const c = await send("create", created.grant, "");
  times.create.push(c.ms);
  const uploadId = xml(c.body, "UploadId");
  const key = created.grant.key;
  const p = await sign({ method: "PUT", key, uploadId, partNumber: 1 });
  times.sign.push(p.ms);
  await send("part", p.grant, part);
  const done = await sign({ method: "POST", key, uploadId });
  times.sign.push(done.ms);
  const d = await send("complete", done.grant, "");
  times.complete.push(d.ms);
  if (xml(d.body, "Key") === undefined) throw new Error(`complete: no Key in ${d.body}`);
  const got = await sign({ method: "GET", key });
  const r = await fetch(got.grant.url);
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (bytes.length !== part.length || bytes.some((b, j) => b !== part[j])) {
    throw new Error(`${key}: the stored object is not the part sent`);
  }
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
console.log(`${n} uploads of one 1 KiB part against ${worker}`);
for (const [what, xs] of Object.entries(times)) {
  const f = (x) => x.toFixed(1);
  console.log(
    `${what.padEnd(9)} p50 ${f(quantile(xs, 0.5))} ms  p90 ${f(quantile(xs, 0.9))} ms  ` +
      `min ${f(Math.min(...xs))} ms  (${xs.length} requests)`,
  );
}
