//! Logins against a real Dovecot 2.3 (Debian) started by `mailoauth-testkit`, whose oauth2
//! passdb validates tokens at the local identity-platform emulator that issued them. These
//! tests fail (never skip) when Dovecot is missing.

use std::sync::Arc;
use std::time::Duration;

use mailoauth::identity::scopes;
use mailoauth::net::{
    login, LoginOptions, MailServer, MailSession, ReqwestHttp, Security, Timeouts, TlsOptions, TokioPlatform,
};
use mailoauth::{AccessToken, Authority, MailErrorKind, Mechanism, Protocol, PublicClient, Stage};
use mailoauth_emulator::config::{DEMO_PASSWORD, DEMO_PUBLIC_CLIENT_ID, DEMO_USER};
use mailoauth_emulator::{Emulator, Fault, FaultEndpoint, FaultKind};
use mailoauth_testkit::{Dovecot, DovecotOptions};

const ALICE: &str = DEMO_USER;

struct Env {
    emu: Emulator,
    dovecot: Dovecot,
    good: String,
}

impl Env {
    async fn start() -> Env {
        let emu = Emulator::builder().start().await.expect("emulator");
        let dovecot = Dovecot::start(DovecotOptions::new(emu.introspection_url()))
            .expect("Dovecot must start (is dovecot installed?)");
        let good = Env::sign_in(&emu).await;
        Env { emu, dovecot, good }
    }

    /// A fresh token for alice from the emulator (ROPC keeps the test short).
    async fn sign_in(emu: &Emulator) -> String {
        let authority = Authority::from_url(&emu.authority("organizations")).expect("authority");
        let client = PublicClient::new(
            DEMO_PUBLIC_CLIENT_ID,
            authority,
            ReqwestHttp::new().expect("http").shared(),
            Arc::new(TokioPlatform),
        );
        let wanted = scopes::mail_scopes(
            mailoauth::Provider::Microsoft,
            mailoauth::Cloud::Global,
            &[Protocol::Imap, Protocol::Pop3, Protocol::Smtp],
            true,
        );
        client
            .acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted)
            .await
            .expect("token from the emulator")
            .access_token
            .expose_secret()
            .to_owned()
    }

    fn server(&self, protocol: Protocol, security: Security) -> MailServer {
        let p = &self.dovecot;
        let port = match (protocol, security) {
            (Protocol::Imap, Security::Tls) => p.imaps_port(),
            (Protocol::Imap, _) => p.imap_port(),
            (Protocol::Pop3, Security::Tls) => p.pop3s_port(),
            (Protocol::Pop3, _) => p.pop3_port(),
            (Protocol::Smtp, _) => p.submission_port(),
        };
        // Connect by name so the certificate (issued for localhost and 127.0.0.1) is checked.
        MailServer::new(protocol, "localhost", port, security)
    }

    fn options(&self) -> LoginOptions {
        LoginOptions {
            tls: TlsOptions {
                webpki_roots: false,
                ca_files: vec![self.dovecot.ca_file().to_path_buf()],
                ..Default::default()
            },
            timeouts: Timeouts { connect: Duration::from_secs(5), io: Duration::from_secs(10) },
            ..Default::default()
        }
    }

    async fn login(
        &self,
        protocol: Protocol,
        security: Security,
        token: &str,
        mech: Mechanism,
    ) -> Result<MailSession, mailoauth::MailAuthError> {
        login(&self.server(protocol, security), ALICE, &AccessToken::new(token), mech, &self.options()).await
    }
}

/// After login, the returned stream is usable for the protocol's next command.
async fn use_session(env: &Env, mut s: MailSession, tag: &str) {
    match s.protocol() {
        Protocol::Imap => {
            s.write_line("x1 SELECT INBOX").await.expect("write");
            loop {
                let line = s.read_line().await.expect("read");
                if line.starts_with("x1 ") {
                    assert!(line.starts_with("x1 OK"), "SELECT failed: {line}");
                    break;
                }
            }
        }
        Protocol::Pop3 => {
            s.write_line("STAT").await.expect("write");
            let line = s.read_line().await.expect("read");
            assert!(line.starts_with("+OK 0 0"), "STAT: {line}");
        }
        Protocol::Smtp => {
            let subject = format!("test {tag}");
            async fn expect(s: &mut MailSession, code: &str) {
                let line = s.read_line().await.expect("read");
                assert!(line.starts_with(code), "expected {code}, got {line}");
            }
            s.write_line(&format!("MAIL FROM:<{ALICE}>")).await.expect("w");
            expect(&mut s, "250").await;
            s.write_line("RCPT TO:<bob@example.com>").await.expect("w");
            expect(&mut s, "250").await;
            s.write_line("DATA").await.expect("w");
            expect(&mut s, "354").await;
            s.write_all(
                format!("From: {ALICE}\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\nhello\r\n.\r\n").as_bytes(),
            )
            .await
            .expect("w");
            expect(&mut s, "250").await;
            let msgs = env.dovecot.sink().wait_for_messages(1, Duration::from_secs(10));
            let found = msgs.iter().any(|m| {
                m.data_text().contains(&subject) && m.recipients.iter().any(|r| r.contains("bob@example.com"))
            });
            assert!(found, "message {subject} did not reach the relay sink: {msgs:?}");
            env.dovecot.sink().clear();
        }
    }
}

const MODES: [(Protocol, Security); 5] = [
    (Protocol::Imap, Security::StartTls),
    (Protocol::Imap, Security::Tls),
    (Protocol::Pop3, Security::StartTls),
    (Protocol::Pop3, Security::Tls),
    (Protocol::Smtp, Security::StartTls),
];

#[tokio::test]
async fn good_token_logs_in_everywhere_and_the_session_continues() {
    let env = Env::start().await;
    for (protocol, security) in MODES {
        for mech in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            let tag = format!("{protocol}-{security:?}-{mech}");
            let s = env
                .login(protocol, security, &env.good, mech)
                .await
                .unwrap_or_else(|e| panic!("{tag}: {e}\n{}", env.dovecot.log_contents()));
            assert!(s.is_tls(), "{tag}: session must be encrypted");
            assert_eq!(s.outcome().upgraded_to_tls, security == Security::StartTls, "{tag}");
            assert!(!s.capabilities().is_empty(), "{tag}: capabilities after login");
            match protocol {
                Protocol::Imap => {
                    assert!(s.capabilities().iter().any(|c| c == "IDLE"), "{tag}: {:?}", s.capabilities())
                }
                Protocol::Smtp => assert!(
                    !s.capabilities().iter().any(|c| c.eq_ignore_ascii_case("STARTTLS")),
                    "{tag}: EHLO after TLS must not offer STARTTLS: {:?}",
                    s.capabilities()
                ),
                Protocol::Pop3 => assert!(s.capabilities().iter().any(|c| c == "UIDL"), "{tag}"),
            }
            use_session(&env, s, &tag).await;
        }
    }
}

#[tokio::test]
async fn bad_token_is_rejected_with_the_decoded_challenge() {
    let env = Env::start().await;
    for (protocol, security) in [MODES[0], MODES[2], MODES[4]] {
        for (mech, status) in [(Mechanism::XOAuth2, "401"), (Mechanism::OAuthBearer, "invalid_token")] {
            let tag = format!("{protocol}-{mech}");
            let err = env.login(protocol, security, "bogus-token", mech).await.expect_err(&tag);
            assert_eq!(err.kind, MailErrorKind::Rejected, "{tag}: {err}");
            assert_eq!(err.stage, Stage::Auth, "{tag}");
            assert!(!err.is_temporary(), "{tag}");
            let challenge = err.challenge.as_ref().unwrap_or_else(|| panic!("{tag}: no challenge in {err}"));
            assert_eq!(challenge.status.as_deref(), Some(status), "{tag}");
            let line = err.server_line.clone().expect("server line");
            match protocol {
                Protocol::Imap => assert!(line.contains("NO [AUTHENTICATIONFAILED]"), "{line}"),
                Protocol::Pop3 => assert!(line.starts_with("-ERR [AUTH]"), "{line}"),
                Protocol::Smtp => {
                    assert!(line.starts_with("535 5.7.8"), "{line}");
                    assert_eq!(err.enhanced_status(), Some((5, 7, 8)));
                }
            }
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("bogus-token"), "the token leaked into the error: {shown}");
        }
    }
}

#[tokio::test]
async fn token_revoked_between_two_logins_is_rejected() {
    let env = Env::start().await;
    let s = env.login(Protocol::Imap, Security::Tls, &env.good, Mechanism::XOAuth2).await.expect("first login");
    drop(s);
    env.emu.revoke_user(ALICE).expect("revoke");
    let err = env.login(Protocol::Imap, Security::Tls, &env.good, Mechanism::XOAuth2).await.expect_err("revoked");
    assert_eq!(err.kind, MailErrorKind::Rejected, "{err}");
}

#[tokio::test]
async fn validation_endpoint_down_is_a_temporary_failure() {
    let env = Env::start().await;
    // The emulator's validation endpoint answers 503 for a while.
    env.emu.inject_fault(
        Fault::new(FaultEndpoint::Introspect, FaultKind::Status { status: 503, retry_after: None }).times(100),
    );
    for (protocol, security) in [MODES[1], MODES[3], MODES[4]] {
        let err = env.login(protocol, security, &env.good, Mechanism::XOAuth2).await.expect_err("down");
        assert_eq!(err.kind, MailErrorKind::Temporary, "{protocol}: {err}");
        assert!(err.is_temporary());
        assert!(err.challenge.is_none(), "{protocol}: {err}");
    }
    env.emu.clear_faults();
    env.login(Protocol::Imap, Security::Tls, &env.good, Mechanism::XOAuth2).await.expect("back up");
}

#[tokio::test]
async fn probe_plaintext_sasl_ir_override_and_wrong_user() {
    let env = Env::start().await;
    // The probe runs after login and succeeds on a real mailbox.
    let mut opts = env.options();
    opts.probe = true;
    let s = login(
        &env.server(Protocol::Imap, Security::Tls),
        ALICE,
        &AccessToken::new(env.good.clone()),
        Mechanism::XOAuth2,
        &opts,
    )
    .await
    .expect("login with probe");
    use_session(&env, s, "probe").await;

    // SASL-IR disabled: continuation path against the real server.
    opts.sasl_ir = mailoauth::SaslIr::Never;
    login(
        &env.server(Protocol::Imap, Security::StartTls),
        ALICE,
        &AccessToken::new(env.good.clone()),
        Mechanism::OAuthBearer,
        &opts,
    )
    .await
    .expect("login via continuation");

    // Plaintext only when asked for explicitly (loopback test server).
    let s = env.login(Protocol::Imap, Security::Plain, &env.good, Mechanism::XOAuth2).await.expect("plain");
    assert!(!s.is_tls());

    // Another user's token: Dovecot compares the SASL user with the token's user.
    let err = login(
        &env.server(Protocol::Imap, Security::Tls),
        "bob@example.com",
        &AccessToken::new(env.good.clone()),
        Mechanism::XOAuth2,
        &env.options(),
    )
    .await
    .expect_err("user mismatch");
    assert_eq!(err.kind, MailErrorKind::Rejected, "{err}");
}

#[tokio::test]
async fn untrusted_certificate_fails_before_any_credential() {
    let env = Env::start().await;
    let before = env.emu.counters().endpoint("introspect");
    let opts = LoginOptions::default(); // webpki roots only: the test CA is not trusted
    for (protocol, security) in [MODES[0], MODES[1], MODES[4]] {
        let err = login(
            &env.server(protocol, security),
            ALICE,
            &AccessToken::new(env.good.clone()),
            Mechanism::XOAuth2,
            &opts,
        )
        .await
        .expect_err("untrusted");
        assert_eq!(err.kind, MailErrorKind::Tls, "{protocol}: {err}");
        assert_eq!(err.stage, Stage::Tls, "{protocol}");
    }
    assert_eq!(env.emu.counters().endpoint("introspect"), before, "a token reached the server");
}

#[tokio::test]
async fn silent_and_vanishing_servers_time_out_or_fail_cleanly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Accepts, then says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    // Greets, reads the first command, then closes.
    let vanishing = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let vanishing_port = vanishing.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = vanishing.accept().await {
            let _ = s.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] hi\r\n").await;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
        }
    });
    let opts = LoginOptions {
        timeouts: Timeouts { connect: Duration::from_secs(2), io: Duration::from_millis(300) },
        ..Default::default()
    };
    let token = AccessToken::new("t");

    let err = login(
        &MailServer::new(Protocol::Imap, "127.0.0.1", silent_port, Security::Plain),
        ALICE,
        &token,
        Mechanism::XOAuth2,
        &opts,
    )
    .await
    .expect_err("silent");
    assert_eq!((err.kind, err.stage), (MailErrorKind::Timeout, Stage::Greeting), "{err}");
    let err = login(
        &MailServer::new(Protocol::Imap, "127.0.0.1", silent_port, Security::Tls),
        ALICE,
        &token,
        Mechanism::XOAuth2,
        &opts,
    )
    .await
    .expect_err("silent tls");
    assert_eq!((err.kind, err.stage), (MailErrorKind::Timeout, Stage::Tls), "{err}");

    let err = login(
        &MailServer::new(Protocol::Imap, "127.0.0.1", vanishing_port, Security::Plain),
        ALICE,
        &token,
        Mechanism::XOAuth2,
        &opts,
    )
    .await
    .expect_err("vanishing");
    assert_eq!((err.kind, err.stage), (MailErrorKind::Network, Stage::Auth), "{err}");
    assert!(err.is_temporary());

    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let err = login(
        &MailServer::new(Protocol::Smtp, "127.0.0.1", closed_port, Security::StartTls),
        ALICE,
        &token,
        Mechanism::XOAuth2,
        &opts,
    )
    .await
    .expect_err("refused");
    assert_eq!((err.kind, err.stage), (MailErrorKind::Network, Stage::Connect), "{err}");
}
