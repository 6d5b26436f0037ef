//! Shared helpers: a private HOME per test, running the binary, a tiny HTTP client.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mailoauth_emulator::{config, Emulator};

pub const CLIENT: &str = config::DEMO_PUBLIC_CLIENT_ID;
pub const USER: &str = config::DEMO_USER;

/// A temporary HOME with its own XDG config and state directories: nothing touches the real ones.
pub struct Home {
    pub dir: tempfile::TempDir,
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_file(&self) -> PathBuf {
        self.path().join("cfg/mailoauth/config.toml")
    }

    pub fn token_file(&self) -> PathBuf {
        self.path().join("state/mailoauth/tokens.json")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailoauth"));
        c.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("cfg"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env_remove("MAILOAUTH_CONFIG")
            .env_remove("MAILOAUTH_STORE")
            .env_remove("MAILOAUTH_STATE_DIR")
            .env_remove("MAILOAUTH_CLIENT_ID")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("run mailoauth").into()
    }

    pub fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child: Child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait").into()
    }

    /// `mailoauth login NAME` against the emulator with the device flow (auto-approved).
    pub fn login(&self, emu: &Emulator, name: &str, extra: &[&str]) -> Run {
        let authority = emu.authority("organizations");
        let mut args = vec!["login", name, "--client-id", CLIENT, "--authority", &authority];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Appends TOML to the configuration file.
    pub fn append_config(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new().append(true).open(self.config_file()).expect("config exists");
        f.write_all(text.as_bytes()).expect("append");
    }
}

/// An emulator that approves every device code as alice at once.
pub fn emulator(lifetime: Duration) -> Emulator {
    Emulator::builder()
        .token_lifetime(lifetime)
        .device_code_interval(Duration::ZERO)
        .auto_approve_as(USER)
        .start_blocking()
        .expect("emulator starts")
}

/// A minimal HTTP/1.0 GET: (status, headers, body).
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    let u = url::Url::parse(url).expect("url");
    let host = u.host_str().expect("host").to_owned();
    let port = u.port_or_known_default().expect("port");
    let mut s = TcpStream::connect((host.as_str(), port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let hs = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    (status, hs, body.to_owned())
}

/// Whether the emulator considers the token valid (as a mail server would ask).
pub fn introspect_active(emu: &Emulator, token: &str) -> bool {
    let (status, _, body) = http_get(&emu.introspection_url(), &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(status, 200, "introspection answers 200: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["active"] == serde_json::Value::Bool(true)
}

/// File mode bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("exists").permissions().mode() & 0o777
}
