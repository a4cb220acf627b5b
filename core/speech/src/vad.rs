//! Frame classifiers for endpointing: how likely one short frame of 16 kHz
//! mono audio is voice.
//!
//! [`VadEngine::Earshot`] is the default (a small pure-Rust neural network,
//! the `earshot` crate, 16 ms frames). [`VadEngine::Energy`] is the adaptive
//! energy threshold Emma used before, kept as the baseline the endpointing
//! bench measures against. With the `vad-candidates` feature the other
//! detectors measured for the choice are there too (`docs/speech.md` has the
//! comparison): RNNoise's voice probability (the `nnnoiseless` port). WebRTC's
//! VAD (libfvad, bundled C; its handle is not `Send`) is measured by the bench
//! on its own ([`crate::endpoint_bench`]).

use crate::audio::SAMPLE_RATE;

/// Which detector classifies frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VadEngine {
    /// Energy above an adaptive noise floor (10 ms frames); the old endpointer.
    Energy,
    /// The `earshot` neural VAD (16 ms frames, pure Rust, weights in the crate).
    Earshot,
    /// RNNoise's voice probability (`nnnoiseless`, 10 ms frames, audio upsampled to 48 kHz).
    #[cfg(feature = "vad-candidates")]
    Rnnoise,
}

impl VadEngine {
    /// The detectors compiled in, default first.
    pub fn all() -> Vec<VadEngine> {
        #[allow(unused_mut)]
        let mut v = vec![VadEngine::Earshot, VadEngine::Energy];
        #[cfg(feature = "vad-candidates")]
        v.push(VadEngine::Rnnoise);
        v
    }

    /// A short name (`earshot`, `energy`, `rnnoise`).
    pub fn name(self) -> &'static str {
        match self {
            VadEngine::Energy => "energy",
            VadEngine::Earshot => "earshot",
            #[cfg(feature = "vad-candidates")]
            VadEngine::Rnnoise => "rnnoise",
        }
    }
}

/// Settings of the energy detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergySettings {
    /// Speech must be this many dB above the noise floor.
    pub margin_db: f32,
    /// Absolute minimum speech level, dBFS.
    pub min_db: f32,
}

/// A streaming frame classifier: feed it frames of [`FrameVad::frame_len`]
/// samples, get the probability that each is voice.
pub struct FrameVad {
    inner: Inner,
}

enum Inner {
    Energy {
        settings: EnergySettings,
        noise_db: f32,
    },
    Earshot(Box<earshot::Detector>),
    #[cfg(feature = "vad-candidates")]
    Rnnoise {
        state: Box<nnnoiseless::DenoiseState<'static>>,
        input: Vec<f32>,
        output: Vec<f32>,
        last: i16,
    },
}

impl std::fmt::Debug for FrameVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameVad")
            .field("engine", &self.engine().name())
            .finish()
    }
}

impl FrameVad {
    /// A new detector; `energy` configures [`VadEngine::Energy`].
    pub fn new(engine: VadEngine, energy: EnergySettings) -> Self {
        let inner = match engine {
            VadEngine::Energy => Inner::Energy {
                settings: energy,
                noise_db: -70.0,
            },
            VadEngine::Earshot => Inner::Earshot(earshot::Detector::default_boxed()),
            #[cfg(feature = "vad-candidates")]
            VadEngine::Rnnoise => Inner::Rnnoise {
                state: nnnoiseless::DenoiseState::new(),
                input: vec![0.0; nnnoiseless::DenoiseState::FRAME_SIZE],
                output: vec![0.0; nnnoiseless::DenoiseState::FRAME_SIZE],
                last: 0,
            },
        };
        FrameVad { inner }
    }

    /// The detector.
    pub fn engine(&self) -> VadEngine {
        match self.inner {
            Inner::Energy { .. } => VadEngine::Energy,
            Inner::Earshot(_) => VadEngine::Earshot,
            #[cfg(feature = "vad-candidates")]
            Inner::Rnnoise { .. } => VadEngine::Rnnoise,
        }
    }

    /// Samples per frame (16 kHz).
    pub fn frame_len(&self) -> usize {
        match self.inner {
            Inner::Earshot(_) => 256,
            _ => (SAMPLE_RATE / 100) as usize,
        }
    }

    /// The probability that `frame` (exactly [`frame_len`](Self::frame_len)
    /// samples) is voice, 0–1. The energy detector answers 0 or 1.
    /// A frame of the wrong length counts as not voice.
    pub fn score(&mut self, frame: &[i16]) -> f32 {
        if frame.len() != self.frame_len() {
            return 0.0;
        }
        match &mut self.inner {
            Inner::Energy { settings, noise_db } => {
                let energy = frame
                    .iter()
                    .map(|&s| f64::from(s) * f64::from(s))
                    .sum::<f64>()
                    / frame.len() as f64;
                let db = (10.0 * (energy / (32768.0f64 * 32768.0)).max(1e-10).log10()) as f32;
                let speech = db > settings.min_db && db > *noise_db + settings.margin_db;
                if !speech {
                    // Follow the noise floor quickly down, slowly up.
                    let rate = if db < *noise_db { 0.3 } else { 0.02 };
                    *noise_db += (db - *noise_db) * rate;
                }
                if speech { 1.0 } else { 0.0 }
            }
            Inner::Earshot(d) => d.predict_i16(frame),
            #[cfg(feature = "vad-candidates")]
            Inner::Rnnoise {
                state,
                input,
                output,
                last,
            } => {
                // 16 → 48 kHz by linear interpolation; RNNoise wants i16-range floats.
                for (i, &s) in frame.iter().enumerate() {
                    let (a, b) = (f32::from(*last), f32::from(s));
                    input[3 * i] = a + (b - a) / 3.0;
                    input[3 * i + 1] = a + 2.0 * (b - a) / 3.0;
                    input[3 * i + 2] = b;
                    *last = s;
                }
                state.process_frame(output, input)
            }
        }
    }
}
