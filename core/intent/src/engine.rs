//! The intent engine: compiles a language's templates once and recognises
//! sentences with hassil's `recognize_best` semantics.
//!
//! # Ranking
//! Every template that matches the whole (normalised) sentence produces a
//! candidate, in file order (intents, then data blocks, then sentences; within
//! a block, templates with wildcards and more text first), and inside one
//! template in expansion order. The best candidate is chosen like hassil's
//! `recognize_best(best_slot_name="name")`:
//! 1. candidates that fill the `name` slot from a list beat those that don't,
//!    and among them the longest spoken name wins;
//! 2. then fewer wildcard slots win;
//! 3. then more literal template characters matched win;
//! 4. remaining ties go to the earliest candidate.
//!
//! Candidates must also satisfy their block's `requires_context` /
//! `excludes_context` against the caller's [`Context`] merged with the
//! context of matched list values.
//!
//! # Slot values
//! Slots keep hassil's types ([`Value`]): text, numbers (ranges, numeric
//! `out`), lists (a block's `slots: {device_class: [blind, shade]}`).
//!
//! # Confidence
//! `1 - 0.5 × (wildcard characters / all characters)`, times the lowest
//! plausibility of the match's wildcard spans (see `plausible.rs`: spans in
//! slots that fixed lists otherwise fill must look like those fillers), times
//! an edit penalty in fuzzy mode. Below [`Settings::threshold`] the match is
//! only a candidate.
//!
//! # Differences from hassil 3.0.1 (deliberate)
//! Measured by the differential run over every language of the
//! `home-assistant-intents` package (`tests/differential.rs`,
//! `benches/differential.rs`, table in `docs/intents.md`). Emma differs where
//! hassil has a defect:
//! 1. *Languages without spaces* (`settings.ignore_whitespace`, Chinese):
//!    hassil deletes every space of the input, so slot texts and wildcard
//!    values lose theirs ("Guest Room" → "GuestRoom"); Emma keeps them.
//!    hassil also misses a list value of several words at the very end of
//!    such a sentence ("Siren开着Living Room"); Emma matches it.
//! 2. *A number after an open wildcard*: hassil only looks for digits there
//!    (the first number in the rest of the sentence), so
//!    `{timer_name:name} {timer_minutes:minutes} perc` fails on "42
//!    huszonkettő perc" and on spoken numbers, `{item} [{temp}]` fails on
//!    "bohemian rhapsody 30 banana" (Emma's wildcard takes it all), and its
//!    wildcard may swallow leading digits ("jazz 72 órát" gives hours 2;
//!    "pizza 2" with the number 21 read in full too); Emma tries every split.
//! 3. *Range multipliers on number words*: hassil caches a range's number
//!    words by bounds, ignoring `multiplier`, so "seventy two" in a
//!    `multiplier: -1` list gets the sign of whichever same-bounds list it
//!    met first; Emma applies each list's own multiplier (digits agree).
//! 4. *Repeated wildcard text*: hassil sometimes fills a wildcard with text
//!    repeated from the sentence ("X X forty X X"); Emma's wildcard is the
//!    span it covers.
//! 5. *Empty alternatives*: `kdo te je (ustvaril|naredil|)` matches "kdo te
//!    je" in Emma (the empty choice makes the group optional); hassil 3.0.1
//!    finds nothing.
//! 6. *Out-of-domain questions*: hassil accepts "who is the president of …"
//!    through `who is [the] {zone:state}`; Emma scores the span as
//!    implausible and answers "I don't know" (the match stays a candidate).
//! 7. *Equal-ranked parses of one template* (same wildcards, same literal
//!    text): Emma enumerates an open wildcard's ends shortest first, so the
//!    first such parse fills the most from lists; hassil's order follows the
//!    alternatives after the wildcard. `{item} ([off]|{color}) off` on
//!    "pizza green off": Emma item "pizza", color "green"; hassil item
//!    "pizza green". (Found by the property test, `tests/property.rs`.)
//! 8. *A wildcard ending inside a word*: where the template has a space after
//!    a wildcard (`timer{item} <det>`), hassil may end it inside a word and
//!    match the rest there ("milk a banan" + "a" from "milk a banana"); Emma
//!    ends it at a word gap (inside a word only when the template glues text
//!    to it).
//!
//! Matching hassil's rules, not its defects: in languages without spaces
//! (`settings.ignore_whitespace`) skip words are removed wherever they occur,
//! as hassil's `remove_skip_words` does ("幫我" in "幫我的25分鐘…").

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{IntentError, Origin};
use crate::lists::{CharTrie, ListValue, RangeList, SlotList, TextList, TextValue};
use crate::prefilter::{Kind, Prefilter, PrefilterBufs, TemplateClauses};
use crate::program::{
    EValue, Entity, ListRef, Matcher, MatcherBufs, Node, State, Tables, recycle, required_clauses,
};
use crate::shared::SharedStr;
use crate::slots::Slots;
use crate::template::{self, Expr};
use crate::text::{Input, SkipWords};
use crate::value::Value;
use crate::yaml::{self, Yaml};

/// Context: key → value (e.g. `area=Kitchen`, `domain=light`), what the
/// caller passes in and what a match reports ([`IntentMatch::context`]).
///
/// The entries are shared (copy on write): a match whose context is the
/// caller's, or one list value's, refers to that map instead of copying its
/// strings; an empty context holds nothing.
#[derive(Clone, Default)]
pub struct Context {
    entries: Option<Arc<BTreeMap<String, String>>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        Arc::make_mut(self.entries.get_or_insert_with(Default::default))
            .insert(key.into(), value.into());
    }

    /// Builder form of [`Context::insert`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.as_ref()?.get(key).map(String::as_str)
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// All entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |m| m.len())
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.as_ref().is_none_or(|m| m.is_empty())
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Context {}

/// As a map: `{"area": "Kitchen"}`.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// As a JSON object, in key order.
impl serde::Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Context {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let map: BTreeMap<String, String> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            entries: (!map.is_empty()).then(|| Arc::new(map)),
        }
    }
}

/// A slot's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlotValue {
    /// The output value, typed: a list's `out`, a number, a fixed slot's
    /// list, or the spoken text. `value.as_text()` gives it as text.
    pub value: Value,
    /// The text as spoken (empty for fixed slots and context slots).
    pub text: String,
    /// True for wildcard slots (open text).
    pub wildcard: bool,
}

/// One recognised intent.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IntentMatch {
    /// Intent name (shared with the engine).
    pub intent: SharedStr,
    /// Slots by name, in name order (names shared with the engine).
    pub slots: Slots,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// Response key of the matched data block (shared with the engine).
    pub response: Option<SharedStr>,
    /// Metadata of the matched data block (scalars as text), shared with the
    /// block (every match of it refers to the same map instead of a copy).
    #[serde(serialize_with = "serialize_shared")]
    pub metadata: Arc<BTreeMap<String, String>>,
    /// Context after matching (caller context plus matched list values'
    /// context; shared with the caller's or the list value's when it is that).
    pub context: Context,
    /// The template that matched (shared with the engine).
    pub template: SharedStr,
    /// Literal template characters matched (hassil's `text_chunks_matched`).
    pub literal_chars: u32,
    /// Number of wildcard slots.
    pub wildcards: u32,
    /// Word edits made in fuzzy mode (0 for exact matches).
    pub edits: u32,
}

/// Serialises shared data as the data itself (serde's `rc` feature is not
/// enabled workspace-wide).
fn serialize_shared<T: serde::Serialize, S: serde::Serializer>(
    value: &Arc<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    T::serialize(value, serializer)
}

/// The outcome of [`IntentEngine::recognize`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Recognition {
    /// The best match, or `None` when nothing matched or the best was below
    /// the confidence threshold ("I don't know").
    pub best: Option<IntentMatch>,
    /// The best candidate per intent, best first (also filled when `best` is `None`).
    pub candidates: Vec<IntentMatch>,
}

/// A context requirement of a data block.
#[derive(Debug, Clone)]
pub(crate) struct CtxReq {
    /// `None`: any value (must be present in the final check).
    pub values: Option<Vec<String>>,
    /// Copy the value into this slot (its id and name).
    pub copy_to: Option<(u32, SharedStr)>,
}

pub(crate) fn check_required<'v>(
    reqs: &[(String, CtxReq)],
    get: &dyn Fn(&str) -> Option<&'v str>,
    allow_missing: bool,
) -> bool {
    reqs.iter().all(|(key, req)| match get(key) {
        None => allow_missing,
        Some(actual) => match &req.values {
            None => true,
            Some(values) => values.iter().any(|v| v == actual),
        },
    })
}

pub(crate) fn check_excluded<'v>(
    excl: &[(String, CtxReq)],
    get: &dyn Fn(&str) -> Option<&'v str>,
) -> bool {
    excl.iter().all(|(key, req)| match get(key) {
        None => true,
        Some(actual) => match &req.values {
            None => true,
            Some(values) => !values.iter().any(|v| v == actual),
        },
    })
}

#[derive(Debug, Clone)]
pub(crate) struct DataBlock {
    pub intent: u32,
    /// The fixed slots: id, name, value (ids resolved when compiled, so
    /// matching compares numbers, not names).
    pub slots: Vec<(u32, SharedStr, Value)>,
    pub requires: Vec<(String, CtxReq)>,
    pub excludes: Vec<(String, CtxReq)>,
    pub response: Option<SharedStr>,
    pub metadata: Arc<BTreeMap<String, String>>,
    pub rules: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Sentence {
    pub data: u32,
    pub node: Node,
    pub text: SharedStr,
    /// Optional groups before its wildcards that change how a span is scored
    /// (see `plausible.rs`).
    pub introducers: Vec<crate::plausible::Introducer>,
}

/// Settings that change recognition.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Matches below this confidence are rejected (`best` is `None`). Default 0.5.
    pub threshold: f32,
    /// Prefer matches that fill this slot from a list (hassil's `best_slot_name`). Default `name`.
    pub best_slot_name: Option<String>,
    /// Fuzzy matching: the most word edits allowed (0 = off, the default).
    pub fuzzy_max_edits: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            best_slot_name: Some("name".into()),
            fuzzy_max_edits: 0,
        }
    }
}

/// Lists Home Assistant fills at run time; templates may use them before they are set.
pub const RUNTIME_LISTS: [&str; 3] = ["name", "area", "floor"];

/// A compiled set of intents for one language. Cloning copies the compiled
/// templates (cheaper than compiling them again); list values are shared
/// until one side sets a list.
#[derive(Clone)]
pub struct IntentEngine {
    pub(crate) lang: String,
    pub(crate) intents: Vec<String>,
    /// The same names, shared with the matches that report them.
    pub(crate) intent_names: Vec<SharedStr>,
    pub(crate) data: Vec<DataBlock>,
    pub(crate) sentences: Vec<Sentence>,
    pub(crate) rule_tables: Vec<Vec<Node>>,
    pub(crate) rule_names: Vec<Vec<String>>,
    pub(crate) rule_broken: Vec<HashMap<String, String>>,
    pub(crate) list_names: Vec<String>,
    pub(crate) list_index: HashMap<String, u32>,
    pub(crate) globals: Vec<Option<Arc<SlotList>>>,
    pub(crate) locals: Vec<SlotList>,
    pub(crate) slot_names: Vec<SharedStr>,
    /// Each slot id's place among the slot names in name order (a match's
    /// slots are sorted by comparing these, not the names).
    pub(crate) slot_rank: Vec<u32>,
    pub(crate) skip: SkipWords,
    pub(crate) prefilter: Prefilter,
    pub(crate) settings: Settings,
    /// The slot id of `settings.best_slot_name` (set with the settings and
    /// when the templates are compiled, instead of searched per sentence).
    pub(crate) best_slot: Option<u32>,
    pub(crate) lexicon: crate::plausible::Lexicon,
}

impl std::fmt::Debug for IntentEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentEngine")
            .field("lang", &self.lang)
            .field("intents", &self.intents.len())
            .field("templates", &self.sentences.len())
            .finish()
    }
}

/// Source files kept for error messages (file name and text, to find lines).
pub(crate) struct Sources {
    pub files: Vec<(String, String)>,
}

impl Sources {
    pub fn locate(&self, needle: &str) -> Origin {
        for (file, text) in &self.files {
            if let Some(line) = yaml::line_of(text, needle) {
                return Origin {
                    file: file.clone(),
                    line: Some(line),
                };
            }
        }
        Origin {
            file: self
                .files
                .first()
                .map(|f| f.0.clone())
                .unwrap_or_else(|| "<intents>".into()),
            line: None,
        }
    }
}

struct RuleScope<'e> {
    exprs: HashMap<String, (Expr, String)>,
    table: Vec<Node>,
    names: Vec<String>,
    index: HashMap<String, u32>,
    visiting: Vec<String>,
    /// Rules that use a rule this scope doesn't define: name → missing rule.
    broken: HashMap<String, String>,
    sources: &'e Sources,
}

impl IntentEngine {
    /// Compiles intents from one YAML document in the hassil format.
    pub fn from_yaml_str(
        yaml: &str,
        origin: &str,
        lang: &str,
    ) -> Result<IntentEngine, IntentError> {
        let yaml = crate::foreign::to_hassil(yaml, origin, lang)?;
        let doc = yaml::parse(&yaml, origin)?;
        let sources = Sources {
            files: vec![(origin.to_string(), yaml.to_string())],
        };
        Self::from_doc(doc, &sources, lang)
    }

    /// Loads intents from a Home Assistant intents tree root, a sentences
    /// directory, one YAML file, a Rhino context or an Alexa model.
    pub fn from_path(path: &std::path::Path, lang: &str) -> Result<IntentEngine, IntentError> {
        let (doc, sources) = crate::load::load_path(path, lang)?;
        Self::from_doc(doc, &sources, lang)
    }

    /// Compiles a merged hassil document.
    pub(crate) fn from_doc(
        doc: Yaml,
        sources: &Sources,
        lang: &str,
    ) -> Result<IntentEngine, IntentError> {
        let lang = doc
            .get("language")
            .and_then(Yaml::as_text)
            .unwrap_or_else(|| lang.to_string());
        let mut engine = IntentEngine {
            lang,
            intents: vec![],
            intent_names: vec![],
            data: vec![],
            sentences: vec![],
            rule_tables: vec![],
            rule_names: vec![],
            rule_broken: vec![],
            list_names: vec![],
            list_index: HashMap::new(),
            globals: vec![],
            locals: vec![],
            slot_names: vec![],
            slot_rank: vec![],
            skip: {
                let words = SkipWords::new(
                    doc.get("skip_words")
                        .map(|s| {
                            s.items()
                                .iter()
                                .filter_map(Yaml::as_text)
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                );
                let no_spaces = doc
                    .get("settings")
                    .and_then(|s| s.get("ignore_whitespace"))
                    .is_some_and(Yaml::is_true);
                if no_spaces { words.anywhere() } else { words }
            },
            prefilter: Prefilter::default(),
            settings: Settings::default(),
            best_slot: None,
            lexicon: Default::default(),
        };
        let empty = Yaml::Map(vec![]);
        let lists = doc.get("lists").unwrap_or(&empty);
        for name in RUNTIME_LISTS {
            engine.list_id(name);
        }
        for (name, _) in lists.entries() {
            engine.list_id(name);
        }
        let wildcard_lists: Vec<String> = lists
            .entries()
            .iter()
            .filter(|(_, d)| d.get("wildcard").is_some_and(Yaml::is_true))
            .map(|(n, _)| n.clone())
            .collect();
        // Global rules.
        let global_rules = rule_exprs(doc.get("expansion_rules").unwrap_or(&empty), sources)?;
        let table = engine.compile_rules(&global_rules, &HashMap::new(), sources)?;
        engine.push_table(table);
        // Global lists.
        for (name, def) in lists.entries() {
            let list = engine.compile_list(name, def, 0, &HashMap::new(), sources)?;
            let id = engine.list_index[name];
            engine.globals[id as usize] = Some(Arc::new(list));
        }
        // Intents.
        let intents = doc.get("intents").unwrap_or(&empty);
        for (intent_name, intent) in intents.entries() {
            let intent_id = engine.intents.len() as u32;
            engine.intents.push(intent_name.clone());
            engine
                .intent_names
                .push(SharedStr::from(intent_name.as_str()));
            let data_items = match intent.get("data") {
                Some(Yaml::Seq(items)) => items.clone(),
                _ => {
                    return Err(IntentError::Field {
                        origin: sources.locate(intent_name),
                        field: format!("intents.{intent_name}.data"),
                        message: "expected a list of data blocks with `sentences`".into(),
                    });
                }
            };
            for (di, data) in data_items.iter().enumerate() {
                engine.add_data_block(
                    intent_id,
                    intent_name,
                    di,
                    data,
                    &global_rules,
                    &wildcard_lists,
                    sources,
                )?;
            }
        }
        engine.build_index();
        crate::text::warm_up();
        Ok(engine)
    }

    fn push_table(&mut self, (mut table, names): (Vec<Node>, Vec<String>)) -> u32 {
        crate::program::annotate_table(&mut table);
        self.rule_tables.push(table);
        self.rule_names.push(names);
        (self.rule_tables.len() - 1) as u32
    }

    pub(crate) fn list_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.list_index.get(name) {
            return id;
        }
        let id = self.list_names.len() as u32;
        self.list_names.push(name.to_string());
        self.list_index.insert(name.to_string(), id);
        self.globals.push(None);
        id
    }

    fn slot_id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.slot_names.iter().position(|s| s == name) {
            return i as u32;
        }
        self.slot_names.push(SharedStr::from(name));
        (self.slot_names.len() - 1) as u32
    }

    #[allow(clippy::too_many_arguments)]
    fn add_data_block(
        &mut self,
        intent_id: u32,
        intent_name: &str,
        di: usize,
        data: &Yaml,
        global_rules: &HashMap<String, (Expr, String)>,
        wildcard_lists: &[String],
        sources: &Sources,
    ) -> Result<(), IntentError> {
        let field = |f: &str| format!("intents.{intent_name}.data[{di}].{f}");
        let empty = Yaml::Map(vec![]);
        let sentences = match data.get("sentences") {
            Some(Yaml::Seq(items)) => items,
            _ => {
                return Err(IntentError::Field {
                    origin: sources.locate(intent_name),
                    field: field("sentences"),
                    message: "expected a list of sentence templates".into(),
                });
            }
        };
        // Local rules make a new rule table.
        let local_rules = rule_exprs(data.get("expansion_rules").unwrap_or(&empty), sources)?;
        let local_list_defs = data.get("lists").unwrap_or(&empty);
        let mut local_lists: HashMap<String, u32> = HashMap::new();
        for (name, _) in local_list_defs.entries() {
            // Reserve indices first so local rules can refer to local lists.
            local_lists.insert(name.clone(), u32::MAX);
        }
        let rules = if local_rules.is_empty() && local_lists.is_empty() {
            0
        } else {
            let mut all = global_rules.clone();
            all.extend(local_rules.clone());
            let mut placeholder = local_lists.clone();
            for (name, _) in local_list_defs.entries() {
                let idx = self.locals.len() as u32;
                self.locals.push(SlotList::Wildcard);
                placeholder.insert(name.clone(), idx);
            }
            local_lists = placeholder;
            let table = self.compile_rules(&all, &local_lists, sources)?;
            self.push_table(table)
        };
        for (name, def) in local_list_defs.entries() {
            let list = self.compile_list(name, def, rules, &local_lists, sources)?;
            self.locals[local_lists[name] as usize] = list;
        }
        let slots = data
            .get("slots")
            .unwrap_or(&empty)
            .entries()
            .iter()
            .map(|(k, v)| {
                let id = self.slot_id(k);
                (
                    id,
                    self.slot_names[id as usize].clone(),
                    Value::from_yaml(v),
                )
            })
            .collect();
        let requires = ctx_reqs(data.get("requires_context").unwrap_or(&empty), |name| {
            let id = self.slot_id(name);
            (id, self.slot_names[id as usize].clone())
        });
        let excludes = ctx_reqs(data.get("excludes_context").unwrap_or(&empty), |name| {
            let id = self.slot_id(name);
            (id, self.slot_names[id as usize].clone())
        });
        let metadata = data
            .get("metadata")
            .unwrap_or(&empty)
            .entries()
            .iter()
            .map(|(k, v)| (k.clone(), yaml_value_text(v)))
            .collect::<BTreeMap<_, _>>()
            .into();
        let data_id = self.data.len() as u32;
        self.data.push(DataBlock {
            intent: intent_id,
            slots,
            requires,
            excludes,
            response: data
                .get("response")
                .and_then(Yaml::as_text)
                .map(SharedStr::from),
            metadata,
            rules,
        });
        let mut compiled = Vec::new();
        for s in sentences {
            let Some(text) = s.as_text() else {
                return Err(IntentError::Field {
                    origin: sources.locate(intent_name),
                    field: field("sentences"),
                    message: "every sentence must be a string".into(),
                });
            };
            let expr = template::parse(&text).map_err(|e| IntentError::Template {
                origin: sources.locate(&text),
                template: text.clone(),
                message: e.to_string(),
            })?;
            let has_wildcard = {
                let mut found = false;
                template::visit_refs(&expr, &mut |r| {
                    if let Expr::List { list, .. } = r {
                        found |= wildcard_lists.contains(list);
                    }
                });
                found
            };
            let order = if has_wildcard {
                -(chunk_count(&expr) as i64)
            } else {
                0
            };
            let mut node = self.compile_expr(&expr, rules, &local_lists, &text, sources)?;
            crate::program::annotate(&mut node, &self.rule_tables[rules as usize]);
            let mut introducers = vec![];
            crate::plausible::introducers(
                &node,
                &self.rule_tables[rules as usize],
                &mut introducers,
            );
            compiled.push((
                order,
                Sentence {
                    data: data_id,
                    node,
                    text: text.into(),
                    introducers,
                },
            ));
        }
        compiled.sort_by_key(|(o, _)| *o);
        self.sentences.extend(compiled.into_iter().map(|(_, s)| s));
        Ok(())
    }

    fn compile_rules(
        &mut self,
        exprs: &HashMap<String, (Expr, String)>,
        local_lists: &HashMap<String, u32>,
        sources: &Sources,
    ) -> Result<(Vec<Node>, Vec<String>), IntentError> {
        let mut scope = RuleScope {
            exprs: exprs.clone(),
            table: vec![],
            names: vec![],
            index: HashMap::new(),
            visiting: vec![],
            broken: HashMap::new(),
            sources,
        };
        let mut names: Vec<&String> = exprs.keys().collect();
        names.sort();
        for name in names {
            match self.resolve_rule(&mut scope, name, local_lists, name) {
                Ok(_) => {}
                // hassil resolves rules when matching, so a shared rule may use a
                // rule that only some data blocks define; it is an error only
                // when a template of a scope without that rule uses it.
                Err(IntentError::UnknownRule { rule, .. }) => {
                    scope.visiting.clear();
                    let i = scope.table.len() as u32;
                    scope.table.push(Node::Alt(Box::new([]), None));
                    scope.names.push(name.clone());
                    scope.index.insert(name.clone(), i);
                    scope.broken.insert(name.clone(), rule);
                }
                Err(e) => return Err(e),
            }
        }
        self.rule_broken.push(scope.broken);
        Ok((scope.table, scope.names))
    }

    fn resolve_rule(
        &mut self,
        scope: &mut RuleScope<'_>,
        name: &str,
        local_lists: &HashMap<String, u32>,
        template: &str,
    ) -> Result<u32, IntentError> {
        if let Some(&i) = scope.index.get(name) {
            if let Some(missing) = scope.broken.get(name) {
                return Err(IntentError::UnknownRule {
                    origin: scope.sources.locate(template),
                    template: template.into(),
                    rule: missing.clone(),
                });
            }
            return Ok(i);
        }
        if scope.visiting.iter().any(|v| v == name) {
            return Err(IntentError::RecursiveRule {
                origin: scope.sources.locate(&format!("{name}:")),
                rule: name.into(),
            });
        }
        let Some((expr, text)) = scope.exprs.get(name).cloned() else {
            return Err(IntentError::UnknownRule {
                origin: scope.sources.locate(template),
                template: template.into(),
                rule: name.into(),
            });
        };
        scope.visiting.push(name.to_string());
        let node = self.compile_in_scope(&expr, scope, local_lists, &text)?;
        scope.visiting.pop();
        let i = scope.table.len() as u32;
        scope.table.push(node);
        scope.names.push(name.to_string());
        scope.index.insert(name.to_string(), i);
        Ok(i)
    }

    fn compile_in_scope(
        &mut self,
        expr: &Expr,
        scope: &mut RuleScope<'_>,
        local_lists: &HashMap<String, u32>,
        template: &str,
    ) -> Result<Node, IntentError> {
        Ok(match expr {
            Expr::Text(s) => text_node(s),
            Expr::Seq(items) => Node::Seq(
                items
                    .iter()
                    .map(|i| self.compile_in_scope(i, scope, local_lists, template))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Alt { items, optional } => {
                let mut nodes: Vec<Node> = items
                    .iter()
                    .map(|i| self.compile_in_scope(i, scope, local_lists, template))
                    .collect::<Result<_, _>>()?;
                if *optional {
                    nodes.push(Node::Seq(Box::new([])));
                }
                Node::Alt(nodes.into(), None)
            }
            Expr::Perm(items) => {
                if items.len() > 6 {
                    return Err(IntentError::Template {
                        origin: scope.sources.locate(template),
                        template: template.into(),
                        message: "a permutation (a;b;…) of more than 6 parts is too large".into(),
                    });
                }
                let nodes: Vec<Node> = items
                    .iter()
                    .map(|i| self.compile_in_scope(i, scope, local_lists, template))
                    .collect::<Result<_, _>>()?;
                let wrapped: Vec<Node> = nodes
                    .into_iter()
                    .map(|n| Node::Seq(Box::new([Node::Space, n, Node::Space])))
                    .collect();
                permutations(&wrapped)
            }
            Expr::List { list, slot } => {
                let slot = self.slot_id(slot);
                let list_ref = if let Some(&i) = local_lists.get(list) {
                    ListRef::Local(i)
                } else if let Some(&i) = self.list_index.get(list) {
                    ListRef::Global(i)
                } else {
                    return Err(IntentError::UnknownList {
                        origin: scope.sources.locate(template),
                        template: template.into(),
                        list: list.clone(),
                    });
                };
                Node::List {
                    list: list_ref,
                    slot,
                    follow: None,
                }
            }
            Expr::Rule(name) => {
                Node::Rule(self.resolve_rule(scope, name, local_lists, template)?)
            }
        })
    }

    fn compile_expr(
        &mut self,
        expr: &Expr,
        rules: u32,
        local_lists: &HashMap<String, u32>,
        template: &str,
        sources: &Sources,
    ) -> Result<Node, IntentError> {
        // Rule references resolve against the (already compiled) table.
        let names = &self.rule_names[rules as usize];
        let index: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let mut scope = RuleScope {
            exprs: HashMap::new(),
            table: vec![],
            names: vec![],
            index,
            visiting: vec![],
            broken: self.rule_broken[rules as usize].clone(),
            sources,
        };
        self.compile_in_scope(expr, &mut scope, local_lists, template)
    }

    fn compile_list(
        &mut self,
        name: &str,
        def: &Yaml,
        rules: u32,
        local_lists: &HashMap<String, u32>,
        sources: &Sources,
    ) -> Result<SlotList, IntentError> {
        if let Some(values) = def.get("values") {
            let mut list = TextList::default();
            // The plain values' texts, for the trie built after the loop.
            let mut texts: Vec<(String, u32)> = vec![];
            for (i, v) in values.items().iter().enumerate() {
                let (text_in, out, context) = match v {
                    Yaml::Map(_) => {
                        let Some(text_in) = v.get("in").and_then(Yaml::as_text) else {
                            return Err(IntentError::Field {
                                origin: sources.locate(&format!("{name}:")),
                                field: format!("lists.{name}.values[{i}].in"),
                                message: "each value needs an `in` text".into(),
                            });
                        };
                        let out = v.get("out").map(Value::from_yaml);
                        let context: Context = v
                            .get("context")
                            .map(|c| {
                                c.entries()
                                    .iter()
                                    .map(|(k, v)| (k.clone(), yaml_value_text(v)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (text_in, out, context)
                    }
                    other => match other.as_text() {
                        Some(t) => {
                            if template::is_template(&t) {
                                (t, None, Context::new())
                            } else {
                                (t.clone(), Some(Value::Text(t)), Context::new())
                            }
                        }
                        None => {
                            return Err(IntentError::Field {
                                origin: sources.locate(&format!("{name}:")),
                                field: format!("lists.{name}.values[{i}]"),
                                message: "a value must be text or a map with `in` and `out`".into(),
                            });
                        }
                    },
                };
                let idx = list.values.len() as u32;
                let node = if template::is_template(&text_in) {
                    let expr = template::parse(&text_in).map_err(|e| IntentError::Template {
                        origin: sources.locate(&text_in),
                        template: text_in.clone(),
                        message: e.to_string(),
                    })?;
                    list.template_values.push(idx);
                    let mut node =
                        self.compile_expr(&expr, rules, local_lists, &text_in, sources)?;
                    crate::program::annotate(&mut node, &self.rule_tables[rules as usize]);
                    Some(node)
                } else {
                    texts.push((template::normalize_template_text(&text_in), idx));
                    None
                };
                let first = node.as_ref().and_then(|n| {
                    let (first, nullable) = crate::program::edge_literals(
                        n,
                        &self.rule_tables[rules as usize],
                        0,
                        false,
                    );
                    first.filter(|_| !nullable)
                });
                list.values.push(TextValue {
                    out,
                    context,
                    node,
                    first,
                    text_in,
                });
            }
            list.trie = CharTrie::build(texts.iter().map(|(t, i)| (t.as_str(), *i)));
            return Ok(SlotList::Text(list));
        }
        if let Some(range) = def.get("range") {
            return self
                .compile_range(name, range, sources)
                .map(SlotList::Range);
        }
        if def.get("wildcard").is_some_and(Yaml::is_true) {
            return Ok(SlotList::Wildcard);
        }
        Err(IntentError::Field {
            origin: sources.locate(&format!("{name}:")),
            field: format!("lists.{name}"),
            message: "a list needs `values`, `range` or `wildcard: true`".into(),
        })
    }

    fn compile_range(
        &self,
        name: &str,
        range: &Yaml,
        sources: &Sources,
    ) -> Result<RangeList, IntentError> {
        let bad = |message: String| IntentError::BadRange {
            origin: sources.locate(&format!("{name}:")),
            list: name.to_string(),
            message,
        };
        let int = |key: &str, default: Option<i64>| -> Result<i64, IntentError> {
            match range.get(key) {
                None => default.ok_or_else(|| bad(format!("`{key}` is missing"))),
                Some(Yaml::Num(n)) if n.fract() == 0.0 => Ok(*n as i64),
                Some(Yaml::Str(s)) => s
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("`{key}` must be a whole number, got {s:?}"))),
                Some(other) => Err(bad(format!(
                    "`{key}` must be a whole number, got {other:?}"
                ))),
            }
        };
        let start = int("from", None)?;
        let stop = int("to", None)?;
        let step = int("step", Some(1))?;
        if start > stop {
            return Err(bad(format!(
                "`from` ({start}) is greater than `to` ({stop})"
            )));
        }
        if step <= 0 {
            return Err(bad(format!("`step` must be positive, got {step}")));
        }
        if (stop - start) / step > 1_000_000 {
            return Err(bad(
                "more than a million values; narrow the range or raise `step`".into(),
            ));
        }
        let fractions = match range.get("fractions").and_then(Yaml::as_text).as_deref() {
            None => vec![],
            Some("halves") => vec![0.5],
            Some("tenths") => (1..10).map(|i| i as f64 / 10.0).collect(),
            Some(other) => {
                return Err(bad(format!(
                    "`fractions` must be `halves` or `tenths`, got {other:?}"
                )));
            }
        };
        let multiplier = match range.get("multiplier") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Num(n)) => Some(*n),
            Some(other) => {
                return Err(bad(format!("`multiplier` must be a number, got {other:?}")));
            }
        };
        let digits = !matches!(range.get("digits"), Some(Yaml::Bool(false)));
        let words = !matches!(range.get("words"), Some(Yaml::Bool(false)));
        let words_lang = range
            .get("words_language")
            .and_then(Yaml::as_text)
            .unwrap_or_else(|| self.lang.clone());
        let mut list = RangeList {
            start,
            stop,
            step,
            fractions,
            multiplier,
            digits,
            words: None,
            word_values: vec![],
            word_texts: vec![],
        };
        if words {
            let mut texts: Vec<(String, u32)> = vec![];
            let mut n = start;
            let mut count = 0;
            while n <= stop && count < 10_000 {
                let mut forms: Vec<(f64, String)> = crate::numbers::number_words(&words_lang, n)
                    .into_iter()
                    .map(|w| (n as f64, w))
                    .collect();
                {
                    for f in list.fractions.clone() {
                        let number = n as f64 + f;
                        for w in crate::numbers::decimal_words(&words_lang, &format!("{number}")) {
                            forms.push((number, w));
                        }
                    }
                }
                for (number, w) in forms {
                    let idx = list.word_values.len() as u32;
                    texts.push((w.clone(), idx));
                    list.word_values.push(list.out(number));
                    list.word_texts.push(w);
                }
                n += step;
                count += 1;
            }
            if !list.word_values.is_empty() {
                list.words = Some(CharTrie::build(texts.iter().map(|(t, i)| (t.as_str(), *i))));
            }
        }
        Ok(list)
    }

    fn build_index(&mut self) {
        self.best_slot = self.find_best_slot();
        let mut order: Vec<u32> = (0..self.slot_names.len() as u32).collect();
        order.sort_by(|&a, &b| self.slot_names[a as usize].cmp(&self.slot_names[b as usize]));
        self.slot_rank = vec![0; order.len()];
        for (rank, &id) in order.iter().enumerate() {
            self.slot_rank[id as usize] = rank as u32;
        }
        let templates: Vec<TemplateClauses> = self
            .sentences
            .iter()
            .map(|s| {
                let rules = &self.rule_tables[self.data[s.data as usize].rules as usize];
                let mut clauses = vec![];
                let mut contains = vec![];
                required_clauses(&s.node, rules, &mut contains);
                clauses.extend(contains.into_iter().map(|c| (Kind::Contains, c)));
                let (first, nullable) = crate::program::edge_literals(&s.node, rules, 0, false);
                if let Some(first) = first.filter(|_| !nullable) {
                    clauses.push((
                        Kind::Starts,
                        first.iter().map(|w| w.iter().collect()).collect(),
                    ));
                }
                let (last, nullable) = crate::program::edge_literals(&s.node, rules, 0, true);
                // Compared with the input's end without trailing hyphens (a word
                // gap may take one), so the literals drop theirs too.
                let last = last.filter(|_| !nullable).and_then(|words| {
                    words
                        .into_iter()
                        .map(|w| {
                            let keep = w.iter().rposition(|&c| c != '-' && c != '_')?;
                            Some(w[..=keep].iter().collect::<String>())
                        })
                        .collect::<Option<Vec<String>>>()
                });
                if let Some(last) = last {
                    clauses.push((Kind::Ends, last));
                }
                TemplateClauses { clauses }
            })
            .collect();
        self.prefilter = Prefilter::build(&templates);
        let roots: Vec<(&Node, &[Node])> = self
            .sentences
            .iter()
            .map(|s| {
                let rules = self.rule_tables[self.data[s.data as usize].rules as usize].as_slice();
                (&s.node, rules)
            })
            .collect();
        let runtime: Vec<u32> = RUNTIME_LISTS
            .iter()
            .filter_map(|n| self.list_index.get(*n).copied())
            .collect();
        self.lexicon = crate::plausible::Lexicon::build(
            &roots,
            &self.globals,
            &self.locals,
            &runtime,
            self.slot_names.len(),
        );
    }

    /// The language code.
    pub fn language(&self) -> &str {
        &self.lang
    }

    /// Names of all intents, in load order.
    pub fn intent_names(&self) -> &[String] {
        &self.intents
    }

    /// Number of compiled sentence templates.
    pub fn template_count(&self) -> usize {
        self.sentences.len()
    }

    /// Current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Changes settings (threshold, fuzzy mode, preferred slot).
    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
        self.best_slot = self.find_best_slot();
    }

    /// The slot id of the preferred slot (`best_slot_name`), if a template has it.
    fn find_best_slot(&self) -> Option<u32> {
        let name = self.settings.best_slot_name.as_deref()?;
        self.slot_names
            .iter()
            .position(|s| s == name)
            .map(|i| i as u32)
    }

    /// Sets the confidence threshold below which results are rejected.
    pub fn set_threshold(&mut self, threshold: f32) {
        self.settings.threshold = threshold.clamp(0.0, 1.0);
    }

    /// Replaces (or creates) the slot list `name` at run time. Only this list
    /// is rebuilt; templates stay compiled. A list that no template uses is
    /// kept for later templates but has no effect.
    pub fn set_list(&mut self, name: &str, values: Vec<ListValue>) {
        let id = self.list_id(name);
        self.globals[id as usize] = Some(Arc::new(SlotList::from_values(values)));
    }

    /// Names of all engine-wide lists (defined in YAML, runtime, or set).
    pub fn list_names(&self) -> &[String] {
        &self.list_names
    }

    /// Recognises `text` with the caller's context.
    pub fn recognize(&self, text: &str, ctx: &Context) -> Recognition {
        self.with_scratch(|scratch| {
            self.recognize_with(
                text,
                ctx,
                scratch,
                |engine, hits, input, bufs| engine.rank_hits(hits, input, ctx, bufs),
                |recognition| recognition,
            )
        })
    }

    /// The best match only: [`Recognition::best`] of [`IntentEngine::recognize`],
    /// without building the candidates (what hassil's `recognize_best`
    /// answers; cheaper when the candidates are not needed).
    pub fn recognize_best(&self, text: &str, ctx: &Context) -> Option<IntentMatch> {
        self.with_scratch(|scratch| {
            self.recognize_with(
                text,
                ctx,
                scratch,
                |engine, hits, input, bufs| engine.best_hit(hits, input, ctx, bufs),
                |recognition| recognition.best,
            )
        })
    }

    /// Runs `f` with the thread's buffers, reused from its last sentence
    /// (borrowed in place; fresh ones if they are in use).
    fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> T {
        let mut f = Some(f);
        let mut run = |scratch: &mut Scratch| (f.take().expect("called once"))(scratch);
        match SCRATCH.try_with(|cell| cell.try_borrow_mut().ok().map(|mut s| run(&mut s))) {
            Ok(Some(out)) => out,
            _ => run(&mut Scratch::default()),
        }
    }

    /// Matches `text` and reports the hits with `report` (or, when nothing
    /// matched exactly and fuzzy matching is on, the fuzzy matches' ranking
    /// with `fuzzy`).
    fn recognize_with<T>(
        &self,
        text: &str,
        ctx: &Context,
        scratch: &mut Scratch,
        report: impl FnOnce(&Self, &Hits<'_>, &Input, &mut Bufs) -> T,
        fuzzy: impl FnOnce(Recognition) -> T,
    ) -> T {
        scratch.input.fill(text, &self.skip);
        let Scratch { input, bufs } = scratch;
        let hits = self.match_hits(input, ctx, 0, bufs);
        let recognition = if hits.hits.is_empty() && self.settings.fuzzy_max_edits > 0 {
            fuzzy(self.rank(crate::fuzzy::recognize_fuzzy(self, input, ctx)))
        } else {
            report(self, &hits, input, bufs)
        };
        bufs.hits = hits.hits;
        bufs.hit_entities = recycle(hits.entities);
        bufs.hit_context = recycle(hits.context);
        recognition
    }

    /// Every full match of `input`, in hassil's generation order.
    pub(crate) fn match_input(&self, input: &Input, ctx: &Context, edits: u32) -> Vec<IntentMatch> {
        let hits = self.match_hits(input, ctx, edits, &mut Bufs::default());
        hits.hits
            .iter()
            .filter_map(|h| self.materialise(&hits, h, input, ctx))
            .collect()
    }

    /// Builds the [`IntentMatch`] of a hit.
    fn materialise(
        &self,
        hits: &Hits<'_>,
        hit: &Hit,
        input: &Input,
        ctx: &Context,
    ) -> Option<IntentMatch> {
        let sentence = &self.sentences[hit.si as usize];
        let data = &self.data[sentence.data as usize];
        self.finish(
            &hits.entities[hit.entities.0 as usize..hit.entities.1 as usize],
            &hits.context[hit.context.0 as usize..hit.context.1 as usize],
            hit.score,
            input,
            ctx,
            data,
            sentence,
            hit.total_chars,
            hit.key.edits,
        )
    }

    /// The best of the hits as [`IntentEngine::rank_hits`] reports it, without candidates.
    fn best_hit(
        &self,
        all: &Hits<'_>,
        input: &Input,
        ctx: &Context,
        bufs: &mut Bufs,
    ) -> Option<IntentMatch> {
        let keys = &mut bufs.keys;
        keys.clear();
        keys.extend(all.hits.iter().map(|h| h.key));
        best_index(keys)
            .and_then(|i| self.materialise(all, &all.hits[i], input, ctx))
            .filter(|m| m.confidence >= self.settings.threshold)
    }

    /// Ranks hits like [`IntentEngine::rank`] and builds only the matches it reports.
    fn rank_hits(
        &self,
        all: &Hits<'_>,
        input: &Input,
        ctx: &Context,
        bufs: &mut Bufs,
    ) -> Recognition {
        let hits = &all.hits;
        let keys = &mut bufs.keys;
        keys.clear();
        keys.extend(hits.iter().map(|h| h.key));
        let best_idx = best_index(keys);
        let order = &mut bufs.order;
        order.clear();
        order.extend(0..keys.len());
        order.sort_by_key(|&i| keys[i].order());
        if let Some(b) = best_idx {
            order.retain(|&i| i != b);
            order.insert(0, b);
        }
        let mut candidates: Vec<IntentMatch> = Vec::new();
        let intents = &mut bufs.intents;
        intents.clear();
        let mut best = None;
        for &i in order.iter() {
            if intents.contains(&keys[i].intent) {
                continue;
            }
            let Some(m) = self.materialise(all, &hits[i], input, ctx) else {
                continue;
            };
            intents.push(keys[i].intent);
            if Some(i) == best_idx && m.confidence >= self.settings.threshold {
                best = Some(m.clone());
            }
            candidates.push(m);
            if candidates.len() >= 5 {
                break;
            }
        }
        Recognition { best, candidates }
    }

    /// Every full match of `input` that the context allows, in hassil's
    /// generation order, with what ranking needs (built into an
    /// [`IntentMatch`] only when reported).
    fn match_hits<'a>(
        &'a self,
        input: &Input,
        ctx: &Context,
        edits: u32,
        bufs: &mut Bufs,
    ) -> Hits<'a> {
        let mut results = Hits {
            hits: std::mem::take(&mut bufs.hits),
            entities: recycle(std::mem::take(&mut bufs.hit_entities)),
            context: recycle(std::mem::take(&mut bufs.hit_context)),
        };
        results.hits.clear();
        if input.is_empty() {
            return results;
        }
        let total_chars = input.non_space_len().max(1) as f32;
        // Per data block: 0 = not checked yet, 1 = context allows it, 2 = it doesn't.
        let mut block_ok = std::mem::take(&mut bufs.block_ok);
        block_ok.clear();
        block_ok.resize(self.data.len(), 0);
        // The preferred slot's id, when a template, a fixed slot or a
        // context copy has it (none has it: nothing fills it).
        let best_slot = self
            .settings
            .best_slot_name
            .as_ref()
            .map(|_| self.best_slot);
        let mut sink = |state: &State<'a>, si: u32| {
            let sentence = &self.sentences[si as usize];
            let data = &self.data[sentence.data as usize];
            // The caller's context overridden by the matched values' (later first).
            let get = |k: &str| -> Option<&str> {
                state
                    .context
                    .iter()
                    .rev()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| *v)
                    .or_else(|| ctx.get(k))
            };
            if !check_excluded(&data.excludes, &get) || !check_required(&data.requires, &get, false)
            {
                return;
            }
            // The preferred slot as `finish` fills it: the last entity for it,
            // else the block's fixed slot or a context copy (no spoken text).
            let best = best_slot.and_then(|id| {
                let id = id?;
                match state.entities.iter().rev().find(|e| e.slot == id) {
                    Some(e) if e.wildcard => None,
                    Some(e) => Some(input.trimmed_len(e.start, e.end)),
                    None => {
                        let fixed = data.slots.iter().any(|(k, _, _)| *k == id)
                            || data.requires.iter().any(|(key, req)| {
                                req.copy_to.as_ref().is_some_and(|(k, _)| *k == id)
                                    && get(key).is_some()
                            });
                        fixed.then_some(0)
                    }
                }
            });
            let entities = (
                results.entities.len() as u32,
                (results.entities.len() + state.entities.len()) as u32,
            );
            results.entities.extend_from_slice(&state.entities);
            let context = (
                results.context.len() as u32,
                (results.context.len() + state.context.len()) as u32,
            );
            results.context.extend_from_slice(&state.context);
            results.hits.push(Hit {
                si,
                entities,
                context,
                score: state.score,
                total_chars,
                key: RankKey {
                    intent: data.intent,
                    best,
                    edits,
                    wildcards: state.entities.iter().filter(|e| e.wildcard).count() as u32,
                    literal_chars: state.score,
                },
            });
        };
        let empty = Tables {
            rules: &[],
            globals: &self.globals,
            locals: &self.locals,
            requires: &[],
            excludes: &[],
        };
        let mut matcher =
            Matcher::with_buffers(empty, input, &mut sink, std::mem::take(&mut bufs.matcher));
        self.prefilter
            .candidates(input, &mut bufs.prefilter, &mut bufs.candidates);
        for &si in &bufs.candidates {
            let sentence = &self.sentences[si as usize];
            let data = &self.data[sentence.data as usize];
            let slot = &mut block_ok[sentence.data as usize];
            if *slot == 0 {
                let ok = ctx.is_empty()
                    || (check_required(&data.requires, &|k| ctx.get(k), true)
                        && check_excluded(&data.excludes, &|k| ctx.get(k)));
                *slot = if ok { 1 } else { 2 };
            }
            if *slot != 1 {
                continue;
            }
            matcher.tables = Tables {
                rules: &self.rule_tables[data.rules as usize],
                globals: &self.globals,
                locals: &self.locals,
                requires: &data.requires,
                excludes: &data.excludes,
            };
            matcher.tag = si;
            matcher.run(&sentence.node);
        }
        bufs.matcher = matcher.into_buffers();
        bufs.block_ok = block_ok;
        results
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        entities: &[Entity<'_>],
        matched_context: &[(&str, &str)],
        score: u32,
        input: &Input,
        ctx: &Context,
        data: &DataBlock,
        sentence: &Sentence,
        total_chars: f32,
        edits: u32,
    ) -> Option<IntentMatch> {
        let context = merged_context(ctx, entities, matched_context);
        // The hit sink checked the block's context rules against this same
        // context (the caller's with the matched values' over it).
        debug_assert!({
            let get = |k: &str| -> Option<&str> { context.get(k) };
            check_excluded(&data.excludes, &get) && check_required(&data.requires, &get, false)
        });
        // Slots in name order, a later one replacing an earlier one of the
        // same name (entities in order, then fixed slots, then context copies).
        let copies = data
            .requires
            .iter()
            .filter(|(_, r)| r.copy_to.is_some())
            .count();
        let mut slots = SlotsBuilder::new(entities.len() + data.slots.len() + copies);
        let mut wildcards = 0;
        let mut wildcard_chars = 0usize;
        let mut plausibility = 1.0f32;
        for e in entities {
            let text = input.slice(e.start, e.end);
            if e.wildcard {
                wildcards += 1;
                wildcard_chars += text.chars().filter(|c| !c.is_whitespace()).count();
                let from =
                    crate::plausible::span_start(&sentence.introducers, e.slot, input, e.start);
                let score = if from == e.start {
                    self.lexicon.score(e.slot, &text)
                } else {
                    self.lexicon.score(e.slot, &input.slice(from, e.end))
                };
                plausibility = plausibility.min(score);
            }
            let value = match &e.value {
                EValue::Spoken => Value::Text(text.clone()),
                EValue::Value(v) => match &v.out {
                    Some(out) => out.clone(),
                    None => Value::Text(text.clone()),
                },
                EValue::Num(n) => Value::Number(*n),
            };
            slots.put(
                self.slot_rank[e.slot as usize],
                &self.slot_names[e.slot as usize],
                SlotValue {
                    value,
                    text,
                    wildcard: e.wildcard,
                },
            );
        }
        // Slots a matched entity filled (fixed and context slots don't override them).
        let matched = |id: u32| entities.iter().any(|e| e.slot == id);
        for (id, k, v) in &data.slots {
            if !matched(*id) {
                slots.put(
                    self.slot_rank[*id as usize],
                    k,
                    SlotValue {
                        value: v.clone(),
                        text: String::new(),
                        wildcard: false,
                    },
                );
            }
        }
        for (key, req) in &data.requires {
            if let Some((id, slot)) = &req.copy_to
                && !matched(*id)
                && let Some(v) = context.get(key)
            {
                slots.put(
                    self.slot_rank[*id as usize],
                    slot,
                    SlotValue {
                        value: Value::Text(v.to_string()),
                        text: String::new(),
                        wildcard: false,
                    },
                );
            }
        }
        let slots = slots.finish();
        let wildcard_share = wildcard_chars as f32 / total_chars;
        let mut confidence = (1.0 - 0.5 * wildcard_share) * plausibility;
        if edits > 0 {
            let words = input
                .low
                .split(|&c| c == ' ')
                .filter(|w| !w.is_empty())
                .count()
                .max(1) as f32;
            confidence *= (1.0 - edits as f32 / words).max(0.0) * 0.9;
        }
        Some(IntentMatch {
            intent: self.intent_names[data.intent as usize].clone(),
            slots,
            confidence: confidence.clamp(0.0, 1.0),
            response: data.response.clone(),
            metadata: data.metadata.clone(),
            context,
            template: sentence.text.clone(),
            literal_chars: score,
            wildcards,
            edits,
        })
    }

    /// Picks the best of `all` (hassil order) and lists candidates.
    pub(crate) fn rank(&self, all: Vec<IntentMatch>) -> Recognition {
        let best_slot = self.settings.best_slot_name.as_deref();
        let keys: Vec<RankKey> = all
            .iter()
            .map(|m| RankKey {
                intent: self
                    .intents
                    .iter()
                    .position(|n| *n == m.intent)
                    .unwrap_or(0) as u32,
                best: best_slot
                    .and_then(|slot| m.slots.get(slot))
                    .filter(|e| !e.wildcard)
                    .map(|e| e.text.chars().count()),
                edits: m.edits,
                wildcards: m.wildcards,
                literal_chars: m.literal_chars,
            })
            .collect();
        let best_idx = best_index(&keys);
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by_key(|&i| keys[i].order());
        if let Some(b) = best_idx {
            order.retain(|&i| i != b);
            order.insert(0, b);
        }
        let mut candidates: Vec<IntentMatch> = Vec::new();
        for i in order {
            if candidates.iter().any(|c| c.intent == all[i].intent) {
                continue;
            }
            candidates.push(all[i].clone());
            if candidates.len() >= 5 {
                break;
            }
        }
        let mut all = all;
        let best = best_idx
            .map(|i| all.swap_remove(i))
            .filter(|m| m.confidence >= self.settings.threshold);
        Recognition { best, candidates }
    }
}

/// The caller's context with the matched list values' context over it:
/// shared, not copied, when it is the caller's (nothing matched adds to it)
/// or one list value's (the caller's is empty).
fn merged_context(ctx: &Context, entities: &[Entity<'_>], matched: &[(&str, &str)]) -> Context {
    if matched.is_empty() {
        return ctx.clone();
    }
    if ctx.is_empty() {
        let mut with = entities.iter().filter_map(|e| match e.value {
            EValue::Value(v) if !v.context.is_empty() => Some(v),
            _ => None,
        });
        if let (Some(v), None) = (with.next(), with.next())
            && v.context.len() == matched.len()
        {
            return v.context.clone();
        }
    }
    let mut context = ctx.clone();
    for (k, v) in matched {
        context.insert(*k, *v);
    }
    context
}

/// A match's slots while they are built: kept sorted by the slot names'
/// ranks (numbers compared, not names), each slot once. Past 16 slots
/// (no Home Assistant template comes near) they are sorted by name instead.
struct SlotsBuilder {
    entries: Vec<(SharedStr, SlotValue)>,
    /// `entries`' ranks, while there are at most 16.
    ranks: [u32; 16],
    by_name: Option<Slots>,
}

impl SlotsBuilder {
    /// Room for `most` slots.
    #[inline(always)]
    fn new(most: usize) -> Self {
        Self {
            entries: Vec::with_capacity(most.min(16)),
            ranks: [0; 16],
            by_name: (most > 16).then(Slots::new),
        }
    }

    /// Sets the slot of rank `rank` and name `name`.
    #[inline(always)]
    fn put(&mut self, rank: u32, name: &SharedStr, value: SlotValue) {
        if let Some(slots) = &mut self.by_name {
            slots.insert(name.clone(), value);
            return;
        }
        let n = self.entries.len();
        let mut i = n;
        while i > 0 && self.ranks[i - 1] >= rank {
            i -= 1;
        }
        if i < n && self.ranks[i] == rank {
            self.entries[i].1 = value;
            return;
        }
        self.ranks.copy_within(i..n, i + 1);
        self.ranks[i] = rank;
        if i == n {
            self.entries.push((name.clone(), value));
        } else {
            self.entries.insert(i, (name.clone(), value));
        }
    }

    #[inline(always)]
    fn finish(self) -> Slots {
        match self.by_name {
            Some(slots) => slots,
            None => Slots::from_sorted(self.entries),
        }
    }
}

/// A full match before it is built into an [`IntentMatch`].
struct Hit {
    /// The sentence (template) index.
    si: u32,
    /// Its entities and matched context: ranges of [`Hits`]' arenas.
    entities: (u32, u32),
    context: (u32, u32),
    /// Literal characters matched.
    score: u32,
    total_chars: f32,
    key: RankKey,
}

/// The full matches of a sentence, their entities and context in two arenas
/// (not a vector each).
#[derive(Default)]
struct Hits<'a> {
    hits: Vec<Hit>,
    entities: Vec<Entity<'a>>,
    context: Vec<(&'a str, &'a str)>,
}

/// Buffers a sentence's recognition reuses from the thread's last sentence.
#[derive(Default)]
struct Scratch {
    input: Input,
    bufs: Bufs,
}

/// Working buffers of the pre-filter and the matcher loop.
#[derive(Default)]
pub(crate) struct Bufs {
    prefilter: PrefilterBufs,
    candidates: Vec<u32>,
    block_ok: Vec<u8>,
    matcher: MatcherBufs,
    hits: Vec<Hit>,
    hit_entities: Vec<Entity<'static>>,
    hit_context: Vec<(&'static str, &'static str)>,
    keys: Vec<RankKey>,
    order: Vec<usize>,
    intents: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// What ranking looks at.
#[derive(Debug, Clone, Copy)]
struct RankKey {
    intent: u32,
    /// Characters of the preferred slot (`best_slot_name`) when a list, a
    /// fixed slot or the context fills it (not a wildcard).
    best: Option<usize>,
    edits: u32,
    wildcards: u32,
    literal_chars: u32,
}

impl RankKey {
    /// Fewer edits, then fewer wildcards, then more literal characters.
    fn order(&self) -> (u32, u32, std::cmp::Reverse<u32>) {
        (
            self.edits,
            self.wildcards,
            std::cmp::Reverse(self.literal_chars),
        )
    }
}

/// hassil's `recognize_best` over results in generation order.
fn best_index(all: &[RankKey]) -> Option<usize> {
    // The first of the best-ranked among the kept ones (kept: those filling
    // the preferred slot, if any does, with its longest text).
    let mut best: Option<usize> = None;
    let mut slot_found = false;
    let mut best_quality: Option<usize> = None;
    for (i, m) in all.iter().enumerate() {
        let is_slot = m.best.is_some();
        if slot_found && !is_slot {
            continue;
        }
        if !slot_found && is_slot {
            slot_found = true;
            best = None;
        }
        if let Some(q) = m.best {
            match best_quality {
                Some(b) if q < b => continue,
                Some(b) if q == b => {}
                _ => {
                    best_quality = Some(q);
                    best = None;
                }
            }
        }
        if best.is_none_or(|b| m.order() < all[b].order()) {
            best = Some(i);
        }
    }
    best
}

fn text_node(s: &str) -> Node {
    let mut nodes = vec![];
    let mut word = String::new();
    for c in s.chars() {
        if c.is_whitespace() {
            if !word.is_empty() {
                nodes.push(lit(&word));
                word.clear();
            }
            nodes.push(Node::Space);
        } else {
            word.push(crate::text::lower(c));
        }
    }
    if !word.is_empty() {
        nodes.push(lit(&word));
    }
    if nodes.len() == 1 {
        nodes.pop().expect("one")
    } else {
        Node::Seq(nodes.into())
    }
}

fn lit(word: &str) -> Node {
    let chars: Box<[char]> = word.chars().collect();
    let score = chars.len() as u32;
    Node::Lit { chars, score }
}

fn permutations(items: &[Node]) -> Node {
    if items.len() == 1 {
        return items[0].clone();
    }
    let mut alts = vec![];
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        alts.push(Node::Seq(Box::new([first, permutations(&rest)])));
    }
    Node::Alt(alts.into(), None)
}

/// hassil's `text_chunk_count`, used to order wildcard templates.
fn chunk_count(expr: &Expr) -> usize {
    match expr {
        Expr::Text(s) => s.split_whitespace().count().max(1),
        Expr::Seq(items) => items.iter().map(chunk_count).sum(),
        Expr::Alt { items, optional } => {
            items.iter().map(chunk_count).sum::<usize>() + usize::from(*optional)
        }
        Expr::Perm(items) => items.iter().map(chunk_count).sum::<usize>() + 2 * items.len(),
        Expr::List { .. } | Expr::Rule(_) => 0,
    }
}

fn rule_exprs(
    rules: &Yaml,
    sources: &Sources,
) -> Result<HashMap<String, (Expr, String)>, IntentError> {
    let mut out = HashMap::new();
    for (name, body) in rules.entries() {
        let Some(text) = body.as_text() else {
            return Err(IntentError::Field {
                origin: sources.locate(&format!("{name}:")),
                field: format!("expansion_rules.{name}"),
                message: "a rule body must be a template string".into(),
            });
        };
        let expr = template::parse(&text).map_err(|e| IntentError::Template {
            origin: sources.locate(&text),
            template: text.clone(),
            message: e.to_string(),
        })?;
        out.insert(name.clone(), (expr, text));
    }
    Ok(out)
}

/// The context requirements of `map`, with `slot` giving the id and name of
/// a slot a value is copied into.
fn ctx_reqs(map: &Yaml, mut slot: impl FnMut(&str) -> (u32, SharedStr)) -> Vec<(String, CtxReq)> {
    map.entries()
        .iter()
        .map(|(key, v)| {
            let (value, copy_to) = match v {
                Yaml::Map(_) => {
                    let copy_to = match v.get("slot") {
                        Some(Yaml::Str(s)) => Some(s.clone()),
                        Some(Yaml::Bool(true)) => Some(key.clone()),
                        _ => None,
                    };
                    (v.get("value").cloned().unwrap_or(Yaml::Null), copy_to)
                }
                other => (other.clone(), None),
            };
            let values = match &value {
                Yaml::Null => None,
                Yaml::Seq(items) => Some(items.iter().filter_map(Yaml::as_text).collect()),
                other => other.as_text().map(|t| vec![t]),
            };
            (
                key.clone(),
                CtxReq {
                    values,
                    copy_to: copy_to.map(|name| slot(&name)),
                },
            )
        })
        .collect()
}

/// Text of a YAML value for slots and metadata (scalars as written, others as YAML-ish text).
pub(crate) fn yaml_value_text(v: &Yaml) -> String {
    match v.as_text() {
        Some(t) => t,
        None => match v {
            Yaml::Null => String::new(),
            Yaml::Seq(items) => items
                .iter()
                .map(yaml_value_text)
                .collect::<Vec<_>>()
                .join(","),
            other => format!("{other:?}"),
        },
    }
}
