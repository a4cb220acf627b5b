//! The `info` event: which programs (speech to text, intents, handling, wake
//! word, speech out) a service offers, with their models and languages.
//!
//! Every artifact carries `name`, `attribution`, `installed`, `description`
//! and `version`, as the reference's dataclasses require.

use serde::{Deserialize, Serialize};

/// Who made an artifact and where it is from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// Who made it.
    pub name: String,
    /// Where it is from.
    pub url: String,
}

/// The fields every program, model and voice has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Name or id.
    pub name: String,
    /// Who made it.
    pub attribution: Attribution,
    /// Whether it is installed.
    pub installed: bool,
    /// Human-readable description.
    pub description: Option<String>,
    /// Version.
    pub version: Option<String>,
}

impl Artifact {
    /// An installed artifact.
    pub fn new(name: impl Into<String>, description: impl Into<String>, by: Attribution) -> Self {
        Artifact {
            name: name.into(),
            attribution: by,
            installed: true,
            description: Some(description.into()),
            version: None,
        }
    }
}

/// A model (speech, intents, handling, wake word) with its languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Common fields.
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Languages it supports.
    pub languages: Vec<String>,
    /// The wake-up phrase (wake word models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
}

/// A speech-to-text program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsrProgram {
    /// Common fields.
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Its models.
    pub models: Vec<Model>,
    /// Whether it sends `transcript-start`/`-chunk`/`-stop`.
    #[serde(default)]
    pub supports_transcript_streaming: bool,
}

/// An intent recognition or handling program, or a wake word program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelProgram {
    /// Common fields.
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Its models.
    pub models: Vec<Model>,
    /// Handling only: whether it may control devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_home_control: Option<bool>,
}

/// A text-to-speech voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtsVoice {
    /// Common fields.
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Its languages.
    pub languages: Vec<String>,
}

/// A text-to-speech program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtsProgram {
    /// Common fields.
    #[serde(flatten)]
    pub artifact: Artifact,
    /// Its voices.
    pub voices: Vec<TtsVoice>,
}

/// The answer to `describe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// Speech to text.
    #[serde(default)]
    pub asr: Vec<AsrProgram>,
    /// Text to speech.
    #[serde(default)]
    pub tts: Vec<TtsProgram>,
    /// Intent handling.
    #[serde(default)]
    pub handle: Vec<ModelProgram>,
    /// Intent recognition.
    #[serde(default)]
    pub intent: Vec<ModelProgram>,
    /// Wake word detection.
    #[serde(default)]
    pub wake: Vec<ModelProgram>,
    /// Audio input (Emma offers none).
    #[serde(default)]
    pub mic: Vec<serde_json::Value>,
    /// Audio output (Emma offers none).
    #[serde(default)]
    pub snd: Vec<serde_json::Value>,
}
