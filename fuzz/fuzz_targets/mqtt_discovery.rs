//! Home Assistant MQTT discovery configs turn into a device or an error, and
//! a device's name and area are always safe to print.
#![no_main]
use emma_devices::discovery::{Discovered, parse_config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the topic; the rest: the payload.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let topic = String::from_utf8_lossy(&data[..split]);
    let payload = data.get(split + 1..).unwrap_or_default();
    for topic in [topic.as_ref(), "homeassistant/light/fuzz/config"] {
        if let Ok(Discovered::Device(d)) = parse_config(topic, payload) {
            assert!(
                emma_untrusted::is_clean(&d.name) && !d.name.contains('\n'),
                "{:?}",
                d.name
            );
            if let Some(area) = &d.area {
                assert!(emma_untrusted::is_clean(area), "{area:?}");
            }
        }
    }
});
