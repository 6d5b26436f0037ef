// Type declarations of the `mailoauth` package's Node entry point.
export * from './index.js';
import type {
  AssertionSignerLike, ConfidentialClientOptions, ErrorChallenge, IdentityError, MailAuthError, PublicClient, Token,
  TokenStore,
} from './index.js';

/** A certificate credential for `ConfidentialClient`; the key stays in node:crypto. */
export function nodeCertificate(options: {
  certificate: string;
  privateKey: string;
  algorithm?: 'PS256' | 'RS256';
}): AssertionSignerLike;

/** The CLI's token file: $MAILOAUTH_STATE_DIR/tokens.json, else $XDG_STATE_HOME/mailoauth/tokens.json, else ~/.local/state/mailoauth/tokens.json. */
export function defaultCachePath(env?: Record<string, string | undefined>): string;

/**
 * A JSON token file shared with the CLI, Python and Swift (mode 0600, atomic replace), under
 * their store lock (`<file>.store-lock`, created exclusively).
 */
export class FileStore implements TokenStore {
  constructor(path?: string);
  readonly path: string;
  load(): string | null;
  save(text: string): void;
  quarantine(): string;
  describe(): string;
  /** The store lock shared with the CLI and the other packages; `null` if another process holds it. */
  tryLock(): { release(): void } | null;
  /** Always granted: Node takes no per-account refresh lock (no `flock`). */
  tryLockAccount(key: string): { release(): void };
}

export interface LoginOptions {
  protocol: 'imap' | 'smtp' | 'pop3';
  /** Default the provider's server (Exchange Online per `cloud`, Gmail). */
  host?: string;
  /** Default from the TLS mode: 993 (IMAP), 995 (POP3), 587 (SMTP). */
  port?: number;
  /** Default what the port implies, else implicit TLS for IMAP/POP3 and STARTTLS for SMTP. */
  security?: 'tls' | 'starttls' | 'plain';
  /** Whose servers are the default (default `microsoft`). */
  provider?: 'microsoft' | 'google';
  /** Which Exchange Online: `global` (default), `usgov`, `usgov-dod`, `china`. */
  cloud?: string;
  /** The SASL user: the mailbox address. */
  user: string;
  accessToken: string;
  mechanism?: 'XOAUTH2' | 'OAUTHBEARER';
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** Other node:tls options (e.g. `servername`). */
  tlsOptions?: Record<string, unknown>;
  /** Per connect, read, write and handshake (default 30000 ms). */
  timeoutMs?: number;
  /**
   * The whole login (default the core's: connect + 2 × I/O time-out, so 3 × `timeoutMs`): a
   * server that answers each read in time but never finishes fails with kind `timeout`.
   */
  deadlineMs?: number;
  /** IMAP: after login, check that the mailbox can be used (Exchange's "authenticated but not connected"). */
  probe?: boolean;
  saslIr?: 'auto' | 'always' | 'never';
  /** SMTP EHLO name (default `localhost`). */
  clientName?: string;
  maxLine?: number;
}

export interface MailSession {
  /** The authenticated socket (paused); continue the session on it, then `end()` it. */
  socket: import('node:net').Socket;
  protocol: 'imap' | 'smtp' | 'pop3';
  greeting: string;
  capabilities: string[];
  finalLine: string;
  preauthenticated: boolean;
  upgradedToTls: boolean;
  /** Bytes the server sent after the login's final line. */
  leftover: Uint8Array;
}

/** Logs in to IMAP, SMTP or POP3 with an access token; throws a `MailAuthError`. */
export function login(options: LoginOptions): Promise<MailSession>;

/** The server `login` dials for these options, by the core's rules. */
export function mailServer(
  protocol: 'imap' | 'smtp' | 'pop3',
  options?: { provider?: string; cloud?: string; host?: string; port?: number; security?: string },
): { protocol: 'imap' | 'smtp' | 'pop3'; host: string; port: number; security: 'tls' | 'starttls' | 'plain' };

export interface HelperOptions {
  scopes: string[];
  /** Which cached account (username or home account id), if several. */
  account?: string;
  /** The SASL user, if not the account's username. */
  user?: string;
}

/** nodemailer `auth` (type OAuth2) kept fresh by `provisionCallback`. */
export function nodemailerAuth(
  client: PublicClient,
  options: HelperOptions,
): Promise<{
  type: 'OAuth2';
  user: string;
  accessToken: string;
  expires: number;
  provisionCallback: (user: string, renew: boolean, callback: (err: Error | null, token?: string, expires?: number) => void) => void;
}>;

/** nodemailer `customAuth`: XOAUTH2 with the response after `334` (servers with a 512-octet command line limit, e.g. Dovecot). */
export const nodemailerCustomAuth: { XOAUTH2(ctx: unknown): Promise<void> };

/** imapflow `auth`: `{ user, accessToken }`. */
export function imapflowAuth(client: PublicClient, options: HelperOptions): Promise<{ user: string; accessToken: string }>;

/** A confidential client (daemon, server): app-only tokens with a client secret or a certificate (Node build only). */
export class ConfidentialClient {
  constructor(options: ConfidentialClientOptions);
  acquireTokenForClient(scopes: string[]): Promise<Token>;
}

/** Decodes a server's base64 SASL error challenge. */
export function decodeChallenge(base64Text: string): ErrorChallenge;

/** Why a mail login failed and what fixes it (the same words as `mailoauth check`). */
export function diagnose(
  error: MailAuthError,
  accessToken: string,
  user: string,
  options?: { host?: string; now?: number },
): { cause: string; fix: string };

/** Every error kind of the core as `section.kind` (`identity.invalid_grant`, `mail.rejected`,
 * `store.corrupt`), in core's order. */
export function errorKinds(): string[];

/** The error a failure of `kind` (one of `errorKinds()`) arrives as: for testing error handling. */
export function errorOfKind(kind: string): IdentityError | MailAuthError;

export interface TokenWarning {
  kind: 'graph_audience' | 'unexpected_audience' | 'missing_permission' | 'user_mismatch' | 'expired' | 'opaque';
  message: string;
  [field: string]: unknown;
}
export function checkAccessToken(accessToken: string, protocol: 'imap' | 'smtp' | 'pop3', user: string): TokenWarning[];
