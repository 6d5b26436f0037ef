//! Integration tests: a real Dovecot with the test validator and SMTP sink,
//! driven over raw sockets.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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
    let dovecot =
        Dovecot::start(DovecotOptions::new(validator.url())).expect("dovecot starts");
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
        Conn {
            rd: BufReader::new(s.try_clone().unwrap()),
            wr: s,
        }
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
    assert!(
        greeting.contains("AUTH=XOAUTH2 AUTH=OAUTHBEARER"),
        "{greeting}"
    );
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    c.send(&format!("a1 AUTHENTICATE XOAUTH2 {}", xoauth2(ALICE, GOOD)));
    let l = c.until("a1 ");
    assert!(l.starts_with("a1 OK"), "{l}\n{}", e.dovecot.log_contents());
    c.send("a2 LOGOUT");
    c.until("a2 OK");
    assert!(e.validator.requests() >= 1);
}
