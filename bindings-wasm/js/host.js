// The host side of the core's sans-IO machines: `drive` runs a flow the wasm built, sending
// its requests with fetch and sleeping its waits with setTimeout. Every decision (which
// request, which retry, how long to wait, what an answer means) is the core's.

import { IdentityError, withHint } from './errors.js';
import { call } from './wasm.js';

function cancelled(signal) {
  const r = signal?.reason;
  if (r instanceof Error && r.name !== 'AbortError') return r;
  return new IdentityError({ kind: 'cancelled', message: 'cancelled by the caller', display: 'cancelled: cancelled by the caller' });
}

// `promise`, or the caller's abort, whichever comes first.
function orAbort(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(cancelled(signal));
  let off;
  const aborted = new Promise((_, reject) => {
    off = () => reject(cancelled(signal));
    signal.addEventListener('abort', off, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', off));
}

/**
 * Runs flow number `flow` of the core to its end: `fetch` is the client's option (else the
 * global one), `signal` an AbortSignal that cancels it (at the next request or wait).
 * @internal
 */
export async function drive(flow, fetch, signal) {
  try {
    let step = call('resume', { flow, kind: 'start' });
    for (;;) {
      if (step.send) {
        const { method, url, headers, body, maxBytes, timeoutMs } = step.send;
        let answer;
        try {
          answer = await orAbort(httpSend(fetch, method, url, headers, body, timeoutMs, maxBytes), signal);
        } catch (e) {
          if (e instanceof Error) throw e; // the caller's abort
          step = call('resume', { flow, kind: 'error', message: e.message, timedOut: e.timedOut });
          continue;
        }
        step = call('resume', { flow, kind: 'response', status: answer.status, headers: answer.headers }, answer.body);
      } else if ('wait' in step) {
        await orAbort(sleepMs(step.wait), signal);
        step = call('resume', { flow, kind: 'woke' });
      } else {
        return step.done;
      }
    }
  } catch (e) {
    throw await withHint(e);
  } finally {
    call('dropFlow', { flow });
  }
}

/**
 * One HTTP request through `fetch`, without following redirects (the core treats a redirect
 * from a token endpoint as an error), with a time-out, reading at most `maxBytes` (the core's
 * limit). Rejects with `{message, timedOut}` (not an Error) when no answer came.
 * @internal
 */
export async function httpSend(fetchFn, method, url, headers, body, timeoutMs, maxBytes) {
  const doFetch = typeof fetchFn === 'function' ? fetchFn : globalThis.fetch;
  if (typeof doFetch !== 'function') {
    throw { message: 'no fetch() in this environment: pass options.fetch', timedOut: false };
  }
  const init = { method, headers: simpleHeaders(headers), redirect: 'manual', cache: 'no-store' };
  if (body) init.body = body;
  if (typeof AbortSignal?.timeout === 'function') init.signal = AbortSignal.timeout(timeoutMs);
  let resp;
  try {
    resp = await doFetch(url, init);
  } catch (e) {
    const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
    throw { message: describe(e), timedOut };
  }
  // A browser reports a redirect it did not follow as an opaque response with status 0.
  const status = resp.type === 'opaqueredirect' ? 302 : resp.status;
  let bytes;
  try {
    bytes = await readBounded(resp, maxBytes);
  } catch (e) {
    if (e instanceof TooLarge) throw { message: e.message, timedOut: false };
    throw { message: describe(e), timedOut: e?.name === 'TimeoutError' };
  }
  const pairs = [];
  resp.headers?.forEach?.((value, name) => pairs.push([name, value]));
  return { status, headers: pairs, body: bytes };
}

class TooLarge extends Error {}

// The body, read no further than `maxBytes` (the core's MAX_RESPONSE_BYTES, passed by the
// wasm): a larger one is refused, as the native client does.
async function readBounded(resp, maxBytes) {
  const tooLarge = () => new TooLarge(`response larger than ${maxBytes} bytes`);
  const declared = Number(resp.headers?.get?.('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await resp.body?.cancel?.().catch(() => {});
    throw tooLarge();
  }
  const reader = resp.body?.getReader?.();
  if (!reader) {
    const all = new Uint8Array(await resp.arrayBuffer());
    if (all.length > maxBytes) throw tooLarge();
    return all;
  }
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// In a browser, a token request with custom headers needs a CORS preflight, which token
// endpoints do not answer; like MSAL.js, send only the CORS-safelisted ones there.
const SAFELISTED = new Set(['accept', 'content-type', 'accept-language', 'content-language']);
function simpleHeaders(headers) {
  const inBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';
  return inBrowser ? headers.filter(([name]) => SAFELISTED.has(name.toLowerCase())) : headers;
}

function describe(e) {
  const parts = [];
  for (let x = e, depth = 0; x && depth < 4; x = x.cause, depth++) {
    const text = x.message ?? String(x);
    if (text && !parts.includes(text)) parts.push(text);
    if (x.code && !parts.includes(x.code)) parts.push(x.code);
  }
  return parts.join(': ') || 'fetch failed';
}

/** @internal */
export function sleepMs(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
