// Browser (and bundler) entry point: loads the wasm next to the glue, then exports the API.
import init, * as module from '../dist/mailoauth_wasm.js';
import { useWasm } from './wasm.js';

await init();
useWasm(module);

export * from './api.js';
