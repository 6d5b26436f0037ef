// Types of the browser build's loader (js/wasm-web.js, copied to dist/mailoauth_wasm.js).

/** Runs one operation of the core: JSON text in, JSON text out (`{ok}` or `{err}`). */
export function call(op: string, args: string, bytes: Uint8Array): string;

/** Loads the wasm (once) from `url`, by default the file next to the loader. */
export default function init(url?: string | URL): Promise<void>;
