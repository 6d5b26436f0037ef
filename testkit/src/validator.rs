//! A test-controlled OAuth2 token introspection endpoint in the shape that
//! Dovecot 2.3's oauth2 passdb expects with `introspection_mode = auth`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::background::Background;
use crate::error::{Error, Result};

#[derive(Debug, Default)]
struct Inner {
    /// token -> username (the value of the username attribute)
    tokens: HashMap<String, String>,
    down: bool,
    requests: usize,
}

#[derive(Debug, Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    username_attribute: Arc<str>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked while holding it;
        // the data (a map and two scalars) is still consistent.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A small HTTP introspection endpoint on 127.0.0.1.
///
/// `GET /introspect` with `Authorization: Bearer <token>` answers
/// `200 {"active":true,"email":"<user>"}` for a known token and
/// `200 {"active":false}` for an unknown or revoked one (a clean authentication
/// failure in Dovecot). While [`set_down(true)`](Self::set_down) it answers
/// `503`, which Dovecot reports as a *temporary* failure
/// (`NO [UNAVAILABLE]`, `-ERR [SYS/TEMP]`, `454 4.7.0`).
///
/// It runs on its own thread and runtime; dropping it stops the server.
#[derive(Debug)]
pub struct TokenValidator {
    shared: Shared,
    addr: SocketAddr,
    _bg: Background,
}

impl TokenValidator {
    /// Starts the endpoint; the username attribute in responses is `email`.
    pub fn start() -> Result<Self> {
        Self::start_with_attribute("email")
    }

    /// Starts the endpoint, naming the username attribute in responses
    /// `username_attribute` (must match Dovecot's `username_attribute`).
    pub fn start_with_attribute(username_attribute: &str) -> Result<Self> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| Error::io("binding the token validator", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the token validator address", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("setting the validator socket non-blocking", e))?;
        let shared =
            Shared { inner: Arc::new(Mutex::new(Inner::default())), username_attribute: Arc::from(username_attribute) };
        let state = shared.clone();
        let bg = Background::spawn("token-validator", move |stop| async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(_) => return,
            };
            let app = Router::new().route("/introspect", get(introspect).post(introspect)).with_state(state);
            tokio::select! {
                _ = axum::serve(listener, app) => {}
                _ = stop => {}
            }
        })?;
        Ok(TokenValidator { shared, addr, _bg: bg })
    }

    /// The full introspection URL, e.g. `http://127.0.0.1:40123/introspect`.
    pub fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// The socket address the endpoint listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `token` valid for the user `email`.
    pub fn add_token(&self, token: &str, email: &str) {
        self.shared.lock().tokens.insert(token.to_owned(), email.to_owned());
    }

    /// Makes `token` invalid from the next request on.
    pub fn revoke(&self, token: &str) {
        self.shared.lock().tokens.remove(token);
    }

    /// While `down`, every request is answered with `503 Service Unavailable`.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// How many introspection requests were received so far.
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim().to_owned())
}

/// `POST` with a form body `token=...` is accepted too (Dovecot's
/// `introspection_mode = post`), so the same endpoint serves both modes.
fn form_token(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn introspect(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let token = bearer_token(&headers).or_else(|| form_token(&body));
    let (down, user) = {
        let mut inner = shared.lock();
        inner.requests += 1;
        let user = token.and_then(|t| inner.tokens.get(&t).cloned());
        (inner.down, user)
    };
    if down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"temporarily_unavailable"}"#,
        )
            .into_response();
    }
    let body = match user {
        Some(user) => {
            let mut obj = serde_json::Map::new();
            obj.insert("active".into(), serde_json::Value::Bool(true));
            obj.insert(shared.username_attribute.to_string(), serde_json::Value::String(user));
            serde_json::Value::Object(obj)
        }
        None => serde_json::json!({ "active": false }),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}
