"""Peers of `mailoauth token` for scripts/bench/cli-token.sh, and the timing harness.

    setup  URL WORK            sign in once with MSAL (device code, auto-approved); write
                               WORK/msal_cache.json and WORK/stdlib_tokens.json
    msal   URL WORK            MSAL Python: load the serialized cache, acquire_token_silent, print
    stdlib URL WORK            stdlib Python: read a JSON file, check expiry, print (mutt_oauth2.py
                               style; a refresh would need urllib, not timed here)
    bench  URL WORK RUNS CMD.. run each command RUNS times, interleaved; print min/median and
                               the ratios to the first command
"""
import json
import os
import sys
import time

CLIENT = "c0ffee00-0000-4000-8000-000000000002"
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"]


def msal_app(url, cache):
    import msal

    return msal.PublicClientApplication(
        CLIENT, authority=url + "/organizations", instance_discovery=False, token_cache=cache
    )


def setup(url, work):
    import msal

    cache = msal.SerializableTokenCache()
    app = msal_app(url, cache)
    flow = app.initiate_device_flow(scopes=SCOPES)
    r = app.acquire_token_by_device_flow(flow)
    assert "access_token" in r, r
    with open(os.path.join(work, "msal_cache.json"), "w") as f:
        f.write(cache.serialize())
    with open(os.path.join(work, "stdlib_tokens.json"), "w") as f:
        json.dump({"access_token": r["access_token"], "refresh_token": r.get("refresh_token"),
                   "access_token_expiration": time.time() + r["expires_in"]}, f)
    os.chmod(os.path.join(work, "stdlib_tokens.json"), 0o600)


def run_msal(url, work):
    import msal

    cache = msal.SerializableTokenCache()
    with open(os.path.join(work, "msal_cache.json")) as f:
        cache.deserialize(f.read())
    app = msal_app(url, cache)
    accounts = app.get_accounts()
    r = app.acquire_token_silent(SCOPES, account=accounts[0])
    assert r and r.get("token_source") == "cache", r
    sys.stdout.write(r["access_token"] + "\n")


def run_stdlib(url, work):
    with open(os.path.join(work, "stdlib_tokens.json")) as f:
        t = json.load(f)
    if t["access_token_expiration"] - time.time() < 300:
        raise SystemExit("expired: a refresh would go here")
    sys.stdout.write(t["access_token"] + "\n")


def bench(runs, commands):
    import shlex
    import statistics
    import subprocess

    argvs = [shlex.split(c) for c in commands]
    names = ["mailoauth token", "MSAL Python", "stdlib Python"][: len(argvs)]
    outputs = []
    for argv in argvs:  # warm-up, and every command must print a token
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        assert out.startswith("eyJ") and out.count("\n") == 1, (argv, out[:80])
        outputs.append(out)
    times = [[] for _ in argvs]
    for _ in range(runs):
        for i, argv in enumerate(argvs):
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
            times[i].append((time.perf_counter() - t0) * 1000)
    base_med = statistics.median(times[0])
    base_min = min(times[0])
    print(f"whole-process wall time, {runs} runs each, interleaved (ms)")
    print(f"{'':16s} {'min':>8s} {'median':>8s} {'p90':>8s}   ratio to mailoauth (median / min)")
    for name, ts in zip(names, times):
        ts.sort()
        med, mn, p90 = statistics.median(ts), ts[0], ts[int(len(ts) * 0.9)]
        print(f"{name:16s} {mn:8.2f} {med:8.2f} {p90:8.2f}   {med / base_med:6.1f}x / {mn / base_min:6.1f}x")


def main():
    what, url, work = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "setup":
        setup(url, work)
    elif what == "msal":
        run_msal(url, work)
    elif what == "stdlib":
        run_stdlib(url, work)
    elif what == "bench":
        bench(int(sys.argv[4]), sys.argv[5:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
