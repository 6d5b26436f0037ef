//! Hostile mail servers against the sans-IO machines: control characters in what ends up in
//! errors, and replies that try to make a login hold megabytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailoauth::proto::{Action, Login, LoginConfig, Protocol, MAX_REPLY_BYTES};
use mailoauth::{MailErrorKind, Mechanism};

const ESC: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}\u{9b}31m";

fn is_safe(s: &str) -> bool {
    !s.chars().any(mailoauth::text::is_unsafe_char)
}

/// Feeds `answer(sent)` for every line the client sends until the machine ends.
fn run(protocol: Protocol, greeting: &[u8], answer: impl Fn(&str) -> Vec<u8>) -> Result<(), mailoauth::MailAuthError> {
    let mut login = Login::new(protocol, LoginConfig::new("alice@example.com", "tok", Mechanism::XOAuth2));
    login.feed(greeting);
    for _ in 0..100 {
        match login.poll()? {
            Action::Send(bytes) => {
                let sent = String::from_utf8_lossy(&bytes).into_owned();
                login.feed(&answer(&sent));
            }
            Action::Done => return Ok(()),
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no end");
}

#[test]
fn escapes_in_challenges_and_server_lines_do_not_reach_errors() {
    let challenge = STANDARD.encode(format!(
        r#"{{"status":"401{ESC}","schemes":"bearer{ESC}","scope":"https://outlook.office.com/IMAP{ESC}"}}"#
    ));
    let not_json = STANDARD.encode(format!("garbage{ESC}"));
    for c in [&challenge, &not_json] {
        let imap = run(Protocol::Imap, b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n", |sent| {
            if sent.starts_with("m1 AUTHENTICATE") {
                format!("+ {c}\r\n").into_bytes()
            } else {
                format!("m1 NO AUTHENTICATE failed{ESC}\r\n").into_bytes()
            }
        })
        .expect_err("rejected");
        let smtp = run(Protocol::Smtp, b"220 hi\r\n", |sent| {
            if sent.starts_with("EHLO") {
                b"250-hi\r\n250 AUTH XOAUTH2\r\n".to_vec()
            } else if sent.starts_with("AUTH") {
                format!("334 {c}\r\n").into_bytes()
            } else {
                format!("535 5.7.3 Authentication unsuccessful{ESC}\r\n").into_bytes()
            }
        })
        .expect_err("rejected");
        for e in [imap, smtp] {
            assert_eq!(e.kind, MailErrorKind::Rejected, "{e}");
            let challenge = e.challenge.as_deref().expect("challenge kept");
            assert!(is_safe(&challenge.summary()), "{:?}", challenge.summary());
            assert!(is_safe(&challenge.raw), "{:?}", challenge.raw);
            for field in [&challenge.status, &challenge.schemes, &challenge.scope].into_iter().flatten() {
                assert!(is_safe(field), "{field:?}");
            }
            assert!(e.server_line.as_deref().is_some_and(is_safe), "{:?}", e.server_line);
            assert!(is_safe(&e.to_string()) && is_safe(&e.message), "{e}");
        }
    }
    // Mechanisms the server offers are quoted in the message.
    let e = run(Protocol::Imap, format!("* OK [CAPABILITY IMAP4rev1 AUTH=X{ESC}] hi\r\n").as_bytes(), |_| Vec::new())
        .expect_err("no XOAUTH2");
    assert_eq!(e.kind, MailErrorKind::MechanismUnsupported, "{e}");
    assert!(is_safe(&e.message) && is_safe(&e.to_string()), "{:?}", e.message);
}

#[test]
fn multi_line_replies_are_bounded_in_bytes() {
    // 900 lines of 1,000 bytes: under the line-count bound, far over the byte bound.
    let long = "x".repeat(1000);
    let smtp = run(Protocol::Smtp, b"220 hi\r\n", |sent| {
        if sent.starts_with("EHLO") {
            let mut r = String::new();
            for _ in 0..900 {
                r.push_str(&format!("250-{long}\r\n"));
            }
            r.push_str("250 AUTH XOAUTH2\r\n");
            r.into_bytes()
        } else {
            b"235 ok\r\n".to_vec()
        }
    })
    .expect_err("too long");
    assert_eq!(smtp.kind, MailErrorKind::Protocol);
    assert!(smtp.message.contains(&MAX_REPLY_BYTES.to_string()), "{smtp}");
    let pop = run(Protocol::Pop3, b"+OK hi\r\n", |sent| {
        if sent.starts_with("CAPA") {
            let mut r = String::from("+OK\r\n");
            for _ in 0..900 {
                r.push_str(&format!("{long}\r\n"));
            }
            r.push_str("SASL XOAUTH2\r\n.\r\n");
            r.into_bytes()
        } else {
            b"+OK in\r\n".to_vec()
        }
    })
    .expect_err("too long");
    assert_eq!(pop.kind, MailErrorKind::Protocol);
    assert!(pop.message.contains(&MAX_REPLY_BYTES.to_string()), "{pop}");
}

// ---- item 7: an overall login deadline (Rust driver) ----------------------------------------

/// A loopback IMAP server that greets, then answers every command with an untagged
/// `* OK` every `every`, never with the tagged reply the login waits for.
async fn drip_server(every: std::time::Duration, flood: bool) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.write_all(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] drip\r\n").await.expect("greet");
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        loop {
            let chunk: &[u8] = if flood { b"* OK\r\n" } else { b"* OK still here\r\n" };
            if s.write_all(chunk).await.is_err() {
                return;
            }
            if !flood {
                tokio::time::sleep(every).await;
            }
        }
    });
    port
}

#[tokio::test]
async fn a_dripping_server_cannot_keep_a_login_alive() {
    use mailoauth::net::{login, LoginOptions, MailServer, Security, Timeouts};
    use std::time::{Duration, Instant};
    for flood in [false, true] {
        let port = drip_server(Duration::from_millis(200), flood).await;
        let server = MailServer::new(Protocol::Imap, "127.0.0.1", port, Security::Plain);
        let options = LoginOptions {
            timeouts: Timeouts { connect: Duration::from_secs(1), io: Duration::from_secs(1) },
            ..Default::default()
        };
        assert_eq!(options.overall_deadline(), Duration::from_secs(3), "connect + 2 × io by default");
        let token = mailoauth::AccessToken::new("tok".to_owned());
        let started = Instant::now();
        let run = login(&server, "alice@example.com", &token, Mechanism::XOAuth2, &options);
        let e = tokio::time::timeout(Duration::from_secs(15), run)
            .await
            .expect("the login ends by its deadline, not never")
            .expect_err("no login");
        assert_eq!(e.kind, MailErrorKind::Timeout, "{e}");
        assert!(e.message.contains("overall deadline"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5), "flood {flood}: took {:?}", started.elapsed());
    }
}
