//! Public-client grants: authorization code + PKCE (split for hosts that own the redirect),
//! device code, refresh token, and ROPC.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crate::json::{self, get_str, Object, Value};
use serde::{Deserialize, Serialize};

use super::authority::{Authority, Provider};
use super::error::{IdentityError, IdentityErrorKind};
use super::flow::{drive, DeviceCodeStart, DeviceCodeWait, Flow, PollOutcome, TokenGrant};
use super::http::{form_post, send_with_retry, HttpClient, HttpRequest, Platform, RetryPolicy};
use super::pkce;
use super::scopes;
use super::token::{error_from_response, poll_interval, unexpected, RefreshToken, Token};
use crate::cache::TokenCache;
use crate::text::{safe_string, safe_text};

/// Extra parameters of an authorization request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationOptions {
    /// `login_hint`: pre-fills the user name.
    pub login_hint: Option<String>,
    /// `prompt`: `login`, `none`, `consent` or `select_account`.
    pub prompt: Option<String>,
    /// `domain_hint`: skips home-realm discovery.
    pub domain_hint: Option<String>,
    /// A claims challenge from an earlier error (`IdentityError::claims`).
    pub claims: Option<String>,
}

/// A started authorization-code flow: keep it until the redirect comes back. It holds the
/// PKCE verifier, so treat it as secret (`Debug` hides the verifier).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// Open this URL in a browser.
    pub url: String,
    /// The `state` value the redirect must carry back.
    pub state: String,
    /// The redirect URI, exactly as sent.
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The PKCE code verifier.
    pub code_verifier: String,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("url", &self.url)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The longest device-code lifetime believed from a server's `expires_in`: one day
/// (Microsoft's codes live 15 minutes). Larger values are clamped to it; a negative or
/// non-numeric `expires_in` is a [`IdentityErrorKind::Protocol`] error; an absent one means
/// RFC 8628's and Microsoft's 900 s.
pub const MAX_DEVICE_CODE_LIFETIME_SECS: i64 = 86_400;

/// The shortest wait between two device-code polls: a server's `interval: 0` (or a host's
/// edited flow) is raised to it, so a broken or hostile endpoint cannot make the client poll
/// in a tight loop. RFC 8628's 5 s applies when `interval` is absent. The one exception is an
/// `http://` loopback authority ([`Authority::is_loopback_http`]), which can only be a local
/// emulator: its `interval` is kept as given, so test suites run with
/// `--device-code-interval 0` stay fast.
pub const MIN_POLL_INTERVAL_SECS: u64 = 1;

/// The longest wait after a failed device-code poll (transport error or 5xx after the
/// retries): the wait doubles from the interval up to this, until the code expires.
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(60);

/// The longest wait between two device-code polls (a larger `interval` is clamped to it).
pub const MAX_POLL_INTERVAL_SECS: u64 = 600;

/// A started device-code flow: show [`DeviceCodeFlow::message`] to the user, then wait.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCodeFlow {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The provider's ready-made instruction for the user.
    pub message: String,
    /// When the code expires (Unix seconds).
    pub expires_at: i64,
    /// Minimum seconds between polls.
    pub interval: u64,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The device code (secret).
    pub device_code: String,
}

impl DeviceCodeFlow {
    /// After a failed poll: `None` if the error ends the flow (declined, expired, invalid
    /// client, ...), else how long to wait before polling again — a temporary failure
    /// (transport error, 5xx, 429) doubles `previous` (at least the interval, at most a
    /// minute, at least the server's `Retry-After`). Used by
    /// [`PublicClient::wait_device_flow`]; hosts that drive the polls themselves use it too.
    pub fn wait_after_failure(&self, previous: Duration, error: &IdentityError) -> Option<Duration> {
        if !error.kind.is_temporary() {
            return None;
        }
        let interval = Duration::from_secs(self.interval.max(MIN_POLL_INTERVAL_SECS));
        let doubled = previous.saturating_mul(2).clamp(interval, MAX_POLL_BACKOFF.max(interval));
        Some(doubled.max(error.retry_after.unwrap_or_default().min(MAX_POLL_BACKOFF)))
    }
}

impl fmt::Debug for DeviceCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeFlow")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// The answer to one device-code poll.
#[derive(Debug)]
pub enum DevicePoll {
    /// Not yet: poll again after this long.
    Pending(Duration),
    /// The user signed in.
    Done(Box<Token>),
}

/// What a public client is, with no I/O attached: its id, authority, retry policy and (for
/// Google installed apps) its non-confidential secret. It builds the grants' sans-IO machines
/// ([`super::flow`]); [`PublicClient`] drives them with an HTTP stack, a clock and a cache, and
/// a browser drives them with `fetch`.
#[derive(Clone)]
pub struct PublicApp {
    client_id: String,
    authority: Authority,
    retry: RetryPolicy,
    client_secret: Option<super::ClientSecret>,
}

impl fmt::Debug for PublicApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicApp")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority.url())
            .finish_non_exhaustive()
    }
}

impl PublicApp {
    /// The client `client_id` at `authority`, with the default retry policy.
    pub fn new(client_id: impl Into<String>, authority: Authority) -> PublicApp {
        PublicApp { client_id: client_id.into(), authority, retry: RetryPolicy::default(), client_secret: None }
    }

    /// Changes the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sends this "secret" with token requests, as Google requires of installed (desktop)
    /// apps, whose client secret is not confidential. Microsoft public clients must not send
    /// one (AADSTS700025), so requests to a Microsoft authority then fail locally.
    pub fn with_client_secret(mut self, secret: super::ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The authority.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Scopes for a user sign-in: normalized (full Outlook URLs), plus the OpenID scopes that
    /// return the account (`openid profile offline_access` for Microsoft, `openid email` for
    /// Google).
    pub fn user_scopes(&self, requested: &[String]) -> Result<Vec<String>, IdentityError> {
        let mut out = scopes::normalize(self.authority.provider(), self.authority.cloud(), requested)?;
        let extra: &[&str] = match self.authority.provider() {
            Provider::Microsoft => &["openid", "profile", scopes::OFFLINE_ACCESS],
            Provider::Google => &["openid", "email"],
            Provider::Custom => &["openid"],
        };
        for e in extra {
            if !out.iter().any(|s| s == e) {
                out.push((*e).to_owned());
            }
        }
        Ok(out)
    }

    /// A token request to the token endpoint: `client_info` for Microsoft (the account's home
    /// id, as MSAL asks), and the installed-app secret where one is set.
    fn token_request(&self, pairs: &[(&str, &str)]) -> Result<HttpRequest, IdentityError> {
        let mut pairs = pairs.to_vec();
        if self.authority.provider() == Provider::Microsoft {
            pairs.push(("client_info", "1"));
        }
        if let Some(secret) = &self.client_secret {
            if self.authority.provider() == Provider::Microsoft {
                return Err(IdentityError::new(
                    IdentityErrorKind::Configuration,
                    "a Microsoft public client must not send a client secret (AADSTS700025); remove it, or use a confidential client",
                ));
            }
            pairs.push(("client_secret", secret.expose_secret()));
        }
        Ok(form_post(self.authority.token_endpoint(), &pairs))
    }

    fn grant(&self, pairs: &[(&str, &str)], scopes: Vec<String>) -> Result<TokenGrant, IdentityError> {
        Ok(TokenGrant::new(self.token_request(pairs)?, self.retry, scopes))
    }

    // ---- authorization code + PKCE ------------------------------------------------------

    /// Starts an authorization-code flow for a redirect the host receives itself (a browser
    /// page, `ASWebAuthenticationSession`, a web app): builds the URL with PKCE S256 and a
    /// random `state`. Redeem the redirect with [`PublicApp::redeem_redirect`].
    pub fn authorization_url(
        &self,
        scopes: &[String],
        redirect_uri: &str,
        options: &AuthorizationOptions,
    ) -> Result<AuthorizationRequest, IdentityError> {
        let scopes = self.user_scopes(scopes)?;
        let verifier = pkce::code_verifier()?;
        let state = pkce::random_string::<16>()?;
        let challenge = pkce::s256_challenge(&verifier);
        let scope = scopes.join(" ");
        let mut q: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("response_mode", "query"),
            ("scope", &scope),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        let optional = [
            ("login_hint", &options.login_hint),
            ("prompt", &options.prompt),
            ("domain_hint", &options.domain_hint),
            ("claims", &options.claims),
        ];
        q.extend(optional.iter().filter_map(|(k, v)| Some((*k, v.as_deref()?))));
        if self.authority.provider() == Provider::Google {
            // Google returns a refresh token only with offline access.
            q.push(("access_type", "offline"));
        }
        let url = super::url::with_query(self.authority.authorize_endpoint(), &q);
        Ok(AuthorizationRequest { url, state, redirect_uri: redirect_uri.to_owned(), scopes, code_verifier: verifier })
    }

    /// The URL the browser was redirected to, redeemed: `state` checked, an `error=...`
    /// redirect turned into a typed error, then the code exchanged ([`PublicApp::redeem_code`]).
    pub fn redeem_redirect(
        &self,
        request: &AuthorizationRequest,
        redirect_url: &str,
    ) -> Result<TokenGrant, IdentityError> {
        let code = parse_redirect(request, redirect_url)?;
        self.redeem_code(request, &code)
    }

    /// The exchange of an authorization code (the `code` query value) for tokens.
    pub fn redeem_code(&self, request: &AuthorizationRequest, code: &str) -> Result<TokenGrant, IdentityError> {
        let scope = request.scopes.join(" ");
        self.grant(
            &[
                ("client_id", &self.client_id),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &request.redirect_uri),
                ("code_verifier", &request.code_verifier),
                ("scope", &scope),
            ],
            request.scopes.clone(),
        )
    }

    // ---- device code --------------------------------------------------------------------

    /// The start of a device-code flow (RFC 8628): yields the [`DeviceCodeFlow`] to show.
    pub fn device_code(&self, scopes: &[String]) -> Result<DeviceCodeStart, IdentityError> {
        let scopes = self.user_scopes(scopes)?;
        let Some(endpoint) = self.authority.device_code_endpoint() else {
            return Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "this provider has no device-code endpoint",
            ));
        };
        let scope = scopes.join(" ");
        let request = form_post(endpoint, &[("client_id", &self.client_id), ("scope", &scope)]);
        Ok(DeviceCodeStart::new(request, self.retry, scopes, self.min_poll_interval()))
    }

    fn min_poll_interval(&self) -> u64 {
        super::flow::min_poll_interval(self.authority.is_loopback_http())
    }

    /// The poll request of a device-code flow.
    fn device_poll(&self, flow: &DeviceCodeFlow) -> Result<HttpRequest, IdentityError> {
        let grant = "urn:ietf:params:oauth:grant-type:device_code";
        self.token_request(&[("grant_type", grant), ("client_id", &self.client_id), ("device_code", &flow.device_code)])
    }

    /// Waiting for the user to finish the device-code sign-in `flow` (see [`DeviceCodeWait`]).
    pub fn device_code_wait(&self, flow: &DeviceCodeFlow) -> Result<DeviceCodeWait, IdentityError> {
        Ok(DeviceCodeWait::new(flow.clone(), self.device_poll(flow)?, self.retry, self.min_poll_interval()))
    }

    // ---- refresh and ROPC -----------------------------------------------------------------

    /// The redemption of a refresh token. The answer's new (rotated) refresh token is kept;
    /// if the server returns none, the one given is carried over so it is never lost.
    pub fn refresh(&self, refresh_token: &RefreshToken, scopes: &[String]) -> Result<TokenGrant, IdentityError> {
        let scopes = self.user_scopes(scopes)?;
        let scope = scopes.join(" ");
        let grant = self.grant(
            &[
                ("client_id", &self.client_id),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
                ("scope", &scope),
            ],
            scopes.clone(),
        )?;
        Ok(grant.keeping(refresh_token.clone()))
    }

    /// Resource owner password credentials (ROPC). Discouraged: no MFA, no personal
    /// accounts, no federated users, and the app sees the password. Works on
    /// `organizations` or a tenant only.
    pub fn username_password(
        &self,
        username: &str,
        password: &str,
        scopes: &[String],
    ) -> Result<TokenGrant, IdentityError> {
        self.authority.require_org_tenant("the username/password grant (ROPC)")?;
        let scopes = self.user_scopes(scopes)?;
        let scope = scopes.join(" ");
        self.grant(
            &[
                ("client_id", &self.client_id),
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
                ("scope", &scope),
            ],
            scopes.clone(),
        )
    }
}

/// Reads a device-code answer into a [`DeviceCodeFlow`]; the texts shown to the user are
/// made safe for a terminal, numbers are bounded, the interval floored at `min_interval`.
pub(crate) fn parse_device_code(
    resp: &super::http::HttpResponse,
    now: i64,
    scopes: Vec<String>,
    min_interval: u64,
) -> Result<DeviceCodeFlow, IdentityError> {
    if let Some(e) = error_from_response(resp) {
        return Err(e);
    }
    if !(200..300).contains(&resp.status) {
        return Err(unexpected(resp, "device code request"));
    }
    let v = match json::parse(&resp.body) {
        Some(Value::Object(o)) => o,
        Some(_) => Object::new(), // no fields: reported below
        None => {
            return Err(IdentityError::new(IdentityErrorKind::Protocol, "device code answer is not JSON"));
        }
    };
    // Shown to the user as they are: network text made safe for a terminal first.
    let field = |name: &str| get_str(&v, name).map(|s| safe_text(s).into_owned());
    let (Some(device_code), Some(user_code)) = (field("device_code"), field("user_code")) else {
        return Err(IdentityError::new(
            IdentityErrorKind::Protocol,
            "device code answer lacks device_code or user_code",
        ));
    };
    let verification_uri = field("verification_uri").or_else(|| field("verification_url")).unwrap_or_default();
    let message = field("message").unwrap_or_else(|| {
        crate::cat!(
            "To sign in, use a web browser to open the page ",
            verification_uri,
            " and enter the code ",
            user_code,
            " to authenticate."
        )
    });
    let expires_in = match v.get("expires_in").map(|e| (json::seconds(e), json::as_u64(e))) {
        Some((Some(s), _)) if s >= 0 => s.min(MAX_DEVICE_CODE_LIFETIME_SECS),
        Some((_, Some(_))) => MAX_DEVICE_CODE_LIFETIME_SECS, // above i64::MAX
        Some((Some(_), None)) => {
            return Err(IdentityError::new(
                IdentityErrorKind::Protocol,
                "device code answer has a negative expires_in",
            ));
        }
        _ => 900, // absent or not a number: RFC 8628's and Microsoft's 15 minutes
    };
    let interval = poll_interval(v.get("interval"), Duration::from_secs(5)).as_secs();
    Ok(DeviceCodeFlow {
        user_code,
        verification_uri,
        message,
        expires_at: now.saturating_add(expires_in),
        interval: interval.clamp(min_interval, MAX_POLL_INTERVAL_SECS),
        scopes,
        device_code,
    })
}

/// A public client (desktop, mobile, CLI, browser): no secret. It drives the machines of its
/// [`PublicApp`] with an injected HTTP stack and platform, and keeps what they yield in its
/// cache.
pub struct PublicClient {
    app: PublicApp,
    http: Arc<dyn HttpClient>,
    platform: Arc<dyn Platform>,
    cache: Option<Arc<TokenCache>>,
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("client_id", &self.app.client_id)
            .field("authority", &self.app.authority.url())
            .finish_non_exhaustive()
    }
}

impl PublicClient {
    /// A client over an injected HTTP stack and platform.
    pub fn new(
        client_id: impl Into<String>,
        authority: Authority,
        http: Arc<dyn HttpClient>,
        platform: Arc<dyn Platform>,
    ) -> PublicClient {
        PublicClient { app: PublicApp::new(client_id, authority), http, platform, cache: None }
    }

    /// Changes the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.app = self.app.with_retry(retry);
        self
    }

    /// Keeps every token this client obtains in `cache`, and enables
    /// [`PublicClient::acquire_token_silent`].
    pub fn with_cache(mut self, cache: Arc<TokenCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// See [`PublicApp::with_client_secret`].
    pub fn with_client_secret(mut self, secret: super::ClientSecret) -> Self {
        self.app = self.app.with_client_secret(secret);
        self
    }

    /// The client without its I/O: the builder of the grants' machines.
    pub fn app(&self) -> &PublicApp {
        &self.app
    }

    /// The cache, if one is set.
    pub fn cache(&self) -> Option<&Arc<TokenCache>> {
        self.cache.as_ref()
    }

    /// Runs a machine with this client's HTTP stack and platform.
    async fn drive<F: Flow>(&self, mut flow: F) -> Result<F::Output, IdentityError> {
        drive(&mut flow, self.http.as_ref(), self.platform.as_ref()).await
    }

    /// A token without user interaction: a cached access token valid for at least the
    /// cache's margin, else a refresh (one per expiry across threads and processes), else an
    /// [`IdentityErrorKind::InteractionRequired`] error with the cache left intact. `account`
    /// (username or home account id) may be omitted when one account is signed in.
    pub async fn acquire_token_silent(&self, scopes: &[String], account: Option<&str>) -> Result<Token, IdentityError> {
        self.acquire_token_silent_with(scopes, account, crate::cache::SilentOptions::default()).await
    }

    /// [`PublicClient::acquire_token_silent`] with [`SilentOptions`](crate::cache::SilentOptions):
    /// force a refresh (the mail server refused the cached token) or ask for a minimum
    /// remaining validity.
    pub async fn acquire_token_silent_with(
        &self,
        scopes: &[String],
        account: Option<&str>,
        options: crate::cache::SilentOptions,
    ) -> Result<Token, IdentityError> {
        let Some(cache) = &self.cache else {
            return Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "silent acquisition needs a token cache (with_cache)",
            ));
        };
        // The machine every host runs: the browser's and Node's wasm drive it with fetch.
        let flow = crate::cache::SilentFlow::new(cache.clone(), &self.app, scopes, account, options)?;
        self.drive(flow).await
    }

    /// The accounts signed in with this client at this authority (from the cache).
    pub fn accounts(&self) -> Result<Vec<super::Account>, IdentityError> {
        match &self.cache {
            Some(c) => Ok(c.accounts(&self.app.authority, &self.app.client_id)?),
            None => Ok(Vec::new()),
        }
    }

    /// Removes an account's tokens from the cache. Returns whether it was there.
    pub async fn remove_account(&self, account: &str) -> Result<bool, IdentityError> {
        match &self.cache {
            Some(c) => {
                Ok(c.remove_account(&self.app.authority, &self.app.client_id, account, self.platform.as_ref()).await?)
            }
            None => Ok(false),
        }
    }

    /// Stores a token in the cache, if one is set.
    async fn remember(&self, token: Token) -> Result<Token, IdentityError> {
        if let Some(cache) = &self.cache {
            cache.store_token(&self.app.authority, &self.app.client_id, &token, self.platform.as_ref()).await?;
        }
        Ok(token)
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.app.client_id()
    }

    /// The authority.
    pub fn authority(&self) -> &Authority {
        self.app.authority()
    }

    /// The platform (clock and timer).
    pub fn platform(&self) -> &Arc<dyn Platform> {
        &self.platform
    }

    /// See [`PublicApp::user_scopes`].
    pub fn user_scopes(&self, requested: &[String]) -> Result<Vec<String>, IdentityError> {
        self.app.user_scopes(requested)
    }

    pub(crate) async fn post(&self, request: HttpRequest) -> Result<super::http::HttpResponse, IdentityError> {
        send_with_retry(self.http.as_ref(), self.platform.as_ref(), self.app.retry, request).await
    }

    // ---- authorization code + PKCE ------------------------------------------------------

    /// See [`PublicApp::authorization_url`]; redeem the result with
    /// [`PublicClient::redeem_redirect`].
    pub fn authorization_url(
        &self,
        scopes: &[String],
        redirect_uri: &str,
        options: &AuthorizationOptions,
    ) -> Result<AuthorizationRequest, IdentityError> {
        self.app.authorization_url(scopes, redirect_uri, options)
    }

    /// Redeems the URL the browser was redirected to: checks `state`, turns an
    /// `error=...` redirect into a typed error, and exchanges the code.
    pub async fn redeem_redirect(
        &self,
        request: &AuthorizationRequest,
        redirect_url: &str,
    ) -> Result<Token, IdentityError> {
        let token = self.drive(self.app.redeem_redirect(request, redirect_url)?).await?;
        self.remember(token).await
    }

    /// Exchanges an authorization code (the `code` query value) for tokens.
    pub async fn redeem_code(&self, request: &AuthorizationRequest, code: &str) -> Result<Token, IdentityError> {
        let token = self.drive(self.app.redeem_code(request, code)?).await?;
        self.remember(token).await
    }

    // ---- device code --------------------------------------------------------------------

    /// Starts a device-code flow (RFC 8628). Show `message` to the user, then call
    /// [`PublicClient::wait_device_flow`].
    pub async fn start_device_flow(&self, scopes: &[String]) -> Result<DeviceCodeFlow, IdentityError> {
        self.drive(self.app.device_code(scopes)?).await
    }

    /// Polls once. `Pending` says how long to wait (the interval, plus 5 s after a
    /// `slow_down`). Errors with HTTP 200 (seen in the wild) are recognised too.
    pub async fn poll_device_flow(&self, flow: &mut DeviceCodeFlow) -> Result<DevicePoll, IdentityError> {
        flow.interval = flow.interval.clamp(self.app.min_poll_interval(), MAX_POLL_INTERVAL_SECS);
        if self.platform.now() >= flow.expires_at {
            return Err(super::flow::expired_error());
        }
        let answer = self.post(self.app.device_poll(flow)?).await;
        match super::flow::poll_outcome(flow, answer, self.platform.now())? {
            PollOutcome::Token(t) => Ok(DevicePoll::Done(Box::new(self.remember(*t).await?))),
            PollOutcome::Pending(wait) => Ok(DevicePoll::Pending(wait)),
        }
    }

    /// [`PublicClient::wait_device_flow`] that ends with `Cancelled` (and stops polling) when
    /// `stop` completes first: a time-out, a `cancel()` signal, the user closing a window.
    /// `stop` yields the message (`"no sign-in within 5 min"`). Every front end's cancellation
    /// and time-out of a device-code sign-in goes through here, so they all end the same way.
    pub async fn wait_device_flow_until<S>(&self, flow: &DeviceCodeFlow, stop: S) -> Result<Token, IdentityError>
    where
        S: core::future::Future<Output = String>,
    {
        use core::future::Future as _;
        let mut wait = core::pin::pin!(self.wait_device_flow(flow));
        let mut stop = core::pin::pin!(stop);
        core::future::poll_fn(|cx| {
            // The stop signal first: a cancelled wait must not win a race with a late token.
            if let core::task::Poll::Ready(message) = stop.as_mut().poll(cx) {
                return core::task::Poll::Ready(Err(IdentityError::new(IdentityErrorKind::Cancelled, message)));
            }
            wait.as_mut().poll(cx)
        })
        .await
    }

    /// Polls until the user finishes (or declines, or the code expires): the
    /// [`DeviceCodeWait`] machine. Cancel by dropping the future.
    pub async fn wait_device_flow(&self, flow: &DeviceCodeFlow) -> Result<Token, IdentityError> {
        let token = self.drive(self.app.device_code_wait(flow)?).await?;
        self.remember(token).await
    }

    // ---- refresh and ROPC -----------------------------------------------------------------

    /// Redeems a refresh token. The answer's new (rotated) refresh token is kept; if the
    /// server returns none, the one given is carried over so it is never lost.
    pub async fn refresh(&self, refresh_token: &RefreshToken, scopes: &[String]) -> Result<Token, IdentityError> {
        let token = self.drive(self.app.refresh(refresh_token, scopes)?).await?;
        self.remember(token).await
    }

    /// See [`PublicApp::username_password`].
    pub async fn acquire_token_by_username_password(
        &self,
        username: &str,
        password: &str,
        scopes: &[String],
    ) -> Result<Token, IdentityError> {
        let token = self.drive(self.app.username_password(username, password, scopes)?).await?;
        self.remember(token).await
    }
}

/// Reads `code`, `state`, `error` from a redirect URL (query or fragment).
pub fn parse_redirect(request: &AuthorizationRequest, redirect_url: &str) -> Result<String, IdentityError> {
    let pairs = super::url::redirect_params(redirect_url);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // Checked first: a redirect without our state (another local process, a web page that
    // guessed the port) must not cancel the sign-in nor put its text in the result.
    if get("state").as_deref() != Some(request.state.as_str()) {
        return Err(IdentityError::new(
            IdentityErrorKind::Protocol,
            "the redirect's state does not match the request (possible cross-site request forgery); ignoring it",
        ));
    }
    if let Some(error) = get("error").map(safe_string) {
        let description = get("error_description").map(safe_string);
        let codes: Vec<u32> = description
            .as_deref()
            .and_then(|d| d.strip_prefix("AADSTS"))
            .and_then(|d| d.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| crate::text::parse_u64(n).and_then(|n| u32::try_from(n).ok()))
            .into_iter()
            .collect();
        let kind = super::token::classify(&error, &codes, None, 400);
        let mut e = IdentityError::new(kind, description.clone().unwrap_or_else(|| error.clone()));
        e.error = Some(error);
        e.error_description = description;
        e.codes = codes;
        return Err(e);
    }
    get("code").filter(|c| !c.is_empty()).ok_or_else(|| {
        IdentityError::new(IdentityErrorKind::Protocol, "the redirect carries neither a code nor an error")
    })
}
