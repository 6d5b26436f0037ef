"""App-only access to a mailbox (a daemon: client credentials, no user present).

    MAILOAUTH_CLIENT_ID=<app id> MAILOAUTH_TENANT=contoso.onmicrosoft.com \
    MAILOAUTH_CLIENT_SECRET=<secret>  (or MAILOAUTH_CERTIFICATE=app.pem holding cert and key) \
    python app_only.py shared@contoso.onmicrosoft.com

The app needs the IMAP.AccessAsApp application permission with admin consent, and Exchange
needs its service principal with FullAccess to the mailbox (New-ServicePrincipal,
Add-MailboxPermission). Prints how many messages the mailbox's INBOX holds.
"""

from __future__ import annotations

import pathlib
import sys

import mailoauth
from common import client_id, env, server, ssl_context


def main(mailbox: str) -> None:
    certificate = env("MAILOAUTH_CERTIFICATE")
    app = mailoauth.ConfidentialClient(
        client_id(),
        authority=env("MAILOAUTH_AUTHORITY"),
        tenant=env("MAILOAUTH_TENANT") or "organizations",
        client_secret=env("MAILOAUTH_CLIENT_SECRET"),
        certificate=pathlib.Path(certificate).read_text() if certificate else None,
    )
    try:
        token = app.acquire_token_for_client([mailoauth.app_only_scope()])
    except mailoauth.IdentityError as e:
        raise SystemExit(f"no app-only token: {e}") from None
    host, port = server("MAILOAUTH_IMAP")
    try:
        imap = mailoauth.connect_imap(mailbox, token, host=host, port=port, ssl_context=ssl_context())
    except mailoauth.MailError as e:
        raise SystemExit(f"IMAP login as {mailbox} failed: {e}") from None
    try:
        typ, data = imap.select("INBOX", readonly=True)
        if typ != "OK":
            raise SystemExit(f"cannot open INBOX of {mailbox}: {data}")
        print(f"{mailbox}: {int(data[0] or b'0')} messages in INBOX")
    finally:
        imap.logout()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: app_only.py MAILBOX")
    main(sys.argv[1])
