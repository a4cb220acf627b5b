//! Emma as a Wyoming service, so Home Assistant and Rhasspy voice pipelines
//! can use Emma's offline speech, intents, device control and speech out.
//!
//! [`emma_wyoming`] speaks the protocol; this module answers it with Emma's
//! engines:
//! - `transcribe` + audio → `transcript` (and streaming `transcript-start`/
//!   `-chunk`/`-stop`): the [`Understander`] pipeline, i.e. decoding
//!   restricted to the intents' grammar with the free-decoding fallback,
//!   exactly as `emma understand` does ([`asr`]);
//! - `recognize` → `intent` / `not-recognized`: the intent engine;
//! - `transcript` or `intent` sent for handling → `handled` / `not-handled`:
//!   carried out by the [`Assistant`](crate::assistant::Assistant) (devices,
//!   skills, dialog; see [`handle`]);
//! - `detect` + audio → `detection` / `not-detected`: the wake-word engines
//!   of [`emma_speech::wake`] ([`wake`]);
//! - `synthesize` → audio events: espeak-ng, run as a subprocess ([`tts`]);
//! - `describe` → `info` listing all of the above with languages and models.
//!
//! Each connection gets its own [`session::Session`] (its audio streams and
//! requests); the costly parts (recognisers, wake detectors, the intent
//! engine, the assistant) are shared through [`Services`]. The assistant's
//! dialog state is the home's, shared by all connections (see [`handle`]).
//!
//! [`Understander`]: crate::understand::Understander

pub mod asr;
mod feed;
pub mod handle;
pub mod session;
pub mod tts;
pub mod wake;

use std::sync::Arc;

use emma_intent::IntentEngine;
use emma_wyoming::HandlerFactory;
use emma_wyoming::info::{
    Artifact, AsrProgram, Attribution, Info, Model, ModelProgram, TtsProgram,
};

pub use asr::{AsrConfig, SpeechPool};
pub use handle::{AssistantHandler, Handle, Handling};
pub use tts::Espeak;
pub use wake::{WakeModel, WakePool};

/// Longest text accepted by `recognize`, `synthesize` and handling, in bytes.
pub const MAX_TEXT: usize = 4096;

/// What the service offers; shared by every connection.
pub struct Services {
    /// Language of the intents, speech and replies (`en`, `de`, …).
    pub language: String,
    /// Speech to text (`None`: `transcribe` is refused).
    pub asr: Option<Arc<SpeechPool>>,
    /// Intent recognition for `recognize` (`None`: refused).
    pub intents: Option<(String, Arc<IntentEngine>)>,
    /// Handling of transcripts and intents (`None`: refused).
    pub handler: Option<Arc<dyn Handle>>,
    /// Wake word detection (`None`: `detect` is refused).
    pub wake: Option<Arc<WakePool>>,
    /// Speech out (`None`: `synthesize` is refused).
    pub tts: Option<Espeak>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("language", &self.language)
            .field("asr", &self.asr.is_some())
            .field("intents", &self.intents.as_ref().map(|i| &i.0))
            .field("handler", &self.handler.is_some())
            .field("wake", &self.wake.as_ref().map(|w| w.models().len()))
            .field("tts", &self.tts.is_some())
            .finish()
    }
}

fn emma() -> Attribution {
    Attribution {
        name: "Emma".into(),
        url: "https://example.invalid/emma".into(),
    }
}

impl Services {
    /// The `info` answer to `describe`.
    pub fn info(&self) -> Info {
        let langs = vec![self.language.clone()];
        let mut info = Info::default();
        if let Some(asr) = &self.asr {
            let c = asr.config();
            let decoding = match c.decoding {
                crate::understand::Decoding::Grammar => {
                    "decoding restricted to the intents' grammar, free decoding as fallback"
                }
                crate::understand::Decoding::Free => "free decoding",
            };
            info.asr.push(AsrProgram {
                artifact: Artifact::new(
                    "emma-asr",
                    format!("Emma offline speech to text ({}, {decoding})", c.engine),
                    emma(),
                ),
                models: vec![Model {
                    artifact: Artifact::new(
                        c.model_name.clone(),
                        format!("{} model {}", c.engine, c.model.display()),
                        emma(),
                    ),
                    languages: langs.clone(),
                    phrase: None,
                }],
                supports_transcript_streaming: true,
            });
        }
        if let Some((name, engine)) = &self.intents {
            info.intent.push(ModelProgram {
                artifact: Artifact::new(
                    "emma-intents",
                    "Emma's hassil-compatible intent engine",
                    emma(),
                ),
                models: vec![Model {
                    artifact: Artifact::new(
                        name.clone(),
                        format!("{} intents", engine.intent_names().len()),
                        emma(),
                    ),
                    languages: langs.clone(),
                    phrase: None,
                }],
                supports_home_control: None,
            });
        }
        if let Some(h) = &self.handler {
            info.handle.push(ModelProgram {
                artifact: Artifact::new("emma-handle", h.description(), emma()),
                models: vec![Model {
                    artifact: Artifact::new(h.name(), h.description(), emma()),
                    languages: langs.clone(),
                    phrase: None,
                }],
                supports_home_control: Some(true),
            });
        }
        if let Some(wake) = &self.wake {
            info.wake.push(ModelProgram {
                artifact: Artifact::new(
                    "emma-wake",
                    "Emma wake word detection (PocketSphinx keyphrase spotting, livekit-wakeword)",
                    emma(),
                ),
                models: wake
                    .models()
                    .iter()
                    .map(|m| Model {
                        artifact: Artifact::new(m.name.clone(), m.description(), emma()),
                        // Both engines' models are English (PocketSphinx
                        // en-us, livekit's classifiers).
                        languages: vec!["en".into()],
                        phrase: Some(m.phrase.clone()),
                    })
                    .collect(),
                supports_home_control: None,
            });
        }
        if let Some(tts) = &self.tts {
            info.tts.push(TtsProgram {
                artifact: Artifact::new(
                    "espeak-ng",
                    "espeak-ng speech synthesis (run as a separate program)",
                    Attribution {
                        name: "espeak-ng".into(),
                        url: "https://github.com/espeak-ng/espeak-ng".into(),
                    },
                ),
                voices: tts.voices().to_vec(),
            });
        }
        info
    }
}

/// Makes a [`session::Session`] per connection over shared [`Services`].
#[derive(Debug, Clone)]
pub struct EmmaFactory {
    services: Arc<Services>,
}

impl EmmaFactory {
    /// A factory over `services`.
    pub fn new(services: Arc<Services>) -> Self {
        EmmaFactory { services }
    }
}

impl HandlerFactory for EmmaFactory {
    type Handler = session::Session;

    fn session(&self, peer: &str) -> session::Session {
        session::Session::new(self.services.clone(), peer)
    }
}
