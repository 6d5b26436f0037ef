"""Token acquisition through the FFI: silent hits and refreshes, the split authorization-code
flow (as an iOS app drives it with ASWebAuthenticationSession), refresh tokens, ROPC,
confidential clients with a secret and a certificate, and one error of every identity kind
crossing the boundary with its details."""

import threading
import urllib.parse
import urllib.request

import pytest

from conftest import (
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT_ID,
    IMAP_SCOPE,
    MFA_PASSWORD,
    MFA_USER,
    PASSWORD,
    PUBLIC_CLIENT_ID,
    REPO,
    TENANT_ID,
    USER,
    run,
    sign_in_with_device_code,
)

IOS_CLIENT_ID = "c0ffee00-0000-4000-8000-00000000a105"
IOS_REDIRECT = "msauth.com.example.mailoauth://auth"
KEYS = REPO / "emulator" / "keys"


# ---- silent acquisition and refresh ------------------------------------------------------------


def test_silent_returns_the_cached_token_without_a_request(ffi, emulator, public):
    token = run(sign_in_with_device_code(emulator, public))
    emulator.delete("/_emulator/counters")
    again = run(public.acquire_token_silent([IMAP_SCOPE], USER))
    assert again.access_token() == token.access_token()
    assert emulator.counters()["requests"].get("token", 0) == 0
    # With one account signed in, the account may be left out.
    assert run(public.acquire_token_silent([IMAP_SCOPE])).access_token() == token.access_token()


def test_silent_refreshes_a_token_inside_the_refresh_margin(ffi, emulator, public):
    emulator.settings(token_lifetime_secs=120)  # below the default 300 s margin: due at once
    token = run(sign_in_with_device_code(emulator, public))
    refreshed = run(public.acquire_token_silent([IMAP_SCOPE], USER))
    assert emulator.issued("refresh_token") == 1
    assert refreshed.access_token() != token.access_token()
    assert refreshed.refresh_token() and refreshed.refresh_token() != token.refresh_token()  # rotated
    assert refreshed.account().username == USER


def test_silent_without_a_sign_in_raises_interaction_required(ffi, emulator, public):
    with pytest.raises(ffi.MailOAuthError.InteractionRequired) as info:
        run(public.acquire_token_silent([IMAP_SCOPE], USER))
    assert info.value.details.kind == "interaction_required"
    assert "interactive" in info.value.details.hint
    assert emulator.counters()["requests"].get("token", 0) == 0


def test_revoked_refresh_token_needs_interaction_with_aadsts_details(ffi, emulator, public):
    emulator.settings(token_lifetime_secs=120)
    token = run(sign_in_with_device_code(emulator, public))
    emulator.post("/_emulator/revoke", {"username": USER})
    # Silent: the cached refresh token is no longer accepted, so a person must sign in again.
    with pytest.raises(ffi.MailOAuthError.InteractionRequired) as info:
        run(public.acquire_token_silent([IMAP_SCOPE], USER))
    d = info.value.details
    assert d.codes == [50173]
    assert d.error == "invalid_grant"
    assert d.correlation_id and d.trace_id
    assert d.http_status == 400
    assert "AADSTS50173" in d.description
    assert d.hint and d.hint in d.description
    # Redeeming the same refresh token directly: the grant itself is invalid.
    with pytest.raises(ffi.MailOAuthError.InvalidGrant) as info:
        run(public.acquire_token_by_refresh_token(token.refresh_token(), [IMAP_SCOPE]))
    assert info.value.details.codes == [50173]
    assert token.refresh_token() not in repr(info.value)


def test_remove_account_forgets_the_sign_in(ffi, emulator, public):
    run(sign_in_with_device_code(emulator, public))
    assert run(public.remove_account(USER)) is True
    assert public.accounts() == []
    assert run(public.remove_account(USER)) is False
    with pytest.raises(ffi.MailOAuthError.InteractionRequired):
        run(public.acquire_token_silent([IMAP_SCOPE], USER))


def test_refresh_token_from_elsewhere_is_redeemed_and_cached(ffi, emulator, public):
    token = run(sign_in_with_device_code(emulator, public))
    other = ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(authority=emulator.authority))
    fresh = run(other.acquire_token_by_refresh_token(token.refresh_token(), [IMAP_SCOPE]))
    assert fresh.account().username == USER
    assert [a.username for a in other.accounts()] == [USER]


# ---- the split authorization-code flow (ASWebAuthenticationSession) ----------------------------


@pytest.fixture
def ios_app(emulator):
    """A public client registered with a custom-scheme redirect URI, like an iOS app."""
    emulator.post(
        "/_emulator/apps",
        {
            "client_id": IOS_CLIENT_ID,
            "name": "iOS mail app",
            "tenant": TENANT_ID,
            "public_client": True,
            "allow_public_client_flows": True,
            "redirect_uris": [IOS_REDIRECT],
            "sign_in_audience": "AzureADandPersonalMicrosoftAccount",
        },
    )
    return IOS_CLIENT_ID


def test_split_flow_with_a_custom_scheme_redirect(ffi, emulator, ios_app):
    client = ffi.PublicClient(ios_app, ffi.ClientOptions(authority=emulator.authority))
    flow = client.initiate_auth_code_flow(
        [IMAP_SCOPE], IOS_REDIRECT, ffi.AuthorizationOptions(login_hint=USER, prompt="select_account")
    )
    query = urllib.parse.parse_qs(urllib.parse.urlparse(flow.url()).query)
    assert query["redirect_uri"] == [IOS_REDIRECT]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"] == [flow.state()]
    assert query["login_hint"] == [USER]
    assert flow.redirect_uri() == IOS_REDIRECT

    # The app keeps the flow across the browser hop (e.g. in its state restoration).
    restored = ffi.AuthCodeFlow.from_json(flow.to_json())
    assert restored.state() == flow.state() and restored.url() == flow.url()

    emulator.settings(auto_approve_as=USER)  # the user signs in on the page
    callback = emulator.redirect_location(flow.url())
    assert callback.startswith(IOS_REDIRECT + "?")
    token = run(client.acquire_token_by_auth_code_flow(restored, callback))
    assert token.account().username == USER
    assert emulator.issued("authorization_code") == 1
    assert [a.username for a in client.accounts()] == [USER]


def test_split_flow_rejects_a_foreign_state(ffi, emulator, ios_app):
    client = ffi.PublicClient(ios_app, ffi.ClientOptions(authority=emulator.authority))
    flow = client.initiate_auth_code_flow([IMAP_SCOPE], IOS_REDIRECT)
    with pytest.raises(ffi.MailOAuthError.ProtocolError) as info:
        run(client.acquire_token_by_auth_code_flow(flow, IOS_REDIRECT + "?code=abc&state=not-ours"))
    assert "state" in info.value.details.message
    assert emulator.counters()["requests"].get("token", 0) == 0


def test_split_flow_error_redirect_raises_declined(ffi, emulator, ios_app):
    client = ffi.PublicClient(ios_app, ffi.ClientOptions(authority=emulator.authority))
    flow = client.initiate_auth_code_flow([IMAP_SCOPE], IOS_REDIRECT)
    callback = IOS_REDIRECT + "?" + urllib.parse.urlencode(
        {"error": "access_denied", "error_description": "AADSTS65004: User declined to consent.", "state": flow.state()}
    )
    with pytest.raises(ffi.MailOAuthError.Declined) as info:
        run(client.acquire_token_by_auth_code_flow(flow, callback))
    assert info.value.details.error == "access_denied"
    assert info.value.details.codes == [65004]


# ---- browser sign-in with a loopback redirect (macOS command-line tools) -----------------------


def test_interactive_loopback_sign_in(ffi, emulator, public):
    emulator.settings(auto_approve_as=USER)  # the user signs in on the page
    shown = []

    class Browser(ffi.SignInUrlHandler):
        def show_sign_in_url(self, url):
            shown.append(url)
            # The browser follows the authorize URL to the loopback redirect (in another thread:
            # the listener answers only once this callback has returned).
            threading.Thread(target=urllib.request.urlopen, args=(url,), kwargs={"timeout": 10}, daemon=True).start()

    options = ffi.InteractiveOptions(login_hint=USER, open_browser=False, timeout_secs=20)
    token = run(public.acquire_token_interactive([IMAP_SCOPE], options, Browser()))
    assert token.account().username == USER
    assert len(shown) == 1
    query = urllib.parse.parse_qs(urllib.parse.urlparse(shown[0]).query)
    assert query["redirect_uri"][0].startswith("http://localhost:")
    assert query["code_challenge_method"] == ["S256"]
    assert emulator.issued("authorization_code") == 1


def test_interactive_without_a_redirect_times_out_as_cancelled(ffi, emulator, public):
    options = ffi.InteractiveOptions(open_browser=False, timeout_secs=0.5)
    with pytest.raises(ffi.MailOAuthError.Cancelled):
        run(public.acquire_token_interactive([IMAP_SCOPE], options))


# ---- confidential clients ----------------------------------------------------------------------


def test_confidential_client_with_a_secret(ffi, emulator):
    app = ffi.ConfidentialClient.with_secret(
        CONFIDENTIAL_CLIENT_ID, CLIENT_SECRET, ffi.ClientOptions(authority=emulator.tenant_authority)
    )
    token = run(app.acquire_token_for_client([ffi.app_only_scope()]))
    assert token.account() is None
    assert token.refresh_token() is None
    assert emulator.issued("client_credentials") == 1


@pytest.mark.parametrize("algorithm", ["PS256", "RS256"])
def test_confidential_client_with_a_certificate(ffi, emulator, algorithm):
    cert = (KEYS / "demo-client-cert.pem").read_text()
    key = (KEYS / "demo-client-cert-key.pem").read_text()
    alg = {"PS256": ffi.AssertionAlgorithm.PS256, "RS256": ffi.AssertionAlgorithm.RS256}[algorithm]
    app = ffi.ConfidentialClient.with_certificate(
        CONFIDENTIAL_CLIENT_ID, cert, key, alg, ffi.ClientOptions(authority=emulator.tenant_authority)
    )
    token = run(app.acquire_token_for_client(["https://outlook.office365.com/.default"]))
    assert token.account() is None and token.access_token()


def test_wrong_client_secret_raises_invalid_client_without_the_secret(ffi, emulator):
    wrong = "not-the-secret~0123456789"
    app = ffi.ConfidentialClient.with_secret(
        CONFIDENTIAL_CLIENT_ID, wrong, ffi.ClientOptions(authority=emulator.tenant_authority)
    )
    with pytest.raises(ffi.MailOAuthError.InvalidClient) as info:
        run(app.acquire_token_for_client([ffi.app_only_scope()]))
    assert info.value.details.codes == [7000215]
    assert info.value.details.http_status == 401
    assert wrong not in repr(info.value) and wrong not in str(info.value.details)


# ---- username/password (ROPC) and one error of every identity kind ------------------------------


def test_username_password(ffi, emulator, public):
    token = run(public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE]))
    assert token.account().username == USER
    assert PASSWORD not in repr(token)


def test_mfa_user_raises_mfa_required(ffi, emulator, public):
    with pytest.raises(ffi.MailOAuthError.MfaRequired) as info:
        run(public.acquire_token_by_username_password(MFA_USER, MFA_PASSWORD, [IMAP_SCOPE]))
    assert 50076 in info.value.details.codes
    assert info.value.details.kind == "mfa_required"
    assert info.value.details.hint


def test_wrong_password_raises_invalid_grant_without_the_password(ffi, emulator, public):
    wrong = "wrong-password-4711"
    with pytest.raises(ffi.MailOAuthError.InvalidGrant) as info:
        run(public.acquire_token_by_username_password(USER, wrong, [IMAP_SCOPE]))
    assert info.value.details.codes == [50126]
    assert wrong not in repr(info.value)


def test_withdrawn_consent_raises_consent_required(ffi, emulator, public):
    emulator.post("/_emulator/consent", {"username": USER, "client_id": PUBLIC_CLIENT_ID, "granted": False})
    try:
        with pytest.raises(ffi.MailOAuthError.ConsentRequired) as info:
            run(public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE]))
        assert 65001 in info.value.details.codes
    finally:
        emulator.post("/_emulator/consent", {"username": USER, "client_id": PUBLIC_CLIENT_ID, "granted": True})


def test_conditional_access_raises_blocked_by_policy(ffi, emulator, public):
    emulator.fault(endpoint="token", kind="aadsts", code=53003)
    with pytest.raises(ffi.MailOAuthError.BlockedByPolicy) as info:
        run(public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE]))
    assert info.value.details.codes == [53003]


def test_429_raises_throttled_with_retry_after(ffi, emulator, public):
    emulator.fault(endpoint="token", kind="status", status=429, retry_after=120)
    with pytest.raises(ffi.MailOAuthError.Throttled) as info:
        run(public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE]))
    d = info.value.details
    assert d.retry_after_secs == 120.0
    assert d.http_status == 429
    assert d.is_temporary


def test_persistent_503_raises_network_error_after_retries(ffi, emulator, public):
    emulator.fault(endpoint="token", kind="status", status=503, times=3)
    with pytest.raises(ffi.MailOAuthError.NetworkError) as info:
        run(public.acquire_token_by_username_password(USER, PASSWORD, [IMAP_SCOPE]))
    assert info.value.details.http_status == 503
    assert info.value.details.is_temporary
    assert emulator.grants("password") == 3  # the first try and two retries


def test_unusable_configuration_raises_configuration_error(ffi):
    with pytest.raises(ffi.MailOAuthError.ConfigurationError) as info:
        ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(authority="http://login.example.com/organizations"))
    assert info.value.details.kind == "configuration"
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(cloud="mars"))
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        ffi.ConfidentialClient.with_certificate(CONFIDENTIAL_CLIENT_ID, "not a certificate")


def test_client_properties_and_default_authority(ffi):
    client = ffi.PublicClient(PUBLIC_CLIENT_ID)
    assert client.client_id() == PUBLIC_CLIENT_ID
    assert client.authority() == "https://login.microsoftonline.com/organizations"
    usgov = ffi.PublicClient(PUBLIC_CLIENT_ID, ffi.ClientOptions(cloud="usgov", tenant="contoso.us"))
    assert usgov.authority() == "https://login.microsoftonline.us/contoso.us"
