// Hostile peers against the Node paths: a scripted identity endpoint (node:http on loopback,
// reached through the binding's fetch path) and scripted mail servers (node:net) against the
// Node login driver. Each attack ends in a typed error within its deadline, nothing is sent
// that should not be, and a stored refresh token survives a hostile answer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { PublicClient, IdentityError, MailAuthError, MemoryStore, login } from '../js/node.js';
import { MAIL_SCOPES, PUBLIC_CLIENT } from './helpers.mjs';

const ESC = '\x1b[2J\x1b]0;pwned\x07\r\u202e\x9b31m';
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const USER = 'alice@contoso.example';
const DAY = 86_400;

/** A scripted identity endpoint: `handle(req, res, request, n)` answers request number n. */
async function identityServer(handle) {
  const requests = [];
  const srv = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = { url: req.url, form: new URLSearchParams(body) };
    requests.push(r);
    try {
      await handle(req, res, r, requests.length);
    } catch {
      res.destroy();
    }
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${srv.address().port}`;
  return {
    base,
    authority: `${base}/organizations`,
    requests,
    polls: () => requests.filter((r) => r.form.get('grant_type')?.endsWith('device_code')).length,
    close() {
      srv.closeAllConnections();
      srv.close();
    },
  };
}

function answer(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

const deviceAnswer = (expiresIn, interval = '0', message = 'Go to the page') =>
  `{"device_code":"dc-secret","user_code":"UC1","verification_uri":"https://microsoft.com/devicelogin","expires_in":${expiresIn},"interval":${interval},"message":${JSON.stringify(message)}}`;
const tokenAnswer = (expiresIn) =>
  `{"token_type":"Bearer","access_token":"at-new","refresh_token":"rt-2","expires_in":${expiresIn},"scope":"${MAIL_SCOPES.join(' ')}"}`;
const PENDING = '{"error":"authorization_pending","error_description":"AADSTS70016: pending"}';

/** A client over a store that already holds `rt-1` for USER. */
async function clientWithStoredToken(authority, extra = {}) {
  const store = new MemoryStore();
  const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority, cache: store, timeoutMs: 2000, ...extra });
  await c.importRefreshToken(USER, 'rt-1');
  assert.equal(storedRefreshToken(store), 'rt-1');
  return { c, store };
}

function storedRefreshToken(store) {
  const doc = JSON.parse(store.load());
  const entry = doc.entries.find((e) => e.account.username === USER);
  return entry?.refresh_token;
}

const settle = (p) => p.then((v) => ({ value: v }), (e) => ({ error: e }));

function assertSafe(err, ...fields) {
  for (const text of [String(err), err.message, err.reason, err.hint, ...fields]) {
    if (text == null) continue;
    assert.ok(!UNSAFE.test(text), `raw control character in ${JSON.stringify(text)}`);
  }
}

describe('hostile identity endpoint (Node fetch path)', () => {
  test('huge and negative expires_in in the device-code answer: clamped to a day, or a protocol error', async () => {
    for (const huge of ['9223372036854775807', '1e30', '18446744073709551615']) {
      const s = await identityServer((req, res) => answer(res, 200, deviceAnswer(huge)));
      try {
        const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: s.authority });
        const now = Date.now() / 1000;
        const flow = await c.startDeviceFlow(MAIL_SCOPES);
        assert.ok(flow.expiresAt >= now && flow.expiresAt <= now + DAY + 5, `${huge}: ${flow.expiresAt}`);
      } finally {
        s.close();
      }
    }
    const s = await identityServer((req, res) => answer(res, 200, deviceAnswer('-5')));
    try {
      const err = await new PublicClient({ clientId: PUBLIC_CLIENT, authority: s.authority }).startDeviceFlow(MAIL_SCOPES).then(() => null, (e) => e);
      assert.ok(err instanceof IdentityError, String(err));
      assert.equal(err.kind, 'protocol');
    } finally {
      s.close();
    }
  });

  test('huge and negative expires_in in a token answer: a usable token, its lifetime clamped; the rotated refresh token stored', async () => {
    for (const [expiresIn, most] of [['9223372036854775807', DAY], ['1e30', DAY], ['-9223372036854775808', 0]]) {
      const s = await identityServer((req, res) => answer(res, 200, tokenAnswer(expiresIn)));
      try {
        const { c, store } = await clientWithStoredToken(s.authority);
        const now = Math.floor(Date.now() / 1000);
        const t = await c.acquireTokenSilent(MAIL_SCOPES, { account: USER });
        assert.equal(t.accessToken, 'at-new');
        assert.ok(t.expiresAt >= now && t.expiresAt <= now + most + 5, `${expiresIn}: ${t.expiresAt - now}`);
        assert.equal(storedRefreshToken(store), 'rt-2');
      } finally {
        s.close();
      }
    }
  });

  test('control characters in error_description and the device-code message do not reach errors or messages', async () => {
    const jsonEsc = [...ESC].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    const s = await identityServer((req, res, r) => {
      if (r.url.endsWith('/devicecode')) {
        return answer(res, 200, deviceAnswer('60', '0', 'x').replace('"message":"x"', `"message":"Go to https://x${jsonEsc} now"`));
      }
      return answer(res, 400, `{"error":"invalid_grant${jsonEsc}","error_description":"AADSTS70000: bad${jsonEsc}\\r\\nTrace ID: t${jsonEsc}","error_codes":[70000],"correlation_id":"c${jsonEsc}","trace_id":"t${jsonEsc}","suberror":"s${jsonEsc}"}`);
    });
    try {
      const { c, store } = await clientWithStoredToken(s.authority);
      const flow = await c.startDeviceFlow(MAIL_SCOPES);
      assert.ok(flow.message.startsWith('Go to https://x'), flow.message);
      assert.ok(!UNSAFE.test(flow.message), JSON.stringify(flow.message));
      const err = await c.waitDeviceFlow(flow).then(() => null, (e) => e);
      assert.ok(err instanceof IdentityError, String(err));
      assert.equal(err.kind, 'invalid_grant');
      assert.ok(err.reason.startsWith('AADSTS70000: bad'), err.reason);
      assertSafe(err, err.error, err.errorDescription, err.correlationId, err.traceId, err.suberror);
      // The same answer to a refresh: the stored refresh token is kept for the next try.
      const again = await c.acquireTokenSilent(MAIL_SCOPES, { account: USER }).then(() => null, (e) => e);
      assertSafe(again, again.error, again.errorDescription);
      assert.equal(storedRefreshToken(store), 'rt-1');
    } finally {
      s.close();
    }
  });

  test('garbage, non-JSON, oversized and endlessly dripping bodies: typed errors within the deadline; the stored refresh token survives', async (t) => {
    const timeoutMs = 2000;
    // Each request may take the time-out, and is tried 3 times (2 retries, 0.5 s + 1 s backoff).
    const deadline = 3 * timeoutMs + 1500 + 2000;
    const attacks = {
      garbage: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x7b]));
      },
      'not JSON': (res) => answer(res, 200, `<html><body>${ESC}Service Unavailable</body></html>`),
      'a JSON array': (res) => answer(res, 200, '[1,2,3]'),
      'over 1 MiB': (res) => answer(res, 200, `{"access_token":"${'a'.repeat(2 * 1024 * 1024)}"}`),
      'an endless drip': (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        const t = setInterval(() => res.write(' '), 100);
        res.on('close', () => clearInterval(t));
      },
    };
    for (const [name, attack] of Object.entries(attacks)) {
      const s = await identityServer((req, res) => attack(res));
      try {
        const { c, store } = await clientWithStoredToken(s.authority, { timeoutMs });
        const started = Date.now();
        const { error } = await settle(c.acquireTokenSilent(MAIL_SCOPES, { account: USER }));
        const took = Date.now() - started;
        t.diagnostic(`${name}: ${error?.kind} after ${took} ms`);
        assert.ok(error instanceof IdentityError, `${name}: ${error}`);
        assert.ok(['protocol', 'network'].includes(error.kind), `${name}: ${error.kind} ${error.message}`);
        assert.ok(took < deadline, `${name}: ${took} ms`);
        assertSafe(error);
        assert.equal(storedRefreshToken(store), 'rt-1', `${name}: the stored refresh token is kept`);
        if (name === 'over 1 MiB') assert.match(error.message, /larger than 1048576 bytes/);
        if (name === 'an endless drip') assert.equal(error.kind, 'network');
      } finally {
        s.close();
      }
    }
  });

  test('interval 0 from a real identity platform: polls at most once a second', async () => {
    const s = await identityServer((req, res, r) => {
      if (r.url.endsWith('/devicecode')) return answer(res, 200, deviceAnswer('3', '0'));
      return answer(res, 400, PENDING);
    });
    try {
      // An https authority (Microsoft's), its requests carried to the scripted server.
      const real = 'https://login.microsoftonline.com';
      const viaScript = (url, init) => fetch(String(url).replace(real, s.base), init);
      const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: `${real}/organizations`, fetch: viaScript });
      const flow = await c.startDeviceFlow(MAIL_SCOPES);
      assert.equal(flow.interval, 1, 'interval 0 is raised to 1 s');
      const started = Date.now();
      const err = await c.waitDeviceFlow(flow).then(() => null, (e) => e);
      assert.equal(err?.kind, 'expired', String(err));
      const seconds = (Date.now() - started) / 1000;
      assert.ok(s.polls() >= 1 && s.polls() <= Math.ceil(seconds) + 1, `${s.polls()} polls in ${seconds} s`);
    } finally {
      s.close();
    }
  });

  test('a transport error in the middle of the device flow does not end it', async () => {
    let polls = 0;
    const s = await identityServer((req, res, r) => {
      if (r.url.endsWith('/devicecode')) return answer(res, 200, deviceAnswer('120', '0'));
      polls += 1;
      if (polls <= 3) return res.socket.destroy(); // the connection drops: one try and its retries
      if (polls === 4) return answer(res, 400, PENDING);
      return answer(res, 200, tokenAnswer('3600'));
    });
    try {
      const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: s.authority, timeoutMs: 2000 });
      const t = await c.acquireTokenByDeviceCode(MAIL_SCOPES, () => {});
      assert.equal(t.accessToken, 'at-new');
      assert.ok(polls >= 5, `${polls} polls`);
    } finally {
      s.close();
    }
  });

  test('a forged redirect (error=, another state) is ignored; the real one still signs in', async () => {
    const s = await identityServer((req, res) => answer(res, 200, tokenAnswer('3600')));
    try {
      const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: s.authority });
      const redirectUri = 'http://localhost:5173/callback';
      const url = new URL(c.getAuthorizationUrl(MAIL_SCOPES, { redirectUri }));
      const state = url.searchParams.get('state');
      const forged = `${redirectUri}?error=access_denied&error_description=${encodeURIComponent(`AADSTS65004${ESC}`)}&state=forged`;
      assert.equal(await c.handleRedirect(forged), null, 'not a redirect of this client');
      assert.equal(await c.handleRedirect(`${redirectUri}?error=access_denied`), null, 'no state at all');
      assert.equal(s.requests.length, 0, 'nothing was sent');
      const t = await c.handleRedirect(`${redirectUri}?code=the-code&state=${state}`);
      assert.equal(t.accessToken, 'at-new');
      assert.equal(s.requests[0].form.get('code'), 'the-code');
    } finally {
      s.close();
    }
  });
});

/** A one-connection mail server running `script(sock, received)`; `received` is every byte the client sent. */
async function mailServer(script) {
  const received = [];
  const srv = net.createServer((sock) => {
    sock.on('data', (d) => received.push(d));
    sock.on('error', () => {});
    script(sock, received);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: srv.address().port,
    sent: () => Buffer.concat(received).toString('latin1'),
    close: () => srv.close(),
  };
}

const TOKEN = 'hostile-test-token-0123456789';
const mailOpts = (port, extra = {}) => ({
  protocol: 'imap', host: '127.0.0.1', port, security: 'plain', user: USER, accessToken: TOKEN, timeoutMs: 2000, ...extra,
});

/** The login's outcome, or `'still running'` if it has not ended by `guardMs`. */
function loginWithin(options, guardMs) {
  return Promise.race([
    settle(login(options)),
    new Promise((resolve) => setTimeout(() => resolve('still running'), guardMs).unref()),
  ]);
}

describe('hostile mail servers (Node driver)', () => {
  test('a byte a second (each read in time) cannot keep the login past its deadline', async (t) => {
    const timers = [];
    const s = await mailServer((sock) => {
      const text = '* OK still greeting you, one byte at a time'.repeat(100);
      let i = 0;
      const t = setInterval(() => sock.write(text[i++ % text.length]), 1000);
      timers.push(t);
      sock.on('close', () => clearInterval(t));
    });
    try {
      const started = Date.now();
      // timeoutMs 2000 per read: every read gets its byte in time; the whole login has 3 × 2000 ms.
      const outcome = await loginWithin(mailOpts(s.port), 15_000);
      const took = Date.now() - started;
      assert.notEqual(outcome, 'still running', 'the login outlived its deadline');
      t.diagnostic(`ended after ${took} ms: ${outcome.error?.message}`);
      const err = outcome.error;
      assert.ok(err instanceof MailAuthError, String(err));
      assert.equal(err.kind, 'timeout');
      assert.match(err.message, /overall deadline of 6000 ms/);
      assert.ok(took >= 5500 && took < 7500, `${took} ms`);
      assert.ok(!s.sent().includes(TOKEN));
    } finally {
      timers.forEach(clearInterval);
      s.close();
    }
  });

  test('a flood of untagged lines ready at every read cannot outlive the deadline either', async () => {
    const s = await mailServer((sock) => {
      sock.write('* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] hi\r\n');
      let open = true;
      sock.on('close', () => {
        open = false;
      });
      sock.once('data', async () => {
        while (open) {
          if (!sock.write('* OK still here\r\n'.repeat(64))) await new Promise((r) => sock.once('drain', r));
          await new Promise((r) => setImmediate(r));
        }
      });
    });
    try {
      const outcome = await loginWithin(mailOpts(s.port, { timeoutMs: 1000 }), 10_000);
      assert.notEqual(outcome, 'still running');
      assert.ok(outcome.error instanceof MailAuthError, String(outcome.error ?? outcome.value));
      assert.equal(outcome.error.kind, 'timeout');
    } finally {
      s.close();
    }
  });

  test('an endless line without CRLF: a protocol error after the line bound, the rest never read', async (t) => {
    let written = 0;
    const s = await mailServer(async (sock) => {
      let open = true;
      sock.on('close', () => {
        open = false;
      });
      sock.write('* OK ');
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      while (open && written < 64 * 1024 * 1024) {
        written += chunk.length;
        if (!sock.write(chunk)) await new Promise((r) => (open ? sock.once('drain', r) : r()));
      }
    });
    try {
      const before = process.memoryUsage().arrayBuffers;
      const outcome = await loginWithin(mailOpts(s.port, { timeoutMs: 5000 }), 10_000);
      const err = outcome.error;
      assert.ok(err instanceof MailAuthError, String(err ?? outcome));
      assert.equal(err.kind, 'protocol');
      assert.equal(err.stage, 'greeting');
      // The line bound is 64 KiB; what the server got to write is what the socket buffers hold.
      assert.ok(written < 16 * 1024 * 1024, `the server wrote ${written} bytes`);
      const grew = process.memoryUsage().arrayBuffers - before;
      t.diagnostic(`the server wrote ${written} bytes; array buffers grew by ${grew} bytes`);
      assert.ok(grew < 32 * 1024 * 1024, `array buffers grew by ${grew} bytes`);
    } finally {
      s.close();
    }
  });

  test('a garbage greeting: a typed error, nothing sent', async () => {
    for (const greeting of [Buffer.from([0x00, 0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x0d, 0x0a]), Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')]) {
      const s = await mailServer((sock) => sock.write(greeting));
      try {
        const outcome = await loginWithin(mailOpts(s.port), 10_000);
        const err = outcome.error;
        assert.ok(err instanceof MailAuthError, String(err ?? outcome));
        assert.ok(['protocol', 'greeting_refused'].includes(err.kind), err.kind);
        assert.equal(err.stage, 'greeting');
        assertSafe(err, err.serverLine);
        assert.equal(s.sent(), '', 'nothing was sent');
      } finally {
        s.close();
      }
    }
  });

  test('huge literal counts and numbers: typed errors, no crash, no token', async () => {
    const cases = [
      ['imap', '* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] hi {18446744073709551616}\r\n', null],
      ['imap', '* OK hi\r\n', (line) => `* CAPABILITY {99999999999999999999999}\r\n${line.split(' ')[0]} OK done\r\n`],
      ['imap', '* OK hi\r\n', (line) => `* CAPABILITY {4294967296}\r\nIMAP4rev1 AUTH=XOAUTH2\r\n${line.split(' ')[0]} OK done\r\n`],
      ['smtp', '99999999999999999999999 hi\r\n', null],
      ['smtp', '220 hi\r\n', () => '250-hi\r\n250-SIZE 999999999999999999999999999\r\n250 AUTH XOAUTH2\r\n'],
      ['pop3', '+OK hi\r\n', () => '+OK 18446744073709551616 octets\r\nSASL XOAUTH2\r\n.\r\n'],
    ];
    for (const [protocol, greeting, reply] of cases) {
      const s = await mailServer((sock) => {
        sock.write(greeting);
        let buf = '';
        sock.on('data', (d) => {
          buf += d;
          for (let i; (i = buf.indexOf('\r\n')) >= 0; buf = buf.slice(i + 2)) {
            const line = buf.slice(0, i);
            if (/AUTH/i.test(line)) sock.write(protocol === 'imap' ? `${line.split(' ')[0]} NO no\r\n` : protocol === 'smtp' ? '535 no\r\n' : '-ERR no\r\n');
            else if (reply) sock.write(reply(line));
          }
        });
      });
      try {
        const outcome = await loginWithin(mailOpts(s.port, { protocol }), 10_000);
        const err = outcome.error;
        assert.ok(err instanceof MailAuthError, `${protocol} ${JSON.stringify(greeting)}: ${err ?? JSON.stringify(outcome)}`);
        assert.ok(['protocol', 'rejected', 'mechanism_unsupported', 'greeting_refused'].includes(err.kind), err.kind);
        assert.ok(err.kind === 'rejected' || !s.sent().includes(TOKEN), `${err.kind}: the token went out`);
      } finally {
        s.close();
      }
    }
  });

  test('control characters in a NO text do not reach the error', async () => {
    const evil = '\x1b]0;pwned\x07\x1b[2J\x1b[31mAUTH FAILED\x1b[0m\u202e';
    const s = await mailServer((sock) => {
      sock.write('* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n');
      sock.once('data', (d) => sock.write(`${d.toString().split(' ')[0]} NO ${evil}\r\n`));
    });
    try {
      const outcome = await loginWithin(mailOpts(s.port), 10_000);
      const err = outcome.error;
      assert.ok(err instanceof MailAuthError, String(err ?? outcome));
      assert.equal(err.kind, 'rejected');
      assert.match(err.message, /AUTH FAILED/);
      assertSafe(err, err.serverLine);
    } finally {
      s.close();
    }
  });
});
