#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The browser's wasm builds without std (see the `std` feature): no std panic machinery, and
// what the core formats is all that is formatted. Every other build has std.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

/// What std's prelude brings, for the builds without std (each module imports it).
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}
mod sync;

/// Concatenates strings (anything `AsRef<str>`): `format!` for messages without `core::fmt`
/// (numbers through [`text::decimal`]).
#[macro_export]
#[doc(hidden)]
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {
        $crate::text::concat(&[$(::core::convert::AsRef::<str>::as_ref(&$piece)),+])
    };
}

pub mod base64;
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
