//! The Home Assistant intents test harness (`emma intents test`).
//!
//! For a tree with `sentences/<lang>/` and `tests/<lang>/`, every sentence of
//! every `tests/<lang>/*.yaml` is recognised against all templates of the
//! language, with `_fixtures.yaml` loaded as the `{name}`, `{area}` and
//! `{floor}` lists (entity names carry their `domain` and `device_class` as
//! context). A sentence passes when the intent name is the expected one and
//! the recognised slots are exactly the expected ones, each value matching by
//! Home Assistant's rules (its `tests/test_language_sentences.py`):
//!
//! | expected          | recognised        | passes when                              |
//! |-------------------|-------------------|------------------------------------------|
//! | single value `e`  | single value `a`  | `e == a`                                 |
//! | single value `e`  | list `A`          | `e` is a member of `A`                   |
//! | list `E`          | single value `a`  | `a` is a member of `E` (one of several)  |
//! | list `E`          | list `A`          | every member of `E` is in `A` (subset)   |
//!
//! Values compare with [`Value::same`]: numbers as numbers (`5` = `5.0` =
//! `"5"`), text exactly. A slot given as a map uses its `value`.
//! Sentences listed in `_test_failures.yaml` are reported apart and not
//! counted. Per-intent folders (`tests/<lang>/<Intent>/*.yaml`, with their own
//! inline fixtures) are judged against `sentences/<lang>/<Intent>/` plus
//! `rules/<lang>` and `lists/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::engine::{Context, IntentEngine, IntentMatch};
use crate::error::IntentError;
use crate::lists::ListValue;
use crate::value::Value;
use crate::yaml::{self, Yaml};

/// The home a test file assumes: areas, floors, entities.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    /// `(name, id)` of each area.
    pub areas: Vec<(String, String)>,
    /// `(name, id)` of each floor.
    pub floors: Vec<(String, String)>,
    /// Each entity: name, domain, device class.
    pub entities: Vec<FixtureEntity>,
}

/// One entity of the fixtures.
#[derive(Debug, Clone)]
pub struct FixtureEntity {
    /// Spoken name.
    pub name: String,
    /// Domain (`light`, `cover`…), from `domain` or the id prefix.
    pub domain: String,
    /// `attributes.device_class`, when set.
    pub device_class: Option<String>,
}

impl Fixtures {
    /// Reads fixtures from a parsed `_fixtures.yaml` (or a per-intent test file).
    fn from_doc(doc: &Yaml) -> Self {
        let pairs = |key: &str| -> Vec<(String, String)> {
            doc.get(key)
                .map(|v| {
                    v.items()
                        .iter()
                        .filter_map(|a| {
                            let name = a.get("name")?.as_text()?;
                            let id = a
                                .get("id")
                                .and_then(Yaml::as_text)
                                .unwrap_or_else(|| name.clone());
                            Some((name, id))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let entities = doc
            .get("entities")
            .map(|v| {
                v.items()
                    .iter()
                    .filter_map(|e| {
                        let name = e.get("name")?.as_text()?;
                        let id = e.get("id").and_then(Yaml::as_text).unwrap_or_default();
                        let domain = e
                            .get("domain")
                            .and_then(Yaml::as_text)
                            .or_else(|| id.split_once('.').map(|(d, _)| d.to_string()))
                            .unwrap_or_default();
                        let device_class = e
                            .get("attributes")
                            .and_then(|a| a.get("device_class"))
                            .and_then(Yaml::as_text);
                        Some(FixtureEntity {
                            name,
                            domain,
                            device_class,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Fixtures {
            areas: pairs("areas"),
            floors: pairs("floors"),
            entities,
        }
    }

    /// Reads a fixtures file.
    pub fn from_file(path: &Path) -> Result<Self, IntentError> {
        let text = std::fs::read_to_string(path).map_err(|source| IntentError::Io {
            path: path.into(),
            source,
        })?;
        Ok(Self::from_doc(&yaml::parse(
            &text,
            &path.display().to_string(),
        )?))
    }

    /// Loads the fixtures into `engine` as the `area`, `floor` and `name` lists.
    pub fn apply(&self, engine: &mut IntentEngine) {
        let plain = |names: &[(String, String)]| -> Vec<ListValue> {
            names
                .iter()
                .flat_map(|(n, _)| expand_name(n))
                .map(|n| ListValue::new(&n, &n))
                .collect()
        };
        engine.set_list("area", plain(&self.areas));
        engine.set_list("floor", plain(&self.floors));
        engine.set_list(
            "name",
            self.entities
                .iter()
                .flat_map(|e| {
                    expand_name(&e.name).into_iter().map(move |n| {
                        let mut v = ListValue::new(&n, &n).with_context("domain", &e.domain);
                        if let Some(dc) = &e.device_class {
                            v = v.with_context("device_class", dc);
                        }
                        v
                    })
                })
                .collect(),
        );
    }
}

/// A fixture name written as a template (`Trader Joe[']s`) stands for each of its spellings.
fn expand_name(name: &str) -> Vec<String> {
    if !crate::template::is_template(name) {
        return vec![name.to_string()];
    }
    match crate::template::parse(name) {
        Ok(expr) => {
            let mut out: Vec<String> = crate::template::expand(&expr, 100)
                .into_iter()
                .map(|s| crate::text::normalize_whitespace(&s))
                .filter(|s| !s.is_empty())
                .collect();
            out.dedup();
            out
        }
        Err(_) => vec![name.to_string()],
    }
}

/// One test sentence with what it should give.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The test file it comes from.
    pub file: PathBuf,
    /// The sentence.
    pub sentence: String,
    /// Expected intent name.
    pub intent: String,
    /// Expected slots, typed; a list is judged by [`slot_matches`].
    pub slots: BTreeMap<String, Value>,
    /// Context the sentence is spoken in.
    pub context: Context,
}

/// The result of one test sentence.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test.
    pub case: TestCase,
    /// What the engine recognised (before the confidence threshold).
    pub got: Option<IntentMatch>,
    /// True when intent and slots are as expected.
    pub passed: bool,
    /// True when the sentence is listed in `_test_failures.yaml`.
    pub known_failure: bool,
}

/// The result of a whole suite.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every sentence, in file order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Sentences that passed (known failures excluded).
    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.passed && !o.known_failure)
            .count()
    }
    /// Sentences that failed (known failures excluded).
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.passed && !o.known_failure)
            .count()
    }
    /// Sentences listed in `_test_failures.yaml`.
    pub fn known_failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.known_failure)
    }
    /// Unexpected failures.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| !o.passed && !o.known_failure)
    }
}

/// True if a recognised slot value satisfies the expected one by Home
/// Assistant's rules (see the table in the module documentation).
pub fn slot_matches(expected: &Value, actual: &Value) -> bool {
    let member = |v: &Value, list: &[Value]| list.iter().any(|x| x.same(v));
    match (expected.as_list(), actual.as_list()) {
        (Some(e), Some(a)) => e.iter().all(|v| member(v, a)),
        (Some(e), None) => member(actual, e),
        (None, Some(a)) => member(expected, a),
        (None, None) => expected.same(actual),
    }
}

/// True when `got` is what `case` expects.
pub fn judge(case: &TestCase, got: Option<&IntentMatch>) -> bool {
    let Some(got) = got else { return false };
    got.intent == case.intent
        && got.slots.len() == case.slots.len()
        && case.slots.iter().all(|(k, vs)| {
            got.slots
                .get(k.as_str())
                .is_some_and(|a| slot_matches(vs, &a.value))
        })
}

fn read_doc(path: &Path) -> Result<Yaml, IntentError> {
    let text = std::fs::read_to_string(path).map_err(|source| IntentError::Io {
        path: path.into(),
        source,
    })?;
    yaml::parse(&text, &path.display().to_string())
}

/// Reads the test cases of one file; `default_intent` is used for per-intent
/// files whose tests don't name the intent.
fn read_cases(path: &Path, default_intent: Option<&str>) -> Result<Vec<TestCase>, IntentError> {
    let doc = read_doc(path)?;
    let mut cases = vec![];
    for test in doc.get("tests").map(Yaml::items).unwrap_or(&[]) {
        let intent_doc = test.get("intent");
        let Some(intent) = intent_doc
            .and_then(|i| i.get("name"))
            .and_then(Yaml::as_text)
            .or(default_intent.map(String::from))
        else {
            continue;
        };
        let slots_doc = intent_doc
            .and_then(|i| i.get("slots"))
            .or_else(|| test.get("slots"));
        let slots: BTreeMap<String, Value> = slots_doc
            .map(|s| {
                s.entries()
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Yaml::Map(_) => v
                                .get("value")
                                .map(Value::from_yaml)
                                .unwrap_or(Value::Text(String::new())),
                            other => Value::from_yaml(other),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let context: Context = intent_doc
            .and_then(|i| i.get("context"))
            .or_else(|| test.get("context"))
            .map(|c| {
                c.entries()
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Yaml::Map(_) => v
                                .get("value")
                                .map(crate::engine::yaml_value_text)
                                .unwrap_or_default(),
                            other => crate::engine::yaml_value_text(other),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for s in test.get("sentences").map(Yaml::items).unwrap_or(&[]) {
            if let Some(sentence) = s.as_text() {
                cases.push(TestCase {
                    file: path.to_path_buf(),
                    sentence,
                    intent: intent.clone(),
                    slots: slots.clone(),
                    context: context.clone(),
                });
            }
        }
    }
    Ok(cases)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The test sentences of the language-wide files `tests/<lang>/*.yaml`
/// (not the per-intent folders), e.g. for benchmarks.
pub fn suite_cases(root: &Path, lang: &str) -> Result<Vec<TestCase>, IntentError> {
    let mut cases = vec![];
    for file in yaml_files(&root.join("tests").join(lang)) {
        if file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        {
            continue;
        }
        cases.extend(read_cases(&file, None)?);
    }
    Ok(cases)
}

/// Counts the sentences a suite will run (for progress bars).
pub fn count_cases(root: &Path, lang: &str) -> usize {
    let tests = root.join("tests").join(lang);
    let mut n = 0;
    let mut files = yaml_files(&tests);
    for dir in std::fs::read_dir(&tests)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    {
        files.extend(yaml_files(&dir));
    }
    for f in files {
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        {
            continue;
        }
        n += read_cases(&f, Some("")).map(|c| c.len()).unwrap_or(0);
    }
    n
}

/// Runs the whole suite of `lang` under `root`; `progress` is called once per sentence.
pub fn run_suite(
    root: &Path,
    lang: &str,
    progress: &mut dyn FnMut(&Outcome),
) -> Result<Report, IntentError> {
    run_suite_with(root, None, lang, progress)
}

/// Runs the suite of `lang` under `root` against the intents at `intents`
/// (e.g. the `home-assistant-intents` package's `<lang>.json`) instead of the
/// tree's own `sentences/`. Per-intent test folders are then judged against
/// the whole language (the package has no per-intent split).
pub fn run_suite_with(
    root: &Path,
    intents: Option<&Path>,
    lang: &str,
    progress: &mut dyn FnMut(&Outcome),
) -> Result<Report, IntentError> {
    let tests_dir = root.join("tests").join(lang);
    if !tests_dir.is_dir() {
        return Err(IntentError::Io {
            path: tests_dir,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no tests for this language"),
        });
    }
    let known: Vec<String> = {
        let path = tests_dir.join("_test_failures.yaml");
        if path.is_file() {
            read_doc(&path)?
                .get("sentences")
                .map(|s| s.items().iter().filter_map(Yaml::as_text).collect())
                .unwrap_or_default()
        } else {
            vec![]
        }
    };
    let mut report = Report::default();
    let mut engine = IntentEngine::from_path(intents.unwrap_or(root), lang)?;
    let fixtures_path = tests_dir.join("_fixtures.yaml");
    if fixtures_path.is_file() {
        Fixtures::from_file(&fixtures_path)?.apply(&mut engine);
    }
    let mut run = |engine: &IntentEngine, case: TestCase, report: &mut Report| {
        let rec = engine.recognize(&case.sentence, &case.context);
        let got = rec.best.or_else(|| rec.candidates.into_iter().next());
        let passed = judge(&case, got.as_ref());
        let known_failure = known.contains(&case.sentence);
        let outcome = Outcome {
            case,
            got,
            passed,
            known_failure,
        };
        progress(&outcome);
        report.outcomes.push(outcome);
    };
    for file in yaml_files(&tests_dir) {
        if file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        {
            continue;
        }
        for case in read_cases(&file, None)? {
            run(&engine, case, &mut report);
        }
    }
    // Per-intent folders.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut engines: HashMap<String, IntentEngine> = HashMap::new();
    for dir in dirs {
        let intent = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !root.join("sentences").join(lang).join(&intent).is_dir() {
            continue;
        }
        if !engines.contains_key(&intent) {
            let folder_engine = match intents {
                Some(path) => IntentEngine::from_path(path, lang)?,
                None => {
                    let (doc, sources) = crate::load::load_intent_folder(root, lang, &intent)?;
                    IntentEngine::from_doc(doc, &sources, lang)?
                }
            };
            engines.insert(intent.clone(), folder_engine);
        }
        let engine = engines.get_mut(&intent).expect("inserted");
        for file in yaml_files(&dir) {
            let fixtures = Fixtures::from_doc(&read_doc(&file)?);
            fixtures.apply(engine);
            for case in read_cases(&file, Some(&intent))? {
                run(engine, case, &mut report);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::from(*s)).collect())
    }

    #[test]
    fn single_values_compare_exactly_and_numbers_as_numbers() {
        assert!(slot_matches(&"blind".into(), &"blind".into()));
        assert!(!slot_matches(&"blind".into(), &"shade".into()));
        assert!(slot_matches(&"50".into(), &Value::Number(50.0)));
        assert!(!slot_matches(&"50".into(), &Value::Number(5.0)));
    }

    #[test]
    fn an_expected_single_value_must_be_a_member_of_a_recognised_list() {
        let got = list(&["blind", "shutter", "shade"]);
        assert!(slot_matches(&"shade".into(), &got));
        assert!(!slot_matches(&"curtain".into(), &got));
    }

    #[test]
    fn an_expected_list_accepts_any_single_member() {
        let expected = list(&["blind", "shade"]);
        assert!(slot_matches(&expected, &"shade".into()));
        assert!(!slot_matches(&expected, &"shutter".into()));
        // The old comma-joined text is not a member.
        assert!(!slot_matches(&expected, &"blind,shade".into()));
    }

    #[test]
    fn an_expected_list_must_be_a_subset_of_a_recognised_list() {
        let got = list(&["blind", "shutter", "shade"]);
        assert!(slot_matches(&list(&["blind", "shade"]), &got));
        assert!(slot_matches(&list(&["shade", "blind", "shutter"]), &got));
        assert!(!slot_matches(&list(&["blind", "curtain"]), &got));
    }
}
