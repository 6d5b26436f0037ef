//! A scripted, hostile identity endpoint: huge numbers, control characters, `interval: 0`,
//! transport errors. Runs on a fake clock (sleeps advance it at once), so nothing here waits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailoauth::identity::{
    BoxFuture, DevicePoll, HttpClient, HttpError, HttpRequest, HttpResponse, IdentityErrorKind, Platform, RetryPolicy,
};
use mailoauth::{Authority, Cloud, PublicClient};

/// Answers from a script, in order; the last one repeats.
struct Scripted {
    answers: Mutex<VecDeque<Result<(u16, String), String>>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(answers: Vec<Result<(u16, String), String>>) -> Arc<Scripted> {
        Arc::new(Scripted { answers: Mutex::new(answers.into()), calls: AtomicUsize::new(0) })
    }
}

impl HttpClient for Scripted {
    fn send(&self, _request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut q = self.answers.lock().expect("lock");
        let next = if q.len() > 1 { q.pop_front() } else { q.front().cloned() }.expect("an answer");
        Box::pin(async move {
            match next {
                Ok((status, body)) => Ok(HttpResponse { status, headers: Vec::new(), body: body.into_bytes() }),
                Err(message) => Err(HttpError { message, timed_out: false }),
            }
        })
    }
}

/// A clock that starts at `start` and that `sleep` advances at once; records the sleeps.
struct FakeClock {
    now: AtomicI64,
    millis: AtomicI64,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeClock {
    fn new(start: i64) -> Arc<FakeClock> {
        Arc::new(FakeClock { now: AtomicI64::new(start), millis: AtomicI64::new(0), sleeps: Mutex::new(Vec::new()) })
    }
}

impl Platform for FakeClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst) + self.millis.load(Ordering::SeqCst) / 1000
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        self.sleeps.lock().expect("lock").push(d);
        self.millis.fetch_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2), Ordering::SeqCst);
        Box::pin(async {})
    }
}

fn client(authority: Authority, http: Arc<Scripted>, clock: Arc<FakeClock>) -> PublicClient {
    PublicClient::new("client", authority, http, clock).with_retry(RetryPolicy {
        max_retries: 1,
        backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(1),
    })
}

fn microsoft() -> Authority {
    Authority::microsoft(Cloud::Global, "organizations")
}

fn ok(body: &str) -> Result<(u16, String), String> {
    Ok((200, body.to_owned()))
}

fn device_answer(expires_in: &str, interval: &str) -> String {
    format!(
        r#"{{"device_code":"dc","user_code":"UC","verification_uri":"https://microsoft.com/devicelogin","expires_in":{expires_in},"interval":{interval},"message":"m"}}"#
    )
}

const PENDING: &str = r#"{"error":"authorization_pending","error_description":"AADSTS70016: pending"}"#;

fn token_answer(expires_in: &str) -> String {
    format!(r#"{{"token_type":"Bearer","access_token":"at","expires_in":{expires_in},"refresh_in":{expires_in}}}"#)
}

fn scopes() -> Vec<String> {
    vec!["https://outlook.office.com/IMAP.AccessAsUser.All".to_owned()]
}

// ---- item 3: huge and negative numbers ------------------------------------------------------

#[tokio::test]
async fn huge_device_code_expires_in_is_clamped_not_overflowed() {
    for huge in ["9223372036854775807", "18446744073709551615", "\"9223372036854775807\""] {
        let clock = FakeClock::new(1_700_000_000);
        let c = client(microsoft(), Scripted::new(vec![ok(&device_answer(huge, "5"))]), clock.clone());
        let flow = c.start_device_flow(&scopes()).await.expect("a flow");
        assert_eq!(flow.expires_at, 1_700_000_000 + mailoauth::identity::MAX_DEVICE_CODE_LIFETIME_SECS, "{huge}");
    }
    let c = client(microsoft(), Scripted::new(vec![ok(&device_answer("-5", "5"))]), FakeClock::new(0));
    let e = c.start_device_flow(&scopes()).await.expect_err("negative");
    assert_eq!(e.kind, IdentityErrorKind::Protocol, "{e}");
    // A huge interval and slow_down on top of it neither overflow nor wait for ever.
    let http = Scripted::new(vec![
        ok(&device_answer("900", "9223372036854775807")),
        Ok((400, r#"{"error":"slow_down"}"#.to_owned())),
    ]);
    let c = client(microsoft(), http, FakeClock::new(0));
    let mut flow = c.start_device_flow(&scopes()).await.expect("a flow");
    assert_eq!(flow.interval, mailoauth::identity::MAX_POLL_INTERVAL_SECS);
    match c.poll_device_flow(&mut flow).await.expect("slow_down") {
        DevicePoll::Pending(w) => assert_eq!(w.as_secs(), mailoauth::identity::MAX_POLL_INTERVAL_SECS),
        DevicePoll::Done(_) => panic!("not done"),
    }
}

#[tokio::test]
async fn huge_token_expires_in_is_clamped_to_a_day() {
    let start = 1_700_000_000;
    for huge in ["9223372036854775807", "\"9223372036854775807\""] {
        let http = Scripted::new(vec![ok(&device_answer("900", "5")), ok(&token_answer(huge))]);
        let c = client(microsoft(), http, FakeClock::new(start));
        let flow = c.start_device_flow(&scopes()).await.expect("a flow");
        let t = c.wait_device_flow(&flow).await.expect("a token");
        let day = mailoauth::identity::MAX_TOKEN_LIFETIME_SECS;
        assert!(t.expires_at > start && t.expires_at <= start + 10 + day, "{huge}: {}", t.expires_at);
        assert!(t.refresh_at.is_some_and(|r| r <= t.expires_at), "{huge}");
    }
    // Negative: expired at once (0), never before now.
    let http = Scripted::new(vec![ok(&device_answer("900", "5")), ok(&token_answer("-9223372036854775808"))]);
    let c = client(microsoft(), http, FakeClock::new(start));
    let flow = c.start_device_flow(&scopes()).await.expect("a flow");
    let t = c.wait_device_flow(&flow).await.expect("a token");
    assert!(t.expires_at >= start && t.expires_at <= start + 10, "{}", t.expires_at);
}

// ---- item 5: polling interval floor and transport errors -----------------------------------

#[tokio::test]
async fn zero_interval_is_floored_for_a_real_identity_platform() {
    let clock = FakeClock::new(0);
    let http = Scripted::new(vec![ok(&device_answer("60", "0")), Ok((400, PENDING.to_owned()))]);
    let c = client(microsoft(), http.clone(), clock.clone());
    let flow = c.start_device_flow(&scopes()).await.expect("a flow");
    assert_eq!(flow.interval, 1, "interval 0 from an https authority is raised to 1 s");
    let e = c.wait_device_flow(&flow).await.expect_err("expires");
    assert_eq!(e.kind, IdentityErrorKind::Expired);
    // 60 s at one poll a second at most (plus the device-code request).
    assert!(http.calls.load(Ordering::SeqCst) <= 62, "{} requests", http.calls.load(Ordering::SeqCst));
    // Absent: RFC 8628's 5 s.
    let http = Scripted::new(vec![ok(
        r#"{"device_code":"dc","user_code":"UC","verification_uri":"https://x","expires_in":60}"#,
    )]);
    let flow = client(microsoft(), http, FakeClock::new(0)).start_device_flow(&scopes()).await.expect("a flow");
    assert_eq!(flow.interval, 5);
    // A flow a host edited itself is floored too when this client waits on it.
    let clock = FakeClock::new(0);
    let http = Scripted::new(vec![Ok((400, PENDING.to_owned()))]);
    let c = client(microsoft(), http.clone(), clock.clone());
    let mut edited = flow.clone();
    edited.interval = 0;
    edited.expires_at = 30;
    c.wait_device_flow(&edited).await.expect_err("expires");
    assert!(http.calls.load(Ordering::SeqCst) <= 31, "{} polls in 30 s", http.calls.load(Ordering::SeqCst));
}

#[tokio::test]
async fn zero_interval_stays_zero_only_for_a_loopback_emulator() {
    let authority = Authority::from_url("http://127.0.0.1:9/tenant").expect("loopback authority");
    let http = Scripted::new(vec![ok(&device_answer("60", "0"))]);
    let flow = client(authority, http, FakeClock::new(0)).start_device_flow(&scopes()).await.expect("a flow");
    assert_eq!(flow.interval, 0, "an http:// loopback authority (the emulator) keeps its interval");
}

#[tokio::test]
async fn a_transport_error_does_not_end_the_device_flow() {
    let clock = FakeClock::new(0);
    let down = || Err("connection reset".to_owned());
    // Two failed rounds (each: one try + one retry), then pending, then the token.
    let http = Scripted::new(vec![
        ok(&device_answer("900", "5")),
        down(),
        down(),
        down(),
        down(),
        Ok((400, PENDING.to_owned())),
        ok(&token_answer("3600")),
    ]);
    let c = client(microsoft(), http, clock.clone());
    let flow = c.start_device_flow(&scopes()).await.expect("a flow");
    let t = c.wait_device_flow(&flow).await.expect("the token despite two transport failures");
    assert_eq!(t.access_token.expose_secret(), "at");
    // It backed off: some wait after a failure is longer than the interval.
    let sleeps = clock.sleeps.lock().expect("lock").clone();
    assert!(sleeps.iter().any(|d| *d > Duration::from_secs(5)), "{sleeps:?}");
    // A transport error that lasts until the code expires ends the flow with that error.
    let clock = FakeClock::new(0);
    let http = Scripted::new(vec![ok(&device_answer("120", "5")), down()]);
    let c = client(microsoft(), http, clock.clone());
    let flow = c.start_device_flow(&scopes()).await.expect("a flow");
    let e = c.wait_device_flow(&flow).await.expect_err("expires");
    assert_eq!(e.kind, IdentityErrorKind::Network, "{e}");
    assert!(e.message.contains("expired"), "{e}");
    assert!(clock.now() >= 120, "polled until the code expired: {}", clock.now());
}

// ---- item 4: terminal injection -----------------------------------------------------------

const ESC: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{202e}\u{9b}31m";

fn is_safe(s: &str) -> bool {
    !s.chars().any(mailoauth::text::is_unsafe_char)
}

#[tokio::test]
async fn control_characters_from_the_identity_platform_are_neutralised() {
    // JSON \uXXXX escapes need four hex digits.
    let json_esc: String = ESC.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let body = format!(
        r#"{{"error":"invalid_grant{json_esc}","error_description":"AADSTS70000: bad{json_esc}\r\nTrace ID: t{json_esc}","error_codes":[70000],"correlation_id":"c{json_esc}","trace_id":"t{json_esc}","suberror":"s{json_esc}"}}"#
    );
    let http = Scripted::new(vec![ok(&device_answer("900", "5")), Ok((400, body))]);
    let c = client(microsoft(), http, FakeClock::new(0));
    let flow = c.start_device_flow(&scopes()).await.expect("a flow");
    let e = c.wait_device_flow(&flow).await.expect_err("invalid_grant");
    assert_eq!(e.kind, IdentityErrorKind::InvalidGrant);
    for (name, text) in [
        ("message", Some(e.message.clone())),
        ("display", Some(e.to_string())),
        ("error", e.error.clone()),
        ("error_description", e.error_description.clone()),
        ("correlation_id", e.correlation_id.clone()),
        ("trace_id", e.trace_id.clone()),
        ("suberror", e.suberror.clone()),
    ] {
        let text = text.unwrap_or_else(|| panic!("{name} kept"));
        assert!(is_safe(&text), "{name}: {text:?}");
    }
    assert!(e.message.starts_with("AADSTS70000: bad"), "{}", e.message);
    // The device-code message, user code and URI.
    let answer = format!(
        r#"{{"device_code":"dc","user_code":"UC{json_esc}","verification_uri":"https://x/{json_esc}","expires_in":60,"message":"Go to https://x{json_esc} now"}}"#
    );
    let flow = client(microsoft(), Scripted::new(vec![ok(&answer)]), FakeClock::new(0))
        .start_device_flow(&scopes())
        .await
        .expect("a flow");
    for text in [&flow.message, &flow.user_code, &flow.verification_uri] {
        assert!(is_safe(text), "{text:?}");
    }
    assert!(flow.message.starts_with("Go to https://x"), "{}", flow.message);
    // A non-JSON answer quoted in the error.
    let http = Scripted::new(vec![Ok((418, format!("<html>{ESC}</html>")))]);
    let e = client(microsoft(), http, FakeClock::new(0)).start_device_flow(&scopes()).await.expect_err("418");
    assert!(is_safe(&e.message) && is_safe(&e.to_string()), "{:?}", e.message);
}

#[test]
fn control_characters_in_an_error_redirect_are_neutralised() {
    let c = client(microsoft(), Scripted::new(vec![ok("{}")]), FakeClock::new(0));
    let request =
        c.authorization_url(&scopes(), "http://localhost:1234", &Default::default()).expect("authorization url");
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "access_denied")
        .append_pair("error_description", &format!("AADSTS65004: declined{ESC}"))
        .append_pair("state", &request.state)
        .finish();
    let e = mailoauth::identity::parse_redirect(&request, &format!("http://localhost:1234/?{q}")).expect_err("error");
    assert_eq!(e.kind, IdentityErrorKind::Declined);
    assert!(is_safe(&e.message) && is_safe(&e.to_string()), "{:?}", e.message);
    assert!(e.error_description.as_deref().is_some_and(is_safe) && e.error.as_deref().is_some_and(is_safe));
}
