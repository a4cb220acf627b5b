//! The conversation's memory between utterances, and the words it speaks
//! and understands.
//!
//! A [`Session`] remembers, for [`AssistantConfig::session_timeout`](super::AssistantConfig::session_timeout)
//! after the last turn, what Emma asked and the devices of the last command:
//! - a missing slot (`"turn on the light"` → "In which room?" → `"the kitchen"`),
//! - a confirmation (unlocking a door, a skill's order proposal) waiting for yes or no,
//! - a skill's follow-up: the next answer goes back to that skill first,
//! - the devices "it" and "them" refer to.
//!
//! Everything Emma says here comes from per-language [`Responses`] files
//! (`responses/<lang>.yaml`, Home Assistant's `responses` layout with
//! `{placeholders}`), not from Rust tables: a new language needs a file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emma_devices::control::Slots;
use serde::Deserialize;

use super::error::AssistantError;

/// Who owns the dialog's own intents in the routing table.
pub const DIALOG: &str = "dialog";

/// The dialog's own intents: answers that mean something only after a question.
pub const DIALOG_INTENTS: [&str; 4] = ["EmmaYes", "EmmaNo", "EmmaCancel", "EmmaRoom"];

/// English dialog responses.
pub const EN_RESPONSES: &str = include_str!("responses/en.yaml");
/// German dialog responses.
pub const DE_RESPONSES: &str = include_str!("responses/de.yaml");

/// The dialog's words for one language.
#[derive(Debug, Clone)]
pub struct Responses {
    lines: BTreeMap<String, String>,
    yes: Vec<String>,
    no: Vec<String>,
    cancel: Vec<String>,
    fillers: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    responses: FileResponses,
}

#[derive(Deserialize)]
struct FileResponses {
    dialog: BTreeMap<String, String>,
    words: Words,
}

#[derive(Deserialize)]
struct Words {
    yes: Vec<String>,
    no: Vec<String>,
    cancel: Vec<String>,
    #[serde(default)]
    fillers: Vec<String>,
}

/// Keys every responses file must define.
const REQUIRED: [&str; 19] = [
    "not_understood",
    "low_confidence",
    "cancelled",
    "nothing_to_cancel",
    "too_long",
    "empty",
    "which_room",
    "unknown_room",
    "which_device",
    "confirm_unlock",
    "not_done",
    "ordered",
    "not_ordered",
    "proposal_gone",
    "yes_or_no",
    "skill_failed",
    "cannot_do",
    "refused_action",
    "handoff",
];

impl Responses {
    /// The built-in responses for `lang` (`en`, `de`).
    pub fn builtin(lang: &str) -> Result<Responses, AssistantError> {
        match lang {
            "en" => Responses::from_yaml(EN_RESPONSES, "responses/en.yaml"),
            "de" => Responses::from_yaml(DE_RESPONSES, "responses/de.yaml"),
            other => Err(AssistantError::Config {
                field: "language".into(),
                reason: format!("no dialog responses for {other:?} (have: en, de)"),
            }),
        }
    }

    /// Parses a responses file; a missing key is an error naming it.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Responses, AssistantError> {
        let bad = |reason: String| AssistantError::Config {
            field: format!("responses ({origin})"),
            reason,
        };
        let file: File = serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?;
        for key in REQUIRED {
            if !file.responses.dialog.contains_key(key) {
                return Err(bad(format!("responses.dialog.{key} is missing")));
            }
        }
        let norm = |v: Vec<String>| v.iter().map(|w| normalize(w)).collect();
        Ok(Responses {
            lines: file.responses.dialog,
            yes: norm(file.responses.words.yes),
            no: norm(file.responses.words.no),
            cancel: norm(file.responses.words.cancel),
            fillers: norm(file.responses.words.fillers),
        })
    }

    /// The line `key` with `{name}` placeholders filled from `args`.
    pub fn say(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut line = self
            .lines
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string());
        for (name, value) in args {
            line = line.replace(&format!("{{{name}}}"), value);
        }
        line
    }

    /// What kind of answer `text` is.
    pub fn answer(&self, text: &str) -> Answer {
        let t = normalize(text);
        if self.cancel.contains(&t) {
            Answer::Cancel
        } else if self.yes.contains(&t) {
            Answer::Yes
        } else if self.no.contains(&t) {
            Answer::No
        } else {
            Answer::Other
        }
    }

    /// Templates for the dialog's own answers (yes, no, cancel, a room), so
    /// that speech decoding restricted to the intents' grammar can hear them.
    /// Their intents are [`DIALOG_INTENTS`], owned by [`DIALOG`].
    pub fn dialog_templates(&self, lang: &str) -> String {
        let alts = |words: &[String]| {
            words
                .iter()
                .map(|w| format!("\"{}\"", w.replace('"', "")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let fillers = self
            .fillers
            .iter()
            .map(|f| f.replace(['"', '|', '[', ']', '(', ')'], ""))
            .collect::<Vec<_>>()
            .join("|");
        let room = if fillers.is_empty() {
            "{area}".to_string()
        } else {
            format!("[{fillers}] {{area}}")
        };
        format!(
            "language: {lang}\nintents:\n  EmmaYes:\n    data:\n      - sentences: [{}]\n  EmmaNo:\n    data:\n      - sentences: [{}]\n  EmmaCancel:\n    data:\n      - sentences: [{}]\n  EmmaRoom:\n    data:\n      - sentences: [\"{room}\"]\n",
            alts(&self.yes),
            alts(&self.no),
            alts(&self.cancel),
        )
    }

    /// `text` without leading filler words ("in the kitchen" → "kitchen").
    pub fn strip_fillers(&self, text: &str) -> String {
        let mut t = normalize(text);
        loop {
            let before = t.clone();
            for f in &self.fillers {
                if let Some(rest) = t.strip_prefix(&format!("{f} ")) {
                    t = rest.to_string();
                }
            }
            if t == before {
                return t;
            }
        }
    }
}

/// Lower case, punctuation removed, single spaces.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How an utterance answers a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Yes.
    Yes,
    /// No.
    No,
    /// Cancel / never mind.
    Cancel,
    /// Anything else.
    Other,
}

/// What Emma is waiting for.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// A built-in intent lacks its place: the answer names a room.
    Room {
        /// The intent.
        intent: String,
        /// Its slots so far.
        slots: Slots,
        /// Confidence of the original match.
        confidence: f32,
    },
    /// A command waits for yes or no: unlocking, or a command heard
    /// without enough certainty ("Did you say …?").
    ConfirmCommand {
        /// The intent.
        intent: String,
        /// Its slots.
        slots: Slots,
        /// Confidence of the original match.
        confidence: f32,
        /// Why Emma asks.
        why: Confirming,
    },
    /// A skill's order proposal waits for yes or no.
    ConfirmProposal {
        /// The skill.
        skill: String,
        /// The proposal id.
        id: String,
    },
    /// A skill asked something: its intents get the next answer first.
    FollowUp {
        /// The skill.
        skill: String,
        /// The skill's follow-up topic.
        topic: String,
    },
}

/// Why a command waits for yes or no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirming {
    /// Unlocking can't be undone by voice from outside.
    Unlock,
    /// The command was heard without enough certainty
    /// ([`crate::understand::Unsure`]); a yes handles it as if heard surely.
    Heard,
}

impl Confirming {
    /// The response line for a no.
    pub fn declined(self) -> &'static str {
        match self {
            Confirming::Unlock => "not_done",
            Confirming::Heard => "misheard",
        }
    }
}

/// The conversation's short-term memory.
#[derive(Debug)]
pub struct Session {
    timeout: Duration,
    last_turn: Option<Instant>,
    /// What Emma asked, if anything.
    pub pending: Option<Pending>,
    /// Devices of the last command ("it", "them").
    pub last_devices: Vec<String>,
}

impl Session {
    /// An empty session forgetting after `timeout` of silence.
    pub fn new(timeout: Duration) -> Session {
        Session {
            timeout,
            last_turn: None,
            pending: None,
            last_devices: Vec::new(),
        }
    }

    /// Forgets everything when the last turn is older than the timeout.
    pub fn expire(&mut self, now: Instant) {
        if self
            .last_turn
            .is_some_and(|t| now.duration_since(t) > self.timeout)
        {
            tracing::debug!("dialog session timed out");
            self.pending = None;
            self.last_devices.clear();
        }
    }

    /// Marks a turn at `now`.
    pub fn touch(&mut self, now: Instant) {
        self.last_turn = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_responses_load_for_every_language_and_fill_placeholders() {
        for lang in ["en", "de"] {
            let r = Responses::builtin(lang).unwrap();
            assert!(!r.say("which_room", &[]).is_empty());
            assert!(
                r.say("unknown_room", &[("answer", "attic")])
                    .contains("attic")
            );
        }
        let en = Responses::builtin("en").unwrap();
        assert_eq!(en.answer("Yes."), Answer::Yes);
        assert_eq!(en.answer("no thanks"), Answer::No);
        assert_eq!(en.answer("never mind"), Answer::Cancel);
        assert_eq!(en.answer("yes turn on the oven"), Answer::Other);
        assert_eq!(en.strip_fillers("in the Kitchen"), "kitchen");
        let de = Responses::builtin("de").unwrap();
        assert_eq!(de.answer("Ja"), Answer::Yes);
        assert_eq!(de.strip_fillers("im Wohnzimmer"), "wohnzimmer");
    }

    #[test]
    fn dialog_templates_compile_and_hear_answers() {
        for lang in ["en", "de"] {
            let r = Responses::builtin(lang).unwrap();
            let mut engine =
                emma_intent::IntentEngine::from_yaml_str(&r.dialog_templates(lang), "dialog", lang)
                    .unwrap();
            engine.set_list(
                "area",
                vec![emma_intent::ListValue::new("kitchen", "kitchen")],
            );
            let ctx = emma_intent::Context::new();
            let yes = if lang == "en" { "yes" } else { "ja" };
            assert_eq!(engine.recognize(yes, &ctx).best.unwrap().intent, "EmmaYes");
            let room = if lang == "en" {
                "in the kitchen"
            } else {
                "im kitchen"
            };
            assert_eq!(
                engine.recognize(room, &ctx).best.unwrap().intent,
                "EmmaRoom"
            );
        }
    }

    #[test]
    fn a_responses_file_missing_a_line_names_it() {
        let e = Responses::from_yaml(
            "language: xx\nresponses:\n  dialog:\n    not_understood: x\n  words:\n    \"yes\": []\n    \"no\": []\n    cancel: []\n",
            "xx.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("xx.yaml") && e.contains("low_confidence"), "{e}");
    }

    #[test]
    fn sessions_forget_after_the_timeout() {
        let mut s = Session::new(Duration::from_secs(8));
        let t0 = Instant::now();
        s.touch(t0);
        s.last_devices.push("light.kitchen".into());
        s.expire(t0 + Duration::from_secs(5));
        assert_eq!(s.last_devices.len(), 1);
        s.expire(t0 + Duration::from_secs(9));
        assert!(s.last_devices.is_empty());
    }
}
