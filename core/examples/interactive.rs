//! Sign in through the browser (authorization code + PKCE, loopback redirect), print who
//! signed in, then log in to IMAP. Over SSH the URL is printed: open it on any machine.
//!
//! ```sh
//! MAILOAUTH_CLIENT_ID=<app id> cargo run -p mailoauth --example interactive
//! ```
//! Environment as in the `device_code` example.
#![allow(clippy::print_stdout)]

use mailoauth::identity::scopes;
use mailoauth::net::{
    login, InteractiveOptions, LoginOptions, MailServer, ReqwestHttp, Security, TlsOptions, TokioPlatform,
};
use mailoauth::{Authority, Mechanism, Protocol, PublicClient};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client_id = std::env::var("MAILOAUTH_CLIENT_ID").map_err(|_| "set MAILOAUTH_CLIENT_ID")?;
    let authority = Authority::from_url(
        &std::env::var("MAILOAUTH_AUTHORITY")
            .unwrap_or_else(|_| "https://login.microsoftonline.com/organizations".into()),
    )?;
    let client = PublicClient::new(client_id, authority.clone(), ReqwestHttp::new()?.shared(), Arc::new(TokioPlatform));
    let wanted = scopes::mail_scopes(authority.provider(), authority.cloud(), &[Protocol::Imap], true);

    let token = client
        .acquire_token_interactive(&wanted, &InteractiveOptions::default(), |url| {
            println!("Open this URL to sign in (a browser opens by itself on a desktop):\n{url}");
        })
        .await?;
    let user = token.account.as_ref().map(|a| a.sasl_user().to_owned()).unwrap_or_default();
    println!("signed in as {user}");

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
        &user,
        &token.access_token,
        Mechanism::XOAuth2,
        &options,
    )
    .await?;
    println!("IMAP login OK; capabilities: {}", session.capabilities().join(" "));
    Ok(())
}
