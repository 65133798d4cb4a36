# Start-up probe of `make bench`: as probe-compile, and the module is instantiated at load (stub imports).
# scripts/bench.sh times `workerd serve` of probe-none, probe-compile and probe-instantiate
# from spawn to the first answer, several times each, interleaved: the differences of the
# medians are what compiling and instantiating our module cost in workerd's own V8.
@0xc4a1f3e2b7d95a07;
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "../workers/probe/instantiate.js"),
    (name = "index.wasm", wasm = embed "../../build/worker/index.wasm"),
  ],
  compatibilityDate = "2026-05-01",
);
