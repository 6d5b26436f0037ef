//! Building and recording access tokens, id tokens and refresh tokens.

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use crate::aad::AadError;
use crate::scope::{full_scope, Scopes};
use crate::state::{App, Inner, IssuedToken, RefreshGrant, Shared, User};
use crate::util;

/// How the client authenticated (`appidacr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    None,
    Secret,
    Certificate,
}

impl ClientAuth {
    fn acr(self) -> &'static str {
        match self {
            ClientAuth::None => "0",
            ClientAuth::Secret => "1",
            ClientAuth::Certificate => "2",
        }
    }
}

/// A delegated token request that passed every check.
pub(crate) struct Delegated<'a> {
    pub(crate) app: &'a App,
    pub(crate) user: &'a User,
    pub(crate) scopes: &'a Scopes,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) client_info: bool,
    pub(crate) auth: ClientAuth,
    pub(crate) grant: &'a str,
    /// Interactive flows satisfy MFA.
    pub(crate) interactive: bool,
}

fn hash(token: &str) -> String {
    util::sha256_hex(token.as_bytes())
}

/// Looks up a refresh token.
pub(crate) fn refresh_key(token: &str) -> String {
    hash(token)
}

/// Looks up an access token.
pub(crate) fn access_key(token: &str) -> String {
    hash(token)
}

fn first_last(name: &str) -> (String, String) {
    let mut it = name.split_whitespace();
    let first = it.next().unwrap_or_default().to_owned();
    let last = it.collect::<Vec<_>>().join(" ");
    (first, last)
}

/// A 16-hex-digit `puid` derived from the object id.
fn puid(oid: &str) -> String {
    let d = Sha256::digest(oid.as_bytes());
    d[..8].iter().map(|b| format!("{b:02X}")).collect()
}

/// `client_info` as Microsoft returns it: base64url JSON with `uid` and `utid`.
pub(crate) fn client_info(user: &User) -> String {
    util::b64url(json!({"uid": user.oid, "utid": user.tenant_id}).to_string())
}

/// Issues tokens for a user and returns the token response JSON.
pub(crate) fn issue_delegated(shared: &Shared, inner: &mut Inner, req: &Delegated<'_>) -> Result<Value, AadError> {
    let now = inner.now();
    let lifetime = inner.settings().token_lifetime;
    let exp = now + lifetime;
    let user = req.user;
    let app = req.app;
    let (aud, scp) = req.scopes.delegated_grant();
    let tid = user.tenant_id.clone();
    let display =
        if user.cfg.display_name.is_empty() { user.cfg.username.clone() } else { user.cfg.display_name.clone() };
    let (given, family) = first_last(&display);
    let mut amr = vec!["pwd"];
    if req.interactive && user.cfg.mfa_required {
        amr.push("mfa");
    }
    let uti = util::random_b64url(16);
    // `sub` is pairwise: one value per (user, app).
    let sub = util::b64url(Sha256::digest(format!("{}:{}", user.oid, app.cfg.client_id).as_bytes()));
    let claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "acct": if user.cfg.personal_account { 1 } else { 0 },
        "acr": "1",
        "aio": util::random_b64url(24),
        "amr": amr,
        "app_displayname": app.cfg.name,
        "appid": app.cfg.client_id,
        "appidacr": req.auth.acr(),
        "family_name": family,
        "given_name": given,
        "idtyp": "user",
        "ipaddr": "127.0.0.1",
        "name": display,
        "oid": user.oid,
        "puid": puid(&user.oid),
        "rh": format!("0.{}.", util::random_b64url(18)),
        "scp": scp.join(" "),
        "sid": util::guid(),
        "sub": sub,
        "tid": tid,
        "unique_name": user.cfg.username,
        "upn": user.cfg.username,
        "email": user.mailbox,
        "preferred_username": user.cfg.username,
        "uti": uti,
        "ver": "1.0",
    });
    let access_token = shared.signer.sign(&claims).map_err(|_| server_error())?;
    inner.access.insert(
        access_key(&access_token),
        IssuedToken {
            client_id: app.cfg.client_id.clone(),
            username: Some(user.cfg.username.clone()),
            claims: claims.clone(),
            expires_at: exp,
            epoch: user.epoch,
            expired_early: false,
        },
    );
    let mut scope_out: Vec<String> = scp.iter().map(|p| full_scope(&aud, p)).collect();
    scope_out.extend(req.scopes.oidc.iter().filter(|s| *s != "offline_access").cloned());
    let mut m = Map::new();
    m.insert("token_type".into(), json!("Bearer"));
    m.insert("scope".into(), json!(scope_out.join(" ")));
    m.insert("expires_in".into(), json!(lifetime));
    m.insert("ext_expires_in".into(), json!(lifetime));
    m.insert("access_token".into(), json!(access_token));
    if req.scopes.has("offline_access") {
        let rt = format!("1.A{}", util::random_b64url(96));
        inner.refresh.insert(
            refresh_key(&rt),
            RefreshGrant {
                client_id: app.cfg.client_id.clone(),
                username: user.cfg.username.clone(),
                scopes: req.scopes.clone(),
                issued_at: now,
                last_used: now,
                epoch: user.epoch,
            },
        );
        m.insert("refresh_token".into(), json!(rt));
    }
    if req.scopes.has("openid") {
        let mut id = json!({
            "aud": app.cfg.client_id,
            "iss": format!("{}/{tid}/v2.0", shared.base_url),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": display,
            "oid": user.oid,
            "preferred_username": user.cfg.username,
            "rh": format!("0.{}.", util::random_b64url(18)),
            "sub": sub,
            "tid": tid,
            "uti": util::random_b64url(16),
            "ver": "2.0",
            "aio": util::random_b64url(24),
        });
        if let Some(obj) = id.as_object_mut() {
            if let Some(n) = req.nonce {
                obj.insert("nonce".into(), json!(n));
            }
            if req.scopes.has("email") {
                obj.insert("email".into(), json!(user.mailbox));
            }
        }
        let id_token = shared.signer.sign(&id).map_err(|_| server_error())?;
        m.insert("id_token".into(), json!(id_token));
    }
    if req.client_info {
        m.insert("client_info".into(), json!(client_info(user)));
    }
    *inner.counters.issued.entry(req.grant.to_owned()).or_default() += 1;
    Ok(Value::Object(m))
}

/// Issues an app-only token (client credentials) for `resource` in tenant `tid`.
pub(crate) fn issue_app_only(
    shared: &Shared,
    inner: &mut Inner,
    app: &App,
    resource: &str,
    tid: &str,
    auth: ClientAuth,
) -> Result<Value, AadError> {
    let now = inner.now();
    let lifetime = inner.settings().token_lifetime;
    let exp = now + lifetime;
    let mut claims = json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "aio": util::random_b64url(24),
        "app_displayname": app.cfg.name,
        "appid": app.cfg.client_id,
        "appidacr": auth.acr(),
        "idp": format!("https://sts.windows.net/{tid}/"),
        "idtyp": "app",
        "oid": app.sp_object_id,
        "rh": format!("0.{}.", util::random_b64url(18)),
        "sub": app.sp_object_id,
        "tid": tid,
        "uti": util::random_b64url(16),
        "ver": "1.0",
    });
    if crate::scope::is_exchange(resource) && !app.cfg.app_roles.is_empty() {
        if let Some(obj) = claims.as_object_mut() {
            obj.insert("roles".into(), json!(app.cfg.app_roles));
        }
    }
    let access_token = shared.signer.sign(&claims).map_err(|_| server_error())?;
    inner.access.insert(
        access_key(&access_token),
        IssuedToken {
            client_id: app.cfg.client_id.clone(),
            username: None,
            claims,
            expires_at: exp,
            epoch: 0,
            expired_early: false,
        },
    );
    *inner.counters.issued.entry("client_credentials".to_owned()).or_default() += 1;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
}

fn server_error() -> AadError {
    AadError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        50_000,
        "There was an error issuing a token.",
    )
}
