//! The small HTTP and platform traits the identity code runs on, so hosts can inject their
//! own HTTP stack (reqwest natively, `fetch` in wasm, URLSession in Swift) and clock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::{IdentityError, IdentityErrorKind};

/// A boxed future; `Send` on native targets, not on wasm (JS objects are single-threaded).
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future; `Send` on native targets, not on wasm (JS objects are single-threaded).
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// `Send + Sync` on native targets, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` on native targets, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// An HTTP request. Token requests carry secrets in the body, so `Debug` omits it.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// An HTTP response.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A transport failure (no HTTP answer at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// What happened.
    pub message: String,
    /// Whether it was a time-out.
    pub timed_out: bool,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// Sends HTTP requests. Implementations must not follow redirects (a token endpoint that
/// redirects is an error) and must apply their own time-out.
pub trait HttpClient: MaybeSendSync {
    /// Sends one request.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

/// The clock and timer of the host.
pub trait Platform: MaybeSendSync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// Retry policy for token requests: 5xx and 429 are retried with backoff, honouring
/// `Retry-After` up to `max_wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each time.
    pub backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the request fails as throttled.
    pub max_wait: Duration,
}

/// The largest response body read from an identity endpoint (1 MiB), by every HTTP client the
/// library brings (native reqwest, the wasm binding's `fetch`): a larger one is a transport
/// error, and reading stops there.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The time-out of one HTTP request in the native client (`ReqwestHttp::new`).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

impl RetryPolicy {
    /// The longest a request sent with this policy can take when each attempt takes up to
    /// `per_attempt`: every attempt, plus the longest wait before each retry.
    pub fn worst_case(&self, per_attempt: Duration) -> Duration {
        let waits = self.max_wait.max(self.backoff.saturating_mul(1u32 << self.max_retries.min(16)));
        per_attempt
            .saturating_mul(self.max_retries.saturating_add(1))
            .saturating_add(waits.saturating_mul(self.max_retries))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2, backoff: Duration::from_millis(500), max_wait: Duration::from_secs(30) }
    }
}

/// `application/x-www-form-urlencoded` body.
pub(crate) fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish().into_bytes()
}

/// A form POST with the headers token endpoints expect.
pub(crate) fn form_post(url: &str, pairs: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: url.to_owned(),
        headers: vec![
            ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("x-client-SKU".to_owned(), "mailoauth.rust".to_owned()),
            ("x-client-Ver".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ],
        body: form(pairs),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub(crate) fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    resp.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

/// Sends with retries on transport errors, 5xx and 429.
pub(crate) async fn send_with_retry(
    http: &dyn HttpClient,
    platform: &dyn Platform,
    policy: RetryPolicy,
    request: HttpRequest,
) -> Result<HttpResponse, IdentityError> {
    let mut attempt = 0;
    let mut backoff = policy.backoff;
    loop {
        let result = http.send(request.clone()).await;
        let retryable_wait = match &result {
            Err(e) => {
                if attempt >= policy.max_retries {
                    let kind = IdentityErrorKind::Network;
                    let msg = if e.timed_out {
                        format!("no answer from {} in time: {e}", request.url)
                    } else {
                        format!("could not reach {}: {e}", request.url)
                    };
                    return Err(IdentityError::new(kind, msg));
                }
                Some(backoff)
            }
            Ok(resp) if resp.status == 429 || resp.status >= 500 => {
                let wait = retry_after(resp).unwrap_or(backoff);
                if attempt >= policy.max_retries || wait > policy.max_wait {
                    return result.map_err(|_| IdentityError::new(IdentityErrorKind::Network, "unreachable"));
                }
                Some(wait)
            }
            Ok(_) => None,
        };
        match retryable_wait {
            None => return result.map_err(|e| IdentityError::new(IdentityErrorKind::Network, e.message)),
            Some(wait) => {
                platform.sleep(wait).await;
                attempt += 1;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
}
