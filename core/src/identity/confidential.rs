//! Confidential-client grants: client credentials with a secret or a certificate (client
//! assertion JWT, PS256 + `x5t#S256` by default, RS256 + `x5t` selectable).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::authority::{Authority, Provider};
#[cfg(not(target_arch = "wasm32"))]
use super::cert::CertificateCredential;
use super::error::{IdentityError, IdentityErrorKind};
use super::http::{form_post, send_with_retry, HttpClient, Platform, RetryPolicy};
use super::token::{parse_token_response, Token};

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

/// How a confidential client proves who it is.
#[derive(Debug)]
pub enum ClientCredential {
    /// A client secret.
    Secret(ClientSecret),
    /// A certificate (native targets).
    #[cfg(not(target_arch = "wasm32"))]
    Certificate(Box<CertificateCredential>),
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
        self.authority.require_org_tenant("the client credentials grant")?;
        if self.authority.provider() == Provider::Microsoft && scopes.iter().any(|s| !s.ends_with("/.default")) {
            return Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "app-only tokens take a single '<resource>/.default' scope, e.g. https://outlook.office365.com/.default",
            ));
        }
        let scope = scopes.join(" ");
        let endpoint = self.authority.token_endpoint();
        #[cfg(not(target_arch = "wasm32"))]
        let assertion: String;
        let mut pairs: Vec<(&str, &str)> =
            vec![("client_id", &self.client_id), ("grant_type", "client_credentials"), ("scope", &scope)];
        match &self.credential {
            ClientCredential::Secret(s) => pairs.push(("client_secret", s.expose_secret())),
            #[cfg(not(target_arch = "wasm32"))]
            ClientCredential::Certificate(c) => {
                assertion = c.assertion(&self.client_id, endpoint, self.platform.now())?;
                pairs.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
                pairs.push(("client_assertion", &assertion));
            }
        }
        let resp = send_with_retry(self.http.as_ref(), self.platform.as_ref(), self.retry, form_post(endpoint, &pairs))
            .await?;
        parse_token_response(&resp, self.platform.now(), scopes)
    }
}
