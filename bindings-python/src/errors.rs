//! The exception tree and the one conversion from each core error to it.
//!
//! ```text
//! Error
//! ├── IdentityError                 token acquisition (codes, correlation_id, claims, ...)
//! │   ├── InteractionRequired
//! │   │   ├── ConsentRequired
//! │   │   └── MfaRequired
//! │   ├── InvalidClient, InvalidGrant, Declined, Expired, Throttled (retry_after),
//! │   ├── BlockedByPolicy, NetworkError, ProtocolError, ConfigurationError, Cancelled
//! │   └── TokenStoreError
//! └── MailError                     mail login (protocol, stage, server_line, challenge)
//!     ├── MailAuthRejected
//!     │   ├── MailLoginDisabled
//!     │   └── MailTokenExpired
//!     ├── MailTemporaryFailure, MailNotConnected, MailProtocolError
//!     ├── MailConnectionError
//!     │   └── MailNetworkError, MailTimeout, MailTlsError, MailGreetingRefused
//!     └── MailUnsupported
//!         └── MailStartTlsUnavailable, MailMechanismUnsupported
//! ```
//!
//! Every kind of the core has its own class (one exhaustive match per error type); `group`
//! is the core's grouping by what to do (`sign_in`, `connection`, ...; see
//! `testdata/parity/errors.json`).
//! ```text
//! ```
//!
//! Messages and attributes come from the core errors, which never hold a secret.

use mailoauth::cache::StoreError;
use mailoauth::{
    AnyErrorKind, ErrorChallenge, IdentityError as CoreIdentityError, IdentityErrorKind, MailAuthError, MailErrorKind,
    Protocol, Stage,
};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

pyo3::create_exception!(
    mailoauth,
    Error,
    PyException,
    "Base class of every mailoauth error. `kind` names the failure (snake_case), `hint` says in one line what to change, `message` what happened."
);
pyo3::create_exception!(
    mailoauth,
    IdentityError,
    Error,
    "A token request failed. Carries the server's `error`, `error_description`, AADSTS `codes`, `suberror`, `correlation_id`, `trace_id`, a `claims` challenge, `retry_after` (seconds) and `http_status`; never a secret."
);
pyo3::create_exception!(
    mailoauth,
    InteractionRequired,
    IdentityError,
    "A person must sign in interactively (browser or device code): no usable cached sign-in, `interaction_required`, `login_required`, AADSTS50058."
);
pyo3::create_exception!(
    mailoauth,
    ConsentRequired,
    InteractionRequired,
    "The user or a tenant admin must consent to the app's mail permissions (AADSTS65001)."
);
pyo3::create_exception!(
    mailoauth,
    MfaRequired,
    InteractionRequired,
    "Multi-factor authentication is required (AADSTS50076, 50079): use the browser or device-code flow, not username/password."
);
pyo3::create_exception!(
    mailoauth,
    InvalidClient,
    IdentityError,
    "The app registration or the client's configuration is wrong: client id, tenant, secret, certificate, redirect URI, public/confidential mismatch."
);
pyo3::create_exception!(
    mailoauth,
    InvalidGrant,
    IdentityError,
    "The refresh token, code or password is invalid, expired or revoked: sign in again."
);
pyo3::create_exception!(mailoauth, Declined, IdentityError, "The user declined the sign-in.");
pyo3::create_exception!(
    mailoauth,
    Expired,
    IdentityError,
    "The device code or authorization code expired before it was used."
);
pyo3::create_exception!(
    mailoauth,
    Throttled,
    IdentityError,
    "The identity platform asks to slow down: wait `retry_after` seconds, then retry."
);
pyo3::create_exception!(
    mailoauth,
    BlockedByPolicy,
    IdentityError,
    "A tenant policy (Conditional Access, AADSTS53003) blocks the sign-in: ask the tenant admin."
);
pyo3::create_exception!(
    mailoauth,
    NetworkError,
    IdentityError,
    "The identity platform could not be reached, or answered 5xx after retries."
);
pyo3::create_exception!(
    mailoauth,
    ProtocolError,
    IdentityError,
    "The identity platform's answer was malformed, or a redirect's state did not match."
);
pyo3::create_exception!(
    mailoauth,
    ConfigurationError,
    IdentityError,
    "The input is unusable: bad authority URL, http:// to a non-loopback host, Graph mail scopes, a grant the tenant alias cannot do."
);
pyo3::create_exception!(
    mailoauth,
    Cancelled,
    IdentityError,
    "The sign-in was cancelled or timed out waiting for the user."
);
pyo3::create_exception!(
    mailoauth,
    TokenStoreError,
    IdentityError,
    "The token cache's store failed (unreadable or corrupt file, permissions, store command). Nothing was lost: the message names what to fix."
);
pyo3::create_exception!(
    mailoauth,
    MailError,
    Error,
    "A mail login failed. `protocol` ('imap', 'smtp', 'pop3'), `stage` ('connect', 'tls', 'greeting', 'capabilities', 'starttls', 'auth', 'probe'), `server_line` (the server's last line) and `challenge` (the decoded SASL error challenge as a dict, or None)."
);
pyo3::create_exception!(
    mailoauth,
    MailAuthRejected,
    MailError,
    "The server rejected the token (IMAP NO, SMTP 535, POP3 -ERR): get a new token or fix scope, user or mailbox settings; retrying the same token will not help."
);
pyo3::create_exception!(
    mailoauth,
    MailLoginDisabled,
    MailAuthRejected,
    "The server or tenant has this kind of login switched off (Exchange's 535 5.7.139 SmtpClientAuthentication is disabled)."
);
pyo3::create_exception!(
    mailoauth,
    MailTokenExpired,
    MailAuthRejected,
    "The server ended the session because the access token expired: get a fresh token and reconnect."
);
pyo3::create_exception!(
    mailoauth,
    MailTemporaryFailure,
    MailError,
    "A temporary server failure (IMAP [UNAVAILABLE], SMTP 4xx, POP3 [SYS/TEMP]): retry later."
);
pyo3::create_exception!(
    mailoauth,
    MailNotConnected,
    MailError,
    "Logged in, but the mailbox cannot be used (Exchange's 'User is authenticated but not connected')."
);
pyo3::create_exception!(
    mailoauth,
    MailConnectionError,
    MailError,
    "The connection could not be opened or broke, timed out, failed TLS, or the server refused service in its greeting."
);
pyo3::create_exception!(
    mailoauth,
    MailUnsupported,
    MailError,
    "The server does not offer STARTTLS or the SASL mechanism here; nothing secret was sent."
);
pyo3::create_exception!(mailoauth, MailProtocolError, MailError, "The server's answer broke the protocol.");
pyo3::create_exception!(
    mailoauth,
    MailNetworkError,
    MailConnectionError,
    "The connection could not be opened, or broke, or the server closed it."
);
pyo3::create_exception!(
    mailoauth,
    MailTimeout,
    MailConnectionError,
    "A connect, read or write took longer than its time-out."
);
pyo3::create_exception!(
    mailoauth,
    MailTlsError,
    MailConnectionError,
    "The TLS handshake failed (certificate not trusted, wrong name)."
);
pyo3::create_exception!(
    mailoauth,
    MailGreetingRefused,
    MailConnectionError,
    "The server refused service in its greeting (IMAP BYE, SMTP 554, POP3 -ERR)."
);
pyo3::create_exception!(
    mailoauth,
    MailStartTlsUnavailable,
    MailUnsupported,
    "STARTTLS was asked for but the server does not offer it; nothing secret was sent."
);
pyo3::create_exception!(
    mailoauth,
    MailMechanismUnsupported,
    MailUnsupported,
    "The server does not offer the SASL mechanism; nothing secret was sent."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    macro_rules! add {
        ($($t:ident),*) => { $( m.add(stringify!($t), py.get_type::<$t>())?; )* };
    }
    add!(
        Error,
        IdentityError,
        InteractionRequired,
        ConsentRequired,
        MfaRequired,
        InvalidClient,
        InvalidGrant,
        Declined,
        Expired,
        Throttled,
        BlockedByPolicy,
        NetworkError,
        ProtocolError,
        ConfigurationError,
        Cancelled,
        TokenStoreError,
        MailError,
        MailAuthRejected,
        MailLoginDisabled,
        MailTokenExpired,
        MailTemporaryFailure,
        MailNotConnected,
        MailConnectionError,
        MailUnsupported,
        MailProtocolError,
        MailNetworkError,
        MailTimeout,
        MailTlsError,
        MailGreetingRefused,
        MailStartTlsUnavailable,
        MailMechanismUnsupported
    );
    m.add_function(wrap_pyfunction!(_error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(_error_of_kind, m)?)?;
    Ok(())
}

/// Every error kind of the core as `section.kind` (`identity.invalid_grant`, `mail.rejected`,
/// `store.corrupt`), in core's order (for the tests that walk them all).
#[pyfunction]
fn _error_kinds() -> Vec<String> {
    AnyErrorKind::all().into_iter().map(AnyErrorKind::name).collect()
}

/// The exception a core error of `kind` (`section.kind`) becomes, through the one conversion
/// every call uses (for the tests that walk every kind).
#[pyfunction]
fn _error_of_kind(py: Python<'_>, kind: &str) -> PyResult<Py<PyAny>> {
    let err = match AnyErrorKind::from_name(kind) {
        Some(AnyErrorKind::Identity(k)) => identity_error(py, CoreIdentityError::new(k, "example")),
        Some(AnyErrorKind::Mail(k)) => mail_error(py, MailAuthError::new(Protocol::Imap, Stage::Auth, k, "example")),
        Some(AnyErrorKind::Store(k)) => store_error(py, StoreError::new(k, "example")),
        None => return Err(pyo3::exceptions::PyValueError::new_err(format!("no error kind {kind:?}"))),
    };
    Ok(err.into_value(py).into_any())
}

/// An instance of `ty` with `message` as its argument and `attrs` set, as a `PyErr`.
fn instance(ty: Bound<'_, PyType>, message: String, attrs: &Bound<'_, PyDict>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let exc = ty.call1((message.clone(),))?;
        for (k, v) in attrs.iter() {
            exc.setattr(k.cast::<pyo3::types::PyString>()?, v)?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// A core identity error as the exception class of its kind.
pub(crate) fn identity_error(py: Python<'_>, e: CoreIdentityError) -> PyErr {
    use IdentityErrorKind as K;
    let ty = match e.kind {
        K::InteractionRequired => py.get_type::<InteractionRequired>(),
        K::ConsentRequired => py.get_type::<ConsentRequired>(),
        K::MfaRequired => py.get_type::<MfaRequired>(),
        K::InvalidClient => py.get_type::<InvalidClient>(),
        K::InvalidGrant => py.get_type::<InvalidGrant>(),
        K::Declined => py.get_type::<Declined>(),
        K::Expired => py.get_type::<Expired>(),
        K::Throttled => py.get_type::<Throttled>(),
        K::BlockedByPolicy => py.get_type::<BlockedByPolicy>(),
        K::Network => py.get_type::<NetworkError>(),
        K::Protocol => py.get_type::<ProtocolError>(),
        K::Configuration => py.get_type::<ConfigurationError>(),
        K::Cancelled => py.get_type::<Cancelled>(),
        K::Storage => py.get_type::<TokenStoreError>(),
    };
    let attrs = PyDict::new(py);
    let fill = || -> PyResult<()> {
        attrs.set_item("kind", e.kind.name())?;
        attrs.set_item("group", e.kind.group().name())?;
        attrs.set_item("message", &e.message)?;
        attrs.set_item("hint", e.hint())?;
        attrs.set_item("error", &e.error)?;
        attrs.set_item("error_description", &e.error_description)?;
        attrs.set_item("codes", &e.codes)?;
        attrs.set_item("suberror", &e.suberror)?;
        attrs.set_item("correlation_id", &e.correlation_id)?;
        attrs.set_item("trace_id", &e.trace_id)?;
        attrs.set_item("claims", &e.claims)?;
        attrs.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
        attrs.set_item("http_status", e.http_status)?;
        Ok(())
    };
    if let Err(err) = fill() {
        return err;
    }
    instance(ty, e.to_string(), &attrs)
}

/// A store error, raised as [`TokenStoreError`] (through the core's conversion).
pub(crate) fn store_error(py: Python<'_>, e: StoreError) -> PyErr {
    identity_error(py, CoreIdentityError::from(e))
}

/// A decoded SASL error challenge as a dict.
pub(crate) fn challenge_dict<'py>(py: Python<'py>, c: &ErrorChallenge) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("status", &c.status)?;
    d.set_item("schemes", &c.schemes)?;
    d.set_item("scope", &c.scope)?;
    d.set_item("openid_configuration", &c.openid_configuration)?;
    d.set_item("raw", &c.raw)?;
    Ok(d)
}

/// A [`MailAuthError`] as the exception class of its kind.
pub(crate) fn mail_error(py: Python<'_>, e: MailAuthError) -> PyErr {
    use MailErrorKind as K;
    let ty = match e.kind {
        K::Rejected => py.get_type::<MailAuthRejected>(),
        K::LoginDisabled => py.get_type::<MailLoginDisabled>(),
        K::TokenExpired => py.get_type::<MailTokenExpired>(),
        K::Temporary => py.get_type::<MailTemporaryFailure>(),
        K::NotConnected => py.get_type::<MailNotConnected>(),
        K::Network => py.get_type::<MailNetworkError>(),
        K::Timeout => py.get_type::<MailTimeout>(),
        K::Tls => py.get_type::<MailTlsError>(),
        K::Greeting => py.get_type::<MailGreetingRefused>(),
        K::StartTlsUnavailable => py.get_type::<MailStartTlsUnavailable>(),
        K::MechanismUnsupported => py.get_type::<MailMechanismUnsupported>(),
        K::Protocol => py.get_type::<MailProtocolError>(),
    };
    let attrs = PyDict::new(py);
    let fill = || -> PyResult<()> {
        attrs.set_item("kind", e.kind.name())?;
        attrs.set_item("group", e.kind.group().name())?;
        attrs.set_item("message", &e.message)?;
        attrs.set_item("hint", e.hint())?;
        attrs.set_item("protocol", e.protocol.name())?;
        attrs.set_item("stage", e.stage.name())?;
        attrs.set_item("server_line", &e.server_line)?;
        match &e.challenge {
            Some(c) => attrs.set_item("challenge", challenge_dict(py, c)?)?,
            None => attrs.set_item("challenge", py.None())?,
        }
        Ok(())
    };
    if let Err(err) = fill() {
        return err;
    }
    instance(ty, e.to_string(), &attrs)
}

/// [`identity_error`] for use inside futures (takes the GIL).
pub(crate) fn identity_error_attach(e: CoreIdentityError) -> PyErr {
    Python::attach(|py| identity_error(py, e))
}
