//! Mail-server token validation in the shape Dovecot's oauth2 passdb expects.
//!
//! `GET /_emulator/introspect` with `Authorization: Bearer <token>` (Dovecot
//! `introspection_mode = auth`), `GET …?token=<token>` (mode `get`) or `POST token=<token>`
//! (mode `post`). Always HTTP 200: `{"active":true,"email":"<mailbox>",…}` for a token the
//! emulator issued and still holds valid, `{"active":false}` otherwise (Dovecot treats a 4xx
//! with an empty body, and any 5xx, as a temporary failure).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::{begin, AppState, Params};
use crate::scope;
use crate::state::{FaultEndpoint, Shared};
use crate::tokens;

pub(crate) async fn introspect_get(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, tok) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim().to_owned())
    });
    let token = bearer.or_else(|| q.get("token").or_else(|| q.get("access_token")).map(str::to_owned));
    respond(&shared, &headers, token.as_deref(), &q).await
}

pub(crate) async fn introspect_post(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    let form = Params::parse(&body);
    let token = form.get("token").or_else(|| form.get("access_token"));
    respond(&shared, &headers, token, &q).await
}

async fn respond(shared: &Shared, headers: &HeaderMap, token: Option<&str>, q: &Params) -> Response {
    let (ctx, fault) = begin(shared, headers, FaultEndpoint::Introspect, None).await;
    if let Some(r) = fault {
        return r;
    }
    let body = token.and_then(|t| check(shared, t, q.get("protocol"))).unwrap_or_else(|| json!({"active": false}));
    ctx.json_response(body)
}

/// The permission a protocol needs: delegated, app-only.
fn protocol_permissions(protocol: &str) -> Option<(&'static str, &'static str)> {
    match protocol.to_ascii_lowercase().as_str() {
        "imap" => Some(("IMAP.AccessAsUser.All", "IMAP.AccessAsApp")),
        "pop" | "pop3" => Some(("POP.AccessAsUser.All", "POP.AccessAsApp")),
        "smtp" | "submission" => Some(("SMTP.Send", "SMTP.SendAsApp")),
        _ => None,
    }
}

/// The introspection answer for a token the emulator issued and still holds valid.
pub(crate) fn check(shared: &Shared, token: &str, protocol: Option<&str>) -> Option<Value> {
    let inner = shared.lock();
    let rec = inner.access.get(&tokens::access_key(token))?;
    let now = inner.now();
    if rec.expired_early || rec.expires_at <= now {
        return None;
    }
    let aud = rec.claims.get("aud").and_then(Value::as_str).unwrap_or_default();
    if !scope::is_exchange(aud) {
        return None;
    }
    let scp = rec.claims.get("scp").and_then(Value::as_str).unwrap_or_default();
    let roles: Vec<&str> = rec
        .claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some((delegated, app_only)) = protocol.and_then(protocol_permissions) {
        let ok = scp.split(' ').any(|s| s.eq_ignore_ascii_case(delegated))
            || roles.iter().any(|r| r.eq_ignore_ascii_case(app_only));
        if !ok {
            return None;
        }
    }
    let email = match &rec.username {
        Some(u) => {
            let user = inner.user(u)?;
            if user.epoch != rec.epoch {
                return None;
            }
            user.mailbox.clone()
        }
        None => inner.app(&rec.client_id)?.cfg.mailboxes.first()?.clone(),
    };
    let mut out = json!({
        "active": true,
        "email": email,
        "client_id": rec.client_id,
        "aud": aud,
        "exp": rec.expires_at,
        "iat": rec.claims.get("iat").cloned().unwrap_or(Value::Null),
        "sub": rec.claims.get("sub").cloned().unwrap_or(Value::Null),
        "oid": rec.claims.get("oid").cloned().unwrap_or(Value::Null),
        "tid": rec.claims.get("tid").cloned().unwrap_or(Value::Null),
    });
    if let Some(obj) = out.as_object_mut() {
        if !scp.is_empty() {
            obj.insert("scope".into(), json!(scp));
            obj.insert("upn".into(), rec.claims.get("upn").cloned().unwrap_or(Value::Null));
        }
        if !roles.is_empty() {
            obj.insert("roles".into(), json!(roles.join(" ")));
        }
    }
    Some(out)
}
