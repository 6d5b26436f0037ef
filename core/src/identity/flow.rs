//! The grants as sans-IO machines: each step says which HTTP request to send or how long to
//! wait, and takes the answer; no sockets, no clock, no timer. The host owns the I/O: the
//! native client drives them with reqwest and tokio ([`drive`]), a browser with `fetch` and
//! `setTimeout`, a test with a script. Every host therefore makes the same decisions: which
//! request, which retry after which failure (backoff, `Retry-After`), how long between
//! device-code polls (interval, `slow_down`, expiry), what an answer means.
//!
//! A machine is advanced with [`Flow::resume`]: first with [`Event::Start`], then with the
//! event its last [`Step`] asked for ([`Event::Response`] after [`Step::Send`],
//! [`Event::Woke`] after [`Step::Wait`]), each time with the host's clock (Unix seconds).
//! Any other event, or any event after [`Step::Done`], is a
//! [`IdentityErrorKind::Configuration`] error (a host bug), never a panic.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use super::error::{IdentityError, IdentityErrorKind};
use super::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Platform, Retry, RetryPolicy, RetryStep};
use super::public::{parse_device_code, DeviceCodeFlow, MAX_POLL_INTERVAL_SECS, MIN_POLL_INTERVAL_SECS};
use super::token::{parse_token_response, RefreshToken, Token};

/// What the host brings to a machine.
#[derive(Debug)]
pub enum Event {
    /// The first event of every machine.
    Start,
    /// The answer to the request of the last [`Step::Send`], or why none came.
    Response(Result<HttpResponse, HttpError>),
    /// The wait of the last [`Step::Wait`] is over.
    Woke,
}

/// What a machine asks of the host next.
#[derive(Debug)]
pub enum Step<T> {
    /// Send this request (no redirects followed, the host's time-out and body limit applied),
    /// then resume with [`Event::Response`].
    Send(HttpRequest),
    /// Sleep this long, then resume with [`Event::Woke`]. The host may cancel here.
    Wait(Duration),
    /// The flow is over.
    Done(Result<T, IdentityError>),
}

/// A grant, or a part of one, as a sans-IO machine.
pub trait Flow {
    /// What the flow yields when it succeeds.
    type Output;
    /// Advances the flow with `event`, at `now` (the host's clock, Unix seconds).
    fn resume(&mut self, now: i64, event: Event) -> Step<Self::Output>;
}

/// A boxed flow is a flow (so wrappers such as `cache::Stored` can take any grant as one type).
impl<F: Flow + ?Sized> Flow for Box<F> {
    type Output = F::Output;

    fn resume(&mut self, now: i64, event: Event) -> Step<F::Output> {
        (**self).resume(now, event)
    }
}

/// Runs `flow` to its end with `http` and `platform`'s clock and timer: the native driver
/// (reqwest and tokio), the Python and Swift paths and the CLI all run the machines this way.
/// Cancel by dropping the future.
pub async fn drive<F: Flow>(
    flow: &mut F,
    http: &dyn HttpClient,
    platform: &dyn Platform,
) -> Result<F::Output, IdentityError> {
    let mut step = flow.resume(platform.now(), Event::Start);
    loop {
        step = match step {
            Step::Send(request) => {
                let answer = http.send(request).await;
                flow.resume(platform.now(), Event::Response(answer))
            }
            Step::Wait(wait) => {
                platform.sleep(wait).await;
                flow.resume(platform.now(), Event::Woke)
            }
            Step::Done(result) => return result,
        };
    }
}

fn out_of_order(event: &Event, expected: &str) -> IdentityError {
    let got = match event {
        Event::Start => "Start",
        Event::Response(_) => "Response",
        Event::Woke => "Woke",
    };
    IdentityError::new(
        IdentityErrorKind::Configuration,
        crate::cat!(
            "the flow was resumed with ",
            got,
            " where it expected ",
            expected,
            " (a bug in the host driving it)"
        ),
    )
}

/// Where an [`Exchange`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ready,
    Sent,
    Waiting,
    Over,
}

/// One request with its retries: the building block of every machine.
#[derive(Debug, Clone)]
struct Exchange {
    request: HttpRequest,
    retry: Retry,
    phase: Phase,
}

/// What an [`Exchange`] asks for, or its answer.
enum ExchangeStep {
    Send(HttpRequest),
    Wait(Duration),
    Answer(Result<HttpResponse, IdentityError>),
}

impl Exchange {
    fn new(request: HttpRequest, policy: RetryPolicy) -> Exchange {
        Exchange { request, retry: Retry::new(policy), phase: Phase::Ready }
    }

    fn resume(&mut self, event: Event) -> ExchangeStep {
        match (self.phase, event) {
            (Phase::Ready, Event::Start) | (Phase::Waiting, Event::Woke) => {
                self.phase = Phase::Sent;
                ExchangeStep::Send(self.request.clone())
            }
            (Phase::Sent, Event::Response(answer)) => match self.retry.after(&self.request.url, answer) {
                RetryStep::Wait(wait) => {
                    self.phase = Phase::Waiting;
                    ExchangeStep::Wait(wait)
                }
                RetryStep::Done(answer) => {
                    self.phase = Phase::Over;
                    ExchangeStep::Answer(answer)
                }
            },
            (phase, event) => {
                self.phase = Phase::Over;
                let expected = match phase {
                    Phase::Ready => "Start",
                    Phase::Sent => "Response",
                    Phase::Waiting => "Woke",
                    Phase::Over => "nothing (the flow is over)",
                };
                ExchangeStep::Answer(Err(out_of_order(&event, expected)))
            }
        }
    }
}

/// One token request (authorization code, refresh token, password, client credentials, one
/// device-code poll): sent with retries, its answer read into a [`Token`]. A refresh keeps
/// the refresh token it redeemed when the answer carries no new one, so it is never lost.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    exchange: Exchange,
    scopes: Vec<String>,
    keep: Option<RefreshToken>,
}

impl TokenGrant {
    pub(crate) fn new(request: HttpRequest, policy: RetryPolicy, scopes: Vec<String>) -> TokenGrant {
        TokenGrant { exchange: Exchange::new(request, policy), scopes, keep: None }
    }

    /// Carries `refresh_token` over into the result when the answer has none.
    pub(crate) fn keeping(mut self, refresh_token: RefreshToken) -> TokenGrant {
        self.keep = Some(refresh_token);
        self
    }

    /// The request this grant sends (its body holds secrets).
    pub fn request(&self) -> &HttpRequest {
        &self.exchange.request
    }
}

impl Flow for TokenGrant {
    type Output = Token;

    fn resume(&mut self, now: i64, event: Event) -> Step<Token> {
        match self.exchange.resume(event) {
            ExchangeStep::Send(r) => Step::Send(r),
            ExchangeStep::Wait(w) => Step::Wait(w),
            ExchangeStep::Answer(answer) => Step::Done(answer.and_then(|resp| {
                let mut token = parse_token_response(&resp, now, &self.scopes)?;
                if token.refresh_token.is_none() {
                    token.refresh_token = self.keep.take();
                }
                Ok(token)
            })),
        }
    }
}

/// The start of a device-code sign-in (RFC 8628): the device-code request, its answer read
/// into a [`DeviceCodeFlow`] to show the user and then wait on with [`DeviceCodeWait`].
#[derive(Debug, Clone)]
pub struct DeviceCodeStart {
    exchange: Exchange,
    scopes: Vec<String>,
    min_interval: u64,
}

impl DeviceCodeStart {
    pub(crate) fn new(request: HttpRequest, policy: RetryPolicy, scopes: Vec<String>, min_interval: u64) -> Self {
        DeviceCodeStart { exchange: Exchange::new(request, policy), scopes, min_interval }
    }
}

impl Flow for DeviceCodeStart {
    type Output = DeviceCodeFlow;

    fn resume(&mut self, now: i64, event: Event) -> Step<DeviceCodeFlow> {
        match self.exchange.resume(event) {
            ExchangeStep::Send(r) => Step::Send(r),
            ExchangeStep::Wait(w) => Step::Wait(w),
            ExchangeStep::Answer(answer) => {
                Step::Done(answer.and_then(|resp| {
                    parse_device_code(&resp, now, core::mem::take(&mut self.scopes), self.min_interval)
                }))
            }
        }
    }
}

/// What one device-code poll said.
#[derive(Debug)]
pub(crate) enum PollOutcome {
    /// The user signed in.
    Token(Box<Token>),
    /// Not yet: poll again after this long.
    Pending(Duration),
}

/// Reads the answer to one device-code poll: a token, `authorization_pending` (wait the
/// interval), `slow_down` (the interval grows by 5 s, RFC 8628 §3.5), or the error that
/// ends the flow. Errors sent with HTTP 200 (seen in the wild) are recognised too.
pub(crate) fn poll_outcome(
    flow: &mut DeviceCodeFlow,
    answer: Result<HttpResponse, IdentityError>,
    now: i64,
) -> Result<PollOutcome, IdentityError> {
    match answer.and_then(|resp| parse_token_response(&resp, now, &flow.scopes)) {
        Ok(t) => Ok(PollOutcome::Token(Box::new(t))),
        Err(e) => match e.error.as_deref() {
            Some("authorization_pending") => Ok(PollOutcome::Pending(Duration::from_secs(flow.interval))),
            Some("slow_down") => {
                flow.interval = flow.interval.saturating_add(5).min(MAX_POLL_INTERVAL_SECS);
                Ok(PollOutcome::Pending(Duration::from_secs(flow.interval)))
            }
            _ => Err(e),
        },
    }
}

/// The error of a device code that expired before the user signed in.
pub(crate) fn expired_error() -> IdentityError {
    IdentityError::new(IdentityErrorKind::Expired, "the device code expired before the user signed in")
}

/// Waiting for the user to finish a device-code sign-in: polls at the interval (at least
/// [`MIN_POLL_INTERVAL_SECS`], except for a loopback emulator), slows down on `slow_down`,
/// stops when the code expires. A poll that fails for a temporary reason (transport error,
/// 5xx or 429 after the retries) does not end the flow: polling goes on with a doubling wait
/// (up to a minute, at least the server's `Retry-After`) until the code expires, and then
/// that error is returned. Cancel by not resuming it.
#[derive(Debug, Clone)]
pub struct DeviceCodeWait {
    flow: DeviceCodeFlow,
    poll: HttpRequest,
    policy: RetryPolicy,
    wait: Duration,
    last_failure: Option<IdentityError>,
    state: WaitState,
}

#[derive(Debug, Clone)]
enum WaitState {
    Ready,
    Sleeping,
    Polling(Exchange),
    Over,
}

impl DeviceCodeWait {
    pub(crate) fn new(mut flow: DeviceCodeFlow, poll: HttpRequest, policy: RetryPolicy, min_interval: u64) -> Self {
        flow.interval = flow.interval.clamp(min_interval, MAX_POLL_INTERVAL_SECS);
        let wait = Duration::from_secs(flow.interval);
        DeviceCodeWait { flow, poll, policy, wait, last_failure: None, state: WaitState::Ready }
    }

    /// The flow as it stands (its interval grows with `slow_down`).
    pub fn flow(&self) -> &DeviceCodeFlow {
        &self.flow
    }

    /// The code expired: the last temporary failure says why it was never used, if any.
    fn expired(&mut self) -> Step<Token> {
        self.state = WaitState::Over;
        Step::Done(Err(match self.last_failure.take() {
            Some(mut f) => {
                f.message = crate::cat!(f.message, " (polled until the device code expired)");
                f
            }
            None => expired_error(),
        }))
    }

    /// Sleeps until the next poll (never past the expiry), or ends if the code expired.
    fn sleep(&mut self, now: i64) -> Step<Token> {
        let left = self.flow.expires_at.saturating_sub(now);
        if left <= 0 {
            return self.expired();
        }
        self.state = WaitState::Sleeping;
        Step::Wait(self.wait.min(Duration::from_secs(left.unsigned_abs())))
    }
}

impl Flow for DeviceCodeWait {
    type Output = Token;

    fn resume(&mut self, now: i64, event: Event) -> Step<Token> {
        match (core::mem::replace(&mut self.state, WaitState::Over), event) {
            (WaitState::Ready, Event::Start) => self.sleep(now),
            (WaitState::Sleeping, Event::Woke) => {
                if now >= self.flow.expires_at {
                    return self.expired();
                }
                let mut exchange = Exchange::new(self.poll.clone(), self.policy);
                let step = exchange.resume(Event::Start);
                self.state = WaitState::Polling(exchange);
                match step {
                    ExchangeStep::Send(r) => Step::Send(r),
                    _ => Step::Done(Err(out_of_order(&Event::Start, "a poll"))), // not reached
                }
            }
            (WaitState::Polling(mut exchange), event) => match exchange.resume(event) {
                ExchangeStep::Send(r) => {
                    self.state = WaitState::Polling(exchange);
                    Step::Send(r)
                }
                ExchangeStep::Wait(w) => {
                    self.state = WaitState::Polling(exchange);
                    Step::Wait(w)
                }
                ExchangeStep::Answer(answer) => match poll_outcome(&mut self.flow, answer, now) {
                    Ok(PollOutcome::Token(t)) => Step::Done(Ok(*t)),
                    Ok(PollOutcome::Pending(w)) => {
                        self.wait = w;
                        self.last_failure = None;
                        self.sleep(now)
                    }
                    Err(e) => match self.flow.wait_after_failure(self.wait, &e) {
                        Some(w) => {
                            self.wait = w;
                            self.last_failure = Some(e);
                            self.sleep(now)
                        }
                        // Expired while the endpoint failed: say why the code was not used.
                        None if e.kind == IdentityErrorKind::Expired && self.last_failure.is_some() => self.expired(),
                        None => Step::Done(Err(e)),
                    },
                },
            },
            (state, event) => {
                let expected = match state {
                    WaitState::Ready => "Start",
                    WaitState::Sleeping => "Woke",
                    WaitState::Polling(_) => "Response",
                    WaitState::Over => "nothing (the flow is over)",
                };
                Step::Done(Err(out_of_order(&event, expected)))
            }
        }
    }
}

/// The floor of the poll interval for an authority: [`MIN_POLL_INTERVAL_SECS`], or 0 for an
/// `http://` loopback emulator (test suites run with `--device-code-interval 0`).
pub(crate) fn min_poll_interval(loopback_http: bool) -> u64 {
    if loopback_http {
        0
    } else {
        MIN_POLL_INTERVAL_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Authority, Cloud, PublicApp};

    const NOW: i64 = 1_000_000;

    fn app() -> PublicApp {
        let policy =
            RetryPolicy { max_retries: 2, backoff: Duration::from_millis(100), max_wait: Duration::from_secs(60) };
        PublicApp::new("client", Authority::microsoft(Cloud::Global, "common")).with_retry(policy)
    }

    fn answer(status: u16, body: &str) -> Event {
        Event::Response(Ok(HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() }))
    }

    fn form(request: &HttpRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(&request.body).into_owned().collect()
    }

    fn scopes() -> Vec<String> {
        vec!["https://outlook.office.com/IMAP.AccessAsUser.All".to_owned()]
    }

    fn device_flow(interval: u64, expires_at: i64) -> DeviceCodeFlow {
        DeviceCodeFlow {
            user_code: "U".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            message: "m".into(),
            expires_at,
            interval,
            scopes: scopes(),
            device_code: "D".into(),
        }
    }

    #[test]
    fn a_refresh_is_sent_retried_after_a_5xx_and_keeps_its_refresh_token() {
        let mut grant = app().refresh(&RefreshToken::new("rt-1"), &scopes()).expect("grant");
        let Step::Send(request) = grant.resume(NOW, Event::Start) else { panic!("first step sends") };
        assert_eq!(request.url, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
        let pairs = form(&request);
        assert!(pairs.contains(&("grant_type".into(), "refresh_token".into())), "{pairs:?}");
        assert!(pairs.contains(&("refresh_token".into(), "rt-1".into())));
        assert!(pairs.contains(&("client_info".into(), "1".into())));
        assert!(matches!(grant.resume(NOW, answer(503, "")), Step::Wait(w) if w == Duration::from_millis(100)));
        assert!(matches!(grant.resume(NOW, Event::Woke), Step::Send(r) if r == request));
        let body = r#"{"token_type":"Bearer","access_token":"at","expires_in":3600}"#;
        match grant.resume(NOW + 1, answer(200, body)) {
            Step::Done(Ok(t)) => {
                assert_eq!(t.expires_at, NOW + 1 + 3600);
                assert_eq!(t.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()), Some("rt-1".into()));
            }
            other => panic!("{other:?}"),
        }
        // Over: a host that resumes again gets a typed error, not a panic or a second request.
        match grant.resume(NOW, Event::Woke) {
            Step::Done(Err(e)) => assert_eq!(e.kind, IdentityErrorKind::Configuration),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_out_of_order_are_configuration_errors() {
        let mut grant = app().refresh(&RefreshToken::new("rt"), &scopes()).expect("grant");
        match grant.resume(NOW, answer(200, "{}")) {
            Step::Done(Err(e)) => {
                assert_eq!(e.kind, IdentityErrorKind::Configuration);
                assert!(e.message.contains("expected Start"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        let mut wait = app().device_code_wait(&device_flow(5, NOW + 900)).expect("wait");
        assert!(
            matches!(wait.resume(NOW, Event::Woke), Step::Done(Err(e)) if e.kind == IdentityErrorKind::Configuration)
        );
    }

    #[test]
    fn device_code_start_reads_the_answer_and_floors_the_interval() {
        let mut start = app().device_code(&scopes()).expect("start");
        let Step::Send(request) = start.resume(NOW, Event::Start) else { panic!("sends") };
        assert_eq!(request.url, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
        let body = r#"{"device_code":"D","user_code":"U","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":0,"message":"go \u001b[2J"}"#;
        match start.resume(NOW, answer(200, body)) {
            Step::Done(Ok(flow)) => {
                assert_eq!(flow.interval, MIN_POLL_INTERVAL_SECS);
                assert_eq!(flow.expires_at, NOW + 900);
                assert!(!flow.message.contains('\u{1b}'), "{:?}", flow.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn device_code_wait_polls_slows_down_survives_a_transport_error_and_ends_at_expiry() {
        let mut wait = app().device_code_wait(&device_flow(5, NOW + 30)).expect("wait");
        let mut now = NOW;
        assert!(matches!(wait.resume(now, Event::Start), Step::Wait(w) if w == Duration::from_secs(5)));
        now += 5;
        let Step::Send(poll) = wait.resume(now, Event::Woke) else { panic!("polls") };
        let pairs = form(&poll);
        assert!(pairs.contains(&("grant_type".into(), "urn:ietf:params:oauth:grant-type:device_code".into())));
        assert!(pairs.contains(&("device_code".into(), "D".into())));
        // slow_down: the interval grows by 5 s.
        let slow = r#"{"error":"slow_down","error_description":"slow"}"#;
        assert!(matches!(wait.resume(now, answer(400, slow)), Step::Wait(w) if w == Duration::from_secs(10)));
        assert_eq!(wait.flow().interval, 10);
        now += 10;
        assert!(matches!(wait.resume(now, Event::Woke), Step::Send(_)));
        // A transport error is retried by the request's own retries first...
        let reset = || Event::Response(Err(HttpError { message: "reset".into(), timed_out: false }));
        assert!(matches!(wait.resume(now, reset()), Step::Wait(_)));
        assert!(matches!(wait.resume(now, Event::Woke), Step::Send(_)));
        assert!(matches!(wait.resume(now, reset()), Step::Wait(_)));
        assert!(matches!(wait.resume(now, Event::Woke), Step::Send(_)));
        // ...then the flow goes on with a doubled wait, cut at the expiry (15 s left).
        assert!(matches!(wait.resume(now, reset()), Step::Wait(w) if w == Duration::from_secs(15)));
        now += 15;
        // The code expired: no poll is sent, and the error says why it was never used.
        match wait.resume(now, Event::Woke) {
            Step::Done(Err(e)) => {
                assert_eq!(e.kind, IdentityErrorKind::Network, "{e:?}");
                assert!(e.message.contains("polled until the device code expired"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn device_code_wait_ends_with_the_token_or_a_declined_sign_in() {
        let mut wait = app().device_code_wait(&device_flow(1, NOW + 900)).expect("wait");
        assert!(matches!(wait.resume(NOW, Event::Start), Step::Wait(_)));
        assert!(matches!(wait.resume(NOW + 1, Event::Woke), Step::Send(_)));
        let pending = r#"{"error":"authorization_pending"}"#;
        assert!(matches!(wait.resume(NOW + 1, answer(400, pending)), Step::Wait(w) if w == Duration::from_secs(1)));
        assert!(matches!(wait.resume(NOW + 2, Event::Woke), Step::Send(_)));
        let body = r#"{"token_type":"Bearer","access_token":"at","expires_in":3600,"refresh_token":"rt"}"#;
        assert!(matches!(wait.resume(NOW + 2, answer(200, body)), Step::Done(Ok(t)) if t.refresh_token.is_some()));

        let mut wait = app().device_code_wait(&device_flow(1, NOW + 900)).expect("wait");
        wait.resume(NOW, Event::Start);
        wait.resume(NOW + 1, Event::Woke);
        let declined = r#"{"error":"authorization_declined","error_description":"AADSTS70000: declined"}"#;
        assert!(
            matches!(wait.resume(NOW + 1, answer(400, declined)), Step::Done(Err(e)) if e.kind == IdentityErrorKind::Declined)
        );
    }
}
