"""Fixtures of the FFI-contract suite: the UniFFI Python bindings of libmailoauth_ffi (generated
from the same library the Swift package is generated from), the identity-platform emulator and
a real Dovecot that validates tokens through it.

Environment (set by scripts/tests.d/50-swift.sh):
  MAILOAUTH_FFI_PY_DIR   directory with the generated mailoauth_ffi.py and libmailoauth_ffi.so
  MAILOAUTH_EMULATOR_BIN the mailoauth-emulator binary
  MAILOAUTH_TESTKIT_BIN  the mailoauth-testkit binary
Nothing is skipped: a missing piece fails the run.
"""

import asyncio
import importlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PUBLIC_CLIENT_ID = "c0ffee00-0000-4000-8000-000000000002"
CONFIDENTIAL_CLIENT_ID = "c0ffee00-0000-4000-8000-000000000003"
CLIENT_SECRET = "demo~secret~value~not~a~real~secret"
TENANT_ID = "c0ffee00-0000-4000-8000-000000000001"
USER = "alice@contoso.example"
PASSWORD = "alice-password"
MFA_USER = "bob@contoso.example"
MFA_PASSWORD = "bob-password"
IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
MAIL_SCOPES = [
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
]


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the suite through scripts/tests.d/50-swift.sh")
    return value


@pytest.fixture(scope="session")
def ffi():
    """The generated module `mailoauth_ffi` (UniFFI's Python bindings of the Swift library)."""
    directory = _required_env("MAILOAUTH_FFI_PY_DIR")
    if not (Path(directory) / "mailoauth_ffi.py").is_file():
        raise RuntimeError(f"no mailoauth_ffi.py in {directory}")
    sys.path.insert(0, directory)
    return importlib.import_module("mailoauth_ffi")


class Emulator:
    """A running mailoauth-emulator and its HTTP control API."""

    def __init__(self, base):
        self.base = base

    @property
    def authority(self):
        return f"{self.base}/organizations"

    @property
    def tenant_authority(self):
        return f"{self.base}/{TENANT_ID}"

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def get(self, path):
        return self._request("GET", path)

    def post(self, path, body):
        return self._request("POST", path, body)

    def delete(self, path):
        return self._request("DELETE", path)

    def reset(self):
        """Default settings, no faults, the real clock, no pending device codes, zeroed counters."""
        self.delete("/_emulator/faults")
        for pending in self.pending_codes():
            self.deny(pending["user_code"])
        self.settings(**DEFAULT_SETTINGS)
        offset = self.post("/_emulator/clock", {"advance_secs": 0})["clock_offset_secs"]
        if offset:
            self.post("/_emulator/clock", {"advance_secs": -offset})
        self.delete("/_emulator/counters")

    def counters(self):
        return self.get("/_emulator/counters")

    def grants(self, grant):
        return self.counters()["grants"].get(grant, 0)

    def issued(self, grant):
        return self.counters()["issued"].get(grant, 0)

    def settings(self, **values):
        return self.post("/_emulator/settings", values)

    def fault(self, **fault):
        return self.post("/_emulator/faults", fault)

    def pending_codes(self):
        return self.get("/_emulator/device/pending")

    def approve(self, user_code, username=USER):
        return self.post("/_emulator/device/approve", {"user_code": user_code, "username": username})

    def deny(self, user_code):
        return self.post("/_emulator/device/deny", {"user_code": user_code})

    def redirect_location(self, url):
        """GETs an authorize URL (auto-approve on) and returns the redirect's Location."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(url, timeout=10)
        except urllib.error.HTTPError as e:
            if e.code in (302, 303):
                return e.headers["Location"]
            raise
        raise AssertionError(f"no redirect from {url}")


DEFAULT_SETTINGS = dict(
    token_lifetime_secs=3599,
    device_code_interval_secs=0,
    device_code_lifetime_secs=900,
    auto_approve_as="",
)


@pytest.fixture(scope="session")
def emulator_process():
    binary = _required_env("MAILOAUTH_EMULATOR_BIN")
    proc = subprocess.Popen(
        [binary, "--port", "0", "--device-code-interval", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        if not base.startswith("http://"):
            raise RuntimeError(f"the emulator did not print its URL (got {base!r})")
        yield Emulator(base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def emulator(emulator_process):
    """The emulator with default settings, no faults and zeroed counters for each test."""
    emu = emulator_process
    emu.reset()
    yield emu
    emu.reset()


class Dovecot:
    """A real Dovecot (mailoauth-testkit) validating tokens through the emulator."""

    def __init__(self, info):
        self.info = info
        self.host = info["host"]
        self.ca_file = info["ca_file"]

    def options(self, ffi, protocol, tls=False, **extra):
        ports = {
            ("imap", False): (self.info["imap_port"], ffi.Security.START_TLS),
            ("imap", True): (self.info["imaps_port"], ffi.Security.TLS),
            ("pop3", False): (self.info["pop3_port"], ffi.Security.START_TLS),
            ("pop3", True): (self.info["pop3s_port"], ffi.Security.TLS),
            ("smtp", False): (self.info["submission_port"], ffi.Security.START_TLS),
        }
        port, security = ports[(protocol, tls)]
        extra.setdefault("ca_file", self.ca_file)
        return ffi.MailServerOptions(host=self.host, port=port, security=security, **extra)


@pytest.fixture(scope="session")
def dovecot(emulator_process):
    binary = _required_env("MAILOAUTH_TESTKIT_BIN")
    proc = subprocess.Popen(
        [binary, "dovecot", "--validator-url", f"{emulator_process.base}/_emulator/introspect"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.strip():
            raise RuntimeError("mailoauth-testkit dovecot did not start (is Dovecot installed?)")
        yield Dovecot(json.loads(line))
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def public(ffi, emulator):
    """A PublicClient of the demo public app at the emulator, with an in-memory cache."""
    return ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(authority=emulator.authority))


def run(coro, timeout=60):
    """Runs a coroutine to completion on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def approve_when_pending(emulator, username=USER, deny=False, timeout=20):
    """Approves (or denies) the next pending device code, as the user on the device page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = await asyncio.to_thread(emulator.pending_codes)
        if pending:
            code = pending[0]["user_code"]
            if deny:
                await asyncio.to_thread(emulator.deny, code)
            else:
                await asyncio.to_thread(emulator.approve, code, username)
            return code
        await asyncio.sleep(0.05)
    raise AssertionError("no device code became pending")


async def sign_in_with_device_code(emulator, client, scopes=None):
    """A complete device-code sign-in through the binding; returns the Token."""
    flow = await client.start_device_flow(scopes or [IMAP_SCOPE])
    emulator.approve(flow.user_code())
    return await flow.wait()
