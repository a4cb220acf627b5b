//! Intents for apps that bring their own speech: parse a sentence against
//! hassil-style templates (`emma_core::intent::IntentEngine`).

use crate::error::EmmaError;
use emma_core::intent::{Context, IntentEngine, IntentMatch};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A compiled set of sentence templates for one language.
#[derive(uniffi::Object)]
pub struct IntentParser {
    inner: Arc<IntentEngine>,
}

/// A recognised intent.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ParsedIntent {
    /// Intent name, e.g. `HassTurnOn`.
    pub name: String,
    /// Slot values by slot name (a list's output value, a number, or the spoken text).
    pub slots: HashMap<String, String>,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The template that matched.
    pub template: String,
}

impl From<&IntentMatch> for ParsedIntent {
    fn from(m: &IntentMatch) -> Self {
        ParsedIntent {
            name: m.intent.to_string(),
            slots: m
                .slots
                .iter()
                .map(|(k, v)| (k.to_string(), v.value.to_string()))
                .collect(),
            confidence: m.confidence,
            template: m.template.to_string(),
        }
    }
}

#[uniffi::export]
impl IntentParser {
    /// Compiles templates from one hassil YAML document (`origin` names it in error messages).
    #[uniffi::constructor]
    pub fn from_yaml(
        yaml: String,
        origin: String,
        language: String,
    ) -> Result<Arc<Self>, EmmaError> {
        Ok(Arc::new(Self {
            inner: Arc::new(IntentEngine::from_yaml_str(&yaml, &origin, &language)?),
        }))
    }

    /// Loads templates from a Home Assistant intents tree, a sentences directory,
    /// one YAML file, a Rhino context or an Alexa model.
    #[uniffi::constructor]
    pub fn from_path(path: String, language: String) -> Result<Arc<Self>, EmmaError> {
        Ok(Arc::new(Self {
            inner: Arc::new(IntentEngine::from_path(Path::new(&path), &language)?),
        }))
    }

    /// The best intent for `sentence`, or `null`/`None`/`nil` when nothing matched
    /// well enough ("I don't know").
    pub fn parse(&self, sentence: String) -> Option<ParsedIntent> {
        self.inner
            .recognize(&sentence, &Context::new())
            .best
            .as_ref()
            .map(ParsedIntent::from)
    }

    /// The best candidate per intent, best first, including those below the threshold.
    pub fn candidates(&self, sentence: String) -> Vec<ParsedIntent> {
        self.inner
            .recognize(&sentence, &Context::new())
            .candidates
            .iter()
            .map(ParsedIntent::from)
            .collect()
    }

    /// The intent names the templates define.
    pub fn intent_names(&self) -> Vec<String> {
        self.inner.intent_names().to_vec()
    }

    /// The templates' language.
    pub fn language(&self) -> String {
        self.inner.language().to_string()
    }
}
