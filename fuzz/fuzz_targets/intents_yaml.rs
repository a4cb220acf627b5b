//! hassil YAML (and the Home Assistant JSON form, Rhino YAML and Alexa JSON,
//! which `from_yaml_str` detects) compiles or fails with an error; when it
//! compiles, recognising its own first line does not panic either.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(engine) = emma_intent::IntentEngine::from_yaml_str(text, "fuzz.yaml", "en") {
        let first = text.lines().next().unwrap_or_default();
        let _ = engine.recognize(first, &emma_intent::Context::default());
    }
});
