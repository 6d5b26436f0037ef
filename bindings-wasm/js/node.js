// Node entry point (Node >= 20): the shared API, plus a token file compatible with the CLI's,
// IMAP/SMTP/POP3 login over node:net / node:tls driven by the core's state machines, and
// helpers for nodemailer and imapflow.
import { readFileSync } from 'node:fs';
import { initSync } from '../dist/mailoauth_wasm.js';

initSync({ module: readFileSync(new URL('../dist/mailoauth_wasm_bg.wasm', import.meta.url)) });

export * from './api.js';
export { FileStore, defaultCachePath } from './file-store.js';
export { login } from './mail.js';
export { nodemailerAuth, nodemailerCustomAuth, imapflowAuth } from './integrations.js';
