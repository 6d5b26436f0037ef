"""examples/python/ run end to end against the emulator and a real Dovecot."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Iterator

import pytest

import mailoauth
from conftest import (
    ALICE,
    ALICE_PASSWORD,
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT,
    MAIL_SCOPES,
    PUBLIC_CLIENT,
    REPO,
    TENANT_DOMAIN,
    Dovecot,
    Emulator,
)

EXAMPLES = REPO / "examples" / "python"


@pytest.fixture
def auto_dovecot(auto_emulator: Emulator) -> Iterator[Dovecot]:
    dc = Dovecot(auto_emulator.introspection_url)
    yield dc
    dc.stop()


def run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def example_env(emu: Emulator, dc: Dovecot, tmp: pathlib.Path) -> dict[str, str]:
    return {
        "MAILOAUTH_CLIENT_ID": PUBLIC_CLIENT,
        "MAILOAUTH_AUTHORITY": emu.authority(),
        "MAILOAUTH_CACHE": str(tmp / "tokens.json"),
        "MAILOAUTH_IMAP": f"{dc.host}:{dc.port('imaps')}",
        "MAILOAUTH_SMTP": f"{dc.host}:{dc.port('submission')}",
        "MAILOAUTH_CA_FILE": dc.ca_file,
    }


def test_unread_count(auto_emulator: Emulator, auto_dovecot: Dovecot, tmp_path: pathlib.Path) -> None:
    env = example_env(auto_emulator, auto_dovecot, tmp_path)
    # Put one unread message into alice's INBOX first.
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=auto_emulator.authority())
    token = app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
    imap = mailoauth.connect_imap(
        ALICE, token, host=auto_dovecot.host, port=auto_dovecot.port("imap"), security="plain"
    )
    imap.append("INBOX", None, None, b"From: bob@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    imap.logout()

    first = run("unread_count.py", env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "INBOX: 1 unread"
    assert "To sign in" in first.stderr  # the device-code message (auto-approved here)
    again = run("unread_count.py", env)  # silent: the cached sign-in
    assert again.returncode == 0 and again.stdout.strip() == "INBOX: 1 unread"
    assert "To sign in" not in again.stderr
    assert auto_emulator.grants("device_code") >= 1 and auto_emulator.counters()["issued"]["device_code"] == 1


def test_send_mail(auto_emulator: Emulator, auto_dovecot: Dovecot, tmp_path: pathlib.Path) -> None:
    env = example_env(auto_emulator, auto_dovecot, tmp_path)
    out = run("send_mail.py", env, "bob@example.net", "Quarterly numbers", "See attached.")
    assert out.returncode == 0, out.stderr
    sent = auto_dovecot.messages()
    assert len(sent) == 1 and sent[0]["recipients"] == ["bob@example.net"]
    assert "Subject: Quarterly numbers" in sent[0]["data"]


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_app_only(emulator: Emulator, dovecot: Dovecot, tmp_path: pathlib.Path, credential: str) -> None:
    env = example_env(emulator, dovecot, tmp_path)
    env["MAILOAUTH_CLIENT_ID"] = CONFIDENTIAL_CLIENT
    env["MAILOAUTH_AUTHORITY"] = emulator.authority(TENANT_DOMAIN)
    if credential == "secret":
        env["MAILOAUTH_CLIENT_SECRET"] = CLIENT_SECRET
    else:
        pem = tmp_path / "app.pem"
        keys = REPO / "emulator" / "keys"
        pem.write_text((keys / "demo-client-cert.pem").read_text() + (keys / "demo-client-cert-key.pem").read_text())
        env["MAILOAUTH_CERTIFICATE"] = str(pem)
    out = run("app_only.py", env, ALICE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{ALICE}: 0 messages in INBOX"


def test_example_explains_a_refused_login(emulator: Emulator, dovecot: Dovecot, tmp_path: pathlib.Path) -> None:
    env = example_env(emulator, dovecot, tmp_path)
    env["MAILOAUTH_CLIENT_ID"] = CONFIDENTIAL_CLIENT
    env["MAILOAUTH_AUTHORITY"] = emulator.authority(TENANT_DOMAIN)
    env["MAILOAUTH_CLIENT_SECRET"] = CLIENT_SECRET
    out = run("app_only.py", env, "someone-else@contoso.example")  # not the app's mailbox
    assert out.returncode == 1
    assert "IMAP login as someone-else@contoso.example failed" in out.stderr
    assert "rejected" in out.stderr
