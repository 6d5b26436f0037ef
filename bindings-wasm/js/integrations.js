// Ready-made `auth` options for nodemailer and imapflow, fed from a mailoauth client's cache.
import { xoauth2 } from './api.js';

// nodemailer asks for a new token once this time has passed: 5 minutes before expiry, the
// cache's default refresh margin (the cache decides whether a refresh is due).
const renewAt = (t) => (t.expiresAt - 300) * 1000;

function userOf(token, user) {
  const u = user ?? token.account?.username ?? token.account?.email;
  if (!u) throw new TypeError('user is required (the token names no account)');
  return u;
}

/**
 * nodemailer's `auth` for SMTP with OAuth 2.0: `{type: 'OAuth2', user, accessToken, expires,
 * provisionCallback}`. nodemailer calls `provisionCallback` when its token is about to expire
 * (and with `renew` set after the server rejected one); it answers from `client`'s cache, and
 * forces a refresh on `renew`.
 *
 * ```js
 * const transport = nodemailer.createTransport({
 *   host: 'smtp.office365.com', port: 587, secure: false,
 *   auth: await nodemailerAuth(client, { scopes }),
 * });
 * ```
 */
export async function nodemailerAuth(client, { scopes, account, user } = {}) {
  const first = await client.acquireTokenSilent(scopes, { account });
  const sender = userOf(first, user);
  const provisionCallback = (_user, renew, callback) => {
    const next = renew
      ? client
        .acquireTokenSilent(scopes, { account: account ?? sender })
        .then((t) => (t.refreshToken ? client.refresh(t.refreshToken, scopes) : t))
      : client.acquireTokenSilent(scopes, { account: account ?? sender });
    next.then(
      (t) => callback(null, t.accessToken, renewAt(t)),
      (e) => callback(e),
    );
  };
  return {
    type: 'OAuth2',
    user: sender,
    accessToken: first.accessToken,
    expires: renewAt(first),
    provisionCallback,
  };
}

/**
 * imapflow's `auth`: `{user, accessToken}` with a token from `client`'s cache (refreshed if
 * needed). Call it for each new connection.
 *
 * ```js
 * const imap = new ImapFlow({ host, port: 993, secure: true, auth: await imapflowAuth(client, { scopes }) });
 * ```
 */
export async function imapflowAuth(client, { scopes, account, user } = {}) {
  const t = await client.acquireTokenSilent(scopes, { account });
  return { user: userOf(t, user), accessToken: t.accessToken };
}

/**
 * nodemailer `customAuth` that sends XOAUTH2 as the core's SMTP machine does: `AUTH XOAUTH2`,
 * then the response after the server's `334`, instead of nodemailer's one long `AUTH XOAUTH2
 * <response>` line. Real access tokens make that line about 2-3 KB; RFC 4954 allows servers to
 * cap command lines at 512 octets and Dovecot's submission does ("500 5.5.2 Line too long").
 * The token still comes from nodemailer's OAuth2 handler, i.e. from `provisionCallback`.
 *
 * ```js
 * nodemailer.createTransport({ host, port, auth: await nodemailerAuth(client, { scopes }), customAuth: nodemailerCustomAuth });
 * ```
 */
export const nodemailerCustomAuth = {
  async XOAUTH2(ctx) {
    const oauth2 = ctx.auth.oauth2;
    const token = await new Promise((resolve, reject) =>
      oauth2.getToken(false, (err, accessToken) => (err ? reject(err) : resolve(accessToken))),
    );
    const go = await ctx.sendCommand('AUTH XOAUTH2');
    if (go.status !== 334) return ctx.reject(new Error(`AUTH XOAUTH2 refused: ${go.response}`));
    const done = await ctx.sendCommand(xoauth2(ctx.auth.user ?? oauth2.options.user, token));
    if (done.status === 235) return ctx.resolve();
    if (done.status === 334) {
      // an error challenge: answer it with the empty line XOAUTH2 requires, then fail
      const last = await ctx.sendCommand('');
      return ctx.reject(new Error(`XOAUTH2 rejected: ${last.response} (challenge: ${Buffer.from(done.text ?? '', 'base64')})`));
    }
    return ctx.reject(new Error(`XOAUTH2 rejected: ${done.response}`));
  },
};
