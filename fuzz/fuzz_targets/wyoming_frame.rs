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
use serde_json::Value;

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

/// Equal JSON, except that floats may differ by one ULP: serde_json's
/// default float parsing is best-effort (see the frame module's
/// `floats_in_data_round_trip_within_an_ulp_then_exactly`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 1,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
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
            assert!(
                same(
                    &Value::Object(again[0].data.clone()),
                    &Value::Object(frame.data.clone())
                ),
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
