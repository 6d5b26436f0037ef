//! From an account's configuration to the core's objects: authority, scopes, token store,
//! client. Every decision here is the core's (`Authority::from_options`, `mail_scopes`); this
//! module only wires them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mailoauth::cache::{CommandStore, FileStore, KeyringStore, TokenStore};
use mailoauth::identity::scopes::mail_scopes;
use mailoauth::identity::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse};
use mailoauth::net::{ReqwestHttp, TokioPlatform};
use mailoauth::{Authority, Protocol, PublicClient, TokenCache};

use crate::config::{state_dir, AccountConfig, StoreKind};
use crate::exit::{CliResult, Failure};

/// The authority an account signs in at.
pub(crate) fn authority(cfg: &AccountConfig) -> CliResult<Authority> {
    Ok(Authority::from_options(
        cfg.provider.as_deref(),
        cfg.authority.as_deref(),
        cfg.tenant.as_deref(),
        cfg.cloud.as_deref(),
    )?)
}

/// The scopes an account asks for: its own, else IMAP, POP and SMTP of its provider and cloud
/// with a refresh token.
pub(crate) fn scopes(cfg: &AccountConfig, authority: &Authority) -> Vec<String> {
    if cfg.scopes.is_empty() {
        default_scopes(authority)
    } else {
        cfg.scopes.clone()
    }
}

pub(crate) fn default_scopes(authority: &Authority) -> Vec<String> {
    mail_scopes(authority.provider(), authority.cloud(), &[Protocol::Imap, Protocol::Pop3, Protocol::Smtp], true)
}

/// The default token file: `<state dir>/tokens.json`.
pub(crate) fn default_store_file() -> CliResult<PathBuf> {
    Ok(state_dir()?.join("tokens.json"))
}

/// The token store of an account. `store_override` is the global `--store FILE`.
pub(crate) fn store(name: &str, cfg: &AccountConfig, store_override: Option<&Path>) -> CliResult<Arc<dyn TokenStore>> {
    let store: Arc<dyn TokenStore> = match cfg.store {
        StoreKind::File => {
            let path = match (store_override, &cfg.store_file) {
                (Some(p), _) => p.to_path_buf(),
                (None, Some(p)) => p.clone(),
                (None, None) => default_store_file()?,
            };
            Arc::new(FileStore::new(path))
        }
        StoreKind::Keyring => {
            let lock = state_dir()?.join(format!("keyring-{name}.lock"));
            Arc::new(KeyringStore::new("mailoauth", &format!("tokens-{name}"))?.with_lock_file(lock))
        }
        StoreKind::Command => {
            let (Some(load), Some(save)) = (&cfg.load_command, &cfg.save_command) else {
                return Err(Failure::usage(format!(
                    "account {name:?} has store = \"command\" but lacks load_command or save_command"
                )));
            };
            let lock = state_dir()?.join(format!("command-{name}.lock"));
            Arc::new(CommandStore::new(load.clone(), save.clone()).with_lock_file(lock))
        }
    };
    verbose!("token store: {}", store.describe());
    if let Some(notice) = store.notice() {
        eprintln!("mailoauth: note: {notice}");
    }
    Ok(store)
}

/// reqwest, built on the first request: a cached token needs no HTTP client at all, and
/// building one (TLS roots) costs more than the whole `mailoauth token` hit path.
pub(crate) struct LazyHttp {
    ca_files: Vec<PathBuf>,
    client: OnceLock<Result<Arc<dyn HttpClient>, String>>,
}

impl std::fmt::Debug for LazyHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyHttp").field("ca_files", &self.ca_files).finish_non_exhaustive()
    }
}

impl LazyHttp {
    pub(crate) fn new(ca_files: Vec<PathBuf>) -> Self {
        LazyHttp { ca_files, client: OnceLock::new() }
    }
}

impl HttpClient for LazyHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let client = self.client.get_or_init(|| {
            let cas: Vec<&Path> = self.ca_files.iter().map(PathBuf::as_path).collect();
            ReqwestHttp::with_options(Duration::from_secs(30), &cas)
                .map(ReqwestHttp::shared)
                .map_err(|e| e.message.clone())
        });
        verbose!("HTTP {:?} {}", request.method, request.url);
        match client {
            Ok(c) => c.send(request),
            Err(m) => {
                let e = HttpError { message: m.clone(), timed_out: false };
                Box::pin(async move { Err(e) })
            }
        }
    }
}

/// A public client for the account, with its token cache.
pub(crate) fn client(cfg: &AccountConfig, authority: Authority, store: Arc<dyn TokenStore>) -> PublicClient {
    let http = Arc::new(LazyHttp::new(cfg.ca_file.iter().cloned().collect()));
    let client = PublicClient::new(cfg.client_id.clone(), authority, http, Arc::new(TokioPlatform))
        .with_cache(Arc::new(TokenCache::new(store)));
    match &cfg.client_secret {
        Some(secret) => client.with_client_secret(mailoauth::identity::ClientSecret::new(secret.clone())),
        None => client,
    }
}

/// A single-threaded runtime: starting it costs microseconds, unlike the multi-thread one.
pub(crate) fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}
