//! The token cache: accounts, refresh tokens and access tokens keyed by authority + client +
//! account + scopes, kept in a pluggable [`TokenStore`], safe across threads and processes.
//!
//! Silent acquisition ([`crate::PublicClient::acquire_token_silent`]) returns a cached access
//! token that is valid for at least the margin (default 5 minutes, or until the server's
//! `refresh_in`), else refreshes it — once: concurrent callers in one process share the
//! refresh, and other processes wait on the store's lock and then read the rotated refresh
//! token — else fails with "interaction required" and leaves the stored data as it was.
//!
//! Locks: a store's lock ([`TokenStore::try_lock`]) is held around each load-change-save
//! ([`TokenCache`]'s `update`) and never across the network when the store has per-account
//! locks ([`TokenStore::try_lock_account`], held across a refresh). Stores only try; waiting
//! with backoff and giving up ([`StoreErrorKind::LockTimeout`]) is the cache's. The file
//! store's lock is a lock file shared with Node (protocol in `store_lock.rs`); its account
//! locks are `flock`s.
//!
//! The format is documented in the crate README ("Cache format").

#[allow(unused_imports)]
use crate::prelude::*;

mod data;
#[cfg(not(target_arch = "wasm32"))]
mod file;
mod flows;
#[cfg(all(feature = "keyring", not(target_arch = "wasm32")))]
mod keyring_store;
mod msal;
mod store;
#[cfg(not(target_arch = "wasm32"))]
mod store_lock;

use alloc::sync::Arc;

use crate::sync::Mutex;
use core::time::Duration;

pub use data::{CacheData, CacheEntry, CachedAccessToken, CACHE_SCHEMA_VERSION};
#[cfg(not(target_arch = "wasm32"))]
pub use file::{write_private_atomic, write_target, CommandStore, FileStore};
pub use flows::{CacheChange, LockWait, SilentFlow, Stored};
#[cfg(all(feature = "keyring", not(target_arch = "wasm32")))]
pub use keyring_store::{KeyringStore, WINDOWS_PART_LIMIT};
pub use store::{LockGuard, MemoryStore, StoreError, StoreErrorKind, StoreLock, TokenStore};

use crate::identity::{Account, Authority, IdentityError, IdentityErrorKind, Platform, RefreshToken, Token};

/// How long a caller waits for another process's lock before giving up. A store without
/// per-account locks holds its lock across a refresh, and a refresh holds its account's lock
/// across the network, so this outlasts the slowest refresh: every attempt of the default
/// retry policy timing out, with the longest waits between them (150 s).
const LOCK_WAIT: Duration = Duration::from_secs(180);

/// What silent acquisition accepts from the cache, beyond the cache's refresh margin.
///
/// `mailoauth token --refresh` and `--min-validity` are these. The policy stays here: a caller
/// says what it needs, the cache decides whether a cached token does, and two processes asking
/// at the same moment still cause one refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SilentOptions {
    /// Do not return the access token that was cached when the call started (a mail server
    /// refused it: revoked, or the user's password changed): redeem the refresh token. A token
    /// that another thread or process stored while this call waited for the lock is accepted,
    /// so many callers forcing at once still cause one refresh.
    pub force_refresh: bool,
    /// Refresh unless the cached token stays valid at least this long (the cache's margin
    /// still applies when it is longer). A token stored by another caller while this one
    /// waited for the lock is accepted even when it is shorter-lived than this, so a
    /// minimum above the tokens' lifetime cannot make every waiting process refresh in turn.
    pub min_validity: Option<Duration>,
}

impl SilentOptions {
    /// The defaults: any cached token valid for the cache's margin.
    pub fn new() -> SilentOptions {
        SilentOptions::default()
    }

    /// Sets [`SilentOptions::force_refresh`].
    pub fn force_refresh(mut self, force: bool) -> SilentOptions {
        self.force_refresh = force;
        self
    }

    /// Sets [`SilentOptions::min_validity`].
    pub fn min_validity(mut self, min: Option<Duration>) -> SilentOptions {
        self.min_validity = min;
        self
    }
}

/// The token cache over a store.
pub struct TokenCache {
    store: Arc<dyn TokenStore>,
    /// The last data read from or written to the store.
    memory: Mutex<Option<CacheData>>,
    /// Serialises read-modify-write of the store within this process (taken after the
    /// store's lock, never before it; only tried: a busy one is waited for like the store's).
    writes: Mutex<()>,
    /// The accounts a [`SilentFlow`] of this cache is refreshing (key: [`account_key`]), so
    /// callers refreshing one account share one refresh. (A list, not a hash map: a handful
    /// of accounts, and no hashing code in the wasm build.)
    refreshing: Mutex<Vec<String>>,
    margin: Duration,
}

impl core::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenCache")
            .field("store", &self.store.describe())
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        IdentityError::new(IdentityErrorKind::Storage, e.message)
    }
}

/// Where an entry belongs: the authority's instance (base URL), the client, the account.
fn entry_matches(e: &CacheEntry, environment: &str, client_id: &str, account: Option<&str>) -> bool {
    e.environment.eq_ignore_ascii_case(environment)
        && e.client_id == client_id
        && account.is_none_or(|a| e.account.matches(a))
}

/// What names an account's refresh, the same in every process: instance, client, user.
fn account_key(e: &CacheEntry) -> String {
    crate::cat!(e.environment.to_ascii_lowercase(), "\n", e.client_id, "\n", e.account.username.to_ascii_lowercase())
}

/// The scopes a cached access token must cover: the requested ones minus OpenID scopes.
pub(crate) fn resource_scopes(scopes: &[String]) -> Vec<String> {
    const OIDC: [&str; 4] = ["openid", "profile", "offline_access", "email"];
    // Sorted and de-duplicated by insertion (a handful of scopes; no sort routine in the wasm).
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes.iter().filter(|s| !OIDC.iter().any(|o| o.eq_ignore_ascii_case(s))) {
        let s = s.to_ascii_lowercase();
        if let Err(i) = out.binary_search(&s) {
            out.insert(i, s);
        }
    }
    out
}

/// What silent acquisition ([`SilentFlow`]) accepts from the cache.
#[derive(Debug, Clone)]
pub(crate) struct Acceptable {
    options: SilentOptions,
    /// The cache's margin, and the margin asked for (the larger of it and `min_validity`).
    cache_margin: Duration,
    margin: Duration,
    /// The access token a caller would have been given when it asked: with `force_refresh` it
    /// is the one to replace, and any other token that shows up meanwhile is a fresh one.
    seen: Option<String>,
}

impl Acceptable {
    /// The rules for `options` against `data` as first read at `now`.
    pub(crate) fn new(
        cache: &TokenCache,
        options: SilentOptions,
        data: &CacheData,
        id: &TokenId<'_>,
        now: i64,
    ) -> Self {
        let exacting = options.force_refresh || options.min_validity.is_some();
        let seen = exacting
            .then(|| id.valid(data, now, Duration::ZERO))
            .flatten()
            .map(|t| t.access_token.expose_secret().to_owned());
        let margin = cache.margin.max(options.min_validity.unwrap_or_default());
        Acceptable { options, cache_margin: cache.margin, margin, seen }
    }

    /// At the first look: a token valid for the margin, unless a refresh is forced.
    pub(crate) fn at_first(&self, data: &CacheData, id: &TokenId<'_>, now: i64) -> Option<Token> {
        (!self.options.force_refresh).then(|| id.valid(data, now, self.margin)).flatten()
    }

    /// After waiting for another refresh: also a token valid for the cache's margin that is not
    /// the one seen at first (another caller's refresh stored it).
    pub(crate) fn after_wait(&self, data: &CacheData, id: &TokenId<'_>, now: i64) -> Option<Token> {
        if let Some(t) = self.at_first(data, id, now) {
            return Some(t);
        }
        let exacting = self.options.force_refresh || self.options.min_validity.is_some();
        exacting
            .then(|| id.valid(data, now, self.cache_margin))
            .flatten()
            .filter(|t| self.seen.as_deref() != Some(t.access_token.expose_secret()))
    }
}

/// Which token: instance, client, account (or the only one), resource scopes.
pub(crate) struct TokenId<'a> {
    pub(crate) env: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) account: Option<&'a str>,
    pub(crate) wanted: &'a [String],
}

impl TokenId<'_> {
    fn valid(&self, data: &CacheData, now: i64, margin: Duration) -> Option<Token> {
        data.valid_token(self.env, self.client_id, self.account, self.wanted, now, margin)
    }
}

impl TokenCache {
    /// A cache over `store`.
    pub fn new(store: Arc<dyn TokenStore>) -> TokenCache {
        TokenCache {
            store,
            memory: Mutex::new(None),
            writes: Mutex::new(()),
            refreshing: Mutex::new(Vec::new()),
            margin: Duration::from_secs(300),
        }
    }

    /// A cache that lives in memory only.
    // Without std (the browser's one-thread wasm) the store's lock is a `RefCell`.
    #[cfg_attr(not(any(feature = "std", not(target_arch = "wasm32"))), allow(clippy::arc_with_non_send_sync))]
    pub fn in_memory() -> TokenCache {
        Self::new(Arc::new(MemoryStore::new()))
    }

    /// Refresh access tokens this long before they expire (default 5 minutes).
    pub fn with_refresh_margin(mut self, margin: Duration) -> TokenCache {
        self.margin = margin;
        self
    }

    /// When silent acquisition stops serving a token that expires at `expires_at` (with the
    /// server's `refresh_at`, if it sent `refresh_in`) and refreshes it, in Unix seconds: the
    /// refresh margin before expiry, or `refresh_at`, whichever comes first. For hosts that
    /// schedule their own renewal (nodemailer's `expires`).
    pub fn renew_at(&self, expires_at: i64, refresh_at: Option<i64>) -> i64 {
        let margin = i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX);
        let by_margin = expires_at.saturating_sub(margin);
        refresh_at.map_or(by_margin, |r| r.min(by_margin))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// Reads the store. Unreadable data is moved aside (if the store can) and reported as
    /// [`StoreErrorKind::Corrupt`]; it is never overwritten silently.
    pub fn load(&self) -> Result<CacheData, StoreError> {
        let data = match self.read()? {
            Ok(d) => d,
            Err(why) => {
                let kept = self.store.quarantine()?;
                let where_ = match kept {
                    Some(p) => crate::cat!("it was moved to ", p, "; sign in again"),
                    None => "fix or remove it, then sign in again".to_owned(),
                };
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    crate::cat!("the token cache in ", self.store.describe(), " is unreadable (", why, "); ", where_),
                ));
            }
        };
        self.remember(&data);
        Ok(data)
    }

    /// Reads and parses the store: the data, or why it cannot be parsed.
    fn read(&self) -> Result<Result<CacheData, String>, StoreError> {
        Ok(match self.store.load()? {
            None => Ok(CacheData::default()),
            Some(bytes) => CacheData::from_bytes(&bytes).map_err(|e| e.to_string()),
        })
    }

    fn remember(&self, data: &CacheData) {
        if let Ok(mut m) = self.memory.lock() {
            *m = Some(data.clone());
        }
    }

    fn save(&self, data: &CacheData) -> Result<(), StoreError> {
        self.store.save(&data.to_bytes())?;
        if let Ok(mut m) = self.memory.lock() {
            *m = Some(data.clone());
        }
        Ok(())
    }

    /// Runs `change` on freshly loaded data under the locks and saves the result, with
    /// the tries and waits of a [`CacheChange`] (`try_update`, [`LockWait`]), slept with the
    /// platform's timer (a `CacheChange` cannot borrow `change`).
    async fn update<R>(
        &self,
        platform: &dyn Platform,
        change: impl FnOnce(&mut CacheData) -> R,
    ) -> Result<R, StoreError> {
        let mut change = Some(change);
        let mut wait = LockWait::default();
        loop {
            let step = self.try_update(|data| change.take().map(|c| c(data)))?;
            if let Some(r) = step.flatten() {
                return Ok(r);
            }
            platform.sleep(wait.busy(&self.store.describe())?).await;
        }
    }

    /// Accounts signed in at `authority` with `client_id`.
    pub fn accounts(&self, authority: &Authority, client_id: &str) -> Result<Vec<Account>, StoreError> {
        let data = self.load()?;
        Ok(data
            .entries
            .iter()
            .filter(|e| entry_matches(e, authority.base_url(), client_id, None))
            .map(|e| e.account.clone())
            .collect())
    }

    /// Every entry (for listing), without secrets.
    pub fn entries(&self) -> Result<Vec<(String, String, Account)>, StoreError> {
        Ok(self.load()?.entries.into_iter().map(|e| (e.environment, e.client_id, e.account)).collect())
    }

    /// Stores a token from a sign-in or refresh (what the clients do when a cache is set).
    pub async fn store_token(
        &self,
        authority: &Authority,
        client_id: &str,
        token: &Token,
        platform: &dyn Platform,
    ) -> Result<(), StoreError> {
        let now = platform.now();
        self.update(platform, |data| data.merge(authority, client_id, token, now)).await
    }

    /// Removes an account's tokens. Returns whether there was one.
    pub async fn remove_account(
        &self,
        authority: &Authority,
        client_id: &str,
        account: &str,
        platform: &dyn Platform,
    ) -> Result<bool, StoreError> {
        self.update(platform, |data| {
            let before = data.entries.len();
            data.entries.retain(|e| !entry_matches(e, authority.base_url(), client_id, Some(account)));
            before != data.entries.len()
        })
        .await
    }

    /// The account's refresh token, for tools that want to hold it themselves.
    pub fn export_refresh_token(
        &self,
        authority: &Authority,
        client_id: &str,
        account: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        Ok(self
            .load()?
            .entries
            .iter()
            .find(|e| entry_matches(e, authority.base_url(), client_id, Some(account)))
            .and_then(|e| e.refresh_token.clone())
            .map(RefreshToken::new))
    }

    /// Stores a refresh token obtained elsewhere, so the next silent call redeems it.
    pub async fn import_refresh_token(
        &self,
        authority: &Authority,
        client_id: &str,
        account: Account,
        refresh_token: RefreshToken,
        platform: &dyn Platform,
    ) -> Result<(), StoreError> {
        let now = platform.now();
        self.update(platform, |data| {
            let e = data.entry_mut(authority, client_id, &account, now);
            e.refresh_token = Some(refresh_token.expose_secret().to_owned());
            e.access_tokens.clear();
        })
        .await
    }

    /// Imports a cache serialized by MSAL (msal-python's `SerializableTokenCache`, msal-node's
    /// JSON cache): accounts, refresh tokens and unexpired access tokens. Returns the number
    /// of accounts imported.
    pub async fn import_msal(&self, msal_json: &str, platform: &dyn Platform) -> Result<usize, StoreError> {
        let imported = msal::parse(msal_json, platform.now())?;
        let n = imported.len();
        self.update(platform, |data| {
            for entry in imported {
                data.upsert(entry);
            }
        })
        .await?;
        Ok(n)
    }

    /// A valid access token from memory, without touching the store (the fast path).
    fn memory_hit(
        &self,
        environment: &str,
        client_id: &str,
        account: Option<&str>,
        wanted: &[String],
        now: i64,
        margin: Duration,
    ) -> Option<Token> {
        let m = self.memory.lock().ok()?;
        m.as_ref()?.valid_token(environment, client_id, account, wanted, now, margin)
    }

    /// The one entry `account` names (or the only one, when it names none).
    fn one_entry(
        data: &CacheData,
        env: &str,
        client_id: &str,
        account: Option<&str>,
    ) -> Result<CacheEntry, IdentityError> {
        let matching: Vec<&CacheEntry> =
            data.entries.iter().filter(|e| entry_matches(e, env, client_id, account)).collect();
        match matching.as_slice() {
            [] => Err(IdentityError::new(
                IdentityErrorKind::InteractionRequired,
                match account {
                    Some(a) => crate::cat!("no cached sign-in for ", a, ": sign in first"),
                    None => "no cached sign-in: sign in first".to_owned(),
                },
            )),
            [one] => Ok((*one).clone()),
            many => {
                let names: Vec<&str> = many.iter().map(|e| e.account.username.as_str()).collect();
                Err(IdentityError::new(
                    IdentityErrorKind::Configuration,
                    crate::cat!("several accounts are signed in (", names.join(", "), "); say which one"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_wait_outlasts_the_slowest_refresh() {
        let slowest = crate::identity::RetryPolicy::default().worst_case(crate::identity::DEFAULT_HTTP_TIMEOUT);
        assert_eq!(slowest, Duration::from_secs(150));
        assert!(LOCK_WAIT > slowest, "{LOCK_WAIT:?} <= {slowest:?}");
    }

    #[test]
    fn resource_scope_set() {
        let s = resource_scopes(&[
            "openid".into(),
            "https://outlook.office.com/SMTP.Send".into(),
            "offline_access".into(),
            "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
        ]);
        assert_eq!(s, ["https://outlook.office.com/imap.accessasuser.all", "https://outlook.office.com/smtp.send"]);
    }
}
