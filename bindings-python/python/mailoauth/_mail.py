"""XOAUTH2 / OAUTHBEARER logins for the standard library's imaplib, smtplib and poplib.

The SASL strings and the classification of failures come from the Rust core, so a refused
login raises the same exception kinds as everywhere else in mailoauth (``MailAuthRejected``,
``MailTemporaryFailure``, ``MailLoginDisabled``, ...) with the server's line and the decoded
error challenge. The helpers answer the server's error challenge the way the protocol requires
(an empty line for XOAUTH2, ``AQ==`` for OAUTHBEARER) instead of sending the token again or
hanging, and set TCP_NODELAY (imaplib otherwise stalls about 40 ms per login).

The standard-library modules are imported on first use, so ``import mailoauth`` stays fast.
"""

from __future__ import annotations

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    import imaplib
    import poplib
    import smtplib
    import socket
    import ssl
    from typing import Union, overload

    from ._native import Token

    AccessToken = Union[str, Token]


def _token_text(access_token: AccessToken) -> str:
    if isinstance(access_token, str):
        return access_token
    return access_token.access_token


def _nodelay(sock: socket.socket | None) -> None:
    import socket

    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (e.g. a Unix socket in a test)
            pass


class _Utf8Str(str):
    """A str that smtplib's ``.encode('ascii')`` turns into UTF-8 (for non-ASCII user names)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "utf-8", errors)


class SaslAuthObject:
    """The state of one SASL XOAUTH2 / OAUTHBEARER exchange run by a standard-library client.

    The exchange itself is the Rust core's (``_SaslExchange``): the first continuation gets the
    client response, the server's error challenge is recorded (``challenge``) and answered with
    the mechanism's dummy reply, a second one is refused, and the final refusal is classified.
    imaplib and smtplib hand the authobject decoded bytes and base64-encode what it returns;
    this class only converts between them. ``repr()`` never shows the token.
    """

    def __init__(
        self,
        user: str,
        access_token: AccessToken,
        mechanism: str = "XOAUTH2",
        *,
        host: str | None = None,
        port: int | None = None,
        protocol: str = "imap",
    ) -> None:
        self.mechanism: str = mechanism.upper()
        self.user: str = user
        self._exchange = _native._SaslExchange(protocol, self.mechanism, user, _token_text(access_token), host, port)

    @property
    def challenge(self) -> dict[str, str | None] | None:
        """The server's decoded error challenge, or None if it sent none."""
        return self._exchange.challenge

    def _step(self, data: bytes | None) -> bytes:
        import base64

        reply = self._exchange.answer(base64.b64encode(data or b"").decode("ascii"))
        return base64.b64decode(reply)

    def failure(self, final_line: str) -> _native.MailError:
        """The exception for the server's final line (classified by the Rust core)."""
        return self._exchange.failure(final_line)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user={self.user!r}, mechanism={self.mechanism!r})"


class ImaplibAuth(SaslAuthObject):
    """An imaplib authobject: ``imap.authenticate(auth.mechanism, auth)``."""

    def __call__(self, data: bytes) -> bytes:
        return self._step(data)


class SmtplibAuth(SaslAuthObject):
    """An smtplib authobject: ``smtp.auth(auth.mechanism, auth)``.

    The response goes inline (``AUTH XOAUTH2 <response>``, one round trip) when the core says it
    fits SMTP's 512-octet command line; a longer one (a typical Entra ID token) waits for the
    server's ``334`` continuation, as servers that enforce the limit (Dovecot) require.
    """

    def __init__(
        self,
        user: str,
        access_token: AccessToken,
        mechanism: str = "XOAUTH2",
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(user, access_token, mechanism, host=host, port=port, protocol="smtp")
        self._first = True

    def _respond(self, challenge: bytes | None = None) -> str | None:
        import base64

        if challenge is None and self._first:
            self._first = False
            if not self._exchange.inline(True):
                return None  # smtplib sends a bare AUTH and calls again with the continuation
            return _Utf8Str(base64.b64decode(self._exchange.initial_response()).decode("utf-8"))
        self._first = False
        return _Utf8Str(self._step(challenge).decode("utf-8"))

    if TYPE_CHECKING:  # smtplib's authobject protocol, as typeshed spells it

        @overload
        def __call__(self, challenge: None = None, /) -> str | None: ...

        @overload
        def __call__(self, challenge: bytes, /) -> str: ...

        def __call__(self, challenge: bytes | None = None, /) -> str | None:
            return self._respond(challenge)

    else:
        __call__ = _respond


def imaplib_auth(
    user: str,
    access_token: AccessToken,
    mechanism: str = "XOAUTH2",
    *,
    host: str | None = None,
    port: int | None = None,
) -> ImaplibAuth:
    """The authobject for ``imap.authenticate("XOAUTH2", mailoauth.imaplib_auth(user, token))``.

    It answers the server's error challenge with ``b""`` (XOAUTH2) or ``b"\\x01"``
    (OAUTHBEARER), so imaplib gets the final ``NO`` instead of hanging, and keeps the decoded
    challenge in ``.challenge``. ``host`` and ``port`` go into OAUTHBEARER's response.
    """
    return ImaplibAuth(user, access_token, mechanism, host=host, port=port)


def smtplib_auth(
    user: str,
    access_token: AccessToken,
    mechanism: str = "XOAUTH2",
    *,
    host: str | None = None,
    port: int | None = None,
) -> SmtplibAuth:
    """The authobject for ``smtp.auth("XOAUTH2", mailoauth.smtplib_auth(user, token))``.

    smtplib sends it as the initial response (one round trip); the server's error challenge is
    answered with an empty line (XOAUTH2) or ``AQ==`` (OAUTHBEARER) and kept in ``.challenge``.
    """
    return SmtplibAuth(user, access_token, mechanism, host=host, port=port)


def imaplib_login(
    imap: imaplib.IMAP4,
    user: str,
    access_token: AccessToken,
    mechanism: str = "XOAUTH2",
    *,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Logs an ``imaplib.IMAP4`` / ``IMAP4_SSL`` in with XOAUTH2 or OAUTHBEARER.

    Raises ``MailAuthRejected`` (or ``MailTemporaryFailure``, ...) with ``server_line`` and the
    decoded ``challenge`` when the server refuses.
    """
    import imaplib

    _nodelay(getattr(imap, "sock", None))
    auth = imaplib_auth(user, access_token, mechanism, host=host, port=port)
    # Nothing secret is sent unless the server offers the mechanism (the core decides).
    auth._exchange.require_offered(list(imap.capabilities))
    try:
        imap.authenticate(auth.mechanism, auth)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        text = str(exc)
        # imaplib raises NO answers with the text after the status, BAD ones with this prefix.
        bad = "AUTHENTICATE command error: BAD "
        line = "BAD " + text[len(bad) :] if text.startswith(bad) else "NO " + text
        raise auth.failure(line) from exc


def smtplib_login(
    smtp: smtplib.SMTP,
    user: str,
    access_token: AccessToken,
    mechanism: str = "XOAUTH2",
    *,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Logs an ``smtplib.SMTP`` / ``SMTP_SSL`` in (after EHLO and STARTTLS) with XOAUTH2 or
    OAUTHBEARER. Raises ``MailAuthRejected`` / ``MailLoginDisabled`` (Exchange's 5.7.139) /
    ``MailTemporaryFailure`` ... when the server refuses."""
    import smtplib

    _nodelay(getattr(smtp, "sock", None))
    smtp.ehlo_or_helo_if_needed()
    auth = smtplib_auth(user, access_token, mechanism, host=host, port=port)
    # Nothing secret is sent unless the server offers the mechanism (the core decides).
    offered = smtp.esmtp_features.get("auth")
    auth._exchange.require_offered([f"AUTH {offered}"] if offered is not None else [])
    try:
        smtp.auth(auth.mechanism, auth)
    except smtplib.SMTPAuthenticationError as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        last = (text.splitlines() or [""])[-1]
        raise auth.failure(f"{exc.smtp_code} {last}") from exc


def poplib_login(
    pop: poplib.POP3,
    user: str,
    access_token: AccessToken,
    mechanism: str = "XOAUTH2",
    *,
    host: str | None = None,
    port: int | None = None,
) -> bytes:
    """Logs a ``poplib.POP3`` / ``POP3_SSL`` in with ``AUTH XOAUTH2`` (or OAUTHBEARER), which
    poplib has no method for. Checks the server's ``CAPA`` first (nothing secret is sent if it
    does not offer the mechanism). Returns the server's ``+OK`` line; raises
    ``MailAuthRejected`` (or ``MailTemporaryFailure``, ...) with ``server_line`` and
    ``challenge`` when it refuses. The exchange is the Rust core's; poplib only carries the lines
    (through its ``_putcmd`` / ``_getline``: poplib has no public call for SASL)."""
    import poplib

    _nodelay(getattr(pop, "sock", None))
    exchange = _native._SaslExchange("pop3", mechanism.upper(), user, _token_text(access_token), host, port)
    try:
        capabilities = [" ".join([name, *args]) for name, args in pop.capa().items()]
    except poplib.error_proto:  # no CAPA: the mechanism cannot be confirmed, AUTH decides
        capabilities = None
    if capabilities is not None:
        exchange.require_offered(capabilities)
    pop._putcmd(exchange.start("AUTH", exchange.inline(True)))  # type: ignore[attr-defined]
    while True:
        line: bytes = pop._getline()[0]  # type: ignore[attr-defined]
        step, text = exchange.feed_line(line.decode("utf-8", "replace"))
        if step == "done":
            return line
        if step == "send" and text is not None:
            pop._putcmd(text)  # type: ignore[attr-defined]


def _server(
    protocol: str,
    host: str | None,
    port: int | None,
    security: str | None,
    provider: str | None,
    cloud: str | None,
    ssl_context: ssl.SSLContext | None,
) -> tuple[str, int, str, ssl.SSLContext | None]:
    host, port, security = _native._mail_server(
        protocol, provider=provider, cloud=cloud, host=host, port=port, security=security
    )
    if security != "plain" and ssl_context is None:
        import ssl

        ssl_context = ssl.create_default_context()
    return host, port, security, ssl_context


def connect_imap(
    user: str,
    access_token: AccessToken,
    *,
    host: str | None = None,
    port: int | None = None,
    security: str | None = None,
    mechanism: str = "XOAUTH2",
    provider: str | None = None,
    cloud: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float | None = 30.0,
) -> imaplib.IMAP4:
    """An authenticated ``imaplib.IMAP4_SSL`` (or ``IMAP4`` with STARTTLS / plain).

    Defaults to the provider's server (Exchange Online ``outlook.office365.com:993`` for
    ``provider="microsoft"``, the cloud's host for other ``cloud`` values, Gmail for
    ``provider="google"``); ``host`` / ``port`` / ``security`` (``"tls"``, ``"starttls"``,
    ``"plain"``) override it. ``access_token`` is a string or a ``Token``.
    """
    import imaplib

    host, port, security, ctx = _server("imap", host, port, security, provider, cloud, ssl_context)
    imap: imaplib.IMAP4
    if security == "tls":
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=timeout)
    else:
        imap = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        _nodelay(imap.sock)
        if security == "starttls":
            imap.starttls(ssl_context=ctx)
        imaplib_login(imap, user, access_token, mechanism, host=host, port=port)
    except BaseException:
        imap.shutdown()
        raise
    return imap


def connect_smtp(
    user: str,
    access_token: AccessToken,
    *,
    host: str | None = None,
    port: int | None = None,
    security: str | None = None,
    mechanism: str = "XOAUTH2",
    provider: str | None = None,
    cloud: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
    local_hostname: str | None = None,
) -> smtplib.SMTP:
    """An authenticated ``smtplib.SMTP`` (STARTTLS, the default: ``smtp.office365.com:587``)
    or ``SMTP_SSL`` (``security="tls"``), ready for ``send_message``."""
    import smtplib

    host, port, security, ctx = _server("smtp", host, port, security, provider, cloud, ssl_context)
    smtp: smtplib.SMTP
    if security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, local_hostname=local_hostname, timeout=timeout, context=ctx)
    else:
        smtp = smtplib.SMTP(host, port, local_hostname=local_hostname, timeout=timeout)
    try:
        _nodelay(smtp.sock)
        smtp.ehlo()
        if security == "starttls":
            smtp.starttls(context=ctx)
            smtp.ehlo()
        smtplib_login(smtp, user, access_token, mechanism, host=host, port=port)
    except BaseException:
        smtp.close()
        raise
    return smtp


def connect_pop(
    user: str,
    access_token: AccessToken,
    *,
    host: str | None = None,
    port: int | None = None,
    security: str | None = None,
    mechanism: str = "XOAUTH2",
    provider: str | None = None,
    cloud: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
) -> poplib.POP3:
    """An authenticated ``poplib.POP3_SSL`` (``outlook.office365.com:995`` by default) or
    ``POP3`` with STLS / plain."""
    import poplib

    host, port, security, ctx = _server("pop3", host, port, security, provider, cloud, ssl_context)
    pop: poplib.POP3
    if security == "tls":
        pop = poplib.POP3_SSL(host, port, timeout=timeout, context=ctx)
    else:
        pop = poplib.POP3(host, port, timeout=timeout)
    try:
        _nodelay(pop.sock)
        if security == "starttls":
            pop.stls(context=ctx)
        poplib_login(pop, user, access_token, mechanism, host=host, port=port)
    except BaseException:
        pop.close()
        raise
    return pop
