"""Async calls across the FFI: many at once on one client, single-flight refresh behind them,
and an event loop that keeps running while Rust futures are pending."""

import asyncio

from conftest import IMAP_SCOPE, PASSWORD, USER, run, sign_in_with_device_code


def test_concurrent_silent_calls_share_one_refresh(ffi, emulator, public):
    emulator.settings(token_lifetime_secs=120)  # inside the 300 s margin: due at once
    first = run(sign_in_with_device_code(emulator, public))
    emulator.settings(token_lifetime_secs=3599)  # the refreshed token is not due
    emulator.delete("/_emulator/counters")

    async def many():
        return await asyncio.gather(*(public.acquire_token_silent([IMAP_SCOPE], USER) for _ in range(8)))

    tokens = run(many())
    assert len({t.access_token() for t in tokens}) == 1
    assert tokens[0].access_token() != first.access_token()
    assert emulator.grants("refresh_token") == 1


def test_different_calls_run_concurrently(ffi, emulator, public):
    emulator.fault(endpoint="token", grant_type="password", kind="delay", millis=1500)

    async def scenario():
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        tick = asyncio.ensure_future(ticker())
        slow = public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE])
        fast = [public.start_device_flow([IMAP_SCOPE]) for _ in range(3)]
        results = await asyncio.gather(slow, *fast)
        tick.cancel()
        return results, loop.time() - start, ticks

    (token, *flows), elapsed, ticks = run(scenario())
    assert token.account().username == USER
    assert len({f.user_code() for f in flows}) == 3
    assert 1.4 < elapsed < 5
    # The event loop kept running while the Rust futures were pending.
    assert ticks >= 15
