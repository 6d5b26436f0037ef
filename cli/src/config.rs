//! The configuration file (TOML, one table per account) and the XDG locations.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mailoauth::net::Security;
use mailoauth::Protocol;
use serde::{Deserialize, Serialize};

use crate::exit::{CliResult, Failure};

/// `$XDG_CONFIG_HOME/mailoauth/config.toml` (default `~/.config/mailoauth/config.toml`).
pub(crate) fn default_config_path() -> CliResult<PathBuf> {
    Ok(xdg_dir("XDG_CONFIG_HOME", ".config")?.join("mailoauth").join("config.toml"))
}

/// `$MAILOAUTH_STATE_DIR`, else `$XDG_STATE_HOME/mailoauth` (default `~/.local/state/mailoauth`).
pub(crate) fn state_dir() -> CliResult<PathBuf> {
    if let Some(d) = std::env::var_os("MAILOAUTH_STATE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    Ok(xdg_dir("XDG_STATE_HOME", ".local/state")?.join("mailoauth"))
}

fn xdg_dir(var: &str, fallback: &str) -> CliResult<PathBuf> {
    if let Some(d) = std::env::var_os(var).map(PathBuf::from).filter(|d| d.is_absolute()) {
        return Ok(d);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(fallback)),
        None => Err(Failure::usage(format!("neither {var} nor HOME is set: pass --config and --store"))),
    }
}

/// Where an account's tokens are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StoreKind {
    /// A JSON file, mode 0600 (default: `$XDG_STATE_HOME/mailoauth/tokens.json`).
    #[default]
    File,
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// Two shell commands: `load_command` prints the cache, `save_command` reads it on stdin.
    Command,
}

/// How the user signs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Flow {
    /// Device code: a code to type on another device's browser.
    #[default]
    DeviceCode,
    /// Browser with a loopback redirect (authorization code + PKCE).
    Browser,
}

/// A mail server override for `check` (and mail clients' configuration snippets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) port: Option<u16>,
    /// `tls`, `starttls` or `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) security: Option<String>,
}

impl ServerConfig {
    /// The `security` it names, if any (`tls`, `starttls` or `plain`).
    pub(crate) fn security(&self) -> CliResult<Option<Security>> {
        match self.security.as_deref() {
            None => Ok(None),
            Some(s) => Security::parse(s)
                .map(Some)
                .ok_or_else(|| Failure::usage(format!("security {s:?} in the account is not tls, starttls or plain"))),
        }
    }
}

/// One account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountConfig {
    /// `microsoft` (default) or `google`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<String>,
    /// The app registration's application (client) id.
    pub(crate) client_id: String,
    /// Google Desktop-app clients: the (non-confidential) client secret Google requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cloud: Option<String>,
    /// A full authority URL (wins over tenant and cloud); the emulator's URL works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authority: Option<String>,
    #[serde(default)]
    pub(crate) flow: Flow,
    /// The scopes asked for at sign-in (and for every token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) scopes: Vec<String>,
    /// The SASL user (the mailbox address; a shared mailbox's address works with Exchange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// The signed-in account in the token cache (written by `login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) login: Option<String>,
    #[serde(default)]
    pub(crate) store: StoreKind,
    /// For `store = "file"`: the token file (default: the shared one in the state dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) store_file: Option<PathBuf>,
    /// For `store = "command"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) load_command: Option<String>,
    /// For `store = "command"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) save_command: Option<String>,
    /// Extra CA certificates (PEM) to trust for the authority and the mail servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ca_file: Option<PathBuf>,
    /// `xoauth2` (default) or `oauthbearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mechanism: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) imap: Option<ServerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) smtp: Option<ServerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pop: Option<ServerConfig>,
    /// `mailoauth proxy`: local listeners for clients that only know passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) proxy: Option<ProxyConfig>,
}

impl AccountConfig {
    /// The saved server of `protocol`, if the account has one.
    pub(crate) fn server(&self, protocol: Protocol) -> Option<&ServerConfig> {
        match protocol {
            Protocol::Imap => self.imap.as_ref(),
            Protocol::Smtp => self.smtp.as_ref(),
            Protocol::Pop3 => self.pop.as_ref(),
        }
    }
}

/// An account's `mailoauth proxy` listeners (each `IP:PORT`) and local password hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) imap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) smtp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pop: Option<String>,
    /// Written by `mailoauth proxy password` (salted PBKDF2-HMAC-SHA256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) password_hash: Option<String>,
    /// Local TLS: `"starttls"` (offered, required before a login) or `"implicit"`; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tls: Option<String>,
    /// The local TLS certificate chain and key (PEM); without them the proxy makes a self-signed
    /// one on first start and keeps it in the state directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cert_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key_file: Option<PathBuf>,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) accounts: BTreeMap<String, AccountConfig>,
}

/// The configuration file and where it lives.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) path: PathBuf,
    pub(crate) file: ConfigFile,
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub(crate) fn load(path: PathBuf) -> CliResult<Config> {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config { path, file: ConfigFile::default() })
            }
            Err(e) => return Err(Failure::usage(format!("cannot read {}: {e}", path.display()))),
        };
        let file: ConfigFile =
            toml::from_str(&text).map_err(|e| Failure::usage(format!("{} is not valid: {e}", path.display())))?;
        Ok(Config { path, file })
    }

    /// The named account, or a usage error listing the known ones.
    pub(crate) fn account(&self, name: &str) -> CliResult<&AccountConfig> {
        self.file.accounts.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.file.accounts.keys().map(String::as_str).collect();
            Failure::usage(format!(
                "no account {name:?} in {} ({}); add it with: mailoauth login {name} --client-id <app id>",
                self.path.display(),
                if known.is_empty() { "no accounts yet".to_owned() } else { format!("known: {}", known.join(", ")) }
            ))
        })
    }

    /// Re-reads the file under its lock (`<file>.lock`), applies `change` and writes it, so
    /// that commands running at the same time (two `login`s) keep each other's changes.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut ConfigFile)) -> CliResult {
        let _lock = lock(&self.path)?;
        let mut now = Config::load(self.path.clone())?;
        change(&mut now.file);
        now.save()?;
        self.file = now.file;
        Ok(())
    }

    /// Writes the file atomically, mode 0600, in a private directory; a symbolic link stays
    /// one (its target is replaced), and the temporary file is a new file with a random name.
    fn save(&self) -> CliResult {
        let text =
            toml::to_string_pretty(&self.file).map_err(|e| Failure::usage(format!("cannot write the config: {e}")))?;
        let header = "# mailoauth accounts (see `mailoauth --help`). `mailoauth login` rewrites this file.\n\n";
        mailoauth::cache::write_private_atomic(&self.path, format!("{header}{text}").as_bytes())
            .map_err(|e| Failure::usage(format!("cannot write the config: {}", e.message)))
    }
}

/// Takes the configuration's lock file (held for a read-modify-write, milliseconds).
fn lock(path: &Path) -> CliResult<fs::File> {
    let err = |what: &str, p: &Path, e: std::io::Error| Failure::usage(format!("cannot {what} {}: {e}", p.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.exists() {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(|e| err("create", dir, e))?;
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let mut opts = fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&lock_path).map_err(|e| err("open", &lock_path, e))?;
    file.lock().map_err(|e| err("lock", &lock_path, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_defaults() {
        let text = r#"
[accounts.work]
client_id = "c0ffee00-0000-4000-8000-000000000002"
tenant = "contoso.example"
store = "command"
load_command = "gpg -d tokens.gpg"
save_command = "gpg -e -r me -o tokens.gpg"
imap = { host = "127.0.0.1", port = 1143, security = "plain" }
"#;
        let f: ConfigFile = toml::from_str(text).expect("parses");
        let a = &f.accounts["work"];
        assert_eq!(a.flow, Flow::DeviceCode);
        assert_eq!(a.store, StoreKind::Command);
        assert_eq!(a.imap.as_ref().and_then(|s| s.port), Some(1143));
        let back: ConfigFile = toml::from_str(&toml::to_string_pretty(&f).expect("writes")).expect("parses again");
        assert_eq!(back, f);
        assert!(toml::from_str::<ConfigFile>("[accounts.x]\nclient_id='a'\nbogus=1\n").is_err());
    }
}
