//! Values and errors across the boundary. Results are built as `serde_json::Value` with
//! camelCase names and handed to `JSON.parse`; inputs arrive as plain objects and are read the
//! same way (`JSON.stringify`). The core already links serde_json, so this costs no extra wasm,
//! unlike a generated binding per type.

use mailoauth::identity::{Account, AuthorizationOptions, AuthorizationRequest, DeviceCodeFlow, MailHosts, Token};
use mailoauth::{Authority, ErrorChallenge, IdentityError, MailAuthError, Protocol};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(raw_module = "../js/errors.js")]
extern "C" {
    /// `new IdentityError(details)` from the package's `js/errors.js`.
    #[wasm_bindgen(js_name = identityErrorFromJson)]
    fn identity_error_from_json(details: &str) -> JsValue;
    /// `new MailAuthError(details)` from the package's `js/errors.js`.
    #[wasm_bindgen(js_name = mailAuthErrorFromJson)]
    fn mail_auth_error_from_json(details: &str) -> JsValue;
}

/// A JS value from JSON (`JSON.parse`).
pub(crate) fn to_js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

/// A JS value as JSON (`JSON.stringify`); `undefined`/`null` become `Value::Null`.
pub(crate) fn from_js(v: &JsValue) -> Result<Value, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(v).map_err(|_| type_error("the value cannot be converted to JSON"))?;
    let text: String = text.into();
    serde_json::from_str(&text).map_err(|e| type_error(&format!("unreadable value: {e}")))
}

/// A `TypeError` for unusable input from JS.
pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

/// An `Error` with a `name`.
pub(crate) fn plain_error(name: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    e.into()
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn opt_string(v: &Value, name: &str) -> Option<String> {
    str_field(v, name).map(str::to_owned)
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The authority from `{provider, authority, tenant, cloud}` (all optional).
pub(crate) fn authority(options: &JsValue) -> Result<Authority, JsValue> {
    let o = from_js(options)?;
    Authority::from_options(
        str_field(&o, "provider"),
        str_field(&o, "authority"),
        str_field(&o, "tenant"),
        str_field(&o, "cloud"),
    )
    .map_err(identity_error)
}

/// `imap`, `smtp` or `pop3` (`pop` too), any case.
pub(crate) fn protocol(name: &str) -> Result<Protocol, JsValue> {
    Protocol::parse(name).ok_or_else(|| type_error(&format!("unknown protocol {name:?} (expected imap, smtp or pop3)")))
}

/// The JS error for an [`IdentityError`]: `IdentityError` with every field and the hint.
pub(crate) fn identity_error(e: IdentityError) -> JsValue {
    let details = json!({
        "kind": e.kind,
        "message": e.message,
        "error": e.error,
        "errorDescription": e.error_description,
        "codes": e.codes,
        "suberror": e.suberror,
        "correlationId": e.correlation_id,
        "traceId": e.trace_id,
        "claims": e.claims,
        "retryAfter": e.retry_after.map(|d| d.as_secs_f64()),
        "httpStatus": e.http_status,
        "hint": e.hint(),
        "temporary": e.is_temporary(),
        "display": e.to_string(),
    });
    identity_error_from_json(&details.to_string())
}

/// The JS error for a [`MailAuthError`]: `MailAuthError` with stage, server line, challenge.
pub(crate) fn mail_error(e: &MailAuthError) -> JsValue {
    let details = json!({
        "kind": e.kind,
        "protocol": e.protocol,
        "stage": e.stage,
        "message": e.message,
        "serverLine": e.server_line,
        "challenge": e.challenge.as_deref().map(challenge_json),
        "enhancedStatus": e.enhanced_status().map(|(a, b, c)| format!("{a}.{b}.{c}")),
        "temporary": e.is_temporary(),
        "display": e.to_string(),
    });
    mail_auth_error_from_json(&details.to_string())
}

pub(crate) fn challenge_json(c: &ErrorChallenge) -> Value {
    json!({
        "status": c.status,
        "schemes": c.schemes,
        "scope": c.scope,
        "openidConfiguration": c.openid_configuration,
        "raw": c.raw,
    })
}

pub(crate) fn mail_hosts_json(h: &MailHosts) -> Value {
    let hp = |p: Protocol| {
        let s = h.server(p);
        json!({"host": s.host, "port": s.port})
    };
    json!({
        "imap": hp(Protocol::Imap),
        "pop3": hp(Protocol::Pop3),
        "smtp": hp(Protocol::Smtp),
        "verified": h.verified,
    })
}

pub(crate) fn account_json(a: &Account) -> Value {
    json!({
        "username": a.username,
        "email": a.email,
        "name": a.name,
        "oid": a.oid,
        "tid": a.tid,
        "homeAccountId": a.home_account_id,
    })
}

pub(crate) fn account_from_json(v: &Value) -> Account {
    Account {
        username: opt_string(v, "username").unwrap_or_default(),
        email: opt_string(v, "email"),
        name: opt_string(v, "name"),
        oid: opt_string(v, "oid"),
        tid: opt_string(v, "tid"),
        home_account_id: opt_string(v, "homeAccountId"),
    }
}

/// A token as a JS object. It carries the access and refresh tokens: the caller asked for
/// them. `expiresAt` and `refreshAt` are Unix seconds.
pub(crate) fn token_js(t: &Token) -> JsValue {
    to_js(&json!({
        "accessToken": t.access_token.expose_secret(),
        "expiresAt": t.expires_at,
        "refreshAt": t.refresh_at,
        "scopes": t.scopes,
        "refreshToken": t.refresh_token.as_ref().map(|r| r.expose_secret()),
        "idToken": t.id_token,
        "account": t.account.as_ref().map(account_json),
    }))
}

pub(crate) fn device_flow_js(f: &DeviceCodeFlow) -> JsValue {
    to_js(&json!({
        "userCode": f.user_code,
        "verificationUri": f.verification_uri,
        "message": f.message,
        "expiresAt": f.expires_at,
        "interval": f.interval,
        "scopes": f.scopes,
        "deviceCode": f.device_code,
    }))
}

pub(crate) fn device_flow_from_js(v: &JsValue) -> Result<DeviceCodeFlow, JsValue> {
    let o = from_js(v)?;
    let (Some(device_code), Some(user_code)) = (opt_string(&o, "deviceCode"), opt_string(&o, "userCode")) else {
        return Err(type_error("not a device-code flow (deviceCode and userCode are missing)"));
    };
    Ok(DeviceCodeFlow {
        user_code,
        verification_uri: opt_string(&o, "verificationUri").unwrap_or_default(),
        message: opt_string(&o, "message").unwrap_or_default(),
        expires_at: o.get("expiresAt").and_then(Value::as_i64).unwrap_or(0),
        interval: o.get("interval").and_then(Value::as_u64).unwrap_or(5),
        scopes: strings(&o, "scopes"),
        device_code,
    })
}

pub(crate) fn auth_request_js(r: &AuthorizationRequest) -> JsValue {
    to_js(&json!({
        "url": r.url,
        "state": r.state,
        "redirectUri": r.redirect_uri,
        "scopes": r.scopes,
        "codeVerifier": r.code_verifier,
    }))
}

pub(crate) fn auth_request_from_js(v: &JsValue) -> Result<AuthorizationRequest, JsValue> {
    let o = from_js(v)?;
    let (Some(state), Some(code_verifier), Some(redirect_uri)) =
        (opt_string(&o, "state"), opt_string(&o, "codeVerifier"), opt_string(&o, "redirectUri"))
    else {
        return Err(type_error("not an authorization request (state, codeVerifier or redirectUri missing)"));
    };
    Ok(AuthorizationRequest {
        url: opt_string(&o, "url").unwrap_or_default(),
        state,
        redirect_uri,
        scopes: strings(&o, "scopes"),
        code_verifier,
    })
}

pub(crate) fn auth_options_from_js(v: &JsValue) -> Result<AuthorizationOptions, JsValue> {
    let o = from_js(v)?;
    Ok(AuthorizationOptions {
        login_hint: opt_string(&o, "loginHint"),
        prompt: opt_string(&o, "prompt"),
        domain_hint: opt_string(&o, "domainHint"),
        claims: opt_string(&o, "claims"),
    })
}

/// A list of strings from JS (an array, or one string).
pub(crate) fn string_list(v: &JsValue) -> Result<Vec<String>, JsValue> {
    match from_js(v)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s]),
        Value::Array(a) => a
            .into_iter()
            .map(|x| match x {
                Value::String(s) => Ok(s),
                _ => Err(type_error("expected a list of strings")),
            })
            .collect(),
        _ => Err(type_error("expected a list of strings")),
    }
}
