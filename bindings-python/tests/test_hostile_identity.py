"""A scripted, hostile identity endpoint against the Python paths (the public API over the
native HTTP client): huge numbers, control characters, garbage, oversized and endless bodies,
`interval: 0`, transport errors mid-flow and forged loopback redirects. Each ends in a typed
error within its deadline (or a usable token), and a stored refresh token survives."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import pathlib
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterator

import pytest

import mailoauth

from conftest import MAIL_SCOPES, PUBLIC_CLIENT

ESC = "\x1b[2J\x1b]0;pwned\x07\r\u202e\x9b31m"
USER = "alice@contoso.example"
DAY = 86_400


def unsafe(text: str) -> bool:
    """Control, escape, bidi characters (what `text::safe_text` neutralises)."""
    return any(
        (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
        for c in text
    )


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# An unsigned id token and client_info naming the account (the core reads their claims).
ID_TOKEN = f"{b64url({'alg': 'none'})}.{b64url({'preferred_username': USER, 'oid': 'o1', 'tid': 't1'})}.sig"
CLIENT_INFO = b64url({"uid": "o1", "utid": "t1"})


def token_answer(expires_in: str, refresh_token: str = "rt-2", access_token: str = "at-new") -> str:
    return (
        f'{{"token_type":"Bearer","access_token":"{access_token}","refresh_token":"{refresh_token}",'
        f'"expires_in":{expires_in},"scope":"{" ".join(MAIL_SCOPES)}","id_token":"{ID_TOKEN}",'
        f'"client_info":"{CLIENT_INFO}"}}'
    )


def device_answer(expires_in: str, interval: str = "0", message: str = '"Go to the page"') -> str:
    return (
        '{"device_code":"dc-secret","user_code":"UC1","verification_uri":"https://microsoft.com/devicelogin",'
        f'"expires_in":{expires_in},"interval":{interval},"message":{message}}}'
    )


PENDING = '{"error":"authorization_pending","error_description":"AADSTS70016: pending"}'

Handler = Callable[[http.server.BaseHTTPRequestHandler, str, dict[str, list[str]], int], None]


class Scripted:
    """A scripted identity endpoint on loopback: `handle(req, path, form, n)` answers request n."""

    def __init__(self, handle: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        outer = self

        class Req(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                outer.requests.append((self.path, form))
                try:
                    handle(self, self.path, form, len(outer.requests))
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Req)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.authority = f"{scheme}://{'localhost' if tls else '127.0.0.1'}:{self.port}/organizations"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def polls(self) -> int:
        return sum(1 for _, form in self.requests if form.get("grant_type", [""])[0].endswith("device_code"))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(req: http.server.BaseHTTPRequestHandler, status: int, body: str | bytes) -> None:
    data = body.encode() if isinstance(body, str) else body
    req.send_response(status)
    req.send_header("content-type", "application/json")
    req.send_header("content-length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def start(handle: Handler, tls: ssl.SSLContext | None = None) -> Scripted:
        s = Scripted(handle, tls)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


class DictStore:
    def __init__(self) -> None:
        self.data: bytes | None = None

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = data

    def refresh_token(self) -> str | None:
        assert self.data is not None
        entries = json.loads(self.data)["entries"]
        found: str | None = next(e["refresh_token"] for e in entries if e["account"]["username"] == USER)
        return found


def signed_in(authority: str, timeout: float = 2.0) -> tuple[mailoauth.PublicClient, DictStore]:
    """A client whose store holds `rt-1` for USER and an access token that has expired."""
    store = DictStore()
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=authority, cache=store, timeout=timeout)
    app.acquire_token_by_refresh_token("rt-0", MAIL_SCOPES)
    assert store.refresh_token() == "rt-1"
    return app, store


def first_then(then: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Handler:
    """Answers the first token request (the seed) with `rt-1` expiring at once, then `then`."""

    def handle(req: http.server.BaseHTTPRequestHandler, path: str, form: dict[str, list[str]], n: int) -> None:
        if n == 1:
            answer(req, 200, token_answer("-5", refresh_token="rt-1", access_token="at-old"))
        else:
            then(req)

    return handle


def test_huge_and_negative_expires_in_in_device_code_answers(scripted: Callable[..., Scripted]) -> None:
    for huge in ("9223372036854775807", "1e30", "18446744073709551615"):
        s = scripted(lambda req, path, form, n, huge=huge: answer(req, 200, device_answer(huge)))
        app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=s.authority)
        now = datetime.datetime.now(datetime.timezone.utc)
        flow = app.initiate_device_flow(MAIL_SCOPES)
        left = (flow.expires_at - now).total_seconds()
        assert -5 <= left <= DAY + 5, (huge, left)
    s = scripted(lambda req, path, form, n: answer(req, 200, device_answer("-5")))
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=s.authority)
    with pytest.raises(mailoauth.ProtocolError):
        app.initiate_device_flow(MAIL_SCOPES)


def test_huge_and_negative_expires_in_in_token_answers(scripted: Callable[..., Scripted]) -> None:
    for expires_in, most in (("9223372036854775807", DAY), ("1e30", DAY), ("-9223372036854775808", 0)):
        def then(req: http.server.BaseHTTPRequestHandler, e: str = expires_in) -> None:
            answer(req, 200, token_answer(e))

        s = scripted(first_then(then))
        app, store = signed_in(s.authority)
        token = app.acquire_token_silent(MAIL_SCOPES)
        assert token.access_token == "at-new"
        assert 0 <= token.expires_in <= most + 5, (expires_in, token.expires_in)
        assert store.refresh_token() == "rt-2", "the rotated refresh token is stored"


def test_control_characters_do_not_reach_errors_or_messages(scripted: Callable[..., Scripted]) -> None:
    esc = "".join(f"\\u{ord(c):04x}" for c in ESC)
    error_body = (
        f'{{"error":"invalid_grant{esc}","error_description":"AADSTS70000: bad{esc}\\r\\nTrace ID: t{esc}",'
        f'"error_codes":[70000],"correlation_id":"c{esc}","trace_id":"t{esc}","suberror":"s{esc}"}}'
    )

    def handle(req: http.server.BaseHTTPRequestHandler, path: str, form: dict[str, list[str]], n: int) -> None:
        if path.endswith("/devicecode"):
            answer(req, 200, device_answer("60", message=f'"Go to https://x{esc} now"'))
        elif n == 1:
            answer(req, 200, token_answer("-5", refresh_token="rt-1", access_token="at-old"))
        else:
            answer(req, 400, error_body)

    s = scripted(handle)
    app, store = signed_in(s.authority)
    flow = app.initiate_device_flow(MAIL_SCOPES)
    assert flow.message.startswith("Go to https://x") and not unsafe(flow.message), repr(flow.message)
    # The device flow's error as it came; the silent refresh's as "sign in again" (the cache's word).
    attempts: list[tuple[Callable[[], Any], type[mailoauth.IdentityError]]] = [
        (flow.wait, mailoauth.InvalidGrant),
        (lambda: app.acquire_token_silent(MAIL_SCOPES), mailoauth.InteractionRequired),
    ]
    for attempt, kind in attempts:
        with pytest.raises(kind) as info:
            attempt()
        e = info.value
        assert "AADSTS70000: bad" in e.message, e.message
        for text in (str(e), repr(e), e.message, e.hint, e.error, e.error_description, e.correlation_id, e.trace_id, e.suberror):
            assert text is not None and not unsafe(text), repr(text)
    assert store.refresh_token() == "rt-1", "the stored refresh token survives the error"


def drip(req: http.server.BaseHTTPRequestHandler) -> None:
    req.send_response(200)
    req.send_header("content-type", "application/json")
    req.send_header("content-length", "1000000")
    req.end_headers()
    req.wfile.write(b"{")
    for _ in range(300):  # a space every 100 ms, for 30 s at most
        time.sleep(0.1)
        req.wfile.write(b" ")
        req.wfile.flush()


ATTACKS: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {
    "garbage": lambda req: answer(req, 200, b"\xff\xfe\x00\x1b[2J{"),
    "not JSON": lambda req: answer(req, 200, f"<html>{ESC}Service Unavailable</html>"),
    "a JSON array": lambda req: answer(req, 200, "[1,2,3]"),
    "over 1 MiB": lambda req: answer(req, 200, '{"access_token":"' + "a" * (2 * 1024 * 1024) + '"}'),
    "an endless drip": drip,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_garbage_oversized_and_endless_bodies_are_typed_errors_within_the_deadline(
    scripted: Callable[..., Scripted], attack: str
) -> None:
    timeout = 2.0
    s = scripted(first_then(ATTACKS[attack]))
    app, store = signed_in(s.authority, timeout=timeout)
    started = time.monotonic()
    with pytest.raises((mailoauth.NetworkError, mailoauth.ProtocolError)) as info:
        app.acquire_token_silent(MAIL_SCOPES)
    took = time.monotonic() - started
    # Each try may take the time-out; 3 tries (2 retries, 0.5 s + 1 s backoff), plus slack.
    assert took < 3 * timeout + 1.5 + 2, f"{attack}: {took:.1f} s"
    e = info.value
    assert not unsafe(str(e)) and not unsafe(e.message), repr(e.message)
    if attack == "over 1 MiB":
        assert "larger than 1048576 bytes" in e.message, e.message
    if attack == "an endless drip":
        assert isinstance(e, mailoauth.NetworkError), e
    assert store.refresh_token() == "rt-1", f"{attack}: the stored refresh token survives"


@pytest.fixture
def loopback_tls(tmp_path: pathlib.Path) -> tuple[ssl.SSLContext, str]:
    """A throw-away CA and a certificate for localhost (openssl), as a real https endpoint."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=hostile test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (tmp_path / "ext").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
        "-days", "1", "-extfile", "ext")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    return ctx, str(tmp_path / "ca.pem")


def test_zero_interval_is_floored_for_an_https_identity_platform(
    scripted: Callable[..., Scripted], loopback_tls: tuple[ssl.SSLContext, str]
) -> None:
    ctx, ca_file = loopback_tls

    def handle(req: http.server.BaseHTTPRequestHandler, path: str, form: dict[str, list[str]], n: int) -> None:
        answer(req, 200, device_answer("3")) if path.endswith("/devicecode") else answer(req, 400, PENDING)

    s = scripted(handle, tls=ctx)
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=s.authority, ca_file=ca_file)
    flow = app.initiate_device_flow(MAIL_SCOPES)
    assert flow.interval == 1, "interval 0 from an https authority is raised to 1 s"
    started = time.monotonic()
    with pytest.raises(mailoauth.Expired):
        flow.wait(timeout=30)
    seconds = time.monotonic() - started
    assert 1 <= s.polls() <= int(seconds) + 2, f"{s.polls()} polls in {seconds:.1f} s"


def test_a_transport_error_does_not_end_the_device_flow(scripted: Callable[..., Scripted]) -> None:
    polls = 0

    def handle(req: http.server.BaseHTTPRequestHandler, path: str, form: dict[str, list[str]], n: int) -> None:
        nonlocal polls
        if path.endswith("/devicecode"):
            return answer(req, 200, device_answer("120"))
        polls += 1
        if polls <= 3:  # the connection drops: one poll and its retries
            req.close_connection = True
            req.connection.shutdown(2)
            return None
        if polls == 4:
            return answer(req, 400, PENDING)
        return answer(req, 200, token_answer("3600"))

    s = scripted(handle)
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=s.authority, timeout=2)
    token = app.initiate_device_flow(MAIL_SCOPES).wait(timeout=60)
    assert token.access_token == "at-new"
    assert polls >= 5, polls


def test_a_forged_loopback_redirect_does_not_end_the_sign_in(scripted: Callable[..., Scripted]) -> None:
    s = scripted(lambda req, path, form, n: answer(req, 200, token_answer("3600")))
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=s.authority)
    forged: list[int] = []
    visits: list[threading.Thread] = []

    def get(url: str) -> int:
        for _ in range(50):  # the listener starts waiting after this callback returns
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return int(r.status)
            except urllib.error.HTTPError as e:
                return int(e.code)
            except urllib.error.URLError:
                time.sleep(0.1)
        raise AssertionError(f"no listener at {url}")

    def browser(url: str) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        redirect, state = q["redirect_uri"][0], q["state"][0]

        def visit() -> None:
            desc = urllib.parse.quote(f"AADSTS65004: declined{ESC}")
            forged.append(get(f"{redirect}?error=access_denied&error_description={desc}&state=forged"))
            forged.append(get(f"{redirect}?error=access_denied"))
            get(f"{redirect}?code=the-code&state={urllib.parse.quote(state)}")

        t = threading.Thread(target=visit)
        t.start()
        visits.append(t)

    token = app.acquire_token_interactive(MAIL_SCOPES, open_browser=False, on_url=browser, timeout=30)
    for t in visits:
        t.join()
    assert token.access_token == "at-new"
    assert len(forged) == 2, "both forged redirects were answered without ending the sign-in"
    codes = [form.get("code") for _, form in s.requests]
    assert codes == [["the-code"]], codes
