//! Offline speech recognition for Emma: audio input, Vosk and PocketSphinx
//! backends, endpointing, model management.
//!
//! Emma listens on the customer's own hardware; nothing leaves the house. This
//! crate turns audio into text with two engines behind one streaming
//! [`SpeechRecognizer`] API, restricted to a structured
//! [`Grammar`](emma_grammar::Grammar) when the intent engine provides one.
//!
//! # Layout
//! - [`audio`]: WAV/FLAC files of any common format and raw PCM → 16 kHz mono i16.
//! - [`mic`] (feature `mic`): live capture through cpal. Cannot be tested on
//!   machines without a microphone (CI); that is the one untested path.
//! - [`recognizer`]: the [`SpeechRecognizer`] trait, results, [`Engine`] and [`open`].
//! - `vosk_backend` (feature `vosk`) and `pocketsphinx` (feature
//!   `pocketsphinx`): the two streaming engines; `moonshine` (feature
//!   `moonshine`): open-vocabulary English, one whole utterance at a time. Without the feature, [`open`] returns
//!   [`SpeechError::EngineDisabled`] ("emma was built without vosk").
//! - [`vad`]: frame classifiers (the `earshot` neural VAD by default, the old
//!   energy threshold as the baseline).
//! - [`endpoint`]: end-of-utterance detection: VAD with hysteresis, minimum
//!   utterance length and pre-roll.
//! - [`endpoint_bench`]: a noisy endpointing corpus synthesised in the run and
//!   the measurements behind `emma bench endpoint`.
//! - [`stream`]: [`Listener`] drives a recogniser with the endpointer, one final per utterance.
//! - [`model`]: the model registry under `<emma home>/models`, with each model's language.
//! - [`select`]: which engine and model to open for a language ([`ModelRegistry::choose`]).
//! - [`synth`]: synthetic speech with espeak-ng (demo, benchmarks, tests).
//! - [`bench`]: the measurements behind `emma bench asr`.
//! - [`wake`]: wake-word detection ([`WakeWordDetector`], [`open_wake`]) with
//!   livekit-wakeword (feature `livekit`) and PocketSphinx keyphrase spotting,
//!   and the measurements behind `emma bench wake`.
//!
//! Nothing here reads environment variables; callers pass paths in.

pub mod audio;
pub mod bench;
pub mod denoise;
pub mod endpoint;
pub mod endpoint_bench;
mod error;
#[cfg(feature = "mic")]
pub mod mic;
pub mod model;
#[cfg(feature = "moonshine")]
pub mod moonshine;
#[cfg(feature = "pocketsphinx")]
pub mod pocketsphinx;
pub mod recognizer;
pub mod select;
pub mod stream;
pub mod synth;
pub mod vad;
#[cfg(feature = "vosk")]
pub mod vosk_backend;
pub mod wake;
pub mod words;

pub use audio::{Audio, SAMPLE_RATE};
pub use emma_grammar::Grammar;
pub use endpoint::{Boundary, DEFAULT_SILENCE_END_MS, EndpointConfig, Endpointer};
pub use error::{Result, SpeechError};
pub use model::{MOONSHINE_ENGLISH, ModelEntry, ModelRegistry, check_vosk_model};
pub use recognizer::{
    Alternative, Engine, Event, FinalResult, GrammarReport, POCKETSPHINX_EN_US, PocketSphinxModel,
    SpeechRecognizer, Verification, WordTiming, open, pocketsphinx_model_files,
};
pub use select::{ModelChoice, ModelRequest};
pub use stream::{ListenEvent, Listener, Utterance, transcribe};
pub use vad::{FrameVad, VadEngine};
pub use wake::{Detection, WakeEngine, WakeOptions, WakeWordDetector, open_wake};
