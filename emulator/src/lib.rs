//! A local emulator of the Microsoft identity platform (`login.microsoftonline.com`) for
//! tests, demos and offline development, plus a mail-server token validation endpoint.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mailoauth_emulator::Error> {
//! use mailoauth_emulator::{Emulator, config};
//! let emu = Emulator::builder().device_code_interval(std::time::Duration::ZERO).start().await?;
//! let token_url = emu.token_endpoint(config::DEMO_TENANT_DOMAIN);
//! let dovecot_introspection_url = emu.introspection_url();
//! # let _ = (token_url, dovecot_introspection_url);
//! # Ok(()) }
//! ```
//!
//! See `README.md` (below) for the Microsoft behaviours reproduced, the demo identities and
//! the HTTP control API.
#![doc = ""]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod aad;
pub mod config;
mod keys;
mod routes;
mod scope;
mod server;
mod state;
mod tls;
mod tokens;
mod util;

pub use config::{AppConfig, Config, SignInAudience, TenantConfig, UserConfig};
pub use keys::{DEMO_SIGNING_CERT_PEM, DEMO_SIGNING_KEY_PEM};
pub use routes::control::{PendingDeviceCode, SettingsUpdate};
pub use server::{Emulator, EmulatorBuilder};
pub use state::{Counters, Fault, FaultEndpoint, FaultKind};

/// Errors from starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration (bad PEM, unknown tenant, bad redirect URI, …).
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or file I/O failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the HTTPS certificate failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// An unknown user, device code, …
    #[error("not found: {0}")]
    NotFound(String),
    /// An internal failure (signing).
    #[error("internal: {0}")]
    Internal(String),
}
