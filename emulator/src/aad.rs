//! Errors in the Microsoft identity platform's JSON shape.
//!
//! ```json
//! {"error":"invalid_scope","error_description":"AADSTS70011: …\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: 2016-01-09 02:02:12Z",
//!  "error_codes":[70011],"timestamp":"2016-01-09 02:02:12Z","trace_id":"…","correlation_id":"…",
//!  "error_uri":"https://login.microsoftonline.com/error?code=70011"}
//! ```

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::util;

/// One AADSTS error, not yet rendered (the trace id, correlation id and timestamp are
/// added per request by [`RequestCtx::error_response`]).
#[derive(Clone, Debug)]
pub(crate) struct AadError {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    pub(crate) code: u32,
    pub(crate) message: String,
    pub(crate) suberror: Option<String>,
    pub(crate) claims: Option<String>,
    pub(crate) retry_after: Option<u64>,
}

impl AadError {
    pub(crate) fn new(status: StatusCode, error: &str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            code,
            message: message.into(),
            suberror: None,
            claims: None,
            retry_after: None,
        }
    }

    pub(crate) fn invalid_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    pub(crate) fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
    }

    /// `invalid_client` is answered with HTTP 401, as Microsoft does.
    pub(crate) fn invalid_client(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }

    pub(crate) fn invalid_scope(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", code, message)
    }

    pub(crate) fn with_suberror(mut self, suberror: &str) -> Self {
        self.suberror = Some(suberror.to_owned());
        self
    }

    pub(crate) fn with_claims(mut self, claims: &str) -> Self {
        self.claims = Some(claims.to_owned());
        self
    }

    /// AADSTS900144: a required parameter is missing.
    pub(crate) fn missing(param: &str) -> Self {
        Self::invalid_request(900_144, format!("The request body must contain the following parameter: '{param}'."))
    }

    /// The `AADSTSnnnnn: message` line (first line of `error_description`).
    pub(crate) fn headline(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }
}

/// Per-request values used when rendering errors and response headers.
#[derive(Clone, Debug)]
pub(crate) struct RequestCtx {
    pub(crate) base_url: String,
    pub(crate) now: i64,
    pub(crate) trace_id: String,
    pub(crate) correlation_id: String,
    pub(crate) echo_client_request_id: bool,
}

impl RequestCtx {
    pub(crate) fn new(base_url: &str, now: i64, headers: &HeaderMap) -> Self {
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned);
        Self {
            base_url: base_url.to_owned(),
            now,
            trace_id: util::guid(),
            echo_client_request_id: client_request_id.is_some(),
            correlation_id: client_request_id.unwrap_or_else(util::guid),
        }
    }

    /// `error_description` with the trailer Microsoft appends.
    pub(crate) fn description(&self, err: &AadError) -> String {
        format!(
            "{}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            err.headline(),
            self.trace_id,
            self.correlation_id,
            util::aad_timestamp(self.now)
        )
    }

    pub(crate) fn error_json(&self, err: &AadError) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), json!(err.error));
        m.insert("error_description".into(), json!(self.description(err)));
        m.insert("error_codes".into(), json!([err.code]));
        m.insert("timestamp".into(), json!(util::aad_timestamp(self.now)));
        m.insert("trace_id".into(), json!(self.trace_id));
        m.insert("correlation_id".into(), json!(self.correlation_id));
        m.insert("error_uri".into(), json!(format!("{}/error?code={}", self.base_url, err.code)));
        if let Some(s) = &err.suberror {
            m.insert("suberror".into(), json!(s));
        }
        if let Some(c) = &err.claims {
            m.insert("claims".into(), json!(c));
        }
        Value::Object(m)
    }

    /// The JSON error response, with Microsoft's no-cache headers.
    pub(crate) fn error_response(&self, err: &AadError) -> Response {
        let mut resp = (err.status, axum::Json(self.error_json(err))).into_response();
        if let Some(secs) = err.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        self.decorate(resp)
    }

    /// A JSON success response with the same headers.
    pub(crate) fn json_response(&self, body: Value) -> Response {
        self.decorate((StatusCode::OK, axum::Json(body)).into_response())
    }

    /// Adds `Cache-Control: no-store, no-cache`, `Pragma`, `x-ms-request-id` and the echoed
    /// `client-request-id`.
    pub(crate) fn decorate(&self, mut resp: Response) -> Response {
        let h = resp.headers_mut();
        if h.get("content-type").is_some_and(|v| v.as_bytes() == b"application/json") {
            h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        }
        h.insert("cache-control", HeaderValue::from_static("no-store, no-cache"));
        h.insert("pragma", HeaderValue::from_static("no-cache"));
        h.insert("x-ms-ests-server", HeaderValue::from_static("mailoauth-emulator"));
        if let Ok(v) = HeaderValue::from_str(&self.trace_id) {
            h.insert("x-ms-request-id", v);
        }
        if self.echo_client_request_id {
            if let Ok(v) = HeaderValue::from_str(&self.correlation_id) {
                h.insert("client-request-id", v);
            }
        }
        resp
    }
}

/// The AADSTS errors that fault injection can produce by code, with Microsoft's `error`
/// value, HTTP status, message and suberror.
pub(crate) fn by_code(code: u32, client_id: &str) -> AadError {
    match code {
        50_076 => AadError::new(
            StatusCode::BAD_REQUEST,
            "interaction_required",
            50_076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'https://outlook.office.com'.",
        )
        .with_suberror("basic_action")
        .with_claims(r#"{"access_token":{"capolids":{"essential":true,"values":["00000000-0000-0000-0000-000000000001"]}}}"#),
        50_079 => AadError::new(
            StatusCode::BAD_REQUEST,
            "interaction_required",
            50_079,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access 'https://outlook.office.com'.",
        )
        .with_suberror("basic_action"),
        65_001 => AadError::invalid_grant(
            65_001,
            format!("The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."),
        )
        .with_suberror("consent_required"),
        70_043 => AadError::invalid_grant(
            70_043,
            "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on 2000-01-01T00:00:00.0000000Z and the maximum allowed lifetime for this request is 3600.",
        ),
        700_082 => AadError::invalid_grant(
            700_082,
            "The refresh token has expired due to inactivity. The token was issued on 2000-01-01T00:00:00.0000000Z and was inactive for 90.00:00:00.",
        ),
        53_003 => AadError::invalid_grant(
            53_003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ),
        7_000_218 => missing_client_credential(),
        700_016 => app_not_found(client_id, "the directory"),
        7_000_215 => invalid_secret(client_id),
        700_025 => public_client_sent_secret(),
        70_000 => AadError::invalid_grant(70_000, "Provided grant is invalid or malformed."),
        70_008 => AadError::invalid_grant(
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ),
        50_173 => AadError::invalid_grant(
            50_173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ),
        50_126 => bad_credentials(),
        90_002 => tenant_not_found("unknown"),
        other => AadError::invalid_request(other, "Error injected by the mailoauth emulator."),
    }
}

pub(crate) fn missing_client_credential() -> AadError {
    AadError::invalid_client(
        7_000_218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

pub(crate) fn public_client_sent_secret() -> AadError {
    AadError::invalid_client(
        700_025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )
}

pub(crate) fn invalid_secret(client_id: &str) -> AadError {
    AadError::invalid_client(
        7_000_215,
        format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
    )
}

pub(crate) fn app_not_found(client_id: &str, directory: &str) -> AadError {
    AadError::new(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700_016,
        format!("Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
    )
}

pub(crate) fn tenant_not_found(tenant: &str) -> AadError {
    AadError::invalid_request(
        90_002,
        format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
    )
}

pub(crate) fn bad_credentials() -> AadError {
    AadError::invalid_grant(50_126, "Error validating credentials due to invalid username or password.")
}
