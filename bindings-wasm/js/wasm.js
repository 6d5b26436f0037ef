// The loaded wasm module: the browser build (dist/mailoauth_wasm.js) or the Node build with
// the mail login machines (dist/mailoauth_wasm_node.js). Each entry point sets it once.

/** @internal */
export let wasm = null;

/** @internal */
export function useWasm(module) {
  wasm = module;
}
