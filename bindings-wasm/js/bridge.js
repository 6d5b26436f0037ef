// The wasm's one import: the token stores it reads and writes. A client's store object stays
// here under a number; the core's cache runs one of its methods per `storeCall` and gets a
// JSON answer: `{"ok": value}`, `{"missing": true}` (no such method) or `{"err": {kind,
// message}}` (the method threw). Locks a store hands out are numbered too and released by
// number. No decision about tokens is made here.

const stores = new Map();
const locks = new Map();
let next = 1;

/** @internal A store for the wasm; its number. */
export function registerStore(store) {
  const id = next++;
  stores.set(id, store);
  return id;
}

/** @internal */
export function unregisterStore(id) {
  stores.delete(id);
}

/** @internal Called by the wasm (see src/store.rs). */
export function storeCall(id, method, arg) {
  try {
    if (method === 'release') {
      const lock = locks.get(Number(arg));
      locks.delete(Number(arg));
      lock?.release?.();
      return '{"ok":null}';
    }
    const store = stores.get(id);
    if (method === 'has') return JSON.stringify({ ok: typeof store?.[arg] === 'function' });
    if (typeof store?.[method] !== 'function') return '{"missing":true}';
    let value = method === 'save' || method === 'tryLockAccount' ? store[method](arg) : store[method]();
    if (method === 'tryLock' || method === 'tryLockAccount') {
      if (value == null || value === false) {
        value = null;
      } else {
        const lockId = next++;
        locks.set(lockId, value);
        value = lockId;
      }
    } else if (method === 'save') {
      value = null;
    } else if (value instanceof Uint8Array) {
      value = new TextDecoder().decode(value);
    } else if (value !== null && typeof value === 'object') {
      value = 0; // not a string, bytes or null: the core says so
    }
    return JSON.stringify({ ok: value ?? null });
  } catch (e) {
    return JSON.stringify({ err: { kind: typeof e?.kind === 'string' ? e.kind : null, message: String(e?.message ?? e) } });
  }
}

/** @internal Called by the wasm: the core's random values (PKCE verifier, state, ids). */
export function fillRandom(buf) {
  globalThis.crypto.getRandomValues(buf);
}
