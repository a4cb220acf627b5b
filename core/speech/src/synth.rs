//! Synthetic speech with `espeak-ng` (installed by `scripts/setup`), for the
//! demo, benchmarks and tests: text in, 16 kHz mono [`Audio`] out.

use std::path::Path;
use std::process::Command;

use crate::audio::{self, Audio};
use crate::error::{Result, SpeechError};

/// Speaks `text` with espeak-ng's `voice` (e.g. `en-us`, `ko`), `speed` in
/// words per minute (espeak's default is 175).
pub fn espeak(text: &str, voice: &str, speed: u32) -> Result<Audio> {
    let output = Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &speed.to_string(),
            "--stdout",
            "--",
            text,
        ])
        .output()
        .map_err(|e| SpeechError::Engine {
            engine: "espeak-ng",
            reason: format!("cannot run espeak-ng ({e}); install it (scripts/setup does)"),
        })?;
    if !output.status.success() {
        return Err(SpeechError::Engine {
            engine: "espeak-ng",
            reason: format!(
                "exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    // espeak-ng writes a streaming WAV header whose sizes are 0xFFFFFFFF;
    // patch them to the real sizes so the strict WAV reader accepts it.
    let mut wav = output.stdout;
    fix_streaming_wav_header(&mut wav);
    audio::decode(Path::new("<espeak-ng>"), &wav)
}

/// Rewrites the RIFF and `data` chunk sizes of a canonical 44-byte-header WAV
/// to match its actual length.
fn fix_streaming_wav_header(wav: &mut [u8]) {
    if wav.len() < 44 || &wav[0..4] != b"RIFF" || &wav[36..40] != b"data" {
        return;
    }
    let riff = u32::try_from(wav.len() - 8).unwrap_or(u32::MAX);
    let data = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav[40..44].copy_from_slice(&data.to_le_bytes());
}

/// `ms` milliseconds of digital silence at 16 kHz.
pub fn silence(ms: u32) -> Vec<i16> {
    vec![0; (crate::audio::SAMPLE_RATE / 1000 * ms) as usize]
}

/// Joins utterances with `gap_ms` of silence before, between and after them.
pub fn join(parts: &[&[i16]], gap_ms: u32) -> Vec<i16> {
    let gap = silence(gap_ms);
    let mut out = gap.clone();
    for p in parts {
        out.extend_from_slice(p);
        out.extend_from_slice(&gap);
    }
    out
}
