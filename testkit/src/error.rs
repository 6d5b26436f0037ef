//! The error type of the test kit.

use std::path::PathBuf;

/// Everything that can go wrong while starting the test servers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `dovecot` binary was not found. Tests must fail in this case, never skip.
    #[error(
        "the `dovecot` binary was not found (looked in {searched:?}); install dovecot-core, \
         dovecot-imapd, dovecot-pop3d and dovecot-submissiond (Debian: apt-get install -y ...)"
    )]
    DovecotNotFound {
        /// The places that were searched.
        searched: Vec<PathBuf>,
    },
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Generating the test certificates failed.
    #[error("generating test certificates failed: {0}")]
    Certificate(String),
    /// Building a TLS client configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Dovecot exited during start-up.
    #[error("dovecot exited during start-up ({status}); log tail:\n{log_tail}")]
    DovecotExited {
        /// The exit status as text.
        status: String,
        /// The end of Dovecot's log and stderr.
        log_tail: String,
    },
    /// Dovecot did not greet on its IMAP port in time.
    #[error("dovecot did not become ready within {waited_ms} ms; log tail:\n{log_tail}")]
    StartTimeout {
        /// How long we waited.
        waited_ms: u128,
        /// The end of Dovecot's log and stderr.
        log_tail: String,
    },
    /// An option would produce a broken Dovecot configuration.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The current user cannot run Dovecot.
    #[error("cannot run dovecot as this user: {0}")]
    Permission(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
