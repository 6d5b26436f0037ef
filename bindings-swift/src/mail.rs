//! SASL strings, mail scopes, and logins to IMAP, SMTP and POP3 that return the authenticated
//! session (`MailSession`) for the app to keep using.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailoauth::identity::scopes;
use mailoauth::net::{self, LoginOptions, MailServer, Timeouts, TlsOptions};
use mailoauth::{AccessToken, Authority, ErrorChallenge, IdentityError, IdentityErrorKind, Protocol};
use tokio::sync::Mutex;

use crate::errors::{session_io, MailOAuthError, SaslChallenge};

/// The mail protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum MailProtocol {
    /// IMAP (`AUTHENTICATE`).
    Imap,
    /// SMTP submission (`AUTH`).
    Smtp,
    /// POP3 (`AUTH`).
    Pop3,
}

impl From<Protocol> for MailProtocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Imap => MailProtocol::Imap,
            Protocol::Smtp => MailProtocol::Smtp,
            Protocol::Pop3 => MailProtocol::Pop3,
        }
    }
}

impl From<MailProtocol> for Protocol {
    fn from(p: MailProtocol) -> Self {
        match p {
            MailProtocol::Imap => Protocol::Imap,
            MailProtocol::Smtp => Protocol::Smtp,
            MailProtocol::Pop3 => Protocol::Pop3,
        }
    }
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Tls,
    /// Plaintext connect, then STARTTLS / STLS before anything secret is sent (no downgrade).
    StartTls,
    /// No TLS at all: the token crosses the network in the clear. Loopback test servers only.
    Plain,
}

impl From<net::Security> for Security {
    fn from(s: net::Security) -> Self {
        match s {
            net::Security::Tls => Security::Tls,
            net::Security::StartTls => Security::StartTls,
            net::Security::Plain => Security::Plain,
        }
    }
}

impl From<Security> for net::Security {
    fn from(s: Security) -> Self {
        match s {
            Security::Tls => net::Security::Tls,
            Security::StartTls => net::Security::StartTls,
            Security::Plain => net::Security::Plain,
        }
    }
}

/// The SASL mechanism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Mechanism {
    /// `XOAUTH2` (Microsoft, Google).
    #[default]
    Xoauth2,
    /// `OAUTHBEARER` (RFC 7628; Google).
    Oauthbearer,
}

impl From<Mechanism> for mailoauth::Mechanism {
    fn from(m: Mechanism) -> Self {
        match m {
            Mechanism::Xoauth2 => mailoauth::Mechanism::XOAuth2,
            Mechanism::Oauthbearer => mailoauth::Mechanism::OAuthBearer,
        }
    }
}

/// Whether to send the SASL initial response with the command (IMAP `SASL-IR`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SaslIr {
    /// Inline when the server advertises it (SMTP and POP3 always allow it) and it fits the
    /// protocol's line limit; continuation otherwise.
    #[default]
    Auto,
    /// Always inline.
    Always,
    /// Never inline: wait for the server's continuation (servers that advertise `SASL-IR` but
    /// reject it).
    Never,
}

impl From<SaslIr> for mailoauth::SaslIr {
    fn from(s: SaslIr) -> Self {
        match s {
            SaslIr::Auto => mailoauth::SaslIr::Auto,
            SaslIr::Always => mailoauth::SaslIr::Always,
            SaslIr::Never => mailoauth::SaslIr::Never,
        }
    }
}

/// Which server to log in to and how. Default: the provider's server (Exchange Online for
/// Microsoft's global cloud, Gmail for Google) with its usual TLS mode.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct MailServerOptions {
    /// The host; default the provider's (`outlook.office365.com`, `smtp.office365.com`, ...).
    #[uniffi(default = None)]
    pub host: Option<String>,
    /// The port; default from the protocol and TLS mode (993, 587, 995; 143, 110 for STARTTLS).
    #[uniffi(default = None)]
    pub port: Option<u16>,
    /// The TLS mode; default implicit TLS (IMAP, POP3) or STARTTLS (SMTP), or what the port implies.
    #[uniffi(default = None)]
    pub security: Option<Security>,
    /// The SASL mechanism (default XOAUTH2).
    #[uniffi(default = None)]
    pub mechanism: Option<Mechanism>,
    /// `microsoft` (default) or `google`: whose servers are the default.
    #[uniffi(default = None)]
    pub provider: Option<String>,
    /// `global` (default), `usgov`, `usgov-dod`, `china`: which Exchange Online.
    #[uniffi(default = None)]
    pub cloud: Option<String>,
    /// A PEM file with an extra CA to trust (private or test servers).
    #[uniffi(default = None)]
    pub ca_file: Option<String>,
    /// IMAP: after login, send one command that detects "authenticated but not connected".
    #[uniffi(default = false)]
    pub probe: bool,
    /// Inline initial response policy (default: auto).
    #[uniffi(default = None)]
    pub sasl_ir: Option<SaslIr>,
    /// Time-out for opening the connection, in seconds (default 15).
    #[uniffi(default = None)]
    pub connect_timeout_secs: Option<f64>,
    /// Time-out of each read and write, in seconds (default 30).
    #[uniffi(default = None)]
    pub io_timeout_secs: Option<f64>,
}

fn seconds(name: &str, value: Option<f64>, default: Duration) -> Result<Duration, MailOAuthError> {
    value.map_or(Ok(default), |v| {
        Duration::try_from_secs_f64(v).map_err(|_| {
            IdentityError::new(IdentityErrorKind::Configuration, format!("{name} must be a non-negative number")).into()
        })
    })
}

/// The server to dial, by the core's rules.
fn resolve(protocol: Protocol, o: &MailServerOptions) -> Result<MailServer, MailOAuthError> {
    let authority = Authority::from_options(o.provider.as_deref(), None, None, o.cloud.as_deref())?;
    Ok(MailServer::for_authority(protocol, &authority, o.host.as_deref(), o.port, o.security.map(Into::into)))
}

/// Where a login goes: host, port and TLS mode.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct MailServerAddress {
    /// The host name or address.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The TLS mode.
    pub security: Security,
}

/// The server `connectImap` / `connectSmtp` / `connectPop` dial for `options`, by the core's
/// rules: the provider's server per cloud unless `host` is given, the port the TLS mode
/// implies, and the TLS mode a port implies (465, 993, 995: implicit TLS).
#[uniffi::export(default(options = None))]
pub fn mail_server(
    protocol: MailProtocol,
    options: Option<MailServerOptions>,
) -> Result<MailServerAddress, MailOAuthError> {
    let server = resolve(protocol.into(), &options.unwrap_or_default())?;
    Ok(MailServerAddress { host: server.host, port: server.port, security: server.security.into() })
}

/// Logs `user` in with `access_token` over `protocol` and returns the open session.
async fn connect(
    protocol: Protocol,
    user: String,
    access_token: String,
    options: Option<MailServerOptions>,
) -> Result<Arc<MailSession>, MailOAuthError> {
    let o = options.unwrap_or_default();
    let server = resolve(protocol, &o)?;
    let defaults = Timeouts::default();
    let login_options = LoginOptions {
        tls: TlsOptions { ca_files: o.ca_file.into_iter().map(PathBuf::from).collect(), ..TlsOptions::default() },
        timeouts: Timeouts {
            connect: seconds("connect_timeout_secs", o.connect_timeout_secs, defaults.connect)?,
            io: seconds("io_timeout_secs", o.io_timeout_secs, defaults.io)?,
        },
        probe: o.probe,
        sasl_ir: o.sasl_ir.unwrap_or_default().into(),
        ..LoginOptions::default()
    };
    let mechanism = o.mechanism.unwrap_or_default().into();
    let session = net::login(&server, &user, &AccessToken::new(access_token), mechanism, &login_options).await?;
    Ok(Arc::new(MailSession::new(session)))
}

/// Logs in to an IMAP server with XOAUTH2 (or OAUTHBEARER) and returns the authenticated
/// session: its capabilities, and the connection to keep using.
#[uniffi::export(async_runtime = "tokio", default(options = None))]
pub async fn connect_imap(
    user: String,
    access_token: String,
    options: Option<MailServerOptions>,
) -> Result<Arc<MailSession>, MailOAuthError> {
    connect(Protocol::Imap, user, access_token, options).await
}

/// Logs in to an SMTP submission server (`AUTH XOAUTH2`) and returns the authenticated session.
#[uniffi::export(async_runtime = "tokio", default(options = None))]
pub async fn connect_smtp(
    user: String,
    access_token: String,
    options: Option<MailServerOptions>,
) -> Result<Arc<MailSession>, MailOAuthError> {
    connect(Protocol::Smtp, user, access_token, options).await
}

/// Logs in to a POP3 server (`AUTH XOAUTH2`) and returns the authenticated session.
#[uniffi::export(async_runtime = "tokio", default(options = None))]
pub async fn connect_pop(
    user: String,
    access_token: String,
    options: Option<MailServerOptions>,
) -> Result<Arc<MailSession>, MailOAuthError> {
    connect(Protocol::Pop3, user, access_token, options).await
}

/// An authenticated mail connection: send commands and read the answers line by line.
#[derive(Debug, uniffi::Object)]
pub struct MailSession {
    protocol: Protocol,
    capabilities: Vec<String>,
    greeting: String,
    is_tls: bool,
    session: Mutex<Option<net::MailSession>>,
}

impl MailSession {
    fn new(session: net::MailSession) -> MailSession {
        MailSession {
            protocol: session.protocol(),
            capabilities: session.capabilities().to_vec(),
            greeting: session.outcome().greeting.clone(),
            is_tls: session.is_tls(),
            session: Mutex::new(Some(session)),
        }
    }

    fn closed(&self) -> MailOAuthError {
        session_io(self.protocol, std::io::Error::new(std::io::ErrorKind::NotConnected, "the session was closed"))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl MailSession {
    /// IMAP, SMTP or POP3.
    pub fn mail_protocol(&self) -> MailProtocol {
        self.protocol.into()
    }

    /// The capabilities the server announced after login (SMTP: the EHLO keywords).
    pub fn capabilities(&self) -> Vec<String> {
        self.capabilities.clone()
    }

    /// The server's greeting line.
    pub fn greeting(&self) -> String {
        self.greeting.clone()
    }

    /// Whether the connection is encrypted (implicit TLS or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.is_tls
    }

    /// Sends one command line (CRLF is added).
    pub async fn send_line(&self, line: String) -> Result<(), MailOAuthError> {
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or_else(|| self.closed())?;
        session.write_line(&line).await.map_err(|e| session_io(self.protocol, e))
    }

    /// Reads one line of the server's answer (without CRLF).
    pub async fn read_line(&self) -> Result<String, MailOAuthError> {
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or_else(|| self.closed())?;
        session.read_line().await.map_err(|e| session_io(self.protocol, e))
    }

    /// Closes the connection (without a LOGOUT / QUIT: send one first if the server should
    /// see a clean end). Later calls fail with `MailNetworkError`.
    pub async fn close(&self) {
        self.session.lock().await.take();
    }
}

/// The base64 SASL XOAUTH2 client response (`user=<user>^Aauth=Bearer <token>^A^A`).
#[uniffi::export]
pub fn xoauth2(user: String, access_token: String) -> String {
    mailoauth::sasl::xoauth2(&user, &access_token)
}

/// The base64 SASL OAUTHBEARER client response (RFC 7628); `host` and `port` are optional.
#[uniffi::export(default(host = None, port = None))]
pub fn oauthbearer(user: String, access_token: String, host: Option<String>, port: Option<u16>) -> String {
    mailoauth::sasl::oauthbearer(&user, &access_token, host.as_deref(), port)
}

/// Decodes a server's base64 SASL error challenge (`ConfigurationError` if it is not base64 JSON).
#[uniffi::export]
pub fn decode_challenge(challenge: String) -> Result<SaslChallenge, MailOAuthError> {
    let c = ErrorChallenge::decode(&challenge)
        .map_err(|e| IdentityError::new(IdentityErrorKind::Configuration, e.to_string()))?;
    Ok(SaslChallenge::from(&c))
}

/// The delegated mail scopes for `protocols` with the provider's full resource URL
/// (`https://outlook.office.com/IMAP.AccessAsUser.All`), plus `offline_access` when `refresh`.
/// Google: `https://mail.google.com/`.
#[uniffi::export(default(provider = None, cloud = None, refresh = true))]
pub fn mail_scopes(
    protocols: Vec<MailProtocol>,
    provider: Option<String>,
    cloud: Option<String>,
    refresh: bool,
) -> Result<Vec<String>, MailOAuthError> {
    let a = Authority::from_options(provider.as_deref(), None, None, cloud.as_deref())?;
    let protocols: Vec<Protocol> = protocols.into_iter().map(Protocol::from).collect();
    Ok(scopes::mail_scopes(a.provider(), a.cloud(), &protocols, refresh))
}

/// The app-only (client credentials) scope: `https://outlook.office365.com/.default`.
#[uniffi::export(default(provider = None, cloud = None))]
pub fn app_only_scope(provider: Option<String>, cloud: Option<String>) -> Result<String, MailOAuthError> {
    let a = Authority::from_options(provider.as_deref(), None, None, cloud.as_deref())?;
    Ok(scopes::app_only_scope(a.provider(), a.cloud()))
}
