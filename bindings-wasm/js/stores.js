// Token stores that work everywhere (memory) and in browsers (localStorage, IndexedDB). A
// store is any object with `load(): string | null` and `save(text)`; the token cache keeps
// one JSON document in it (the same format as the CLI's and Python's file).

/** Tokens for the life of this page or process. */
export class MemoryStore {
  #text = null;
  load() {
    return this.#text;
  }
  save(text) {
    this.#text = text;
  }
  describe() {
    return 'memory';
  }
}

/**
 * Tokens in `localStorage` (or any Web Storage object) under one key. Readable by every
 * script of the origin: an XSS hole exposes them, as with MSAL's localStorage cache.
 */
export class LocalStorageStore {
  #key;
  #storage;
  constructor(key = 'mailoauth.tokens', storage = globalThis.localStorage) {
    if (!storage) throw new TypeError('no localStorage here: pass a Storage object');
    this.#key = key;
    this.#storage = storage;
  }
  load() {
    return this.#storage.getItem(this.#key);
  }
  save(text) {
    this.#storage.setItem(this.#key, text);
  }
  quarantine() {
    const aside = `${this.#key}.corrupt-${Date.now()}`;
    this.#storage.setItem(aside, this.#storage.getItem(this.#key) ?? '');
    this.#storage.removeItem(this.#key);
    return `localStorage key ${aside}`;
  }
  describe() {
    return `localStorage key ${this.#key}`;
  }
}

/**
 * Tokens in IndexedDB. The cache reads and writes synchronously, IndexedDB is asynchronous:
 * `IndexedDbStore.open()` reads the stored document into memory once, reads are served from
 * that mirror, and each save updates the mirror at once and is written to IndexedDB in the
 * background, in order. `await store.flush()` waits for the writes (e.g. before closing a
 * page); a failed write is reported by the next `flush()`.
 */
export class IndexedDbStore {
  #db;
  #key;
  #text;
  #writes = Promise.resolve();
  #failure = null;

  constructor(db, key, text) {
    this.#db = db;
    this.#key = key;
    this.#text = text;
  }

  static async open({ database = 'mailoauth', key = 'tokens', indexedDB = globalThis.indexedDB } = {}) {
    if (!indexedDB) throw new TypeError('no IndexedDB here');
    const db = await request(
      (() => {
        const r = indexedDB.open(database, 1);
        r.onupgradeneeded = () => r.result.createObjectStore('cache');
        return r;
      })(),
    );
    const text = await request(db.transaction('cache', 'readonly').objectStore('cache').get(key));
    return new IndexedDbStore(db, key, typeof text === 'string' ? text : null);
  }

  load() {
    return this.#text;
  }

  save(text) {
    this.#text = text;
    this.#writes = this.#writes.then(() =>
      new Promise((resolve) => {
        const tx = this.#db.transaction('cache', 'readwrite');
        tx.objectStore('cache').put(text, this.#key);
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => {
          this.#failure = tx.error ?? new Error('IndexedDB write failed');
          resolve();
        };
      }),
    );
  }

  /** Waits until every save so far is in IndexedDB. */
  async flush() {
    await this.#writes;
    if (this.#failure) {
      const f = this.#failure;
      this.#failure = null;
      throw f;
    }
  }

  describe() {
    return `IndexedDB ${this.#db.name}/${this.#key}`;
  }
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
