//! The interactive authorization-code flow with a loopback listener (RFC 8252): listen on
//! an ephemeral loopback port, send the user to the sign-in page, receive the redirect,
//! check `state`, redeem the code with PKCE.
//!
//! Which addresses: Microsoft registrations use `http://localhost` (an `http://127.0.0.1`
//! redirect can only be registered through the manifest, and `[::1]` is not supported), and
//! a browser may resolve `localhost` to `::1` or to `127.0.0.1`. So for `localhost` the
//! listener holds the port on both 127.0.0.1 and [::1] — otherwise another local user could
//! bind the other address on that port and receive the code (RFC 8252 §8.3). Only when the
//! machine has no IPv6 loopback at all (nobody can bind it) is 127.0.0.1 alone used. Google
//! gets the literal `http://127.0.0.1:<port>`, which names the one address bound.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::identity::{
    parse_redirect, AuthorizationOptions, AuthorizationRequest, IdentityError, IdentityErrorKind, Provider,
    PublicClient, Token,
};

/// Options of [`PublicClient::acquire_token_interactive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractiveOptions {
    /// Extra authorization parameters (login hint, prompt, claims).
    pub authorization: AuthorizationOptions,
    /// Try to open the system browser (only when a desktop session is detected).
    pub open_browser: bool,
    /// Give up after this long without a redirect.
    pub timeout: Duration,
    /// Listen on this port (0 picks a free one).
    pub port: u16,
}

impl Default for InteractiveOptions {
    fn default() -> Self {
        InteractiveOptions {
            authorization: AuthorizationOptions::default(),
            open_browser: true,
            timeout: Duration::from_secs(300),
            port: 0,
        }
    }
}

const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// The listeners of one sign-in: 127.0.0.1, and [::1] on the same port when the redirect
/// says `localhost` and the machine has an IPv6 loopback.
struct Listeners {
    v4: TcpListener,
    v6: Option<TcpListener>,
    port: u16,
}

impl Listeners {
    /// Binds `port` (0: a free one) on 127.0.0.1 and, if `both`, on [::1] too. With port 0,
    /// a port whose [::1] side another process holds is given up and another one tried.
    async fn bind(port: u16, both: bool) -> Result<Listeners, IdentityError> {
        let cannot = |addr: &str, port: u16, e: std::io::Error| {
            IdentityError::new(IdentityErrorKind::Configuration, format!("cannot listen on {addr}:{port}: {e}"))
        };
        let mut last = None;
        for _ in 0..16 {
            let v4 = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| cannot("127.0.0.1", port, e))?;
            let bound = v4
                .local_addr()
                .map_err(|e| IdentityError::new(IdentityErrorKind::Configuration, format!("listener address: {e}")))?
                .port();
            if !both {
                return Ok(Listeners { v4, v6: None, port: bound });
            }
            match TcpListener::bind(("::1", bound)).await {
                Ok(v6) => return Ok(Listeners { v4, v6: Some(v6), port: bound }),
                // No IPv6 loopback on this machine (no ::1, IPv6 disabled): nobody can take
                // [::1] from us either.
                Err(e) if e.kind() != std::io::ErrorKind::AddrInUse => {
                    return Ok(Listeners { v4, v6: None, port: bound })
                }
                // Someone else holds [::1] on this port: with a fixed port that is fatal,
                // with an ephemeral one, try another.
                Err(e) if port != 0 => return Err(cannot("[::1]", bound, e)),
                Err(e) => last = Some(cannot("[::1]", bound, e)),
            }
        }
        Err(last.unwrap_or_else(|| IdentityError::new(IdentityErrorKind::Configuration, "no free loopback port")))
    }

    async fn accept(&self) -> std::io::Result<TcpStream> {
        match &self.v6 {
            Some(v6) => tokio::select! {
                r = self.v4.accept() => r.map(|(s, _)| s),
                r = v6.accept() => r.map(|(s, _)| s),
            },
            None => self.v4.accept().await.map(|(s, _)| s),
        }
    }
}

fn page(title: &str, text: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = esc(title),
        x = esc(text)
    )
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads the request line's target (`/path?query`), bounded in size and time.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
                break;
            }
            if buf.len() > MAX_REQUEST_HEAD {
                return None;
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let line = head.lines().next()?;
        let mut parts = line.split(' ');
        let (method, target) = (parts.next()?, parts.next()?);
        (method == "GET").then(|| target.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok().flatten()
}

/// Which OS's way of opening a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Desktop {
    MacOs,
    Windows,
    Unix,
}

/// The program and arguments that open `url` on `desktop`, the URL always one argument that no
/// shell parses. On Windows not `cmd /C start "" <url>`: cmd splits the command at every `&`
/// of an authorize URL and would try to run `scope=...`, `state=...` from the current directory
/// (binary planting); `rundll32 url.dll,FileProtocolHandler` takes the URL as one argument.
fn browser_command(desktop: Desktop, url: &str) -> (&'static str, Vec<String>) {
    match desktop {
        Desktop::MacOs => ("open", vec![url.to_owned()]),
        Desktop::Windows => ("rundll32", vec!["url.dll,FileProtocolHandler".to_owned(), url.to_owned()]),
        Desktop::Unix => ("xdg-open", vec![url.to_owned()]),
    }
}

/// Tries to open `url` in the desktop's browser. Returns whether a browser was started.
pub fn open_browser(url: &str) -> bool {
    use std::process::{Command, Stdio};
    let desktop = if cfg!(target_os = "macos") {
        Desktop::MacOs
    } else if cfg!(target_os = "windows") {
        Desktop::Windows
    } else {
        // Over SSH or on a headless machine there is no desktop to open a browser in.
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return false;
        }
        Desktop::Unix
    };
    let (program, args) = browser_command(desktop, url);
    Command::new(program).args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().is_ok()
}

impl PublicClient {
    /// Signs a user in through the browser: starts a loopback listener, calls `show_url`
    /// with the sign-in URL (print it: over SSH the user opens it elsewhere), opens the
    /// system browser when there is a desktop, waits for the redirect, checks `state` and
    /// redeems the code with PKCE. Cancel by dropping the future.
    pub async fn acquire_token_interactive(
        &self,
        scopes: &[String],
        options: &InteractiveOptions,
        show_url: impl FnOnce(&str),
    ) -> Result<Token, IdentityError> {
        // Microsoft matches http://localhost with any port; Google wants the IP literal.
        let google = self.authority().provider() == Provider::Google;
        let listener = Listeners::bind(options.port, !google).await?;
        let port = listener.port;
        let redirect_uri = if google { format!("http://127.0.0.1:{port}") } else { format!("http://localhost:{port}") };
        let request = self.authorization_url(scopes, &redirect_uri, &options.authorization)?;
        show_url(&request.url);
        if options.open_browser {
            open_browser(&request.url);
        }
        let wait = self.wait_for_redirect(&listener, &request);
        match tokio::time::timeout(options.timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(IdentityError::new(
                IdentityErrorKind::Cancelled,
                format!("no sign-in within {:?}; start again", options.timeout),
            )),
        }
    }

    async fn wait_for_redirect(
        &self,
        listener: &Listeners,
        request: &AuthorizationRequest,
    ) -> Result<Token, IdentityError> {
        loop {
            let mut stream = listener
                .accept()
                .await
                .map_err(|e| IdentityError::new(IdentityErrorKind::Network, format!("loopback listener: {e}")))?;
            let Some(target) = read_target(&mut stream).await else {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    &page("Bad request", "This listener only waits for the sign-in redirect."),
                )
                .await;
                continue;
            };
            let has_params = ["code=", "error=", "state="].iter().any(|p| target.contains(p));
            if !has_params {
                respond(&mut stream, "404 Not Found", &page("Not found", "Waiting for the sign-in redirect.")).await;
                continue;
            }
            let url = format!("http://localhost{target}");
            match parse_redirect(request, &url) {
                Ok(code) => {
                    let result = self.redeem_code(request, &code).await;
                    match &result {
                        Ok(_) => {
                            respond(
                                &mut stream,
                                "200 OK",
                                &page("Signed in", "You are signed in. You can close this window."),
                            )
                            .await
                        }
                        Err(e) => respond(&mut stream, "200 OK", &page("Sign-in failed", &e.to_string())).await,
                    }
                    return result;
                }
                Err(e) if e.kind == IdentityErrorKind::Protocol => {
                    // A stray or forged request (no or a wrong state, so its text is not
                    // shown): keep waiting for the real redirect.
                    respond(&mut stream, "400 Bad Request", &page("Sign-in not accepted", &e.message)).await;
                }
                Err(e) => {
                    respond(&mut stream, "200 OK", &page("Sign-in failed", &e.to_string())).await;
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_one_argument_no_shell_parses() {
        let url = "https://login.example/authorize?client_id=a&scope=b%20c&state=x&redirect_uri=http%3A%2F%2Flocalhost";
        for desktop in [Desktop::MacOs, Desktop::Windows, Desktop::Unix] {
            let (program, args) = browser_command(desktop, url);
            assert_eq!(args.last().map(String::as_str), Some(url), "{desktop:?}");
            assert!(!["cmd", "cmd.exe", "sh", "powershell"].contains(&program), "{desktop:?} goes through a shell");
        }
        assert_eq!(browser_command(Desktop::Windows, url).0, "rundll32");
    }
}
