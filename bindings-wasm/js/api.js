// The public API shared by the Node and browser entry points. Each method hands its work to
// the Rust core (compiled to wasm); what lives here is host glue: options, the pending
// authorization requests between a redirect and its return, AbortSignals.

import { wasm } from './wasm.js';
import { drive } from './host.js';
import { IdentityError, redacted } from './errors.js';
import { authorityOptions, clientOptions } from './options.js';

export { MailoauthError, IdentityError, MailAuthError, StoreError } from './errors.js';
export { MemoryStore, LocalStorageStore, IndexedDbStore } from './stores.js';

/** The base64 SASL XOAUTH2 string for `user` and `accessToken`. */
export function xoauth2(user, accessToken) {
  return wasm.xoauth2(user, accessToken);
}

/** The base64 SASL OAUTHBEARER string (RFC 7628); `host` and `port` are optional. */
export function oauthbearer(user, accessToken, host, port) {
  return wasm.oauthbearer(user, accessToken, host ?? undefined, port ?? undefined);
}

/** Delegated mail scopes for `protocols` at the authority named by `options`. */
export function mailScopes(protocols = ['imap', 'smtp'], options = {}) {
  return wasm.mailScopes(authorityOptions(options), protocols, options.refresh ?? true);
}

/** The app-only scope of the authority's mail resource (`https://outlook.office365.com/.default`). */
export function appOnlyScope(options = {}) {
  return wasm.appOnlyScope(authorityOptions(options));
}

/** The mail servers of the authority's cloud. */
export function mailHosts(options = {}) {
  return wasm.mailHosts(authorityOptions(options));
}

/** Pending authorization requests by state: sessionStorage in a browser, memory elsewhere. */
function defaultRequestStore() {
  const storage = globalThis.sessionStorage;
  if (storage) {
    const prefix = 'mailoauth.request.';
    return {
      get: (state) => storage.getItem(prefix + state),
      set: (state, text) => storage.setItem(prefix + state, text),
      delete: (state) => storage.removeItem(prefix + state),
    };
  }
  const map = new Map();
  return { get: (s) => map.get(s) ?? null, set: (s, t) => map.set(s, t), delete: (s) => map.delete(s) };
}

function redirectParams(url) {
  const u = new URL(url, globalThis.location?.href ?? 'http://localhost/');
  const params = new URLSearchParams(u.search);
  for (const [k, v] of new URLSearchParams(u.hash.replace(/^#/, ''))) if (!params.has(k)) params.set(k, v);
  return params;
}

/**
 * A public client: a browser page, a Node script, a desktop app. Tokens go to `cache` (a
 * store: `MemoryStore`, `LocalStorageStore`, `IndexedDbStore`, Node's `FileStore`, or your
 * own `{load, save}`), which enables `acquireTokenSilent`.
 */
export class PublicClient {
  #inner;
  #requests;
  #fetch;

  constructor(options) {
    this.#inner = new wasm.WasmPublicClient(clientOptions(options), options.cache ?? undefined);
    this.#requests = options.requestStore ?? defaultRequestStore();
    this.#fetch = options.fetch;
  }

  get clientId() {
    return this.#inner.clientId;
  }

  get authority() {
    return this.#inner.authority;
  }

  /** Device-code sign-in: `onMessage(flow)` shows `flow.message` to the user. */
  async acquireTokenByDeviceCode(scopes, onMessage, { signal } = {}) {
    const flow = await this.startDeviceFlow(scopes);
    await onMessage?.(flow);
    return this.waitDeviceFlow(flow, { signal });
  }

  /**
   * Starts a device-code flow: `{userCode, verificationUri, message, expiresAt, interval}`.
   * `deviceCode` is there too (a secret: whoever holds it gets the token); `console.log` and
   * `util.inspect` show it as `[redacted]`.
   */
  async startDeviceFlow(scopes) {
    return redactDeviceCode(await drive(this.#inner.startDeviceFlow(scopes), this.#fetch));
  }

  /** Waits for the user to finish a device-code flow (cancel with an AbortSignal). */
  waitDeviceFlow(flow, { signal } = {}) {
    return drive(this.#inner.waitDeviceFlow(flow), this.#fetch, signal);
  }

  /**
   * Starts an authorization-code + PKCE sign-in: returns the URL to send the browser to. The
   * PKCE verifier and state are kept (sessionStorage in a browser) until `handleRedirect`.
   */
  getAuthorizationUrl(scopes, { redirectUri, loginHint, prompt, domainHint, claims } = {}) {
    if (!redirectUri) throw new TypeError('redirectUri is required');
    const request = this.#inner.authorizationUrl(scopes, redirectUri, { loginHint, prompt, domainHint, claims });
    this.#requests.set(request.state, JSON.stringify(request));
    return request.url;
  }

  /**
   * Finishes a sign-in from the URL the browser came back to (query or fragment). Resolves to
   * the token, or to `null` if the URL is not a redirect of a request this client started.
   */
  async handleRedirect(url = globalThis.location?.href) {
    const state = redirectParams(url).get('state');
    const saved = state ? this.#requests.get(state) : null;
    if (!saved) return null;
    this.#requests.delete(state);
    return drive(this.#inner.redeemRedirect(JSON.parse(saved), url), this.#fetch);
  }

  /**
   * Browser only: signs in in a popup window and resolves to the token. `redirectUri` must be
   * a page of this origin (it need not run any script).
   */
  async acquireTokenPopup(scopes, { redirectUri, timeoutMs = 300_000, ...rest } = {}) {
    const url = this.getAuthorizationUrl(scopes, { redirectUri, ...rest });
    const popup = globalThis.open(url, 'mailoauth', 'popup,width=500,height=650');
    if (!popup) throw new IdentityError({ kind: 'cancelled', message: 'the popup was blocked', display: 'cancelled: the popup was blocked' });
    const target = new URL(redirectUri, globalThis.location.href);
    const started = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      if (popup.closed) throw new IdentityError({ kind: 'cancelled', message: 'the popup was closed', display: 'cancelled: the popup was closed' });
      if (Date.now() - started > timeoutMs) {
        popup.close();
        throw new IdentityError({ kind: 'cancelled', message: 'no sign-in in time', display: 'cancelled: no sign-in in time' });
      }
      let href;
      try {
        href = popup.location.href; // throws while the popup shows the sign-in page (cross-origin)
      } catch {
        continue;
      }
      if (href && href.startsWith(target.origin + target.pathname)) {
        popup.close();
        return this.handleRedirect(href);
      }
    }
  }

  /** Redeems a refresh token; the rotated one is kept (in the cache too). */
  async refresh(refreshToken, scopes) {
    return drive(this.#inner.refresh(refreshToken, scopes), this.#fetch);
  }

  /** A token without user interaction: cached, else refreshed, else `interaction_required`.
   * `forceRefresh`: never the token that was cached when the call started (a server refused it);
   * callers forcing at the same moment still share one refresh. */
  async acquireTokenSilent(scopes, { account, forceRefresh, signal } = {}) {
    return drive(this.#inner.acquireTokenSilent(scopes, account ?? undefined, forceRefresh ?? undefined), this.#fetch, signal);
  }

  /** When `acquireTokenSilent` will refresh `token` (Unix seconds), by the cache's rules. */
  renewAt(token) {
    return Number(this.#inner.renewAt(BigInt(token.expiresAt), token.refreshAt == null ? undefined : BigInt(token.refreshAt)));
  }

  /**
   * ROPC: discouraged (no MFA, no personal accounts); `organizations` or a tenant only. Node
   * only: the browser build does not carry it.
   */
  async acquireTokenByUsernamePassword(username, password, scopes) {
    if (!this.#inner.acquireTokenByUsernamePassword) throw nodeOnly('acquireTokenByUsernamePassword');
    return drive(this.#inner.acquireTokenByUsernamePassword(username, password, scopes), this.#fetch);
  }

  /** The accounts in the cache for this client and authority. */
  accounts() {
    return this.#inner.accounts();
  }

  /** Forgets an account's tokens; resolves to whether there were any. */
  async removeAccount(account) {
    return drive(this.#inner.removeAccount(typeof account === 'string' ? account : account.username), this.#fetch);
  }

  /** Stores a refresh token obtained elsewhere for `account`, for the next silent call. */
  async importRefreshToken(account, refreshToken) {
    const flow = this.#inner.importRefreshToken(typeof account === 'string' ? { username: account } : account, refreshToken);
    return drive(flow, this.#fetch);
  }

  /** The scopes a sign-in asks for: normalized, plus the OpenID scopes. */
  userScopes(scopes) {
    return this.#inner.userScopes(scopes);
  }
}

/** The error for what only the Node build has. */
function nodeOnly(what) {
  const message = `${what} is only in the Node build of mailoauth (import it from Node, or from 'mailoauth/node')`;
  return new IdentityError({ kind: 'configuration', message, display: `configuration error: ${message}` });
}

function redactDeviceCode(flow) {
  return redacted(flow, ['deviceCode']);
}

