// Browser (and bundler) entry point: loads the wasm next to the glue, then exports the API.
import init from '../dist/mailoauth_wasm.js';

await init();

export * from './api.js';
