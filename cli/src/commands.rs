//! login, token, sasl, accounts, logout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use mailoauth::cache::{StoreErrorKind, TokenCache};
use mailoauth::identity::{AuthorizationOptions, DevicePoll};
use mailoauth::net::InteractiveOptions;
use mailoauth::text::safe_text;
use mailoauth::{Mechanism, PublicClient, Token};

use crate::account;
use crate::config::{AccountConfig, Config, Flow, StoreKind};
use crate::exit::{CliResult, Exit, Failure};
use crate::{out_line, AccountsArgs, Cli, LoginArgs, LogoutArgs, MechanismArg, SaslArgs, TokenArgs};

/// The account named, or the only one configured.
pub(crate) fn pick_account<'a>(config: &'a Config, name: Option<&'a str>) -> CliResult<(&'a str, &'a AccountConfig)> {
    if let Some(n) = name {
        return Ok((n, config.account(n)?));
    }
    let mut all = config.file.accounts.iter();
    match (all.next(), all.next()) {
        (Some((n, a)), None) => Ok((n.as_str(), a)),
        (None, _) => Err(Failure::usage(format!(
            "no accounts in {}: add one with `mailoauth login <name> --client-id <app id>`",
            config.path.display()
        ))),
        _ => Err(Failure::usage("several accounts are configured: name one (see `mailoauth accounts`)")),
    }
}

/// The merged configuration of `login`: the saved account (if any) with the flags applied.
fn login_config(existing: Option<&AccountConfig>, a: &LoginArgs) -> CliResult<AccountConfig> {
    let mut cfg = existing.cloned().unwrap_or_default();
    let au = &a.authority;
    let changed_authority =
        au.provider.is_some() || au.tenant.is_some() || au.cloud.is_some() || au.authority.is_some();
    if let Some(p) = au.provider {
        cfg.provider = Some(p.name().to_owned());
    }
    if let Some(id) = &au.client_id {
        cfg.client_id = id.clone();
    }
    if let Some(secret) = &au.client_secret {
        cfg.client_secret = Some(secret.clone());
    }
    if changed_authority {
        // A new authority replaces the old one entirely.
        cfg.tenant = au.tenant.clone();
        cfg.cloud = au.cloud.map(|c| c.name().to_owned());
        cfg.authority = au.authority.clone();
    }
    if a.browser {
        cfg.flow = Flow::Browser;
    } else if a.device_code {
        cfg.flow = Flow::DeviceCode;
    }
    if !a.scopes.is_empty() {
        cfg.scopes = a.scopes.clone();
    }
    if a.user.is_some() {
        cfg.user = a.user.clone();
    }
    if let Some(k) = a.token_store {
        cfg.store = k;
    }
    if a.load_command.is_some() {
        cfg.load_command = a.load_command.clone();
    }
    if a.save_command.is_some() {
        cfg.save_command = a.save_command.clone();
    }
    if a.ca_file.is_some() {
        cfg.ca_file = a.ca_file.clone();
    }
    if cfg.client_id.trim().is_empty() {
        return Err(Failure::usage(format!(
            "--client-id is required: the application (client) id of an app registration. \
             `mailoauth doctor {} --client-id <id>` lists the settings it needs",
            a.account
        )));
    }
    if cfg.store == StoreKind::Command && (cfg.load_command.is_none() || cfg.save_command.is_none()) {
        return Err(Failure::usage("--token-store command needs --load-command and --save-command"));
    }
    Ok(cfg)
}

/// A live waiting line on a terminal; a single line otherwise.
struct Waiting {
    tty: bool,
    started: Instant,
    frame: usize,
}

impl Waiting {
    fn new(expires_in: i64) -> Waiting {
        let tty = std::io::stderr().is_terminal();
        if !tty {
            eprintln!("Waiting for the sign-in (the code expires in {} min)...", (expires_in.max(0) + 59) / 60);
        }
        Waiting { tty, started: Instant::now(), frame: 0 }
    }

    fn tick(&mut self, left_secs: i64) {
        if !self.tty {
            return;
        }
        const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        self.frame = (self.frame + 1) % FRAMES.len();
        let left = left_secs.max(0);
        eprint!(
            "\r{} waiting for you to sign in ({}s so far, code valid {:02}:{:02} more)  ",
            FRAMES[self.frame],
            self.started.elapsed().as_secs(),
            left / 60,
            left % 60
        );
    }

    fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

async fn device_flow(client: &PublicClient, scopes: &[String], timeout: Duration) -> CliResult<Token> {
    let mut flow = client.start_device_flow(scopes).await?;
    // The provider's own words: core made them safe already; printed safe regardless.
    eprintln!("{}", safe_text(&flow.message));
    let now = || client.platform().now();
    let mut waiting = Waiting::new(flow.expires_at.saturating_sub(now()));
    let deadline = Instant::now() + timeout;
    let mut wait = Duration::from_secs(flow.interval);
    loop {
        let polled = match client.poll_device_flow(&mut flow).await {
            Ok(DevicePoll::Done(token)) => {
                waiting.done();
                return Ok(*token);
            }
            Ok(DevicePoll::Pending(w)) => Ok(w),
            // A transport error or 5xx after the retries: keep polling, backing off.
            Err(e) => flow.wait_after_failure(wait, &e).ok_or(e),
        };
        match polled {
            Ok(next) => {
                wait = next;
                let until = Instant::now() + wait;
                loop {
                    waiting.tick(flow.expires_at.saturating_sub(now()));
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    tokio::time::sleep(left.min(Duration::from_millis(100))).await;
                }
                if Instant::now() >= deadline {
                    waiting.done();
                    return Err(Failure::new(Exit::SignIn, "gave up waiting for the sign-in (--timeout)"));
                }
            }
            Err(e) => {
                waiting.done();
                return Err(e.into());
            }
        }
    }
}

async fn browser_flow(
    client: &PublicClient,
    scopes: &[String],
    user: Option<&str>,
    open: bool,
    timeout: Duration,
) -> CliResult<Token> {
    let options = InteractiveOptions {
        authorization: AuthorizationOptions { login_hint: user.map(str::to_owned), ..Default::default() },
        open_browser: open,
        timeout,
        port: 0,
    };
    let token = client
        .acquire_token_interactive(scopes, &options, |url| {
            eprintln!("Open this URL in a browser to sign in (a browser on this machine opens it if it can):");
            eprintln!("{url}");
            eprintln!(
                "Over SSH: forward the port first (ssh -L PORT:localhost:PORT), PORT being the one in redirect_uri."
            );
        })
        .await?;
    Ok(token)
}

pub(crate) fn login(cli: &Cli, a: &LoginArgs) -> CliResult {
    let path = cli.config_path()?;
    let mut config = Config::load(path)?;
    let mut cfg = login_config(config.file.accounts.get(&a.account), a)?;
    let authority = account::authority(&cfg)?;
    let scopes = account::scopes(&cfg, &authority);
    verbose!("authority {} client {} scopes {}", authority.url(), cfg.client_id, scopes.join(" "));
    let store = account::store(&a.account, &cfg, cli.store.as_deref())?;
    // Fail before the user signs in, not after, if the store cannot be read; a damaged cache is
    // moved aside now (and said so), so that the sign-in that follows can be saved.
    match TokenCache::new(store.clone()).load() {
        Ok(_) => {}
        Err(e) if e.kind == StoreErrorKind::Corrupt => eprintln!("warning: {e}"),
        Err(e) => return Err(e.into()),
    }
    let store_desc = store.describe();
    let client = account::client(&cfg, authority, store);
    let rt = account::runtime()?;
    let timeout = Duration::from_secs(a.timeout);
    let token = rt.block_on(async {
        match cfg.flow {
            Flow::DeviceCode => device_flow(&client, &scopes, timeout).await,
            Flow::Browser => browser_flow(&client, &scopes, cfg.user.as_deref(), !a.no_open, timeout).await,
        }
    })?;
    let who = token.account.clone().unwrap_or_default();
    cfg.login = who.home_account_id.clone().or_else(|| Some(who.username.clone()).filter(|u| !u.is_empty()));
    if cfg.user.is_none() && !who.sasl_user().is_empty() {
        cfg.user = Some(who.sasl_user().to_owned());
    }
    config.update(|file| {
        file.accounts.insert(a.account.clone(), cfg.clone());
    })?;
    // The name comes from the identity platform's id_token: network text.
    let signed_in =
        if who.username.is_empty() { "(no account name returned)".into() } else { safe_text(&who.username) };
    eprintln!("Signed in as {signed_in}.");
    if let Some(u) = cfg.user.as_deref().filter(|u| !u.eq_ignore_ascii_case(&who.username)) {
        eprintln!("Mail logins use {} (a mailbox {signed_in} must have full access to).", safe_text(u));
    }
    eprintln!("Saved account {:?} in {}; tokens in {store_desc}.", a.account, config.path.display());
    eprintln!("Try it: mailoauth token {}   |   mailoauth check all --account {}", a.account, a.account);
    Ok(())
}

/// A valid access token for the account: cached, else refreshed silently (`options`: forced,
/// or with a minimum remaining validity).
pub(crate) fn silent_token(
    cli: &Cli,
    name: &str,
    cfg: &AccountConfig,
    options: mailoauth::SilentOptions,
) -> CliResult<Token> {
    let authority = account::authority(cfg)?;
    let scopes = account::scopes(cfg, &authority);
    let store = account::store(name, cfg, cli.store.as_deref())?;
    let client = account::client(cfg, authority, store);
    let rt = account::runtime()?;
    let token = rt.block_on(client.acquire_token_silent_with(&scopes, cfg.login.as_deref(), options)).map_err(|e| {
        let mut f = Failure::from(e);
        if f.exit == Exit::SignIn {
            f.message.push_str(&format!("\nSign in again: mailoauth login {name}"));
        }
        f
    })?;
    verbose!(
        "access token for {}: [redacted, {} chars], expires in {} s",
        token.account.as_ref().map(|a| a.username.as_str()).unwrap_or("?"),
        token.access_token.expose_secret().len(),
        token.expires_in(client.platform().now())
    );
    Ok(token)
}

pub(crate) fn sasl_user(cfg: &AccountConfig, token: &Token) -> CliResult<String> {
    cfg.user
        .clone()
        .or_else(|| token.account.as_ref().map(|a| a.sasl_user().to_owned()).filter(|u| !u.is_empty()))
        .ok_or_else(|| Failure::usage("the account has no user: set one with `mailoauth login <account> --user EMAIL`"))
}

pub(crate) fn mechanism(arg: Option<MechanismArg>, cfg: Option<&AccountConfig>) -> CliResult<Mechanism> {
    let name = match (arg, cfg.and_then(|c| c.mechanism.as_deref())) {
        (Some(m), _) => m.name(),
        (None, Some(m)) => m,
        (None, None) => "xoauth2",
    };
    name.parse::<Mechanism>().map_err(|e| Failure::usage(e.to_string()))
}

pub(crate) fn token(cli: &Cli, a: &TokenArgs) -> CliResult {
    let config = Config::load(cli.config_path()?)?;
    let (name, cfg) = pick_account(&config, a.account.as_deref())?;
    let token = silent_token(cli, name, cfg, a.freshness.options())?;
    out_line(token.access_token.expose_secret());
    Ok(())
}

pub(crate) fn sasl(cli: &Cli, a: &SaslArgs) -> CliResult {
    let config = Config::load(cli.config_path()?)?;
    let (name, cfg) = pick_account(&config, a.account.as_deref())?;
    let mech = mechanism(a.mechanism, Some(cfg))?;
    let token = silent_token(cli, name, cfg, a.freshness.options())?;
    let user = match &a.user {
        Some(u) => u.clone(),
        None => sasl_user(cfg, &token)?,
    };
    let b64 = match mech {
        Mechanism::XOAuth2 => mailoauth::sasl::xoauth2(&user, token.access_token.expose_secret()),
        Mechanism::OAuthBearer => {
            mailoauth::sasl::oauthbearer(&user, token.access_token.expose_secret(), a.host.as_deref(), a.port)
        }
    };
    out_line(&b64);
    Ok(())
}

pub(crate) fn accounts(cli: &Cli, a: &AccountsArgs) -> CliResult {
    let config = Config::load(cli.config_path()?)?;
    if config.file.accounts.is_empty() && !a.json {
        eprintln!("No accounts in {}. Add one: mailoauth login <name> --client-id <app id>", config.path.display());
        return Ok(());
    }
    for (name, cfg) in &config.file.accounts {
        let authority = account::authority(cfg)?;
        let store = account::store(name, cfg, cli.store.as_deref())?;
        let client = account::client(cfg, authority.clone(), store.clone());
        let signed_in = match client.accounts() {
            Ok(list) => {
                let id = cfg.login.as_deref().unwrap_or_default();
                let hit = !id.is_empty() && list.iter().any(|acc| acc.matches(id));
                if hit {
                    "signed in"
                } else {
                    "not signed in"
                }
            }
            Err(_) => "token store unreadable",
        };
        let flow = match cfg.flow {
            Flow::DeviceCode => "device-code",
            Flow::Browser => "browser",
        };
        if a.json {
            let v = serde_json::json!({
                "name": name, "user": cfg.user, "provider": format!("{:?}", authority.provider()).to_lowercase(),
                "authority": authority.url(), "client_id": cfg.client_id, "flow": flow,
                "store": store.describe(), "status": signed_in,
            });
            out_line(&v.to_string());
        } else {
            out_line(&format!(
                "{name}\t{}\t{}\t{flow}\t{}\t{signed_in}",
                cfg.user.as_deref().unwrap_or("-"),
                authority.url(),
                store.describe()
            ));
        }
    }
    Ok(())
}

pub(crate) fn logout(cli: &Cli, a: &LogoutArgs) -> CliResult {
    let mut config = Config::load(cli.config_path()?)?;
    let cfg = config.account(&a.account)?.clone();
    let authority = account::authority(&cfg)?;
    let store = account::store(&a.account, &cfg, cli.store.as_deref())?;
    let desc = store.describe();
    let client = account::client(&cfg, authority, store);
    let rt = account::runtime()?;
    let removed = match cfg.login.as_deref() {
        Some(id) => rt.block_on(client.remove_account(id))?,
        None => false,
    };
    if removed {
        eprintln!("Removed the tokens of {:?} from {desc}.", a.account);
    } else {
        eprintln!("{:?} had no tokens in {desc}.", a.account);
    }
    if a.forget {
        config.update(|file| {
            file.accounts.remove(&a.account);
        })?;
        eprintln!("Removed {:?} from {}.", a.account, config.path.display());
    }
    Ok(())
}
