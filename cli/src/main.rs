//! `mailoauth`: OAuth 2.0 tokens and XOAUTH2 logins for mail clients. See README.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Set by `-v`: log steps (never secrets) on stderr.
pub(crate) static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Logs a line on stderr when `-v` was given. Never pass a secret.
macro_rules! verbose {
    ($($arg:tt)*) => {
        if $crate::VERBOSE.load(::std::sync::atomic::Ordering::Relaxed) {
            eprintln!("mailoauth: {}", format_args!($($arg)*));
        }
    };
}

mod account;
mod check;
mod commands;
mod config;
mod demo;
mod demo_server;
mod doctor;
mod exit;
mod proxy;

use config::StoreKind;
use exit::{CliResult, Exit, Failure};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  usage or configuration error
  2  sign-in needed (run `mailoauth login <account>`)
  3  rejected by the mail server
  4  network or TLS error
  5  identity-platform error (app registration, policy, throttling)

Files:
  config  $MAILOAUTH_CONFIG, --config, else $XDG_CONFIG_HOME/mailoauth/config.toml
  tokens  --store, else $MAILOAUTH_STATE_DIR/tokens.json, else $XDG_STATE_HOME/mailoauth/tokens.json
          (or per account: store = \"keyring\" | \"command\")";

/// OAuth 2.0 tokens and XOAUTH2 logins for mail clients (Exchange Online, Outlook.com, Gmail).
#[derive(Debug, Parser)]
#[command(name = "mailoauth", version, after_help = EXIT_CODES, max_term_width = 100)]
pub(crate) struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "MAILOAUTH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The token file of accounts that keep their tokens in a file.
    #[arg(long, global = true, env = "MAILOAUTH_STORE", value_name = "FILE")]
    store: Option<PathBuf>,
    /// Log each step on stderr (secrets are never logged).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in and save the account and its tokens.
    Login(LoginArgs),
    /// Print a valid access token (refreshing it silently) and nothing else on stdout.
    Token(TokenArgs),
    /// Print the base64 SASL XOAUTH2 / OAUTHBEARER initial response.
    Sasl(SaslArgs),
    /// Check a token and a real login to IMAP, SMTP or POP3; explain any failure.
    Check(CheckArgs),
    /// List the configured accounts and whether they are signed in.
    Accounts(AccountsArgs),
    /// Remove an account's tokens (and with --forget, the account).
    Logout(LogoutArgs),
    /// Print what the app registration needs for the account's sign-in flow.
    Doctor(DoctorArgs),
    /// Run the whole story locally: emulator, mail server, sign-in, IMAP and SMTP.
    Demo(DemoArgs),
    /// Local IMAP/POP3/SMTP listeners for clients that only know passwords (see README).
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ProxyArgs {
    /// Only these accounts' listeners (default: every account with a proxy section).
    accounts: Vec<String>,
    /// Accept listen addresses that are not loopback (the local password then crosses the network).
    #[arg(long)]
    allow_remote: bool,
    /// Test each listener and exit: its address can be bound (or a running proxy serves it), and
    /// the upstream side works (token, TLS, XOAUTH2 login, logout). One line per listener; the
    /// exit code is non-zero when any fails.
    #[arg(long)]
    check: bool,
    #[command(subcommand)]
    action: Option<ProxyAction>,
}

#[derive(Debug, Subcommand)]
enum ProxyAction {
    /// Set the account's local password: a random one printed once, or one line from stdin.
    Password(ProxyPasswordArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ProxyPasswordArgs {
    /// The account.
    account: String,
    /// Read the password from the first line of stdin instead of generating one.
    #[arg(long)]
    stdin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProviderArg {
    Microsoft,
    Google,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CloudArg {
    Global,
    Usgov,
    UsgovDod,
    China,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MechanismArg {
    Xoauth2,
    Oauthbearer,
}

impl MechanismArg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            MechanismArg::Xoauth2 => "xoauth2",
            MechanismArg::Oauthbearer => "oauthbearer",
        }
    }
}

impl ProviderArg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ProviderArg::Microsoft => "microsoft",
            ProviderArg::Google => "google",
        }
    }
}

impl CloudArg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CloudArg::Global => "global",
            CloudArg::Usgov => "usgov",
            CloudArg::UsgovDod => "usgov-dod",
            CloudArg::China => "china",
        }
    }
}

/// Where the account signs in (shared by login, check and doctor).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct AuthorityArgs {
    /// The identity provider.
    #[arg(long, value_enum)]
    pub(crate) provider: Option<ProviderArg>,
    /// The app registration's application (client) id.
    #[arg(long, env = "MAILOAUTH_CLIENT_ID", value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// The tenant: organizations (default), common, consumers, a GUID or a domain.
    #[arg(long, value_name = "T")]
    pub(crate) tenant: Option<String>,
    /// The Microsoft cloud.
    #[arg(long, value_enum)]
    pub(crate) cloud: Option<CloudArg>,
    /// A full authority URL including the tenant (wins over --tenant and --cloud); the
    /// emulator's http://127.0.0.1:PORT/organizations works.
    #[arg(long, value_name = "URL")]
    pub(crate) authority: Option<String>,
    /// Google only: the client secret of a Desktop-app OAuth client (Google requires it; it
    /// is not confidential for installed apps). Microsoft public clients must not use one.
    /// On the command line it is visible to other local users (`ps`, /proc/PID/cmdline) and
    /// may land in the shell history: prefer the MAILOAUTH_CLIENT_SECRET environment variable.
    #[arg(long, env = "MAILOAUTH_CLIENT_SECRET", value_name = "SECRET")]
    pub(crate) client_secret: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// A name for the account (used by every other command).
    pub(crate) account: String,
    #[command(flatten)]
    pub(crate) authority: AuthorityArgs,
    /// Sign in with a code typed on any device's browser (default; works over SSH).
    #[arg(long, conflicts_with = "browser")]
    pub(crate) device_code: bool,
    /// Sign in in a browser on this machine (loopback redirect; prints the URL too).
    #[arg(long)]
    pub(crate) browser: bool,
    /// A scope to ask for (repeatable). Default: IMAP, POP and SMTP of the provider and cloud.
    #[arg(long = "scope", value_name = "S")]
    pub(crate) scopes: Vec<String>,
    /// The mailbox address to log in to mail servers as (default: the signed-in user); a
    /// shared mailbox's address works with Exchange Online.
    #[arg(long, value_name = "EMAIL")]
    pub(crate) user: Option<String>,
    /// Where to keep this account's tokens.
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) token_store: Option<StoreKind>,
    /// With --token-store command: prints the token cache (e.g. `gpg -q -d ~/.mailoauth.gpg`).
    #[arg(long, value_name = "CMD")]
    pub(crate) load_command: Option<String>,
    /// With --token-store command: reads the token cache on stdin (e.g. `gpg -e -r me -o ~/.mailoauth.gpg`).
    #[arg(long, value_name = "CMD")]
    pub(crate) save_command: Option<String>,
    /// Extra CA certificates (PEM) to trust for the authority and the account's mail servers.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Browser flow: do not try to open a browser, only print the URL.
    #[arg(long)]
    pub(crate) no_open: bool,
    /// Give up waiting for the sign-in after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The account (may be omitted when only one is configured).
    pub(crate) account: Option<String>,
    #[command(flatten)]
    pub(crate) freshness: Freshness,
}

/// How fresh the access token must be (`token`, `sasl`).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Freshness {
    /// Get a new access token now instead of the cached one (the mail server refused it, e.g.
    /// after a password change); processes that ask at the same moment still share one refresh.
    #[arg(long)]
    pub(crate) refresh: bool,
    /// Refresh unless the cached token stays valid at least SECS more (always at least 300).
    #[arg(long, value_name = "SECS")]
    pub(crate) min_validity: Option<u64>,
}

impl Freshness {
    /// The core's options for silent acquisition: the core decides what these mean.
    pub(crate) fn options(self) -> mailoauth::SilentOptions {
        mailoauth::SilentOptions::new()
            .force_refresh(self.refresh)
            .min_validity(self.min_validity.map(std::time::Duration::from_secs))
    }
}

#[derive(Debug, Args)]
pub(crate) struct SaslArgs {
    /// The account (may be omitted when only one is configured).
    pub(crate) account: Option<String>,
    /// The SASL mechanism.
    #[arg(long, value_enum)]
    pub(crate) mechanism: Option<MechanismArg>,
    /// OAUTHBEARER: the server's host name.
    #[arg(long, value_name = "H")]
    pub(crate) host: Option<String>,
    /// OAUTHBEARER: the server's port.
    #[arg(long, value_name = "P")]
    pub(crate) port: Option<u16>,
    /// The SASL user (default: the account's).
    #[arg(long, value_name = "EMAIL")]
    pub(crate) user: Option<String>,
    #[command(flatten)]
    pub(crate) freshness: Freshness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckWhat {
    Imap,
    Smtp,
    Pop,
    All,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// What to check.
    #[arg(value_enum)]
    pub(crate) what: CheckWhat,
    /// The account whose token to use (may be omitted when only one is configured).
    #[arg(long, value_name = "NAME", conflicts_with = "token_stdin")]
    pub(crate) account: Option<String>,
    /// The SASL user (required with --token-stdin).
    #[arg(long, value_name = "U")]
    pub(crate) user: Option<String>,
    /// Read the access token from stdin instead of an account.
    #[arg(long, requires = "user")]
    pub(crate) token_stdin: bool,
    /// The mail server (default: the provider's for the cloud, or the account's).
    #[arg(long, value_name = "H")]
    pub(crate) host: Option<String>,
    /// The port (default: the protocol's for the security mode).
    #[arg(long, value_name = "P")]
    pub(crate) port: Option<u16>,
    /// Implicit TLS.
    #[arg(long, conflicts_with_all = ["starttls", "plain"])]
    pub(crate) tls: bool,
    /// STARTTLS.
    #[arg(long, conflicts_with = "plain")]
    pub(crate) starttls: bool,
    /// No TLS: refused unless the host is loopback (localhost, 127.0.0.0/8, ::1), since the
    /// token would cross the network in the clear.
    #[arg(long)]
    pub(crate) plain: bool,
    /// Extra CA certificates (PEM) to trust.
    #[arg(long, value_name = "F")]
    pub(crate) ca_file: Option<PathBuf>,
    /// The SASL mechanism.
    #[arg(long, value_enum)]
    pub(crate) mechanism: Option<MechanismArg>,
    /// With --token-stdin: the provider whose servers to use by default.
    #[arg(long, value_enum)]
    pub(crate) provider: Option<ProviderArg>,
    /// With --token-stdin: the cloud whose servers to use by default.
    #[arg(long, value_enum)]
    pub(crate) cloud: Option<CloudArg>,
    /// Time-out of each network step, in seconds; the whole login has 3 × this.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct AccountsArgs {
    /// One JSON object per account (no secrets).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The account.
    pub(crate) account: String,
    /// Also remove the account from the configuration file.
    #[arg(long)]
    pub(crate) forget: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DoctorFlow {
    DeviceCode,
    Browser,
    AppOnly,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The account (optional: the flags below describe one without it).
    pub(crate) account: Option<String>,
    /// The flow to explain (default: the account's).
    #[arg(long, value_enum)]
    pub(crate) flow: Option<DoctorFlow>,
    #[command(flatten)]
    pub(crate) authority: AuthorityArgs,
    /// App-only: the mailbox the app reads or sends as.
    #[arg(long, value_name = "EMAIL")]
    pub(crate) mailbox: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Use the built-in loopback mail server even when Dovecot is installed.
    #[arg(long)]
    pub(crate) builtin_server: bool,
}

/// Writes one line to stdout. A closed stdout (`| head`) is not an error worth a panic.
pub(crate) fn out_line(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

impl Cli {
    pub(crate) fn config_path(&self) -> CliResult<PathBuf> {
        match &self.config {
            Some(p) => Ok(p.clone()),
            None => config::default_config_path(),
        }
    }
}

fn run(cli: &Cli) -> CliResult {
    match &cli.command {
        Command::Login(a) => commands::login(cli, a),
        Command::Token(a) => commands::token(cli, a),
        Command::Sasl(a) => commands::sasl(cli, a),
        Command::Check(a) => check::run(cli, a),
        Command::Accounts(a) => commands::accounts(cli, a),
        Command::Logout(a) => commands::logout(cli, a),
        Command::Doctor(a) => doctor::run(cli, a),
        Command::Demo(a) => demo::run(a),
        Command::Proxy(a) => match &a.action {
            Some(ProxyAction::Password(p)) => proxy::set_password(cli, p),
            None => proxy::run(cli, a),
        },
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(Exit::Usage.code()),
            };
        }
    };
    VERBOSE.store(cli.verbose, Ordering::Relaxed);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { exit, message }) => {
            // Errors quote servers: each line made safe for the terminal (core did it too).
            let safe: Vec<_> = message.lines().map(mailoauth::text::safe_text).collect();
            eprintln!("mailoauth: {}", safe.join("\n"));
            ExitCode::from(exit.code())
        }
    }
}
