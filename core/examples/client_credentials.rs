//! App-only access (client credentials with a secret, or a certificate), then an IMAP login
//! to the mailbox the app was granted (Exchange: `New-ServicePrincipal` +
//! `Add-MailboxPermission`, see `mailoauth doctor`).
//!
//! ```sh
//! MAILOAUTH_CLIENT_ID=<app id> MAILOAUTH_TENANT=<tenant id or domain> \
//! MAILOAUTH_CLIENT_SECRET=<secret>  (or MAILOAUTH_CERT=cert.pem MAILOAUTH_KEY=key.pem) \
//! MAILOAUTH_MAILBOX=shared@contoso.com cargo run -p mailoauth --example client_credentials
//! ```
//! `MAILOAUTH_AUTHORITY` (full URL with tenant) overrides `MAILOAUTH_TENANT`;
//! `MAILOAUTH_IMAP` and `MAILOAUTH_CA_FILE` as in the `device_code` example.
#![allow(clippy::print_stdout)]

use mailoauth::identity::{scopes, CertificateCredential, ClientCredential, ClientSecret};
use mailoauth::net::{login, LoginOptions, MailServer, ReqwestHttp, Security, TlsOptions, TokioPlatform};
use mailoauth::{Authority, Cloud, ConfidentialClient, Mechanism, Protocol};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let authority = match std::env::var("MAILOAUTH_AUTHORITY") {
        Ok(url) => Authority::from_url(&url)?,
        Err(_) => Authority::microsoft(Cloud::Global, &env("MAILOAUTH_TENANT")?),
    };
    let credential = match (std::env::var("MAILOAUTH_CERT"), std::env::var("MAILOAUTH_KEY")) {
        (Ok(cert), Ok(key)) => ClientCredential::Certificate(Box::new(CertificateCredential::from_pem(
            &std::fs::read_to_string(cert)?,
            &std::fs::read_to_string(key)?,
        )?)),
        _ => ClientCredential::Secret(ClientSecret::new(env("MAILOAUTH_CLIENT_SECRET")?)),
    };
    let client = ConfidentialClient::new(
        env("MAILOAUTH_CLIENT_ID")?,
        authority.clone(),
        credential,
        ReqwestHttp::new()?.shared(),
        Arc::new(TokioPlatform),
    );
    let token =
        client.acquire_token_for_client(&[scopes::app_only_scope(authority.provider(), authority.cloud())]).await?;
    let mailbox = env("MAILOAUTH_MAILBOX")?;
    println!("app-only token acquired for app {}; logging in to {mailbox}", client.client_id());

    let imap = authority.mail_hosts().imap;
    let (host, port) = match std::env::var("MAILOAUTH_IMAP") {
        Ok(hp) => {
            let (h, p) = hp.rsplit_once(':').ok_or("MAILOAUTH_IMAP is host:port")?;
            (h.to_owned(), p.parse()?)
        }
        Err(_) => (imap.host, imap.port),
    };
    let mut options = LoginOptions { probe: true, ..Default::default() };
    if let Ok(ca) = std::env::var("MAILOAUTH_CA_FILE") {
        options.tls = TlsOptions { ca_files: vec![ca.into()], ..Default::default() };
    }
    let session = login(
        &MailServer::new(Protocol::Imap, host, port, Security::Tls),
        &mailbox,
        &token.access_token,
        Mechanism::XOAuth2,
        &options,
    )
    .await?;
    println!("IMAP login OK; capabilities: {}", session.capabilities().join(" "));
    Ok(())
}
