// What the wasm module needs from its host: HTTP through fetch, and a timer.

/**
 * One HTTP request through `fetch`, without following redirects (the core treats a redirect
 * from a token endpoint as an error) and with a time-out.
 * @internal used by the wasm glue
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

/** @internal used by the wasm glue */
export function sleepMs(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
