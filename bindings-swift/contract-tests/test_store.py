"""The token store as a foreign trait (what a Swift app implements over the Keychain): the
cache is saved through it, read back by a new client, and its failures arrive as
`MailOAuthError.Storage` with the store's message."""

import json

import pytest

from conftest import IMAP_SCOPE, PUBLIC_CLIENT_ID, USER, run, sign_in_with_device_code


def make_store(ffi):
    class DictStore(ffi.TokenStoreCallback):
        """Keeps the cache bytes in a dict, as a Keychain item would."""

        def __init__(self):
            self.item = None
            self.loads = 0
            self.saves = 0

        def load(self):
            self.loads += 1
            return self.item

        def save(self, data):
            self.saves += 1
            self.item = bytes(data)

    return DictStore()


def test_foreign_store_keeps_the_sign_in_for_the_next_client(ffi, emulator):
    store = make_store(ffi)
    options = ffi.ClientOptions(authority=emulator.authority)
    first = ffi.PublicClient(PUBLIC_CLIENT_ID, options, ffi.TokenCache.custom(store))
    token = run(sign_in_with_device_code(emulator, first))
    assert store.saves >= 1
    document = json.loads(store.item)
    assert token.refresh_token() in store.item.decode()  # the store holds the secret, not the binding
    assert isinstance(document, dict)

    # A new client (an app restart) over the same store: same account, silent hit, no request.
    emulator.delete("/_emulator/counters")
    cache = ffi.TokenCache.custom(store)
    second = ffi.PublicClient(PUBLIC_CLIENT_ID, options, cache)
    assert [a.username for a in second.accounts()] == [USER]
    assert [(e.client_id, e.account.username) for e in cache.entries()] == [(PUBLIC_CLIENT_ID, USER)]
    again = run(second.acquire_token_silent([IMAP_SCOPE], USER))
    assert again.access_token() == token.access_token()
    assert emulator.counters()["requests"].get("token", 0) == 0
    assert "app's token store" in cache.describe()


def test_refresh_through_the_foreign_store_saves_the_rotated_token(ffi, emulator):
    emulator.settings(token_lifetime_secs=120)
    store = make_store(ffi)
    client = ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(authority=emulator.authority), ffi.TokenCache.custom(store))
    first = run(sign_in_with_device_code(emulator, client))
    saves = store.saves
    refreshed = run(client.acquire_token_silent([IMAP_SCOPE], USER))
    assert store.saves > saves
    assert refreshed.refresh_token() in store.item.decode()
    assert first.refresh_token() not in store.item.decode()


def test_store_error_arrives_as_storage_with_its_message(ffi, emulator):
    class LockedKeychain(ffi.TokenStoreCallback):
        def load(self):
            raise ffi.TokenStoreError.Failed("errSecInteractionNotAllowed: the device is locked")

        def save(self, data):
            raise ffi.TokenStoreError.Failed("errSecInteractionNotAllowed: the device is locked")

    client = ffi.PublicClient(
        PUBLIC_CLIENT_ID, ffi.ClientOptions(authority=emulator.authority), ffi.TokenCache.custom(LockedKeychain())
    )
    with pytest.raises(ffi.MailOAuthError.Storage) as info:
        client.accounts()
    assert "errSecInteractionNotAllowed" in info.value.details.message
    assert info.value.details.kind == "storage"
    with pytest.raises(ffi.MailOAuthError.Storage):
        run(client.acquire_token_silent([IMAP_SCOPE], USER))


def test_unexpected_exception_in_the_store_arrives_as_storage(ffi, emulator):
    class Broken(ffi.TokenStoreCallback):
        def load(self):
            raise ValueError("boom in the app's store")

        def save(self, data):
            raise ValueError("boom in the app's store")

    cache = ffi.TokenCache.custom(Broken())
    with pytest.raises(ffi.MailOAuthError.Storage) as info:
        cache.entries()
    assert "boom in the app's store" in info.value.details.message
    assert info.value.details.store_kind == "io"


def test_corrupt_stored_cache_is_reported(ffi, emulator):
    store = make_store(ffi)
    store.item = b"{not json"
    cache = ffi.TokenCache.custom(store)
    with pytest.raises(ffi.MailOAuthError.Storage) as info:
        cache.entries()
    assert info.value.details.store_kind == "corrupt"


def test_file_cache_and_msal_import(ffi, emulator, tmp_path):
    from conftest import REPO

    path = tmp_path / "tokens.json"
    cache = ffi.TokenCache.file(str(path))
    imported = run(cache.import_msal((REPO / "testdata" / "msal" / "token_cache.json").read_text()))
    assert imported >= 1
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert len(ffi.TokenCache.file(str(path)).entries()) == imported


def test_negative_refresh_margin_is_a_configuration_error(ffi):
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        ffi.TokenCache.memory(-1.0)
