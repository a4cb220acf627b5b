//! RELIABILITY.md test 11: hostile WAV headers (data chunk size 0xFFFFFFFF,
//! 0 channels, 0 Hz, truncation) each return `Err`, never panic, and the
//! decoder allocates no more than the file's size while rejecting them.
//! A counting global allocator measures the bytes allocated during decoding.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only adds to a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: `ptr`/`layout` came from this allocator; forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Tests in this binary run one at a time so the counter sees one decode.
static SERIAL: Mutex<()> = Mutex::new(());

/// A valid 16 kHz mono 16-bit WAV of `frames` frames, 44-byte header.
fn wav(frames: usize) -> Vec<u8> {
    let data = (frames * 2) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // channels
    v.extend_from_slice(&16_000u32.to_le_bytes());
    v.extend_from_slice(&32_000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        v.extend_from_slice(&((i % 200) as i16 * 100).to_le_bytes());
    }
    v
}

fn decode_counting(bytes: &[u8]) -> (Result<emma_speech::Audio, emma_speech::SpeechError>, usize) {
    let before = ALLOCATED.load(Ordering::Relaxed);
    let result =
        std::panic::catch_unwind(|| emma_speech::audio::decode(Path::new("attack.wav"), bytes))
            .expect("decoder must not panic");
    (result, ALLOCATED.load(Ordering::Relaxed) - before)
}

#[test]
fn hostile_headers_fail_without_allocating_more_than_the_file() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let good = wav(16_000);
    let mut huge_chunk = good.clone();
    huge_chunk[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut huge_riff = good.clone();
    huge_riff[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    huge_riff[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut zero_channels = good.clone();
    zero_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
    let mut zero_hz = good.clone();
    zero_hz[24..28].copy_from_slice(&0u32.to_le_bytes());
    let truncated = good[..good.len() / 3].to_vec();
    for (name, bytes) in [
        ("data chunk 0xFFFFFFFF", huge_chunk),
        ("riff and data 0xFFFFFFFF", huge_riff),
        ("0 channels", zero_channels),
        ("0 Hz", zero_hz),
        ("truncated", truncated),
    ] {
        let (result, allocated) = decode_counting(&bytes);
        let err = result.expect_err(name).to_string();
        assert!(err.starts_with("attack.wav: "), "{name}: {err}");
        assert!(
            allocated <= bytes.len(),
            "{name}: allocated {allocated} bytes for a {}-byte file",
            bytes.len()
        );
    }
}

#[test]
fn a_valid_file_still_decodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (result, _) = decode_counting(&wav(16_000));
    assert_eq!(result.unwrap().samples.len(), 16_000);
}
