//! Starting and controlling an emulator: [`Emulator`] and [`EmulatorBuilder`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{AppConfig, Config, TenantConfig, UserConfig};
use crate::routes::{self, control::PendingDeviceCode, control::SettingsUpdate};
use crate::state::{Counters, Fault, Shared};
use crate::Error;

/// Configures and starts an [`Emulator`].
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    config: Config,
    bind: SocketAddr,
    https: bool,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self { config: Config::demo(), bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0), https: false }
    }
}

impl EmulatorBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Starts without the demo tenant, apps and users.
    pub fn without_demo(mut self) -> Self {
        self.config.demo = false;
        self
    }

    /// Adds a tenant.
    pub fn tenant(mut self, tenant: TenantConfig) -> Self {
        self.config.tenants.push(tenant);
        self
    }

    /// Adds an app registration.
    pub fn app(mut self, app: AppConfig) -> Self {
        self.config.apps.push(app);
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: UserConfig) -> Self {
        self.config.users.push(user);
        self
    }

    /// Access-token lifetime (`expires_in`); whole seconds.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.token_lifetime_secs = lifetime.as_secs();
        self
    }

    /// Device-code polling interval; whole seconds (0 allows polling as fast as you like).
    pub fn device_code_interval(mut self, interval: Duration) -> Self {
        self.config.device_code_interval_secs = interval.as_secs();
        self
    }

    /// Approves every interactive sign-in (authorize page, device codes) as this user.
    pub fn auto_approve_as(mut self, username: impl Into<String>) -> Self {
        self.config.auto_approve_as = Some(username.into());
        self
    }

    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Port to listen on (0 = a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.bind.set_port(port);
        self
    }

    /// Serve HTTPS with a freshly generated local CA (see [`Emulator::ca_pem`]).
    pub fn https(mut self, yes: bool) -> Self {
        self.https = yes;
        self
    }

    /// Starts on the caller's tokio runtime. The server stops when the [`Emulator`] is dropped.
    pub async fn start(self) -> Result<Emulator, Error> {
        let listener = TcpListener::bind(self.bind).await?;
        let (shared, tls, ca_pem, addr) = self.prepare(listener.local_addr()?)?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, shared.clone(), tls, rx));
        Ok(Emulator { shared, addr, ca_pem, shutdown: Some(tx), thread: None })
    }

    /// Starts on a runtime of its own in a background thread, for synchronous code. The
    /// server stops when the [`Emulator`] is dropped.
    pub fn start_blocking(self) -> Result<Emulator, Error> {
        let std_listener = std::net::TcpListener::bind(self.bind)?;
        std_listener.set_nonblocking(true)?;
        let (shared, tls, ca_pem, addr) = self.prepare(std_listener.local_addr()?)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("mailoauth-emulator")
            .build()?;
        let (tx, rx) = oneshot::channel::<()>();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new().name("mailoauth-emulator".into()).spawn(move || {
            rt.block_on(async move {
                if let Ok(listener) = TcpListener::from_std(std_listener) {
                    serve(listener, server_shared, tls, rx).await;
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        })?;
        Ok(Emulator { shared, addr, ca_pem, shutdown: Some(tx), thread: Some(thread) })
    }

    #[allow(clippy::type_complexity)]
    fn prepare(
        self,
        local: SocketAddr,
    ) -> Result<(Arc<Shared>, Option<TlsAcceptor>, Option<String>, SocketAddr), Error> {
        let host_ip = if local.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { local.ip() };
        let url_addr = SocketAddr::new(host_ip, local.port());
        let scheme = if self.https { "https" } else { "http" };
        let base_url = format!("{scheme}://{url_addr}");
        let (tls, ca_pem) = if self.https {
            let (acceptor, ca) = crate::tls::acceptor(host_ip)?;
            (Some(acceptor), Some(ca))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared::new(&self.config, base_url)?);
        Ok((shared, tls, ca_pem, local))
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>, shutdown: oneshot::Receiver<()>) {
    let app = routes::router(shared);
    let signal = async move {
        let _ = shutdown.await;
    };
    match tls {
        None => {
            let _ = axum::serve(listener, app).with_graceful_shutdown(signal).await;
        }
        Some(acceptor) => {
            let tls_listener = TlsListener::new(listener, acceptor);
            let _ = axum::serve(tls_listener, app).with_graceful_shutdown(signal).await;
        }
    }
}

/// Accepts TCP connections and completes TLS handshakes concurrently.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    fn new(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local = listener.local_addr().unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                if tx.is_closed() {
                    break;
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                    if let Ok(Ok(tls)) = hs {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Self { rx, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accept loop ended: never resolve again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// A running emulator. Dropping it stops the server.
///
/// Every control method applies immediately, to the running server, and is also
/// available over HTTP under `/_emulator/…` (see the README).
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("base_url", &self.shared.base_url).finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Emulator {
    /// A builder starting from the demo configuration.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts with `config` on `127.0.0.1:0` (HTTP) on the caller's tokio runtime.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::builder().config(config).start().await
    }

    /// Starts with `config` on `127.0.0.1:0` (HTTP) on a background thread.
    pub fn start_blocking(config: Config) -> Result<Self, Error> {
        Self::builder().config(config).start_blocking()
    }

    /// `http://127.0.0.1:PORT` (or `https://…`), without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{base_url}/{tenant}`: what MSAL and friends call the authority.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base_url())
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url())
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn devicecode_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", self.base_url())
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/authorize`.
    pub fn authorize_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/authorize", self.base_url())
    }

    /// The mail-server token validation URL (`introspection_url` for Dovecot, mode `auth`).
    pub fn introspection_url(&self) -> String {
        format!("{}/_emulator/introspect", self.base_url())
    }

    /// The PEM of the CA that signed the HTTPS certificate (HTTPS only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The RS256 key id (`kid`, also `x5t`) of issued tokens.
    pub fn signing_key_id(&self) -> String {
        self.shared.signer.kid().to_owned()
    }

    /// Registers (or replaces) an app.
    pub fn add_app(&self, app: AppConfig) -> Result<(), Error> {
        self.shared.lock().add_app(app)
    }

    /// Adds (or replaces) a user; revocation state and consents are kept on replace.
    pub fn add_user(&self, user: UserConfig) -> Result<(), Error> {
        self.shared.lock().add_user(user)
    }

    /// Adds (or replaces) a tenant.
    pub fn add_tenant(&self, tenant: TenantConfig) -> Result<(), Error> {
        self.shared.lock().add_tenant(tenant)
    }

    /// Queues a fault for the next matching calls.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Removes all queued faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Revokes all of a user's refresh tokens (AADSTS50173 on use) and access tokens issued
    /// so far (the introspection endpoint reports them inactive, as Exchange Online does
    /// with continuous access evaluation).
    pub fn revoke_user(&self, username: &str) -> Result<(), Error> {
        if self.shared.lock().revoke_user(username) {
            Ok(())
        } else {
            Err(Error::NotFound(format!("user '{username}'")))
        }
    }

    /// Makes access tokens issued so far expire now (all users with `None`). Returns how many.
    pub fn expire_access_tokens(&self, username: Option<&str>) -> usize {
        self.shared.lock().expire_access_tokens(username)
    }

    /// Moves the emulator's clock forward (tokens, codes and device codes age accordingly).
    pub fn advance_clock(&self, by: Duration) {
        let secs = crate::state::secs(by.as_secs());
        let mut inner = self.shared.lock();
        inner.clock_offset = crate::state::shift(inner.clock_offset, secs);
    }

    /// The emulator's current time (Unix seconds, clock shift included).
    pub fn now(&self) -> i64 {
        self.shared.lock().now()
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Resets the request counters.
    pub fn reset_counters(&self) {
        self.shared.lock().counters = Counters::default();
    }

    /// Device codes waiting for the user.
    pub fn pending_device_codes(&self) -> Vec<PendingDeviceCode> {
        self.shared.lock().pending_device_codes()
    }

    /// Approves a device code (by user code) as `username`, as if they signed in on the
    /// device page.
    pub fn approve_device_code(&self, user_code: &str, username: &str) -> Result<(), Error> {
        routes::device::decide(&mut self.shared.lock(), user_code, Some(username)).map_err(Error::NotFound)
    }

    /// Declines a device code (by user code).
    pub fn deny_device_code(&self, user_code: &str) -> Result<(), Error> {
        routes::device::decide(&mut self.shared.lock(), user_code, None).map_err(Error::NotFound)
    }

    /// Approves every interactive sign-in as this user (`None` turns it off).
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.shared.lock().settings_mut().auto_approve_as = username.map(str::to_owned);
    }

    /// Grants or withdraws a user's consent to an app.
    pub fn set_consent(&self, username: &str, client_id: &str, granted: bool) -> Result<(), Error> {
        if self.shared.lock().set_consent(username, client_id, granted) {
            Ok(())
        } else {
            Err(Error::NotFound(format!("user '{username}'")))
        }
    }

    /// Changes timings at run time.
    pub fn update_settings(&self, update: &SettingsUpdate) {
        self.shared.lock().apply_settings(update);
    }

    /// Sets the access-token lifetime for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.update_settings(&SettingsUpdate {
            token_lifetime_secs: Some(lifetime.as_secs()),
            ..SettingsUpdate::default()
        });
    }

    /// The JSON summary served at `GET /_emulator/state` (no secrets).
    pub fn state_json(&self) -> serde_json::Value {
        self.shared.lock().summary()
    }

    /// Stops the server and waits for it (also done on drop).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::task::yield_now().await;
    }
}
