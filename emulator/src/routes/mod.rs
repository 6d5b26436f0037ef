//! HTTP routes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::aad::{self, AadError, RequestCtx};
use crate::state::{FaultEndpoint, FaultKind, Shared, TenantRef, CONSUMERS_TENANT_ID};
use crate::util;

pub(crate) mod authorize;
pub(crate) mod control;
pub(crate) mod device;
pub(crate) mod introspect;
pub(crate) mod token;

pub(crate) type AppState = Arc<Shared>;

pub(crate) fn router(shared: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery))
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::get_authorize).post(authorize::post_authorize))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            get(post_only).post(device::devicecode).layer(axum::middleware::from_fn(allow_origin)),
        )
        .route(
            "/{tenant}/oauth2/v2.0/token",
            get(post_only).post(token::token).layer(axum::middleware::from_fn(allow_origin)),
        )
        .route("/devicelogin", get(device::device_page).post(device::device_submit))
        .route("/error", get(error_page))
        .route("/common/userrealm/{username}", get(user_realm))
        .route("/_emulator/introspect", get(introspect::introspect_get).post(introspect::introspect_post))
        .merge(control::router())
        .fallback(not_found)
        .with_state(shared)
}

/// Single-page apps call the token and device-code endpoints from the browser with `fetch`:
/// like Microsoft's endpoints for SPA redirect URIs, the answer names the calling origin in
/// `Access-Control-Allow-Origin` (requests with only CORS-safelisted headers need no
/// preflight, so none is served).
async fn allow_origin(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let origin = request.headers().get(axum::http::header::ORIGIN).cloned();
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        response.headers_mut().insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(axum::http::header::VARY, axum::http::HeaderValue::from_static("Origin"));
    }
    response
}

/// A minimal form/query parameter bag: first value wins, empty values count as absent.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// Counts the request, takes a matching fault and applies it. Returns the request context
/// and, when the fault answers the request, the response.
pub(crate) async fn begin(
    shared: &Shared,
    headers: &HeaderMap,
    endpoint: FaultEndpoint,
    grant: Option<&str>,
) -> (RequestCtx, Option<Response>) {
    let (fault, now) = {
        let mut inner = shared.lock();
        inner.gc();
        inner.count_request(endpoint.name());
        if let Some(g) = grant {
            *inner.counters.grants.entry(g.to_owned()).or_default() += 1;
        }
        (inner.take_fault(endpoint, grant), inner.now())
    };
    let ctx = RequestCtx::new(&shared.base_url, now, headers);
    let Some(kind) = fault else {
        return (ctx, None);
    };
    let err = match kind {
        FaultKind::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            return (ctx, None);
        }
        FaultKind::Status { status, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut e = match status.as_u16() {
                429 => AadError::new(
                    status,
                    "temporarily_unavailable",
                    90_055,
                    "There are too many incoming requests. Please try again later.",
                ),
                503 => AadError::new(
                    status,
                    "temporarily_unavailable",
                    90_033,
                    "A transient error has occurred. Please try again.",
                ),
                _ => AadError::new(
                    status,
                    "server_error",
                    50_000,
                    "There was an error issuing a token or an issue with our sign-in service.",
                ),
            };
            e.retry_after = retry_after;
            e
        }
        FaultKind::Aadsts { code } => aad::by_code(code, "the application"),
        FaultKind::InvalidClient => aad::invalid_secret("the application"),
    };
    let resp = if endpoint == FaultEndpoint::Authorize {
        let mut r = error_page_html(&ctx, &err);
        *r.status_mut() = err.status;
        r
    } else {
        ctx.error_response(&err)
    };
    (ctx, Some(resp))
}

/// An HTML error page like Microsoft's sign-in error screen.
pub(crate) fn error_page_html(ctx: &RequestCtx, err: &AadError) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1>Sign in</h1><p id=\"error\">Sorry, but we're having trouble signing you in.</p>\
         <p id=\"aadsts\">{}</p><p>Request Id: {}<br>Correlation Id: {}<br>Timestamp: {}</p></body></html>",
        util::html_escape(&err.headline()),
        ctx.trace_id,
        ctx.correlation_id,
        util::aad_timestamp(ctx.now)
    );
    ctx.decorate((StatusCode::BAD_REQUEST, Html(body)).into_response())
}

fn endpoint_tenant(t: &TenantRef, segment: &str) -> String {
    match t {
        TenantRef::Tenant(id) => id.clone(),
        _ => segment.to_ascii_lowercase(),
    }
}

async fn discovery(State(shared): State<AppState>, Path(seg): Path<String>, headers: HeaderMap) -> Response {
    let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::Discovery, None).await;
    if let Some(r) = fault {
        return r;
    }
    let t = shared.lock().resolve_tenant(&seg);
    let Some(t) = t else {
        let mut e = aad::tenant_not_found(&seg);
        e.error = "invalid_tenant".into();
        return ctx.error_response(&e);
    };
    let base = &shared.base_url;
    let et = endpoint_tenant(&t, &seg);
    let (issuer_tid, region) = match &t {
        TenantRef::Tenant(id) => (id.clone(), Value::from("NA")),
        TenantRef::Consumers => (CONSUMERS_TENANT_ID.to_owned(), Value::Null),
        _ => ("{tenantid}".to_owned(), Value::Null),
    };
    let doc = json!({
        "token_endpoint": format!("{base}/{et}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{et}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{et}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{et}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{et}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    ctx.json_response(doc)
}

async fn keys(State(shared): State<AppState>, Path(seg): Path<String>, headers: HeaderMap) -> Response {
    let (ctx, fault) = begin(&shared, &headers, FaultEndpoint::Keys, None).await;
    if let Some(r) = fault {
        return r;
    }
    let t = shared.lock().resolve_tenant(&seg);
    let Some(t) = t else {
        let mut e = aad::tenant_not_found(&seg);
        e.error = "invalid_tenant".into();
        return ctx.error_response(&e);
    };
    let issuer = match &t {
        TenantRef::Tenant(id) => format!("{}/{id}/v2.0", shared.base_url),
        TenantRef::Consumers => format!("{}/{CONSUMERS_TENANT_ID}/v2.0", shared.base_url),
        _ => format!("{}/{{tenantid}}/v2.0", shared.base_url),
    };
    ctx.json_response(json!({"keys": [shared.signer.jwk(&issuer)]}))
}

/// GET on a POST-only endpoint: AADSTS900561, as Microsoft answers.
async fn post_only(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    let now = shared.lock().now();
    let ctx = RequestCtx::new(&shared.base_url, now, &headers);
    ctx.error_response(&AadError::invalid_request(
        900_561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    ))
}

/// Home-realm discovery, which MSAL calls before ROPC (always on port 443 of the
/// authority's host): `Managed` for users the emulator knows, `Unknown` otherwise.
async fn user_realm(State(shared): State<AppState>, Path(username): Path<String>, headers: HeaderMap) -> Response {
    let now = shared.lock().now();
    let ctx = RequestCtx::new(&shared.base_url, now, &headers);
    let inner = shared.lock();
    let domain = username.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let body = match inner.user(&username) {
        Some(u) if u.cfg.personal_account => {
            json!({"ver": "1.0", "account_type": "MSA", "domain_name": domain, "cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline"})
        }
        Some(_) => {
            json!({"ver": "1.0", "account_type": "Managed", "domain_name": domain, "cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline"})
        }
        None => {
            json!({"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"})
        }
    };
    ctx.json_response(body)
}

#[derive(serde::Deserialize)]
struct ErrorQuery {
    code: Option<String>,
}

async fn error_page(Query(q): Query<ErrorQuery>) -> Html<String> {
    let code = q.code.unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error {0}</title></head><body>\
         <h1>AADSTS{0}</h1><p>This error was produced by the mailoauth emulator, which mimics the Microsoft identity platform. \
         See Microsoft's <em>reference-error-codes</em> page for the meaning of AADSTS{0}.</p></body></html>",
        util::html_escape(&code)
    ))
}

async fn index(State(shared): State<AppState>) -> Html<String> {
    let base = util::html_escape(&shared.base_url);
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mailoauth emulator</title></head><body>\
         <h1>mailoauth emulator</h1><p>A local stand-in for the Microsoft identity platform.</p><ul>\
         <li><a href=\"{base}/common/v2.0/.well-known/openid-configuration\">common openid-configuration</a></li>\
         <li><a href=\"{base}/devicelogin\">device login page</a></li>\
         <li><a href=\"{base}/_emulator/state\">scenario state (JSON)</a></li></ul></body></html>"
    ))
}

async fn not_found(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    let now = shared.lock().now();
    let ctx = RequestCtx::new(&shared.base_url, now, &headers);
    let mut e = AadError::invalid_request(
        90_100,
        "The request path is not a Microsoft identity platform endpoint known to the emulator.",
    );
    e.status = StatusCode::NOT_FOUND;
    e.error = "not_found".into();
    ctx.error_response(&e)
}
