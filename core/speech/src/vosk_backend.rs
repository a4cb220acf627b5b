//! The Vosk backend, through the `vosk` crate (libvosk from `scripts/setup`).
//!
//! A grammar switch creates a new `vosk::Recognizer` over the already loaded
//! model (libvosk shares the model by reference count), so it costs
//! milliseconds and never reloads the model from disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use emma_grammar::Grammar;

use crate::error::{Result, SpeechError};
use crate::model::check_vosk_model;
use crate::recognizer::{Engine, Event, FinalResult, GrammarReport, SpeechRecognizer, WordTiming};

/// Grammars with at most this many phrases go to Vosk as a phrase list;
/// bigger ones as a word loop plus `[unk]`.
pub const MAX_PHRASES: usize = 500;

/// Vosk reports f32 values; three decimals (1 ms) is all they carry.
fn round3(x: f32, offset: f64) -> f64 {
    ((f64::from(x) + offset) * 1000.0).round() / 1000.0
}

/// A loaded Vosk model, shareable between recognisers.
pub struct VoskModel {
    model: Mutex<vosk::Model>,
    path: PathBuf,
}

impl VoskModel {
    /// Loads the model in `dir`, after checking it looks like a Vosk model.
    pub fn load(dir: &Path) -> Result<Self> {
        check_vosk_model(dir)?;
        vosk::set_log_level(vosk::LogLevel::Error);
        let path_str = dir.to_str().ok_or_else(|| SpeechError::ModelLoad {
            engine: "vosk",
            path: dir.to_owned(),
            reason: "path is not valid UTF-8".to_owned(),
        })?;
        let model = vosk::Model::new(path_str).ok_or_else(|| SpeechError::ModelLoad {
            engine: "vosk",
            path: dir.to_owned(),
            reason: "libvosk rejected the model files (corrupt or incompatible model)".to_owned(),
        })?;
        Ok(VoskModel {
            model: Mutex::new(model),
            path: dir.to_owned(),
        })
    }

    /// The model directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the model's vocabulary contains `word`.
    pub fn knows(&self, word: &str) -> bool {
        self.lock().find_word(word).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, vosk::Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A streaming Vosk recogniser.
pub struct VoskRecognizer {
    model: Arc<VoskModel>,
    rec: vosk::Recognizer,
    /// The phrase/word list of the active grammar, to recreate the recogniser.
    grammar: Option<Vec<String>>,
    last_partial: String,
    /// Samples fed to `rec` since it was created (Vosk's clock runs from there).
    rec_fed: u64,
    /// Stream time, in samples, at which `rec`'s clock reads zero.
    rec_origin: i64,
    /// Samples since the stream started.
    stream: u64,
    /// `rec` finished an utterance in grammar mode and must be recreated:
    /// libvosk 0.3.45's grammar recognisers return empty results for
    /// utterances after a final result, and recreating one costs < 1 ms.
    stale: bool,
}

impl VoskRecognizer {
    /// A recogniser decoding freely with `model`.
    pub fn new(model: Arc<VoskModel>) -> Result<Self> {
        let rec = Self::make(&model, None)?;
        Ok(VoskRecognizer {
            model,
            rec,
            grammar: None,
            last_partial: String::new(),
            rec_fed: 0,
            rec_origin: 0,
            stream: 0,
            stale: false,
        })
    }

    /// Replaces `rec` with a fresh recogniser whose clock starts now.
    fn recreate(&mut self) -> Result<()> {
        self.rec = Self::make(&self.model, self.grammar.as_deref())?;
        self.rec_fed = 0;
        self.rec_origin = self.stream as i64;
        self.stale = false;
        self.last_partial.clear();
        Ok(())
    }

    fn offset_s(&self) -> f64 {
        self.rec_origin as f64 / f64::from(crate::audio::SAMPLE_RATE)
    }

    fn make(model: &VoskModel, grammar: Option<&[String]>) -> Result<vosk::Recognizer> {
        let guard = model.lock();
        let rec = match grammar {
            None => vosk::Recognizer::new(&guard, crate::audio::SAMPLE_RATE as f32),
            Some(phrases) => vosk::Recognizer::new_with_grammar(
                &guard,
                crate::audio::SAMPLE_RATE as f32,
                phrases,
            ),
        };
        let mut rec = rec.ok_or_else(|| SpeechError::Engine {
            engine: "vosk",
            reason: format!("could not create a recogniser for {}", model.path.display()),
        })?;
        rec.set_words(true);
        Ok(rec)
    }

    fn convert(result: vosk::CompleteResult<'_>, offset_s: f64) -> FinalResult {
        match result {
            vosk::CompleteResult::Single(single) => FinalResult {
                text: single.text.to_owned(),
                words: single
                    .result
                    .iter()
                    .map(|w| WordTiming {
                        word: w.word.to_owned(),
                        start: round3(w.start, offset_s),
                        end: round3(w.end, offset_s),
                        conf: round3(w.conf, 0.0),
                    })
                    .collect(),
                alternatives: Vec::new(),
                verification: None,
            },
            vosk::CompleteResult::Multiple(multi) => FinalResult {
                text: multi
                    .alternatives
                    .first()
                    .map(|a| a.text.to_owned())
                    .unwrap_or_default(),
                words: Vec::new(),
                alternatives: multi
                    .alternatives
                    .iter()
                    .map(|a| crate::recognizer::Alternative {
                        text: a.text.to_owned(),
                        score: f64::from(a.confidence),
                    })
                    .collect(),
                verification: None,
            },
        }
    }
}

impl SpeechRecognizer for VoskRecognizer {
    fn engine(&self) -> Engine {
        Engine::Vosk
    }

    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>> {
        if self.stale {
            self.recreate()?;
        }
        self.rec_fed += pcm.len() as u64;
        self.stream += pcm.len() as u64;
        let state = self
            .rec
            .accept_waveform(pcm)
            .map_err(|e| SpeechError::Engine {
                engine: "vosk",
                reason: e.to_string(),
            })?;
        match state {
            vosk::DecodingState::Finalized => {
                self.last_partial.clear();
                let offset = self.offset_s();
                let result = Self::convert(self.rec.result(), offset);
                self.stale = self.grammar.is_some();
                Ok(Some(Event::Final(result)))
            }
            vosk::DecodingState::Running => {
                let partial = self.rec.partial_result().partial.to_owned();
                if partial != self.last_partial {
                    self.last_partial = partial.clone();
                    Ok(Some(Event::Partial(partial)))
                } else {
                    Ok(None)
                }
            }
            vosk::DecodingState::Failed => Err(SpeechError::Engine {
                engine: "vosk",
                reason: "decoding failed".to_owned(),
            }),
        }
    }

    fn finish(&mut self) -> Result<FinalResult> {
        self.last_partial.clear();
        let offset = self.offset_s();
        let result = Self::convert(self.rec.final_result(), offset);
        self.stale = self.grammar.is_some();
        Ok(result)
    }

    fn reset(&mut self) -> Result<()> {
        self.last_partial.clear();
        self.stream = 0;
        if self.grammar.is_some() {
            // Cheap: a grammar recogniser is built in well under a millisecond.
            return self.recreate();
        }
        // Creating a free-decoding recogniser over a large model takes
        // hundreds of ms, so keep it: flush what it holds and move the
        // stream's zero to its current clock.
        let _ = self.rec.final_result();
        self.rec_origin = -(self.rec_fed as i64);
        Ok(())
    }

    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport> {
        let Some(grammar) = grammar else {
            self.grammar = None;
            self.recreate()?;
            return Ok(GrammarReport::default());
        };
        grammar.validate()?;
        let unknown_words: Vec<String> = grammar
            .words()
            .into_iter()
            .filter(|w| !self.model.knows(w))
            .collect();
        let list = match grammar.phrases(MAX_PHRASES) {
            Some(phrases) => phrases,
            None => {
                let mut words: Vec<String> = grammar.words().into_iter().collect();
                words.push("[unk]".to_owned());
                words
            }
        };
        self.grammar = Some(list);
        self.recreate()?;
        Ok(GrammarReport { unknown_words })
    }
}
