//! `.emmaskill` bundles (zip + manifest + signature) load or fail with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emma_skill_host::Bundle::from_bytes(data, "fuzz.emmaskill");
});
