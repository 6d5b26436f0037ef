//! A real Dovecot (from mailoauth-testkit) validating tokens through the emulator.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use mailoauth_testkit::{Dovecot, DovecotOptions};

use super::*;

/// `a1 AUTHENTICATE XOAUTH2 <ir>` with SASL-IR; returns the tagged result line.
fn imap_xoauth2(port: u16, user: &str, token: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    let ir = STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"));
    w.write_all(format!("a1 AUTHENTICATE XOAUTH2 {ir}\r\n").as_bytes()).unwrap();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.starts_with("+ ") || line.trim_end() == "+" {
            // the error challenge: answer with an empty line, then read the final NO
            w.write_all(b"\r\n").unwrap();
            continue;
        }
        if line.starts_with("a1 ") {
            let _ = w.write_all(b"a2 LOGOUT\r\n");
            return line.trim_end().to_owned();
        }
        assert!(!line.is_empty(), "connection closed");
    }
}

#[test]
fn dovecot_accepts_exactly_the_tokens_the_emulator_holds_valid() {
    let emu = emu();
    let dovecot = Dovecot::start(DovecotOptions::new(emu.introspection_url())).unwrap();
    let port = dovecot.imap_port();

    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    let ok = imap_xoauth2(port, DEMO_USER, &at);
    assert!(ok.starts_with("a1 OK"), "{ok}\n{}", dovecot.log_contents());

    // another user's name with alice's token
    let wrong_user = imap_xoauth2(port, "bob@contoso.example", &at);
    assert!(wrong_user.starts_with("a1 NO"), "{wrong_user}");

    // expired early
    emu.expire_access_tokens(None);
    let expired = imap_xoauth2(port, DEMO_USER, &at);
    assert!(expired.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{expired}");

    // revoked (continuous access evaluation)
    let at2 = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    assert!(imap_xoauth2(port, DEMO_USER, &at2).starts_with("a1 OK"));
    emu.revoke_user(DEMO_USER).unwrap();
    let revoked = imap_xoauth2(port, DEMO_USER, &at2);
    assert!(revoked.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{revoked}");

    // a token the emulator never issued
    let foreign = imap_xoauth2(port, DEMO_USER, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    assert!(foreign.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{foreign}");
    assert!(emu.counters().endpoint("introspect") >= 6);
}
