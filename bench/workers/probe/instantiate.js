// Start-up probe (const `instantiate`): as `compile`, and the module is instantiated at load
// with stub imports (functions that throw, the JS exception tag), as wasm-bindgen's glue
// instantiates it with the real ones; no export is called.
import mod from "./index.wasm";

const imports = {};
for (const { module, name, kind } of WebAssembly.Module.imports(mod)) {
  imports[module] ??= {};
  if (kind === "function") {
    imports[module][name] = () => {
      throw new Error(`stub ${name}`);
    };
  } else if (kind === "tag") {
    imports[module][name] = WebAssembly.JSTag ?? new WebAssembly.Tag({ parameters: ["externref"] });
  } else {
    throw new Error(`unexpected ${kind} import ${module}.${name}`);
  }
}
const instance = new WebAssembly.Instance(mod, imports);

export default {
  fetch() {
    return new Response(`instantiated, ${Object.keys(instance.exports).length} exports`);
  },
};
