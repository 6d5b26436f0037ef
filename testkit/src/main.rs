//! `mailoauth-testkit`: runs the test servers for test suites in other
//! languages.
//!
//! ```text
//! mailoauth-testkit dovecot [--validator-url URL] [--username-attribute NAME]
//!                           [--openid-configuration-url URL] [--token TOKEN=EMAIL]...
//! mailoauth-testkit validator [--username-attribute NAME] [--token TOKEN=EMAIL]...
//! ```
//!
//! Prints one JSON line describing the servers on stdout, then reads control
//! commands from stdin (one per line, each answered with one JSON line) until
//! stdin reaches EOF or SIGTERM/SIGINT arrives, then stops everything.
//!
//! Commands: `add TOKEN EMAIL`, `revoke TOKEN`, `down`, `up`, `requests`
//! (validator), `messages`, `clear`, `log` (dovecot), `ping`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use mailoauth_testkit::{Dovecot, DovecotOptions, TokenValidator};
use serde_json::{json, Value};

const USAGE: &str = "usage:
  mailoauth-testkit dovecot [--validator-url URL] [--username-attribute NAME]
                            [--openid-configuration-url URL] [--token TOKEN=EMAIL]...
  mailoauth-testkit validator [--username-attribute NAME] [--token TOKEN=EMAIL]...
  mailoauth-testkit hold-store-lock TOKEN_FILE

Prints one JSON line on stdout, then serves until stdin reaches EOF or
SIGTERM/SIGINT. Control commands on stdin (one JSON line answers each):
  add TOKEN EMAIL | revoke TOKEN | down | up | requests | messages | clear | log | ping

hold-store-lock takes the store lock of a token file as the CLI and the bindings do
(waiting for it), prints {\"held\":true}, holds it until stdin reaches EOF, releases it and
prints {\"released\":true}: another process for the tests of the lock shared with Node.";

#[derive(Debug, Default)]
struct Args {
    command: String,
    validator_url: Option<String>,
    username_attribute: Option<String>,
    openid_configuration_url: Option<String>,
    tokens: Vec<(String, String)>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { command: it.next().ok_or("missing subcommand")?, ..Args::default() };
    if args.command != "dovecot" && args.command != "validator" {
        return Err(format!("unknown subcommand {:?}", args.command));
    }
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--validator-url" if args.command == "dovecot" => {
                args.validator_url = Some(value()?);
            }
            "--username-attribute" => args.username_attribute = Some(value()?),
            "--openid-configuration-url" if args.command == "dovecot" => {
                args.openid_configuration_url = Some(value()?);
            }
            "--token" => {
                let v = value()?;
                let (t, e) = v.split_once('=').ok_or_else(|| format!("--token wants TOKEN=EMAIL, got {v:?}"))?;
                args.tokens.push((t.to_owned(), e.to_owned()));
            }
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    Ok(args)
}

fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn handle(line: &str, validator: Option<&TokenValidator>, dovecot: Option<&Dovecot>) -> Value {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let no_validator = || json!({"ok": false, "error": "no own validator (--validator-url given)"});
    let no_dovecot = || json!({"ok": false, "error": "no dovecot in this mode"});
    match (cmd, args.as_slice()) {
        ("ping", []) => json!({"ok": true}),
        ("add", [token, email]) => match validator {
            Some(v) => {
                v.add_token(token, email);
                json!({"ok": true})
            }
            None => no_validator(),
        },
        ("revoke", [token]) => match validator {
            Some(v) => {
                v.revoke(token);
                json!({"ok": true})
            }
            None => no_validator(),
        },
        ("down" | "up", []) => match validator {
            Some(v) => {
                v.set_down(cmd == "down");
                json!({"ok": true})
            }
            None => no_validator(),
        },
        ("requests", []) => match validator {
            Some(v) => json!({"ok": true, "requests": v.requests()}),
            None => no_validator(),
        },
        ("messages", []) => match dovecot {
            Some(d) => {
                let msgs: Vec<Value> = d
                    .sink()
                    .messages()
                    .iter()
                    .map(|m| json!({"from": m.from, "recipients": m.recipients, "data": m.data_text()}))
                    .collect();
                json!({"ok": true, "messages": msgs})
            }
            None => no_dovecot(),
        },
        ("clear", []) => match dovecot {
            Some(d) => {
                d.sink().clear();
                json!({"ok": true})
            }
            None => no_dovecot(),
        },
        ("log", []) => match dovecot {
            Some(d) => json!({"ok": true, "log": d.log_contents()}),
            None => no_dovecot(),
        },
        _ => json!({"ok": false, "error": format!("unknown command {line:?}")}),
    }
}

fn run(args: Args) -> Result<(), String> {
    let own_validator = if args.command == "validator" || args.validator_url.is_none() {
        let v = TokenValidator::start_with_attribute(args.username_attribute.as_deref().unwrap_or("email"))
            .map_err(|e| e.to_string())?;
        for (t, e) in &args.tokens {
            v.add_token(t, e);
        }
        Some(v)
    } else {
        None
    };
    let validator_url = match (&args.validator_url, &own_validator) {
        (Some(u), _) => u.clone(),
        (None, Some(v)) => v.url(),
        (None, None) => return Err("no validator".into()),
    };

    let dovecot = if args.command == "dovecot" {
        let mut opts = DovecotOptions::new(validator_url.clone());
        if let Some(a) = &args.username_attribute {
            opts.username_attribute = a.clone();
        }
        opts.openid_configuration_url = args.openid_configuration_url.clone();
        Some(Dovecot::start(opts).map_err(|e| e.to_string())?)
    } else {
        None
    };

    let ready = match &dovecot {
        Some(d) => {
            let p = d.ports();
            json!({
                "host": d.host(),
                "imap_port": p.imap,
                "imaps_port": p.imaps,
                "pop3_port": p.pop3,
                "pop3s_port": p.pop3s,
                "submission_port": p.submission,
                "ca_file": d.ca_file(),
                "validator_url": validator_url,
                "own_validator": own_validator.is_some(),
                "sink_port": d.sink().port(),
                "log_path": d.log_path(),
                "instance_name": d.instance_name(),
                "pid": d.pid(),
            })
        }
        None => json!({ "validator_url": validator_url }),
    };
    // Install the signal handlers before announcing readiness, so a SIGTERM
    // right after the JSON line is handled (and cleans up) rather than killing us.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let (mut term, mut int) = {
        let _guard = rt.enter();
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).map_err(|e| e.to_string())?,
            signal(SignalKind::interrupt()).map_err(|e| e.to_string())?,
        )
    };
    emit(&ready);

    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        // Reads stdin on a plain thread; dropping `tx` at EOF ends the loop.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            tokio::select! {
                line = rx.recv() => match line {
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => emit(&handle(line.trim(), own_validator.as_ref(), dovecot.as_ref())),
                    None => break,
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        Ok::<(), String>(())
    })?;
    drop(rt);
    drop(dovecot);
    drop(own_validator);
    Ok(())
}

/// `hold-store-lock TOKEN_FILE`: see the usage.
fn hold_store_lock(path: &str) -> Result<(), String> {
    use mailoauth::cache::{FileStore, TokenStore};
    let store = FileStore::new(path);
    let started = std::time::Instant::now();
    let lock = loop {
        if let Some(lock) = store.try_lock().map_err(|e| e.to_string())? {
            break lock;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            return Err("the store lock stayed held for 60 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    emit(&json!({"held": true}));
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
    drop(lock);
    emit(&json!({"released": true}));
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, path] = argv.as_slice() {
        if cmd == "hold-store-lock" {
            return match hold_store_lock(path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mailoauth-testkit: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("mailoauth-testkit: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailoauth-testkit: {e}");
            ExitCode::FAILURE
        }
    }
}
