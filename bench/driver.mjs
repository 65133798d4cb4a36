// Helper of scripts/bench.sh (`make bench`); plain Node, no dependencies. Subcommands:
//
//   port                      a free TCP port on 127.0.0.1
//   binding NAME              a text binding of bench/workerd/env.capnp (the workers' env)
//   token                     an HS256 JWT for subject "alice", valid one hour, signed with
//                             env.capnp's JWT_SECRET (node:crypto, independent of every worker)
//   wait URL TIMEOUT_MS [PID] polls URL until any HTTP answer (gives up if PID has exited)
//   check NAME URL S3PORT DIR asks the worker at URL for an upload URL, checks the answer's shape
//                             and signature parameters, then PUTs to s3s-fs on S3PORT (data in
//                             DIR): the exact body must be stored (200, file of the right size),
//                             another content type or another size must be refused (403)
//   startup ROUNDS NAME=CAPNP...  spawn of `workerd serve CAPNP` → first answer, ROUNDS times
//   report OUTDIR             prints the table of a run from OUTDIR's files
import { createHmac } from "node:crypto";
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

function token(sub = "alice", ttl = 3600) {
  const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, iat: now, exp: now + ttl })}`;
  const sig = createHmac("sha256", binding("JWT_SECRET")).update(input).digest("base64url");
  return `${input}.${sig}`;
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

async function check(name, workerUrl, s3Port, dataDir) {
  const problems = [];
  const expect = (ok, what) => {
    if (!ok) problems.push(what);
  };
  const started = Math.floor(Date.now() / 1000);
  const res = await request(new URL("/v1/uploads", workerUrl).href, {
    method: "POST",
    headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" },
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
  expect(/^alice\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\/photo\.jpg$/.test(j.key), "key alice/<uuid v4>/photo.jpg");
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

  const result = { name, ok: problems.length === 0, problems, extra_query: extra, example: j };
  console.log(JSON.stringify(result));
  if (problems.length) die(`${name}: ${problems.join("; ")}`);
}

// Start-up: spawns `workerd serve CAPNP` for each name=capnp pair, ROUNDS times, interleaved,
// and times spawn → first HTTP answer (any status) on GET /healthz, polling every millisecond;
// each workerd is stopped before the next starts. Prints {name: {median_ms, min_ms, max_ms,
// samples}}. (Node 20's V8 cannot compile our module: it lacks wasm GC types and exnref, which
// workerd's V8 has; so compile and instantiate are measured in workerd, with the probes.)
async function startup(rounds, pairs) {
  const { spawn } = await import("node:child_process");
  const workerd = path.join(ROOT, "node_modules/.bin/workerd");
  let child = null;
  const stop = () => child && child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  const samples = Object.fromEntries(pairs.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, capnp] of pairs) {
      const port = await freePort();
      let log = "";
      const t0 = performance.now();
      child = spawn(workerd, ["serve", capnp, "--socket-addr", `http=127.0.0.1:${port}`], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr.on("data", (d) => (log += d));
      const exited = new Promise((resolve) => child.once("exit", resolve));
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
      if (ms === null) die(`workerd serve ${capnp} did not answer: ${log.slice(0, 500)}`);
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
// The runs of one target: {median (the run with the median req/s), runs: [...]}.
function wrkResult(dir, name) {
  const runs = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith(`wrk-${name}-`)).sort()) {
    const m = /^WRK (\{.*\})$/m.exec(read(dir, f));
    if (m) runs.push(JSON.parse(m[1]));
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
  const wrkCmd =
    `\`wrk -t${meta.threads} -c${meta.connections} -d${meta.duration}s --latency -s bench/wrk/job.lua\` ` +
    `against \`workerd serve bench/workerd/NAME.capnp\` on 127.0.0.1, after a ${meta.warmup} s warm-up; ` +
    `${meta.rounds} rounds interleaving the four targets, the median round shown`;
  const ours = wrkResult(dir, "ours");
  const a4f = wrkResult(dir, "aws4fetch");
  const sdk = wrkResult(dir, "sdk");
  const hz = wrkResult(dir, "healthz");
  const fig = (w) => {
    if (!w) return "not measured";
    const range = w.runs.length > 1 ? ` (${num(w.runs[0].rps)}–${num(w.runs[w.runs.length - 1].rps)})` : "";
    const bad = w.runs.reduce((n, r) => n + r.errors.status, 0);
    return `**${num(w.rps)} req/s**${range} · p50 ${ms(w.p50_us)} · p99 ${ms(w.p99_us)}` + (bad ? ` · ${bad} non-2xx!` : "");
  };
  const ratio = (a, b, goal) => (a && b ? `ours ÷ this: ${x2(a.rps / b.rps)} (goal ≥ ${goal}×: ${verdict(a.rps / b.rps >= goal)})` : "");
  row("workerd: full job, presign-worker (Rust/wasm)", fig(ours), "", `${wrkCmd}; POST /v1/uploads`);
  row("workerd: full job, aws4fetch + jose", fig(a4f), ratio(ours, a4f, 1.5), "same; bench/workers/aws4fetch");
  row("workerd: full job, @aws-sdk/s3-request-presigner + jose", fig(sdk), ratio(ours, sdk, 3), "same; bench/workers/sdk");
  row(
    "workerd: GET /healthz, presign-worker (ceiling)",
    fig(hz),
    ours && hz ? `full job ÷ this: ${x2(ours.rps / hz.rps)} (goal ≥ 0.75×: ${verdict(ours.rps / hz.rps >= 0.75)})` : "",
    "same, GET /healthz",
  );

  // Sizes of exactly what workerd served.
  const oursFiles = ["build/index_bg.wasm", "build/index.js", "build/worker/shim.mjs"];
  const so = sizes(oursFiles);
  const wasmOnly = sizes(["build/index_bg.wasm"]);
  row(
    "bundle: presign-worker (wasm + JS)",
    `${kib(so.raw)} raw · ${kib(so.gz)} gzipped (wasm ${kib(wasmOnly.gz)})`,
    `goal < 80 KiB gzipped: ${verdict(so.gz < 80 * 1024)}`,
    "gzip -9 (node zlib) of build/index_bg.wasm + index.js + worker/shim.mjs (scripts/build.sh, worker-build --release)",
  );
  for (const [n, l] of [["aws4fetch", "aws4fetch + jose"], ["sdk", "@aws-sdk + jose"]]) {
    const f = `bench/dist/${n}/worker.js`;
    const s = fs.existsSync(path.join(ROOT, f)) ? sizes([f]) : null;
    row(
      `bundle: ${l}`,
      s ? `${kib(s.raw)} raw · ${kib(s.gz)} gzipped` : "missing",
      s ? `presign-worker ÷ this (gzipped): ${x2(so.gz / s.gz)}` : "",
      `gzip -9 of ${f} (\`wrangler deploy --dry-run --minify\`)`,
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
      "so p99 mostly shows stalls: the machine has 2 cores for wrk, workerd and anything else running.",
  );
  if (meta.rustc_running) {
    const busy = meta.rustc_running.filter((n) => Number(n) > 0).length;
    lines.push(
      "",
      `Other load: rustc was running during ${busy} of ${meta.rustc_running.length} measured runs; load average at the end ${meta.load_average}.`,
    );
  }
  console.log(lines.join("\n"));
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
  case "token":
    console.log(token());
    break;
  case "wait":
    await wait(args[0], args[1] ?? 10000, args[2]);
    break;
  case "check":
    await check(args[0], args[1], Number(args[2]), args[3]);
    break;
  case "startup":
    await startup(Number(args[0]), args.slice(1).map((a) => a.split("=")));
    break;
  case "report":
    report(args[0]);
    break;
  default:
    die(`usage: node bench/driver.mjs port|binding|token|wait|check|startup|report ...`);
}
