"""Silent acquisition: cache hits, refresh, file caches shared between clients and processes
(and with the mailoauth CLI), command and Python stores, revocation, MSAL migration."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

import mailoauth
from conftest import ALICE, ALICE_PASSWORD, MAIL_SCOPES, PUBLIC_CLIENT, TESTDATA, Emulator, cli_bin


def sign_in(app: mailoauth.PublicClient) -> mailoauth.Token:
    return app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)


def test_silent_hit_from_memory_makes_no_request(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    first = sign_in(app)
    before = emulator.counters()["requests"].get("token", 0)
    for account in (None, ALICE, first.account):
        again = app.acquire_token_silent(MAIL_SCOPES, account=account)
        assert again.access_token == first.access_token
    assert emulator.counters()["requests"].get("token", 0) == before


def test_silent_refreshes_when_the_token_is_within_the_margin(emulator: Emulator) -> None:
    emulator.post("settings", {"token_lifetime_secs": 60})  # below the 5-minute margin
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    first = sign_in(app)
    again = app.acquire_token_silent(MAIL_SCOPES)
    assert again.access_token != first.access_token
    assert emulator.grants("refresh_token") == 1


def test_silent_without_sign_in_is_interaction_required(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    with pytest.raises(mailoauth.InteractionRequired) as e:
        app.acquire_token_silent(MAIL_SCOPES)
    assert e.value.kind == "interaction_required" and "sign in" in e.value.hint
    assert emulator.counters()["requests"].get("token", 0) == 0


def test_revoked_refresh_token_is_interaction_required(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    emulator.post("settings", {"token_lifetime_secs": 60})
    path = tmp_path / "tokens.json"
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=path)
    sign_in(app)
    emulator.post("revoke", {"username": ALICE})
    with pytest.raises(mailoauth.InteractionRequired) as e:
        app.acquire_token_silent(MAIL_SCOPES)
    assert e.value.codes == [50173] and e.value.error == "invalid_grant"
    assert [a.username for a in app.accounts()] == [ALICE]  # the cache is left intact


def test_file_cache_is_shared_between_clients_and_private(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    writer = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=str(path))
    first = sign_in(writer)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert "entries" in data or data  # the core's versioned JSON format
    assert first.access_token in path.read_text()

    reader = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=mailoauth.TokenCache(path))
    token_requests = emulator.counters()["requests"]["token"]
    assert reader.acquire_token_silent(MAIL_SCOPES).access_token == first.access_token
    assert emulator.counters()["requests"]["token"] == token_requests
    assert [a.username for a in reader.accounts()] == [ALICE]
    entries = mailoauth.TokenCache.file(path).entries()
    assert [(env, cid, acc.username) for env, cid, acc in entries] == [(emulator.base, PUBLIC_CLIENT, ALICE)]

    assert reader.remove_account(ALICE) is True
    assert writer.accounts() == []
    assert reader.remove_account(ALICE) is False


def test_file_cache_refresh_in_another_process(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    """A second process (a cron job, a mail client's passwordeval) refreshes from the file."""
    emulator.post("settings", {"token_lifetime_secs": 60})
    path = tmp_path / "tokens.json"
    sign_in(mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=path))
    script = (
        "import sys, mailoauth\n"
        "app = mailoauth.PublicClient(sys.argv[1], authority=sys.argv[2], cache=sys.argv[3])\n"
        "t = app.acquire_token_silent(sys.argv[4:])\n"
        "print(t.account.username)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, PUBLIC_CLIENT, emulator.authority(), str(path), *MAIL_SCOPES],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == ALICE
    assert emulator.grants("refresh_token") == 1


def test_corrupt_cache_file_is_a_store_error(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    os.chmod(path, 0o600)
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=path)
    with pytest.raises(mailoauth.TokenStoreError) as e:
        app.acquire_token_silent(MAIL_SCOPES)
    assert e.value.kind == "storage" and "unreadable" in str(e.value)


class DictStore:
    """A token store written in Python (e.g. a database row, a secrets manager)."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.saves = 0

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = data
        self.saves += 1


def test_python_store(emulator: Emulator) -> None:
    store = DictStore()
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=store)
    first = sign_in(app)
    assert store.saves == 1 and store.data is not None
    other = mailoauth.PublicClient(
        PUBLIC_CLIENT, authority=emulator.authority(), cache=mailoauth.TokenCache.custom(store)
    )
    assert other.acquire_token_silent(MAIL_SCOPES).access_token == first.access_token


def test_python_store_errors_are_store_errors(emulator: Emulator) -> None:
    class Broken(DictStore):
        def load(self) -> bytes | None:
            raise OSError("vault sealed")

    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=Broken())
    with pytest.raises(mailoauth.TokenStoreError, match="vault sealed"):
        app.acquire_token_silent(MAIL_SCOPES)
    with pytest.raises(TypeError):
        mailoauth.PublicClient(PUBLIC_CLIENT, cache=42)


def test_command_store(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    blob = tmp_path / "blob"
    cache = mailoauth.TokenCache.command(
        f"cat {blob} 2>/dev/null || true", f"cat > {blob}", lock_file=str(tmp_path / "lock")
    )
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=cache)
    first = sign_in(app)
    assert blob.exists()
    fresh = mailoauth.PublicClient(
        PUBLIC_CLIENT,
        authority=emulator.authority(),
        cache=mailoauth.TokenCache.command(f"cat {blob}", f"cat > {blob}"),
    )
    assert fresh.acquire_token_silent(MAIL_SCOPES).access_token == first.access_token


def test_import_msal_cache(emulator: Emulator) -> None:
    """A cache serialized by MSAL Python is migrated; its refresh token is then redeemed."""
    issued = sign_in(mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority()))
    text = (TESTDATA / "msal" / "token_cache.json").read_text()
    msal = json.loads(text)
    for section in msal.values():
        for entry in section.values():
            if "environment" in entry:
                entry["environment"] = emulator.base  # MSAL writes a host; a URL is kept as is
            if entry.get("secret") == "MSAL_REFRESH_TOKEN":
                entry["secret"] = issued.refresh_token
    cache = mailoauth.TokenCache()
    imported = cache.import_msal(json.dumps(msal))
    assert imported == 1
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=cache)
    assert [a.username for a in app.accounts()] == [ALICE]
    assert app.acquire_token_silent(MAIL_SCOPES).account is not None


def test_cli_reads_and_refreshes_a_cache_the_binding_wrote(emulator: Emulator, tmp_path: pathlib.Path) -> None:
    """The `mailoauth` CLI and the Python binding share one token file."""
    path = tmp_path / "tokens.json"
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(), cache=path)
    first = sign_in(app)
    config = tmp_path / "config.toml"
    config.write_text(
        "[accounts.work]\n"
        f'client_id = "{PUBLIC_CLIENT}"\n'
        f'authority = "{emulator.authority()}"\n'
        f'login = "{ALICE}"\n'
        f'user = "{ALICE}"\n'
    )
    env = {**os.environ, "MAILOAUTH_CONFIG": str(config), "MAILOAUTH_STORE": str(path)}
    run = lambda: subprocess.run(  # noqa: E731
        [cli_bin(), "token", "work"], capture_output=True, text=True, timeout=60, env=env
    )
    out = run()
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == first.access_token  # a cache hit: the token Python stored
    assert emulator.grants("refresh_token") == 0

    # A stale token (lifetime under the 5-minute margin): the CLI refreshes and writes the
    # rotated tokens into the shared file.
    emulator.post("settings", {"token_lifetime_secs": 60})
    sign_in(app)
    out = run()
    assert out.returncode == 0, out.stderr
    assert emulator.grants("refresh_token") == 1
    refreshed = out.stdout.strip()
    assert refreshed != first.access_token and refreshed in path.read_text()
    # ... and the binding reads what the CLI wrote (margin 0: the 60-second token is still valid).
    reader = mailoauth.PublicClient(
        PUBLIC_CLIENT, authority=emulator.authority(), cache=mailoauth.TokenCache(path, refresh_margin=0)
    )
    assert reader.acquire_token_silent(MAIL_SCOPES).access_token == refreshed
    assert emulator.grants("refresh_token") == 1
