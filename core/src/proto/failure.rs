//! For clients that run the SASL exchange themselves (Python's imaplib, smtplib, poplib, a
//! JavaScript socket library, ...): the login machines' rules for sending the initial response
//! inline, and their classification of a refused login.

use super::{imap, pop3, smtp, MailAuthError, Protocol, Stage};
#[allow(unused_imports)]
use crate::prelude::*;
use crate::sasl::Mechanism;

/// Whether the initial response may go inline with the command (`AUTH XOAUTH2 <response>`, IMAP
/// `AUTHENTICATE XOAUTH2 <response>` when the server offers SASL-IR), as the login machines
/// decide it: the whole command line must fit the protocol's limit (SMTP 512 octets, RFC 4954
/// section 4 and Dovecot's submission service; POP3 255, RFC 5034; IMAP 8192, Dovecot's SASL
/// buffer). Otherwise send the bare command and the response after the server's continuation.
/// `response_b64_len` is the length of the base64 response.
///
/// ```
/// use mailoauth::proto::{initial_response_fits, Protocol};
/// use mailoauth::Mechanism;
///
/// assert!(initial_response_fits(Protocol::Smtp, Mechanism::XOAuth2, 400));
/// assert!(!initial_response_fits(Protocol::Smtp, Mechanism::XOAuth2, 2000)); // a typical JWT
/// ```
pub fn initial_response_fits(protocol: Protocol, mechanism: Mechanism, response_b64_len: usize) -> bool {
    let (command, max) = match protocol {
        // The machine's tags are at most a few characters ("m1").
        Protocol::Imap => ("m1 AUTHENTICATE", imap::MAX_INLINE_LINE),
        Protocol::Smtp => ("AUTH", smtp::MAX_COMMAND),
        Protocol::Pop3 => ("AUTH", pop3::MAX_COMMAND),
    };
    command.len() + 1 + mechanism.name().len() + 1 + response_b64_len + 2 <= max
}

/// The error a login machine reports when the server refuses the authentication, for clients
/// that run the SASL exchange themselves and want the same kinds, hints and decoded challenge.
///
/// `final_line` is the server's final answer: IMAP `a1 NO [AUTHENTICATIONFAILED] ...` (the tag
/// may be left out), SMTP `535 5.7.3 ...`, POP3 `-ERR [AUTH] ...`. `challenge` is the text of
/// the error challenge the server sent before it (base64, as after `+ ` or `334 `), if any; a
/// challenge that is not base64 JSON is kept in `raw`.
///
/// ```
/// use mailoauth::proto::{auth_failure, MailErrorKind, Protocol};
///
/// let e = auth_failure(Protocol::Smtp, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled", None);
/// assert_eq!(e.kind, MailErrorKind::LoginDisabled);
/// let e = auth_failure(Protocol::Imap, "NO [UNAVAILABLE] Temporary authentication failure", None);
/// assert_eq!(e.kind, MailErrorKind::Temporary);
/// ```
pub fn auth_failure(protocol: Protocol, final_line: &str, challenge: Option<&str>) -> MailAuthError {
    let (kind, message) = match protocol {
        Protocol::Imap => imap::auth_failure_line(final_line),
        Protocol::Smtp => smtp::auth_failure_line(final_line),
        Protocol::Pop3 => pop3::auth_failure_line(final_line),
    };
    let mut e = MailAuthError::new(protocol, Stage::Auth, kind, message).with_server_line(final_line.trim_end());
    e.challenge = challenge.map(|text| Box::new(super::exchange::decode_lenient(text)));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MailErrorKind as K;

    #[test]
    fn inline_limits() {
        // "AUTH XOAUTH2 " is 13 octets and CRLF 2: 497 base64 characters fill an SMTP line.
        assert!(initial_response_fits(Protocol::Smtp, Mechanism::XOAuth2, 497));
        assert!(!initial_response_fits(Protocol::Smtp, Mechanism::XOAuth2, 498));
        assert!(!initial_response_fits(Protocol::Pop3, Mechanism::XOAuth2, 300));
        assert!(initial_response_fits(Protocol::Imap, Mechanism::OAuthBearer, 4000));
    }

    #[test]
    fn classifies_like_the_machines() {
        let dovecot = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=";
        let e = auth_failure(Protocol::Imap, "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", Some(dovecot));
        assert_eq!((e.kind, e.stage, e.protocol), (K::Rejected, Stage::Auth, Protocol::Imap));
        assert_eq!(e.server_line.as_deref(), Some("a1 NO [AUTHENTICATIONFAILED] Authentication failed."));
        let c = e.challenge.expect("challenge");
        assert_eq!((c.status.as_deref(), c.scope.as_deref()), (Some("401"), Some("mail")));

        assert_eq!(auth_failure(Protocol::Imap, "NO [UNAVAILABLE] Temporary", None).kind, K::Temporary);
        assert_eq!(auth_failure(Protocol::Imap, "BAD Invalid", None).kind, K::Protocol);
        assert_eq!(auth_failure(Protocol::Imap, "a1 OK done", None).kind, K::Protocol);
        assert_eq!(auth_failure(Protocol::Smtp, "535 5.7.3 Authentication unsuccessful", None).kind, K::Rejected);
        assert_eq!(auth_failure(Protocol::Smtp, "535 5.7.139 disabled", None).kind, K::LoginDisabled);
        assert_eq!(auth_failure(Protocol::Smtp, "454 4.7.0 Temporary", None).kind, K::Temporary);
        assert_eq!(auth_failure(Protocol::Smtp, "504 5.5.4 Unrecognized", None).kind, K::MechanismUnsupported);
        assert_eq!(auth_failure(Protocol::Pop3, "-ERR [AUTH] Authentication failed.", None).kind, K::Rejected);
        assert_eq!(auth_failure(Protocol::Pop3, "-ERR [SYS/TEMP] try later", None).kind, K::Temporary);
        assert_eq!(auth_failure(Protocol::Pop3, "+OK", None).kind, K::Protocol);

        let e = auth_failure(Protocol::Smtp, "535 no", Some("not base64!"));
        assert_eq!(e.challenge.expect("raw").raw, "not base64!");
    }
}
