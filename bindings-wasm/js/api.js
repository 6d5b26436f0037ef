// The public API shared by the Node and browser entry points. Each method hands its work to
// the Rust core (compiled to wasm); what lives here is host glue: options, the pending
// authorization requests between a redirect and its return, AbortSignals.

import { call } from './wasm.js';
import { drive } from './host.js';
import { registerStore, unregisterStore } from './bridge.js';
import { IdentityError, redacted, redactToken } from './errors.js';
import { authorityOptions, clientOptions } from './options.js';

export { MailoauthError, IdentityError, MailAuthError, StoreError } from './errors.js';
export { MemoryStore, LocalStorageStore, IndexedDbStore } from './stores.js';

/** The base64 SASL XOAUTH2 string for `user` and `accessToken`. */
export function xoauth2(user, accessToken) {
  return call('xoauth2', { user, token: accessToken });
}

/** The base64 SASL OAUTHBEARER string (RFC 7628); `host` and `port` are optional. */
export function oauthbearer(user, accessToken, host, port) {
  return call('oauthbearer', { user, token: accessToken, host, port });
}

/** Delegated mail scopes for `protocols` at the authority named by `options`. */
export function mailScopes(protocols = ['imap', 'smtp'], options = {}) {
  return call('mailScopes', { ...authorityOptions(options), protocols, refresh: options.refresh ?? true });
}

/** The app-only scope of the authority's mail resource (`https://outlook.office365.com/.default`). */
export function appOnlyScope(options = {}) {
  return call('appOnlyScope', authorityOptions(options));
}

/** The mail servers of the authority's cloud. */
export function mailHosts(options = {}) {
  return call('mailHosts', authorityOptions(options));
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
// A dropped client's core object and store go when the JS object is collected.
const clients = new FinalizationRegistry(({ client, store }) => {
  call('dropClient', { client });
  if (store) unregisterStore(store);
});

export class PublicClient {
  #id;
  #info;
  #requests;
  #fetch;

  constructor(options) {
    const store = options?.cache ? registerStore(options.cache) : undefined;
    try {
      this.#info = call('client', { options: clientOptions(options), store });
    } catch (e) {
      if (store) unregisterStore(store);
      throw e;
    }
    this.#id = this.#info.client;
    clients.register(this, { client: this.#id, store });
    this.#requests = options.requestStore ?? defaultRequestStore();
    this.#fetch = options.fetch;
  }

  #call(op, args = {}) {
    return call(op, { ...args, client: this.#id });
  }

  #drive(op, args, signal) {
    return drive(this.#call(op, args), this.#fetch, signal);
  }

  get clientId() {
    return this.#info.clientId;
  }

  get authority() {
    return this.#info.authority;
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
    return redacted(await this.#drive('startDeviceFlow', { scopes }), ['deviceCode']);
  }

  /** Waits for the user to finish a device-code flow (cancel with an AbortSignal). */
  async waitDeviceFlow(flow, { signal } = {}) {
    return redactToken(await this.#drive('waitDeviceFlow', { deviceFlow: { ...flow } }, signal));
  }

  /**
   * Starts an authorization-code + PKCE sign-in: returns the URL to send the browser to. The
   * PKCE verifier and state are kept (sessionStorage in a browser) until `handleRedirect`.
   */
  getAuthorizationUrl(scopes, { redirectUri, loginHint, prompt, domainHint, claims } = {}) {
    if (!redirectUri) throw new TypeError('redirectUri is required');
    const options = { loginHint, prompt, domainHint, claims };
    const request = this.#call('authorizationUrl', { scopes, redirectUri, options });
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
    return redactToken(await this.#drive('redeemRedirect', { request: JSON.parse(saved), url }));
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
    return redactToken(await this.#drive('refresh', { refreshToken, scopes }));
  }

  /** A token without user interaction: cached, else refreshed, else `interaction_required`.
   * `forceRefresh`: never the token that was cached when the call started (a server refused it);
   * callers forcing at the same moment still share one refresh. */
  async acquireTokenSilent(scopes, { account, forceRefresh, signal } = {}) {
    return redactToken(await this.#drive('silent', { scopes, account, forceRefresh }, signal));
  }

  /** When `acquireTokenSilent` will refresh `token` (Unix seconds), by the cache's rules. */
  renewAt(token) {
    return this.#call('renewAt', { expiresAt: Number(token.expiresAt), refreshAt: token.refreshAt == null ? undefined : Number(token.refreshAt) });
  }

  /**
   * ROPC: discouraged (no MFA, no personal accounts); `organizations` or a tenant only. Node
   * only: the browser build does not carry it.
   */
  async acquireTokenByUsernamePassword(username, password, scopes) {
    return redactToken(await this.#drive('usernamePassword', { username, password, scopes }));
  }

  /** The accounts in the cache for this client and authority. */
  accounts() {
    return this.#call('accounts');
  }

  /** Forgets an account's tokens; resolves to whether there were any. */
  async removeAccount(account) {
    return this.#drive('removeAccount', { account: typeof account === 'string' ? account : account.username });
  }

  /** Stores a refresh token obtained elsewhere for `account`, for the next silent call. */
  async importRefreshToken(account, refreshToken) {
    await this.#drive('importRefreshToken', { account: typeof account === 'string' ? { username: account } : account, refreshToken });
  }

  /** The scopes a sign-in asks for: normalized, plus the OpenID scopes. */
  userScopes(scopes) {
    return this.#call('userScopes', { scopes });
  }
}
