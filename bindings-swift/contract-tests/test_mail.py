"""Mail logins through the FFI against a real Dovecot that validates the emulator's tokens:
IMAP (STARTTLS and implicit TLS), SMTP submission and POP3, the session kept open for
commands, and the mail error kinds with the server's line and SASL challenge."""

import socket
import threading

import pytest

from conftest import PASSWORD, USER, run

SCOPES = [
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
]


@pytest.fixture
def token(ffi, emulator, public):
    return run(public.acquire_token_by_username_password(USER, PASSWORD, SCOPES))


async def read_until(session, prefix):
    lines = []
    while True:
        line = await session.read_line()
        lines.append(line)
        if line.startswith(prefix):
            return lines


@pytest.mark.parametrize("tls", [False, True], ids=["starttls", "imaps"])
def test_imap_login_returns_capabilities_and_a_usable_session(ffi, dovecot, token, tls):
    async def scenario():
        session = await ffi.connect_imap(USER, token.access_token(), dovecot.options(ffi, "imap", tls=tls))
        assert session.mail_protocol() == ffi.MailProtocol.IMAP
        assert session.is_tls()
        caps = session.capabilities()
        await session.send_line("a1 SELECT INBOX")
        selected = await read_until(session, "a1 ")
        await session.send_line("a2 LOGOUT")
        bye = await read_until(session, "a2 ")
        await session.close()
        with pytest.raises(ffi.MailOAuthError.MailNetworkError) as info:
            await session.send_line("a3 NOOP")
        return caps, selected, bye, info.value.details

    caps, selected, bye, closed = run(scenario())
    assert "IMAP4rev1" in caps
    assert selected[-1].startswith("a1 OK"), selected
    assert any("EXISTS" in line for line in selected)
    assert bye[-1].startswith("a2 OK")
    assert closed.stage == "session"


def test_imap_with_oauthbearer_and_probe(ffi, dovecot, token):
    options = dovecot.options(ffi, "imap", mechanism=ffi.Mechanism.OAUTHBEARER, probe=True)
    session = run(ffi.connect_imap(USER, token.access_token(), options))
    assert "IMAP4rev1" in session.capabilities()


def test_smtp_submission_login(ffi, dovecot, token):
    async def scenario():
        session = await ffi.connect_smtp(USER, token.access_token(), dovecot.options(ffi, "smtp"))
        await session.send_line(f"MAIL FROM:<{USER}>")
        reply = await session.read_line()
        await session.send_line("QUIT")
        return session.capabilities(), reply, session.mail_protocol()

    caps, reply, protocol = run(scenario())
    assert protocol == ffi.MailProtocol.SMTP
    assert any(c.upper().startswith("AUTH") for c in caps)
    assert reply.startswith("250"), reply


@pytest.mark.parametrize("tls", [False, True], ids=["stls", "pop3s"])
def test_pop3_login(ffi, dovecot, token, tls):
    async def scenario():
        session = await ffi.connect_pop(USER, token.access_token(), dovecot.options(ffi, "pop3", tls=tls))
        await session.send_line("STAT")
        stat = await session.read_line()
        await session.send_line("QUIT")
        return stat, session.mail_protocol()

    stat, protocol = run(scenario())
    assert protocol == ffi.MailProtocol.POP3
    assert stat.startswith("+OK")


def test_rejected_token_raises_mail_rejected_with_challenge(ffi, dovecot, emulator, token):
    emulator.post("/_emulator/revoke", {"username": USER})
    with pytest.raises(ffi.MailOAuthError.MailRejected) as info:
        run(ffi.connect_imap(USER, token.access_token(), dovecot.options(ffi, "imap")))
    d = info.value.details
    assert d.kind == "rejected"
    assert d.mail_protocol == ffi.MailProtocol.IMAP
    assert d.stage == "auth"
    assert d.server_line and "NO" in d.server_line
    assert d.challenge is not None and d.challenge.status
    assert d.challenge_json == d.challenge.raw
    assert not d.is_temporary
    assert token.access_token() not in repr(info.value)


def test_validator_outage_raises_mail_temporary_failure(ffi, dovecot, emulator, token):
    emulator.fault(endpoint="introspect", kind="status", status=503, times=5)
    with pytest.raises(ffi.MailOAuthError.MailTemporaryFailure) as info:
        run(ffi.connect_imap(USER, token.access_token(), dovecot.options(ffi, "imap")))
    assert info.value.details.is_temporary
    assert "UNAVAILABLE" in info.value.details.server_line


def test_untrusted_certificate_raises_mail_tls_error(ffi, dovecot, token):
    options = dovecot.options(ffi, "imap", tls=True, ca_file=None)
    with pytest.raises(ffi.MailOAuthError.MailTlsError) as info:
        run(ffi.connect_imap(USER, token.access_token(), options))
    assert info.value.details.stage == "tls"


def test_closed_port_raises_mail_network_error(ffi):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    options = ffi.MailServerOptions(host="127.0.0.1", port=port, security=ffi.Security.PLAIN)
    with pytest.raises(ffi.MailOAuthError.MailNetworkError) as info:
        run(ffi.connect_imap(USER, "token", options))
    assert info.value.details.stage == "connect"
    assert info.value.details.is_temporary


def _one_shot_server(greeting):
    """A TCP server that accepts one connection and sends `greeting` (or nothing)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            if greeting:
                conn.sendall(greeting)
            conn.recv(1024)

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_silent_server_raises_mail_timeout(ffi):
    server = _one_shot_server(None)
    with server:
        options = ffi.MailServerOptions(
            host="127.0.0.1", port=server.getsockname()[1], security=ffi.Security.PLAIN, io_timeout_secs=0.5
        )
        with pytest.raises(ffi.MailOAuthError.MailTimeout) as info:
            run(ffi.connect_imap(USER, "token", options))
    assert info.value.details.stage == "greeting"


def test_garbage_greeting_raises_mail_protocol_error(ffi):
    server = _one_shot_server(b"HELLO there\r\n")
    with server:
        options = ffi.MailServerOptions(host="127.0.0.1", port=server.getsockname()[1], security=ffi.Security.PLAIN)
        with pytest.raises(ffi.MailOAuthError.MailProtocolError) as info:
            run(ffi.connect_imap(USER, "token", options))
    assert info.value.details.stage == "greeting"


def test_default_server_is_exchange_online(ffi):
    # Nothing is contacted: an unresolvable provider option fails before any connection.
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        run(ffi.connect_imap(USER, "token", ffi.MailServerOptions(provider="yahoo")))
