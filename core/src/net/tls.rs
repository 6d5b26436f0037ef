//! rustls client configuration and handshakes.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{MailStream, TlsOptions};
use crate::MailErrorKind;

/// Configurations built so far, by options and the CA files' modification times (a changed file
/// gets a new one). At most this many are kept.
const KEPT_CONFIGS: usize = 8;

type ConfigKey = (TlsOptions, Vec<Option<std::time::SystemTime>>);

static CONFIGS: std::sync::Mutex<Vec<(ConfigKey, Arc<ClientConfig>)>> = std::sync::Mutex::new(Vec::new());

/// The client configuration for `opts`: built once per process (and again when a CA file
/// changes), then shared. Each rustls connection keeps its configuration alive, so a fresh one
/// per login made every open session carry its own root store and resumption cache (measured
/// with scripts/bench/proxy.sh: about 46 KiB of resident memory per relayed IMAP session with a
/// configuration per login; the figure with a shared one is in cli/README.md); sharing it also
/// lets a second login resume the TLS session, and reads the OS store and the CA files once.
pub(super) fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let mtimes = opts.ca_files.iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect();
    let key: ConfigKey = (opts.clone(), mtimes);
    if let Some((_, config)) = CONFIGS.lock().ok().and_then(|c| c.iter().find(|(k, _)| *k == key).cloned()) {
        return Ok(config);
    }
    let config = build_client_config(opts)?;
    if let Ok(mut kept) = CONFIGS.lock() {
        kept.retain(|(k, _)| k.0 != key.0);
        if kept.len() >= KEPT_CONFIGS {
            kept.remove(0);
        }
        kept.push((key, config.clone()));
    }
    Ok(config)
}

/// Builds a client configuration with the ring provider and the requested roots.
fn build_client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if opts.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if opts.os_roots {
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 && !found.errors.is_empty() {
            return Err(format!(
                "could not load the operating system's trust store: {}",
                found.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
            ));
        }
    }
    for path in &opts.ca_files {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad PEM in CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("unusable CA certificate in {}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no TLS trust roots configured".to_owned());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Runs the TLS handshake on `tcp`, verifying the certificate against `name`.
pub(super) async fn handshake(
    config: &Arc<ClientConfig>,
    name: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<MailStream, (MailErrorKind, String)> {
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|_| (MailErrorKind::Tls, format!("{name:?} is not a valid TLS server name")))?;
    let connector = TlsConnector::from(config.clone());
    match tokio::time::timeout(limit, connector.connect(server_name, tcp)).await {
        Err(_) => Err((MailErrorKind::Timeout, format!("TLS handshake did not finish within {limit:?}"))),
        Ok(Err(e)) => Err((MailErrorKind::Tls, format!("TLS handshake failed: {e}"))),
        Ok(Ok(s)) => Ok(MailStream::Tls(Box::new(s))),
    }
}
