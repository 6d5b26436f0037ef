//! `mailoauth check`: get the token, check it, connect, log in, probe; one line per step, a
//! verdict, and for a failure the likely cause and its fix.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use mailoauth::diagnose::{diagnose, wrong_cloud, Diagnosis};
use mailoauth::identity::{check_access_token, TokenClaims, TokenWarning};
use mailoauth::net::{login, LoginOptions, MailServer, MailSession, Security, Timeouts, TlsOptions};
use mailoauth::{AccessToken, Authority, MailAuthError, MailErrorKind, Mechanism, Protocol, Stage};

use crate::account;
use crate::commands::{mechanism, pick_account, sasl_user, silent_token};
use crate::config::{AccountConfig, Config, ServerConfig};
use crate::exit::{CliResult, Exit, Failure};
use crate::{out_line, CheckArgs, CheckWhat, Cli};

fn line(status: &str, what: &str, step: &str, detail: &str) {
    out_line(&format!("{status:<4} {what:<5} {step:<8} {detail}"));
}

/// A server line shortened for a one-line report (capability lists run long).
fn short(text: &str) -> String {
    const MAX: usize = 110;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// What the token says about itself (decoded, not verified).
struct TokenFacts {
    audience: Option<String>,
    summary: String,
}

fn facts(token: &str, now: i64) -> TokenFacts {
    let Some(c) = TokenClaims::decode(token) else {
        return TokenFacts {
            audience: None,
            summary: "opaque token (not a JWT, usual for personal accounts): its claims cannot be checked".to_owned(),
        };
    };
    let app_only = c.app_only();
    let (audience, user, scp, roles, exp) = (c.audience, c.user, c.scopes, c.roles, c.expires_at);
    let validity = match exp {
        Some(exp) if exp > now => format!("valid for {} min", exp.saturating_sub(now) / 60),
        Some(exp) => format!("EXPIRED {} s ago", now.saturating_sub(exp)),
        None => "no expiry".to_owned(),
    };
    let grants = if app_only { format!("roles {}", roles.join(" ")) } else { format!("scopes {}", scp.join(" ")) };
    let summary = format!(
        "{validity}; audience {}; {grants}; {}",
        audience.as_deref().unwrap_or("none"),
        match &user {
            Some(u) => format!("user {u}"),
            None if app_only => "app-only (no user)".to_owned(),
            None => "no user claim".to_owned(),
        }
    );
    TokenFacts { audience, summary }
}

/// The steps a login goes through for a security mode.
fn steps(security: Security, probe: bool) -> Vec<&'static str> {
    let mut s = match security {
        Security::Tls => vec!["connect", "tls", "greeting", "login"],
        Security::StartTls => vec!["connect", "greeting", "tls", "login"],
        Security::Plain => vec!["connect", "greeting", "login"],
    };
    if probe {
        s.push("probe");
    }
    s
}

fn step_of(stage: Stage) -> &'static str {
    match stage {
        Stage::Connect => "connect",
        Stage::Tls | Stage::StartTls => "tls",
        Stage::Greeting | Stage::Capabilities => "greeting",
        Stage::Auth => "login",
        Stage::Probe => "probe",
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Imap => "IMAP",
        Protocol::Smtp => "SMTP",
        Protocol::Pop3 => "POP3",
    }
}

struct Target<'a> {
    authority: &'a Authority,
    account: Option<&'a AccountConfig>,
    args: &'a CheckArgs,
}

impl Target<'_> {
    fn server(&self, protocol: Protocol) -> CliResult<MailServer> {
        let a = self.args;
        let saved: Option<&ServerConfig> = self.account.and_then(|c| c.server(protocol));
        let flag = if a.tls {
            Some(Security::Tls)
        } else if a.starttls {
            Some(Security::StartTls)
        } else if a.plain {
            Some(Security::Plain)
        } else {
            None
        };
        let saved_security = match saved {
            Some(s) => s.security()?,
            None => None,
        };
        let host = a.host.clone().or_else(|| saved.and_then(|s| s.host.clone()));
        let port = a.port.or_else(|| if a.host.is_some() { None } else { saved.and_then(|s| s.port) });
        let security = flag.or(if a.host.is_some() { None } else { saved_security });
        let server = MailServer::for_authority(protocol, self.authority, host.as_deref(), port, security);
        // The token would cross the network in the clear: loopback test servers only.
        if server.is_plain_to_remote() {
            return Err(Failure::usage(format!(
                "no TLS (--plain or security = \"plain\") is only allowed for a loopback host, not {}: the token would cross the network in the clear; use --tls or --starttls",
                server.host
            )));
        }
        Ok(server)
    }
}

async fn probe(session: &mut MailSession) -> Result<Option<String>, String> {
    match session.protocol() {
        // The IMAP probe is the core's (LoginOptions::probe); POP3 has none there: STAT.
        Protocol::Pop3 => {
            session.write_line("STAT").await.map_err(|e| e.to_string())?;
            let l = session.read_line().await.map_err(|e| e.to_string())?;
            if l.starts_with("+OK") {
                Ok(Some(format!("STAT: {l}")))
            } else {
                Err(format!("STAT answered {l:?}: authenticated but the mailbox cannot be opened"))
            }
        }
        _ => Ok(None),
    }
}

pub(crate) async fn goodbye(session: &mut MailSession) {
    let cmd = match session.protocol() {
        Protocol::Imap => "z LOGOUT",
        Protocol::Smtp | Protocol::Pop3 => "QUIT",
    };
    let _ = session.write_line(cmd).await;
}

struct Checked {
    failure: Option<Failure>,
    warned: bool,
}

#[allow(clippy::too_many_arguments)]
async fn check_one(
    target: &Target<'_>,
    protocol: Protocol,
    token: &str,
    user: &str,
    mech: Mechanism,
    tls: &TlsOptions,
    timeout: Duration,
    now: i64,
    facts: &TokenFacts,
) -> CliResult<Checked> {
    let name = proto_name(protocol);
    let server = target.server(protocol)?;
    let mut warnings = check_access_token(token, protocol, user, now);
    warnings.retain(|w| !matches!(w, TokenWarning::Opaque));
    for w in &warnings {
        line("warn", name, "token", &w.to_string());
    }
    let cloud = wrong_cloud(&server.host, facts.audience.as_deref(), Some(target.authority));
    if let Some(c) = &cloud {
        line("warn", name, "cloud", c);
    }
    if warnings.is_empty() && cloud.is_none() {
        line("ok", name, "token", &format!("{} permission and user {user} look right", protocol_permission(protocol)));
    }
    let with_probe = protocol != Protocol::Smtp;
    let options = LoginOptions {
        tls: tls.clone(),
        timeouts: Timeouts { connect: timeout, io: timeout },
        probe: protocol == Protocol::Imap,
        ..Default::default()
    };
    let security = match server.security {
        Security::Tls => "implicit TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "no TLS",
    };
    let all_steps = steps(server.security, with_probe);
    match login(&server, user, &AccessToken::new(token), mech, &options).await {
        Ok(mut session) => {
            for s in &all_steps {
                let detail = match *s {
                    "connect" => format!("{}:{} ({security})", server.host, server.port),
                    "tls" => "handshake ok, certificate trusted".to_owned(),
                    "greeting" => short(&session.outcome().greeting),
                    "login" => format!("{} as {user}: {}", mech.name(), short(&session.outcome().final_line)),
                    _ => String::new(),
                };
                if *s == "probe" {
                    match probe(&mut session).await {
                        Ok(Some(d)) => line("ok", name, "probe", &d),
                        Ok(None) => line("ok", name, "probe", "LIST \"\" \"INBOX\": the mailbox answers"),
                        Err(d) => {
                            line("FAIL", name, "probe", &d);
                            let e = MailAuthError::new(protocol, Stage::Probe, MailErrorKind::NotConnected, d);
                            let Diagnosis { cause, fix } =
                                diagnose(e.kind, protocol, token, &server.host, user, Some(target.authority), now);
                            line("", "", "cause", &cause);
                            line("", "", "fix", &fix);
                            return Ok(Checked { failure: Some(Failure::from(e)), warned: true });
                        }
                    }
                } else {
                    line("ok", name, s, &detail);
                }
            }
            goodbye(&mut session).await;
            Ok(Checked { failure: None, warned: !warnings.is_empty() || cloud.is_some() })
        }
        Err(e) => {
            let failed = step_of(e.stage);
            for s in all_steps.iter().take_while(|s| **s != failed) {
                let detail = match *s {
                    "connect" => format!("{}:{} ({security})", server.host, server.port),
                    _ => String::new(),
                };
                line("ok", name, s, &detail);
            }
            line("FAIL", name, failed, &e.to_string());
            let Diagnosis { cause, fix } =
                diagnose(e.kind, protocol, token, &server.host, user, Some(target.authority), now);
            line("", "", "cause", &cause);
            line("", "", "fix", &fix);
            Ok(Checked { failure: Some(Failure::from(e)), warned: true })
        }
    }
}

fn protocol_permission(p: Protocol) -> &'static str {
    mailoauth::identity::scopes::delegated_permission(p)
}

pub(crate) fn run(cli: &Cli, a: &CheckArgs) -> CliResult {
    let rt = account::runtime()?;
    let now = mailoauth::identity::Platform::now(&mailoauth::net::TokioPlatform);
    let config;
    let (token, user, authority, cfg) = if a.token_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        let token = s.trim().to_owned();
        if token.is_empty() {
            return Err(Failure::usage("--token-stdin: no token on stdin"));
        }
        let authority = Authority::from_options(a.provider.map(|p| p.name()), None, None, a.cloud.map(|c| c.name()))?;
        line("ok", "", "token", "read from stdin");
        (token, a.user.clone().unwrap_or_default(), authority, None)
    } else {
        config = Config::load(cli.config_path()?)?;
        let (name, cfg) = pick_account(&config, a.account.as_deref())?;
        let authority = account::authority(cfg)?;
        let t = match silent_token(cli, name, cfg, mailoauth::SilentOptions::default()) {
            Ok(t) => t,
            Err(f) => {
                line("FAIL", "", "token", &format!("account {name}: {}", f.message.lines().next().unwrap_or("")));
                out_line(&format!("verdict: FAILED: no token for {name} (exit {})", f.exit.code()));
                return Err(f);
            }
        };
        let user = match &a.user {
            Some(u) => u.clone(),
            None => sasl_user(cfg, &t)?,
        };
        line("ok", "", "token", &format!("account {name}, from {}", authority.url()));
        (t.access_token.expose_secret().to_owned(), user, authority, Some(cfg))
    };
    let mech = mechanism(a.mechanism, cfg)?;
    let f = facts(&token, now);
    line("ok", "", "claims", &f.summary);
    let ca: Option<PathBuf> = a.ca_file.clone().or_else(|| cfg.and_then(|c| c.ca_file.clone()));
    let tls = TlsOptions { ca_files: ca.into_iter().collect(), ..Default::default() };
    let protocols: &[Protocol] = match a.what {
        CheckWhat::Imap => &[Protocol::Imap],
        CheckWhat::Smtp => &[Protocol::Smtp],
        CheckWhat::Pop => &[Protocol::Pop3],
        CheckWhat::All => &[Protocol::Imap, Protocol::Smtp, Protocol::Pop3],
    };
    let target = Target { authority: &authority, account: cfg, args: a };
    let timeout = Duration::from_secs(a.timeout.max(1));
    let mut verdicts = Vec::new();
    let mut first: Option<Failure> = None;
    let mut warned = false;
    for p in protocols {
        let r = rt.block_on(check_one(&target, *p, &token, &user, mech, &tls, timeout, now, &f))?;
        warned |= r.warned;
        match r.failure {
            None => verdicts.push(format!("{} ok", proto_name(*p))),
            Some(fail) => {
                verdicts.push(format!("{} FAILED", proto_name(*p)));
                first.get_or_insert(fail);
            }
        }
    }
    match first {
        None => {
            let note = if warned { " (see the warnings above)" } else { "" };
            out_line(&format!("verdict: OK: {} for {user}{note}", verdicts.join(", ")));
            Ok(())
        }
        Some(f) => {
            let what = match f.exit {
                Exit::Rejected => "rejected by the mail server",
                Exit::Network => "network or TLS failure",
                _ => "failed",
            };
            out_line(&format!("verdict: FAILED: {} ({what}, exit {})", verdicts.join(", "), f.exit.code()));
            Err(Failure::new(f.exit, format!("check failed: {}", f.message)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_expiry_claims_do_not_overflow() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        for (exp, now, says) in [
            (i64::MIN, 1_700_000_000, "EXPIRED"),
            (i64::MAX, 1_700_000_000, "valid for"),
            (i64::MAX, i64::MIN, "valid for"),
            (i64::MIN, i64::MAX, "EXPIRED"),
        ] {
            let token = format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(format!(r#"{{"aud":"a","exp":{exp}}}"#)));
            let f = facts(&token, now);
            assert!(f.summary.starts_with(says), "{exp} at {now}: {}", f.summary);
        }
    }

    #[test]
    fn steps_follow_the_security_mode() {
        assert_eq!(steps(Security::StartTls, false), ["connect", "greeting", "tls", "login"]);
        assert_eq!(steps(Security::Tls, true), ["connect", "tls", "greeting", "login", "probe"]);
    }
}
