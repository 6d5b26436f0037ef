//! Integration tests: a real Dovecot with the test validator and SMTP sink,
//! driven over raw sockets.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use mailoauth_testkit::{Dovecot, DovecotOptions, Error, SmtpSink, TokenValidator};

const ALICE: &str = "alice@example.com";
const GOOD: &str = "good-token";

fn xoauth2(user: &str, token: &str) -> String {
    B64.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

fn oauthbearer(user: &str, token: &str) -> String {
    B64.encode(format!("n,a={user},\x01auth=Bearer {token}\x01\x01"))
}

struct Env {
    validator: TokenValidator,
    dovecot: Dovecot,
}

fn env() -> Env {
    let validator = TokenValidator::start().expect("validator starts");
    validator.add_token(GOOD, ALICE);
    let dovecot = Dovecot::start(DovecotOptions::new(validator.url())).expect("dovecot starts");
    Env { validator, dovecot }
}

/// A line-oriented plain-text client.
struct Conn {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { rd: BufReader::new(s.try_clone().unwrap()), wr: s }
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.rd.read_line(&mut l).expect("read line");
        assert!(!l.is_empty(), "connection closed");
        l.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn send(&mut self, s: &str) {
        self.wr.write_all(format!("{s}\r\n").as_bytes()).unwrap();
    }

    /// Reads lines until one starts with `prefix`; returns that line.
    fn until(&mut self, prefix: &str) -> String {
        loop {
            let l = self.line();
            if l.starts_with(prefix) {
                return l;
            }
        }
    }
}

fn imap_auth(d: &Dovecot, mech: &str, payload: &str) -> (Option<String>, String) {
    let mut c = Conn::connect(d.imap_port());
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.send(&format!("a1 AUTHENTICATE {mech} {payload}"));
    let l = c.line();
    if let Some(ch) = l.strip_prefix("+ ") {
        let challenge = String::from_utf8(B64.decode(ch).unwrap()).unwrap();
        c.send(if mech == "XOAUTH2" { "" } else { "AQ==" });
        let fin = c.until("a1 ");
        (Some(challenge), fin)
    } else {
        (None, l)
    }
}

#[test]
fn imap_greeting_advertises_oauth_mechanisms_and_login_works() {
    let e = env();
    let mut c = Conn::connect(e.dovecot.imap_port());
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    assert!(greeting.contains("AUTH=XOAUTH2 AUTH=OAUTHBEARER"), "{greeting}");
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    c.send(&format!("a1 AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, GOOD)));
    let l = c.until("a1 ");
    assert!(l.starts_with("a1 OK"), "{l}\n{}", e.dovecot.log_contents());
    c.send("a2 LOGOUT");
    c.until("a2 OK");
    assert!(e.validator.requests() >= 1);
}

#[test]
fn unknown_token_gets_challenge_then_authenticationfailed() {
    let e = env();
    let (challenge, fin) = imap_auth(&e.dovecot, "XOAUTH2", &xoauth2(ALICE, "bogus-token"));
    let challenge = challenge.expect("a + challenge before the NO");
    assert!(challenge.contains(r#""status":"401""#), "{challenge}");
    assert!(fin.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{fin}");

    // OAUTHBEARER: challenge {"status":"invalid_token"}, answered with AQ==
    let (challenge, fin) = imap_auth(&e.dovecot, "OAUTHBEARER", &oauthbearer(ALICE, "bogus-token"));
    let challenge = challenge.expect("a + challenge before the NO");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert!(fin.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{fin}");
}

#[test]
fn oauthbearer_login_and_revocation_and_wrong_user() {
    let e = env();
    let (ch, fin) = imap_auth(&e.dovecot, "OAUTHBEARER", &oauthbearer(ALICE, GOOD));
    assert!(ch.is_none() && fin.starts_with("a1 OK"), "{ch:?} {fin}");

    // a token of another user is rejected
    e.validator.add_token("bob-token", "bob@example.com");
    let (_, fin) = imap_auth(&e.dovecot, "XOAUTH2", &xoauth2(ALICE, "bob-token"));
    assert!(fin.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{fin}");

    // revoked: the very next login fails (no auth cache)
    e.validator.revoke(GOOD);
    let (_, fin) = imap_auth(&e.dovecot, "XOAUTH2", &xoauth2(ALICE, GOOD));
    assert!(fin.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{fin}");
    assert!(e.validator.requests() >= 3);
}

#[test]
fn validator_down_is_a_temporary_failure() {
    let e = env();
    e.validator.set_down(true);
    let (ch, fin) = imap_auth(&e.dovecot, "XOAUTH2", &xoauth2(ALICE, GOOD));
    assert!(ch.is_none(), "no challenge on temporary failure: {ch:?}");
    assert!(fin.starts_with("a1 NO [UNAVAILABLE]"), "{fin}");

    e.validator.set_down(false);
    let (_, fin) = imap_auth(&e.dovecot, "XOAUTH2", &xoauth2(ALICE, GOOD));
    assert!(fin.starts_with("a1 OK"), "{fin}");
}

#[test]
fn pop3_xoauth2_login() {
    let e = env();
    let mut c = Conn::connect(e.dovecot.pop3_port());
    assert!(c.line().starts_with("+OK"));
    c.send("CAPA");
    let mut caps = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        caps.push(l);
    }
    assert!(caps.iter().any(|l| l == "SASL XOAUTH2 OAUTHBEARER"), "{caps:?}");
    c.send(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, GOOD)));
    let l = c.line();
    assert!(l.starts_with("+OK"), "{l}");
    c.send("STAT");
    assert!(c.line().starts_with("+OK 0 0"));
    c.send("QUIT");
    assert!(c.line().starts_with("+OK"));
}

#[test]
fn submission_relays_to_the_sink() {
    let e = env();
    let mut c = Conn::connect(e.dovecot.submission_port());
    assert!(c.line().starts_with("220 "));
    c.send("EHLO client.example.test");
    let ehlo = c.until("250 ");
    let _ = ehlo;
    c.send(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, GOOD)));
    let l = c.line();
    assert!(l.starts_with("235 "), "{l}\n{}", e.dovecot.log_contents());
    c.send("MAIL FROM:<alice@example.com>");
    assert!(c.line().starts_with("250 "));
    c.send("RCPT TO:<bob@example.com>");
    assert!(c.line().starts_with("250 "));
    c.send("DATA");
    assert!(c.line().starts_with("354 "));
    c.send("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\n..dot-stuffed line\r\nbody\r\n.");
    let l = c.line();
    assert!(l.starts_with("250 "), "{l}");
    c.send("QUIT");
    assert!(c.line().starts_with("221 "));

    let msgs = e.dovecot.sink().wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.from, "alice@example.com");
    assert_eq!(m.recipients, vec!["bob@example.com".to_owned()]);
    let text = m.data_text();
    assert!(text.contains("Subject: hello\r\n"), "{text}");
    assert!(text.contains("\r\n.dot-stuffed line\r\nbody\r\n"), "{text}");
    // no TLS here, so ESMTPA (ESMTPSA after STARTTLS)
    assert!(text.contains("with ESMTPA"), "{text}");
}

#[test]
fn submission_bad_token_gets_334_then_535() {
    let e = env();
    let mut c = Conn::connect(e.dovecot.submission_port());
    assert!(c.line().starts_with("220 "));
    c.send("EHLO client.example.test");
    c.until("250 ");
    c.send(&format!("AUTH XOAUTH2 {}", xoauth2(ALICE, "bogus")));
    let l = c.line();
    assert!(l.starts_with("334 "), "{l}");
    c.send("");
    let l = c.line();
    assert!(l.starts_with("535 "), "{l}");
}

async fn tls_connect(d: &Dovecot, port: u16) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = d.rustls_client_config().expect("client config");
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake")
}

#[tokio::test]
async fn imaps_and_pop3s_handshake_with_the_ca_file() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let e = env();
    let tls = tls_connect(&e.dovecot, e.dovecot.imaps_port()).await;
    let mut tls = tokio::io::BufReader::new(tls);
    let mut line = String::new();
    tls.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    assert!(line.contains("AUTH=XOAUTH2"), "{line}");
    assert!(!line.contains("STARTTLS"), "{line}");
    tls.write_all(format!("a1 AUTHENTICATE XOAUTH2 {}\r\n", xoauth2(ALICE, GOOD)).as_bytes()).await.unwrap();
    line.clear();
    tls.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("a1 OK"), "{line}");

    let tls = tls_connect(&e.dovecot, e.dovecot.pop3s_port()).await;
    let mut tls = tokio::io::BufReader::new(tls);
    line.clear();
    tls.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"), "{line}");

    // The same CA file also works through the public helper with a raw config.
    let cfg = mailoauth_testkit::client_config_for_ca_file(e.dovecot.ca_file()).unwrap();
    let _: Arc<_> = cfg;
}

#[tokio::test]
async fn imap_starttls_with_the_ca_file() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let e = env();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", e.dovecot.imap_port())).await.unwrap();
    let mut rd = tokio::io::BufReader::new(tcp);
    let mut line = String::new();
    rd.read_line(&mut line).await.unwrap();
    assert!(line.contains("STARTTLS"), "{line}");
    rd.get_mut().write_all(b"a0 STARTTLS\r\n").await.unwrap();
    line.clear();
    rd.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("a0 OK"), "{line}");
    let tcp = rd.into_inner();
    let connector = tokio_rustls::TlsConnector::from(e.dovecot.rustls_client_config().unwrap());
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.expect("STARTTLS handshake");
    let mut tls = tokio::io::BufReader::new(tls);
    tls.write_all(format!("a1 AUTHENTICATE XOAUTH2 {}\r\n", xoauth2(ALICE, GOOD)).as_bytes()).await.unwrap();
    line.clear();
    tls.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("a1 OK"), "{line}");
}

fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn two_instances_in_parallel_and_drop_leaves_no_process() {
    let v = TokenValidator::start().unwrap();
    v.add_token(GOOD, ALICE);
    let a = Dovecot::start(DovecotOptions::new(v.url())).unwrap();
    let b = Dovecot::start(DovecotOptions::new(v.url())).unwrap();
    assert_ne!(a.instance_name(), b.instance_name());
    assert_ne!(a.ports(), b.ports());
    assert_ne!(a.dir(), b.dir());
    for d in [&a, &b] {
        let (_, fin) = imap_auth(d, "XOAUTH2", &xoauth2(ALICE, GOOD));
        assert!(fin.starts_with("a1 OK"), "{fin}");
    }

    let conf = a.conf_path().display().to_string();
    let instance = a.instance_name().to_owned();
    let dir = a.dir().to_path_buf();
    assert!(!pids_with(&conf).is_empty(), "the master runs with -c {conf}");
    assert!(!pids_with(&instance).is_empty(), "children carry the instance name");
    let t = Instant::now();
    drop(a);
    let took = t.elapsed();
    assert!(pids_with(&conf).is_empty(), "master left behind");
    assert!(pids_with(&instance).is_empty(), "children left behind");
    assert!(!dir.exists(), "temp dir removed");
    assert!(took < Duration::from_secs(6), "stop took {took:?}");

    // the other instance is unaffected
    let (_, fin) = imap_auth(&b, "XOAUTH2", &xoauth2(ALICE, GOOD));
    assert!(fin.starts_with("a1 OK"), "{fin}");
    assert!(b.log_contents().contains("imap-login"), "log is readable");
    assert!(b.log_path().is_file());
}

#[test]
fn missing_dovecot_binary_is_an_error() {
    let mut opts = DovecotOptions::new("http://127.0.0.1:1/introspect");
    opts.dovecot_binary = Some("/nonexistent/dovecot".into());
    match Dovecot::start(opts) {
        Err(Error::DovecotNotFound { .. }) => {}
        other => panic!("expected DovecotNotFound, got {other:?}"),
    }
}

#[test]
fn broken_config_reports_the_log_tail() {
    let mut opts = DovecotOptions::new("http://127.0.0.1:1/introspect");
    opts.extra_config = "this_setting_does_not_exist = 1\n".into();
    let err = Dovecot::start(opts).expect_err("bad config must fail");
    let text = err.to_string();
    assert!(text.contains("this_setting_does_not_exist"), "{text}");
}

#[test]
fn validator_http_shape() {
    let v = TokenValidator::start().unwrap();
    v.add_token("t1", ALICE);
    let get = |token: &str| -> String {
        let mut s = TcpStream::connect(v.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /introspect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let r = get("t1");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.to_ascii_lowercase().contains("content-length:"), "{r}");
    assert!(r.ends_with(r#"{"active":true,"email":"alice@example.com"}"#), "{r}");
    let r = get("nope");
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with(r#"{"active":false}"#), "{r}");
    v.set_down(true);
    assert!(get("t1").starts_with("HTTP/1.1 503"));
    assert_eq!(v.requests(), 3);
    assert!(v.url().starts_with("http://127.0.0.1:") && v.url().ends_with("/introspect"));
}

#[test]
fn sink_speaks_smtp() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Conn::connect(sink.port());
    assert!(c.line().starts_with("220 "));
    c.send("EHLO me");
    c.until("250 ");
    c.send("DATA");
    assert!(c.line().starts_with("503 "));
    c.send("MAIL FROM:<a@x> SIZE=10");
    assert!(c.line().starts_with("250 "));
    c.send("RCPT TO:<b@x>");
    assert!(c.line().starts_with("250 "));
    c.send("RCPT TO:<c@x>");
    assert!(c.line().starts_with("250 "));
    c.send("DATA");
    assert!(c.line().starts_with("354 "));
    c.send("Subject: x\r\n\r\n..leading dot\r\n.");
    assert!(c.line().starts_with("250 "));
    c.send(&"X".repeat(10_000));
    assert!(c.line().starts_with("500 "), "long line rejected");
    c.send("RSET");
    assert!(c.line().starts_with("250 "));
    c.send("NOOP");
    assert!(c.line().starts_with("250 "));
    c.send("HELO me");
    assert!(c.line().starts_with("250 "));
    c.send("\u{e9}\u{e9}\u{e9}");
    assert!(c.line().starts_with("502 "));
    c.send("MAIL FROM:\u{e9}");
    assert!(c.line().starts_with("501 "));
    c.send("QUIT");
    assert!(c.line().starts_with("221 "));
    let msgs = sink.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].from, "a@x");
    assert_eq!(msgs[0].recipients, vec!["b@x".to_owned(), "c@x".to_owned()]);
    assert_eq!(msgs[0].data, b"Subject: x\r\n\r\n.leading dot\r\n");
    assert_eq!(sink.wait_for_messages(2, Duration::from_millis(50)).len(), 1);
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("binary did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_dovecot_prints_json_and_stops_at_stdin_eof() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailoauth-testkit"))
        .args(["dovecot", "--token", "good-token=alice@example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    for key in ["imap_port", "imaps_port", "pop3_port", "pop3s_port", "submission_port", "sink_port"] {
        assert!(info[key].as_u64().is_some(), "{key} in {info}");
    }
    assert!(std::path::Path::new(info["ca_file"].as_str().unwrap()).is_file());
    assert!(info["validator_url"].as_str().unwrap().ends_with("/introspect"));
    let instance = info["instance_name"].as_str().unwrap().to_owned();
    let imap = u16::try_from(info["imap_port"].as_u64().unwrap()).unwrap();

    let mut c = Conn::connect(imap);
    assert!(c.line().starts_with("* OK"));
    c.send(&format!("a1 AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, GOOD)));
    let l = c.until("a1 ");
    assert!(l.starts_with("a1 OK"), "{l}");

    let mut ask = |cmd: &str| -> serde_json::Value {
        writeln!(stdin, "{cmd}").unwrap();
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        serde_json::from_str(&l).unwrap()
    };
    assert_eq!(ask("requests")["requests"], 1);
    assert_eq!(ask("add t2 bob@example.com")["ok"], true);
    assert_eq!(ask("revoke t2")["ok"], true);
    assert_eq!(ask("messages")["messages"], serde_json::json!([]));
    assert_eq!(ask("bogus")["ok"], false);
    drop(stdin);
    let st = wait_exit(&mut child, Duration::from_secs(10));
    assert!(st.success(), "{st}");
    assert!(pids_with(&instance).is_empty(), "dovecot left behind");
}

#[test]
fn binary_validator_stops_on_sigterm() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailoauth-testkit"))
        .args(["validator", "--token", "t=alice@example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(info["validator_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let st = wait_exit(&mut child, Duration::from_secs(10));
    assert!(st.success(), "{st}");
}

#[test]
fn post_mode_and_openid_configuration_url() {
    let v = TokenValidator::start().unwrap();
    v.add_token(GOOD, ALICE);
    let mut opts = DovecotOptions::new(v.url())
        .openid_configuration_url("https://login.example.test/.well-known/openid-configuration");
    opts.introspection_mode = "post".into();
    let d = Dovecot::start(opts).unwrap();
    let (_, fin) = imap_auth(&d, "XOAUTH2", &xoauth2(ALICE, GOOD));
    assert!(fin.starts_with("a1 OK"), "{fin}\n{}", d.log_contents());
    let (ch, fin) = imap_auth(&d, "XOAUTH2", &xoauth2(ALICE, "bogus"));
    let ch = ch.unwrap();
    assert!(
        ch.contains(r#""openid-configuration":"https://login.example.test/.well-known/openid-configuration""#),
        "{ch}"
    );
    assert!(fin.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{fin}");
}
