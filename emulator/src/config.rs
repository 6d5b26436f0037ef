//! Scenario configuration: tenants, app registrations, users and timings.
//!
//! The same types are used by the Rust builder API, the `--config` file (TOML or JSON) and
//! the HTTP control API (JSON), so a scenario can be written once in any of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The demo tenant's id.
pub const DEMO_TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
/// The demo tenant's domain.
pub const DEMO_TENANT_DOMAIN: &str = "contoso.example";
/// The demo public client (native app, public client flows allowed, redirect `http://localhost`).
pub const DEMO_PUBLIC_CLIENT_ID: &str = "c0ffee00-0000-4000-8000-000000000002";
/// The demo confidential client (secret [`DEMO_CLIENT_SECRET`] and the demo certificate).
pub const DEMO_CONFIDENTIAL_CLIENT_ID: &str = "c0ffee00-0000-4000-8000-000000000003";
/// The demo confidential client's secret.
pub const DEMO_CLIENT_SECRET: &str = "demo~secret~value~not~a~real~secret";
/// The demo user.
pub const DEMO_USER: &str = "alice@contoso.example";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "alice-password";
/// A second demo user who must do MFA (ROPC is refused with AADSTS50076).
pub const DEMO_MFA_USER: &str = "bob@contoso.example";
/// The MFA demo user's password.
pub const DEMO_MFA_PASSWORD: &str = "bob-password";
/// The demo confidential client's certificate (public test material, shipped in `keys/`).
pub const DEMO_CLIENT_CERT_PEM: &str = include_str!("../keys/demo-client-cert.pem");
/// The private key of [`DEMO_CLIENT_CERT_PEM`] (public test material: never use it for anything real).
pub const DEMO_CLIENT_CERT_KEY_PEM: &str = include_str!("../keys/demo-client-cert-key.pem");

/// Which accounts an app registration accepts (`signInAudience` in the manifest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInAudience {
    /// Single tenant: only the home tenant; `/common` and `/organizations` give AADSTS50194.
    #[serde(rename = "AzureADMyOrg")]
    AzureAdMyOrg,
    /// Any Entra tenant; `/consumers` gives AADSTS9002332.
    #[serde(rename = "AzureADMultipleOrgs")]
    AzureAdMultipleOrgs,
    /// Any Entra tenant and personal Microsoft accounts.
    #[default]
    #[serde(rename = "AzureADandPersonalMicrosoftAccount")]
    AzureAdAndPersonalMicrosoftAccount,
}

/// A directory (tenant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant id (a GUID).
    pub id: String,
    /// Verified domains; any of them can be used as the `{tenant}` path segment.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Display name, used in error messages.
    #[serde(default)]
    pub name: String,
}

impl TenantConfig {
    /// A tenant with one domain.
    pub fn new(id: impl Into<String>, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        Self { id: id.into(), name: domain.clone(), domains: vec![domain] }
    }
}

/// An app registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Application (client) id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Home tenant (id or domain); empty = the first configured tenant.
    pub tenant: String,
    /// A public client (mobile & desktop platform, no credentials): sending a secret or
    /// assertion gives AADSTS700025, the authorization code and refresh grants work without one.
    pub public_client: bool,
    /// "Allow public client flows": device code and ROPC without a credential. Without it
    /// those grants get AADSTS7000218.
    pub allow_public_client_flows: bool,
    /// Registered redirect URIs (loopback rules apply to `http://localhost` and `http://127.0.0.1`).
    pub redirect_uris: Vec<String>,
    /// Client secrets (values).
    pub secrets: Vec<String>,
    /// Certificates (PEM) whose keys may sign client assertions.
    pub certificates: Vec<String>,
    /// Certificate files (PEM), read when the configuration is loaded.
    pub certificate_files: Vec<PathBuf>,
    /// Which accounts the app accepts.
    pub sign_in_audience: SignInAudience,
    /// Application permissions granted for client credentials (`roles` claim).
    pub app_roles: Vec<String>,
    /// Mailboxes the app may open with app-only tokens; the first is reported as `email` by
    /// the introspection endpoint for this app's app-only tokens.
    pub mailboxes: Vec<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            name: String::new(),
            tenant: String::new(),
            public_client: false,
            allow_public_client_flows: false,
            redirect_uris: Vec::new(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            certificate_files: Vec::new(),
            sign_in_audience: SignInAudience::default(),
            app_roles: vec!["IMAP.AccessAsApp".into(), "POP.AccessAsApp".into(), "SMTP.SendAsApp".into()],
            mailboxes: Vec::new(),
        }
    }
}

impl AppConfig {
    /// A public native client: public client flows allowed, redirect `http://localhost`.
    pub fn public(client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        Self {
            name: format!("public app {client_id}"),
            client_id,
            public_client: true,
            allow_public_client_flows: true,
            redirect_uris: vec!["http://localhost".into()],
            ..Self::default()
        }
    }

    /// A confidential client (web app / daemon). Add credentials with [`AppConfig::secret`]
    /// or [`AppConfig::certificate`].
    pub fn confidential(client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        Self { name: format!("confidential app {client_id}"), client_id, ..Self::default() }
    }

    /// Adds a client secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Adds a certificate (PEM) for client assertions.
    pub fn certificate(mut self, pem: impl Into<String>) -> Self {
        self.certificates.push(pem.into());
        self
    }

    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Sets the home tenant (id or domain).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Sets "Allow public client flows".
    pub fn allow_public_client_flows(mut self, allow: bool) -> Self {
        self.allow_public_client_flows = allow;
        self
    }

    /// Sets the sign-in audience.
    pub fn sign_in_audience(mut self, audience: SignInAudience) -> Self {
        self.sign_in_audience = audience;
        self
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a mailbox the app may access with app-only tokens.
    pub fn mailbox(mut self, mailbox: impl Into<String>) -> Self {
        self.mailboxes.push(mailbox.into());
        self
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Sign-in name (UPN), e.g. `alice@contoso.example`.
    pub username: String,
    /// Password for the sign-in page, the device page and ROPC.
    pub password: String,
    /// Mailbox address (`email` claim, introspection `email`); empty = the username.
    pub mailbox: String,
    /// Display name.
    pub display_name: String,
    /// Home tenant (id or domain); empty = the first configured tenant.
    pub tenant: String,
    /// A personal Microsoft account (Outlook.com): tenant `consumers`, refused on `/organizations`.
    pub personal_account: bool,
    /// MFA required: ROPC is refused with AADSTS50076; the interactive pages still succeed.
    pub mfa_required: bool,
    /// Consent granted to every app. When false, ROPC gets AADSTS65001 until the user
    /// consents on the sign-in or device page.
    pub consent_granted: bool,
    /// Approve sign-ins for this user without showing a page (authorize with
    /// `login_hint=<username>` redirects at once).
    pub auto_approve: bool,
    /// Object id (`oid`); empty = derived from the username.
    pub object_id: String,
}

impl Default for UserConfig {
    fn default() -> Self {
        Self {
            username: String::new(),
            password: String::new(),
            mailbox: String::new(),
            display_name: String::new(),
            tenant: String::new(),
            personal_account: false,
            mfa_required: false,
            consent_granted: true,
            auto_approve: false,
            object_id: String::new(),
        }
    }
}

impl UserConfig {
    /// A user with a password; mailbox = username, consent granted.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self { username: username.into(), password: password.into(), ..Self::default() }
    }

    /// Sets the mailbox address.
    pub fn mailbox(mut self, mailbox: impl Into<String>) -> Self {
        self.mailbox = mailbox.into();
        self
    }

    /// Requires MFA.
    pub fn mfa_required(mut self, yes: bool) -> Self {
        self.mfa_required = yes;
        self
    }

    /// Sets whether consent was granted to every app.
    pub fn consent_granted(mut self, yes: bool) -> Self {
        self.consent_granted = yes;
        self
    }

    /// Auto-approves this user's interactive sign-ins.
    pub fn auto_approve(mut self, yes: bool) -> Self {
        self.auto_approve = yes;
        self
    }

    /// Sets the home tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Makes this a personal Microsoft account.
    pub fn personal_account(mut self, yes: bool) -> Self {
        self.personal_account = yes;
        self
    }
}

/// The whole scenario plus timings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Start with the demo tenant, apps and users (see the README), then add the lists below.
    pub demo: bool,
    /// Tenants.
    pub tenants: Vec<TenantConfig>,
    /// App registrations.
    pub apps: Vec<AppConfig>,
    /// Users.
    pub users: Vec<UserConfig>,
    /// Access-token (and id-token) lifetime in seconds (`expires_in`). Default 3599.
    pub token_lifetime_secs: u64,
    /// Refresh tokens unused for longer than this expire (AADSTS700082). Default 90 days.
    pub refresh_token_max_inactive_secs: u64,
    /// Authorization-code lifetime in seconds. Default 600.
    pub code_lifetime_secs: u64,
    /// Device-code lifetime in seconds (`expires_in`). Default 900.
    pub device_code_lifetime_secs: u64,
    /// Device-code polling interval in seconds (`interval`); polling faster gives `slow_down`.
    /// Default 5; tests usually set 0 or 1.
    pub device_code_interval_secs: u64,
    /// Approve every interactive sign-in (authorize page, device codes) as this user.
    pub auto_approve_as: Option<String>,
    /// PEM file with the RS256 token-signing key (PKCS#8); default: the shipped demo key.
    pub signing_key_file: Option<PathBuf>,
    /// PEM file with the certificate of the signing key (for `x5c`/`x5t` in the JWKS).
    pub signing_cert_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            demo: true,
            tenants: Vec::new(),
            apps: Vec::new(),
            users: Vec::new(),
            token_lifetime_secs: 3599,
            refresh_token_max_inactive_secs: 90 * 24 * 3600,
            code_lifetime_secs: 600,
            device_code_lifetime_secs: 900,
            device_code_interval_secs: 5,
            auto_approve_as: None,
            signing_key_file: None,
            signing_cert_file: None,
        }
    }
}

impl Config {
    /// The default configuration: the demo scenario and Microsoft's default timings.
    pub fn demo() -> Self {
        Self::default()
    }

    /// No tenants, apps or users; add your own.
    pub fn empty() -> Self {
        Self { demo: false, ..Self::default() }
    }

    /// Reads a TOML (`.toml`) or JSON (anything else) configuration file. Relative
    /// `certificate_files`, `signing_key_file` and `signing_cert_file` are resolved against
    /// the file's directory.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let is_toml = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let mut cfg: Config = if is_toml {
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        } else {
            serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for app in &mut cfg.apps {
            app.certificate_files.iter_mut().for_each(resolve);
        }
        if let Some(p) = cfg.signing_key_file.as_mut() {
            resolve(p);
        }
        if let Some(p) = cfg.signing_cert_file.as_mut() {
            resolve(p);
        }
        Ok(cfg)
    }

    /// The access-token lifetime.
    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.token_lifetime_secs)
    }

    /// The demo tenant, apps and users.
    pub(crate) fn demo_entities() -> (Vec<TenantConfig>, Vec<AppConfig>, Vec<UserConfig>) {
        let tenant = TenantConfig {
            id: DEMO_TENANT_ID.into(),
            domains: vec![DEMO_TENANT_DOMAIN.into(), "contoso.onmicrosoft.com".into()],
            name: "Contoso (mailoauth emulator demo)".into(),
        };
        let public = AppConfig {
            name: "mailoauth demo public client".into(),
            tenant: DEMO_TENANT_ID.into(),
            redirect_uris: vec!["http://localhost".into(), "http://127.0.0.1".into()],
            ..AppConfig::public(DEMO_PUBLIC_CLIENT_ID)
        };
        let confidential = AppConfig {
            name: "mailoauth demo confidential client".into(),
            tenant: DEMO_TENANT_ID.into(),
            redirect_uris: vec!["http://localhost/callback".into(), "https://localhost/callback".into()],
            secrets: vec![DEMO_CLIENT_SECRET.into()],
            certificates: vec![DEMO_CLIENT_CERT_PEM.into()],
            sign_in_audience: SignInAudience::AzureAdMyOrg,
            mailboxes: vec![DEMO_USER.into()],
            ..AppConfig::confidential(DEMO_CONFIDENTIAL_CLIENT_ID)
        };
        let alice = UserConfig {
            display_name: "Alice Demo".into(),
            tenant: DEMO_TENANT_ID.into(),
            ..UserConfig::new(DEMO_USER, DEMO_PASSWORD)
        };
        let bob = UserConfig {
            display_name: "Bob Demo (MFA)".into(),
            tenant: DEMO_TENANT_ID.into(),
            mfa_required: true,
            ..UserConfig::new(DEMO_MFA_USER, DEMO_MFA_PASSWORD)
        };
        (vec![tenant], vec![public, confidential], vec![alice, bob])
    }
}
