//! Wyoming framing: any bytes a client sends are read as frames within the
//! limits or refused with an error, never a panic. Every frame that reads
//! encodes and reads back as itself; every event that parses converts to a
//! frame and back as itself; audio chunks convert to 16 kHz mono or fail
//! with an error.
#![no_main]
use std::sync::OnceLock;

use emma_wyoming::frame::encode;
use emma_wyoming::{Event, Frame, FrameReader, Limits, to_mono_i16};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the fuzzer reaches every limit check with short inputs.
const LIMITS: Limits = Limits {
    max_header: 2048,
    max_data: 2048,
    max_payload: 8192,
};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// Limits for reading back what `encode` wrote: the encoder adds `version`,
/// `data_length` and `payload_length` to the header and re-serialises the
/// data (`1E2` becomes `100.0`), so a frame read at the limit may encode a
/// little past it (found by this target; the server never re-sends a
/// client's frame).
const READ_BACK: Limits = Limits {
    max_header: LIMITS.max_header * 2,
    max_data: LIMITS.max_data * 2,
    max_payload: LIMITS.max_payload,
};

/// Every frame in `bytes` until the end or the first error.
async fn frames(bytes: &[u8], limits: Limits) -> (Vec<Frame>, bool) {
    let mut reader = FrameReader::new(tokio::io::BufReader::new(bytes), limits);
    let mut out = Vec::new();
    loop {
        match reader.read_frame().await {
            Ok(Some(f)) => out.push(f),
            Ok(None) => return (out, true),
            Err(e) => {
                // Errors name what was wrong.
                assert!(!e.to_string().is_empty());
                return (out, false);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (read, _) = frames(data, LIMITS).await;
        for frame in read {
            let bytes = encode(&frame);
            let (again, clean) = frames(&bytes, READ_BACK).await;
            assert!(clean, "an encoded frame reads back: {frame:?}");
            assert_eq!(again.len(), 1, "one frame in, one out: {frame:?}");
            assert_eq!(again[0].kind, frame.kind);
            assert_eq!(again[0].payload, frame.payload);
            // Exactly, floats included (serde_json's `float_roundtrip`).
            assert_eq!(
                again[0].data, frame.data,
                "frame round trip: {frame:?} came back as {again:?}"
            );
            let Ok(event) = Event::from_frame(frame) else {
                continue;
            };
            let back = Event::from_frame(event.to_frame()).expect("an event's own frame parses");
            assert_eq!(back, event, "event round trip");
            if let Event::AudioChunk(chunk) = &event
                && chunk.format.validate().is_ok()
            {
                let _ = to_mono_i16(chunk.format, &chunk.audio);
            }
        }
    });
});
