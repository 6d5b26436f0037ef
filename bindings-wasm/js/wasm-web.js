// The browser build's loader. scripts/build.sh copies it to dist/mailoauth_wasm.js, next to the
// wasm it loads (dist/mailoauth_wasm_bg.wasm; the bundle in dist/browser/ has a copy beside it).
// It speaks the plain C ABI of src/abi.rs: strings and bodies cross as (pointer, length) in
// the wasm's memory, and `call`'s answer comes back as `ptr << 32 | len` (a BigInt).
import { fillRandom, storeCall } from '../js/bridge.js';

let wasm;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const memory = () => new Uint8Array(wasm.memory.buffer);
const text = (ptr, len) => decoder.decode(memory().subarray(ptr, ptr + len));

// Copies a string or bytes into a buffer of the wasm's allocator: [ptr, len].
function pass(data) {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const ptr = wasm.alloc(bytes.length);
  memory().set(bytes, ptr);
  return [ptr, bytes.length];
}

const imports = {
  mailoauth: {
    storeCall(store, method, methodLen, arg, argLen) {
      const [ptr, len] = pass(storeCall(store, text(method, methodLen), text(arg, argLen)));
      return (BigInt(ptr) << 32n) | BigInt(len);
    },
    fillRandom: (ptr, len) => fillRandom(memory().subarray(ptr, ptr + len)),
  },
};

/** Runs one operation of the core (src/dispatch.rs): JSON text in, JSON text out. */
export function call(op, args, bytes) {
  const answer = wasm.call(...pass(op), ...pass(args), ...pass(bytes));
  const ptr = Number(answer >> 32n);
  const len = Number(answer & 0xffffffffn);
  const out = text(ptr, len);
  wasm.dealloc(ptr, len);
  return out;
}

/** Loads the wasm (once) from `url`, by default the file next to this module. */
export default async function init(url = new URL('mailoauth_wasm_bg.wasm', import.meta.url)) {
  if (wasm) return;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`mailoauth: fetching ${url} failed (HTTP ${response.status})`);
  // Compiling while downloading needs the wasm's media type; a server without it still works.
  const { instance } = response.headers.get('content-type')?.startsWith('application/wasm')
    ? await WebAssembly.instantiateStreaming(response, imports)
    : await WebAssembly.instantiate(await response.arrayBuffer(), imports);
  wasm = instance.exports;
}
