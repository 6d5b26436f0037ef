//! Token acquisition: authorities and clouds, scopes, the grants a mail app needs, the
//! errors they return, and a sanity check of tokens before a mail login.
//!
//! Every grant is a sans-IO machine ([`flow`]) that [`PublicApp`] and [`ConfidentialClient`]
//! build; HTTP and the clock are injected ([`HttpClient`], [`Platform`]); with the `net` feature,
//! [`crate::net::ReqwestHttp`] and [`crate::net::TokioPlatform`] are the native defaults.

#[allow(unused_imports)]
use crate::prelude::*;

mod authority;
#[cfg(not(target_arch = "wasm32"))]
mod cert;
mod check;
mod confidential;
mod error;
pub mod flow;
mod http;
mod pkce;
mod public;
pub mod scopes;
mod token;
mod url;

pub use authority::{is_loopback_host, Authority, Cloud, HostPort, MailHosts, Provider};
#[cfg(not(target_arch = "wasm32"))]
pub use cert::CertificateCredential;
pub use check::{check_access_token, TokenClaims, TokenWarning};
pub use confidential::{
    client_assertion, client_credentials_grant, AssertionAlgorithm, AssertionSigner, ClientCredential, ClientSecret,
    ConfidentialClient,
};
#[cfg(feature = "hint-texts")]
pub use error::AADSTS_HINTS;
pub use error::{aadsts_hint, kind_hint, IdentityError, IdentityErrorDetails, IdentityErrorKind, HINT_TEXTS};
pub use http::{
    BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, MaybeSendSync, Method, Platform, Retry, RetryPolicy,
    RetryStep, DEFAULT_HTTP_TIMEOUT, MAX_RESPONSE_BYTES,
};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use pkce::random_suffix;
pub use pkce::s256_challenge;
pub use public::{
    parse_redirect, AuthorizationOptions, AuthorizationRequest, DeviceCodeFlow, DevicePoll, PublicApp, PublicClient,
    MAX_DEVICE_CODE_LIFETIME_SECS, MAX_POLL_INTERVAL_SECS, MIN_POLL_INTERVAL_SECS,
};
pub use token::{account_from, decode_jwt_claims, Account, RefreshToken, Token, MAX_TOKEN_LIFETIME_SECS};
