//! Confidential-client grants: client credentials with a secret or a certificate (client
//! assertion JWT, PS256 + `x5t#S256` by default, RS256 + `x5t` selectable).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::authority::{Authority, Provider};
#[cfg(not(target_arch = "wasm32"))]
use super::cert::CertificateCredential;
use super::error::{IdentityError, IdentityErrorKind};
use super::flow::{drive, TokenGrant};
use super::http::{form_post, HttpClient, Platform, RetryPolicy};
use super::token::Token;

pub use crate::secret::ClientSecret;

/// The signature scheme of a client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256 and header `x5t#S256` (Microsoft's current documentation).
    #[default]
    #[serde(rename = "PS256")]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and header `x5t` (SHA-1 thumbprint; older documentation).
    #[serde(rename = "RS256")]
    Rs256,
}

/// Signs client assertions with a key this library does not hold: Node's `crypto`, a hardware
/// key, the Keychain. The library builds the JWT (header with the certificate thumbprint,
/// `aud`/`iss`/`sub`/`jti`/`nbf`/`exp` claims) and asks for the signature.
pub trait AssertionSigner: super::http::MaybeSendSync {
    /// The DER bytes of the certificate registered with the app.
    fn certificate_der(&self) -> Vec<u8>;
    /// PS256 (default) or RS256.
    fn algorithm(&self) -> AssertionAlgorithm {
        AssertionAlgorithm::Ps256
    }
    /// Signs `signing_input`: RSASSA-PSS with SHA-256 (salt length 32) for PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 for RS256.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String>;
}

/// A signed client assertion (RFC 7523) for `client_id` at `audience` (the token endpoint):
/// PS256 with `x5t#S256`, or RS256 with `x5t` (SHA-1 thumbprint).
pub fn client_assertion(
    signer: &dyn AssertionSigner,
    client_id: &str,
    audience: &str,
    now: i64,
) -> Result<String, IdentityError> {
    use crate::base64::encode_url;
    use crate::json::{Number, Object, Value};
    use sha1::Digest as _;
    let der = signer.certificate_der();
    let (alg, x5t_name, x5t) = match signer.algorithm() {
        AssertionAlgorithm::Ps256 => ("PS256", "x5t#S256", encode_url(sha2::Sha256::digest(&der))),
        AssertionAlgorithm::Rs256 => ("RS256", "x5t", encode_url(sha1::Sha1::digest(&der))),
    };
    let mut header = Object::new();
    for (k, v) in [("alg", alg), ("typ", "JWT"), (x5t_name, &x5t)] {
        header.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let jti = super::pkce::guid()?;
    let mut claims = Object::new();
    for (k, v) in [("aud", audience), ("iss", client_id), ("sub", client_id), ("jti", &jti)] {
        claims.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    for (k, t) in [("nbf", now), ("iat", now), ("exp", now + 600)] {
        claims.insert(k.to_owned(), Value::Number(Number::I64(t)));
    }
    let signing_input = format!(
        "{}.{}",
        encode_url(crate::json::to_string(&Value::Object(header))),
        encode_url(crate::json::to_string(&Value::Object(claims)))
    );
    let sig = signer.sign(signing_input.as_bytes()).map_err(|e| {
        IdentityError::new(IdentityErrorKind::Configuration, format!("signing the client assertion failed: {e}"))
    })?;
    Ok(format!("{signing_input}.{}", encode_url(sig)))
}

/// How a confidential client proves who it is.
#[derive(Debug)]
pub enum ClientCredential {
    /// A client secret.
    Secret(ClientSecret),
    /// A certificate (native targets).
    #[cfg(not(target_arch = "wasm32"))]
    Certificate(Box<CertificateCredential>),
    /// A certificate whose key signs elsewhere ([`AssertionSigner`]), on every target.
    Signer(alloc::sync::Arc<dyn AssertionSigner>),
}

impl ClientCredential {
    /// The credential of a confidential client from what a caller gave: exactly one of a
    /// client secret and a certificate (a [`ClientCredential::Certificate`] or
    /// [`ClientCredential::Signer`]); both or neither is a configuration error, so no front end
    /// lets one silently win.
    pub fn exactly_one(
        secret: Option<ClientSecret>,
        certificate: Option<ClientCredential>,
    ) -> Result<ClientCredential, IdentityError> {
        match (secret, certificate) {
            (Some(s), None) => Ok(ClientCredential::Secret(s)),
            (None, Some(c)) => Ok(c),
            (Some(_), Some(_)) => Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "give either a client secret or a certificate, not both",
            )),
            (None, None) => Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "a confidential client needs a client secret or a certificate",
            )),
        }
    }
}

impl fmt::Debug for dyn AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssertionSigner({:?})", self.algorithm())
    }
}

/// A confidential client (daemon, web app): has a secret or a certificate.
pub struct ConfidentialClient {
    client_id: String,
    authority: Authority,
    credential: ClientCredential,
    http: Arc<dyn HttpClient>,
    platform: Arc<dyn Platform>,
    retry: RetryPolicy,
}

impl fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority.url())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl ConfidentialClient {
    /// A client over an injected HTTP stack and platform.
    pub fn new(
        client_id: impl Into<String>,
        authority: Authority,
        credential: ClientCredential,
        http: Arc<dyn HttpClient>,
        platform: Arc<dyn Platform>,
    ) -> ConfidentialClient {
        ConfidentialClient {
            client_id: client_id.into(),
            authority,
            credential,
            http,
            platform,
            retry: RetryPolicy::default(),
        }
    }

    /// Changes the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The authority.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// App-only token (client credentials grant). For Exchange Online use
    /// `https://outlook.office365.com/.default` ([`super::scopes::app_only_scope`]); the
    /// tenant must be a GUID or domain (or `organizations`).
    pub async fn acquire_token_for_client(&self, scopes: &[String]) -> Result<Token, IdentityError> {
        let mut grant = self.client_credentials(scopes, self.platform.now())?;
        drive(&mut grant, self.http.as_ref(), self.platform.as_ref()).await
    }

    /// The client credentials grant as a sans-IO machine ([`super::flow`]): the request is
    /// built (and a certificate's assertion signed) at `now`, the host's clock.
    pub fn client_credentials(&self, scopes: &[String], now: i64) -> Result<TokenGrant, IdentityError> {
        client_credentials_grant(&self.client_id, &self.authority, &self.credential, self.retry, scopes, now)
    }
}

/// The client credentials grant of `client_id` with `credential` at `authority`, as a sans-IO
/// machine built at `now` (for hosts that hold no [`ConfidentialClient`]: the wasm build).
pub fn client_credentials_grant(
    client_id: &str,
    authority: &Authority,
    credential: &ClientCredential,
    retry: RetryPolicy,
    scopes: &[String],
    now: i64,
) -> Result<TokenGrant, IdentityError> {
    authority.require_org_tenant("the client credentials grant")?;
    if authority.provider() == Provider::Microsoft && scopes.iter().any(|s| !s.ends_with("/.default")) {
        return Err(IdentityError::new(
            IdentityErrorKind::Configuration,
            "app-only tokens take a single '<resource>/.default' scope, e.g. https://outlook.office365.com/.default",
        ));
    }
    let scope = scopes.join(" ");
    let endpoint = authority.token_endpoint();
    let assertion: String;
    let mut pairs: Vec<(&str, &str)> =
        vec![("client_id", client_id), ("grant_type", "client_credentials"), ("scope", &scope)];
    match credential {
        ClientCredential::Secret(s) => pairs.push(("client_secret", s.expose_secret())),
        #[cfg(not(target_arch = "wasm32"))]
        ClientCredential::Certificate(c) => {
            assertion = client_assertion(c.as_ref(), client_id, endpoint, now)?;
            pairs.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
            pairs.push(("client_assertion", &assertion));
        }
        ClientCredential::Signer(s) => {
            assertion = client_assertion(s.as_ref(), client_id, endpoint, now)?;
            pairs.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
            pairs.push(("client_assertion", &assertion));
        }
    }
    Ok(TokenGrant::new(form_post(endpoint, &pairs), retry, scopes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_credential() {
        let secret = || Some(ClientSecret::new("s"));
        assert!(matches!(ClientCredential::exactly_one(secret(), None), Ok(ClientCredential::Secret(_))));
        let both = ClientCredential::exactly_one(secret(), Some(ClientCredential::Secret(ClientSecret::new("t"))));
        assert_eq!(both.expect_err("both").kind, IdentityErrorKind::Configuration);
        let neither = ClientCredential::exactly_one(None, None);
        assert_eq!(neither.expect_err("neither").kind, IdentityErrorKind::Configuration);
    }
}
