"""Typed use of the public API, checked by `mypy --strict` (test_typing.py); never run."""

from __future__ import annotations

import asyncio
import datetime
import imaplib
import poplib
import smtplib
from typing import Optional

import mailoauth


def interactive(app: mailoauth.PublicClient) -> str:
    scopes: list[str] = mailoauth.mail_scopes(["imap", "smtp"])
    try:
        token = app.acquire_token_silent(scopes)
    except mailoauth.InteractionRequired as e:
        hint: str = e.hint
        codes: list[int] = e.codes
        print(hint, codes)
        flow: mailoauth.DeviceFlow = app.initiate_device_flow(scopes)
        print(flow.message, flow.user_code, flow.verification_uri)
        token = flow.wait(timeout=300.0)
    expires: datetime.datetime = token.expires_at
    account: Optional[mailoauth.Account] = token.account
    print(expires, [a.username for a in app.accounts()])
    return account.username if account else ""


def web(app: mailoauth.PublicClient, redirect: str) -> mailoauth.Token:
    flow = app.initiate_auth_code_flow(["IMAP.AccessAsUser.All"], "http://localhost:8000/cb")
    saved: str = flow.to_json()
    return app.acquire_token_by_auth_code_flow(mailoauth.AuthCodeFlow.from_json(saved), redirect)


def daemon() -> mailoauth.Token:
    app = mailoauth.ConfidentialClient("id", tenant="contoso.example", client_secret="s")
    try:
        return app.acquire_token_for_client([mailoauth.app_only_scope()])
    except mailoauth.Throttled as e:
        wait: Optional[float] = e.retry_after
        raise RuntimeError(wait) from e


def mail(user: str, token: mailoauth.Token) -> None:
    imap: imaplib.IMAP4 = mailoauth.connect_imap(user, token)
    imap.authenticate("XOAUTH2", mailoauth.imaplib_auth(user, token.access_token))
    smtp: smtplib.SMTP = mailoauth.connect_smtp(user, token, security="starttls")
    smtp.auth("XOAUTH2", mailoauth.smtplib_auth(user, token))
    pop: poplib.POP3 = mailoauth.connect_pop(user, token.access_token)
    line: bytes = mailoauth.poplib_login(pop, user, token)
    try:
        mailoauth.connect_imap(user, "expired")
    except mailoauth.MailAuthRejected as e:
        challenge = e.challenge
        status: Optional[str] = challenge["status"] if challenge else None
        print(e.server_line, status, line)
    print(mailoauth.xoauth2(user, token.access_token), mailoauth.oauthbearer(user, "t", "host", 993))


class Vault:
    def __init__(self) -> None:
        self.blob: Optional[bytes] = None

    def load(self) -> Optional[bytes]:
        return self.blob

    def save(self, data: bytes) -> None:
        self.blob = data


async def check(user: str, token: mailoauth.Token) -> list[str]:
    caps: list[str] = mailoauth.check_login("imap", user, token, ca_file="ca.pem")
    return caps + await mailoauth.check_login_async("smtp", user, token.access_token, probe=False)


async def concurrently(app: mailoauth.PublicClient) -> list[mailoauth.Token]:
    scopes = mailoauth.mail_scopes()
    first = app.acquire_token_silent_async(scopes, "alice@contoso.example")
    flow = await app.initiate_device_flow_async(scopes)
    return list(await asyncio.gather(first, flow.wait_async()))


def caches() -> list[mailoauth.PublicClient]:
    return [
        mailoauth.PublicClient("id", cache="tokens.json"),
        mailoauth.PublicClient("id", cache=mailoauth.TokenCache.command("pass show t", "pass insert -m t")),
        mailoauth.PublicClient("id", cache=Vault()),
        mailoauth.PublicClient("id", cache=mailoauth.TokenCache.custom(Vault(), refresh_margin=60)),
    ]
