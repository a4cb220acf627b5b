//! Grammar sources as people write them: JSGF, a JSON list of phrases, or
//! the structured JSON form of [`Grammar`]. [`Grammar::from_source`] detects
//! which from the file name and content, so every host (`emma listen
//! --grammar`, the bindings) reads the same files the same way.

use crate::{Grammar, GrammarError};

/// How a grammar source is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrammarFormat {
    /// JSGF (`#JSGF V1.0; public <cmd> = …;`).
    Jsgf,
    /// A JSON array of phrases (`["turn on the light", "stop"]`).
    PhraseList,
    /// The structured JSON form of [`Grammar`] (`{"root": …, "rules": […]}`).
    Json,
}

impl GrammarFormat {
    /// The format of a source named `file_name` with content `text`: JSGF for
    /// a `.jsgf` name or a `#JSGF` header, a phrase list for a JSON array,
    /// else the structured JSON form.
    pub fn detect(file_name: &str, text: &str) -> GrammarFormat {
        let jsgf_name = file_name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("jsgf"));
        let body = text.trim_start_matches('\u{feff}').trim_start();
        if jsgf_name || body.starts_with("#JSGF") {
            GrammarFormat::Jsgf
        } else if body.starts_with('[') {
            GrammarFormat::PhraseList
        } else {
            GrammarFormat::Json
        }
    }
}

impl Grammar {
    /// Parses `text` written in `format`; the result is validated.
    pub fn parse(text: &str, format: GrammarFormat) -> Result<Grammar, GrammarError> {
        let text = text.trim_start_matches('\u{feff}');
        let grammar = match format {
            GrammarFormat::Jsgf => return Grammar::from_jsgf(text),
            GrammarFormat::PhraseList => {
                let phrases: Vec<String> =
                    serde_json::from_str(text).map_err(|e| GrammarError::Json(e.to_string()))?;
                if phrases.iter().all(|p| p.trim().is_empty()) {
                    return Err(GrammarError::EmptyPhraseList);
                }
                let phrases: Vec<&String> =
                    phrases.iter().filter(|p| !p.trim().is_empty()).collect();
                Grammar::from_phrases(&phrases)
            }
            GrammarFormat::Json => {
                serde_json::from_str(text).map_err(|e| GrammarError::Json(e.to_string()))?
            }
        };
        grammar.validate()?;
        Ok(grammar)
    }

    /// Parses a grammar source named `file_name`, detecting its format
    /// ([`GrammarFormat::detect`]).
    pub fn from_source(file_name: &str, text: &str) -> Result<Grammar, GrammarError> {
        Grammar::parse(text, GrammarFormat::detect(file_name, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_formats() {
        assert_eq!(GrammarFormat::detect("a.JSGF", "[x]"), GrammarFormat::Jsgf);
        assert_eq!(
            GrammarFormat::detect("g.txt", "\u{feff}  #JSGF V1.0;\n"),
            GrammarFormat::Jsgf
        );
        assert_eq!(
            GrammarFormat::detect("g.json", " [\"stop\"]"),
            GrammarFormat::PhraseList
        );
        assert_eq!(
            GrammarFormat::detect("g.json", "{\"root\": \"a\"}"),
            GrammarFormat::Json
        );
    }

    #[test]
    fn each_format_parses_to_the_same_grammar() {
        let phrases = Grammar::from_source("p.json", r#"["Turn on", "stop"]"#).unwrap();
        assert_eq!(phrases, Grammar::from_phrases(&["turn on", "stop"]));
        let json = serde_json::to_string(&phrases).unwrap();
        assert_eq!(Grammar::from_source("g.json", &json).unwrap(), phrases);
        let jsgf = Grammar::from_source(
            "g.jsgf",
            "#JSGF V1.0;\ngrammar g;\npublic <command> = turn on | stop;\n",
        )
        .unwrap();
        assert_eq!(jsgf.phrases(10), phrases.phrases(10));
    }

    #[test]
    fn bad_sources_are_clear_errors() {
        let e = Grammar::from_source("p.json", "[]").unwrap_err();
        assert_eq!(e, GrammarError::EmptyPhraseList);
        let e = Grammar::from_source("p.json", "[1, 2]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a JSON list"), "{e}");
        let e = Grammar::from_source("p.json", "\u{0}\u{1} garbage")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a JSON list"), "{e}");
        let e = Grammar::from_source("g.json", r#"{"root": "missing", "rules": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
        assert!(Grammar::from_source("g.jsgf", "public <a> = (x | ;").is_err());
    }
}
