//! The cache document reader, and the round trip of what it reads.
//! The check is shared with the stable driver and the proptest properties
//! (`core/tests/support/hostile_inputs.rs`, through `mailoauth-fuzz-stable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailoauth_fuzz_stable::run("cache", data));
