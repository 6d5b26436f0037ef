"""Hostile mail servers against the Python paths (the core's login through `check_login`, and
the imaplib / smtplib / poplib helpers): each attack ends in a typed error within its deadline,
and nothing secret is sent that should not be."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import threading
import time
from typing import Callable

import pytest

import mailoauth

TOKEN = "hostile-test-token-0123456789"


class Hostile:
    """A one-connection server that runs `script(conn, received)`; `received` collects every
    byte the client sent."""

    def __init__(self, script: Callable[[socket.socket, bytearray], None]) -> None:
        self.received = bytearray()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port: int = self.server.getsockname()[1]
        self.script = script
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
            conn.settimeout(10)
            with conn:
                self.script(conn, self.received)
        except OSError:
            pass
        finally:
            self.server.close()


def read_line(conn: socket.socket, received: bytearray) -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    received += line
    return bytes(line)


def drain(conn: socket.socket, received: bytearray) -> None:
    try:
        while chunk := conn.recv(4096):
            received += chunk
    except OSError:
        pass


def test_plaintext_injected_after_starttls_go_ahead_is_refused() -> None:
    def script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=XOAUTH2] ready\r\n")
        read_line(conn, received)  # STARTTLS
        conn.sendall(b"m1 OK Begin TLS now\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")
        drain(conn, received)

    h = Hostile(script)
    with pytest.raises(mailoauth.MailProtocolError) as info:
        mailoauth.check_login("imap", "a@b.c", TOKEN, host="127.0.0.1", port=h.port, security="starttls", timeout=5)
    assert info.value.stage in ("starttls", "tls")
    assert TOKEN.encode() not in h.received and b"AUTHENTICATE" not in h.received


def test_a_dripping_server_cannot_keep_the_login_alive() -> None:
    def script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"* OK ready\r\n")
        for _ in range(200):  # an untagged line every 100 ms, never an answer
            conn.sendall(b"* OK still here\r\n")
            time.sleep(0.1)

    h = Hostile(script)
    started = time.monotonic()
    with pytest.raises(mailoauth.MailTimeout):
        mailoauth.check_login("imap", "a@b.c", TOKEN, host="127.0.0.1", port=h.port, security="plain", timeout=1)
    assert time.monotonic() - started < 6, "the login deadline bounds the whole login"


def test_an_endless_line_is_a_protocol_error_not_a_memory_sink() -> None:
    def script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"* OK ")
        for _ in range(4096):  # 16 MiB without a line end
            conn.sendall(b"x" * 4096)

    h = Hostile(script)
    with pytest.raises(mailoauth.MailProtocolError) as info:
        mailoauth.check_login("imap", "a@b.c", TOKEN, host="127.0.0.1", port=h.port, security="plain", timeout=10)
    assert info.value.stage == "greeting"


def test_escape_sequences_from_the_server_do_not_reach_the_error() -> None:
    evil = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mAUTH FAILED\x1b[0m"

    def script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n")
        line = read_line(conn, received)
        tag = line.split(b" ")[0]
        conn.sendall(tag + b" NO " + evil + b"\r\n")
        drain(conn, received)

    h = Hostile(script)
    with pytest.raises(mailoauth.MailAuthRejected) as info:
        mailoauth.check_login("imap", "a@b.c", TOKEN, host="127.0.0.1", port=h.port, security="plain", timeout=5)
    e = info.value
    for text in (str(e), e.message, e.server_line or "", e.hint):
        assert "\x1b" not in text and "\x07" not in text, repr(text)


def test_stdlib_helpers_refuse_a_second_challenge_and_never_resend_the_token() -> None:
    challenge = b"eyJzdGF0dXMiOiI0MDEifQ=="  # {"status":"401"}

    def script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"+OK ready\r\n")
        read_line(conn, received)  # CAPA
        conn.sendall(b"+OK\r\nSASL XOAUTH2\r\n.\r\n")
        read_line(conn, received)  # AUTH XOAUTH2 ...
        for _ in range(3):  # challenge after challenge
            conn.sendall(b"+ " + challenge + b"\r\n")
            read_line(conn, received)
        drain(conn, received)

    h = Hostile(script)
    pop = poplib.POP3("127.0.0.1", h.port, timeout=5)
    try:
        with pytest.raises(mailoauth.MailProtocolError):
            mailoauth.poplib_login(pop, "a@b.c", TOKEN)
    finally:
        pop.sock.close()
    token_b64 = mailoauth.xoauth2("a@b.c", TOKEN).encode()
    assert h.received.count(token_b64) == 1, "the token was sent once, never in answer to a challenge"


def test_stdlib_helpers_send_nothing_when_the_mechanism_is_not_offered() -> None:
    def imap_script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"* OK ready\r\n")
        line = read_line(conn, received)
        tag = line.split(b" ")[0]
        conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
        drain(conn, received)

    h = Hostile(imap_script)
    imap = imaplib.IMAP4("127.0.0.1", h.port, timeout=5)
    try:
        with pytest.raises(mailoauth.MailMechanismUnsupported):
            mailoauth.imaplib_login(imap, "a@b.c", TOKEN)
    finally:
        imap.shutdown()

    def smtp_script(conn: socket.socket, received: bytearray) -> None:
        conn.sendall(b"220 ready\r\n")
        read_line(conn, received)  # EHLO
        conn.sendall(b"250-hello\r\n250 AUTH PLAIN LOGIN\r\n")
        drain(conn, received)

    s = Hostile(smtp_script)
    smtp = smtplib.SMTP("127.0.0.1", s.port, timeout=5)
    try:
        with pytest.raises(mailoauth.MailMechanismUnsupported):
            mailoauth.smtplib_login(smtp, "a@b.c", TOKEN)
    finally:
        smtp.close()
    assert b"AUTHENTICATE" not in h.received.upper()
    assert b"AUTH " not in s.received.upper()
    for received in (h.received, s.received):
        assert TOKEN.encode() not in received
