//! Moonshine (Useful Sensors' open-vocabulary English recogniser): its
//! ONNX encoder and decoder (from the moonshine-cpp wheel), run through ONNX
//! Runtime's C API ([`runtime`]) with Emma's own greedy decoding
//! ([`decode`]) and vocabulary ([`tokenizer`]).
//!
//! Moonshine is not streaming: [`MoonshineRecognizer`] collects an
//! utterance's audio and transcribes it whole at
//! [`finish`](SpeechRecognizer::finish). It decodes freely (no grammar) and
//! writes text as a person would (capitals, punctuation, digits). Given what
//! another recogniser heard ([`SpeechRecognizer::hint`],
//! [`MoonshineModel::transcribe_with_draft`]) it checks that draft instead
//! of writing every token in a step of its own: the same transcript, in
//! fewer decoder steps when the draft is right (see [`decode`]).
//!
//! Why not moonshine-cpp's `libmoonshine.so`, which the wheel also ships:
//! it decodes one token per step with no way to check a draft, leaks every
//! step's tensors (about 45 MB a call, measured), and an ONNX Runtime error
//! inside it is a C++ exception that aborts the process. The decoding here
//! gives the same transcripts (compared on real recordings, `docs/understand.md`).
//!
//! Weights: the wheel's `.ort` models store each weight matrix as 8-bit
//! integers that three nodes turn back into floats at the start of every
//! run, so every decoder step unpacked all 41 million weights again (30 of
//! a step's 35 ms on 2 cores, by ONNX Runtime's profiler). `scripts/setup`
//! therefore writes the same graphs with float weights beside them
//! (`scripts/moonshine-float-weights.py`: `encoder_model.onnx`,
//! `decoder_model_merged.onnx`), and [`MoonshineModel::load`] takes that
//! pair when it is there ([`FLOAT_FILES`]): the same transcripts, a step in
//! about 6 ms, for 110 MB more memory and a second more to load.
//!
//! Input length: below [`MIN_SAMPLES`] the model's convolution stack has no
//! output, so shorter audio gives an empty result. The model accepts up to
//! 64 s, but its attention's memory grows with the square of the length, so
//! utterances longer than [`MAX_SAMPLES`] are refused with an error.
//!
//! Silence at the ends: given a command followed by 0.8 s or more of digital
//! (or dithered) silence, Moonshine base returns an empty transcript where
//! the same audio with 0.5 s gives the words (measured on espeak-ng speech;
//! a quiet noise floor instead of silence does not do it). Near-silent ends
//! are therefore cut to [`KEEP_QUIET`] before transcription ([`trim_quiet_ends`]).

pub mod decode;
mod runtime;
pub mod tokenizer;
mod trim;

pub use decode::Steps;
pub use trim::{KEEP_QUIET, trim_quiet_ends};

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

/// The longest draft read, in characters (see [`MoonshineModel::transcribe_with_draft`]).
const MAX_DRAFT_CHARS: usize = 1_000;

/// The files of a Moonshine model directory as `scripts/setup` lays it out.
const FILES: [&str; 3] = [
    "encoder_model.ort",
    "decoder_model_merged.ort",
    "tokenizer.bin",
];

/// The float-weight form of [`FILES`]' two models
/// (`scripts/moonshine-float-weights.py`), used when both are there.
pub const FLOAT_FILES: [&str; 2] = ["encoder_model.onnx", "decoder_model_merged.onnx"];

/// The registry name of the English model `scripts/setup` installs.
pub const ENGLISH_MODEL: &str = "moonshine-base-en";
/// Tokens after a difference that [`MoonshineModel::compare`] judges a
/// sentence on. With all of them, the same slot values won on real coffee
/// orders in kitchen noise (153 commands at 6 dB, docs/understand.md).
pub const CONTEXT: usize = 3;

/// Whether `dir` holds a Moonshine model (weights, vocabulary and ONNX
/// Runtime in `lib/`).
pub fn is_moonshine_model(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file()) && runtime::library_in(&dir.join("lib")).is_some()
}

/// A loaded Moonshine model. Transcriptions on one model run one at a time.
pub struct MoonshineModel {
    decoder: Mutex<decode::Decoder>,
    tokenizer: tokenizer::Tokenizer,
    path: PathBuf,
    last: Mutex<Steps>,
    /// The weights are the float form ([`FLOAT_FILES`]).
    float_weights: bool,
}

impl std::fmt::Debug for MoonshineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoonshineModel")
            .field("path", &self.path)
            .field("float_weights", &self.float_weights)
            .finish_non_exhaustive()
    }
}

impl MoonshineModel {
    /// Loads the model in `dir` (ONNX Runtime from `dir/lib`), with its
    /// float weights when `dir` has them ([`FLOAT_FILES`]).
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
        let runtime = runtime::Runtime::open(&dir.join("lib"))?;
        let float_weights = FLOAT_FILES.iter().all(|f| dir.join(f).is_file());
        let [encoder, decoder] = if float_weights {
            FLOAT_FILES
        } else {
            [FILES[0], FILES[1]]
        };
        let encoder = runtime.session(&dir.join(encoder))?;
        let decoder = runtime.session(&dir.join(decoder))?;
        let decoder = decode::Decoder::new(runtime, encoder, decoder).map_err(|e| {
            SpeechError::ModelLoad {
                engine: "moonshine",
                path: dir.to_owned(),
                reason: e.to_string(),
            }
        })?;
        Ok(MoonshineModel {
            decoder: Mutex::new(decoder),
            tokenizer: tokenizer::Tokenizer::load(&dir.join(FILES[2]))?,
            path: dir.to_owned(),
            last: Mutex::new(Steps::default()),
            float_weights,
        })
    }

    /// Whether the model runs with float weights ([`FLOAT_FILES`]) rather
    /// than the 8-bit weights it unpacks on every run.
    pub fn float_weights(&self) -> bool {
        self.float_weights
    }

    /// The model directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the last transcription on this model did (decoder runs, tokens
    /// written, tokens taken from a draft).
    pub fn last_steps(&self) -> Steps {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Transcribes one utterance of 16 kHz mono audio. Empty or shorter
    /// than [`MIN_SAMPLES`]: an empty transcript. Longer than
    /// [`MAX_SAMPLES`]: [`SpeechError::Engine`].
    pub fn transcribe(&self, pcm: &[i16]) -> Result<String> {
        self.transcribe_with_draft(pcm, "")
    }

    /// Transcribes one utterance as [`Self::transcribe`] does, checking
    /// `draft` (what another recogniser heard, in lower case without
    /// punctuation as grammars write it) on the way: the same transcript,
    /// sooner when the draft is what Moonshine hears.
    pub fn transcribe_with_draft(&self, pcm: &[i16], draft: &str) -> Result<String> {
        let Some(audio) = Self::audio(pcm)? else {
            return Ok(String::new());
        };
        let draft = if draft.trim().is_empty() {
            vec![]
        } else {
            // Proposing the end too saves the run that would write it.
            self.sentence(draft)
        };
        let (tokens, steps) = self
            .decoder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .transcribe(&audio, &draft)?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = steps;
        Ok(self.tokenizer.decode(&tokens).trim().to_owned())
    }

    /// How likely Moonshine finds each of `sentences` (a grammar's
    /// lower-case words, written as [`Self::transcribe_with_draft`] drafts
    /// them) as the transcript of `pcm`: log probabilities, higher is
    /// likelier. Too short audio or no sentences: none; too long audio: an
    /// error, as for transcribing.
    pub fn score(&self, pcm: &[i16], sentences: &[&str]) -> Result<Vec<f64>> {
        let (first, others) = self.compare_with(pcm, sentences, None, &[])?;
        // No floor: every sentence is read.
        Ok(others
            .into_iter()
            .map(|d| first + d.unwrap_or(f64::NEG_INFINITY))
            .collect())
    }

    /// How much likelier Moonshine finds each of `sentences` than the first
    /// as the transcript of `pcm` (log probability ratios; 0 for the
    /// first), judging each where it differs from the first and on the
    /// [`CONTEXT`] tokens after that: made to ask which value of a slot was
    /// said, with the grammar's sentence first and its neighbours (one other
    /// value each) after it. Read in a few batched decoder runs after one
    /// encoding (about 0.3 s for 40 neighbours on 2 cores). Sentence `i`
    /// is not read when it cannot reach `floors[i]` (how much likelier than
    /// the first it must be to matter; by a bound from the first's own
    /// reading, [`decode::Decoder::compare`]): `None` in its place. Too
    /// short audio or no sentences: none; too long audio: an error.
    pub fn compare(
        &self,
        pcm: &[i16],
        sentences: &[&str],
        floors: &[f64],
    ) -> Result<Vec<Option<f64>>> {
        Ok(self.compare_with(pcm, sentences, Some(CONTEXT), floors)?.1)
    }

    fn compare_with(
        &self,
        pcm: &[i16],
        sentences: &[&str],
        context: Option<usize>,
        floors: &[f64],
    ) -> Result<(f64, Vec<Option<f64>>)> {
        let Some(audio) = Self::audio(pcm)? else {
            return Ok((0.0, vec![]));
        };
        if sentences.is_empty() {
            return Ok((0.0, vec![]));
        }
        let candidates: Vec<Vec<u32>> = sentences.iter().map(|s| self.sentence(s)).collect();
        self.decoder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .compare(&audio, &candidates, context, floors)
    }

    /// What Moonshine hears of `pcm`: its quiet ends trimmed, as floats.
    /// `None` below [`MIN_SAMPLES`]; an error above [`MAX_SAMPLES`].
    fn audio(pcm: &[i16]) -> Result<Option<Vec<f32>>> {
        let pcm = trim_quiet_ends(pcm);
        if pcm.len() < MIN_SAMPLES {
            return Ok(None);
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
        Ok(Some(pcm.iter().map(|&s| f32::from(s) / 32768.0).collect()))
    }

    /// The tokens of `text` (a grammar's words) as Moonshine would write the
    /// sentence ([`as_written`]), ending with `</s>`. More than Moonshine
    /// writes for the longest utterance it takes (16 s at 6.5 tokens a
    /// second) is never read: the text is cut first.
    fn sentence(&self, text: &str) -> Vec<u32> {
        let text: String = text.chars().take(MAX_DRAFT_CHARS).collect();
        let mut ids = self.tokenizer.encode(&as_written(&text));
        ids.push(decode::END);
        ids
    }
}

/// `text` (a grammar's lower-case words) as Moonshine would likely write
/// it: one space between words, the first letter and the pronoun "I" in
/// capitals, a question mark after a sentence that opens like a question
/// ("can I get …?", measured on the coffee orders) and a full stop after
/// any other. Empty for empty text. Only a draft: whatever Moonshine writes
/// otherwise it writes anyway.
fn as_written(text: &str) -> String {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| match w {
            "i" => "I".to_owned(),
            w if w.starts_with("i'") => format!("I{}", &w[1..]),
            w => w.to_owned(),
        })
        .collect();
    let question = matches!(
        words.first().map(String::as_str),
        Some(
            "can"
                | "could"
                | "may"
                | "will"
                | "would"
                | "what"
                | "what's"
                | "who"
                | "when"
                | "where"
                | "why"
                | "how"
                | "is"
                | "are"
                | "do"
                | "does"
        )
    );
    let joined = words.join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().chain(chars).collect();
            out.push(if question { '?' } else { '.' });
            out
        }
        None => String::new(),
    }
}

/// A [`SpeechRecognizer`] over Moonshine: buffers an utterance, transcribes it at `finish`.
pub struct MoonshineRecognizer {
    model: Arc<MoonshineModel>,
    utterance: Vec<i16>,
    /// What another recogniser heard in this utterance ([`SpeechRecognizer::hint`]).
    draft: String,
}

impl MoonshineRecognizer {
    /// A recogniser over `model`.
    pub fn new(model: Arc<MoonshineModel>) -> Self {
        MoonshineRecognizer {
            model,
            utterance: Vec::new(),
            draft: String::new(),
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
        let draft = std::mem::take(&mut self.draft);
        let text = self.model.transcribe_with_draft(&pcm, &draft)?;
        Ok(FinalResult {
            text,
            ..FinalResult::default()
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.utterance.clear();
        self.draft.clear();
        Ok(())
    }

    fn hint(&mut self, heard: &str) {
        heard.clone_into(&mut self.draft);
    }

    fn compare(
        &mut self,
        pcm: &[i16],
        sentences: &[&str],
        floors: &[f64],
    ) -> Option<Result<Vec<Option<f64>>>> {
        Some(self.model.compare(pcm, sentences, floors))
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

#[cfg(test)]
mod tests {
    use super::as_written;

    #[test]
    fn a_draft_is_written_as_moonshine_writes_sentences() {
        assert_eq!(
            as_written("can i get a  large latte"),
            "Can I get a large latte?"
        );
        assert_eq!(as_written("i'd like a mocha"), "I'd like a mocha.");
        assert_eq!(as_written("  "), "");
    }
}
