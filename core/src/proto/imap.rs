//! IMAP login: greeting, CAPABILITY, STARTTLS, AUTHENTICATE (with SASL-IR), probe.

use super::{
    split_word, Action, Core, LineBuffer, LoginConfig, Machine, MailAuthError, MailErrorKind, Protocol, Stage,
};
#[allow(unused_imports)]
use crate::prelude::*;

/// Longest `AUTHENTICATE` line sent with an inline initial response. Dovecot reads SASL
/// responses into an 8 KiB buffer; longer responses go through a continuation.
pub(super) const MAX_INLINE_LINE: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Greeting,
    Capability { tag: String },
    StartTls { tag: String },
    Auth { tag: String },
    CapabilityAfterAuth { tag: String },
    Probe { tag: String },
    Finished,
}

/// The IMAP login state machine. Use it through [`super::Login`].
#[derive(Debug)]
pub struct ImapLogin {
    pub(super) core: Core,
    m: Imap,
}

#[derive(Debug)]
struct Imap {
    state: State,
    caps: Vec<String>,
    caps_after_auth: bool,
    next_tag: u32,
}

/// A parsed server line.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Untagged { kind: String, rest: &'a str },
    Continuation(&'a str),
    Tagged { tag: &'a str, status: String, code: Option<&'a str>, text: &'a str },
}

fn parse_line(line: &str) -> Option<Line<'_>> {
    if let Some(rest) = line.strip_prefix('+') {
        return Some(Line::Continuation(rest.strip_prefix(' ').unwrap_or(rest)));
    }
    if let Some(rest) = line.strip_prefix("* ") {
        let (kind, rest) = split_word(rest);
        return Some(Line::Untagged { kind: kind.to_ascii_uppercase(), rest });
    }
    let (tag, rest) = split_word(line);
    if tag.is_empty() || rest.is_empty() {
        return None;
    }
    let (status, rest) = split_word(rest);
    let (code, text) = split_code(rest);
    Some(Line::Tagged { tag, status: status.to_ascii_uppercase(), code, text })
}

/// `[CODE args] text` → (Some("CODE args"), "text").
fn split_code(rest: &str) -> (Option<&str>, &str) {
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some(end) = inner.find(']') {
            return (Some(&inner[..end]), inner[end + 1..].trim_start());
        }
    }
    (None, rest)
}

fn capabilities_in(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_owned).collect()
}

/// Capabilities carried in a response code `[CAPABILITY ...]`, if it is one.
fn code_capabilities(code: Option<&str>) -> Option<Vec<String>> {
    let code = code?;
    let (name, args) = split_word(code);
    name.eq_ignore_ascii_case("CAPABILITY").then(|| capabilities_in(args))
}

impl ImapLogin {
    pub(super) fn new(cfg: LoginConfig) -> ImapLogin {
        let mut core = Core::new(Protocol::Imap, cfg);
        core.lines = LineBuffer::with_imap_literals(core.cfg.max_line);
        let m = Imap { state: State::Greeting, caps: Vec::new(), caps_after_auth: false, next_tag: 0 };
        ImapLogin { core, m }
    }

    pub(super) fn poll(&mut self) -> Result<Action, MailAuthError> {
        self.core.poll_with(&mut self.m)
    }
}

impl Machine for Imap {
    fn on_line(&mut self, core: &mut Core, line: String) -> Result<(), MailAuthError> {
        self.line(core, &line)
    }

    fn after_tls(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        // Capabilities from before TLS must not be trusted (RFC 3501 6.2.1).
        self.caps.clear();
        self.ask_capability(core);
        Ok(())
    }
}

impl Imap {
    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("m{}", self.next_tag)
    }

    fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    fn send_command(&mut self, core: &mut Core, cmd: &str) -> String {
        let tag = self.tag();
        core.send_line(&format!("{tag} {cmd}"));
        tag
    }

    fn ask_capability(&mut self, core: &mut Core) {
        core.stage = Stage::Capabilities;
        let tag = self.send_command(core, "CAPABILITY");
        self.state = State::Capability { tag };
    }

    /// With capabilities known: STARTTLS if wanted, else authenticate.
    fn proceed(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        if core.cfg.starttls && !core.outcome.upgraded_to_tls {
            core.stage = Stage::StartTls;
            if !self.has_cap("STARTTLS") {
                return Err(core.err(
                    MailErrorKind::StartTlsUnavailable,
                    "STARTTLS was requested but the server does not offer it; no credentials were sent",
                ));
            }
            let tag = self.send_command(core, "STARTTLS");
            self.state = State::StartTls { tag };
            return Ok(());
        }
        core.stage = Stage::Auth;
        core.require_mechanism(&self.caps)?;
        let tag = self.tag();
        core.send_auth(&format!("{tag} AUTHENTICATE"), self.has_cap("SASL-IR"));
        self.state = State::Auth { tag };
        Ok(())
    }

    fn after_auth(&mut self, core: &mut Core, final_line: &str) -> Result<(), MailAuthError> {
        core.outcome.final_line = final_line.to_owned();
        if !self.caps_after_auth {
            core.stage = Stage::Auth;
            let tag = self.send_command(core, "CAPABILITY");
            self.state = State::CapabilityAfterAuth { tag };
            return Ok(());
        }
        self.after_caps_known(core)
    }

    fn after_caps_known(&mut self, core: &mut Core) -> Result<(), MailAuthError> {
        core.outcome.capabilities = self.caps.clone();
        if core.cfg.probe {
            core.stage = Stage::Probe;
            let tag = self.send_command(core, "LIST \"\" \"INBOX\"");
            self.state = State::Probe { tag };
            return Ok(());
        }
        self.state = State::Finished;
        let final_line = core.outcome.final_line.clone();
        core.finish(&final_line);
        Ok(())
    }

    fn line(&mut self, core: &mut Core, line: &str) -> Result<(), MailAuthError> {
        let Some(parsed) = parse_line(line) else {
            return Err(core.err(MailErrorKind::Protocol, "malformed IMAP response").with_server_line(line));
        };
        match parsed {
            Line::Untagged { kind, rest } => self.on_untagged(core, &kind, rest, line),
            Line::Continuation(text) => self.on_continuation(core, text, line),
            Line::Tagged { tag, status, code, text } => self.on_tagged(core, tag, &status, code, text, line),
        }
    }

    fn on_untagged(&mut self, core: &mut Core, kind: &str, rest: &str, line: &str) -> Result<(), MailAuthError> {
        match (&self.state, kind) {
            (State::Greeting, "OK") => {
                core.outcome.greeting = line.to_owned();
                let (code, _) = split_code(rest);
                match code_capabilities(code) {
                    Some(caps) => {
                        self.caps = caps;
                        self.proceed(core)
                    }
                    None => {
                        self.ask_capability(core);
                        Ok(())
                    }
                }
            }
            (State::Greeting, "PREAUTH") => {
                core.outcome.greeting = line.to_owned();
                if core.cfg.starttls {
                    // STARTTLS is impossible after PREAUTH: refuse rather than continue in clear.
                    core.stage = Stage::StartTls;
                    return Err(core
                        .err(
                            MailErrorKind::StartTlsUnavailable,
                            "the server greeted with PREAUTH, so STARTTLS cannot be negotiated; refusing to continue unencrypted",
                        )
                        .with_server_line(line));
                }
                let (code, _) = split_code(rest);
                self.caps = code_capabilities(code).unwrap_or_default();
                core.outcome.preauthenticated = true;
                self.caps_after_auth = code_capabilities(code).is_some();
                self.after_auth(core, line)
            }
            (State::Greeting, "BYE") => {
                Err(core.err(MailErrorKind::Greeting, "the server refused the connection").with_server_line(line))
            }
            (State::Greeting, _) => {
                Err(core.err(MailErrorKind::Protocol, "unexpected IMAP greeting").with_server_line(line))
            }
            (_, "BYE") => {
                let kind = if line.to_ascii_lowercase().contains("accesstokenexpired") {
                    MailErrorKind::TokenExpired
                } else {
                    MailErrorKind::Network
                };
                Err(core.server_err(kind, "the server ended the session", line))
            }
            (state, "CAPABILITY") => {
                self.caps = capabilities_in(rest);
                if matches!(state, State::Auth { .. } | State::CapabilityAfterAuth { .. }) {
                    self.caps_after_auth = true;
                }
                Ok(())
            }
            // The probe's own LIST replies are the machine's.
            (State::Probe { .. }, "LIST" | "LSUB") => Ok(()),
            // After the login, other untagged data is unsolicited (`* 3 EXISTS`, `* OK [ALERT]`):
            // it belongs to the session, which gets it first in the leftover bytes.
            (State::CapabilityAfterAuth { .. } | State::Probe { .. }, _) => {
                core.unsolicited.extend_from_slice(line.as_bytes());
                core.unsolicited.extend_from_slice(b"\r\n");
                Ok(())
            }
            // Before it (FLAGS, ... of a server that talks early), nothing is needed here.
            _ => Ok(()),
        }
    }

    fn on_continuation(&mut self, core: &mut Core, text: &str, line: &str) -> Result<(), MailAuthError> {
        if !matches!(self.state, State::Auth { .. }) {
            return Err(core.err(MailErrorKind::Protocol, "unexpected continuation request").with_server_line(line));
        }
        // The response if it was not inline, then at most one error challenge answered with
        // the mechanism's dummy reply: the exchange decides (the token is never sent twice).
        core.answer(text, line)
    }

    fn on_tagged(
        &mut self,
        core: &mut Core,
        tag: &str,
        status: &str,
        code: Option<&str>,
        text: &str,
        line: &str,
    ) -> Result<(), MailAuthError> {
        let expected = match &self.state {
            State::Capability { tag }
            | State::StartTls { tag }
            | State::Auth { tag, .. }
            | State::CapabilityAfterAuth { tag }
            | State::Probe { tag } => tag.clone(),
            State::Greeting | State::Finished => String::new(),
        };
        if tag != expected {
            return Err(core
                .err(MailErrorKind::Protocol, format!("unexpected tagged response (expected tag {expected:?})"))
                .with_server_line(line));
        }
        let ok = status == "OK";
        match self.state.clone() {
            State::Capability { .. } => {
                if !ok {
                    return Err(core.err(MailErrorKind::Protocol, "CAPABILITY failed").with_server_line(line));
                }
                if let Some(caps) = code_capabilities(code) {
                    self.caps = caps;
                }
                self.proceed(core)
            }
            State::StartTls { .. } => {
                if !ok {
                    return Err(core
                        .err(
                            MailErrorKind::StartTlsUnavailable,
                            "the server refused STARTTLS; no credentials were sent",
                        )
                        .with_server_line(line));
                }
                core.start_tls()
            }
            State::Auth { .. } => {
                if ok {
                    if let Some(caps) = code_capabilities(code) {
                        self.caps = caps;
                        self.caps_after_auth = true;
                    }
                    return self.after_auth(core, line);
                }
                let (kind, msg) = auth_failure_kind(status, code);
                let _ = text;
                Err(core.server_err(kind, msg, line))
            }
            State::CapabilityAfterAuth { .. } => {
                if ok {
                    if let Some(caps) = code_capabilities(code) {
                        self.caps = caps;
                    }
                    self.caps_after_auth = true;
                    return self.after_caps_known(core);
                }
                Err(core
                    .err(
                        MailErrorKind::NotConnected,
                        "logged in, but the server refuses commands (authenticated but not connected)",
                    )
                    .with_server_line(line))
            }
            State::Probe { .. } => {
                if ok {
                    self.state = State::Finished;
                    let final_line = core.outcome.final_line.clone();
                    core.finish(&final_line);
                    return Ok(());
                }
                Err(core
                    .err(
                        MailErrorKind::NotConnected,
                        "logged in, but the mailbox cannot be opened: the token's user has no access to this mailbox \
                         (wrong user, missing mailbox permission, or no Exchange service principal for an app-only token)",
                    )
                    .with_server_line(line))
            }
            State::Greeting | State::Finished => {
                Err(core.err(MailErrorKind::Protocol, "unexpected tagged response").with_server_line(line))
            }
        }
    }
}

/// The kind and message of a failed `AUTHENTICATE`, from the tagged status (`NO`, `BAD`) and
/// its response code (`UNAVAILABLE`, `AUTHENTICATIONFAILED`, ...).
pub(super) fn auth_failure_kind(status: &str, code: Option<&str>) -> (MailErrorKind, &'static str) {
    let code_name = code.map(|c| split_word(c).0.to_ascii_uppercase());
    match code_name.as_deref() {
        Some("UNAVAILABLE") => (MailErrorKind::Temporary, "temporary authentication failure"),
        _ if status.eq_ignore_ascii_case("BAD") => (
            MailErrorKind::Protocol,
            "the server did not accept the AUTHENTICATE command (if it advertises SASL-IR but rejects it, disable SASL-IR)",
        ),
        _ => (MailErrorKind::Rejected, "the server rejected the token"),
    }
}

/// [`auth_failure_kind`] for a whole tagged line (`a1 NO [CODE] text`; the tag may be left out).
pub(super) fn auth_failure_line(line: &str) -> (MailErrorKind, &'static str) {
    let (first, rest) = split_word(line.trim());
    let (status, rest) = if ["OK", "NO", "BAD"].iter().any(|s| first.eq_ignore_ascii_case(s)) {
        (first, rest)
    } else {
        split_word(rest)
    };
    if !["NO", "BAD"].iter().any(|s| status.eq_ignore_ascii_case(s)) {
        return (MailErrorKind::Protocol, "unexpected answer to AUTHENTICATE");
    }
    let (code, _) = split_code(rest);
    auth_failure_kind(status, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        assert_eq!(
            parse_line("m1 NO [AUTHENTICATIONFAILED] Authentication failed."),
            Some(Line::Tagged {
                tag: "m1",
                status: "NO".into(),
                code: Some("AUTHENTICATIONFAILED"),
                text: "Authentication failed."
            })
        );
        assert_eq!(parse_line("+ "), Some(Line::Continuation("")));
        assert_eq!(parse_line("+"), Some(Line::Continuation("")));
        assert_eq!(parse_line("+ abc"), Some(Line::Continuation("abc")));
        assert_eq!(parse_line("garbage"), None);
    }

    /// Drives a login with the server's `script` (each line sent when the machine waits).
    fn outcome_of(script: &[&str], probe: bool) -> crate::LoginOutcome {
        let mut cfg = crate::LoginConfig::new("a@b.c", "tok", crate::Mechanism::XOAuth2);
        cfg.probe = probe;
        let mut login = crate::Login::new(Protocol::Imap, cfg);
        let mut lines = script.iter();
        loop {
            match login.poll().expect("login") {
                Action::Done => break,
                Action::NeedInput => {
                    let line = lines.next().expect("the script ran out");
                    login.feed(format!("{line}\r\n").as_bytes());
                }
                Action::Send(_) | Action::StartTls => {}
            }
        }
        login.into_outcome().expect("outcome")
    }

    #[test]
    fn unsolicited_data_after_the_login_reaches_the_session() {
        // No capabilities in the OK: the machine asks, and new mail is announced meanwhile.
        let o = outcome_of(
            &[
                "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
                "m1 OK authenticated",
                "* 3 EXISTS\r\n* CAPABILITY IMAP4rev1 IDLE\r\n* 1 RECENT\r\nm2 OK done",
            ],
            false,
        );
        assert_eq!(o.capabilities, ["IMAP4rev1", "IDLE"]);
        assert_eq!(String::from_utf8_lossy(&o.leftover), "* 3 EXISTS\r\n* 1 RECENT\r\n");
        // The probe's own LIST reply is not handed over; unsolicited data during it is.
        let o = outcome_of(
            &[
                "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
                "m1 OK [CAPABILITY IMAP4rev1] authenticated",
                "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* 4 EXISTS\r\nm2 OK done",
            ],
            true,
        );
        assert_eq!(String::from_utf8_lossy(&o.leftover), "* 4 EXISTS\r\n");
        assert_eq!(
            code_capabilities(Some("CAPABILITY IMAP4rev1 SASL-IR")),
            Some(vec!["IMAP4rev1".into(), "SASL-IR".into()])
        );
    }
}
