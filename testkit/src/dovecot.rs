//! A real Dovecot 2.3 instance in a temporary directory.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sink::SmtpSink;

/// How long [`Drop`] waits for Dovecot to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many times start-up is retried when a picked port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Options for [`Dovecot::start`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DovecotOptions {
    /// The oauth2 passdb `introspection_url`. With the default
    /// `introspection_mode = auth` Dovecot sends `GET <url>` with
    /// `Authorization: Bearer <token>`.
    pub validator_url: String,
    /// `introspection_mode`: `auth` (default), `post`, `get` or `local`.
    pub introspection_mode: String,
    /// The response attribute that carries the user name (default `email`).
    pub username_attribute: String,
    /// If set, Dovecot adds `"openid-configuration":"<url>"` to its failure JSON.
    pub openid_configuration_url: Option<String>,
    /// Extra lines appended to the oauth2 passdb configuration file.
    pub extra_oauth2_config: String,
    /// Extra lines appended to `dovecot.conf`.
    pub extra_config: String,
    /// How long to wait for the IMAP greeting (default 15 s).
    pub startup_timeout: Duration,
    /// The `dovecot` binary; by default it is searched in `PATH`, `/usr/sbin`
    /// and `/usr/local/sbin`.
    pub dovecot_binary: Option<PathBuf>,
}

impl DovecotOptions {
    /// Options with the given introspection URL and defaults for the rest.
    pub fn new(validator_url: impl Into<String>) -> Self {
        DovecotOptions { validator_url: validator_url.into(), ..Self::default() }
    }

    /// Sets the username attribute.
    pub fn username_attribute(mut self, attr: impl Into<String>) -> Self {
        self.username_attribute = attr.into();
        self
    }

    /// Sets the OpenID configuration URL reported in failure JSON.
    pub fn openid_configuration_url(mut self, url: impl Into<String>) -> Self {
        self.openid_configuration_url = Some(url.into());
        self
    }
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            validator_url: String::new(),
            introspection_mode: "auth".to_owned(),
            username_attribute: "email".to_owned(),
            openid_configuration_url: None,
            extra_oauth2_config: String::new(),
            extra_config: String::new(),
            startup_timeout: Duration::from_secs(15),
            dovecot_binary: None,
        }
    }
}

/// The ports of one Dovecot instance, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DovecotPorts {
    /// IMAP, plain with STARTTLS.
    pub imap: u16,
    /// IMAP over implicit TLS.
    pub imaps: u16,
    /// POP3, plain with STLS.
    pub pop3: u16,
    /// POP3 over implicit TLS.
    pub pop3s: u16,
    /// SMTP submission with STARTTLS (AUTH also offered before STARTTLS, loopback).
    pub submission: u16,
}

/// A running Dovecot. Dropping it stops Dovecot and removes its directory.
#[derive(Debug)]
pub struct Dovecot {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    conf_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    ca_file: PathBuf,
    instance_name: String,
    ports: DovecotPorts,
    sink: SmtpSink,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn find_binary(opts: &DovecotOptions) -> Result<PathBuf> {
    let mut searched = Vec::new();
    if let Some(b) = &opts.dovecot_binary {
        if b.is_file() {
            return Ok(b.clone());
        }
        return Err(Error::DovecotNotFound { searched: vec![b.clone()] });
    }
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    dirs.push("/sbin".into());
    for d in dirs {
        let cand = d.join("dovecot");
        if cand.is_file() {
            return Ok(cand);
        }
        searched.push(cand);
    }
    Err(Error::DovecotNotFound { searched })
}

fn check_option(name: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        return Err(Error::InvalidOption(format!("{name} must not contain a line break")));
    }
    Ok(())
}

fn pick_ports() -> Result<DovecotPorts> {
    // Hold all listeners at once so the five ports are distinct.
    let mut ls = Vec::new();
    for _ in 0..5 {
        let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| Error::io("picking a free port", e))?;
        ls.push(l);
    }
    let mut ports = Vec::new();
    for l in &ls {
        ports.push(l.local_addr().map_err(|e| Error::io("picking a free port", e))?.port());
    }
    drop(ls);
    Ok(DovecotPorts { imap: ports[0], imaps: ports[1], pop3: ports[2], pop3s: ports[3], submission: ports[4] })
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

fn command_output(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {cmd}"), e))?;
    if !out.status.success() {
        return Err(Error::Permission(format!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The identity Dovecot runs under.
enum RunAs {
    Root,
    /// Not root: everything runs as this user (Dovecot's "rootless" mode).
    User {
        user: String,
        group: String,
        uid: u32,
        gid: u32,
    },
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// Process ids of all processes whose command line contains `needle`.
pub(crate) fn pids_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in rd.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.is_empty() {
            continue; // zombie or kernel thread
        }
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            out.push(pid);
        }
    }
    out
}

fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Dovecot {
    /// Writes a configuration into a fresh temporary directory, starts
    /// `dovecot -F -c <conf>` and waits until it greets on the IMAP port.
    ///
    /// Fails (never skips) when the `dovecot` binary is missing.
    pub fn start(opts: DovecotOptions) -> Result<Dovecot> {
        check_option("validator_url", &opts.validator_url)?;
        check_option("introspection_mode", &opts.introspection_mode)?;
        check_option("username_attribute", &opts.username_attribute)?;
        if let Some(u) = &opts.openid_configuration_url {
            check_option("openid_configuration_url", u)?;
        }
        let binary = find_binary(&opts)?;
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&opts, &binary) {
                Ok(d) => return Ok(d),
                Err(e) => {
                    let retry = matches!(
                        &e,
                        Error::DovecotExited { log_tail, .. } | Error::StartTimeout { log_tail, .. }
                            if log_tail.contains("Address already in use")
                    );
                    if !retry {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::InvalidOption("no start attempt".into())))
    }

    fn start_once(opts: &DovecotOptions, binary: &Path) -> Result<Dovecot> {
        let dir = tempfile::Builder::new()
            .prefix("mailoauth-dovecot-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory", e))?;
        let root = dir.path().to_path_buf();
        // Dovecot's unprivileged processes (auth as `dovecot`, mail as `nobody`)
        // must be able to traverse it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(format!("chmod {}", root.display()), e))?;
        let meta = fs::metadata(&root).map_err(|e| Error::io(format!("stat {}", root.display()), e))?;
        let run_as = if meta.uid() == 0 {
            RunAs::Root
        } else {
            RunAs::User {
                user: command_output("id", &["-un"])?,
                group: command_output("id", &["-gn"])?,
                uid: meta.uid(),
                gid: meta.gid(),
            }
        };

        let suffix = root
            .file_name()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("mailoauth-dovecot-"))
            .unwrap_or("x")
            .to_owned();
        let instance_name =
            format!("mailoauth-dc-{}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), suffix);

        let conf_dir = root.join("conf");
        let certs_dir = root.join("certs");
        let logs_dir = root.join("logs");
        let state_dir = root.join("state");
        let mail_dir = root.join("mail");
        mkdir(&conf_dir, 0o755)?;
        mkdir(&certs_dir, 0o755)?;
        mkdir(&logs_dir, 0o755)?;
        mkdir(&state_dir, 0o755)?;
        mkdir(&mail_dir, 0o1777)?;
        // base_dir (root/run) is deliberately not created: Dovecot creates it,
        // so it is always empty (stale anvil sockets cause 5 s stalls).

        let pki = crate::certs::generate()?;
        let ca_file = certs_dir.join("ca.pem");
        let cert_file = certs_dir.join("cert.pem");
        let key_file = certs_dir.join("key.pem");
        write_file(&ca_file, &pki.ca_pem, 0o644)?;
        write_file(&cert_file, &pki.cert_pem, 0o644)?;
        write_file(&key_file, &pki.key_pem, 0o600)?;

        let sink = SmtpSink::start()?;
        let ports = pick_ports()?;

        let oauth2_conf = conf_dir.join("dovecot-oauth2.conf.ext");
        let mut o = String::new();
        let _ = writeln!(o, "introspection_url = {}", opts.validator_url);
        let _ = writeln!(o, "introspection_mode = {}", opts.introspection_mode);
        let _ = writeln!(o, "username_attribute = {}", opts.username_attribute);
        let _ = writeln!(o, "active_attribute = active");
        let _ = writeln!(o, "active_value = true");
        let _ = writeln!(o, "timeout_msecs = 5000");
        let _ = writeln!(o, "debug = yes");
        if let Some(u) = &opts.openid_configuration_url {
            let _ = writeln!(o, "openid_configuration_url = {u}");
        }
        o.push_str(&opts.extra_oauth2_config);
        o.push('\n');
        write_file(&oauth2_conf, &o, 0o644)?;

        let r = root.display();
        let (userdb_ids, rootless) = match &run_as {
            RunAs::Root => ("uid=nobody gid=nogroup".to_owned(), String::new()),
            RunAs::User { user, group, uid, gid } => (
                format!("uid={uid} gid={gid}"),
                format!(
                    "default_internal_user = {user}\n\
                     default_internal_group = {group}\n\
                     default_login_user = {user}\n\
                     first_valid_uid = {uid}\n\
                     first_valid_gid = {gid}\n\
                     service anvil {{\n  chroot =\n}}\n\
                     service imap-login {{\n  chroot =\n}}\n\
                     service pop3-login {{\n  chroot =\n}}\n\
                     service submission-login {{\n  chroot =\n}}\n\
                     service imap-urlauth-login {{\n  chroot =\n}}\n"
                ),
            ),
        };
        let conf = format!(
            "# generated by mailoauth-testkit\n\
protocols = imap pop3 submission\n\
listen = 127.0.0.1\n\
base_dir = {r}/run\n\
state_dir = {r}/state\n\
instance_name = {instance_name}\n\
hostname = mail.example.test\n\
login_greeting = Dovecot ready ({instance_name}).\n\
log_path = {r}/logs/dovecot.log\n\
auth_verbose = yes\n\
auth_debug = yes\n\
auth_mechanisms = xoauth2 oauthbearer\n\
disable_plaintext_auth = no\n\
auth_failure_delay = 0\n\
service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n\
passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {oauth2}\n}}\n\
userdb {{\n  driver = static\n  args = {userdb_ids} home={r}/mail/%Lu\n}}\n\
mail_location = maildir:~/Maildir\n\
ssl = yes\n\
ssl_cert = <{cert}\n\
ssl_key = <{key}\n\
ssl_min_protocol = TLSv1.2\n\
service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n  inet_listener imaps {{\n    port = {imaps}\n    ssl = yes\n  }}\n}}\n\
service pop3-login {{\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n  inet_listener pop3s {{\n    port = {pop3s}\n    ssl = yes\n  }}\n}}\n\
service submission-login {{\n  inet_listener submission {{\n    port = {submission}\n  }}\n}}\n\
submission_relay_host = 127.0.0.1\n\
submission_relay_port = {sink_port}\n\
submission_relay_trusted = yes\n\
submission_relay_ssl = no\n\
pop3_uidl_format = %08Xu%08Xv\n\
mail_max_userip_connections = 1000\n\
default_process_limit = 1000\n\
{rootless}\
{extra}\n",
            oauth2 = oauth2_conf.display(),
            cert = cert_file.display(),
            key = key_file.display(),
            imap = ports.imap,
            imaps = ports.imaps,
            pop3 = ports.pop3,
            pop3s = ports.pop3s,
            submission = ports.submission,
            sink_port = sink.port(),
            extra = opts.extra_config,
        );
        let conf_path = conf_dir.join("dovecot.conf");
        write_file(&conf_path, &conf, 0o644)?;

        let log_path = logs_dir.join("dovecot.log");
        let stderr_path = logs_dir.join("dovecot.stderr");
        let stderr =
            fs::File::create(&stderr_path).map_err(|e| Error::io(format!("creating {}", stderr_path.display()), e))?;
        let stdout = stderr.try_clone().map_err(|e| Error::io("duplicating a file handle", e))?;
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;

        let mut dovecot = Dovecot {
            child: Some(child),
            dir: Some(dir),
            root,
            conf_path,
            log_path,
            stderr_path,
            ca_file,
            instance_name,
            ports,
            sink,
        };
        dovecot.wait_ready(opts.startup_timeout)?;
        Ok(dovecot)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let deadline = start + timeout;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports.imap));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(Error::DovecotExited { status: status.to_string(), log_tail: self.log_tail(40) });
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::StartTimeout { waited_ms: timeout.as_millis(), log_tail: self.log_tail(40) });
            }
            if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let _ = stream.set_read_timeout(Some(remaining.max(Duration::from_millis(10))));
                let mut line = String::new();
                let mut rd = BufReader::new(stream);
                if rd.read_line(&mut line).is_ok() && line.starts_with("* OK") && line.contains(&self.instance_name) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The host all listeners are on: `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// All ports.
    pub fn ports(&self) -> DovecotPorts {
        self.ports
    }

    /// IMAP (plain, STARTTLS) port.
    pub fn imap_port(&self) -> u16 {
        self.ports.imap
    }

    /// IMAPS (implicit TLS) port.
    pub fn imaps_port(&self) -> u16 {
        self.ports.imaps
    }

    /// POP3 (plain, STLS) port.
    pub fn pop3_port(&self) -> u16 {
        self.ports.pop3
    }

    /// POP3S (implicit TLS) port.
    pub fn pop3s_port(&self) -> u16 {
        self.ports.pop3s
    }

    /// SMTP submission (STARTTLS) port.
    pub fn submission_port(&self) -> u16 {
        self.ports.submission
    }

    /// PEM file of the CA that signed the server certificate (for `localhost`
    /// and `127.0.0.1`); give it to clients as an extra trusted CA.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate as PEM text.
    pub fn ca_pem(&self) -> Result<String> {
        fs::read_to_string(&self.ca_file).map_err(|e| Error::io(format!("reading {}", self.ca_file.display()), e))
    }

    /// A rustls client configuration (ring provider) that trusts only the test CA.
    pub fn rustls_client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        crate::tls::client_config_for_ca_file(&self.ca_file)
    }

    /// Dovecot's log file (`log_path`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The generated `dovecot.conf`.
    pub fn conf_path(&self) -> &Path {
        &self.conf_path
    }

    /// The temporary directory holding configuration, certificates, logs and mail.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// This instance's unique `instance_name` (also in its process titles
    /// and in the login greeting).
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// The master process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Dovecot's log plus anything it wrote to stdout/stderr.
    pub fn log_contents(&self) -> String {
        let mut s = fs::read_to_string(&self.log_path).unwrap_or_default();
        if let Ok(e) = fs::read_to_string(&self.stderr_path) {
            if !e.is_empty() {
                s.push_str("\n--- stderr ---\n");
                s.push_str(&e);
            }
        }
        s
    }

    fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_contents(), lines)
    }

    /// The SMTP sink that submission relays to.
    pub fn sink(&self) -> &SmtpSink {
        &self.sink
    }

    /// Process ids of this instance's processes still alive (master and children).
    pub fn running_pids(&self) -> Vec<u32> {
        let mut pids = pids_matching(&self.instance_name);
        for p in pids_matching(&self.conf_path.display().to_string()) {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        pids
    }

    /// Stops Dovecot and removes its directory (what [`Drop`] does).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id(), "TERM");
            let deadline = Instant::now() + STOP_GRACE;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        // Children normally exit with the master; make sure none is left.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = self.running_pids();
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in left {
                send_signal(pid, "KILL");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.shutdown();
    }
}
