//! Value types: options records, `Account`, and the `Token` / `AuthCodeFlow` objects (objects,
//! not records, so that printing them never shows a secret).

use std::sync::Arc;

use mailoauth::identity::{AuthorizationRequest, Platform};
use mailoauth::net::TokioPlatform;

use crate::errors::MailOAuthError;

/// Where the identity platform is and how to talk to it. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct ClientOptions {
    /// A full authority URL (`https://login.microsoftonline.com/<tenant>`, or a local
    /// emulator's `http://127.0.0.1:PORT/<tenant>`); wins over `tenant` and `cloud`.
    #[uniffi(default = None)]
    pub authority: Option<String>,
    /// Tenant GUID or domain, `organizations` (default), `common` or `consumers`.
    #[uniffi(default = None)]
    pub tenant: Option<String>,
    /// `global` (default), `usgov`, `usgov-dod` or `china`.
    #[uniffi(default = None)]
    pub cloud: Option<String>,
    /// `microsoft` (default) or `google`.
    #[uniffi(default = None)]
    pub provider: Option<String>,
    /// A PEM file with an extra CA to trust for the identity platform's HTTPS.
    #[uniffi(default = None)]
    pub ca_file: Option<String>,
    /// Time-out of each HTTP request in seconds (default 30).
    #[uniffi(default = None)]
    pub timeout_secs: Option<f64>,
}

/// Extra parameters of an authorization request (browser sign-in).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct AuthorizationOptions {
    /// Pre-fills the user name.
    #[uniffi(default = None)]
    pub login_hint: Option<String>,
    /// `login`, `none`, `consent` or `select_account`.
    #[uniffi(default = None)]
    pub prompt: Option<String>,
    /// Skips home-realm discovery (`organizations`, `consumers`, a domain).
    #[uniffi(default = None)]
    pub domain_hint: Option<String>,
    /// A claims challenge from an earlier error (`ErrorDetails.claims`).
    #[uniffi(default = None)]
    pub claims: Option<String>,
}

impl From<AuthorizationOptions> for mailoauth::identity::AuthorizationOptions {
    fn from(o: AuthorizationOptions) -> Self {
        mailoauth::identity::AuthorizationOptions {
            login_hint: o.login_hint,
            prompt: o.prompt,
            domain_hint: o.domain_hint,
            claims: o.claims,
        }
    }
}

/// How the browser sign-in with a loopback redirect runs (`acquireTokenInteractive`).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct InteractiveOptions {
    /// Pre-fills the user name.
    #[uniffi(default = None)]
    pub login_hint: Option<String>,
    /// `login`, `none`, `consent` or `select_account`.
    #[uniffi(default = None)]
    pub prompt: Option<String>,
    /// Skips home-realm discovery.
    #[uniffi(default = None)]
    pub domain_hint: Option<String>,
    /// A claims challenge from an earlier error.
    #[uniffi(default = None)]
    pub claims: Option<String>,
    /// Open the system browser (`open` on macOS). Default true.
    #[uniffi(default = true)]
    pub open_browser: bool,
    /// Give up after this many seconds without a redirect (default 300).
    #[uniffi(default = None)]
    pub timeout_secs: Option<f64>,
    /// The loopback port to listen on (0, the default, picks a free one).
    #[uniffi(default = 0)]
    pub port: u16,
}

impl Default for InteractiveOptions {
    fn default() -> Self {
        InteractiveOptions {
            login_hint: None,
            prompt: None,
            domain_hint: None,
            claims: None,
            open_browser: true,
            timeout_secs: None,
            port: 0,
        }
    }
}

/// A signed-in account (from the id token and `client_info`). No secrets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Record)]
pub struct Account {
    /// The sign-in name: the SASL user for a mail login.
    pub username: String,
    /// The e-mail address, if the id token had one.
    pub email: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// The user's object id (`oid`), or Google's `sub`.
    pub oid: Option<String>,
    /// The tenant id (`tid`).
    pub tid: Option<String>,
    /// `uid.utid` from `client_info` (MSAL's home account id).
    pub home_account_id: Option<String>,
}

impl From<mailoauth::Account> for Account {
    fn from(a: mailoauth::Account) -> Self {
        Account {
            username: a.sasl_user().to_owned(),
            email: a.email,
            name: a.name,
            oid: a.oid,
            tid: a.tid,
            home_account_id: a.home_account_id,
        }
    }
}

/// The signature scheme of a certificate client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Enum)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, header `x5t#S256` (Microsoft's current documentation).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, header `x5t` (older documentation).
    Rs256,
}

impl From<AssertionAlgorithm> for mailoauth::identity::AssertionAlgorithm {
    fn from(a: AssertionAlgorithm) -> Self {
        match a {
            AssertionAlgorithm::Ps256 => mailoauth::identity::AssertionAlgorithm::Ps256,
            AssertionAlgorithm::Rs256 => mailoauth::identity::AssertionAlgorithm::Rs256,
        }
    }
}

/// A token from the identity platform. Its debug description shows who, until when and for
/// which scopes, never a token (access, refresh or id token).
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct Token(pub(crate) mailoauth::Token);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("account", &self.0.account.as_ref().map(|a| a.sasl_user()))
            .field("expires_at", &self.0.expires_at)
            .field("scopes", &self.0.scopes)
            .field("has_refresh_token", &self.0.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Token {
    pub(crate) fn shared(token: mailoauth::Token) -> Arc<Token> {
        Arc::new(Token(token))
    }
}

#[uniffi::export]
impl Token {
    /// The bearer token for the mail server (secret).
    pub fn access_token(&self) -> String {
        self.0.access_token.expose_secret().to_owned()
    }

    /// When the access token expires (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.0.expires_at
    }

    /// Seconds until the access token expires (negative once it has).
    pub fn expires_in(&self) -> i64 {
        self.0.expires_in(TokioPlatform.now())
    }

    /// When to refresh proactively (Unix seconds), if the server said.
    pub fn refresh_at(&self) -> Option<i64> {
        self.0.refresh_at
    }

    /// The granted scopes.
    pub fn scopes(&self) -> Vec<String> {
        self.0.scopes.clone()
    }

    /// Who signed in; nil for app-only tokens.
    pub fn account(&self) -> Option<Account> {
        self.0.account.clone().map(Account::from)
    }

    /// The refresh token, if one was issued (secret).
    pub fn refresh_token(&self) -> Option<String> {
        self.0.refresh_token.as_ref().map(|r| r.expose_secret().to_owned())
    }

    /// The raw id token, if one was issued.
    pub fn id_token(&self) -> Option<String> {
        self.0.id_token.clone()
    }
}

/// A started authorization-code flow (`ASWebAuthenticationSession`, a web view, a browser):
/// open `url()`, keep this object until the redirect comes back, then call
/// `PublicClient.acquireTokenByAuthCodeFlow`. It holds the PKCE verifier: keep it private.
#[derive(Debug, uniffi::Object)]
pub struct AuthCodeFlow(pub(crate) AuthorizationRequest);

#[uniffi::export]
impl AuthCodeFlow {
    /// A flow saved with `toJson()` (e.g. across an app restart).
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<AuthCodeFlow>, MailOAuthError> {
        serde_json::from_str(&json).map(|r| Arc::new(AuthCodeFlow(r))).map_err(|e| {
            mailoauth::IdentityError::new(mailoauth::IdentityErrorKind::Configuration, format!("not a flow: {e}"))
                .into()
        })
    }

    /// The URL to open (with PKCE S256 and a random `state`).
    pub fn url(&self) -> String {
        self.0.url.clone()
    }

    /// The `state` the redirect must carry back.
    pub fn state(&self) -> String {
        self.0.state.clone()
    }

    /// The redirect URI, exactly as sent.
    pub fn redirect_uri(&self) -> String {
        self.0.redirect_uri.clone()
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> Vec<String> {
        self.0.scopes.clone()
    }

    /// The flow as JSON (includes the PKCE verifier: store it privately).
    pub fn to_json(&self) -> Result<String, MailOAuthError> {
        serde_json::to_string(&self.0).map_err(|e| {
            mailoauth::IdentityError::new(mailoauth::IdentityErrorKind::Protocol, format!("flow: {e}")).into()
        })
    }
}
