//! The HTTP control API under `/_emulator/…` (JSON), and the operations it shares with the
//! typed Rust API.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::AppState;
use crate::config::{AppConfig, TenantConfig, UserConfig};
use crate::state::{DeviceStatus, Fault, Inner};

/// Partial update of the run-time settings (`POST /_emulator/settings`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Access-token lifetime (`expires_in`) for tokens issued from now on.
    pub token_lifetime_secs: Option<u64>,
    /// Refresh-token inactivity limit (AADSTS700082).
    pub refresh_token_max_inactive_secs: Option<u64>,
    /// Authorization-code lifetime.
    pub code_lifetime_secs: Option<u64>,
    /// Device-code lifetime for codes issued from now on.
    pub device_code_lifetime_secs: Option<u64>,
    /// Device-code polling interval for codes issued from now on.
    pub device_code_interval_secs: Option<u64>,
    /// Approve every interactive sign-in as this user; `""` turns it off.
    pub auto_approve_as: Option<String>,
}

/// A device code waiting for the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeviceCode {
    /// The code the user types.
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The requested scopes.
    pub scope: String,
}

fn to_i64(v: u64) -> i64 {
    crate::state::secs(v)
}

impl Inner {
    pub(crate) fn apply_settings(&mut self, u: &SettingsUpdate) {
        let s = self.settings_mut();
        if let Some(v) = u.token_lifetime_secs {
            s.token_lifetime = to_i64(v);
        }
        if let Some(v) = u.refresh_token_max_inactive_secs {
            s.rt_max_inactive = to_i64(v);
        }
        if let Some(v) = u.code_lifetime_secs {
            s.code_lifetime = to_i64(v);
        }
        if let Some(v) = u.device_code_lifetime_secs {
            s.device_code_lifetime = to_i64(v);
        }
        if let Some(v) = u.device_code_interval_secs {
            s.device_code_interval = to_i64(v);
        }
        if let Some(v) = &u.auto_approve_as {
            s.auto_approve_as = (!v.is_empty()).then(|| v.clone());
        }
    }

    /// Revokes every refresh token of the user, and (as Exchange Online does with continuous
    /// access evaluation) every access token issued so far. Returns false for an unknown user.
    pub(crate) fn revoke_user(&mut self, username: &str) -> bool {
        match self.user_mut(username) {
            Some(u) => {
                u.epoch += 1;
                true
            }
            None => false,
        }
    }

    /// Marks access tokens issued so far as expired (all, or one user's). Returns how many
    /// were still valid.
    pub(crate) fn expire_access_tokens(&mut self, username: Option<&str>) -> usize {
        let mut n = 0;
        let now = self.now();
        for t in self.access.values_mut() {
            if t.expires_at <= now {
                continue;
            }
            let hit = match (username, &t.username) {
                (None, _) => true,
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                (Some(_), None) => false,
            };
            if hit && !t.expired_early {
                t.expired_early = true;
                n += 1;
            }
        }
        n
    }

    pub(crate) fn pending_device_codes(&self) -> Vec<PendingDeviceCode> {
        let now = self.now();
        let mut v: Vec<PendingDeviceCode> = self
            .device_codes
            .values()
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now)
            .map(|d| PendingDeviceCode {
                user_code: d.user_code.clone(),
                client_id: d.client_id.clone(),
                scope: d.scopes.to_scope_string(),
            })
            .collect();
        v.sort_by(|a, b| a.user_code.cmp(&b.user_code));
        v
    }

    pub(crate) fn set_consent(&mut self, username: &str, client_id: &str, granted: bool) -> bool {
        let Some(u) = self.user_mut(username) else {
            return false;
        };
        let key = client_id.to_ascii_lowercase();
        if granted {
            u.consents.insert(key);
        } else {
            u.consents.remove(&key);
            u.cfg.consent_granted = false;
        }
        true
    }

    /// A JSON summary without secrets, passwords or tokens.
    pub(crate) fn summary(&self) -> Value {
        let s = self.settings();
        let mut apps: Vec<Value> = self
            .apps
            .values()
            .map(|a| {
                json!({
                    "client_id": a.cfg.client_id,
                    "name": a.cfg.name,
                    "tenant": a.home_tenant,
                    "public_client": a.cfg.public_client,
                    "allow_public_client_flows": a.cfg.allow_public_client_flows,
                    "redirect_uris": a.cfg.redirect_uris,
                    "secrets": a.cfg.secrets.len(),
                    "certificates": a.certs.iter().map(|c| json!({"thumbprint": c.thumbprint_hex, "x5t": c.x5t, "x5t#S256": c.x5t_s256})).collect::<Vec<_>>(),
                    "sign_in_audience": a.cfg.sign_in_audience,
                    "app_roles": a.cfg.app_roles,
                    "mailboxes": a.cfg.mailboxes,
                })
            })
            .collect();
        apps.sort_by_key(|a| a["client_id"].as_str().unwrap_or_default().to_owned());
        let mut users: Vec<Value> = self
            .users
            .values()
            .map(|u| {
                json!({
                    "username": u.cfg.username,
                    "mailbox": u.mailbox,
                    "tenant": u.tenant_id,
                    "object_id": u.oid,
                    "personal_account": u.cfg.personal_account,
                    "mfa_required": u.cfg.mfa_required,
                    "consent_granted": u.cfg.consent_granted,
                    "consents": u.consents.iter().collect::<Vec<_>>(),
                    "auto_approve": u.cfg.auto_approve,
                })
            })
            .collect();
        users.sort_by_key(|u| u["username"].as_str().unwrap_or_default().to_owned());
        json!({
            "tenants": self.tenants.iter().map(|t| json!({"id": t.id, "domains": t.domains, "name": t.name})).collect::<Vec<_>>(),
            "apps": apps,
            "users": users,
            "settings": {
                "token_lifetime_secs": s.token_lifetime,
                "refresh_token_max_inactive_secs": s.rt_max_inactive,
                "code_lifetime_secs": s.code_lifetime,
                "device_code_lifetime_secs": s.device_code_lifetime,
                "device_code_interval_secs": s.device_code_interval,
                "auto_approve_as": s.auto_approve_as,
            },
            "clock_offset_secs": self.clock_offset,
            "now": self.now(),
            "faults": self.faults,
            "counters": self.counters,
            "pending_device_codes": self.pending_device_codes(),
        })
    }
}

/// Guards the control API against web pages (CSRF): a page can send `text/plain` or form
/// POSTs cross-site without a CORS preflight, and this API changes what the emulator does.
/// - A request with a body or a `Content-Type` must say `application/json` (415 otherwise):
///   that forces a preflight, which the emulator does not answer, so a browser never sends it.
/// - A request whose `Origin` is not a loopback origin is refused (403): browsers send
///   `Origin` on cross-site POSTs even without a body; test clients send none.
async fn guard_control(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, ORIGIN, TRANSFER_ENCODING};
    let headers = request.headers();
    let text = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    let has_body = text(CONTENT_LENGTH).is_some_and(|v| v.trim() != "0") || headers.contains_key(TRANSFER_ENCODING);
    let content_type = text(CONTENT_TYPE);
    let json = content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if (has_body || content_type.is_some()) && !json {
        let msg = "the control API takes Content-Type: application/json";
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(json!({"error": msg}))).into_response();
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let loopback = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, host)| host.rsplit_once(':').map_or(host, |(h, p)| if p.ends_with(']') { host } else { h }))
            .is_some_and(|h| {
                let h = h.trim_start_matches('[').trim_end_matches(']');
                h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            });
        if !loopback {
            let msg = "the control API does not answer web pages from other origins";
            return (StatusCode::FORBIDDEN, Json(json!({"error": msg}))).into_response();
        }
    }
    next.run(request).await
}

pub(crate) fn router() -> Router<AppState> {
    control_routes().layer(axum::middleware::from_fn(guard_control))
}

fn control_routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/state", get(state))
        .route("/_emulator/tenants", post(add_tenant))
        .route("/_emulator/apps", post(add_app))
        .route("/_emulator/users", post(add_user))
        .route("/_emulator/faults", post(add_faults).delete(clear_faults))
        .route("/_emulator/revoke", post(revoke))
        .route("/_emulator/expire-access-tokens", post(expire))
        .route("/_emulator/clock", post(clock))
        .route("/_emulator/settings", post(settings))
        .route("/_emulator/consent", post(consent))
        .route("/_emulator/counters", get(counters).delete(reset_counters))
        .route("/_emulator/device/pending", get(pending))
        .route("/_emulator/device/approve", post(approve))
        .route("/_emulator/device/deny", post(deny))
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad(format!("invalid JSON body: {e}"))))
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

async fn state(State(s): State<AppState>) -> Response {
    ok(s.lock().summary())
}

async fn add_tenant(State(s): State<AppState>, body: Bytes) -> Response {
    let t: TenantConfig = match parse(&body) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match s.lock().add_tenant(t) {
        Ok(()) => ok(json!({"ok": true})),
        Err(e) => bad(e.to_string()),
    }
}

async fn add_app(State(s): State<AppState>, body: Bytes) -> Response {
    let a: AppConfig = match parse(&body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match s.lock().add_app(a) {
        Ok(()) => ok(json!({"ok": true})),
        Err(e) => bad(e.to_string()),
    }
}

async fn add_user(State(s): State<AppState>, body: Bytes) -> Response {
    let u: UserConfig = match parse(&body) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    match s.lock().add_user(u) {
        Ok(()) => ok(json!({"ok": true})),
        Err(e) => bad(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Fault>),
    One(Fault),
}

async fn add_faults(State(s): State<AppState>, body: Bytes) -> Response {
    let faults = match parse::<OneOrMany>(&body) {
        Ok(OneOrMany::One(f)) => vec![f],
        Ok(OneOrMany::Many(v)) => v,
        Err(r) => return *r,
    };
    let mut inner = s.lock();
    inner.faults.extend(faults);
    ok(json!({"ok": true, "faults": inner.faults}))
}

async fn clear_faults(State(s): State<AppState>) -> Response {
    s.lock().faults.clear();
    ok(json!({"ok": true}))
}

#[derive(Deserialize)]
struct UserRef {
    username: Option<String>,
}

async fn revoke(State(s): State<AppState>, body: Bytes) -> Response {
    let r: UserRef = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Some(u) = r.username else {
        return bad("username is required");
    };
    if s.lock().revoke_user(&u) {
        ok(json!({"ok": true}))
    } else {
        bad(format!("unknown user '{u}'"))
    }
}

async fn expire(State(s): State<AppState>, body: Bytes) -> Response {
    let r: UserRef = if body.is_empty() {
        UserRef { username: None }
    } else {
        match parse(&body) {
            Ok(r) => r,
            Err(r) => return *r,
        }
    };
    let n = s.lock().expire_access_tokens(r.username.as_deref());
    ok(json!({"ok": true, "expired": n}))
}

#[derive(Deserialize)]
struct ClockBody {
    #[serde(default)]
    advance_secs: i64,
}

async fn clock(State(s): State<AppState>, body: Bytes) -> Response {
    let c: ClockBody = match parse(&body) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut inner = s.lock();
    inner.clock_offset = crate::state::shift(inner.clock_offset, c.advance_secs);
    ok(json!({"ok": true, "clock_offset_secs": inner.clock_offset, "now": inner.now()}))
}

async fn settings(State(s): State<AppState>, body: Bytes) -> Response {
    let u: SettingsUpdate = match parse(&body) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut inner = s.lock();
    inner.apply_settings(&u);
    ok(inner.summary()["settings"].clone())
}

#[derive(Deserialize)]
struct ConsentBody {
    username: String,
    client_id: String,
    #[serde(default = "yes")]
    granted: bool,
}

fn yes() -> bool {
    true
}

async fn consent(State(s): State<AppState>, body: Bytes) -> Response {
    let c: ConsentBody = match parse(&body) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if s.lock().set_consent(&c.username, &c.client_id, c.granted) {
        ok(json!({"ok": true}))
    } else {
        bad(format!("unknown user '{}'", c.username))
    }
}

async fn counters(State(s): State<AppState>) -> Response {
    ok(json!(s.lock().counters))
}

async fn reset_counters(State(s): State<AppState>) -> Response {
    s.lock().counters = Default::default();
    ok(json!({"ok": true}))
}

async fn pending(State(s): State<AppState>) -> Response {
    ok(json!(s.lock().pending_device_codes()))
}

#[derive(Deserialize)]
struct DeviceDecision {
    user_code: String,
    username: Option<String>,
}

async fn approve(State(s): State<AppState>, body: Bytes) -> Response {
    let d: DeviceDecision = match parse(&body) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let Some(username) = d.username else {
        return bad("username is required");
    };
    match super::device::decide(&mut s.lock(), &d.user_code, Some(&username)) {
        Ok(()) => ok(json!({"ok": true})),
        Err(e) => bad(e),
    }
}

async fn deny(State(s): State<AppState>, body: Bytes) -> Response {
    let d: DeviceDecision = match parse(&body) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match super::device::decide(&mut s.lock(), &d.user_code, None) {
        Ok(()) => ok(json!({"ok": true})),
        Err(e) => bad(e),
    }
}
