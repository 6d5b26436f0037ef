//! Replays the login transcripts in `testdata/transcripts` (Exchange Online, Gmail, Dovecot
//! and edge cases) against the sans-IO machines, feeding the server's bytes whole, one
//! byte at a time, and in bursts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mailoauth::proto::{Action, Login, LoginConfig, Protocol, SaslIr};
use mailoauth::sasl::Mechanism;

#[derive(Debug)]
enum Step {
    Server(String),
    Client(String),
    Tls,
}

#[derive(Debug)]
struct Transcript {
    name: String,
    headers: HashMap<String, String>,
    steps: Vec<Step>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn load_all() -> Vec<Transcript> {
    let dir = testdata().join("transcripts");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("transcripts dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read transcript");
        let mut headers = HashMap::new();
        let mut steps = Vec::new();
        for line in text.lines() {
            if let Some(h) = line.strip_prefix("# ") {
                if let Some((k, v)) = h.split_once(": ") {
                    if !k.contains(' ') {
                        headers.insert(k.to_owned(), v.to_owned());
                    }
                }
            } else if let Some(s) = line.strip_prefix("S: ") {
                steps.push(Step::Server(s.to_owned()));
            } else if let Some(c) = line.strip_prefix("C: ") {
                steps.push(Step::Client(c.to_owned()));
            } else if line == "C:" {
                steps.push(Step::Client(String::new()));
            } else if line == "TLS" {
                steps.push(Step::Tls);
            } else if !line.trim().is_empty() && !line.starts_with('#') {
                panic!("{}: unparsable line {line:?}", path.display());
            }
        }
        let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
        out.push(Transcript { name, headers, steps });
    }
    assert!(out.len() >= 25, "expected the transcript corpus, found {}", out.len());
    out
}

fn token_of(h: &HashMap<String, String>) -> String {
    let t = &h["token"];
    match t.split_once('*') {
        Some((c, n)) if n.chars().all(|d| d.is_ascii_digit()) => c.repeat(n.parse().expect("count")),
        _ => t.clone(),
    }
}

fn config_of(t: &Transcript) -> (Protocol, LoginConfig) {
    let h = &t.headers;
    let protocol = match h["protocol"].as_str() {
        "imap" => Protocol::Imap,
        "smtp" => Protocol::Smtp,
        "pop3" => Protocol::Pop3,
        p => panic!("protocol {p}"),
    };
    let mechanism: Mechanism = h["mechanism"].parse().expect("mechanism");
    let mut cfg = LoginConfig::new(h["user"].clone(), token_of(h), mechanism);
    cfg.starttls = h.get("starttls").is_some_and(|v| v == "true");
    cfg.probe = h.get("probe").is_some_and(|v| v == "true");
    cfg.sasl_ir = match h.get("sasl_ir").map(String::as_str) {
        None | Some("auto") => SaslIr::Auto,
        Some("always") => SaslIr::Always,
        Some("never") => SaslIr::Never,
        Some(v) => panic!("sasl_ir {v}"),
    };
    cfg.host = h.get("host").cloned();
    cfg.port = h.get("port").map(|p| p.parse().expect("port"));
    (protocol, cfg)
}

#[derive(Clone, Copy, Debug)]
enum Feeding {
    Lines,
    Bytes,
    Bursts,
}

/// Runs one transcript; returns every byte the client sent.
fn replay(t: &Transcript, feeding: Feeding) -> Vec<u8> {
    let (protocol, cfg) = config_of(t);
    let ir = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(cfg.mechanism.initial_response(
            &cfg.user,
            cfg.token.expose_secret(),
            cfg.host.as_deref(),
            cfg.port,
        ))
    };
    let ctx = format!("{} ({feeding:?})", t.name);
    let mut login = Login::new(protocol, cfg);
    let mut sent = Vec::new();
    let mut i = 0;
    let result = loop {
        let action = match login.poll() {
            Ok(a) => a,
            Err(e) => break Err(e),
        };
        match action {
            Action::Done => break Ok(()),
            Action::Send(bytes) => {
                sent.extend_from_slice(&bytes);
                let Some(Step::Client(expected)) = t.steps.get(i) else {
                    panic!(
                        "{ctx}: client sent {:?} but the transcript expects {:?}",
                        String::from_utf8_lossy(&bytes),
                        t.steps.get(i)
                    );
                };
                let expected = format!("{}\r\n", expected.replace("{IR}", &ir));
                assert_eq!(String::from_utf8_lossy(&bytes), expected, "{ctx}: step {i}");
                i += 1;
            }
            Action::StartTls => {
                assert!(matches!(t.steps.get(i), Some(Step::Tls)), "{ctx}: unexpected StartTls at step {i}");
                login.tls_established();
                i += 1;
            }
            Action::NeedInput => {
                let mut chunk = Vec::new();
                while let Some(Step::Server(line)) = t.steps.get(i) {
                    chunk.extend_from_slice(line.as_bytes());
                    chunk.extend_from_slice(b"\r\n");
                    i += 1;
                    if !matches!(feeding, Feeding::Bursts) {
                        break;
                    }
                }
                assert!(!chunk.is_empty(), "{ctx}: machine wants input but the transcript has {:?}", t.steps.get(i));
                match feeding {
                    Feeding::Bytes => {
                        for b in &chunk {
                            login.feed(std::slice::from_ref(b));
                            // Must not act before a full line arrived, except at line ends.
                            if *b != b'\n' {
                                assert_eq!(
                                    login.poll().as_ref().ok(),
                                    Some(&Action::NeedInput),
                                    "{ctx}: acted mid-line"
                                );
                            }
                        }
                    }
                    _ => login.feed(&chunk),
                }
            }
        }
    };
    let expect = t.headers["expect"].clone();
    let mut words = expect.split_whitespace();
    match (words.next(), result) {
        (Some("ok"), Ok(())) => {
            assert_eq!(i, t.steps.len(), "{ctx}: transcript not fully used");
            if let Some(caps) = t.headers.get("capabilities") {
                let want: Vec<&str> =
                    if caps.contains('|') { caps.split('|').collect() } else { caps.split(' ').collect() };
                let outcome = login.outcome().expect("outcome");
                assert_eq!(outcome.capabilities, want, "{ctx}: capabilities");
            }
        }
        (Some("error"), Err(e)) => {
            let kind = words.next().expect("kind");
            let stage = words.next().expect("stage");
            assert_eq!(serde_json::to_value(e.kind).expect("kind json"), kind, "{ctx}: {e}");
            assert_eq!(e.stage.to_string(), stage, "{ctx}: {e}");
            assert_eq!(i, t.steps.len(), "{ctx}: error before the transcript ended: {e}");
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(&ir), "{ctx}: the error shows the SASL response");
            if let Some(status) = words.next().and_then(|w| w.strip_prefix("challenge-status=")) {
                let challenge = e.challenge.as_ref().expect("challenge decoded");
                assert_eq!(challenge.status.as_deref(), Some(status), "{ctx}");
            } else {
                assert!(e.challenge.is_none(), "{ctx}: unexpected challenge");
            }
            // A failed machine keeps failing the same way.
            assert_eq!(login.poll().err(), Some(e));
        }
        (want, got) => panic!("{ctx}: expected {want:?}, got {got:?}"),
    }
    let token = token_of(&t.headers);
    if token.contains("must-not-be-sent") {
        let text = String::from_utf8_lossy(&sent);
        assert!(!text.contains(&ir) && !text.contains("Bearer"), "{ctx}: credentials were sent");
    }
    sent
}

#[test]
fn transcripts_replay_in_every_feeding_mode() {
    for t in load_all() {
        let a = replay(&t, Feeding::Lines);
        let b = replay(&t, Feeding::Bytes);
        let c = replay(&t, Feeding::Bursts);
        assert_eq!(a, b, "{}", t.name);
        assert_eq!(a, c, "{}", t.name);
    }
}

#[test]
fn starttls_injection_is_refused() {
    let mut cfg = LoginConfig::new("alice@example.com", "tok", Mechanism::XOAuth2);
    cfg.starttls = true;
    for (protocol, greeting, go_ahead) in [
        (Protocol::Imap, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=XOAUTH2] hi\r\n", "m1 OK go\r\n"),
        (Protocol::Smtp, "220 hi\r\n", "220 go\r\n"),
        (Protocol::Pop3, "+OK hi\r\n", "+OK go\r\n"),
    ] {
        let mut login = Login::new(protocol, cfg.clone());
        login.feed(greeting.as_bytes());
        // Answer whatever capability query comes first.
        loop {
            match login.poll().expect("no error yet") {
                Action::Send(b)
                    if b.starts_with(b"STARTTLS") || b.starts_with(b"STLS") || b.starts_with(b"m1 STARTTLS") =>
                {
                    break
                }
                Action::Send(b) if b.starts_with(b"EHLO") => {
                    login.feed(b"250-hi\r\n250-STARTTLS\r\n250 AUTH XOAUTH2\r\n")
                }
                Action::Send(b) if b.starts_with(b"CAPA") => login.feed(b"+OK\r\nSTLS\r\nSASL XOAUTH2\r\n.\r\n"),
                Action::Send(b) => {
                    panic!("{protocol}: unexpected {:?}", String::from_utf8_lossy(&b))
                }
                other => panic!("{protocol}: unexpected {other:?}"),
            }
        }
        let mut evil = go_ahead.as_bytes().to_vec();
        evil.extend_from_slice(b"injected plaintext response\r\n");
        login.feed(&evil);
        let err = login.poll().expect_err("injection must be refused");
        assert_eq!(err.kind, mailoauth::MailErrorKind::Protocol, "{protocol}: {err}");
    }
}

#[test]
fn oversized_and_garbage_input_is_an_error_not_a_panic() {
    for protocol in [Protocol::Imap, Protocol::Smtp, Protocol::Pop3] {
        let mut cfg = LoginConfig::new("a@b", "t", Mechanism::XOAuth2);
        cfg.max_line = 1024;
        let mut login = Login::new(protocol, cfg.clone());
        login.feed(&vec![b'A'; 4096]);
        let err = login.poll().expect_err("too long");
        assert_eq!(err.kind, mailoauth::MailErrorKind::Protocol);
        assert!(err.message.contains("longer than 1024"), "{err}");

        let mut login = Login::new(protocol, cfg);
        login.feed(b"\x00\xff\xfe garbage \r\n");
        let err = login.poll().expect_err("garbage");
        assert!(matches!(err.kind, mailoauth::MailErrorKind::Protocol | mailoauth::MailErrorKind::Greeting), "{err}");
    }
}

#[test]
fn imap_literal_in_untagged_data_is_skipped() {
    let mut cfg = LoginConfig::new("alice@example.com", "tok", Mechanism::XOAuth2);
    cfg.probe = true;
    let mut login = Login::new(Protocol::Imap, cfg);
    login.feed(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n");
    assert!(matches!(login.poll(), Ok(Action::Send(_))));
    login.feed(b"m1 OK [CAPABILITY IMAP4rev1] in\r\n");
    let Ok(Action::Send(probe)) = login.poll() else { panic!("probe expected") };
    assert_eq!(probe, b"m2 LIST \"\" \"INBOX\"\r\n");
    login.feed(b"* LIST () \"/\" {7}\r\nm2 OK x\r\nm2 OK done\r\n");
    assert_eq!(login.poll().expect("done"), Action::Done);
    assert_eq!(login.outcome().expect("outcome").final_line, "m1 OK [CAPABILITY IMAP4rev1] in");
}
