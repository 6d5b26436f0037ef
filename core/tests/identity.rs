//! Every grant and error kind against the local identity-platform emulator, and the tokens it
//! issues logging in to a real Dovecot that validates them through the emulator.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use mailoauth::identity::{
    scopes, AssertionAlgorithm, AuthorizationOptions, CertificateCredential, ClientCredential, ClientSecret,
    DevicePoll, HttpClient, IdentityErrorKind, Platform, RetryPolicy,
};
use mailoauth::net::{
    login, InteractiveOptions, LoginOptions, MailServer, ReqwestHttp, Security, TlsOptions, TokioPlatform,
};
use mailoauth::{Authority, ConfidentialClient, Mechanism, Protocol, PublicClient, RefreshToken, Token};
use mailoauth_emulator::config::{
    DEMO_CLIENT_CERT_KEY_PEM, DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_MFA_PASSWORD,
    DEMO_MFA_USER, DEMO_PASSWORD, DEMO_PUBLIC_CLIENT_ID, DEMO_TENANT_ID, DEMO_USER,
};
use mailoauth_emulator::{Emulator, Fault, FaultEndpoint, FaultKind};

fn http() -> Arc<dyn HttpClient> {
    ReqwestHttp::new().expect("http").shared()
}

fn platform() -> Arc<dyn Platform> {
    Arc::new(TokioPlatform)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy { max_retries: 2, backoff: Duration::from_millis(20), max_wait: Duration::from_secs(2) }
}

async fn emulator() -> Emulator {
    Emulator::builder().device_code_interval(Duration::from_secs(0)).start().await.expect("emulator starts")
}

fn public(emu: &Emulator, tenant: &str) -> PublicClient {
    let authority = Authority::from_url(&emu.authority(tenant)).expect("authority");
    PublicClient::new(DEMO_PUBLIC_CLIENT_ID, authority, http(), platform()).with_retry(fast_retry())
}

fn confidential(emu: &Emulator, tenant: &str, credential: ClientCredential) -> ConfidentialClient {
    let authority = Authority::from_url(&emu.authority(tenant)).expect("authority");
    ConfidentialClient::new(DEMO_CONFIDENTIAL_CLIENT_ID, authority, credential, http(), platform())
        .with_retry(fast_retry())
}

fn imap_scopes() -> Vec<String> {
    scopes::mail_scopes(
        mailoauth::Provider::Microsoft,
        mailoauth::Cloud::Global,
        &[Protocol::Imap, Protocol::Smtp, Protocol::Pop3],
        true,
    )
}

fn assert_user_token(t: &Token) {
    let account = t.account.as_ref().expect("account from id token");
    assert_eq!(account.sasl_user(), DEMO_USER);
    assert!(account.home_account_id.is_some(), "client_info gives the home account id");
    assert!(t.refresh_token.is_some(), "offline_access gives a refresh token");
    assert!(t.expires_at > TokioPlatform.now());
    assert!(t.scopes.iter().any(|s| s.ends_with("IMAP.AccessAsUser.All")), "{:?}", t.scopes);
    let warnings = mailoauth::identity::check_access_token(
        t.access_token.expose_secret(),
        Protocol::Imap,
        DEMO_USER,
        TokioPlatform.now(),
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn device_code_flow_approved_declined_and_expired() {
    let emu = emulator().await;
    let client = public(&emu, "organizations");

    let flow = client.start_device_flow(&imap_scopes()).await.expect("device flow");
    assert!(flow.message.contains(&flow.user_code), "{}", flow.message);
    assert!(flow.verification_uri.starts_with(emu.base_url()), "{}", flow.verification_uri);
    assert!(!format!("{flow:?}").contains(&flow.device_code), "device code leaked in Debug");
    let waiting = client.wait_device_flow(&flow);
    let approve = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        emu.approve_device_code(&flow.user_code, DEMO_USER).expect("approve");
    };
    let (token, ()) = tokio::join!(waiting, approve);
    let token = token.expect("token after approval");
    assert_user_token(&token);
    assert!(emu.counters().grant("device_code") >= 2, "polled while pending: {:?}", emu.counters());

    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    emu.deny_device_code(&flow.user_code).expect("deny");
    let e = client.wait_device_flow(&flow).await.expect_err("declined");
    assert_eq!(e.kind, IdentityErrorKind::Declined, "{e}");

    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    emu.advance_clock(Duration::from_secs(3600));
    let e = client.wait_device_flow(&flow).await.expect_err("expired");
    assert_eq!(e.kind, IdentityErrorKind::Expired, "{e}");
}

#[tokio::test]
async fn device_code_slow_down_and_cancellation() {
    let emu = Emulator::builder().device_code_interval(Duration::from_secs(5)).start().await.expect("emulator");
    let client = public(&emu, "organizations");
    let mut flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    assert_eq!(flow.interval, 5);
    // Polling faster than the interval: the first poll is pending, the second gets slow_down.
    let first = client.poll_device_flow(&mut flow).await.expect("poll");
    let second = client.poll_device_flow(&mut flow).await.expect("poll");
    assert!(
        matches!(first, DevicePoll::Pending(d) if d == Duration::from_secs(5))
            || matches!(first, DevicePoll::Pending(d) if d == Duration::from_secs(10))
    );
    match second {
        DevicePoll::Pending(d) => {
            assert!(d >= Duration::from_secs(10), "slow_down adds 5 s: {d:?}")
        }
        DevicePoll::Done(_) => panic!("not approved"),
    }
    assert!(flow.interval >= 10);

    // Cancelling = dropping the future: no more polls afterwards.
    let emu0 = Emulator::builder().device_code_interval(Duration::from_secs(1)).start().await.expect("emulator");
    let client = public(&emu0, "organizations");
    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    let r = tokio::time::timeout(Duration::from_millis(2500), client.wait_device_flow(&flow)).await;
    assert!(r.is_err(), "still waiting when cancelled");
    let polls = emu0.counters().grant("device_code");
    assert!(polls >= 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(emu0.counters().grant("device_code"), polls, "polling went on after cancellation");
}

/// A stop signal (a time-out, `cancel()`) ends the wait with `Cancelled` and its message, and
/// polling stops: the one way every binding cancels or times out a device-code sign-in.
#[tokio::test]
async fn device_code_wait_until_a_stop_signal() {
    let emu = Emulator::builder().device_code_interval(Duration::from_secs(1)).start().await.expect("emulator");
    let client = public(&emu, "organizations");
    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    let stop = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        "no sign-in within 1.5 s".to_owned()
    };
    let started = std::time::Instant::now();
    let e = client.wait_device_flow_until(&flow, stop).await.expect_err("stopped");
    assert_eq!(e.kind, mailoauth::IdentityErrorKind::Cancelled);
    assert!(e.message.contains("no sign-in within 1.5 s"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(5));
    let polls = emu.counters().grant("device_code");
    assert!(polls >= 1, "it polled while waiting");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(emu.counters().grant("device_code"), polls, "polling went on after the stop");

    // An approved sign-in with a stop that never comes: the token.
    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    emu.approve_device_code(&flow.user_code, DEMO_USER).expect("approve");
    let token = client.wait_device_flow_until(&flow, std::future::pending::<String>()).await.expect("token");
    assert_user_token(&token);
}

#[tokio::test]
async fn split_authorization_code_flow_with_pkce() {
    let emu = emulator().await;
    emu.set_auto_approve(Some(DEMO_USER));
    let client = public(&emu, "organizations");
    let req = client
        .authorization_url(&imap_scopes(), "http://localhost:53123", &AuthorizationOptions::default())
        .expect("url");
    assert!(req.url.contains("code_challenge_method=S256"));
    assert!(!format!("{req:?}").contains(&req.code_verifier));
    // A browser would follow this; take the redirect's Location by hand.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let resp = no_redirect.get(&req.url).send().await.expect("authorize");
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with("http://localhost:53123/?code="), "{location}");

    // A forged redirect with another state is refused; the real one works once.
    let forged = location.replace(&format!("state={}", req.state), "state=forged");
    let e = client.redeem_redirect(&req, &forged).await.expect_err("state mismatch");
    assert_eq!(e.kind, IdentityErrorKind::Protocol);
    let token = client.redeem_redirect(&req, &location).await.expect("redeem");
    assert_user_token(&token);
    let e = client.redeem_redirect(&req, &location).await.expect_err("code reused");
    assert_eq!(e.kind, IdentityErrorKind::InvalidGrant, "{e}");

    // An error redirect (the user has not consented and prompt=none) becomes a typed error.
    emu.set_auto_approve(None);
    let req = client
        .authorization_url(
            &imap_scopes(),
            "http://localhost:53123",
            &AuthorizationOptions { prompt: Some("none".into()), ..Default::default() },
        )
        .expect("url");
    let resp = no_redirect.get(&req.url).send().await.expect("authorize");
    let location = resp.headers()["location"].to_str().expect("location").to_owned();
    let e = client.redeem_redirect(&req, &location).await.expect_err("error redirect");
    assert!(matches!(e.kind, IdentityErrorKind::InteractionRequired | IdentityErrorKind::ConsentRequired), "{e}");

    // Redeeming against another tenant than the one that issued the code.
    emu.set_auto_approve(Some(DEMO_USER));
    let in_tenant = public(&emu, DEMO_TENANT_ID);
    let req = in_tenant
        .authorization_url(&imap_scopes(), "http://localhost:53123", &AuthorizationOptions::default())
        .expect("url");
    let location = no_redirect.get(&req.url).send().await.expect("authorize").headers()["location"]
        .to_str()
        .expect("l")
        .to_owned();
    let other = public(&emu, "organizations");
    let e = other.redeem_redirect(&req, &location).await.expect_err("tenant mismatch");
    assert_eq!(e.kind, IdentityErrorKind::InvalidClient, "{e}");
    assert!(e.codes.contains(&700005), "{e}");
}

#[tokio::test]
async fn loopback_flow_end_to_end_with_a_browser_stand_in() {
    let emu = emulator().await;
    emu.set_auto_approve(Some(DEMO_USER));
    let client = public(&emu, "organizations");
    let options = InteractiveOptions { open_browser: false, timeout: Duration::from_secs(20), ..Default::default() };
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let browser = tokio::spawn(async move {
        let url = url_rx.await.expect("url shown");
        // Follows the emulator's 302 to our loopback listener, like a browser.
        let resp = reqwest::get(&url).await.expect("browser");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    });
    let token = client
        .acquire_token_interactive(&imap_scopes(), &options, |url| {
            let _ = url_tx.send(url.to_owned());
        })
        .await
        .expect("interactive sign-in");
    assert_user_token(&token);
    let (status, page) = browser.await.expect("browser task");
    assert_eq!(status, 200);
    assert!(page.contains("You are signed in"), "{page}");

    // Nobody comes back: a time-out, reported as cancelled.
    let options = InteractiveOptions { open_browser: false, timeout: Duration::from_millis(300), ..Default::default() };
    let e = client.acquire_token_interactive(&imap_scopes(), &options, |_| {}).await.expect_err("timeout");
    assert_eq!(e.kind, IdentityErrorKind::Cancelled);
}

/// One raw GET to the loopback listener: (status, body).
async fn raw_get(addr: &str, target: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

#[tokio::test]
async fn loopback_listener_ignores_forged_redirects_and_holds_both_loopback_addresses() {
    let emu = emulator().await;
    emu.set_auto_approve(Some(DEMO_USER));
    let client = public(&emu, "organizations");
    let options = InteractiveOptions { open_browser: false, timeout: Duration::from_secs(20), ..Default::default() };
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let attacker = tokio::spawn(async move {
        let url = url_rx.await.expect("url shown");
        let query = url.split_once('?').expect("query").1;
        let redirect = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .expect("redirect_uri");
        assert!(redirect.starts_with("http://localhost:"), "{redirect}");
        let port: u16 = redirect.trim_start_matches("http://localhost:").trim_end_matches('/').parse().expect("port");
        // Another local process cannot take the [::1] side of `localhost` (RFC 8252 §8.3).
        let v6 = std::net::TcpListener::bind(("::1", port));
        let v6_in_use = match &v6 {
            Err(e) => e.kind() == std::io::ErrorKind::AddrInUse,
            Ok(_) => false,
        };
        let have_v6 = std::net::TcpListener::bind(("::1", 0)).is_ok();
        assert!(!have_v6 || v6_in_use, "[::1]:{port} was free: {v6:?}");
        drop(v6);
        // Forged error redirects (no state, a wrong state): refused, their text not shown,
        // the sign-in not cancelled.
        let evil = "error=access_denied&error_description=EVIL%20TEXT";
        for target in [format!("/?{evil}"), format!("/?{evil}&state=guessed")] {
            let (status, body) = raw_get(&format!("127.0.0.1:{port}"), &target).await;
            assert_eq!(status, 400, "{body}");
            assert!(!body.contains("EVIL"), "{body}");
        }
        if have_v6 {
            let (status, _) = raw_get(&format!("[::1]:{port}"), &format!("/?{evil}")).await;
            assert_eq!(status, 400, "the [::1] side answers too");
        }
        // Then the real browser: follows the emulator's 302 to the listener.
        let resp = reqwest::get(&url).await.expect("browser");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    });
    let token = client
        .acquire_token_interactive(&imap_scopes(), &options, |url| {
            let _ = url_tx.send(url.to_owned());
        })
        .await
        .expect("the sign-in survives forged redirects");
    assert_user_token(&token);
    let (status, page) = attacker.await.expect("attacker task");
    assert_eq!((status, page.contains("You are signed in")), (200, true), "{page}");
}

#[tokio::test]
async fn refresh_rotates_and_revocation_needs_sign_in() {
    let emu = emulator().await;
    let client = public(&emu, "organizations");
    let first =
        client.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes()).await.expect("ropc");
    let rt1 = first.refresh_token.clone().expect("rt");
    let second = client.refresh(&rt1, &imap_scopes()).await.expect("refresh");
    let rt2 = second.refresh_token.clone().expect("rt2");
    assert_ne!(rt1, rt2, "Microsoft rotates refresh tokens");
    assert_ne!(first.access_token, second.access_token);
    assert_user_token(&second);
    let third = client.refresh(&rt2, &imap_scopes()).await.expect("refresh with the newest");
    assert!(third.refresh_token.is_some());
    assert_eq!(emu.counters().issued.get("refresh_token").copied(), Some(2));

    emu.revoke_user(DEMO_USER).expect("revoke");
    let e = client.refresh(third.refresh_token.as_ref().expect("rt3"), &imap_scopes()).await.expect_err("revoked");
    assert_eq!(e.kind, IdentityErrorKind::InvalidGrant, "{e}");
    assert!(!e.codes.is_empty() && e.correlation_id.is_some(), "{e:?}");
    assert!(e.hint().contains("sign in again"), "{}", e.hint());
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(third.refresh_token.as_ref().expect("rt3").expose_secret()));

    let e = client.refresh(&RefreshToken::new("garbage"), &imap_scopes()).await.expect_err("garbage");
    assert_eq!(e.kind, IdentityErrorKind::InvalidGrant);
}

#[tokio::test]
async fn ropc_rules() {
    let emu = emulator().await;
    let e = public(&emu, "common")
        .acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes())
        .await
        .expect_err("common");
    assert_eq!(e.kind, IdentityErrorKind::Configuration);
    let client = public(&emu, "organizations");
    let e = client
        .acquire_token_by_username_password(DEMO_MFA_USER, DEMO_MFA_PASSWORD, &imap_scopes())
        .await
        .expect_err("mfa");
    assert_eq!(e.kind, IdentityErrorKind::MfaRequired, "{e}");
    assert!(e.codes.contains(&50076));
    let e = client.acquire_token_by_username_password(DEMO_USER, "wrong", &imap_scopes()).await.expect_err("password");
    assert_eq!(e.kind, IdentityErrorKind::InvalidGrant, "{e}");
    assert!(e.codes.contains(&50126), "{e:?}");
}

#[tokio::test]
async fn client_credentials_with_secret_and_certificate() {
    let emu = emulator().await;
    let scope = vec![scopes::app_only_scope(mailoauth::Provider::Microsoft, mailoauth::Cloud::Global)];
    let secret = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Secret(ClientSecret::new(DEMO_CLIENT_SECRET)));
    let t = secret.acquire_token_for_client(&scope).await.expect("secret");
    assert!(t.refresh_token.is_none() && t.account.is_none());
    let claims = mailoauth::identity::decode_jwt_claims(t.access_token.expose_secret()).expect("jwt");
    assert!(claims.get("roles").is_some(), "{claims:?}");

    for alg in [AssertionAlgorithm::Ps256, AssertionAlgorithm::Rs256] {
        let cert = CertificateCredential::from_pem(DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM)
            .expect("cert")
            .with_algorithm(alg);
        let c = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Certificate(Box::new(cert)));
        c.acquire_token_for_client(&scope).await.unwrap_or_else(|e| panic!("{alg:?}: {e}"));
    }

    let wrong = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Secret(ClientSecret::new("nope")));
    let e = wrong.acquire_token_for_client(&scope).await.expect_err("wrong secret");
    assert_eq!(e.kind, IdentityErrorKind::InvalidClient, "{e}");
    assert!(e.codes.contains(&7000215), "{e:?}");
    assert!(!format!("{e:?} {:?}", wrong).contains(DEMO_CLIENT_SECRET));

    let e = confidential(&emu, "common", ClientCredential::Secret(ClientSecret::new(DEMO_CLIENT_SECRET)))
        .acquire_token_for_client(&scope)
        .await
        .expect_err("common");
    assert_eq!(e.kind, IdentityErrorKind::Configuration);
    let e = secret.acquire_token_for_client(&imap_scopes()).await.expect_err("delegated scopes");
    assert_eq!(e.kind, IdentityErrorKind::Configuration);
}

#[tokio::test]
async fn client_configuration_errors() {
    let emu = emulator().await;
    let authority = Authority::from_url(&emu.authority("organizations")).expect("a");
    let unknown = PublicClient::new("11111111-2222-3333-4444-555555555555", authority.clone(), http(), platform());
    let e = unknown.start_device_flow(&imap_scopes()).await.expect_err("unknown client");
    assert_eq!(e.kind, IdentityErrorKind::InvalidClient, "{e}");
    assert!(e.codes.contains(&700016), "{e:?}");
    assert!(e.hint().contains("client id"), "{}", e.hint());

    // The confidential app used as a public client: AADSTS7000218.
    let tenant_authority = Authority::from_url(&emu.authority(DEMO_TENANT_ID)).expect("a");
    let as_public = PublicClient::new(DEMO_CONFIDENTIAL_CLIENT_ID, tenant_authority, http(), platform());
    let e = as_public
        .acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes())
        .await
        .expect_err("7000218");
    assert_eq!(e.kind, IdentityErrorKind::InvalidClient, "{e}");
    assert!(e.codes.contains(&7000218), "{e:?}");

    // The public app sending a secret: AADSTS700025.
    let as_conf = ConfidentialClient::new(
        DEMO_PUBLIC_CLIENT_ID,
        Authority::from_url(&emu.authority(DEMO_TENANT_ID)).expect("a"),
        ClientCredential::Secret(ClientSecret::new("x")),
        http(),
        platform(),
    );
    let e = as_conf
        .acquire_token_for_client(&[scopes::app_only_scope(mailoauth::Provider::Microsoft, mailoauth::Cloud::Global)])
        .await
        .expect_err("700025");
    assert_eq!(e.kind, IdentityErrorKind::InvalidClient, "{e}");
    assert!(e.codes.contains(&700025), "{e:?}");

    // Graph-audience mail scopes are refused before any request.
    let before = emu.counters().endpoint("devicecode");
    let e = public(&emu, "organizations")
        .start_device_flow(&["https://graph.microsoft.com/IMAP.AccessAsUser.All".to_owned()])
        .await
        .expect_err("graph");
    assert_eq!(e.kind, IdentityErrorKind::Configuration);
    assert_eq!(emu.counters().endpoint("devicecode"), before);
}

#[tokio::test]
async fn retries_throttling_and_aadsts_kinds() {
    let emu = emulator().await;
    let client = public(&emu, "organizations");
    let scopes = imap_scopes();
    let ropc = || client.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &scopes);

    // One 503 with Retry-After: retried, then success.
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 503, retry_after: Some(0) }));
    let before = emu.counters().endpoint("token");
    ropc().await.expect("retried after 503");
    assert_eq!(emu.counters().endpoint("token") - before, 2);

    // 500 three times: the retries run out.
    let mut f = Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 500, retry_after: None });
    f.times = 3;
    emu.inject_fault(f);
    let e = ropc().await.expect_err("500s");
    assert_eq!(e.kind, IdentityErrorKind::Network, "{e}");
    assert!(e.is_temporary());

    // 429 asking for longer than we wait: throttled, with the delay.
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 429, retry_after: Some(120) }));
    let e = ropc().await.expect_err("429");
    assert_eq!(e.kind, IdentityErrorKind::Throttled, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(120)));

    for (code, kind) in [
        (50076, IdentityErrorKind::MfaRequired),
        (50079, IdentityErrorKind::MfaRequired),
        (65001, IdentityErrorKind::ConsentRequired),
        (70043, IdentityErrorKind::InvalidGrant),
        (700082, IdentityErrorKind::InvalidGrant),
        (53003, IdentityErrorKind::BlockedByPolicy),
        (7000218, IdentityErrorKind::InvalidClient),
        (700016, IdentityErrorKind::InvalidClient),
        (90002, IdentityErrorKind::InvalidClient),
    ] {
        emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Aadsts { code }));
        let e = ropc().await.expect_err("fault");
        assert_eq!(e.kind, kind, "AADSTS{code}: {e}");
        assert_eq!(e.codes.first(), Some(&code));
        assert!(mailoauth::identity::aadsts_hint(code).is_some(), "hint for {code}");
        assert!(e.to_string().contains(&format!("AADSTS{code}")), "{e}");
    }
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::InvalidClient));
    assert_eq!(ropc().await.expect_err("invalid_client").kind, IdentityErrorKind::InvalidClient);
}

/// Each grant's token logs in to Dovecot, which asks the emulator whether it is valid.
#[tokio::test]
async fn every_grant_token_logs_in_to_dovecot() {
    let emu = emulator().await;
    emu.set_auto_approve(Some(DEMO_USER));
    let dovecot = mailoauth_testkit::Dovecot::start(mailoauth_testkit::DovecotOptions::new(emu.introspection_url()))
        .expect("dovecot");
    let options = LoginOptions {
        tls: TlsOptions { webpki_roots: false, ca_files: vec![dovecot.ca_file().to_path_buf()], ..Default::default() },
        probe: true,
        ..Default::default()
    };
    let imap = MailServer::new(Protocol::Imap, "localhost", dovecot.imaps_port(), Security::Tls);
    let smtp = MailServer::new(Protocol::Smtp, "localhost", dovecot.submission_port(), Security::StartTls);
    let client = public(&emu, "organizations");

    let mut tokens = Vec::new();
    tokens.push((
        "ropc",
        client.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes()).await.expect("ropc"),
    ));
    // Auto-approval (set above) signs the device code in as the demo user.
    let flow = client.start_device_flow(&imap_scopes()).await.expect("flow");
    tokens.push(("device_code", client.wait_device_flow(&flow).await.expect("device")));
    let refreshed =
        client.refresh(tokens[0].1.refresh_token.as_ref().expect("rt"), &imap_scopes()).await.expect("refresh");
    tokens.push(("refresh_token", refreshed));
    let opts = InteractiveOptions { open_browser: false, timeout: Duration::from_secs(20), ..Default::default() };
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let _ = reqwest::get(&rx.await.expect("url")).await;
    });
    tokens.push((
        "authorization_code",
        client
            .acquire_token_interactive(&imap_scopes(), &opts, |u| drop(tx.send(u.to_owned())))
            .await
            .expect("interactive"),
    ));
    for (grant, token) in &tokens {
        let user = token.account.as_ref().expect("account").sasl_user().to_owned();
        for server in [&imap, &smtp] {
            login(server, &user, &token.access_token, Mechanism::XOAuth2, &options)
                .await
                .unwrap_or_else(|e| panic!("{grant} {}: {e}\n{}", server.protocol, dovecot.log_contents()));
        }
    }

    // App-only: the app's token logs in to the mailbox it was granted.
    let app = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Secret(ClientSecret::new(DEMO_CLIENT_SECRET)));
    let t = app
        .acquire_token_for_client(&[scopes::app_only_scope(mailoauth::Provider::Microsoft, mailoauth::Cloud::Global)])
        .await
        .expect("app token");
    login(&imap, DEMO_USER, &t.access_token, Mechanism::XOAuth2, &options)
        .await
        .unwrap_or_else(|e| panic!("app-only IMAP: {e}\n{}", dovecot.log_contents()));

    // Revoked access is refused by the mail server on the next login.
    emu.expire_access_tokens(Some(DEMO_USER));
    let e =
        login(&imap, DEMO_USER, &tokens[0].1.access_token, Mechanism::XOAuth2, &options).await.expect_err("expired");
    assert_eq!(e.kind, mailoauth::MailErrorKind::Rejected, "{e}");
}

/// Google's installed apps send their (non-confidential) client secret; Microsoft public
/// clients must not.
#[tokio::test]
async fn public_client_secret_only_for_non_microsoft_providers() {
    let emu = emulator().await;
    let ms = public(&emu, "organizations").with_client_secret(ClientSecret::new("installed-app-secret"));
    let before = emu.counters().endpoint("token");
    let e = ms.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes()).await.expect_err("local");
    assert_eq!(e.kind, IdentityErrorKind::Configuration, "{e}");
    assert_eq!(emu.counters().endpoint("token"), before, "nothing was sent");
    // A non-Microsoft provider (here with the emulator's endpoints) sends it; the emulator,
    // being Microsoft, answers AADSTS700025 — which proves the secret went out.
    let custom = Authority::custom(
        &emu.authority("organizations"),
        &emu.authorize_endpoint("organizations"),
        &emu.token_endpoint("organizations"),
        Some(&emu.devicecode_endpoint("organizations")),
    )
    .expect("custom");
    let client = PublicClient::new(DEMO_PUBLIC_CLIENT_ID, custom, http(), platform())
        .with_client_secret(ClientSecret::new("installed-app-secret"));
    let e =
        client.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &imap_scopes()).await.expect_err("700025");
    assert!(e.codes.contains(&700025), "{e:?}");
    assert!(!format!("{e} {e:?} {client:?}").contains("installed-app-secret"));
}

/// A key held elsewhere (Node's crypto, a hardware key): the library builds the assertion and
/// asks the host to sign it. Here the host signs with ring from the demo key, in both schemes.
#[tokio::test]
async fn client_credentials_with_an_external_signer() {
    use mailoauth::identity::AssertionSigner;
    use rustls_pki_types::pem::PemObject;

    struct HostSigner {
        cert_der: Vec<u8>,
        key: ring::signature::RsaKeyPair,
        alg: AssertionAlgorithm,
    }
    impl AssertionSigner for HostSigner {
        fn certificate_der(&self) -> Vec<u8> {
            self.cert_der.clone()
        }
        fn algorithm(&self) -> AssertionAlgorithm {
            self.alg
        }
        fn sign(&self, input: &[u8]) -> Result<Vec<u8>, String> {
            let padding: &dyn ring::signature::RsaEncoding = match self.alg {
                AssertionAlgorithm::Ps256 => &ring::signature::RSA_PSS_SHA256,
                AssertionAlgorithm::Rs256 => &ring::signature::RSA_PKCS1_SHA256,
            };
            let mut sig = vec![0u8; self.key.public().modulus_len()];
            self.key.sign(padding, &ring::rand::SystemRandom::new(), input, &mut sig).map_err(|e| e.to_string())?;
            Ok(sig)
        }
    }

    let emu = emulator().await;
    let scope = vec![scopes::app_only_scope(mailoauth::Provider::Microsoft, mailoauth::Cloud::Global)];
    let cert_der =
        rustls_pki_types::CertificateDer::from_pem_slice(DEMO_CLIENT_CERT_PEM.as_bytes()).expect("cert").to_vec();
    let key_der =
        rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(DEMO_CLIENT_CERT_KEY_PEM.as_bytes()).expect("key");
    for alg in [AssertionAlgorithm::Ps256, AssertionAlgorithm::Rs256] {
        let key = ring::signature::RsaKeyPair::from_pkcs8(key_der.secret_pkcs8_der()).expect("rsa");
        let signer = Arc::new(HostSigner { cert_der: cert_der.clone(), key, alg });
        let c = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Signer(signer));
        let t = c.acquire_token_for_client(&scope).await.unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert!(mailoauth::identity::decode_jwt_claims(t.access_token.expose_secret()).is_some());
    }
    // The same header as the built-in certificate credential.
    let builtin = CertificateCredential::from_pem(DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM).expect("cert");
    let jwt = builtin.assertion("app", "https://aud", 0).expect("assertion");
    let header = URL_SAFE_NO_PAD.decode(jwt.split('.').next().expect("header")).expect("b64");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("json");
    assert_eq!(header["x5t#S256"], builtin.thumbprint_sha256());
    // A signer that fails gives a typed error, not a panic.
    struct Broken(Vec<u8>);
    impl AssertionSigner for Broken {
        fn certificate_der(&self) -> Vec<u8> {
            self.0.clone()
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, String> {
            Err("the HSM is offline".into())
        }
    }
    let c = confidential(&emu, DEMO_TENANT_ID, ClientCredential::Signer(Arc::new(Broken(cert_der))));
    let e = c.acquire_token_for_client(&scope).await.expect_err("broken signer");
    assert_eq!(e.kind, IdentityErrorKind::Configuration);
    assert!(e.message.contains("HSM is offline"), "{e}");
}
