//! The demo's built-in loopback mail server, for machines without Dovecot: a small IMAP and
//! SMTP server that keeps mailboxes in memory and checks every token the way Dovecot's oauth2
//! passdb does: it asks the identity platform's introspection endpoint, requires
//! `"active": true` and an `email` equal to the SASL user, and otherwise answers with the
//! XOAUTH2 error challenge, waits for the client's dummy reply, and fails the login.
//!
//! Plain TCP on 127.0.0.1 only; one task per connection; bounded lines and messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailoauth::identity::{HttpClient, HttpRequest, Method};
use mailoauth::net::ReqwestHttp;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

const MAX_LINE: usize = 16 * 1024;
const MAX_MESSAGE: usize = 1024 * 1024;
const CAPS: &str = "IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER";

/// Mailboxes by address (lower case): the INBOX's messages.
type Store = Arc<Mutex<HashMap<String, Vec<Vec<u8>>>>>;

/// The running server.
#[derive(Debug)]
pub(crate) struct DemoServer {
    pub(crate) imap_port: u16,
    pub(crate) smtp_port: u16,
}

struct Shared {
    validator: String,
    http: Arc<dyn HttpClient>,
    store: Store,
}

/// Starts IMAP and SMTP listeners on the current tokio runtime. `validator` is the
/// introspection URL (the emulator's `/_emulator/introspect`).
pub(crate) async fn start(validator: String) -> Result<DemoServer, String> {
    let http = ReqwestHttp::new().map_err(|e| e.to_string())?.shared();
    let shared = Arc::new(Shared { validator, http, store: Store::default() });
    let imap = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let smtp = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let server = DemoServer {
        imap_port: imap.local_addr().map_err(|e| e.to_string())?.port(),
        smtp_port: smtp.local_addr().map_err(|e| e.to_string())?.port(),
    };
    for (listener, imap_proto) in [(imap, true), (smtp, false)] {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut c = Conn::new(stream);
                    let _ = if imap_proto {
                        imap_session(&mut c, &shared).await
                    } else {
                        smtp_session(&mut c, &shared).await
                    };
                });
            }
        });
    }
    Ok(server)
}

struct Conn {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

type Io<T = ()> = Result<T, std::io::Error>;

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        Conn { r: BufReader::new(r), w }
    }

    async fn send(&mut self, line: &str) -> Io {
        self.w.write_all(format!("{line}\r\n").as_bytes()).await
    }

    /// One line without CRLF; `None` at end of stream.
    async fn line(&mut self) -> Io<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.r).take(MAX_LINE as u64 + 2).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        if !buf.ends_with(b"\n") {
            return Err(bad("line too long"));
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// The user and bearer token of an XOAUTH2 or OAUTHBEARER initial response.
fn parse_sasl(b64: &str) -> Option<(String, String)> {
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut user = None;
    let mut token = None;
    for part in text.split('\x01') {
        if let Some(u) = part.strip_prefix("user=") {
            user = Some(u.to_owned());
        } else if let Some(t) = part.strip_prefix("auth=Bearer ") {
            token = Some(t.to_owned());
        } else if let Some(gs2) = part.strip_prefix("n,") {
            // OAUTHBEARER: n,a=<user>,
            user = gs2.strip_prefix("a=").map(|a| a.trim_end_matches(',').replace("=2C", ",").replace("=3D", "="));
        }
    }
    Some((user?, token?))
}

impl Shared {
    /// Asks the identity platform, like Dovecot's `introspection_mode = auth`.
    async fn valid(&self, user: &str, token: &str, protocol: &str) -> bool {
        let request = HttpRequest {
            method: Method::Get,
            url: format!("{}?protocol={protocol}", self.validator),
            headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
            body: Vec::new(),
        };
        let Ok(resp) = self.http.send(request).await else { return false };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body) else { return false };
        resp.status == 200
            && v["active"] == serde_json::Value::Bool(true)
            && v["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(user))
    }

    fn deliver(&self, to: &str, message: Vec<u8>) {
        if let Ok(mut s) = self.store.lock() {
            s.entry(to.to_ascii_lowercase()).or_default().push(message);
        }
    }

    fn inbox(&self, user: &str) -> Vec<Vec<u8>> {
        self.store.lock().map(|s| s.get(&user.to_ascii_lowercase()).cloned().unwrap_or_default()).unwrap_or_default()
    }
}

fn challenge() -> String {
    STANDARD.encode(r#"{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/.default"}"#)
}

async fn imap_session(c: &mut Conn, s: &Shared) -> Io {
    c.send(&format!("* OK [CAPABILITY {CAPS}] mailoauth demo server ready")).await?;
    let mut user: Option<String> = None;
    let mut selected = false;
    while let Some(l) = c.line().await? {
        let mut parts = l.splitn(3, ' ');
        let (tag, cmd, rest) = (parts.next().unwrap_or("*"), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        match (cmd.to_ascii_uppercase().as_str(), &user) {
            ("CAPABILITY", _) => {
                c.send(&format!("* CAPABILITY {CAPS}")).await?;
                c.send(&format!("{tag} OK CAPABILITY completed")).await?;
            }
            ("NOOP", _) => c.send(&format!("{tag} OK NOOP completed")).await?,
            ("LOGOUT", _) => {
                c.send("* BYE logging out").await?;
                c.send(&format!("{tag} OK LOGOUT completed")).await?;
                return Ok(());
            }
            ("AUTHENTICATE", None) => {
                let mut words = rest.split(' ');
                let mech = words.next().unwrap_or("").to_ascii_uppercase();
                if mech != "XOAUTH2" && mech != "OAUTHBEARER" {
                    c.send(&format!("{tag} NO [CANNOT] unsupported mechanism")).await?;
                    continue;
                }
                let ir = match words.next() {
                    Some(ir) => ir.to_owned(),
                    None => {
                        c.send("+ ").await?;
                        c.line().await?.unwrap_or_default()
                    }
                };
                match parse_sasl(&ir) {
                    Some((u, t)) if s.valid(&u, &t, "imap").await => {
                        c.send(&format!("{tag} OK [CAPABILITY {CAPS}] Logged in")).await?;
                        user = Some(u);
                    }
                    _ => {
                        c.send(&format!("+ {}", challenge())).await?;
                        let _dummy = c.line().await?;
                        c.send(&format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")).await?;
                    }
                }
            }
            ("LIST", Some(_)) => {
                c.send("* LIST (\\HasNoChildren) \"/\" INBOX").await?;
                c.send(&format!("{tag} OK LIST completed")).await?;
            }
            ("SELECT" | "EXAMINE", Some(u)) if rest.trim_matches('"').eq_ignore_ascii_case("INBOX") => {
                let n = s.inbox(u).len();
                c.send("* FLAGS (\\Seen)").await?;
                c.send(&format!("* {n} EXISTS")).await?;
                c.send(&format!("{tag} OK [READ-WRITE] SELECT completed")).await?;
                selected = true;
            }
            ("FETCH", Some(u)) if selected => {
                // `FETCH <n> BODY[]` / `BODY.PEEK[]`: the whole message as a literal.
                let n: usize = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
                match s.inbox(u).get(n.wrapping_sub(1)) {
                    Some(m) => {
                        c.w.write_all(format!("* {n} FETCH (BODY[] {{{}}}\r\n", m.len()).as_bytes()).await?;
                        c.w.write_all(m).await?;
                        c.send(")").await?;
                        c.send(&format!("{tag} OK FETCH completed")).await?;
                    }
                    None => c.send(&format!("{tag} NO no such message")).await?,
                }
            }
            (_, None) => c.send(&format!("{tag} NO [AUTHENTICATIONFAILED] log in first")).await?,
            _ => c.send(&format!("{tag} BAD unknown or unsupported command")).await?,
        }
    }
    Ok(())
}

fn address(arg: &str) -> String {
    let a = arg.split_once(':').map(|(_, a)| a).unwrap_or("").trim();
    a.trim_start_matches('<').split('>').next().unwrap_or("").to_owned()
}

async fn smtp_session(c: &mut Conn, s: &Shared) -> Io {
    c.send("220 localhost mailoauth demo server ready").await?;
    let mut user: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut from: Option<String> = None;
    while let Some(l) = c.line().await? {
        let (cmd, rest) = l.split_once(' ').unwrap_or((&l, ""));
        match cmd.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" => {
                c.send("250-localhost").await?;
                c.send("250-8BITMIME").await?;
                c.send("250-ENHANCEDSTATUSCODES").await?;
                c.send("250 AUTH XOAUTH2 OAUTHBEARER").await?;
            }
            "AUTH" if user.is_none() => {
                let mut words = rest.split(' ');
                let mech = words.next().unwrap_or("").to_ascii_uppercase();
                if mech != "XOAUTH2" && mech != "OAUTHBEARER" {
                    c.send("504 5.5.4 unsupported mechanism").await?;
                    continue;
                }
                let ir = match words.next() {
                    Some(ir) => ir.to_owned(),
                    None => {
                        c.send("334 ").await?;
                        c.line().await?.unwrap_or_default()
                    }
                };
                match parse_sasl(&ir) {
                    Some((u, t)) if s.valid(&u, &t, "smtp").await => {
                        c.send("235 2.7.0 Authentication successful").await?;
                        user = Some(u);
                    }
                    _ => {
                        c.send(&format!("334 {}", challenge())).await?;
                        let _dummy = c.line().await?;
                        c.send("535 5.7.8 Authentication failed").await?;
                    }
                }
            }
            "MAIL" if user.is_some() => {
                from = Some(address(rest));
                recipients.clear();
                c.send("250 2.1.0 OK").await?;
            }
            "RCPT" if from.is_some() => {
                recipients.push(address(rest));
                c.send("250 2.1.5 OK").await?;
            }
            "DATA" if !recipients.is_empty() => {
                c.send("354 end with <CRLF>.<CRLF>").await?;
                let mut msg = Vec::new();
                loop {
                    let Some(line) = c.line().await? else { return Ok(()) };
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line);
                    msg.extend_from_slice(line.as_bytes());
                    msg.extend_from_slice(b"\r\n");
                    if msg.len() > MAX_MESSAGE {
                        c.send("552 5.3.4 message too big").await?;
                        return Ok(());
                    }
                }
                for r in recipients.drain(..) {
                    s.deliver(&r, msg.clone());
                }
                from = None;
                c.send("250 2.0.0 OK delivered").await?;
            }
            "MAIL" | "RCPT" | "DATA" => c.send("530 5.7.0 Authentication required").await?,
            "RSET" => {
                from = None;
                recipients.clear();
                c.send("250 2.0.0 OK").await?;
            }
            "NOOP" => c.send("250 2.0.0 OK").await?,
            "QUIT" => {
                c.send("221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => c.send("502 5.5.2 command not implemented").await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_responses_are_parsed() {
        let x = mailoauth::sasl::xoauth2("a@b.c", "tok");
        assert_eq!(parse_sasl(&x), Some(("a@b.c".into(), "tok".into())));
        let o = mailoauth::sasl::oauthbearer("a@b.c", "tok", Some("h"), Some(1));
        assert_eq!(parse_sasl(&o), Some(("a@b.c".into(), "tok".into())));
        assert_eq!(parse_sasl("!!"), None);
        assert_eq!(address("FROM:<a@b.c> SIZE=10"), "a@b.c");
    }
}
