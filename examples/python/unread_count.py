"""How many unread messages are in INBOX (delegated sign-in, IMAP with XOAUTH2).

    MAILOAUTH_CLIENT_ID=<app id> python unread_count.py

Signs in once by device code (or reuses the mailoauth CLI's sign-in), then prints
"INBOX: N unread". See common.py for the other settings.
"""

from __future__ import annotations

import re

import mailoauth
from common import server, sign_in, ssl_context


def main() -> None:
    token = sign_in(["imap"])
    assert token.account is not None
    host, port = server("MAILOAUTH_IMAP")
    try:
        imap = mailoauth.connect_imap(token.account.username, token, host=host, port=port, ssl_context=ssl_context())
    except mailoauth.MailAuthRejected as e:
        raise SystemExit(f"IMAP login refused: {e.server_line}\nhint: {e.hint}") from None
    try:
        typ, data = imap.status("INBOX", "(UNSEEN)")
        match = re.search(rb"UNSEEN (\d+)", data[0] or b"") if typ == "OK" else None
        if match is None:
            raise SystemExit(f"STATUS INBOX failed: {typ} {data}")
        print(f"INBOX: {int(match.group(1))} unread")
    finally:
        imap.logout()


if __name__ == "__main__":
    main()
