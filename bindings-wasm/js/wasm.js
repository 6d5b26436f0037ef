// The loaded wasm module: the browser build (dist/mailoauth_wasm.js) or the Node build with
// the mail login machines (dist/mailoauth_wasm_node.js). Each entry point sets it once.
// Every operation of the core goes through its one export, `call` (src/dispatch.rs).

import { errorFromDetails } from './errors.js';

/** @internal */
export let wasm = null;

/** @internal */
export function useWasm(module) {
  wasm = module;
}

const NO_BYTES = new Uint8Array(0);

/**
 * @internal Runs operation `op` of the core with `args` (plus `bytes`, an HTTP body) and the
 * clock; returns its result or throws the typed error it names.
 */
export function call(op, args = {}, bytes = NO_BYTES) {
  const answer = JSON.parse(wasm.call(op, JSON.stringify({ ...args, now: Math.floor(Date.now() / 1000) }), bytes));
  if (answer.err) throw errorFromDetails(answer.err);
  return answer.ok;
}
