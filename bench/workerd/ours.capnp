# presign-worker as built by scripts/build.sh (worker-build output in build/), served by
# workerd. Run by hand: node_modules/.bin/workerd serve bench/workerd/ours.capnp \
#   --socket-addr http=127.0.0.1:8080
# The module names mirror build/: worker/shim.mjs (src/shim.js bundled with wasm-bindgen's
# glue) imports ./index.wasm.
@0xc4a1f3e2b7d95a02;
using Workerd = import "/workerd/workerd.capnp";
using Env = import "env.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker/shim.mjs", esModule = embed "../../build/worker/shim.mjs"),
    (name = "worker/index.wasm", wasm = embed "../../build/worker/index.wasm"),
  ],
  compatibilityDate = "2026-05-01",
  bindings = Env.bindings,
);
