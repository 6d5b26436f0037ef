"""Send a message over SMTP submission with XOAUTH2 (delegated sign-in).

    MAILOAUTH_CLIENT_ID=<app id> python send_mail.py bob@example.com "Hello" "Sent with mailoauth."
"""

from __future__ import annotations

import email.message
import sys

import mailoauth
from common import server, sign_in, ssl_context


def main(to: str, subject: str, body: str) -> None:
    token = sign_in(["smtp"])
    assert token.account is not None
    sender = token.account.username
    host, port = server("MAILOAUTH_SMTP")
    try:
        smtp = mailoauth.connect_smtp(sender, token, host=host, port=port, ssl_context=ssl_context())
    except mailoauth.MailLoginDisabled as e:
        raise SystemExit(f"SMTP AUTH is disabled for this mailbox: {e.hint}") from None
    except mailoauth.MailAuthRejected as e:
        raise SystemExit(f"SMTP login refused: {e.server_line}\nhint: {e.hint}") from None
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    try:
        smtp.send_message(msg)
    finally:
        smtp.quit()
    print(f"sent to {to}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: send_mail.py TO SUBJECT BODY")
    main(*sys.argv[1:])
