//! Feeds arbitrary server bytes, split at arbitrary points, to the three login machines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailoauth::proto::{Action, Login, LoginConfig, Protocol};
use mailoauth::sasl::Mechanism;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let protocol = [Protocol::Imap, Protocol::Smtp, Protocol::Pop3][usize::from(selector % 3)];
    let mut cfg = LoginConfig::new("alice@example.com", "tok", if selector & 4 == 0 { Mechanism::XOAuth2 } else { Mechanism::OAuthBearer });
    cfg.starttls = selector & 8 != 0;
    cfg.probe = selector & 16 != 0;
    cfg.max_line = 256;
    let mut login = Login::new(protocol, cfg);
    // Bytes 0xFF split the input into separate reads.
    for chunk in rest.split(|&b| b == 0xFF) {
        login.feed(chunk);
        for _ in 0..32 {
            match login.poll() {
                Ok(Action::NeedInput) | Ok(Action::Done) | Err(_) => break,
                Ok(Action::StartTls) => login.tls_established(),
                Ok(Action::Send(_)) => {}
            }
        }
    }
});
