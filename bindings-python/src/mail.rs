//! SASL strings, scopes, mail-server defaults and the classification of failed logins, as
//! module functions. The imaplib / smtplib / poplib helpers (Python, `mailoauth/_mail.py`) are
//! built on the underscore ones.

use mailoauth::identity::scopes;
use mailoauth::net::{MailServer, Security};
use mailoauth::{Authority, ErrorChallenge, Mechanism, Protocol};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{challenge_dict, identity_error, mail_error};

fn protocol(name: &str) -> PyResult<Protocol> {
    match name.to_ascii_lowercase().as_str() {
        "imap" => Ok(Protocol::Imap),
        "smtp" => Ok(Protocol::Smtp),
        "pop" | "pop3" => Ok(Protocol::Pop3),
        _ => Err(PyValueError::new_err(format!("unknown protocol {name:?} (expected 'imap', 'smtp' or 'pop3')"))),
    }
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

/// The raw (not base64) initial SASL response, for imaplib / smtplib authobjects.
#[pyfunction]
#[pyo3(signature = (mechanism_name, user, access_token, host=None, port=None))]
fn _sasl_response<'py>(
    py: Python<'py>,
    mechanism_name: &str,
    user: &str,
    access_token: &str,
    host: Option<&str>,
    port: Option<u16>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &mechanism(mechanism_name)?.initial_response(user, access_token, host, port)))
}

/// The base64 line that answers an error challenge: '' (XOAUTH2) or 'AQ==' (OAUTHBEARER).
#[pyfunction]
fn _challenge_reply(mechanism_name: &str) -> PyResult<&'static str> {
    Ok(mechanism(mechanism_name)?.challenge_reply())
}

/// Whether the initial response (`response_b64_len` base64 characters) may go inline with the
/// command, by the protocol's line limit (SMTP 512 octets).
#[pyfunction]
fn _initial_response_fits(protocol_name: &str, mechanism_name: &str, response_b64_len: usize) -> PyResult<bool> {
    Ok(mailoauth::proto::initial_response_fits(protocol(protocol_name)?, mechanism(mechanism_name)?, response_b64_len))
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

/// The mail server for `protocol`: the provider's (Exchange Online per cloud, Gmail) unless
/// `host` / `port` / `security` ('tls', 'starttls', 'plain') are given. Returns
/// `(host, port, security)`.
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
    let security = security
        .map(|s| {
            Security::parse(s).ok_or_else(|| {
                PyValueError::new_err(format!("unknown security {s:?} (expected 'tls', 'starttls' or 'plain')"))
            })
        })
        .transpose()?;
    let a = authority(py, provider, cloud)?;
    let server = MailServer::for_authority(protocol(protocol_name)?, &a, host, port, security);
    let security = match serde_json::to_value(server.security) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "tls".to_owned(),
    };
    Ok((server.host, server.port, security))
}

/// Adds the functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(xoauth2, m)?)?;
    m.add_function(wrap_pyfunction!(oauthbearer, m)?)?;
    m.add_function(wrap_pyfunction!(decode_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(mail_scopes, m)?)?;
    m.add_function(wrap_pyfunction!(app_only_scope, m)?)?;
    m.add_function(wrap_pyfunction!(_sasl_response, m)?)?;
    m.add_function(wrap_pyfunction!(_challenge_reply, m)?)?;
    m.add_function(wrap_pyfunction!(_initial_response_fits, m)?)?;
    m.add_function(wrap_pyfunction!(_mail_auth_error, m)?)?;
    m.add_function(wrap_pyfunction!(_mail_server, m)?)?;
    Ok(())
}
