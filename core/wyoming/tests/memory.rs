//! Peak heap while reading hostile frames, measured with dhat's counting
//! allocator: a 10 MB header line, a 4 GB announced payload that never comes,
//! and lengths past the limits all cost at most the limits, never what the
//! peer claims.
//!
//! One test in this binary: dhat's statistics are per process and its peak
//! never goes down, so the cases run in order of increasing cost.

use emma_wyoming::{FrameError, FrameReader, Limits};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Reads one frame from `input` and returns the error and the peak heap growth in bytes.
async fn peak_while_reading(input: impl AsyncRead + Unpin, limits: Limits) -> (FrameError, u64) {
    let before = dhat::HeapStats::get();
    let mut reader = FrameReader::new(BufReader::new(input), limits);
    let err = reader.read_frame().await.expect_err("hostile input");
    drop(reader);
    let after = dhat::HeapStats::get();
    // `max_bytes` is the process-wide peak; `curr_bytes` before is the baseline.
    (err, after.max_bytes as u64 - before.curr_bytes as u64)
}

#[tokio::test]
async fn hostile_frames_cost_at_most_the_limits() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let limits = Limits::default();
    let mut report = vec![];

    // 4 GB announced: refused before reading anything.
    let huge = "{\"type\":\"audio-chunk\",\"payload_length\":4000000000}\n".to_string();
    let (e, peak) = peak_while_reading(std::io::Cursor::new(huge.into_bytes()), limits).await;
    assert!(matches!(e, FrameError::TooLong { .. }), "{e}");
    report.push(("4 GB payload announced", peak));
    assert!(peak <= 32 * 1024, "4 GB announced: peak {peak} bytes");

    // A payload of 4 MiB (the limit) announced, 100 bytes sent.
    let lie = format!(
        "{{\"type\":\"audio-chunk\",\"payload_length\":{}}}\n{}",
        limits.max_payload,
        "x".repeat(100)
    );
    let (e, peak) = peak_while_reading(std::io::Cursor::new(lie.into_bytes()), limits).await;
    assert!(matches!(e, FrameError::Truncated { got: 100, .. }), "{e}");
    report.push(("4 MiB payload announced, 100 B sent", peak));
    assert!(peak <= 128 * 1024, "announced payload: peak {peak} bytes");

    // 10 MB of header without a newline, generated as it is read (the input
    // itself is not on the heap).
    let ten_mb = tokio::io::repeat(b'a').take(10 * 1024 * 1024);
    let (e, peak) = peak_while_reading(ten_mb, limits).await;
    assert!(matches!(e, FrameError::HeaderTooLong { .. }), "{e}");
    report.push(("10 MB header line", peak));
    // The line buffer (≤ 64 KiB, doubling growth) plus the 8 KiB BufReader.
    assert!(
        peak <= 2 * limits.max_header as u64 + 16 * 1024,
        "10 MB header line: peak {peak} bytes"
    );

    // A full 4 MiB payload really sent costs the payload, not twice it.
    let mut full = format!(
        "{{\"type\":\"audio-chunk\",\"payload_length\":{}}}\n",
        limits.max_payload
    )
    .into_bytes();
    full.resize(full.len() + limits.max_payload, 0);
    let full_len = full.len() as u64;
    let before = dhat::HeapStats::get();
    let mut reader = FrameReader::new(BufReader::new(std::io::Cursor::new(full)), limits);
    let frame = reader.read_frame().await.unwrap().unwrap();
    let peak = dhat::HeapStats::get().max_bytes as u64 - before.curr_bytes as u64;
    assert_eq!(
        frame.payload.as_ref().map(Vec::len),
        Some(limits.max_payload)
    );
    // The input buffer (already counted in `before`) aside, the payload
    // plus one doubling step at most.
    report.push(("4 MiB payload received", peak));
    assert!(
        peak <= full_len + limits.max_payload as u64 / 2 + 64 * 1024,
        "full payload: peak {peak} bytes"
    );

    for (case, peak) in report {
        eprintln!("{case:>40}: peak heap {:>9} bytes", peak);
    }
}
