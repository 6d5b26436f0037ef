"""Pure functions and value types across the boundary: SASL strings (checked against the
shared vectors every language's tests read), scopes, challenge decoding, secrets kept out of
descriptions."""

import base64
import json

import pytest

from conftest import IMAP_SCOPE, REPO, USER, run, sign_in_with_device_code


def test_sasl_strings_match_the_shared_vectors(ffi):
    vectors = json.loads((REPO / "testdata" / "sasl" / "vectors.json").read_text())
    checked = 0
    for v in vectors["xoauth2"]:
        assert ffi.xoauth2(v["user"], v["token"]) == v["expected"], v["source"]
        checked += 1
    for v in vectors["oauthbearer"]:
        assert ffi.oauthbearer(v["user"], v["token"], v.get("host"), v.get("port")) == v["expected"], v["source"]
        checked += 1
    for v in vectors["challenges"]:
        c = ffi.decode_challenge(v["base64"])
        assert (c.status, c.schemes, c.scope, c.openid_configuration) == (
            v["status"],
            v["schemes"],
            v["scope"],
            v["openid_configuration"],
        ), v["source"]
        checked += 1
    assert checked == 12


def test_xoauth2_layout(ffi):
    raw = base64.b64decode(ffi.xoauth2(USER, "tok"))
    assert raw == f"user={USER}\x01auth=Bearer tok\x01\x01".encode()


def test_mail_scopes(ffi):
    assert ffi.mail_scopes([ffi.MailProtocol.IMAP], refresh=False) == [IMAP_SCOPE]
    scopes = ffi.mail_scopes([ffi.MailProtocol.IMAP, ffi.MailProtocol.SMTP, ffi.MailProtocol.POP3])
    assert "offline_access" in scopes and "https://outlook.office.com/SMTP.Send" in scopes
    assert ffi.mail_scopes([ffi.MailProtocol.IMAP], provider="google") == ["https://mail.google.com/"]
    assert ffi.mail_scopes([ffi.MailProtocol.IMAP], cloud="china", refresh=False)[0].startswith(
        "https://partner.outlook.cn/"
    )
    assert ffi.app_only_scope() == "https://outlook.office365.com/.default"
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        ffi.mail_scopes([ffi.MailProtocol.IMAP], provider="yahoo")


def test_decode_challenge(ffi):
    text = '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    c = ffi.decode_challenge(base64.b64encode(text.encode()).decode())
    assert (c.status, c.schemes, c.scope, c.raw) == ("401", "bearer", "https://mail.google.com/", text)
    with pytest.raises(ffi.MailOAuthError.ConfigurationError):
        ffi.decode_challenge("%%% not base64")


def test_token_description_hides_secrets(ffi, emulator, public):
    token = run(sign_in_with_device_code(emulator, public))
    text = repr(token) + str(token)
    assert token.access_token() not in text
    assert token.refresh_token() not in text
    assert token.id_token() and token.id_token() not in text
    assert USER in text and "expires_at" in text


def test_version(ffi):
    assert ffi.mailoauth_version().count(".") == 2
