// Ready-made `auth` options for nodemailer and imapflow, fed from a mailoauth client's cache.

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
