//! `mailoauth check` end to end: a real Dovecot validating the emulator's tokens, and for
//! Exchange-only answers (5.7.139, "authenticated but not connected") a loopback server that
//! replays Exchange Online's documented transcripts from testdata/.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use mailoauth_emulator::Emulator;
use mailoauth_testkit::{Dovecot, DovecotOptions};

const HOUR: Duration = Duration::from_secs(3599);

fn dovecot(url: &str) -> Dovecot {
    Dovecot::start(DovecotOptions::new(url))
        .expect("Dovecot starts (apt-get install dovecot-imapd dovecot-pop3d dovecot-submissiond)")
}

/// Writes the account's servers (STARTTLS on Dovecot's ports, its CA) into the config.
fn point_at(home: &Home, account: &str, dc: &Dovecot) {
    home.append_config(&format!(
        "\n[accounts.{account}.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n\
         [accounts.{account}.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n\
         [accounts.{account}.pop]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n",
        dc.imap_port(),
        dc.submission_port(),
        dc.pop3_port()
    ));
    let cfg = std::fs::read_to_string(home.config_file()).expect("config");
    let ca = dc.ca_file().display().to_string();
    std::fs::write(
        home.config_file(),
        cfg.replacen("[accounts.work]\n", &format!("[accounts.work]\nca_file = \"{ca}\"\n"), 1),
    )
    .expect("write");
}

#[test]
fn check_all_against_dovecot_then_failures_named() {
    let emu = emulator(HOUR);
    let dc = dovecot(&emu.introspection_url());
    let home = Home::new();
    home.login(&emu, "work", &[]).ok();
    point_at(&home, "work", &dc);

    let r = home.run(&["check", "all", "--account", "work"]);
    r.ok();
    for step in ["IMAP  login", "IMAP  probe", "SMTP  login", "POP3  login", "POP3  probe", "IMAP  tls", "claims"] {
        assert!(r.stdout.contains(step), "{step} reported: {}", r.stdout);
    }
    assert!(r.stdout.contains("verdict: OK: IMAP ok, SMTP ok, POP3 ok for alice@contoso.example"), "{}", r.stdout);
    let token = home.run(&["token", "work"]).ok().stdout.trim().to_owned();
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token), "check never prints the token");

    // The only account is the default; implicit TLS by flag.
    let r = home.run(&["check", "imap", "--host", "127.0.0.1", "--port", &dc.imaps_port().to_string(), "--tls"]);
    r.ok();
    assert!(r.stdout.contains("(implicit TLS)"), "{}", r.stdout);

    // Another user's mailbox with alice's token: rejected (3), named as a user mismatch.
    let r = home.run(&["check", "imap", "--account", "work", "--user", "bob@contoso.example"]);
    r.code(3);
    assert!(r.stdout.contains("FAIL IMAP  login") && r.stdout.contains("user mismatch"), "{}", r.stdout);
    assert!(r.stdout.contains("Add-MailboxPermission") && r.stdout.contains("verdict: FAILED"), "{}", r.stdout);

    // A token from stdin (any source), host given by flags.
    let port = dc.imap_port().to_string();
    let ca = dc.ca_file().display().to_string();
    let base = ["check", "imap", "--token-stdin", "--user", USER, "--host", "127.0.0.1", "--port", &port, "--starttls"];
    let mut args = base.to_vec();
    args.extend(["--ca-file", &ca]);
    home.run_stdin(&args, &format!("{token}\n")).ok();
    // Without the CA the certificate is not trusted: network/TLS (4).
    let r = home.run_stdin(&base, &token);
    r.code(4);
    assert!(r.stdout.contains("FAIL IMAP  tls"), "{}", r.stdout);
    // An access token the server no longer accepts (expired early at the emulator): 3.
    emu.expire_access_tokens(None);
    home.run_stdin(&args, &token).code(3);
    // Nothing listening: 4.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port().to_string();
    let r = home.run_stdin(
        &["check", "pop", "--token-stdin", "--user", USER, "--host", "127.0.0.1", "--port", &closed, "--plain"],
        &token,
    );
    r.code(4);
    assert!(r.stdout.contains("FAIL POP3  connect"), "{}", r.stdout);
    // No sign-in at all: 2, said in the token step.
    home.run(&["logout", "work"]).ok();
    let r = home.run(&["check", "imap"]);
    r.code(2);
    assert!(r.stdout.contains("FAIL       token"), "{}", r.stdout);
}

/// A token for Microsoft Graph (what users get with a bare `IMAP.AccessAsUser.All` scope).
fn graph_token(emu: &Emulator) -> String {
    let body = form_urlencoded(&[
        ("client_id", CLIENT),
        ("grant_type", "password"),
        ("username", USER),
        ("password", mailoauth_emulator::config::DEMO_PASSWORD),
        ("scope", "https://graph.microsoft.com/Mail.Read"),
    ]);
    let v = http_post_form(&emu.token_endpoint("organizations"), &body);
    v["access_token"].as_str().expect("token").to_owned()
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn http_post_form(url: &str, body: &str) -> serde_json::Value {
    let u = url::Url::parse(url).expect("url");
    let mut s = std::net::TcpStream::connect((u.host_str().expect("host"), u.port().expect("port"))).expect("connect");
    write!(
        s,
        "POST {} HTTP/1.0\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        u.path(),
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).expect("read");
    serde_json::from_str(text.split_once("\r\n\r\n").expect("body").1).expect("json")
}

#[test]
fn graph_audience_and_missing_scope_are_named() {
    let emu = emulator(HOUR);
    // This Dovecot asks the emulator to also require the SMTP permission.
    let dc = dovecot(&format!("{}?protocol=smtp", emu.introspection_url()));
    let home = Home::new();
    let port = dc.submission_port().to_string();
    let ca = dc.ca_file().display().to_string();
    let smtp = [
        "check",
        "smtp",
        "--token-stdin",
        "--user",
        USER,
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--starttls",
        "--ca-file",
        &ca,
    ];
    let r = home.run_stdin(&smtp, &graph_token(&emu));
    r.code(3);
    assert!(r.stdout.contains("Microsoft Graph") && r.stdout.contains("outlook.office.com"), "{}", r.stdout);

    // Signed in for IMAP only: SMTP is refused and the missing SMTP.Send is the cause.
    home.login(&emu, "work", &["--scope", "https://outlook.office.com/IMAP.AccessAsUser.All"]).ok();
    point_at(&home, "work", &dc);
    let r = home.run(&["check", "smtp", "--account", "work"]);
    r.code(3);
    assert!(r.stdout.contains("warn SMTP  token") && r.stdout.contains("missing scope"), "{}", r.stdout);
    assert!(r.stdout.contains("SMTP.Send"), "{}", r.stdout);
}

/// Serves one connection by replaying a transcript's `S:` lines, reading a line per `C:`.
fn replay(transcript: &str) -> u16 {
    let path = format!("{}/../testdata/transcripts/{transcript}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("transcript");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut w = stream.try_clone().expect("clone");
        let mut r = BufReader::new(stream);
        for line in text.lines() {
            if let Some(s) = line.strip_prefix("S: ") {
                let _ = w.write_all(format!("{s}\r\n").as_bytes());
            } else if line == "S:" {
                let _ = w.write_all(b"\r\n");
            } else if line.starts_with("C:") {
                let mut got = String::new();
                if r.read_line(&mut got).unwrap_or(0) == 0 {
                    return;
                }
            }
        }
        let mut rest = String::new();
        let _ = r.read_line(&mut rest);
    });
    port
}

/// An unsigned JWT with these claims (check decodes, never verifies).
fn jwt(claims: serde_json::Value) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.sig", b.encode(r#"{"alg":"none"}"#), b.encode(claims.to_string()))
}

fn exp() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64 + 3000
}

#[test]
fn exchange_answers_are_explained() {
    let home = Home::new();
    let user_token = jwt(serde_json::json!({
        "aud": "https://outlook.office.com", "scp": "IMAP.AccessAsUser.All POP.AccessAsUser.All SMTP.Send",
        "upn": "test@contoso.onmicrosoft.com", "exp": exp()
    }));
    let check = |what: &str, port: u16, user: &str, token: &str| {
        let p = port.to_string();
        home.run_stdin(
            &["check", what, "--token-stdin", "--user", user, "--host", "127.0.0.1", "--port", &p, "--plain"],
            token,
        )
    };
    // SMTP AUTH disabled for the tenant (5.7.139).
    let r = check("smtp", replay("exchange-smtp-5.7.139.txt"), "test@contoso.onmicrosoft.com", &user_token);
    r.code(3);
    assert!(
        r.stdout.contains("SMTP AUTH is disabled") && r.stdout.contains("SmtpClientAuthenticationDisabled"),
        "{}",
        r.stdout
    );
    // The token is fine, Exchange says NO: IMAP disabled for the mailbox.
    let r = check("imap", replay("exchange-imap-failure.txt"), "test@contoso.onmicrosoft.com", &user_token);
    r.code(3);
    assert!(r.stdout.contains("IMAP is probably disabled") && r.stdout.contains("ImapEnabled"), "{}", r.stdout);
    // Authenticated but not connected, app-only token: service principal and mailbox permission.
    let app =
        jwt(serde_json::json!({"aud": "https://outlook.office365.com", "roles": ["IMAP.AccessAsApp"], "exp": exp()}));
    let r = check("imap", replay("exchange-imap-not-connected.txt"), "shared@contoso.onmicrosoft.com", &app);
    r.code(3);
    assert!(r.stdout.contains("FAIL IMAP  probe"), "{}", r.stdout);
    assert!(r.stdout.contains("New-ServicePrincipal") && r.stdout.contains("Add-MailboxPermission"), "{}", r.stdout);
    // ... and with a delegated token of another user: user mismatch.
    let r = check("imap", replay("exchange-imap-not-connected.txt"), "shared@contoso.onmicrosoft.com", &user_token);
    r.code(3);
    assert!(r.stdout.contains("user mismatch"), "{}", r.stdout);
}

#[test]
fn plain_is_refused_for_a_host_that_is_not_loopback() {
    let home = Home::new();
    // 192.0.2.1 is TEST-NET-1: were it tried, the check would time out (exit 4), not refuse.
    let args = ["check", "imap", "--token-stdin", "--user", "a@b", "--host", "192.0.2.1", "--port", "143", "--plain"];
    let r = home.run_stdin(&[&args[..], &["--timeout", "1"]].concat(), "tok\n");
    r.code(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("loopback") && all.contains("192.0.2.1"), "{all}");
}
