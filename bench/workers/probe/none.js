// Start-up probe (bench/workerd/probe.capnp, const `none`): a trivial worker, no wasm.
export default {
  fetch() {
    return new Response("none");
  },
};
