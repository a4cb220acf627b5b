//! Speech enhancement before recognition: RNNoise (the `nnnoiseless` port of
//! Xiph's recurrent noise suppressor) removes noise frame by frame before the
//! recogniser hears the audio.
//!
//! RNNoise works on 48 kHz audio in 10 ms frames of floats in the i16 range,
//! and Emma's audio is 16 kHz. [`denoise`] resamples up with rubato's FFT
//! resampler, runs every frame through one `DenoiseState` (it carries its noise
//! estimate from frame to frame), and resamples back down. The FFT resampler's
//! delay is compensated (`process_all`), so the output lines up with the input
//! and has its length.
//!
//! It is a lever under measurement, not part of the default pipeline: the
//! real-recordings harness runs it as the `denoise` method
//! (`tests/tests/understand_real.rs`; results in `docs/understand.md`).
//! Whole recordings only; a streaming form would carry the resamplers' and
//! RNNoise's state across chunks.

use nnnoiseless::DenoiseState;
use rubato::Resampler;

use crate::audio::SAMPLE_RATE;
use crate::error::SpeechError;

/// RNNoise's sample rate.
const RNNOISE_RATE: usize = 48_000;
/// Samples per resampler chunk (16 kHz side).
const CHUNK: usize = 1024;

/// `samples` (16 kHz mono) with RNNoise's noise suppression applied; the same
/// length. Empty input gives empty output.
pub fn denoise(samples: &[i16]) -> Result<Vec<i16>, SpeechError> {
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let floats: Vec<f32> = samples.iter().map(|&s| f32::from(s)).collect();
    let mut up = resample(&floats, SAMPLE_RATE as usize, RNNOISE_RATE)?;
    // Whole frames: pad the tail with silence, cut it off afterwards.
    let n = up.len();
    up.resize(
        n.div_ceil(DenoiseState::FRAME_SIZE) * DenoiseState::FRAME_SIZE,
        0.0,
    );
    let mut state = DenoiseState::new();
    let mut clean = Vec::with_capacity(up.len());
    let mut out = [0.0f32; DenoiseState::FRAME_SIZE];
    for frame in up.chunks_exact(DenoiseState::FRAME_SIZE) {
        state.process_frame(&mut out, frame);
        clean.extend_from_slice(&out);
    }
    clean.truncate(n);
    let mut down = resample(&clean, RNNOISE_RATE, SAMPLE_RATE as usize)?;
    down.resize(samples.len(), 0.0);
    Ok(down
        .iter()
        .map(|&s| s.round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn resample(mono: &[f32], from: usize, to: usize) -> Result<Vec<f32>, SpeechError> {
    let failed = |e: &dyn std::fmt::Display| SpeechError::Engine {
        engine: "RNNoise",
        reason: format!("cannot resample {from} Hz to {to} Hz: {e}"),
    };
    let chunk = CHUNK * from / SAMPLE_RATE as usize;
    let mut resampler = rubato::Fft::<f32>::new(from, to, chunk, 1, rubato::FixedSync::Input)
        .map_err(|e| failed(&e))?;
    let input = rubato::audioadapter_buffers::owned::InterleavedOwned::new_from(
        mono.to_vec(),
        1,
        mono.len(),
    )
    .map_err(|e| failed(&e))?;
    let out = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| failed(&e))?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{NoiseKind, mix_noise, rms};

    /// A harmonic tone (220 and 440 Hz) in 0.25 s bursts with pauses between,
    /// as voiced speech has them.
    fn tone_with_pauses() -> Vec<i16> {
        (0..SAMPLE_RATE as usize * 2)
            .map(|i| {
                let t = i as f64 / f64::from(SAMPLE_RATE);
                let on = (t * 2.0).fract() < 0.5;
                if on {
                    (8000.0 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                        + 4000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin())
                        as i16
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn the_output_keeps_the_length_and_lowers_the_noise_in_the_pauses() {
        let clean = tone_with_pauses();
        let mut noisy = clean.clone();
        mix_noise(&mut noisy, rms(&clean), NoiseKind::White, 10.0, 7);
        let out = denoise(&noisy).unwrap();
        assert_eq!(out.len(), noisy.len());
        // The last pause (1.75–2 s), after RNNoise has learnt the noise.
        let pause = |s: &[i16]| rms(&s[SAMPLE_RATE as usize * 7 / 4 + 400..]);
        assert!(
            pause(&out) < pause(&noisy) / 3.0,
            "noise in the pause: {} before, {} after",
            pause(&noisy),
            pause(&out)
        );
        // The tone (1.5–1.75 s) keeps most of its energy.
        let tone = |s: &[i16]| rms(&s[SAMPLE_RATE as usize * 3 / 2..SAMPLE_RATE as usize * 7 / 4]);
        assert!(
            tone(&out) > tone(&clean) / 2.0,
            "the tone: {} clean, {} after",
            tone(&clean),
            tone(&out)
        );
        assert!(denoise(&[]).unwrap().is_empty());
    }
}
