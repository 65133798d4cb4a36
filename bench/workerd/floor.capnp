# The floor of `make bench`: bench/workers/floor/worker.js (read the POST body, one log line, a
# fixed JSON answer), served by workerd as it is (no bundling). Run by hand:
#   node_modules/.bin/workerd serve bench/workerd/floor.capnp --socket-addr http=127.0.0.1:8080
@0xc4a1f3e2b7d95a0b;
using Workerd = import "/workerd/workerd.capnp";
using Env = import "env.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "../workers/floor/worker.js")],
  compatibilityDate = "2026-05-01",
  bindings = Env.bindings,
);
