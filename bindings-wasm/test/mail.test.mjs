// IMAP, SMTP and POP3 login from Node (the core's state machines in wasm, node:net/node:tls
// doing the I/O) against a real Dovecot that validates tokens at the emulator; nodemailer and
// imapflow with tokens from a mailoauth client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicClient, MemoryStore, MailAuthError, login, nodemailerAuth, nodemailerCustomAuth, imapflowAuth } from '../js/node.js';
import { startEmulator, startDovecot, signIn, addUser, ALICE, MAIL_SCOPES, PUBLIC_CLIENT, REPO } from './helpers.mjs';

let emu;
let dovecot;
let client;
let token;
before(async () => {
  emu = await startEmulator(['--device-code-interval', '0']);
  dovecot = await startDovecot(emu);
  client = new PublicClient({ clientId: PUBLIC_CLIENT, authority: emu.authority, cache: new MemoryStore() });
  token = await signIn(client, emu);
});
after(async () => {
  await dovecot?.stop();
  emu?.stop();
});

/** Reads lines from an authenticated session (its leftover bytes first). */
function lineReader(session) {
  let buf = Buffer.from(session.leftover);
  let wake = null;
  let failure = null;
  session.socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  session.socket.on('error', (e) => {
    failure = e;
    wake?.();
  });
  session.socket.resume();
  return async function next() {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const line = buf.subarray(0, i).toString();
        buf = buf.subarray(i + 2);
        return line;
      }
      if (failure) throw failure;
      await new Promise((resolve) => {
        wake = resolve;
      });
    }
  };
}

const server = (protocol, port, security, extra = {}) => ({
  protocol, host: '127.0.0.1', port, security, ca: dovecot.ca, user: ALICE, accessToken: token.accessToken, timeoutMs: 10_000, ...extra,
});

describe('login', () => {
  for (const [name, opts] of [
    ['IMAP, implicit TLS, XOAUTH2', () => server('imap', dovecot.imaps_port, 'tls')],
    ['IMAP, STARTTLS, OAUTHBEARER', () => server('imap', dovecot.imap_port, 'starttls', { mechanism: 'OAUTHBEARER' })],
    ['POP3, implicit TLS, XOAUTH2', () => server('pop3', dovecot.pop3s_port, 'tls')],
    ['POP3, STLS, OAUTHBEARER', () => server('pop3', dovecot.pop3_port, 'starttls', { mechanism: 'OAUTHBEARER' })],
    ['SMTP submission, STARTTLS, XOAUTH2', () => server('smtp', dovecot.submission_port, 'starttls')],
    ['SMTP submission, STARTTLS, OAUTHBEARER', () => server('smtp', dovecot.submission_port, 'starttls', { mechanism: 'OAUTHBEARER' })],
  ]) {
    test(name, async () => {
      const o = opts();
      const session = await login(o);
      const next = lineReader(session);
      try {
        assert.equal(session.upgradedToTls, o.security === 'starttls');
        assert.ok(session.socket.encrypted, 'the session is on TLS');
        assert.ok(session.capabilities.length > 0);
        // the socket continues the session
        if (o.protocol === 'imap') {
          assert.ok(session.capabilities.includes('IMAP4rev1'));
          session.socket.write('a1 SELECT INBOX\r\n');
          let line;
          do line = await next();
          while (line.startsWith('*'));
          assert.match(line, /^a1 OK/);
        } else if (o.protocol === 'pop3') {
          session.socket.write('STAT\r\n');
          assert.match(await next(), /^\+OK \d+ \d+/);
        } else {
          assert.ok(session.capabilities.some((c) => c.startsWith('AUTH')) || session.capabilities.length > 0);
          session.socket.write('NOOP\r\n');
          assert.match(await next(), /^250/);
        }
      } finally {
        session.socket.end();
      }
    });
  }

  test('IMAP probe after login (Exchange\'s "authenticated but not connected" check)', async () => {
    const session = await login(server('imap', dovecot.imaps_port, 'tls', { probe: true }));
    session.socket.end();
    assert.match(session.finalLine, /OK/);
  });

  test('a revoked token: MailAuthError rejected at the auth stage, challenge decoded, no token in it', async () => {
    const dave = await addUser(emu, 'dave@contoso.example');
    const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: emu.authority });
    const t = await signIn(c, emu, { username: dave });
    await emu.control('/_emulator/revoke', { username: dave });
    for (const [protocol, port, security] of [
      ['imap', dovecot.imaps_port, 'tls'],
      ['smtp', dovecot.submission_port, 'starttls'],
      ['pop3', dovecot.pop3s_port, 'tls'],
    ]) {
      const err = await login({ ...server(protocol, port, security), user: dave, accessToken: t.accessToken }).then(() => null, (e) => e);
      assert.ok(err instanceof MailAuthError, `${protocol}: ${err}`);
      assert.equal(err.name, 'MailAuthError');
      assert.equal(err.kind, 'rejected', `${protocol}: ${err.message}`);
      assert.equal(err.protocol, protocol);
      assert.equal(err.stage, 'auth');
      assert.ok(err.serverLine);
      assert.ok(!err.message.includes(t.accessToken) && !JSON.stringify(err).includes(t.accessToken));
      if (protocol !== 'pop3') assert.ok(err.challenge?.status, `${protocol}: the error challenge is decoded`);
    }
  });

  test('a certificate nobody trusts: kind tls, before anything is sent', async () => {
    const err = await login({ ...server('imap', dovecot.imaps_port, 'tls'), ca: undefined }).then(() => null, (e) => e);
    assert.ok(err instanceof MailAuthError);
    assert.equal(err.kind, 'tls');
    const err2 = await login({ ...server('smtp', dovecot.submission_port, 'starttls'), ca: undefined }).then(() => null, (e) => e);
    assert.equal(err2.kind, 'tls');
    assert.equal(err2.stage, 'tls');
  });

  test('STARTTLS required but the port speaks TLS: fails, no credential sent', async () => {
    // implicit-TLS port spoken to in plain text: the greeting never comes → time-out
    const err = await login({ ...server('imap', dovecot.imaps_port, 'starttls'), timeoutMs: 1000 }).then(() => null, (e) => e);
    assert.ok(err instanceof MailAuthError);
    assert.ok(['timeout', 'network', 'protocol', 'greeting'].includes(err.kind), err.kind);
    assert.equal(err.stage, 'greeting');
  });

  test('nothing listening: kind network at the connect stage', async () => {
    const err = await login({ ...server('imap', 9, 'tls'), timeoutMs: 2000 }).then(() => null, (e) => e);
    assert.ok(err instanceof MailAuthError);
    assert.equal(err.kind, 'network');
  });
});

describe('integrations', () => {
  test('nodemailer sends a message through Dovecot\'s submission with the OAuth2 helper', async () => {
    await dovecot.command('clear');
    const auth = await nodemailerAuth(client, { scopes: MAIL_SCOPES });
    assert.equal(auth.type, 'OAuth2');
    assert.equal(auth.user, ALICE);
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: dovecot.submission_port,
      secure: false,
      requireTLS: true,
      tls: { ca: dovecot.ca, servername: 'localhost' },
      auth,
      customAuth: nodemailerCustomAuth,
    });
    try {
      const subject = `mailoauth js test ${Date.now()}`;
      const info = await transport.sendMail({ from: ALICE, to: 'bob@example.net', subject, text: 'sent with a token from mailoauth' });
      assert.deepEqual(info.accepted, ['bob@example.net']);
      let messages = [];
      for (let i = 0; i < 50 && messages.length === 0; i++) {
        messages = (await dovecot.command('messages')).messages;
        if (!messages.length) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(messages.length, 1);
      assert.deepEqual(messages[0].recipients, ['bob@example.net']);
      assert.match(messages[0].data, new RegExp(`Subject: ${subject}`));
    } finally {
      transport.close();
    }
  });

  test('nodemailer\'s provisionCallback asks the cache; renew forces a refresh', async () => {
    const auth = await nodemailerAuth(client, { scopes: MAIL_SCOPES });
    const call = (renew) => new Promise((resolve, reject) => auth.provisionCallback(ALICE, renew, (err, tok, exp) => (err ? reject(err) : resolve({ tok, exp }))));
    const cached = await call(false);
    assert.equal(cached.tok, auth.accessToken);
    assert.ok(cached.exp > Date.now());
    const renewed = await call(true);
    assert.notEqual(renewed.tok, auth.accessToken);
  });

  test('imapflow logs in with the imapflow helper and opens INBOX', async () => {
    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.imaps_port,
      secure: true,
      tls: { ca: dovecot.ca, servername: 'localhost' },
      auth: await imapflowAuth(client, { scopes: MAIL_SCOPES }),
      logger: false,
    });
    await imap.connect();
    try {
      const box = await imap.mailboxOpen('INBOX');
      assert.equal(box.path, 'INBOX');
      assert.ok(imap.authenticated);
    } finally {
      await imap.logout();
    }
  });
});

describe('examples/js', () => {
  test('send-mail.mjs: device code sign-in, then nodemailer through submission; the second run uses the token file', async () => {
    const state = mkdtempSync(join(tmpdir(), 'mailoauth-js-example-'));
    await emu.control('/_emulator/settings', { auto_approve_as: ALICE });
    await dovecot.command('clear');
    const run = () =>
      new Promise((resolve, reject) => {
        execFile(process.execPath, [join(REPO, 'examples/js/send-mail.mjs')], {
          env: {
            ...process.env,
            MAILOAUTH_CLIENT_ID: PUBLIC_CLIENT,
            MAILOAUTH_AUTHORITY: emu.authority,
            MAILOAUTH_STATE_DIR: state,
            SMTP_HOST: '127.0.0.1',
            SMTP_PORT: String(dovecot.submission_port),
            SMTP_CA_FILE: dovecot.ca_file,
            MAIL_TO: 'carol@example.net',
          },
          timeout: 60_000,
        }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)));
      });
    try {
      const first = await run();
      assert.match(first, /To sign in, use a web browser/);
      assert.match(first, /signed in as alice@contoso\.example/);
      assert.match(first, /sent .* to carol@example\.net/);
      const second = await run();
      assert.doesNotMatch(second, /signed in as/, 'the cached token was used');
      assert.match(second, /sent /);
      let messages = [];
      for (let i = 0; i < 50 && messages.length < 2; i++) {
        messages = (await dovecot.command('messages')).messages;
        if (messages.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(messages.length, 2);
      assert.match(messages[0].data, /Subject: Hello from mailoauth/);
    } finally {
      await emu.control('/_emulator/settings', { auto_approve_as: '' });
      rmSync(state, { recursive: true, force: true });
    }
  });
});

// A scripted server on 127.0.0.1 that speaks just enough IMAP to reach STARTTLS, then does the
// handshake with `key`/`cert` (or injects bytes first), then reads AUTHENTICATE.

function certFor(dir, name, san) {
  // A throw-away CA and a server certificate whose only name is `san` (openssl from Debian).
  const p = (f) => join(dir, `${name}-${f}`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name} CA`, '-keyout', p('ca.key'), '-out', p('ca.pem')], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=mail',
    '-keyout', p('key.pem'), '-out', p('csr.pem')], { stdio: 'ignore' });
  writeFileSync(p('ext.cnf'), `subjectAltName=${san}\n`);
  execFileSync('openssl', ['x509', '-req', '-in', p('csr.pem'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', p('ext.cnf'), '-out', p('cert.pem')], { stdio: 'ignore' });
  return { ca: readFileSync(p('ca.pem')), key: readFileSync(p('key.pem')), cert: readFileSync(p('cert.pem')) };
}

function starttlsServer({ key, cert, inject = null, afterOk = '' }) {
  const seen = [];
  const srv = net.createServer((sock) => {
    sock.write('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n');
    sock.once('data', (d) => {
      seen.push(d.toString());
      sock.write(`m1 OK Begin TLS negotiation now\r\n${inject ?? ''}`);
      const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
      secure.on('error', () => {});
      let buf = '';
      secure.on('data', (chunk) => {
        buf += chunk.toString();
        for (let i; (i = buf.indexOf('\r\n')) >= 0; buf = buf.slice(i + 2)) {
          const line = buf.slice(0, i);
          seen.push(line);
          const tag = line.split(' ')[0];
          if (/ CAPABILITY$/i.test(line)) secure.write(`* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n${tag} OK done\r\n`);
          else if (/ AUTHENTICATE /i.test(line)) secure.write(`${tag} OK [CAPABILITY IMAP4rev1] authenticated\r\n${afterOk}`);
        }
      });
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, port: srv.address().port, seen })));
}

describe('STARTTLS on an IP address (scripted server, throw-away CAs)', () => {
  let dir;
  let forIp;
  let forName;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mailoauth-starttls-'));
    forIp = certFor(dir, 'ip', 'IP:127.0.0.1');
    forName = certFor(dir, 'name', 'DNS:localhost');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = (port, ca, extra = {}) => ({
    protocol: 'imap', host: '127.0.0.1', port, security: 'starttls', ca, user: ALICE, accessToken: 'tok-secret-123', timeoutMs: 5000, ...extra,
  });

  test('the certificate is checked against the IP address dialled, after STARTTLS too', async () => {
    const good = await starttlsServer(forIp);
    try {
      const session = await login(opts(good.port, forIp.ca));
      session.socket.end();
      assert.ok(session.upgradedToTls);
    } finally {
      good.srv.close();
    }
    const wrong = await starttlsServer(forName); // a valid certificate, but for "localhost"
    try {
      const err = await login(opts(wrong.port, forName.ca)).then(() => null, (e) => e);
      assert.ok(err instanceof MailAuthError, `${err}`);
      assert.equal(err.kind, 'tls');
      assert.ok(!wrong.seen.some((l) => l.includes('AUTHENTICATE')), 'nothing was sent after the failed handshake');
    } finally {
      wrong.srv.close();
    }
  });

  test('plaintext injected after the STARTTLS go-ahead is refused before anything secret is sent', async () => {
    const s = await starttlsServer({ ...forIp, inject: '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n' });
    try {
      const err = await login(opts(s.port, forIp.ca)).then(() => null, (e) => e);
      assert.ok(err instanceof MailAuthError, `${err}`);
      assert.equal(err.kind, 'protocol');
      assert.ok(!s.seen.some((l) => l.includes('AUTHENTICATE')));
    } finally {
      s.srv.close();
    }
  });

  test('bytes the server sends with the final OK are handed over, not dropped', async () => {
    const s = await starttlsServer({ ...forIp, afterOk: '* 3 EXISTS\r\n' });
    try {
      const session = await login(opts(s.port, forIp.ca));
      const next = lineReader(session);
      assert.equal(await next(), '* 3 EXISTS');
      session.socket.end();
    } finally {
      s.srv.close();
    }
  });
});
