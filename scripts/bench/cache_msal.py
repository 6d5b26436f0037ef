"""MSAL Python side of scripts/bench/cache.sh: silent cache hit and refresh round trip
against the same emulator (HTTPS, keep-alive), measured like core/benches/cache.rs."""
import json
import sys
import time

import msal

BASE = sys.argv[1]
CLIENT = "c0ffee00-0000-4000-8000-000000000002"
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"]
# MSAL asks https://<host>/common/userrealm/<user> on port 443 before ROPC; skip it for loopback.
msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")

app = msal.PublicClientApplication(CLIENT, authority=BASE + "/organizations", instance_discovery=False)
r = app.acquire_token_by_username_password("alice@contoso.example", "alice-password", scopes=SCOPES)
assert "access_token" in r, r
account = app.get_accounts()[0]


def stats(v):
    v = sorted(v)
    return v[len(v) // 2], v[0]


per_call = []
for _ in range(100):
    start = time.perf_counter_ns()
    for _ in range(100):
        t = app.acquire_token_silent(SCOPES, account=account)
    per_call.append((time.perf_counter_ns() - start) / 100)
assert t["token_source"] == "cache"
median, low = stats(per_call)
print(json.dumps({"impl": "msal-python", "op": "silent_hit", "median_us": median / 1000, "min_us": low / 1000}))

rt = r["refresh_token"]
for _ in range(20):
    rt = app.acquire_token_by_refresh_token(rt, scopes=SCOPES)["refresh_token"]
times = []
for _ in range(300):
    start = time.perf_counter_ns()
    res = app.acquire_token_by_refresh_token(rt, scopes=SCOPES)
    times.append((time.perf_counter_ns() - start) / 1e6)
    rt = res["refresh_token"]
median, low = stats(times)
print(json.dumps({"impl": "msal-python", "op": "refresh", "median_ms": median, "min_ms": low}))

# The floor: the same refresh as a bare requests.Session POST.
import requests  # noqa: E402

session = requests.Session()
scope = " ".join(SCOPES + ["openid", "profile", "offline_access"])
times = []
for _ in range(300):
    start = time.perf_counter_ns()
    body = session.post(BASE + "/organizations/oauth2/v2.0/token", data={
        "client_id": CLIENT, "grant_type": "refresh_token", "refresh_token": rt, "scope": scope}).json()
    times.append((time.perf_counter_ns() - start) / 1e6)
    rt = body["refresh_token"]
median, low = stats(times)
print(json.dumps({"impl": "msal-python", "op": "bare_post", "median_ms": median, "min_ms": low}))
