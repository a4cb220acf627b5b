//! Wake-word detection: one streaming [`WakeWordDetector`] trait, two engines.
//!
//! - [`WakeEngine::LiveKit`] (feature `livekit`): the `livekit-wakeword` crate,
//!   openWakeWord's mel-spectrogram and speech-embedding networks plus a small
//!   classifier per phrase, run by tract (pure Rust). It needs a classifier
//!   trained for the phrase; the crate ships one, for "hey livekit", which
//!   this crate bundles ([`LIVEKIT_BUNDLED_PHRASE`]). Other phrases need a
//!   classifier file ([`WakeOptions::livekit_model`]).
//! - [`WakeEngine::PocketSphinx`] (feature `pocketsphinx`): keyphrase spotting
//!   with the PocketSphinx acoustic model for any phrase whose words are in
//!   its dictionary, such as "hey emma" or "computer".
//!
//! Defaults ([`WakeEngine::default_threshold`]) come from `emma bench wake`
//! (see [`bench`]): real recordings of "computer", synthesised "hey emma",
//! and hours of speech without the phrase.
//!
//! Detectors are fed 16 kHz mono chunks of any length (empty ones included);
//! memory stays bounded however long they listen.

pub mod bench;
#[cfg(feature = "livekit")]
mod livekit;
#[cfg(feature = "pocketsphinx")]
mod sphinx;

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SpeechError};

/// The phrase of the classifier bundled with the LiveKit engine.
pub const LIVEKIT_BUNDLED_PHRASE: &str = "hey livekit";

/// The longest phrase accepted, in words.
pub const MAX_PHRASE_WORDS: usize = 8;

/// A streaming wake-word detector over 16 kHz mono i16 PCM.
pub trait WakeWordDetector: Send {
    /// Feeds 16 kHz mono samples; returns a detection when the phrase ended in this chunk.
    ///
    /// Chunks may have any length, including 0. At most one detection is
    /// returned per call; after a detection the detector forgets the audio
    /// before it, so one utterance of the phrase is reported once.
    fn push(&mut self, pcm: &[i16]) -> Result<Option<Detection>>;
    /// Forgets buffered audio (after a detection or when listening resumes).
    fn reset(&mut self) -> Result<()>;
    /// The phrase listened for, normalised (lowercase, single spaces).
    fn phrase(&self) -> &str;
}

/// One detected wake phrase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The phrase detected.
    pub phrase: String,
    /// The engine's confidence, higher is more confident. LiveKit: the
    /// classifier's probability in `[0, 1]`, on the threshold's scale.
    /// PocketSphinx: log10 of the detection's segment probability as the
    /// decoder reports it (`<= 0`); libpocketsphinx does not expose the
    /// likelihood ratio it compared with the threshold.
    pub score: f32,
    /// Where the phrase ended, in samples since the detector was created or
    /// last [`reset`](WakeWordDetector::reset): the end of the chunk
    /// (PocketSphinx) or of the hop (LiveKit) in which it was detected.
    pub end_sample: u64,
}

/// The wake-word engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WakeEngine {
    /// `livekit-wakeword`: openWakeWord-style neural classifier.
    #[serde(rename = "livekit")]
    LiveKit,
    /// PocketSphinx keyphrase spotting.
    #[serde(rename = "pocketsphinx")]
    PocketSphinx,
}

impl WakeEngine {
    /// The engine's CLI name.
    pub fn name(self) -> &'static str {
        match self {
            WakeEngine::LiveKit => "livekit",
            WakeEngine::PocketSphinx => "pocketsphinx",
        }
    }

    /// Whether this build includes the engine.
    pub fn is_enabled(self) -> bool {
        match self {
            WakeEngine::LiveKit => cfg!(feature = "livekit"),
            WakeEngine::PocketSphinx => cfg!(feature = "pocketsphinx"),
        }
    }

    /// The detection threshold used when [`WakeOptions::threshold`] is `None`,
    /// chosen from `emma bench wake`. PocketSphinx at 1e-20 (30 "computer"
    /// recordings per condition, 60 of "jarvis"/"alexa", 3 min of HA speech):
    /// recall 70% clean, 73% pink 10 dB, 27% babble 10 dB, 16 false wakes/hour;
    /// 1e-30 gains 7 points of clean recall for 68 false wakes/hour, 1e-40 208/hour.
    /// Synthesised "hey emma" needs 1e-40 (83% clean); pass it explicitly.
    ///
    /// LiveKit: classifier probability. PocketSphinx: log10 of the
    /// keyphrase-spotting threshold (`-20` is PocketSphinx's `1e-20`).
    pub fn default_threshold(self) -> f32 {
        match self {
            WakeEngine::LiveKit => 0.5,
            WakeEngine::PocketSphinx => -20.0,
        }
    }

    /// The range a threshold must lie in.
    fn threshold_range(self) -> std::ops::RangeInclusive<f32> {
        match self {
            WakeEngine::LiveKit => 0.0..=1.0,
            WakeEngine::PocketSphinx => -80.0..=0.0,
        }
    }
}

impl std::fmt::Display for WakeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WakeEngine {
    type Err = SpeechError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "livekit" => Ok(WakeEngine::LiveKit),
            "pocketsphinx" | "sphinx" => Ok(WakeEngine::PocketSphinx),
            _ => Err(SpeechError::UnknownWakeEngine(s.to_owned())),
        }
    }
}

/// How to open a detector. `Default` gives each engine its measured defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct WakeOptions {
    /// Detection threshold on the engine's scale (see
    /// [`WakeEngine::default_threshold`]); `None` uses that default.
    pub threshold: Option<f32>,
    /// PocketSphinx: the model directory (acoustic model and dictionary, see
    /// [`crate::pocketsphinx_model_files`]); `None` uses
    /// [`POCKETSPHINX_EN_US`](crate::POCKETSPHINX_EN_US).
    pub pocketsphinx_model: Option<PathBuf>,
    /// LiveKit: a classifier `.onnx` trained for the phrase with the
    /// livekit-wakeword toolkit; `None` uses the bundled one, which only
    /// knows [`LIVEKIT_BUNDLED_PHRASE`].
    pub livekit_model: Option<PathBuf>,
    /// LiveKit: milliseconds of audio between two classifier runs. Each run
    /// scores the last two seconds from scratch (the crate keeps no state:
    /// a mel spectrogram and 17 embedding-network runs, ~0.1 s of CPU on the
    /// 2-core CI machine under load), so the default of 320 ms keeps it well
    /// under real time; smaller detects sooner and costs more CPU.
    pub livekit_hop_ms: u32,
}

impl Default for WakeOptions {
    fn default() -> Self {
        WakeOptions {
            threshold: None,
            pocketsphinx_model: None,
            livekit_model: None,
            livekit_hop_ms: 320,
        }
    }
}

/// Opens a detector for `phrase` with `engine`.
///
/// Errors name the problem: an empty, overlong or non-alphabetic phrase, a
/// word the PocketSphinx dictionary lacks, a LiveKit phrase without a
/// classifier, a threshold outside the engine's range, an engine this build
/// lacks.
pub fn open_wake(
    engine: WakeEngine,
    phrase: &str,
    options: &WakeOptions,
) -> Result<Box<dyn WakeWordDetector>> {
    let phrase = normalize_phrase(phrase)?;
    let threshold = options
        .threshold
        .unwrap_or_else(|| engine.default_threshold());
    let range = engine.threshold_range();
    if !threshold.is_finite() || !range.contains(&threshold) {
        return Err(SpeechError::BadWakeOption(format!(
            "threshold {threshold} is outside {}..={} for the {engine} wake engine",
            range.start(),
            range.end()
        )));
    }
    match engine {
        WakeEngine::LiveKit => open_livekit(&phrase, threshold, options),
        WakeEngine::PocketSphinx => open_sphinx(&phrase, threshold, options),
    }
}

#[cfg(feature = "livekit")]
fn open_livekit(
    phrase: &str,
    threshold: f32,
    options: &WakeOptions,
) -> Result<Box<dyn WakeWordDetector>> {
    Ok(Box::new(livekit::LiveKitDetector::new(
        phrase, threshold, options,
    )?))
}

/// The LiveKit detector itself (for the benchmark's one-pass threshold sweep).
#[cfg(feature = "livekit")]
pub(crate) fn open_livekit_scorer(
    phrase: &str,
    options: &WakeOptions,
) -> Result<livekit::LiveKitDetector> {
    livekit::LiveKitDetector::new(&normalize_phrase(phrase)?, 1.0, options)
}

#[cfg(not(feature = "livekit"))]
fn open_livekit(
    _phrase: &str,
    _threshold: f32,
    _options: &WakeOptions,
) -> Result<Box<dyn WakeWordDetector>> {
    Err(SpeechError::EngineDisabled("livekit"))
}

#[cfg(feature = "pocketsphinx")]
fn open_sphinx(
    phrase: &str,
    threshold: f32,
    options: &WakeOptions,
) -> Result<Box<dyn WakeWordDetector>> {
    let dir = options
        .pocketsphinx_model
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::POCKETSPHINX_EN_US));
    Ok(Box::new(sphinx::SphinxDetector::new(
        phrase, threshold, &dir,
    )?))
}

#[cfg(not(feature = "pocketsphinx"))]
fn open_sphinx(
    _phrase: &str,
    _threshold: f32,
    _options: &WakeOptions,
) -> Result<Box<dyn WakeWordDetector>> {
    Err(SpeechError::EngineDisabled("pocketsphinx"))
}

/// Lowercases `phrase` and joins its words with single spaces; rejects empty
/// and overlong phrases and anything but letters, `'` and `-` in words.
pub fn normalize_phrase(phrase: &str) -> Result<String> {
    let bad = |reason: String| SpeechError::BadWakePhrase {
        phrase: phrase.chars().take(80).collect(),
        reason,
    };
    let words: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(bad("it has no words".to_owned()));
    }
    if words.len() > MAX_PHRASE_WORDS {
        return Err(bad(format!(
            "it has {} words; wake phrases have at most {MAX_PHRASE_WORDS}",
            words.len()
        )));
    }
    if let Some(w) = words.iter().find(|w| {
        !w.chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
    }) {
        return Err(bad(format!(
            "word {w:?} has characters other than letters, `'` and `-`"
        )));
    }
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_normalised_and_checked() {
        assert_eq!(normalize_phrase("  Hey\tEmma ").unwrap(), "hey emma");
        for bad in [
            "",
            "   ",
            "hey emma!",
            "one two three four five six seven eight nine",
            "1 2",
        ] {
            let err = normalize_phrase(bad).unwrap_err().to_string();
            assert!(err.contains("wake phrase"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn engines_parse_and_thresholds_are_range_checked() {
        assert_eq!(
            "LiveKit".parse::<WakeEngine>().unwrap(),
            WakeEngine::LiveKit
        );
        assert_eq!(
            "sphinx".parse::<WakeEngine>().unwrap(),
            WakeEngine::PocketSphinx
        );
        assert!("porcupine".parse::<WakeEngine>().is_err());
        for (engine, t) in [
            (WakeEngine::LiveKit, 1.5),
            (WakeEngine::LiveKit, f32::NAN),
            (WakeEngine::PocketSphinx, 3.0),
        ] {
            let options = WakeOptions {
                threshold: Some(t),
                ..WakeOptions::default()
            };
            let err = open_wake(engine, "hey emma", &options).err().unwrap();
            assert!(err.to_string().contains("threshold"), "{err}");
        }
    }
}
