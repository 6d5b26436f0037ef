//! Decodes arbitrary text as a SASL error challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = mailoauth::sasl::ErrorChallenge::decode(&text);
    let _ = mailoauth::sasl::ErrorChallenge::from_json(&text);
});
