"""Blocking calls release the GIL, and Ctrl-C (SIGINT) interrupts a device-code wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import mailoauth
from conftest import ALICE, ALICE_PASSWORD, MAIL_SCOPES, PUBLIC_CLIENT, Emulator

WAITER = """
import sys, time, mailoauth
app = mailoauth.PublicClient(sys.argv[1], authority=sys.argv[2])
flow = app.initiate_device_flow(sys.argv[3:])
print("waiting", flush=True)
started = time.monotonic()
try:
    flow.wait()
except KeyboardInterrupt:
    print("interrupted after %.2f s" % (time.monotonic() - started), flush=True)
    sys.exit(130)
print("not interrupted", flush=True)
"""


def test_ctrl_c_interrupts_a_device_code_wait(emulator: Emulator) -> None:
    emulator.post("settings", {"device_code_interval_secs": 1})
    proc = subprocess.Popen(
        [sys.executable, "-c", WAITER, PUBLIC_CLIENT, emulator.authority(), *MAIL_SCOPES],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 130, out
        assert out.startswith("interrupted")
        assert time.monotonic() - sent < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_gil_is_released_while_waiting_for_the_network(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="delay", millis=500)
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    counted = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal counted
        while not stop.is_set():
            counted += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
    finally:
        stop.set()
        t.join()
    # Held for 0.5 s, the GIL would let the thread count only around the call (a few ms, ~10^4);
    # released, it counts for the whole half second (~10^6-10^7 here).
    assert counted > 500_000
