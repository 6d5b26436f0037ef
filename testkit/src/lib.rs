//! Test harness for mailoauth: a real Dovecot 2.3 with SASL XOAUTH2 /
//! OAUTHBEARER ([`Dovecot`]), a test-controlled token introspection endpoint
//! ([`TokenValidator`]) and the SMTP sink that Dovecot's submission service
//! relays to ([`SmtpSink`]).
//!
//! Everything has a synchronous API and runs its async parts on private
//! threads, so it can be used from sync tests, `#[tokio::test]`s and binaries.
//!
//! ```no_run
//! use mailoauth_testkit::{Dovecot, DovecotOptions, TokenValidator};
//!
//! let validator = TokenValidator::start()?;
//! validator.add_token("good-token", "alice@example.com");
//! let dovecot = Dovecot::start(DovecotOptions::new(validator.url()))?;
//! let imap = ("127.0.0.1", dovecot.imap_port());
//! let ca = dovecot.ca_file();
//! # let _ = (imap, ca);
//! # Ok::<(), mailoauth_testkit::Error>(())
//! ```

mod background;
mod certs;
mod dovecot;
mod error;
mod sink;
mod tls;
mod validator;

pub use dovecot::{Dovecot, DovecotOptions, DovecotPorts};
pub use error::{Error, Result};
pub use sink::{SinkMessage, SmtpSink};
pub use tls::client_config_for_ca_file;
pub use validator::TokenValidator;
