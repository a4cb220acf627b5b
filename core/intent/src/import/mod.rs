//! Imports of other assistants' intent formats, converted to hassil YAML so
//! the engine runs them unchanged.
//!
//! - [`rhino_to_hassil`]: a Picovoice Rhino context (`context:` with
//!   `expressions:`, `slots:`, `macros:`).
//! - [`alexa_to_hassil`]: an Alexa Skills Kit interaction model JSON.
//! - [`detect`]: which of these (or hassil YAML) a text is, by content.
//!
//! The output is a hassil intents YAML *string* (`language`, `intents`,
//! `lists`, `expansion_rules`), so it can be inspected, saved and loaded like
//! any hand-written file. Conversion rules are documented on each function.

mod alexa;
mod emit;
mod rhino;

pub use alexa::{alexa_to_hassil, alexa_to_hassil_with_language};
pub use rhino::{rhino_to_hassil, rhino_to_hassil_with_language};

/// The format of an intents text, as told by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// hassil / Home Assistant intents YAML (`language:`, `intents:`, `lists:`…).
    Hassil,
    /// A Picovoice Rhino context YAML (top-level `context:`).
    Rhino,
    /// An Alexa Skills Kit interaction model JSON (`interactionModel` or `languageModel`).
    Alexa,
    /// None of the above.
    Unknown,
}

/// Why an import failed; each variant says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The YAML does not parse (or exceeds the parser's safety budget).
    #[error("line {}: bad yaml: {message}; fix the syntax of the rhino context", line.map_or("?".to_string(), |l| l.to_string()))]
    Yaml {
        /// 1-based line, when the parser reported one.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The JSON does not parse or has the wrong shape.
    #[error("line {line}, column {column}: bad alexa interaction model json: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message (names the missing or mistyped field).
        message: String,
    },
    /// A field is missing or has the wrong content.
    #[error("{path}{}: {message}", line.map_or(String::new(), |l| format!(" (line {l})")))]
    Field {
        /// Path of the field, e.g. `context.expressions.orderDrink[2]`.
        path: String,
        /// 1-based line, when it could be found.
        line: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Tells hassil YAML, a Rhino context and an Alexa model apart by content:
/// JSON with `interactionModel` / `languageModel` is Alexa; YAML with a
/// top-level `context:` key is Rhino; YAML with a top-level `intents:`,
/// `language:`, `lists:` or `expansion_rules:` key is hassil.
pub fn detect(content: &str) -> SourceFormat {
    let trimmed = content.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(v) if v.get("interactionModel").is_some() || v.get("languageModel").is_some() => {
                SourceFormat::Alexa
            }
            _ => SourceFormat::Unknown,
        };
    }
    let mut format = SourceFormat::Unknown;
    for line in content.lines() {
        // Top-level keys only: no indentation, not a comment.
        let Some(key) = line.split(':').next() else {
            continue;
        };
        if line.starts_with([' ', '\t', '#', '-']) || !line.contains(':') {
            continue;
        }
        match key.trim().trim_matches(['"', '\'']) {
            "context" => return SourceFormat::Rhino,
            "intents" | "language" | "lists" | "expansion_rules" | "skip_words" => {
                format = SourceFormat::Hassil;
            }
            _ => {}
        }
    }
    format
}

/// Converts Rhino or Alexa text to hassil YAML for `lang`; hassil YAML (and
/// anything unrecognised, which the YAML loader then reports) is returned
/// unchanged.
pub fn to_hassil(content: &str, lang: &str) -> Result<String, ImportError> {
    match detect(content) {
        SourceFormat::Rhino => rhino_to_hassil_with_language(content, lang),
        SourceFormat::Alexa => alexa_to_hassil_with_language(content, lang),
        SourceFormat::Hassil | SourceFormat::Unknown => Ok(content.to_string()),
    }
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let at = text.find(needle)?;
    Some(text[..at].matches('\n').count() + 1)
}

/// A name usable as a hassil list or rule name (`AMAZON.Color` → `AMAZON_Color`).
fn list_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect("context:\n  expressions: {}\n"), SourceFormat::Rhino);
        assert_eq!(
            detect("# comment\nlanguage: en\nintents: {}\n"),
            SourceFormat::Hassil
        );
        assert_eq!(
            detect("{\"interactionModel\": {\"languageModel\": {}}}"),
            SourceFormat::Alexa
        );
        assert_eq!(detect("  {\"languageModel\": {}}"), SourceFormat::Alexa);
        assert_eq!(detect("{\"foo\": 1}"), SourceFormat::Unknown);
        assert_eq!(detect("{not json"), SourceFormat::Unknown);
        assert_eq!(detect("hello: world"), SourceFormat::Unknown);
        assert_eq!(detect(""), SourceFormat::Unknown);
        // An indented `context:` is not the Rhino top level.
        assert_eq!(
            detect("intents:\n  context:\n    x: 1\n"),
            SourceFormat::Hassil
        );
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(list_name("AMAZON.Color"), "AMAZON_Color");
        assert_eq!(list_name("pv.TwoDigitInteger"), "pv_TwoDigitInteger");
    }
}
