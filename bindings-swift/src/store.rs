//! `TokenCache` over a memory or file store, or over a store the app implements in Swift
//! (`TokenStoreCallback`: the Keychain, a database...).

use std::sync::Arc;
use std::time::Duration;

use mailoauth::cache::{FileStore, StoreError, StoreErrorKind, TokenStore};
use mailoauth::net::TokioPlatform;
use mailoauth::{IdentityError, IdentityErrorKind};

use crate::errors::{MailOAuthError, TokenStoreError};
use crate::types::Account;

/// Keeps the serialized token cache (JSON bytes, holding refresh tokens: keep it secret).
/// Implement it over the Keychain and pass it to `TokenCache.custom(store:)`. Errors thrown
/// here reach the caller as `MailOAuthError.Storage`.
#[uniffi::export(with_foreign)]
pub trait TokenStoreCallback: Send + Sync {
    /// The stored bytes, or nil if nothing is stored yet.
    fn load(&self) -> Result<Option<Vec<u8>>, TokenStoreError>;
    /// Replaces the stored bytes.
    fn save(&self, data: Vec<u8>) -> Result<(), TokenStoreError>;
}

/// The core's [`TokenStore`] over a foreign store.
struct ForeignStore(Arc<dyn TokenStoreCallback>);

impl TokenStore for ForeignStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.load().map_err(|e| StoreError::new(StoreErrorKind::Io, format!("the app's token store: load: {e}")))
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        self.0
            .save(data.to_vec())
            .map_err(|e| StoreError::new(StoreErrorKind::Io, format!("the app's token store: save: {e}")))
    }

    fn describe(&self) -> String {
        "the app's token store".to_owned()
    }
}

/// One cached sign-in (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CacheEntry {
    /// The authority's instance (base URL).
    pub environment: String,
    /// The application (client) id.
    pub client_id: String,
    /// Who signed in.
    pub account: Account,
}

/// The token cache: accounts, refresh tokens and access tokens, kept in a store. Access tokens
/// are refreshed `refreshMarginSecs` (default 300) before they expire.
#[derive(Debug, uniffi::Object)]
pub struct TokenCache(pub(crate) Arc<mailoauth::TokenCache>);

/// The cache with its refresh margin set, if one was given.
fn with_margin(cache: mailoauth::TokenCache, margin: Option<f64>) -> Result<Arc<TokenCache>, MailOAuthError> {
    let cache = match margin {
        None => cache,
        Some(m) => cache.with_refresh_margin(Duration::try_from_secs_f64(m).map_err(|_| {
            IdentityError::new(IdentityErrorKind::Configuration, "refresh_margin_secs must be a non-negative number")
        })?),
    };
    Ok(Arc::new(TokenCache(Arc::new(cache))))
}

#[uniffi::export(async_runtime = "tokio")]
impl TokenCache {
    /// A cache in memory: sign-ins last as long as the process.
    #[uniffi::constructor(default(refresh_margin_secs = None))]
    pub fn memory(refresh_margin_secs: Option<f64>) -> Result<Arc<TokenCache>, MailOAuthError> {
        with_margin(mailoauth::TokenCache::in_memory(), refresh_margin_secs)
    }

    /// A cache in a JSON file (mode 0600, atomic writes, a lock file shared by every process),
    /// in the format of the `mailoauth` command-line tool.
    #[uniffi::constructor(default(refresh_margin_secs = None))]
    pub fn file(path: String, refresh_margin_secs: Option<f64>) -> Result<Arc<TokenCache>, MailOAuthError> {
        with_margin(mailoauth::TokenCache::new(Arc::new(FileStore::new(path))), refresh_margin_secs)
    }

    /// A cache kept by the app's own store (the Keychain, ...).
    #[uniffi::constructor(default(refresh_margin_secs = None))]
    pub fn custom(
        store: Arc<dyn TokenStoreCallback>,
        refresh_margin_secs: Option<f64>,
    ) -> Result<Arc<TokenCache>, MailOAuthError> {
        with_margin(mailoauth::TokenCache::new(Arc::new(ForeignStore(store))), refresh_margin_secs)
    }

    /// Every cached sign-in, without secrets.
    pub fn entries(&self) -> Result<Vec<CacheEntry>, MailOAuthError> {
        Ok(self
            .0
            .entries()?
            .into_iter()
            .map(|(environment, client_id, account)| CacheEntry { environment, client_id, account: account.into() })
            .collect())
    }

    /// Imports a cache serialized by MSAL (msal-python or msal-node JSON): accounts, refresh
    /// tokens, unexpired access tokens. Returns how many accounts were imported.
    pub async fn import_msal(&self, msal_json: String) -> Result<u64, MailOAuthError> {
        Ok(self.0.import_msal(&msal_json, &TokioPlatform).await? as u64)
    }

    /// Where the tokens are kept, in words.
    pub fn describe(&self) -> String {
        self.0.store().describe()
    }
}
