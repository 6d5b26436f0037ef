//! A tokio runtime on its own thread, so that callers (sync tests, async tests,
//! binaries) never need a runtime of their own.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Runs one server future on a dedicated thread with a current-thread runtime.
/// Dropping it signals the future to stop and joins the thread.
#[derive(Debug)]
pub(crate) struct Background {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// `make` is called on the new thread, inside the runtime, with a future that
    /// completes when the server should stop; it returns the server future.
    pub(crate) fn spawn<F, Fut>(name: &str, make: F) -> Result<Self>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(()));
                        rt
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(make(rx));
            })
            .map_err(|e| Error::io(format!("spawning thread {name}"), e))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::io("building tokio runtime", e)),
            Err(_) => return Err(Error::io("building tokio runtime", std::io::Error::other("runtime thread died"))),
        }
        Ok(Background { shutdown: Some(tx), thread: Some(thread) })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
