//! Values and errors across the boundary, as the core's JSON values ([`mailoauth::json`])
//! with camelCase names. Every call of the package goes through one exported function
//! ([`crate::dispatch`]): arguments arrive as JSON text (`JSON.stringify`), results and typed
//! error details leave as JSON text (`JSON.parse`), and `js/wasm.js` throws the error class
//! the details name. This costs far less wasm than a generated binding per type and method.
//! The Node build's extra exports (mail logins, diagnostics) convert through [`js`].

use crate::prelude::*;
#[cfg(feature = "node")]
use mailoauth::identity::TokenWarning;
use mailoauth::identity::{Account, AuthorizationOptions, AuthorizationRequest, DeviceCodeFlow, MailHosts, Token};
use mailoauth::json::{self, Array, Number, Object, Value};
#[cfg(feature = "node")]
use mailoauth::ErrorChallenge;
use mailoauth::{Authority, IdentityError, Protocol};

/// Why a call failed: the core's typed error, or unusable input (a JS `TypeError`).
#[derive(Debug)]
pub(crate) enum Failure {
    Identity(IdentityError),
    Type(String),
}

impl From<IdentityError> for Failure {
    fn from(e: IdentityError) -> Failure {
        Failure::Identity(e)
    }
}

impl Failure {
    /// `{type, ...}`: what `js/errors.js`'s `errorFromDetails` builds the JS error from.
    pub(crate) fn details(&self) -> Value {
        match self {
            Failure::Identity(e) => identity_error_json(e),
            Failure::Type(m) => obj(vec![("type", s("TypeError")), ("message", s(m))]),
        }
    }
}

/// A [`Failure::Type`].
pub(crate) fn type_failure(message: &str) -> Failure {
    Failure::Type(message.to_owned())
}

// ---- building values ----------------------------------------------------------------------

/// An object from `(name, value)` pairs.
pub(crate) fn obj(fields: Vec<(&str, Value)>) -> Value {
    // Inserted one by one: collecting would link a sort routine for the bulk build.
    let mut o = Object::new();
    for (k, v) in fields {
        o.insert(k.to_owned(), v);
    }
    Value::Object(o)
}

/// A string.
pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// A string or `null`.
pub(crate) fn os(v: Option<&str>) -> Value {
    v.map_or(Value::Null, s)
}

/// An integer.
pub(crate) fn int(v: i64) -> Value {
    Value::Number(Number::I64(v))
}

/// An integer or `null`.
pub(crate) fn oint(v: Option<i64>) -> Value {
    v.map_or(Value::Null, int)
}

/// A list of strings.
pub(crate) fn strs(v: &[String]) -> Value {
    Value::Array(v.iter().map(|x| s(x)).collect::<Array>())
}

// ---- reading values -----------------------------------------------------------------------

/// The field `name` of an object value.
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    json::object(v)?.get(name)
}

/// A non-empty string field.
pub(crate) fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    json::get_str(json::object(v)?, name).filter(|s| !s.is_empty())
}

#[cfg(feature = "node")]
/// A boolean field.
pub(crate) fn bool_field(v: &Value, name: &str) -> Option<bool> {
    match field(v, name) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// An integer field (`JSON.stringify` writes whole JS numbers as integers).
pub(crate) fn int_field(v: &Value, name: &str) -> Option<i64> {
    json::as_i64(field(v, name)?)
}

/// A non-negative integer field.
pub(crate) fn uint_field(v: &Value, name: &str) -> Option<u64> {
    json::as_u64(field(v, name)?)
}

fn opt_string(v: &Value, name: &str) -> Option<String> {
    str_field(v, name).map(str::to_owned)
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    match field(v, name) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The authority from `{provider, authority, tenant, cloud}` (all optional).
pub(crate) fn authority(o: &Value) -> Result<Authority, IdentityError> {
    Authority::from_options(
        str_field(o, "provider"),
        str_field(o, "authority"),
        str_field(o, "tenant"),
        str_field(o, "cloud"),
    )
}

/// `imap`, `smtp` or `pop3` (`pop` too), any case.
pub(crate) fn protocol(name: &str) -> Result<Protocol, Failure> {
    Protocol::parse(name)
        .ok_or_else(|| Failure::Type(mailoauth::cat!("unknown protocol \"", name, "\" (expected imap, smtp or pop3)")))
}

/// The details of an [`IdentityError`] (`type: IdentityError`) with every field and the hint.
pub(crate) fn identity_error_json(e: &IdentityError) -> Value {
    obj(vec![
        ("type", s("IdentityError")),
        ("kind", s(e.kind.name())),
        ("group", s(e.kind.group().name())),
        ("message", s(&e.message)),
        ("error", os(e.error.as_deref())),
        ("errorDescription", os(e.error_description.as_deref())),
        ("codes", Value::Array(e.codes.iter().map(|c| int(i64::from(*c))).collect::<Array>())),
        ("suberror", os(e.suberror.as_deref())),
        ("correlationId", os(e.correlation_id.as_deref())),
        ("traceId", os(e.trace_id.as_deref())),
        ("claims", os(e.claims.as_deref())),
        // Retry-After is whole seconds.
        ("retryAfter", oint(e.retry_after.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))),
        ("httpStatus", oint(e.http_status.map(i64::from))),
        ("hint", s(e.hint())),
        ("temporary", Value::Bool(e.is_temporary())),
        ("display", s(&e.text())),
        // Without the hint texts (the browser build) the JS adds the hint of the first AADSTS
        // code that has one, loaded on demand, to the summary.
        ("summary", s(&e.summary())),
        ("hintTexts", Value::Bool(mailoauth::identity::HINT_TEXTS)),
    ])
}

#[cfg(feature = "node")]
pub(crate) fn challenge_json(c: &ErrorChallenge) -> Value {
    obj(vec![
        ("status", os(c.status.as_deref())),
        ("schemes", os(c.schemes.as_deref())),
        ("scope", os(c.scope.as_deref())),
        ("openidConfiguration", os(c.openid_configuration.as_deref())),
        ("raw", s(&c.raw)),
    ])
}

pub(crate) fn mail_hosts_json(h: &MailHosts) -> Value {
    let hp = |p: Protocol| {
        let server = h.server(p);
        obj(vec![("host", s(&server.host)), ("port", int(i64::from(server.port)))])
    };
    obj(vec![
        ("imap", hp(Protocol::Imap)),
        ("pop3", hp(Protocol::Pop3)),
        ("smtp", hp(Protocol::Smtp)),
        ("verified", Value::Bool(h.verified)),
    ])
}

#[cfg(feature = "node")]
/// `{kind, message, ...the variant's fields}`.
pub(crate) fn warning_json(w: &TokenWarning) -> Value {
    let mut fields = vec![("kind", s(w.name())), ("message", s(&w.to_string()))];
    match w {
        TokenWarning::GraphAudience { audience } | TokenWarning::UnexpectedAudience { audience } => {
            fields.push(("audience", s(audience)));
        }
        TokenWarning::MissingPermission { needed, granted } => {
            fields.push(("needed", s(needed)));
            fields.push(("granted", strs(granted)));
        }
        TokenWarning::UserMismatch { token_user, sasl_user } => {
            fields.push(("token_user", s(token_user)));
            fields.push(("sasl_user", s(sasl_user)));
        }
        TokenWarning::Expired { seconds_ago } => fields.push(("seconds_ago", int(*seconds_ago))),
        _ => {}
    }
    obj(fields)
}

pub(crate) fn account_json(a: &Account) -> Value {
    obj(vec![
        ("username", s(&a.username)),
        ("email", os(a.email.as_deref())),
        ("name", os(a.name.as_deref())),
        ("oid", os(a.oid.as_deref())),
        ("tid", os(a.tid.as_deref())),
        ("homeAccountId", os(a.home_account_id.as_deref())),
    ])
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
/// them (`console.log` shows them as `[redacted]`). `expiresAt` and `refreshAt` are Unix seconds.
pub(crate) fn token_json(t: &Token) -> Value {
    obj(vec![
        ("accessToken", s(t.access_token.expose_secret())),
        ("expiresAt", int(t.expires_at)),
        ("refreshAt", oint(t.refresh_at)),
        ("scopes", strs(&t.scopes)),
        ("refreshToken", os(t.refresh_token.as_ref().map(|r| r.expose_secret()))),
        ("idToken", os(t.id_token.as_deref())),
        ("account", t.account.as_ref().map_or(Value::Null, account_json)),
    ])
}

pub(crate) fn device_flow_json(f: &DeviceCodeFlow) -> Value {
    obj(vec![
        ("userCode", s(&f.user_code)),
        ("verificationUri", s(&f.verification_uri)),
        ("message", s(&f.message)),
        ("expiresAt", int(f.expires_at)),
        ("interval", int(i64::try_from(f.interval).unwrap_or(i64::MAX))),
        ("scopes", strs(&f.scopes)),
        ("deviceCode", s(&f.device_code)),
    ])
}

pub(crate) fn device_flow_from(o: &Value) -> Result<DeviceCodeFlow, Failure> {
    let (Some(device_code), Some(user_code)) = (opt_string(o, "deviceCode"), opt_string(o, "userCode")) else {
        return Err(type_failure("not a device-code flow (deviceCode and userCode are missing)"));
    };
    Ok(DeviceCodeFlow {
        user_code,
        verification_uri: opt_string(o, "verificationUri").unwrap_or_default(),
        message: opt_string(o, "message").unwrap_or_default(),
        expires_at: int_field(o, "expiresAt").unwrap_or(0),
        interval: uint_field(o, "interval").unwrap_or(5),
        scopes: strings(o, "scopes"),
        device_code,
    })
}

pub(crate) fn auth_request_json(r: &AuthorizationRequest) -> Value {
    obj(vec![
        ("url", s(&r.url)),
        ("state", s(&r.state)),
        ("redirectUri", s(&r.redirect_uri)),
        ("scopes", strs(&r.scopes)),
        ("codeVerifier", s(&r.code_verifier)),
    ])
}

pub(crate) fn auth_request_from(o: &Value) -> Result<AuthorizationRequest, Failure> {
    let (Some(state), Some(code_verifier), Some(redirect_uri)) =
        (opt_string(o, "state"), opt_string(o, "codeVerifier"), opt_string(o, "redirectUri"))
    else {
        return Err(type_failure("not an authorization request (state, codeVerifier or redirectUri missing)"));
    };
    Ok(AuthorizationRequest {
        url: opt_string(o, "url").unwrap_or_default(),
        state,
        redirect_uri,
        scopes: strings(o, "scopes"),
        code_verifier,
    })
}

pub(crate) fn auth_options_from(o: &Value) -> AuthorizationOptions {
    AuthorizationOptions {
        login_hint: opt_string(o, "loginHint"),
        prompt: opt_string(o, "prompt"),
        domain_hint: opt_string(o, "domainHint"),
        claims: opt_string(o, "claims"),
    }
}

/// A list of strings (an array, or one string; absent: none).
pub(crate) fn string_list(v: Option<&Value>) -> Result<Vec<String>, Failure> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(type_failure("expected a list of strings")),
            })
            .collect(),
        _ => Err(type_failure("expected a list of strings")),
    }
}

/// JS values for the Node build's own exports (mail logins, diagnostics, the confidential
/// client): through `JSON.stringify` / `JSON.parse`, errors as the classes of `js/errors.js`.
#[cfg(feature = "node")]
pub(crate) mod js {
    use mailoauth::json::{self, Value};
    use mailoauth::{IdentityError, MailAuthError};
    use wasm_bindgen::prelude::*;

    use super::{challenge_json, obj, os, s, Failure};

    #[wasm_bindgen(raw_module = "../js/errors.js")]
    extern "C" {
        /// The JS error of `errorFromDetails(details)` from the package's `js/errors.js`.
        #[wasm_bindgen(js_name = errorFromJson)]
        fn error_from_json(details: &str) -> JsValue;
    }

    /// A JS value from JSON (`JSON.parse`).
    pub(crate) fn to_js(v: &Value) -> JsValue {
        js_sys::JSON::parse(&json::to_string(v)).unwrap_or(JsValue::NULL)
    }

    /// A JS value as JSON (`JSON.stringify`); `undefined`/`null` become `Value::Null`.
    pub(crate) fn from_js(v: &JsValue) -> Result<Value, JsValue> {
        if v.is_undefined() || v.is_null() {
            return Ok(Value::Null);
        }
        let text = js_sys::JSON::stringify(v).map_err(|_| type_error("the value cannot be converted to JSON"))?;
        let text: String = text.into();
        json::parse(text.as_bytes()).ok_or_else(|| type_error("unreadable value"))
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

    /// The JS error of a [`Failure`].
    pub(crate) fn failure(f: Failure) -> JsValue {
        error_from_json(&json::to_string(&f.details()))
    }

    /// The JS `IdentityError` of an [`IdentityError`].
    pub(crate) fn identity_error(e: IdentityError) -> JsValue {
        failure(Failure::Identity(e))
    }

    /// The JS error for a [`MailAuthError`]: `MailAuthError` with stage, server line, challenge.
    pub(crate) fn mail_error(e: &MailAuthError) -> JsValue {
        let details = obj(vec![
            ("type", s("MailAuthError")),
            ("kind", s(e.kind.name())),
            ("group", s(e.kind.group().name())),
            ("hint", s(e.hint())),
            ("protocol", s(e.protocol.name())),
            ("stage", s(e.stage.name())),
            ("message", s(&e.message)),
            ("serverLine", os(e.server_line.as_deref())),
            ("challenge", e.challenge.as_deref().map_or(Value::Null, challenge_json)),
            ("enhancedStatus", os(e.enhanced_status().map(|(a, b, c)| format!("{a}.{b}.{c}")).as_deref())),
            ("temporary", Value::Bool(e.is_temporary())),
            ("display", s(&e.to_string())),
        ]);
        error_from_json(&json::to_string(&details))
    }
}
