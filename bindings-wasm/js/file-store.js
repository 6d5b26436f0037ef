// The token cache in a JSON file, in the format and with the rules of the core's FileStore
// (used by the CLI and the Python package), so all of them can share one file.
import {
  closeSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync,
  statSync, unlinkSync, writeSync,
} from 'node:fs';
import { homedir, hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';

/**
 * Where the CLI keeps its tokens: `$MAILOAUTH_STATE_DIR/tokens.json`, else
 * `$XDG_STATE_HOME/mailoauth/tokens.json`, else `~/.local/state/mailoauth/tokens.json`.
 */
export function defaultCachePath(env = process.env) {
  if (env.MAILOAUTH_STATE_DIR) return join(env.MAILOAUTH_STATE_DIR, 'tokens.json');
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'mailoauth', 'tokens.json');
}

function storeError(what, path, e) {
  const kind = e?.code === 'EACCES' || e?.code === 'EPERM' ? 'permissions' : 'io';
  return new StoreError(kind, `${what} ${path}: ${e?.message ?? e}`, { cause: e });
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// ---- the store lock, shared with the core's FileStore (core/src/cache/store_lock.rs) ------
//
// Node has no flock, so the store lock (held around load + change + save, never across the
// network) is a file created exclusively, the same protocol as the core's, so that the CLI,
// Python, Swift and Node exclude each other:
// - take: create `<file>.store-lock` with O_CREAT|O_EXCL (`wx`), mode 0600, holding
//   "mailoauth store lock\npid=..\nhost=..\ncreated=<Unix ms>\nnonce=<random>\n";
// - held unless stale: stale when its host is this host and kill(pid, 0) says no such
//   process, or when it was created more than 30 s ago (or ahead: a clock that moved); a file
//   that does not parse yet (its owner is writing it, or died doing so) ages by its mtime;
// - break a stale lock / release one's own: rename it to a unique name, check that the file
//   moved is the one judged (same bytes, same inode), remove it; a different file (taken
//   meanwhile) is put back with a hard link, which never replaces a newer lock.
// The remaining race (three processes on one stale lock within microseconds) is described in
// the core's module. Waiting, backoff and the `lock_timeout` error are the core's: the wasm
// cache polls tryLock() with the platform timer.

const STALE_AFTER_MS = 30_000;
const LOCK_MAGIC = 'mailoauth store lock';

function ownerText() {
  const nonce = randomBytes(6).toString('base64url');
  return `${LOCK_MAGIC}\npid=${process.pid}\nhost=${hostname()}\ncreated=${Date.now()}\nnonce=${nonce}\n`;
}

// The owner a lock file names, or null if it is incomplete (every field and the final newline).
function parseOwner(text) {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== LOCK_MAGIC) return null;
  const f = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf('=');
    if (i < 0) return null;
    f[line.slice(0, i)] = line.slice(i + 1);
  }
  if (!/^\d+$/.test(f.pid ?? '') || !/^-?\d+$/.test(f.created ?? '') || f.host === undefined || f.nonce === undefined) {
    return null;
  }
  return { pid: Number(f.pid), host: f.host, created: Number(f.created), nonce: f.nonce };
}

/** The decision on a lock found in place: 'held', or why it is stale. */
function judgeLock(owner, mtimeMs, now, host) {
  if (owner && owner.host === host && !processAlive(owner.pid)) return 'its process is gone';
  const since = owner ? owner.created : mtimeMs;
  if (since !== undefined && Math.abs(now - since) > STALE_AFTER_MS) return 'it is older than 30 s';
  return 'held';
}

// A lock file as read: its text and identity (null: gone).
function inspectLock(path) {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw storeError('cannot read lock file', path, e);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { text: buf.subarray(0, n).toString('utf8'), id: `${st.dev}:${st.ino}`, mtimeMs: Number(st.mtimeMs) };
  } catch (e) {
    throw storeError('cannot read lock file', path, e);
  } finally {
    closeSync(fd);
  }
}

// Removes the lock file at `path` if it is still `expected` (move aside, check, remove; a
// different file moved is put back). Returns whether it was removed.
function removeLockIfSame(path, expected) {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('base64url')}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if (e.code === 'ENOENT') return false;
    throw storeError('cannot break the stale lock', path, e);
  }
  const moved = inspectLock(aside);
  const same = moved !== null && moved.text === expected.text && moved.id === expected.id;
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // a newer lock is in place (or links are not supported): leave it
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
  return same;
}

// Creates the lock file exclusively; null if it exists.
function createLock(path, text) {
  let fd;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if (e.code === 'EEXIST') return null;
    throw storeError('cannot create lock file', path, e);
  }
  try {
    writeSync(fd, text);
    const st = fstatSync(fd, { bigint: true });
    return { text, id: `${st.dev}:${st.ino}` };
  } catch (e) {
    closeSync(fd);
    fd = undefined;
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    throw storeError('cannot write lock file', path, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Takes the store lock at `path` without waiting: `{release()}`, or null if it is held. */
function tryStoreLock(path) {
  const text = ownerText();
  const host = hostname();
  for (let round = 0; round < 4; round++) {
    const mine = createLock(path, text);
    if (mine) {
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          removeLockIfSame(path, mine);
        },
      };
    }
    const found = inspectLock(path);
    if (!found) continue;
    if (judgeLock(parseOwner(found.text), found.mtimeMs, Date.now(), host) === 'held') return null;
    removeLockIfSame(path, found);
  }
  return null;
}

/**
 * A JSON file, mode 0600 in a 0700 directory, replaced atomically (temporary file, fsync,
 * rename). A file other users can read is refused (`permissions`), as the CLI does.
 *
 * Writes take the same store lock as the CLI and the Python and Swift packages
 * (`<file>.store-lock`, created exclusively; see above), so that a save from Node (which
 * writes back the whole document, loaded afresh under the lock) never overwrites an account
 * another process refreshed meanwhile. Node has no `flock`, so it takes no per-account refresh
 * lock: a Node process and the CLI refreshing the same account at the same moment may both
 * refresh. That costs a request and loses nothing (each save merges into what is stored).
 */
export class FileStore {
  #path;
  constructor(path = defaultCachePath()) {
    this.#path = path;
  }

  get path() {
    return this.#path;
  }

  load() {
    let st;
    try {
      st = statSync(this.#path);
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw storeError('cannot access', this.#path, e);
    }
    const mode = st.mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new StoreError(
        'permissions',
        `${this.#path} holds tokens but other users can access it (mode ${mode.toString(8).padStart(3, '0')}); run: chmod 600 ${this.#path}`,
      );
    }
    try {
      return readFileSync(this.#path, 'utf8');
    } catch (e) {
      throw storeError('cannot read', this.#path, e);
    }
  }

  save(text) {
    const dir = dirname(this.#path);
    const name = basename(this.#path);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw storeError('cannot create directory', dir, e);
    }
    this.#removeStaleTempFiles(dir, name);
    const tmp = join(dir, `.${name}.tmp-${process.pid}-${randomBytes(6).toString('base64url')}`);
    let fd;
    try {
      fd = openSync(tmp, 'wx', 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      renameSync(tmp, this.#path);
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
      throw storeError('cannot write', this.#path, e);
    }
    try {
      const d = openSync(dir, 'r');
      fsyncSync(d);
      closeSync(d);
    } catch {
      // directory fsync is best effort (not supported everywhere)
    }
  }

  quarantine() {
    // A unique name (time and a random part): two damaged files in one second are both kept.
    const aside = `${this.#path}.corrupt-${Math.floor(Date.now() / 1000)}-${randomBytes(6).toString('hex')}`;
    try {
      renameSync(this.#path, aside);
    } catch (e) {
      throw storeError('cannot move aside', this.#path, e);
    }
    return aside;
  }

  describe() {
    return `file ${this.#path}`;
  }

  /** The store lock shared with the CLI and the other packages: `{release()}`, or null if held. */
  tryLock() {
    const dir = dirname(this.#path);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw storeError('cannot create directory', dir, e);
    }
    return tryStoreLock(`${this.#path}.store-lock`);
  }

  /**
   * An account's refresh lock: always granted (Node has no `flock`, the CLI's per-account
   * lock). Having it tells the cache to hold the store lock only while it saves, never across
   * a refresh's network exchange.
   */
  tryLockAccount(_key) {
    return { release() {} };
  }

  // Temporary files of writers that died mid-write (same naming as the core's FileStore).
  #removeStaleTempFiles(dir, name) {
    const prefix = `.${name}.tmp-`;
    let entries;
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.startsWith(prefix)) continue;
      const pid = Number.parseInt(entry.slice(prefix.length).split('-')[0], 10);
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
        try {
          unlinkSync(join(dir, entry));
        } catch {
          // someone else removed it
        }
      }
    }
  }
}
