"""Every recorded login transcript (testdata/transcripts/, shared by every language's tests)
replayed by a scripted server against connect_imap / connect_smtp / connect_pop: the client
must send exactly the transcript's lines, and a failure must arrive as the MailOAuthError case
of its kind, with its stage and SASL challenge. This is how the mail kinds that only Exchange
or Gmail produce (login disabled, token expired, not connected, ...) cross the boundary here.
The three transcripts with a TLS handshake are covered by the Dovecot tests instead."""

import socket
import threading

import pytest

from conftest import REPO, run

TRANSCRIPTS = sorted((REPO / "testdata" / "transcripts").glob("*.txt"))
CASES = {
    "rejected": "MailRejected",
    "login_disabled": "MailLoginDisabled",
    "token_expired": "MailTokenExpired",
    "temporary": "MailTemporaryFailure",
    "not_connected": "MailNotConnected",
    "network": "MailNetworkError",
    "timeout": "MailTimeout",
    "tls": "MailTlsError",
    "greeting": "MailGreetingRefused",
    "starttls_unavailable": "MailStartTlsUnavailable",
    "mechanism_unsupported": "MailMechanismUnsupported",
    "protocol": "MailProtocolError",
}


def parse(path):
    headers, steps = {}, []
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
    token = headers["token"]
    if token.startswith("X*"):
        token = "X" * int(token[2:])
    headers["token"] = token
    return headers, steps


class Replay:
    """Plays the server side of a transcript to one client and records any deviation."""

    def __init__(self, steps, initial_response):
        self.steps = steps
        self.initial_response = initial_response
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.mismatch = None
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.server.accept()
            conn.settimeout(10)
            with conn, conn.makefile("rb") as reader:
                for kind, text in self.steps:
                    if kind == "S":
                        conn.sendall(text.encode() + b"\r\n")
                    elif kind == "C":
                        want = text.replace("{IR}", self.initial_response(self.port))
                        got = reader.readline().decode(errors="replace").rstrip("\r\n")
                        if got != want:
                            self.mismatch = f"client sent {got[:120]!r}, transcript says {want[:120]!r}"
                            return
                self.done.set()
                reader.read()  # until the client closes the session
        except OSError:
            pass
        finally:
            self.server.close()


def replayable():
    for path in TRANSCRIPTS:
        headers, steps = parse(path)
        if not any(kind == "TLS" for kind, _ in steps):
            yield pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", list(replayable()))
def test_transcript(ffi, path):
    headers, steps = parse(path)
    user, token = headers["user"], headers["token"]
    mechanism = {"XOAUTH2": ffi.Mechanism.XOAUTH2, "OAUTHBEARER": ffi.Mechanism.OAUTHBEARER}[headers["mechanism"]]

    def initial_response(port):
        if mechanism == ffi.Mechanism.XOAUTH2:
            return ffi.xoauth2(user, token)
        return ffi.oauthbearer(user, token, "127.0.0.1", port)  # the host and port actually dialled

    replay = Replay(steps, initial_response)
    options = ffi.MailServerOptions(
        host="127.0.0.1",
        port=replay.port,
        security=ffi.Security.START_TLS if headers.get("starttls") == "true" else ffi.Security.PLAIN,
        mechanism=mechanism,
        probe=headers.get("probe") == "true",
        sasl_ir={"auto": ffi.SaslIr.AUTO, "always": ffi.SaslIr.ALWAYS, "never": ffi.SaslIr.NEVER}[
            headers.get("sasl_ir", "auto")
        ],
        io_timeout_secs=5.0,
    )
    connect = {"imap": ffi.connect_imap, "smtp": ffi.connect_smtp, "pop3": ffi.connect_pop}[headers["protocol"]]
    expect = headers["expect"].split()

    if expect[0] == "ok":
        session = run(connect(user, token, options))
        assert replay.done.wait(5), replay.mismatch
        if "capabilities" in headers:
            caps = headers["capabilities"]  # `|`-separated when a capability has spaces (POP3 CAPA)
            assert session.capabilities() == (caps.split("|") if "|" in caps else caps.split())
        run(session.close())
        return

    kind, stage = expect[1], expect[2]
    with pytest.raises(ffi.MailOAuthError.__dict__[CASES[kind]]) as info:
        run(connect(user, token, options))
    assert replay.mismatch is None, replay.mismatch
    d = info.value.details
    assert (d.kind, d.stage) == (kind, stage)
    assert d.mail_protocol == {"imap": ffi.MailProtocol.IMAP, "smtp": ffi.MailProtocol.SMTP, "pop3": ffi.MailProtocol.POP3}[
        headers["protocol"]
    ]
    assert d.hint
    for extra in expect[3:]:
        if extra.startswith("challenge-status="):
            assert d.challenge is not None and d.challenge.status == extra.split("=", 1)[1]
    if len(token) > 8:
        assert token not in repr(info.value) and token not in d.description


def test_every_mail_kind_a_transcript_produces_is_covered():
    kinds = {parse(p)[0]["expect"].split()[1] for p in TRANSCRIPTS if parse(p)[0]["expect"] != "ok"}
    assert kinds >= {
        "rejected",
        "login_disabled",
        "token_expired",
        "temporary",
        "not_connected",
        "greeting",
        "starttls_unavailable",
        "mechanism_unsupported",
    }
