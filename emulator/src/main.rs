//! `mailoauth-emulator`: serve the Microsoft identity platform emulator until killed.
//!
//! Prints its base URL as the first line on stdout.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use mailoauth_emulator::{config, Config, Emulator};

/// The warning printed when the emulator listens beyond loopback: it hands out tokens for
/// demo users with published passwords and has an unauthenticated control API.
fn bind_warning(bind: IpAddr) -> Option<String> {
    (!bind.is_loopback()).then(|| {
        format!(
            "WARNING: listening on {bind}, not loopback: anyone who can reach this address can sign in as the demo users \
             (their passwords are published) and change the emulator through /_emulator/ (no authentication). \
             Use it on a trusted network only."
        )
    })
}

const USAGE: &str = "usage: mailoauth-emulator [--port N] [--bind ADDR] [--https] [--ca-out FILE] \
[--config FILE] [--token-lifetime SECS] [--device-code-interval SECS] [--auto-approve-as USER] [--no-demo]

  --port N                  port to listen on (default 0: a free port)
  --bind ADDR               address to listen on (default 127.0.0.1)
  --https                   serve HTTPS with a freshly generated local CA
  --ca-out FILE             write that CA certificate (PEM) to FILE (with --https)
  --config FILE             scenario file, TOML (.toml) or JSON
  --token-lifetime SECS     access-token lifetime (expires_in), default 3599
  --device-code-interval S  device-code polling interval, default 5
  --auto-approve-as USER    approve every sign-in and device code as USER
  --no-demo                 start without the demo tenant, apps and users

The base URL is printed as the first line on stdout; the server runs until killed.";

struct Args {
    bind: IpAddr,
    port: u16,
    https: bool,
    ca_out: Option<PathBuf>,
    config: Option<PathBuf>,
    token_lifetime: Option<u64>,
    interval: Option<u64>,
    auto_approve_as: Option<String>,
    no_demo: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        https: false,
        ca_out: None,
        config: None,
        token_lifetime: None,
        interval: None,
        auto_approve_as: None,
        no_demo: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--port" => a.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--bind" => a.bind = value("--bind")?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--https" => a.https = true,
            "--ca-out" => a.ca_out = Some(PathBuf::from(value("--ca-out")?)),
            "--config" => a.config = Some(PathBuf::from(value("--config")?)),
            "--token-lifetime" => {
                a.token_lifetime =
                    Some(value("--token-lifetime")?.parse().map_err(|e| format!("--token-lifetime: {e}"))?);
            }
            "--device-code-interval" => {
                a.interval =
                    Some(value("--device-code-interval")?.parse().map_err(|e| format!("--device-code-interval: {e}"))?);
            }
            "--auto-approve-as" => a.auto_approve_as = Some(value("--auto-approve-as")?),
            "--no-demo" => a.no_demo = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if a.ca_out.is_some() && !a.https {
        return Err("--ca-out needs --https".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            let mut err = std::io::stderr();
            if !e.is_empty() {
                let _ = writeln!(err, "mailoauth-emulator: {e}");
            }
            let _ = writeln!(err, "{USAGE}");
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "mailoauth-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::demo(),
    };
    if args.no_demo {
        cfg.demo = false;
    }
    if let Some(t) = args.token_lifetime {
        cfg.token_lifetime_secs = t;
    }
    if let Some(i) = args.interval {
        cfg.device_code_interval_secs = i;
    }
    if let Some(u) = args.auto_approve_as.clone() {
        cfg.auto_approve_as = Some(u);
    }
    let demo = cfg.demo;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let emu = Emulator::builder()
            .config(cfg)
            .bind(SocketAddr::new(args.bind, args.port))
            .https(args.https)
            .start()
            .await?;
        if let (Some(path), Some(pem)) = (&args.ca_out, emu.ca_pem()) {
            std::fs::write(path, pem)?;
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", emu.base_url())?;
            out.flush()?;
        }
        let mut err = std::io::stderr().lock();
        writeln!(err, "mailoauth-emulator listening on {}", emu.base_url())?;
        if let Some(w) = bind_warning(args.bind) {
            writeln!(err, "{w}")?;
        }
        if demo {
            writeln!(
                err,
                "demo tenant {} ({}); public client {}; confidential client {}; user {} (secrets and passwords: see the README)",
                config::DEMO_TENANT_ID,
                config::DEMO_TENANT_DOMAIN,
                config::DEMO_PUBLIC_CLIENT_ID,
                config::DEMO_CONFIDENTIAL_CLIENT_ID,
                config::DEMO_USER,
            )?;
        }
        writeln!(err, "mail-server token validation: {}", emu.introspection_url())?;
        drop(err);
        wait_for_signal().await;
        emu.shutdown().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
