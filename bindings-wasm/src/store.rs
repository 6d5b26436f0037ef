//! The token cache's store over a JS object: `{load(): string | null, save(text): void,
//! describe?(): string, quarantine?(): string | null, tryLock?(): {release()} | null,
//! tryLockAccount?(key): {release()} | null}`. `tryLock` is the store lock (the cache polls it,
//! with the platform's timer, around each load-change-save); a store with `tryLockAccount`
//! has per-account refresh locks, so the store lock is never held across a refresh. The
//! package ships memory, `localStorage`, IndexedDB (an in-memory mirror persisted
//! asynchronously) and Node file stores (`js/stores.js`, `js/node.js`); users can pass their
//! own.
//!
//! The object stays in JS: `js/bridge.js` holds it under a number and runs one method per
//! `storeCall(number, method, arg)`, answering JSON: `{"ok": value}`, `{"missing": true}` (no
//! such method) or `{"err": {kind, message}}` (the method threw). A lock it hands out is a
//! number too, released with the `release` method.

use crate::prelude::*;
use mailoauth::cache::{LockGuard, StoreError, StoreErrorKind, StoreLock, TokenStore};
use mailoauth::json::{self, Value};

use crate::abi::store_call;
use crate::convert::{field, str_field};

pub(crate) struct JsStore {
    id: u32,
}

/// A method's answer.
enum Answer {
    Value(Value),
    Missing,
}

impl JsStore {
    pub(crate) fn new(id: u32) -> JsStore {
        JsStore { id }
    }

    fn call(&self, method: &str, arg: &str) -> Result<Answer, StoreError> {
        answer(method, &store_call(self.id, method, arg))
    }

    /// A method every store has.
    fn required(&self, method: &str, arg: &str) -> Result<Value, StoreError> {
        match self.call(method, arg)? {
            Answer::Value(v) => Ok(v),
            Answer::Missing => Err(StoreError::new(
                StoreErrorKind::Io,
                mailoauth::cat!("the token store has no ", method, "() method"),
            )),
        }
    }
}

fn answer(method: &str, text: &str) -> Result<Answer, StoreError> {
    let reply = json::parse(text.as_bytes()).unwrap_or(Value::Null);
    if let Some(e) = field(&reply, "err") {
        let kind = str_field(e, "kind").and_then(StoreErrorKind::from_name).unwrap_or(StoreErrorKind::Io);
        let message = str_field(e, "message").unwrap_or("failed");
        return Err(StoreError::new(kind, mailoauth::cat!(method, ": ", message)));
    }
    if field(&reply, "missing").is_some() {
        return Ok(Answer::Missing);
    }
    Ok(Answer::Value(field(&reply, "ok").cloned().unwrap_or(Value::Null)))
}

/// A lock handed out by the JS store: `release()` is called on drop.
struct JsLock {
    store: u32,
    lock: String,
}

impl LockGuard for JsLock {}

impl Drop for JsLock {
    fn drop(&mut self) {
        store_call(self.store, "release", &self.lock);
    }
}

impl TokenStore for JsStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.required("load", "")? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.into_bytes())),
            _ => {
                Err(StoreError::new(StoreErrorKind::Io, "the token store's load() must return a string, bytes or null"))
            }
        }
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        self.required("save", &String::from_utf8_lossy(data)).map(|_| ())
    }

    fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        match self.call("tryLock", "")? {
            Answer::Missing => Ok(Some(StoreLock::none())),
            Answer::Value(v) => Ok(granted(self.id, &v)),
        }
    }

    fn has_account_locks(&self) -> bool {
        matches!(self.call("has", "tryLockAccount"), Ok(Answer::Value(Value::Bool(true))))
    }

    fn try_lock_account(&self, key: &str) -> Result<Option<StoreLock>, StoreError> {
        Ok(granted(self.id, &self.required("tryLockAccount", key)?))
    }

    fn quarantine(&self) -> Result<Option<String>, StoreError> {
        Ok(match self.call("quarantine", "")? {
            Answer::Value(Value::String(s)) => Some(s),
            _ => None,
        })
    }

    fn describe(&self) -> String {
        match self.call("describe", "") {
            Ok(Answer::Value(Value::String(s))) => s,
            _ => "custom token store".to_owned(),
        }
    }
}

/// A lock method's answer: the number of a lock, or `null` when it is held.
fn granted(store: u32, v: &Value) -> Option<StoreLock> {
    let lock = json::as_u64(v)?;
    Some(StoreLock::new(JsLock { store, lock: mailoauth::text::decimal_u64(lock) }))
}
