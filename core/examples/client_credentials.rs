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

mod common;

use mailoauth::identity::{scopes, CertificateCredential, ClientCredential, ClientSecret};
use mailoauth::net::{login, ReqwestHttp, TokioPlatform};
use mailoauth::{ConfidentialClient, Mechanism};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let authority = common::authority()?;
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

    let server = common::imap_server(&authority)?;
    let options = common::login_options();
    let session = login(&server, &mailbox, &token.access_token, Mechanism::XOAuth2, &options).await?;
    println!("IMAP login OK; capabilities: {}", session.capabilities().join(" "));
    Ok(())
}
