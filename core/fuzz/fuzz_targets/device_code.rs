//! The device-code answer reader: any bytes as a 200 answer, at four clocks, loopback or not.
//! The check is shared with the stable driver and the proptest properties
//! (`core/tests/support/hostile_inputs.rs`, through `mailoauth-fuzz-stable`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailoauth_fuzz_stable::run("device_code", data));
