//! `PublicClient`, `DeviceFlow` and `ConfidentialClient`: each method is one call into the
//! core plus one error conversion; `*_async` twins return asyncio awaitables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailoauth::identity::{
    AssertionAlgorithm, AuthorizationOptions, CertificateCredential, ClientCredential, ClientSecret, DeviceCodeFlow,
    HttpClient,
};
use mailoauth::net::{InteractiveOptions, ReqwestHttp, TokioPlatform};
use mailoauth::{Authority, ConfidentialClient, IdentityError, PublicClient, RefreshToken};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::future_into_py;

use crate::block_on;
use crate::cache::{cache_argument, PyTokenCache};
use crate::errors::{identity_error, identity_error_attach};
use crate::types::{utc_datetime, PyAccount, PyAuthCodeFlow, PyToken};

/// Seconds (a Python float) as a `Duration`.
fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number of seconds")))
}

/// The authority and HTTP client every client constructor builds from its keyword arguments.
fn setup(
    py: Python<'_>,
    provider: Option<&str>,
    authority: Option<&str>,
    tenant: Option<&str>,
    cloud: Option<&str>,
    ca_file: Option<PathBuf>,
    timeout: f64,
) -> PyResult<(Authority, Arc<dyn HttpClient>)> {
    let authority = Authority::from_options(provider, authority, tenant, cloud).map_err(|e| identity_error(py, e))?;
    let ca_files: Vec<&std::path::Path> = ca_file.iter().map(PathBuf::as_path).collect();
    let http = ReqwestHttp::with_options(seconds("timeout", timeout)?, &ca_files).map_err(|e| identity_error(py, e))?;
    Ok((authority, http.shared()))
}

/// The account argument: a username / home account id, or an `Account`.
#[derive(FromPyObject)]
enum AccountArg {
    Account(PyAccount),
    Name(String),
}

impl AccountArg {
    fn key(&self) -> String {
        match self {
            AccountArg::Account(a) => a.key(),
            AccountArg::Name(n) => n.clone(),
        }
    }
}

/// The redirect the browser came back with: the URL (or its query string) or its parameters.
#[derive(FromPyObject)]
enum AuthResponse {
    Url(String),
    Params(HashMap<String, String>),
}

impl AuthResponse {
    fn into_query(self) -> String {
        match self {
            AuthResponse::Url(u) => u,
            AuthResponse::Params(p) => {
                format!("?{}", form_urlencoded::Serializer::new(String::new()).extend_pairs(p.iter()).finish())
            }
        }
    }
}

/// Shows the sign-in URL: calls `on_url(url)`, or writes it to `sys.stderr`.
fn show_url(on_url: Option<Py<PyAny>>, url: &str) {
    Python::attach(|py| {
        let result = match on_url {
            Some(cb) => cb.call1(py, (url,)).map(|_| ()),
            None => py.import("sys").and_then(|sys| {
                sys.getattr("stderr")?
                    .call_method1("write", (format!("To sign in, open this URL in a browser:\n{url}\n"),))
                    .map(|_| ())
            }),
        };
        if let Err(e) = result {
            e.write_unraisable(py, None);
        }
    })
}

/// A public client (desktop app, script, CLI): signs users in without a client secret.
///
/// `PublicClient(client_id, *, authority=None, tenant="organizations", cloud="global",
/// cache=None, provider=None, ca_file=None, timeout=30.0)`: `authority` is a full URL
/// (`https://login.microsoftonline.com/<tenant>`, or a local emulator's `http://127.0.0.1:PORT/<tenant>`)
/// and wins over `tenant` / `cloud` (`global`, `usgov`, `usgov-dod`, `china`); `provider` is
/// `microsoft` (default) or `google`. `cache` is None (in memory), a path (a JSON file shared
/// with the `mailoauth` CLI), a `TokenCache`, or an object with `load()` / `save(data)`.
/// `ca_file` adds a trusted CA (PEM) for the identity platform's HTTPS; `timeout` is per request.
#[pyclass(name = "PublicClient", module = "mailoauth", frozen)]
pub(crate) struct PyPublicClient(Arc<PublicClient>);

#[pymethods]
impl PyPublicClient {
    #[new]
    #[pyo3(signature = (client_id, *, authority=None, tenant="organizations", cloud="global", cache=None, provider=None, ca_file=None, timeout=30.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        client_id: String,
        authority: Option<&str>,
        tenant: Option<&str>,
        cloud: Option<&str>,
        cache: Option<&Bound<'_, PyAny>>,
        provider: Option<&str>,
        ca_file: Option<PathBuf>,
        timeout: f64,
    ) -> PyResult<Self> {
        let (authority, http) = setup(py, provider, authority, tenant, cloud, ca_file, timeout)?;
        let cache = cache_argument(cache)?;
        Ok(PyPublicClient(Arc::new(
            PublicClient::new(client_id, authority, http, Arc::new(TokioPlatform)).with_cache(cache),
        )))
    }

    /// The application (client) id.
    #[getter]
    fn client_id(&self) -> &str {
        self.0.client_id()
    }

    /// The authority URL (`https://login.microsoftonline.com/organizations`).
    #[getter]
    fn authority(&self) -> String {
        self.0.authority().url()
    }

    /// The token cache this client keeps its sign-ins in.
    #[getter]
    fn cache(&self) -> Option<PyTokenCache> {
        self.0.cache().cloned().map(PyTokenCache)
    }

    /// Signs a user in through the browser (authorization code + PKCE, loopback redirect on
    /// 127.0.0.1): calls `on_url(url)` with the sign-in URL (default: prints it to stderr, so
    /// it works over SSH), opens the system browser when there is a desktop, waits up to
    /// `timeout` seconds for the redirect. Ctrl-C cancels.
    #[pyo3(signature = (scopes, *, login_hint=None, prompt=None, domain_hint=None, claims=None, open_browser=true, timeout=300.0, port=0, on_url=None))]
    #[allow(clippy::too_many_arguments)]
    fn acquire_token_interactive(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        login_hint: Option<String>,
        prompt: Option<String>,
        domain_hint: Option<String>,
        claims: Option<String>,
        open_browser: bool,
        timeout: f64,
        port: u16,
        on_url: Option<Py<PyAny>>,
    ) -> PyResult<PyToken> {
        let options = InteractiveOptions {
            authorization: AuthorizationOptions { login_hint, prompt, domain_hint, claims },
            open_browser,
            timeout: seconds("timeout", timeout)?,
            port,
        };
        let client = self.0.clone();
        block_on(py, async move {
            client.acquire_token_interactive(&scopes, &options, move |url| show_url(on_url, url)).await
        })?
        .map(PyToken)
        .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_interactive` as an awaitable.
    #[pyo3(signature = (scopes, *, login_hint=None, prompt=None, domain_hint=None, claims=None, open_browser=true, timeout=300.0, port=0, on_url=None))]
    #[allow(clippy::too_many_arguments)]
    fn acquire_token_interactive_async<'py>(
        &self,
        py: Python<'py>,
        scopes: Vec<String>,
        login_hint: Option<String>,
        prompt: Option<String>,
        domain_hint: Option<String>,
        claims: Option<String>,
        open_browser: bool,
        timeout: f64,
        port: u16,
        on_url: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = InteractiveOptions {
            authorization: AuthorizationOptions { login_hint, prompt, domain_hint, claims },
            open_browser,
            timeout: seconds("timeout", timeout)?,
            port,
        };
        let client = self.0.clone();
        future_into_py(py, async move {
            client
                .acquire_token_interactive(&scopes, &options, move |url| show_url(on_url, url))
                .await
                .map(PyToken)
                .map_err(identity_error_attach)
        })
    }

    /// Starts a device-code sign-in: show `flow.message` to the user, then `flow.wait()`.
    fn initiate_device_flow(&self, py: Python<'_>, scopes: Vec<String>) -> PyResult<PyDeviceFlow> {
        let client = self.0.clone();
        let flow =
            block_on(py, async move { client.start_device_flow(&scopes).await })?.map_err(|e| identity_error(py, e))?;
        Ok(PyDeviceFlow { client: self.0.clone(), flow })
    }

    /// `initiate_device_flow` as an awaitable.
    fn initiate_device_flow_async<'py>(&self, py: Python<'py>, scopes: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.0.clone();
        future_into_py(py, async move {
            let flow = client.start_device_flow(&scopes).await.map_err(identity_error_attach)?;
            Ok(PyDeviceFlow { client, flow })
        })
    }

    /// A token without user interaction: a cached access token, else a refresh with the cached
    /// refresh token, else `InteractionRequired`. `account` (username, home account id or
    /// `Account`) may be left out when one account is signed in.
    #[pyo3(signature = (scopes, account=None))]
    fn acquire_token_silent(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        account: Option<AccountArg>,
    ) -> PyResult<PyToken> {
        let account = account.map(|a| a.key());
        let client = self.0.clone();
        block_on(py, async move { client.acquire_token_silent(&scopes, account.as_deref()).await })?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_silent` as an awaitable.
    #[pyo3(signature = (scopes, account=None))]
    fn acquire_token_silent_async<'py>(
        &self,
        py: Python<'py>,
        scopes: Vec<String>,
        account: Option<AccountArg>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let account = account.map(|a| a.key());
        let client = self.0.clone();
        future_into_py(py, async move {
            client.acquire_token_silent(&scopes, account.as_deref()).await.map(PyToken).map_err(identity_error_attach)
        })
    }

    /// The accounts signed in with this client at this authority (from the cache).
    fn accounts(&self, py: Python<'_>) -> PyResult<Vec<PyAccount>> {
        let client = self.0.clone();
        py.detach(move || client.accounts())
            .map(|v| v.into_iter().map(PyAccount).collect())
            .map_err(|e| identity_error(py, e))
    }

    /// Removes an account's tokens from the cache; returns whether it was there.
    fn remove_account(&self, py: Python<'_>, account: AccountArg) -> PyResult<bool> {
        let account = account.key();
        let client = self.0.clone();
        block_on(py, async move { client.remove_account(&account).await })?.map_err(|e| identity_error(py, e))
    }

    /// First half of the authorization-code flow for web apps that own the redirect: returns
    /// an `AuthCodeFlow` whose `url` the user's browser is sent to (PKCE S256, random state).
    #[pyo3(signature = (scopes, redirect_uri, *, login_hint=None, prompt=None, domain_hint=None, claims=None))]
    #[allow(clippy::too_many_arguments)]
    fn initiate_auth_code_flow(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        redirect_uri: &str,
        login_hint: Option<String>,
        prompt: Option<String>,
        domain_hint: Option<String>,
        claims: Option<String>,
    ) -> PyResult<PyAuthCodeFlow> {
        let options = AuthorizationOptions { login_hint, prompt, domain_hint, claims };
        self.0.authorization_url(&scopes, redirect_uri, &options).map(PyAuthCodeFlow).map_err(|e| identity_error(py, e))
    }

    /// Second half: `auth_response` is the URL the browser was redirected to (or its query
    /// string, or its parameters as a dict). Checks `state`, turns an `error=` redirect into
    /// the matching exception, and redeems the code.
    fn acquire_token_by_auth_code_flow(
        &self,
        py: Python<'_>,
        flow: PyRef<'_, PyAuthCodeFlow>,
        auth_response: AuthResponse,
    ) -> PyResult<PyToken> {
        let request = flow.0.clone();
        let redirect = auth_response.into_query();
        let client = self.0.clone();
        block_on(py, async move { client.redeem_redirect(&request, &redirect).await })?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_by_auth_code_flow` as an awaitable.
    fn acquire_token_by_auth_code_flow_async<'py>(
        &self,
        py: Python<'py>,
        flow: PyRef<'_, PyAuthCodeFlow>,
        auth_response: AuthResponse,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = flow.0.clone();
        let redirect = auth_response.into_query();
        let client = self.0.clone();
        future_into_py(py, async move {
            client.redeem_redirect(&request, &redirect).await.map(PyToken).map_err(identity_error_attach)
        })
    }

    /// Redeems a refresh token obtained elsewhere (the new tokens go into the cache).
    fn acquire_token_by_refresh_token(
        &self,
        py: Python<'_>,
        refresh_token: String,
        scopes: Vec<String>,
    ) -> PyResult<PyToken> {
        let client = self.0.clone();
        block_on(py, async move { client.refresh(&RefreshToken::new(refresh_token), &scopes).await })?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_by_refresh_token` as an awaitable.
    fn acquire_token_by_refresh_token_async<'py>(
        &self,
        py: Python<'py>,
        refresh_token: String,
        scopes: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.0.clone();
        future_into_py(py, async move {
            client.refresh(&RefreshToken::new(refresh_token), &scopes).await.map(PyToken).map_err(identity_error_attach)
        })
    }

    /// Resource owner password credentials (ROPC). Discouraged: no MFA (raises
    /// `MfaRequired`), no personal or federated accounts, and the app sees the password.
    fn acquire_token_by_username_password(
        &self,
        py: Python<'_>,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> PyResult<PyToken> {
        let client = self.0.clone();
        block_on(py, async move { client.acquire_token_by_username_password(&username, &password, &scopes).await })?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_by_username_password` as an awaitable.
    fn acquire_token_by_username_password_async<'py>(
        &self,
        py: Python<'py>,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.0.clone();
        future_into_py(py, async move {
            client
                .acquire_token_by_username_password(&username, &password, &scopes)
                .await
                .map(PyToken)
                .map_err(identity_error_attach)
        })
    }

    fn __repr__(&self) -> String {
        format!("PublicClient(client_id={:?}, authority={:?})", self.0.client_id(), self.0.authority().url())
    }
}

/// A started device-code sign-in: show `message` (or `verification_uri` and `user_code`) to
/// the user, then `wait()` until they finish. Ctrl-C interrupts the wait.
#[pyclass(name = "DeviceFlow", module = "mailoauth", frozen)]
pub(crate) struct PyDeviceFlow {
    client: Arc<PublicClient>,
    flow: DeviceCodeFlow,
}

/// The device-code wait, bounded by `timeout` when given.
async fn wait_device(
    client: Arc<PublicClient>,
    flow: DeviceCodeFlow,
    timeout: Option<Duration>,
) -> Result<mailoauth::Token, IdentityError> {
    let Some(limit) = timeout else { return client.wait_device_flow(&flow).await };
    let stop = async move {
        tokio::time::sleep(limit).await;
        format!("no sign-in within {limit:?}")
    };
    client.wait_device_flow_until(&flow, stop).await
}

#[pymethods]
impl PyDeviceFlow {
    /// The provider's ready-made instruction for the user ("To sign in, use a web browser ...").
    #[getter]
    fn message(&self) -> &str {
        &self.flow.message
    }

    /// The code the user types.
    #[getter]
    fn user_code(&self) -> &str {
        &self.flow.user_code
    }

    /// Where the user types it.
    #[getter]
    fn verification_uri(&self) -> &str {
        &self.flow.verification_uri
    }

    /// When the code expires (timezone-aware, UTC).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDateTime>> {
        utc_datetime(py, self.flow.expires_at)
    }

    /// Seconds between polls.
    #[getter]
    fn interval(&self) -> u64 {
        self.flow.interval
    }

    /// The scopes asked for.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.flow.scopes.clone()
    }

    /// Waits until the user signs in (or declines: `Declined`; or the code expires: `Expired`;
    /// or `timeout` seconds pass: `Cancelled`). Ctrl-C raises `KeyboardInterrupt`.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyToken> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        block_on(py, wait_device(self.client.clone(), self.flow.clone(), timeout))?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `wait` as an awaitable (cancelling the task stops the polling).
    #[pyo3(signature = (timeout=None))]
    fn wait_async<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let fut = wait_device(self.client.clone(), self.flow.clone(), timeout);
        future_into_py(py, async move { fut.await.map(PyToken).map_err(identity_error_attach) })
    }

    fn __repr__(&self) -> String {
        format!("DeviceFlow(user_code={:?}, verification_uri={:?})", self.flow.user_code, self.flow.verification_uri)
    }
}

/// A confidential client (daemon, service): app-only tokens with a client secret or a
/// certificate.
///
/// `ConfidentialClient(client_id, *, authority=None, tenant="organizations", cloud="global",
/// client_secret=None, certificate=None, private_key=None, certificate_algorithm="PS256",
/// provider=None, ca_file=None, timeout=30.0)`: give `client_secret`, or `certificate` (PEM
/// text of the certificate registered with the app, which may also hold the RSA key) with
/// `private_key` (PEM) when the key is separate. Use the tenant's GUID or domain for
/// `tenant`.
#[pyclass(name = "ConfidentialClient", module = "mailoauth", frozen)]
pub(crate) struct PyConfidentialClient(Arc<ConfidentialClient>);

#[pymethods]
impl PyConfidentialClient {
    #[new]
    #[pyo3(signature = (client_id, *, authority=None, tenant="organizations", cloud="global", client_secret=None, certificate=None, private_key=None, certificate_algorithm="PS256", provider=None, ca_file=None, timeout=30.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        client_id: String,
        authority: Option<&str>,
        tenant: Option<&str>,
        cloud: Option<&str>,
        client_secret: Option<String>,
        certificate: Option<String>,
        private_key: Option<String>,
        certificate_algorithm: &str,
        provider: Option<&str>,
        ca_file: Option<PathBuf>,
        timeout: f64,
    ) -> PyResult<Self> {
        let (authority, http) = setup(py, provider, authority, tenant, cloud, ca_file, timeout)?;
        let certificate = match certificate {
            None => None,
            Some(cert) => {
                let algorithm = AssertionAlgorithm::from_name(certificate_algorithm)
                    .ok_or_else(|| PyValueError::new_err("certificate_algorithm must be 'PS256' or 'RS256'"))?;
                let key = private_key.as_deref().unwrap_or(&cert);
                let c = CertificateCredential::from_pem(&cert, key).map_err(|e| identity_error(py, e))?;
                Some(ClientCredential::Certificate(Box::new(c.with_algorithm(algorithm))))
            }
        };
        let credential = ClientCredential::exactly_one(client_secret.map(ClientSecret::new), certificate)
            .map_err(|e| identity_error(py, e))?;
        Ok(PyConfidentialClient(Arc::new(ConfidentialClient::new(
            client_id,
            authority,
            credential,
            http,
            Arc::new(TokioPlatform),
        ))))
    }

    /// The application (client) id.
    #[getter]
    fn client_id(&self) -> &str {
        self.0.client_id()
    }

    /// The authority URL.
    #[getter]
    fn authority(&self) -> String {
        self.0.authority().url()
    }

    /// An app-only token (client credentials grant). For Exchange Online use
    /// `[mailoauth.app_only_scope()]`, i.e. `https://outlook.office365.com/.default`.
    fn acquire_token_for_client(&self, py: Python<'_>, scopes: Vec<String>) -> PyResult<PyToken> {
        let client = self.0.clone();
        block_on(py, async move { client.acquire_token_for_client(&scopes).await })?
            .map(PyToken)
            .map_err(|e| identity_error(py, e))
    }

    /// `acquire_token_for_client` as an awaitable.
    fn acquire_token_for_client_async<'py>(&self, py: Python<'py>, scopes: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.0.clone();
        future_into_py(py, async move {
            client.acquire_token_for_client(&scopes).await.map(PyToken).map_err(identity_error_attach)
        })
    }

    fn __repr__(&self) -> String {
        format!("ConfidentialClient(client_id={:?}, authority={:?})", self.0.client_id(), self.0.authority().url())
    }
}

/// Adds the classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPublicClient>()?;
    m.add_class::<PyDeviceFlow>()?;
    m.add_class::<PyConfidentialClient>()?;
    Ok(())
}
