//! What built-in home control says, per language, from YAML files.
//!
//! The files (`responses/en.yaml`, `responses/de.yaml`) follow Home Assistant's
//! `responses` layout — `language`, then `responses.intents.<Intent>.<key>` for
//! what was done and `responses.errors.<key>` for what could not be — with
//! `{placeholders}` instead of Jinja, plus `responses.words` for the small words
//! sentences are built from (joining names, places, states, actions, kinds of
//! device). A new language needs such a file, not code:
//! [`HomeControl::with_responses`](crate::control::HomeControl::with_responses)
//! takes one.
//!
//! A file is checked when it is loaded: every error line and word the planner
//! uses must be there, so a missing line is an error naming the key, not an
//! English fallback at run time.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::device::Domain;
use crate::error::{DevicesError, Result};
use crate::wire::Action;

/// English responses.
pub const EN_RESPONSES: &str = include_str!("../responses/en.yaml");
/// German responses.
pub const DE_RESPONSES: &str = include_str!("../responses/de.yaml");

/// Largest responses file accepted.
const MAX_BYTES: usize = 256 * 1024;

/// Error lines every file must define.
const REQUIRED_ERRORS: [&str; 14] = [
    "not_understood",
    "which_room",
    "which_device",
    "unknown_color",
    "set_to_what",
    "which_position",
    "which_temperature",
    "which_volume",
    "not_supported",
    "cannot",
    "no_area",
    "no_device_named",
    "no_devices_yet",
    "no_device_of_kind",
];

/// The `HassGetState` lines every file must define.
const REQUIRED_STATE: [&str; 4] = ["unknown", "yes", "no", "state"];

/// What home control says in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlResponses {
    language: String,
    intents: BTreeMap<String, BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    words: Words,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    language: String,
    responses: FileResponses,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileResponses {
    intents: BTreeMap<String, BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    words: Words,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Words {
    and: String,
    in_area: String,
    on_floor: String,
    device: String,
    #[serde(default)]
    states: BTreeMap<String, String>,
    actions: BTreeMap<String, String>,
    #[serde(default)]
    kinds: BTreeMap<String, String>,
}

impl ControlResponses {
    /// The built-in responses for `lang` (`en`, `de`).
    pub fn builtin(lang: &str) -> Result<ControlResponses> {
        match lang {
            "en" => ControlResponses::from_yaml(EN_RESPONSES, "built-in responses/en.yaml"),
            "de" => ControlResponses::from_yaml(DE_RESPONSES, "built-in responses/de.yaml"),
            other => Err(DevicesError::Intents {
                origin: "built-in responses".into(),
                reason: format!(
                    "no built-in responses for language {other:?} (have: en, de); give a responses file"
                ),
            }),
        }
    }

    /// The built-in responses for `lang` when there are some, else English.
    ///
    /// For intents loaded from a file in a language without built-in responses;
    /// [`HomeControl::with_responses`](crate::control::HomeControl::with_responses)
    /// replaces them.
    pub fn builtin_or_english(lang: &str) -> ControlResponses {
        let base = lang.split(['-', '_']).next().unwrap_or(lang);
        ControlResponses::builtin(base)
            .or_else(|_| ControlResponses::builtin("en"))
            .expect("the built-in English responses parse (tested)")
    }

    /// Parses a responses file; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<ControlResponses> {
        let bad = |reason: String| DevicesError::Intents {
            origin: origin.to_string(),
            reason,
        };
        if text.len() > MAX_BYTES {
            return Err(bad(format!(
                "{} bytes is more than the {MAX_BYTES} allowed for a responses file",
                text.len()
            )));
        }
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = 16;
        budget.max_aliases = 0;
        budget.max_nodes = 50_000;
        let options = serde_saphyr::options! { budget: Some(budget), strict_booleans: true };
        let file: File =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| bad(e.to_string()))?;
        let r = file.responses;
        for key in REQUIRED_ERRORS {
            if !r.errors.contains_key(key) {
                return Err(bad(format!("responses.errors.{key} is missing")));
            }
        }
        let state = r.intents.get("HassGetState");
        for key in REQUIRED_STATE {
            if !state.is_some_and(|s| s.contains_key(key)) {
                return Err(bad(format!(
                    "responses.intents.HassGetState.{key} is missing"
                )));
            }
        }
        for action in ACTION_KEYS {
            if !r.words.actions.contains_key(action) {
                return Err(bad(format!("responses.words.actions.{action} is missing")));
            }
        }
        if !r
            .intents
            .get("*")
            .is_some_and(|s| s.contains_key("default"))
        {
            return Err(bad(
                "responses.intents.\"*\".default (said for intents without lines) is missing"
                    .into(),
            ));
        }
        Ok(ControlResponses {
            language: file.language,
            intents: r.intents,
            errors: r.errors,
            words: r.words,
        })
    }

    /// The file's language.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The error line `key` with `{placeholders}` filled from `args`.
    pub fn error(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.errors.get(key).map_or(key, String::as_str), args)
    }

    /// What was done: `intent`'s line for the device's domain, else for the action, else its default,
    /// else the `"*"` default. `names` are the devices' names (already joined).
    pub fn done(&self, intent: &str, action: &Action, domain: Domain, names: &str) -> String {
        let value = match action {
            Action::Brightness(v)
            | Action::Position(v)
            | Action::Volume(v)
            | Action::Percentage(v) => v.to_string(),
            Action::Temperature(t) => t.to_string(),
            _ => String::new(),
        };
        let line = self
            .intents
            .get(intent)
            .and_then(|lines| {
                lines
                    .get(domain.as_str())
                    .or_else(|| lines.get(action_key(action)))
                    .or_else(|| lines.get("default"))
            })
            .or_else(|| self.intents.get("*").and_then(|l| l.get("default")))
            .map_or("{names}", String::as_str);
        fill(
            line,
            &[("names", names), ("value", &value), ("intent", intent)],
        )
    }

    /// A `HassGetState` line (`unknown`, `yes`, `no`, `state`) for the device `name` in `state`.
    pub fn state(&self, key: &str, name: &str, state: &str) -> String {
        let line = self
            .intents
            .get("HassGetState")
            .and_then(|l| l.get(key))
            .map_or(key, String::as_str);
        let state = self.words.states.get(state).map_or(state, String::as_str);
        fill(line, &[("name", name), ("state", state)])
    }

    /// Names joined as a list: `a, b and c`.
    pub fn join(&self, mut names: Vec<String>) -> String {
        match names.len() {
            0 => String::new(),
            1 => names.remove(0),
            _ => {
                let last = names.pop().expect("two or more");
                format!("{} {} {last}", names.join(", "), self.words.and)
            }
        }
    }

    /// ` in the kitchen` / ` on the ground floor` / nothing.
    pub fn place(&self, area: Option<&str>, floor: Option<&str>) -> String {
        match (area, floor) {
            (Some(a), _) => fill(&self.words.in_area, &[("area", a)]),
            (None, Some(f)) => fill(&self.words.on_floor, &[("floor", f)]),
            _ => String::new(),
        }
    }

    /// What `action` is called, for "the kettle cannot …".
    pub fn action(&self, action: &Action) -> String {
        let key = match action {
            Action::Set(k, _) => k.as_str(),
            _ => "",
        };
        fill(
            self.words
                .actions
                .get(action_key(action))
                .map_or("", String::as_str),
            &[("key", key)],
        )
    }

    /// What a kind of device is called (`light`, `thermostat`), or the word for any device.
    pub fn kind(&self, domain: Option<Domain>) -> String {
        match domain {
            Some(d) => self
                .words
                .kinds
                .get(d.as_str())
                .cloned()
                .unwrap_or_else(|| d.as_str().replace('_', " ")),
            None => self.words.device.clone(),
        }
    }
}

/// Action keys in `words.actions` and in `intents.<Intent>`.
const ACTION_KEYS: [&str; 11] = [
    "turn_on",
    "turn_off",
    "brightness",
    "color",
    "position",
    "temperature",
    "percentage",
    "volume",
    "pause",
    "play",
    "set",
];

fn action_key(action: &Action) -> &'static str {
    match action {
        Action::TurnOn => "turn_on",
        Action::TurnOff => "turn_off",
        Action::Brightness(_) => "brightness",
        Action::Color(_) => "color",
        Action::Position(_) => "position",
        Action::Temperature(_) => "temperature",
        Action::Percentage(_) => "percentage",
        Action::Volume(_) => "volume",
        Action::Pause => "pause",
        Action::Play => "play",
        Action::Set(..) => "set",
    }
}

/// Replaces each `{name}` in `line` with its value.
fn fill(line: &str, args: &[(&str, &str)]) -> String {
    let mut out = line.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_parse_and_speak_their_language() {
        let en = ControlResponses::builtin("en").unwrap();
        let de = ControlResponses::builtin("de").unwrap();
        assert_eq!(
            en.done("HassTurnOn", &Action::TurnOn, Domain::Cover, "blind"),
            "Opened the blind"
        );
        assert_eq!(
            de.done(
                "HassLightSet",
                &Action::Brightness(40),
                Domain::Light,
                "Lampe"
            ),
            "Lampe auf 40 % gestellt"
        );
        assert_eq!(de.state("yes", "Lampe", "on"), "Ja, Lampe ist an");
        assert_eq!(
            en.join(vec!["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(de.place(Some("Küche"), None), " im Bereich Küche");
        assert_eq!(
            en.done(
                "HassVacuumStart",
                &Action::Set("mode".into(), "x".into()),
                Domain::Vacuum,
                "robot"
            ),
            "Done: robot"
        );
    }

    #[test]
    fn a_new_language_is_a_file() {
        let fr = EN_RESPONSES
            .replace("language: en", "language: fr")
            .replace("Turned on the {names}", "{names} allumé");
        let fr = ControlResponses::from_yaml(&fr, "fr.yaml").unwrap();
        assert_eq!(fr.language(), "fr");
        assert_eq!(
            fr.done("HassTurnOn", &Action::TurnOn, Domain::Light, "la lampe"),
            "la lampe allumé"
        );
    }

    #[test]
    fn a_missing_line_is_an_error_naming_it() {
        let broken = EN_RESPONSES.replace("    which_volume: \"To which volume?\"\n", "");
        let err = ControlResponses::from_yaml(&broken, "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("responses.errors.which_volume is missing"),
            "{err}"
        );
        assert!(err.contains("x.yaml"), "{err}");
        let err = ControlResponses::from_yaml("responses: [", "y.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("y.yaml"), "{err}");
        let huge = "#".repeat(MAX_BYTES + 1);
        assert!(ControlResponses::from_yaml(&huge, "z.yaml").is_err());
    }

    #[test]
    fn unknown_language_falls_back_to_english_only_when_asked() {
        assert!(ControlResponses::builtin("fr").is_err());
        assert_eq!(
            ControlResponses::builtin_or_english("de-AT").language(),
            "de"
        );
        assert_eq!(ControlResponses::builtin_or_english("fr").language(), "en");
    }
}
