//! What only the Node build carries: the IMAP/SMTP/POP3 login machines ([`mail`]), the mail
//! diagnostics (`decodeChallenge`, `diagnose`, `checkAccessToken`, the error kinds), the
//! confidential client ([`confidential`]) and username/password sign-in (in
//! [`crate::dispatch`]). A client secret or key does not belong in a page.

pub mod confidential;
pub mod mail;

use wasm_bindgen::prelude::*;

use crate::convert::{self, js};

/// Seconds since the Unix epoch (`Date.now()`).
pub(crate) fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Decodes a server's base64 SASL error challenge (`+ eyJ...` / `334 eyJ...`).
#[wasm_bindgen(js_name = decodeChallenge)]
pub fn decode_challenge(base64_text: &str) -> Result<JsValue, JsValue> {
    mailoauth::ErrorChallenge::decode(base64_text)
        .map(|c| js::to_js(&convert::challenge_json(&c)))
        .map_err(|e| js::plain_error("ChallengeError", &e.to_string()))
}

/// The server a login dials (Node build), by the core's rules (`testdata/parity/servers.json`):
/// `{protocol, host, port, security}` from `protocol` (`imap`, `smtp`, `pop3`) and the options
/// `{provider?, cloud?, host?, port?, security?}`. Throws `IdentityError{kind: 'configuration'}`
/// for a name it does not know.
#[wasm_bindgen(js_name = mailServer)]
pub fn mail_server(protocol: &str, options: JsValue) -> Result<JsValue, JsValue> {
    let o = js::from_js(&options)?;
    let s = |n: &str| convert::str_field(&o, n);
    let port = match convert::uint_field(&o, "port") {
        None => None,
        Some(p) => Some(u16::try_from(p).map_err(|_| js::type_error(&format!("port {p} is not a TCP port")))?),
    };
    let server =
        mailoauth::proto::MailServer::from_names(protocol, s("provider"), s("cloud"), s("host"), port, s("security"))
            .map_err(js::identity_error)?;
    Ok(js::to_js(&convert::obj(vec![
        ("protocol", convert::s(server.protocol.name())),
        ("host", convert::s(&server.host)),
        ("port", convert::int(i64::from(server.port))),
        ("security", convert::s(server.security.name())),
    ])))
}

/// The overall deadline of a login in milliseconds when the caller sets none, from the connect
/// and I/O time-outs (the core's `proto::default_login_deadline`). Node build.
#[wasm_bindgen(js_name = loginDeadlineMs)]
pub fn login_deadline_ms(connect_ms: f64, io_ms: f64) -> f64 {
    let ms = |v: f64| std::time::Duration::from_millis(if v.is_finite() && v > 0.0 { v as u64 } else { 0 });
    mailoauth::proto::default_login_deadline(ms(connect_ms), ms(io_ms)).as_millis() as f64
}

/// The likely cause of a failed mail login and its fix, `{cause, fix}`, from the error's `kind`
/// and `protocol`, the access token used, the mail `host` and the login `user`; `now` (Unix
/// seconds) defaults to the clock. Node build.
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
        .ok_or_else(|| js::type_error("diagnose explains failed mail logins: pass a MailAuthError"))?;
    let protocol = convert::protocol(protocol).map_err(js::failure)?;
    let now = now.unwrap_or_else(now_secs);
    let d = mailoauth::diagnose::diagnose(kind, protocol, access_token, host, user, None, now);
    Ok(js::to_js(&convert::obj(vec![("cause", convert::s(&d.cause)), ("fix", convert::s(&d.fix))])))
}

/// Every error kind of the core as `section.kind` (`identity.invalid_grant`, `mail.rejected`,
/// `store.corrupt`), in core's order. Node build.
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> Vec<String> {
    mailoauth::AnyErrorKind::all().into_iter().map(mailoauth::AnyErrorKind::name).collect()
}

/// The JS error a failure of `kind` (one of `errorKinds()`) arrives as, through the same
/// conversion every call uses (for testing error handling). Node build.
#[wasm_bindgen(js_name = errorOfKind)]
pub fn error_of_kind(kind: &str) -> Result<JsValue, JsValue> {
    use mailoauth::{AnyErrorKind, IdentityError, MailAuthError, Protocol, Stage};
    Ok(match AnyErrorKind::from_name(kind) {
        Some(AnyErrorKind::Identity(k)) => js::identity_error(IdentityError::new(k, "example")),
        Some(AnyErrorKind::Mail(k)) => js::mail_error(&MailAuthError::new(Protocol::Imap, Stage::Auth, k, "example")),
        Some(AnyErrorKind::Store(k)) => {
            js::identity_error(IdentityError::from(mailoauth::cache::StoreError::new(k, "example")))
        }
        None => return Err(js::type_error(&format!("no error kind \"{kind}\""))),
    })
}

/// Warnings about an access token before a mail login (decoded, not verified): Graph
/// audience, missing permission, another user, expired, opaque. Node build.
#[wasm_bindgen(js_name = checkAccessToken)]
pub fn check_access_token(access_token: &str, protocol: &str, sasl_user: &str) -> Result<JsValue, JsValue> {
    let protocol = convert::protocol(protocol).map_err(js::failure)?;
    let now = now_secs();
    let warnings = mailoauth::identity::check_access_token(access_token, protocol, sasl_user, now);
    Ok(js::to_js(&mailoauth::json::Value::Array(warnings.iter().map(convert::warning_json).collect())))
}

/// The AADSTS hint table, `{code: hint}`: what the browser build loads on demand
/// (`dist/aadsts-hints.js`, written by scripts/build.sh from this).
#[wasm_bindgen(js_name = aadstsHints)]
pub fn aadsts_hints() -> JsValue {
    let mut o = mailoauth::json::Object::new();
    for (code, hint) in mailoauth::identity::AADSTS_HINTS {
        o.insert(code.to_string(), convert::s(hint));
    }
    js::to_js(&mailoauth::json::Value::Object(o))
}
