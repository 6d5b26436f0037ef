//! The host's clock: `Date.now()`. HTTP (`fetch`) and the timer (`setTimeout`) stay in JS
//! (`js/host.js` drives the core's machines with them); no HTTP client and no async runtime
//! are compiled into the wasm.

/// Seconds since the Unix epoch (`Date.now()`).
pub(crate) fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}
