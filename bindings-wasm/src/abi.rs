//! The wasm's boundary with JS: one export, [`dispatch::call`](crate::dispatch::call), and two
//! imports, `storeCall` and `fillRandom` (`js/bridge.js`).
//!
//! The Node build goes through wasm-bindgen, which also carries its classes (the mail login
//! machines, the confidential client). The browser build has only these three functions, so
//! it uses a plain C ABI of its own, with the loader in `js/wasm-web.js`: wasm-bindgen's
//! generated glue and its start-up code cost the page 1.5 KB gzip (measured with
//! `scripts/bench/wasm-size.sh`: 79,560 B with wasm-bindgen, 78,066 B without), and the
//! three functions need none of its generality.
//!
//! The browser ABI (all integers are wasm `i32`, `u64` is a JS `BigInt`):
//! - `alloc(len) -> ptr`: `len` bytes for a string or body that JS passes in; the function it
//!   is passed to owns it from then on.
//! - `call(op, opLen, args, argsLen, bytes, bytesLen) -> u64`: takes the three buffers (UTF-8
//!   `op` and `args`, raw `bytes`), returns the answer as `ptr << 32 | len`; JS reads it and
//!   gives it back with `dealloc(ptr, len)`.
//! - import `mailoauth.storeCall(store, method, methodLen, arg, argLen) -> u64`: the store's
//!   answer, in a buffer JS got from `alloc`, as `ptr << 32 | len`; the wasm owns it.
//! - import `mailoauth.fillRandom(ptr, len)`: fills the wasm's bytes with random values.

use core::cell::RefCell;

#[cfg(feature = "node")]
pub(crate) use node::{fill_random, store_call};
#[cfg(not(feature = "node"))]
pub(crate) use web::{fill_random, store_call};

#[cfg(target_feature = "atomics")]
compile_error!("mailoauth's wasm is built for one thread (abi::Global); build it without the atomics feature");

/// A value of the module's one thread (the tables of clients and flows): a `thread_local!`
/// that the build without std can have too.
pub(crate) struct Global<T>(RefCell<T>);

// SAFETY: wasm32 without the `atomics` target feature (checked above) runs one thread; no
// other thread can see the value.
#[allow(unsafe_code)]
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub(crate) const fn new(value: T) -> Self {
        Global(RefCell::new(value))
    }

    pub(crate) fn with_borrow<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match self.0.try_borrow() {
            Ok(v) => f(&v),
            Err(_) => held(),
        }
    }

    pub(crate) fn with_borrow_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        match self.0.try_borrow_mut() {
            Ok(mut v) => f(&mut v),
            Err(_) => held(),
        }
    }
}

/// A table borrowed again while borrowed: a bug (no table access calls JS, which could
/// re-enter). Stops the module as a panic does, without `RefCell`'s panic message (whose
/// formatting code the browser's wasm would carry).
fn held() -> ! {
    #[cfg(not(feature = "node"))]
    core::arch::wasm32::unreachable();
    #[cfg(feature = "node")]
    unreachable!("a table of the wasm was borrowed twice")
}

#[cfg(feature = "node")]
mod node {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(raw_module = "../js/bridge.js")]
    extern "C" {
        /// Runs `method` of the store numbered `store` (see `store.rs`).
        #[wasm_bindgen(js_name = storeCall)]
        pub(crate) fn store_call(store: u32, method: &str, arg: &str) -> String;

        /// `crypto.getRandomValues(buf)`.
        #[wasm_bindgen(js_name = fillRandom)]
        pub(crate) fn fill_random(buf: &mut [u8]);
    }

    /// See [`crate::dispatch::call`].
    #[allow(unreachable_pub)] // exported to JS by wasm-bindgen
    #[wasm_bindgen]
    pub fn call(op: &str, args: &str, bytes: &[u8]) -> String {
        crate::dispatch::call(op, args, bytes)
    }
}

// The buffers cross as (pointer, length) pairs: Rust's allocator gives them out and takes them
// back, so each side owns a buffer at a time and no pointer outlives its buffer.
#[cfg(not(feature = "node"))]
#[allow(unsafe_code)]
mod web {
    use crate::prelude::*;

    /// A buffer of `len` bytes JS fills and passes to `call` (or returns from `storeCall`).
    #[no_mangle]
    extern "C" fn alloc(len: usize) -> *mut u8 {
        let mut v = Vec::<u8>::with_capacity(len);
        let ptr = v.as_mut_ptr();
        core::mem::forget(v);
        ptr
    }

    /// Gives back a buffer `call` returned.
    #[no_mangle]
    extern "C" fn dealloc(ptr: *mut u8, len: usize) {
        // SAFETY: JS passes back a (pointer, length) `call` returned, once; that buffer is
        // a boxed slice, so its capacity is its length.
        drop(unsafe { take(ptr, len) });
    }

    /// Takes a buffer from `alloc` (or one `call` returned) back.
    ///
    /// # Safety
    /// `ptr` and `len` are a buffer of `alloc(len)`, or one `pack` gave out, not taken before.
    unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
        // SAFETY: the caller's promise: the allocation is `len` bytes with capacity `len`.
        unsafe { Vec::from_raw_parts(ptr, len, len) }
    }

    /// A buffer handed to JS as `ptr << 32 | len`.
    fn pack(bytes: Vec<u8>) -> u64 {
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len() as u64;
        let ptr = Box::into_raw(boxed) as *mut u8 as usize as u64;
        ptr << 32 | len
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[no_mangle]
    extern "C" fn call(
        op: *mut u8,
        op_len: usize,
        args: *mut u8,
        args_len: usize,
        bytes: *mut u8,
        bytes_len: usize,
    ) -> u64 {
        // SAFETY: JS got each buffer from `alloc` with these lengths and filled it; this
        // function owns them now.
        let (op, args, bytes) = unsafe { (take(op, op_len), take(args, args_len), take(bytes, bytes_len)) };
        pack(crate::dispatch::call(&text(op), &text(args), &bytes).into_bytes())
    }

    #[link(wasm_import_module = "mailoauth")]
    extern "C" {
        #[link_name = "storeCall"]
        fn js_store_call(store: u32, method: *const u8, method_len: usize, arg: *const u8, arg_len: usize) -> u64;
        #[link_name = "fillRandom"]
        fn js_fill_random(ptr: *mut u8, len: usize);
    }

    /// Runs `method` of the store numbered `store` (see `store.rs`).
    pub(crate) fn store_call(store: u32, method: &str, arg: &str) -> String {
        // SAFETY: JS reads the two strings during the call only, and returns a buffer of
        // `alloc` (the answer), which this function then owns.
        let answer = unsafe { js_store_call(store, method.as_ptr(), method.len(), arg.as_ptr(), arg.len()) };
        text(unsafe { take((answer >> 32) as usize as *mut u8, (answer & 0xffff_ffff) as usize) })
    }

    /// `crypto.getRandomValues(buf)`.
    pub(crate) fn fill_random(buf: &mut [u8]) {
        // SAFETY: JS writes `buf.len()` bytes at `buf` during the call only.
        unsafe { js_fill_random(buf.as_mut_ptr(), buf.len()) }
    }
}
