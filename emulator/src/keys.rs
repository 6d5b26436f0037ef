//! The token-signing key (RS256), the JWKS, and verification of certificate client assertions.

use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::util;
use crate::Error;

/// The shipped demo signing key. PUBLIC TEST MATERIAL: it is in the repository, so tokens
/// signed with it prove nothing outside tests.
pub const DEMO_SIGNING_KEY_PEM: &str = include_str!("../keys/demo-signing-key.pem");
/// The self-signed certificate of [`DEMO_SIGNING_KEY_PEM`].
pub const DEMO_SIGNING_CERT_PEM: &str = include_str!("../keys/demo-signing-cert.pem");

/// An RS256 signing key with its certificate.
pub(crate) struct Signer {
    key: RsaKeyPair,
    kid: String,
    cert_der: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    pub(crate) fn demo() -> Result<Self, Error> {
        Self::from_pem(DEMO_SIGNING_KEY_PEM, DEMO_SIGNING_CERT_PEM)
    }

    pub(crate) fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, Error> {
        let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| Error::Config(format!("signing key: {e}")))?;
        let key = match &key_der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(Error::Config("signing key must be an RSA key".into())),
        }
        .map_err(|e| Error::Config(format!("signing key: {e}")))?;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| Error::Config(format!("signing certificate: {e}")))?;
        let cert_der = cert.as_ref().to_vec();
        let comps: ring::rsa::PublicKeyComponents<Vec<u8>> = key.public().into();
        let n = comps.n;
        let e = comps.e;
        let kid = util::b64url(sha1(&cert_der));
        Ok(Self { key, kid, cert_der, n, e, rng: SystemRandom::new() })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Encodes and signs `claims` as a compact RS256 JWT with Microsoft's header
    /// (`typ`, `alg`, `x5t`, `kid`).
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, Error> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let signing_input = format!("{}.{}", util::b64url(header.to_string()), util::b64url(claims.to_string()));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| Error::Internal("RSA signing failed".into()))?;
        Ok(format!("{signing_input}.{}", util::b64url(sig)))
    }

    /// One JWK for the discovery `keys` document, in Microsoft's shape.
    pub(crate) fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": util::b64url(&self.n),
            "e": util::b64url(&self.e),
            "x5c": [util::b64_std(&self.cert_der)],
            "issuer": issuer,
        })
    }

    /// Verifies a JWT this signer produced and returns its claims.
    #[cfg(test)]
    pub(crate) fn verify(&self, token: &str) -> Option<Value> {
        let (input, sig) = token.rsplit_once('.')?;
        let sig = util::b64url_decode(sig)?;
        let pk = signature::RsaPublicKeyComponents { n: &self.n, e: &self.e };
        pk.verify(&signature::RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig).ok()?;
        let (_, payload) = input.split_once('.')?;
        serde_json::from_slice(&util::b64url_decode(payload)?).ok()
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec()
}

/// A certificate registered on an app, ready to verify client assertions.
#[derive(Clone, Debug)]
pub(crate) struct RegisteredCert {
    /// base64url SHA-1 of the DER (`x5t`).
    pub(crate) x5t: String,
    /// base64url SHA-256 of the DER (`x5t#S256`).
    pub(crate) x5t_s256: String,
    /// Upper-case hex SHA-1 thumbprint, as the portal shows it.
    pub(crate) thumbprint_hex: String,
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    /// The RSAPublicKey DER from the certificate's SubjectPublicKeyInfo.
    rsa_public_key: Vec<u8>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl RegisteredCert {
    /// Parses the first certificate in `pem`.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, Error> {
        let der =
            CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::Config(format!("certificate: {e}")))?;
        Self::from_der(der.as_ref())
    }

    pub(crate) fn from_der(der: &[u8]) -> Result<Self, Error> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| Error::Config(format!("certificate: {e}")))?;
        let spki = cert.public_key();
        let is_rsa = spki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
        if !is_rsa {
            return Err(Error::Config("certificate: only RSA certificates are supported for client assertions".into()));
        }
        let s1 = sha1(der);
        let s256 = Sha256::digest(der).to_vec();
        Ok(Self {
            x5t: util::b64url(&s1),
            x5t_s256: util::b64url(&s256),
            thumbprint_hex: s1.iter().map(|b| format!("{b:02X}")).collect(),
            sha1: s1,
            sha256: s256,
            rsa_public_key: spki.subject_public_key.data.to_vec(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// Does a JWT header thumbprint (`x5t`, `x5t#S256` or a hex `kid`) name this
    /// certificate? Accepts base64url or standard base64, with or without padding (MSAL
    /// Python pads), and hex.
    pub(crate) fn matches_thumbprint(&self, value: &str) -> bool {
        let candidates = [util::b64url_decode(value), util::b64_std_decode(value), hex_decode(value)];
        candidates.iter().flatten().any(|d| *d == self.sha1 || *d == self.sha256)
    }

    /// Verifies an RS256 or PS256 signature over `input`.
    pub(crate) fn verify(&self, alg: &str, input: &[u8], sig: &[u8]) -> bool {
        let params: &dyn signature::VerificationAlgorithm = match alg {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
            _ => return false,
        };
        UnparsedPublicKey::new(params, &self.rsa_public_key).verify(input, sig).is_ok()
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_key_signs_and_verifies() {
        let s = Signer::demo().expect("demo key");
        let t = s.sign(&json!({"a": 1})).expect("sign");
        assert_eq!(s.verify(&t), Some(json!({"a": 1})));
        let mut bad = t.clone();
        bad.push('A');
        assert_eq!(s.verify(&bad), None);
    }

    #[test]
    fn demo_client_cert_parses() {
        let c = RegisteredCert::from_pem(crate::config::DEMO_CLIENT_CERT_PEM).expect("cert");
        assert_eq!(c.thumbprint_hex, "FF0A85D1F7CB97168701DEB086B6F49DE7818C90");
        assert!(c.not_after > c.not_before);
        assert!(c.matches_thumbprint(&c.x5t));
        assert!(c.matches_thumbprint(&c.x5t_s256));
        assert!(c.matches_thumbprint("FF0A85D1F7CB97168701DEB086B6F49DE7818C90"));
        assert!(c.matches_thumbprint(&format!("{}=", c.x5t_s256)));
        assert!(!c.matches_thumbprint("AAAA"));
    }
}
