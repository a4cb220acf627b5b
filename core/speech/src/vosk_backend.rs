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
    last_partial: String,
}

impl VoskRecognizer {
    /// A recogniser decoding freely with `model`.
    pub fn new(model: Arc<VoskModel>) -> Result<Self> {
        let rec = Self::make(&model, None)?;
        Ok(VoskRecognizer {
            model,
            rec,
            last_partial: String::new(),
        })
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

    fn convert(result: vosk::CompleteResult<'_>) -> FinalResult {
        match result {
            vosk::CompleteResult::Single(single) => FinalResult {
                text: single.text.to_owned(),
                words: single
                    .result
                    .iter()
                    .map(|w| WordTiming {
                        word: w.word.to_owned(),
                        start: f64::from(w.start),
                        end: f64::from(w.end),
                        conf: f64::from(w.conf),
                    })
                    .collect(),
                alternatives: Vec::new(),
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
            },
        }
    }
}

impl SpeechRecognizer for VoskRecognizer {
    fn engine(&self) -> Engine {
        Engine::Vosk
    }

    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>> {
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
                Ok(Some(Event::Final(Self::convert(self.rec.result()))))
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
        Ok(Self::convert(self.rec.final_result()))
    }

    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport> {
        let Some(grammar) = grammar else {
            self.rec = Self::make(&self.model, None)?;
            self.last_partial.clear();
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
        self.rec = Self::make(&self.model, Some(&list))?;
        self.last_partial.clear();
        Ok(GrammarReport { unknown_words })
    }
}
