//! `GET /{tenant}/oauth2/v2.0/authorize` and the sign-in + consent page it serves.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::{begin, error_page_html, AppState, Params};
use crate::aad::{self, AadError, RequestCtx};
use crate::scope::Scopes;
use crate::state::{AuthCode, FaultEndpoint, Inner, PendingAuthorize, Shared, TenantRef};
use crate::tokens;
use crate::util;

const SESSION_COOKIE: &str = "ESTSAUTH";

/// A validated authorization request.
#[derive(Clone, Debug)]
struct Validated {
    client_id: String,
    app_name: String,
    tenant: TenantRef,
    redirect_uri: String,
    response_mode: String,
    state: Option<String>,
    scopes: Scopes,
    challenge: Option<(String, String)>,
    nonce: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
    client_info: bool,
}

enum Reject {
    /// Shown on Microsoft's error page: the redirect URI cannot be trusted.
    Page(AadError),
    /// Sent back to the (validated) redirect URI.
    Redirect(AadError, Box<Validated>),
}

/// Loopback rules from Microsoft's redirect-URI doc: for `localhost` and `127.0.0.1` the port
/// is ignored; `http` only for those hosts; `[::1]` never matches; otherwise exact match.
fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(r), Ok(q)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = matches!(r.host_str(), Some("localhost" | "127.0.0.1"));
    if loopback {
        return r.scheme() == q.scheme()
            && r.host_str() == q.host_str()
            && r.path() == q.path()
            && r.query() == q.query()
            && q.fragment().is_none();
    }
    // "https://app.example" and "https://app.example/" are the same URL.
    r == q && r.path() == "/"
}

#[allow(clippy::result_large_err)] // built once per request; boxing buys nothing here
fn validate(inner: &Inner, seg: &str, p: &Params) -> Result<Validated, Reject> {
    let tenant = inner.resolve_tenant(seg).ok_or_else(|| Reject::Page(aad::tenant_not_found(seg)))?;
    let client_id = p.get("client_id").ok_or_else(|| Reject::Page(AadError::missing("client_id")))?;
    let app = inner.app_for_tenant(client_id, &tenant).map_err(Reject::Page)?;
    let redirect_uri = p.get("redirect_uri").ok_or_else(|| Reject::Page(AadError::missing("redirect_uri")))?;
    if !app.cfg.redirect_uris.iter().any(|r| redirect_matches(r, redirect_uri)) {
        return Err(Reject::Page(AadError::invalid_request(
            50_011,
            format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."),
        )));
    }
    let mut v = Validated {
        client_id: app.cfg.client_id.clone(),
        app_name: app.cfg.name.clone(),
        tenant: tenant.clone(),
        redirect_uri: redirect_uri.to_owned(),
        response_mode: "query".into(),
        state: p.get("state").map(str::to_owned),
        scopes: Scopes::default(),
        challenge: None,
        nonce: p.get("nonce").map(str::to_owned),
        prompt: p.get("prompt").map(str::to_owned),
        login_hint: p.get("login_hint").map(str::to_owned),
        client_info: p.get("client_info") == Some("1"),
    };
    match p.get("response_mode") {
        None => {}
        Some(m @ ("query" | "fragment" | "form_post")) => v.response_mode = m.to_owned(),
        Some(other) => {
            return Err(Reject::Redirect(
                AadError::invalid_request(900_352, format!("Invalid response_mode '{other}'.")),
                Box::new(v),
            ))
        }
    }
    match p.get("response_type") {
        None => return Err(Reject::Redirect(AadError::missing("response_type"), Box::new(v))),
        Some("code") => {}
        Some(other) => {
            let e = AadError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                700_054,
                format!("response_type '{other}' is not enabled for the application (the emulator supports 'code')."),
            );
            return Err(Reject::Redirect(e, Box::new(v)));
        }
    }
    let Some(raw_scope) = p.get("scope") else {
        return Err(Reject::Redirect(AadError::missing("scope"), Box::new(v)));
    };
    let scopes = Scopes::parse(raw_scope);
    if let Err(e) = scopes.validate(&inner.tenant_display(&tenant), &[]) {
        return Err(Reject::Redirect(e, Box::new(v)));
    }
    v.scopes = scopes;
    if let Some(method) = p.get("code_challenge_method") {
        if method != "S256" && method != "plain" {
            return Err(Reject::Redirect(
                AadError::invalid_request(
                    501_492,
                    format!("Invalid code_challenge_method '{method}'. Supported values are S256 and plain."),
                ),
                Box::new(v),
            ));
        }
        if p.get("code_challenge").is_none() {
            return Err(Reject::Redirect(AadError::missing("code_challenge"), Box::new(v)));
        }
    }
    if let Some(challenge) = p.get("code_challenge") {
        let method = p.get("code_challenge_method").unwrap_or("plain");
        let unreserved = challenge.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
        let size_ok = if method == "S256" { challenge.len() == 43 } else { (43..=128).contains(&challenge.len()) };
        if !size_ok || !unreserved {
            return Err(Reject::Redirect(
                AadError::invalid_request(501_491, "Invalid size of Code_Challenge parameter."),
                Box::new(v),
            ));
        }
        v.challenge = Some((challenge.to_owned(), method.to_owned()));
    }
    if let Some(prompt) = &v.prompt {
        if !matches!(prompt.as_str(), "none" | "login" | "consent" | "select_account" | "create") {
            let e = AadError::invalid_request(90_023, format!("Invalid prompt value '{prompt}'."));
            return Err(Reject::Redirect(e, Box::new(v)));
        }
    }
    Ok(v)
}

/// Builds the response to the redirect URI (query, fragment or form_post).
fn respond_to_client(ctx: &RequestCtx, v: &Validated, pairs: &[(&str, String)], cookie: Option<String>) -> Response {
    let mut all: Vec<(&str, String)> = pairs.to_vec();
    if let Some(s) = &v.state {
        all.push(("state", s.clone()));
    }
    let mut resp = if v.response_mode == "form_post" {
        let inputs: String = all
            .iter()
            .map(|(k, val)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    util::html_escape(k),
                    util::html_escape(val)
                )
            })
            .collect();
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Working...</title></head>\
             <body onload=\"document.forms[0].submit()\"><form method=\"POST\" action=\"{}\">{inputs}\
             <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
            util::html_escape(&v.redirect_uri)
        );
        (StatusCode::OK, Html(body)).into_response()
    } else {
        let mut url = match url::Url::parse(&v.redirect_uri) {
            Ok(u) => u,
            Err(_) => return error_page_html(ctx, &AadError::missing("redirect_uri")),
        };
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter().map(|(k, val)| (*k, val.as_str())))
            .finish();
        if v.response_mode == "fragment" {
            url.set_fragment(Some(&encoded));
        } else {
            let q = match url.query() {
                Some(existing) if !existing.is_empty() => format!("{existing}&{encoded}"),
                _ => encoded,
            };
            url.set_query(Some(&q));
        }
        let mut r = StatusCode::FOUND.into_response();
        if let Ok(loc) = HeaderValue::from_str(url.as_str()) {
            r.headers_mut().insert(header::LOCATION, loc);
        }
        r
    };
    if let Some(c) = cookie {
        if let Ok(h) = HeaderValue::from_str(&c) {
            resp.headers_mut().insert(header::SET_COOKIE, h);
        }
    }
    ctx.decorate(resp)
}

fn redirect_error(ctx: &RequestCtx, err: &AadError, v: &Validated) -> Response {
    respond_to_client(ctx, v, &[("error", err.error.clone()), ("error_description", ctx.description(err))], None)
}

/// Issues the code for `username` and redirects.
fn complete(
    shared: &Shared,
    inner: &mut Inner,
    ctx: &RequestCtx,
    v: &Validated,
    username: &str,
    new_session: bool,
) -> Response {
    let Some(user) = inner.user(username).cloned() else {
        return redirect_error(ctx, &aad::bad_credentials(), v);
    };
    if let Err(e) = inner.check_user_tenant(&user, &v.tenant) {
        let mut e = e;
        e.error = "access_denied".into();
        return redirect_error(ctx, &e, v);
    }
    if let Some(u) = inner.user_mut(username) {
        u.consents.insert(v.client_id.to_ascii_lowercase());
    }
    let now = inner.now();
    let code = format!("1.A{}", util::random_b64url(150));
    inner.codes.insert(
        code.clone(),
        AuthCode {
            client_id: v.client_id.clone(),
            username: user.cfg.username.clone(),
            redirect_uri: v.redirect_uri.clone(),
            scopes: v.scopes.clone(),
            code_challenge: v.challenge.clone(),
            tenant: v.tenant.clone(),
            nonce: v.nonce.clone(),
            expires_at: now + inner.settings().code_lifetime,
            redeemed: false,
        },
    );
    let mut pairs = vec![("code", code)];
    if v.client_info {
        pairs.push(("client_info", tokens::client_info(&user)));
    }
    pairs.push(("session_state", util::guid()));
    let cookie = if new_session {
        let sid = util::random_b64url(32);
        inner.sessions.insert(sid.clone(), user.cfg.username.clone());
        Some(format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"))
    } else {
        None
    };
    let _ = shared;
    respond_to_client(ctx, v, &pairs, cookie)
}

fn session_user(inner: &Inner, headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| {
        let (k, val) = c.trim().split_once('=')?;
        if k == SESSION_COOKIE {
            inner.sessions.get(val).cloned()
        } else {
            None
        }
    })
}

fn sign_in_page(seg: &str, request_id: &str, v: &Validated, error: Option<&str>, status: StatusCode) -> Response {
    let err_html = error
        .map_or_else(String::new, |e| format!("<p id=\"error\" style=\"color:#a00\">{}</p>", util::html_escape(e)));
    let scopes: String =
        v.scopes.to_scope_string().split(' ').map(|s| format!("<li>{}</li>", util::html_escape(s))).collect();
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head><body>\
         <h1>Sign in</h1><p>to continue to <strong id=\"app\">{app}</strong></p>{err_html}\
         <form method=\"post\" action=\"/{seg}/oauth2/v2.0/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{rid}\">\
         <label>Email, phone, or Skype <input name=\"login\" value=\"{hint}\" autocomplete=\"username\"></label><br>\
         <label>Password <input name=\"passwd\" type=\"password\" autocomplete=\"current-password\"></label><br>\
         <p>Permissions requested:</p><ul id=\"scopes\">{scopes}</ul>\
         <button name=\"action\" value=\"accept\" type=\"submit\">Sign in and accept</button> \
         <button name=\"action\" value=\"cancel\" type=\"submit\">Cancel</button>\
         </form></body></html>",
        app = util::html_escape(&v.app_name),
        seg = util::html_escape(seg),
        rid = util::html_escape(request_id),
        hint = util::html_escape(v.login_hint.as_deref().unwrap_or_default()),
    );
    (status, Html(body)).into_response()
}

/// Handles an authorization request (from the query string or a POSTed form).
fn start(shared: &Shared, ctx: &RequestCtx, seg: &str, headers: &HeaderMap, p: Params) -> Response {
    let mut inner = shared.lock();
    let v = match validate(&inner, seg, &p) {
        Ok(v) => v,
        Err(Reject::Page(e)) => return error_page_html(ctx, &e),
        Err(Reject::Redirect(e, v)) => return redirect_error(ctx, &e, &v),
    };
    let settings = inner.settings();
    let hinted = v
        .login_hint
        .as_deref()
        .and_then(|h| inner.user(h))
        .filter(|u| u.cfg.auto_approve || settings.auto_approve_as.is_some())
        .map(|u| u.cfg.username.clone());
    let auto = hinted
        .or_else(|| settings.auto_approve_as.as_deref().and_then(|u| inner.user(u)).map(|u| u.cfg.username.clone()));
    if let Some(username) = auto {
        return complete(shared, &mut inner, ctx, &v, &username, true);
    }
    let prompt = v.prompt.as_deref();
    if !matches!(prompt, Some("login" | "consent" | "select_account" | "create")) {
        if let Some(username) = session_user(&inner, headers) {
            let consented = inner.user(&username).is_some_and(|u| u.has_consented(&v.client_id));
            if consented && inner.user(&username).is_some_and(|u| inner.check_user_tenant(u, &v.tenant).is_ok()) {
                return complete(shared, &mut inner, ctx, &v, &username, false);
            }
            if prompt == Some("none") {
                let e = AadError::new(StatusCode::BAD_REQUEST, "consent_required", 65_001, format!("The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource.", v.client_id));
                return redirect_error(ctx, &e, &v);
            }
        }
    }
    if prompt == Some("none") {
        let e = AadError::new(
            StatusCode::BAD_REQUEST,
            "login_required",
            50_058,
            "A silent sign-in request was sent but no user is signed in.",
        );
        return redirect_error(ctx, &e, &v);
    }
    let rid = util::random_b64url(24);
    let expires_at = inner.now() + 1800;
    inner.pending.insert(rid.clone(), PendingAuthorize { params: p.0, tenant_segment: seg.to_owned(), expires_at });
    ctx.decorate(sign_in_page(seg, &rid, &v, None, StatusCode::OK))
}

pub(crate) async fn get_authorize(
    State(shared): State<AppState>,
    Path(seg): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::Authorize, None).await;
    if let Some(r) = fault {
        return r;
    }
    let p = Params::parse(query.unwrap_or_default().as_bytes());
    start(&shared, &ctx, &seg, &headers, p)
}

/// POST: either the sign-in page's form (has `request`) or an authorization request sent as
/// a form body.
pub(crate) async fn post_authorize(
    State(shared): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body);
    let Some(rid) = form.get("request").map(str::to_owned) else {
        let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::Authorize, None).await;
        if let Some(r) = fault {
            return r;
        }
        return start(&shared, &ctx, &seg, &headers, form);
    };
    let mut inner = shared.lock();
    inner.count_request("authorize");
    let ctx = RequestCtx::new(&shared.base_url, inner.now(), &headers);
    let Some(pending) = inner.pending.get(&rid).cloned() else {
        return error_page_html(
            &ctx,
            &AadError::invalid_request(50_058, "The sign-in session expired or is unknown. Start the sign-in again."),
        );
    };
    let p = Params(pending.params.clone());
    let v = match validate(&inner, &pending.tenant_segment, &p) {
        Ok(v) => v,
        Err(Reject::Page(e)) => return error_page_html(&ctx, &e),
        Err(Reject::Redirect(e, v)) => return redirect_error(&ctx, &e, &v),
    };
    if form.get("action") == Some("cancel") {
        inner.pending.remove(&rid);
        let e = AadError::new(
            StatusCode::BAD_REQUEST,
            "access_denied",
            65_004,
            "User declined to consent to access the app.",
        );
        return redirect_error(&ctx, &e, &v);
    }
    let login = form.get("login").unwrap_or_default().to_owned();
    let password = form.get("passwd").unwrap_or_default();
    let valid = inner.user(&login).is_some_and(|u| util::secret_eq(&u.cfg.password, password));
    if !valid {
        let msg = aad::bad_credentials().headline();
        return ctx.decorate(sign_in_page(&pending.tenant_segment, &rid, &v, Some(&msg), StatusCode::BAD_REQUEST));
    }
    if let Some(user) = inner.user(&login) {
        if let Err(e) = inner.check_user_tenant(user, &v.tenant) {
            return ctx.decorate(sign_in_page(
                &pending.tenant_segment,
                &rid,
                &v,
                Some(&e.headline()),
                StatusCode::BAD_REQUEST,
            ));
        }
    }
    inner.pending.remove(&rid);
    complete(&shared, &mut inner, &ctx, &v, &login, true)
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn loopback_rules() {
        assert!(redirect_matches("http://localhost", "http://localhost:53123"));
        assert!(redirect_matches("http://localhost", "http://localhost:53123/"));
        assert!(redirect_matches("http://localhost/cb", "http://localhost:1/cb"));
        assert!(!redirect_matches("http://localhost/cb", "http://localhost:1/other"));
        assert!(!redirect_matches("http://localhost", "http://127.0.0.1:5000"));
        assert!(redirect_matches("http://127.0.0.1", "http://127.0.0.1:5000/"));
        assert!(!redirect_matches("http://localhost", "http://[::1]:5000"));
        assert!(!redirect_matches("http://localhost", "https://localhost:5000"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example/cb/"));
        assert!(!redirect_matches("https://app.example/CB", "https://app.example/cb"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example:444/cb"));
    }
}
