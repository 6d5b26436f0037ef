//! Exit codes (documented and stable: scripts branch on them), translated from the core's
//! error groups ([`ErrorGroup`]: core decides which kinds belong together).

use std::fmt;

use mailoauth::cache::StoreError;
use mailoauth::{ErrorGroup, IdentityError, IdentityErrorKind, MailAuthError, MailErrorKind};

/// The process exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 1: bad usage or configuration (unknown account, bad flag, unusable token store).
    Usage = 1,
    /// 2: a person must sign in (no sign-in yet, refresh token refused, consent or MFA needed).
    SignIn = 2,
    /// 3: the mail server rejected the login (or the mailbox cannot be used).
    Rejected = 3,
    /// 4: network or TLS failure (mail server or identity platform unreachable).
    Network = 4,
    /// 5: the identity platform refused the request (app registration, policy, throttling).
    Identity = 5,
}

impl Exit {
    pub(crate) fn code(self) -> u8 {
        self as u8
    }
}

/// The exit code of a group of error kinds (the grouping is core's: [`ErrorGroup`]).
pub(crate) fn group_exit(group: ErrorGroup) -> Exit {
    match group {
        ErrorGroup::Configuration => Exit::Usage,
        ErrorGroup::SignIn => Exit::SignIn,
        ErrorGroup::MailRejected => Exit::Rejected,
        ErrorGroup::Connection => Exit::Network,
        ErrorGroup::Identity => Exit::Identity,
    }
}

/// Exit code for an identity error kind.
pub(crate) fn identity_exit(kind: IdentityErrorKind) -> Exit {
    group_exit(kind.group())
}

/// Exit code for a mail error kind.
pub(crate) fn mail_exit(kind: MailErrorKind) -> Exit {
    group_exit(kind.group())
}

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure { exit, message: message.into() }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<IdentityError> for Failure {
    fn from(e: IdentityError) -> Self {
        // Display carries the kind, the message, the AADSTS code, the correlation id and the
        // hint; never a secret.
        Failure::new(identity_exit(e.kind), e.to_string())
    }
}

impl From<MailAuthError> for Failure {
    fn from(e: MailAuthError) -> Self {
        Failure::new(mail_exit(e.kind), format!("{e}. Hint: {}", e.hint()))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::new(group_exit(e.kind.group()), e.to_string())
    }
}

pub(crate) type CliResult<T = ()> = Result<T, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Usage.code(), 1);
        assert_eq!(identity_exit(IdentityErrorKind::InteractionRequired).code(), 2);
        assert_eq!(identity_exit(IdentityErrorKind::InvalidGrant).code(), 2);
        assert_eq!(mail_exit(MailErrorKind::Rejected).code(), 3);
        assert_eq!(mail_exit(MailErrorKind::NotConnected).code(), 3);
        assert_eq!(mail_exit(MailErrorKind::Tls).code(), 4);
        assert_eq!(identity_exit(IdentityErrorKind::Network).code(), 4);
        assert_eq!(identity_exit(IdentityErrorKind::InvalidClient).code(), 5);
        assert_eq!(identity_exit(IdentityErrorKind::Storage).code(), 1);
        assert_eq!(mail_exit(MailErrorKind::StartTlsUnavailable).code(), 4);
        assert_eq!(mail_exit(MailErrorKind::Greeting).code(), 3);
        // The codes are core's (testdata/parity/errors.json), translated once.
        for g in ErrorGroup::ALL {
            assert_eq!(group_exit(*g).code(), g.exit_code(), "{}", g.name());
        }
    }
}
