# The sdk baseline as bundled by `wrangler deploy --dry-run --minify --outdir bench/dist/sdk`
# (scripts/bench.sh does it), served by workerd. Run by hand:
#   node_modules/.bin/workerd serve bench/workerd/sdk.capnp --socket-addr http=127.0.0.1:8080
@0xc4a1f3e2b7d95a04;
using Workerd = import "/workerd/workerd.capnp";
using Env = import "env.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "../dist/sdk/worker.js")],
  compatibilityDate = "2026-05-01",
  bindings = Env.bindings,
);
