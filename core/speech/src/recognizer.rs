//! The engine-independent streaming recogniser API.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use emma_grammar::Grammar;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SpeechError};

/// One recognised word with its timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordTiming {
    /// The word as the engine's dictionary spells it.
    pub word: String,
    /// Start, in seconds from the start of the stream.
    pub start: f64,
    /// End, in seconds from the start of the stream.
    pub end: f64,
    /// Confidence in `[0, 1]`.
    pub conf: f64,
}

/// One n-best alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// The transcript.
    pub text: String,
    /// The engine's score for it (engine-specific scale; higher is better).
    pub score: f64,
}

/// The final result of one utterance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FinalResult {
    /// The best transcript, words separated by single spaces.
    pub text: String,
    /// The words of `text` with timings and confidences.
    pub words: Vec<WordTiming>,
    /// N-best alternatives, best first, where the engine provides them
    /// (PocketSphinx does; Vosk in word-confidence mode does not).
    pub alternatives: Vec<Alternative>,
    /// How well `text` explains the audio compared with an unconstrained
    /// alternative, when decoding was restricted to a grammar and the engine
    /// can tell (PocketSphinx: phone-loop and word-loop passes over the same audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl FinalResult {
    /// Moves every word's timing by `samples` at 16 kHz: from the clock of
    /// the audio the recogniser was fed to the stream's, when the stream
    /// sample `samples` was the recogniser's first.
    pub fn shift_words(&mut self, samples: u64) {
        let by = samples as f64 / f64::from(crate::audio::SAMPLE_RATE);
        for w in &mut self.words {
            w.start += by;
            w.end += by;
        }
    }
}

/// Acoustic evidence that a grammar-restricted transcript is what was said:
/// the grammar path's acoustic log-likelihood against that of an
/// unconstrained phone loop over the same audio (the classic
/// utterance-verification ratio). Speech the grammar cannot express scores
/// far below the phone loop per frame; a command the grammar holds scores
/// close to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Acoustic log-likelihood (natural log) of the grammar path, silences included.
    pub path_score: f64,
    /// Frames (10 ms) the grammar path covers.
    pub path_frames: u32,
    /// Acoustic log-likelihood (natural log) of the best phone-loop path.
    pub loop_score: f64,
    /// Frames the phone-loop path covers.
    pub loop_frames: u32,
    /// Acoustic log-likelihood of the grammar path's words only (silences
    /// and fillers left out).
    #[serde(default)]
    pub speech_path_score: f64,
    /// The phone loop's log-likelihood over the same frames as
    /// `speech_path_score` (phones shared with a word count in proportion).
    #[serde(default)]
    pub speech_loop_score: f64,
    /// Frames of the grammar path's words.
    #[serde(default)]
    pub speech_frames: u32,
    /// The lowest per-frame ratio of one word against the phone loop over its
    /// frames: one word forced onto other speech drags it down even when the
    /// rest fits. `None` without words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_word_ratio: Option<f64>,
    /// Acoustic log-likelihood of the best path through a loop of words
    /// (frequent English words and the grammar's own) over the same audio:
    /// a word-level unconstrained alternative. `None` when not computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_loop_score: Option<f64>,
    /// Frames the word-loop path covers.
    #[serde(default)]
    pub word_loop_frames: u32,
    /// The word loop's log-likelihood over the frames of the grammar's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_word_loop_score: Option<f64>,
    /// Natural log of the transcript's posterior among the grammar's paths
    /// (the decoder's lattice); 0 when the grammar left no alternative.
    pub posterior: f64,
    /// The grammar path reached the end of a sentence. `false`: the search
    /// ended without a full path and the best partial one was scored.
    pub complete: bool,
    /// Words (fillers and silences left out) on the scored path. An
    /// incomplete path without words means nothing of the grammar fits.
    pub words: u32,
}

impl Verification {
    /// The per-frame log-likelihood ratio of the grammar path against the
    /// phone loop (≤ 0 in practice; nearer 0 is a better fit).
    pub fn ratio_per_frame(&self) -> f64 {
        self.path_score / f64::from(self.path_frames.max(1))
            - self.loop_score / f64::from(self.loop_frames.max(1))
    }

    /// The per-frame ratio of the grammar path against the word loop
    /// (≤ 0 in practice: the loop holds every grammar sentence); `None`
    /// without a word-loop pass.
    pub fn word_loop_ratio(&self) -> Option<f64> {
        self.word_loop_score.map(|w| {
            self.path_score / f64::from(self.path_frames.max(1))
                - w / f64::from(self.word_loop_frames.max(1))
        })
    }

    /// The grammar words' ratio against the word loop over the same frames;
    /// `None` without words or a word-loop pass.
    pub fn speech_word_loop_ratio(&self) -> Option<f64> {
        let w = self.speech_word_loop_score?;
        (self.speech_frames > 0)
            .then(|| (self.speech_path_score - w) / f64::from(self.speech_frames))
    }

    /// The same ratio over the frames of the grammar's words only, so
    /// silence and noise around and between them do not dilute it; `None`
    /// without words.
    pub fn speech_ratio(&self) -> Option<f64> {
        (self.speech_frames > 0).then(|| {
            (self.speech_path_score - self.speech_loop_score) / f64::from(self.speech_frames)
        })
    }
}

/// What feeding audio produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The hypothesis so far changed while speech goes on.
    Partial(String),
    /// The engine itself decided the utterance ended (Vosk's own endpointer).
    Final(FinalResult),
}

/// What [`SpeechRecognizer::set_grammar`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrammarReport {
    /// Grammar words the model's vocabulary does not contain; the engine
    /// ignores them (they can never be recognised). Empty when all are known.
    pub unknown_words: Vec<String>,
}

/// A streaming speech recogniser over 16 kHz mono i16 PCM.
///
/// Feed chunks with [`accept`](Self::accept) while audio arrives, and call
/// [`finish`](Self::finish) at the end of an utterance (an
/// [`Endpointer`](crate::Endpointer) decides when); the recogniser is then
/// ready for the next utterance of the same stream.
pub trait SpeechRecognizer: Send {
    /// Which engine this is.
    fn engine(&self) -> Engine;

    /// Feeds a chunk of audio; returns a partial hypothesis when it changed,
    /// or a final result if the engine ended the utterance on its own.
    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>>;

    /// Ends the current utterance and returns its result.
    fn finish(&mut self) -> Result<FinalResult>;

    /// Starts a new stream: drops the current utterance, word times restart at 0.
    /// The model and grammar stay.
    fn reset(&mut self) -> Result<()>;

    /// Turns acoustic verification of grammar results (see
    /// `FinalResult::verification`) on or off; engines without it ignore this.
    /// Off by default: the extra passes cost time (PocketSphinx: a phone-loop
    /// and a word-loop pass, which leave the live cepstral mean as the
    /// grammar pass left it, so decoding is the same with and without).
    fn set_verification(&mut self, _on: bool) {}

    /// What another recogniser heard in the current utterance (a grammar's
    /// words), until [`finish`](Self::finish) or [`reset`](Self::reset). A
    /// recogniser may use it to transcribe sooner, never to hear otherwise:
    /// Moonshine checks it as a draft ([`crate::moonshine::decode`]); the
    /// others ignore it.
    fn hint(&mut self, _heard: &str) {}

    /// How much likelier each of `sentences` (a grammar's lower-case words)
    /// is than the first as what was said in `pcm`: log probability ratios,
    /// 0 for the first; sentence `i` may be left unread (`None` in its
    /// place) when it cannot be more than `floors[i]` likelier. `None` from
    /// recognisers that cannot score a given sentence (only Moonshine can:
    /// [`crate::moonshine::MoonshineModel::compare`]).
    fn compare(
        &mut self,
        _pcm: &[i16],
        _sentences: &[&str],
        _floors: &[f64],
    ) -> Option<Result<Vec<Option<f64>>>> {
        None
    }

    /// Restricts decoding to `grammar` (`None`: free decoding) from the next
    /// utterance on, without reloading the model. Ends the current utterance,
    /// discarding its audio.
    ///
    /// Words the model does not know: Vosk ignores them and they are listed
    /// in the returned report; PocketSphinx cannot compile such a grammar and
    /// returns [`SpeechError::UnknownWords`].
    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport>;
}

/// The available speech engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Vosk (Kaldi), any Vosk model directory.
    Vosk,
    /// CMU PocketSphinx 5prealpha, Debian's en-us model by default.
    #[serde(rename = "pocketsphinx")]
    PocketSphinx,
    /// Moonshine (base, English), open vocabulary and not streaming: it
    /// transcribes a whole utterance at `finish` and cannot take a grammar.
    Moonshine,
}

impl Engine {
    /// The engine's CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Vosk => "vosk",
            Engine::PocketSphinx => "pocketsphinx",
            Engine::Moonshine => "moonshine",
        }
    }

    /// Whether this build includes the engine.
    pub fn is_enabled(self) -> bool {
        match self {
            Engine::Vosk => cfg!(feature = "vosk"),
            Engine::PocketSphinx => cfg!(feature = "pocketsphinx"),
            Engine::Moonshine => cfg!(feature = "moonshine"),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = SpeechError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "vosk" => Ok(Engine::Vosk),
            "pocketsphinx" | "sphinx" => Ok(Engine::PocketSphinx),
            "moonshine" => Ok(Engine::Moonshine),
            _ => Err(SpeechError::UnknownEngine(s.to_owned())),
        }
    }
}

/// Where PocketSphinx's Debian en-us model lives (package `pocketsphinx-en-us`).
pub const POCKETSPHINX_EN_US: &str = "/usr/share/pocketsphinx/model/en-us";

/// Opens a recogniser for `engine` with the model at `model`.
///
/// Vosk: `model` is a Vosk model directory. Moonshine: a directory laid out
/// as `scripts/setup` installs `moonshine-base-en` (weights, tokenizer, `lib/`). PocketSphinx: `model` is a
/// directory with `en-us/` (acoustic model), `cmudict-en-us.dict` and
/// `en-us.lm.bin`, laid out like [`POCKETSPHINX_EN_US`]'s parent… or that
/// directory itself; see [`crate::pocketsphinx_model_files`].
pub fn open(engine: Engine, model: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    match engine {
        Engine::Vosk => open_vosk(model),
        Engine::PocketSphinx => open_pocketsphinx(model),
        Engine::Moonshine => open_moonshine(model),
    }
}

#[cfg(feature = "moonshine")]
fn open_moonshine(model: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    let model = crate::moonshine::MoonshineModel::load(model)?;
    Ok(Box::new(crate::moonshine::MoonshineRecognizer::new(
        std::sync::Arc::new(model),
    )))
}

#[cfg(not(feature = "moonshine"))]
fn open_moonshine(_: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    Err(SpeechError::EngineDisabled("moonshine"))
}

#[cfg(feature = "vosk")]
fn open_vosk(model: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    let model = crate::vosk_backend::VoskModel::load(model)?;
    Ok(Box::new(crate::vosk_backend::VoskRecognizer::new(
        std::sync::Arc::new(model),
    )?))
}

#[cfg(not(feature = "vosk"))]
fn open_vosk(_: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    Err(SpeechError::EngineDisabled("vosk"))
}

#[cfg(feature = "pocketsphinx")]
fn open_pocketsphinx(model: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    Ok(Box::new(crate::pocketsphinx::PocketSphinx::new(model)?))
}

#[cfg(not(feature = "pocketsphinx"))]
fn open_pocketsphinx(_: &Path) -> Result<Box<dyn SpeechRecognizer>> {
    Err(SpeechError::EngineDisabled("pocketsphinx"))
}

/// The files of a PocketSphinx model: acoustic model dir, dictionary, language model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketSphinxModel {
    /// Acoustic model directory (`-hmm`).
    pub hmm: PathBuf,
    /// Pronunciation dictionary (`-dict`).
    pub dict: PathBuf,
    /// Language model for free decoding (`-lm`).
    pub lm: PathBuf,
}

/// Finds the PocketSphinx model files under `dir`: either the acoustic model
/// directory itself (`…/model/en-us/en-us`) with the dictionary and LM beside
/// it, or the directory containing them (`…/model/en-us`).
pub fn pocketsphinx_model_files(dir: &Path) -> Result<PocketSphinxModel> {
    let (hmm, base) = if dir.join("mdef").exists() {
        (dir.to_owned(), dir.parent().unwrap_or(dir).to_owned())
    } else {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (dir.join(&name), dir.to_owned())
    };
    let find = |suffix: &str| -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&base)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
            .collect();
        // Word models first: `en-us.lm.bin` before `en-us-phone.lm.bin`.
        found.sort_by_key(|p| (p.to_string_lossy().contains("phone"), p.clone()));
        found.into_iter().next()
    };
    let dict = find(".dict");
    let lm = find(".lm.bin").or_else(|| find(".lm"));
    let mut missing = Vec::new();
    if !hmm.join("mdef").exists() {
        missing.push(format!("{}/mdef (acoustic model)", hmm.display()));
    }
    if dict.is_none() {
        missing.push("*.dict (pronunciation dictionary)".to_owned());
    }
    if lm.is_none() {
        missing.push("*.lm.bin (language model)".to_owned());
    }
    match (dict, lm) {
        (Some(dict), Some(lm)) if missing.is_empty() => Ok(PocketSphinxModel { hmm, dict, lm }),
        _ => Err(SpeechError::ModelLoad {
            engine: "pocketsphinx",
            path: dir.to_owned(),
            reason: format!("missing {}", missing.join(", ")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_parse() {
        assert_eq!("vosk".parse::<Engine>().unwrap(), Engine::Vosk);
        assert_eq!(
            "PocketSphinx".parse::<Engine>().unwrap(),
            Engine::PocketSphinx
        );
        let err = "whisper".parse::<Engine>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown speech engine `whisper`; use `vosk`, `pocketsphinx` or `moonshine`"
        );
    }

    #[test]
    fn missing_pocketsphinx_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = pocketsphinx_model_files(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mdef") && err.contains(".dict") && err.contains("lm.bin"),
            "{err}"
        );
    }
}
