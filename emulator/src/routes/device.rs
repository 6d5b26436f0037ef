//! `POST /{tenant}/oauth2/v2.0/devicecode` and the device sign-in page `/devicelogin`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{begin, AppState, Params};
use crate::aad::{self, AadError};
use crate::scope::Scopes;
use crate::state::{DeviceCode, DeviceStatus, FaultEndpoint, Inner};
use crate::util;

pub(crate) async fn devicecode(
    State(shared): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::DeviceCode, None).await;
    if let Some(r) = fault {
        return r;
    }
    let p = Params::parse(&body);
    let result = (|| {
        let mut inner = shared.lock();
        let t = inner.resolve_tenant(&seg).ok_or_else(|| aad::tenant_not_found(&seg))?;
        let client_id = p.get("client_id").ok_or_else(|| AadError::missing("client_id"))?;
        inner.app_for_tenant(client_id, &t)?;
        let raw = p.get("scope").ok_or_else(|| AadError::missing("scope"))?;
        let scopes = Scopes::parse(raw);
        scopes.validate(&inner.tenant_display(&t), &[])?;
        let settings = inner.settings();
        let now = inner.now();
        let device_code = format!("DAQABIQEAAAD{}", util::random_b64url(120));
        let mut user_code = util::user_code();
        while inner.device_codes.values().any(|d| d.user_code == user_code) {
            user_code = util::user_code();
        }
        let mut status = DeviceStatus::Pending;
        if let Some(u) = settings.auto_approve_as.as_deref() {
            if let Some(user) = inner.user(u) {
                if inner.check_user_tenant(user, &t).is_ok() {
                    status = DeviceStatus::Approved(user.cfg.username.clone());
                }
            }
        }
        inner.device_codes.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                client_id: client_id.to_owned(),
                scopes,
                tenant: t,
                expires_at: now + settings.device_code_lifetime,
                interval_ms: settings.device_code_interval.saturating_mul(1000),
                last_poll_ms: None,
                status,
            },
        );
        let uri = format!("{}/devicelogin", shared.base_url);
        Ok::<_, AadError>(json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": settings.device_code_lifetime,
            "interval": settings.device_code_interval,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }))
    })();
    match result {
        Ok(v) => ctx.json_response(v),
        Err(e) => ctx.error_response(&e),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct DeviceQuery {
    otc: Option<String>,
}

fn page(status: StatusCode, user_code: &str, message: &str, error: Option<&str>) -> Response {
    let err_html = error
        .map_or_else(String::new, |e| format!("<p id=\"error\" style=\"color:#a00\">{}</p>", util::html_escape(e)));
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Enter code</title></head><body>\
         <h1>Enter code</h1><p id=\"message\">{}</p>{err_html}\
         <form method=\"post\" action=\"/devicelogin\">\
         <label>Code <input name=\"user_code\" value=\"{}\" autocomplete=\"off\"></label><br>\
         <label>Email, phone, or Skype <input name=\"username\" autocomplete=\"username\"></label><br>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label><br>\
         <button name=\"action\" value=\"approve\" type=\"submit\">Sign in and continue</button> \
         <button name=\"action\" value=\"deny\" type=\"submit\">Cancel</button>\
         </form></body></html>",
        util::html_escape(message),
        util::html_escape(user_code)
    );
    (status, Html(body)).into_response()
}

pub(crate) async fn device_page(State(shared): State<AppState>, Query(q): Query<DeviceQuery>) -> Response {
    shared.lock().count_request("devicelogin");
    page(
        StatusCode::OK,
        q.otc.as_deref().unwrap_or_default(),
        "Enter the code displayed on your app or device, then sign in.",
        None,
    )
}

/// Finds a pending device code by user code (case-insensitive, dashes and spaces ignored).
pub(crate) fn find_user_code(inner: &Inner, user_code: &str) -> Option<String> {
    let want: String = user_code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
    let now = inner.now();
    inner.device_codes.iter().find(|(_, d)| d.user_code == want && d.expires_at > now).map(|(k, _)| k.clone())
}

/// Approves (`Some(username)`) or declines (`None`) a device code. The user must exist and
/// be allowed under the code's tenant. Approval records consent.
pub(crate) fn decide(inner: &mut Inner, user_code: &str, approve_as: Option<&str>) -> Result<(), String> {
    let key = find_user_code(inner, user_code)
        .ok_or_else(|| "AADSTS70018: We didn't recognize this code, or it has expired.".to_owned())?;
    let Some(dc) = inner.device_codes.get(&key).cloned() else {
        return Err("AADSTS70018: We didn't recognize this code.".into());
    };
    if dc.status != DeviceStatus::Pending {
        return Err("This code was already used.".into());
    }
    let status = match approve_as {
        None => DeviceStatus::Declined,
        Some(username) => {
            let user = inner
                .user(username)
                .cloned()
                .ok_or_else(|| format!("AADSTS50034: The user account {username} does not exist."))?;
            inner.check_user_tenant(&user, &dc.tenant).map_err(|e| e.headline())?;
            if let Some(u) = inner.user_mut(username) {
                u.consents.insert(dc.client_id.to_ascii_lowercase());
            }
            DeviceStatus::Approved(user.cfg.username)
        }
    };
    if let Some(d) = inner.device_codes.get_mut(&key) {
        d.status = status;
    }
    Ok(())
}

pub(crate) async fn device_submit(State(shared): State<AppState>, body: Bytes) -> Response {
    let p = Params::parse(&body);
    let user_code = p.get("user_code").or_else(|| p.get("otc")).unwrap_or_default();
    let mut inner = shared.lock();
    inner.count_request("devicelogin");
    let action = p.get("action").unwrap_or("approve");
    if action == "deny" {
        return match decide(&mut inner, user_code, None) {
            Ok(()) => {
                page(StatusCode::OK, "", "You declined the sign-in request. You may now close this window.", None)
            }
            Err(e) => page(
                StatusCode::BAD_REQUEST,
                user_code,
                "Enter the code displayed on your app or device, then sign in.",
                Some(&e),
            ),
        };
    }
    let username = p.get("username").unwrap_or_default();
    let password = p.get("password").unwrap_or_default();
    if find_user_code(&inner, user_code).is_none() {
        return page(
            StatusCode::BAD_REQUEST,
            user_code,
            "Enter the code displayed on your app or device, then sign in.",
            Some("AADSTS70018: We didn't recognize this code, or it has expired."),
        );
    }
    let valid = inner.user(username).is_some_and(|u| util::secret_eq(&u.cfg.password, password));
    if !valid {
        return page(
            StatusCode::BAD_REQUEST,
            user_code,
            "Enter the code displayed on your app or device, then sign in.",
            Some(&aad::bad_credentials().headline()),
        );
    }
    match decide(&mut inner, user_code, Some(username)) {
        Ok(()) => page(
            StatusCode::OK,
            "",
            "You have signed in to the application on your device. You may now close this window.",
            None,
        ),
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            user_code,
            "Enter the code displayed on your app or device, then sign in.",
            Some(&e),
        ),
    }
}
