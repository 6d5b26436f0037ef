//! The three login machines: the first byte picks protocol, mechanism and STARTTLS, 0xFF
//! bytes split the rest into reads; the same bytes cut differently must end the same way.
//! The check is shared with the stable driver and the proptest properties
//! (`core/tests/support/hostile_inputs.rs`, through `mailoauth-fuzz-stable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailoauth_fuzz_stable::run("login", data));
