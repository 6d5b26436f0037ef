// Compiled with `tsc --noEmit` by the test command: the package's declarations must describe
// the API the examples and README use (self-reference through package.json "exports").
import {
  PublicClient, ConfidentialClient, IdentityError, MailAuthError, MemoryStore, FileStore, login,
  nodemailerAuth, nodemailerCustomAuth, imapflowAuth, xoauth2, oauthbearer, mailScopes, appOnlyScope, checkAccessToken,
  type Token, type DeviceCodeFlow, type TokenStore,
} from 'mailoauth';
import * as browser from 'mailoauth/browser';
import * as browserMin from 'mailoauth/browser.min';

async function usage(): Promise<void> {
  const scopes = mailScopes(['imap', 'smtp']);
  const client = new PublicClient({ clientId: 'id', tenant: 'organizations', cache: new FileStore() });
  const token: Token = await client.acquireTokenByDeviceCode(scopes, (flow: DeviceCodeFlow) => console.log(flow.message));
  const user: string = token.account?.username ?? '';
  const sasl: string = xoauth2(user, token.accessToken) + oauthbearer(user, token.accessToken, 'imap.example', 993);
  const silent = await client.acquireTokenSilent(scopes, { account: user });
  const url: string = client.getAuthorizationUrl(scopes, { redirectUri: 'http://localhost/' });
  const back: Token | null = await client.handleRedirect(url);
  const session = await login({ protocol: 'imap', host: 'outlook.office365.com', user, accessToken: silent.accessToken });
  session.socket.end();
  const mailer = await nodemailerAuth(client, { scopes });
  const imap: { user: string; accessToken: string } = await imapflowAuth(client, { scopes });
  const app = new ConfidentialClient({ clientId: 'id', clientSecret: 's', tenant: 'contoso.com' });
  await app.acquireTokenForClient([appOnlyScope()]);
  for (const w of checkAccessToken(token.accessToken, 'smtp', user)) console.log(w.kind, w.message);
  const custom: TokenStore = { load: () => null, save: (_text: string) => {} };
  const locking: TokenStore = { ...custom, tryLock: () => null, tryLockAccount: (_key: string) => ({ release() {} }) };
  const held = new FileStore().tryLock();
  held?.release();
  new FileStore().tryLockAccount('key').release();
  void locking;
  new browser.PublicClient({ clientId: 'id', cache: custom ?? new MemoryStore() });
  new browserMin.PublicClient({ clientId: 'id', cache: new browserMin.LocalStorageStore() });
  try {
    await client.refresh('rt', scopes);
  } catch (e) {
    if (e instanceof IdentityError) console.log(e.kind, e.codes, e.hint, e.retryAfter);
    if (e instanceof MailAuthError) console.log(e.kind, e.stage, e.serverLine, e.challenge?.status);
  }
  void [sasl, back, mailer.provisionCallback, imap, nodemailerCustomAuth.XOAUTH2];
}
void usage;
