//! The small HTTP and platform traits the identity code runs on, so hosts can inject their
//! own HTTP stack (reqwest natively, `fetch` in wasm, URLSession in Swift) and clock.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

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

impl core::error::Error for HttpError {}

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
    let mut out = String::new();
    super::url::push_form(&mut out, pairs);
    out.into_bytes()
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
    resp.header("retry-after").and_then(|v| crate::text::parse_u64(v.trim())).map(Duration::from_secs)
}

/// What to do after one attempt of a request ([`Retry::after`]).
#[derive(Debug)]
pub enum RetryStep {
    /// The request is over: the response to read, or the error that ended it.
    Done(Result<HttpResponse, IdentityError>),
    /// Wait this long (the host sleeps), then send the same request again.
    Wait(Duration),
}

/// The retry decisions of one request, sans-IO: after a transport error, a 5xx or a 429 the
/// request is sent again after a doubling backoff (or the server's `Retry-After`), at most
/// [`RetryPolicy::max_retries`] times; a `Retry-After` above [`RetryPolicy::max_wait`] ends it.
/// The host sends and sleeps; every host (the native driver, a browser driving requests with
/// `fetch`) makes the same decisions.
#[derive(Clone, Debug)]
pub struct Retry {
    policy: RetryPolicy,
    attempt: u32,
    backoff: Duration,
}

impl Retry {
    /// The decisions for a request under `policy`.
    pub fn new(policy: RetryPolicy) -> Retry {
        Retry { policy, attempt: 0, backoff: policy.backoff }
    }

    /// The outcome of an attempt at `url`: done, or wait and send again.
    pub fn after(&mut self, url: &str, result: Result<HttpResponse, HttpError>) -> RetryStep {
        let last = self.attempt >= self.policy.max_retries;
        let wait = match result {
            Err(e) if last => {
                let msg = if e.timed_out {
                    crate::cat!("no answer from ", url, " in time: ", e.message)
                } else {
                    crate::cat!("could not reach ", url, ": ", e.message)
                };
                return RetryStep::Done(Err(IdentityError::new(IdentityErrorKind::Network, msg)));
            }
            Err(_) => self.backoff,
            Ok(resp) if resp.status == 429 || resp.status >= 500 => {
                let wait = retry_after(&resp).unwrap_or(self.backoff);
                if last || wait > self.policy.max_wait {
                    // The answer itself says why (its status and error JSON are read as usual).
                    return RetryStep::Done(Ok(resp));
                }
                wait
            }
            Ok(resp) => return RetryStep::Done(Ok(resp)),
        };
        self.attempt += 1;
        self.backoff = self.backoff.saturating_mul(2);
        RetryStep::Wait(wait)
    }
}

/// Sends with retries on transport errors, 5xx and 429 ([`Retry`] decides, this sleeps).
pub(crate) async fn send_with_retry(
    http: &dyn HttpClient,
    platform: &dyn Platform,
    policy: RetryPolicy,
    request: HttpRequest,
) -> Result<HttpResponse, IdentityError> {
    let mut retry = Retry::new(policy);
    loop {
        let result = http.send(request.clone()).await;
        match retry.after(&request.url, result) {
            RetryStep::Done(r) => return r,
            RetryStep::Wait(wait) => platform.sleep(wait).await,
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    fn status(code: u16, retry_after: Option<&str>) -> Result<HttpResponse, HttpError> {
        let headers = retry_after.map(|v| vec![("Retry-After".to_owned(), v.to_owned())]).unwrap_or_default();
        Ok(HttpResponse { status: code, headers, body: Vec::new() })
    }

    fn policy() -> RetryPolicy {
        RetryPolicy { max_retries: 2, backoff: Duration::from_millis(100), max_wait: Duration::from_secs(60) }
    }

    #[test]
    fn backoff_doubles_then_the_last_answer_is_returned() {
        let mut r = Retry::new(policy());
        assert!(matches!(r.after("u", status(503, None)), RetryStep::Wait(w) if w == Duration::from_millis(100)));
        let err = Err(HttpError { message: "reset".into(), timed_out: false });
        assert!(matches!(r.after("u", err), RetryStep::Wait(w) if w == Duration::from_millis(200)));
        match r.after("u", status(503, None)) {
            RetryStep::Done(Ok(resp)) => assert_eq!(resp.status, 503),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_is_honoured_or_ends_the_request() {
        let mut r = Retry::new(policy());
        assert!(matches!(r.after("u", status(429, Some("7"))), RetryStep::Wait(w) if w == Duration::from_secs(7)));
        let mut r = Retry::new(policy());
        assert!(matches!(r.after("u", status(429, Some("3600"))), RetryStep::Done(Ok(resp)) if resp.status == 429));
    }

    #[test]
    fn transport_errors_end_as_network_errors_naming_the_url() {
        let mut r = Retry::new(RetryPolicy { max_retries: 0, ..policy() });
        let timeout = Err(HttpError { message: "deadline".into(), timed_out: true });
        match r.after("https://login.example/token", timeout) {
            RetryStep::Done(Err(e)) => {
                assert_eq!(e.kind, IdentityErrorKind::Network);
                assert!(e.message.contains("no answer from https://login.example/token in time"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Retry::new(policy()).after("u", status(200, None)), RetryStep::Done(Ok(_))));
        assert!(
            matches!(Retry::new(policy()).after("u", status(400, None)), RetryStep::Done(Ok(r)) if r.status == 400)
        );
    }
}
