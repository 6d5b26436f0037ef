//! The error of a mail login.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{Protocol, Stage};
use crate::sasl::ErrorChallenge;

/// What went wrong, grouped by what the caller can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        // Messages can quote the server (offered mechanisms, ...): made safe here.
        let message = crate::text::safe_string(message.into());
        MailAuthError { protocol, stage, kind, message, server_line: None, challenge: None }
    }

    /// Adds the server's line.
    pub fn with_server_line(mut self, line: &str) -> Self {
        self.server_line = Some(super::shorten(&crate::text::safe_text(line)));
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

    /// A one-line hint naming what to change, by kind and protocol (see [`mail_hint`]).
    pub fn hint(&self) -> &'static str {
        mail_hint(self.kind, self.protocol)
    }
}

/// The one-line hint for a kind of mail-login failure: what the user or the admin changes.
pub fn mail_hint(kind: MailErrorKind, protocol: Protocol) -> &'static str {
    match (kind, protocol) {
        (MailErrorKind::Network, _) => "check the host name and port, and that the network lets the connection through",
        (MailErrorKind::Timeout, _) => "the server did not answer in time: check the host, the port and any firewall",
        (MailErrorKind::Tls, _) => {
            "the server's certificate is not trusted or does not match the host name: check the host, or trust its CA"
        }
        (MailErrorKind::Greeting, _) => "the server refused service: check the host and port, or retry later",
        (MailErrorKind::StartTlsUnavailable, _) => {
            "the server offers no STARTTLS on this port: use implicit TLS (IMAP 993, POP3 995, SMTP 465) or the right port"
        }
        (MailErrorKind::MechanismUnsupported, _) => {
            "the server does not offer this SASL mechanism here: use XOAUTH2 for Exchange Online, and check host and port"
        }
        (MailErrorKind::Rejected, Protocol::Smtp) => {
            "the token was refused: check its audience (Outlook, not Graph), the SMTP.Send permission and the user, and that SMTP AUTH is enabled for the mailbox"
        }
        (MailErrorKind::Rejected, Protocol::Imap) => {
            "the token was refused: check its audience (Outlook, not Graph), the IMAP.AccessAsUser.All permission and the user, and that IMAP is enabled for the mailbox (Set-CASMailbox -ImapEnabled $true)"
        }
        (MailErrorKind::Rejected, Protocol::Pop3) => {
            "the token was refused: check its audience (Outlook, not Graph), the POP.AccessAsUser.All permission and the user, and that POP is enabled for the mailbox (Set-CASMailbox -PopEnabled $true)"
        }
        (MailErrorKind::LoginDisabled, _) => {
            "SMTP AUTH is disabled for the tenant or the mailbox (5.7.139): an admin runs Set-CASMailbox -Identity <user> -SmtpClientAuthenticationDisabled $false"
        }
        (MailErrorKind::Temporary, _) => "a temporary server failure: retry later",
        (MailErrorKind::TokenExpired, _) => "the access token expired: get a fresh token and reconnect",
        (MailErrorKind::NotConnected, _) => {
            "the login user cannot open this mailbox: log in as the token's own user, or grant FullAccess (Add-MailboxPermission); app-only tokens also need New-ServicePrincipal"
        }
        (MailErrorKind::Protocol, _) => {
            "the server's answer broke the protocol: check that the host and port serve this protocol"
        }
    }
}

impl fmt::Display for MailAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message can quote the server: printed safe even if a caller built it by hand.
        let message = crate::text::safe_text(&self.message);
        write!(f, "{} {}: {}: {}", self.protocol, self.stage, self.kind, message)?;
        if let Some(line) = &self.server_line {
            write!(f, " (server said: {line:?})")?;
        }
        if let Some(c) = &self.challenge {
            write!(f, " [challenge: {}]", c.summary())?;
        }
        Ok(())
    }
}

impl core::error::Error for MailAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_fix() {
        let e = MailAuthError::new(Protocol::Smtp, Stage::Auth, MailErrorKind::LoginDisabled, "x");
        assert!(e.hint().contains("SmtpClientAuthenticationDisabled"));
        assert!(mail_hint(MailErrorKind::Rejected, Protocol::Imap).contains("ImapEnabled"));
        assert!(mail_hint(MailErrorKind::Rejected, Protocol::Pop3).contains("PopEnabled"));
        assert!(mail_hint(MailErrorKind::NotConnected, Protocol::Imap).contains("Add-MailboxPermission"));
    }
}
