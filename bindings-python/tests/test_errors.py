"""Each identity error kind is raised as its own exception class, with the server's details and
no secret in the message."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

import mailoauth
from conftest import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    CLIENT_SECRET,
    CONFIDENTIAL_CLIENT,
    MAIL_SCOPES,
    PUBLIC_CLIENT,
    TENANT_DOMAIN,
    TESTDATA,
    Emulator,
)


def ropc(emulator: Emulator, user: str = ALICE, password: str = ALICE_PASSWORD, **kw: Any) -> mailoauth.Token:
    app = mailoauth.PublicClient(kw.pop("client_id", PUBLIC_CLIENT), authority=emulator.authority(), **kw)
    return app.acquire_token_by_username_password(user, password, MAIL_SCOPES)


def assert_no_secrets(e: BaseException, *secrets: str) -> None:
    for text in (str(e), repr(e), *(str(v) for v in vars(e).values())):
        for s in secrets:
            assert s not in text


def test_exception_tree() -> None:
    assert issubclass(mailoauth.IdentityError, mailoauth.Error)
    assert issubclass(mailoauth.MailError, mailoauth.Error)
    assert issubclass(mailoauth.Error, Exception)
    for c in (mailoauth.ConsentRequired, mailoauth.MfaRequired):
        assert issubclass(c, mailoauth.InteractionRequired)
    for c in (
        mailoauth.InteractionRequired,
        mailoauth.InvalidClient,
        mailoauth.InvalidGrant,
        mailoauth.Declined,
        mailoauth.Expired,
        mailoauth.Throttled,
        mailoauth.BlockedByPolicy,
        mailoauth.NetworkError,
        mailoauth.ProtocolError,
        mailoauth.ConfigurationError,
        mailoauth.Cancelled,
        mailoauth.TokenStoreError,
    ):
        assert issubclass(c, mailoauth.IdentityError), c
        assert c.__module__ == "mailoauth" and c.__doc__
    for c in (mailoauth.MailLoginDisabled, mailoauth.MailTokenExpired):
        assert issubclass(c, mailoauth.MailAuthRejected)
    for c in (
        mailoauth.MailAuthRejected,
        mailoauth.MailTemporaryFailure,
        mailoauth.MailNotConnected,
        mailoauth.MailConnectionError,
        mailoauth.MailUnsupported,
        mailoauth.MailProtocolError,
    ):
        assert issubclass(c, mailoauth.MailError), c
    for c in (mailoauth.MailNetworkError, mailoauth.MailTimeout, mailoauth.MailTlsError, mailoauth.MailGreetingRefused):
        assert issubclass(c, mailoauth.MailConnectionError), c
    for c in (mailoauth.MailStartTlsUnavailable, mailoauth.MailMechanismUnsupported):
        assert issubclass(c, mailoauth.MailUnsupported), c


def test_every_core_kind_has_its_class_and_group() -> None:
    """Walks core's full list of kinds against the parity table every language reads: a kind
    added to core without a row, or raised as a class other than its own, fails here."""
    table = json.loads((TESTDATA / "parity" / "errors.json").read_text())
    rows = {f"{section}.{row['kind']}": row for section in ("identity", "mail", "store") for row in table[section]}
    kinds = mailoauth._native._error_kinds()
    assert kinds == list(rows), "core's kinds and testdata/parity/errors.json differ"
    groups = {row["group"] for row in table["groups"]}
    for name in kinds:
        row = rows[name]
        section = name.split(".")[0]
        err = mailoauth._native._error_of_kind(name)
        assert type(err) is getattr(mailoauth, row["python"]), name
        assert isinstance(err, mailoauth.MailError if section == "mail" else mailoauth.IdentityError)
        assert err.kind == ("storage" if section == "store" else row["kind"]), name
        assert err.group == row["group"] and err.group in groups, name
        assert err.hint
    with pytest.raises(ValueError):
        mailoauth._native._error_of_kind("mail.no_such_kind")


def test_mfa_required(emulator: Emulator) -> None:
    with pytest.raises(mailoauth.MfaRequired) as e:
        ropc(emulator, BOB, BOB_PASSWORD)
    err = e.value
    assert err.kind == "mfa_required" and err.codes == [50076] and err.error == "invalid_grant"
    assert err.suberror == "basic_action"
    assert "MFA" in err.hint and "device" in err.hint
    assert err.correlation_id and err.trace_id and err.http_status == 400
    assert err.error_description and err.error_description.startswith("AADSTS50076")
    assert "AADSTS50076" in str(err)
    assert_no_secrets(err, BOB_PASSWORD)


def test_wrong_password_is_invalid_grant(emulator: Emulator) -> None:
    with pytest.raises(mailoauth.InvalidGrant) as e:
        ropc(emulator, ALICE, "wrong-password")
    assert e.value.codes == [50126] and e.value.kind == "invalid_grant"
    assert_no_secrets(e.value, "wrong-password")


def test_consent_required(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="aadsts", code=65001)
    with pytest.raises(mailoauth.ConsentRequired) as e:
        ropc(emulator)
    assert e.value.codes == [65001] and e.value.suberror == "consent_required"
    assert "consent" in e.value.hint


def test_interaction_required_with_claims(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="aadsts", code=50079)
    with pytest.raises(mailoauth.InteractionRequired) as e:
        ropc(emulator)
    assert e.value.codes == [50079]
    assert isinstance(e.value, mailoauth.MfaRequired)


def test_blocked_by_policy(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="aadsts", code=53003)
    with pytest.raises(mailoauth.BlockedByPolicy) as e:
        ropc(emulator)
    assert e.value.codes == [53003] and "Conditional Access" in e.value.hint


def test_invalid_client(emulator: Emulator) -> None:
    with pytest.raises(mailoauth.InvalidClient) as e:
        ropc(emulator, client_id="11111111-2222-3333-4444-555555555555")
    assert e.value.codes == [700016] and e.value.error == "unauthorized_client"
    assert "client id" in e.value.hint

    app = mailoauth.ConfidentialClient(
        CONFIDENTIAL_CLIENT, authority=emulator.authority(TENANT_DOMAIN), client_secret="not-the-secret"
    )
    with pytest.raises(mailoauth.InvalidClient) as e:
        app.acquire_token_for_client([mailoauth.app_only_scope()])
    assert e.value.codes == [7000215] and e.value.http_status == 401
    assert_no_secrets(e.value, "not-the-secret", CLIENT_SECRET)


def test_throttled_with_retry_after(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="status", status=429, retry_after=120)
    with pytest.raises(mailoauth.Throttled) as e:
        ropc(emulator)
    assert e.value.retry_after == 120.0 and e.value.http_status == 429
    assert e.value.kind == "throttled"


def test_server_errors_after_retries_are_network_errors(emulator: Emulator) -> None:
    emulator.fault(endpoint="token", kind="status", status=503, times=3)
    with pytest.raises(mailoauth.NetworkError) as e:
        ropc(emulator)
    assert e.value.http_status == 503
    assert emulator.grants("password") == 3  # two retries


def test_unreachable_authority_is_a_network_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=f"http://127.0.0.1:{port}/organizations", timeout=5)
    started = time.monotonic()
    with pytest.raises(mailoauth.NetworkError):
        app.acquire_token_by_username_password(ALICE, ALICE_PASSWORD, MAIL_SCOPES)
    assert time.monotonic() - started < 20


def test_configuration_errors() -> None:
    with pytest.raises(mailoauth.ConfigurationError, match="loopback"):
        mailoauth.PublicClient(PUBLIC_CLIENT, authority="http://login.example.com/organizations")
    with pytest.raises(mailoauth.ConfigurationError):
        mailoauth.PublicClient(PUBLIC_CLIENT, cloud="mars")
    app = mailoauth.PublicClient(PUBLIC_CLIENT)
    with pytest.raises(mailoauth.ConfigurationError, match="[Gg]raph"):
        app.initiate_auth_code_flow(["https://graph.microsoft.com/IMAP.AccessAsUser.All"], "http://localhost")
    with pytest.raises(mailoauth.ConfigurationError):
        mailoauth.ConfidentialClient(CONFIDENTIAL_CLIENT)  # neither secret nor certificate
    with pytest.raises(mailoauth.ConfigurationError):
        mailoauth.ConfidentialClient(CONFIDENTIAL_CLIENT, certificate="not a PEM")
    common = mailoauth.ConfidentialClient(CONFIDENTIAL_CLIENT, tenant="common", client_secret="x")
    with pytest.raises(mailoauth.ConfigurationError):
        common.acquire_token_for_client([mailoauth.app_only_scope()])


def test_invalid_grant_for_a_bad_refresh_token(emulator: Emulator) -> None:
    app = mailoauth.PublicClient(PUBLIC_CLIENT, authority=emulator.authority())
    with pytest.raises(mailoauth.InvalidGrant) as e:
        app.acquire_token_by_refresh_token("not-a-refresh-token", MAIL_SCOPES)
    assert e.value.codes and e.value.error == "invalid_grant"
    assert_no_secrets(e.value, "not-a-refresh-token")


def test_errors_are_catchable_by_base_class(emulator: Emulator) -> None:
    with pytest.raises(mailoauth.Error) as e:
        ropc(emulator, BOB, BOB_PASSWORD)
    assert isinstance(e.value, mailoauth.IdentityError)
    assert e.value.message and e.value.hint


def test_server_defaults_parity_table() -> None:
    """The mail server every connect_* helper dials, from the core's rules, for every case of
    the table every language reads (testdata/parity/servers.json)."""
    cases = json.loads((TESTDATA / "parity" / "servers.json").read_text())["cases"]
    assert len(cases) >= 20
    for case in cases:
        args = dict(case["input"])
        protocol = args.pop("protocol")
        want = case["expect"]
        if want is None:
            with pytest.raises(mailoauth.ConfigurationError):
                mailoauth._native._mail_server(protocol, **args)
        else:
            got = mailoauth._native._mail_server(protocol, **args)
            assert got == (want["host"], want["port"], want["security"]), case


def test_diagnoses_parity_table() -> None:
    """Why a login failed and what fixes it, in the core's words, for every case of the table
    every language reads (testdata/parity/diagnoses.json)."""
    table = json.loads((TESTDATA / "parity" / "diagnoses.json").read_text())
    assert len(table["cases"]) >= 8
    for c in table["cases"]:
        got = mailoauth._native._diagnose_at(c["kind"], c["protocol"], c["token"], c["host"], c["user"], table["now"])
        assert got == (c["cause"], c["fix"]), c["name"]


def test_diagnose_explains_a_raised_error() -> None:
    table = json.loads((TESTDATA / "parity" / "diagnoses.json").read_text())
    graph = next(c for c in table["cases"] if c["name"] == "Graph audience")
    err = mailoauth._native._error_of_kind("mail.rejected")
    assert isinstance(err, mailoauth.MailError)
    cause, fix = mailoauth.diagnose(err, graph["token"], graph["user"], host=graph["host"])
    assert (cause, fix) == (graph["cause"], graph["fix"])
    with pytest.raises(ValueError):
        mailoauth.diagnose(mailoauth._native._error_of_kind("identity.invalid_grant"), "t", "u")  # type: ignore[arg-type]
