//! Native I/O (feature `net`): tokio + rustls drivers for the login state machines, the
//! reqwest HTTP client and tokio platform for token acquisition, and the loopback listener
//! of the interactive sign-in.
//!
//! [`login`] opens a connection (implicit TLS, STARTTLS, or plaintext when explicitly asked
//! for), runs the protocol's [`Login`] machine with a time-out on every step, and returns a
//! [`MailSession`] holding the still-open authenticated stream and the capabilities the
//! server announced after login. Continue the session with any IMAP/SMTP/POP3 library or
//! with raw commands ([`MailSession::write_line`], [`MailSession::read_line`]).

mod http;
mod loopback;
mod stream;
mod tls;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use http::{ReqwestHttp, TokioPlatform};
pub use loopback::{open_browser, InteractiveOptions};
pub use stream::MailStream;

use crate::proto::{Action, LineBuffer, Login, LoginConfig, LoginOutcome, DEFAULT_MAX_LINE};
pub use crate::proto::{MailServer, Security};
use crate::{AccessToken, MailAuthError, MailErrorKind, Mechanism, Protocol, SaslIr, Stage};

/// Which TLS trust roots to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust the Mozilla root set compiled into the library (webpki-roots). Default: on.
    pub webpki_roots: bool,
    /// Also trust the operating system's certificate store. Default: off.
    pub os_roots: bool,
    /// Extra PEM files with CA certificates to trust (private or test servers).
    pub ca_files: Vec<PathBuf>,
    /// The name to verify the server certificate against, if not the host connected to.
    pub server_name: Option<String>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions { webpki_roots: true, os_roots: false, ca_files: Vec::new(), server_name: None }
    }
}

/// Time-outs for each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection (name resolution and every address tried). Default 15 s.
    pub connect: Duration,
    /// Each read, write and TLS handshake. Default 30 s.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(15), io: Duration::from_secs(30) }
    }
}

/// Everything about a login except the server and the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginOptions {
    /// Trust roots.
    pub tls: TlsOptions,
    /// Time-outs.
    pub timeouts: Timeouts,
    /// Inline initial response policy.
    pub sasl_ir: SaslIr,
    /// IMAP: probe the mailbox after login (detects "authenticated but not connected").
    pub probe: bool,
    /// SMTP: the EHLO name.
    pub client_name: String,
    /// Bound on one server line.
    pub max_line: usize,
    /// The overall deadline of the whole login (connect, TLS, greeting, STARTTLS, AUTH, probe),
    /// on top of the per-step time-outs: a server that answers every read in time but never
    /// finishes (an IMAP server sending `* OK` every second) cannot keep a login alive past
    /// it. `None` (the default) means `timeouts.connect + 2 × timeouts.io` — 75 s with the
    /// default time-outs, 9 s for `connect = io = 3 s`.
    pub deadline: Option<Duration>,
}

impl LoginOptions {
    /// The overall deadline in effect (see [`LoginOptions::deadline`]).
    pub fn overall_deadline(&self) -> Duration {
        self.deadline.unwrap_or_else(|| crate::proto::default_login_deadline(self.timeouts.connect, self.timeouts.io))
    }
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            tls: TlsOptions::default(),
            timeouts: Timeouts::default(),
            sasl_ir: SaslIr::Auto,
            probe: false,
            client_name: "localhost".to_owned(),
            max_line: DEFAULT_MAX_LINE,
            deadline: None,
        }
    }
}

/// An authenticated mail connection.
#[derive(Debug)]
pub struct MailSession {
    protocol: Protocol,
    stream: MailStream,
    lines: LineBuffer,
    outcome: LoginOutcome,
    io_timeout: Duration,
}

impl MailSession {
    /// IMAP, SMTP or POP3.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The capabilities the server announced after login (SMTP: the EHLO keywords after TLS).
    pub fn capabilities(&self) -> &[String] {
        &self.outcome.capabilities
    }

    /// Details of the login: greeting, final line, whether STARTTLS was used.
    pub fn outcome(&self) -> &LoginOutcome {
        &self.outcome
    }

    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, MailStream::Tls(_))
    }

    /// Writes one command line (CRLF is added) within the I/O time-out.
    pub async fn write_line(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_all(&bytes).await
    }

    /// Writes raw bytes within the I/O time-out.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let io = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.io_timeout, io)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
    }

    /// Reads one line (without CRLF), bounded in length and time.
    pub async fn read_line(&mut self) -> io::Result<String> {
        let mut buf = [0u8; 8192];
        loop {
            match self.lines.next_line() {
                Ok(Some(line)) => return Ok(line),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let n = tokio::time::timeout(self.io_timeout, self.stream.read(&mut buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))??;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
            self.lines.push(&buf[..n]);
        }
    }

    /// The stream and any bytes already read from it but not yet consumed.
    pub fn into_parts(mut self) -> (MailStream, Vec<u8>) {
        let rest = self.lines.take_rest();
        (self.stream, rest)
    }
}

/// Connects to `server`, authenticates `user` with `token`, and returns the open session.
///
/// Errors carry the protocol, the [`Stage`], the server's last line and any decoded error
/// challenge; [`MailAuthError::is_temporary`] says whether a retry can help.
pub async fn login(
    server: &MailServer,
    user: &str,
    token: &AccessToken,
    mechanism: Mechanism,
    options: &LoginOptions,
) -> Result<MailSession, MailAuthError> {
    let protocol = server.protocol;
    let err = |stage: Stage, kind: MailErrorKind, msg: String| MailAuthError::new(protocol, stage, kind, msg);

    let tls_config = if server.security == Security::Plain {
        None
    } else {
        Some(tls::client_config(&options.tls).map_err(|m| err(Stage::Tls, MailErrorKind::Tls, m))?)
    };

    // Every step waits at most its own time-out and at most what is left of the deadline.
    let deadline = options.overall_deadline();
    let end = tokio::time::Instant::now() + deadline;
    let limit = |step: Duration| step.min(end.saturating_duration_since(tokio::time::Instant::now()));
    let past_deadline = || tokio::time::Instant::now() >= end;
    let overall = |stage: Stage| {
        err(
            stage,
            MailErrorKind::Timeout,
            format!("the login did not finish within its overall deadline of {deadline:?}"),
        )
    };

    let tcp = connect(server, limit(options.timeouts.connect)).await.map_err(|(kind, m)| match kind {
        MailErrorKind::Timeout if past_deadline() => overall(Stage::Connect),
        _ => err(Stage::Connect, kind, m),
    })?;
    let _ = tcp.set_nodelay(true);
    let server_name = options.tls.server_name.clone().unwrap_or_else(|| server.host.clone());

    let mut stream = match (&tls_config, server.security) {
        (Some(cfg), Security::Tls) => tls::handshake(cfg, &server_name, tcp, limit(options.timeouts.io))
            .await
            .map_err(|(kind, m)| match kind {
                MailErrorKind::Timeout if past_deadline() => overall(Stage::Tls),
                _ => err(Stage::Tls, kind, m),
            })?,
        _ => MailStream::Plain(tcp),
    };

    let mut cfg = LoginConfig::new(user, token.clone(), mechanism);
    cfg.starttls = server.security == Security::StartTls;
    cfg.sasl_ir = options.sasl_ir;
    cfg.probe = options.probe;
    cfg.host = Some(server.host.clone());
    cfg.port = Some(server.port);
    cfg.client_name = options.client_name.clone();
    cfg.max_line = options.max_line;
    let mut machine = Login::new(protocol, cfg);

    let io_timeout = options.timeouts.io;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let action = machine.poll()?;
        // Checked between steps too: a server whose every read is ready at once (a flood)
        // must not outlive the deadline either.
        if past_deadline() && action != Action::Done {
            return Err(overall(machine.stage()));
        }
        match action {
            Action::Send(bytes) => {
                let stage = machine.stage();
                let io = async {
                    stream.write_all(&bytes).await?;
                    stream.flush().await
                };
                match tokio::time::timeout(limit(io_timeout), io).await {
                    Err(_) if past_deadline() => return Err(overall(stage)),
                    Err(_) => {
                        return Err(err(stage, MailErrorKind::Timeout, format!("write timed out after {io_timeout:?}")))
                    }
                    Ok(Err(e)) => return Err(err(stage, MailErrorKind::Network, format!("write failed: {e}"))),
                    Ok(Ok(())) => {}
                }
            }
            Action::NeedInput => {
                let stage = machine.stage();
                match tokio::time::timeout(limit(io_timeout), stream.read(&mut buf)).await {
                    Err(_) if past_deadline() => return Err(overall(stage)),
                    Err(_) => {
                        return Err(err(
                            stage,
                            MailErrorKind::Timeout,
                            format!("no answer from the server within {io_timeout:?}"),
                        ))
                    }
                    Ok(Err(e)) => return Err(err(stage, MailErrorKind::Network, format!("read failed: {e}"))),
                    Ok(Ok(0)) => {
                        return Err(err(stage, MailErrorKind::Network, "the server closed the connection".to_owned()))
                    }
                    Ok(Ok(n)) => machine.feed(&buf[..n]),
                }
            }
            Action::StartTls => {
                let (Some(cfg), MailStream::Plain(tcp)) = (&tls_config, stream) else {
                    return Err(err(
                        Stage::StartTls,
                        MailErrorKind::Protocol,
                        "STARTTLS requested on a connection that is already encrypted".to_owned(),
                    ));
                };
                stream = tls::handshake(cfg, &server_name, tcp, limit(io_timeout)).await.map_err(
                    |(kind, m)| match kind {
                        MailErrorKind::Timeout if past_deadline() => overall(Stage::Tls),
                        _ => err(Stage::Tls, kind, m),
                    },
                )?;
                machine.tls_established();
            }
            Action::Done => break,
        }
    }
    let outcome = machine.into_outcome().unwrap_or_default();
    let mut lines = LineBuffer::new(options.max_line);
    lines.push(&outcome.leftover);
    Ok(MailSession { protocol, stream, lines, outcome, io_timeout })
}

async fn connect(server: &MailServer, limit: Duration) -> Result<TcpStream, (MailErrorKind, String)> {
    let addr = (server.host.as_str(), server.port);
    match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => Err((
            MailErrorKind::Timeout,
            format!("could not connect to {}:{} within {limit:?}", server.host, server.port),
        )),
        Ok(Err(e)) => {
            Err((MailErrorKind::Network, format!("could not connect to {}:{}: {e}", server.host, server.port)))
        }
        Ok(Ok(tcp)) => Ok(tcp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Authority, Cloud};

    #[test]
    fn servers_from_the_authority() {
        let ms = Authority::microsoft(Cloud::Global, "organizations");
        let imap = MailServer::for_authority(Protocol::Imap, &ms, None, None, None);
        assert_eq!((imap.host.as_str(), imap.port, imap.security), ("outlook.office365.com", 993, Security::Tls));
        let smtp = MailServer::for_authority(Protocol::Smtp, &ms, None, None, None);
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("smtp.office365.com", 587, Security::StartTls));
        let pop = MailServer::for_authority(Protocol::Pop3, &Authority::google(), None, None, None);
        assert_eq!((pop.host.as_str(), pop.port), ("pop.gmail.com", 995));
        let local =
            MailServer::for_authority(Protocol::Imap, &ms, Some("localhost"), Some(10143), Some(Security::Plain));
        assert_eq!((local.host.as_str(), local.port, local.security), ("localhost", 10143, Security::Plain));
        let by_port = MailServer::for_authority(Protocol::Smtp, &ms, Some("mx"), Some(465), None);
        assert_eq!(by_port.security, Security::Tls);
        assert_eq!(Security::parse("STARTTLS"), Some(Security::StartTls));
        assert_eq!(Security::parse("x"), None);
    }
}
