//! `skill.toml` parses or fails with a file:line error; a parsed manifest
//! never asks for more than the host's ceilings.
#![no_main]
use emma_skill_host::manifest::{Budgeted, ceilings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match emma_skill_host::Manifest::parse(text, "skill.toml") {
        Ok(m) => {
            let l = m.limits;
            assert!(l.memory_mib <= ceilings::MEMORY_MIB);
            assert!(l.timeout_ms <= ceilings::TIMEOUT_MS);
            assert!(l.order_max_quantity <= ceilings::ORDER_MAX_QUANTITY);
            for b in Budgeted::ALL {
                assert!(l.budget(b).per_call <= b.ceiling().per_call);
                assert!(l.budget(b).per_hour <= b.ceiling().per_hour);
            }
            assert!(emma_untrusted::is_clean(&m.publisher));
        }
        Err(e) => assert!(e.line >= 1),
    }
});
