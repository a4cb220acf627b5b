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

/// Noise that [`mix_noise`] adds to synthetic speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// Uniform white noise (as `sox … synth whitenoise`).
    White,
    /// Pink noise, 1/f (white noise through Paul Kellet's filter, as
    /// `sox … synth pinknoise` approximates it).
    Pink,
}

/// The root mean square of `samples` (0 for none).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Adds `kind` noise to `samples`, scaled so that `speech_rms` (the RMS of
/// the speech, measured before any padding) is `snr_db` above the noise's
/// RMS; the same `seed` gives the same noise. The mix is clipped to 16 bits.
pub fn mix_noise(samples: &mut [i16], speech_rms: f64, kind: NoiseKind, snr_db: f64, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut white = move || rng.gen_range(-1.0f64..1.0);
    let mut pink = [0.0f64; 7];
    let noise: Vec<f64> = (0..samples.len())
        .map(|_| {
            let w = white();
            match kind {
                NoiseKind::White => w,
                NoiseKind::Pink => {
                    let b = &mut pink;
                    b[0] = 0.99886 * b[0] + w * 0.0555179;
                    b[1] = 0.99332 * b[1] + w * 0.0750759;
                    b[2] = 0.96900 * b[2] + w * 0.1538520;
                    b[3] = 0.86650 * b[3] + w * 0.3104856;
                    b[4] = 0.55000 * b[4] + w * 0.5329522;
                    b[5] = -0.7616 * b[5] - w * 0.0168980;
                    let p = b.iter().sum::<f64>() + w * 0.5362;
                    b[6] = w * 0.115926;
                    p
                }
            }
        })
        .collect();
    let noise_rms = (noise.iter().map(|n| n * n).sum::<f64>() / noise.len().max(1) as f64).sqrt();
    if noise_rms == 0.0 {
        return;
    }
    let gain = speech_rms / noise_rms / 10f64.powf(snr_db / 20.0);
    for (s, n) in samples.iter_mut().zip(noise) {
        let mixed = f64::from(*s) + gain * n;
        *s = mixed
            .round()
            .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    }
}

#[cfg(test)]
mod noise_tests {
    use super::*;

    #[test]
    fn noise_is_mixed_at_the_asked_ratio_and_repeatable() {
        for kind in [NoiseKind::White, NoiseKind::Pink] {
            let speech: Vec<i16> = (0..16_000)
                .map(|i| ((i as f64 * 0.05).sin() * 8000.0) as i16)
                .collect();
            let mut mixed = speech.clone();
            mix_noise(&mut mixed, rms(&speech), kind, 10.0, 7);
            let noise: Vec<i16> = mixed.iter().zip(&speech).map(|(m, s)| m - s).collect();
            let snr = 20.0 * (rms(&speech) / rms(&noise)).log10();
            assert!((snr - 10.0).abs() < 0.1, "{kind:?}: {snr} dB");
            let mut again = speech.clone();
            mix_noise(&mut again, rms(&speech), kind, 10.0, 7);
            assert_eq!(again, mixed, "same seed, same noise");
            let mut other = speech.clone();
            mix_noise(&mut other, rms(&speech), kind, 10.0, 8);
            assert_ne!(other, mixed);
        }
    }

    #[test]
    fn pink_noise_has_more_energy_low_than_high() {
        let mut pink = vec![0i16; 32_000];
        mix_noise(&mut pink, 1000.0, NoiseKind::Pink, 0.0, 1);
        let mut white = vec![0i16; 32_000];
        mix_noise(&mut white, 1000.0, NoiseKind::White, 0.0, 1);
        // The first difference is a high-pass: white keeps more of its energy through it.
        let high = |x: &[i16]| {
            let d: Vec<i16> = x.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
            rms(&d) / rms(x)
        };
        assert!(
            high(&pink) < 0.7 * high(&white),
            "{} {}",
            high(&pink),
            high(&white)
        );
    }
}
