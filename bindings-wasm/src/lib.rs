//! mailoauth for JavaScript: the Rust core compiled to WebAssembly (the Node build through
//! wasm-bindgen, the browser build through a small C ABI of its own: [`abi`]).
//!
//! This crate is the thin layer between the core and the npm package `mailoauth` (see
//! `README.md` beside it). Everything here is one delegation to core plus one conversion:
//!
//! - one exported function, `call(op, args, bytes)` ([`dispatch`], exported by [`abi`]):
//!   arguments and results cross as JSON text, errors as details naming the JS `Error`
//!   subclass of `js/errors.js` ([`convert`]);
//! - the token flows are the core's sans-IO machines: JS sends their requests with `fetch`,
//!   sleeps their waits with `setTimeout` and passes the clock;
//! - the token cache stores its JSON document in a JS object with `load()` / `save()`
//!   ([`store`]);
//! - the Node build adds the mail login state machines for a JS socket driver, the mail
//!   diagnostics and the confidential client (`node`).
//!
//! On other targets the crate is empty, so the native workspace build does not pull in the
//! wasm toolchain.
#![cfg(target_arch = "wasm32")]
// The browser build has no std (nor does the core there): its panics abort (`unreachable`)
// without std's panic machinery, which brought formatting code into the page.
#![cfg_attr(not(feature = "node"), no_std)]

extern crate alloc;

/// What std's prelude brings, for the build without std.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}

/// A panic in the browser build (a bug) stops the module: the call throws `RuntimeError:
/// unreachable` in JS, as `panic = "abort"` does with std.
#[cfg(not(feature = "node"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

mod abi;
mod convert;
pub mod dispatch;
#[cfg(feature = "node")]
pub mod node;
mod store;

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The core's random source (getrandom's custom hook): the host's `crypto.getRandomValues`.
fn host_random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    // getRandomValues fills at most 65,536 bytes per call.
    for chunk in buf.chunks_mut(65_536) {
        abi::fill_random(chunk);
    }
    Ok(())
}

getrandom::register_custom_getrandom!(host_random);
