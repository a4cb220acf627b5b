//! Hermes (Snips/Rhasspy) payloads parse or fail with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let topic = String::from_utf8_lossy(&data[..split]);
    let payload = data.get(split + 1..).unwrap_or_default();
    for topic in [
        topic.as_ref(),
        "hermes/intent/GetTime",
        "hermes/nlu/query",
        "hermes/tts/say",
        "hermes/hotword/default/detected",
        "hermes/dialogueManager/startSession",
    ] {
        let _ = emma_devices::hermes::parse(topic, payload);
    }
});
