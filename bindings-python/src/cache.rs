//! `TokenCache`: the core token cache over a memory, file or command store, or a store
//! written in Python (any object with `load()` and `save(data)`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailoauth::cache::{CommandStore, FileStore, StoreError, StoreErrorKind, TokenStore};
use mailoauth::net::TokioPlatform;
use mailoauth::TokenCache;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::store_error;
use crate::types::PyAccount;

/// A token store implemented by a Python object: `load() -> bytes | str | None` and
/// `save(data: bytes) -> None`. Exceptions become store errors (`TokenStoreError`).
struct PyStore(Py<PyAny>);

fn py_store_error(py: Python<'_>, what: &str, e: PyErr) -> StoreError {
    let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    StoreError::new(StoreErrorKind::Io, format!("the Python store's {what}() raised {}: {text}", e.get_type(py)))
}

impl TokenStore for PyStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Python::attach(|py| {
            let value = self.0.bind(py).call_method0("load").map_err(|e| py_store_error(py, "load", e))?;
            if value.is_none() {
                return Ok(None);
            }
            if let Ok(s) = value.cast::<PyString>() {
                return Ok(Some(s.to_string().into_bytes()));
            }
            value.extract::<Vec<u8>>().map(Some).map_err(|_| {
                StoreError::new(StoreErrorKind::Io, "the Python store's load() must return bytes, str or None")
            })
        })
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        Python::attach(|py| {
            self.0
                .bind(py)
                .call_method1("save", (PyBytes::new(py, data),))
                .map(|_| ())
                .map_err(|e| py_store_error(py, "save", e))
        })
    }

    fn describe(&self) -> String {
        Python::attach(|py| {
            let obj = self.0.bind(py);
            obj.repr().map(|r| format!("Python store {r}")).unwrap_or_else(|_| "Python store".to_owned())
        })
    }
}

/// The token cache: accounts, refresh tokens and access tokens, kept in a store.
///
/// `TokenCache()` keeps tokens in memory; `TokenCache("~/.cache/x/tokens.json")` (or
/// `TokenCache.file(path)`) in a JSON file (mode 0600, atomic writes, a lock file shared by every
/// process) in the same format as the `mailoauth` command-line tool, so both can share one file;
/// `TokenCache.command(load, save)` runs shell commands (e.g. `gpg`); `TokenCache.custom(obj)`
/// uses any object with `load() -> bytes | None` and `save(data: bytes)`. Access tokens are
/// refreshed `refresh_margin` seconds (default 300) before they expire.
#[pyclass(name = "TokenCache", module = "mailoauth", frozen)]
pub(crate) struct PyTokenCache(pub(crate) Arc<TokenCache>);

fn with_margin(cache: TokenCache, margin: Option<f64>) -> PyResult<TokenCache> {
    match margin {
        None => Ok(cache),
        Some(m) => Duration::try_from_secs_f64(m)
            .map(|d| cache.with_refresh_margin(d))
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("refresh_margin must be a non-negative number")),
    }
}

#[pymethods]
impl PyTokenCache {
    /// A cache in memory (no `path`) or in the JSON file at `path`.
    #[new]
    #[pyo3(signature = (path=None, *, refresh_margin=None))]
    fn new(path: Option<PathBuf>, refresh_margin: Option<f64>) -> PyResult<Self> {
        let cache = match path {
            Some(p) => TokenCache::new(Arc::new(FileStore::new(p))),
            None => TokenCache::in_memory(),
        };
        Ok(PyTokenCache(Arc::new(with_margin(cache, refresh_margin)?)))
    }

    /// A cache that lives in memory only.
    #[staticmethod]
    #[pyo3(signature = (*, refresh_margin=None))]
    fn memory(refresh_margin: Option<f64>) -> PyResult<Self> {
        Ok(PyTokenCache(Arc::new(with_margin(TokenCache::in_memory(), refresh_margin)?)))
    }

    /// A cache in a JSON file (the format the `mailoauth` CLI uses).
    #[staticmethod]
    #[pyo3(signature = (path, *, refresh_margin=None))]
    fn file(path: PathBuf, refresh_margin: Option<f64>) -> PyResult<Self> {
        Ok(PyTokenCache(Arc::new(with_margin(TokenCache::new(Arc::new(FileStore::new(path))), refresh_margin)?)))
    }

    /// A cache kept by two shell commands: `load` prints the cache, `save` reads it on stdin
    /// (e.g. `gpg --decrypt tokens.gpg` / `gpg --encrypt -r me -o tokens.gpg`); `lock_file`
    /// serialises processes.
    #[staticmethod]
    #[pyo3(signature = (load, save, *, lock_file=None, refresh_margin=None))]
    fn command(load: String, save: String, lock_file: Option<PathBuf>, refresh_margin: Option<f64>) -> PyResult<Self> {
        let store = CommandStore::new(load, save);
        let store = match lock_file {
            Some(p) => store.with_lock_file(p),
            None => store,
        };
        Ok(PyTokenCache(Arc::new(with_margin(TokenCache::new(Arc::new(store)), refresh_margin)?)))
    }

    /// A cache kept by a Python object with `load() -> bytes | str | None` and `save(data: bytes)`.
    #[staticmethod]
    #[pyo3(signature = (store, *, refresh_margin=None))]
    fn custom(store: &Bound<'_, PyAny>, refresh_margin: Option<f64>) -> PyResult<Self> {
        check_store_object(store)?;
        let cache = TokenCache::new(Arc::new(PyStore(store.clone().unbind())));
        Ok(PyTokenCache(Arc::new(with_margin(cache, refresh_margin)?)))
    }

    /// Every cached sign-in, as `(authority base URL, client id, Account)`; no secrets.
    fn entries(&self, py: Python<'_>) -> PyResult<Vec<(String, String, PyAccount)>> {
        let cache = self.0.clone();
        let entries = py.detach(move || cache.entries()).map_err(|e| store_error(py, e))?;
        Ok(entries.into_iter().map(|(env, client, account)| (env, client, PyAccount(account))).collect())
    }

    /// Imports a cache serialized by MSAL (msal's `SerializableTokenCache.serialize()` or
    /// msal-node's JSON): accounts, refresh tokens, unexpired access tokens. Returns how many
    /// accounts were imported.
    fn import_msal(&self, py: Python<'_>, msal_json: String) -> PyResult<usize> {
        let cache = self.0.clone();
        crate::block_on(py, async move { cache.import_msal(&msal_json, &TokioPlatform).await })?
            .map_err(|e| store_error(py, e))
    }

    fn __repr__(&self) -> String {
        format!("TokenCache({})", self.0.store().describe())
    }
}

fn check_store_object(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if obj.hasattr("load")? && obj.hasattr("save")? {
        Ok(())
    } else {
        Err(PyTypeError::new_err(
            "cache must be None, a path, a TokenCache, or an object with load() and save(data) methods",
        ))
    }
}

/// The `cache=` argument of `PublicClient`: None (in memory), a path (file), a `TokenCache`,
/// or an object with `load()` / `save(data)`.
pub(crate) fn cache_argument(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<TokenCache>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Arc::new(TokenCache::in_memory()));
    };
    if let Ok(c) = obj.cast::<PyTokenCache>() {
        return Ok(c.get().0.clone());
    }
    if let Ok(path) = obj.extract::<PathBuf>() {
        return Ok(Arc::new(TokenCache::new(Arc::new(FileStore::new(path)))));
    }
    check_store_object(obj)?;
    Ok(Arc::new(TokenCache::new(Arc::new(PyStore(obj.clone().unbind())))))
}

/// Adds the class to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTokenCache>()?;
    Ok(())
}
