// Browser (and bundler) entry point: loads the wasm next to the glue, then exports the API.
import init, { call } from '../dist/mailoauth_wasm.js';
import { useWasm } from './wasm.js';

await init();
useWasm({ call });

export * from './api.js';
