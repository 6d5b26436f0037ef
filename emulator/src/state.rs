//! The emulator's in-memory directory and grant store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::aad::{self, AadError};
use crate::config::{AppConfig, Config, SignInAudience, TenantConfig, UserConfig};
use crate::keys::{RegisteredCert, Signer};
use crate::scope::Scopes;
use crate::{util, Error};

/// Tenant id of personal Microsoft accounts (`consumers`).
pub(crate) const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// What the `{tenant}` path segment names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TenantRef {
    Common,
    Organizations,
    Consumers,
    /// A configured tenant, by id.
    Tenant(String),
}

impl TenantRef {
    pub(crate) fn is_alias(&self) -> bool {
        !matches!(self, TenantRef::Tenant(_))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Tenant {
    pub(crate) id: String,
    pub(crate) domains: Vec<String>,
    pub(crate) name: String,
}

#[derive(Clone, Debug)]
pub(crate) struct App {
    pub(crate) cfg: AppConfig,
    pub(crate) home_tenant: String,
    pub(crate) certs: Vec<RegisteredCert>,
    /// Object id of the app's service principal (`oid`/`sub` of app-only tokens).
    pub(crate) sp_object_id: String,
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) cfg: UserConfig,
    pub(crate) tenant_id: String,
    pub(crate) oid: String,
    pub(crate) mailbox: String,
    /// Bumped by a revocation; tokens carry the epoch they were issued in.
    pub(crate) epoch: u64,
    pub(crate) consents: HashSet<String>,
}

impl User {
    pub(crate) fn has_consented(&self, client_id: &str) -> bool {
        self.cfg.consent_granted || self.consents.contains(&client_id.to_ascii_lowercase())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) username: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Scopes,
    pub(crate) code_challenge: Option<(String, String)>,
    pub(crate) tenant: TenantRef,
    pub(crate) nonce: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) redeemed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(String),
    Declined,
}

#[derive(Clone, Debug)]
pub(crate) struct DeviceCode {
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Scopes,
    pub(crate) tenant: TenantRef,
    pub(crate) expires_at: i64,
    pub(crate) interval_ms: i64,
    pub(crate) last_poll_ms: Option<i64>,
    pub(crate) status: DeviceStatus,
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) username: String,
    pub(crate) scopes: Scopes,
    pub(crate) issued_at: i64,
    pub(crate) last_used: i64,
    pub(crate) epoch: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub(crate) client_id: String,
    /// None for app-only tokens.
    pub(crate) username: Option<String>,
    pub(crate) claims: serde_json::Value,
    pub(crate) expires_at: i64,
    pub(crate) epoch: u64,
    pub(crate) expired_early: bool,
}

/// A pending `/authorize` request waiting for the sign-in page.
#[derive(Clone, Debug)]
pub(crate) struct PendingAuthorize {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) tenant_segment: String,
    pub(crate) expires_at: i64,
}

/// Which endpoint a fault applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// Every endpoint except the control API.
    #[default]
    Any,
    /// `oauth2/v2.0/token`.
    Token,
    /// `oauth2/v2.0/devicecode`.
    #[serde(rename = "devicecode")]
    DeviceCode,
    /// `oauth2/v2.0/authorize`.
    Authorize,
    /// `v2.0/.well-known/openid-configuration`.
    #[serde(rename = "openid-configuration")]
    Discovery,
    /// `discovery/v2.0/keys`.
    Keys,
    /// The mail-server token validation endpoint.
    Introspect,
}

impl FaultEndpoint {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FaultEndpoint::Any => "any",
            FaultEndpoint::Token => "token",
            FaultEndpoint::DeviceCode => "devicecode",
            FaultEndpoint::Authorize => "authorize",
            FaultEndpoint::Discovery => "openid-configuration",
            FaultEndpoint::Keys => "keys",
            FaultEndpoint::Introspect => "introspect",
        }
    }
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this HTTP status (429, 500, 503, …) and Microsoft's error JSON; 429 and
    /// 503 carry `Retry-After` when `retry_after` is set.
    Status {
        /// HTTP status code.
        status: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally.
    Delay {
        /// Milliseconds.
        millis: u64,
    },
    /// Answer with this AADSTS error (50076, 50079, 65001, 70043, 700082, 53003, 7000218,
    /// 700016, 7000215, 700025, 70000, 70008, 50173, 50126, 90002) in Microsoft's shape.
    Aadsts {
        /// The AADSTS number.
        code: u32,
    },
    /// `invalid_client` (AADSTS7000215, invalid client secret), HTTP 401.
    InvalidClient,
}

/// A fault for the next matching calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which endpoint (default: any).
    #[serde(default)]
    pub endpoint: FaultEndpoint,
    /// Only token requests with this `grant_type` (short names: `authorization_code`,
    /// `refresh_token`, `device_code`, `client_credentials`, `password`).
    #[serde(default)]
    pub grant_type: Option<String>,
    /// How many matching calls fail (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// Let this many matching calls through first (default 0).
    #[serde(default)]
    pub skip: u32,
    /// What happens.
    #[serde(flatten)]
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault for the next call of `endpoint`.
    pub fn new(endpoint: FaultEndpoint, kind: FaultKind) -> Self {
        Self { endpoint, grant_type: None, times: 1, skip: 0, kind }
    }

    /// Token requests of one grant type only.
    pub fn grant_type(mut self, grant: impl Into<String>) -> Self {
        self.grant_type = Some(grant.into());
        self
    }

    /// The next `n` matching calls.
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    /// After letting `n` matching calls through.
    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }
}

/// Request counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests per endpoint: `openid-configuration`, `keys`, `authorize`, `devicecode`,
    /// `token`, `devicelogin`, `introspect`.
    pub requests: BTreeMap<String, u64>,
    /// Token requests per `grant_type` (short names), including failed ones.
    pub grants: BTreeMap<String, u64>,
    /// Successful token responses per `grant_type`.
    pub issued: BTreeMap<String, u64>,
    /// Faults that fired.
    pub faults_fired: u64,
}

impl Counters {
    /// Requests to one endpoint.
    pub fn endpoint(&self, name: &str) -> u64 {
        self.requests.get(name).copied().unwrap_or(0)
    }

    /// Token requests with this grant type.
    pub fn grant(&self, grant: &str) -> u64 {
        self.grants.get(grant).copied().unwrap_or(0)
    }

    /// Tokens issued for this grant type.
    pub fn issued(&self, grant: &str) -> u64 {
        self.issued.get(grant).copied().unwrap_or(0)
    }
}

/// Timings and switches that can change at run time.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) token_lifetime: i64,
    pub(crate) rt_max_inactive: i64,
    pub(crate) code_lifetime: i64,
    pub(crate) device_code_lifetime: i64,
    pub(crate) device_code_interval: i64,
    pub(crate) auto_approve_as: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) apps: HashMap<String, App>,
    pub(crate) users: HashMap<String, User>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) device_codes: HashMap<String, DeviceCode>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    pub(crate) access: HashMap<String, IssuedToken>,
    pub(crate) pending: HashMap<String, PendingAuthorize>,
    pub(crate) sessions: HashMap<String, String>,
    pub(crate) used_jtis: HashMap<(String, String), i64>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) counters: Counters,
    pub(crate) clock_offset: i64,
    pub(crate) settings: Option<Settings>,
    last_gc_ms: i64,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub(crate) signer: Signer,
    pub(crate) base_url: String,
}

impl Shared {
    pub(crate) fn new(config: &Config, base_url: String) -> Result<Self, Error> {
        let signer = match (&config.signing_key_file, &config.signing_cert_file) {
            (Some(k), Some(c)) => {
                let key = std::fs::read_to_string(k).map_err(|e| Error::Config(format!("{}: {e}", k.display())))?;
                let cert = std::fs::read_to_string(c).map_err(|e| Error::Config(format!("{}: {e}", c.display())))?;
                Signer::from_pem(&key, &cert)?
            }
            (None, None) => Signer::demo()?,
            _ => return Err(Error::Config("signing_key_file and signing_cert_file must be given together".into())),
        };
        let mut inner = Inner {
            settings: Some(Settings {
                token_lifetime: secs(config.token_lifetime_secs),
                rt_max_inactive: secs(config.refresh_token_max_inactive_secs),
                code_lifetime: secs(config.code_lifetime_secs),
                device_code_lifetime: secs(config.device_code_lifetime_secs),
                device_code_interval: secs(config.device_code_interval_secs),
                auto_approve_as: config.auto_approve_as.clone(),
            }),
            ..Inner::default()
        };
        let (mut tenants, mut apps, mut users) =
            if config.demo { Config::demo_entities() } else { (Vec::new(), Vec::new(), Vec::new()) };
        tenants.extend(config.tenants.iter().cloned());
        apps.extend(config.apps.iter().cloned());
        users.extend(config.users.iter().cloned());
        for t in tenants {
            inner.add_tenant(t)?;
        }
        for a in apps {
            inner.add_app(a)?;
        }
        for u in users {
            inner.add_user(u)?;
        }
        Ok(Self { inner: Mutex::new(inner), signer, base_url })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// About 100 years: every duration and clock shift is clamped to this, so time arithmetic
/// on request input can never overflow.
pub(crate) const MAX_SECS: i64 = 3_155_760_000;

pub(crate) fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(MAX_SECS).min(MAX_SECS)
}

/// Adds a (possibly negative) shift to the clock offset, clamped to ±[`MAX_SECS`].
pub(crate) fn shift(offset: i64, by: i64) -> i64 {
    offset.saturating_add(by).clamp(-MAX_SECS, MAX_SECS)
}

impl Inner {
    pub(crate) fn settings(&self) -> Settings {
        self.settings.clone().unwrap_or(Settings {
            token_lifetime: 3599,
            rt_max_inactive: 90 * 86_400,
            code_lifetime: 600,
            device_code_lifetime: 900,
            device_code_interval: 5,
            auto_approve_as: None,
        })
    }

    pub(crate) fn settings_mut(&mut self) -> &mut Settings {
        let s = self.settings();
        self.settings.get_or_insert(s)
    }

    /// Emulated time in milliseconds since the epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4))
            .unwrap_or(0);
        real.saturating_add(self.clock_offset.saturating_mul(1000))
    }

    /// Emulated time in seconds since the epoch.
    pub(crate) fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub(crate) fn add_tenant(&mut self, t: TenantConfig) -> Result<(), Error> {
        if !util::is_guid(&t.id) {
            return Err(Error::Config(format!("tenant id '{}' is not a GUID", t.id)));
        }
        let id = t.id.to_ascii_lowercase();
        let domains: Vec<String> = t.domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        let name = if t.name.is_empty() { domains.first().cloned().unwrap_or_else(|| id.clone()) } else { t.name };
        self.tenants.retain(|x| x.id != id);
        self.tenants.push(Tenant { id, domains, name });
        Ok(())
    }

    fn tenant_id_for(&self, t: &str) -> Result<String, Error> {
        if t.is_empty() {
            return self
                .tenants
                .first()
                .map(|t| t.id.clone())
                .ok_or_else(|| Error::Config("no tenant configured".into()));
        }
        match self.resolve_tenant(t) {
            Some(TenantRef::Tenant(id)) => Ok(id),
            _ => Err(Error::Config(format!("unknown tenant '{t}'"))),
        }
    }

    pub(crate) fn add_app(&mut self, mut cfg: AppConfig) -> Result<(), Error> {
        if cfg.client_id.is_empty() {
            return Err(Error::Config("app without client_id".into()));
        }
        let home_tenant = self.tenant_id_for(&cfg.tenant)?;
        for uri in &cfg.redirect_uris {
            validate_registered_redirect(uri)?;
        }
        let mut certs = Vec::new();
        for path in std::mem::take(&mut cfg.certificate_files) {
            let pem = std::fs::read_to_string(&path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            cfg.certificates.push(pem);
        }
        for pem in &cfg.certificates {
            certs.push(RegisteredCert::from_pem(pem)?);
        }
        if cfg.public_client && (!cfg.secrets.is_empty() || !certs.is_empty()) {
            return Err(Error::Config(format!(
                "app {}: a public client cannot have secrets or certificates",
                cfg.client_id
            )));
        }
        if cfg.name.is_empty() {
            cfg.name = format!("app {}", cfg.client_id);
        }
        let key = cfg.client_id.to_ascii_lowercase();
        let sp_object_id = util::guid_from_seed(&format!("sp:{key}"));
        self.apps.insert(key, App { cfg, home_tenant, certs, sp_object_id });
        Ok(())
    }

    pub(crate) fn add_user(&mut self, cfg: UserConfig) -> Result<(), Error> {
        if cfg.username.is_empty() {
            return Err(Error::Config("user without username".into()));
        }
        let tenant_id =
            if cfg.personal_account { CONSUMERS_TENANT_ID.to_owned() } else { self.tenant_id_for(&cfg.tenant)? };
        let key = cfg.username.to_ascii_lowercase();
        let oid =
            if cfg.object_id.is_empty() { util::guid_from_seed(&format!("user:{key}")) } else { cfg.object_id.clone() };
        let mailbox = if cfg.mailbox.is_empty() { cfg.username.clone() } else { cfg.mailbox.clone() };
        let (epoch, consents) = self.users.get(&key).map(|u| (u.epoch, u.consents.clone())).unwrap_or_default();
        self.users.insert(key, User { cfg, tenant_id, oid, mailbox, epoch, consents });
        Ok(())
    }

    pub(crate) fn resolve_tenant(&self, segment: &str) -> Option<TenantRef> {
        let s = segment.to_ascii_lowercase();
        match s.as_str() {
            "common" => return Some(TenantRef::Common),
            "organizations" => return Some(TenantRef::Organizations),
            "consumers" | CONSUMERS_TENANT_ID => return Some(TenantRef::Consumers),
            _ => {}
        }
        self.tenants.iter().find(|t| t.id == s || t.domains.contains(&s)).map(|t| TenantRef::Tenant(t.id.clone()))
    }

    pub(crate) fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    pub(crate) fn tenant_display(&self, r: &TenantRef) -> String {
        match r {
            TenantRef::Common => "common".into(),
            TenantRef::Organizations => "organizations".into(),
            TenantRef::Consumers => "Microsoft Accounts".into(),
            TenantRef::Tenant(id) => self.tenant(id).map_or_else(|| id.clone(), |t| t.name.clone()),
        }
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.get(&client_id.to_ascii_lowercase())
    }

    pub(crate) fn user(&self, username: &str) -> Option<&User> {
        self.users.get(&username.trim().to_ascii_lowercase())
    }

    pub(crate) fn user_mut(&mut self, username: &str) -> Option<&mut User> {
        self.users.get_mut(&username.trim().to_ascii_lowercase())
    }

    /// Looks up the app and checks that it may be used under this tenant segment.
    pub(crate) fn app_for_tenant(&self, client_id: &str, t: &TenantRef) -> Result<&App, AadError> {
        let directory = self.tenant_display(t);
        let app = self.app(client_id).ok_or_else(|| aad::app_not_found(client_id, &directory))?;
        match (t, app.cfg.sign_in_audience) {
            (TenantRef::Tenant(id), SignInAudience::AzureAdMyOrg) if *id != app.home_tenant => {
                Err(aad::app_not_found(client_id, &directory))
            }
            (TenantRef::Common | TenantRef::Organizations, SignInAudience::AzureAdMyOrg) => {
                Err(AadError::invalid_request(
                    50_194,
                    format!("Application '{}'({}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", app.cfg.client_id, app.cfg.name),
                ))
            }
            (TenantRef::Consumers, a) if a != SignInAudience::AzureAdAndPersonalMicrosoftAccount => {
                Err(AadError::invalid_request(
                    9_002_332,
                    format!("Application '{}'({}) is configured for use by Azure Active Directory users only. Please do not use the /consumers endpoint to serve this request.", app.cfg.client_id, app.cfg.name),
                ))
            }
            _ => Ok(app),
        }
    }

    /// Checks that a user may sign in under this tenant segment.
    pub(crate) fn check_user_tenant(&self, user: &User, t: &TenantRef) -> Result<(), AadError> {
        let ok = match t {
            TenantRef::Common => true,
            TenantRef::Organizations => !user.cfg.personal_account,
            TenantRef::Consumers => user.cfg.personal_account,
            TenantRef::Tenant(id) => *id == user.tenant_id,
        };
        if ok {
            Ok(())
        } else {
            Err(AadError::invalid_grant(
                50_034,
                format!("The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.", self.tenant_display(t)),
            ))
        }
    }

    pub(crate) fn count_request(&mut self, endpoint: &str) {
        *self.counters.requests.entry(endpoint.to_owned()).or_default() += 1;
    }

    /// Takes the first fault matching this call, honouring `skip` and `times`.
    pub(crate) fn take_fault(&mut self, endpoint: FaultEndpoint, grant: Option<&str>) -> Option<FaultKind> {
        let idx = self.faults.iter().position(|f| {
            (f.endpoint == FaultEndpoint::Any || f.endpoint == endpoint)
                && match (&f.grant_type, grant) {
                    (None, _) => true,
                    (Some(want), Some(got)) => normalize_grant(want) == got,
                    (Some(_), None) => false,
                }
        })?;
        let f = &mut self.faults[idx];
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        let kind = f.kind.clone();
        f.times = f.times.saturating_sub(1);
        if f.times == 0 {
            self.faults.remove(idx);
        }
        self.counters.faults_fired += 1;
        Some(kind)
    }

    /// Drops expired codes, device codes, pending requests, replay entries, access tokens
    /// and inactive refresh tokens; at most once per (emulated) second.
    pub(crate) fn gc(&mut self) {
        let now_ms = self.now_ms();
        if (now_ms - self.last_gc_ms).abs() < 1000 {
            return;
        }
        self.last_gc_ms = now_ms;
        let now = self.now();
        let max_inactive = self.settings().rt_max_inactive;
        self.refresh.retain(|_, g| now - g.last_used <= max_inactive.saturating_mul(10).saturating_add(86_400));
        self.codes.retain(|_, c| c.expires_at + 3600 > now);
        self.device_codes.retain(|_, d| d.expires_at + 3600 > now);
        self.pending.retain(|_, p| p.expires_at > now);
        self.used_jtis.retain(|_, exp| *exp + 600 > now);
        self.access.retain(|_, t| t.expires_at + 86_400 > now);
    }
}

/// `urn:ietf:params:oauth:grant-type:device_code` → `device_code`.
pub(crate) fn normalize_grant(g: &str) -> &str {
    match g {
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => "device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => "jwt_bearer",
        other => other,
    }
}

/// Entra accepts `http` redirect URIs only for localhost (and 127.0.0.1 via the manifest).
fn validate_registered_redirect(uri: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(uri).map_err(|e| Error::Config(format!("redirect URI '{uri}': {e}")))?;
    if parsed.scheme() == "http" {
        let host = parsed.host_str().unwrap_or_default();
        if host != "localhost" && host != "127.0.0.1" {
            return Err(Error::Config(format!(
                "redirect URI '{uri}': http is allowed only for localhost and 127.0.0.1"
            )));
        }
    }
    if uri.len() > 256 {
        return Err(Error::Config(format!("redirect URI '{uri}' is longer than 256 characters")));
    }
    Ok(())
}
