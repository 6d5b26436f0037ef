"""What the examples share: configuration from the environment and a signed-in user.

    MAILOAUTH_CLIENT_ID   the app registration's client id (required)
    MAILOAUTH_TENANT      tenant GUID or domain (default: organizations)
    MAILOAUTH_AUTHORITY   a full authority URL instead (e.g. the local emulator's)
    MAILOAUTH_CACHE       the token file (default: the mailoauth CLI's, so `mailoauth login` once
                          and the examples reuse that sign-in)
    MAILOAUTH_IMAP        host:port of the IMAP server (implicit TLS; default Exchange Online)
    MAILOAUTH_SMTP        host:port of the SMTP server (STARTTLS; default Exchange Online)
    MAILOAUTH_CA_FILE     an extra CA certificate (PEM) to trust for the mail server
"""

from __future__ import annotations

import os
import pathlib
import ssl
import sys
from typing import Optional

import mailoauth


def env(name: str) -> Optional[str]:
    return os.environ.get(name) or None


def token_file() -> str:
    if env("MAILOAUTH_CACHE"):
        return os.environ["MAILOAUTH_CACHE"]
    state = env("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return str(pathlib.Path(state) / "mailoauth" / "tokens.json")


def client_id() -> str:
    cid = env("MAILOAUTH_CLIENT_ID")
    if not cid:
        sys.exit("set MAILOAUTH_CLIENT_ID to your app registration's application (client) id")
    return cid


def server(name: str) -> tuple[Optional[str], Optional[int]]:
    value = env(name)
    if not value:
        return None, None
    host, _, port = value.rpartition(":")
    return host, int(port)


def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=env("MAILOAUTH_CA_FILE"))


def sign_in(protocols: list[str]) -> mailoauth.Token:
    """A token for the signed-in user: silently from the cache, else by device code."""
    app = mailoauth.PublicClient(
        client_id(),
        authority=env("MAILOAUTH_AUTHORITY"),
        tenant=env("MAILOAUTH_TENANT") or "organizations",
        cache=token_file(),
    )
    scopes = mailoauth.mail_scopes(protocols)
    try:
        return app.acquire_token_silent(scopes)
    except mailoauth.InteractionRequired:
        flow = app.initiate_device_flow(scopes)
        print(flow.message, file=sys.stderr)
        return flow.wait()
