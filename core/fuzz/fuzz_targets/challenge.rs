//! The SASL error-challenge decoders (base64 and JSON).
//! The check is shared with the stable driver and the proptest properties
//! (`core/tests/support/hostile_inputs.rs`, through `mailoauth-fuzz-stable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailoauth_fuzz_stable::run("challenge", data));
