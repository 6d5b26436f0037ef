#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod diagnose;
mod group;
pub mod identity;
pub mod json;
mod names;
pub mod proto;
pub mod sasl;
mod secret;
pub mod text;

#[cfg(feature = "net")]
pub mod net;

pub use cache::{SilentOptions, TokenCache};
pub use group::{AnyErrorKind, ErrorGroup};
pub use identity::{
    Account, Authority, Cloud, ConfidentialClient, IdentityError, IdentityErrorKind, Provider, PublicApp, PublicClient,
    RefreshToken, Token,
};
pub use proto::{Action, Login, LoginConfig, LoginOutcome, MailAuthError, MailErrorKind, Protocol, SaslIr, Stage};
pub use sasl::{ErrorChallenge, Mechanism};
pub use secret::{AccessToken, Password};

#[cfg(all(feature = "net", target_arch = "wasm32"))]
compile_error!(
    "the `net` feature (tokio + rustls sockets) is not available on wasm32; build with --no-default-features"
);
