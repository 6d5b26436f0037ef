//! The cache's in-process locks: std's `Mutex`, or in the browser's wasm (no std, one thread)
//! a `RefCell` that answers a second `lock` while held with an error instead of a deadlock.

#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
pub(crate) use std::sync::Mutex;

#[cfg(not(any(feature = "std", not(target_arch = "wasm32"))))]
pub(crate) use single::Mutex;

#[cfg(not(any(feature = "std", not(target_arch = "wasm32"))))]
mod single {
    use core::cell::{RefCell, RefMut};

    /// A lock for one thread: [`Mutex::lock`] fails while the value is held (a re-entry).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(RefCell<T>);

    /// The value is held already (by this thread: there is no other).
    #[derive(Debug)]
    pub(crate) struct Held;

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex(RefCell::new(value))
        }

        pub(crate) fn lock(&self) -> Result<RefMut<'_, T>, Held> {
            self.0.try_borrow_mut().map_err(|_| Held)
        }

        pub(crate) fn try_lock(&self) -> Result<RefMut<'_, T>, Held> {
            self.lock()
        }
    }
}
