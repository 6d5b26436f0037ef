//! `mailoauth proxy`: local IMAP, POP3 and SMTP listeners for mail clients that only know
//! passwords. A client logs in with the account's address and a local password; the proxy
//! takes the account's token from the cache (silent refresh, one refresh across processes),
//! logs in upstream with XOAUTH2 or OAUTHBEARER over verified TLS, and then relays the
//! session byte for byte. The pre-login protocol is core's sans-IO [`Front`]; the upstream
//! login is core's driver; this file only does the I/O, the password check and the log.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use mailoauth::net::{login, LoginOptions, MailServer, MailSession, Security, Timeouts, TlsOptions};
use mailoauth::proto::{Front, FrontStep, FrontTls};
use mailoauth::{MailErrorKind, Mechanism, Password, Protocol, PublicClient, SilentOptions};
use ring::{hmac, pbkdf2, rand::SecureRandom};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::{AccountConfig, Config, ProxyConfig};
use crate::exit::{CliResult, Exit, Failure};
use crate::{account, commands, Cli, ProxyArgs, ProxyPasswordArgs};

/// PBKDF2-HMAC-SHA256 iterations of a new local password hash (OWASP's figure for 2023+).
const PBKDF2_ITERATIONS: u32 = 600_000;
/// A wrong local password is answered after this long (slows guessing; nothing goes upstream).
const REFUSAL_DELAY: Duration = Duration::from_secs(1);
/// Each read before the login, and the whole pre-login phase (`MAILOAUTH_PROXY_LOGIN_TIMEOUT`,
/// in seconds, sets both: the tests use a short one).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const PRE_LOGIN_LIMIT: Duration = Duration::from_secs(180);
/// The whole upstream login (token, connection, TLS, authentication): past it the client gets a
/// refusal, never a hang (`MAILOAUTH_PROXY_UPSTREAM_TIMEOUT`, in seconds, sets it and bounds the
/// connect and I/O time-outs too).
const UPSTREAM_LIMIT: Duration = Duration::from_secs(45);

/// The phase time-outs, from the defaults or the environment.
#[derive(Debug, Clone, Copy)]
struct Limits {
    read: Duration,
    pre_login: Duration,
    upstream: Duration,
}

impl Limits {
    fn from_env() -> CliResult<Limits> {
        let secs = |name: &str| -> CliResult<Option<Duration>> {
            match std::env::var(name) {
                Err(_) => Ok(None),
                Ok(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| Some(Duration::from_secs(n)))
                    .ok_or_else(|| Failure::usage(format!("{name}={v:?} is not a number of seconds"))),
            }
        };
        let login = secs("MAILOAUTH_PROXY_LOGIN_TIMEOUT")?;
        Ok(Limits {
            read: login.map_or(READ_TIMEOUT, |l| l.min(READ_TIMEOUT)),
            pre_login: login.unwrap_or(PRE_LOGIN_LIMIT),
            upstream: secs("MAILOAUTH_PROXY_UPSTREAM_TIMEOUT")?.unwrap_or(UPSTREAM_LIMIT),
        })
    }
}
/// Idle time before TCP keepalive probes a client connection.
const CLIENT_KEEPALIVE: Duration = Duration::from_secs(60);
/// Sessions held at once (each listener of the process counts).
pub(crate) const MAX_SESSIONS: usize = 512;

/// `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64, no padding).
fn hash_password(password: &str) -> CliResult<String> {
    let rng = ring::rand::SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| Failure::usage("no system randomness for the password salt"))?;
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &mut out);
    let b = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!("pbkdf2-sha256${PBKDF2_ITERATIONS}${}${}", b.encode(salt), b.encode(out)))
}

/// A stored hash, parsed.
struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    fn parse(s: &str) -> Option<PasswordHash> {
        let mut parts = s.split('$');
        if parts.next()? != "pbkdf2-sha256" {
            return None;
        }
        let iterations = NonZeroU32::new(parts.next()?.parse().ok()?)?;
        let b = base64::engine::general_purpose::STANDARD_NO_PAD;
        let salt = b.decode(parts.next()?).ok()?;
        let hash = b.decode(parts.next()?).ok()?;
        (parts.next().is_none() && hash.len() == 32).then_some(PasswordHash { iterations, salt, hash })
    }

    /// Constant-time check (ring's `verify`).
    fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, self.iterations, &self.salt, password.as_bytes(), &self.hash).is_ok()
    }
}

/// The local password check: the slow hash once, then a keyed hash of the password that
/// matched, kept in memory only, so a client's next logins cost microseconds and not the
/// slow hash again. Both comparisons are constant-time.
struct LocalPassword {
    stored: PasswordHash,
    key: hmac::Key,
    known: std::sync::Mutex<Option<hmac::Tag>>,
}

impl LocalPassword {
    fn new(stored: PasswordHash) -> CliResult<LocalPassword> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| Failure::usage("no system randomness"))?;
        Ok(LocalPassword { stored, key, known: std::sync::Mutex::new(None) })
    }

    async fn check(self: &Arc<Self>, password: Password) -> bool {
        let known = self.known.lock().ok().and_then(|k| *k);
        if let Some(tag) = known {
            return hmac::verify(&self.key, password.expose_secret().as_bytes(), tag.as_ref()).is_ok();
        }
        let this = self.clone();
        let ok = tokio::task::spawn_blocking(move || this.stored.verify(password.expose_secret()).then_some(password))
            .await
            .ok()
            .flatten();
        match ok {
            Some(password) => {
                if let Ok(mut k) = self.known.lock() {
                    *k = Some(hmac::sign(&self.key, password.expose_secret().as_bytes()));
                }
                true
            }
            None => false,
        }
    }
}

/// Why the upstream login failed, and whether trying later may help.
struct Refusal {
    why: String,
    temporary: bool,
}

/// One account behind the proxy.
struct Upstream {
    name: String,
    cfg: AccountConfig,
    client: PublicClient,
    scopes: Vec<String>,
    password: Arc<LocalPassword>,
    mechanism: Mechanism,
    tls: TlsOptions,
    limits: Limits,
    /// The listeners' local TLS, and its acceptor when there is one.
    local_tls: FrontTls,
    acceptor: Option<TlsAcceptor>,
    /// The local certificate (DER), for `--check`'s probe of a running implicit-TLS listener.
    local_cert: Option<Vec<u8>>,
}

impl Upstream {
    fn server(&self, protocol: Protocol) -> CliResult<MailServer> {
        let saved = self.cfg.server(protocol);
        let security = match saved {
            Some(s) => s.security()?,
            None => None,
        };
        let server = MailServer::for_authority(
            protocol,
            self.client.authority(),
            saved.and_then(|s| s.host.as_deref()),
            saved.and_then(|s| s.port),
            security,
        );
        if server.is_plain_to_remote() {
            return Err(Failure::usage(format!(
                "account {}: no TLS to {} would send the token in the clear; only loopback servers may be plain",
                self.name, server.host
            )));
        }
        Ok(server)
    }

    /// Whether `user` names this account (its address, any case).
    fn is_user(&self, user: &str) -> bool {
        [self.cfg.user.as_deref(), self.cfg.login.as_deref()]
            .into_iter()
            .flatten()
            .any(|u| u.eq_ignore_ascii_case(user))
    }

    /// The upstream login: the cached token (refreshed silently when due); a token the server
    /// refuses gets one forced refresh and one more try. The error text carries the diagnosis.
    async fn login(&self, server: &MailServer) -> Result<MailSession, Refusal> {
        let protocol = server.protocol;
        let d = Timeouts::default();
        let timeouts = Timeouts { connect: d.connect.min(self.limits.upstream), io: d.io.min(self.limits.upstream) };
        let options = LoginOptions { tls: self.tls.clone(), timeouts, ..Default::default() };
        let mut forced = false;
        loop {
            let silent = SilentOptions::new().force_refresh(forced);
            let token =
                self.client.acquire_token_silent_with(&self.scopes, self.cfg.login.as_deref(), silent).await.map_err(
                    |e| Refusal {
                        why: format!("no token for {0}: run: mailoauth login {0} ({1})", self.name, e.message),
                        temporary: e.is_temporary(),
                    },
                )?;
            let user =
                commands::sasl_user(&self.cfg, &token).map_err(|f| Refusal { why: f.message, temporary: false })?;
            match login(server, &user, &token.access_token, self.mechanism, &options).await {
                Ok(session) => return Ok(session),
                Err(e) if !forced && matches!(e.kind, MailErrorKind::Rejected | MailErrorKind::TokenExpired) => {
                    verbose!("{}: {} refused the token; refreshing it once", self.name, server.host);
                    forced = true;
                }
                Err(e) => {
                    let now = mailoauth::identity::Platform::now(&mailoauth::net::TokioPlatform);
                    let d = mailoauth::diagnose::diagnose(
                        e.kind,
                        protocol,
                        token.access_token.expose_secret(),
                        &server.host,
                        &user,
                        Some(self.client.authority()),
                        now,
                    );
                    return Err(Refusal {
                        why: format!("upstream {}: {} {}", server.host, d.cause, d.fix),
                        temporary: e.is_temporary(),
                    });
                }
            }
        }
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Imap => "imap",
        Protocol::Smtp => "smtp",
        Protocol::Pop3 => "pop",
    }
}

/// The files of the certificate the proxy makes on first start, in the state directory.
const SELF_SIGNED_CERT: &str = "proxy-cert.pem";
const SELF_SIGNED_KEY: &str = "proxy-key.pem";

/// An account's local TLS: the mode, and the acceptor built from its certificate (the user's,
/// or one made on first start and kept, the key 0600, in the state directory).
type LocalTls = (FrontTls, Option<TlsAcceptor>, Option<Vec<u8>>);

fn local_tls(name: &str, proxy: &ProxyConfig) -> CliResult<LocalTls> {
    let mode = match proxy.tls.as_deref() {
        None | Some("none") => return Ok((FrontTls::None, None, None)),
        Some("starttls") => FrontTls::StartTls,
        Some("implicit") => FrontTls::Implicit,
        Some(other) => {
            return Err(Failure::usage(format!(
                "account {name}: proxy tls = {other:?} is not \"starttls\", \"implicit\" or \"none\""
            )))
        }
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| Failure::usage(format!("account {name}: cannot read {}: {e}", p.display())))
    };
    let (cert_path, cert_pem, key_pem) = match (&proxy.cert_file, &proxy.key_file) {
        (Some(c), Some(k)) => (c.clone(), read(c)?, read(k)?),
        (None, None) => {
            let dir = crate::config::state_dir()?;
            let (c, k) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
            if !(c.exists() && k.exists()) {
                make_self_signed(&dir, &c, &k)?;
            }
            (c.clone(), read(&c)?, read(&k)?)
        }
        _ => return Err(Failure::usage(format!("account {name}: proxy cert_file and key_file go together"))),
    };
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: String| Failure::usage(format!("account {name}: the local TLS {what}: {e}"));
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", e.to_string()))?;
    let first = certs.first().ok_or_else(|| bad("certificate", "no certificate in the file".to_owned()))?;
    let fingerprint: Vec<String> = ring::digest::digest(&ring::digest::SHA256, first.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let der = first.as_ref().to_vec();
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad("key", e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("configuration", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", e.to_string()))?;
    eprintln!(
        "mailoauth proxy: account {name}: local TLS ({}) with the certificate {} (SHA-256 {})",
        if mode == FrontTls::StartTls { "STARTTLS" } else { "implicit" },
        cert_path.display(),
        fingerprint.join(":")
    );
    Ok((mode, Some(TlsAcceptor::from(Arc::new(config))), Some(der)))
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1` (rcgen), the key written
/// owner-only.
fn make_self_signed(dir: &std::path::Path, cert: &std::path::Path, key: &std::path::Path) -> CliResult {
    let e = |what: &str, e: String| Failure::usage(format!("cannot make the local TLS certificate ({what}): {e}"));
    let pair = rcgen::KeyPair::generate().map_err(|x| e("key", x.to_string()))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])
            .map_err(|x| e("names", x.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "mailoauth proxy (localhost)");
    let made = params.self_signed(&pair).map_err(|x| e("signature", x.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|x| e("state directory", x.to_string()))?;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    use std::io::Write as _;
    open.open(key)
        .and_then(|mut f| f.write_all(pair.serialize_pem().as_bytes()))
        .map_err(|x| e(&key.display().to_string(), x.to_string()))?;
    std::fs::write(cert, made.pem()).map_err(|x| e(&cert.display().to_string(), x.to_string()))?;
    eprintln!("mailoauth proxy: made a self-signed certificate for the local TLS: {}", cert.display());
    Ok(())
}

/// `mailoauth proxy password ACCOUNT`: sets the local password (a new random one printed
/// once, or one line read from stdin), stored only as a salted PBKDF2 hash.
pub(crate) fn set_password(cli: &Cli, a: &ProxyPasswordArgs) -> CliResult {
    let mut config = Config::load(cli.config_path()?)?;
    config.account(&a.account)?;
    let password = if a.stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        let p = line.trim_end_matches(['\r', '\n']).to_owned();
        if p.len() < 8 {
            return Err(Failure::usage("the local password must have at least 8 characters"));
        }
        p
    } else {
        let mut bytes = [0u8; 18];
        ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| Failure::usage("no system randomness"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let hash = hash_password(&password)?;
    let name = a.account.clone();
    config.update(|file| {
        if let Some(acc) = file.accounts.get_mut(&name) {
            acc.proxy.get_or_insert_with(ProxyConfig::default).password_hash = Some(hash);
        }
    })?;
    if !a.stdin {
        crate::out_line(&password);
        eprintln!("the local password of {} (shown once; only its hash is stored)", a.account);
    }
    Ok(())
}

/// `mailoauth proxy`: runs the listeners of every account with a `[accounts.NAME.proxy]` section
/// (or of the accounts named) until SIGTERM or Ctrl-C.
pub(crate) fn run(cli: &Cli, a: &ProxyArgs) -> CliResult {
    let config = Config::load(cli.config_path()?)?;
    let limits = Limits::from_env()?;
    let mut listeners: Vec<(Arc<Upstream>, Protocol, SocketAddr, MailServer)> = Vec::new();
    for (name, cfg) in &config.file.accounts {
        if !a.accounts.is_empty() && !a.accounts.contains(name) {
            continue;
        }
        let Some(proxy) = &cfg.proxy else { continue };
        let hash = proxy.password_hash.as_deref().ok_or_else(|| {
            Failure::usage(format!("account {name} has no local password: run `mailoauth proxy password {name}`"))
        })?;
        let stored = PasswordHash::parse(hash)
            .ok_or_else(|| Failure::usage(format!("account {name}: the stored local password hash is not readable")))?;
        let authority = account::authority(cfg)?;
        let scopes = account::scopes(cfg, &authority);
        let store = account::store(name, cfg, cli.store.as_deref())?;
        let client = account::client(cfg, authority, store);
        let (local_tls, acceptor, local_cert) = local_tls(name, proxy)?;
        let up = Arc::new(Upstream {
            name: name.clone(),
            cfg: cfg.clone(),
            client,
            scopes,
            password: Arc::new(LocalPassword::new(stored)?),
            mechanism: commands::mechanism(None, Some(cfg))?,
            tls: TlsOptions { ca_files: cfg.ca_file.iter().cloned().collect(), ..Default::default() },
            limits,
            local_tls,
            acceptor,
            local_cert,
        });
        for (protocol, listen) in
            [(Protocol::Imap, &proxy.imap), (Protocol::Smtp, &proxy.smtp), (Protocol::Pop3, &proxy.pop)]
        {
            let Some(listen) = listen else { continue };
            let addr: SocketAddr = listen.parse().map_err(|_| {
                Failure::usage(format!(
                    "account {name}: proxy {} address {listen:?} is not IP:PORT",
                    proto_name(protocol)
                ))
            })?;
            if !addr.ip().is_loopback() && !a.allow_remote && local_tls == FrontTls::None {
                return Err(Failure::usage(format!(
                    "account {name}: {addr} is not a loopback address; the proxy listens without TLS, so other machines would see the local password (set tls = \"starttls\" or \"implicit\", or pass --allow-remote to accept this)"
                )));
            }
            listeners.push((up.clone(), protocol, addr, up.server(protocol)?));
        }
    }
    if listeners.is_empty() {
        return Err(Failure::usage(
            "no proxy listeners: add e.g. [accounts.work.proxy] imap = \"127.0.0.1:1143\" to the configuration",
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
    if a.check {
        return rt.block_on(check(listeners));
    }
    rt.block_on(serve(listeners))
}

/// `mailoauth proxy --check`: for each listener, whether its address is free (or served by a
/// running proxy), and the upstream side end to end: token, TLS, login, logout. The local
/// password is not needed (nor known): the client side is the Front, tested in the suite.
async fn check(listeners: Vec<(Arc<Upstream>, Protocol, SocketAddr, MailServer)>) -> CliResult {
    let mut failed: Option<Failure> = None;
    for (up, protocol, addr, server) in listeners {
        let what = format!(
            "{} {addr} -> {}:{} (account {})",
            proto_name(protocol),
            mailoauth::text::safe_text(&server.host),
            server.port,
            up.name
        );
        let listen = match std::net::TcpListener::bind(addr) {
            Ok(l) => {
                drop(l);
                Ok("address free".to_owned())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                match running_proxy(addr, up.local_cert.as_deref().filter(|_| up.local_tls == FrontTls::Implicit)).await
                {
                    true => Ok("served by a running mailoauth proxy".to_owned()),
                    false => Err(Failure::usage(format!("{addr} is taken by another program"))),
                }
            }
            Err(e) => Err(Failure::usage(format!("cannot listen on {addr}: {e}"))),
        };
        let upstream = match tokio::time::timeout(up.limits.upstream, up.login(&server)).await {
            Ok(Ok(mut session)) => {
                crate::check::goodbye(&mut session).await;
                Ok("upstream login ok".to_owned())
            }
            Ok(Err(r)) => Err(r),
            Err(_) => Err(Refusal {
                why: format!("upstream did not complete the login within {} s", up.limits.upstream.as_secs()),
                temporary: true,
            }),
        };
        let (status, detail) = match (listen, upstream) {
            (Ok(l), Ok(u)) => ("ok", format!("{l}; {u}")),
            (l, u) => {
                let mut parts = Vec::new();
                match l {
                    Ok(l) => parts.push(l),
                    Err(f) => {
                        parts.push(f.message.clone());
                        failed.get_or_insert(f);
                    }
                }
                match u {
                    Ok(u) => parts.push(u),
                    Err(r) => {
                        let exit = if r.temporary { Exit::Network } else { Exit::Rejected };
                        parts.push(r.why.clone());
                        failed.get_or_insert(Failure::new(exit, r.why));
                    }
                }
                ("FAIL", parts.join("; "))
            }
        };
        crate::out_line(&format!("{status:<4} {what}: {detail}"));
    }
    match failed {
        None => Ok(()),
        Some(f) => Err(Failure::new(f.exit, format!("mailoauth proxy --check: {}", f.message))),
    }
}

/// Whether a mailoauth proxy answers on `addr` (its greeting, within 2 s); over TLS presenting
/// exactly `implicit_cert` when the listener is implicit TLS.
async fn running_proxy(addr: SocketAddr, implicit_cert: Option<&[u8]>) -> bool {
    let probe = async {
        let tcp = TcpStream::connect(addr).await.ok()?;
        let mut buf = [0u8; 256];
        let n = match implicit_cert {
            None => {
                let mut tcp = tcp;
                tcp.read(&mut buf).await.ok()?
            }
            Some(der) => {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let verifier = Arc::new(ExactCert { der: der.to_vec(), provider: provider.clone() });
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .ok()?
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth();
                let name = rustls_pki_types::ServerName::try_from("localhost").ok()?;
                let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.ok()?;
                tls.read(&mut buf).await.ok()?
            }
        };
        Some(String::from_utf8_lossy(&buf[..n]).contains("mailoauth proxy ready"))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Some(true)))
}

/// Trusts one certificate, byte for byte: the proxy's own, when `--check` probes a running
/// implicit-TLS listener (rustls has no "pin this certificate" verifier; the signatures are
/// still checked with the provider's algorithms).
#[derive(Debug)]
struct ExactCert {
    der: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for ExactCert {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the proxy's certificate".to_owned()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

async fn serve(listeners: Vec<(Arc<Upstream>, Protocol, SocketAddr, MailServer)>) -> CliResult {
    let sessions = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    let mut tasks = tokio::task::JoinSet::new();
    for (up, protocol, addr, server) in listeners {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {addr} ({}): {e}", proto_name(protocol))))?;
        let security = match server.security {
            Security::Tls => "TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "plain",
        };
        let local = match up.local_tls {
            FrontTls::None => "",
            FrontTls::StartTls => " (STARTTLS)",
            FrontTls::Implicit => " (TLS)",
        };
        eprintln!(
            "mailoauth proxy: {} {}{local} -> {}:{} ({security}) for account {}",
            proto_name(protocol),
            listener.local_addr().unwrap_or(addr),
            server.host,
            server.port,
            up.name
        );
        let sessions = sessions.clone();
        tasks.spawn(accept_loop(listener, up, protocol, Arc::new(server), sessions));
    }
    eprintln!("mailoauth proxy: ready");
    let stop = async {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    stop.await;
    eprintln!("mailoauth proxy: stopping (no new sessions; open sessions get 5 s to finish)");
    tasks.abort_all();
    let all = MAX_SESSIONS as u32;
    let _ = tokio::time::timeout(Duration::from_secs(5), sessions.acquire_many(all)).await;
    eprintln!("mailoauth proxy: stopped");
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    up: Arc<Upstream>,
    protocol: Protocol,
    server: Arc<MailServer>,
    sessions: Arc<tokio::sync::Semaphore>,
) {
    loop {
        let Ok((mut client, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = client.set_nodelay(true);
        // A client that vanishes without a FIN (a laptop put to sleep, a dropped Wi-Fi) is
        // found by TCP keepalive, so its relayed session does not wait for the server to end it.
        let keepalive = socket2::TcpKeepalive::new().with_time(CLIENT_KEEPALIVE);
        let _ = socket2::SockRef::from(&client).set_tcp_keepalive(&keepalive);
        let Ok(permit) = sessions.clone().try_acquire_owned() else {
            let busy = Front::busy(protocol);
            let _ = tokio::time::timeout(Duration::from_secs(1), client.write_all(busy)).await;
            continue;
        };
        let (up, server) = (up.clone(), server.clone());
        tokio::spawn(async move {
            let name = proto_name(protocol);
            match session(&up, protocol, &server, client).await {
                Ok(()) => verbose!("{name} {peer}: closed"),
                Err(why) => eprintln!("mailoauth proxy: {name} {peer}: {why}"),
            }
            drop(permit);
        });
    }
}

/// A stream a client session runs on.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The client's connection: in the clear, or TLS (implicit, or after STARTTLS).
enum Client {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Client {
    fn io(&mut self) -> &mut dyn Io {
        match self {
            Client::Plain(s) => s,
            Client::Tls(s) => s.as_mut(),
        }
    }
}

/// The server side of a TLS handshake, bounded in time.
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    limit: Duration,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!("local TLS handshake: {e}")),
        Err(_) => Err("local TLS handshake: no answer in time".to_owned()),
    }
}

/// One client connection: the pre-login dialogue, the upstream login, the relay.
async fn session(up: &Upstream, protocol: Protocol, server: &MailServer, tcp: TcpStream) -> Result<(), String> {
    // The login's futures (TLS handshakes, the SASL exchange, the token cache) are boxed and
    // freed when it is done: the task that then relays for hours keeps only the two streams.
    let Some((mut client, mut upstream)) = Box::pin(log_in(up, protocol, server, tcp)).await? else {
        return Ok(());
    };
    relay(client.io(), &mut upstream, up.limits.read).await.map_err(|e| format!("relay: {e}"))
}

/// The pre-login dialogue and the upstream login: the two streams to relay between, or `None`
/// when the client left.
async fn log_in(
    up: &Upstream,
    protocol: Protocol,
    server: &MailServer,
    tcp: TcpStream,
) -> Result<Option<(Client, mailoauth::net::MailStream)>, String> {
    let mut front = Front::new(protocol, "mailoauth").with_tls(up.local_tls);
    let end = tokio::time::Instant::now() + up.limits.pre_login;
    let mut client = match (&up.acceptor, up.local_tls) {
        (Some(acceptor), FrontTls::Implicit) => Client::Tls(Box::new(handshake(acceptor, tcp, up.limits.read).await?)),
        _ => Client::Plain(tcp),
    };
    client.io().write_all(&front.greeting()).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 8 * 1024];
    let upstream = loop {
        match front.step() {
            FrontStep::Reply(bytes) => client.io().write_all(&bytes).await.map_err(|e| e.to_string())?,
            FrontStep::Close(bytes) => {
                let _ = client.io().write_all(&bytes).await;
                let _ = client.io().shutdown().await;
                return Ok(None);
            }
            FrontStep::StartTls(bytes) => {
                client.io().write_all(&bytes).await.map_err(|e| e.to_string())?;
                let (Client::Plain(tcp), Some(acceptor)) = (client, &up.acceptor) else {
                    return Err("STARTTLS without a plain connection and a certificate".to_owned());
                };
                client = Client::Tls(Box::new(handshake(acceptor, tcp, up.limits.read).await?));
                front.tls_started();
            }
            FrontStep::NeedInput => {
                let left = end.saturating_duration_since(tokio::time::Instant::now());
                let n = match tokio::time::timeout(up.limits.read.min(left), client.io().read(&mut buf)).await {
                    Err(_) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), client.io().write_all(&front.timed_out()))
                            .await;
                        return Err("no login in time; closed".to_owned());
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Ok(Ok(0)) => return Ok(None),
                    Ok(Ok(n)) => n,
                };
                front.feed(&buf[..n]);
            }
            FrontStep::Login { user, password } => {
                let shown = mailoauth::text::safe_text(&user).into_owned();
                if !(up.is_user(&user) && up.password.check(password).await) {
                    eprintln!(
                        "mailoauth proxy: {} login {shown}: wrong user name or local password",
                        proto_name(protocol)
                    );
                    tokio::time::sleep(REFUSAL_DELAY).await;
                    client
                        .io()
                        .write_all(&front.refused("wrong user name or local password"))
                        .await
                        .map_err(|e| e.to_string())?;
                    continue;
                }
                let upstream = tokio::time::timeout(up.limits.upstream, up.login(server)).await.unwrap_or_else(|_| {
                    Err(Refusal {
                        why: format!(
                            "upstream {}:{} did not complete the login within {} s; try again later",
                            server.host,
                            server.port,
                            up.limits.upstream.as_secs()
                        ),
                        temporary: true,
                    })
                });
                match upstream {
                    Ok(session) => {
                        verbose!("{} login {shown}: upstream {} ok", proto_name(protocol), server.host);
                        let reply = front.accepted(session.capabilities());
                        let (mut upstream, leftover) = session.into_parts();
                        client.io().write_all(&reply).await.map_err(|e| e.to_string())?;
                        client.io().write_all(&leftover).await.map_err(|e| e.to_string())?;
                        let pipelined = front.take_leftover();
                        upstream.write_all(&pipelined).await.map_err(|e| e.to_string())?;
                        break upstream;
                    }
                    Err(Refusal { why, temporary }) => {
                        eprintln!("mailoauth proxy: {} login {shown}: {why}", proto_name(protocol));
                        let reply = if temporary { front.unavailable(&why) } else { front.refused(&why) };
                        client.io().write_all(&reply).await.map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    };
    drop(buf);
    Ok(Some((client, upstream)))
}

/// The most a relay read takes at once.
const RELAY_CHUNK: usize = 64 * 1024;

/// The relay after the login: both directions at once; the end of one is passed on as a
/// shutdown of the other's writer, and the other then has `drain` to end too (a client that
/// vanished without closing, after the server hung up, holds no session past that).
///
/// Not tokio's `copy_bidirectional`: it holds an 8 KiB buffer per direction for the whole
/// session and moves 8 KiB per read. Here a buffer exists only while bytes are in flight (an
/// idle session, IMAP IDLE or a client keeping its connection, holds none) and a read takes up
/// to 64 KiB. Measured with scripts/bench/proxy.sh on the 2-core machine (release): with
/// copy_bidirectional a 50 MB FETCH ran at 74% of a direct connection's speed and a held
/// session cost 54 KiB of resident memory; the figures with this relay are in cli/README.md.
async fn relay<A, B>(a: A, b: B, drain: Duration) -> std::io::Result<()>
where
    A: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let mut up = std::pin::pin!(pump(&mut a_read, &mut b_write));
    let mut down = std::pin::pin!(pump(&mut b_read, &mut a_write));
    tokio::select! {
        r = &mut up => {
            r?;
            tokio::time::timeout(drain, down).await.unwrap_or(Ok(()))
        }
        r = &mut down => {
            r?;
            tokio::time::timeout(drain, up).await.unwrap_or(Ok(()))
        }
    }
}

/// One direction: wait for bytes without a buffer, read what is there (up to [`RELAY_CHUNK`]),
/// write it all, and pass the end on.
async fn pump<R, W>(from: &mut R, to: &mut W) -> std::io::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    loop {
        let chunk = std::future::poll_fn(|cx| {
            // A buffer per wake-up, dropped when nothing is there: none is held while idle.
            let mut buf = vec![0u8; RELAY_CHUNK];
            let mut read = tokio::io::ReadBuf::new(&mut buf);
            match std::pin::Pin::new(&mut *from).poll_read(cx, &mut read) {
                std::task::Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    buf.truncate(n);
                    std::task::Poll::Ready(Ok(buf))
                }
                std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(e)),
                std::task::Poll::Pending => std::task::Poll::Pending,
            }
        })
        .await?;
        if chunk.is_empty() {
            return to.shutdown().await;
        }
        to.write_all(&chunk).await?;
        to.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip_and_format() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("pbkdf2-sha256$600000$"), "{h}");
        let parsed = PasswordHash::parse(&h).expect("parse");
        assert!(parsed.verify("correct horse"));
        assert!(!parsed.verify("correct horsf"));
        assert!(PasswordHash::parse("pbkdf2-sha256$0$AA$AA").is_none());
        assert!(PasswordHash::parse("plain$secret").is_none());
    }
}
