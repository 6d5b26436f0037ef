"""mailoauth: OAuth 2.0 tokens for mail, and the XOAUTH2 login that goes with them.

Get a token from the Microsoft identity platform (all clouds) or Google with
``PublicClient`` (browser, device code, silent refresh from a cache shared with the
``mailoauth`` CLI, the split authorization-code flow for web apps) or ``ConfidentialClient``
(app-only, secret or certificate), then log in with the standard library::

    import os, mailoauth

    tokens = os.path.expanduser("~/.local/state/mailoauth/tokens.json")  # shared with the CLI
    app = mailoauth.PublicClient("<app id>", tenant="organizations", cache=tokens)
    scopes = mailoauth.mail_scopes(["imap"])
    try:
        token = app.acquire_token_silent(scopes)
    except mailoauth.InteractionRequired:
        flow = app.initiate_device_flow(scopes)
        print(flow.message)
        token = flow.wait()
    imap = mailoauth.connect_imap(token.account.username, token)
    imap.select("INBOX", readonly=True)

Every failure is a ``mailoauth.Error`` subclass with ``kind`` and ``hint``; tokens never appear
in messages or ``repr()``. Blocking calls release the GIL and can be interrupted with Ctrl-C;
each has an ``*_async`` twin for asyncio.
"""

from ._native import (
    Account,
    AuthCodeFlow,
    BlockedByPolicy,
    Cancelled,
    ConfidentialClient,
    ConfigurationError,
    ConsentRequired,
    Declined,
    DeviceFlow,
    Error,
    Expired,
    IdentityError,
    InteractionRequired,
    InvalidClient,
    InvalidGrant,
    MailAuthRejected,
    MailConnectionError,
    MailError,
    MailGreetingRefused,
    MailLoginDisabled,
    MailMechanismUnsupported,
    MailNetworkError,
    MailNotConnected,
    MailProtocolError,
    MailStartTlsUnavailable,
    MailTemporaryFailure,
    MailTimeout,
    MailTlsError,
    MailTokenExpired,
    MailUnsupported,
    MfaRequired,
    NetworkError,
    ProtocolError,
    PublicClient,
    Throttled,
    Token,
    TokenCache,
    TokenStoreError,
    __version__,
    app_only_scope,
    check_login,
    check_login_async,
    decode_challenge,
    diagnose,
    mail_scopes,
    oauthbearer,
    xoauth2,
)
from ._mail import (
    ImaplibAuth,
    SaslAuthObject,
    SmtplibAuth,
    connect_imap,
    connect_pop,
    connect_smtp,
    imaplib_auth,
    imaplib_login,
    poplib_login,
    smtplib_auth,
    smtplib_login,
)

__all__ = [
    "Account",
    "AuthCodeFlow",
    "BlockedByPolicy",
    "Cancelled",
    "ConfidentialClient",
    "ConfigurationError",
    "ConsentRequired",
    "Declined",
    "DeviceFlow",
    "Error",
    "Expired",
    "IdentityError",
    "ImaplibAuth",
    "InteractionRequired",
    "InvalidClient",
    "InvalidGrant",
    "MailAuthRejected",
    "MailConnectionError",
    "MailGreetingRefused",
    "MailMechanismUnsupported",
    "MailNetworkError",
    "MailStartTlsUnavailable",
    "MailTimeout",
    "MailTlsError",
    "MailError",
    "MailLoginDisabled",
    "MailNotConnected",
    "MailProtocolError",
    "MailTemporaryFailure",
    "MailTokenExpired",
    "MailUnsupported",
    "MfaRequired",
    "NetworkError",
    "ProtocolError",
    "PublicClient",
    "SaslAuthObject",
    "SmtplibAuth",
    "Throttled",
    "Token",
    "TokenCache",
    "TokenStoreError",
    "__version__",
    "app_only_scope",
    "check_login",
    "check_login_async",
    "connect_imap",
    "connect_pop",
    "connect_smtp",
    "decode_challenge",
    "diagnose",
    "imaplib_auth",
    "imaplib_login",
    "mail_scopes",
    "oauthbearer",
    "poplib_login",
    "smtplib_auth",
    "smtplib_login",
    "xoauth2",
]
