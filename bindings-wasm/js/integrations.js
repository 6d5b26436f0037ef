// Ready-made `auth` options for nodemailer and imapflow, fed from a mailoauth client's cache.
import { wasm } from './wasm.js';

// nodemailer asks for a new token once this time has passed: when the client's cache would
// refresh it (the core decides, from the cache's margin and the server's refresh_in).
const renewAt = (client, t) => client.renewAt(t) * 1000;

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
    // `renew`: the server refused the token nodemailer had: never hand out that one again.
    client.acquireTokenSilent(scopes, { account: account ?? sender, forceRefresh: Boolean(renew) }).then(
      (t) => callback(null, t.accessToken, renewAt(client, t)),
      (e) => callback(e),
    );
  };
  return {
    type: 'OAuth2',
    user: sender,
    accessToken: first.accessToken,
    expires: renewAt(client, first),
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
    let exchange = null;
    try {
      const token = await new Promise((resolve, reject) =>
        oauth2.getToken(false, (err, accessToken) => (err ? reject(err) : resolve(accessToken))),
      );
      // The core's SASL exchange decides what to send (inline or after 334, the dummy reply to
      // an error challenge) and classifies the final reply; nodemailer only carries the lines.
      exchange = new wasm.SaslExchange('smtp', 'XOAUTH2', ctx.auth.user ?? oauth2.options.user, token);
      let reply = await ctx.sendCommand(exchange.start('AUTH', exchange.inline(true)));
      for (;;) {
        let next = null;
        for (const line of String(reply.response ?? '').split(/\r?\n/)) {
          const step = exchange.feedLine(line); // throws the MailAuthError of a refusal
          if (step.step === 'done') return ctx.resolve();
          if (step.step === 'send') next = step.line;
        }
        if (next === null) throw new TypeError(`unexpected SMTP reply: ${reply.response}`);
        reply = await ctx.sendCommand(next);
      }
    } catch (e) {
      return ctx.reject(e);
    } finally {
      exchange?.free();
    }
  },
};
