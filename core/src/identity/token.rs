//! Token results and the parsing of token-endpoint answers (success and Microsoft's error
//! JSON).

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use crate::json::{self, as_u64, get_str, parse_object, Object, Value};
use serde::{Deserialize, Serialize};

use super::error::{IdentityError, IdentityErrorKind};
use super::http::{retry_after, HttpResponse};
use crate::secret::AccessToken;
pub use crate::secret::RefreshToken;
use crate::text::safe_string;

/// Who signed in, from the id token and `client_info` (read, not signature-verified: they
/// come straight from the token endpoint over TLS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The sign-in name (`preferred_username`, else `email`, `upn`, `unique_name`).
    pub username: String,
    /// `email`, if the token has it.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Object id of the user (`oid`), or Google's `sub`.
    pub oid: Option<String>,
    /// Tenant id (`tid`).
    pub tid: Option<String>,
    /// `uid.utid` from `client_info` (MSAL's home account id), if returned.
    pub home_account_id: Option<String>,
}

impl Account {
    /// Whether `id` names this account: its sign-in name or email (any case), or its home
    /// account id. The one account matcher of the cache, the CLI and the bindings.
    pub fn matches(&self, id: &str) -> bool {
        self.username.eq_ignore_ascii_case(id)
            || self.home_account_id.as_deref() == Some(id)
            || self.email.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(id))
    }

    /// The user to put in the SASL `user=` field: the sign-in name (for Exchange, a shared
    /// mailbox's address can be used instead).
    pub fn sasl_user(&self) -> &str {
        if !self.username.is_empty() {
            &self.username
        } else {
            self.email.as_deref().unwrap_or("")
        }
    }
}

/// A token from the identity platform. `Debug` shows no secret (the id token included).
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The bearer token for the mail server.
    pub access_token: AccessToken,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// When to refresh it proactively (`refresh_in`), if the server said.
    pub refresh_at: Option<i64>,
    /// The granted scopes (from the answer's `scope`, else the requested ones).
    pub scopes: Vec<String>,
    /// The refresh token, if one was issued (Microsoft: only with `offline_access`).
    pub refresh_token: Option<RefreshToken>,
    /// The raw id token, if one was issued.
    pub id_token: Option<String>,
    /// Who signed in (absent for app-only tokens).
    pub account: Option<Account>,
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("refresh_at", &self.refresh_at)
            .field("scopes", &self.scopes)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("account", &self.account)
            .finish()
    }
}

impl Token {
    /// Seconds until expiry at `now`.
    pub fn expires_in(&self, now: i64) -> i64 {
        self.expires_at.saturating_sub(now)
    }
}

/// Takes the optional string field `k` out of `o`: absent or `null` is `Ok(None)`, another
/// type is an error.
fn take_string(o: &mut Object, k: &str) -> Result<Option<String>, ()> {
    match o.remove(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// Takes the optional field `k` out of `o` (`null` is absent).
fn take_value(o: &mut Object, k: &str) -> Option<Value> {
    o.remove(k).filter(|v| !matches!(v, Value::Null))
}

/// Decodes the claims of a JWT without verifying it. `None` if it is not a JWT (or its
/// payload is not a JSON object). The claims are a [`json::Object`] (a
/// `BTreeMap<String, json::Value>`).
pub fn decode_jwt_claims(jwt: &str) -> Option<Object> {
    let mut parts = jwt.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = crate::base64::decode_url(payload.trim_end_matches('='))?;
    parse_object(&bytes)
}

fn str_claim(map: &Object, name: &str) -> Option<String> {
    get_str(map, name).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The account described by an id token and Microsoft's `client_info`.
pub fn account_from(id_token: Option<&str>, client_info: Option<&str>) -> Option<Account> {
    let claims = id_token.and_then(decode_jwt_claims);
    let info: Option<Object> = client_info.and_then(|ci| {
        let bytes = crate::base64::decode_url(ci.trim_end_matches('=')).or_else(|| crate::base64::decode(ci))?;
        parse_object(&bytes)
    });
    if claims.is_none() && info.is_none() {
        return None;
    }
    let c = claims.unwrap_or_default();
    let username =
        ["preferred_username", "email", "upn", "unique_name"].iter().find_map(|n| str_claim(&c, n)).unwrap_or_default();
    let home_account_id = info.as_ref().and_then(|i| {
        let uid = str_claim(i, "uid")?;
        let utid = str_claim(i, "utid")?;
        Some(crate::cat!(uid, ".", utid))
    });
    Some(Account {
        username,
        email: str_claim(&c, "email"),
        name: str_claim(&c, "name"),
        oid: str_claim(&c, "oid").or_else(|| str_claim(&c, "sub")),
        tid: str_claim(&c, "tid"),
        home_account_id,
    })
}

/// A token answer's fields. Unknown fields are ignored; a known string field of another
/// type makes the answer unusable.
struct RawToken {
    access_token: Option<String>,
    expires_in: Option<Value>,
    refresh_in: Option<Value>,
    scope: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    client_info: Option<String>,
    token_type: Option<String>,
}

impl RawToken {
    fn parse(body: &[u8]) -> Option<RawToken> {
        let mut o = parse_object(body)?;
        Some(RawToken {
            access_token: take_string(&mut o, "access_token").ok()?,
            expires_in: take_value(&mut o, "expires_in"),
            refresh_in: take_value(&mut o, "refresh_in"),
            scope: take_string(&mut o, "scope").ok()?,
            refresh_token: take_string(&mut o, "refresh_token").ok()?,
            id_token: take_string(&mut o, "id_token").ok()?,
            client_info: take_string(&mut o, "client_info").ok()?,
            token_type: take_string(&mut o, "token_type").ok()?,
        })
    }
}

/// Seconds given as a number or a numeric string.
fn seconds(v: &Option<Value>) -> Option<i64> {
    json::seconds(v.as_ref()?)
}

/// The OAuth error fields of an answer, if the body is an error object.
pub(crate) struct RawError {
    pub(crate) error: Option<String>,
    error_description: Option<String>,
    /// The `error_codes` that are numbers (fitting a `u32`).
    codes: Vec<u32>,
    suberror: Option<String>,
    correlation_id: Option<String>,
    trace_id: Option<String>,
    claims: Option<Value>,
}

impl RawError {
    /// `None` if the body is not a JSON object, or a known field has the wrong type.
    fn parse(body: &[u8]) -> Option<RawError> {
        let mut o = parse_object(body)?;
        let codes = match take_value(&mut o, "error_codes") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.iter().filter_map(|v| as_u64(v).and_then(|n| u32::try_from(n).ok())).collect(),
            Some(_) => return None,
        };
        Some(RawError {
            error: take_string(&mut o, "error").ok()?,
            error_description: take_string(&mut o, "error_description").ok()?,
            codes,
            suberror: take_string(&mut o, "suberror").ok()?,
            correlation_id: take_string(&mut o, "correlation_id").ok()?,
            trace_id: take_string(&mut o, "trace_id").ok()?,
            claims: take_value(&mut o, "claims"),
        })
    }
}

/// Classifies Microsoft's / RFC 6749's error answer.
pub(crate) fn classify(error: &str, codes: &[u32], suberror: Option<&str>, status: u16) -> IdentityErrorKind {
    use IdentityErrorKind as K;
    if status == 429 {
        return K::Throttled;
    }
    // Device-flow and redirect outcomes are named by `error`, whatever code comes with them.
    match error {
        "authorization_declined" | "access_denied" => return K::Declined,
        "expired_token" | "code_expired" => return K::Expired,
        _ => {}
    }
    for code in codes {
        let kind = match code {
            50076 | 50079 | 50078 => K::MfaRequired,
            65001 => K::ConsentRequired,
            53003 => K::BlockedByPolicy,
            7000218 | 700016 | 7000215 | 7000222 | 700027 | 700025 | 50011 | 50194 | 9002332 | 90002 | 700005
            | 9001023 | 90130 | 90124 | 9002326 => K::InvalidClient,
            70000 | 70008 | 700082 | 700084 | 50173 | 50089 | 70043 | 54005 | 50126 | 50055 | 50057 | 50053
            | 501481 => K::InvalidGrant,
            70019 => K::Expired,
            50058 => K::InteractionRequired,
            _ => continue,
        };
        return kind;
    }
    if suberror == Some("consent_required") {
        return K::ConsentRequired;
    }
    match error {
        "authorization_declined" | "access_denied" => K::Declined,
        "expired_token" | "code_expired" => K::Expired,
        "invalid_client" | "unauthorized_client" => K::InvalidClient,
        "invalid_grant" | "bad_verification_code" => K::InvalidGrant,
        "interaction_required" | "login_required" => K::InteractionRequired,
        "consent_required" => K::ConsentRequired,
        "slow_down" => K::Throttled,
        "temporarily_unavailable" | "server_error" => K::Network,
        "invalid_scope"
        | "invalid_request"
        | "unsupported_grant_type"
        | "invalid_resource"
        | "unsupported_response_type" => K::Configuration,
        _ if status >= 500 => K::Network,
        _ => K::Protocol,
    }
}

/// Turns an error answer into an [`IdentityError`] (`None` if the body is not an error).
pub(crate) fn error_from_response(resp: &HttpResponse) -> Option<IdentityError> {
    let raw = RawError::parse(&resp.body)?;
    let error = raw.error?;
    let codes = raw.codes;
    let kind = classify(&error, &codes, raw.suberror.as_deref(), resp.status);
    let first_line = raw.error_description.as_deref().and_then(|d| d.lines().next()).unwrap_or(&error).to_owned();
    // Network text: made safe before it reaches an error (and so a terminal or a log).
    let safe = |s: Option<String>| s.map(safe_string);
    let claims = raw.claims.map(|c| match c {
        Value::String(s) => s,
        other => json::to_string(&other),
    });
    Some(IdentityError::from(super::error::IdentityErrorDetails {
        kind,
        message: safe_string(first_line),
        error: Some(safe_string(error)),
        error_description: safe(raw.error_description),
        codes,
        suberror: safe(raw.suberror),
        correlation_id: safe(raw.correlation_id),
        trace_id: safe(raw.trace_id),
        claims,
        retry_after: retry_after(resp),
        http_status: Some(resp.status),
    }))
}

/// An error for a non-JSON or otherwise unexpected answer.
pub(crate) fn unexpected(resp: &HttpResponse, what: &str) -> IdentityError {
    let kind = match resp.status {
        429 => IdentityErrorKind::Throttled,
        500..=599 => IdentityErrorKind::Network,
        300..=399 => IdentityErrorKind::Protocol,
        _ => IdentityErrorKind::Protocol,
    };
    // Control characters (a newline in a log line, an escape sequence) are neutralised.
    let snippet = safe_string(String::from_utf8_lossy(&resp.body).chars().take(200).collect());
    let mut e = IdentityError::new(
        kind,
        match resp.status {
            300..=399 => crate::cat!(
                what,
                ": the server answered with a redirect (HTTP ",
                crate::text::decimal(resp.status.into()),
                "); redirects are not followed"
            ),
            _ => crate::cat!(
                what,
                ": unexpected HTTP ",
                crate::text::decimal(resp.status.into()),
                " answer: \"",
                snippet,
                "\""
            ),
        },
    );
    e.http_status = Some(resp.status);
    e.retry_after = retry_after(resp);
    e
}

/// Parses a token answer. `requested` fills `scopes` when the answer has none.
pub(crate) fn parse_token_response(
    resp: &HttpResponse,
    now: i64,
    requested: &[String],
) -> Result<Token, IdentityError> {
    if let Some(err) = error_from_response(resp) {
        return Err(err);
    }
    if !(200..300).contains(&resp.status) {
        return Err(unexpected(resp, "token request"));
    }
    let Some(raw) = RawToken::parse(&resp.body) else {
        return Err(IdentityError::new(IdentityErrorKind::Protocol, "token answer is not the expected JSON"));
    };
    let Some(access_token) = raw.access_token.filter(|t| !t.is_empty()) else {
        return Err(IdentityError::new(IdentityErrorKind::Protocol, "token answer has no access_token"));
    };
    if let Some(tt) = &raw.token_type {
        if !tt.eq_ignore_ascii_case("bearer") {
            return Err(IdentityError::new(
                IdentityErrorKind::Protocol,
                crate::cat!("token type \"", tt, "\" is not Bearer"),
            ));
        }
    }
    let expires_in = seconds(&raw.expires_in).unwrap_or(3600).clamp(0, MAX_TOKEN_LIFETIME_SECS);
    let scopes = match raw.scope.as_deref() {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_owned).collect(),
        _ => requested.to_vec(),
    };
    let account = account_from(raw.id_token.as_deref(), raw.client_info.as_deref());
    Ok(Token {
        access_token: AccessToken::new(access_token),
        expires_at: now.saturating_add(expires_in),
        refresh_at: seconds(&raw.refresh_in).map(|r| now.saturating_add(r.clamp(0, expires_in))),
        scopes,
        refresh_token: raw.refresh_token.filter(|r| !r.is_empty()).map(RefreshToken::new),
        id_token: raw.id_token,
        account,
    })
}

/// The longest token lifetime believed from a server's `expires_in`: one day, Microsoft's
/// configurable maximum for access tokens. A larger value (up to `i64::MAX`, or a huge
/// string) is clamped to it, so the token is refreshed after a day at the latest instead of
/// looking valid for ever or overflowing; a negative `expires_in` counts as 0 (expired at
/// once, so the cache refreshes it). `refresh_in` is clamped to `0..=expires_in`.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 86_400;

/// How long to wait before polling again, from the answer.
pub(crate) fn poll_interval(v: Option<&Value>, default: Duration) -> Duration {
    v.and_then(json::seconds).and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_matches_name_email_or_home_id() {
        let a = Account {
            username: "Alice@Contoso.com".to_owned(),
            email: Some("alice.smith@contoso.com".to_owned()),
            name: None,
            oid: None,
            tid: None,
            home_account_id: Some("uid.utid".to_owned()),
        };
        assert!(a.matches("alice@contoso.com"));
        assert!(a.matches("ALICE.SMITH@contoso.com"));
        assert!(a.matches("uid.utid"));
        assert!(!a.matches("UID.UTID"), "home account ids are exact");
        assert!(!a.matches("bob@contoso.com"));
    }
    use crate::json::Number;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![("Retry-After".into(), "7".into())], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn parses_microsoft_error_json() {
        let body = r#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[700082],"timestamp":"x","trace_id":"t","correlation_id":"c","error_uri":"https://login.microsoftonline.com/error?code=700082"}"#;
        let e = parse_token_response(&resp(400, body), 0, &[]).expect_err("error");
        assert_eq!(e.kind, IdentityErrorKind::InvalidGrant);
        assert_eq!(e.codes, [700082]);
        assert_eq!(e.correlation_id.as_deref(), Some("c"));
        assert_eq!(e.message, "AADSTS700082: The refresh token has expired due to inactivity.");
        assert!(e.hint().contains("inactivity"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn parses_tokens_with_string_expiry_and_client_info() {
        let idt = format!(
            "x.{}.y",
            crate::base64::encode_url(
                r#"{"preferred_username":"alice@contoso.com","oid":"o1","tid":"t1","name":"Alice"}"#
            )
        );
        let ci = crate::base64::encode_url(r#"{"uid":"u1","utid":"t1"}"#);
        let body = format!(
            r#"{{"token_type":"Bearer","expires_in":"3599","access_token":"at","refresh_token":"rt","scope":"a b","id_token":"{idt}","client_info":"{ci}"}}"#
        );
        let t = parse_token_response(&resp(200, &body), 100, &[]).expect("token");
        assert_eq!(t.expires_at, 3699);
        assert_eq!(t.scopes, ["a", "b"]);
        let a = t.account.clone().expect("account");
        assert_eq!(a.sasl_user(), "alice@contoso.com");
        assert_eq!(a.home_account_id.as_deref(), Some("u1.t1"));
        let shown = format!("{t:?}");
        assert!(!shown.contains("\"rt\"") && !shown.contains(&idt) && !shown.contains("\"at\""), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn error_fields_read_as_before() {
        let body = r#"{"error":"interaction_required","error_codes":[50076,"x",-1,1.5,4294967296],"suberror":null,"claims":{"access_token":{"capolids":{"essential":true,"values":["1"]}}}}"#;
        let e = parse_token_response(&resp(400, body), 0, &[]).expect_err("error");
        assert_eq!((e.kind, e.codes.as_slice()), (IdentityErrorKind::MfaRequired, &[50076][..]));
        assert_eq!(e.claims.as_deref(), Some(r#"{"access_token":{"capolids":{"essential":true,"values":["1"]}}}"#));
        assert!(e.suberror.is_none());
        // A known field of another type: not an error answer, so an unexpected one.
        let e = parse_token_response(&resp(400, r#"{"error":"invalid_grant","trace_id":5}"#), 0, &[]).expect_err("odd");
        assert!(e.error.is_none() && e.message.contains("unexpected HTTP 400"), "{}", e.message);
    }

    #[test]
    fn seconds_as_numbers_or_strings() {
        let body = r#"{"access_token":"a","expires_in":60,"refresh_in":" 30 ","x":[1,{"y":null}],"scope":null}"#;
        let t = parse_token_response(&resp(200, body), 100, &["s".into()]).expect("token");
        assert_eq!((t.expires_at, t.refresh_at), (160, Some(130)));
        assert_eq!(t.scopes, ["s"]);
        assert!(t.refresh_token.is_none() && t.account.is_none());
        let t = parse_token_response(&resp(200, r#"{"access_token":"a","expires_in":60.5}"#), 0, &[]).expect("token");
        assert_eq!(t.expires_at, 3600, "a float is not seconds: the default hour");
        let e = parse_token_response(&resp(200, r#"{"access_token":7}"#), 0, &[]).expect_err("number");
        assert_eq!(e.message, "token answer is not the expected JSON");
        let latin1 = HttpResponse { status: 200, headers: Vec::new(), body: b"{\"access_token\":\"\xe9\"}".to_vec() };
        let e = parse_token_response(&latin1, 0, &[]).expect_err("not UTF-8");
        assert_eq!(e.kind, IdentityErrorKind::Protocol);
        let five = Duration::from_secs(5);
        assert_eq!(poll_interval(Some(&Value::String("7".into())), five), Duration::from_secs(7));
        assert_eq!(poll_interval(Some(&Value::Number(Number::U64(9))), five), Duration::from_secs(9));
        assert_eq!(poll_interval(Some(&Value::Number(Number::I64(-1))), five), five);
        assert_eq!(poll_interval(None, five), five);
    }

    #[test]
    fn rejects_bad_answers() {
        assert_eq!(
            parse_token_response(&resp(200, "<html>"), 0, &[]).expect_err("html").kind,
            IdentityErrorKind::Protocol
        );
        assert_eq!(parse_token_response(&resp(503, "down"), 0, &[]).expect_err("503").kind, IdentityErrorKind::Network);
        assert_eq!(parse_token_response(&resp(302, ""), 0, &[]).expect_err("302").kind, IdentityErrorKind::Protocol);
        assert_eq!(
            parse_token_response(&resp(200, r#"{"token_type":"mac","access_token":"x"}"#), 0, &[])
                .expect_err("mac")
                .kind,
            IdentityErrorKind::Protocol
        );
    }
}
