"""Drive the mailoauth emulator with MSAL Python over HTTPS (checked with msal 1.39.0).

    mailoauth-emulator --https --ca-out /tmp/emu-ca.pem --device-code-interval 0 \
        --auto-approve-as alice@contoso.example > /tmp/emu.url &
    cat "$(python -c 'import certifi; print(certifi.where())')" /tmp/emu-ca.pem > /tmp/bundle.pem
    REQUESTS_CA_BUNDLE=/tmp/bundle.pem python msal_python.py "$(head -1 /tmp/emu.url)"

MSAL refuses http:// authorities, so the emulator must run with --https and requests must
trust its CA (REQUESTS_CA_BUNDLE replaces the default bundle, hence the concatenation).
Run from the repository root (it reads emulator/keys/ for the certificate credential).
"""
import sys
import urllib.parse

import msal
import requests

BASE = sys.argv[1]
PUBLIC = "c0ffee00-0000-4000-8000-000000000002"
CONFIDENTIAL = "c0ffee00-0000-4000-8000-000000000003"
SECRET = "demo~secret~value~not~a~real~secret"
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send"]

# Before ROPC MSAL asks https://<host>/common/userrealm/<user> on port 443, whatever the
# authority's port. The emulator serves that route, but only helps when it listens on 443.
msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")

app = msal.PublicClientApplication(PUBLIC, authority=BASE + "/organizations", instance_discovery=False)

r = app.acquire_token_by_username_password("alice@contoso.example", "alice-password", scopes=SCOPES)
assert "access_token" in r, r
account = app.get_accounts()[0]
assert account["username"] == "alice@contoso.example"
assert app.acquire_token_silent(SCOPES, account=account)["token_source"] == "cache"
assert app.acquire_token_silent(SCOPES, account=account, force_refresh=True)["token_source"] == "identity_provider"

flow = app.initiate_device_flow(scopes=SCOPES)  # approved at once by --auto-approve-as
assert "access_token" in app.acquire_token_by_device_flow(flow)

flow = app.initiate_auth_code_flow(SCOPES, redirect_uri="http://localhost:5000", login_hint="alice@contoso.example")
loc = requests.get(flow["auth_uri"], allow_redirects=False).headers["location"]
params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
assert "access_token" in app.acquire_token_by_auth_code_flow(flow, params)

cca = msal.ConfidentialClientApplication(CONFIDENTIAL, client_credential=SECRET, authority=BASE + "/contoso.example", instance_discovery=False)
assert "access_token" in cca.acquire_token_for_client(["https://outlook.office365.com/.default"])

cert = {
    "private_key": open("emulator/keys/demo-client-cert-key.pem").read(),
    "public_certificate": open("emulator/keys/demo-client-cert.pem").read(),
}
cca = msal.ConfidentialClientApplication(CONFIDENTIAL, client_credential=cert, authority=BASE + "/contoso.example", instance_discovery=False)
assert "access_token" in cca.acquire_token_for_client(["https://outlook.office365.com/.default"])

bad = msal.PublicClientApplication("11111111-2222-3333-4444-555555555555", authority=BASE + "/organizations", instance_discovery=False)
r = bad.acquire_token_by_username_password("alice@contoso.example", "alice-password", scopes=SCOPES)
assert r["error"] == "unauthorized_client" and r["error_codes"] == [700016], r
print("MSAL Python: ROPC, silent, refresh, device code, auth code, client credentials (secret, certificate), 700016: all OK")
