//! POP3 login: +OK greeting, CAPA, STLS, AUTH (RFC 5034).

use super::{split_word, Action, Core, LoginConfig, Machine, MailAuthError, MailErrorKind, Protocol, Stage};
#[allow(unused_imports)]
use crate::prelude::*;

/// RFC 5034 / RFC 2449: a command, initial response included, is at most 255 octets.
pub(super) const MAX_COMMAND: usize = 255;
/// Bound on the number of CAPA lines.
const MAX_CAPA_LINES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    /// Waiting for the CAPA status line.
    Capa {
        after_auth: bool,
    },
    /// Reading CAPA lines up to ".".
    CapaLines {
        after_auth: bool,
    },
    Stls,
    AuthPrompt,
    AuthResponse,
    Finished,
}

/// The POP3 login state machine. Use it through [`super::Login`].
#[derive(Debug)]
pub struct Pop3Login {
    pub(super) core: Core,
    m: Pop3,
}

#[derive(Debug)]
struct Pop3 {
    state: State,
    caps: Vec<String>,
    /// Whether CAPA worked (an old server may not support it).
    caps_known: bool,
}

impl Pop3Login {
    pub(super) fn new(cfg: LoginConfig) -> Pop3Login {
        Pop3Login {
            core: Core::new(Protocol::Pop3, cfg),
            m: Pop3 { state: State::Greeting, caps: Vec::new(), caps_known: false },
        }
    }

    pub(super) fn poll(&mut self) -> Result<Action, MailAuthError> {
        self.core.poll_with(&mut self.m)
    }
}

/// Positive status (`+OK`), continuation (`+` or `+ text`), or negative (`-ERR`).
enum Status<'a> {
    Ok,
    Continue(&'a str),
    Err(&'a str),
}

fn status(line: &str) -> Option<Status<'_>> {
    let starts =
        |prefix: &str| line.as_bytes().get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()));
    if starts("+OK") {
        return Some(Status::Ok);
    }
    if line == "+" {
        return Some(Status::Continue(""));
    }
    if let Some(rest) = line.strip_prefix("+ ") {
        return Some(Status::Continue(rest));
    }
    if starts("-ERR") {
        return Some(Status::Err(line.get(4..).unwrap_or("").trim_start()));
    }
    None
}

impl Machine for Pop3 {
    fn on_line(&mut self, core: &mut Core, line: String) -> Result<(), MailAuthError> {
        if let State::CapaLines { after_auth } = self.state {
            if line == "." {
                return self.after_capa(core, after_auth);
            }
            let line = line.strip_prefix('.').unwrap_or(&line).to_owned();
            self.caps.push(line);
            if self.caps.len() > MAX_CAPA_LINES {
                return Err(core.err(MailErrorKind::Protocol, "CAPA reply has too many lines"));
            }
            if self.caps.iter().map(String::len).sum::<usize>() > super::MAX_REPLY_BYTES {
                return Err(core.err(
                    MailErrorKind::Protocol,
                    format!("CAPA reply is longer than {} bytes", super::MAX_REPLY_BYTES),
                ));
            }
            return Ok(());
        }
        let Some(st) = status(&line) else {
            return Err(core.err(MailErrorKind::Protocol, "malformed POP3 reply").with_server_line(&line));
        };
        match (self.state, st) {
            (State::Greeting, Status::Ok) => {
                core.outcome.greeting = line.clone();
                self.send_capa(core, false);
                Ok(())
            }
            (State::Greeting, _) => {
                Err(core.err(MailErrorKind::Greeting, "the server refused service").with_server_line(&line))
            }
            (State::Capa { after_auth }, Status::Ok) => {
                self.caps.clear();
                self.state = State::CapaLines { after_auth };
                Ok(())
            }
            (State::Capa { after_auth }, Status::Err(_)) => {
                // CAPA is optional (RFC 2449); without it nothing is known.
                if !after_auth {
                    self.caps_known = false;
                    self.caps.clear();
                }
                self.after_capa_known(core, after_auth)
            }
            (State::Stls, Status::Ok) => core.start_tls(),
            (State::Stls, _) => Err(core
                .err(MailErrorKind::StartTlsUnavailable, "the server refused STLS; no credentials were sent")
                .with_server_line(&line)),
            (State::AuthPrompt, Status::Continue(text)) => {
                core.answer(text, &line)?;
                self.state = State::AuthResponse;
                Ok(())
            }
            (State::AuthResponse, Status::Ok) | (State::AuthPrompt, Status::Ok) => {
                core.outcome.final_line = line.clone();
                self.send_capa(core, true);
                Ok(())
            }
            // An error challenge: answered with the dummy reply, once (the exchange decides).
            (State::AuthResponse, Status::Continue(text)) => core.answer(text, &line),
            (State::AuthPrompt | State::AuthResponse, Status::Err(text)) => Err(auth_failure(core, text, &line)),
            _ => Err(core.err(MailErrorKind::Protocol, "unexpected POP3 reply").with_server_line(&line)),
        }
    }

    fn after_tls(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        self.caps.clear();
        self.caps_known = false;
        self.send_capa(core, false);
        Ok(())
    }
}

fn auth_failure(core: &Core, text: &str, line: &str) -> MailAuthError {
    let (kind, msg) = auth_failure_kind(text);
    core.server_err(kind, msg, line)
}

/// The kind and message of a failed `AUTH`, from the text after `-ERR` (RFC 3206 codes).
pub(super) fn auth_failure_kind(text: &str) -> (MailErrorKind, &'static str) {
    let code = text.strip_prefix('[').and_then(|t| t.find(']').map(|end| t[..end].to_ascii_uppercase()));
    match code.as_deref() {
        Some("SYS/TEMP") | Some("IN-USE") => (MailErrorKind::Temporary, "temporary authentication failure"),
        _ => (MailErrorKind::Rejected, "the server rejected the token"),
    }
}

/// [`auth_failure_kind`] for a whole reply line (`-ERR [AUTH] Authentication failed.`).
pub(super) fn auth_failure_line(line: &str) -> (MailErrorKind, &'static str) {
    match status(line.trim()) {
        Some(Status::Err(text)) => auth_failure_kind(text),
        _ => (MailErrorKind::Protocol, "unexpected reply to AUTH"),
    }
}

impl Pop3 {
    fn send_capa(&mut self, core: &mut Core, after_auth: bool) {
        if !after_auth {
            core.stage = Stage::Capabilities;
        }
        core.send_line("CAPA");
        self.state = State::Capa { after_auth };
    }

    fn after_capa(&mut self, core: &mut Core, after_auth: bool) -> Result<(), MailAuthError> {
        self.caps_known = true;
        self.after_capa_known(core, after_auth)
    }

    fn after_capa_known(&mut self, core: &mut Core, after_auth: bool) -> Result<(), MailAuthError> {
        if after_auth {
            self.state = State::Finished;
            core.outcome.capabilities = self.caps.clone();
            let final_line = core.outcome.final_line.clone();
            core.finish(&final_line);
            return Ok(());
        }
        self.proceed(core)
    }

    fn has_cap(&self, name: &str) -> bool {
        self.caps.iter().any(|c| split_word(c).0.eq_ignore_ascii_case(name))
    }

    fn proceed(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        if core.cfg.starttls && !core.outcome.upgraded_to_tls {
            core.stage = Stage::StartTls;
            if !self.has_cap("STLS") {
                return Err(core.err(
                    MailErrorKind::StartTlsUnavailable,
                    "STLS was requested but the server does not offer it; no credentials were sent",
                ));
            }
            core.send_line("STLS");
            self.state = State::Stls;
            return Ok(());
        }
        core.stage = Stage::Auth;
        if self.caps_known {
            core.require_mechanism(&self.caps)?;
        }
        self.state = if core.send_auth("AUTH", true) { State::AuthResponse } else { State::AuthPrompt };
        Ok(())
    }
}
