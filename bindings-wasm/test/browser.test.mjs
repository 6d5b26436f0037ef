// The browser package in headless Chromium (Debian's, driven by playwright-core): a page
// served from http://localhost signs in with authorization code + PKCE through a full-page
// redirect to the emulator over HTTPS, redeems the code with fetch (CORS), keeps the tokens
// in localStorage and builds the XOAUTH2 string; IndexedDB store; error classes. Each test
// runs twice: against the minified bundle (dist/browser/mailoauth.min.js + the wasm next to
// it, what test/browser/app.html imports) and against the unbundled modules (js/index.js +
// dist/mailoauth_wasm.js, the page served with its import specifier replaced). The bundle's
// wasm is served as application/wasm (compiled while it downloads), the modules' wasm without
// that type (compiled after the download): both paths of the loader (js/wasm-web.js).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import tls from 'node:tls';
import { chromium } from 'playwright-core';
import { startEmulator, ALICE, ALICE_PASSWORD } from './helpers.mjs';
import AADSTS_HINTS from '../dist/aadsts-hints.js';

const PKG = new URL('..', import.meta.url).pathname;
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html; charset=utf-8' };
const BUNDLE = '/pkg/dist/browser/mailoauth.min.js';
/** entry (the page's `entry` cookie) -> the module the page imports */
const ENTRIES = { bundle: BUNDLE, source: '/pkg/js/index.js' };
/** entry -> the files it loads at once (the bundle's exactly; the modules' at least) */
const ENTRY_FILES = { bundle: [BUNDLE, '/pkg/dist/browser/mailoauth_wasm_bg.wasm'], source: ['/pkg/js/index.js', '/pkg/dist/mailoauth_wasm.js'] };

/** test/browser/app.html, importing the given entry module instead of the bundle. */
function appHtml(entry) {
  const html = readFileSync(join(PKG, 'test/browser/app.html'), 'utf8');
  const specifier = ENTRIES[entry];
  assert.ok(specifier && html.includes(`'${BUNDLE}'`), `app.html imports '${BUNDLE}'; entry ${entry}`);
  return html.replace(`'${BUNDLE}'`, `'${specifier}'`);
}

let emu;
let server;
let appUrl;
let browser;

/** base64 SHA-256 of a certificate's public key, the form Chromium's SPKI allow-list takes. */
const spki = (cert) => createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

function leafCertificate(url, ca) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: hostname, port: Number(port), ca, servername: hostname === '127.0.0.1' ? undefined : hostname }, () => {
      const der = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(der));
    });
    s.on('error', reject);
  });
}

before(async () => {
  emu = await startEmulator(['--https']);
  assert.ok(emu.url.startsWith('https://'));
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      const entry = new URLSearchParams((req.headers.cookie ?? '').replace(/; /g, '&')).get('entry') ?? 'bundle';
      let html;
      try {
        html = appHtml(entry);
      } catch (e) {
        res.writeHead(500).end(String(e));
        return;
      }
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' }).end(html);
      return;
    }
    // the package's files: js/, dist/ (glue and wasm) and dist/browser/ (the minified bundle)
    const file = path.startsWith('/pkg/') ? normalize(join(PKG, path.slice(5))) : undefined;
    if (!file || !file.startsWith(PKG) || !/^\/pkg\/(js|dist)\//.test(path)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(file);
      // The unbundled entry's wasm comes without its media type, so the loader's other path
      // (compile after the download) runs too; the bundle's wasm streams (application/wasm).
      const type = path === '/pkg/dist/mailoauth_wasm_bg.wasm' ? 'application/octet-stream' : TYPES[extname(file)];
      res.writeHead(200, { 'content-type': type ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  appUrl = `http://localhost:${server.address().port}/`;

  // Trust the emulator's certificate for this browser only: its SPKI hashes (leaf and CA).
  const leaf = await leafCertificate(emu.url, emu.ca);
  const pins = [spki(leaf), spki(new X509Certificate(emu.ca))].join(',');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', // CI runs as root
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-gpu', `--ignore-certificate-errors-spki-list=${pins}`,
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  emu?.stop();
});

async function newPage(entry) {
  const context = await browser.newContext();
  await context.addCookies([
    { name: 'authority', value: encodeURIComponent(emu.authority), url: appUrl },
    { name: 'entry', value: entry, url: appUrl },
  ]);
  const page = await context.newPage();
  const errors = [];
  /** paths of the package's files the page loaded */
  const loaded = new Set();
  page.on('requestfinished', (r) => {
    const u = new URL(r.url());
    if (u.origin === new URL(appUrl).origin && u.pathname.startsWith('/pkg/')) loaded.add(u.pathname);
  });
  page.on('pageerror', (e) => errors.push(e.message));
  // favicon 404s and the deliberate 400 below are logged as resource errors: not counted
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
  return { context, page, errors, loaded };
}

/** The page ran the code it was meant to: the bundle and the wasm next to it, or the modules. */
function assertLoaded(entry, loaded) {
  const paths = [...loaded].sort();
  if (entry === 'bundle') {
    assert.deepEqual(paths, [BUNDLE, '/pkg/dist/browser/mailoauth_wasm_bg.wasm']);
  } else {
    assert.ok(paths.includes('/pkg/js/index.js') && paths.includes('/pkg/dist/mailoauth_wasm.js'), paths.join(' '));
    assert.ok(paths.includes('/pkg/dist/mailoauth_wasm_bg.wasm'), paths.join(' '));
    assert.ok(!paths.some((p) => p.startsWith('/pkg/dist/browser/')), paths.join(' '));
  }
}

for (const entry of Object.keys(ENTRIES)) {
  test(`authorization code + PKCE redirect flow in Chromium against the emulator over HTTPS (${entry})`, async () => {
    const { context, page, errors, loaded } = await newPage(entry);
    try {
      await page.goto(appUrl);
      await page.waitForFunction('window.ready === true');
      assert.equal(await page.textContent('#out'), 'not signed in', errors.join('\n'));

      await Promise.all([page.waitForURL((u) => u.href.startsWith(emu.url)), page.evaluate('window.signIn()')]);
      const authorize = new URL(page.url());
      assert.equal(authorize.protocol, 'https:');
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(authorize.searchParams.get('redirect_uri'), appUrl);

      // the emulator's sign-in page, filled in like a user would
      await page.fill('input[name=login]', ALICE);
      await page.fill('input[name=passwd]', ALICE_PASSWORD);
      await Promise.all([page.waitForURL((u) => u.href.startsWith(appUrl)), page.click('button[value=accept]')]);
      await page.waitForFunction('window.ready === true');
      const failure = await page.evaluate('window.failure');
      assert.equal(failure, undefined, JSON.stringify(failure));
      const result = await page.evaluate('window.result');
      assert.ok(result, `no result; page errors: ${errors.join('\n')}`);
      assert.equal(result.username, ALICE);
      assert.equal(Buffer.from(result.sasl, 'base64').toString(), `user=${ALICE}\x01auth=Bearer ${result.accessToken}\x01\x01`);
      assert.equal(page.url(), appUrl, 'the code is removed from the address bar');
      assert.match(await page.textContent('#out'), /signed in as alice@contoso\.example/);

      // the PKCE request is consumed; tokens are in localStorage, silent works after a reload
      const stored = JSON.parse(await page.evaluate(() => localStorage.getItem('mailoauth.tokens')));
      assert.equal(stored.version, 1);
      assert.equal(stored.entries[0].account.username, ALICE);
      assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('mailoauth.request.'))), []);
      await page.reload();
      await page.waitForFunction('window.ready === true');
      const silent = await page.evaluate('window.silent()');
      assert.equal(silent.accessToken, result.accessToken);

      // nothing but the library itself was needed so far (the hint texts are not)
      assert.deepEqual(errors, []);
      assertLoaded(entry, loaded);

      // a refresh with a bad token: a real IdentityError subclass crosses into page code
      const shape = await page.evaluate('window.errorShape()');
      assert.deepEqual(
        { ...shape, hint: undefined, message: undefined },
        { isIdentityError: true, name: 'IdentityError', kind: 'invalid_grant', codes: shape.codes, hint: undefined, message: undefined },
      );
      assert.ok(shape.codes.length > 0 && shape.hint.length > 0, JSON.stringify(shape));
      assert.ok(shape.message.endsWith(`. Hint: ${shape.hint}`), shape.message);
      // an AADSTS code with its own hint (refresh token expired after inactivity): the text
      // the browser build loads on demand, in the error's hint and message
      await emu.control('/_emulator/faults', { endpoint: 'token', grant_type: 'refresh_token', kind: 'aadsts', code: 700082, times: 1 });
      const expired = await page.evaluate('window.errorShape()');
      assert.deepEqual(expired.codes, [700082]);
      assert.ok(AADSTS_HINTS[700082], 'the core has a hint for AADSTS700082');
      assert.equal(expired.hint, AADSTS_HINTS[700082]);
      assert.ok(expired.message.endsWith(`. Hint: ${AADSTS_HINTS[700082]}`) && expired.message.includes('(AADSTS700082'), expired.message);
      const hintsFile = [...loaded].filter((p) => !ENTRY_FILES[entry].some((f) => p === f) && /aadsts-hints/.test(p));
      assert.equal(hintsFile.length, 1, `the hint texts were fetched once on demand: ${[...loaded].join(' ')}`);
      for (const p of hintsFile) loaded.delete(p);
      assert.deepEqual(errors, []);
      assertLoaded(entry, loaded);
    } finally {
      await context.close();
    }
  });

  test(`the browser build leaves out the Node-only parts (${entry})`, async () => {
    const { context, page, loaded } = await newPage(entry);
    try {
      await page.goto(appUrl);
      await page.waitForFunction('window.ready === true');
      const { ropc, absent } = await page.evaluate('window.nodeOnly()');
      assert.deepEqual(absent, ['ConfidentialClient', 'decodeChallenge', 'checkAccessToken', 'login', 'FileStore']);
      assert.equal(ropc?.isIdentityError, true, JSON.stringify(ropc));
      assert.equal(ropc.kind, 'configuration');
      assert.match(ropc.message, /only in the Node build/);
      assertLoaded(entry, loaded);
    } finally {
      await context.close();
    }
  });

  test(`IndexedDbStore persists across opens (${entry})`, async () => {
    const { context, page, loaded } = await newPage(entry);
    try {
      await page.goto(appUrl);
      await page.waitForFunction('window.ready === true');
      assert.equal(await page.evaluate('window.indexedDbRoundTrip()'), '{"version":1,"entries":[]}');
      assertLoaded(entry, loaded);
    } finally {
      await context.close();
    }
  });
}
