// Start-up probe (const `compile`): the same trivial worker importing presign-worker's wasm
// module, which workerd compiles when it loads the worker; not instantiated.
import mod from "./index.wasm";

export default {
  fetch() {
    return new Response(mod instanceof WebAssembly.Module ? "compiled" : "?");
  },
};
