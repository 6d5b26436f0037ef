// Node entry point (Node >= 20): the shared API, plus a token file compatible with the CLI's,
// IMAP/SMTP/POP3 login over node:net / node:tls driven by the core's state machines, and
// helpers for nodemailer and imapflow.
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as module from '../dist/mailoauth_wasm_node.js';
import { clientOptions } from './options.js';
import { MailAuthError, redactToken } from './errors.js';
import { useWasm, wasm } from './wasm.js';
import { drive } from './host.js';

module.initSync({ module: readFileSync(new URL('../dist/mailoauth_wasm_node_bg.wasm', import.meta.url)) });
useWasm(module);

export * from './api.js';
export { FileStore, defaultCachePath } from './file-store.js';
export { login, mailServer } from './mail.js';
export { nodemailerAuth, nodemailerCustomAuth, imapflowAuth } from './integrations.js';

/** Decodes a server's base64 SASL error challenge. */
export function decodeChallenge(base64Text) {
  return wasm.decodeChallenge(base64Text);
}

/** Why a mail login failed and what fixes it, `{cause, fix}` (the same words as `mailoauth
 * check`): `error` is the `MailAuthError`, `accessToken` the token used, `user` the login user,
 * `host` the mail host (for the wrong-cloud check). */
export function diagnose(error, accessToken, user, { host = '', now } = {}) {
  if (!(error instanceof MailAuthError)) throw new TypeError('diagnose explains failed mail logins: pass a MailAuthError');
  return wasm.diagnose(error.kind, error.protocol, accessToken, host, user, now === undefined ? undefined : BigInt(now));
}

/** Every error kind of the core as `section.kind`, in core's order. */
export function errorKinds() {
  return wasm.errorKinds();
}

/** The error a failure of `kind` (one of `errorKinds()`) arrives as: for testing error handling. */
export function errorOfKind(kind) {
  return wasm.errorOfKind(kind);
}

/** Warnings about an access token for `protocol` and `user` (decoded, not verified). */
export function checkAccessToken(accessToken, protocol, user) {
  return wasm.checkAccessToken(accessToken, protocol, user);
}

/** A confidential client (daemon, server) with a client secret or a certificate
 * (`nodeCertificate()`): app-only tokens. */
export class ConfidentialClient {
  #inner;
  #fetch;
  constructor(options) {
    this.#inner = new wasm.WasmConfidentialClient(clientOptions(options));
    this.#fetch = options.fetch;
  }
  /** Client credentials grant, e.g. `[appOnlyScope()]`. */
  async acquireTokenForClient(scopes) {
    return redactToken(await drive(this.#inner.acquireTokenForClient(scopes), this.#fetch));
  }
}

/**
 * A certificate credential for `ConfidentialClient` whose private key stays in node:crypto:
 * the library builds the client assertion, node:crypto signs it (PS256 by default, or RS256).
 */
export function nodeCertificate({ certificate, privateKey, algorithm = 'PS256' }) {
  const der = new Uint8Array(new crypto.X509Certificate(certificate).raw);
  const key = crypto.createPrivateKey(privateKey);
  const sign = algorithm === 'RS256'
    ? (input) => new Uint8Array(crypto.sign('sha256', input, key))
    : (input) => new Uint8Array(crypto.sign('sha256', input, {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
    }));
  return { der, sign, algorithm };
}
