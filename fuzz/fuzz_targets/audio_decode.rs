//! WAV and FLAC decoding (to 16 kHz mono) never panics, hangs or runs out of memory.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emma_speech::audio::decode(std::path::Path::new("fuzz.wav"), data);
});
