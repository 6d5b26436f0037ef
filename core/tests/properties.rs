//! Property tests: no input from the network makes a parser panic, and lines are split the
//! same way however the bytes are chunked. (A libFuzzer target lives in `core/fuzz`.)

use mailoauth::proto::{Action, LineBuffer, Login, LoginConfig, Protocol};
use mailoauth::sasl::{ErrorChallenge, Mechanism};
use proptest::prelude::*;

fn drive(protocol: Protocol, starttls: bool, chunks: &[Vec<u8>]) {
    let mut cfg = LoginConfig::new("alice@example.com", "tok", Mechanism::XOAuth2);
    cfg.starttls = starttls;
    cfg.probe = true;
    cfg.max_line = 512;
    let mut login = Login::new(protocol, cfg);
    for chunk in chunks {
        login.feed(chunk);
        for _ in 0..64 {
            match login.poll() {
                Ok(Action::NeedInput) | Ok(Action::Done) | Err(_) => break,
                Ok(Action::StartTls) => login.tls_established(),
                Ok(Action::Send(_)) => {}
            }
        }
    }
}

/// Server-ish lines: mostly plausible replies, sometimes junk.
fn server_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=XOAUTH2] hi\r\n".to_vec()),
        Just(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n".to_vec()),
        Just(b"+ \r\n".to_vec()),
        Just(b"+OK\r\n".to_vec()),
        Just(b"-ERR [SYS/TEMP] x\r\n".to_vec()),
        Just(b"220 hi\r\n".to_vec()),
        Just(b"250-STARTTLS\r\n250 AUTH XOAUTH2\r\n".to_vec()),
        Just(b"334 \r\n".to_vec()),
        Just(b"SASL XOAUTH2\r\nSTLS\r\n.\r\n".to_vec()),
        "m[0-9] (OK|NO|BAD)( \\[[A-Z]+\\])? [a-z ]{0,10}\r\n".prop_map(String::into_bytes),
        "\\* [A-Z]+ [ -~]{0,40}( \\{[0-9]{1,4}\\})?\r\n".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn machines_never_panic(lines in proptest::collection::vec(server_line(), 0..12), starttls: bool, p in 0..3u8) {
        let protocol = [Protocol::Imap, Protocol::Smtp, Protocol::Pop3][p as usize];
        drive(protocol, starttls, &lines);
    }

    #[test]
    fn challenge_decoding_never_panics(text in ".{0,200}") {
        let _ = ErrorChallenge::decode(&text);
        let _ = ErrorChallenge::from_json(&text);
    }

    #[test]
    fn chunking_does_not_change_lines(data in proptest::collection::vec(any::<u8>(), 0..400), cut in 1usize..50) {
        let collect = |chunks: Vec<&[u8]>| {
            let mut b = LineBuffer::new(64);
            let mut out = Vec::new();
            for c in chunks {
                b.push(c);
                loop {
                    match b.next_line_bytes() {
                        Ok(Some(l)) => out.push(Ok(l)),
                        Ok(None) => break,
                        Err(e) => { out.push(Err(e)); return out; }
                    }
                }
            }
            out
        };
        let whole = collect(vec![&data[..]]);
        let pieces = collect(data.chunks(cut).collect());
        // Errors may be detected earlier with small chunks, but never a different line.
        let n = whole.len().min(pieces.len());
        prop_assert_eq!(&whole[..n.saturating_sub(1)], &pieces[..n.saturating_sub(1)]);
        for l in whole.iter().flatten() {
            prop_assert!(l.len() <= 64);
        }
    }
}
