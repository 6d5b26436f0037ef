//! Python bindings of mailoauth: the extension module `mailoauth._native`.
//!
//! A thin layer: every method delegates to the core (`mailoauth`) and converts its error once
//! (see `errors`). Blocking methods release the GIL while the core works and check for
//! signals (Ctrl-C) every [`SIGNAL_SLICE`]; `*_async` methods return asyncio awaitables run
//! on a shared tokio runtime. The Python package (`python/mailoauth/`) adds the imaplib,
//! smtplib and poplib helpers on top.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;

mod cache;
mod client;
mod errors;
mod mail;
mod types;

/// How often a blocking call wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// The tokio runtime shared by blocking and async calls.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `fut` to completion without the GIL, waking every [`SIGNAL_SLICE`] to run Python's
/// signal handlers: a `KeyboardInterrupt` drops (cancels) the future and propagates.
pub(crate) fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime();
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_SLICE, &mut fut).await.ok() }));
        match step {
            Some(out) => return Ok(out),
            None => py.check_signals()?,
        }
    }
}

/// The extension module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    types::register(m)?;
    cache::register(m)?;
    client::register(m)?;
    mail::register(m)?;
    Ok(())
}
