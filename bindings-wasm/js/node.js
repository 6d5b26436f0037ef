// Node entry point (Node >= 20): the shared API, plus a token file compatible with the CLI's,
// IMAP/SMTP/POP3 login over node:net / node:tls driven by the core's state machines, and
// helpers for nodemailer and imapflow.
import { readFileSync } from 'node:fs';
import * as module from '../dist/mailoauth_wasm_node.js';
import { useWasm } from './wasm.js';

module.initSync({ module: readFileSync(new URL('../dist/mailoauth_wasm_node_bg.wasm', import.meta.url)) });
useWasm(module);

export * from './api.js';
export { FileStore, defaultCachePath } from './file-store.js';
export { login } from './mail.js';
export { nodemailerAuth, nodemailerCustomAuth, imapflowAuth } from './integrations.js';
