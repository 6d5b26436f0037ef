// Test support: the local identity-platform emulator and a real Dovecot (mailoauth-testkit),
// both started as processes from the binaries the test command exports. A missing binary
// fails the test run: nothing is skipped.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
export const PUBLIC_CLIENT = 'c0ffee00-0000-4000-8000-000000000002';
export const CONFIDENTIAL_CLIENT = 'c0ffee00-0000-4000-8000-000000000003';
export const CLIENT_SECRET = 'demo~secret~value~not~a~real~secret';
export const ALICE = 'alice@contoso.example';
export const ALICE_PASSWORD = 'alice-password';
export const MAIL_SCOPES = [
  'https://outlook.office.com/IMAP.AccessAsUser.All',
  'https://outlook.office.com/POP.AccessAsUser.All',
  'https://outlook.office.com/SMTP.Send',
];

export const REPO = new URL('../../', import.meta.url).pathname;

function binary(name) {
  const path = process.env[name];
  if (!path) throw new Error(`${name} is not set: run the tests through scripts/tests.d/40-wasm.sh (or scripts/test-all.sh)`);
  return path;
}

/** Reads the first stdout line of a child process (with a time-out). */
function firstLine(child, what, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in time: ${stderr}`)), timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolve({ line, rl });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${stderr}`));
    });
  });
}

/** The emulator binary: `{url, caFile, control(path, body), stop()}`. */
export async function startEmulator(args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'mailoauth-js-emu-'));
  const https = args.includes('--https');
  const caFile = join(dir, 'ca.pem');
  const all = ['--port', '0', ...args, ...(https ? ['--ca-out', caFile] : [])];
  const child = spawn(binary('MAILOAUTH_EMULATOR_BIN'), all, { stdio: ['ignore', 'pipe', 'pipe'] });
  const { line } = await firstLine(child, 'mailoauth-emulator');
  const url = line.trim();
  const ca = https ? readFileSync(caFile, 'utf8') : null;
  const control = async (path, body, method) => {
    // The control API is plain JSON over HTTP(S); HTTPS is only used by the browser test,
    // which talks to it through node:https with the emulator's CA.
    const res = await request(`${url}${path}`, method ?? (body === undefined ? 'GET' : 'POST'), body, ca);
    if (res.status >= 400) throw new Error(`${path}: ${res.status} ${res.text}`);
    return res.text ? JSON.parse(res.text) : null;
  };
  return {
    url,
    ca,
    caFile,
    authority: `${url}/${TENANT}`,
    control,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function request(url, method, body, ca) {
  if (!ca) {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A real Dovecot validating tokens at the emulator: ports, `ca`, `command(line)`, `stop()`. */
export async function startDovecot(emulator) {
  const child = spawn(
    binary('MAILOAUTH_TESTKIT_BIN'),
    ['dovecot', '--validator-url', `${emulator.url}/_emulator/introspect`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const { line, rl } = await firstLine(child, 'mailoauth-testkit dovecot', 30_000);
  const info = JSON.parse(line);
  const replies = [];
  const waiting = [];
  rl.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(JSON.parse(l));
    else replies.push(JSON.parse(l));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    ...info,
    ca: readFileSync(info.ca_file, 'utf8'),
    /** One control command (`messages`, `clear`, `log`, ...); resolves to its JSON answer. */
    command(text) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${text}\n`);
      });
    },
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGTERM'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Signs a user (default alice) in with the device flow, approved through the control API. */
export async function signIn(client, emulator, { scopes = MAIL_SCOPES, username = ALICE } = {}) {
  return client.acquireTokenByDeviceCode(scopes, async (flow) => {
    await emulator.control('/_emulator/device/approve', { user_code: flow.userCode, username });
  });
}

/** Adds a user to the demo tenant (so a test can revoke it without disturbing others). */
export async function addUser(emulator, username) {
  await emulator.control('/_emulator/users', { username, password: `${username}-password`, tenant: TENANT });
  return username;
}
