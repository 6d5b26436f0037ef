//! The cache's part of the grants as sans-IO machines ([`crate::identity::flow`]), for hosts
//! that drive requests and timers themselves (a browser page with `fetch` and `setTimeout`):
//! silent acquisition ([`SilentFlow`]), a grant whose token is then stored ([`Stored`]), and
//! a change of the stored document ([`CacheChange`]).
//!
//! The store is read and written synchronously (the stores a browser has are, and a file is);
//! where its lock is held by another writer or process, or another flow of this cache
//! refreshes the same account, the machine asks the host to wait ([`Step::Wait`]) and tries
//! again, up to the cache's lock wait, then fails with [`StoreErrorKind::LockTimeout`]. The
//! native clients run the same machines ([`crate::identity::flow::drive`] sleeps the waits), and
//! so do the cache's own async methods (an update is a [`CacheChange`]).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;
use core::time::Duration;

use super::{
    account_key, entry_matches, resource_scopes, Acceptable, CacheData, CacheEntry, SilentOptions, StoreError,
    StoreErrorKind, StoreLock, TokenCache, TokenId,
};
use crate::identity::flow::{Event, Flow, Step, TokenGrant};
use crate::identity::{Account, Authority, IdentityError, IdentityErrorKind, PublicApp, RefreshToken, Token};

/// The waits between tries of a busy lock: 2 ms doubling to 50 ms, for at most the cache's
/// lock wait (180 s), then a [`StoreErrorKind::LockTimeout`] error.
#[derive(Debug, Clone)]
pub struct LockWait {
    waited: Duration,
    step: Duration,
}

impl Default for LockWait {
    fn default() -> Self {
        LockWait { waited: Duration::ZERO, step: Duration::from_millis(2) }
    }
}

impl LockWait {
    /// The lock (or the account's refresh) was busy: how long to wait before trying again.
    pub fn busy(&mut self, what: &str) -> Result<Duration, StoreError> {
        if self.waited >= super::LOCK_WAIT {
            return Err(StoreError::new(
                StoreErrorKind::LockTimeout,
                crate::cat!(
                    "another writer held the lock of ",
                    what,
                    " for over ",
                    crate::text::decimal_u64(super::LOCK_WAIT.as_secs()),
                    " s"
                ),
            ));
        }
        let wait = self.step;
        self.waited += wait;
        self.step = (self.step * 2).min(Duration::from_millis(50));
        Ok(wait)
    }
}

impl TokenCache {
    /// Runs `change` on freshly loaded data under the store's lock and saves the result, if
    /// the lock is free now (`None` if it is not).
    pub(crate) fn try_update<R>(&self, change: impl FnOnce(&mut CacheData) -> R) -> Result<Option<R>, StoreError> {
        let Some(_lock) = self.store.try_lock()? else { return Ok(None) };
        self.try_update_locked(change)
    }

    /// [`TokenCache::try_update`] for a caller that holds the store's lock already.
    pub(crate) fn try_update_locked<R>(
        &self,
        change: impl FnOnce(&mut CacheData) -> R,
    ) -> Result<Option<R>, StoreError> {
        let Ok(_writes) = self.writes.try_lock() else { return Ok(None) };
        let mut data = self.load()?;
        let r = change(&mut data);
        self.save(&data)?;
        Ok(Some(r))
    }

    /// Claims the in-process refresh of `key` for a [`SilentFlow`] (`false`: another flow has it).
    fn claim(&self, key: &str) -> bool {
        match self.refreshing.lock() {
            Ok(m) if m.iter().any(|k| k == key) => false,
            Ok(mut m) => {
                m.push(key.to_owned());
                true
            }
            Err(_) => true,
        }
    }

    fn release(&self, key: &str) {
        if let Ok(mut m) = self.refreshing.lock() {
            m.retain(|k| k != key);
        }
    }
}

fn store_error(e: StoreError) -> IdentityError {
    e.into()
}

/// A grant whose token is stored in the cache when it succeeds (what the clients do after a
/// sign-in or a refresh when a cache is set).
#[derive(Debug)]
pub struct Stored<F> {
    inner: F,
    cache: Arc<TokenCache>,
    authority: Authority,
    client_id: String,
    storing: Option<(Token, LockWait)>,
}

impl<F: Flow<Output = Token>> Stored<F> {
    /// `inner`, then its token stored for `app`'s authority and client.
    pub fn new(inner: F, cache: Arc<TokenCache>, app: &PublicApp) -> Stored<F> {
        Stored {
            inner,
            cache,
            authority: app.authority().clone(),
            client_id: app.client_id().to_owned(),
            storing: None,
        }
    }

    fn store(&mut self, now: i64) -> Step<Token> {
        let Some((token, mut wait)) = self.storing.take() else {
            return Step::Done(Err(IdentityError::new(IdentityErrorKind::Configuration, "nothing to store")));
        };
        let (authority, client_id) = (&self.authority, &self.client_id);
        match self.cache.try_update(|data| data.merge(authority, client_id, &token, now)) {
            Ok(Some(())) => Step::Done(Ok(token)),
            Ok(None) => match wait.busy(&self.cache.store.describe()) {
                Ok(w) => {
                    self.storing = Some((token, wait));
                    Step::Wait(w)
                }
                Err(e) => Step::Done(Err(store_error(e))),
            },
            Err(e) => Step::Done(Err(store_error(e))),
        }
    }
}

impl<F: Flow<Output = Token>> Flow for Stored<F> {
    type Output = Token;

    fn resume(&mut self, now: i64, event: Event) -> Step<Token> {
        if self.storing.is_some() {
            return match event {
                Event::Woke => self.store(now),
                _ => Step::Done(Err(IdentityError::new(
                    IdentityErrorKind::Configuration,
                    "the flow was resumed with another event than Woke while it waited for the cache's lock",
                ))),
            };
        }
        match self.inner.resume(now, event) {
            Step::Done(Ok(token)) => {
                self.storing = Some((token, LockWait::default()));
                self.store(now)
            }
            other => other,
        }
    }
}

/// A change of the stored document under the store's lock (remove an account, import a
/// refresh token): only waits, no requests.
pub struct CacheChange<T> {
    cache: Arc<TokenCache>,
    change: Box<dyn FnMut(&mut CacheData) -> T>,
    wait: LockWait,
}

impl<T> core::fmt::Debug for CacheChange<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CacheChange").field("cache", &self.cache).field("wait", &self.wait).finish_non_exhaustive()
    }
}

impl<T> CacheChange<T> {
    /// Runs `change` (possibly again, if the lock was busy) on the loaded document and saves it.
    pub fn new(cache: Arc<TokenCache>, change: impl FnMut(&mut CacheData) -> T + 'static) -> CacheChange<T> {
        CacheChange { cache, change: Box::new(change), wait: LockWait::default() }
    }

    /// Removes `account`'s tokens at `app`'s authority and client; yields whether there were any.
    pub fn remove_account(cache: Arc<TokenCache>, app: &PublicApp, account: &str) -> CacheChange<bool> {
        let (env, client_id, account) =
            (app.authority().base_url().to_owned(), app.client_id().to_owned(), account.to_owned());
        CacheChange::new(cache, move |data| {
            let before = data.entries.len();
            data.entries.retain(|e| !entry_matches(e, &env, &client_id, Some(&account)));
            before != data.entries.len()
        })
    }

    /// Stores a refresh token obtained elsewhere for `account`, for the next silent call.
    pub fn import_refresh_token(
        cache: Arc<TokenCache>,
        app: &PublicApp,
        account: Account,
        refresh_token: RefreshToken,
        now: i64,
    ) -> CacheChange<()> {
        let (authority, client_id) = (app.authority().clone(), app.client_id().to_owned());
        CacheChange::new(cache, move |data| {
            let e = data.entry_mut(&authority, &client_id, &account, now);
            e.refresh_token = Some(refresh_token.expose_secret().to_owned());
            e.access_tokens.clear();
        })
    }
}

impl<T> Flow for CacheChange<T> {
    type Output = T;

    fn resume(&mut self, _now: i64, event: Event) -> Step<T> {
        if matches!(event, Event::Response(_)) {
            return Step::Done(Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "a cache change sends no request; it was resumed with a response",
            )));
        }
        match self.cache.try_update(&mut self.change) {
            Ok(Some(r)) => Step::Done(Ok(r)),
            Ok(None) => match self.wait.busy(&self.cache.store.describe()) {
                Ok(w) => Step::Wait(w),
                Err(e) => Step::Done(Err(store_error(e))),
            },
            Err(e) => Step::Done(Err(store_error(e))),
        }
    }
}

enum Silent {
    Lookup,
    /// The stored document could not be read without the store's lock: wait for it.
    Rereading,
    /// Another flow of this cache refreshes this account: wait, then look again.
    Waiting,
    /// Another process holds this account's refresh (or the store's lock): wait, watching
    /// the store for the token it stores.
    Locking {
        key: String,
        username: String,
    },
    Refreshing {
        grant: Box<TokenGrant>,
        account: Account,
        held: Held,
    },
    Storing {
        token: Box<Token>,
        held: Held,
    },
    Over,
}

/// Silent acquisition as a machine, the one every host runs (the native clients through
/// [`crate::identity::flow::drive`], the browser and Node through the wasm binding): a cached
/// access token valid for the cache's margin (or what [`SilentOptions`] asks), from memory or
/// from a read of the store without any lock; else one refresh of the account's refresh token,
/// under the account's cross-process lock if the store has per-account locks (else the store's
/// lock), held across the request; callers of the same cache refreshing the same account share
/// it (the others wait and take its token), and so do processes (a waiter watches the store
/// and takes the token another process stored); the token is stored with the rotated refresh
/// token; else `interaction_required` with the cache intact.
pub struct SilentFlow {
    cache: Arc<TokenCache>,
    app: PublicApp,
    scopes: Vec<String>,
    wanted: Vec<String>,
    account: Option<String>,
    options: SilentOptions,
    /// What the cache may serve, decided at the first look.
    accept: Option<Acceptable>,
    key: Option<String>,
    claimed: bool,
    wait: LockWait,
    state: Silent,
}

impl core::fmt::Debug for SilentFlow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match self.state {
            Silent::Lookup => "lookup",
            Silent::Rereading => "waiting for the store's lock to read it",
            Silent::Waiting => "waiting for another refresh",
            Silent::Locking { .. } => "waiting for the account's lock",
            Silent::Refreshing { .. } => "refreshing",
            Silent::Storing { .. } => "storing",
            Silent::Over => "over",
        };
        f.debug_struct("SilentFlow")
            .field("app", &self.app)
            .field("account", &self.account)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Drop for SilentFlow {
    fn drop(&mut self) {
        if let (true, Some(key)) = (self.claimed, &self.key) {
            self.cache.release(key);
        }
    }
}

/// What a refresh holds: the store's lock throughout, or its account's lock (the store's lock
/// is then taken for the save).
enum Held {
    Store(#[allow(dead_code)] StoreLock),
    Account(#[allow(dead_code)] StoreLock),
}

impl SilentFlow {
    /// Silent acquisition of `scopes` for `account` (may be omitted when one account is signed
    /// in) by `app` from `cache`.
    pub fn new(
        cache: Arc<TokenCache>,
        app: &PublicApp,
        scopes: &[String],
        account: Option<&str>,
        options: SilentOptions,
    ) -> Result<SilentFlow, IdentityError> {
        let requested = app.user_scopes(scopes)?;
        Ok(SilentFlow {
            cache,
            app: app.clone(),
            scopes: scopes.to_vec(),
            wanted: resource_scopes(&requested),
            account: account.map(str::to_owned),
            options,
            accept: None,
            key: None,
            claimed: false,
            wait: LockWait::default(),
            state: Silent::Lookup,
        })
    }

    fn done(&mut self, result: Result<Token, IdentityError>) -> Step<Token> {
        self.state = Silent::Over;
        if let (true, Some(key)) = (self.claimed, &self.key) {
            self.cache.release(key);
            self.claimed = false;
        }
        Step::Done(result)
    }

    /// Waits (the lock or the account's refresh is busy) in `state`, or gives up.
    fn busy(&mut self, state: Silent, what: &str) -> Step<Token> {
        match self.wait.busy(what) {
            Ok(w) => {
                self.state = state;
                Step::Wait(w)
            }
            Err(e) => self.done(Err(store_error(e))),
        }
    }

    /// The stored document, read without a lock; one that cannot be parsed is handled under
    /// the store's lock ([`TokenCache::load`]: a writer without atomic saves may be midway, or
    /// it is corrupt and moved aside). `None`: that lock is busy.
    fn peek(&self) -> Result<Option<CacheData>, StoreError> {
        if let Ok(data) = self.cache.read()? {
            self.cache.remember(&data);
            return Ok(Some(data));
        }
        let Some(_lock) = self.cache.store.try_lock()? else { return Ok(None) };
        self.cache.load().map(Some)
    }

    /// Which token, for this flow's app and `account`.
    fn token_id<'a>(&'a self, account: Option<&'a str>) -> TokenId<'a> {
        TokenId { env: self.app.authority().base_url(), client_id: self.app.client_id(), account, wanted: &self.wanted }
    }

    /// The one entry of this flow's app that `account` names.
    fn entry(&self, data: &CacheData, account: Option<&str>) -> Result<CacheEntry, IdentityError> {
        TokenCache::one_entry(data, self.app.authority().base_url(), self.app.client_id(), account)
    }

    /// A token another caller or process stored meanwhile, acceptable now.
    fn usable(&self, data: &CacheData, account: Option<&str>, now: i64, first: bool) -> Option<Token> {
        let id = self.token_id(account);
        let accept = self.accept.as_ref()?;
        if first {
            accept.at_first(data, &id, now)
        } else {
            accept.after_wait(data, &id, now)
        }
    }

    fn lookup(&mut self, now: i64, first: bool) -> Step<Token> {
        if first && !self.options.force_refresh {
            let margin = self.cache.margin.max(self.options.min_validity.unwrap_or_default());
            let id = self.token_id(self.account.as_deref());
            if let Some(t) = self.cache.memory_hit(id.env, id.client_id, id.account, id.wanted, now, margin) {
                return self.done(Ok(t));
            }
        }
        let data = match self.peek() {
            Ok(Some(d)) => d,
            Ok(None) => return self.busy(Silent::Rereading, &self.cache.store.describe()),
            Err(e) => return self.done(Err(store_error(e))),
        };
        if self.accept.is_none() {
            let accept =
                Acceptable::new(&self.cache, self.options, &data, &self.token_id(self.account.as_deref()), now);
            self.accept = Some(accept);
        }
        if let Some(t) = self.usable(&data, self.account.as_deref(), now, first) {
            return self.done(Ok(t));
        }
        let entry = match self.entry(&data, self.account.as_deref()) {
            Ok(e) => e,
            Err(e) => return self.done(Err(e)),
        };
        let key = account_key(&entry);
        if !self.cache.claim(&key) {
            self.key = Some(key);
            return self.busy(Silent::Waiting, "this account's refresh");
        }
        self.key = Some(key.clone());
        self.claimed = true;
        self.wait = LockWait::default();
        self.lock(now, key, entry.account.username)
    }

    /// Takes the account's cross-process lock (or the store's), then refreshes unless another
    /// process stored a token meanwhile.
    fn lock(&mut self, now: i64, key: String, username: String) -> Step<Token> {
        let store = self.cache.store.clone();
        let tried = if store.has_account_locks() {
            store.try_lock_account(&key).map(|l| l.map(Held::Account))
        } else {
            store.try_lock().map(|l| l.map(Held::Store))
        };
        let held = match tried {
            Ok(Some(held)) => held,
            Ok(None) => {
                // Another process refreshes: its token is taken as soon as it is stored.
                if let Ok(Ok(data)) = self.cache.read() {
                    if let Some(t) = self.usable(&data, Some(&username), now, false) {
                        return self.done(Ok(t));
                    }
                }
                return self.busy(Silent::Locking { key, username }, &store.describe());
            }
            Err(e) => return self.done(Err(store_error(e))),
        };
        let data = match &held {
            // Under the store's lock the document can be loaded (and quarantined) safely.
            Held::Store(_) => self.cache.load().map(Some),
            Held::Account(_) => self.peek(),
        };
        let data = match data {
            Ok(Some(d)) => d,
            // The store's lock is busy for a read that needs it: wait with the account's lock
            // released, and start over.
            Ok(None) => {
                drop(held);
                return self.busy(Silent::Locking { key, username }, &store.describe());
            }
            Err(e) => return self.done(Err(store_error(e))),
        };
        if let Some(t) = self.usable(&data, Some(&username), now, false) {
            return self.done(Ok(t));
        }
        let entry = match self.entry(&data, Some(&username)) {
            Ok(e) => e,
            Err(e) => return self.done(Err(e)),
        };
        let Some(rt) = entry.refresh_token.clone() else {
            return self.done(Err(IdentityError::new(
                IdentityErrorKind::InteractionRequired,
                crate::cat!("the cached sign-in of ", username, " has no refresh token: sign in again"),
            )));
        };
        let mut grant = match self.app.refresh(&RefreshToken::new(rt), &self.scopes) {
            Ok(g) => Box::new(g),
            Err(e) => return self.done(Err(e)),
        };
        let step = grant.resume(now, Event::Start);
        self.state = Silent::Refreshing { grant, account: entry.account, held };
        self.refreshing(now, step)
    }

    fn refreshing(&mut self, now: i64, step: Step<Token>) -> Step<Token> {
        match step {
            Step::Done(Ok(mut token)) => {
                let Silent::Refreshing { account, held, .. } = core::mem::replace(&mut self.state, Silent::Over) else {
                    return self.done(Err(IdentityError::new(IdentityErrorKind::Configuration, "not refreshing")));
                };
                if token.account.is_none() {
                    token.account = Some(account);
                }
                self.wait = LockWait::default();
                self.state = Silent::Storing { token: Box::new(token), held };
                self.store(now)
            }
            Step::Done(Err(mut e)) => {
                if e.kind == IdentityErrorKind::InvalidGrant {
                    let username = match &self.state {
                        Silent::Refreshing { account, .. } => account.username.clone(),
                        _ => String::new(),
                    };
                    e.kind = IdentityErrorKind::InteractionRequired;
                    e.message = crate::cat!(
                        "the refresh token of ",
                        username,
                        " is no longer accepted: sign in again (",
                        e.message,
                        ")"
                    );
                }
                self.done(Err(e))
            }
            other => other,
        }
    }

    fn store(&mut self, now: i64) -> Step<Token> {
        let Silent::Storing { token, held } = core::mem::replace(&mut self.state, Silent::Over) else {
            return self.done(Err(IdentityError::new(IdentityErrorKind::Configuration, "nothing to store")));
        };
        let (authority, client_id) = (self.app.authority().clone(), self.app.client_id().to_owned());
        let merge = |data: &mut CacheData| data.merge(&authority, &client_id, &token, now);
        let saved = match &held {
            // The store's lock is held: save under it (other accounts may have been saved by
            // this process meanwhile, so the store is read again).
            Held::Store(_) => self.cache.try_update_locked(merge),
            Held::Account(_) => self.cache.try_update(merge),
        };
        match saved {
            Ok(Some(())) => {
                drop(held);
                self.done(Ok(*token))
            }
            Ok(None) => {
                let what = self.cache.store.describe();
                self.busy(Silent::Storing { token, held }, &what)
            }
            Err(e) => self.done(Err(store_error(e))),
        }
    }
}

impl Flow for SilentFlow {
    type Output = Token;

    fn resume(&mut self, now: i64, event: Event) -> Step<Token> {
        match (core::mem::replace(&mut self.state, Silent::Over), event) {
            (Silent::Lookup, Event::Start) => self.lookup(now, true),
            (Silent::Rereading, Event::Woke) => self.lookup(now, true),
            (Silent::Waiting, Event::Woke) => self.lookup(now, false),
            (Silent::Locking { key, username }, Event::Woke) => self.lock(now, key, username),
            (Silent::Refreshing { mut grant, account, held }, event) => {
                let step = grant.resume(now, event);
                self.state = Silent::Refreshing { grant, account, held };
                self.refreshing(now, step)
            }
            (state @ Silent::Storing { .. }, Event::Woke) => {
                self.state = state;
                self.store(now)
            }
            (_, _) => self.done(Err(IdentityError::new(
                IdentityErrorKind::Configuration,
                "the silent flow was resumed with an event it did not ask for (a bug in the host driving it)",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{MemoryStore, StoreLock, TokenStore};
    use crate::identity::{Cloud, HttpResponse};
    use core::sync::atomic::{AtomicU32, Ordering};

    const NOW: i64 = 2_000_000;

    /// A memory store whose lock is busy for the first `busy` tries.
    #[derive(Debug)]
    struct BusyStore {
        inner: MemoryStore,
        busy: AtomicU32,
    }

    impl TokenStore for BusyStore {
        fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.load()
        }
        fn save(&self, data: &[u8]) -> Result<(), StoreError> {
            self.inner.save(data)
        }
        fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
            let left = self.busy.load(Ordering::SeqCst);
            if left > 0 {
                self.busy.store(left - 1, Ordering::SeqCst);
                return Ok(None);
            }
            Ok(Some(StoreLock::none()))
        }
        fn describe(&self) -> String {
            "busy test store".to_owned()
        }
    }

    fn app() -> PublicApp {
        PublicApp::new("client", Authority::microsoft(Cloud::Global, "organizations"))
    }

    fn scopes() -> Vec<String> {
        vec!["https://outlook.office.com/IMAP.AccessAsUser.All".to_owned()]
    }

    fn signed_in(store: Arc<dyn TokenStore>) -> Arc<TokenCache> {
        let cache = Arc::new(TokenCache::new(store));
        let account = Account { username: "alice@contoso.com".into(), ..Default::default() };
        let mut import =
            CacheChange::<()>::import_refresh_token(cache.clone(), &app(), account, RefreshToken::new("rt-1"), NOW);
        assert!(matches!(import.resume(NOW, Event::Start), Step::Done(Ok(()))));
        cache
    }

    fn token_answer(rt: &str) -> Event {
        let body = format!(
            r#"{{"token_type":"Bearer","access_token":"at-{rt}","expires_in":3600,"refresh_token":"{rt}","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"}}"#
        );
        Event::Response(Ok(HttpResponse { status: 200, headers: Vec::new(), body: body.into_bytes() }))
    }

    fn stored_refresh_token(cache: &TokenCache) -> Option<String> {
        cache.load().expect("load").entries.first().and_then(|e| e.refresh_token.clone())
    }

    #[test]
    fn silent_refreshes_once_stores_the_rotation_and_then_serves_the_cache() {
        let cache = signed_in(Arc::new(MemoryStore::new()));
        let mut first = SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        let Step::Send(request) = first.resume(NOW, Event::Start) else { panic!("refreshes") };
        let body = String::from_utf8(request.body.clone()).expect("utf-8");
        assert!(body.contains("refresh_token=rt-1"), "{body}");
        // A second flow for the same account meanwhile waits for the first instead of refreshing too.
        let mut second = SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        assert!(matches!(second.resume(NOW, Event::Start), Step::Wait(_)));
        match first.resume(NOW, token_answer("rt-2")) {
            Step::Done(Ok(t)) => assert_eq!(t.access_token.expose_secret(), "at-rt-2"),
            other => panic!("{other:?}"),
        }
        assert_eq!(stored_refresh_token(&cache).as_deref(), Some("rt-2"));
        match second.resume(NOW, Event::Woke) {
            Step::Done(Ok(t)) => assert_eq!(t.access_token.expose_secret(), "at-rt-2"),
            other => panic!("second: {other:?}"),
        }
        // A forced refresh does not take the cached token, and sends the rotated refresh token.
        let mut forced =
            SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new().force_refresh(true))
                .expect("flow");
        let Step::Send(request) = forced.resume(NOW, Event::Start) else { panic!("forced refresh sends") };
        assert!(String::from_utf8_lossy(&request.body).contains("refresh_token=rt-2"));
    }

    #[test]
    fn a_refused_refresh_token_means_sign_in_again_and_the_cache_keeps_it() {
        let cache = signed_in(Arc::new(MemoryStore::new()));
        let mut flow = SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        assert!(matches!(flow.resume(NOW, Event::Start), Step::Send(_)));
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS50173: revoked","error_codes":[50173]}"#;
        let answer = Event::Response(Ok(HttpResponse { status: 400, headers: Vec::new(), body: body.to_vec() }));
        match flow.resume(NOW, answer) {
            Step::Done(Err(e)) => {
                assert_eq!(e.kind, IdentityErrorKind::InteractionRequired);
                assert!(e.message.contains("alice@contoso.com"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stored_refresh_token(&cache).as_deref(), Some("rt-1"));
        // The account is free again: a new flow refreshes at once (no wait).
        let mut again = SilentFlow::new(cache, &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        assert!(matches!(again.resume(NOW, Event::Start), Step::Send(_)));
    }

    #[test]
    fn a_busy_lock_is_waited_for_and_no_token_is_lost() {
        let store = Arc::new(BusyStore { inner: MemoryStore::new(), busy: AtomicU32::new(0) });
        let cache = signed_in(store.clone());
        // A store without per-account locks: the refresh waits for the store's lock and holds it
        // across the request, so no other process saves in between.
        let mut flow = SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        store.busy.store(3, Ordering::SeqCst);
        let mut waits = Vec::new();
        let mut step = flow.resume(NOW, Event::Start);
        while let Step::Wait(w) = step {
            waits.push(w);
            step = flow.resume(NOW, Event::Woke);
        }
        assert!(matches!(step, Step::Send(_)), "{step:?}");
        assert_eq!(waits, [Duration::from_millis(2), Duration::from_millis(4), Duration::from_millis(8)]);
        store.busy.store(1, Ordering::SeqCst);
        let step = flow.resume(NOW, token_answer("rt-2"));
        assert!(matches!(step, Step::Done(Ok(_))), "saved under the lock it holds: {step:?}");
        assert_eq!(store.busy.load(Ordering::SeqCst), 1, "the store's lock was not asked for again");
        assert_eq!(stored_refresh_token(&cache).as_deref(), Some("rt-2"));

        // Held for ever: a typed lock time-out after the cache's lock wait, the old token kept.
        let mut grant =
            Stored::new(app().refresh(&RefreshToken::new("rt-2"), &scopes()).expect("grant"), cache.clone(), &app());
        assert!(matches!(grant.resume(NOW, Event::Start), Step::Send(_)));
        store.busy.store(u32::MAX, Ordering::SeqCst);
        let mut step = grant.resume(NOW, token_answer("rt-3"));
        let mut waited = Duration::ZERO;
        while let Step::Wait(w) = step {
            waited += w;
            step = grant.resume(NOW, Event::Woke);
        }
        match step {
            Step::Done(Err(e)) => assert_eq!(e.kind, IdentityErrorKind::Storage, "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert!(waited >= super::super::LOCK_WAIT, "{waited:?}");
        assert_eq!(stored_refresh_token(&cache).as_deref(), Some("rt-2"));
    }

    #[test]
    fn no_account_is_interaction_required_and_remove_account_reports_what_it_did() {
        let cache = Arc::new(TokenCache::in_memory());
        let mut flow = SilentFlow::new(cache.clone(), &app(), &scopes(), None, SilentOptions::new()).expect("flow");
        assert!(
            matches!(flow.resume(NOW, Event::Start), Step::Done(Err(e)) if e.kind == IdentityErrorKind::InteractionRequired)
        );
        let cache = signed_in(Arc::new(MemoryStore::new()));
        let mut remove = CacheChange::<bool>::remove_account(cache.clone(), &app(), "ALICE@contoso.com");
        assert!(matches!(remove.resume(NOW, Event::Start), Step::Done(Ok(true))));
        let mut remove = CacheChange::<bool>::remove_account(cache, &app(), "alice@contoso.com");
        assert!(matches!(remove.resume(NOW, Event::Start), Step::Done(Ok(false))));
    }
}
