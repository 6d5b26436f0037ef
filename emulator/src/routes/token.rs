//! `POST /{tenant}/oauth2/v2.0/token`: every grant.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{begin, AppState, Params};
use crate::aad::{self, AadError, RequestCtx};
use crate::scope::Scopes;
use crate::state::{normalize_grant, App, DeviceStatus, FaultEndpoint, Inner, Shared, TenantRef};
use crate::tokens::{self, ClientAuth, Delegated};
use crate::util;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew allowed for client assertions.
const SKEW: i64 = 300;

pub(crate) async fn token(
    State(shared): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(&body);
    let grant = p.get("grant_type").map(|g| normalize_grant(g).to_owned());
    let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::Token, grant.as_deref()).await;
    if let Some(r) = fault {
        return r;
    }
    match handle(&shared, &ctx, &seg, &headers, &p) {
        Ok(v) => ctx.json_response(v),
        Err(e) => ctx.error_response(&e),
    }
}

fn handle(shared: &Shared, ctx: &RequestCtx, seg: &str, headers: &HeaderMap, p: &Params) -> Result<Value, AadError> {
    let mut inner = shared.lock();
    let t = inner.resolve_tenant(seg).ok_or_else(|| aad::tenant_not_found(seg))?;
    let grant_raw = p.get("grant_type").ok_or_else(|| AadError::missing("grant_type"))?;
    let grant = normalize_grant(grant_raw);
    if !matches!(grant, "authorization_code" | "refresh_token" | "device_code" | "client_credentials" | "password") {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant_raw}'."),
        ));
    }
    let basic = basic_auth(headers);
    let client_id = p
        .get("client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()))
        .ok_or_else(|| AadError::missing("client_id"))?;
    let app = inner.app_for_tenant(&client_id, &t)?.clone();
    let secret = p.get("client_secret").map(str::to_owned).or_else(|| basic.map(|b| b.1));
    let auth = authenticate_client(&mut inner, &shared.base_url, seg, &t, &app, secret.as_deref(), p, grant)?;
    let client_info = p.get("client_info") == Some("1");
    match grant {
        "authorization_code" => authorization_code(shared, &mut inner, &t, &app, auth, p, client_info),
        "device_code" => device_code(shared, &mut inner, &t, &app, auth, p, client_info),
        "refresh_token" => refresh_token(shared, &mut inner, &t, &app, auth, p, client_info),
        "client_credentials" => client_credentials(shared, &mut inner, &t, &app, auth, p),
        _ => password(shared, &mut inner, &t, &app, auth, p, client_info, ctx),
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(util::b64_std_decode(rest)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

#[allow(clippy::too_many_arguments)]
fn authenticate_client(
    inner: &mut Inner,
    base_url: &str,
    seg: &str,
    t: &TenantRef,
    app: &App,
    secret: Option<&str>,
    p: &Params,
    grant: &str,
) -> Result<ClientAuth, AadError> {
    let assertion = p.get("client_assertion");
    if secret.is_none() && assertion.is_none() {
        let allowed = match grant {
            "authorization_code" | "refresh_token" => app.cfg.public_client || app.cfg.allow_public_client_flows,
            "device_code" | "password" => app.cfg.allow_public_client_flows,
            _ => false,
        };
        return if allowed { Ok(ClientAuth::None) } else { Err(aad::missing_client_credential()) };
    }
    if app.cfg.public_client {
        return Err(aad::public_client_sent_secret());
    }
    if let Some(jwt) = assertion {
        match p.get("client_assertion_type") {
            None => return Err(AadError::missing("client_assertion_type")),
            Some(JWT_BEARER) => {}
            Some(other) => {
                return Err(AadError::invalid_request(
                    50_027,
                    format!("Invalid client_assertion_type '{other}'; expected '{JWT_BEARER}'."),
                ))
            }
        }
        verify_assertion(inner, base_url, seg, t, app, jwt)?;
        return Ok(ClientAuth::Certificate);
    }
    let secret = secret.unwrap_or_default();
    if app.cfg.secrets.iter().any(|s| util::secret_eq(s, secret)) {
        Ok(ClientAuth::Secret)
    } else {
        Err(aad::invalid_secret(&app.cfg.client_id))
    }
}

fn assertion_error(reason: &str) -> AadError {
    AadError::invalid_client(700_027, format!("Client assertion failed signature validation. [Reason - {reason}]"))
}

/// Verifies a certificate client assertion: RS256 + `x5t` or PS256 + `x5t#S256`, signed by a
/// certificate registered on the app, `aud` = this token endpoint, `iss` = `sub` = client id,
/// `exp`/`nbf` within range, `jti` not seen before.
fn verify_assertion(
    inner: &mut Inner,
    base_url: &str,
    seg: &str,
    t: &TenantRef,
    app: &App,
    jwt: &str,
) -> Result<(), AadError> {
    let malformed = || AadError::invalid_request(50_027, "JWT token is invalid or malformed.");
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let header: Value =
        util::b64url_decode(parts[0]).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(malformed)?;
    let claims: Value =
        util::b64url_decode(parts[1]).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(malformed)?;
    let sig = util::b64url_decode(parts[2]).ok_or_else(malformed)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if alg != "RS256" && alg != "PS256" {
        return Err(assertion_error(&format!("The algorithm '{alg}' is not supported; use PS256 or RS256.")));
    }
    let s256 = header.get("x5t#S256").and_then(Value::as_str);
    let s1 = header.get("x5t").and_then(Value::as_str);
    let kid = header.get("kid").and_then(Value::as_str);
    // x5t#S256 (current doc, PS256) wins over x5t (older doc, RS256); a hex `kid` is a
    // last resort.
    let cert = app.certs.iter().find(|c| {
        s256.is_some_and(|v| c.matches_thumbprint(v))
            || s1.is_some_and(|v| c.matches_thumbprint(v))
            || kid.is_some_and(|v| c.matches_thumbprint(v))
    });
    let Some(cert) = cert else {
        let used = s256.or(s1).or(kid).unwrap_or("none");
        return Err(AadError::invalid_client(
            700_027,
            format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{used}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]", app.cfg.client_id),
        ));
    };
    let input = format!("{}.{}", parts[0], parts[1]);
    if !cert.verify(alg, input.as_bytes(), &sig) {
        return Err(assertion_error("The signature does not verify with the registered certificate."));
    }
    let now = inner.now();
    if now < cert.not_before || now > cert.not_after {
        return Err(assertion_error("The key used is expired."));
    }
    let client_id = &app.cfg.client_id;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    if !iss.eq_ignore_ascii_case(client_id) || !sub.eq_ignore_ascii_case(client_id) {
        return Err(AadError::invalid_client(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let mut segments = vec![seg.to_ascii_lowercase()];
    if let TenantRef::Tenant(id) = t {
        segments.push(id.clone());
        if let Some(tn) = inner.tenant(id) {
            segments.extend(tn.domains.iter().cloned());
        }
    }
    let aud_ok = |a: &str| {
        segments.iter().any(|s| {
            a.eq_ignore_ascii_case(&format!("{base_url}/{s}/oauth2/v2.0/token"))
                || a.eq_ignore_ascii_case(&format!("{base_url}/{s}/oauth2/token"))
        })
    };
    let aud_valid = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud_valid {
        return Err(assertion_error(&format!(
            "The audience claim is not valid. Expected '{base_url}/{seg}/oauth2/v2.0/token'."
        )));
    }
    // NumericDate may be fractional (MSAL Python sends `time.time()` floats).
    let num = |k: &str| claims.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
    let exp = num("exp");
    let nbf = num("nbf");
    let Some(exp) = exp else {
        return Err(assertion_error("The assertion has no 'exp' claim."));
    };
    if exp.saturating_add(SKEW) < now || nbf.is_some_and(|n| n.saturating_sub(SKEW) > now) {
        return Err(AadError::invalid_client(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                util::rfc3339(now),
                nbf.map_or_else(|| "unknown".to_owned(), util::rfc3339),
                util::rfc3339(exp)
            ),
        ));
    }
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Err(assertion_error("The assertion has no 'jti' claim."));
    };
    let key = (client_id.to_ascii_lowercase(), jti.to_owned());
    if inner.used_jtis.contains_key(&key) {
        return Err(assertion_error("The 'jti' of this client assertion was already used (replay)."));
    }
    inner.used_jtis.insert(key, exp);
    Ok(())
}

fn same_tenant(issued: &TenantRef, now: &TenantRef, user_tid: &str) -> bool {
    issued == now || (issued.is_alias() && *now == TenantRef::Tenant(user_tid.to_owned()))
}

/// An optional `scope` on redemption: validated, merged with the original OIDC scopes.
fn redemption_scopes(inner: &Inner, t: &TenantRef, original: &Scopes, p: &Params) -> Result<Scopes, AadError> {
    let Some(raw) = p.get("scope") else {
        return Ok(original.clone());
    };
    let mut s = Scopes::parse(raw);
    s.validate(&inner.tenant_display(t), &[])?;
    if s.resource_scopes.is_empty() {
        s.resource_scopes = original.resource_scopes.clone();
    }
    for o in &original.oidc {
        if !s.oidc.contains(o) {
            s.oidc.push(o.clone());
        }
    }
    Ok(s)
}

fn authorization_code(
    shared: &Shared,
    inner: &mut Inner,
    t: &TenantRef,
    app: &App,
    auth: ClientAuth,
    p: &Params,
    client_info: bool,
) -> Result<Value, AadError> {
    let code = p.get("code").ok_or_else(|| AadError::missing("code"))?;
    let now = inner.now();
    let rec = inner
        .codes
        .get(code)
        .cloned()
        .ok_or_else(|| AadError::invalid_grant(70_000, "Provided grant is invalid or malformed."))?;
    if rec.redeemed {
        return Err(AadError::invalid_grant(
            54_005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if now >= rec.expires_at {
        return Err(AadError::invalid_grant(
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !rec.client_id.eq_ignore_ascii_case(&app.cfg.client_id) {
        return Err(AadError::invalid_grant(
            70_000,
            "Provided grant is invalid or malformed. The code was issued to a different client.",
        )
        .with_suberror("client_mismatch"));
    }
    let user = inner
        .user(&rec.username)
        .cloned()
        .ok_or_else(|| AadError::invalid_grant(70_000, "Provided grant is invalid or malformed."))?;
    if !same_tenant(&rec.tenant, t, &user.tenant_id) {
        return Err(AadError::invalid_grant(
            700_005,
            "Provided Authorization Code is intended to use against other tenant, thus rejected.",
        ));
    }
    let redirect = p.get("redirect_uri").ok_or_else(|| AadError::missing("redirect_uri"))?;
    if redirect != rec.redirect_uri {
        return Err(AadError::invalid_grant(
            500_112,
            format!("The reply address '{redirect}' does not match the reply address '{}' provided when requesting Authorization code.", rec.redirect_uri),
        ));
    }
    if let Some((challenge, method)) = &rec.code_challenge {
        let verifier = p.get("code_verifier").unwrap_or_default();
        let ok = match method.as_str() {
            "S256" => util::b64url(Sha256::digest(verifier.as_bytes())) == *challenge,
            _ => verifier == challenge,
        };
        if !ok {
            return Err(AadError::invalid_grant(
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let scopes = redemption_scopes(inner, t, &rec.scopes, p)?;
    if let Some(c) = inner.codes.get_mut(code) {
        c.redeemed = true;
    }
    tokens::issue_delegated(
        shared,
        inner,
        &Delegated {
            app,
            user: &user,
            scopes: &scopes,
            nonce: rec.nonce.as_deref(),
            client_info,
            auth,
            grant: "authorization_code",
            interactive: true,
        },
    )
}

fn device_error(error: &str, code: u32, message: &str) -> AadError {
    AadError::new(StatusCode::BAD_REQUEST, error, code, message)
}

fn device_code(
    shared: &Shared,
    inner: &mut Inner,
    t: &TenantRef,
    app: &App,
    auth: ClientAuth,
    p: &Params,
    client_info: bool,
) -> Result<Value, AadError> {
    let dc = p.get("device_code").or_else(|| p.get("code")).ok_or_else(|| AadError::missing("device_code"))?;
    let now_ms = inner.now_ms();
    let bad = || {
        device_error(
            "bad_verification_code",
            70_018,
            "Invalid verification code. The device_code sent to the /token endpoint wasn't recognized.",
        )
    };
    let rec = inner.device_codes.get_mut(dc).ok_or_else(bad)?;
    if !rec.client_id.eq_ignore_ascii_case(&app.cfg.client_id) || rec.tenant != *t {
        return Err(bad());
    }
    if now_ms >= rec.expires_at.saturating_mul(1000) {
        return Err(device_error(
            "expired_token",
            70_020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        ));
    }
    let too_fast = rec.last_poll_ms.is_some_and(|last| now_ms - last < rec.interval_ms);
    rec.last_poll_ms = Some(now_ms);
    let status = rec.status.clone();
    if too_fast && status == DeviceStatus::Pending {
        rec.interval_ms = rec.interval_ms.saturating_add(5000);
        return Err(device_error(
            "slow_down",
            70_016,
            "OAuth 2.0 device flow error. Polling too frequently: wait at least the interval (now 5 seconds longer) between polls.",
        ));
    }
    match status {
        DeviceStatus::Pending => Err(device_error(
            "authorization_pending",
            70_016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        DeviceStatus::Declined => {
            Err(device_error("authorization_declined", 70_000, "The user has declined the authorization request."))
        }
        DeviceStatus::Approved(username) => {
            let scopes = rec.scopes.clone();
            inner.device_codes.remove(dc);
            let user = inner.user(&username).cloned().ok_or_else(bad)?;
            tokens::issue_delegated(
                shared,
                inner,
                &Delegated {
                    app,
                    user: &user,
                    scopes: &scopes,
                    nonce: None,
                    client_info,
                    auth,
                    grant: "device_code",
                    interactive: true,
                },
            )
        }
    }
}

fn refresh_token(
    shared: &Shared,
    inner: &mut Inner,
    t: &TenantRef,
    app: &App,
    auth: ClientAuth,
    p: &Params,
    client_info: bool,
) -> Result<Value, AadError> {
    let rt = p.get("refresh_token").ok_or_else(|| AadError::missing("refresh_token"))?;
    if !rt.starts_with("1.A") || rt.len() < 100 {
        return Err(AadError::invalid_grant(9_002_313, "Invalid request. Request is malformed or invalid."));
    }
    let key = tokens::refresh_key(rt);
    let grant = inner
        .refresh
        .get(&key)
        .cloned()
        .ok_or_else(|| AadError::invalid_grant(70_000, "Provided grant is invalid or malformed."))?;
    if !grant.client_id.eq_ignore_ascii_case(&app.cfg.client_id) {
        return Err(AadError::invalid_grant(
            70_000,
            "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
        )
        .with_suberror("client_mismatch"));
    }
    let user = inner
        .user(&grant.username)
        .cloned()
        .ok_or_else(|| AadError::invalid_grant(70_000, "Provided grant is invalid or malformed."))?;
    let now = inner.now();
    if grant.epoch != user.epoch {
        return Err(AadError::invalid_grant(
            50_173,
            format!("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is later.", util::rfc3339(grant.issued_at)),
        ));
    }
    let max_inactive = inner.settings().rt_max_inactive;
    if now - grant.last_used > max_inactive {
        return Err(AadError::invalid_grant(
            700_082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for {}.",
                util::rfc3339(grant.issued_at),
                inactive(now - grant.last_used)
            ),
        ));
    }
    inner.check_user_tenant(&user, t)?;
    if !user.has_consented(&app.cfg.client_id) {
        return Err(aad::by_code(65_001, &app.cfg.client_id));
    }
    let mut scopes = redemption_scopes(inner, t, &grant.scopes, p)?;
    if !scopes.has("offline_access") {
        scopes.oidc.push("offline_access".into());
    }
    if let Some(g) = inner.refresh.get_mut(&key) {
        g.last_used = now;
    }
    tokens::issue_delegated(
        shared,
        inner,
        &Delegated {
            app,
            user: &user,
            scopes: &scopes,
            nonce: None,
            client_info,
            auth,
            grant: "refresh_token",
            interactive: false,
        },
    )
}

fn inactive(secs: i64) -> String {
    format!("{}.{:02}:{:02}:{:02}", secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60)
}

fn alias_grant_error() -> AadError {
    AadError::invalid_request(
        9_001_023,
        "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
    )
}

fn client_credentials(
    shared: &Shared,
    inner: &mut Inner,
    t: &TenantRef,
    app: &App,
    auth: ClientAuth,
    p: &Params,
) -> Result<Value, AadError> {
    let TenantRef::Tenant(tid) = t else {
        return Err(AadError::invalid_request(
            9_001_023,
            "The grant type isn't supported over the /common, /consumers or /organizations endpoints. Please use a tenant-specific endpoint (tenant id or domain).",
        ));
    };
    let raw = p.get("scope").ok_or_else(|| AadError::missing("scope"))?;
    let scopes = Scopes::parse(raw);
    if scopes.resource_scopes.is_empty()
        || scopes.resource_scopes.iter().any(|(_, perm)| perm != ".default")
        || !scopes.oidc.is_empty()
    {
        return Err(AadError::invalid_scope(
            1_002_012,
            format!("The provided value for scope {raw} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    }
    let resources = scopes.resources();
    if resources.len() > 1 {
        return Err(AadError::invalid_scope(
            700_022,
            format!("The provided value for the input parameter scope is not valid because it contains more than one resource. The scope {raw} is not valid."),
        ));
    }
    scopes.validate(&inner.tenant_display(t), &[])?;
    let resource = resources.into_iter().next().unwrap_or_default();
    let tid = tid.clone();
    tokens::issue_app_only(shared, inner, app, &resource, &tid, auth)
}

#[allow(clippy::too_many_arguments)]
fn password(
    shared: &Shared,
    inner: &mut Inner,
    t: &TenantRef,
    app: &App,
    auth: ClientAuth,
    p: &Params,
    client_info: bool,
    _ctx: &RequestCtx,
) -> Result<Value, AadError> {
    if matches!(t, TenantRef::Common | TenantRef::Consumers) {
        return Err(alias_grant_error());
    }
    let username = p.get("username").ok_or_else(|| AadError::missing("username"))?;
    let password = p.get("password").ok_or_else(|| AadError::missing("password"))?;
    let raw = p.get("scope").ok_or_else(|| AadError::missing("scope"))?;
    let scopes = Scopes::parse(raw);
    scopes.validate(&inner.tenant_display(t), &[])?;
    let user = inner.user(username).cloned().ok_or_else(|| {
        AadError::invalid_grant(
            50_034,
            format!("The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.", inner.tenant_display(t)),
        )
    })?;
    inner.check_user_tenant(&user, t)?;
    if !util::secret_eq(&user.cfg.password, password) {
        return Err(aad::bad_credentials());
    }
    if user.cfg.mfa_required {
        return Err(AadError::invalid_grant(
            50_076,
            format!("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{}'.", scopes.delegated_grant().0),
        )
        .with_suberror("basic_action"));
    }
    if !user.has_consented(&app.cfg.client_id) {
        return Err(aad::by_code(65_001, &app.cfg.client_id));
    }
    tokens::issue_delegated(
        shared,
        inner,
        &Delegated {
            app,
            user: &user,
            scopes: &scopes,
            nonce: None,
            client_info,
            auth,
            grant: "password",
            interactive: false,
        },
    )
}
