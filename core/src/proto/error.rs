//! The error of a mail login.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Protocol, Stage};
use crate::sasl::ErrorChallenge;

/// What went wrong, grouped by what the caller can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailErrorKind {
    /// The connection could not be opened, or broke, or the server closed it.
    Network,
    /// A connect, read or write took longer than its time-out.
    Timeout,
    /// The TLS handshake failed (certificate not trusted, wrong name, protocol error).
    Tls,
    /// The server refused service in its greeting (IMAP `BYE`, SMTP 554, POP3 `-ERR`).
    Greeting,
    #[serde(rename = "starttls_unavailable")]
    /// STARTTLS was requested but the server does not offer it (or refused it). Nothing
    /// secret was sent.
    StartTlsUnavailable,
    /// The server does not offer the SASL mechanism. Nothing secret was sent.
    MechanismUnsupported,
    /// The server rejected the token (IMAP `NO`, SMTP 535, POP3 `-ERR [AUTH]`). Get a new
    /// token or fix the scope, user or account settings; retrying the same token will not help.
    Rejected,
    /// The server or tenant has this kind of login switched off (Exchange's
    /// `535 5.7.139 ... SmtpClientAuthentication is disabled`).
    LoginDisabled,
    /// A temporary failure (IMAP `[UNAVAILABLE]`, SMTP 454 / 4.x.x, POP3 `[SYS/TEMP]`,
    /// `[IN-USE]`): retrying later can help.
    Temporary,
    /// The server ended the session because the token expired (Exchange's
    /// `* BYE Session invalidated - AccessTokenExpired`): get a fresh token and reconnect.
    TokenExpired,
    /// The login succeeded but the mailbox cannot be used: Exchange's "User is authenticated
    /// but not connected" (wrong user for the token, missing mailbox permission, or no
    /// service principal for an app-only token).
    NotConnected,
    /// The server sent something that is not valid for the protocol (malformed or oversized
    /// line, unexpected reply, data after a STARTTLS go-ahead).
    Protocol,
}

impl MailErrorKind {
    /// Whether retrying the same operation later can help.
    pub fn is_temporary(self) -> bool {
        matches!(self, MailErrorKind::Network | MailErrorKind::Timeout | MailErrorKind::Temporary)
    }
}

impl fmt::Display for MailErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MailErrorKind::Network => "network error",
            MailErrorKind::Timeout => "timed out",
            MailErrorKind::Tls => "TLS error",
            MailErrorKind::Greeting => "server refused service",
            MailErrorKind::StartTlsUnavailable => "STARTTLS not available",
            MailErrorKind::MechanismUnsupported => "mechanism not offered",
            MailErrorKind::Rejected => "authentication rejected",
            MailErrorKind::LoginDisabled => "login disabled by the server",
            MailErrorKind::Temporary => "temporary failure",
            MailErrorKind::TokenExpired => "access token expired",
            MailErrorKind::NotConnected => "authenticated but not connected",
            MailErrorKind::Protocol => "protocol error",
        })
    }
}

/// A failed mail login. Carries the protocol, the stage, the server's final line and the
/// decoded error challenge, and never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailAuthError {
    /// IMAP, SMTP or POP3.
    pub protocol: Protocol,
    /// Where it happened.
    pub stage: Stage,
    /// What kind of failure it is.
    pub kind: MailErrorKind,
    /// What happened, in words.
    pub message: String,
    /// The server's last line, if the server said something.
    pub server_line: Option<String>,
    /// The server's SASL error challenge, if it sent one (decoded; a challenge that is not
    /// base64 JSON has only `raw` set).
    pub challenge: Option<Box<ErrorChallenge>>,
}

impl MailAuthError {
    /// A new error without a server line.
    pub fn new(protocol: Protocol, stage: Stage, kind: MailErrorKind, message: impl Into<String>) -> Self {
        MailAuthError { protocol, stage, kind, message: message.into(), server_line: None, challenge: None }
    }

    /// Adds the server's line.
    pub fn with_server_line(mut self, line: &str) -> Self {
        self.server_line = Some(super::shorten(line));
        self
    }

    /// Whether retrying later can help (temporary failure, time-out, network).
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary()
    }

    /// The SMTP enhanced status code in the server line (`5.7.139`), if any.
    pub fn enhanced_status(&self) -> Option<(u8, u16, u16)> {
        let line = self.server_line.as_deref()?;
        if self.protocol != Protocol::Smtp {
            return None;
        }
        super::smtp::parse_enhanced(line.get(4..)?)
    }
}

impl fmt::Display for MailAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}: {}", self.protocol, self.stage, self.kind, self.message)?;
        if let Some(line) = &self.server_line {
            write!(f, " (server said: {line:?})")?;
        }
        if let Some(c) = &self.challenge {
            write!(f, " [challenge: {}]", c.summary())?;
        }
        Ok(())
    }
}

impl std::error::Error for MailAuthError {}
