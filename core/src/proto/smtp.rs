//! SMTP submission login: 220 greeting, EHLO, STARTTLS, AUTH (RFC 4954).

use super::{Action, Core, LoginConfig, Machine, MailAuthError, MailErrorKind, Protocol, Stage};
#[allow(unused_imports)]
use crate::prelude::*;

/// RFC 5321 command line limit, CRLF included; RFC 4954 forbids longer inline responses.
pub(super) const MAX_COMMAND: usize = 512;
/// Bound on the number of lines in one multi-line reply.
const MAX_REPLY_LINES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    StartTls,
    AuthPrompt,
    AuthResponse,
    Finished,
}

/// The SMTP login state machine. Use it through [`super::Login`].
#[derive(Debug)]
pub struct SmtpLogin {
    pub(super) core: Core,
    m: Smtp,
}

#[derive(Debug)]
struct Smtp {
    state: State,
    /// Lines of the reply being read.
    reply: Vec<String>,
    /// EHLO keyword lines (without the leading domain line).
    ehlo: Vec<String>,
}

/// `5.7.139 text` → (5, 7, 139).
pub(super) fn parse_enhanced(text: &str) -> Option<(u8, u16, u16)> {
    let word = text.split_ascii_whitespace().next()?;
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some((class, subject, detail))
}

impl SmtpLogin {
    pub(super) fn new(cfg: LoginConfig) -> SmtpLogin {
        SmtpLogin {
            core: Core::new(Protocol::Smtp, cfg),
            m: Smtp { state: State::Greeting, reply: Vec::new(), ehlo: Vec::new() },
        }
    }

    pub(super) fn poll(&mut self) -> Result<Action, MailAuthError> {
        self.core.poll_with(&mut self.m)
    }
}

impl Machine for Smtp {
    fn on_line(&mut self, core: &mut Core, line: String) -> Result<(), MailAuthError> {
        // Assemble a (possibly multi-line) reply: "250-..." continues, "250 ..." ends.
        let bytes = line.as_bytes();
        let well_formed = bytes.len() >= 3
            && bytes[..3].iter().all(u8::is_ascii_digit)
            && (bytes.len() == 3 || bytes[3] == b' ' || bytes[3] == b'-');
        if !well_formed {
            return Err(core.err(MailErrorKind::Protocol, "malformed SMTP reply").with_server_line(&line));
        }
        if let Some(first) = self.reply.first() {
            if first.as_bytes()[..3] != bytes[..3] {
                return Err(core
                    .err(MailErrorKind::Protocol, "SMTP reply lines carry different codes")
                    .with_server_line(&line));
            }
        }
        let last = bytes.len() == 3 || bytes[3] == b' ';
        self.reply.push(line);
        if self.reply.len() > MAX_REPLY_LINES {
            return Err(core.err(MailErrorKind::Protocol, "SMTP reply has too many lines"));
        }
        if self.reply.iter().map(String::len).sum::<usize>() > super::MAX_REPLY_BYTES {
            return Err(core
                .err(MailErrorKind::Protocol, format!("SMTP reply is longer than {} bytes", super::MAX_REPLY_BYTES)));
        }
        if !last {
            return Ok(());
        }
        let reply = core::mem::take(&mut self.reply);
        self.on_reply(core, reply)
    }

    fn after_tls(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        // EHLO again: what the server said before TLS must not be trusted (RFC 3207 4.2).
        self.ehlo.clear();
        self.send_ehlo(core);
        Ok(())
    }
}

/// The kind and message of a failed `AUTH`, from the reply code and the last reply line.
pub(super) fn auth_failure_kind(code: u16, line: &str) -> (MailErrorKind, &'static str) {
    let enhanced = parse_enhanced(text_of(line));
    match (code, enhanced) {
        (_, Some((5, 7, 139))) => {
            (MailErrorKind::LoginDisabled, "SMTP AUTH is disabled for this mailbox or tenant (Exchange 5.7.139)")
        }
        (400..=499, _) => (MailErrorKind::Temporary, "temporary authentication failure"),
        (504, _) => (MailErrorKind::MechanismUnsupported, "the server does not accept this mechanism"),
        (500..=503, _) => (MailErrorKind::Protocol, "the server did not accept the AUTH command"),
        (500..=599, _) => (MailErrorKind::Rejected, "the server rejected the token"),
        _ => (MailErrorKind::Protocol, "unexpected reply to AUTH"),
    }
}

/// [`auth_failure_kind`] for a reply line (`535 5.7.3 Authentication unsuccessful`).
pub(super) fn auth_failure_line(line: &str) -> (MailErrorKind, &'static str) {
    let line = line.trim();
    let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
    auth_failure_kind(code, line)
}

fn code_of(reply: &[String]) -> u16 {
    reply.first().and_then(|l| l.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn text_of(line: &str) -> &str {
    line.get(4..).unwrap_or("")
}

impl Smtp {
    fn send_ehlo(&mut self, core: &mut Core) {
        core.stage = Stage::Capabilities;
        let name = core.cfg.client_name.clone();
        core.send_line(&format!("EHLO {name}"));
        self.state = State::Ehlo;
    }

    fn has_keyword(&self, keyword: &str) -> bool {
        self.ehlo.iter().any(|l| l.split([' ', '=']).next().is_some_and(|k| k.eq_ignore_ascii_case(keyword)))
    }

    fn on_reply(&mut self, core: &mut Core, reply: Vec<String>) -> Result<(), MailAuthError> {
        let code = code_of(&reply);
        let last = reply.last().cloned().unwrap_or_default();
        if code == 421 {
            return Err(core.server_err(MailErrorKind::Temporary, "the server is closing the connection", &last));
        }
        match self.state {
            State::Greeting => {
                core.outcome.greeting = reply.join("\n");
                match code {
                    220 => {
                        self.send_ehlo(core);
                        Ok(())
                    }
                    _ => Err(core.err(MailErrorKind::Greeting, "the server refused service").with_server_line(&last)),
                }
            }
            State::Ehlo => {
                if code != 250 {
                    return Err(core
                        .err(MailErrorKind::Protocol, "the server rejected EHLO, so AUTH is not possible")
                        .with_server_line(&last));
                }
                self.ehlo = reply.iter().skip(1).map(|l| text_of(l).to_owned()).collect();
                self.proceed(core)
            }
            State::StartTls => {
                if code != 220 {
                    return Err(core
                        .err(
                            MailErrorKind::StartTlsUnavailable,
                            "the server refused STARTTLS; no credentials were sent",
                        )
                        .with_server_line(&last));
                }
                core.start_tls()
            }
            State::AuthPrompt => {
                if code == 334 {
                    core.answer(text_of(&last), &last)?;
                    self.state = State::AuthResponse;
                    return Ok(());
                }
                Err(self.auth_failure(core, code, &last))
            }
            State::AuthResponse => match code {
                235 => {
                    self.state = State::Finished;
                    core.outcome.capabilities = self.ehlo.clone();
                    core.finish(&last);
                    Ok(())
                }
                // An error challenge: answered with the dummy reply, once (the exchange decides).
                334 => core.answer(text_of(&last), &last),
                _ => Err(self.auth_failure(core, code, &last)),
            },
            State::Finished => Err(core.err(MailErrorKind::Protocol, "unexpected SMTP reply").with_server_line(&last)),
        }
    }

    fn auth_failure(&self, core: &Core, code: u16, line: &str) -> MailAuthError {
        let (kind, msg) = auth_failure_kind(code, line);
        core.server_err(kind, msg, line)
    }

    fn proceed(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        if core.cfg.starttls && !core.outcome.upgraded_to_tls {
            core.stage = Stage::StartTls;
            if !self.has_keyword("STARTTLS") {
                return Err(core.err(
                    MailErrorKind::StartTlsUnavailable,
                    "STARTTLS was requested but the server does not offer it; no credentials were sent",
                ));
            }
            core.send_line("STARTTLS");
            self.state = State::StartTls;
            return Ok(());
        }
        core.stage = Stage::Auth;
        core.require_mechanism(&self.ehlo)?;
        self.state = if core.send_auth("AUTH", true) { State::AuthResponse } else { State::AuthPrompt };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes() {
        assert_eq!(parse_enhanced("5.7.139 Authentication unsuccessful"), Some((5, 7, 139)));
        assert_eq!(parse_enhanced("4.7.0 Temporary"), Some((4, 7, 0)));
        assert_eq!(parse_enhanced("Authentication failed"), None);
        assert_eq!(parse_enhanced("9.1.1 x"), None);
        assert_eq!(parse_enhanced(""), None);
    }
}
