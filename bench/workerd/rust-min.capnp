# The rust-min baseline (bench/rust-min: the full job in about the least Rust a worker can run),
# as scripts/bench.sh builds it into bench/dist/rust-min/, served by workerd with the same
# bindings as ours. Run by hand: node_modules/.bin/workerd serve bench/workerd/rust-min.capnp \
#   --socket-addr http=127.0.0.1:8080
@0xc4a1f3e2b7d95a0c;
using Workerd = import "/workerd/workerd.capnp";
using Env = import "env.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "shim.mjs", esModule = embed "../dist/rust-min/shim.mjs"),
    (name = "index.wasm", wasm = embed "../dist/rust-min/index.wasm"),
  ],
  compatibilityDate = "2026-05-01",
  bindings = Env.bindings,
);
