//! Where the token cache lives: a trait hosts implement, and the stores that come with the
//! library (memory, file, command, OS keyring).

#[allow(unused_imports)]
use crate::prelude::*;
use crate::sync::Mutex;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::MaybeSendSync;

/// What went wrong with the token store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreErrorKind {
    /// The stored cache could not be read as a cache (truncated, not JSON, unknown schema).
    /// File stores move it aside; see the message for where.
    Corrupt,
    /// The file is readable or writable by other users, or cannot be accessed.
    Permissions,
    /// Reading or writing failed.
    Io,
    /// The cross-process lock could not be taken in time.
    LockTimeout,
    /// A user-supplied store command failed.
    Command,
    /// The OS keyring is not available.
    Unavailable,
}

/// A failure of the token store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// What happened, naming the store.
    pub message: String,
}

impl StoreError {
    /// A new error.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError { kind, message: message.into() }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("token store: ")?;
        f.write_str(&self.message)
    }
}

impl core::error::Error for StoreError {}

/// Something held while a cross-process lock is held; dropping it releases the lock.
pub trait LockGuard: MaybeSendSync {}

impl LockGuard for () {}

/// A held store lock.
pub struct StoreLock(#[allow(dead_code)] Box<dyn LockGuard>);

impl StoreLock {
    /// A lock that protects nothing (stores that are not shared between processes).
    pub fn none() -> StoreLock {
        StoreLock(Box::new(()))
    }

    /// Wraps a guard that releases the lock when dropped.
    pub fn new(guard: impl LockGuard + 'static) -> StoreLock {
        StoreLock(Box::new(guard))
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// Persists the serialized token cache. Implement it to keep tokens in the Keychain, in
/// `localStorage`, in a database...
///
/// `load` and `save` move the whole cache document (JSON bytes). `try_lock` takes a lock
/// shared with other processes using the same store, without waiting; stores that are not
/// shared keep the default (always granted).
pub trait TokenStore: MaybeSendSync {
    /// The stored bytes, or `None` if nothing is stored yet.
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the stored bytes (atomically, if the store can).
    fn save(&self, data: &[u8]) -> Result<(), StoreError>;
    /// Takes the cross-process lock if it is free (`Ok(None)` if another holder has it).
    fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        Ok(Some(StoreLock::none()))
    }
    /// Whether the store has a lock per account ([`TokenStore::try_lock_account`]). When it
    /// has, a refresh holds only its account's lock across the network and takes the store's
    /// lock for the moment it saves, so refreshes of different accounts do not wait for each
    /// other. When it has not (the default), a refresh holds the store's lock throughout.
    fn has_account_locks(&self) -> bool {
        false
    }
    /// Takes the cross-process lock of one account's refresh if it is free (`Ok(None)` if
    /// another holder has it); `key` names the account (environment, client, user). Only
    /// called when [`TokenStore::has_account_locks`] says so.
    fn try_lock_account(&self, key: &str) -> Result<Option<StoreLock>, StoreError> {
        let _ = key;
        self.try_lock()
    }
    /// Moves unreadable data aside so that it is kept, not overwritten; returns where it went.
    fn quarantine(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    /// A short description for messages (`file /home/a/.local/state/mailoauth/tokens.json`).
    fn describe(&self) -> String;
    /// A notice the user should see about this store (a fallback that was taken), if any.
    fn notice(&self) -> Option<String> {
        None
    }
}

/// A store in memory: tokens last as long as the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Option<Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.data.lock().map_err(|_| poisoned())?.clone())
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        *self.data.lock().map_err(|_| poisoned())? = Some(data.to_vec());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

fn poisoned() -> StoreError {
    StoreError::new(StoreErrorKind::Io, "a thread panicked while holding the store")
}
