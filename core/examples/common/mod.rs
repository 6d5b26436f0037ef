//! What the examples share: the IMAP server and TLS trust from the environment.

use mailoauth::net::{LoginOptions, MailServer, TlsOptions};
use mailoauth::{Authority, Protocol};

/// The IMAP server: `MAILOAUTH_IMAP` (`host:port`, implicit TLS) or the cloud's server.
pub(crate) fn imap_server(authority: &Authority) -> Result<MailServer, Box<dyn std::error::Error>> {
    let (host, port) = match std::env::var("MAILOAUTH_IMAP") {
        Ok(hp) => {
            let (h, p) = hp.rsplit_once(':').ok_or("MAILOAUTH_IMAP is host:port")?;
            (Some(h.to_owned()), Some(p.parse()?))
        }
        Err(_) => (None, None),
    };
    Ok(MailServer::for_authority(Protocol::Imap, authority, host.as_deref(), port, None))
}

/// Login options with the mailbox probe, trusting `MAILOAUTH_CA_FILE` if set.
pub(crate) fn login_options() -> LoginOptions {
    let mut options = LoginOptions { probe: true, ..Default::default() };
    if let Ok(ca) = std::env::var("MAILOAUTH_CA_FILE") {
        options.tls = TlsOptions { ca_files: vec![ca.into()], ..Default::default() };
    }
    options
}

/// The authority: `MAILOAUTH_AUTHORITY` (a full URL with tenant) or Microsoft's
/// `organizations` (or `MAILOAUTH_TENANT`).
pub(crate) fn authority() -> Result<Authority, Box<dyn std::error::Error>> {
    let url = std::env::var("MAILOAUTH_AUTHORITY").ok();
    let tenant = std::env::var("MAILOAUTH_TENANT").ok();
    Ok(Authority::from_options(None, url.as_deref(), tenant.as_deref(), None)?)
}
