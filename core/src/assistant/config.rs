//! How an [`Assistant`](super::Assistant) is put together: one plain struct
//! with sensible defaults, validated by [`AssistantConfig::validate`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use emma_speech::{EndpointConfig, Engine};

use super::error::AssistantError;
use super::handoff::HandoffConfig;
use super::tts::TextToSpeech;
use crate::understand::Decoding;

/// Everything the assistant needs to know, passed in (libraries read no environment).
#[derive(Clone)]
pub struct AssistantConfig {
    /// Where the device registry (`devices.sqlite`), the command outbox
    /// (`outbox.sqlite`) and installed skills (`skills/`) live.
    pub data_dir: PathBuf,
    /// The customer's language (`en` or `de`: the languages with built-in home intents).
    pub language: String,
    /// Whose grants apply to skills (`default` unless the home has several customers).
    pub customer: String,
    /// Speech recognition; `None` for a text-only assistant.
    pub speech: Option<SpeechConfig>,
    /// Wake word; `None` means every utterance is addressed to Emma.
    pub wake: Option<WakeConfig>,
    /// Speech out for replies.
    pub tts: TtsConfig,
    /// The MQTT broker.
    pub broker: BrokerChoice,
    /// More intent files or trees (hassil YAML, Rhino context, Alexa model) handled by no skill:
    /// their intents are recognised and reported, and answered as "understood, cannot do yet".
    pub extra_intents: Vec<PathBuf>,
    /// Load every installed skill from `data_dir/skills`.
    pub load_skills: bool,
    /// How long a dialog waits for an answer (a room, a yes or no) before it forgets the question.
    pub session_timeout: Duration,
    /// The area of the speaking device: the default place for "turn on the lights".
    pub area: Option<String>,
    /// Intents below this confidence are not acted on (0..=1).
    pub confidence_threshold: f32,
    /// How long `stop` waits for the broker to acknowledge queued commands.
    pub flush_timeout: Duration,
    /// Handing conversations to people at the brand, and touchpoint reports (see `handoff`).
    pub handoff: HandoffConfig,
}

impl std::fmt::Debug for AssistantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssistantConfig")
            .field("data_dir", &self.data_dir)
            .field("language", &self.language)
            .field("speech", &self.speech)
            .field("wake", &self.wake)
            .field("broker", &self.broker)
            .field("load_skills", &self.load_skills)
            .field("area", &self.area)
            .finish_non_exhaustive()
    }
}

impl AssistantConfig {
    /// A text-only assistant for `language` keeping its data in `data_dir`,
    /// on the embedded broker, loading installed skills, without speech out.
    pub fn new(data_dir: impl Into<PathBuf>, language: &str) -> AssistantConfig {
        AssistantConfig {
            data_dir: data_dir.into(),
            language: language.to_string(),
            customer: "default".into(),
            speech: None,
            wake: None,
            tts: TtsConfig::None,
            broker: BrokerChoice::Embedded,
            extra_intents: Vec::new(),
            load_skills: true,
            session_timeout: Duration::from_secs(8),
            area: None,
            // Spoken confidence is the intent's times the acoustic confidence
            // (0.73 at the rejection threshold, above 0.99 for a typical correctly
            // heard command: docs/understand.md); speech that is not a command
            // is rejected before this threshold (`Rejection::default`).
            confidence_threshold: 0.3,
            flush_timeout: Duration::from_secs(5),
            handoff: HandoffConfig::default(),
        }
    }

    /// Checks what can be checked before anything starts; the error names the field.
    pub fn validate(&self) -> Result<(), AssistantError> {
        let bad = |field: &str, reason: String| {
            Err(AssistantError::Config {
                field: field.to_string(),
                reason,
            })
        };
        if !emma_devices::control::BUILTIN_LANGUAGES.contains(&self.language.as_str()) {
            return bad(
                "language",
                format!(
                    "{:?} has no built-in home intents (have: {})",
                    self.language,
                    emma_devices::control::BUILTIN_LANGUAGES.join(", ")
                ),
            );
        }
        if self.customer.trim().is_empty() {
            return bad("customer", "must not be empty".into());
        }
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return bad(
                "confidence_threshold",
                format!("{} is not within 0..=1", self.confidence_threshold),
            );
        }
        if self.session_timeout.is_zero() {
            return bad("session_timeout", "must be longer than zero".into());
        }
        self.handoff.validate()?;
        if let BrokerChoice::Url(url) = &self.broker {
            emma_devices::BrokerConfig::from_url(url).map_err(|e| AssistantError::Config {
                field: "broker".into(),
                reason: e.to_string(),
            })?;
        }
        if let Some(wake) = &self.wake {
            if self.speech.is_none() {
                return bad("wake", "a wake word needs `speech` configured".into());
            }
            if !wake.engine.is_enabled() {
                return bad(
                    "wake.engine",
                    format!(
                        "this build of emma has no {} wake-word support",
                        wake.engine
                    ),
                );
            }
        }
        if let Some(speech) = &self.speech {
            if !speech.engine.is_enabled() {
                return bad(
                    "speech.engine",
                    format!(
                        "this build of emma has no {} support; rebuild with the `{}` feature",
                        speech.engine.name(),
                        speech.engine.name()
                    ),
                );
            }
            if !speech.model.exists() {
                return bad(
                    "speech.model",
                    format!(
                        "{} does not exist; install a model (scripts/setup, or emma model add)",
                        speech.model.display()
                    ),
                );
            }
            if let Some(model_lang) = &speech.model_language
                && !same_language(model_lang, &self.language)
            {
                return bad(
                    "speech.model",
                    format!(
                        "the {} model {} is for {model_lang:?}, not {:?}; install a {} model (for English: apt-get install pocketsphinx-en-us, used with --engine pocketsphinx)",
                        speech.engine.name(),
                        speech.model.display(),
                        self.language,
                        self.language
                    ),
                );
            }
        }
        Ok(())
    }
}

/// Whether two language tags name the same language (`en` = `en-us`).
fn same_language(a: &str, b: &str) -> bool {
    let base = |s: &str| {
        s.split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    base(a) == base(b)
}

/// Speech recognition settings.
#[derive(Debug, Clone)]
pub struct SpeechConfig {
    /// The recogniser.
    pub engine: Engine,
    /// Its model directory.
    pub model: PathBuf,
    /// The model's language, when known (a mismatch with the assistant's language is refused).
    pub model_language: Option<String>,
    /// Grammar-restricted (default) or free decoding.
    pub decoding: Decoding,
    /// Where utterances start and end.
    pub endpoint: EndpointConfig,
    /// A Moonshine model directory: every command the grammar finds must
    /// agree with Moonshine's open-vocabulary transcript of the utterance
    /// ([`crate::understand::AgreementRule::DEFAULT`]), which rejects most
    /// speech that is not a command; `None`: the acoustic rejection only.
    /// [`SpeechConfig::with_agreement_if_installed`] sets it for English.
    pub agreement: Option<PathBuf>,
    /// A Moonshine model directory: wildcard slots ("add {item} to my
    /// shopping list"), which the grammar cannot enumerate, are understood
    /// from its transcript (of every utterance when the intents have
    /// wildcards, else of those the grammar gave no sure command for;
    /// [`crate::understand::Understander::set_open_vocabulary`]);
    /// `None`: the grammar decoder's own free decoding.
    /// [`SpeechConfig::with_open_vocabulary_if_installed`] sets it for English.
    pub open_vocabulary: Option<PathBuf>,
    /// Clean the audio with RNNoise before it is heard
    /// ([`crate::understand::Understander::set_denoise`]); off by default.
    pub denoise: bool,
    /// When speech is "not a command" and when a command is too unsure to
    /// act on without asking "Did you say …?" first
    /// ([`crate::understand::Rejection::sure_word_loop_ratio`]); the
    /// calibrated default asks below a word-loop ratio of
    /// [`crate::understand::Rejection::DEFAULT_SURE_WORD_LOOP_RATIO`] and
    /// about reconstructed commands.
    pub rejection: crate::understand::Rejection,
}

impl SpeechConfig {
    /// With rejection by agreement when this config decodes English with a
    /// grammar and `registry` holds the Moonshine English model.
    pub fn with_agreement_if_installed(mut self, registry: &emma_speech::ModelRegistry) -> Self {
        self.agreement = self.installed_moonshine(registry);
        self
    }

    /// With open vocabulary for wildcard slots when this config decodes
    /// English with a grammar and `registry` holds the Moonshine English model.
    pub fn with_open_vocabulary_if_installed(
        mut self,
        registry: &emma_speech::ModelRegistry,
    ) -> Self {
        self.open_vocabulary = self.installed_moonshine(registry);
        self
    }

    /// The Moonshine English model in `registry`, when this config decodes
    /// English with a grammar and the engine is built in.
    fn installed_moonshine(&self, registry: &emma_speech::ModelRegistry) -> Option<PathBuf> {
        let english = self
            .model_language
            .as_deref()
            .is_some_and(|l| emma_speech::model::same_language(l, "en"));
        (english && self.decoding == Decoding::Grammar && Engine::Moonshine.is_enabled())
            .then(|| registry.moonshine_english())
            .flatten()
    }

    /// PocketSphinx with Debian's US English model, restricted to the intents' grammar.
    pub fn pocketsphinx_en_us() -> SpeechConfig {
        SpeechConfig {
            engine: Engine::PocketSphinx,
            model: PathBuf::from(emma_speech::POCKETSPHINX_EN_US),
            model_language: Some("en".into()),
            decoding: Decoding::Grammar,
            endpoint: EndpointConfig::default(),
            agreement: None,
            open_vocabulary: None,
            denoise: false,
            rejection: Default::default(),
        }
    }
}

/// Wake-word settings: with a wake word, audio is ignored until the phrase
/// is heard; then one command is understood and the assistant sleeps again.
#[derive(Debug, Clone)]
pub struct WakeConfig {
    /// The phrase, e.g. `hey emma` or `computer`.
    pub phrase: String,
    /// The detector (PocketSphinx keyphrase spotting works for any phrase in its dictionary).
    pub engine: emma_speech::wake::WakeEngine,
    /// Detector options (threshold; `None` fields use the measured defaults).
    pub options: emma_speech::wake::WakeOptions,
}

impl WakeConfig {
    /// PocketSphinx keyphrase spotting for `phrase` with the default threshold.
    pub fn pocketsphinx(phrase: &str) -> WakeConfig {
        WakeConfig {
            phrase: phrase.to_string(),
            engine: emma_speech::wake::WakeEngine::PocketSphinx,
            options: emma_speech::wake::WakeOptions::default(),
        }
    }
}

/// Speech out.
#[derive(Clone, Default)]
pub enum TtsConfig {
    /// Replies are text only.
    #[default]
    None,
    /// espeak-ng, run as a subprocess (it is GPL-licensed and never linked).
    Espeak {
        /// Voice, e.g. `en-us`; `None` picks one for the language.
        voice: Option<String>,
        /// Words per minute.
        speed: u32,
    },
    /// The app's own speech synthesis.
    Custom(Arc<dyn TextToSpeech>),
}

impl std::fmt::Debug for TtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TtsConfig::None => f.write_str("None"),
            TtsConfig::Espeak { voice, speed } => f
                .debug_struct("Espeak")
                .field("voice", voice)
                .field("speed", speed)
                .finish(),
            TtsConfig::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Which MQTT broker the assistant talks to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BrokerChoice {
    /// The embedded broker on 127.0.0.1 (port 1883 if free, else any free port).
    #[default]
    Embedded,
    /// An external broker: `mqtt://user:pass@host:port`, `mqtts://…`.
    Url(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_fields_are_named() {
        let ok = AssistantConfig::new("/tmp/x", "en");
        ok.validate().unwrap();
        let mut c = ok.clone();
        c.language = "fr".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("language") && e.contains("\"fr\""), "{e}");
        let mut c = ok.clone();
        c.confidence_threshold = 1.5;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("confidence_threshold")
        );
        let mut c = ok.clone();
        c.broker = BrokerChoice::Url("http://nope".into());
        assert!(c.validate().unwrap_err().to_string().contains("broker"));
    }

    #[test]
    fn a_model_for_another_language_is_refused_with_what_to_install() {
        let mut c = AssistantConfig::new("/tmp/x", "de");
        c.speech = Some(SpeechConfig {
            engine: Engine::PocketSphinx,
            model: PathBuf::from("/"),
            model_language: Some("ko".into()),
            decoding: Decoding::Grammar,
            endpoint: EndpointConfig::default(),
            agreement: None,
            open_vocabulary: None,
            denoise: false,
            rejection: Default::default(),
        });
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("\"ko\"") && e.contains("install"), "{e}");
        assert!(same_language("en-us", "en"));
    }
}
