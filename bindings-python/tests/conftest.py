"""Fixtures: the identity-platform emulator and a real Dovecot (via mailoauth-testkit), run
as subprocesses, stopped by PID. A missing binary fails the test run; nothing is skipped."""

from __future__ import annotations

import json
import os
import pathlib
import ssl
import subprocess
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = REPO / "testdata"
KEYS = REPO / "emulator" / "keys"

# The emulator's demo identities (mailoauth_emulator::config).
TENANT_ID = "c0ffee00-0000-4000-8000-000000000001"
TENANT_DOMAIN = "contoso.example"
PUBLIC_CLIENT = "c0ffee00-0000-4000-8000-000000000002"
CONFIDENTIAL_CLIENT = "c0ffee00-0000-4000-8000-000000000003"
CLIENT_SECRET = "demo~secret~value~not~a~real~secret"
ALICE = "alice@contoso.example"
ALICE_PASSWORD = "alice-password"
BOB = "bob@contoso.example"
BOB_PASSWORD = "bob-password"
MAIL_SCOPES = [
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
]


def _binary(env: str, name: str) -> str:
    """A workspace binary: $env, else $MAILOAUTH_TARGET_DIR / $CARGO_TARGET_DIR / target."""
    explicit = os.environ.get(env)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise RuntimeError(f"{env}={explicit} is not an executable file")
        return explicit
    dirs = [os.environ.get("MAILOAUTH_TARGET_DIR"), os.environ.get("CARGO_TARGET_DIR"), str(REPO / "target")]
    for d in dirs:
        if d:
            candidate = pathlib.Path(d) / "debug" / name
            if os.access(candidate, os.X_OK):
                return str(candidate)
    raise RuntimeError(
        f"{name} not found: set {env} or build it (cargo build -p {name} --bins); the Python tests need it"
    )


def emulator_bin() -> str:
    return _binary("MAILOAUTH_EMULATOR_BIN", "mailoauth-emulator")


def testkit_bin() -> str:
    return _binary("MAILOAUTH_TESTKIT_BIN", "mailoauth-testkit")


def cli_bin() -> str:
    return _binary("MAILOAUTH_CLI_BIN", "mailoauth")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Emulator:
    """A running mailoauth-emulator and its HTTP control API."""

    def __init__(self, *args: str, https: bool = False, tmp: pathlib.Path | None = None) -> None:
        cmd = [emulator_bin(), "--port", "0", "--device-code-interval", "0", *args]
        self.ca_file: str | None = None
        if https:
            assert tmp is not None
            self.ca_file = str(tmp / "emulator-ca.pem")
            cmd += ["--https", "--ca-out", self.ca_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http"):
            _stop(self.proc)
            raise RuntimeError(f"the emulator did not print its URL (got {self.base!r})")
        self._ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    def authority(self, tenant: str = "organizations") -> str:
        return f"{self.base}/{tenant}"

    @property
    def introspection_url(self) -> str:
        return f"{self.base}/_emulator/introspect"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10, context=self._ctx) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", "/_emulator/" + path, body)

    def get(self, path: str) -> Any:
        return self.request("GET", "/_emulator/" + path)

    def fault(self, **fault: Any) -> None:
        self.post("faults", fault)

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("counters")
        return result

    def grants(self, grant: str) -> int:
        return int(self.counters()["grants"].get(grant, 0))

    def pending_user_codes(self) -> list[str]:
        return [p["user_code"] for p in self.get("device/pending")]

    def stop(self) -> None:
        _stop(self.proc)


class Dovecot:
    """A real Dovecot started by `mailoauth-testkit dovecot`, validating tokens at the emulator."""

    def __init__(self, validator_url: str) -> None:
        self.proc = subprocess.Popen(
            [testkit_bin(), "dovecot", "--validator-url", validator_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        try:
            self.info: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            _stop(self.proc)
            raise RuntimeError(f"mailoauth-testkit did not start Dovecot (printed {line!r})") from None
        self.host: str = self.info["host"]
        self.ca_file: str = self.info["ca_file"]

    def port(self, name: str) -> int:
        return int(self.info[f"{name}_port"])

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        assert answer.get("ok"), answer
        return answer

    def messages(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.command("messages")["messages"]
        return result

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # EOF: the testkit stops Dovecot cleanly
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _stop(self.proc)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def auto_emulator() -> Iterator[Emulator]:
    """An emulator that approves every sign-in (authorize page, device codes) as alice."""
    emu = Emulator("--auto-approve-as", ALICE)
    yield emu
    emu.stop()


@pytest.fixture
def dovecot(emulator: Emulator) -> Iterator[Dovecot]:
    dc = Dovecot(emulator.introspection_url)
    yield dc
    dc.stop()


@pytest.fixture
def client_cert() -> tuple[str, str]:
    return (KEYS / "demo-client-cert.pem").read_text(), (KEYS / "demo-client-cert-key.pem").read_text()


def http_get_no_redirect(url: str) -> tuple[int, str]:
    """GET without following redirects: (status, Location or body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location") or e.read().decode()
