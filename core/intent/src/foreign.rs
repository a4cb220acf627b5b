//! Content detection for intent files that are not hassil YAML (Rhino
//! contexts, Alexa interaction models), converted with [`crate::import`].

use crate::error::{IntentError, Origin};
use crate::import::{self, SourceFormat};

/// Returns hassil YAML for `text`: unchanged when it already is hassil YAML.
pub(crate) fn to_hassil(text: &str, origin: &str, lang: &str) -> Result<String, IntentError> {
    match import::detect(text) {
        SourceFormat::Hassil | SourceFormat::Unknown => Ok(text.to_string()),
        SourceFormat::Rhino | SourceFormat::Alexa => {
            import::to_hassil(text, lang).map_err(|e| IntentError::Import {
                origin: Origin {
                    file: origin.to_string(),
                    line: None,
                },
                message: e.to_string(),
            })
        }
    }
}
