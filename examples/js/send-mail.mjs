// Signs in with the device code flow (once; later runs use the cached token) and sends a
// message with nodemailer over SMTP + XOAUTH2.
//
//   cd examples/js && npm install
//   MAILOAUTH_CLIENT_ID=<app id> MAIL_TO=someone@example.com node send-mail.mjs
//
// Environment: MAILOAUTH_CLIENT_ID (required), MAILOAUTH_TENANT (default organizations) or
// MAILOAUTH_AUTHORITY (a full authority URL, e.g. the local emulator's), MAIL_TO, and for
// servers other than Exchange Online SMTP_HOST, SMTP_PORT, SMTP_CA_FILE (an extra CA, PEM).
// Tokens are kept in the CLI's token file (MAILOAUTH_STATE_DIR or ~/.local/state/mailoauth).
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import {
  PublicClient, FileStore, IdentityError, mailHosts, mailScopes, nodemailerAuth, nodemailerCustomAuth,
} from 'mailoauth';

const env = process.env;
const authority = { authority: env.MAILOAUTH_AUTHORITY, tenant: env.MAILOAUTH_TENANT };
const client = new PublicClient({ clientId: env.MAILOAUTH_CLIENT_ID, ...authority, cache: new FileStore() });
const scopes = mailScopes(['smtp'], authority);

try {
  await client.acquireTokenSilent(scopes);
} catch (e) {
  if (!(e instanceof IdentityError) || e.kind !== 'interaction_required') throw e;
  const token = await client.acquireTokenByDeviceCode(scopes, (flow) => console.log(flow.message));
  console.log(`signed in as ${token.account?.username}`);
}

const smtp = mailHosts(authority).smtp;
const transport = nodemailer.createTransport({
  host: env.SMTP_HOST ?? smtp.host,
  port: Number(env.SMTP_PORT ?? smtp.port),
  secure: false,
  requireTLS: true,
  tls: env.SMTP_CA_FILE ? { ca: readFileSync(env.SMTP_CA_FILE), servername: 'localhost' } : undefined,
  auth: await nodemailerAuth(client, { scopes }),
  customAuth: nodemailerCustomAuth,
});
const auth = transport.options.auth;
const info = await transport.sendMail({
  from: auth.user,
  to: env.MAIL_TO ?? auth.user,
  subject: 'Hello from mailoauth',
  text: 'Sent with nodemailer, signed in with mailoauth (device code flow, XOAUTH2).',
});
console.log(`sent ${info.messageId} to ${info.accepted.join(', ')}`);
transport.close();
