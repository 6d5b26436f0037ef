//! mailoauth for JavaScript: the Rust core compiled to WebAssembly with wasm-bindgen.
//!
//! This crate is the thin layer between the core and the npm package `mailoauth` (see
//! `README.md` beside it). Everything here is one delegation to core plus one conversion:
//!
//! - HTTP is `fetch` and the clock is `Date.now()` / `setTimeout` ([`host`]),
//! - the token cache stores its JSON document in a JS object with `load()` / `save()`
//!   ([`store`]),
//! - results cross as plain JS objects (serialized with the core's serde types and parsed
//!   with `JSON.parse`, which keeps the wasm small), errors as the JS `Error` subclasses of
//!   `js/errors.js` ([`convert`]),
//! - the mail login state machines are driven by a JS socket driver ([`mail`]).
//!
//! On other targets the crate is empty, so the native workspace build does not pull in the
//! wasm toolchain.
#![cfg(target_arch = "wasm32")]

mod client;
mod convert;
mod host;
#[cfg(feature = "node")]
mod mail;
mod store;

use wasm_bindgen::prelude::*;

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The base64 SASL XOAUTH2 client response (`user=...^Aauth=Bearer ...^A^A`).
#[wasm_bindgen]
pub fn xoauth2(user: &str, access_token: &str) -> String {
    mailoauth::sasl::xoauth2(user, access_token)
}

/// The base64 SASL OAUTHBEARER client response (RFC 7628); `host` and `port` are optional.
#[wasm_bindgen]
pub fn oauthbearer(user: &str, access_token: &str, host: Option<String>, port: Option<u16>) -> String {
    mailoauth::sasl::oauthbearer(user, access_token, host.as_deref(), port)
}

/// Decodes a server's base64 SASL error challenge (`+ eyJ...` / `334 eyJ...`). Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = decodeChallenge)]
pub fn decode_challenge(base64_text: &str) -> Result<JsValue, JsValue> {
    mailoauth::ErrorChallenge::decode(base64_text)
        .map(|c| convert::to_js(&convert::challenge_json(&c)))
        .map_err(|e| convert::plain_error("ChallengeError", &e.to_string()))
}

/// Delegated mail scopes for `protocols` (`imap`, `smtp`, `pop3`) at the authority given by
/// the options (`provider`, `authority`, `tenant`, `cloud`), with `offline_access` if
/// `refresh`.
#[wasm_bindgen(js_name = mailScopes)]
pub fn mail_scopes(options: JsValue, protocols: Vec<String>, refresh: bool) -> Result<Vec<String>, JsValue> {
    let authority = convert::authority(&options)?;
    let protocols = protocols.iter().map(|p| convert::protocol(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(mailoauth::identity::scopes::mail_scopes(authority.provider(), authority.cloud(), &protocols, refresh))
}

/// The app-only (client credentials) scope of the authority's mail resource.
#[wasm_bindgen(js_name = appOnlyScope)]
pub fn app_only_scope(options: JsValue) -> Result<String, JsValue> {
    let authority = convert::authority(&options)?;
    Ok(mailoauth::identity::scopes::app_only_scope(authority.provider(), authority.cloud()))
}

/// The mail servers of the authority's cloud: `{imap, pop3, smtp: {host, port}, verified}`.
#[wasm_bindgen(js_name = mailHosts)]
pub fn mail_hosts(options: JsValue) -> Result<JsValue, JsValue> {
    let authority = convert::authority(&options)?;
    Ok(convert::to_js(&convert::mail_hosts_json(&authority.mail_hosts())))
}

/// The server a login dials (Node build), by the core's rules (`testdata/parity/servers.json`):
/// `{protocol, host, port, security}` from `protocol` (`imap`, `smtp`, `pop3`) and the options
/// `{provider?, cloud?, host?, port?, security?}`. Throws `IdentityError{kind: 'configuration'}`
/// for a name it does not know.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = mailServer)]
pub fn mail_server(protocol: &str, options: JsValue) -> Result<JsValue, JsValue> {
    let o = convert::from_js(&options)?;
    let s = |n: &str| convert::str_field(&o, n);
    let port = match convert::uint_field(&o, "port") {
        None => None,
        Some(p) => Some(u16::try_from(p).map_err(|_| convert::type_error(&format!("port {p} is not a TCP port")))?),
    };
    let server =
        mailoauth::proto::MailServer::from_names(protocol, s("provider"), s("cloud"), s("host"), port, s("security"))
            .map_err(convert::identity_error)?;
    Ok(convert::to_js(&convert::obj(vec![
        ("protocol", convert::s(server.protocol.name())),
        ("host", convert::s(&server.host)),
        ("port", convert::int(i64::from(server.port))),
        ("security", convert::s(server.security.name())),
    ])))
}

/// The overall deadline of a login in milliseconds when the caller sets none, from the connect
/// and I/O time-outs (the core's `proto::default_login_deadline`). Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = loginDeadlineMs)]
pub fn login_deadline_ms(connect_ms: f64, io_ms: f64) -> f64 {
    let ms = |v: f64| std::time::Duration::from_millis(if v.is_finite() && v > 0.0 { v as u64 } else { 0 });
    mailoauth::proto::default_login_deadline(ms(connect_ms), ms(io_ms)).as_millis() as f64
}

/// The likely cause of a failed mail login and its fix, `{cause, fix}`, from the error's `kind`
/// and `protocol`, the access token used, the mail `host` and the login `user`; `now` (Unix
/// seconds) defaults to the clock. Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = diagnose)]
pub fn diagnose(
    kind: &str,
    protocol: &str,
    access_token: &str,
    host: &str,
    user: &str,
    now: Option<i64>,
) -> Result<JsValue, JsValue> {
    let kind = mailoauth::MailErrorKind::from_name(kind)
        .ok_or_else(|| convert::type_error("diagnose explains failed mail logins: pass a MailAuthError"))?;
    let protocol = convert::protocol(protocol)?;
    let now = now.unwrap_or_else(host::now_secs);
    let d = mailoauth::diagnose::diagnose(kind, protocol, access_token, host, user, None, now);
    Ok(convert::to_js(&convert::obj(vec![("cause", convert::s(&d.cause)), ("fix", convert::s(&d.fix))])))
}

/// Every error kind of the core as `section.kind` (`identity.invalid_grant`, `mail.rejected`,
/// `store.corrupt`), in core's order. Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> Vec<String> {
    mailoauth::AnyErrorKind::all().into_iter().map(mailoauth::AnyErrorKind::name).collect()
}

/// The JS error a failure of `kind` (one of `errorKinds()`) arrives as, through the same
/// conversion every call uses (for testing error handling). Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = errorOfKind)]
pub fn error_of_kind(kind: &str) -> Result<JsValue, JsValue> {
    use mailoauth::{AnyErrorKind, IdentityError, MailAuthError, Protocol, Stage};
    Ok(match AnyErrorKind::from_name(kind) {
        Some(AnyErrorKind::Identity(k)) => convert::identity_error(IdentityError::new(k, "example")),
        Some(AnyErrorKind::Mail(k)) => {
            convert::mail_error(&MailAuthError::new(Protocol::Imap, Stage::Auth, k, "example"))
        }
        Some(AnyErrorKind::Store(k)) => {
            convert::identity_error(IdentityError::from(mailoauth::cache::StoreError::new(k, "example")))
        }
        None => return Err(convert::type_error(&format!("no error kind \"{kind}\""))),
    })
}

/// Warnings about an access token before a mail login (decoded, not verified): Graph
/// audience, missing permission, another user, expired, opaque. Node build.
#[cfg(feature = "node")]
#[wasm_bindgen(js_name = checkAccessToken)]
pub fn check_access_token(access_token: &str, protocol: &str, sasl_user: &str) -> Result<JsValue, JsValue> {
    let protocol = convert::protocol(protocol)?;
    let now = host::now_secs();
    let warnings = mailoauth::identity::check_access_token(access_token, protocol, sasl_user, now);
    Ok(convert::to_js(&mailoauth::json::Value::Array(warnings.iter().map(convert::warning_json).collect())))
}
