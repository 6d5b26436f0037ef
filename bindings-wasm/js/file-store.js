// The token cache in a JSON file, in the format and with the rules of the core's FileStore
// (used by the CLI and the Python package), so all of them can share one file.
import {
  closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
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

/**
 * A JSON file, mode 0600 in a 0700 directory, replaced atomically (temporary file, fsync,
 * rename). A file other users can read is refused (`permissions`), as the CLI does.
 *
 * Node has no `flock`, so this store does not take the CLI's cross-process lock file: a Node
 * process and the CLI refreshing the same account at the same moment may both refresh. That
 * is harmless (each write is atomic and the older refresh token stays valid), it only costs a
 * request.
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
