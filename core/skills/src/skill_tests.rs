//! A skill's own test cases (`skill-tests.toml`), run against its component.
//!
//! Brands list cases as `[[case]]` tables beside `skill.toml`; `emma skill
//! test` and the bindings run them through [`run`]. Each case loads a fresh
//! instance (in-memory store, its own simulated devices and grants), sends
//! one intent or one device event, and checks the reply, effects, denials or
//! the skill's error:
//!
//! ```toml
//! [[case]]
//! name = "orders a large latte"
//! intent = "OrderDrink"
//! slots = { drink = "latte", size = "large" }
//! devices = { "coffee.machine" = "idle" }
//! speech_contains = ["large latte"]
//! effects = ["device-control"]
//!
//! [[case]]
//! name = "low beans proposes a reorder"
//! event = "coffee.machine:bean-level=12"
//! grants = ["store"]          # default: everything the manifest asks for
//! denied = ["order:propose"]
//! error = "denied"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::{
    Bundle, CompiledSkill, DeviceEvent, LocalServices, Outcome, Permission, PermissionSet, Reply,
    Request, SkillDb, SkillRuntime,
};

/// The file name `emma skill test DIR` reads from the skill crate.
pub const FILE_NAME: &str = "skill-tests.toml";

/// Why a test file could not be read or a case is malformed.
#[derive(Debug, thiserror::Error)]
pub enum SkillTestError {
    /// The file could not be read.
    #[error("cannot read {}: {source} (list cases as [[case]] tables)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped fields.
    #[error("{origin}: {message}")]
    Parse {
        /// File name or other origin.
        origin: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// The file has no `[[case]]` tables.
    #[error("{origin}: no test cases; list them as [[case]] tables")]
    Empty {
        /// File name or other origin.
        origin: String,
    },
    /// A case is malformed (checked before anything runs).
    #[error("{origin}: case `{case}`: {message}")]
    BadCase {
        /// File name or other origin.
        origin: String,
        /// The case's name.
        case: String,
        /// What is wrong.
        message: String,
    },
}

/// A parsed `skill-tests.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases, in file order.
    #[serde(rename = "case", default)]
    pub cases: Vec<TestCase>,
}

/// One `[[case]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Shown in the report.
    pub name: String,
    /// The intent to send (exactly one of `intent` and `event`).
    #[serde(default)]
    pub intent: Option<String>,
    /// A device event `DEVICE:KIND=VALUE` to send instead of an intent.
    #[serde(default)]
    pub event: Option<String>,
    /// The request's language (default `en`).
    #[serde(default = "default_lang")]
    pub lang: String,
    /// Slots of the intent.
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    /// Permissions granted for the case; default: every permission the manifest declares.
    #[serde(default)]
    pub grants: Option<Vec<String>>,
    /// Simulated devices `id = state`.
    #[serde(default)]
    pub devices: BTreeMap<String, String>,
    /// Substrings the reply's speech must contain (case-insensitive).
    #[serde(default)]
    pub speech_contains: Vec<String>,
    /// Whether the reply must (or must not) hand off to a human.
    #[serde(default)]
    pub handoff: Option<bool>,
    /// Effect types that must occur (`device-control`, `order-proposal`, …).
    #[serde(default)]
    pub effects: Vec<String>,
    /// Permissions that must have been denied.
    #[serde(default)]
    pub denied: Vec<String>,
    /// The skill must answer with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
}

fn default_lang() -> String {
    "en".into()
}

/// What a case sends to the skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An intent request.
    Intent(Request),
    /// A device event.
    Event(DeviceEvent),
}

impl TestFile {
    /// Parses the text of a test file; `origin` names it in errors. Every
    /// case is checked (one trigger, well-formed event and grants) before
    /// anything runs, so a typo is an error, not a failing case.
    pub fn parse(text: &str, origin: &str) -> Result<TestFile, SkillTestError> {
        let file: TestFile = toml::from_str(text).map_err(|e| SkillTestError::Parse {
            origin: origin.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        if file.cases.is_empty() {
            return Err(SkillTestError::Empty {
                origin: origin.to_string(),
            });
        }
        for case in &file.cases {
            let bad = |message: String| SkillTestError::BadCase {
                origin: origin.to_string(),
                case: case.name.clone(),
                message,
            };
            case.trigger().map_err(bad)?;
            case.permissions().map_err(bad)?;
        }
        Ok(file)
    }

    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<TestFile, SkillTestError> {
        let text = std::fs::read_to_string(path).map_err(|source| SkillTestError::Read {
            path: path.to_owned(),
            source,
        })?;
        TestFile::parse(&text, &path.display().to_string())
    }
}

impl TestCase {
    /// The request or event this case sends.
    pub fn trigger(&self) -> Result<Trigger, String> {
        match (&self.intent, &self.event) {
            (Some(intent), None) => {
                let mut req = Request::new(intent.clone(), self.lang.clone());
                for (k, v) in &self.slots {
                    req = req.slot(k.clone(), v.clone());
                }
                Ok(Trigger::Intent(req))
            }
            (None, Some(spec)) => parse_event(spec).map(Trigger::Event),
            _ => Err("give exactly one of `intent` and `event`".into()),
        }
    }

    /// The grants for this case: its `grants`, or `None` for "whatever the manifest declares".
    pub fn permissions(&self) -> Result<Option<Vec<Permission>>, String> {
        self.grants
            .as_ref()
            .map(|g| {
                g.iter()
                    .map(|p| {
                        p.parse::<Permission>()
                            .map_err(|e| format!("grant `{p}`: {e}"))
                    })
                    .collect()
            })
            .transpose()
    }
}

/// Parses a device event written `DEVICE:KIND=VALUE` (`coffee.machine:bean-level=12`).
pub fn parse_event(spec: &str) -> Result<DeviceEvent, String> {
    let expected = || format!("event `{spec}`: expected DEVICE:KIND=VALUE");
    let (device, rest) = spec.split_once(':').ok_or_else(expected)?;
    let (kind, value) = rest.split_once('=').ok_or_else(expected)?;
    if device.trim().is_empty() || kind.trim().is_empty() {
        return Err(expected());
    }
    Ok(DeviceEvent {
        device: device.trim().into(),
        kind: kind.trim().into(),
        value: value.trim().into(),
    })
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// `None` when it passed, else why it failed.
    pub failure: Option<String>,
}

/// The results of a whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// One result per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_none()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

/// Runs every case of `file` against `compiled` (the component of `bundle`),
/// each in a fresh instance. `on_case` sees each result as it is known.
pub fn run(
    runtime: &SkillRuntime,
    compiled: &CompiledSkill,
    bundle: &Bundle,
    file: &TestFile,
    on_case: &mut dyn FnMut(&CaseResult),
) -> Report {
    let mut report = Report::default();
    for case in &file.cases {
        let result = CaseResult {
            name: case.name.clone(),
            failure: run_case(runtime, compiled, bundle, case).err(),
        };
        on_case(&result);
        report.cases.push(result);
    }
    report
}

/// Runs one case; `Err` says why it failed.
pub fn run_case(
    runtime: &SkillRuntime,
    compiled: &CompiledSkill,
    bundle: &Bundle,
    case: &TestCase,
) -> Result<(), String> {
    let grants = case
        .permissions()?
        .unwrap_or_else(|| bundle.manifest.permissions.iter().cloned().collect());
    let mut services = LocalServices::new();
    for (id, state) in &case.devices {
        services = services.with_device(id, state);
    }
    let db = SkillDb::in_memory().map_err(|e| format!("opening an in-memory store: {e}"))?;
    let mut skill = runtime
        .load(
            compiled,
            &bundle.manifest,
            PermissionSet::new(grants),
            db,
            Arc::new(services),
        )
        .map_err(|e| format!("loading the skill: {e}"))?;
    let outcome: Outcome<Reply> = match case.trigger()? {
        Trigger::Intent(req) => skill.handle_intent(&req).map_err(|e| e.to_string())?,
        Trigger::Event(ev) => skill
            .handle_event(&ev)
            .map_err(|e| e.to_string())?
            .map(|r| r.unwrap_or_else(silent_reply)),
    };
    check(case, &outcome)
}

/// Checks an outcome against a case's expectations.
fn check(case: &TestCase, outcome: &Outcome<Reply>) -> Result<(), String> {
    match (&outcome.result, &case.error) {
        (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => {}
        (Err(e), Some(want)) => {
            return Err(format!("expected an error containing `{want}`, got `{e}`"));
        }
        (Err(e), None) => return Err(format!("skill error: {e}")),
        (Ok(_), Some(want)) => return Err(format!("expected an error containing `{want}`")),
        (Ok(_), None) => {}
    }
    if let Ok(reply) = &outcome.result {
        for want in &case.speech_contains {
            if !reply.speech.to_lowercase().contains(&want.to_lowercase()) {
                return Err(format!(
                    "speech `{}` does not contain `{want}`",
                    reply.speech
                ));
            }
        }
        if let Some(h) = case.handoff
            && h != reply.handoff.is_some()
        {
            return Err(format!("handoff expected {h}, got {:?}", reply.handoff));
        }
    }
    for want in &case.effects {
        let found = outcome.effects.iter().any(|e| {
            serde_json::to_value(e)
                .ok()
                .is_some_and(|v| v["type"].as_str() == Some(want.as_str()))
        });
        if !found {
            return Err(format!(
                "expected a `{want}` effect, got {:?}",
                outcome.effects
            ));
        }
    }
    for want in &case.denied {
        if !outcome.denials.iter().any(|d| &d.permission == want) {
            return Err(format!(
                "expected `{want}` to be denied, denials: {:?}",
                outcome.denials
            ));
        }
    }
    Ok(())
}

/// The reply of an event the skill chose not to answer.
fn silent_reply() -> Reply {
    Reply {
        speech: String::new(),
        card: None,
        data: None,
        follow_up: None,
        actions: vec![],
        handoff: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Denial, Effect, GuestError};

    fn case(toml_text: &str) -> TestCase {
        TestFile::parse(toml_text, "t.toml")
            .unwrap()
            .cases
            .remove(0)
    }

    fn reply(speech: &str) -> Reply {
        Reply {
            speech: speech.into(),
            ..silent_reply()
        }
    }

    #[test]
    fn parses_intent_and_event_cases() {
        let file = TestFile::parse(
            "[[case]]\nname = \"a\"\nintent = \"Hello\"\nslots = { name = \"Ann\" }\nlang = \"de\"\n\n[[case]]\nname = \"b\"\nevent = \"coffee.machine:bean-level=12\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(file.cases.len(), 2);
        assert_eq!(
            file.cases[0].trigger().unwrap(),
            Trigger::Intent(Request::new("Hello", "de").slot("name", "Ann"))
        );
        assert_eq!(
            file.cases[1].trigger().unwrap(),
            Trigger::Event(DeviceEvent {
                device: "coffee.machine".into(),
                kind: "bean-level".into(),
                value: "12".into()
            })
        );
    }

    #[test]
    fn malformed_files_and_cases_are_errors_naming_the_file_and_case() {
        let e = TestFile::parse("[[case]]\nname = \"x\"\nintnet = \"Hello\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:") && e.contains("intnet"), "{e}");
        let e = TestFile::parse("", "t.toml").unwrap_err().to_string();
        assert!(e.contains("no test cases"), "{e}");
        let e = TestFile::parse(
            "[[case]]\nname = \"both\"\nintent = \"A\"\nevent = \"d:k=v\"\n",
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("case `both`") && e.contains("exactly one"),
            "{e}"
        );
        let e = TestFile::parse("[[case]]\nname = \"ev\"\nevent = \"no-colon\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("DEVICE:KIND=VALUE"), "{e}");
        let e = TestFile::parse(
            "[[case]]\nname = \"g\"\nintent = \"A\"\ngrants = [\"not a permission\"]\n",
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("grant `not a permission`"), "{e}");
        let e = TestFile::read(Path::new("/nonexistent/skill-tests.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/skill-tests.toml"), "{e}");
    }

    #[test]
    fn parse_event_rejects_missing_parts() {
        assert!(parse_event(":kind=1").is_err());
        assert!(parse_event("dev:=1").is_err());
        assert!(parse_event("dev:kind").is_err());
        assert_eq!(parse_event("d:k=").unwrap().value, "");
    }

    #[test]
    fn check_compares_speech_effects_denials_and_errors() {
        let c = case(
            "[[case]]\nname = \"c\"\nintent = \"A\"\nspeech_contains = [\"LARGE latte\"]\neffects = [\"device-control\"]\n",
        );
        let mut outcome = Outcome {
            skill: "test".into(),
            refused_actions: vec![],
            result: Ok(reply("A large latte is coming")),
            effects: vec![Effect::DeviceControl {
                device: "coffee.machine".into(),
                command: "brew".into(),
                value: None,
            }],
            denials: vec![],
        };
        assert_eq!(check(&c, &outcome), Ok(()));
        outcome.effects.clear();
        assert!(check(&c, &outcome).unwrap_err().contains("device-control"));
        outcome.result = Ok(reply("An espresso"));
        assert!(
            check(&c, &outcome)
                .unwrap_err()
                .contains("does not contain")
        );

        let c = case(
            "[[case]]\nname = \"d\"\nintent = \"A\"\nerror = \"denied\"\ndenied = [\"order:propose\"]\n",
        );
        let mut outcome = Outcome {
            skill: "test".into(),
            refused_actions: vec![],
            result: Err(GuestError::Denied("order:propose".into())),
            effects: vec![],
            denials: vec![Denial {
                permission: "order:propose".into(),
                reason: "not granted by the customer".into(),
            }],
        };
        assert_eq!(check(&c, &outcome), Ok(()));
        outcome.denials.clear();
        assert!(check(&c, &outcome).unwrap_err().contains("to be denied"));
        outcome.result = Ok(reply("ok"));
        assert!(
            check(&c, &outcome)
                .unwrap_err()
                .contains("expected an error")
        );
        outcome.result = Err(GuestError::Failed("boom".into()));
        assert!(check(&c, &outcome).unwrap_err().contains("boom"));
    }

    #[test]
    fn report_counts() {
        let r = Report {
            cases: vec![
                CaseResult {
                    name: "a".into(),
                    failure: None,
                },
                CaseResult {
                    name: "b".into(),
                    failure: Some("x".into()),
                },
            ],
        };
        assert_eq!((r.passed(), r.failed()), (1, 1));
    }
}
