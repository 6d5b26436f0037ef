// Token acquisition from Node against the local identity-platform emulator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  PublicClient, ConfidentialClient, IdentityError, MailoauthError, MemoryStore, FileStore, defaultCachePath,
  appOnlyScope, checkAccessToken, mailScopes, xoauth2, nodeCertificate,
} from '../js/node.js';
import {
  startEmulator, signIn, addUser, ALICE, ALICE_PASSWORD, MAIL_SCOPES, PUBLIC_CLIENT, CONFIDENTIAL_CLIENT, CLIENT_SECRET,
} from './helpers.mjs';

let emu;
before(async () => {
  emu = await startEmulator(['--device-code-interval', '0']);
});
after(() => emu?.stop());

const client = (extra = {}) => new PublicClient({ clientId: PUBLIC_CLIENT, authority: emu.authority, ...extra });
const grants = async () => (await emu.control('/_emulator/counters')).grants;

describe('device code', () => {
  test('signs in: the callback gets the message, the token names the account', async () => {
    let shown;
    const token = await client().acquireTokenByDeviceCode(MAIL_SCOPES, async (flow) => {
      shown = flow;
      await emu.control('/_emulator/device/approve', { user_code: flow.userCode, username: ALICE });
    });
    assert.match(shown.message, new RegExp(shown.userCode));
    assert.ok(shown.verificationUri.startsWith(emu.url));
    assert.equal(token.account.username, ALICE);
    assert.ok(token.account.homeAccountId.includes('.'));
    assert.ok(token.refreshToken, 'offline_access gives a refresh token');
    assert.ok(token.expiresAt > Date.now() / 1000 + 3000);
    assert.ok(token.scopes.some((s) => s.endsWith('IMAP.AccessAsUser.All')));
    assert.deepEqual(checkAccessToken(token.accessToken, 'imap', ALICE), []);
    assert.equal(xoauth2(ALICE, token.accessToken), Buffer.from(`user=${ALICE}\x01auth=Bearer ${token.accessToken}\x01\x01`).toString('base64'));
  });

  test('declined by the user: IdentityError kind declined with a hint', async () => {
    const err = await client()
      .acquireTokenByDeviceCode(MAIL_SCOPES, (flow) => emu.control('/_emulator/device/deny', { user_code: flow.userCode }))
      .then(() => null, (e) => e);
    assert.ok(err instanceof IdentityError && err instanceof MailoauthError && err instanceof Error);
    assert.equal(err.name, 'IdentityError');
    assert.equal(err.kind, 'declined');
    assert.equal(err.error, 'authorization_declined');
    assert.ok(err.hint.length > 10);
    assert.equal(err.temporary, false);
  });

  test('console.log and util.inspect do not show the device code; the flow still works', async () => {
    const c = client();
    const flow = await c.startDeviceFlow(MAIL_SCOPES);
    assert.ok(flow.deviceCode.length > 10);
    for (const shown of [inspect(flow), inspect(flow, { showHidden: true, depth: 5 }), inspect({ flow })]) {
      assert.ok(!shown.includes(flow.deviceCode), shown);
      assert.ok(shown.includes(flow.userCode) && shown.includes('[redacted]'), shown);
    }
    await emu.control('/_emulator/device/approve', { user_code: flow.userCode, username: ALICE });
    const token = await c.waitDeviceFlow(flow);
    assert.equal(token.account.username, ALICE);
    // Tokens likewise: console.log shows no secret, a copy or JSON keeps them.
    for (const shown of [inspect(token), inspect(token, { showHidden: true, depth: 5 }), inspect({ token })]) {
      for (const secret of [token.accessToken, token.refreshToken, token.idToken]) {
        assert.ok(secret && !shown.includes(secret), shown);
      }
      assert.ok(shown.includes(ALICE) && shown.includes('[redacted]'), shown);
    }
    assert.equal(JSON.parse(JSON.stringify(token)).accessToken, token.accessToken);
    assert.equal({ ...token }.refreshToken, token.refreshToken);
  });

  test('an AbortSignal cancels the wait', async () => {
    const c = client();
    const flow = await c.startDeviceFlow(MAIL_SCOPES);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const err = await c.waitDeviceFlow({ ...flow, interval: 1 }, { signal: ac.signal }).then(() => null, (e) => e);
    assert.ok(err instanceof IdentityError);
    assert.equal(err.kind, 'cancelled');
    assert.ok(Date.now() - started < 5000);
  });
});

describe('refresh and the cache', () => {
  test('refresh rotates the refresh token and gives a new access token', async () => {
    const c = client();
    const first = await signIn(c, emu);
    const before = (await grants()).refresh_token ?? 0;
    const second = await c.refresh(first.refreshToken, MAIL_SCOPES);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.ok(second.refreshToken && second.refreshToken !== first.refreshToken);
    assert.equal(second.account.username, ALICE);
    assert.equal((await grants()).refresh_token, before + 1);
  });

  test('acquireTokenSilent: cached token without a request; refresh when due; interaction_required after revocation', async () => {
    const carol = await addUser(emu, 'carol@contoso.example');
    const store = new MemoryStore();
    const c = client({ cache: store });
    const signedIn = await signIn(c, emu, { username: carol });
    assert.deepEqual(c.accounts().map((a) => a.username), [carol]);
    const tokenRequests = (await emu.control('/_emulator/counters')).requests.token;
    const cached = await c.acquireTokenSilent(MAIL_SCOPES);
    assert.equal(cached.accessToken, signedIn.accessToken);
    assert.equal((await emu.control('/_emulator/counters')).requests.token, tokenRequests, 'served from the cache');

    // A margin longer than the token's life makes every cached token due: silent refreshes.
    const eager = client({ cache: store, refreshMarginSecs: 7200 });
    const refreshed = await eager.acquireTokenSilent(MAIL_SCOPES, { account: carol });
    assert.notEqual(refreshed.accessToken, signedIn.accessToken);
    assert.match(store.load(), /"version": 1/);

    await emu.control('/_emulator/revoke', { username: carol });
    const err = await eager.acquireTokenSilent(MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err?.kind, 'interaction_required');
    assert.deepEqual(err.codes, [50173]);
    assert.ok(c.accounts().length === 1, 'the cache is left intact');
    assert.equal(await c.removeAccount(carol), true);
    assert.deepEqual(c.accounts(), []);
    const none = await c.acquireTokenSilent(MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(none.kind, 'interaction_required');
  });

  test('silent without a cache is a configuration error', async () => {
    const err = await client().acquireTokenSilent(MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err.kind, 'configuration');
  });
});

describe('errors from the token endpoint', () => {
  test('AADSTS50076 on refresh: mfa_required with the code, the hint and the claims', async () => {
    const c = client();
    const t = await signIn(c, emu);
    await emu.control('/_emulator/faults', { endpoint: 'token', grant_type: 'refresh_token', kind: 'aadsts', code: 50076 });
    const err = await c.refresh(t.refreshToken, MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err.kind, 'mfa_required');
    assert.deepEqual(err.codes, [50076]);
    assert.equal(err.error, 'interaction_required');
    assert.match(err.message, /AADSTS50076/);
    assert.match(err.hint, /MFA|multi-factor|interactive/i);
    assert.ok(err.correlationId);
    assert.equal(err.httpStatus, 400);
    assert.ok(!err.message.includes(t.refreshToken));
  });

  test('HTTP 429 with a long Retry-After: throttled, retryAfter set, not waited for', async () => {
    const c = client();
    const t = await signIn(c, emu);
    await emu.control('/_emulator/faults', { endpoint: 'token', kind: 'status', status: 429, retry_after: 120 });
    const started = Date.now();
    const err = await c.refresh(t.refreshToken, MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err.kind, 'throttled');
    assert.equal(err.retryAfter, 120);
    assert.equal(err.temporary, true);
    assert.ok(Date.now() - started < 5000);
  });

  test('a 503 is retried and then succeeds', async () => {
    const c = client();
    const t = await signIn(c, emu);
    await emu.control('/_emulator/faults', { endpoint: 'token', kind: 'status', status: 503, times: 1 });
    const next = await c.refresh(t.refreshToken, MAIL_SCOPES);
    assert.ok(next.accessToken);
  });

  test('an unreachable authority: network error', async () => {
    const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: 'http://127.0.0.1:9/organizations', timeoutMs: 2000 });
    const err = await c.startDeviceFlow(MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err.kind, 'network');
    assert.match(err.message, /127\.0\.0\.1:9/);
  });

  test('a response body over the core\'s limit (1 MiB) is a network error, read no further', async () => {
    const limit = 1024 * 1024;
    let most = 0;
    const fetch = async () => {
      let served = 0;
      const body = new ReadableStream({
        pull(ctrl) {
          if (served >= 4 * limit) return ctrl.close();
          ctrl.enqueue(new Uint8Array(64 * 1024).fill(0x20));
          served += 64 * 1024;
          most = Math.max(most, served);
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const c = new PublicClient({ clientId: PUBLIC_CLIENT, authority: emu.authority, fetch });
    const err = await c.startDeviceFlow(MAIL_SCOPES).then(() => null, (e) => e);
    assert.equal(err?.kind, 'network', String(err));
    assert.match(err.message, new RegExp(`larger than ${limit} bytes`));
    assert.ok(most < 2 * limit, `read ${most} bytes`);
  });

  test('Graph mail scopes are refused before any request', async () => {
    const err = await client().startDeviceFlow(['https://graph.microsoft.com/IMAP.AccessAsUser.All']).then(() => null, (e) => e);
    assert.equal(err.kind, 'configuration');
  });
});

describe('client credentials', () => {
  const tenantAuthority = () => emu.authority;

  test('a secret gives an app-only token with the mail roles', async () => {
    const app = new ConfidentialClient({ clientId: CONFIDENTIAL_CLIENT, clientSecret: CLIENT_SECRET, authority: tenantAuthority() });
    const scope = appOnlyScope();
    assert.equal(scope, 'https://outlook.office365.com/.default');
    const t = await app.acquireTokenForClient([scope]);
    assert.equal(t.account, null);
    assert.equal(t.refreshToken, null);
    const claims = JSON.parse(Buffer.from(t.accessToken.split('.')[1], 'base64url'));
    assert.deepEqual([...claims.roles].sort(), ['IMAP.AccessAsApp', 'POP.AccessAsApp', 'SMTP.SendAsApp']);
  });

  test('a certificate whose key stays in node:crypto: PS256 and RS256 assertions are accepted', async () => {
    const keys = new URL('../../emulator/keys/', import.meta.url);
    const certificate = readFileSync(new URL('demo-client-cert.pem', keys), 'utf8');
    const privateKey = readFileSync(new URL('demo-client-cert-key.pem', keys), 'utf8');
    for (const algorithm of ['PS256', 'RS256']) {
      const app = new ConfidentialClient({
        clientId: CONFIDENTIAL_CLIENT, authority: tenantAuthority(),
        certificate: nodeCertificate({ certificate, privateKey, algorithm }),
      });
      const t = await app.acquireTokenForClient([appOnlyScope()]);
      assert.ok(t.accessToken.split('.').length === 3, algorithm);
    }
    const failing = new ConfidentialClient({
      clientId: CONFIDENTIAL_CLIENT, authority: tenantAuthority(),
      certificate: { der: new Uint8Array([1, 2, 3]), sign: () => { throw new Error('HSM offline'); } },
    });
    const err = await failing.acquireTokenForClient([appOnlyScope()]).then(() => null, (e) => e);
    assert.equal(err.kind, 'configuration');
    assert.match(err.message, /HSM offline/);
    // Exactly one credential, as in every language (the core's rule): neither, or both, is a
    // configuration error; the secret does not silently win.
    const config = (e) => e instanceof IdentityError && e.kind === 'configuration';
    assert.throws(() => new ConfidentialClient({ clientId: CONFIDENTIAL_CLIENT, authority: tenantAuthority() }), config);
    assert.throws(
      () => new ConfidentialClient({
        clientId: CONFIDENTIAL_CLIENT, authority: tenantAuthority(), clientSecret: CLIENT_SECRET,
        certificate: { der: new Uint8Array([1, 2, 3]), sign: () => new Uint8Array() },
      }),
      (e) => config(e) && /not both/.test(e.message),
    );
  });

  test('a wrong secret: invalid_client, AADSTS7000215, no secret in the error', async () => {
    const app = new ConfidentialClient({ clientId: CONFIDENTIAL_CLIENT, clientSecret: 'wrong-secret-value', authority: tenantAuthority() });
    const err = await app.acquireTokenForClient([appOnlyScope()]).then(() => null, (e) => e);
    assert.equal(err.kind, 'invalid_client');
    assert.deepEqual(err.codes, [7000215]);
    assert.equal(err.httpStatus, 401);
    assert.ok(!JSON.stringify({ ...err, m: err.message }).includes('wrong-secret-value'));
  });
});

describe('authorization code + PKCE (split flow, as a web app would run it)', () => {
  test('getAuthorizationUrl → the browser signs in → handleRedirect', async () => {
    await emu.control('/_emulator/settings', { auto_approve_as: ALICE });
    try {
      const c = client();
      const url = new URL(c.getAuthorizationUrl(MAIL_SCOPES, { redirectUri: 'http://localhost:8400/', loginHint: ALICE }));
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(url.searchParams.get('code_challenge').length, 43);
      assert.ok(!url.searchParams.has('code_verifier'));
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 302);
      const back = res.headers.get('location');
      assert.ok(back.startsWith('http://localhost:8400/?code='));
      const token = await c.handleRedirect(back);
      assert.equal(token.account.username, ALICE);
      // the request is used up: the same redirect again is not ours any more
      assert.equal(await c.handleRedirect(back), null);
      assert.equal(await c.handleRedirect('http://localhost:8400/?code=x&state=forged'), null);
    } finally {
      await emu.control('/_emulator/settings', { auto_approve_as: '' });
    }
  });

  test('an error redirect becomes a typed error', async () => {
    const c = client();
    const url = new URL(c.getAuthorizationUrl(MAIL_SCOPES, { redirectUri: 'http://localhost/cb' }));
    const state = url.searchParams.get('state');
    const err = await c
      .handleRedirect(`http://localhost/cb?error=access_denied&error_description=AADSTS65004%3A+User+declined&state=${state}`)
      .then(() => null, (e) => e);
    assert.equal(err.kind, 'declined');
    assert.deepEqual(err.codes, [65004]);
  });
});

describe('FileStore (the CLI\'s token file)', () => {
  test('same format and rules as the core: mode 0600, version 1, shared between clients', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailoauth-js-file-'));
    try {
      const path = join(dir, 'state', 'tokens.json');
      const c = client({ cache: new FileStore(path) });
      const t = await signIn(c, emu);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      assert.equal(doc.version, 1);
      assert.equal(doc.entries[0].client_id, PUBLIC_CLIENT);
      assert.equal(doc.entries[0].account.username, ALICE);
      assert.equal(doc.entries[0].environment, emu.url);
      // another client (another process, or the CLI) reading the same file
      const before = (await emu.control('/_emulator/counters')).requests.token;
      const again = await client({ cache: new FileStore(path) }).acquireTokenSilent(MAIL_SCOPES);
      assert.equal(again.accessToken, t.accessToken);
      assert.equal((await emu.control('/_emulator/counters')).requests.token, before);

      chmodSync(path, 0o644);
      const err = await client({ cache: new FileStore(path) }).acquireTokenSilent(MAIL_SCOPES).then(() => null, (e) => e);
      assert.equal(err.kind, 'storage');
      assert.match(err.message, /chmod 600/);
      chmodSync(path, 0o600);

      writeFileSync(path, '{"truncated":', { mode: 0o600 });
      const corrupt = await client({ cache: new FileStore(path) }).acquireTokenSilent(MAIL_SCOPES).then(() => null, (e) => e);
      assert.equal(corrupt.kind, 'storage');
      assert.match(corrupt.message, /corrupt-\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('default path follows the CLI', () => {
    assert.equal(defaultCachePath({ MAILOAUTH_STATE_DIR: '/s' }), '/s/tokens.json');
    assert.equal(defaultCachePath({ XDG_STATE_HOME: '/x' }), '/x/mailoauth/tokens.json');
    assert.match(defaultCachePath({}), /\.local\/state\/mailoauth\/tokens\.json$/);
  });

  test('mailScopes follows the core', () => {
    assert.deepEqual(mailScopes(['imap']), ['offline_access', 'https://outlook.office.com/IMAP.AccessAsUser.All']);
  });
});
