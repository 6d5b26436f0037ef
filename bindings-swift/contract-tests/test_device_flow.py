"""Device-code sign-in through the FFI: the flow object, the callback handler, declined and
expired codes, and cancellation (the future dropped, and `DeviceFlow.cancel()`), observed
through the emulator's counters."""

import asyncio
import time

import pytest

from conftest import IMAP_SCOPE, USER, approve_when_pending, run


def test_flow_object_shows_the_code_then_wait_returns_the_token(ffi, emulator, public):
    async def scenario():
        flow = await public.start_device_flow([IMAP_SCOPE])
        assert flow.user_code() and flow.user_code() in flow.message()
        assert flow.verification_uri().startswith(emulator.base)
        assert flow.expires_at() > time.time() + 60
        assert IMAP_SCOPE in flow.scopes() and "offline_access" in flow.scopes()
        assert [p["user_code"] for p in emulator.pending_codes()] == [flow.user_code()]
        emulator.approve(flow.user_code())
        return await flow.wait()

    token = run(scenario())
    assert token.account().username == USER
    assert token.account().home_account_id
    assert IMAP_SCOPE in token.scopes()
    assert 3000 < token.expires_in() <= 3599
    assert token.access_token().count(".") == 2
    assert token.refresh_token()
    assert emulator.issued("device_code") == 1
    assert [a.username for a in public.accounts()] == [USER]


def test_callback_handler_receives_the_message_before_polling(ffi, emulator, public):
    seen = []

    class Handler(ffi.DeviceCodeHandler):
        def show_device_code(self, flow):
            # Called once, before the first poll.
            seen.append((flow.message(), flow.user_code(), emulator.grants("device_code")))

    async def scenario():
        approver = asyncio.ensure_future(approve_when_pending(emulator))
        token = await public.acquire_token_by_device_code([IMAP_SCOPE], Handler())
        return token, await approver

    token, approved_code = run(scenario())
    assert token.account().username == USER
    assert len(seen) == 1
    message, user_code, polls_before = seen[0]
    assert user_code == approved_code and user_code in message
    assert polls_before == 0


def test_declined_code_raises_declined(ffi, emulator, public):
    async def scenario():
        flow = await public.start_device_flow([IMAP_SCOPE])
        emulator.deny(flow.user_code())
        return await flow.wait()

    with pytest.raises(ffi.MailOAuthError.Declined) as info:
        run(scenario())
    details = info.value.details
    assert details.kind == "declined"
    assert details.error == "authorization_declined"
    assert details.hint
    assert not details.is_temporary


def test_expired_code_raises_expired(ffi, emulator, public):
    async def scenario():
        flow = await public.start_device_flow([IMAP_SCOPE])
        emulator.post("/_emulator/clock", {"advance_secs": 3600})
        return await flow.wait()

    with pytest.raises(ffi.MailOAuthError.Expired) as info:
        run(scenario())
    assert info.value.details.error == "expired_token"
    assert info.value.details.kind == "expired"


def _polls_stop(emulator, start_wait):
    """Starts a pending wait with a 1 s interval, stops it with `start_wait`'s stopper, and
    returns the device-code polls before and after stopping."""
    emulator.settings(device_code_interval_secs=1)

    async def scenario():
        task, stop = await start_wait()
        # Let it poll twice (interval 1 s) while nobody approves.
        deadline = time.monotonic() + 20
        while emulator.grants("device_code") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        polls_while_waiting = emulator.grants("device_code")
        result = await stop(task)
        polls_at_stop = emulator.grants("device_code")
        await asyncio.sleep(3.2)
        return result, polls_while_waiting, polls_at_stop, emulator.grants("device_code")

    return run(scenario())


def test_cancelling_the_task_drops_the_future_and_stops_polling(ffi, emulator, public):
    async def start_wait():
        flow = await public.start_device_flow([IMAP_SCOPE])

        async def stop(task):
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return "cancelled"

        return asyncio.ensure_future(flow.wait()), stop

    result, waiting, at_stop, later = _polls_stop(emulator, start_wait)
    assert result == "cancelled"
    assert waiting >= 2, "the wait should have polled while pending"
    assert later == at_stop, f"polling went on after the future was dropped ({at_stop} -> {later})"


def test_cancel_method_ends_the_wait_with_cancelled(ffi, emulator, public):
    async def start_wait():
        flow = await public.start_device_flow([IMAP_SCOPE])
        task = asyncio.ensure_future(flow.wait())

        async def stop(t):
            flow.cancel()
            with pytest.raises(ffi.MailOAuthError.Cancelled) as info:
                await t
            return info.value.details.kind

        return task, stop

    result, waiting, at_stop, later = _polls_stop(emulator, start_wait)
    assert result == "cancelled"
    assert waiting >= 2
    assert later == at_stop, f"polling went on after cancel() ({at_stop} -> {later})"


def test_handler_can_cancel_the_one_call_flow(ffi, emulator, public):
    class CancelAtOnce(ffi.DeviceCodeHandler):
        def show_device_code(self, flow):
            flow.cancel()

    with pytest.raises(ffi.MailOAuthError.Cancelled):
        run(public.acquire_token_by_device_code([IMAP_SCOPE], CancelAtOnce()))
    assert emulator.grants("device_code") == 0
