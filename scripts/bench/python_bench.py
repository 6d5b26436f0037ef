"""One side of scripts/bench/python.sh: silent cache hit and refresh round trip, with the
mailoauth package or with MSAL Python, against the same emulator (HTTPS, keep-alive).
Prints JSON lines."""

import json
import sys
import time

IMPL, BASE, CA = sys.argv[1], sys.argv[2], sys.argv[3]
CLIENT = "c0ffee00-0000-4000-8000-000000000002"
USER, PASSWORD = "alice@contoso.example", "alice-password"
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"]


def stats(values):
    v = sorted(values)
    return v[len(v) // 2], v[0]


if IMPL == "mailoauth":
    import mailoauth

    app = mailoauth.PublicClient(CLIENT, authority=BASE + "/organizations", ca_file=CA)
    first = app.acquire_token_by_username_password(USER, PASSWORD, SCOPES)
    account = first.account
    silent = lambda: app.acquire_token_silent(SCOPES, account)  # noqa: E731

    def refresh(rt):
        return app.acquire_token_by_refresh_token(rt, SCOPES).refresh_token

    rt = first.refresh_token
else:
    import msal

    # MSAL asks https://<host>/common/userrealm/<user> on port 443 before ROPC; skip for loopback.
    msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")
    app = msal.PublicClientApplication(CLIENT, authority=BASE + "/organizations", instance_discovery=False)
    r = app.acquire_token_by_username_password(USER, PASSWORD, scopes=SCOPES)
    assert "access_token" in r, r
    account = app.get_accounts()[0]

    def silent():
        t = app.acquire_token_silent(SCOPES, account=account)
        assert t and t["token_source"] == "cache"
        return t

    def refresh(rt):
        return app.acquire_token_by_refresh_token(rt, scopes=SCOPES)["refresh_token"]

    rt = r["refresh_token"]

per_call = []
for _ in range(100):
    start = time.perf_counter_ns()
    for _ in range(100):
        silent()
    per_call.append((time.perf_counter_ns() - start) / 100)
median, low = stats(per_call)
print(json.dumps({"impl": IMPL, "op": "silent_hit", "median_us": median / 1000, "min_us": low / 1000}))

for _ in range(20):  # warm up: TLS session, keep-alive
    rt = refresh(rt)
times = []
for _ in range(300):
    start = time.perf_counter_ns()
    rt = refresh(rt)
    times.append((time.perf_counter_ns() - start) / 1e6)
median, low = stats(times)
print(json.dumps({"impl": IMPL, "op": "refresh", "median_ms": median, "min_ms": low}))
