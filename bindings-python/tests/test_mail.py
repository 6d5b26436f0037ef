"""imaplib / smtplib / poplib logins through the helpers against a real Dovecot that validates
the emulator's tokens: success on every port and mechanism, rejection with the decoded
challenge, revocation, temporary failure."""

from __future__ import annotations

import email.message
import imaplib
import poplib
import smtplib
import socket

import pytest

import mailoauth
from conftest import (
    ALICE,
    ALICE_PASSWORD,
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT,
    MAIL_SCOPES,
    PUBLIC_CLIENT,
    TENANT_DOMAIN,
    Dovecot,
    Emulator,
)


@pytest.fixture
def token(emulator: Emulator) -> mailoauth.Token:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    return app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)


def nodelay(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest.mark.parametrize("security", ["tls", "starttls", "plain"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_connect_imap(dovecot: Dovecot, token: mailoauth.Token, security: str, mechanism: str) -> None:
    port = dovecot.port("imaps" if security == "tls" else "imap")
    imap = mailoauth.connect_imap(
        ALICE,
        token,
        host=dovecot.host,
        port=port,
        security=security,
        mechanism=mechanism,
        ssl_context=dovecot.ssl_context(),
    )
    try:
        assert imap.state == "AUTH"
        assert nodelay(imap.sock)
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = imap.search(None, "UNSEEN")
        assert typ == "OK" and data == [b""]
    finally:
        imap.logout()


def test_imaplib_auth_with_plain_imaplib(dovecot: Dovecot, token: mailoauth.Token) -> None:
    imap = imaplib.IMAP4_SSL(dovecot.host, dovecot.port("imaps"), ssl_context=dovecot.ssl_context())
    typ, _ = imap.authenticate("XOAUTH2", mailoauth.imaplib_auth(ALICE, token.access_token))
    assert typ == "OK" and imap.state == "AUTH"
    imap.logout()


def test_imap_rejection_carries_the_decoded_challenge(dovecot: Dovecot, token: mailoauth.Token) -> None:
    with pytest.raises(mailoauth.MailAuthRejected) as e:
        mailoauth.connect_imap(
            ALICE, "not-a-valid-token", host=dovecot.host, port=dovecot.port("imap"), security="plain"
        )
    err = e.value
    assert err.kind == "rejected" and err.protocol == "imap" and err.stage == "auth"
    assert err.server_line is not None and "NO" in err.server_line
    assert err.challenge is not None and err.challenge["status"] in ("401", "invalid_token")
    assert "IMAP.AccessAsUser.All" in err.hint
    assert "not-a-valid-token" not in str(err)
    assert isinstance(err.__cause__, imaplib.IMAP4.error)

    # The plain imaplib authobject answers the challenge too: imaplib gets the NO, not a hang.
    imap = imaplib.IMAP4(dovecot.host, dovecot.port("imap"))
    auth = mailoauth.imaplib_auth(ALICE, "not-a-valid-token")
    with pytest.raises(imaplib.IMAP4.error):
        imap.authenticate("XOAUTH2", auth)
    assert auth.challenge is not None and auth.challenge["status"]
    imap.logout()


def test_revoked_user_is_rejected(emulator: Emulator, dovecot: Dovecot, token: mailoauth.Token) -> None:
    emulator.post("revoke", {"username": ALICE})
    with pytest.raises(mailoauth.MailAuthRejected):
        mailoauth.connect_imap(ALICE, token, host=dovecot.host, port=dovecot.port("imap"), security="plain")


def test_validator_down_is_a_temporary_failure(emulator: Emulator, dovecot: Dovecot, token: mailoauth.Token) -> None:
    emulator.fault(endpoint="introspect", kind="status", status=503, times=10)
    with pytest.raises(mailoauth.MailTemporaryFailure) as e:
        mailoauth.connect_imap(ALICE, token, host=dovecot.host, port=dovecot.port("imap"), security="plain")
    assert e.value.kind == "temporary" and "UNAVAILABLE" in (e.value.server_line or "")
    with pytest.raises(mailoauth.MailTemporaryFailure) as e:
        mailoauth.connect_pop(ALICE, token, host=dovecot.host, port=dovecot.port("pop3"), security="plain")
    assert (e.value.server_line or "").startswith("-ERR [SYS/TEMP]")
    with pytest.raises(mailoauth.MailTemporaryFailure) as e:
        mailoauth.connect_smtp(ALICE, token, host=dovecot.host, port=dovecot.port("submission"), security="plain")
    assert (e.value.server_line or "").startswith("454")
    emulator.request("DELETE", "/_emulator/faults")
    mailoauth.connect_imap(ALICE, token, host=dovecot.host, port=dovecot.port("imap"), security="plain").logout()


@pytest.mark.parametrize("security", ["starttls", "plain"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_connect_smtp_and_send(dovecot: Dovecot, token: mailoauth.Token, security: str, mechanism: str) -> None:
    smtp = mailoauth.connect_smtp(
        ALICE,
        token,
        host=dovecot.host,
        port=dovecot.port("submission"),
        security=security,
        mechanism=mechanism,
        ssl_context=dovecot.ssl_context(),
    )
    try:
        assert nodelay(smtp.sock)
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = ALICE, "bob@example.net", f"hello over {security}"
        msg.set_content("sent with mailoauth")
        smtp.send_message(msg)
    finally:
        smtp.quit()
    sent = dovecot.messages()
    assert len(sent) == 1 and sent[0]["recipients"] == ["bob@example.net"]
    assert f"hello over {security}" in sent[0]["data"]


def test_smtplib_auth_with_plain_smtplib(dovecot: Dovecot, token: mailoauth.Token) -> None:
    smtp = smtplib.SMTP(dovecot.host, dovecot.port("submission"))
    smtp.starttls(context=dovecot.ssl_context())
    smtp.ehlo()
    code, _ = smtp.auth("XOAUTH2", mailoauth.smtplib_auth(ALICE, token))
    assert code == 235
    smtp.quit()


def test_smtp_rejection(dovecot: Dovecot) -> None:
    with pytest.raises(mailoauth.MailAuthRejected) as e:
        mailoauth.connect_smtp(ALICE, "bogus", host=dovecot.host, port=dovecot.port("submission"), security="plain")
    assert e.value.protocol == "smtp" and (e.value.server_line or "").startswith("535")
    assert e.value.challenge is not None and e.value.challenge["status"]
    assert isinstance(e.value.__cause__, smtplib.SMTPAuthenticationError)


@pytest.mark.parametrize("security", ["tls", "starttls", "plain"])
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_connect_pop(dovecot: Dovecot, token: mailoauth.Token, security: str, mechanism: str) -> None:
    port = dovecot.port("pop3s" if security == "tls" else "pop3")
    pop = mailoauth.connect_pop(
        ALICE,
        token,
        host=dovecot.host,
        port=port,
        security=security,
        mechanism=mechanism,
        ssl_context=dovecot.ssl_context(),
    )
    try:
        assert nodelay(pop.sock)
        count, size = pop.stat()
        assert count == 0 and size == 0
    finally:
        pop.quit()


def test_poplib_login_on_plain_poplib(dovecot: Dovecot, token: mailoauth.Token) -> None:
    pop = poplib.POP3(dovecot.host, dovecot.port("pop3"))
    assert mailoauth.poplib_login(pop, ALICE, token).startswith(b"+OK")
    assert pop.stat() == (0, 0)
    pop.quit()


def test_pop_rejection(dovecot: Dovecot) -> None:
    pop = poplib.POP3(dovecot.host, dovecot.port("pop3"))
    with pytest.raises(mailoauth.MailAuthRejected) as e:
        mailoauth.poplib_login(pop, ALICE, "bogus")
    assert e.value.protocol == "pop3" and (e.value.server_line or "").startswith("-ERR")
    assert e.value.challenge is not None and e.value.challenge["status"]
    pop.quit()


def test_app_only_token_logs_in_to_the_apps_mailbox(emulator: Emulator, dovecot: Dovecot) -> None:
    app = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT, authority=emulator.authority(TENANT_DOMAIN), client_secret=CLIENT_SECRET
    )
    token = app.acquire_token_for_client([mailoauth.app_only_scope()])
    imap = mailoauth.connect_imap(ALICE, token, host=dovecot.host, port=dovecot.port("imap"), security="plain")
    assert imap.select("INBOX", readonly=True)[0] == "OK"
    imap.logout()


@pytest.mark.parametrize(
    ("protocol", "port", "security"),
    [("imap", "imaps", "tls"), ("smtp", "submission", "starttls"), ("pop3", "pop3s", "tls")],
)
def test_check_login_with_the_core_client(
    dovecot: Dovecot, token: mailoauth.Token, protocol: str, port: str, security: str
) -> None:
    caps = mailoauth.check_login(
        protocol, ALICE, token, host=dovecot.host, port=dovecot.port(port), security=security, ca_file=dovecot.ca_file
    )
    assert caps  # what the server announced after login


def test_check_login_errors(dovecot: Dovecot, token: mailoauth.Token) -> None:
    host = dovecot.host
    with pytest.raises(mailoauth.MailAuthRejected) as rejected:
        mailoauth.check_login("imap", ALICE, "bogus", host=host, port=dovecot.port("imap"), security="plain")
    assert rejected.value.challenge is not None and rejected.value.stage == "auth"
    with pytest.raises(mailoauth.MailConnectionError) as untrusted:  # Dovecot's CA not given
        mailoauth.check_login("imap", ALICE, token, host=host, port=dovecot.port("imaps"))
    assert untrusted.value.kind == "tls" and untrusted.value.stage == "tls"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(mailoauth.MailConnectionError) as refused:
        mailoauth.check_login("imap", ALICE, token, host="127.0.0.1", port=closed, security="tls")
    assert refused.value.kind == "network" and refused.value.stage == "connect"
    # The testkit's SMTP sink offers neither STARTTLS nor AUTH: nothing secret is sent.
    sink = dovecot.port("sink")
    with pytest.raises(mailoauth.MailUnsupported) as no_tls:
        mailoauth.check_login("smtp", ALICE, token, host=host, port=sink, security="starttls")
    assert no_tls.value.kind == "starttls_unavailable"
    with pytest.raises(mailoauth.MailUnsupported) as no_auth:
        mailoauth.check_login("smtp", ALICE, token, host=host, port=sink, security="plain")
    assert no_auth.value.kind == "mechanism_unsupported"


def test_check_login_async(dovecot: Dovecot, token: mailoauth.Token) -> None:
    import asyncio

    host = dovecot.host

    async def main() -> list[list[str]]:
        imap = mailoauth.check_login_async("imap", ALICE, token, host=host, port=dovecot.port("imap"), security="plain")
        pop = mailoauth.check_login_async("pop3", ALICE, token, host=host, port=dovecot.port("pop3"), security="plain")
        return list(await asyncio.gather(imap, pop))

    imap_caps, pop_caps = asyncio.run(main())
    assert imap_caps and pop_caps

    async def bogus() -> list[str]:
        return await mailoauth.check_login_async(
            "pop3", ALICE, "bogus", host=host, port=dovecot.port("pop3"), security="plain"
        )

    with pytest.raises(mailoauth.MailAuthRejected):
        asyncio.run(bogus())


EXCHANGE_FAILURES = [
    # (protocol, the server's final line as in testdata/transcripts/exchange-*.txt, class, kind)
    (
        "smtp",
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
        "Visit https://aka.ms/smtp_auth_disabled for more information. [SN4PR0201CA0024.namprd02.prod.outlook.com]",
        mailoauth.MailLoginDisabled,
        "login_disabled",
    ),
    ("smtp", "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]",
     mailoauth.MailAuthRejected, "rejected"),
    ("smtp", "454 4.7.0 Temporary authentication failure", mailoauth.MailTemporaryFailure, "temporary"),
    ("smtp", "504 5.5.4 Unrecognized authentication type", mailoauth.MailMechanismUnsupported, "mechanism_unsupported"),
    ("imap", "m2 NO AUTHENTICATE failed.", mailoauth.MailAuthRejected, "rejected"),
    ("imap", "m1 BAD Invalid SASL argument", mailoauth.MailProtocolError, "protocol"),
    ("pop3", "-ERR Authentication failure: unknown user name or bad password.", mailoauth.MailAuthRejected, "rejected"),
]


@pytest.mark.parametrize(("protocol", "line", "cls", "kind"), EXCHANGE_FAILURES)
def test_failure_lines_map_to_their_classes(protocol: str, line: str, cls: type, kind: str) -> None:
    """Final lines Exchange Online sends, classified as the helpers classify them."""
    e = mailoauth._native._mail_auth_error(protocol, line, None)
    assert type(e) is cls and e.kind == kind and e.hint
    assert e.server_line is not None and line.startswith(e.server_line.rstrip("…"))
