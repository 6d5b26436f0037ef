//! Value types: `Token`, `Account`, `AuthCodeFlow`.

use mailoauth::identity::{AuthorizationRequest, Platform};
use mailoauth::net::TokioPlatform;
use mailoauth::{Account, Token};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyTzInfo};

/// A timezone-aware UTC `datetime` for Unix seconds.
pub(crate) fn utc_datetime(py: Python<'_>, unix: i64) -> PyResult<Bound<'_, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?.to_owned();
    PyDateTime::from_timestamp(py, unix as f64, Some(&utc))
}

/// A token from the identity platform.
///
/// `access_token` is the bearer token for the mail server, `expires_at` a timezone-aware UTC
/// datetime, `scopes` the granted scopes, `account` who signed in (None for app-only tokens).
/// `repr()` never shows a token.
#[pyclass(name = "Token", module = "mailoauth", frozen)]
pub(crate) struct PyToken(pub(crate) Token);

#[pymethods]
impl PyToken {
    /// The bearer token to send to the mail server (secret).
    #[getter]
    fn access_token(&self) -> &str {
        self.0.access_token.expose_secret()
    }

    /// When the access token expires (timezone-aware, UTC).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDateTime>> {
        utc_datetime(py, self.0.expires_at)
    }

    /// Seconds until the access token expires (negative once it has).
    #[getter]
    fn expires_in(&self) -> i64 {
        self.0.expires_in(TokioPlatform.now())
    }

    /// When to refresh proactively, if the server said (`refresh_in`), else None.
    #[getter]
    fn refresh_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDateTime>>> {
        self.0.refresh_at.map(|t| utc_datetime(py, t)).transpose()
    }

    /// The granted scopes.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.0.scopes.clone()
    }

    /// Who signed in; None for app-only tokens.
    #[getter]
    fn account(&self) -> Option<PyAccount> {
        self.0.account.clone().map(PyAccount)
    }

    /// The refresh token, if one was issued (secret).
    #[getter]
    fn refresh_token(&self) -> Option<&str> {
        self.0.refresh_token.as_ref().map(|r| r.expose_secret())
    }

    /// The raw id token, if one was issued.
    #[getter]
    fn id_token(&self) -> Option<&str> {
        self.0.id_token.as_deref()
    }

    fn __repr__(&self) -> String {
        let account = match &self.0.account {
            Some(a) => format!("{:?}", a.username),
            None => "None".to_owned(),
        };
        format!("Token(account={account}, expires_at={}, scopes={:?})", self.0.expires_at, self.0.scopes)
    }
}

/// A signed-in account (from the id token and `client_info`).
#[pyclass(name = "Account", module = "mailoauth", frozen, from_py_object)]
#[derive(Clone)]
pub(crate) struct PyAccount(pub(crate) Account);

#[pymethods]
impl PyAccount {
    /// The sign-in name (`preferred_username`, else `email`, `upn`): the SASL user for a mail login.
    #[getter]
    fn username(&self) -> &str {
        self.0.sasl_user()
    }

    /// The e-mail address, if the id token had one.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// The display name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The user's object id (`oid`), or Google's `sub`.
    #[getter]
    fn oid(&self) -> Option<&str> {
        self.0.oid.as_deref()
    }

    /// The tenant id (`tid`).
    #[getter]
    fn tid(&self) -> Option<&str> {
        self.0.tid.as_deref()
    }

    /// `uid.utid` from `client_info` (MSAL's home account id).
    #[getter]
    fn home_account_id(&self) -> Option<&str> {
        self.0.home_account_id.as_deref()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyAccount>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.username.hash(&mut h);
        self.0.home_account_id.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let home = match &self.0.home_account_id {
            Some(h) => format!("{h:?}"),
            None => "None".to_owned(),
        };
        format!("Account(username={:?}, home_account_id={home})", self.0.username)
    }
}

impl PyAccount {
    /// The key the cache looks accounts up by: the home account id, else the username.
    pub(crate) fn key(&self) -> String {
        self.0.home_account_id.clone().unwrap_or_else(|| self.0.username.clone())
    }
}

/// A started authorization-code flow (web apps): send the user to `url`, keep this object
/// (or `to_json()`, e.g. in the server-side session) until the redirect comes back, then call
/// `PublicClient.acquire_token_by_auth_code_flow`. It holds the PKCE verifier: keep it secret.
#[pyclass(name = "AuthCodeFlow", module = "mailoauth", frozen)]
pub(crate) struct PyAuthCodeFlow(pub(crate) AuthorizationRequest);

#[pymethods]
impl PyAuthCodeFlow {
    /// The URL to send the user's browser to.
    #[getter]
    fn url(&self) -> &str {
        &self.0.url
    }

    /// The URL to send the user's browser to (MSAL's name for `url`).
    #[getter]
    fn auth_uri(&self) -> &str {
        &self.0.url
    }

    /// The `state` the redirect must carry back.
    #[getter]
    fn state(&self) -> &str {
        &self.0.state
    }

    /// The redirect URI, exactly as sent.
    #[getter]
    fn redirect_uri(&self) -> &str {
        &self.0.redirect_uri
    }

    /// The scopes asked for.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.0.scopes.clone()
    }

    /// The flow as JSON text (includes the PKCE verifier: store it server-side only).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// A flow from `to_json()` output.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str(text).map(PyAuthCodeFlow).map_err(|e| PyValueError::new_err(format!("not a flow: {e}")))
    }

    fn __repr__(&self) -> String {
        format!("AuthCodeFlow(redirect_uri={:?}, scopes={:?})", self.0.redirect_uri, self.0.scopes)
    }
}

/// Adds the classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyToken>()?;
    m.add_class::<PyAccount>()?;
    m.add_class::<PyAuthCodeFlow>()?;
    Ok(())
}
