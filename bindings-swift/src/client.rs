//! `PublicClient` (device code, split authorization code, silent, refresh, ROPC), `DeviceFlow`
//! and `ConfidentialClient` (secret, certificate): each method is one call into the core plus
//! one error conversion.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use mailoauth::identity::{CertificateCredential, ClientCredential, ClientSecret, DeviceCodeFlow, HttpClient};
use mailoauth::net::{ReqwestHttp, TokioPlatform};
use mailoauth::{Authority, IdentityError, IdentityErrorKind, RefreshToken};

use crate::errors::MailOAuthError;
use crate::store::TokenCache;
use crate::types::{
    Account, AssertionAlgorithm, AuthCodeFlow, AuthorizationOptions, ClientOptions, InteractiveOptions, Token,
};

/// The authority and HTTP client every constructor builds from [`ClientOptions`].
fn setup(options: Option<ClientOptions>) -> Result<(Authority, Arc<dyn HttpClient>), MailOAuthError> {
    let o = options.unwrap_or_default();
    let authority = Authority::from_options(
        o.provider.as_deref(),
        o.authority.as_deref(),
        o.tenant.as_deref(),
        o.cloud.as_deref(),
    )?;
    let timeout = Duration::try_from_secs_f64(o.timeout_secs.unwrap_or(30.0)).map_err(|_| {
        IdentityError::new(IdentityErrorKind::Configuration, "timeout_secs must be a non-negative number of seconds")
    })?;
    let ca_files: Vec<&Path> = o.ca_file.iter().map(Path::new).collect();
    Ok((authority, ReqwestHttp::with_options(timeout, &ca_files)?.shared()))
}

/// A public client (macOS or iOS app, command-line tool): signs users in without a secret.
#[derive(Debug, uniffi::Object)]
pub struct PublicClient(Arc<mailoauth::PublicClient>);

#[uniffi::export(async_runtime = "tokio")]
impl PublicClient {
    /// A client for the app registration `client_id`. `options` says where the identity
    /// platform is (default: Microsoft, global cloud, `organizations`); `cache` keeps the
    /// sign-ins (default: in memory; `TokenCache.custom(store)` for the Keychain).
    #[uniffi::constructor(default(options = None, cache = None))]
    pub fn new(
        client_id: String,
        options: Option<ClientOptions>,
        cache: Option<Arc<TokenCache>>,
    ) -> Result<Arc<PublicClient>, MailOAuthError> {
        let (authority, http) = setup(options)?;
        let cache = cache.map(|c| c.0.clone()).unwrap_or_else(|| Arc::new(mailoauth::TokenCache::in_memory()));
        Ok(Arc::new(PublicClient(Arc::new(
            mailoauth::PublicClient::new(client_id, authority, http, Arc::new(TokioPlatform)).with_cache(cache),
        ))))
    }

    /// The application (client) id.
    pub fn client_id(&self) -> String {
        self.0.client_id().to_owned()
    }

    /// The authority URL (`https://login.microsoftonline.com/organizations`).
    pub fn authority(&self) -> String {
        self.0.authority().url()
    }

    /// Starts a device-code sign-in: show `message()` to the user, then `wait()`.
    pub async fn start_device_flow(&self, scopes: Vec<String>) -> Result<Arc<DeviceFlow>, MailOAuthError> {
        let flow = self.0.start_device_flow(&scopes).await?;
        Ok(DeviceFlow::shared(self.0.clone(), flow))
    }

    /// The device-code sign-in in one call: `handler.showDeviceCode(flow)` receives the flow
    /// (its message to show, and `cancel()`), then this waits like `flow.wait()`.
    pub async fn acquire_token_by_device_code(
        &self,
        scopes: Vec<String>,
        handler: Arc<dyn DeviceCodeHandler>,
    ) -> Result<Arc<Token>, MailOAuthError> {
        let flow = DeviceFlow::shared(self.0.clone(), self.0.start_device_flow(&scopes).await?);
        handler.show_device_code(flow.clone());
        flow.wait().await
    }

    /// Signs a user in through the browser with a loopback redirect (`http://localhost:PORT`,
    /// registered under "Mobile and desktop applications"): for macOS command-line tools and
    /// apps without `ASWebAuthenticationSession`. `handler.showSignInUrl(url)` receives the URL
    /// (print it: over SSH the user opens it elsewhere); the system browser is opened unless
    /// `options.openBrowser` is false. iOS apps use the split flow (`initiateAuthCodeFlow`).
    #[uniffi::method(default(options = None, handler = None))]
    pub async fn acquire_token_interactive(
        &self,
        scopes: Vec<String>,
        options: Option<InteractiveOptions>,
        handler: Option<Arc<dyn SignInUrlHandler>>,
    ) -> Result<Arc<Token>, MailOAuthError> {
        let o = options.unwrap_or_default();
        let timeout = Duration::try_from_secs_f64(o.timeout_secs.unwrap_or(300.0)).map_err(|_| {
            IdentityError::new(
                IdentityErrorKind::Configuration,
                "timeout_secs must be a non-negative number of seconds",
            )
        })?;
        let options = mailoauth::net::InteractiveOptions {
            authorization: mailoauth::identity::AuthorizationOptions {
                login_hint: o.login_hint,
                prompt: o.prompt,
                domain_hint: o.domain_hint,
                claims: o.claims,
            },
            open_browser: o.open_browser,
            timeout,
            port: o.port,
        };
        let show = move |url: &str| handler.iter().for_each(|h| h.show_sign_in_url(url.to_owned()));
        Ok(Token::shared(self.0.acquire_token_interactive(&scopes, &options, show).await?))
    }

    /// A token without user interaction: a cached access token, else a refresh with the cached
    /// refresh token, else `InteractionRequired`. `account` (username or home account id) may
    /// be nil when one account is signed in.
    #[uniffi::method(default(account = None))]
    pub async fn acquire_token_silent(
        &self,
        scopes: Vec<String>,
        account: Option<String>,
    ) -> Result<Arc<Token>, MailOAuthError> {
        Ok(Token::shared(self.0.acquire_token_silent(&scopes, account.as_deref()).await?))
    }

    /// The accounts signed in with this client (from the cache).
    pub fn accounts(&self) -> Result<Vec<Account>, MailOAuthError> {
        Ok(self.0.accounts()?.into_iter().map(Account::from).collect())
    }

    /// Removes an account's tokens from the cache; returns whether it was there.
    pub async fn remove_account(&self, account: String) -> Result<bool, MailOAuthError> {
        Ok(self.0.remove_account(&account).await?)
    }

    /// First half of the split authorization-code flow (for `ASWebAuthenticationSession`):
    /// the URL to open, with PKCE S256 and a random `state`, for `redirect_uri` (e.g.
    /// `msauth.com.example.app://auth`, registered with the app).
    #[uniffi::method(default(options = None))]
    pub fn initiate_auth_code_flow(
        &self,
        scopes: Vec<String>,
        redirect_uri: String,
        options: Option<AuthorizationOptions>,
    ) -> Result<Arc<AuthCodeFlow>, MailOAuthError> {
        let options = options.unwrap_or_default().into();
        Ok(Arc::new(AuthCodeFlow(self.0.authorization_url(&scopes, &redirect_uri, &options)?)))
    }

    /// Second half: `callback_url` is the URL the session came back with. Checks `state`,
    /// turns an `error=` redirect into the matching error, and redeems the code.
    pub async fn acquire_token_by_auth_code_flow(
        &self,
        flow: Arc<AuthCodeFlow>,
        callback_url: String,
    ) -> Result<Arc<Token>, MailOAuthError> {
        Ok(Token::shared(self.0.redeem_redirect(&flow.0, &callback_url).await?))
    }

    /// Redeems a refresh token obtained elsewhere (the new tokens go into the cache).
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: String,
        scopes: Vec<String>,
    ) -> Result<Arc<Token>, MailOAuthError> {
        Ok(Token::shared(self.0.refresh(&RefreshToken::new(refresh_token), &scopes).await?))
    }

    /// Resource owner password credentials. Discouraged: no MFA (`MfaRequired`), no personal
    /// or federated accounts, and the app sees the password.
    pub async fn acquire_token_by_username_password(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> Result<Arc<Token>, MailOAuthError> {
        Ok(Token::shared(self.0.acquire_token_by_username_password(&username, &password, &scopes).await?))
    }
}

/// Receives the sign-in URL of `acquireTokenInteractive`, to show to the user.
#[uniffi::export(with_foreign)]
pub trait SignInUrlHandler: Send + Sync {
    /// Called once, before waiting for the redirect.
    fn show_sign_in_url(&self, url: String);
}

/// Receives the device code to show (the message, or the URL and the code).
#[uniffi::export(with_foreign)]
pub trait DeviceCodeHandler: Send + Sync {
    /// Called once, before the polling starts.
    fn show_device_code(&self, flow: Arc<DeviceFlow>);
}

/// A started device-code sign-in: show `message()` (or `verificationUri()` and `userCode()`),
/// then `wait()`. `cancel()` ends the wait from anywhere (Swift's UniFFI futures are not
/// dropped when a `Task` is cancelled; `MailOAuth`'s `signInWithDeviceCode` wires task
/// cancellation to it).
#[derive(Debug, uniffi::Object)]
pub struct DeviceFlow {
    client: Arc<mailoauth::PublicClient>,
    flow: DeviceCodeFlow,
    cancelled: watch::Sender<bool>,
}

impl DeviceFlow {
    fn shared(client: Arc<mailoauth::PublicClient>, flow: DeviceCodeFlow) -> Arc<DeviceFlow> {
        Arc::new(DeviceFlow { client, flow, cancelled: watch::Sender::new(false) })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl DeviceFlow {
    /// The provider's ready-made instruction ("To sign in, use a web browser to open ...").
    pub fn message(&self) -> String {
        self.flow.message.clone()
    }

    /// The code the user types.
    pub fn user_code(&self) -> String {
        self.flow.user_code.clone()
    }

    /// Where the user types it.
    pub fn verification_uri(&self) -> String {
        self.flow.verification_uri.clone()
    }

    /// When the code expires (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.flow.expires_at
    }

    /// Seconds between polls.
    pub fn interval(&self) -> u64 {
        self.flow.interval
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> Vec<String> {
        self.flow.scopes.clone()
    }

    /// Polls until the user signs in (`Declined` if they decline, `Expired` when the code
    /// expires, `Cancelled` after `cancel()`). Dropping the future also stops the polling.
    pub async fn wait(&self) -> Result<Arc<Token>, MailOAuthError> {
        let mut cancelled = self.cancelled.subscribe();
        let stop = async move {
            // An error means the flow object is gone: nobody can cancel any more.
            if cancelled.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
            "the device-code sign-in was cancelled".to_owned()
        };
        Ok(Token::shared(self.client.wait_device_flow_until(&self.flow, stop).await?))
    }

    /// Stops `wait()` (now or when it is called later) with `Cancelled`; polling ends.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }
}

/// A confidential client (daemon, service): app-only tokens with a client secret or a
/// certificate. Use the tenant's GUID or domain as `options.tenant`.
#[derive(Debug, uniffi::Object)]
pub struct ConfidentialClient(mailoauth::ConfidentialClient);

#[uniffi::export(async_runtime = "tokio")]
impl ConfidentialClient {
    /// A client that proves itself with a client secret.
    #[uniffi::constructor(default(options = None))]
    pub fn with_secret(
        client_id: String,
        client_secret: String,
        options: Option<ClientOptions>,
    ) -> Result<Arc<ConfidentialClient>, MailOAuthError> {
        let (authority, http) = setup(options)?;
        let credential = ClientCredential::Secret(ClientSecret::new(client_secret));
        Ok(Arc::new(ConfidentialClient(mailoauth::ConfidentialClient::new(
            client_id,
            authority,
            credential,
            http,
            Arc::new(TokioPlatform),
        ))))
    }

    /// A client that proves itself with a certificate: `certificate_pem` is the certificate
    /// registered with the app (it may also hold the RSA key), `private_key_pem` the key when
    /// it is separate.
    #[uniffi::constructor(default(private_key_pem = None, algorithm = None, options = None))]
    pub fn with_certificate(
        client_id: String,
        certificate_pem: String,
        private_key_pem: Option<String>,
        algorithm: Option<AssertionAlgorithm>,
        options: Option<ClientOptions>,
    ) -> Result<Arc<ConfidentialClient>, MailOAuthError> {
        let (authority, http) = setup(options)?;
        let key = private_key_pem.as_deref().unwrap_or(&certificate_pem);
        let certificate = CertificateCredential::from_pem(&certificate_pem, key)?
            .with_algorithm(algorithm.unwrap_or_default().into());
        let credential = ClientCredential::Certificate(Box::new(certificate));
        Ok(Arc::new(ConfidentialClient(mailoauth::ConfidentialClient::new(
            client_id,
            authority,
            credential,
            http,
            Arc::new(TokioPlatform),
        ))))
    }

    /// The application (client) id.
    pub fn client_id(&self) -> String {
        self.0.client_id().to_owned()
    }

    /// The authority URL.
    pub fn authority(&self) -> String {
        self.0.authority().url()
    }

    /// An app-only token (client credentials grant). For Exchange Online use
    /// `[appOnlyScope()]`, i.e. `https://outlook.office365.com/.default`.
    pub async fn acquire_token_for_client(&self, scopes: Vec<String>) -> Result<Arc<Token>, MailOAuthError> {
        Ok(Token::shared(self.0.acquire_token_for_client(&scopes).await?))
    }
}
