//! Sign in with the device-code flow, print who signed in, then log in to IMAP.
//!
//! ```sh
//! MAILOAUTH_CLIENT_ID=<app id> cargo run -p mailoauth --example device_code
//! ```
//! Environment: `MAILOAUTH_CLIENT_ID` (required), `MAILOAUTH_AUTHORITY` (default
//! `https://login.microsoftonline.com/organizations`; the emulator's URL works),
//! `MAILOAUTH_IMAP` (`host:port`, default the cloud's IMAP server, implicit TLS),
//! `MAILOAUTH_CA_FILE` (an extra CA to trust, e.g. a test server's).
#![allow(clippy::print_stdout)]

mod common;

use mailoauth::identity::scopes;
use mailoauth::net::{login, ReqwestHttp, TokioPlatform};
use mailoauth::{Mechanism, Protocol, PublicClient};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client_id = std::env::var("MAILOAUTH_CLIENT_ID").map_err(|_| "set MAILOAUTH_CLIENT_ID")?;
    let authority = common::authority()?;
    let client = PublicClient::new(client_id, authority.clone(), ReqwestHttp::new()?.shared(), Arc::new(TokioPlatform));
    let wanted = scopes::mail_scopes(authority.provider(), authority.cloud(), &[Protocol::Imap], true);

    let flow = client.start_device_flow(&wanted).await?;
    println!("{}", flow.message);
    let token = client.wait_device_flow(&flow).await?;
    let user = token.account.as_ref().map(|a| a.sasl_user().to_owned()).unwrap_or_default();
    println!(
        "signed in as {user}; token valid for {} s",
        token.expires_at - mailoauth::identity::Platform::now(&TokioPlatform)
    );

    let server = common::imap_server(&authority)?;
    let options = common::login_options();
    let session = login(&server, &user, &token.access_token, Mechanism::XOAuth2, &options).await?;
    println!("IMAP login OK; capabilities: {}", session.capabilities().join(" "));
    Ok(())
}
