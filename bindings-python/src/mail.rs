//! SASL strings, scopes, mail-server defaults and the classification of failed logins, as
//! module functions. The imaplib / smtplib / poplib helpers (Python, `mailoauth/_mail.py`) are
//! built on the underscore ones and on `_SaslExchange`, the core's SASL exchange.

use std::path::PathBuf;
use std::time::Duration;

use mailoauth::identity::scopes;
use mailoauth::net::{login, LoginOptions, MailServer, Timeouts, TlsOptions};
use mailoauth::proto::{SaslExchange, SaslStep};
use mailoauth::{AccessToken, Authority, ErrorChallenge, Mechanism, Protocol};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_async_runtimes::tokio::future_into_py;

use crate::errors::{challenge_dict, identity_error, mail_error};
use crate::types::PyToken;

fn protocol(name: &str) -> PyResult<Protocol> {
    Protocol::parse(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown protocol {name:?} (expected 'imap', 'smtp' or 'pop3')")))
}

fn mechanism(name: &str) -> PyResult<Mechanism> {
    name.parse::<Mechanism>().map_err(|e| PyValueError::new_err(e.to_string()))
}

fn authority(py: Python<'_>, provider: Option<&str>, cloud: Option<&str>) -> PyResult<Authority> {
    Authority::from_options(provider, None, None, cloud).map_err(|e| identity_error(py, e))
}

/// The base64 SASL XOAUTH2 client response for `user` and `access_token`
/// (`user=<user>^Aauth=Bearer <token>^A^A`), as IMAP `AUTHENTICATE XOAUTH2`, SMTP
/// `AUTH XOAUTH2` and POP3 `AUTH XOAUTH2` expect it.
#[pyfunction]
fn xoauth2(user: &str, access_token: &str) -> String {
    mailoauth::sasl::xoauth2(user, access_token)
}

/// The base64 SASL OAUTHBEARER client response (RFC 7628); `host` and `port` are optional.
#[pyfunction]
#[pyo3(signature = (user, access_token, host=None, port=None))]
fn oauthbearer(user: &str, access_token: &str, host: Option<&str>, port: Option<u16>) -> String {
    mailoauth::sasl::oauthbearer(user, access_token, host, port)
}

/// Decodes a server's base64 SASL error challenge into a dict with `status`, `schemes`,
/// `scope`, `openid_configuration` and `raw` (the JSON text). Raises `ValueError` when it is
/// not base64 JSON.
#[pyfunction]
fn decode_challenge<'py>(py: Python<'py>, challenge: &str) -> PyResult<Bound<'py, PyDict>> {
    let c = ErrorChallenge::decode(challenge).map_err(|e| PyValueError::new_err(e.to_string()))?;
    challenge_dict(py, &c)
}

/// The delegated mail scopes for `protocols` ('imap', 'pop3', 'smtp') with the provider's full
/// resource URL (`https://outlook.office.com/IMAP.AccessAsUser.All`), plus `offline_access`
/// when `refresh` is true. Google: `https://mail.google.com/`.
#[pyfunction]
#[pyo3(signature = (protocols=vec!["imap".to_owned(), "pop3".to_owned(), "smtp".to_owned()], *, provider=None, cloud=None, refresh=true))]
fn mail_scopes(
    py: Python<'_>,
    protocols: Vec<String>,
    provider: Option<&str>,
    cloud: Option<&str>,
    refresh: bool,
) -> PyResult<Vec<String>> {
    let a = authority(py, provider, cloud)?;
    let protocols = protocols.iter().map(|p| protocol(p)).collect::<PyResult<Vec<_>>>()?;
    Ok(scopes::mail_scopes(a.provider(), a.cloud(), &protocols, refresh))
}

/// The app-only (client credentials) scope: `https://outlook.office365.com/.default`.
#[pyfunction]
#[pyo3(signature = (*, provider=None, cloud=None))]
fn app_only_scope(py: Python<'_>, provider: Option<&str>, cloud: Option<&str>) -> PyResult<String> {
    let a = authority(py, provider, cloud)?;
    Ok(scopes::app_only_scope(a.provider(), a.cloud()))
}

/// One XOAUTH2 / OAUTHBEARER exchange run by a standard-library client (the core's
/// [`SaslExchange`]): the helpers in `_mail.py` only move its lines through imaplib, smtplib and
/// poplib. Raises the `MailError` of its kind; `repr()` never shows the token.
#[pyclass(name = "_SaslExchange", module = "mailoauth._native")]
pub(crate) struct PySaslExchange(SaslExchange);

#[pymethods]
impl PySaslExchange {
    #[new]
    #[pyo3(signature = (protocol_name, mechanism_name, user, access_token, host=None, port=None))]
    fn new(
        protocol_name: &str,
        mechanism_name: &str,
        user: &str,
        access_token: &str,
        host: Option<&str>,
        port: Option<u16>,
    ) -> PyResult<Self> {
        let (protocol, mechanism) = (protocol(protocol_name)?, mechanism(mechanism_name)?);
        Ok(PySaslExchange(SaslExchange::new(protocol, mechanism, user, access_token, host, port)))
    }

    /// The mechanism's name (`XOAUTH2`, `OAUTHBEARER`).
    #[getter]
    fn mechanism(&self) -> &'static str {
        self.0.mechanism().name()
    }

    /// Whether the initial response goes inline with the command (`server_allows`: IMAP's
    /// SASL-IR; SMTP and POP3 always), by the protocol's line limit.
    fn inline(&self, server_allows: bool) -> bool {
        self.0.inline(mailoauth::SaslIr::Auto, server_allows)
    }

    /// The command that starts the exchange (`command`: `AUTH`, `<tag> AUTHENTICATE`).
    fn start(&mut self, command: &str, inline: bool) -> String {
        self.0.start(command, inline).into_secret()
    }

    /// The initial response (base64), when the library writes the command with it inline.
    fn initial_response(&mut self) -> String {
        self.0.initial_response().into_secret()
    }

    /// The answer (base64) to a server continuation whose payload is `payload` (base64).
    fn answer(&mut self, py: Python<'_>, payload: &str) -> PyResult<String> {
        self.0.answer(payload).map(|l| l.into_secret()).map_err(|e| mail_error(py, e))
    }

    /// The next server line: `("send", line)`, `("done", None)` or `("continue", None)`;
    /// raises the `MailError` of a refusal.
    fn feed_line(&mut self, py: Python<'_>, line: &str) -> PyResult<(&'static str, Option<String>)> {
        match self.0.feed_line(line).map_err(|e| mail_error(py, e))? {
            SaslStep::Send(l) => Ok(("send", Some(l.into_secret()))),
            SaslStep::Done => Ok(("done", None)),
            SaslStep::Continue => Ok(("continue", None)),
        }
    }

    /// The exception for the server's final refusal, with the recorded error challenge.
    fn failure<'py>(&self, py: Python<'py>, final_line: &str) -> Bound<'py, PyAny> {
        mail_error(py, self.0.failure(final_line)).into_value(py).into_bound(py).into_any()
    }

    /// Raises `MailMechanismUnsupported` unless `capabilities` offer the mechanism.
    fn require_offered(&self, py: Python<'_>, capabilities: Vec<String>) -> PyResult<()> {
        self.0.require_offered(&capabilities).map_err(|e| mail_error(py, e))
    }

    /// The server's decoded error challenge, once one arrived.
    #[getter]
    fn challenge<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.0.challenge().map(|c| challenge_dict(py, c)).transpose()
    }

    fn __repr__(&self) -> String {
        format!("_SaslExchange(mechanism={:?})", self.0.mechanism().name())
    }
}

/// The likely cause of a failed login and its fix, as `(cause, fix)`: `error` is the
/// `MailError` (its `kind` and `protocol`), `access_token` the token that was used, `user` the
/// login user, `host` the mail host (for the wrong-cloud check). The same words as
/// `mailoauth check` and every other binding.
#[pyfunction]
#[pyo3(signature = (error, access_token, user, *, host=None))]
fn diagnose(
    error: &Bound<'_, PyAny>,
    access_token: &Bound<'_, PyAny>,
    user: &str,
    host: Option<&str>,
) -> PyResult<(String, String)> {
    let not_mail = || PyValueError::new_err("diagnose explains failed mail logins: pass a MailError");
    if !error.is_instance_of::<crate::errors::MailError>() {
        return Err(not_mail());
    }
    let kind: String = error.getattr("kind")?.extract()?;
    let protocol_name: String = error.getattr("protocol")?.extract()?;
    let kind = mailoauth::MailErrorKind::from_name(&kind).ok_or_else(not_mail)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let token = token_text(access_token)?;
    let d = mailoauth::diagnose::diagnose(kind, protocol(&protocol_name)?, &token, host.unwrap_or(""), user, None, now);
    Ok((d.cause, d.fix))
}

/// The likely cause and fix for the parity table (`now` given).
#[pyfunction]
fn _diagnose_at(
    kind: &str,
    protocol_name: &str,
    access_token: &str,
    host: &str,
    user: &str,
    now: i64,
) -> PyResult<(String, String)> {
    let kind = mailoauth::MailErrorKind::from_name(kind)
        .ok_or_else(|| PyValueError::new_err(format!("not a mail error kind: {kind:?}")))?;
    let d = mailoauth::diagnose::diagnose(kind, protocol(protocol_name)?, access_token, host, user, None, now);
    Ok((d.cause, d.fix))
}

/// The exception a failed login raises: `final_line` is the server's final answer, `challenge`
/// the base64 error challenge it sent before, if any.
#[pyfunction]
#[pyo3(signature = (protocol_name, final_line, challenge=None))]
fn _mail_auth_error<'py>(
    py: Python<'py>,
    protocol_name: &str,
    final_line: &str,
    challenge: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = mailoauth::proto::auth_failure(protocol(protocol_name)?, final_line, challenge);
    Ok(mail_error(py, e).into_value(py).into_bound(py).into_any())
}

/// The provider's server for the protocol, unless `host` / `port` / `security` say otherwise.
#[allow(clippy::too_many_arguments)]
fn server_for(
    py: Python<'_>,
    protocol_name: &str,
    provider: Option<&str>,
    cloud: Option<&str>,
    host: Option<&str>,
    port: Option<u16>,
    security: Option<&str>,
) -> PyResult<MailServer> {
    MailServer::from_names(protocol_name, provider, cloud, host, port, security).map_err(|e| identity_error(py, e))
}

/// The mail server for `protocol`: the provider's (Exchange Online per cloud, Gmail) unless
/// `host` / `port` / `security` ('tls', 'starttls', 'plain') are given (the core's rules,
/// `testdata/parity/servers.json`). Returns `(host, port, security)`; `ConfigurationError`
/// for a name it does not know.
#[pyfunction]
#[pyo3(signature = (protocol_name, *, provider=None, cloud=None, host=None, port=None, security=None))]
fn _mail_server(
    py: Python<'_>,
    protocol_name: &str,
    provider: Option<&str>,
    cloud: Option<&str>,
    host: Option<&str>,
    port: Option<u16>,
    security: Option<&str>,
) -> PyResult<(String, u16, String)> {
    let server = server_for(py, protocol_name, provider, cloud, host, port, security)?;
    Ok((server.host, server.port, server.security.name().to_owned()))
}

/// The access token argument: a string or a `Token`.
fn token_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.cast::<PyToken>() {
        Ok(t) => Ok(t.get().0.access_token.expose_secret().to_owned()),
        Err(_) => obj.extract::<String>(),
    }
}

/// Everything `check_login` needs, built from its arguments.
struct LoginCheck {
    server: MailServer,
    user: String,
    token: AccessToken,
    mechanism: Mechanism,
    options: LoginOptions,
}

#[allow(clippy::too_many_arguments)]
fn login_check(
    py: Python<'_>,
    protocol_name: &str,
    user: String,
    access_token: &Bound<'_, PyAny>,
    host: Option<&str>,
    port: Option<u16>,
    security: Option<&str>,
    mechanism_name: &str,
    provider: Option<&str>,
    cloud: Option<&str>,
    ca_file: Option<PathBuf>,
    probe: bool,
    timeout: f64,
) -> PyResult<LoginCheck> {
    let server = server_for(py, protocol_name, provider, cloud, host, port, security)?;
    let io = Duration::try_from_secs_f64(timeout)
        .map_err(|_| PyValueError::new_err("timeout must be a non-negative number of seconds"))?;
    Ok(LoginCheck {
        server,
        user,
        token: AccessToken::new(token_text(access_token)?),
        mechanism: mechanism(mechanism_name)?,
        options: LoginOptions {
            tls: TlsOptions { ca_files: ca_file.into_iter().collect(), ..Default::default() },
            timeouts: Timeouts { connect: io, io },
            probe,
            ..Default::default()
        },
    })
}

impl LoginCheck {
    async fn run(self) -> Result<Vec<String>, mailoauth::MailAuthError> {
        let session = login(&self.server, &self.user, &self.token, self.mechanism, &self.options).await?;
        Ok(session.capabilities().to_vec())
    }
}

/// Logs in with the Rust core's own client (tokio + rustls, SASL-IR, TCP_NODELAY) to check
/// that a token works, then disconnects; returns the capabilities the server announced after
/// login. For IMAP, `probe` also opens INBOX, which catches Exchange's "authenticated but not
/// connected". Failures raise the `MailError` subclass of their kind (`MailAuthRejected`,
/// `MailConnectionError` for network, time-out and TLS failures, `MailNotConnected`, ...).
/// `protocol` is 'imap', 'smtp' or 'pop3'; the server defaults as in `connect_imap`; `ca_file`
/// adds a trusted CA (PEM).
#[pyfunction]
#[pyo3(signature = (protocol, user, access_token, *, host=None, port=None, security=None, mechanism="XOAUTH2", provider=None, cloud=None, ca_file=None, probe=true, timeout=30.0))]
#[allow(clippy::too_many_arguments)]
fn check_login(
    py: Python<'_>,
    protocol: &str,
    user: String,
    access_token: &Bound<'_, PyAny>,
    host: Option<&str>,
    port: Option<u16>,
    security: Option<&str>,
    mechanism: &str,
    provider: Option<&str>,
    cloud: Option<&str>,
    ca_file: Option<PathBuf>,
    probe: bool,
    timeout: f64,
) -> PyResult<Vec<String>> {
    let check = login_check(
        py,
        protocol,
        user,
        access_token,
        host,
        port,
        security,
        mechanism,
        provider,
        cloud,
        ca_file,
        probe,
        timeout,
    )?;
    crate::block_on(py, check.run())?.map_err(|e| mail_error(py, e))
}

/// `check_login` as an awaitable.
#[pyfunction]
#[pyo3(signature = (protocol, user, access_token, *, host=None, port=None, security=None, mechanism="XOAUTH2", provider=None, cloud=None, ca_file=None, probe=true, timeout=30.0))]
#[allow(clippy::too_many_arguments)]
fn check_login_async<'py>(
    py: Python<'py>,
    protocol: &str,
    user: String,
    access_token: &Bound<'_, PyAny>,
    host: Option<&str>,
    port: Option<u16>,
    security: Option<&str>,
    mechanism: &str,
    provider: Option<&str>,
    cloud: Option<&str>,
    ca_file: Option<PathBuf>,
    probe: bool,
    timeout: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let check = login_check(
        py,
        protocol,
        user,
        access_token,
        host,
        port,
        security,
        mechanism,
        provider,
        cloud,
        ca_file,
        probe,
        timeout,
    )?;
    future_into_py(py, async move { check.run().await.map_err(|e| Python::attach(|py| mail_error(py, e))) })
}

/// Adds the functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(xoauth2, m)?)?;
    m.add_function(wrap_pyfunction!(oauthbearer, m)?)?;
    m.add_function(wrap_pyfunction!(decode_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(mail_scopes, m)?)?;
    m.add_function(wrap_pyfunction!(app_only_scope, m)?)?;
    m.add_class::<PySaslExchange>()?;
    m.add_function(wrap_pyfunction!(diagnose, m)?)?;
    m.add_function(wrap_pyfunction!(_diagnose_at, m)?)?;
    m.add_function(wrap_pyfunction!(_mail_auth_error, m)?)?;
    m.add_function(wrap_pyfunction!(_mail_server, m)?)?;
    m.add_function(wrap_pyfunction!(check_login, m)?)?;
    m.add_function(wrap_pyfunction!(check_login_async, m)?)?;
    Ok(())
}
