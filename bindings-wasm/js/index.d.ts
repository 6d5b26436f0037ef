// Type declarations of the `mailoauth` package (browser and bundler entry; Node adds the
// declarations in node.d.ts).

/** Which identity platform and tenant: `{ provider?, authority?, tenant?, cloud? }`. */
export interface AuthorityOptions {
  /** `microsoft` (default) or `google`. */
  provider?: 'microsoft' | 'google' | string;
  /** A full authority URL (wins over tenant/cloud), e.g. `https://login.microsoftonline.com/contoso.com` or the emulator's. */
  authority?: string;
  /** `organizations` (default), `common`, `consumers`, a tenant GUID or domain. */
  tenant?: string;
  /** `global` (default), `usgov`, `usgov-dod`, `china`. */
  cloud?: 'global' | 'usgov' | 'usgov-dod' | 'china' | string;
}

/** Where the token cache keeps its JSON document. */
export interface TokenStore {
  load(): string | Uint8Array | null | undefined;
  save(text: string): void;
  describe?(): string;
  /** Moves unreadable data aside; returns where it went. */
  quarantine?(): string | null;
  /**
   * Takes the store lock shared with other processes, without waiting; `null` if another
   * holder has it (the cache polls it with backoff and gives up with a `lock_timeout`
   * `StoreError`). Held around each load-change-save.
   */
  tryLock?(): { release(): void } | null;
  /**
   * Takes one account's refresh lock (`key` names the account), without waiting; `null` if
   * another holder has it. A store that has this method gets refreshes that hold this lock
   * across the network and the store lock only while saving.
   */
  tryLockAccount?(key: string): { release(): void } | null;
}

export interface ClientOptions extends AuthorityOptions {
  /** The application (client) id of the app registration. */
  clientId: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** Per-request time-out in milliseconds (default 30000). */
  timeoutMs?: number;
}

export interface PublicClientOptions extends ClientOptions {
  /** Keeps tokens and enables `acquireTokenSilent`. */
  cache?: TokenStore;
  /** Refresh cached access tokens this many seconds before they expire (default 300). */
  refreshMarginSecs?: number;
  /** Where authorization requests wait for their redirect (default: sessionStorage in a browser, memory elsewhere). */
  requestStore?: {
    get(state: string): string | null | undefined;
    set(state: string, text: string): void;
    delete(state: string): void;
  };
}

/** A certificate whose private key signs outside the library (see `nodeCertificate` on Node). */
export interface AssertionSignerLike {
  /** The DER bytes of the certificate registered with the app. */
  der: Uint8Array;
  /** Signs the assertion: RSASSA-PSS SHA-256 (salt 32) for PS256, PKCS#1 v1.5 SHA-256 for RS256. */
  sign(input: Uint8Array): Uint8Array;
  algorithm?: 'PS256' | 'RS256';
}

/** A client secret or a certificate. */
export interface ConfidentialClientOptions extends ClientOptions {
  clientSecret?: string;
  certificate?: AssertionSignerLike;
}

export interface Account {
  username: string;
  email: string | null;
  name: string | null;
  oid: string | null;
  tid: string | null;
  /** `uid.utid` from client_info (MSAL's home account id). */
  homeAccountId: string | null;
}

export interface Token {
  accessToken: string;
  /** Unix seconds. */
  expiresAt: number;
  /** When to refresh proactively (Unix seconds), if the server said. */
  refreshAt: number | null;
  scopes: string[];
  refreshToken: string | null;
  idToken: string | null;
  account: Account | null;
}

export interface DeviceCodeFlow {
  userCode: string;
  verificationUri: string;
  /** The provider's instruction for the user: show it. */
  message: string;
  expiresAt: number;
  interval: number;
  scopes: string[];
  deviceCode: string;
}

export interface AuthorizationUrlOptions {
  redirectUri: string;
  loginHint?: string;
  prompt?: 'login' | 'none' | 'consent' | 'select_account' | string;
  domainHint?: string;
  claims?: string;
}

export class PublicClient {
  constructor(options: PublicClientOptions);
  readonly clientId: string;
  readonly authority: string;
  acquireTokenByDeviceCode(
    scopes: string[],
    onMessage: (flow: DeviceCodeFlow) => void | Promise<void>,
    options?: { signal?: AbortSignal },
  ): Promise<Token>;
  startDeviceFlow(scopes: string[]): Promise<DeviceCodeFlow>;
  waitDeviceFlow(flow: DeviceCodeFlow, options?: { signal?: AbortSignal }): Promise<Token>;
  getAuthorizationUrl(scopes: string[], options: AuthorizationUrlOptions): string;
  handleRedirect(url?: string): Promise<Token | null>;
  acquireTokenPopup(scopes: string[], options: AuthorizationUrlOptions & { timeoutMs?: number }): Promise<Token | null>;
  refresh(refreshToken: string, scopes: string[]): Promise<Token>;
  /** `forceRefresh`: never the token that was cached when the call started (a server refused it); `signal` cancels it. */
  acquireTokenSilent(scopes: string[], options?: { account?: string; forceRefresh?: boolean; signal?: AbortSignal }): Promise<Token>;
  /** When `acquireTokenSilent` will refresh `token` (Unix seconds), by the cache's rules. */
  renewAt(token: Token): number;
  /** ROPC (discouraged). Node build only: in a browser it throws an `IdentityError` of kind `configuration`. */
  acquireTokenByUsernamePassword(username: string, password: string, scopes: string[]): Promise<Token>;
  accounts(): Account[];
  removeAccount(account: string | Account): Promise<boolean>;
  importRefreshToken(account: string | Partial<Account>, refreshToken: string): Promise<void>;
  userScopes(scopes: string[]): string[];
}

export type IdentityErrorKind =
  | 'interaction_required' | 'consent_required' | 'mfa_required' | 'invalid_client' | 'invalid_grant'
  | 'declined' | 'expired' | 'throttled' | 'blocked_by_policy' | 'network' | 'protocol'
  | 'configuration' | 'cancelled' | 'storage';

export type MailErrorKind =
  | 'network' | 'timeout' | 'tls' | 'greeting' | 'starttls_unavailable' | 'mechanism_unsupported'
  | 'rejected' | 'login_disabled' | 'temporary' | 'token_expired' | 'not_connected' | 'protocol';

/** What to do about an error, as the core groups the kinds (the CLI's exit codes 1-5). */
export type ErrorGroup = 'configuration' | 'sign_in' | 'mail_rejected' | 'connection' | 'identity';

export class MailoauthError extends Error {
  kind: string;
  group: ErrorGroup;
}

export class IdentityError extends MailoauthError {
  name: 'IdentityError';
  kind: IdentityErrorKind;
  /** The core's message without the kind prefix. */
  reason: string;
  error: string | null;
  errorDescription: string | null;
  /** AADSTS codes. */
  codes: number[];
  suberror: string | null;
  correlationId: string | null;
  traceId: string | null;
  claims: string | null;
  /** Seconds the server asked to wait. */
  retryAfter: number | null;
  httpStatus: number | null;
  /** One line naming what to change. */
  hint: string;
  temporary: boolean;
}

export interface ErrorChallenge {
  status: string | null;
  schemes: string | null;
  scope: string | null;
  openidConfiguration: string | null;
  raw: string;
}

export class MailAuthError extends MailoauthError {
  name: 'MailAuthError';
  kind: MailErrorKind;
  group: 'mail_rejected' | 'connection';
  /** One line naming what to change. */
  hint: string;
  reason: string;
  protocol: 'imap' | 'smtp' | 'pop3';
  stage: 'connect' | 'tls' | 'greeting' | 'capabilities' | 'starttls' | 'auth' | 'probe';
  serverLine: string | null;
  challenge: ErrorChallenge | null;
  /** SMTP enhanced status code, e.g. `5.7.139`. */
  enhancedStatus: string | null;
  temporary: boolean;
}

export class StoreError extends MailoauthError {
  constructor(kind: string, message: string, options?: { cause?: unknown });
  kind: 'io' | 'permissions' | 'corrupt' | 'lock_timeout' | 'unavailable' | string;
  group: 'configuration';
}

export class MemoryStore implements TokenStore {
  load(): string | null;
  save(text: string): void;
  describe(): string;
}

export class LocalStorageStore implements TokenStore {
  constructor(key?: string, storage?: Storage);
  load(): string | null;
  save(text: string): void;
  quarantine(): string;
  describe(): string;
}

export class IndexedDbStore implements TokenStore {
  static open(options?: { database?: string; key?: string; indexedDB?: IDBFactory }): Promise<IndexedDbStore>;
  load(): string | null;
  save(text: string): void;
  /** Waits until every save so far is written. */
  flush(): Promise<void>;
  describe(): string;
}

export function xoauth2(user: string, accessToken: string): string;
export function oauthbearer(user: string, accessToken: string, host?: string, port?: number): string;
export function mailScopes(protocols?: Array<'imap' | 'smtp' | 'pop3'>, options?: AuthorityOptions & { refresh?: boolean }): string[];
export function appOnlyScope(options?: AuthorityOptions): string;
export interface HostPort {
  host: string;
  port: number;
}
export function mailHosts(options?: AuthorityOptions): { imap: HostPort; pop3: HostPort; smtp: HostPort; verified: boolean };
