// CPU profile of a worker under load, by function (self time), from workerd's inspector.
//
//   node_modules/.bin/workerd serve bench/workerd/ours.capnp \
//     --socket-addr http=127.0.0.1:8080 --inspector-addr=127.0.0.1:9229 &
//   BENCH_TOKEN=$(node bench/driver.mjs token) wrk -t2 -c32 -d10s -s bench/wrk/job.lua \
//     http://127.0.0.1:8080/v1/uploads &
//   node bench/profile.mjs 9229 6 profile.cpuprofile
//
// Samples every 50 µs for SECONDS, writes the raw profile (open it in Chrome DevTools) and
// prints the 40 functions with the most self time. Wasm function names need a build that keeps
// the name section: `strip = false` in [profile.release] and wasm-opt `["-Oz", "-g"]`.
import fs from "node:fs";
import WebSocket from "../node_modules/ws/index.js";

const [port = "9229", seconds = "6", out = "profile.cpuprofile"] = process.argv.slice(2);
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
let nextId = 0;
const pending = new Map();
ws.on("message", (m) => {
  const msg = JSON.parse(m);
  if (pending.has(msg.id)) {
    pending.get(msg.id)(msg.result ?? msg.error);
    pending.delete(msg.id);
  }
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
await new Promise((resolve) => ws.on("open", resolve));
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 50 });
await call("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { profile } = await call("Profiler.stop");
ws.close();
fs.writeFileSync(out, JSON.stringify(profile));

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of profile.samples) {
  const f = nodes.get(id).callFrame;
  const name = f.functionName || `(${f.url.split("/").pop() || "native"}:${f.lineNumber})`;
  self.set(name, (self.get(name) ?? 0) + 1);
}
const total = profile.samples.length;
console.log(`${total} samples; self time by function (written: ${out})`);
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${name.slice(0, 120)}`);
}
