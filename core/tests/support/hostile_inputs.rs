//! One check per input reader: feed it what a hostile peer could send and assert "no panic, a
//! typed result, and the result keeps the documented promises". Shared by the property tests
//! and corpus replay in `tests/hostile_inputs.rs`, by the stable fuzz driver in `fuzz-stable/`
//! (included there with `#[path]`) and through it by the libFuzzer targets in `core/fuzz`, so
//! all of them check the same thing (`target` names each fuzz target's check).
//!
//! Everything here runs synchronously: the HTTP client and the clock are scripted and answer
//! at once, so every future completes on its first poll (a future that does not is a hang,
//! and fails the check).

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mailoauth::cache::{CacheData, StoreErrorKind};
use mailoauth::identity::{
    account_from, check_access_token, decode_jwt_claims, parse_redirect, AuthorizationOptions, BoxFuture, HttpClient,
    HttpError, HttpRequest, HttpResponse, Platform, RefreshToken, RetryPolicy, TokenClaims,
    MAX_DEVICE_CODE_LIFETIME_SECS, MAX_POLL_INTERVAL_SECS, MAX_TOKEN_LIFETIME_SECS, MIN_POLL_INTERVAL_SECS,
};
use mailoauth::proto::{Action, Login, LoginConfig, Protocol};
use mailoauth::sasl::{ErrorChallenge, Mechanism};
use mailoauth::text::is_unsafe_char;
use mailoauth::{Authority, Cloud, IdentityError, PublicClient, TokenCache};

/// Numbers at the edges of what the readers accept (lifetimes, intervals, integer widths, f64):
/// the dictionary of the property tests and of the fuzzers.
pub const BOUNDARY_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "5",
    "600",
    "601",
    "3599",
    "86400",
    "86401",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "4.9e-324",
    "1e999",
    "0.5",
    "3599.9",
    "1E3",
    "3600",
    "65535",
    "65536",
    "2147483647",
    "-2147483648",
    "-1e999",
    "1e-7",
    "NaN",
    "Infinity",
    "0x10",
    "+1",
    "01",
];

/// Runs a future that must complete without waiting (scripted I/O, instant clock).
pub fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future over scripted I/O did not complete: it waits for something that never comes");
}

/// Answers every request with the same status and body.
pub struct Fixed {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpClient for Fixed {
    fn send(&self, _request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let resp = HttpResponse { status: self.status, headers: Vec::new(), body: self.body.clone() };
        Box::pin(async move { Ok(resp) })
    }
}

/// A clock at `now` whose sleeps return at once (and advance it).
pub struct Clock(pub AtomicI64);

impl Platform for Clock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(secs)));
        Box::pin(async {})
    }
}

fn client(authority: Authority, status: u16, body: &[u8], now: i64) -> PublicClient {
    PublicClient::new(
        "client",
        authority,
        Arc::new(Fixed { status, body: body.to_vec() }),
        Arc::new(Clock(AtomicI64::new(now))),
    )
    .with_retry(RetryPolicy { max_retries: 0, backoff: Duration::ZERO, max_wait: Duration::ZERO })
}

/// Text that may reach a terminal: nothing `safe_text` would have to replace.
pub fn assert_safe(what: &str, text: &str) {
    assert!(!text.chars().any(is_unsafe_char), "{what} carries unsafe characters: {text:?}");
}

fn assert_safe_error(e: &IdentityError) {
    assert_safe("error", &e.to_string());
    assert_safe("error message", &e.message);
    for text in [&e.error, &e.error_description, &e.suberror, &e.correlation_id, &e.trace_id].into_iter().flatten() {
        assert_safe("error field", text);
    }
}

pub const SCOPES: [&str; 1] = ["https://outlook.office.com/IMAP.AccessAsUser.All"];

fn scopes() -> Vec<String> {
    SCOPES.iter().map(|s| (*s).to_owned()).collect()
}

/// The token answer reader (`refresh`, the same path as every grant): a token keeps the
/// clamps (lifetime within a day, renewal within the lifetime), an error is typed and safe.
pub fn token_answer(status: u16, body: &[u8], now: i64) {
    let c = client(Authority::microsoft(Cloud::Global, "organizations"), status, body, now);
    match run(c.refresh(&RefreshToken::new("rt"), &scopes())) {
        Ok(t) => {
            assert!((200..300).contains(&status), "a token from HTTP {status}");
            assert!(!t.access_token.expose_secret().is_empty(), "an empty access token was accepted");
            let life = i128::from(t.expires_at) - i128::from(now);
            assert!(t.expires_at >= now, "expires_at {} before now {now}", t.expires_at);
            assert!(life <= i128::from(MAX_TOKEN_LIFETIME_SECS), "lifetime {life} s above the clamp");
            if let Some(r) = t.refresh_at {
                assert!(
                    r >= now && r <= t.expires_at,
                    "refresh_at {r} outside now {now}..=expires_at {}",
                    t.expires_at
                );
            }
            assert!(!t.scopes.is_empty(), "a token without scopes");
        }
        Err(e) => assert_safe_error(&e),
    }
}

/// The device-code answer reader: the flow keeps the clamps (lifetime within a day, interval
/// within `MIN..=MAX`, 0 allowed for a loopback emulator only), the texts shown to the user
/// are safe.
pub fn device_answer(status: u16, body: &[u8], now: i64, loopback: bool) {
    let authority = if loopback {
        Authority::from_url("http://127.0.0.1:1/organizations").expect("emulator authority")
    } else {
        Authority::microsoft(Cloud::Global, "organizations")
    };
    let c = client(authority, status, body, now);
    match run(c.start_device_flow(&scopes())) {
        Ok(flow) => {
            assert!((200..300).contains(&status), "a device flow from HTTP {status}");
            let life = i128::from(flow.expires_at) - i128::from(now);
            assert!(
                (0..=i128::from(MAX_DEVICE_CODE_LIFETIME_SECS)).contains(&life),
                "device code lifetime {life} s outside 0..=clamp"
            );
            let min = if loopback { 0 } else { MIN_POLL_INTERVAL_SECS };
            assert!((min..=MAX_POLL_INTERVAL_SECS).contains(&flow.interval), "interval {} s", flow.interval);
            for (what, text) in [
                ("message", &flow.message),
                ("user code", &flow.user_code),
                ("verification uri", &flow.verification_uri),
            ] {
                assert_safe(what, text);
            }
        }
        Err(e) => assert_safe_error(&e),
    }
}

/// The JWT claim readers and the token check, at any clock.
pub fn jwt(token: &str, now: i64) {
    let claims = decode_jwt_claims(token);
    let decoded = TokenClaims::decode(token);
    assert_eq!(claims.is_some(), decoded.is_some(), "the two claim readers disagree on {token:?}");
    if let (Some(c), Some(d)) = (&claims, &decoded) {
        let exp = c.get("exp").and_then(mailoauth::json::as_i64);
        assert_eq!(d.expires_at, exp, "exp read differently");
    }
    for protocol in [Protocol::Imap, Protocol::Smtp, Protocol::Pop3] {
        for warning in check_access_token(token, protocol, "alice@example.com", now) {
            let _ = warning.to_string();
        }
    }
    let _ = account_from(Some(token), Some(token));
    let _ = account_from(None, Some(token.split('.').nth(1).unwrap_or(token)));
}

/// The cache document parser: an error is a reason; a document read is written back and read
/// again unchanged (nothing stored is lost or altered by a save).
pub fn cache_document(bytes: &[u8]) {
    match CacheData::from_bytes(bytes) {
        Ok(data) => {
            let again = CacheData::from_bytes(&data.to_bytes()).expect("a written cache reads back");
            assert_eq!(again, data, "a read cache does not survive a write");
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
}

/// The MSAL import: `Corrupt` or a count, and what was imported is a cache that round-trips,
/// holds no expired access token and no empty secret.
pub fn msal_import(text: &str, now: i64) {
    let cache = TokenCache::in_memory();
    let clock = Clock(AtomicI64::new(now));
    match run(cache.import_msal(text, &clock)) {
        Ok(n) => {
            let data = cache.load().expect("the imported cache loads");
            assert!(data.entries.len() <= n, "{} entries from {n} imported", data.entries.len());
            for e in &data.entries {
                assert!(e.refresh_token.as_deref().is_some_and(|r| !r.is_empty()), "an entry without refresh token");
                for t in &e.access_tokens {
                    assert!(t.expires_at > now, "an expired access token was imported");
                    assert!(!t.secret.is_empty(), "an empty access token was imported");
                }
            }
            cache_document(&data.to_bytes());
        }
        Err(e) => assert_eq!(e.kind, StoreErrorKind::Corrupt, "{e}"),
    }
}

/// The authority-URL parser against the `url` crate (WHATWG, what reqwest sends with):
/// whatever `Authority::from_url` accepts, `url` parses to the same scheme, host and port,
/// and the endpoints derived from it sit under the same path (empty segments dropped).
pub fn authority_url(text: &str) {
    let Ok(authority) = Authority::from_url(text) else { return };
    let base = authority.base_url();
    let (scheme, rest) = base.split_once("://").expect("a base URL");
    let host_port = rest.split('/').next().unwrap_or("");
    // Punycode labels are not decoded by the core: an invalid one fails at connect time.
    if host_port.split('.').any(|l| l.starts_with("xn--")) {
        return;
    }
    let theirs = url::Url::parse(text).unwrap_or_else(|e| panic!("{text:?} accepted, but url says {e}"));
    assert_eq!(theirs.scheme(), scheme, "scheme of {text:?}");
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p.parse::<u16>().expect("a port"))),
        _ => (host_port, None),
    };
    match (theirs.host(), host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))) {
        (Some(url::Host::Ipv6(a)), Some(v6)) => assert_eq!(Ok(a), v6.parse(), "IPv6 host of {text:?}"),
        _ => assert_eq!(theirs.host_str(), Some(host), "host of {text:?}"),
    }
    assert_eq!(theirs.port(), port, "port of {text:?}");
    let segments = |p: &str| p.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    let ours = url::Url::parse(authority.token_endpoint()).expect("a derived endpoint parses");
    let mut want = segments(theirs.path());
    want.extend(["oauth2", "v2.0", "token"].map(str::to_owned));
    assert_eq!(segments(ours.path()), want, "path of {text:?}");
}

/// The redirect reader: a code only with the request's `state`, an error typed and safe.
pub fn redirect(text: &str) {
    let c = client(Authority::microsoft(Cloud::Global, "organizations"), 500, b"", 0);
    let mut request = c
        .authorization_url(&scopes(), "http://localhost:1234/", &AuthorizationOptions::default())
        .expect("an authorization request");
    request.state = "st4te".to_owned();
    match parse_redirect(&request, text) {
        Ok(code) => {
            assert!(!code.is_empty());
            // Ours splits query and fragment at the first `?` and `#`: the pair is in one of
            // the `&`-separated parts between them, decoded alike by `form_urlencoded`.
            let flat = text.trim().replace(['?', '#'], "&");
            assert!(
                url::form_urlencoded::parse(flat.as_bytes()).any(|(k, v)| k == "state" && v == "st4te"),
                "a code accepted without the state from {text:?}"
            );
        }
        Err(e) => assert_safe_error(&e),
    }
}

/// The SASL error-challenge decoders: a decoded challenge's summary is safe text
/// (and every decoded field, and the error that says why not).
pub fn challenge(text: &str) {
    for decoded in [ErrorChallenge::decode(text), ErrorChallenge::from_json(text)] {
        match decoded {
            Ok(c) => {
                assert_safe("challenge summary", &c.summary());
                assert_safe("challenge", &c.raw);
                for field in [&c.status, &c.schemes, &c.scope, &c.openid_configuration].into_iter().flatten() {
                    assert_safe("challenge field", field);
                }
            }
            Err(e) => assert_safe("challenge error", &e.to_string()),
        }
    }
}

/// What a login machine did with a server's bytes: what it sent and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub sent: Vec<Vec<u8>>,
    pub end: String,
}

/// Feeds `reads` (the server's bytes, one read each) to a login machine, answering every
/// `StartTls`, until it is done, fails or wants more than there is.
pub fn login(protocol: Protocol, mechanism: Mechanism, starttls: bool, reads: &[&[u8]]) -> Run {
    let mut cfg = LoginConfig::new("alice@example.com", "tok", mechanism);
    cfg.starttls = starttls;
    cfg.probe = true;
    cfg.max_line = 256;
    let mut machine = Login::new(protocol, cfg);
    let mut sent = Vec::new();
    let mut reads = reads.iter();
    loop {
        match machine.poll() {
            Ok(Action::Send(bytes)) => {
                assert!(sent.len() < 64, "a machine that keeps sending without reading");
                sent.push(bytes);
            }
            Ok(Action::StartTls) => machine.tls_established(),
            Ok(Action::NeedInput) => match reads.next() {
                Some(r) => machine.feed(r),
                None => return Run { sent, end: "needs input".to_owned() },
            },
            Ok(Action::Done) => {
                assert!(machine.outcome().is_some(), "done without an outcome");
                return Run { sent, end: "done".to_owned() };
            }
            Err(e) => {
                if let Some(line) = &e.server_line {
                    assert_safe("server line", line);
                }
                assert_safe("login error", &e.to_string());
                return Run { sent, end: format!("{:?} at {:?}", e.kind, e.stage) };
            }
        }
    }
}

/// A login fuzz input: the first byte picks protocol, mechanism and STARTTLS, 0xFF bytes
/// split the rest into separate reads. Without STARTTLS the machine must send the same bytes
/// and end the same way whether it gets those reads, the same bytes one at a time, or all of
/// them in one read (unless it is still waiting for a line; with STARTTLS, cutting may reveal
/// injected pre-TLS bytes earlier, so only "no panic, typed result" holds).
pub fn login_bytes(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let protocol = [Protocol::Imap, Protocol::Smtp, Protocol::Pop3][usize::from(selector % 3)];
    let mechanism = if selector & 4 == 0 { Mechanism::XOAuth2 } else { Mechanism::OAuthBearer };
    let starttls = selector & 8 != 0;
    let reads: Vec<&[u8]> = rest.split(|&b| b == 0xFF).collect();
    let a = login(protocol, mechanism, starttls, &reads);
    if starttls || a.end == "needs input" {
        return;
    }
    let whole = reads.concat();
    let bytewise: Vec<&[u8]> = whole.chunks(1).collect();
    assert_eq!(a, login(protocol, mechanism, false, &bytewise), "reads {reads:?} and the same bytes one by one");
    assert_eq!(a, login(protocol, mechanism, false, &[&whole]), "reads {reads:?} and the same bytes in one read");
}

// ---- fuzz targets ------------------------------------------------------------------------

/// The fuzz targets, each named as its corpus directory under `core/fuzz/seeds/`.
pub const TARGETS: [&str; 9] =
    ["token", "device_code", "jwt", "cache", "msal", "authority_url", "redirect", "login", "challenge"];

/// The clocks the time-dependent targets run at: the epoch, a plausible now and the extremes.
pub const NOWS: [i64; 4] = [0, 1_700_000_000, i64::MAX, i64::MIN];

/// How many `variant`s `target_variant` tells apart for `target` (clocks, loopback or not).
pub fn variants(target: &str) -> usize {
    match target {
        "token" | "jwt" | "msal" => NOWS.len(),
        "device_code" => NOWS.len() * 2,
        _ => 1,
    }
}

/// Runs one fuzz input through its target's check in one of the target's variants (the clock
/// and, for device codes, a loopback authority or not): one execution of the stable driver.
pub fn target_variant(target: &str, data: &[u8], variant: usize) {
    let now = NOWS[variant % NOWS.len()];
    match target {
        "token" => token_answer(200, data, now),
        "device_code" => device_answer(200, data, now, variant / NOWS.len() % 2 == 1),
        "jwt" => jwt(&String::from_utf8_lossy(data), now),
        "cache" => cache_document(data),
        "msal" => msal_import(&String::from_utf8_lossy(data), now),
        "authority_url" => authority_url(&String::from_utf8_lossy(data)),
        "redirect" => redirect(&String::from_utf8_lossy(data)),
        "login" => login_bytes(data),
        "challenge" => challenge(&String::from_utf8_lossy(data)),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// Runs one fuzz input through its target's check in every variant (corpus replay, and the
/// libFuzzer targets).
pub fn target(target: &str, data: &[u8]) {
    for variant in 0..variants(target) {
        target_variant(target, data, variant);
    }
}
