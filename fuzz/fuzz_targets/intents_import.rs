//! Rhino YAML and Alexa JSON imports turn into hassil YAML or fail with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = emma_intent::import::to_hassil(text, "en");
    let _ = emma_intent::import::rhino_to_hassil(text);
    let _ = emma_intent::import::alexa_to_hassil(text);
});
