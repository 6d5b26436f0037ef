//! Certificate credentials: a client assertion JWT signed with the app's RSA key (ring).

use std::fmt;

use super::confidential::AssertionAlgorithm;
use super::error::{IdentityError, IdentityErrorKind};

/// A certificate credential: the certificate registered with the app and its RSA private key.
pub struct CertificateCredential {
    cert_der: Vec<u8>,
    key: ring::signature::RsaKeyPair,
    algorithm: AssertionAlgorithm,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.thumbprint_sha256())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// From a PEM certificate and a PEM RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`). Both may be in one PEM text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, IdentityError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |m: String| IdentityError::new(IdentityErrorKind::Configuration, m);
        let cert =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| bad(format!("certificate PEM: {e}")))?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad(format!("private key PEM: {e}")))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => ring::signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => ring::signature::RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(bad("the private key must be an RSA key (PKCS#8 or PKCS#1)".to_owned())),
        }
        .map_err(|e| bad(format!("unusable RSA private key: {e}")))?;
        Ok(CertificateCredential { cert_der: cert.to_vec(), key, algorithm: AssertionAlgorithm::Ps256 })
    }

    /// Chooses the signature scheme.
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// base64url SHA-256 thumbprint of the certificate (`x5t#S256`).
    pub fn thumbprint_sha256(&self) -> String {
        crate::base64::encode_url(ring::digest::digest(&ring::digest::SHA256, &self.cert_der))
    }

    /// base64url SHA-1 thumbprint of the certificate (`x5t`).
    pub fn thumbprint_sha1(&self) -> String {
        crate::base64::encode_url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der))
    }

    /// A signed client assertion for `client_id` at `audience` (the token endpoint).
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<String, IdentityError> {
        super::confidential::client_assertion(self, client_id, audience, now)
    }
}

impl super::confidential::AssertionSigner for CertificateCredential {
    fn certificate_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    fn algorithm(&self) -> AssertionAlgorithm {
        self.algorithm
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
        let padding: &dyn ring::signature::RsaEncoding = match self.algorithm {
            AssertionAlgorithm::Ps256 => &ring::signature::RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &ring::signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(padding, &ring::rand::SystemRandom::new(), signing_input, &mut sig)
            .map_err(|_| "RSA signing failed".to_owned())?;
        Ok(sig)
    }
}
