//! Alexa Skills Kit interaction models → hassil YAML.
//!
//! From `interactionModel.languageModel` (or a bare `languageModel`):
//! - each intent's `samples` become its sentences; `{Slot}` becomes
//!   `{Type:Slot}`, one hassil list per slot *type*;
//! - custom `types[].values[]` become list values: the value and each synonym
//!   are inputs (`in`), all reporting the canonical `name.value` (`out`);
//! - built-in types: `AMAZON.NUMBER` → range 0–1000,
//!   `AMAZON.FOUR_DIGIT_NUMBER` → range 0–9999; every other `AMAZON.*` type
//!   (`AMAZON.DATE`, `AMAZON.City`, `AMAZON.SearchQuery`, …) → a wildcard,
//!   unless `types` extends it with values, which then form its list;
//! - built-in intents without samples get English sentences for
//!   `AMAZON.StopIntent`, `CancelIntent`, `HelpIntent`, `YesIntent`,
//!   `NoIntent`, `PauseIntent`, `ResumeIntent`, `RepeatIntent`, `NextIntent`,
//!   `PreviousIntent`, `StartOverIntent` when the language is English; other
//!   sample-less intents (`AMAZON.FallbackIntent`, `AMAZON.NavigateHomeIntent`)
//!   are left out, since they have nothing to match.
//!
//! `dialog` and `prompts` are ignored: they are about conversations, not
//! sentence matching.

use serde::Deserialize;

use super::emit::{Document, List, TEMPLATE_SYNTAX};
use super::{ImportError, line_of, list_name};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Root {
    interaction_model: Option<InteractionModel>,
    language_model: Option<LanguageModel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InteractionModel {
    language_model: LanguageModel,
}

#[derive(Deserialize)]
struct LanguageModel {
    intents: Vec<Intent>,
    #[serde(default)]
    types: Vec<SlotType>,
}

#[derive(Deserialize)]
struct Intent {
    name: String,
    #[serde(default)]
    slots: Vec<Slot>,
    #[serde(default)]
    samples: Vec<String>,
}

#[derive(Deserialize)]
struct Slot {
    name: String,
    #[serde(rename = "type")]
    slot_type: String,
}

#[derive(Deserialize)]
struct SlotType {
    name: String,
    #[serde(default)]
    values: Vec<TypeValue>,
}

#[derive(Deserialize)]
struct TypeValue {
    name: ValueName,
}

#[derive(Deserialize)]
struct ValueName {
    value: String,
    #[serde(default)]
    synonyms: Vec<String>,
}

/// Sentences for sample-less built-in intents (English).
const BUILTIN_SENTENCES: &[(&str, &[&str])] = &[
    (
        "AMAZON.StopIntent",
        &["stop", "(shut up|be quiet)", "stop (it|that)"],
    ),
    (
        "AMAZON.CancelIntent",
        &["cancel", "never mind", "forget it"],
    ),
    (
        "AMAZON.HelpIntent",
        &["help", "help me", "what can (I|you) (say|do)"],
    ),
    ("AMAZON.YesIntent", &["(yes|yeah|yep|sure|okay)"]),
    ("AMAZON.NoIntent", &["(no|nope|no thanks)"]),
    ("AMAZON.PauseIntent", &["pause", "pause (it|that)"]),
    (
        "AMAZON.ResumeIntent",
        &["(resume|continue)", "(resume|continue) (it|that)"],
    ),
    (
        "AMAZON.RepeatIntent",
        &["(repeat|say that again)", "repeat (it|that)"],
    ),
    ("AMAZON.NextIntent", &["(next|skip)", "next one"]),
    (
        "AMAZON.PreviousIntent",
        &["(previous|go back)", "previous one"],
    ),
    ("AMAZON.StartOverIntent", &["(start over|restart)"]),
];

/// Converts an Alexa interaction model JSON to a hassil intents YAML for
/// English; see the module docs for the mapping.
pub fn alexa_to_hassil(json: &str) -> Result<String, ImportError> {
    alexa_to_hassil_with_language(json, "en")
}

/// Converts an Alexa interaction model JSON to a hassil intents YAML for
/// `lang` (a model file does not name its locale).
pub fn alexa_to_hassil_with_language(json: &str, lang: &str) -> Result<String, ImportError> {
    let root: Root = serde_json::from_str(json).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    })?;
    let (model, prefix) = match (root.interaction_model, root.language_model) {
        (Some(m), _) => (m.language_model, "interactionModel.languageModel"),
        (None, Some(m)) => (m, "languageModel"),
        (None, None) => {
            return Err(ImportError::Field {
                path: "interactionModel.languageModel".into(),
                line: Some(1),
                message:
                    "missing; an alexa interaction model has interactionModel.languageModel.intents"
                        .into(),
            });
        }
    };
    let field = |path: String, needle: &str, message: String| ImportError::Field {
        path,
        line: line_of(json, needle),
        message,
    };

    let mut out = Document {
        language: lang.to_string(),
        ..Document::default()
    };
    for (t, slot_type) in model.types.iter().enumerate() {
        let mut values = Vec::new();
        for (v, value) in slot_type.values.iter().enumerate() {
            let canonical = value.name.value.trim().to_string();
            for (s, phrase) in std::iter::once(&value.name.value)
                .chain(&value.name.synonyms)
                .enumerate()
            {
                let phrase = phrase.trim();
                let path = if s == 0 {
                    format!("{prefix}.types[{t}].values[{v}].name.value")
                } else {
                    format!("{prefix}.types[{t}].values[{v}].name.synonyms[{}]", s - 1)
                };
                if phrase.is_empty() {
                    return Err(field(path, &slot_type.name, "is empty".into()));
                }
                if let Some(c) = phrase.chars().find(|c| TEMPLATE_SYNTAX.contains(c)) {
                    return Err(field(
                        path,
                        phrase,
                        format!("{phrase:?} contains {c:?}; remove it"),
                    ));
                }
                if !values.iter().any(|(i, _): &(String, String)| i == phrase) {
                    values.push((phrase.to_string(), canonical.clone()));
                }
            }
        }
        out.lists
            .push((list_name(&slot_type.name), List::Values(values)));
    }

    let english = lang.to_ascii_lowercase().starts_with("en");
    let mut builtin_types: Vec<String> = Vec::new();
    for (i, intent) in model.intents.iter().enumerate() {
        let path = format!("{prefix}.intents[{i}]");
        let mut sentences = Vec::new();
        for (s, sample) in intent.samples.iter().enumerate() {
            let sample_path = format!("{path}.samples[{s}]");
            let sentence = convert_sample(sample, &intent.slots, &model.types, &mut builtin_types)
                .map_err(|m| field(sample_path, sample, m))?;
            sentences.push(sentence);
        }
        if sentences.is_empty()
            && english
            && let Some((_, builtin)) = BUILTIN_SENTENCES.iter().find(|(n, _)| *n == intent.name)
        {
            sentences.extend(builtin.iter().map(|s| s.to_string()));
        }
        if !sentences.is_empty() {
            out.intents.push((intent.name.clone(), sentences));
        }
    }
    for builtin in builtin_types {
        let list = match builtin.as_str() {
            "AMAZON.NUMBER" => List::Range { from: 0, to: 1000 },
            "AMAZON.FOUR_DIGIT_NUMBER" => List::Range { from: 0, to: 9999 },
            _ => List::Wildcard,
        };
        out.lists.push((list_name(&builtin), list));
    }
    Ok(out.render())
}

/// `order a {Size} {Drink}` → `order a {SizeType:Size} {DrinkType:Drink}`.
fn convert_sample(
    sample: &str,
    slots: &[Slot],
    types: &[SlotType],
    builtin_types: &mut Vec<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = sample;
    while let Some(open) = rest.find('{') {
        let literal = &rest[..open];
        check_literal(literal)?;
        out.push_str(literal);
        let close = rest[open..]
            .find('}')
            .map(|c| c + open)
            .ok_or_else(|| format!("'{{' without '}}' in sample {sample:?}"))?;
        let name = rest[open + 1..close].trim();
        let slot = slots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("sample uses slot {{{name}}}, which the intent's slots do not declare; add it to slots"))?;
        let declared = types.iter().any(|t| t.name == slot.slot_type);
        if !declared {
            if !slot.slot_type.starts_with("AMAZON.") {
                return Err(format!(
                    "slot {name} has type {}, which is neither in types nor an AMAZON.* built-in",
                    slot.slot_type
                ));
            }
            if !builtin_types.contains(&slot.slot_type) {
                builtin_types.push(slot.slot_type.clone());
            }
        }
        out.push_str(&format!("{{{}:{name}}}", list_name(&slot.slot_type)));
        rest = &rest[close + 1..];
    }
    check_literal(rest)?;
    out.push_str(rest);
    Ok(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn check_literal(text: &str) -> Result<(), String> {
    match text.chars().find(|c| TEMPLATE_SYNTAX.contains(c)) {
        Some(c) => Err(format!(
            "{c:?} in sample text; alexa samples are plain words and {{Slot}} references"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"{
  "interactionModel": {
    "languageModel": {
      "invocationName": "kitchen",
      "intents": [
        {"name": "AMAZON.StopIntent", "samples": []},
        {"name": "AMAZON.FallbackIntent", "samples": []},
        {"name": "SetTimer", "slots": [{"name": "Minutes", "type": "AMAZON.NUMBER"}],
         "samples": ["set a timer for {Minutes} minutes"]}
      ],
      "types": []
    }
  }
}"#;

    #[test]
    fn builtins() {
        let yaml = alexa_to_hassil(MODEL).unwrap();
        assert!(yaml.contains("\"AMAZON.StopIntent\":"), "{yaml}");
        assert!(!yaml.contains("FallbackIntent"), "{yaml}");
        assert!(
            yaml.contains("\"set a timer for {AMAZON_NUMBER:Minutes} minutes\""),
            "{yaml}"
        );
        assert!(
            yaml.contains("\"AMAZON_NUMBER\":\n    range:\n      from: 0\n      to: 1000\n"),
            "{yaml}"
        );
        // Not English: no invented sentences for built-in intents.
        let yaml = alexa_to_hassil_with_language(MODEL, "de").unwrap();
        assert!(!yaml.contains("StopIntent"), "{yaml}");
    }

    #[test]
    fn errors_name_path_and_line() {
        let bad = MODEL.replace("{Minutes} minutes", "{Hours} hours");
        let err = alexa_to_hassil(&bad).unwrap_err();
        let ImportError::Field {
            path,
            line,
            message,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(path, "interactionModel.languageModel.intents[2].samples[0]");
        assert_eq!(*line, Some(9));
        assert!(message.contains("{Hours}"), "{message}");

        let err = alexa_to_hassil(r#"{"interactionModel": {"languageModel": {"types": []}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `intents`"), "{err}");
        let err = alexa_to_hassil("{\n  \"interactionModel\": [\n").unwrap_err();
        assert!(matches!(err, ImportError::Json { line: 3, .. }), "{err}");
        let err = alexa_to_hassil(r#"{"foo": 1}"#).unwrap_err();
        assert!(
            err.to_string().contains("interactionModel.languageModel"),
            "{err}"
        );
        let bad = MODEL.replace("AMAZON.NUMBER", "NumberType");
        assert!(
            alexa_to_hassil(&bad)
                .unwrap_err()
                .to_string()
                .contains("NumberType")
        );
    }
}
