//! The `livekit-wakeword` engine: every hop, the last two seconds of audio go
//! through openWakeWord's mel-spectrogram and speech-embedding networks and a
//! per-phrase classifier (all ONNX, run by tract); a score at or above the
//! threshold is a detection.
//!
//! The crate scores whole windows (it keeps no state between calls), so this
//! detector keeps a fixed window of the latest audio: memory is constant
//! however long it listens.

use std::io::Write;
use std::path::Path;

use livekit_wakeword::WakeWordModel;

use crate::error::{Result, SpeechError};
use crate::wake::{Detection, LIVEKIT_BUNDLED_PHRASE, WakeOptions, WakeWordDetector};

/// The classifier for [`LIVEKIT_BUNDLED_PHRASE`], from the livekit-wakeword crate.
const BUNDLED_CLASSIFIER: &[u8] = include_bytes!("../../assets/hey_livekit.onnx");
/// Samples scored per classifier run: two seconds (16 embeddings of 76 mel
/// frames, stride 8) plus one 80 ms hop of margin.
const WINDOW: usize = 32_000 + 1_280;
/// The classifier's name inside the model.
const CLASSIFIER: &str = "wake";

fn engine_err(reason: impl std::fmt::Display) -> SpeechError {
    SpeechError::Engine {
        engine: "livekit-wakeword",
        reason: reason.to_string(),
    }
}

/// A livekit-wakeword classifier listening for one phrase.
pub(crate) struct LiveKitDetector {
    model: WakeWordModel,
    phrase: String,
    threshold: f32,
    /// The latest [`WINDOW`] samples, zeros before the first ones.
    window: Vec<i16>,
    /// Samples between classifier runs.
    hop: usize,
    /// Samples received since the last classifier run.
    pending: usize,
    /// Samples fed since creation or reset.
    samples: u64,
    /// Real samples in the window (the rest are zeros after a reset or a
    /// detection); the classifier only runs on a full window, as digital
    /// silence at its start makes the networks fire.
    filled: usize,
}

impl LiveKitDetector {
    pub(crate) fn new(phrase: &str, threshold: f32, options: &WakeOptions) -> Result<Self> {
        if !(10..=1_000).contains(&options.livekit_hop_ms) {
            return Err(SpeechError::BadWakeOption(format!(
                "livekit hop of {} ms is outside 10..=1000 ms",
                options.livekit_hop_ms
            )));
        }
        let mut model =
            WakeWordModel::new(&[] as &[&Path], crate::audio::SAMPLE_RATE).map_err(engine_err)?;
        match &options.livekit_model {
            Some(path) => {
                if !path.is_file() {
                    return Err(SpeechError::ModelLoad {
                        engine: "livekit-wakeword",
                        path: path.clone(),
                        reason: "no such classifier file".to_owned(),
                    });
                }
                model
                    .load_model(path, Some(CLASSIFIER))
                    .map_err(|e| SpeechError::ModelLoad {
                        engine: "livekit-wakeword",
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
            }
            None if phrase == LIVEKIT_BUNDLED_PHRASE => {
                // The crate loads classifiers from files only.
                let mut file = tempfile::NamedTempFile::new()
                    .map_err(|e| SpeechError::io("<temporary classifier file>", e))?;
                file.write_all(BUNDLED_CLASSIFIER)
                    .map_err(|e| SpeechError::io(file.path(), e))?;
                model
                    .load_model(file.path(), Some(CLASSIFIER))
                    .map_err(engine_err)?;
            }
            None => {
                return Err(SpeechError::BadWakePhrase {
                    phrase: phrase.to_owned(),
                    reason: format!(
                        "the livekit engine ships a classifier only for {LIVEKIT_BUNDLED_PHRASE:?}; \
                         train one for this phrase with the livekit-wakeword toolkit and pass its \
                         .onnx file, or use the pocketsphinx engine, which spots any phrase"
                    ),
                });
            }
        }
        let hop = (crate::audio::SAMPLE_RATE / 1000 * options.livekit_hop_ms) as usize;
        Ok(LiveKitDetector {
            model,
            phrase: phrase.to_owned(),
            threshold,
            window: vec![0; WINDOW],
            hop,
            pending: 0,
            samples: 0,
            filled: 0,
        })
    }

    /// The classifier's score after every hop of `pcm`, from a fresh state and
    /// without thresholding: `(samples fed, score, seconds computing)`. Lets
    /// the benchmark sweep thresholds from one pass (see [`Self::replay`]).
    pub(crate) fn hop_scores(&mut self, pcm: &[i16]) -> Result<Vec<(u64, f32, f64)>> {
        self.reset()?;
        let mut out = Vec::with_capacity(pcm.len() / self.hop + 1);
        for chunk in pcm.chunks(self.hop) {
            self.window.copy_within(chunk.len().., 0);
            self.window[WINDOW - chunk.len()..].copy_from_slice(chunk);
            self.samples += chunk.len() as u64;
            self.filled = (self.filled + chunk.len()).min(WINDOW);
            if chunk.len() == self.hop && self.filled == WINDOW {
                let t = std::time::Instant::now();
                let score = self.score()?;
                out.push((self.samples, score, t.elapsed().as_secs_f64()));
            }
        }
        self.reset()?;
        Ok(out)
    }

    /// Detections that [`push`](WakeWordDetector::push) would make at
    /// `threshold` given [`Self::hop_scores`]: after each, the window is
    /// forgotten, approximated by ignoring the scores of the next window.
    pub(crate) fn replay(scores: &[(u64, f32, f64)], threshold: f32) -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        let mut quiet_until = 0;
        for &(at, score, dt) in scores {
            if at > quiet_until && score >= threshold {
                out.push((at, dt));
                quiet_until = at + WINDOW as u64;
            }
        }
        out
    }

    fn score(&mut self) -> Result<f32> {
        let scores = self.model.predict(&self.window).map_err(engine_err)?;
        Ok(scores.get(CLASSIFIER).copied().unwrap_or(0.0))
    }
}

impl WakeWordDetector for LiveKitDetector {
    fn push(&mut self, pcm: &[i16]) -> Result<Option<Detection>> {
        let mut found = None;
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (self.hop - self.pending).min(rest.len());
            self.window.copy_within(take.., 0);
            self.window[WINDOW - take..].copy_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.pending += take;
            self.samples += take as u64;
            self.filled = (self.filled + take).min(WINDOW);
            if self.pending < self.hop {
                continue;
            }
            self.pending = 0;
            // One detection per call; the rest of the chunk only fills the window.
            if found.is_some() || self.filled < WINDOW {
                continue;
            }
            let score = self.score()?;
            if score >= self.threshold {
                found = Some(Detection {
                    phrase: self.phrase.clone(),
                    score,
                    end_sample: self.samples,
                });
                // Forget the phrase so the next hops do not report it again.
                self.window.fill(0);
                self.filled = 0;
            }
        }
        Ok(found)
    }

    fn reset(&mut self) -> Result<()> {
        self.window.fill(0);
        self.filled = 0;
        self.pending = 0;
        self.samples = 0;
        Ok(())
    }

    fn phrase(&self) -> &str {
        &self.phrase
    }
}
