//! Sign in through the browser (authorization code + PKCE, loopback redirect), print who
//! signed in, then log in to IMAP. Over SSH the URL is printed: open it on any machine.
//!
//! ```sh
//! MAILOAUTH_CLIENT_ID=<app id> cargo run -p mailoauth --example interactive
//! ```
//! Environment as in the `device_code` example.
#![allow(clippy::print_stdout)]

mod common;

use mailoauth::identity::scopes;
use mailoauth::net::{login, InteractiveOptions, ReqwestHttp, TokioPlatform};
use mailoauth::{Mechanism, Protocol, PublicClient};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client_id = std::env::var("MAILOAUTH_CLIENT_ID").map_err(|_| "set MAILOAUTH_CLIENT_ID")?;
    let authority = common::authority()?;
    let client = PublicClient::new(client_id, authority.clone(), ReqwestHttp::new()?.shared(), Arc::new(TokioPlatform));
    let wanted = scopes::mail_scopes(authority.provider(), authority.cloud(), &[Protocol::Imap], true);

    let token = client
        .acquire_token_interactive(&wanted, &InteractiveOptions::default(), |url| {
            println!("Open this URL to sign in (a browser opens by itself on a desktop):\n{url}");
        })
        .await?;
    let user = token.account.as_ref().map(|a| a.sasl_user().to_owned()).unwrap_or_default();
    println!("signed in as {user}");

    let server = common::imap_server(&authority)?;
    let options = common::login_options();
    let session = login(&server, &user, &token.access_token, Mechanism::XOAuth2, &options).await?;
    println!("IMAP login OK; capabilities: {}", session.capabilities().join(" "));
    Ok(())
}
