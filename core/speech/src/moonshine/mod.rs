//! Moonshine (Useful Sensors' open-vocabulary English recogniser), through
//! moonshine-cpp's `libmoonshine.so` and ONNX Runtime (see [`ffi`]).
//!
//! Moonshine is not streaming: [`MoonshineRecognizer`] collects an
//! utterance's audio and transcribes it whole at
//! [`finish`](SpeechRecognizer::finish). It decodes freely (no grammar) and
//! writes text as a person would (capitals, punctuation, digits).
//!
//! Input length: below [`MIN_SAMPLES`] the model's convolution stack has no
//! output (ONNX Runtime throws and, through the C API, aborts the process),
//! so shorter audio gives an empty result. The model accepts up to 64 s, but
//! this build's memory grows with the square of the length (measured:
//! 1.1 GB RSS at 10 s, 1.9 GB at 16 s, 5.3 GB at 30 s; 66 s was killed by the
//! kernel on a 23 GB machine), so utterances longer than [`MAX_SAMPLES`]
//! are refused with an error.
//!
//! Silence at the ends: given a command followed by 0.8 s or more of digital
//! (or dithered) silence, Moonshine base returns an empty transcript where
//! the same audio with 0.5 s gives the words (measured on espeak-ng speech;
//! a quiet noise floor instead of silence does not do it). Near-silent ends
//! are therefore cut to [`KEEP_QUIET`] before transcription ([`trim_quiet_ends`]).

mod ffi;
mod reclaim;
mod trim;

pub use trim::{KEEP_QUIET, trim_quiet_ends};

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use emma_grammar::Grammar;

use crate::audio::SAMPLE_RATE;
use crate::error::{Result, SpeechError};
use crate::recognizer::{Engine, Event, FinalResult, GrammarReport, SpeechRecognizer};

/// Shortest audio Moonshine transcribes: 0.1 s (Moonshine's documented
/// minimum; its convolutions need about 0.056 s).
pub const MIN_SAMPLES: usize = SAMPLE_RATE as usize / 10;
/// Longest utterance transcribed: 16 s (see the module docs for why not 64 s).
pub const MAX_SAMPLES: usize = 16 * SAMPLE_RATE as usize;

/// The files of a Moonshine model directory as `scripts/setup` lays it out.
const FILES: [&str; 3] = [
    "encoder_model.ort",
    "decoder_model_merged.ort",
    "tokenizer.bin",
];

/// The registry name of the English model `scripts/setup` installs.
pub const ENGLISH_MODEL: &str = "moonshine-base-en";

/// Whether `dir` holds a Moonshine model (weights, tokenizer and `lib/libmoonshine.so`).
pub fn is_moonshine_model(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file()) && dir.join("lib/libmoonshine.so").is_file()
}

/// A loaded Moonshine model. Transcriptions on one model run one at a time.
pub struct MoonshineModel {
    model: Mutex<ffi::Model>,
    path: PathBuf,
}

impl std::fmt::Debug for MoonshineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoonshineModel")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl MoonshineModel {
    /// Loads the model in `dir` (the base model; libraries from `dir/lib`).
    pub fn load(dir: &Path) -> Result<Self> {
        let missing: Vec<&str> = FILES
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(SpeechError::ModelLoad {
                engine: "moonshine",
                path: dir.to_owned(),
                reason: format!("missing {}; run scripts/setup", missing.join(", ")),
            });
        }
        let lib = ffi::Library::open(&dir.join("lib"))?;
        let c = |f: &str| {
            CString::new(dir.join(f).as_os_str().as_encoded_bytes()).map_err(|_| {
                SpeechError::ModelLoad {
                    engine: "moonshine",
                    path: dir.to_owned(),
                    reason: "path contains a NUL byte".to_owned(),
                }
            })
        };
        let (enc, dec, tok) = (c(FILES[0])?, c(FILES[1])?, c(FILES[2])?);
        let model = lib
            .load_model(&enc, &dec, &tok, ffi::MODEL_TYPE_BASE)
            .ok_or_else(|| SpeechError::ModelLoad {
                engine: "moonshine",
                path: dir.to_owned(),
                reason: "libmoonshine rejected the model files (corrupt or incompatible)"
                    .to_owned(),
            })?;
        Ok(MoonshineModel {
            model: Mutex::new(model),
            path: dir.to_owned(),
        })
    }

    /// The model directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many tensors libmoonshine leaked in the last transcription and
    /// Emma gave back (see the `reclaim` module): more than 0 after any
    /// transcription where the remedy applies.
    pub fn last_reclaimed(&self) -> usize {
        self.model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reclaimed()
    }

    /// Transcribes one utterance of 16 kHz mono audio. Empty or shorter
    /// than [`MIN_SAMPLES`]: an empty transcript. Longer than
    /// [`MAX_SAMPLES`]: [`SpeechError::Engine`].
    pub fn transcribe(&self, pcm: &[i16]) -> Result<String> {
        let pcm = trim_quiet_ends(pcm);
        if pcm.len() < MIN_SAMPLES {
            return Ok(String::new());
        }
        if pcm.len() > MAX_SAMPLES {
            return Err(SpeechError::Engine {
                engine: "moonshine",
                reason: format!(
                    "an utterance of {:.1} s is longer than the {} s moonshine transcribes at once; split the audio",
                    pcm.len() as f64 / f64::from(SAMPLE_RATE),
                    MAX_SAMPLES / SAMPLE_RATE as usize
                ),
            });
        }
        let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let text = model
            .transcribe(&audio, MIN_SAMPLES, MAX_SAMPLES)
            .map_err(|rc| SpeechError::Engine {
                engine: "moonshine",
                reason: match rc {
                    Some(rc) => format!("transcription failed (error {rc})"),
                    None => "audio length out of range".to_owned(),
                },
            })?;
        Ok(text.trim().to_owned())
    }
}

/// A [`SpeechRecognizer`] over Moonshine: buffers an utterance, transcribes it at `finish`.
pub struct MoonshineRecognizer {
    model: Arc<MoonshineModel>,
    utterance: Vec<i16>,
}

impl MoonshineRecognizer {
    /// A recogniser over `model`.
    pub fn new(model: Arc<MoonshineModel>) -> Self {
        MoonshineRecognizer {
            model,
            utterance: Vec::new(),
        }
    }
}

impl SpeechRecognizer for MoonshineRecognizer {
    fn engine(&self) -> Engine {
        Engine::Moonshine
    }

    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>> {
        // Keep at most one sample past the limit: `finish` reports the error.
        let room = (MAX_SAMPLES + 1).saturating_sub(self.utterance.len());
        self.utterance
            .extend_from_slice(&pcm[..pcm.len().min(room)]);
        Ok(None)
    }

    fn finish(&mut self) -> Result<FinalResult> {
        let pcm = std::mem::take(&mut self.utterance);
        let text = self.model.transcribe(&pcm)?;
        Ok(FinalResult {
            text,
            ..FinalResult::default()
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.utterance.clear();
        Ok(())
    }

    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport> {
        match grammar {
            None => Ok(GrammarReport::default()),
            Some(_) => Err(SpeechError::Engine {
                engine: "moonshine",
                reason: "moonshine decodes freely and cannot be restricted to a grammar; use free decoding".to_owned(),
            }),
        }
    }
}
