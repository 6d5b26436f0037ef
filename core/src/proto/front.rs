//! The client-facing side of a local proxy, sans-IO: the part of an IMAP, POP3 or SMTP server
//! that runs before the login. A mail client that only knows passwords logs in here with a
//! local password (IMAP `LOGIN` and `AUTHENTICATE PLAIN`, POP3 `USER`/`PASS` and
//! `AUTH PLAIN`, SMTP `AUTH PLAIN` and `AUTH LOGIN`); the host checks the password, logs in
//! upstream with OAuth through the [`super::Login`] machines, answers with
//! [`Front::accepted`] or [`Front::refused`], and from then on relays bytes both ways.
//!
//! Local TLS ([`FrontTls`]): with STARTTLS the front offers it (IMAP `STARTTLS`, POP3 `STLS`,
//! SMTP `STARTTLS`), refuses any login before it, and answers a STARTTLS command followed by
//! pipelined bytes by closing the connection (bytes sent in the clear before the handshake could
//! have been injected: CVE-2011-0411); the host does the handshake when told
//! ([`FrontStep::StartTls`]) and calls [`Front::tls_started`].
//!
//! Bounded: a command line is at most [`MAX_FRONT_LINE`] bytes (an IMAP literal in `LOGIN`
//! counts), and after [`MAX_BAD_COMMANDS`] refused commands the connection is closed. Nothing
//! the client sends before its login reaches the upstream server.

#[allow(unused_imports)]
use crate::prelude::*;

use super::line::LineBuffer;
use super::Protocol;
use crate::secret::Password;

/// The longest command line (or `LOGIN` literal) accepted before the login.
pub const MAX_FRONT_LINE: usize = 8 * 1024;

/// Refused or unknown commands before the connection is closed.
pub const MAX_BAD_COMMANDS: u32 = 8;

/// The local TLS of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrontTls {
    /// No TLS (a loopback listener): logins in the clear.
    #[default]
    None,
    /// STARTTLS offered, and required before any login.
    StartTls,
    /// TLS from the first byte: the host did the handshake before the greeting.
    Implicit,
}

/// What the host does next.
#[derive(Debug, PartialEq, Eq)]
pub enum FrontStep {
    /// Send these bytes to the client, then call [`Front::step`] again.
    Reply(Vec<u8>),
    /// More bytes from the client are needed ([`Front::feed`]).
    NeedInput,
    /// The client logged in with this user name and local password: check them, log in
    /// upstream, then answer with [`Front::accepted`] or [`Front::refused`].
    Login {
        /// The user name as the client sent it.
        user: String,
        /// The local password (secret).
        password: Password,
    },
    /// Send these bytes and close the connection.
    Close(Vec<u8>),
    /// Send these bytes (the go-ahead to STARTTLS), then do the TLS handshake as the server,
    /// then call [`Front::tls_started`] and [`Front::step`] again. Nothing was pipelined after
    /// the command (the front closes the connection if something was).
    StartTls(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Commands,
    /// IMAP `LOGIN` waiting for a literal: the line so far and the literal's length.
    ImapLiteral {
        line: Vec<u8>,
        size: usize,
    },
    /// A SASL exchange waiting for the client's next line.
    Sasl {
        tag: String,
        mechanism: Sasl,
    },
    /// POP3 after `USER`.
    Pop3User(String),
    /// Waiting for the host's verdict on a login.
    Verdict {
        tag: String,
    },
    /// Logged in: the host relays.
    Relaying,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sasl {
    Plain,
    LoginUser,
    LoginPassword(String),
}

/// The pre-login server side of one client connection.
#[derive(Debug)]
pub struct Front {
    protocol: Protocol,
    name: String,
    lines: LineBuffer,
    state: State,
    bad: u32,
    tls: FrontTls,
    secure: bool,
}

fn b64(s: &str) -> String {
    crate::base64::encode(s)
}

/// `AUTHENTICATE PLAIN` / `AUTH PLAIN` message: `[authzid] NUL authcid NUL password`.
fn decode_plain(line: &str) -> Option<(String, Password)> {
    let raw = crate::base64::decode(line.trim())?;
    let mut parts = raw.split(|b| *b == 0);
    let (authz, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let user = if user.is_empty() { authz } else { user };
    Some((String::from_utf8(user.to_vec()).ok()?, Password::new(String::from_utf8(password.to_vec()).ok()?)))
}

fn decode_text(line: &str) -> Option<String> {
    let raw = crate::base64::decode(line.trim())?;
    String::from_utf8(raw).ok()
}

/// A reason shown to the client: made safe, one line, no brackets (IMAP response codes).
fn one_line(reason: &str) -> String {
    crate::text::safe_text(reason)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(400)
        .collect::<String>()
        .replace(['[', ']'], "")
}

/// Reads IMAP `astring`s (atoms and quoted strings) from `s`.
fn imap_strings(mut s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(' ');
        if s.is_empty() {
            return Some(out);
        }
        if let Some(rest) = s.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => value.push(chars.next()?.1),
                    (_, c) => value.push(c),
                }
            };
            out.push(value);
            s = &rest[end + 1..];
        } else {
            let end = s.find(' ').unwrap_or(s.len());
            out.push(s[..end].to_owned());
            s = &s[end..];
        }
    }
}

impl Front {
    /// The front of a `protocol` listener calling itself `name` in its greetings.
    pub fn new(protocol: Protocol, name: &str) -> Front {
        let name: String =
            name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(64).collect();
        Front {
            protocol,
            name,
            lines: LineBuffer::new(MAX_FRONT_LINE),
            state: State::Commands,
            bad: 0,
            tls: FrontTls::None,
            secure: false,
        }
    }

    /// The same front with local TLS: STARTTLS offered (and required before a login), or the
    /// connection already in TLS.
    pub fn with_tls(mut self, tls: FrontTls) -> Front {
        self.tls = tls;
        self.secure = tls == FrontTls::Implicit;
        self
    }

    /// The host finished the TLS handshake after [`FrontStep::StartTls`]: logins are allowed
    /// now, and the client starts over (SMTP: with a new `EHLO`).
    pub fn tls_started(&mut self) {
        self.secure = true;
        self.state = State::Commands;
    }

    /// Whether the connection is encrypted (implicit TLS, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// STARTTLS is offered and not done yet: no login before it.
    fn needs_tls(&self) -> bool {
        self.tls == FrontTls::StartTls && !self.secure
    }

    fn imap_capabilities(&self) -> &'static str {
        if self.needs_tls() {
            "IMAP4rev1 STARTTLS LOGINDISABLED"
        } else {
            "IMAP4rev1 AUTH=PLAIN"
        }
    }

    /// A STARTTLS command was read: go ahead, unless bytes follow it already.
    fn start_tls(&mut self, go_ahead: String) -> FrontStep {
        if !self.needs_tls() {
            let no = match self.protocol {
                Protocol::Imap => {
                    go_ahead.split(' ').next().unwrap_or("").to_owned() + " BAD STARTTLS is not offered here\r\n"
                }
                Protocol::Pop3 => "-ERR STLS is not offered here\r\n".to_owned(),
                Protocol::Smtp => "454 4.7.0 TLS not available\r\n".to_owned(),
            };
            return self.bad(no);
        }
        if !self.lines.is_empty() {
            self.state = State::Closed;
            let bye: &[u8] = match self.protocol {
                Protocol::Imap => b"* BYE bytes after STARTTLS, before the TLS handshake: refused\r\n",
                Protocol::Pop3 => b"-ERR bytes after STLS, before the TLS handshake: refused\r\n",
                Protocol::Smtp => b"421 4.7.0 bytes after STARTTLS, before the TLS handshake: refused\r\n",
            };
            return FrontStep::Close(bye.to_vec());
        }
        self.state = State::Commands;
        FrontStep::StartTls(go_ahead.into_bytes())
    }

    /// What a listener that holds too many sessions says before closing a new connection.
    pub fn busy(protocol: Protocol) -> &'static [u8] {
        match protocol {
            Protocol::Imap => b"* BYE too many sessions\r\n",
            Protocol::Pop3 => b"-ERR [SYS/TEMP] too many sessions\r\n",
            Protocol::Smtp => b"421 4.3.2 too many sessions\r\n",
        }
    }

    /// The greeting to send first.
    pub fn greeting(&self) -> Vec<u8> {
        match self.protocol {
            Protocol::Imap => {
                format!("* OK [CAPABILITY {}] mailoauth proxy ready\r\n", self.imap_capabilities()).into_bytes()
            }
            Protocol::Pop3 => b"+OK mailoauth proxy ready\r\n".to_vec(),
            Protocol::Smtp => format!("220 {} ESMTP mailoauth proxy ready\r\n", self.name).into_bytes(),
        }
    }

    /// Bytes from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.push(bytes);
    }

    /// Whether the login succeeded and the host should relay.
    pub fn is_relaying(&self) -> bool {
        self.state == State::Relaying
    }

    /// After the login: the client's bytes already read past its login command (pipelined
    /// commands), to be sent upstream first.
    pub fn take_leftover(&mut self) -> Vec<u8> {
        self.lines.take_rest()
    }

    /// The next thing to do.
    pub fn step(&mut self) -> FrontStep {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::Closed => FrontStep::Close(Vec::new()),
            s @ (State::Relaying | State::Verdict { .. }) => {
                self.state = s;
                FrontStep::NeedInput
            }
            State::ImapLiteral { mut line, size } => match self.lines.take_exact(size) {
                None => {
                    self.state = State::ImapLiteral { line, size };
                    FrontStep::NeedInput
                }
                Some(bytes) => {
                    // The literal, quoted, then the rest of the command line.
                    let text = String::from_utf8_lossy(&bytes).replace('\\', "\\\\").replace('"', "\\\"");
                    line.extend_from_slice(format!("\"{text}\"").as_bytes());
                    match self.lines.next_line_bytes() {
                        Ok(Some(rest)) => {
                            line.extend_from_slice(&rest);
                            self.command(String::from_utf8_lossy(&line).into_owned())
                        }
                        Ok(None) => {
                            // Put the joined part back: wait for the end of the line.
                            let mut again = line;
                            again.extend_from_slice(&self.lines.take_rest());
                            self.lines.push(&again);
                            self.state = State::Commands;
                            FrontStep::NeedInput
                        }
                        Err(_) => self.too_long(),
                    }
                }
            },
            state => match self.lines.next_line() {
                Ok(None) => {
                    self.state = state;
                    FrontStep::NeedInput
                }
                Err(_) => self.too_long(),
                Ok(Some(line)) => match state {
                    State::Sasl { tag, mechanism } => self.sasl_line(tag, mechanism, &line),
                    State::Pop3User(user) => self.pop3_after_user(user, &line),
                    _ => self.command(line),
                },
            },
        }
    }

    /// The upstream login succeeded: the reply to send before relaying. `capabilities` are the
    /// server's after its login (IMAP), shown without those the proxy cannot honour.
    pub fn accepted(&mut self, capabilities: &[String]) -> Vec<u8> {
        let tag = match core::mem::replace(&mut self.state, State::Relaying) {
            State::Verdict { tag } => tag,
            _ => String::new(),
        };
        match self.protocol {
            Protocol::Imap => {
                let caps: Vec<&str> = capabilities
                    .iter()
                    .map(String::as_str)
                    .filter(|c| {
                        let u = c.to_ascii_uppercase();
                        !(u.starts_with("AUTH=") || u == "STARTTLS" || u == "LOGINDISABLED" || u == "SASL-IR")
                    })
                    .filter(|c| c.bytes().all(|b| b.is_ascii_graphic() && b != b']'))
                    .collect();
                if caps.is_empty() {
                    format!("{tag} OK Logged in\r\n").into_bytes()
                } else {
                    format!("{tag} OK [CAPABILITY {}] Logged in\r\n", caps.join(" ")).into_bytes()
                }
            }
            Protocol::Pop3 => b"+OK Logged in\r\n".to_vec(),
            Protocol::Smtp => b"235 2.7.0 Authentication successful\r\n".to_vec(),
        }
    }

    /// The login was refused (wrong local password, or the upstream login failed): the reply,
    /// carrying `reason` (made safe, one line). The client may try again.
    pub fn refused(&mut self, reason: &str) -> Vec<u8> {
        self.refusal(["NO [AUTHENTICATIONFAILED]", "-ERR [AUTH]", "535 5.7.8"], reason)
    }

    /// The upstream side failed for a reason that may pass (server down, time-out): like
    /// [`Front::refused`], but the reply says "try later" (IMAP `NO [UNAVAILABLE]`, POP3
    /// `-ERR [SYS/TEMP]`, SMTP `454`), so clients do not take it for a wrong password.
    pub fn unavailable(&mut self, reason: &str) -> Vec<u8> {
        self.refusal(["NO [UNAVAILABLE]", "-ERR [SYS/TEMP]", "454 4.7.0"], reason)
    }

    /// A refused login's reply (`heads`: IMAP after the tag, POP3, SMTP); the client may retry.
    fn refusal(&mut self, heads: [&str; 3], reason: &str) -> Vec<u8> {
        let tag = match core::mem::replace(&mut self.state, State::Commands) {
            State::Verdict { tag } => tag,
            _ => String::new(),
        };
        let reason = one_line(reason);
        self.bad += 1;
        let [imap, pop3, smtp] = heads;
        match self.protocol {
            Protocol::Imap => format!("{tag} {imap} {reason}\r\n").into_bytes(),
            Protocol::Pop3 => format!("{pop3} {reason}\r\n").into_bytes(),
            Protocol::Smtp => format!("{smtp} {reason}\r\n").into_bytes(),
        }
    }

    /// The client said nothing (or not enough) in time: the last words before the host closes.
    pub fn timed_out(&mut self) -> Vec<u8> {
        self.state = State::Closed;
        match self.protocol {
            Protocol::Imap => b"* BYE no login in time\r\n".to_vec(),
            Protocol::Pop3 => b"-ERR no login in time\r\n".to_vec(),
            Protocol::Smtp => b"421 4.4.2 no login in time\r\n".to_vec(),
        }
    }

    fn too_long(&mut self) -> FrontStep {
        let msg: &[u8] = match self.protocol {
            Protocol::Imap => b"* BYE command line too long\r\n",
            Protocol::Pop3 => b"-ERR command line too long\r\n",
            Protocol::Smtp => b"500 5.5.2 command line too long\r\n",
        };
        FrontStep::Close(msg.to_vec())
    }

    fn login(&mut self, tag: String, user: String, password: Password) -> FrontStep {
        self.state = State::Verdict { tag };
        FrontStep::Login { user, password }
    }

    /// A refused or unknown command: the reply, or the close after too many.
    fn bad(&mut self, reply: String) -> FrontStep {
        self.state = State::Commands;
        self.bad += 1;
        if self.bad >= MAX_BAD_COMMANDS {
            let bye: &str = match self.protocol {
                Protocol::Imap => "* BYE too many bad commands\r\n",
                Protocol::Pop3 => "-ERR too many bad commands\r\n",
                Protocol::Smtp => "421 4.7.0 too many bad commands\r\n",
            };
            return FrontStep::Close(format!("{reply}{bye}").into_bytes());
        }
        FrontStep::Reply(reply.into_bytes())
    }

    fn reply(&mut self, text: impl Into<String>) -> FrontStep {
        self.state = State::Commands;
        FrontStep::Reply(text.into().into_bytes())
    }

    fn command(&mut self, line: String) -> FrontStep {
        match self.protocol {
            Protocol::Imap => self.imap(line),
            Protocol::Pop3 => self.pop3(line),
            Protocol::Smtp => self.smtp(line),
        }
    }

    fn imap(&mut self, line: String) -> FrontStep {
        let (tag, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let tag: String = tag.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '*' | '+')).take(64).collect();
        if tag.is_empty() {
            return self.bad("* BAD missing tag\r\n".to_owned());
        }
        let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
        match verb.to_ascii_uppercase().as_str() {
            "CAPABILITY" => {
                let caps = self.imap_capabilities();
                self.reply(format!("* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n"))
            }
            "LOGIN" | "AUTHENTICATE" if self.needs_tls() => {
                self.bad(format!("{tag} NO [PRIVACYREQUIRED] STARTTLS first\r\n"))
            }
            "NOOP" => self.reply(format!("{tag} OK NOOP completed\r\n")),
            "ID" => self.reply(format!("* ID NIL\r\n{tag} OK ID completed\r\n")),
            "LOGOUT" => {
                self.state = State::Closed;
                FrontStep::Close(format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").into_bytes())
            }
            "LOGIN" => {
                // A literal `{n}` / `{n+}` at the end: the value follows the line.
                if let Some(open) = args.rfind('{').filter(|_| args.ends_with('}')) {
                    let spec = &args[open + 1..args.len() - 1];
                    let (digits, plus) = spec.strip_suffix('+').map_or((spec, false), |d| (d, true));
                    let Some(size) = digits.parse::<usize>().ok().filter(|n| *n <= MAX_FRONT_LINE) else {
                        return self.bad(format!("{tag} BAD literal too large\r\n"));
                    };
                    self.state =
                        State::ImapLiteral { line: format!("{tag} LOGIN {}", &args[..open]).into_bytes(), size };
                    return if plus { FrontStep::Reply(Vec::new()) } else { FrontStep::Reply(b"+ Ready\r\n".to_vec()) };
                }
                match imap_strings(args).as_deref() {
                    Some([user, password]) => {
                        let (user, password) = (user.clone(), Password::new(password.clone()));
                        self.login(tag, user, password)
                    }
                    _ => self.bad(format!("{tag} BAD LOGIN takes a user name and a password\r\n")),
                }
            }
            "AUTHENTICATE" => {
                let mut words = args.split(' ');
                if !words.next().is_some_and(|m| m.eq_ignore_ascii_case("PLAIN")) {
                    return self.bad(format!("{tag} NO [CANNOT] only AUTHENTICATE PLAIN is offered\r\n"));
                }
                match words.next() {
                    Some(ir) => self.sasl_line(tag, Sasl::Plain, ir),
                    None => {
                        self.state = State::Sasl { tag, mechanism: Sasl::Plain };
                        FrontStep::Reply(b"+ \r\n".to_vec())
                    }
                }
            }
            "STARTTLS" => self.start_tls(format!("{tag} OK Begin TLS negotiation now\r\n")),
            _ => self.bad(format!("{tag} BAD log in first (LOGIN or AUTHENTICATE PLAIN)\r\n")),
        }
    }

    fn pop3(&mut self, line: String) -> FrontStep {
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "CAPA" if self.needs_tls() => self.reply("+OK\r\nSTLS\r\n.\r\n"),
            "CAPA" => self.reply("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
            "STLS" => self.start_tls("+OK Begin TLS negotiation\r\n".to_owned()),
            "USER" | "AUTH" | "APOP" if self.needs_tls() => self.bad("-ERR [AUTH] STLS first\r\n".to_owned()),
            "NOOP" => self.reply("+OK\r\n"),
            "QUIT" => {
                self.state = State::Closed;
                FrontStep::Close(b"+OK bye\r\n".to_vec())
            }
            "USER" if !arg.is_empty() => {
                self.state = State::Pop3User(arg.to_owned());
                FrontStep::Reply(b"+OK\r\n".to_vec())
            }
            "AUTH" if arg.is_empty() => self.reply("+OK\r\nPLAIN\r\n.\r\n"),
            "AUTH" => {
                let mut words = arg.split(' ');
                if !words.next().is_some_and(|m| m.eq_ignore_ascii_case("PLAIN")) {
                    return self.bad("-ERR only AUTH PLAIN is offered\r\n".to_owned());
                }
                match words.next() {
                    Some(ir) => self.sasl_line(String::new(), Sasl::Plain, ir),
                    None => {
                        self.state = State::Sasl { tag: String::new(), mechanism: Sasl::Plain };
                        FrontStep::Reply(b"+ \r\n".to_vec())
                    }
                }
            }
            _ => self.bad("-ERR log in first (USER/PASS or AUTH PLAIN)\r\n".to_owned()),
        }
    }

    fn pop3_after_user(&mut self, user: String, line: &str) -> FrontStep {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        if verb.eq_ignore_ascii_case("PASS") {
            return self.login(String::new(), user, Password::new(arg.to_owned()));
        }
        self.command(line.to_owned())
    }

    fn smtp(&mut self, line: String) -> FrontStep {
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let name = self.name.clone();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" if self.needs_tls() => {
                self.reply(format!("250-{name}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n"))
            }
            "EHLO" => self.reply(format!("250-{name}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n")),
            "AUTH" if self.needs_tls() => self.bad("530 5.7.0 Must issue a STARTTLS command first\r\n".to_owned()),
            "HELO" => self.reply(format!("250 {name}\r\n")),
            "NOOP" => self.reply("250 2.0.0 OK\r\n"),
            "RSET" => self.reply("250 2.0.0 OK\r\n"),
            "QUIT" => {
                self.state = State::Closed;
                FrontStep::Close(b"221 2.0.0 bye\r\n".to_vec())
            }
            "AUTH" => {
                let mut words = arg.split(' ');
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let ir = words.next();
                match (mechanism.as_str(), ir) {
                    ("PLAIN", Some(ir)) => self.sasl_line(String::new(), Sasl::Plain, ir),
                    ("PLAIN", None) => {
                        self.state = State::Sasl { tag: String::new(), mechanism: Sasl::Plain };
                        FrontStep::Reply(b"334 \r\n".to_vec())
                    }
                    ("LOGIN", Some(ir)) => self.sasl_line(String::new(), Sasl::LoginUser, ir),
                    ("LOGIN", None) => {
                        self.state = State::Sasl { tag: String::new(), mechanism: Sasl::LoginUser };
                        FrontStep::Reply(format!("334 {}\r\n", b64("Username:")).into_bytes())
                    }
                    _ => self.bad("504 5.5.4 only AUTH PLAIN and AUTH LOGIN are offered\r\n".to_owned()),
                }
            }
            "STARTTLS" => self.start_tls("220 2.0.0 Ready to start TLS\r\n".to_owned()),
            "MAIL" | "RCPT" | "DATA" | "BDAT" => self.bad("530 5.7.0 Authentication required\r\n".to_owned()),
            _ => self.bad("502 5.5.1 log in first (AUTH PLAIN or AUTH LOGIN)\r\n".to_owned()),
        }
    }

    fn sasl_line(&mut self, tag: String, mechanism: Sasl, line: &str) -> FrontStep {
        let line = line.trim();
        let failed = |p: Protocol, tag: &str, why: &str| match p {
            Protocol::Imap => format!("{tag} BAD {why}\r\n"),
            Protocol::Pop3 => format!("-ERR {why}\r\n"),
            Protocol::Smtp => format!("501 5.5.2 {why}\r\n"),
        };
        if line == "*" {
            return self.bad(failed(self.protocol, &tag, "authentication cancelled"));
        }
        match mechanism {
            Sasl::Plain => match decode_plain(line) {
                Some((user, password)) => self.login(tag, user, password),
                None => self.bad(failed(self.protocol, &tag, "malformed PLAIN response")),
            },
            Sasl::LoginUser => match decode_text(line) {
                Some(user) => {
                    self.state = State::Sasl { tag, mechanism: Sasl::LoginPassword(user) };
                    FrontStep::Reply(format!("334 {}\r\n", b64("Password:")).into_bytes())
                }
                None => self.bad(failed(self.protocol, &tag, "malformed LOGIN response")),
            },
            Sasl::LoginPassword(user) => match decode_text(line) {
                Some(password) => self.login(tag, user, Password::new(password)),
                None => self.bad(failed(self.protocol, &tag, "malformed LOGIN response")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(front: &mut Front, input: &str) -> Vec<FrontStep> {
        front.feed(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match front.step() {
                FrontStep::NeedInput => return out,
                step @ (FrontStep::Login { .. } | FrontStep::Close(_) | FrontStep::StartTls(_)) => {
                    out.push(step);
                    return out;
                }
                step => out.push(step),
            }
        }
    }

    fn text(step: &FrontStep) -> String {
        match step {
            FrontStep::Reply(b) | FrontStep::Close(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }

    fn login_of(step: &FrontStep) -> (String, String) {
        match step {
            FrontStep::Login { user, password } => (user.clone(), password.expose_secret().to_owned()),
            other => panic!("not a login: {other:?}"),
        }
    }

    #[test]
    fn imap_login_quoted_literal_and_authenticate_plain() {
        let mut f = Front::new(Protocol::Imap, "proxy");
        let steps = run(&mut f, "a1 CAPABILITY\r\na2 LOGIN alice@example.com \"p a\\\"ss\"\r\n");
        assert!(text(&steps[0]).contains("AUTH=PLAIN"), "{}", text(&steps[0]));
        assert_eq!(login_of(&steps[1]), ("alice@example.com".into(), "p a\"ss".into()));
        assert_eq!(
            f.accepted(&["IMAP4rev1".into(), "IDLE".into(), "AUTH=XOAUTH2".into()]),
            b"a2 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
        );
        assert!(f.is_relaying());

        let mut f = Front::new(Protocol::Imap, "proxy");
        let steps = run(&mut f, "a LOGIN bob {4}\r\n");
        assert_eq!(text(&steps[0]), "+ Ready\r\n");
        let steps = run(&mut f, "s3cr\r\n");
        assert_eq!(login_of(&steps[0]), ("bob".into(), "s3cr".into()));
        assert_eq!(f.refused("wrong password"), b"a NO [AUTHENTICATIONFAILED] wrong password\r\n");

        let mut f = Front::new(Protocol::Imap, "proxy");
        let ir = b64("\0carol\0pw");
        let steps = run(&mut f, &format!("t AUTHENTICATE PLAIN\r\n{ir}\r\nt2 NOOP\r\n"));
        assert_eq!(text(&steps[0]), "+ \r\n");
        assert_eq!(login_of(&steps[1]), ("carol".into(), "pw".into()));
        f.accepted(&[]);
        // A pipelined command after the login goes upstream, untouched.
        assert_eq!(f.take_leftover(), b"t2 NOOP\r\n");
    }

    #[test]
    fn pop3_and_smtp_logins() {
        let mut f = Front::new(Protocol::Pop3, "proxy");
        let steps = run(&mut f, "CAPA\r\nUSER dave\r\nPASS pw 1\r\n");
        assert!(text(&steps[0]).contains("SASL PLAIN"));
        assert_eq!(login_of(&steps[2]), ("dave".into(), "pw 1".into()));
        assert_eq!(f.accepted(&[]), b"+OK Logged in\r\n");

        let mut f = Front::new(Protocol::Smtp, "proxy");
        let steps = run(&mut f, "EHLO me\r\nMAIL FROM:<a@b>\r\nAUTH LOGIN\r\n");
        assert!(text(&steps[0]).contains("250 AUTH PLAIN LOGIN"));
        assert!(text(&steps[1]).starts_with("530"));
        assert_eq!(text(&steps[2]), format!("334 {}\r\n", b64("Username:")));
        let steps = run(&mut f, &format!("{}\r\n{}\r\n", b64("erin"), b64("pw")));
        assert_eq!(login_of(&steps[1]), ("erin".into(), "pw".into()));
        assert_eq!(f.accepted(&[]), b"235 2.7.0 Authentication successful\r\n");

        let mut f = Front::new(Protocol::Smtp, "proxy");
        let steps = run(&mut f, &format!("AUTH PLAIN {}\r\n", b64("\0frank\0pw")));
        assert_eq!(login_of(&steps[0]), ("frank".into(), "pw".into()));
        assert!(f.refused("no \u{1b}[2J").starts_with(b"535 5.7.8 no "));
    }

    #[test]
    fn starttls_required_before_login_and_pipelined_bytes_refused() {
        // IMAP: LOGINDISABLED before TLS, LOGIN refused, STARTTLS goes ahead, then AUTH=PLAIN.
        let mut f = Front::new(Protocol::Imap, "proxy").with_tls(FrontTls::StartTls);
        assert!(String::from_utf8_lossy(&f.greeting()).contains("STARTTLS LOGINDISABLED"));
        let steps = run(&mut f, "a LOGIN u p\r\n");
        assert_eq!(text(&steps[0]), "a NO [PRIVACYREQUIRED] STARTTLS first\r\n");
        let steps = run(&mut f, "b STARTTLS\r\n");
        assert_eq!(steps, vec![FrontStep::StartTls(b"b OK Begin TLS negotiation now\r\n".to_vec())]);
        assert!(!f.is_tls());
        f.tls_started();
        assert!(f.is_tls());
        let steps = run(&mut f, "c CAPABILITY\r\nd LOGIN u p\r\n");
        assert!(text(&steps[0]).contains("AUTH=PLAIN") && !text(&steps[0]).contains("STARTTLS"));
        assert_eq!(login_of(&steps[1]), ("u".into(), "p".into()));
        // A second STARTTLS is refused.
        let mut f = Front::new(Protocol::Imap, "proxy").with_tls(FrontTls::StartTls);
        run(&mut f, "a STARTTLS\r\n");
        f.tls_started();
        assert!(text(&run(&mut f, "b STARTTLS\r\n")[0]).starts_with("b BAD"));

        // Bytes pipelined after STARTTLS (an injection in the clear): the connection is closed.
        for (p, input) in [
            (Protocol::Imap, "a STARTTLS\r\nb LOGIN u p\r\n"),
            (Protocol::Pop3, "STLS\r\nUSER u\r\n"),
            (Protocol::Smtp, "STARTTLS\r\nAUTH PLAIN AHUAcA==\r\n"),
        ] {
            let mut f = Front::new(p, "proxy").with_tls(FrontTls::StartTls);
            let steps = run(&mut f, input);
            assert!(
                matches!(steps.last(), Some(FrontStep::Close(b)) if String::from_utf8_lossy(b).contains("refused")),
                "{p:?}: {steps:?}"
            );
        }

        // POP3 and SMTP: STLS / STARTTLS offered, logins refused before.
        let mut f = Front::new(Protocol::Pop3, "proxy").with_tls(FrontTls::StartTls);
        let steps = run(&mut f, "CAPA\r\nUSER u\r\nSTLS\r\n");
        assert_eq!(text(&steps[0]), "+OK\r\nSTLS\r\n.\r\n");
        assert!(text(&steps[1]).starts_with("-ERR [AUTH]"));
        assert!(matches!(&steps[2], FrontStep::StartTls(b) if b.starts_with(b"+OK")));
        let mut f = Front::new(Protocol::Smtp, "proxy").with_tls(FrontTls::StartTls);
        let steps = run(&mut f, &format!("EHLO me\r\nAUTH PLAIN {}\r\nSTARTTLS\r\n", b64("\0u\0p")));
        assert!(text(&steps[0]).contains("250 STARTTLS") && !text(&steps[0]).contains("AUTH"));
        assert!(text(&steps[1]).starts_with("530"));
        assert!(matches!(&steps[2], FrontStep::StartTls(b) if b.starts_with(b"220")));
        f.tls_started();
        let steps = run(&mut f, "EHLO me\r\n");
        assert!(text(&steps[0]).contains("AUTH PLAIN LOGIN") && !text(&steps[0]).contains("STARTTLS"));

        // Implicit TLS: logins at once, no STARTTLS.
        let mut f = Front::new(Protocol::Smtp, "proxy").with_tls(FrontTls::Implicit);
        assert!(f.is_tls());
        assert!(text(&run(&mut f, "STARTTLS\r\n")[0]).starts_with("454"));
        assert_eq!(login_of(&run(&mut f, &format!("AUTH PLAIN {}\r\n", b64("\0u\0p")))[0]).0, "u");
    }

    #[test]
    fn unavailable_upstream_and_time_out_replies() {
        let mut f = Front::new(Protocol::Imap, "proxy");
        login_of(&run(&mut f, "x1 LOGIN u p\r\n")[0]);
        assert_eq!(f.unavailable("down [now]"), b"x1 NO [UNAVAILABLE] down now\r\n");
        assert_eq!(f.timed_out(), b"* BYE no login in time\r\n");
        let mut f = Front::new(Protocol::Pop3, "proxy");
        login_of(&run(&mut f, "USER u\r\nPASS p\r\n")[1]);
        assert_eq!(f.unavailable("down"), b"-ERR [SYS/TEMP] down\r\n");
        let mut f = Front::new(Protocol::Smtp, "proxy");
        login_of(&run(&mut f, &format!("AUTH PLAIN {}\r\n", b64("\0u\0p")))[0]);
        assert_eq!(f.unavailable("down"), b"454 4.7.0 down\r\n");
        assert_eq!(f.timed_out(), b"421 4.4.2 no login in time\r\n");
    }

    #[test]
    fn garbage_long_lines_and_bad_commands_end_the_connection() {
        let mut f = Front::new(Protocol::Imap, "proxy");
        let long = format!("a LOGIN {}\r\n", "x".repeat(MAX_FRONT_LINE + 10));
        assert!(matches!(run(&mut f, &long).last(), Some(FrontStep::Close(_))));

        let mut f = Front::new(Protocol::Imap, "proxy");
        assert!(
            matches!(run(&mut f, "a LOGIN u {99999999999}\r\n").last(), Some(FrontStep::Reply(b)) if b.starts_with(b"a BAD"))
        );

        let mut f = Front::new(Protocol::Smtp, "proxy");
        let many = "XYZ\r\n".repeat(MAX_BAD_COMMANDS as usize);
        let steps = run(&mut f, &many);
        assert_eq!(steps.len(), MAX_BAD_COMMANDS as usize);
        assert!(matches!(steps.last(), Some(FrontStep::Close(b)) if String::from_utf8_lossy(b).contains("421")));

        let mut f = Front::new(Protocol::Pop3, "proxy");
        assert!(
            matches!(run(&mut f, "AUTH PLAIN !!!\r\n").last(), Some(FrontStep::Reply(b)) if b.starts_with(b"-ERR"))
        );
        // Nothing is ever a login without a password.
        let mut f = Front::new(Protocol::Imap, "proxy");
        assert!(
            matches!(run(&mut f, "a LOGIN onlyuser\r\n").last(), Some(FrontStep::Reply(b)) if b.starts_with(b"a BAD"))
        );
    }
}
