"""The imaplib / smtplib / poplib helpers replayed against the login transcripts every language
reads (testdata/transcripts/): a scripted server plays the server's lines, the standard-library
client with mailoauth's helper plays the client. The helpers send what the core's SASL exchange
decides, so they must send the transcript's lines, with what the standard library does its own
way allowed for: imaplib's tags, smtplib's EHLO name, and imaplib answering a continuation
instead of using SASL-IR. Refusals must raise the exception of the transcript's kind with its
challenge. Transcripts with TLS, a probe or a failure before the login (greeting, STARTTLS) are
the login machines' alone (tests of check_login and the Rust suite)."""

from __future__ import annotations

import base64
import imaplib
import poplib
import smtplib
import socket
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

import mailoauth
from conftest import TESTDATA

TRANSCRIPTS = sorted((TESTDATA / "transcripts").glob("*.txt"))


def parse(path: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    headers: dict[str, str] = {}
    steps: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("# ") and ":" in line:
            key, value = line[2:].split(":", 1)
            headers[key.strip()] = value.strip()
        elif line.startswith("S: ") or line == "S:":
            steps.append(("S", line[3:]))
        elif line.startswith("C: "):
            steps.append(("C", line[3:]))
        elif line.strip() == "TLS":
            steps.append(("TLS", ""))
    if headers["token"].startswith("X*"):
        headers["token"] = "X" * int(headers["token"][2:])
    return headers, steps


def replayable() -> list[Any]:
    cases = []
    for path in TRANSCRIPTS:
        headers, steps = parse(path)
        expect = headers["expect"].split()
        if any(kind == "TLS" for kind, _ in steps) or headers.get("probe") == "true":
            continue
        if headers.get("starttls") == "true" or headers.get("sasl_ir", "auto") != "auto":
            continue
        if expect[0] != "ok" and expect[2] != "auth":
            continue
        cases.append(pytest.param(path, id=path.stem))
    return cases


def until_login(protocol: str, steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The steps up to the server's acceptance of the login: what follows (the machines' own
    capability refresh and probe) is the standard library's business, not the helpers'."""
    auth_at = next(
        (i for i, (k, t) in enumerate(steps) if k == "C" and (" AUTHENTICATE " in f"{t} " or t.startswith("AUTH "))),
        None,
    )
    if auth_at is None:
        return steps
    tag = steps[auth_at][1].split(" ")[0]
    for i in range(auth_at + 1, len(steps)):
        kind, text = steps[i]
        if kind != "S":
            continue
        if (
            (protocol == "imap" and text.startswith(f"{tag} OK"))
            or (protocol == "smtp" and text.startswith("235"))
            or (protocol == "pop3" and text.startswith("+OK"))
        ):
            return steps[: i + 1]
    return steps


class Replay:
    """Plays the server's side of a transcript; records the first deviation of the client."""

    def __init__(self, protocol: str, steps: list[tuple[str, str]], initial_response: Callable[[int], str]) -> None:
        self.protocol = protocol
        self.steps = until_login(protocol, steps)
        self.initial_response = initial_response
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port: int = self.server.getsockname()[1]
        self.mismatch: str | None = None
        self.finished = threading.Event()
        self.tags: dict[str, str] = {}
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
            conn.settimeout(10)
            with conn, conn.makefile("rb") as reader:
                i = 0
                while i < len(self.steps):
                    kind, text = self.steps[i]
                    if kind == "S":
                        conn.sendall(self._server_line(text).encode() + b"\r\n")
                    else:
                        want = text.replace("{IR}", self.initial_response(self.port))
                        got = reader.readline().decode(errors="replace").rstrip("\r\n")
                        while self._own_capability(got, want):  # imaplib asks even when greeted with them
                            tag = got.split(" ")[0]
                            conn.sendall(f"* CAPABILITY {self.greeting_caps}\r\n{tag} OK done\r\n".encode())
                            got = reader.readline().decode(errors="replace").rstrip("\r\n")
                        extra = self._matches(got, want)
                        if extra is None:
                            self.mismatch = f"client sent {got[:100]!r}, transcript says {want[:100]!r}"
                            return
                        if extra:  # imaplib without SASL-IR: a continuation, then the response
                            conn.sendall(b"+ \r\n")
                            got = reader.readline().decode(errors="replace").rstrip("\r\n")
                            if got != self.initial_response(self.port):
                                self.mismatch = f"client sent {got[:100]!r} after the continuation, not the response"
                                return
                    i += 1
                self.finished.set()
                try:  # until the client closes (answering imaplib's own CAPABILITY)
                    for raw in reader:
                        got = raw.decode(errors="replace").rstrip("\r\n")
                        if self._own_capability(got, ""):
                            tag = got.split(" ")[0]
                            conn.sendall(f"* CAPABILITY {self.greeting_caps}\r\n{tag} OK done\r\n".encode())
                except OSError:
                    pass
        except OSError as e:
            self.mismatch = self.mismatch or f"server: {e}"
        finally:
            self.server.close()

    @property
    def greeting_caps(self) -> str:
        greeting = self.steps[0][1]
        start = greeting.find("[CAPABILITY ")
        return greeting[start + 12 : greeting.index("]", start)] if start >= 0 else "IMAP4rev1"

    def _own_capability(self, got: str, want: str) -> bool:
        return (
            self.protocol == "imap"
            and got.partition(" ")[2].upper() == "CAPABILITY"
            and want.partition(" ")[2].upper() != "CAPABILITY"
        )

    def _server_line(self, text: str) -> str:
        if self.protocol == "imap":
            tag, _, rest = text.partition(" ")
            if tag in self.tags:
                return f"{self.tags[tag]} {rest}"
        return text

    def _matches(self, got: str, want: str) -> bool | None:
        """None: a deviation; False: the same line; True: imaplib's bare AUTHENTICATE where the
        transcript inlines the response (SASL-IR), to be followed by a continuation."""
        if self.protocol == "imap":
            want_tag, _, want_rest = want.partition(" ")
            got_tag, _, got_rest = got.partition(" ")
            if want_rest.upper().startswith("AUTHENTICATE"):
                self.tags[want_tag] = got_tag
                words = want_rest.split(" ")
                if got_rest == want_rest:
                    return False
                if len(words) == 3 and got_rest == " ".join(words[:2]):
                    return True
                return None
            if want_tag.startswith("m") and want_tag[1:].isdigit():
                self.tags[want_tag] = got_tag
                return False if got_rest.upper() == want_rest.upper() else None
            return False if got == want else None
        if self.protocol == "smtp" and want.upper().startswith("EHLO "):
            return False if got.upper().startswith("EHLO ") else None
        return False if got == want else None


@pytest.mark.parametrize("path", replayable())
def test_stdlib_helper_replays_transcript(path: Path) -> None:
    headers, steps = parse(path)
    protocol, user, token, mechanism = headers["protocol"], headers["user"], headers["token"], headers["mechanism"]

    def initial_response(port: int) -> str:
        if mechanism == "XOAUTH2":
            return mailoauth.xoauth2(user, token)
        return mailoauth.oauthbearer(user, token, "127.0.0.1", port)

    replay = Replay(protocol, steps, initial_response)
    port = replay.port
    kw: dict[str, Any] = {"host": "127.0.0.1", "port": port}

    def login() -> None:
        if protocol == "imap":
            imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
            try:
                mailoauth.imaplib_login(imap, user, token, mechanism, **kw)
            finally:
                imap.shutdown()
        elif protocol == "smtp":
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
            try:
                mailoauth.smtplib_login(smtp, user, token, mechanism, **kw)
            finally:
                smtp.close()  # not QUIT: the transcript ends at the login
        else:
            pop = poplib.POP3("127.0.0.1", port, timeout=10)
            try:
                mailoauth.poplib_login(pop, user, token, mechanism, **kw)
            finally:
                pop.sock.close()

    expect = headers["expect"].split()
    if expect[0] == "ok":
        login()
        assert replay.finished.wait(5), replay.mismatch
        assert replay.mismatch is None, replay.mismatch
        return

    kind = expect[1]
    with pytest.raises(mailoauth.MailError) as info:
        login()
    assert replay.mismatch is None, replay.mismatch
    e = info.value
    assert (e.kind, e.stage, e.protocol) == (kind, "auth", protocol), str(e)
    assert e.hint
    for extra in expect[3:]:
        if extra.startswith("challenge-status="):
            assert e.challenge is not None and e.challenge["status"] == extra.split("=", 1)[1]
    if len(token) > 8:
        assert token not in str(e) and token not in repr(e)
        assert base64.b64encode(token.encode()).decode() not in str(e)


def test_enough_transcripts_are_replayed_through_the_stdlib() -> None:
    cases = replayable()
    assert len(cases) >= 15, [c.id for c in cases]
    protocols = {parse(c.values[0])[0]["protocol"] for c in cases}
    assert protocols == {"imap", "smtp", "pop3"}
