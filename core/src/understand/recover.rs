//! Matching an utterance's hypotheses: exactly, by completing a cut-off
//! command from the grammar, and by fuzzy alignment to the nearest sentence.

use std::collections::{BTreeMap, BTreeSet};

use emma_grammar::Grammar;
use emma_intent::{Context, IntentEngine, IntentMatch};

use super::Understood;
use super::walk::Walker;

/// One transcript to try: text, weight on its confidence, and the step name.
pub(super) type Hypothesis = (String, f32, &'static str);

type Slots = BTreeMap<String, String>;

/// The first of the recovery steps (exact, completion, fuzzy) that finds an
/// intent in `hyps`; `prefix` goes before the step name in [`Understood::via`].
pub(super) fn match_hypotheses(
    intents: &IntentEngine,
    grammar: &Grammar,
    hyps: &[Hypothesis],
    prefix: &str,
) -> Option<Understood> {
    let ctx = Context::new();
    let found = |text: &str, m: IntentMatch, conf: f32, via: &str| {
        understood(text, m, conf, format!("{prefix}{via}"))
    };
    // 1. Exact matches.
    for (text, weight, via) in hyps {
        if text.trim().is_empty() {
            continue;
        }
        if let Some(m) = intents.recognize(text, &ctx).best {
            let conf = m.confidence * weight;
            return Some(found(text, m, conf, via));
        }
    }
    // Recovered results below the engine's threshold are "no intent", as for text.
    let threshold = intents.settings().threshold;
    let walker = Walker::new(grammar);
    // 2. A cut-off command: complete it from the grammar.
    for (text, weight, _) in hyps {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let completions = walker.complete(&words, 32);
        if let Some(Agreed {
            intent,
            slots,
            open_slots,
            share,
            words: full,
        }) = agree(intents, &completions)
        {
            let coverage = words.len() as f32 / full.max(1) as f32;
            let conf = (weight * share * coverage).clamp(0.0, 1.0);
            if conf >= threshold {
                let via = format!("{prefix}completion");
                return Some(Understood {
                    open_slots,
                    ..Understood::found(text.clone(), intent, slots, conf, via)
                });
            }
        }
    }
    // 3. The nearest grammar sentence in word edits.
    for (text, weight, _) in hyps {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let max_edits = (words.len() as u32).div_ceil(3);
        if let Some((sentence, edits)) = walker.align(&words, max_edits)
            && let Some(m) = intents.recognize(&sentence.join(" "), &ctx).best
        {
            let penalty = 1.0 - edits as f32 / sentence.len().max(words.len()) as f32;
            let conf = m.confidence * weight * penalty;
            if conf >= threshold {
                return Some(found(text, m, conf, "fuzzy"));
            }
        }
    }
    None
}

/// What matching `text` to `m` with confidence `conf` by the step `via` came to.
pub(super) fn understood(text: &str, m: IntentMatch, conf: f32, via: String) -> Understood {
    let intent = m.intent.to_string();
    let (slots, open_slots) = slots_of(m);
    Understood {
        open_slots,
        ..Understood::found(text.to_owned(), intent, slots, conf.clamp(0.0, 1.0), via)
    }
}

/// The slot values of `m` as text, and the names of those that are open
/// text (wildcards).
fn slots_of(m: IntentMatch) -> (Slots, BTreeSet<String>) {
    let open = m
        .slots
        .iter()
        .filter(|(_, v)| v.wildcard)
        .map(|(k, _)| k.to_string())
        .collect();
    let slots = m
        .slots
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.value.to_string()))
        .collect();
    (slots, open)
}

/// What most completions of a cut-off command agree on.
struct Agreed {
    intent: String,
    /// The slots every one of them has with the same value.
    slots: Slots,
    /// Those of `slots` that are open text in the first of them.
    open_slots: BTreeSet<String>,
    /// Their share of all completions that matched an intent.
    share: f32,
    /// Words in the shortest of their completed sentences.
    words: usize,
}

/// The intent most completions agree on.
fn agree(intents: &IntentEngine, completions: &[Vec<String>]) -> Option<Agreed> {
    let ctx = Context::new();
    let mut by_intent: BTreeMap<String, Vec<(Slots, BTreeSet<String>, usize)>> = BTreeMap::new();
    let mut total = 0usize;
    for (sentence, added) in completions.iter().map(|c| (c.join(" "), c.len())) {
        if let Some(m) = intents.recognize(&sentence, &ctx).best {
            total += 1;
            let intent = m.intent.to_string();
            let (slots, open) = slots_of(m);
            by_intent
                .entry(intent)
                .or_default()
                .push((slots, open, added));
        }
    }
    let (intent, matches) = by_intent.into_iter().max_by_key(|(_, v)| v.len())?;
    let share = matches.len() as f32 / total as f32;
    let (first, first_open, _) = &matches[0];
    let mut slots = first.clone();
    slots.retain(|k, v| matches.iter().all(|(s, _, _)| s.get(k) == Some(v)));
    let open_slots = first_open
        .iter()
        .filter(|k| slots.contains_key(*k))
        .cloned()
        .collect();
    let words = matches.iter().map(|m| m.2).min().unwrap_or(0);
    Some(Agreed {
        intent,
        slots,
        open_slots,
        share,
        words,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
language: en
intents:
  Order:
    data:
      - sentences:
          - "(give|make) me [a] {size} {drink} [please]"
  Cancel:
    data:
      - sentences:
          - "never mind"
lists:
  size:
    values: [small, large]
  drink:
    values: [latte, mocha, flat white]
"#;

    fn setup() -> (IntentEngine, Grammar) {
        let intents = IntentEngine::from_yaml_str(YAML, "coffee.yaml", "en").unwrap();
        let grammar = intents.export_grammar().grammar;
        (intents, grammar)
    }

    fn one(text: &str, weight: f32, via: &'static str) -> Vec<Hypothesis> {
        vec![(text.to_owned(), weight, via)]
    }

    #[test]
    fn an_exact_match_keeps_its_step_and_weights_the_confidence() {
        let (intents, grammar) = setup();
        let full = match_hypotheses(
            &intents,
            &grammar,
            &one("give me a large latte", 1.0, "grammar"),
            "",
        )
        .unwrap();
        assert_eq!(full.intent.as_deref(), Some("Order"));
        assert_eq!(full.slots.get("drink").map(String::as_str), Some("latte"));
        assert_eq!(full.slots.get("size").map(String::as_str), Some("large"));
        assert_eq!(full.via, "grammar");
        let nbest = match_hypotheses(
            &intents,
            &grammar,
            &one("give me a large latte", 0.5, "nbest"),
            "free-",
        )
        .unwrap();
        assert_eq!(nbest.via, "free-nbest");
        assert!((nbest.confidence - full.confidence * 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_cut_off_command_is_completed_with_only_the_shared_slots() {
        let (intents, grammar) = setup();
        let u = match_hypotheses(
            &intents,
            &grammar,
            &one("make me a small", 1.0, "grammar"),
            "",
        )
        .unwrap();
        assert_eq!(u.intent.as_deref(), Some("Order"));
        assert_eq!(u.via, "completion");
        assert_eq!(u.text, "make me a small");
        // Every completion agrees on the size, none on the drink.
        assert_eq!(u.slots.get("size").map(String::as_str), Some("small"));
        assert!(!u.slots.contains_key("drink"), "{:?}", u.slots);
        assert!(u.confidence > 0.0 && u.confidence < 1.0, "{}", u.confidence);
    }

    #[test]
    fn a_misheard_command_is_aligned_to_the_nearest_sentence() {
        let (intents, grammar) = setup();
        let u = match_hypotheses(
            &intents,
            &grammar,
            &one("give me the large mocha please", 1.0, "grammar"),
            "",
        )
        .unwrap();
        assert_eq!(u.intent.as_deref(), Some("Order"));
        assert_eq!(u.via, "fuzzy");
        assert_eq!(u.slots.get("drink").map(String::as_str), Some("mocha"));
        assert!(u.confidence < 1.0);
    }

    #[test]
    fn unrelated_or_empty_speech_matches_nothing() {
        let (intents, grammar) = setup();
        let hyps = vec![
            ("what time is it".to_owned(), 1.0, "grammar"),
            ("  ".to_owned(), 0.8, "partial"),
        ];
        assert_eq!(match_hypotheses(&intents, &grammar, &hyps, ""), None);
    }
}
