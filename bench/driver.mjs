// Helper of scripts/bench.sh (`make bench`); plain Node, no dependencies. Subcommands:
//
//   port                      a free TCP port on 127.0.0.1
//   binding NAME              a text binding of bench/workerd/env.capnp (the workers' env)
//   issuer KEYS CAPNP         makes the keys of the bench identity provider with node:crypto (an
//                             ES256 P-256 and an RS256 RSA-2048 key pair): private keys into the
//                             file KEYS (mode 600), the public JWK set next to CAPNP, and CAPNP
//                             itself: bench/workerd/ours.capnp with env.capnp's bindings plus
//                             ISSUERS=bench, ISSUER_BENCH_* (JWKS inline)
//   token [ALG]               a JWT for subject "alice", valid one hour: HS256 (default) signed
//                             with env.capnp's JWT_SECRET, or ES256/RS256 signed with the bench
//                             issuer's key (file named by $BENCH_ISSUER_KEYS), with its kid, iss
//                             and aud (node:crypto, independent of every worker)
//   wait URL TIMEOUT_MS [PID] polls URL until any HTTP answer (gives up if PID has exited)
//   ledger CAPNP              writes CAPNP: bench/workerd/ours.capnp with env.capnp's bindings
//                             plus a budget (QUOTA_BYTES_PER_DAY = 10^15, never reached) kept in
//                             the Ledger Durable Object (binding LEDGER, SQL storage on the disk
//                             service ledger-disk, whose directory workerd gets on its command
//                             line: --directory-path ledger-disk=DIR)
//   check NAME URL S3PORT DIR [ALG [USAGE]]
//                             asks the worker at URL for an upload URL with an ALG token (as
//                             `token`), checks the answer's shape and signature parameters, then
//                             PUTs to s3s-fs on S3PORT (data in DIR): the exact body must be stored
//                             (200, file of the right size), another content type or another size
//                             must be refused (403); with ES256/RS256 the same token with one
//                             signature byte changed must be refused (401); USAGE `ledger`: GET
//                             /v1/usage with the same token must show the grant counted (bytes
//                             used ≥ the body's size), `none`: must show no ledger (used null)
//   startup ROUNDS NAME=CAPNP...  spawn of `workerd serve CAPNP` → first answer, ROUNDS times
//   firstreq ROUNDS NAME=CAPNP... spawn → accepting → 10 full-job requests in a row, ROUNDS
//                             times: spawn → first answer, the first and the tenth request's own
//                             latency
//   report OUTDIR             prints the table of a run from OUTDIR's files
//   variant DIR               writes DIR/ours.capnp: bench/workerd/ours.capnp (env.capnp's
//                             bindings) serving DIR/worker/shim.mjs and DIR/worker/index.wasm, a
//                             build of the worker copied there (for `ab` and `firstreq`)
//   ab SECONDS ROUNDS NAME=CAPNP...
//                             A/B of builds: ROUNDS rounds interleaving them; in each, for each
//                             CAPNP a fresh `workerd serve CAPNP`, 2 s of warm-up, then `wrk
//                             -t2 -c32 -dSECONDS` of the full job (HS256, every answer must be
//                             2xx); prints each build's median req/s and CPU per request
//                             (workerd's user + system time ÷ requests) with the rounds' range
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const BODY = { filename: "photo.jpg", content_type: "image/jpeg", size: 123456 };

function die(msg) {
  console.error(`[bench] ${msg}`);
  process.exit(1);
}

function binding(name) {
  const text = fs.readFileSync(path.join(HERE, "workerd/env.capnp"), "utf8");
  const m = new RegExp(`\\(name = "${name}", text = "([^"]*)"\\)`).exec(text);
  if (!m) die(`no binding ${name} in bench/workerd/env.capnp`);
  return m[1];
}

const b64u = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

function token(sub = "alice", ttl = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: "HS256", typ: "JWT" })}.${b64u({ sub, iat: now, exp: now + ttl })}`;
  const sig = createHmac("sha256", binding("JWT_SECRET")).update(input).digest("base64url");
  return `${input}.${sig}`;
}

// The identity provider of the public-key targets: its JWK set is inline in the worker's
// bindings (ISSUER_BENCH_JWKS), so verifying never touches the network.
const ISSUER = { name: "bench", iss: "https://idp.bench.invalid", audience: "presign-bench" };
// alg → how node:crypto makes the key pair and signs (ES256 signatures are r‖s, RFC 7518 §3.4).
const PK_ALGS = {
  ES256: { type: "ec", options: { namedCurve: "P-256" }, signOptions: { dsaEncoding: "ieee-p1363" } },
  RS256: { type: "rsa", options: { modulusLength: 2048 }, signOptions: {} },
};

function issuerKeys() {
  const file = process.env.BENCH_ISSUER_KEYS;
  if (!file) die("BENCH_ISSUER_KEYS is not set (the file written by `issuer`)");
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

// A token of the bench issuer signed with its ALG key; `tamper` changes one signature byte.
function pkToken(alg, { sub = "alice", ttl = 3600, tamper = false } = {}) {
  const k = issuerKeys()[alg];
  if (!PK_ALGS[alg] || !k) die(`no bench issuer key for ${alg}`);
  const now = Math.floor(Date.now() / 1000);
  const input =
    `${b64u({ alg, typ: "JWT", kid: k.kid })}.` +
    b64u({ iss: ISSUER.iss, aud: ISSUER.audience, sub, iat: now, exp: now + ttl });
  const sig = sign("sha256", Buffer.from(input), { key: k.pem, ...PK_ALGS[alg].signOptions });
  if (tamper) sig[sig.length >> 1] ^= 0x01;
  return `${input}.${sig.toString("base64url")}`;
}

function tokenFor(alg = "HS256", opts = {}) {
  if (alg === "HS256") return token();
  return pkToken(alg, opts);
}

// Writes the keys and the worker config of the public-key targets (see the usage above).
function issuer(keysFile, capnpFile) {
  const outDir = path.dirname(path.resolve(capnpFile));
  const jwksFile = path.join(outDir, path.basename(capnpFile, ".capnp") + ".jwks.json");
  const keys = [];
  const secret = {};
  for (const [alg, spec] of Object.entries(PK_ALGS)) {
    const pair = generateKeyPairSync(spec.type, spec.options);
    const kid = `bench-${alg.toLowerCase()}`;
    keys.push({ ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
    secret[alg] = { kid, pem: pair.privateKey.export({ format: "pem", type: "pkcs8" }) };
  }
  fs.writeFileSync(keysFile, JSON.stringify(secret), { mode: 0o600 });
  // Self-test: the exported JWK verifies what the private key signs, so a refusal by the worker
  // is the worker's.
  process.env.BENCH_ISSUER_KEYS = keysFile;
  for (const [i, alg] of Object.keys(PK_ALGS).entries()) {
    const [input, sig] = ((t) => [t.slice(0, t.lastIndexOf(".")), t.slice(t.lastIndexOf(".") + 1)])(pkToken(alg));
    const pub = createPublicKey({ key: keys[i], format: "jwk" });
    const ok = verify("sha256", Buffer.from(input), { key: pub, ...PK_ALGS[alg].signOptions }, Buffer.from(sig, "base64url"));
    if (!ok) die(`issuer: node:crypto does not verify its own ${alg} token with the exported JWK`);
  }
  fs.writeFileSync(jwksFile, JSON.stringify({ keys }));

  const extra = [
    `(name = "ISSUERS", text = "${ISSUER.name}")`,
    `(name = "ISSUER_BENCH_ISS", text = "${ISSUER.iss}")`,
    `(name = "ISSUER_BENCH_JWKS", text = embed "${path.basename(jwksFile)}")`,
    `(name = "ISSUER_BENCH_AUDIENCE", text = "${ISSUER.audience}")`,
    `(name = "ISSUER_BENCH_ALGORITHMS", text = "${Object.keys(PK_ALGS).join(",")}")`,
  ];
  const header =
    `# Generated by \`node bench/driver.mjs issuer\` (scripts/bench.sh) from bench/workerd/ours.capnp and\n` +
    `# env.capnp: presign-worker with the benchmark's bindings plus the identity provider "${ISSUER.name}"\n` +
    `# (ES256 and RS256 keys made for this run; public JWK set inline from ${path.basename(jwksFile)};\n` +
    `# the private keys are deleted at the end of the run).\n` +
    `# Run by hand: node_modules/.bin/workerd serve ${path.relative(ROOT, capnpFile)} --socket-addr http=127.0.0.1:8080\n`;
  derivedConfig(capnpFile, {
    what: "issuer",
    fileId: "@0xc4a1f3e2b7d95a08",
    header,
    bindings: extra,
    ownEmbed: (p) => p.endsWith(".jwks.json"),
  });
}

// The budget of the ledger target: so large that no request of a run is refused (a grant of the
// bench's body reserves 123,456 bytes: 8 billion grants a day), so the row measures what
// counting costs, not refusals.
const LEDGER_QUOTA = 1e15;
// The disk service of the ledger target's Durable Object storage; its directory is given on
// workerd's command line (`--directory-path ledger-disk=DIR`, a fresh one per run).
const LEDGER_DISK = "ledger-disk";

// Writes the worker config of the budget target (see the usage above).
function ledger(capnpFile) {
  const header =
    `# Generated by \`node bench/driver.mjs ledger\` (scripts/bench.sh) from bench/workerd/ours.capnp and\n` +
    `# env.capnp: presign-worker with the benchmark's bindings plus a budget (QUOTA_BYTES_PER_DAY,\n` +
    `# too large to refuse anything) kept in the Ledger Durable Object (binding LEDGER, SQLite storage\n` +
    `# on local disk: the directory of the service ${LEDGER_DISK}, a fresh one per run).\n` +
    `# Run by hand: node_modules/.bin/workerd serve ${path.relative(ROOT, capnpFile)} \\\n` +
    `#   --directory-path ${LEDGER_DISK}=$(mktemp -d) --socket-addr http=127.0.0.1:8080\n`;
  derivedConfig(capnpFile, {
    what: "ledger",
    fileId: "@0xc4a1f3e2b7d95a09",
    header,
    bindings: [
      `(name = "QUOTA_BYTES_PER_DAY", text = "${LEDGER_QUOTA}")`,
      `(name = "LEDGER", durableObjectNamespace = (className = "Ledger"))`,
    ],
    services: [`(name = "${LEDGER_DISK}", disk = (writable = true))`],
    // The class is exported by the entry module (src/shim.js); enableSql as wrangler.toml's
    // new_sqlite_classes migration (the class uses ctx.storage.sql).
    worker: [
      `durableObjectNamespaces = [(className = "Ledger", uniqueKey = "presign-bench-ledger", enableSql = true)],`,
      `durableObjectStorage = (localDisk = "${LEDGER_DISK}"),`,
    ],
  });
}

// Writes CAPNP: bench/workerd/ours.capnp (same modules, date, flags) with env.capnp's bindings
// copied verbatim and `bindings` appended (capnp cannot concatenate two lists), `services`
// appended to the config's and `worker` (lines) to the worker's fields. Embeds keep pointing at
// the same files (relative to CAPNP's directory), except those `ownEmbed` says lie next to it.
function derivedConfig(capnpFile, { what, fileId, header, bindings = [], services = [], worker = [], ownEmbed = () => false }) {
  const outDir = path.dirname(path.resolve(capnpFile));
  const ours = fs.readFileSync(path.join(HERE, "workerd/ours.capnp"), "utf8");
  const env = fs.readFileSync(path.join(HERE, "workerd/env.capnp"), "utf8");
  const list = /const bindings :List\(Workerd\.Worker\.Binding\) = \[\n([\s\S]*?)\n\];/.exec(env);
  if (!list) die(`${what}: no bindings list in bench/workerd/env.capnp`);
  const once = (text, re, by, thing) => {
    const n = (text.match(new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g")) || []).length;
    if (n !== 1) die(`${what}: expected one ${thing} in bench/workerd/ours.capnp, found ${n}`);
    return text.replace(re, by);
  };
  let c = ours;
  c = once(c, /^(#.*\n)+/, "", "header comment");
  c = once(c, /^@0x[0-9a-f]+;$/m, `${fileId};`, "file id");
  c = once(c, /^using Env = import "env\.capnp";\n/m, "", "import of env.capnp");
  c = once(
    c,
    /^( *)services = \[(.*)\],$/m,
    (_, ind, items) => `${ind}services = [${[items, ...services].join(", ")}],`,
    "services = [...] line",
  );
  c = once(
    c,
    /^( *)bindings = Env\.bindings,$/m,
    (_, ind) => {
      const items = [...list[1].split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")), ...bindings.map((b) => `${b},`)];
      return `${ind}bindings = [\n${items.map((b) => `${ind}  ${b}`).join("\n")}\n${ind}],` + worker.map((l) => `\n${ind}${l}`).join("");
    },
    "bindings = Env.bindings",
  );
  // embed paths are relative to the file that names them.
  c = c.replace(/embed "([^"]+)"/g, (m, p) =>
    ownEmbed(p) ? m : `embed "${path.relative(outDir, path.resolve(HERE, "workerd", p))}"`,
  );
  fs.writeFileSync(capnpFile, header + c);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One HTTP request; resolves {status, headers, body} (body as a string). A body is sent with
// `Expect: 100-continue` (after the interim answer, or after 1 s without one, as curl does), so
// that a store refusing a PUT before reading it answers instead of resetting a half-sent body.
function request(url, { method = "GET", headers = {}, body, connectPort } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      {
        host: "127.0.0.1",
        port: connectPort ?? u.port,
        path: u.pathname + u.search,
        method,
        // With connectPort the request goes to 127.0.0.1:connectPort but keeps the URL's Host
        // (what was signed), like curl --connect-to.
        headers: { host: u.host, ...(body ? { expect: "100-continue" } : {}), ...headers },
        timeout: 5000,
      },
      (res) => {
        answered = true;
        clearTimeout(fallback);
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() });
          req.destroy();
        });
      },
    );
    let sent = false;
    const send = () => {
      if (!sent && !answered) {
        sent = true;
        req.end(body);
      }
    };
    const fallback = body ? setTimeout(send, 1000) : null;
    req.on("continue", () => {
      clearTimeout(fallback);
      send();
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => {
      clearTimeout(fallback);
      if (!answered) reject(e);
    });
    if (!body) req.end();
  });
}

async function wait(url, timeoutMs, pid) {
  const deadline = Date.now() + Number(timeoutMs);
  const alive = () => {
    if (!pid) return true;
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch {
      return false;
    }
  };
  while (Date.now() < deadline) {
    if (!alive()) die(`process ${pid} exited before ${url} answered`);
    try {
      await request(url);
      console.log(Date.now());
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  die(`${url} did not answer within ${timeoutMs} ms`);
}

async function check(name, workerUrl, s3Port, dataDir, alg = "HS256", usage = "") {
  const problems = [];
  const expect = (ok, what) => {
    if (!ok) problems.push(what);
  };
  const started = Math.floor(Date.now() / 1000);
  const res = await request(new URL("/v1/uploads", workerUrl).href, {
    method: "POST",
    headers: { authorization: `Bearer ${tokenFor(alg)}`, "content-type": "application/json" },
    body: JSON.stringify(BODY),
  });
  if (res.status !== 200) die(`${name}: POST /v1/uploads answered ${res.status}: ${res.body}`);
  expect(/^application\/json/.test(res.headers["content-type"] || ""), "content-type application/json");
  let j;
  try {
    j = JSON.parse(res.body);
  } catch {
    die(`${name}: the answer is not JSON: ${res.body}`);
  }
  const endpoint = binding("TARGET_UPLOADS_ENDPOINT");
  expect(j.method === "PUT", "method PUT");
  expect(j.bucket === "uploads" && j.target === "uploads", "bucket and target 'uploads'");
  // The public-key worker accepts HMAC tokens too: several issuers, so each one's keys are under
  // its name (`bench/`, the issuer of the public-key tokens).
  const issuerPrefix = alg === "HS256" ? "" : "bench\\/";
  const keyShape = new RegExp(`^${issuerPrefix}alice\\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\/photo\\.jpg$`);
  expect(keyShape.test(j.key), `key ${alg === "HS256" ? "" : "bench/"}alice/<uuid v4>/photo.jpg`);
  const h = j.headers || {};
  expect(
    Object.keys(h).length === 2 && h["content-type"] === "image/jpeg" && h["content-length"] === "123456",
    "headers exactly {content-length: 123456, content-type: image/jpeg}",
  );
  expect(Number.isInteger(j.expires_in) && j.expires_in > 0 && j.expires_in <= 300, "expires_in in 1..300");
  const expAt = Date.parse(j.expires_at) / 1000;
  expect(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(j.expires_at) && Math.abs(expAt - (started + j.expires_in)) <= 5,
    "expires_at = now + expires_in (ISO 8601, Z)",
  );
  const url = new URL(j.url);
  const q = url.searchParams;
  expect(j.url.startsWith(`${endpoint}/uploads/`) && url.pathname === `/uploads/${j.key}`, "path-style URL endpoint/uploads/key");
  expect(q.get("X-Amz-Algorithm") === "AWS4-HMAC-SHA256", "X-Amz-Algorithm");
  expect(/^BENCHACCESSKEY\/\d{8}\/us-east-1\/s3\/aws4_request$/.test(q.get("X-Amz-Credential") || ""), "X-Amz-Credential");
  expect(/^\d{8}T\d{6}Z$/.test(q.get("X-Amz-Date") || ""), "X-Amz-Date");
  expect(q.get("X-Amz-Expires") === String(j.expires_in), "X-Amz-Expires = expires_in");
  expect(q.get("X-Amz-SignedHeaders") === "content-length;content-type;host", "X-Amz-SignedHeaders = content-length;content-type;host");
  expect(/^[0-9a-f]{64}$/.test(q.get("X-Amz-Signature") || ""), "X-Amz-Signature");
  const extra = [...q.keys()].filter((k) => !k.startsWith("X-Amz-") || /checksum/i.test(k));

  // The store's verdict: s3s-fs verifies the signature, the signed headers and the expiry.
  const put = (headers, body) => request(j.url, { method: "PUT", headers, body, connectPort: s3Port });
  const bytes = Buffer.alloc(BODY.size, 0x61);
  const ok = await put({ "content-type": "image/jpeg", "content-length": String(BODY.size) }, bytes);
  expect(ok.status === 200, `PUT with the signed headers stored (got ${ok.status} ${ok.body.slice(0, 200)})`);
  let stored = -1;
  try {
    stored = fs.statSync(path.join(dataDir, "uploads", j.key)).size;
  } catch {}
  expect(stored === BODY.size, `object on disk with ${BODY.size} bytes (got ${stored})`);
  const otherType = await put({ "content-type": "text/html", "content-length": String(BODY.size) }, bytes);
  expect(otherType.status === 403, `PUT with another content-type refused (got ${otherType.status})`);
  const short = bytes.subarray(1);
  const otherSize = await put({ "content-type": "image/jpeg", "content-length": String(short.length) }, short);
  expect(otherSize.status === 403, `PUT with another size refused (got ${otherSize.status})`);

  // A public-key token must really be verified: one changed signature byte is refused.
  if (alg !== "HS256") {
    const bad = await request(new URL("/v1/uploads", workerUrl).href, {
      method: "POST",
      headers: { authorization: `Bearer ${tokenFor(alg, { tamper: true })}`, "content-type": "application/json" },
      body: JSON.stringify(BODY),
    });
    expect(bad.status === 401, `${alg} token with a changed signature byte refused with 401 (got ${bad.status} ${bad.body.slice(0, 200)})`);
  }

  // Whether the grant went through the ledger: GET /v1/usage with the same token shows it
  // counted (`ledger`: at least this check's bytes; the bench's other requests come later), or
  // shows no ledger at all (`none`: the same worker without a budget calls no Durable Object).
  let usageAnswer;
  if (usage) {
    const u = await request(new URL("/v1/usage", workerUrl).href, { headers: { authorization: `Bearer ${tokenFor(alg)}` } });
    try {
      usageAnswer = JSON.parse(u.body);
    } catch {
      usageAnswer = null;
    }
    expect(u.status === 200 && usageAnswer, `GET /v1/usage answered 200 with JSON (got ${u.status} ${u.body.slice(0, 200)})`);
    const used = usageAnswer?.used;
    if (usage === "ledger") {
      expect(usageAnswer?.limits?.bytes_per_day === LEDGER_QUOTA, `GET /v1/usage: limits.bytes_per_day ${LEDGER_QUOTA}`);
      expect(Number.isInteger(used?.bytes_day) && used.bytes_day >= BODY.size, `GET /v1/usage: used.bytes_day ≥ ${BODY.size} (the grant was counted)`);
      expect(Number.isInteger(used?.grants_hour) && used.grants_hour >= 1, "GET /v1/usage: used.grants_hour ≥ 1");
    } else {
      expect(used === null, `GET /v1/usage: used is null (no ledger; got ${JSON.stringify(used)})`);
    }
  }

  const result = { name, alg, ok: problems.length === 0, problems, extra_query: extra, usage: usageAnswer, example: j };
  console.log(JSON.stringify(result));
  if (problems.length) die(`${name}: ${problems.join("; ")}`);
}

// `workerd serve CAPNP` on 127.0.0.1:PORT: the child, a promise of its exit, and its stderr so far.
async function serveWorkerd(workerd, capnp, port) {
  const { spawn } = await import("node:child_process");
  let log = "";
  const child = spawn(workerd, ["serve", capnp, "--socket-addr", `http=127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return { child, exited, log: () => log };
}

// Start-up: spawns `workerd serve CAPNP` for each name=capnp pair, ROUNDS times, interleaved,
// and times spawn → first HTTP answer (any status) on GET /healthz, polling every millisecond;
// each workerd is stopped before the next starts. Prints {name: {median_ms, min_ms, max_ms,
// samples}}. (Node 20's V8 cannot compile our module: it lacks wasm GC types and exnref, which
// workerd's V8 has; so compile and instantiate are measured in workerd, with the probes.)
async function startup(rounds, pairs) {
  const workerd = path.join(ROOT, "node_modules/.bin/workerd");
  let child = null;
  const stop = () => child && child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  const samples = Object.fromEntries(pairs.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, capnp] of pairs) {
      const port = await freePort();
      const t0 = performance.now();
      const served = await serveWorkerd(workerd, capnp, port);
      child = served.child;
      const { exited } = served;
      let ms = null;
      while (performance.now() - t0 < 20000 && child.exitCode === null) {
        try {
          await request(`http://127.0.0.1:${port}/healthz`);
          ms = performance.now() - t0;
          break;
        } catch {
          await new Promise((res) => setTimeout(res, 1));
        }
      }
      child.kill("SIGTERM");
      const timer = setTimeout(stop, 5000);
      await exited;
      clearTimeout(timer);
      child = null;
      if (ms === null) die(`workerd serve ${capnp} did not answer: ${served.log().slice(0, 500)}`);
      samples[name].push(ms);
    }
  }
  const out = {};
  for (const [name, xs] of Object.entries(samples)) {
    const s = [...xs].sort((a, b) => a - b);
    out[name] = { median_ms: s[Math.floor(s.length / 2)], min_ms: s[0], max_ms: s[s.length - 1], samples: s.length };
  }
  console.log(JSON.stringify(out));
}

// One timed request on a new connection, without `Expect: 100-continue` (unlike `request`):
// the milliseconds from the call to the end of the answer, and its status.
function timedRequest(port, { method = "GET", path: p = "/healthz", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: p,
        method,
        agent: false,
        headers: { ...headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) },
        timeout: 10000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ ms: performance.now() - t0, status: res.statusCode }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

// CPU time a process has used so far, in ms: all its threads (from /proc/PID/task/*/schedstat,
// nanoseconds; threads that already exited are not counted), and its main thread alone.
function cpuMs(pid) {
  let all = 0;
  let main = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        all += ns / 1e6;
        if (tid === String(pid)) main = ns / 1e6;
      } catch {}
    }
  } catch {}
  return { all, main };
}

// Resolves once 127.0.0.1:port accepts a TCP connection (closed at once, nothing sent).
function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

// The first request: spawns `workerd serve CAPNP` for each name=capnp pair, ROUNDS times,
// interleaved; waits until its socket accepts connections (polled every millisecond with a bare
// TCP connect: workerd listens once the worker is loaded and its top level evaluated), then
// sends REQUESTS full-job requests one after the other, each on a new connection (POST
// /v1/uploads with an HS256 token, as wrk's job), and times each. Prints {name: {spawn_ms
// (spawn → first answer), listen_ms (spawn → accepting), first_ms, tenth_ms (the first and the
// last request's own latency), extra_ms (first − tenth), each the median of the rounds with
// min/max, statuses}}.
async function firstRequest(rounds, pairs, requests = 10) {
  const workerd = path.join(ROOT, "node_modules/.bin/workerd");
  const job = {
    method: "POST",
    path: "/v1/uploads",
    headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" },
    body: JSON.stringify(BODY),
  };
  let child = null;
  const stop = () => child && child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  const keys = ["spawn_ms", "listen_ms", "first_ms", "tenth_ms", "extra_ms", "cpu_listen_ms", "cpu_first_ms", "cpu_main_to_first_ms", "cpu_first_main_ms", "cpu_tenth_main_ms"];
  const samples = Object.fromEntries(pairs.map(([n]) => [n, Object.fromEntries(keys.map((k) => [k, []]))]));
  const statuses = Object.fromEntries(pairs.map(([n]) => [n, new Set()]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, capnp] of pairs) {
      const port = await freePort();
      const t0 = performance.now();
      const served = await serveWorkerd(workerd, capnp, port);
      child = served.child;
      const { exited } = served;
      let listen = null;
      while (performance.now() - t0 < 20000 && child.exitCode === null) {
        if (await accepts(port)) {
          listen = performance.now() - t0;
          break;
        }
        await new Promise((res) => setTimeout(res, 1));
      }
      const times = [];
      const cpu = [];
      let first = null;
      if (listen !== null) {
        cpu.push(cpuMs(child.pid));
        for (let i = 0; i < requests; i++) {
          const res = await timedRequest(port, job);
          if (i === 0) first = performance.now() - t0;
          cpu.push(cpuMs(child.pid));
          times.push(res.ms);
          statuses[name].add(res.status);
        }
      }
      child.kill("SIGTERM");
      const timer = setTimeout(stop, 5000);
      await exited;
      clearTimeout(timer);
      child = null;
      if (listen === null) die(`workerd serve ${capnp} did not listen: ${served.log().slice(0, 500)}`);
      const s = samples[name];
      s.spawn_ms.push(first);
      s.listen_ms.push(listen);
      s.first_ms.push(times[0]);
      s.tenth_ms.push(times[times.length - 1]);
      s.extra_ms.push(times[0] - times[times.length - 1]);
      // CPU of workerd (all threads) up to accepting and up to the first answer; of its main
      // thread during the first and during the tenth request.
      s.cpu_listen_ms.push(cpu[0].all);
      s.cpu_first_ms.push(cpu[1].all);
      s.cpu_main_to_first_ms.push(cpu[1].main);
      s.cpu_first_main_ms.push(cpu[1].main - cpu[0].main);
      s.cpu_tenth_main_ms.push(cpu[cpu.length - 1].main - cpu[cpu.length - 2].main);
    }
  }
  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
  };
  const out = {};
  for (const [name, s] of Object.entries(samples)) {
    out[name] = { samples: rounds, requests, statuses: [...statuses[name]].sort() };
    for (const k of keys) out[name][k] = stat(s[k]);
  }
  console.log(JSON.stringify(out));
}

// ---- report -------------------------------------------------------------------------------

const read = (dir, f) => {
  try {
    return fs.readFileSync(path.join(dir, f), "utf8");
  } catch {
    return null;
  }
};
const readJson = (dir, f) => {
  const t = read(dir, f);
  return t === null ? null : JSON.parse(t);
};
// The runs of one target (files wrk-NAME-ROUND.log): {median (the run with the median req/s),
// runs: [...]}; each run has its `round` and, when scripts/bench.sh measured it, `cpu_us`: the
// CPU time of the workerd process serving the target over the run ÷ the run's requests.
function wrkResult(dir, name) {
  const runs = [];
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  for (const f of fs.readdirSync(dir).sort()) {
    const round = new RegExp(`^wrk-${esc}-(\\d+)\\.log$`).exec(f);
    if (!round) continue;
    const text = read(dir, f);
    const m = /^WRK (\{.*\})$/m.exec(text);
    if (!m) continue;
    const run = { ...JSON.parse(m[1]), round: Number(round[1]) };
    const c = /^CPU (\{.*\})$/m.exec(text);
    if (c) {
      const { ticks, hz, machine_busy: busy, machine_idle: idle } = JSON.parse(c[1]);
      if (run.requests > 0 && hz > 0) run.cpu_us = (ticks / hz / run.requests) * 1e6;
      if (busy + idle > 0) run.machine_busy = busy / (busy + idle);
    }
    runs.push(run);
  }
  if (!runs.length) return null;
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], runs: sorted };
}
function sizes(files) {
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const b = fs.readFileSync(path.join(ROOT, f));
    raw += b.length;
    gz += zlib.gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
}
// Cores that wrk and workerd share (see the table's notes on the extra cost per request).
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const ms = (us) => `${(us / 1000).toFixed(2)} ms`;
const num = (x) => Math.round(x).toLocaleString("en-US");
const x2 = (r) => `${r.toFixed(2)}×`;
const verdict = (ok) => (ok ? "met" : "**not met**");
function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (e) {
    // `wrk --version` prints its version and exits 1.
    return (e.stdout || "").trim() || "?";
  }
}

function report(dir) {
  const meta = readJson(dir, "meta.json") || {};
  const rows = [];
  const row = (figure, value, comparison, producedBy) => rows.push([figure, value, comparison, producedBy]);
  const nativeCmd = (b) => `\`cargo bench --bench ${b} -- ${meta.criterion_args || ""}\` (criterion medians, same run)`;

  // Native.
  const results = [];
  for (const b of ["sigv4", "jwt"]) {
    for (const line of (read(dir, `native-${b}.log`) || "").split("\n")) {
      if (line.startsWith("RESULT ")) results.push([b, line.slice(7)]);
    }
  }
  const RE = /^(\S+): (\S+) median ([\d.]+) µs, (\S+) median ([\d.]+) µs, ratio ([\d.]+)x faster$/;
  const label = { presign_put: "presign a PUT (2 signed headers)", hs256_verify: "verify an HS256 JWT (~300 B)" };
  if (results.length === 0) row("native", "no RESULT lines", "see native-*.log", nativeCmd("sigv4|jwt"));
  for (const [b, r] of results) {
    const m = RE.exec(r);
    if (m) {
      const [, group, ours, a, base, c, ratio] = m;
      row(`native: ${label[group] || group}, ${ours}`, `${a} µs`, `${ratio}× faster than ${base} (${c} µs)`, nativeCmd(b));
    } else {
      row(`native (${b})`, r, "", nativeCmd(b));
    }
  }

  // Runtime.
  const ours = wrkResult(dir, "ours");
  const es = wrkResult(dir, "ours-es256");
  const rs = wrkResult(dir, "ours-rs256");
  const a4f = wrkResult(dir, "aws4fetch");
  const sdk = wrkResult(dir, "sdk");
  const rmin = wrkResult(dir, "rust-min");
  const hz = wrkResult(dir, "healthz");
  const floor = wrkResult(dir, "floor");
  const budget = wrkResult(dir, "ours-budget");
  const ours1 = wrkResult(dir, "ours-c1");
  const budget1 = wrkResult(dir, "ours-budget-c1");
  const targets = [ours, budget, es, rs, a4f, sdk, rmin, hz, floor, ours1, budget1];
  const measured = targets.filter(Boolean).length;
  const busy = targets.flatMap((w) => (w ? w.runs : [])).map((r) => r.machine_busy).filter((b) => b !== undefined);
  const pct = (f) => `${(f * 100).toFixed(0)} %`;
  const busyRange = !busy.length
    ? ""
    : pct(Math.min(...busy)) === pct(Math.max(...busy))
      ? pct(busy[0])
      : `${pct(Math.min(...busy))}–${pct(Math.max(...busy))}`;
  const wrkCmd =
    `\`wrk -t${meta.threads} -c${meta.connections} -d${meta.duration}s --latency -s bench/wrk/job.lua\` ` +
    `against \`workerd serve bench/workerd/NAME.capnp\` on 127.0.0.1, after a ${meta.warmup} s warm-up; ` +
    `${meta.rounds} rounds interleaving the ${measured} targets, the median round shown`;
  const fig = (w) => {
    if (!w) return "not measured";
    const range = w.runs.length > 1 ? ` (${num(w.runs[0].rps)}–${num(w.runs[w.runs.length - 1].rps)})` : "";
    const bad = w.runs.reduce((n, r) => n + r.errors.status, 0);
    const cpu = w.cpu_us === undefined ? "" : ` · CPU ${w.cpu_us.toFixed(0)} µs/req`;
    return `**${num(w.rps)} req/s**${range} · p50 ${ms(w.p50_us)} · p99 ${ms(w.p99_us)}${cpu}` + (bad ? ` · ${bad} non-2xx!` : "");
  };
  // What a public-key token costs over an HS256 one: the difference of workerd's measured CPU
  // per request, and as a cross-check per round (the targets of a round ran minutes apart at
  // most) 1/rps − 1/rps_HS256, the median of the rounds.
  const sign = (v) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(0);
  const extra = (w, base = ours, baseName = "HS256 full job") => {
    if (!w || !base) return "";
    const per = w.runs
      .map((x) => [x, base.runs.find((o) => o.round === x.round)])
      .filter(([, o]) => o)
      .map(([x, o]) => (1 / x.rps - 1 / o.rps) * 1e6)
      .sort((a, b) => a - b);
    if (!per.length) return "";
    const med = per[Math.floor((per.length - 1) / 2)];
    const range = per.length > 1 ? ` (rounds ${sign(per[0])}…${sign(per[per.length - 1])})` : "";
    const cpu =
      w.cpu_us !== undefined && base.cpu_us !== undefined
        ? ` · extra **${sign(w.cpu_us - base.cpu_us)} µs of workerd CPU per request**`
        : "";
    return `÷ ${baseName}: ${x2(w.rps / base.rps)}${cpu} · 1/rps ${sign(med)} µs${range}`;
  };
  // The budget row against the same job without: also the median latency, both rounds' p50.
  const budgetExtra = (w) => {
    if (!w || !ours) return "";
    return (
      `${extra(w, ours, "the same job without a budget")} · ` +
      `p50 ${ms(ours.p50_us)} → ${ms(w.p50_us)} (**${sign(w.p50_us - ours.p50_us)} µs**)`
    );
  };
  const ratio = (a, b, goal) => (a && b ? `ours ÷ this: ${x2(a.rps / b.rps)} (goal ≥ ${goal}×: ${verdict(a.rps / b.rps >= goal)})` : "");
  row("workerd: full job, presign-worker (Rust/wasm)", fig(ours), "", `${wrkCmd}; POST /v1/uploads with an HS256 token`);
  row(
    "workerd: full job with a budget (Durable Object ledger, one subject)",
    fig(budget),
    budgetExtra(budget),
    "same; the same request and token (`sub` alice: one subject, so one object serialises every grant, a single user's worst case), " +
      "served by bench/out/ours-ledger.capnp (generated: ours.capnp + env.capnp's bindings + QUOTA_BYTES_PER_DAY = 10^15, never reached, " +
      "and LEDGER: class Ledger, enableSql, localDisk storage in a fresh temporary directory); checked: 200 with a signed URL, " +
      "then GET /v1/usage with the token shows the grant counted",
  );
  // The same two targets' differences within each round (p50 latency; CPU when measured): the
  // rounds' own pairs, since the median rounds of the two may differ.
  const perRound = (w, base) => {
    const pairs = w.runs
      .map((x) => [x, base.runs.find((o) => o.round === x.round)])
      .filter(([, o]) => o)
      .sort(([a], [b]) => a.round - b.round);
    if (pairs.length < 2) return "";
    const each = pairs.map(([x, o]) => {
      const cpu = x.cpu_us !== undefined && o.cpu_us !== undefined ? ` / ${sign(x.cpu_us - o.cpu_us)}` : "";
      return `${sign(x.p50_us - o.p50_us)}${cpu}`;
    });
    return ` (per round, p50 / CPU µs: ${each.join(", ")})`;
  };
  // One connection: each request alone, so the p50 difference is the ledger's round trip.
  const alone = (a, b) => {
    if (!a || !b) return "not measured";
    const cpu = a.cpu_us !== undefined && b.cpu_us !== undefined ? ` · CPU ${a.cpu_us.toFixed(0)} → ${b.cpu_us.toFixed(0)} µs/req` : "";
    const bad = [...a.runs, ...b.runs].reduce((n, r) => n + r.errors.status, 0);
    return `p50 **${ms(a.p50_us)} → ${ms(b.p50_us)}** · ${num(a.rps)} → ${num(b.rps)} req/s${cpu}` + (bad ? ` · ${bad} non-2xx!` : "");
  };
  row(
    "workerd: full job at one connection, without → with the budget",
    alone(ours1, budget1),
    ours1 && budget1
      ? `the ledger's round trip: **${sign(budget1.p50_us - ours1.p50_us)} µs of latency**` +
        (ours1.cpu_us !== undefined && budget1.cpu_us !== undefined ? `, ${sign(budget1.cpu_us - ours1.cpu_us)} µs of CPU per request` : "") +
        perRound(budget1, ours1)
      : "",
    `\`wrk -t1 -c1 -d${meta.duration}s --latency\`, in the same rounds; the two targets above (their workerd processes) with one request at a time`,
  );
  const jwksCmd = (alg, key) =>
    `same; POST /v1/uploads with an ${alg} token (${key}, kid, iss, aud) made by node:crypto, served by bench/out/ours-jwks.capnp ` +
    "(generated: ours.capnp + env.capnp's bindings + issuer `bench` with its JWK set inline in ISSUER_BENCH_JWKS, no network), verified with crypto.subtle";
  row("workerd: full job, ES256 token (WebCrypto)", fig(es), extra(es), jwksCmd("ES256", "P-256, r‖s signature"));
  row("workerd: full job, RS256 token (WebCrypto)", fig(rs), extra(rs), jwksCmd("RS256", "RSA 2048, e = 65537"));
  // CPU per request above the floor's (what the runtime costs any worker) of ours and of `w`:
  // [ours, w], or null when one of the three was not measured.
  const aboveFloor = (w) =>
    ours && w && floor && [ours, w, floor].every((x) => x.cpu_us !== undefined)
      ? [ours.cpu_us - floor.cpu_us, w.cpu_us - floor.cpu_us]
      : null;
  const aboveFloorText = ([o, a]) => ` · CPU above the floor's: ours ${o.toFixed(0)} µs, this ${a.toFixed(0)} µs`;
  // #18: the full job at 2× aws4fetch + jose's rate, and our CPU above the floor's at most 0.25×
  // of theirs.
  const vsA4f = aboveFloor(a4f);
  const a4fFloor = vsA4f
    ? `${aboveFloorText(vsA4f)}, ${x2(vsA4f[0] / vsA4f[1])} (goal ≤ 0.25×: ${verdict(vsA4f[0] / vsA4f[1] <= 0.25)})`
    : "";
  row("workerd: full job, aws4fetch + jose", fig(a4f), ratio(ours, a4f, 2) + a4fFloor, "same; bench/workers/aws4fetch");
  row("workerd: full job, @aws-sdk/s3-request-presigner + jose", fig(sdk), ratio(ours, sdk, 3), "same; bench/workers/sdk");
  // No goal: the least a Rust/wasm worker pays for the job, to read ours against.
  const vsMin =
    ours && rmin
      ? `ours ÷ this: ${x2(ours.rps / rmin.rps)}` +
        (aboveFloor(rmin) ? aboveFloorText(aboveFloor(rmin)) : "") +
        (a4f ? ` · this ÷ aws4fetch + jose: ${x2(rmin.rps / a4f.rps)}` : "")
      : "";
  row(
    "workerd: full job, rust-min (the least Rust/wasm worker for the job; no goal)",
    fig(rmin),
    vsMin,
    "same; bench/rust-min (wasm-bindgen only, one call into the wasm per request, HS256 only, no other routes or settings)",
  );
  row(
    "workerd: GET /healthz, presign-worker (ceiling)",
    fig(hz),
    ours && hz ? `full job ÷ this: ${x2(ours.rps / hz.rps)} (goal ≥ 0.75×: ${verdict(ours.rps / hz.rps >= 0.75)})` : "",
    "same, GET /healthz",
  );
  row(
    "workerd: POST floor, plain JavaScript (read the body, log, fixed JSON)",
    fig(floor),
    floor && hz
      ? `÷ /healthz: ${x2(floor.rps / hz.rps)} (the most any full job could reach against the 0.75× goal)` +
        (ours ? ` · our full job ÷ this: ${x2(ours.rps / floor.rps)}` : "")
      : "",
    "same; bench/workers/floor (no token check, policy or signing), the full job's request",
  );

  // Sizes of exactly what workerd served.
  const oursFiles = ["build/worker/index.wasm", "build/worker/shim.mjs"];
  const so = sizes(oursFiles);
  const wasmOnly = sizes(["build/worker/index.wasm"]);
  row(
    "bundle: presign-worker (wasm + JS)",
    `${kib(so.raw)} raw · ${kib(so.gz)} gzipped (wasm ${kib(wasmOnly.gz)})`,
    "tracked, no goal of its own (#18: start-up, measured below, is what users feel)",
    "gzip -9 (node zlib) of build/worker/index.wasm + shim.mjs (scripts/build.sh, worker-build --release with src/shim.js)",
  );
  for (const [n, l, files, how] of [
    ["aws4fetch", "aws4fetch + jose", ["worker.js"], "`wrangler deploy --dry-run --minify`"],
    ["sdk", "@aws-sdk + jose", ["worker.js"], "`wrangler deploy --dry-run --minify`"],
    ["rust-min", "rust-min", ["index.wasm", "shim.mjs"], "scripts/bench.sh: cargo, wasm-bindgen, wasm-opt -Oz, esbuild"],
  ]) {
    const fl = files.map((f) => `bench/dist/${n}/${f}`);
    const s = fl.every((f) => fs.existsSync(path.join(ROOT, f))) ? sizes(fl) : null;
    row(
      `bundle: ${l}`,
      s ? `${kib(s.raw)} raw · ${kib(s.gz)} gzipped` : "missing",
      s ? `presign-worker ÷ this (gzipped): ${x2(so.gz / s.gz)}` : "",
      `gzip -9 of ${fl.join(" + ")} (${how})`,
    );
  }

  // Start-up, in workerd.
  const su = readJson(dir, "startup.json");
  if (su) {
    const m = (n) => su[n]?.median_ms;
    const f = (v) => (v === undefined ? "?" : `${v.toFixed(1)} ms`);
    const d = (a, b) => (m(a) === undefined || m(b) === undefined ? "?" : `${(m(a) - m(b)).toFixed(1)} ms`);
    const runs = su.none?.samples ?? "?";
    const spread = su.none ? `${su.none.min_ms.toFixed(1)}–${su.none.max_ms.toFixed(1)} ms` : "?";
    row(
      "workerd: compile + instantiate presign-worker's wasm",
      `${d("instantiate", "none")} (compile alone ${d("compile", "none")})`,
      `trivial worker ${f(m("none"))} (runs ${spread}) → with our module compiled ${f(m("compile"))} → and instantiated ${f(m("instantiate"))}`,
      `differences of median spawn → first answer times of bench/workerd/probe-{none,compile,instantiate}.capnp, ${runs} runs each, interleaved (a difference below the runs' spread is noise)`,
    );
    row(
      "workerd: start → first answer",
      `presign-worker ${f(m("ours"))}`,
      `aws4fetch + jose ${f(m("aws4fetch"))} · @aws-sdk + jose ${f(m("sdk"))} · trivial JS worker ${f(m("none"))}`,
      `spawn of \`workerd serve bench/workerd/NAME.capnp\` to the first answer to GET /healthz (config, module compile and evaluation, first request incl. per-isolate setup), median of ${runs}`,
    );
  }

  // The first requests of a fresh workerd (driver.mjs firstreq).
  const fr = readJson(dir, "firstreq.json");
  if (fr) {
    const med = (n, k) => fr[n]?.[k]?.median;
    const f = (v) => (v === undefined ? "?" : `${v.toFixed(1)} ms`);
    const runs = fr.ours?.samples ?? "?";
    const names = [["aws4fetch", "aws4fetch + jose"], ["sdk", "@aws-sdk + jose"], ["rust-min", "rust-min"], ["floor", "floor"]];
    const spawnGoal =
      med("ours", "spawn_ms") !== undefined && med("aws4fetch", "spawn_ms") !== undefined
        ? ` (ours ÷ aws4fetch + jose: ${x2(med("ours", "spawn_ms") / med("aws4fetch", "spawn_ms"))}, goal ≤ 1×: ${verdict(med("ours", "spawn_ms") <= med("aws4fetch", "spawn_ms"))}` +
          (med("rust-min", "spawn_ms") !== undefined
            ? `; ours ÷ rust-min: ${x2(med("ours", "spawn_ms") / med("rust-min", "spawn_ms"))}, rust-min ÷ aws4fetch + jose: ${x2(med("rust-min", "spawn_ms") / med("aws4fetch", "spawn_ms"))}`
            : "") +
          ")"
        : "";
    const spawnOf = (n) =>
      `${f(med(n, "spawn_ms"))} (accepting after ${f(med(n, "listen_ms"))}; workerd CPU ${f(med(n, "cpu_first_ms"))}, ${f(med(n, "cpu_listen_ms"))} of it before accepting)`;
    row(
      "workerd: first request (full job), spawn → first answer",
      `presign-worker ${spawnOf("ours")}`,
      names.map(([n, l]) => `${l} ${spawnOf(n)}`).join(" · ") + spawnGoal,
      `\`driver.mjs firstreq\`: spawn of \`workerd serve bench/workerd/NAME.capnp\` → its socket accepts a connection (the worker loaded and its top level evaluated; polled every ms) → POST /v1/uploads with an HS256 token, on a new connection, to its answer; median of ${runs} runs, interleaved. CPU: all workerd threads (/proc/PID/task/*/schedstat), less sensitive to other load than the wall-clock times`,
    );
    const lat = (n) =>
      fr[n]
        ? `first ${f(med(n, "first_ms"))}, tenth ${f(med(n, "tenth_ms"))}, first − tenth ${f(med(n, "extra_ms"))} ` +
          `(main-thread CPU ${f(med(n, "cpu_first_main_ms"))} / ${f(med(n, "cpu_tenth_main_ms"))})`
        : "?";
    const extra = med("ours", "extra_ms");
    row(
      "workerd: first request's own latency against the tenth's",
      `presign-worker ${lat("ours")}`,
      `goal first ≤ tenth + 2 ms: ${extra === undefined ? "?" : verdict(extra <= 2)} · ` + names.map(([n, l]) => `${l} ${lat(n)}`).join(" · "),
      `same runs: ten full-job requests one after the other, each on a new connection, timed from the call to the end of the answer; first − tenth is the median of the runs' differences; CPU: workerd's main thread during the first / the tenth request`,
    );
  }

  const cpu = (fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m) || [])[1] || "?";
  const lines = [];
  lines.push(
    `${meta.date || new Date().toISOString()} · ${os.cpus().length} cores (nproc ${sh("nproc", [])}) · ${cpu} · ` +
      `workerd ${sh(path.join(ROOT, "node_modules/.bin/workerd"), ["--version"]).replace(/^workerd /, "")} · ` +
      `${sh("wrk", ["--version"]).split("\n")[0].split(" [")[0]} · Node ${process.version}`,
  );
  lines.push("");
  lines.push("| figure | value | comparison (goal) | produced by |");
  lines.push("| --- | --- | --- | --- |");
  for (const r of rows) lines.push(`| ${r.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`);
  lines.push(
    "",
    "req/s: the median of the rounds (their range in brackets). p50/p99: wrk's latency percentiles of that round; " +
      "wrk 4 corrects them for coordinated omission (a reply slower than twice the mean interval also counts the requests it held up), " +
      "so p99 mostly shows stalls: the machine has 2 cores for wrk, workerd and anything else running. " +
      "CPU µs/req: user + system time of the workerd process serving the target (all its threads, from /proc/PID/stat) over the round ÷ its requests.",
    "",
    "Extra cost of a public-key token: the difference of the workerd CPU µs/req figures of that target and of the HS256 full job " +
      "(the same worker code but the signature check). Cross-check: 1/rps − 1/rps(HS256) per round, the median of the rounds shown; " +
      "it matches when workerd's event-loop thread is the bottleneck" +
      (busyRange
        ? ` (the machine was busy ${busyRange} of the time during the measured runs, ` +
          (Math.max(...busy) < 0.9 ? "so not saturated)" : "so at times saturated: then the CPU figures are the better guide)")
        : "") +
      " and is noisier.",
  );
  if (budget) {
    lines.push(
      "",
      "Budget row: the same worker, request and token as the HS256 full job, with QUOTA_BYTES_PER_DAY set, so every grant first " +
        "reserves its size in the subject's Ledger Durable Object (one call from the worker to the object, which reads its SQLite row, " +
        "steps the book in wasm and writes it back) in the same workerd process, whose CPU µs/req therefore includes the object's work. " +
        "All requests carry one `sub`, so one object takes them one at a time: under wrk's connections the p50 is mostly the wait " +
        "for that object (about connections ÷ req/s), the worst case of a single user; requests of different subjects go to " +
        "different objects. workerd's local-disk SQLite is not Cloudflare's storage: the round trip on the edge differs.",
    );
  }
  if (meta.rustc_running) {
    const busy = meta.rustc_running.filter((n) => Number(n) > 0).length;
    lines.push(
      "",
      `Other load: rustc was running during ${busy} of ${meta.rustc_running.length} measured runs; load average at the end ${meta.load_average}.`,
    );
  }
  console.log(lines.join("\n"));
}

// ---- A/B of builds ------------------------------------------------------------------------

// DIR/ours.capnp serving the build in DIR/worker (see the header).
function variant(dir) {
  const abs = path.resolve(dir);
  for (const f of ["worker/shim.mjs", "worker/index.wasm"]) {
    if (!fs.existsSync(path.join(abs, f))) die(`variant: no ${f} in ${abs}`);
  }
  // A capnp file id: 64 random bits, the highest set.
  const id = `@0x${(BigInt(`0x${randomBytes(8).toString("hex")}`) | (1n << 63n)).toString(16)}`;
  derivedConfig(path.join(abs, "ours.capnp"), {
    what: "variant",
    fileId: id,
    header: `# Generated by \`node bench/driver.mjs variant ${dir}\`: the build in worker/.\n`,
  });
  let c = fs.readFileSync(path.join(abs, "ours.capnp"), "utf8");
  c = c.replace(/embed "[^"]*build\/worker\/(shim\.mjs|index\.wasm)"/g, (_, f) => `embed "worker/${f}"`);
  fs.writeFileSync(path.join(abs, "ours.capnp"), c);
}

// Clock ticks per second of /proc/PID/stat's times.
let clockTicks;

// CPU time (user + system) of a process so far, in ms, from /proc/PID/stat.
function statCpuMs(pid) {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

// A/B of builds (see the header). Each measurement gets a workerd of its own, started for it
// and stopped after it: two workerd processes serving the same build can differ by several µs
// per request for as long as they live (where V8 placed and how it tiered their code), so a
// fresh process per round makes that a spread between rounds rather than a bias of one build.
// The rounds alternate the builds' order (forwards, then backwards).
async function ab(seconds, rounds, pairs) {
  const workerd = path.join(ROOT, "node_modules/.bin/workerd");
  let child = null;
  const stop = () => child && child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  const env = { ...process.env, BENCH_TOKEN: token() };
  const wrk = (port, secs) => {
    const out = execFileSync(
      "wrk",
      ["-t2", "-c32", `-d${secs}s`, "--timeout", "5s", "-s", path.join(HERE, "wrk/job.lua"), `http://127.0.0.1:${port}/v1/uploads`],
      { env, encoding: "utf8" },
    );
    const line = out.split("\n").find((l) => l.startsWith("WRK "));
    if (!line) die(`ab: no WRK line from wrk: ${out.slice(0, 300)}`);
    const r = JSON.parse(line.slice(4));
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (errors) die(`ab: ${errors} errors or non-2xx answers: ${line}`);
    return r;
  };
  const samples = Object.fromEntries(pairs.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, capnp] of r % 2 ? [...pairs].reverse() : pairs) {
      const port = await freePort();
      const served = await serveWorkerd(workerd, capnp, port);
      child = served.child;
      const t0 = Date.now();
      for (;;) {
        if (child.exitCode !== null || Date.now() - t0 > 20000) die(`ab: ${capnp} did not answer: ${served.log().slice(0, 500)}`);
        try {
          await request(`http://127.0.0.1:${port}/healthz`);
          break;
        } catch {
          await new Promise((res) => setTimeout(res, 10));
        }
      }
      wrk(port, 2);
      const before = statCpuMs(child.pid);
      const res = wrk(port, seconds);
      const cpu = statCpuMs(child.pid) - before;
      samples[name].push({ rps: res.rps, cpu_us: (cpu * 1000) / res.requests });
      child.kill("SIGTERM");
      await served.exited;
      child = null;
    }
  }
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
  const out = {};
  for (const [name, xs] of Object.entries(samples)) {
    const cpu = sorted(xs.map((x) => x.cpu_us));
    out[name] = {
      rps: Math.round(median(xs.map((x) => x.rps))),
      cpu_us: Number(median(cpu).toFixed(1)),
      cpu_us_min: Number(cpu[0].toFixed(1)),
      cpu_us_max: Number(cpu[cpu.length - 1].toFixed(1)),
      rounds: xs.map((x) => `${Math.round(x.rps)} req/s ${x.cpu_us.toFixed(1)} µs`),
    };
  }
  console.log(JSON.stringify(out, null, 1));
}

process.on("uncaughtException", (e) => die(`${process.argv[2]}: ${e.stack || e}`));
const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case "port":
    console.log(await freePort());
    break;
  case "binding":
    console.log(binding(args[0]));
    break;
  case "issuer":
    issuer(args[0], args[1]);
    break;
  case "ledger":
    ledger(args[0]);
    break;
  case "token":
    console.log(tokenFor(args[0]));
    break;
  case "wait":
    await wait(args[0], args[1] ?? 10000, args[2]);
    break;
  case "check":
    await check(args[0], args[1], Number(args[2]), args[3], args[4], args[5]);
    break;
  case "startup":
    await startup(Number(args[0]), args.slice(1).map((a) => a.split("=")));
    break;
  case "firstreq":
    await firstRequest(Number(args[0]), args.slice(1).map((a) => a.split("=")));
    break;
  case "report":
    report(args[0]);
    break;
  case "variant":
    variant(args[0]);
    break;
  case "ab":
    await ab(Number(args[0]), Number(args[1]), args.slice(2).map((a) => a.split("=")));
    break;
  default:
    die(`usage: node bench/driver.mjs port|binding|issuer|ledger|token|wait|check|startup|firstreq|report|variant|ab ...`);
}
