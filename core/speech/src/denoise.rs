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
//! [`Denoiser`] does the same over a stream of chunks (live audio), carrying
//! the resamplers' and RNNoise's state from chunk to chunk and dropping the
//! resamplers' delay: its output lines up with the input but comes a few
//! milliseconds later, and [`Denoiser::finish`] flushes the rest.
//! [`Denoised`] wraps a stream of chunks in one. The understander uses it when
//! asked (`Understander::set_denoise`, `emma understand --denoise`).
//!
//! Measured on the real recordings (`tests/tests/understand_real.rs`, the
//! methods `denoise` (whole recordings) and `denoise-stream` (this stream);
//! docs/understand.md): clean speech unchanged, kitchen noise a little better
//! on average; not the default.

use nnnoiseless::DenoiseState;
use rubato::Resampler;

use crate::audio::SAMPLE_RATE;
use crate::error::SpeechError;

/// How loud the speech in `raw` is against its noise, in dB, judged by
/// what RNNoise kept of it (`cleaned`, the same stretch after [`denoise`]
/// or a [`Denoiser`]) and what it removed: the energy kept over the energy
/// removed. About 100 dB for clean recordings; on real coffee orders mixed
/// with kitchen noise (whole recordings, median): 17 dB at the benchmark's
/// 24 dB, 13 at 18, 8 at 12 and 3 at 6. `None` for silence.
pub fn speech_to_noise_db(raw: &[i16], cleaned: &[i16]) -> Option<f64> {
    let energy = |x: &[i16]| x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
    let (all, kept) = (energy(raw), energy(cleaned));
    if kept <= 0.0 {
        return None;
    }
    // At least one unit of removed energy per sample: a bound, not a division by zero.
    let removed = (all - kept).max(raw.len().max(1) as f64);
    Some(10.0 * (kept / removed).log10())
}

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
    Ok(down.iter().map(|&s| to_pcm(s)).collect())
}

/// A float in the i16 range as a 16-bit sample (clipped).
fn to_pcm(s: f32) -> i16 {
    s.round().clamp(-32768.0, 32767.0) as i16
}

/// A resampler for `from` → `to` Hz taking `chunk` input frames per call.
fn fft(from: usize, to: usize, chunk: usize) -> Result<rubato::Fft<f32>, SpeechError> {
    rubato::Fft::<f32>::new(from, to, chunk, 1, rubato::FixedSync::Input)
        .map_err(|e| resample_failed(from, to, &e))
}

fn resample_failed(from: usize, to: usize, e: &dyn std::fmt::Display) -> SpeechError {
    SpeechError::Engine {
        engine: "RNNoise",
        reason: format!("cannot resample {from} Hz to {to} Hz: {e}"),
    }
}

/// `out` without what is left of `skip` (a resampler's delay), which shrinks by what was dropped.
fn after_delay<'a>(skip: &mut usize, out: &'a [f32]) -> &'a [f32] {
    let n = (*skip).min(out.len());
    *skip -= n;
    &out[n..]
}

/// Samples per RNNoise frame at 16 kHz (10 ms).
const FRAME_16K: usize = DenoiseState::FRAME_SIZE / 3;

/// RNNoise over a stream of 16 kHz mono chunks of any length.
pub struct Denoiser {
    up: rubato::Fft<f32>,
    down: rubato::Fft<f32>,
    state: Box<DenoiseState<'static>>,
    /// 16 kHz input not yet resampled.
    pending: Vec<f32>,
    /// 48 kHz audio not yet a whole RNNoise frame.
    frames: Vec<f32>,
    /// Cleaned 48 kHz audio not yet resampled back.
    cleaned: Vec<f32>,
    /// Samples of each resampler's output still to drop: its delay, which
    /// starts with its filter's transient (left in, it threw PocketSphinx off
    /// on a whole command).
    skip_up: usize,
    skip_down: usize,
    /// 16 kHz samples taken and given back: the output is as long as the input.
    taken: usize,
    given: usize,
}

impl std::fmt::Debug for Denoiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Denoiser")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Denoiser {
    /// A denoiser with no noise estimate yet (it learns within a few frames).
    pub fn new() -> Result<Denoiser, SpeechError> {
        let up = fft(SAMPLE_RATE as usize, RNNOISE_RATE, FRAME_16K)?;
        let down = fft(RNNOISE_RATE, SAMPLE_RATE as usize, DenoiseState::FRAME_SIZE)?;
        Ok(Denoiser {
            skip_up: up.output_delay(),
            skip_down: down.output_delay(),
            up,
            down,
            state: DenoiseState::new(),
            pending: Vec::new(),
            frames: Vec::new(),
            cleaned: Vec::new(),
            taken: 0,
            given: 0,
        })
    }

    /// Takes the next chunk; returns the cleaned audio that is ready (whole
    /// 10 ms frames, some milliseconds behind the input).
    pub fn push(&mut self, pcm: &[i16]) -> Result<Vec<i16>, SpeechError> {
        self.taken += pcm.len();
        self.pending.extend(pcm.iter().map(|&s| f32::from(s)));
        self.drain()
    }

    /// Runs whatever whole chunks are pending through the three stages.
    fn drain(&mut self) -> Result<Vec<i16>, SpeechError> {
        let mut out = Vec::new();
        while self.pending.len() >= self.up.input_frames_next() {
            let need = self.up.input_frames_next();
            let chunk: Vec<f32> = self.pending.drain(..need).collect();
            let up = run(&mut self.up, chunk)?;
            self.frames
                .extend_from_slice(after_delay(&mut self.skip_up, &up));
            while self.frames.len() >= DenoiseState::FRAME_SIZE {
                let mut clean = [0.0f32; DenoiseState::FRAME_SIZE];
                self.state
                    .process_frame(&mut clean, &self.frames[..DenoiseState::FRAME_SIZE]);
                self.frames.drain(..DenoiseState::FRAME_SIZE);
                self.cleaned.extend_from_slice(&clean);
            }
            while self.cleaned.len() >= self.down.input_frames_next() {
                let need = self.down.input_frames_next();
                let chunk: Vec<f32> = self.cleaned.drain(..need).collect();
                let down = run(&mut self.down, chunk)?;
                out.extend(
                    after_delay(&mut self.skip_down, &down)
                        .iter()
                        .map(|&s| to_pcm(s)),
                );
            }
        }
        // Never more than was taken (the flush in `finish` pushes silence).
        out.truncate(self.taken.saturating_sub(self.given));
        self.given += out.len();
        Ok(out)
    }

    /// Ends the stream: the audio still inside the resamplers and RNNoise is
    /// pushed out with silence; in all, the output is as long as the input.
    pub fn finish(&mut self) -> Result<Vec<i16>, SpeechError> {
        let mut out = Vec::new();
        // 10 ms of silence a round; the stages hold far less than 64 rounds.
        for _ in 0..64 {
            if self.given >= self.taken {
                break;
            }
            self.pending
                .extend(std::iter::repeat_n(0.0, self.up.input_frames_next()));
            out.extend(self.drain()?);
        }
        Ok(out)
    }
}

/// One chunk through a fixed-input resampler.
fn run(resampler: &mut rubato::Fft<f32>, chunk: Vec<f32>) -> Result<Vec<f32>, SpeechError> {
    let failed = |e: &dyn std::fmt::Display| SpeechError::Engine {
        engine: "RNNoise",
        reason: format!("cannot resample: {e}"),
    };
    let n = chunk.len();
    let input = rubato::audioadapter_buffers::owned::InterleavedOwned::new_from(chunk, 1, n)
        .map_err(|e| failed(&e))?;
    Ok(resampler
        .process(&input, None)
        .map_err(|e| failed(&e))?
        .take_data())
}

/// A stream of 16 kHz chunks, cleaned by a [`Denoiser`] when there is one
/// (else passed through); the denoiser's tail comes as one more chunk at the
/// end. An error in the stream is passed on.
///
/// It can also keep the audio as it came ([`Denoised::keep_raw`]), sample
/// for sample beside the cleaned stream (the denoiser adds no delay), for a
/// recogniser that hears noisy speech better than RNNoise's output.
pub struct Denoised<I> {
    inner: I,
    denoiser: Option<Denoiser>,
    raw: Option<Vec<i16>>,
}

impl<I> Denoised<I> {
    /// Wraps `inner`; `denoiser: None` passes it through unchanged.
    pub fn new(inner: I, denoiser: Option<Denoiser>) -> Self {
        Denoised {
            inner,
            denoiser,
            raw: None,
        }
    }

    /// Keeps the audio as it came until [`Denoised::take_raw`] takes it;
    /// without a denoiser there is nothing to keep (the stream is the audio).
    pub fn keep_raw(mut self) -> Self {
        if self.denoiser.is_some() {
            self.raw = Some(vec![]);
        }
        self
    }

    /// The next `n` samples of the audio as it came (fewer when fewer came),
    /// the same stretch as the next `n` cleaned samples; `None` when the
    /// raw audio is not kept.
    pub fn take_raw(&mut self, n: usize) -> Option<Vec<i16>> {
        let raw = self.raw.as_mut()?;
        Some(raw.drain(..n.min(raw.len())).collect())
    }
}

impl<I: Iterator<Item = Result<Vec<i16>, SpeechError>>> Iterator for Denoised<I> {
    type Item = Result<Vec<i16>, SpeechError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(d) = self.denoiser.as_mut() else {
            return self.inner.next();
        };
        match self.inner.next() {
            Some(Ok(chunk)) => {
                if let Some(raw) = &mut self.raw {
                    raw.extend_from_slice(&chunk);
                }
                Some(d.push(&chunk))
            }
            Some(Err(e)) => Some(Err(e)),
            None => {
                let tail = d.finish();
                self.denoiser = None;
                // Passing through from now on: the exhausted stream ends it.
                Some(tail)
            }
        }
    }
}

fn resample(mono: &[f32], from: usize, to: usize) -> Result<Vec<f32>, SpeechError> {
    let failed = |e: &dyn std::fmt::Display| resample_failed(from, to, e);
    let mut resampler = fft(from, to, CHUNK * from / SAMPLE_RATE as usize)?;
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

    #[test]
    fn a_stream_in_odd_chunks_is_cleaned_like_the_whole_recording() {
        let clean = tone_with_pauses();
        let mut noisy = clean.clone();
        mix_noise(&mut noisy, rms(&clean), NoiseKind::Pink, 6.0, 11);
        let whole = denoise(&noisy).unwrap();
        let chunks: Vec<Result<Vec<i16>, SpeechError>> =
            noisy.chunks(777).map(|c| Ok(c.to_vec())).collect();
        let streamed: Vec<i16> = Denoised::new(chunks.into_iter(), Some(Denoiser::new().unwrap()))
            .collect::<Result<Vec<Vec<i16>>, _>>()
            .unwrap()
            .concat();
        assert_eq!(streamed.len(), noisy.len(), "as long as the input");
        // Where the stream matches the whole best: at once, its delay dropped
        // (a resampler's start-up transient left in made PocketSphinx mishear).
        let lag = (0..400)
            .min_by_key(|&lag| {
                let d: f64 = whole[..30_000]
                    .iter()
                    .zip(&streamed[lag..])
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                d as u64
            })
            .unwrap();
        assert_eq!(
            lag, 0,
            "the stream lags the whole recording by {lag} samples"
        );
        let diff: Vec<i16> = whole
            .iter()
            .zip(&streamed[lag..])
            .map(|(&a, &b)| a.saturating_sub(b))
            .collect();
        assert!(
            rms(&diff) < rms(&whole) / 4.0,
            "lag {lag}: the stream differs from the whole recording by {} (signal {})",
            rms(&diff),
            rms(&whole)
        );
        // Without a denoiser the stream passes through unchanged.
        let plain = vec![Ok(vec![1i16, 2, 3]), Ok(vec![4])];
        let through: Vec<_> = Denoised::new(plain.into_iter(), None)
            .map(Result::unwrap)
            .collect();
        assert_eq!(through, [vec![1, 2, 3], vec![4]]);
    }

    #[test]
    fn the_raw_audio_kept_beside_the_stream_is_the_same_stretch() {
        let mut noisy = tone_with_pauses();
        mix_noise(&mut noisy, 2000.0, NoiseKind::White, 6.0, 3);
        let chunks: Vec<Result<Vec<i16>, SpeechError>> =
            noisy.chunks(1000).map(|c| Ok(c.to_vec())).collect();
        let mut stream =
            Denoised::new(chunks.into_iter(), Some(Denoiser::new().unwrap())).keep_raw();
        let (mut cleaned, mut raw) = (0, vec![]);
        while let Some(chunk) = stream.next() {
            let n = chunk.unwrap().len();
            cleaned += n;
            // As much raw audio as cleaned, taken as the understander takes it.
            raw.extend(stream.take_raw(n).unwrap());
            assert_eq!(raw.len(), cleaned);
        }
        assert_eq!(raw, noisy, "the audio as it came, in order, all of it");
        assert_eq!(stream.take_raw(10), Some(vec![]));
        // Without a denoiser the stream is the audio: nothing is kept twice.
        let plain = vec![Ok(vec![1i16, 2, 3])];
        let mut through = Denoised::new(plain.into_iter(), None).keep_raw();
        assert_eq!(through.next().unwrap().unwrap(), [1, 2, 3]);
        assert_eq!(through.take_raw(3), None);
    }
}
