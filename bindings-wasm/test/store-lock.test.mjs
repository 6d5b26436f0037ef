// The Node FileStore and the native FileStore (the CLI, Python, Swift) share one store lock
// (`<file>.store-lock`, created exclusively), so a save from either side never overwrites what
// the other just wrote. The native side is a real Rust process: `mailoauth-testkit
// hold-store-lock` (the core's FileStore lock) and the `mailoauth` CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FileStore, PublicClient } from '../js/node.js';
import { startEmulator, signIn, ALICE, MAIL_SCOPES, PUBLIC_CLIENT } from './helpers.mjs';

const run = promisify(execFile);

function binary(name) {
  const path = process.env[name];
  if (!path) throw new Error(`${name} is not set: run the tests through scripts/tests.d/40-wasm.sh`);
  return path;
}

let emu;
let dir;
before(async () => {
  emu = await startEmulator(['--device-code-interval', '0']);
});
after(() => emu?.stop());

const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), 'mailoauth-js-lock-'));
  return join(dir, 'tokens.json');
};
const holders = [];
const cleanup = () => {
  // a failed assertion leaves a holder waiting on its stdin
  for (const h of holders.splice(0)) h.kill();
  rmSync(dir, { recursive: true, force: true });
};
const client = (path) => new PublicClient({ clientId: PUBLIC_CLIENT, authority: emu.authority, cache: new FileStore(path) });
const refreshTokenOf = (path, user) =>
  JSON.parse(readFileSync(path, 'utf8')).entries.find((e) => e.account.username === user)?.refresh_token;
const settled = (p) => {
  const s = { done: false };
  p.then(() => { s.done = true; }, () => { s.done = true; });
  return s;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A Rust process holding the core FileStore's store lock until `release()`. */
function holdNative(path) {
  const child = spawn(binary('MAILOAUTH_TESTKIT_BIN'), ['hold-store-lock', path], { stdio: ['pipe', 'pipe', 'inherit'] });
  holders.push(child);
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`hold-store-lock exited with ${code}`)));
  });
  const held = next();
  return {
    held,
    async release() {
      const released = next();
      child.stdin.end();
      return released;
    },
  };
}

describe('the store lock shared with the native FileStore', () => {
  test('a Node save waits while a Rust process holds the lock, and the other way round', async () => {
    const path = fresh();
    try {
      await client(path).importRefreshToken('seed@contoso.example', 'rt-0');
      const holder = holdNative(path);
      assert.deepEqual(await holder.held, { held: true });
      const save = client(path).importRefreshToken('a@contoso.example', 'rt-a');
      const s = settled(save);
      await sleep(700);
      assert.equal(s.done, false, 'the Node save waited for the Rust holder');
      assert.equal(refreshTokenOf(path, 'a@contoso.example'), undefined);
      assert.deepEqual(await holder.release(), { released: true });
      await save;
      assert.equal(refreshTokenOf(path, 'a@contoso.example'), 'rt-a');
      assert.equal(existsSync(`${path}.store-lock`), false, 'released after the save');

      // Node holds it: the Rust process waits until Node releases.
      const mine = new FileStore(path).tryLock();
      assert.ok(mine);
      assert.equal(statSync(`${path}.store-lock`).mode & 0o777, 0o600);
      assert.equal(new FileStore(path).tryLock(), null, 'exclusive within Node too');
      const waiting = holdNative(path);
      const w = settled(waiting.held);
      await sleep(700);
      assert.equal(w.done, false, 'the Rust process waited for Node');
      mine.release();
      assert.deepEqual(await waiting.held, { held: true });
      await waiting.release();
    } finally {
      cleanup();
    }
  });

  test('stale locks are broken: a dead process of this host, or older than 30 s', async () => {
    const path = fresh();
    try {
      await client(path).importRefreshToken('seed@contoso.example', 'rt-0');
      const lock = `${path}.store-lock`;
      const text = (pid, host, created) => `mailoauth store lock\npid=${pid}\nhost=${host}\ncreated=${created}\nnonce=t\n`;
      const gone = spawn('true');
      await new Promise((r) => gone.once('exit', r));
      writeFileSync(lock, text(gone.pid, hostname(), Date.now()), { mode: 0o600 });
      const started = Date.now();
      await client(path).importRefreshToken('a@contoso.example', 'rt-a');
      assert.ok(Date.now() - started < 2000, 'a dead owner is not waited for');
      assert.equal(refreshTokenOf(path, 'a@contoso.example'), 'rt-a');

      writeFileSync(lock, text(4242, 'elsewhere.example', Date.now() - 60_000), { mode: 0o600 });
      await client(path).importRefreshToken('b@contoso.example', 'rt-b');
      assert.equal(refreshTokenOf(path, 'b@contoso.example'), 'rt-b');
      assert.equal(existsSync(lock), false);

      // A fresh lock of a live process on another host is left alone (and waited for).
      writeFileSync(lock, text(4242, 'elsewhere.example', Date.now()), { mode: 0o600 });
      assert.equal(new FileStore(path).tryLock(), null);
      assert.ok(existsSync(lock));
    } finally {
      cleanup();
    }
  });

  test('the CLI refreshing one account while Node adds others: nothing is lost', async () => {
    const path = fresh();
    try {
      const first = await signIn(client(path), emu);
      const config = join(dir, 'config.toml');
      writeFileSync(
        config,
        `[accounts.work]\nclient_id = "${PUBLIC_CLIENT}"\nauthority = "${emu.authority}"\nlogin = "${ALICE}"\nuser = "${ALICE}"\n`,
      );
      const env = { ...process.env, MAILOAUTH_CONFIG: config, MAILOAUTH_STORE: path };
      const cliRuns = 20;
      let last = first.accessToken;
      let cliDone = false;
      const cli = (async () => {
        try {
          for (let i = 0; i < cliRuns; i++) {
            const { stdout } = await run(binary('MAILOAUTH_CLI_BIN'), ['token', 'work', '--refresh'], { env });
            last = stdout.trim();
          }
        } finally {
          cliDone = true;
        }
      })();
      const node = client(path);
      let added = 0;
      // Until the CLI is done (each save rewrites every account: a bounded number).
      while (!cliDone && added < 400) {
        await node.importRefreshToken(`user${added}@contoso.example`, `rt-${added}`);
        added += 1;
        // An uncontended save settles in microtasks: let the CLI's process events run.
        await new Promise((r) => setImmediate(r));
      }
      await cli;
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      const missing = [];
      for (let i = 0; i < added; i++) {
        if (refreshTokenOf(path, `user${i}@contoso.example`) !== `rt-${i}`) missing.push(i);
      }
      assert.deepEqual(missing, [], `Node's accounts lost by concurrent CLI saves (${missing.length} of ${added})`);
      const alice = doc.entries.find((e) => e.account.username === ALICE);
      assert.ok(alice.access_tokens.some((t) => t.secret === last), "the CLI's last refresh is stored");
      assert.notEqual(last, first.accessToken);
      // The stored refresh token is the one the last refresh rotated in: redeeming it works.
      const again = await client(path).acquireTokenSilent(MAIL_SCOPES, { account: ALICE, forceRefresh: true });
      assert.ok(again.accessToken);
      console.log(`# ${cliRuns} CLI refreshes and ${added} Node saves, nothing lost`);
    } finally {
      cleanup();
    }
  });
});
