//! TLS helpers for clients of the test servers.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::{Error, Result};

/// A rustls client configuration (ring provider, TLS 1.2 and 1.3) that trusts
/// only the certificates in the PEM file `ca_file`.
pub fn client_config_for_ca_file(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| Error::Tls(format!("reading {}: {e}", ca_file.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| Error::Tls(format!("parsing {}: {e}", ca_file.display())))?;
        roots.add(cert).map_err(|e| Error::Tls(format!("adding CA: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
