//! Fuzzy matching for speech-recognition errors (off by default; enable with
//! [`crate::Settings::fuzzy_max_edits`]).
//!
//! Runs only when exact matching finds nothing. Every input word that is not
//! in the engine's vocabulary (template words, list values, number words) is
//! replaced by the closest vocabulary word by character edit distance (at
//! most a third of the word's length rounded up), or dropped when nothing
//! is close. If that takes at most `fuzzy_max_edits` word edits, the
//! corrected sentence is matched exactly and the result's confidence is
//! lowered by the share of edited words.

use std::collections::BTreeSet;

use crate::engine::{Context, IntentEngine, IntentMatch};
use crate::lists::SlotList;
use crate::program::Node;
use crate::text::{Input, SkipWords};

fn collect(node: &Node, out: &mut BTreeSet<String>) {
    match node {
        Node::Lit { chars, .. } => {
            out.insert(chars.iter().collect());
        }
        Node::Seq(items) | Node::Alt(items, _) => items.iter().for_each(|i| collect(i, out)),
        Node::Space | Node::List { .. } | Node::Rule(_) => {}
    }
}

fn collect_list(list: &SlotList, out: &mut BTreeSet<String>) {
    match list {
        SlotList::Text(t) => {
            for v in &t.values {
                match &v.node {
                    Some(n) => collect(n, out),
                    None => out.extend(v.text_in.split_whitespace().map(str::to_lowercase)),
                }
            }
        }
        SlotList::Range(r) => {
            for w in &r.word_texts {
                out.extend(w.split_whitespace().map(str::to_lowercase));
            }
        }
        SlotList::Wildcard => {}
    }
}

/// Every word the engine can match literally.
pub(crate) fn vocabulary(engine: &IntentEngine) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &engine.sentences {
        collect(&s.node, &mut out);
    }
    for table in &engine.rule_tables {
        table.iter().for_each(|n| collect(n, &mut out));
    }
    for list in engine.globals.iter().flatten() {
        collect_list(list, &mut out);
    }
    for list in &engine.locals {
        collect_list(list, &mut out);
    }
    out
}

/// Character edit distance (Levenshtein), stopping early above `max`.
pub(crate) fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        if cur.iter().min().copied().unwrap_or(0) > max {
            return None;
        }
        prev = cur;
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Matches with word edits allowed; empty when fuzzy mode finds nothing.
pub(crate) fn recognize_fuzzy(
    engine: &IntentEngine,
    input: &Input,
    ctx: &Context,
) -> Vec<IntentMatch> {
    let max_edits = engine.settings.fuzzy_max_edits as usize;
    let vocab = vocabulary(engine);
    let words: Vec<String> = input
        .orig_string()
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut corrected = Vec::with_capacity(words.len());
    let mut edits = 0usize;
    for w in &words {
        let low = w.to_lowercase();
        if vocab.contains(&low)
            || low
                .chars()
                .all(|c| c.is_ascii_digit() || c == '%' || c == '.')
        {
            corrected.push(w.clone());
            continue;
        }
        edits += 1;
        if edits > max_edits {
            return Vec::new();
        }
        let max = low.chars().count().div_ceil(3).max(1);
        let best = vocab
            .iter()
            .filter_map(|v| edit_distance(&low, v, max).map(|d| (d, v)))
            .min_by_key(|(d, _)| *d)
            .map(|(_, v)| v.clone());
        if let Some(b) = best {
            corrected.push(b);
        }
    }
    if edits == 0 {
        return Vec::new();
    }
    let fixed = Input::new(&corrected.join(" "), &SkipWords::default());
    engine.match_input(&fixed, ctx, edits as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ListValue, Settings};

    const YAML: &str = r#"
language: en
intents:
  HassTurnOn:
    data:
      - sentences: ["turn on [the] {name}", "switch on [the] {area} lights"]
lists:
  area:
    values: [Kitchen, Living Room]
"#;

    fn engine(fuzzy: u32) -> IntentEngine {
        let mut e = IntentEngine::from_yaml_str(YAML, "t.yaml", "en").unwrap();
        e.set_list(
            "name",
            vec![ListValue::new("ceiling light", "light.ceiling")],
        );
        e.set_settings(Settings {
            fuzzy_max_edits: fuzzy,
            ..Settings::default()
        });
        e
    }

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("kitchen", "kitchen", 2), Some(0));
        assert_eq!(edit_distance("kichen", "kitchen", 2), Some(1));
        assert_eq!(edit_distance("lihgts", "lights", 2), Some(2));
        assert_eq!(edit_distance("banana", "kitchen", 2), None);
    }

    #[test]
    fn fuzzy_is_off_by_default() {
        let r = engine(0).recognize("switch on the kichen lihgts", &Context::default());
        assert!(r.best.is_none() && r.candidates.is_empty());
    }

    #[test]
    fn fuzzy_repairs_misrecognised_words_with_lower_confidence() {
        let r = engine(2).recognize("switch on the kichen lihgts", &Context::default());
        let m = r.best.expect("fuzzy match");
        assert_eq!(m.intent, "HassTurnOn");
        assert_eq!(m.slots["area"].value, "Kitchen");
        assert_eq!(m.edits, 2);
        assert!(
            m.confidence < 1.0 && m.confidence >= 0.5,
            "{}",
            m.confidence
        );
        let r = engine(2).recognize("turn on the cieling light", &Context::default());
        assert_eq!(
            r.best.expect("fuzzy match").slots["name"].value,
            "light.ceiling"
        );
    }

    #[test]
    fn fuzzy_respects_the_edit_budget() {
        let r = engine(1).recognize("switch on the kichen lihgts", &Context::default());
        assert!(r.best.is_none());
        let r = engine(3).recognize("what a lovely morning it is", &Context::default());
        assert!(r.best.is_none());
    }
}
