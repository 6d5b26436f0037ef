//! Sans-IO login state machines for IMAP, SMTP and POP3.
//!
//! A machine is fed the bytes the server sent ([`Login::feed`]) and asked what to do next
//! ([`Login::poll`]): send bytes, read more, start TLS now, or stop because the login is done.
//! It never touches a socket, a clock or a runtime; the drivers in [`crate::net`] (or your own)
//! do the I/O and enforce time-outs.
//!
//! ```
//! use mailoauth::proto::{Action, Login, LoginConfig, Protocol};
//! use mailoauth::sasl::Mechanism;
//!
//! let cfg = LoginConfig::new("alice@example.com", "good-token-alice", Mechanism::XOAuth2);
//! let mut login = Login::new(Protocol::Imap, cfg);
//! login.feed(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n");
//! let Action::Send(bytes) = login.poll().unwrap() else { panic!() };
//! assert!(bytes.starts_with(b"m1 AUTHENTICATE XOAUTH2 dXNlcj1h"));
//! assert_eq!(login.poll().unwrap(), Action::NeedInput);
//! login.feed(b"m1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
//! assert_eq!(login.poll().unwrap(), Action::Done);
//! assert_eq!(login.outcome().unwrap().capabilities, ["IMAP4rev1", "IDLE"]);
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

mod error;
mod exchange;
mod failure;
mod front;
mod imap;
mod line;
mod pop3;
mod server;
mod smtp;

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

pub use error::{mail_hint, MailAuthError, MailErrorKind};
pub use exchange::{offered_mechanisms, SaslExchange, SaslLine, SaslStep};
pub use failure::{auth_failure, initial_response_fits};
pub use front::{Front, FrontStep, FrontTls, MAX_BAD_COMMANDS, MAX_FRONT_LINE};
pub use imap::ImapLogin;
pub use line::{LineBuffer, LineError};
pub use pop3::Pop3Login;
pub use server::{MailServer, Security};
pub use smtp::SmtpLogin;

use crate::sasl::Mechanism;
use crate::secret::AccessToken;

/// Default bound on one line from the server (64 KiB).
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Bound on one multi-line reply in total (an SMTP reply, a POP3 `CAPA` listing): 64 KiB,
/// on top of the bound on its number of lines and on each line ([`LoginConfig::max_line`]),
/// so a hostile server cannot make a login hold megabytes. Real EHLO and CAPA replies are
/// well under 2 KiB.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The overall deadline of a whole login (connect, TLS, greeting, STARTTLS, AUTH, probe) when
/// the caller sets none: the connect time-out plus twice the I/O time-out (75 s with 15 s and
/// 30 s; 9 s for 3 s and 3 s). Every driver enforces it on top of its per-step time-outs, so a
/// server that answers each read in time but never finishes (a byte a second, `* OK` every
/// second) cannot keep a login alive: the `net` driver and the Node driver of the wasm binding.
pub fn default_login_deadline(connect: Duration, io: Duration) -> Duration {
    connect.saturating_add(io.saturating_mul(2))
}

/// The mail protocol being spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// IMAP4rev1 (RFC 3501) with `AUTHENTICATE`.
    Imap,
    /// SMTP submission with `AUTH` (RFC 4954).
    Smtp,
    /// POP3 with `AUTH` (RFC 5034).
    Pop3,
}

impl Protocol {
    /// Parses `imap`, `smtp` (or `submission`), `pop3` (or `pop`), in any case.
    pub fn parse(name: &str) -> Option<Protocol> {
        Some(match name.to_ascii_lowercase().as_str() {
            "imap" => Protocol::Imap,
            "smtp" | "submission" => Protocol::Smtp,
            "pop3" | "pop" => Protocol::Pop3,
            _ => return None,
        })
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Imap => "IMAP",
            Protocol::Smtp => "SMTP",
            Protocol::Pop3 => "POP3",
        })
    }
}

/// Where in the session something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (implicit TLS or after STARTTLS).
    Tls,
    /// Reading the server's greeting.
    Greeting,
    /// Asking for capabilities (IMAP `CAPABILITY`, SMTP `EHLO`, POP3 `CAPA`).
    Capabilities,
    /// Negotiating STARTTLS / STLS.
    StartTls,
    /// The SASL exchange.
    Auth,
    /// The command sent after a successful login to check that the mailbox can be used.
    Probe,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "greeting",
            Stage::Capabilities => "capabilities",
            Stage::StartTls => "starttls",
            Stage::Auth => "auth",
            Stage::Probe => "probe",
        })
    }
}

/// Whether to send the SASL initial response with the command (IMAP `SASL-IR`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaslIr {
    /// Inline when the server advertises it (IMAP: `SASL-IR`; SMTP and POP3 always allow it)
    /// and the command fits the protocol's line limit; continuation otherwise.
    #[default]
    Auto,
    /// Always inline, even if the server does not advertise `SASL-IR`.
    Always,
    /// Never inline: always wait for the server's continuation (for servers that advertise
    /// `SASL-IR` but reject it).
    Never,
}

/// What a login machine needs to authenticate.
#[derive(Clone, Debug)]
pub struct LoginConfig {
    /// The SASL user: the mailbox address (for Exchange, a shared mailbox's address works).
    pub user: String,
    /// The bearer token.
    pub token: AccessToken,
    /// XOAUTH2 (Exchange Online, Gmail) or OAUTHBEARER (Gmail IMAP, Dovecot).
    pub mechanism: Mechanism,
    /// Upgrade the connection with STARTTLS / STLS before authenticating, and fail before any
    /// credential is sent if the server does not offer it.
    pub starttls: bool,
    /// Inline initial response policy.
    pub sasl_ir: SaslIr,
    /// IMAP only: after login, send one cheap command (`LIST "" "INBOX"`) to detect Exchange's
    /// "authenticated but not connected" state.
    pub probe: bool,
    /// Host name placed in the OAUTHBEARER `host=` field.
    pub host: Option<String>,
    /// Port placed in the OAUTHBEARER `port=` field.
    pub port: Option<u16>,
    /// SMTP only: the name sent with `EHLO`.
    pub client_name: String,
    /// Maximum length of one server line (bytes).
    pub max_line: usize,
}

impl LoginConfig {
    /// A configuration with defaults: no STARTTLS, SASL-IR auto, no probe, `EHLO localhost`,
    /// 64 KiB line bound.
    pub fn new(user: impl Into<String>, token: impl Into<AccessToken>, mechanism: Mechanism) -> Self {
        LoginConfig {
            user: user.into(),
            token: token.into(),
            mechanism,
            starttls: false,
            sasl_ir: SaslIr::Auto,
            probe: false,
            host: None,
            port: None,
            client_name: "localhost".to_owned(),
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// What the driver must do next.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the server (they may contain the token: never log them).
    Send(Vec<u8>),
    /// Read more bytes from the server and [`Login::feed`] them.
    NeedInput,
    /// Perform the TLS handshake on the connection now, then call [`Login::tls_established`].
    /// Discard nothing: the machine has checked that the server sent nothing after its
    /// go-ahead (a STARTTLS injection attempt is an error).
    StartTls,
    /// The login succeeded; see [`Login::outcome`].
    Done,
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Send(b) => write!(f, "Send({} bytes)", b.len()),
            Action::NeedInput => f.write_str("NeedInput"),
            Action::StartTls => f.write_str("StartTls"),
            Action::Done => f.write_str("Done"),
        }
    }
}

/// The result of a successful login.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LoginOutcome {
    /// The server's greeting line.
    pub greeting: String,
    /// Capabilities seen after login (IMAP capabilities, SMTP EHLO keywords, POP3 CAPA lines).
    pub capabilities: Vec<String>,
    /// The server's final line of the authentication exchange.
    pub final_line: String,
    /// IMAP only: the server greeted with `PREAUTH`, so no SASL exchange took place.
    pub preauthenticated: bool,
    /// Whether the connection was upgraded with STARTTLS / STLS.
    pub upgraded_to_tls: bool,
    /// Bytes the server sent after the final line; hand them to whatever continues the session.
    pub leftover: Vec<u8>,
}

/// A login state machine for one of the three protocols.
#[derive(Debug)]
pub enum Login {
    /// IMAP.
    Imap(ImapLogin),
    /// SMTP.
    Smtp(SmtpLogin),
    /// POP3.
    Pop3(Pop3Login),
}

impl Login {
    /// A new machine for `protocol`. It waits for the server's greeting first.
    pub fn new(protocol: Protocol, config: LoginConfig) -> Login {
        match protocol {
            Protocol::Imap => Login::Imap(ImapLogin::new(config)),
            Protocol::Smtp => Login::Smtp(SmtpLogin::new(config)),
            Protocol::Pop3 => Login::Pop3(Pop3Login::new(config)),
        }
    }

    /// The protocol of this machine.
    pub fn protocol(&self) -> Protocol {
        match self {
            Login::Imap(_) => Protocol::Imap,
            Login::Smtp(_) => Protocol::Smtp,
            Login::Pop3(_) => Protocol::Pop3,
        }
    }

    /// Hands bytes read from the server to the machine.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            Login::Imap(m) => m.core.lines.push(bytes),
            Login::Smtp(m) => m.core.lines.push(bytes),
            Login::Pop3(m) => m.core.lines.push(bytes),
        }
    }

    /// What to do next. After an error, every further call returns the same error.
    pub fn poll(&mut self) -> Result<Action, MailAuthError> {
        match self {
            Login::Imap(m) => m.poll(),
            Login::Smtp(m) => m.poll(),
            Login::Pop3(m) => m.poll(),
        }
    }

    /// Tells the machine that the TLS handshake requested by [`Action::StartTls`] succeeded.
    pub fn tls_established(&mut self) {
        match self {
            Login::Imap(m) => m.core.tls_established(),
            Login::Smtp(m) => m.core.tls_established(),
            Login::Pop3(m) => m.core.tls_established(),
        }
    }

    /// The stage the machine is in (used to label I/O errors and time-outs).
    pub fn stage(&self) -> Stage {
        match self {
            Login::Imap(m) => m.core.stage,
            Login::Smtp(m) => m.core.stage,
            Login::Pop3(m) => m.core.stage,
        }
    }

    /// The outcome, once [`Action::Done`] was returned.
    pub fn outcome(&self) -> Option<&LoginOutcome> {
        let core = match self {
            Login::Imap(m) => &m.core,
            Login::Smtp(m) => &m.core,
            Login::Pop3(m) => &m.core,
        };
        core.done.then_some(&core.outcome)
    }

    /// Takes the outcome (with the leftover bytes) once [`Action::Done`] was returned.
    pub fn into_outcome(mut self) -> Option<LoginOutcome> {
        self.take_outcome()
    }

    /// Takes the outcome with the leftover bytes (what the server sent after the login's final
    /// line, e.g. `* 3 EXISTS` with the `OK`) once [`Action::Done`] was returned; for drivers
    /// that keep the machine (a JS object). A second call returns an empty outcome.
    pub fn take_outcome(&mut self) -> Option<LoginOutcome> {
        let core = match self {
            Login::Imap(m) => &mut m.core,
            Login::Smtp(m) => &mut m.core,
            Login::Pop3(m) => &mut m.core,
        };
        if !core.done {
            return None;
        }
        let mut leftover = core::mem::take(&mut core.unsolicited);
        leftover.extend(core.lines.take_rest());
        core.outcome.leftover = leftover;
        Some(core::mem::take(&mut core.outcome))
    }
}

/// State shared by the three machines.
#[derive(Debug)]
struct Core {
    protocol: Protocol,
    cfg: LoginConfig,
    lines: LineBuffer,
    out: alloc::collections::VecDeque<Action>,
    stage: Stage,
    awaiting_tls: bool,
    done: bool,
    failed: Option<MailAuthError>,
    outcome: LoginOutcome,
    sasl: SaslExchange,
    /// Unsolicited server data that arrived during the machine's own post-login commands
    /// (IMAP `* 3 EXISTS` while it asks for `CAPABILITY`): the session's, handed over first.
    unsolicited: Vec<u8>,
}

impl Core {
    fn new(protocol: Protocol, cfg: LoginConfig) -> Core {
        let max = cfg.max_line;
        let sasl = SaslExchange::new(
            protocol,
            cfg.mechanism,
            &cfg.user,
            cfg.token.expose_secret(),
            cfg.host.as_deref(),
            cfg.port,
        );
        Core {
            protocol,
            cfg,
            lines: LineBuffer::new(max),
            out: Default::default(),
            stage: Stage::Greeting,
            awaiting_tls: false,
            done: false,
            failed: None,
            outcome: LoginOutcome::default(),
            sasl,
            unsolicited: Vec::new(),
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.out.push_back(Action::Send(bytes));
    }

    fn send_line(&mut self, line: &str) {
        let mut v = Vec::with_capacity(line.len() + 2);
        v.extend_from_slice(line.as_bytes());
        v.extend_from_slice(b"\r\n");
        self.send(v);
    }

    fn send_secret_line(&mut self, line: SaslLine) {
        let mut v = line.into_secret().into_bytes();
        v.extend_from_slice(b"\r\n");
        self.send(v);
    }

    /// Fails (before anything secret is sent) unless `offered` contains the mechanism.
    /// `what` names where servers list mechanisms (`AUTH=`, `AUTH`, `SASL`).
    /// Fails before anything secret is sent unless the server offers the mechanism.
    fn require_mechanism(&self, capabilities: &[String]) -> Result<(), MailAuthError> {
        self.sasl.require_offered(capabilities).map_err(|mut e| {
            e.stage = self.stage;
            e
        })
    }

    /// Starts the SASL exchange with `command` (`AUTH`, `<tag> AUTHENTICATE`); `ir_allowed`:
    /// the server allows an inline initial response. Returns whether it went inline.
    fn send_auth(&mut self, command: &str, ir_allowed: bool) -> bool {
        let inline = self.sasl.inline(self.cfg.sasl_ir, ir_allowed);
        let line = self.sasl.start(command, inline);
        self.send_secret_line(line);
        inline
    }

    /// Answers a server continuation (`payload` after `+ ` / `334 `) through the exchange.
    fn answer(&mut self, payload: &str, line: &str) -> Result<(), MailAuthError> {
        let reply = self.sasl.answer(payload).map_err(|e| e.with_server_line(line))?;
        self.send_secret_line(reply);
        Ok(())
    }

    fn err(&self, kind: MailErrorKind, message: impl Into<String>) -> MailAuthError {
        MailAuthError::new(self.protocol, self.stage, kind, message)
    }

    fn server_err(&self, kind: MailErrorKind, message: impl Into<String>, line: &str) -> MailAuthError {
        let mut e = self.err(kind, message).with_server_line(line);
        e.challenge = self.sasl.challenge_box();
        e
    }

    /// Request the TLS upgrade, refusing if the server already sent bytes past its go-ahead.
    fn start_tls(&mut self) -> Result<(), MailAuthError> {
        if !self.lines.is_empty() {
            return Err(self.err(
                MailErrorKind::Protocol,
                "the server sent data after its STARTTLS go-ahead (possible injection); refusing to continue",
            ));
        }
        self.awaiting_tls = true;
        self.stage = Stage::Tls;
        self.out.push_back(Action::StartTls);
        Ok(())
    }

    fn tls_established(&mut self) {
        if self.awaiting_tls {
            self.awaiting_tls = false;
            self.outcome.upgraded_to_tls = true;
        }
    }

    fn finish(&mut self, final_line: &str) {
        self.outcome.final_line = final_line.to_owned();
        self.done = true;
        self.out.push_back(Action::Done);
    }

    /// The common poll loop: pending actions first, then one line at a time.
    fn poll_with(&mut self, m: &mut impl Machine) -> Result<Action, MailAuthError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = (|| loop {
            if let Some(a) = self.out.front() {
                if *a == Action::StartTls && !self.awaiting_tls {
                    // TLS is up: continue with the protocol's post-TLS step.
                    self.out.pop_front();
                    m.after_tls(self)?;
                    continue;
                }
                if *a == Action::StartTls {
                    return Ok(Action::StartTls);
                }
                if let Some(a) = self.out.pop_front() {
                    return Ok(a);
                }
            }
            if self.done {
                return Ok(Action::Done);
            }
            match self.lines.next_line() {
                Ok(Some(line)) => m.on_line(self, line)?,
                Ok(None) => return Ok(Action::NeedInput),
                Err(e) => {
                    return Err(self.err(MailErrorKind::Protocol, e.to_string()));
                }
            }
        })();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }
}

/// The protocol-specific half of a machine, driven by [`Core::poll_with`].
trait Machine {
    /// Handles one complete server line.
    fn on_line(&mut self, core: &mut Core, line: String) -> Result<(), MailAuthError>;
    /// Continues after the STARTTLS handshake.
    fn after_tls(&mut self, core: &mut Core) -> Result<(), MailAuthError>;
}

/// Splits `s` at the first space: (`first`, `rest`).
fn split_word(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// Truncates a server line for error messages (servers can send long lines).
fn shorten(line: &str) -> String {
    const MAX: usize = 300;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod protocol_tests {
    use super::Protocol;

    #[test]
    fn protocol_names() {
        assert_eq!(Protocol::parse("IMAP"), Some(Protocol::Imap));
        assert_eq!(Protocol::parse("submission"), Some(Protocol::Smtp));
        assert_eq!(Protocol::parse("pop"), Some(Protocol::Pop3));
        assert_eq!(Protocol::parse("nntp"), None);
    }
}
