//! The token cache's store over a JS object: `{load(): string | null, save(text): void,
//! describe?(): string, quarantine?(): string | null, tryLock?(): {release()} | null,
//! tryLockAccount?(key): {release()} | null}`. `tryLock` is the store lock (the cache polls it,
//! with the platform's timer, around each load-change-save); a store with `tryLockAccount`
//! has per-account refresh locks, so the store lock is never held across a refresh. The
//! package ships memory, `localStorage`, IndexedDB (an in-memory mirror persisted
//! asynchronously) and Node file stores (`js/stores.js`, `js/node.js`); users can pass their
//! own.

use mailoauth::cache::{LockGuard, StoreError, StoreErrorKind, StoreLock, TokenStore};
use wasm_bindgen::prelude::*;

pub(crate) struct JsStore {
    obj: JsValue,
}

impl JsStore {
    pub(crate) fn new(obj: JsValue) -> JsStore {
        JsStore { obj }
    }

    fn method(&self, name: &str) -> Option<js_sys::Function> {
        js_sys::Reflect::get(&self.obj, &JsValue::from_str(name)).ok()?.dyn_into::<js_sys::Function>().ok()
    }

    fn call(&self, name: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        let Some(f) = self.method(name) else {
            return Err(StoreError::new(StoreErrorKind::Io, format!("the token store has no {name}() method")));
        };
        let result = match args {
            [] => f.call0(&self.obj),
            [a] => f.call1(&self.obj, a),
            _ => f.apply(&self.obj, &args.iter().collect()),
        };
        result.map_err(|e| store_error(name, &e))
    }
}

/// A JS exception from a store method as a [`StoreError`] (its `kind` property, if it is one
/// of the store error kinds, else `io`).
fn store_error(method: &str, e: &JsValue) -> StoreError {
    let get = |n: &str| js_sys::Reflect::get(e, &JsValue::from_str(n)).ok().and_then(|v| v.as_string());
    let kind = get("kind").as_deref().and_then(StoreErrorKind::from_name).unwrap_or(StoreErrorKind::Io);
    let message = get("message").or_else(|| e.as_string()).unwrap_or_else(|| "failed".to_owned());
    StoreError::new(kind, format!("{method}: {message}"))
}

/// A lock handed out by the JS store: `release()` is called on drop.
struct JsLock(JsValue);

impl LockGuard for JsLock {}

impl Drop for JsLock {
    fn drop(&mut self) {
        if let Ok(f) = js_sys::Reflect::get(&self.0, &JsValue::from_str("release")) {
            if let Ok(f) = f.dyn_into::<js_sys::Function>() {
                let _ = f.call0(&self.0);
            }
        }
    }
}

/// A lock method's answer: a lock object, or `null`/`undefined`/`false` when it is held.
fn granted(v: JsValue) -> Option<StoreLock> {
    if v.is_null() || v.is_undefined() || v.as_bool() == Some(false) {
        return None;
    }
    Some(StoreLock::new(JsLock(v)))
}

impl TokenStore for JsStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.call("load", &[])?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        if let Some(s) = v.as_string() {
            return Ok(Some(s.into_bytes()));
        }
        if v.is_instance_of::<js_sys::Uint8Array>() {
            return Ok(Some(js_sys::Uint8Array::from(v).to_vec()));
        }
        Err(StoreError::new(StoreErrorKind::Io, "the token store's load() must return a string, bytes or null"))
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        let text = String::from_utf8_lossy(data);
        self.call("save", &[JsValue::from_str(&text)]).map(|_| ())
    }

    fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        if self.method("tryLock").is_none() {
            return Ok(Some(StoreLock::none()));
        }
        Ok(granted(self.call("tryLock", &[])?))
    }

    fn has_account_locks(&self) -> bool {
        self.method("tryLockAccount").is_some()
    }

    fn try_lock_account(&self, key: &str) -> Result<Option<StoreLock>, StoreError> {
        Ok(granted(self.call("tryLockAccount", &[JsValue::from_str(key)])?))
    }

    fn quarantine(&self) -> Result<Option<String>, StoreError> {
        if self.method("quarantine").is_none() {
            return Ok(None);
        }
        Ok(self.call("quarantine", &[])?.as_string())
    }

    fn describe(&self) -> String {
        self.method("describe")
            .and_then(|f| f.call0(&self.obj).ok())
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "custom token store".to_owned())
    }
}
