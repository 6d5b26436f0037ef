"""Known-answer vectors shared by every language (testdata/sasl/vectors.json)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import mailoauth
from conftest import TESTDATA

VECTORS: dict[str, Any] = json.loads((TESTDATA / "sasl" / "vectors.json").read_text())


@pytest.mark.parametrize("v", VECTORS["xoauth2"], ids=lambda v: v["source"])
def test_xoauth2_vectors(v: dict[str, Any]) -> None:
    assert mailoauth.xoauth2(v["user"], v["token"]) == v["expected"]


@pytest.mark.parametrize("v", VECTORS["oauthbearer"], ids=lambda v: v["source"])
def test_oauthbearer_vectors(v: dict[str, Any]) -> None:
    assert mailoauth.oauthbearer(v["user"], v["token"], v["host"], v["port"]) == v["expected"]


@pytest.mark.parametrize("v", VECTORS["challenges"], ids=lambda v: v["source"])
def test_challenge_vectors(v: dict[str, Any]) -> None:
    c = mailoauth.decode_challenge(v["base64"])
    for field in ("status", "schemes", "scope", "openid_configuration"):
        assert c[field] == v[field], field
    assert c["raw"].startswith("{")


def test_challenge_replies_match_the_vectors() -> None:
    import base64

    for mechanism, reply in VECTORS["challenge_replies"].items():
        auth = mailoauth.imaplib_auth("u@example.com", "t", mechanism)
        auth(b"")  # the initial response
        assert base64.b64encode(auth(b'{"status":"401"}')).decode() == reply
        assert auth.challenge is not None and auth.challenge["status"] == "401"


def test_authobjects_send_the_vector_response_first() -> None:
    import base64

    v = VECTORS["xoauth2"][0]
    imap_auth = mailoauth.imaplib_auth(v["user"], v["token"])
    assert base64.b64encode(imap_auth(b"")).decode() == v["expected"]
    smtp_auth = mailoauth.smtplib_auth(v["user"], v["token"])
    inline = smtp_auth()
    assert inline is not None and base64.b64encode(inline.encode("ascii")).decode() == v["expected"]
    b = VECTORS["oauthbearer"][0]
    ob = mailoauth.imaplib_auth(b["user"], b["token"], "oauthbearer", host=b["host"], port=b["port"])
    assert base64.b64encode(ob(b"")).decode() == b["expected"]
    assert v["token"] not in repr(imap_auth)


def test_smtplib_auth_waits_for_the_continuation_when_the_line_would_be_too_long() -> None:
    import base64

    long_token = "x" * 2000  # Entra ID tokens are JWTs well over SMTP's 512-octet line
    auth = mailoauth.smtplib_auth("alice@example.com", long_token)
    assert auth() is None  # smtplib then sends a bare "AUTH XOAUTH2"
    response = auth(b"")  # the server's empty 334 continuation
    assert response is not None
    assert base64.b64encode(response.encode()).decode() == mailoauth.xoauth2("alice@example.com", long_token)
    assert auth(b'{"status":"401"}') == ""  # the error challenge gets the empty reply
    assert auth.challenge is not None and auth.challenge["status"] == "401"


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        mailoauth.decode_challenge("not base64!")
    with pytest.raises(ValueError, match="PLAIN"):
        mailoauth.imaplib_auth("u", "t", "PLAIN")


def test_mail_scopes_and_app_only_scope() -> None:
    assert mailoauth.mail_scopes(["imap", "smtp"]) == [
        "offline_access",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
    ]
    assert mailoauth.mail_scopes(["pop3"], refresh=False) == ["https://outlook.office.com/POP.AccessAsUser.All"]
    assert mailoauth.mail_scopes(provider="google") == ["https://mail.google.com/"]
    assert mailoauth.app_only_scope() == "https://outlook.office365.com/.default"
    with pytest.raises(mailoauth.ConfigurationError):
        mailoauth.mail_scopes(cloud="mars")
