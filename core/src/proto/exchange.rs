//! One XOAUTH2 / OAUTHBEARER exchange, sans-IO: the command that starts it (the initial response
//! inline or not), the answer to each server continuation (the response, then at most one error
//! challenge answered with the mechanism's dummy reply, never the token again), and the
//! classification of the final line. The login machines run their authentication through it,
//! and so does every client whose own library writes the commands: Python's imaplib, smtplib and
//! poplib helpers, the nodemailer helper, anything a binding drives over raw lines.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::{auth_failure, initial_response_fits, MailAuthError, MailErrorKind, Protocol, SaslIr, Stage};
use crate::sasl::{ErrorChallenge, Mechanism};

/// A line to send (without CRLF) that may carry the token. `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslLine(String);

impl SaslLine {
    /// The text to send. Call this only where it is really sent.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The text to send, taken.
    pub fn into_secret(self) -> String {
        self.0
    }
}

impl fmt::Debug for SaslLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslLine([{} bytes])", self.0.len())
    }
}

/// What a server line means for the exchange ([`SaslExchange::feed_line`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this line (the response, or the dummy reply to an error challenge).
    Send(SaslLine),
    /// The server accepted the login (IMAP tagged `OK`, SMTP `235`, POP3 `+OK`).
    Done,
    /// Not the end yet: an untagged IMAP line, or a line of a multi-line SMTP reply.
    Continue,
}

/// The state of one SASL exchange. See the module documentation.
#[derive(Debug)]
pub struct SaslExchange {
    protocol: Protocol,
    mechanism: Mechanism,
    response: SaslLine,
    response_sent: bool,
    challenge_answered: bool,
    challenge: Option<Box<ErrorChallenge>>,
}

impl SaslExchange {
    /// An exchange for `user` with `token`; `host` and `port` go into OAUTHBEARER's response.
    pub fn new(
        protocol: Protocol,
        mechanism: Mechanism,
        user: &str,
        token: &str,
        host: Option<&str>,
        port: Option<u16>,
    ) -> SaslExchange {
        let response = SaslLine(crate::base64::encode(mechanism.initial_response(user, token, host, port)));
        SaslExchange { protocol, mechanism, response, response_sent: false, challenge_answered: false, challenge: None }
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the initial response goes inline with the command, under `policy`:
    /// `server_allows` is IMAP's `SASL-IR` capability (SMTP and POP3 always allow it); `Auto`
    /// also needs the command line to fit the protocol's limit ([`initial_response_fits`]).
    pub fn inline(&self, policy: SaslIr, server_allows: bool) -> bool {
        match policy {
            SaslIr::Always => true,
            SaslIr::Never => false,
            SaslIr::Auto => {
                server_allows && initial_response_fits(self.protocol, self.mechanism, self.response.0.len())
            }
        }
    }

    /// The initial response alone (base64), for a library that writes the command itself and
    /// asks for the response inline (`smtplib`'s `initial_response_ok`): marks it sent.
    pub fn initial_response(&mut self) -> SaslLine {
        self.response_sent = true;
        self.response.clone()
    }

    /// The command line that starts the exchange: `<command> <MECHANISM>` with the response
    /// inline or not (`command`: `AUTH`, or IMAP's `<tag> AUTHENTICATE`).
    pub fn start(&mut self, command: &str, inline: bool) -> SaslLine {
        let name = self.mechanism.name();
        if inline {
            self.response_sent = true;
            SaslLine(format!("{command} {name} {}", self.response.0))
        } else {
            SaslLine(format!("{command} {name}"))
        }
    }

    /// The answer to a server continuation (`payload`: the text after `+ ` or `334 `): the
    /// response if it was not sent inline; after it, the server's error challenge, which is
    /// recorded and answered with the mechanism's dummy reply. A second challenge is a protocol
    /// error (the token is never sent twice).
    pub fn answer(&mut self, payload: &str) -> Result<SaslLine, MailAuthError> {
        if !self.response_sent {
            self.response_sent = true;
            return Ok(self.response.clone());
        }
        if self.challenge_answered {
            let mut e = MailAuthError::new(
                self.protocol,
                Stage::Auth,
                MailErrorKind::Protocol,
                "the server sent a second challenge after the error challenge",
            );
            e.challenge = self.challenge.clone();
            return Err(e);
        }
        self.challenge_answered = true;
        self.challenge = Some(Box::new(decode_lenient(payload)));
        Ok(SaslLine(self.mechanism.challenge_reply().to_owned()))
    }

    /// The next server line of the exchange (without CRLF), for clients that read raw lines.
    /// A refusal is the error of its kind, with the server's line and the recorded challenge.
    pub fn feed_line(&mut self, line: &str) -> Result<SaslStep, MailAuthError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let with_line = |e: MailAuthError| e.with_server_line(line);
        match self.protocol {
            Protocol::Imap => {
                if line == "+" || line.starts_with("+ ") {
                    return self.answer(line.get(2..).unwrap_or("")).map(SaslStep::Send).map_err(with_line);
                }
                if line.starts_with("* ") {
                    return Ok(SaslStep::Continue);
                }
                let status = line.split(' ').nth(1).unwrap_or("");
                if status.eq_ignore_ascii_case("OK") {
                    Ok(SaslStep::Done)
                } else {
                    Err(self.failure(line))
                }
            }
            Protocol::Smtp => {
                let code = line.get(..3).filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
                if code.is_some() && line.as_bytes().get(3) == Some(&b'-') {
                    return Ok(SaslStep::Continue);
                }
                match code {
                    Some("334") => self.answer(line.get(4..).unwrap_or("")).map(SaslStep::Send).map_err(with_line),
                    Some("235") => Ok(SaslStep::Done),
                    _ => Err(self.failure(line)),
                }
            }
            Protocol::Pop3 => {
                if line.starts_with("+OK") {
                    Ok(SaslStep::Done)
                } else if line == "+" || line.starts_with("+ ") {
                    self.answer(line.get(2..).unwrap_or("")).map(SaslStep::Send).map_err(with_line)
                } else {
                    Err(self.failure(line))
                }
            }
        }
    }

    /// The error for the server's final refusal (`a1 NO ...`, `535 ...`, `-ERR ...`), classified
    /// as the login machines classify it, with the recorded error challenge.
    pub fn failure(&self, final_line: &str) -> MailAuthError {
        let mut e = auth_failure(self.protocol, final_line, None);
        e.challenge = self.challenge.clone();
        e
    }

    /// Fails with `mechanism_unsupported` (before anything secret is sent) unless the server's
    /// `capabilities` ([`offered_mechanisms`]) include this exchange's mechanism.
    pub fn require_offered(&self, capabilities: &[String]) -> Result<(), MailAuthError> {
        let offered = offered_mechanisms(self.protocol, capabilities);
        let name = self.mechanism.name();
        if offered.iter().any(|m| m.eq_ignore_ascii_case(name)) {
            return Ok(());
        }
        Err(MailAuthError::new(
            self.protocol,
            Stage::Auth,
            MailErrorKind::MechanismUnsupported,
            format!("the server does not offer {name} (it offers: {}); no credentials were sent", offered.join(" ")),
        ))
    }

    /// The server's error challenge, once one was answered.
    pub fn challenge(&self) -> Option<&ErrorChallenge> {
        self.challenge.as_deref()
    }

    pub(super) fn challenge_box(&self) -> Option<Box<ErrorChallenge>> {
        self.challenge.clone()
    }
}

/// The SASL mechanisms a server offers, from its capabilities as the protocol lists them:
/// IMAP `AUTH=XOAUTH2`, SMTP EHLO `AUTH XOAUTH2 PLAIN` (or the old `AUTH=`), POP3 CAPA
/// `SASL XOAUTH2 PLAIN`.
pub fn offered_mechanisms(protocol: Protocol, capabilities: &[String]) -> Vec<String> {
    let words = |c: &String| c.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>();
    match protocol {
        Protocol::Imap => capabilities
            .iter()
            .filter_map(|c| c.get(..5).filter(|p| p.eq_ignore_ascii_case("AUTH=")).map(|_| c[5..].to_owned()))
            .collect(),
        Protocol::Smtp => capabilities
            .iter()
            .filter_map(|l| {
                let b = l.as_bytes();
                (b.len() > 4 && b[..4].eq_ignore_ascii_case(b"AUTH") && matches!(b[4], b' ' | b'='))
                    .then(|| l[5..].to_owned())
            })
            .flat_map(|l| words(&l))
            .collect(),
        Protocol::Pop3 => capabilities
            .iter()
            .filter(|c| super::split_word(c).0.eq_ignore_ascii_case("SASL"))
            .flat_map(|c| words(&super::split_word(c).1.to_owned()))
            .collect(),
    }
}

/// A challenge as sent: decoded base64 JSON, else the (made safe) text in `raw`.
pub(super) fn decode_lenient(text: &str) -> ErrorChallenge {
    let text = text.trim();
    ErrorChallenge::decode(text).unwrap_or_else(|_| ErrorChallenge {
        status: None,
        schemes: None,
        scope: None,
        openid_configuration: None,
        raw: crate::text::safe_text(text).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOVECOT_CHALLENGE: &str = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=";

    fn exchange(protocol: Protocol, mechanism: Mechanism) -> SaslExchange {
        SaslExchange::new(protocol, mechanism, "alice@example.com", "tok-123", Some("h"), Some(1))
    }

    #[test]
    fn smtp_continuation_then_error_challenge_then_refusal() {
        let mut x = exchange(Protocol::Smtp, Mechanism::XOAuth2);
        let start = x.start("AUTH", false);
        assert_eq!(start.expose_secret(), "AUTH XOAUTH2");
        let SaslStep::Send(r) = x.feed_line("334 ").expect("continuation") else { panic!() };
        assert_eq!(r.expose_secret(), crate::sasl::xoauth2("alice@example.com", "tok-123"));
        assert!(!format!("{r:?}").contains("tok"));
        let step = x.feed_line(&format!("334 {DOVECOT_CHALLENGE}")).expect("challenge");
        assert_eq!(step, SaslStep::Send(SaslLine(String::new())));
        let e = x.feed_line("535 5.7.8 Authentication failed").expect_err("refused");
        assert_eq!((e.kind, e.stage), (MailErrorKind::Rejected, Stage::Auth));
        assert_eq!(e.challenge.as_ref().and_then(|c| c.status.as_deref()), Some("401"));
        assert_eq!(e.server_line.as_deref(), Some("535 5.7.8 Authentication failed"));
    }

    #[test]
    fn a_second_challenge_never_gets_the_token() {
        for protocol in [Protocol::Imap, Protocol::Smtp, Protocol::Pop3] {
            let mut x = exchange(protocol, Mechanism::OAuthBearer);
            let _ = x.start("AUTH", true);
            let reply = x.answer(DOVECOT_CHALLENGE).expect("first challenge");
            assert_eq!(reply.expose_secret(), "AQ==");
            let e = x.answer(DOVECOT_CHALLENGE).expect_err("second challenge");
            assert_eq!(e.kind, MailErrorKind::Protocol);
        }
    }

    #[test]
    fn lines_of_each_protocol() {
        let mut imap = exchange(Protocol::Imap, Mechanism::XOAuth2);
        assert_eq!(imap.start("a1 AUTHENTICATE", true).expose_secret().split(' ').count(), 4);
        assert_eq!(imap.feed_line("* CAPABILITY IMAP4rev1").expect("untagged"), SaslStep::Continue);
        assert_eq!(imap.feed_line("a1 OK done").expect("ok"), SaslStep::Done);
        let e = exchange(Protocol::Imap, Mechanism::XOAuth2).feed_line("a1 NO [UNAVAILABLE] later").expect_err("no");
        assert_eq!(e.kind, MailErrorKind::Temporary);

        let mut smtp = exchange(Protocol::Smtp, Mechanism::XOAuth2);
        assert_eq!(smtp.feed_line("250-first").expect("multi-line"), SaslStep::Continue);
        assert_eq!(smtp.feed_line("235 2.7.0 ok").expect("ok"), SaslStep::Done);
        let e = exchange(Protocol::Smtp, Mechanism::XOAuth2).feed_line("535 5.7.139 disabled").expect_err("535");
        assert_eq!(e.kind, MailErrorKind::LoginDisabled);

        let mut pop = exchange(Protocol::Pop3, Mechanism::XOAuth2);
        assert!(matches!(pop.feed_line("+ ").expect("go ahead"), SaslStep::Send(_)));
        assert_eq!(pop.feed_line("+OK logged in").expect("ok"), SaslStep::Done);
        let e = exchange(Protocol::Pop3, Mechanism::XOAuth2).feed_line("-ERR [SYS/TEMP] later").expect_err("err");
        assert_eq!(e.kind, MailErrorKind::Temporary);
        let e = exchange(Protocol::Pop3, Mechanism::XOAuth2).feed_line("garbage").expect_err("garbage");
        assert_eq!(e.kind, MailErrorKind::Protocol);
    }

    #[test]
    fn offered_mechanisms_of_each_protocol() {
        let caps = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let imap = caps(&["IMAP4rev1", "SASL-IR", "AUTH=PLAIN", "auth=xoauth2"]);
        assert_eq!(offered_mechanisms(Protocol::Imap, &imap), ["PLAIN", "xoauth2"]);
        let smtp = caps(&["PIPELINING", "AUTH PLAIN XOAUTH2", "AUTH=LOGIN"]);
        assert_eq!(offered_mechanisms(Protocol::Smtp, &smtp), ["PLAIN", "XOAUTH2", "LOGIN"]);
        let pop = caps(&["USER", "SASL PLAIN OAUTHBEARER"]);
        assert_eq!(offered_mechanisms(Protocol::Pop3, &pop), ["PLAIN", "OAUTHBEARER"]);
        assert!(exchange(Protocol::Imap, Mechanism::XOAuth2).require_offered(&imap).is_ok());
        let e = exchange(Protocol::Pop3, Mechanism::XOAuth2).require_offered(&pop).expect_err("not offered");
        assert_eq!(e.kind, MailErrorKind::MechanismUnsupported);
    }

    #[test]
    fn inline_policy() {
        let x = exchange(Protocol::Smtp, Mechanism::XOAuth2);
        assert!(x.inline(SaslIr::Auto, true));
        assert!(!x.inline(SaslIr::Never, true));
        let long = "x".repeat(2000);
        let big = SaslExchange::new(Protocol::Smtp, Mechanism::XOAuth2, "a", &long, None, None);
        assert!(!big.inline(SaslIr::Auto, true));
        assert!(big.inline(SaslIr::Always, false));
        let imap = exchange(Protocol::Imap, Mechanism::XOAuth2);
        assert!(!imap.inline(SaslIr::Auto, false));
    }
}
