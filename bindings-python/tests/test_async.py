"""The *_async methods: awaitable from asyncio, concurrent, and never blocking the loop."""

from __future__ import annotations

import asyncio
import time

import pytest

import mailoauth
from conftest import (
    ALICE,
    ALICE_PASSWORD,
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT,
    MAIL_SCOPES,
    PUBLIC_CLIENT,
    TENANT_DOMAIN,
    Emulator,
)


def test_async_grants_and_silent(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    daemon = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT, authority=emulator.authority(TENANT_DOMAIN), client_secret=CLIENT_SECRET
    )

    async def main() -> None:
        token = await app.acquire_token_by_username_password_async(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
        assert token.account is not None and token.account.username == ALICE
        silent, app_only = await asyncio.gather(
            app.acquire_token_silent_async(MAIL_SCOPES, ALICE),
            daemon.acquire_token_for_client_async([mailoauth.app_only_scope()]),
        )
        assert silent.access_token == token.access_token
        assert app_only.account is None
        assert token.refresh_token is not None
        refreshed = await app.acquire_token_by_refresh_token_async(token.refresh_token, MAIL_SCOPES)
        assert refreshed.access_token != token.access_token

    asyncio.run(main())


def test_async_device_flow(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())

    async def main() -> mailoauth.Token:
        flow = await app.initiate_device_flow_async(MAIL_SCOPES)
        waiting = asyncio.ensure_future(flow.wait_async(timeout=30))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await asyncio.to_thread(emulator.post, "device/approve", {"user_code": flow.user_code, "username": ALICE})
        return await waiting

    token = asyncio.run(main())
    assert token.account is not None and token.account.username == ALICE


def test_async_errors_are_the_same_exceptions(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())

    async def main() -> None:
        with pytest.raises(mailoauth.InteractionRequired):
            await app.acquire_token_silent_async(MAIL_SCOPES)
        with pytest.raises(mailoauth.InvalidGrant) as e:
            await app.acquire_token_by_username_password_async(ALICE, "wrong", MAIL_SCOPES)
        assert e.value.codes == [50126]

    asyncio.run(main())


def test_the_loop_keeps_running_during_a_slow_request(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="delay", millis=600)
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        started = time.monotonic()
        await app.acquire_token_by_username_password_async(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
        assert time.monotonic() - started >= 0.5
        t.cancel()
        return ticks

    assert asyncio.run(main()) >= 20


def test_cancelling_a_device_wait_stops_polling(emulator: Emulator) -> None:
    emulator.post("settings", {"device_code_interval_secs": 1})  # the first poll is due after 1 s
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())

    async def main() -> None:
        flow = await app.initiate_device_flow_async(MAIL_SCOPES)
        waiting = asyncio.ensure_future(flow.wait_async())
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(1.5)
        assert emulator.grants("device_code") == 0  # the cancelled wait never polled

    asyncio.run(main())

    # Without the cancellation the same wait polls (the test above can fail).
    async def control() -> None:
        flow = await app.initiate_device_flow_async(MAIL_SCOPES)
        waiting = asyncio.ensure_future(flow.wait_async())
        await asyncio.sleep(1.5)
        waiting.cancel()

    asyncio.run(control())
    assert emulator.grants("device_code") >= 1
