"""Every grant against the emulator: device code, interactive loopback, split authorization
code, refresh token, ROPC, client credentials with a secret and with a certificate."""

from __future__ import annotations

import datetime
import threading
import urllib.parse
import urllib.request

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
    TENANT_ID,
    Emulator,
    http_get_no_redirect,
)


def check_user_token(token: mailoauth.Token) -> None:
    assert token.access_token.count(".") == 2  # the emulator issues JWTs
    assert token.account is not None and token.account.username == ALICE
    assert token.account.tid == TENANT_ID
    assert token.account.home_account_id is not None
    assert token.refresh_token
    assert token.expires_at.tzinfo is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now < token.expires_at < now + datetime.timedelta(hours=2)
    assert 3000 < token.expires_in <= 3600
    assert any(s.endswith("IMAP.AccessAsUser.All") for s in token.scopes)
    assert token.access_token not in repr(token)


def test_device_code_flow(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    flow = app.initiate_device_flow(MAIL_SCOPES)
    assert flow.user_code in flow.message and flow.verification_uri in flow.message
    assert flow.verification_uri.startswith(emulator.base)
    assert flow.expires_at > datetime.datetime.now(datetime.timezone.utc)
    assert emulator.pending_user_codes() == [flow.user_code]
    emulator.post("device/approve", {"user_code": flow.user_code, "username": ALICE})
    token = flow.wait(timeout=30)
    check_user_token(token)
    assert [a.username for a in app.accounts()] == [ALICE]


def test_device_code_declined_and_expired(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    flow = app.initiate_device_flow(MAIL_SCOPES)
    emulator.post("device/deny", {"user_code": flow.user_code})
    with pytest.raises(mailoauth.Declined) as declined:
        flow.wait()
    assert declined.value.kind == "declined" and declined.value.error == "authorization_declined"

    flow = app.initiate_device_flow(MAIL_SCOPES)
    emulator.post("clock", {"advance_secs": 3600})
    with pytest.raises(mailoauth.Expired):
        flow.wait()


def test_device_code_wait_timeout_is_cancelled(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    flow = app.initiate_device_flow(MAIL_SCOPES)
    with pytest.raises(mailoauth.Cancelled):
        flow.wait(timeout=0.3)


def test_interactive_loopback(auto_emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=auto_emulator.authority())
    seen: list[str] = []
    visits: list[threading.Thread] = []

    def browser(url: str) -> None:
        # The "browser": follows the emulator's redirect to the loopback listener. It must not
        # block this callback, which runs before the listener starts waiting.
        seen.append(url)
        t = threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read())
        t.start()
        visits.append(t)

    token = app.acquire_token_interactive(MAIL_SCOPES, open_browser=False, on_url=browser, timeout=30)
    check_user_token(token)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].startswith("http://localhost:")
    for t in visits:
        t.join()


def test_split_authorization_code_flow(auto_emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=auto_emulator.authority())
    flow = app.initiate_auth_code_flow(MAIL_SCOPES, "http://localhost:5000", login_hint=ALICE)
    assert flow.url == flow.auth_uri and flow.redirect_uri == "http://localhost:5000"
    # A web app keeps the flow in its session between the two requests.
    stored = flow.to_json()
    status, location = http_get_no_redirect(flow.url)
    assert status == 302 and location.startswith("http://localhost:5000/?")
    token = app.acquire_token_by_auth_code_flow(mailoauth.AuthCodeFlow.from_json(stored), location)
    check_user_token(token)

    # The parameters as a dict (what a web framework hands over) work too.
    flow = app.initiate_auth_code_flow(MAIL_SCOPES, "http://localhost:5000")
    _, location = http_get_no_redirect(flow.url)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    check_user_token(app.acquire_token_by_auth_code_flow(flow, params))


def test_split_flow_rejects_a_foreign_state_and_reports_errors(auto_emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=auto_emulator.authority())
    flow = app.initiate_auth_code_flow(MAIL_SCOPES, "http://localhost:5000")
    with pytest.raises(mailoauth.ProtocolError, match="state"):
        app.acquire_token_by_auth_code_flow(flow, {"code": "x", "state": "forged"})
    with pytest.raises(mailoauth.Declined) as e:
        app.acquire_token_by_auth_code_flow(
            flow, {"error": "access_denied", "error_description": "AADSTS65004: declined", "state": flow.state}
        )
    assert e.value.codes == [65004]
    assert auto_emulator.grants("authorization_code") == 0  # nothing was redeemed


def test_refresh_token_grant(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    first = app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
    assert first.refresh_token is not None
    again = app.acquire_token_by_refresh_token(first.refresh_token, MAIL_SCOPES)
    check_user_token(again)
    assert again.access_token != first.access_token
    assert emulator.grants("refresh_token") == 1


def test_username_password(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority(TENANT_DOMAIN))
    check_user_token(app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES))


def test_client_credentials_with_secret(emulator: Emulator) -> None:
    app = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT, authority=emulator.authority(TENANT_DOMAIN), client_secret=CLIENT_SECRET
    )
    token = app.acquire_token_for_client([mailoauth.app_only_scope()])
    assert token.account is None and token.refresh_token is None
    assert token.access_token.count(".") == 2
    assert emulator.counters()["issued"]["client_credentials"] == 1


@pytest.mark.parametrize("algorithm", ["PS256", "RS256"])
def test_client_credentials_with_certificate(
    emulator: Emulator, client_cert: tuple[str, str], algorithm: str
) -> None:
    cert, key = client_cert
    app = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT,
        tenant=TENANT_DOMAIN,
        authority=emulator.authority(TENANT_DOMAIN),
        certificate=cert,
        private_key=key,
        certificate_algorithm=algorithm,
    )
    assert app.acquire_token_for_client([mailoauth.app_only_scope()]).account is None
    # One PEM text holding both works as well.
    both = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT, authority=emulator.authority(TENANT_DOMAIN), certificate=cert + key
    )
    assert both.acquire_token_for_client([mailoauth.app_only_scope()]).access_token
    # Exactly one credential (the core's rule, in every language): both, or neither, is refused.
    with pytest.raises(mailoauth.ConfigurationError, match="not both"):
        mailoauth.ConfidentialClient(CONFIDENTIAL_CLIENT, client_secret=CLIENT_SECRET, certificate=cert + key)
    with pytest.raises(mailoauth.ConfigurationError):
        mailoauth.ConfidentialClient(CONFIDENTIAL_CLIENT)


def test_https_authority_with_extra_ca(tmp_path: pytest.TempPathFactory) -> None:
    emu = Emulator(https=True, tmp=tmp_path)  # type: ignore[arg-type]
    try:
        assert emu.base.startswith("https://")
        with pytest.raises(mailoauth.NetworkError):
            mailoauth.PublicClient(PUBLIC_CLIENT, authority=emu.authority()).acquire_token_by_username_password(
                ALICE, ALICE_PASSWORD, MAIL_SCOPES
            )
        app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emu.authority(), ca_file=emu.ca_file)
        check_user_token(app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES))
    finally:
        emu.stop()
