//! A tiny loopback SMTP server that stores every message it receives.
//! Dovecot's submission service relays to it.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::background::Background;
use crate::error::{Error, Result};

/// Longest accepted command line (RFC 5321 says 512; be generous).
const MAX_COMMAND_LINE: usize = 4096;
/// Longest accepted DATA line (RFC 5321 says 1000; Dovecot may relay longer).
const MAX_DATA_LINE: usize = 64 * 1024;
/// Largest accepted message.
const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// Most recipients per transaction.
const MAX_RECIPIENTS: usize = 1000;

/// One message received by the [`SmtpSink`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SinkMessage {
    /// The `MAIL FROM` reverse path, without angle brackets (may be empty).
    pub from: String,
    /// The `RCPT TO` forward paths, without angle brackets.
    pub recipients: Vec<String>,
    /// The message as received after DATA, dot-unstuffed, lines ending in CRLF,
    /// without the final `.` line.
    pub data: Vec<u8>,
}

impl SinkMessage {
    /// The message data as (lossy) UTF-8 text.
    pub fn data_text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

#[derive(Debug, Default)]
struct Store {
    messages: Mutex<Vec<SinkMessage>>,
    changed: Condvar,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Vec<SinkMessage>> {
        self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, m: SinkMessage) {
        self.lock().push(m);
        self.changed.notify_all();
    }
}

/// A loopback SMTP sink: 220 greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT. Messages are kept in memory.
///
/// It runs on its own thread and runtime; dropping it stops the server.
#[derive(Debug)]
pub struct SmtpSink {
    store: Arc<Store>,
    addr: SocketAddr,
    _bg: Background,
}

impl SmtpSink {
    /// Starts the sink on a free port on 127.0.0.1.
    pub fn start() -> Result<Self> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| Error::io("binding the SMTP sink", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the SMTP sink address", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("setting the SMTP sink socket non-blocking", e))?;
        let store = Arc::new(Store::default());
        let st = store.clone();
        let bg = Background::spawn("smtp-sink", move |stop| async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(_) => return,
            };
            let accept_loop = async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            let st = st.clone();
                            tokio::spawn(async move {
                                let _ = session(stream, &st).await;
                            });
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            };
            tokio::select! {
                () = accept_loop => {}
                _ = stop => {}
            }
        })?;
        Ok(SmtpSink { store, addr, _bg: bg })
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// All messages received so far.
    pub fn messages(&self) -> Vec<SinkMessage> {
        self.store.lock().clone()
    }

    /// Waits until at least `n` messages have arrived or `timeout` has passed,
    /// then returns all messages received so far (check the length).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<SinkMessage> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.store.lock();
        while guard.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = match self.store.changed.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        guard.clone()
    }

    /// Forgets all messages received so far.
    pub fn clear(&self) {
        self.store.lock().clear();
    }
}

enum Line {
    Ok(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one line (up to and including LF) of at most `max` bytes.
/// On overflow the rest of the line is discarded.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Ok(line)
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let used = chunk.len();
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        r.consume(used);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Ok(line) });
        }
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Extracts the path from `FROM:<path> params` / `TO:<path> params`.
fn parse_path(arg: &str, keyword: &str) -> Option<String> {
    let arg = arg.trim_start();
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

async fn session(stream: TcpStream, store: &Store) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    wr.write_all(b"220 sink.example.test ESMTP mailoauth-testkit sink\r\n").await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let line = match read_line(&mut rd, MAX_COMMAND_LINE).await? {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                wr.write_all(b"500 5.5.2 Line too long\r\n").await?;
                continue;
            }
            Line::Ok(l) => l,
        };
        let text = String::from_utf8_lossy(trim_crlf(&line)).into_owned();
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.to_owned()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 33554432\r\n250 ENHANCEDSTATUSCODES\r\n",
            "HELO" => b"250 sink.example.test\r\n",
            "MAIL" => match parse_path(&arg, "FROM:") {
                Some(p) => {
                    from = Some(p);
                    rcpts.clear();
                    b"250 2.1.0 OK\r\n"
                }
                None => b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" => match (&from, parse_path(&arg, "TO:")) {
                (None, _) => b"503 5.5.1 MAIL first\r\n",
                (Some(_), None) => b"501 5.5.4 Syntax: RCPT TO:<address>\r\n",
                (Some(_), Some(_)) if rcpts.len() >= MAX_RECIPIENTS => {
                    b"452 4.5.3 Too many recipients\r\n"
                }
                (Some(_), Some(p)) => {
                    rcpts.push(p);
                    b"250 2.1.5 OK\r\n"
                }
            },
            "DATA" => {
                if from.is_none() || rcpts.is_empty() {
                    b"503 5.5.1 MAIL and RCPT first\r\n"
                } else {
                    wr.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    match read_data(&mut rd).await? {
                        DataResult::Eof => return Ok(()),
                        DataResult::TooBig => {
                            from = None;
                            rcpts.clear();
                            b"552 5.3.4 Message too big or line too long\r\n"
                        }
                        DataResult::Ok(data) => {
                            store.push(SinkMessage {
                                from: from.take().unwrap_or_default(),
                                recipients: std::mem::take(&mut rcpts),
                                data,
                            });
                            b"250 2.0.0 OK queued in sink\r\n"
                        }
                    }
                }
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                wr.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.1 Command not implemented\r\n",
        };
        wr.write_all(reply).await?;
    }
}

enum DataResult {
    Ok(Vec<u8>),
    TooBig,
    Eof,
}

async fn read_data<R: AsyncBufRead + Unpin>(rd: &mut R) -> std::io::Result<DataResult> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let line = match read_line(rd, MAX_DATA_LINE).await? {
            Line::Eof => return Ok(DataResult::Eof),
            Line::TooLong => {
                too_big = true;
                continue;
            }
            Line::Ok(l) => l,
        };
        let content = trim_crlf(&line);
        if content == b"." {
            return Ok(if too_big { DataResult::TooBig } else { DataResult::Ok(data) });
        }
        if too_big {
            continue;
        }
        let unstuffed = content.strip_prefix(b".").unwrap_or(content);
        if data.len() + unstuffed.len() + 2 > MAX_MESSAGE {
            too_big = true;
            data.clear();
            continue;
        }
        data.extend_from_slice(unstuffed);
        data.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(parse_path("FROM:<a@b.c> SIZE=10", "FROM:").as_deref(), Some("a@b.c"));
        assert_eq!(parse_path("from: <>", "FROM:").as_deref(), Some(""));
        assert_eq!(parse_path("TO:", "TO:"), None);
        assert_eq!(parse_path("", "FROM:"), None);
        assert_eq!(parse_path("FR", "FROM:"), None);
        // non-ASCII must not panic on slicing
        assert_eq!(parse_path("é", "TO:"), None);
        assert_eq!(parse_path("ééé:<x>", "TO:"), None);
    }
}
