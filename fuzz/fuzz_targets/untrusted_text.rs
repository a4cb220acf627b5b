//! Sanitised text is always clean and within its cap, whatever comes in.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let max = data.first().copied().unwrap_or(0) as usize;
    for out in [
        emma_untrusted::line(&text, max),
        emma_untrusted::text(&text, max),
    ] {
        assert!(emma_untrusted::is_clean(&out), "{out:?}");
        assert!(out.chars().count() <= max);
    }
});
