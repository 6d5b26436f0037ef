// Page load to an access token from the cache, in headless Chromium: mailoauth's minified
// browser bundle (dist/browser/mailoauth.min.js + the wasm next to it) and @azure/msal-browser
// (lib/msal-browser.min.js, a pinned dev dependency) side by side in one run. Run by
// scripts/bench/page-load.sh from bindings-wasm/ (so that playwright-core resolves):
//
//   node ../scripts/bench/page_load.mjs [runs per library, default 30]
//
// What is measured, per run: a new browser context (empty HTTP cache, so the library's JS and
// wasm are fetched, compiled and instantiated again; every response is also `no-store`) with
// the storage (localStorage + cookies) a setup run left, loads a page that constructs the
// client and asks for a token silently; the page reports `performance.now()` (milliseconds
// since navigation start) the moment the token is in hand. A run fails if the page requested
// anything other than the page and the library's files, if the token is not the seeded one,
// or (msal) if the result does not say `fromCache`. Two more pages in the same rotation: mailoauth
// with preload hints (<link rel=modulepreload> + <link rel=preload as=fetch> for the wasm) and a
// blank page without a library (navigation, HTML, an inline module: the floor).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { createRequire } from 'node:module';

const PKG = new URL('../../bindings-wasm/', import.meta.url).pathname;
// playwright-core is bindings-wasm's dev dependency: resolved from there (this file is outside it)
const { chromium } = createRequire(`${PKG}package.json`)('playwright-core');
const N = Number(process.argv[2] ?? 30);
const WARMUP = 2;
if (!Number.isInteger(N) || N < 1) throw new Error(`runs: a positive integer, not ${process.argv[2]}`);

const CLIENT_ID = 'c0ffee00-0000-4000-8000-00000000b0b0';
const TID = '72f988bf-0000-4000-8000-0000000000aa';
const OID = '00000000-0000-4000-8000-00000000a11c';
const USER = 'alice@contoso.example';
const SCOPES = ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send'];
const AUTHORITY = 'https://login.microsoftonline.com/organizations';
const SECRET = { mailoauth: 'seeded-access-token-mailoauth', msal: 'seeded-access-token-msal' };

// An unsigned ID token and client_info, the claims both libraries read for the account.
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const ID_TOKEN = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({
  aud: CLIENT_ID, iss: `https://login.microsoftonline.com/${TID}/v2.0`, iat: now, nbf: now, exp: now + 7200,
  tid: TID, oid: OID, sub: 'subject', preferred_username: USER, email: USER, name: 'Alice', ver: '2.0',
})}.`;
const CLIENT_INFO = b64url({ uid: OID, utid: TID });
/** The token endpoint's answer the setup runs feed each library (valid for two hours). */
const tokenResponse = (secret) => ({
  token_type: 'Bearer', scope: SCOPES.join(' '), expires_in: 7200, ext_expires_in: 7200,
  access_token: secret, refresh_token: 'seeded-refresh-token', id_token: ID_TOKEN, client_info: CLIENT_INFO,
});

const FILES = {
  '/lib/mailoauth/mailoauth.min.js': ['dist/browser/mailoauth.min.js', 'text/javascript'],
  '/lib/mailoauth/mailoauth_wasm_bg.wasm': ['dist/browser/mailoauth_wasm_bg.wasm', 'application/wasm'],
  '/lib/msal/msal-browser.min.js': ['node_modules/@azure/msal-browser/lib/msal-browser.min.js', 'text/javascript'],
};
const MSAL_VERSION = JSON.parse(readFileSync(`${PKG}node_modules/@azure/msal-browser/package.json`, 'utf8')).version;

const HEAD = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">';
const report = `window.__result = { ms, accessToken: t.accessToken, username: t.account.username, fromCache: t.fromCache };`;
const fail = `catch (e) { window.__result = { error: String(e && (e.stack || e.message) || e) }; }`;
const C = JSON.stringify;

// mailoauth: setup seeds the cache through the library (a refresh answered by a fake fetch in
// the page: the library itself writes its localStorage document); measure uses the real fetch.
const mailoauthPage = (mode, preload) => `${HEAD}<title>mailoauth</title>${preload ? `
<link rel="modulepreload" href="/lib/mailoauth/mailoauth.min.js">
<link rel="preload" href="/lib/mailoauth/mailoauth_wasm_bg.wasm" as="fetch" crossorigin>` : ''}
<script type="module">
  import { PublicClient, LocalStorageStore } from '/lib/mailoauth/mailoauth.min.js';
  try {
    ${mode === 'setup' ? `
    const body = ${C(C(tokenResponse(SECRET.mailoauth)))};
    const fetch = async () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    const seeder = new PublicClient({ clientId: ${C(CLIENT_ID)}, tenant: 'organizations', cache: new LocalStorageStore(), fetch });
    await seeder.refresh('seed-refresh-token', ${C(SCOPES)});
    const t = { accessToken: 'setup', account: { username: '' } }; const ms = 0;` : `
    const client = new PublicClient({ clientId: ${C(CLIENT_ID)}, tenant: 'organizations', cache: new LocalStorageStore() });
    const t = await client.acquireTokenSilent(${C(SCOPES)});
    const ms = performance.now();`}
    ${report}
  } ${fail}
</script>`;

// msal-browser: setup seeds its cache with its public loadExternalTokens (no request needed:
// msal ships the metadata of login.microsoftonline.com/organizations); measure initializes a
// PublicClientApplication on localStorage and calls acquireTokenSilent for the cached account.
const msalConfig = `{ auth: { clientId: ${C(CLIENT_ID)}, authority: ${C(AUTHORITY)}, redirectUri: location.origin + '/' }, cache: { cacheLocation: 'localStorage' } }`;
const msalPage = (mode) => `${HEAD}<title>msal-browser</title>
<script src="/lib/msal/msal-browser.min.js"></script>
<script>
  (async () => {
    try {
      ${mode === 'setup' ? `
      await msal.loadExternalTokens(${msalConfig}, { scopes: ${C(SCOPES)}, authority: ${C(AUTHORITY)} }, ${C(tokenResponse(SECRET.msal))}, {});
      const t = { accessToken: 'setup', account: { username: '' } }; const ms = 0;` : `
      const pca = new msal.PublicClientApplication(${msalConfig});
      await pca.initialize();
      const account = pca.getAllAccounts()[0];
      if (!account) throw new Error('no account in the cache');
      const t = await pca.acquireTokenSilent({ scopes: ${C(SCOPES)}, account });
      const ms = performance.now();`}
      ${report}
    } ${fail}
  })();
</script>`;

// The floor: the same navigation with no library (an inline module reporting at once).
const blankPage = () => `${HEAD}<title>blank</title>
<script type="module">const ms = performance.now(); window.__result = { ms };</script>`;

// mailoauth-preload: the same page with preload hints, so that the wasm is fetched while the
// module is (without them the module's top-level await starts the wasm fetch after it ran)
const PAGES = { mailoauth: mailoauthPage, 'mailoauth-preload': (mode) => mailoauthPage(mode, true), msal: msalPage, blank: blankPage };
/** the library whose cache (seeded token, storage) a page uses */
const LIB = { mailoauth: 'mailoauth', 'mailoauth-preload': 'mailoauth', msal: 'msal', blank: 'blank' };
/** what each page may request (the page itself and its library's files), nothing else */
const ALLOWED = {
  mailoauth: ['/lib/mailoauth/mailoauth.min.js', '/lib/mailoauth/mailoauth_wasm_bg.wasm'],
  'mailoauth-preload': ['/lib/mailoauth/mailoauth.min.js', '/lib/mailoauth/mailoauth_wasm_bg.wasm'],
  msal: ['/lib/msal/msal-browser.min.js'],
  blank: [],
};

const server = createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const m = /^\/(mailoauth|mailoauth-preload|msal|blank)\.html$/.exec(u.pathname);
  if (m) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGES[m[1]](u.searchParams.get('mode') ?? 'measure'));
    return;
  }
  const f = FILES[u.pathname];
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  // read at each request, as a static server would serve it
  res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' });
  res.end(readFileSync(PKG + f[0]));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const ORIGIN = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'],
});

/** One load of `lib`'s page in a new context: {ms, result, requests}; throws if a check fails. */
async function load(lib, mode, storageState) {
  const context = await browser.newContext(storageState ? { storageState } : {});
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  // nothing leaves the machine: anything not on our server is aborted (and fails the run)
  await context.route((url) => url.origin !== ORIGIN, (route) => route.abort());
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${ORIGIN}/${lib}.html?mode=${mode}`);
    await page.waitForFunction('window.__result !== undefined', null, { timeout: 30_000 });
    const result = await page.evaluate('window.__result');
    // when the last of the library's files had arrived (resource timing, same time origin)
    result.fetchedMs = await page.evaluate(() => Math.max(0, ...performance.getEntriesByType('resource').filter((e) => e.name.includes('/lib/')).map((e) => e.responseEnd)));
    if (result.error || errors.length) throw new Error(`${lib} ${mode}: ${result.error ?? errors.join('\n')}`);
    const page0 = `${ORIGIN}/${lib}.html?mode=${mode}`;
    const extra = requests.filter((u) => new URL(u).origin !== ORIGIN || (u !== page0 && !ALLOWED[lib].includes(new URL(u).pathname)));
    if (extra.length) throw new Error(`${lib} ${mode}: requests other than the page and the library: ${extra.join(' ')}`);
    if (mode === 'measure') {
      const once = ALLOWED[lib].filter((p) => requests.filter((u) => u === ORIGIN + p).length !== 1);
      if (once.length) throw new Error(`${lib}: not fetched exactly once: ${once.join(' ')}`);
      if (lib !== 'blank') {
        if (result.accessToken !== SECRET[LIB[lib]]) throw new Error(`${lib}: not the seeded token: ${result.accessToken}`);
        if (result.username !== USER) throw new Error(`${lib}: account ${result.username}`);
        if (lib === 'msal' && result.fromCache !== true) throw new Error(`msal: fromCache is ${result.fromCache}`);
      }
    }
    return { result, storage: mode === 'setup' ? await context.storageState() : undefined, requests };
  } finally {
    await context.close();
  }
}

// Setup: one load per library that seeds its cache through its own API; what it leaves in the
// origin's storage (localStorage, and msal's session cookie holding its cache encryption key)
// is given to every measured context.
const state = {
  mailoauth: (await load('mailoauth', 'setup')).storage,
  msal: (await load('msal', 'setup')).storage,
  blank: undefined,
};
state['mailoauth-preload'] = state.mailoauth;
const doc = JSON.parse(state.mailoauth.origins[0].localStorage.find((i) => i.name === 'mailoauth.tokens').value);
if (doc.entries?.[0]?.access_tokens?.[0]?.secret !== SECRET.mailoauth) throw new Error('mailoauth setup: no access token in the cache document');
const msalKeys = state.msal.origins[0]?.localStorage.length ?? 0;
const msalCookie = state.msal.cookies.some((c) => c.name === 'msal.cache.encryption');

const libs = Object.keys(PAGES);
const times = Object.fromEntries(libs.map((l) => [l, []]));
const fetched = Object.fromEntries(libs.map((l) => [l, []]));
const load0 = loadavg()[0];
for (let i = 0; i < WARMUP + N; i++) {
  // interleaved, the order rotating each round
  for (let k = 0; k < libs.length; k++) {
    const lib = libs[(i + k) % libs.length];
    const { result } = await load(lib, 'measure', state[lib]);
    if (i >= WARMUP) {
      times[lib].push(result.ms);
      fetched[lib].push(result.fetchedMs);
    }
  }
}
const load1 = loadavg()[0];
const chromiumVersion = browser.version();
await browser.close();
server.close();

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * p;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
};
const size = (p) => readFileSync(PKG + p).length;
console.log(`Chromium ${chromiumVersion} headless (${process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'}), playwright-core, ${cpus().length} CPUs, load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}`);
console.log(`page served from ${ORIGIN} (node:http, loopback, every response no-store)`);
console.log('measured: performance.now() (ms since navigation start) when the access token is in hand;');
console.log('  cold load: a new browser context per run (empty HTTP and code cache): the page, the library JS');
console.log('  and wasm are fetched, compiled and instantiated each run; storage (localStorage + cookies) from a setup run.');
console.log('  mailoauth: new PublicClient({clientId, tenant: organizations, cache: new LocalStorageStore()}) + acquireTokenSilent(scopes)');
console.log('  msal: new PublicClientApplication({..., cache: {cacheLocation: localStorage}}) + await initialize() + getAllAccounts()[0]');
console.log('        + acquireTokenSilent({scopes, account}) (fromCache checked; its localStorage is encrypted, the key in a session cookie)');
console.log(`  seeded caches: mailoauth by the library (refresh answered by a fake fetch in the setup page), msal by loadExternalTokens`);
console.log(`  (${msalKeys} localStorage keys, encryption cookie ${msalCookie ? 'present' : 'absent'}); each run fails on any request but the page and its library files.`);
console.log(`runs: ${N} per library after ${WARMUP} discarded warm-up rounds, interleaved (${libs.join(', ')}; order rotating)`);
console.log();
const f1 = (x) => x.toFixed(1).padStart(8);
const row = (name, lib) => console.log(`${name.padEnd(52)} ${f1(q(times[lib], 0.5))} ${f1(q(times[lib], 0.9))} ${f1(Math.min(...times[lib]))} ${lib === 'blank' ? '       -' : f1(q(fetched[lib], 0.5))}`);
console.log(`${'page load -> token from cache (ms)'.padEnd(52)} ${'median'.padStart(8)} ${'p90'.padStart(8)} ${'min'.padStart(8)} ${'files in'.padStart(8)}`);
row(`mailoauth (min.js ${size(FILES['/lib/mailoauth/mailoauth.min.js'][0])} B + wasm ${size(FILES['/lib/mailoauth/mailoauth_wasm_bg.wasm'][0])} B)`, 'mailoauth');
row(`@azure/msal-browser ${MSAL_VERSION} (min.js ${size(FILES['/lib/msal/msal-browser.min.js'][0])} B)`, 'msal');
row('mailoauth, page with preload hints for both files', 'mailoauth-preload');
row('blank page, no library (the floor)', 'blank');
console.log("('files in': median time the library's last file had arrived, resource timing responseEnd; raw sizes, served uncompressed)");
const ratio = q(times.mailoauth, 0.5) / q(times.msal, 0.5);
const ratio90 = q(times.mailoauth, 0.9) / q(times.msal, 0.9);
const above = (lib) => q(times[lib], 0.5) - q(times.blank, 0.5);
console.log(`ratio (median): mailoauth / msal-browser = ${ratio.toFixed(2)}; p90 ${ratio90.toFixed(2)}; above the blank page's median: mailoauth ${above('mailoauth').toFixed(1)} ms, msal ${above('msal').toFixed(1)} ms (${(above('mailoauth') / above('msal')).toFixed(2)})`);
console.log(`ratio (min): ${(Math.min(...times.mailoauth) / Math.min(...times.msal)).toFixed(2)}`);
if (Math.max(load0, load1) > cpus().length / 2) {
  console.log(`note: the machine was busy (load average up to ${Math.max(load0, load1).toFixed(2)} on ${cpus().length} CPUs): absolute times and spread are inflated; rerun on a quiet machine`);
}
console.log(`ratio with preload hints (median): mailoauth / msal-browser = ${(q(times['mailoauth-preload'], 0.5) / q(times.msal, 0.5)).toFixed(2)} (informational; msal's page has one file, nothing to preload)`);
console.log(`JSON ${JSON.stringify({ n: N, ...Object.fromEntries(libs.map((l) => [l, times[l].map((x) => +x.toFixed(1))])) })}`);
