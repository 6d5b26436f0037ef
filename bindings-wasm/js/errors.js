// Errors thrown by mailoauth. The wasm module builds them through the two factories at the
// bottom (imported by the generated glue), so `instanceof` works with the classes exported
// from the package.

/** Base class of every mailoauth error. */
export class MailoauthError extends Error {
  constructor(message, kind, options) {
    super(message, options);
    this.name = 'MailoauthError';
    /** What went wrong, as a value to branch on (`interaction_required`, `rejected`, ...). */
    this.kind = kind;
  }
}

/**
 * A failed token request: `kind` says what to do next; `codes` are the AADSTS codes;
 * `hint` is one line naming what to change. Never contains a secret.
 */
export class IdentityError extends MailoauthError {
  constructor(details) {
    super(details.display ?? details.message, details.kind);
    this.name = 'IdentityError';
    /** What to do, as the core groups the kinds: `configuration`, `sign_in`, `connection`,
     * `identity` (testdata/parity/errors.json). */
    this.group = details.group;
    this.reason = details.message;
    this.error = details.error ?? null;
    this.errorDescription = details.errorDescription ?? null;
    this.codes = details.codes ?? [];
    this.suberror = details.suberror ?? null;
    this.correlationId = details.correlationId ?? null;
    this.traceId = details.traceId ?? null;
    this.claims = details.claims ?? null;
    this.retryAfter = details.retryAfter ?? null;
    this.httpStatus = details.httpStatus ?? null;
    this.hint = details.hint ?? '';
    this.temporary = Boolean(details.temporary);
    // The browser build has no AADSTS hint texts: `withHint` loads them (see below).
    if (details.hintTexts === false && this.codes.length) {
      Object.defineProperty(this, PENDING, { value: details.summary ?? '', enumerable: false });
    }
  }
}

const PENDING = Symbol('mailoauth.pendingHint');

/**
 * @internal The error, with the hint of its first AADSTS code that has one when this build left
 * the hint texts out (the browser's): they are loaded on demand, once, from
 * dist/aadsts-hints.js (generated from the core's table). Any other error as it is.
 */
export async function withHint(e) {
  if (!(e instanceof IdentityError) || e[PENDING] === undefined) return e;
  try {
    const { default: hints } = await import('../dist/aadsts-hints.js');
    const code = e.codes.find((c) => hints[c]);
    if (code !== undefined) {
      e.hint = hints[code];
      e.message = `${e[PENDING]}. Hint: ${e.hint}`;
    }
  } catch {
    // not loadable (offline): the kind's hint stays
  }
  return e;
}

/**
 * A failed IMAP/SMTP/POP3 login: `kind` (`rejected`, `temporary`, `tls`, `timeout`, ...),
 * `protocol`, `stage`, the server's last line and its decoded SASL error challenge. Never
 * contains the token.
 */
export class MailAuthError extends MailoauthError {
  constructor(details) {
    super(details.display ?? details.message, details.kind);
    this.name = 'MailAuthError';
    /** What to do, as the core groups the kinds: `mail_rejected` or `connection`. */
    this.group = details.group;
    /** One line naming what to change. */
    this.hint = details.hint ?? '';
    this.reason = details.message;
    this.protocol = details.protocol;
    this.stage = details.stage;
    this.serverLine = details.serverLine ?? null;
    this.challenge = details.challenge ?? null;
    this.enhancedStatus = details.enhancedStatus ?? null;
    this.temporary = Boolean(details.temporary);
  }
}

/** A token store failed (`kind`: `io`, `permissions`, `corrupt`, `lock_timeout`, `unavailable`). */
export class StoreError extends MailoauthError {
  constructor(kind, message, options) {
    super(message, kind, options);
    this.name = 'StoreError';
    /** Every store failure is fixed in the configuration (core's `StoreErrorKind::group`). */
    this.group = 'configuration';
  }
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * @internal Node's console.log and util.inspect call this hook: `obj` is shown with `fields`
 * as `[redacted]`. The hook is not enumerable, so `{...obj}` and JSON.stringify stay plain
 * copies (a token can be stored, a device-code flow resumed).
 */
export function redacted(obj, fields) {
  Object.defineProperty(obj, INSPECT, {
    enumerable: false,
    value(depth, options, inspect) {
      const shown = { ...this };
      for (const f of fields) if (shown[f] != null) shown[f] = '[redacted]';
      return inspect ? inspect(shown, options) : shown;
    },
  });
  return obj;
}

/** @internal A token, its secrets hidden from console.log. */
export function redactToken(token) {
  return token && redacted(token, ['accessToken', 'refreshToken', 'idToken']);
}

/** @internal The error the core's details name (`type`: IdentityError, MailAuthError, TypeError). */
export function errorFromDetails(d) {
  if (d.type === 'TypeError') return new TypeError(d.message);
  if (d.type === 'MailAuthError') return new MailAuthError(d);
  return new IdentityError(d);
}

/** @internal used by the Node build's glue */
export function errorFromJson(text) {
  return errorFromDetails(JSON.parse(text));
}
