//! Swift bindings of mailoauth (crate `mailoauth-ffi`), made with UniFFI proc-macros.
//!
//! A thin layer: every exported method is one call into the core (`mailoauth`) plus one error
//! conversion ([`MailOAuthError`]). Async exports run on a tokio runtime (`async_runtime =
//! "tokio"`); dropping the foreign future (cancelling the Swift `Task`) drops the Rust future,
//! which stops whatever it was doing (device-code polling, a token request, a login).
//!
//! The Swift package around it (`Package.swift`, `Sources/MailOAuth/`) is generated from this
//! library by the workspace's pinned `uniffi-bindgen` (`generate.sh`); the XCTest suite in
//! `Tests/` tests it from Swift (`scripts/tests.d/50-swift.sh`).

// Every error crosses the FFI as one serialized buffer, once per failed call: the size of
// `MailOAuthError` on the Rust stack buys nothing when boxed, and UniFFI lifts records by value.
#![allow(clippy::result_large_err)]

uniffi::setup_scaffolding!();

mod client;
mod errors;
mod mail;
mod store;
mod types;

pub use client::{ConfidentialClient, DeviceCodeHandler, DeviceFlow, PublicClient, SignInUrlHandler};
pub use errors::{
    diagnose, error_kinds, error_of_kind, Diagnosis, ErrorDetails, MailOAuthError, SaslChallenge, TokenStoreError,
};
pub use mail::{
    app_only_scope, connect_imap, connect_pop, connect_smtp, decode_challenge, mail_scopes, mail_server, oauthbearer,
    xoauth2, MailProtocol, MailServerAddress, MailServerOptions, MailSession, Mechanism, SaslIr, Security,
};
pub use store::{CacheEntry, TokenCache, TokenStoreCallback};
pub use types::{
    Account, AssertionAlgorithm, AuthCodeFlow, AuthorizationOptions, ClientOptions, InteractiveOptions, Token,
};

/// The version of the library (`CARGO_PKG_VERSION`).
#[uniffi::export]
pub fn mailoauth_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
