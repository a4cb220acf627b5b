//! Sentence-level shadowing at install: a skill must not take sentences
//! that a built-in intent or another skill's intent answers, even under an
//! intent name of its own (a skill intent `CoffeeLights` with "turn on the
//! kitchen light" would take that sentence from the built-in `HassTurnOn`).
//!
//! Both ways are checked, per language, with one merged engine of the new
//! skill and everything else (built-ins, dialog answers, handoff, the other
//! installed skills): sample sentences of the new skill
//! ([`emma_intent::samples`], bounded per template) must not be taken by an
//! intent of everything else, and sample sentences of everything else must
//! not be taken by the skill. The home's runtime lists (`name`, `area`, `floor`)
//! hold a small typical home on both sides ([`sample_home`]), so templates
//! that name devices and rooms are sampled and matched too. A sentence both
//! sides take is an overlap: an install error ([`AssistantError::Shadows`])
//! unless the skill's manifest lists the other intent under `shadows`, in
//! which case it is returned so the installer can tell the customer.

use std::collections::BTreeMap;

use emma_intent::{Context, IntentEngine, IntentSource, ListValue, SampleLimits, samples};

use super::error::AssistantError;

/// Most sample sentences per template (each side).
pub const PER_TEMPLATE: usize = 24;
/// Most sample sentences per source.
pub const PER_SOURCE: usize = 4_000;

/// One sentence two intents of different owners both take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadow {
    /// The language of the templates.
    pub lang: String,
    /// The new skill's id.
    pub skill: String,
    /// The new skill's intent.
    pub intent: String,
    /// Who owns the shadowed intent: `built-in`, `dialog`, `handoff` or a skill id.
    pub owner: String,
    /// The shadowed intent.
    pub shadowed: String,
    /// A sentence both take.
    pub sentence: String,
}

impl std::fmt::Display for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}'s intent {} shadows {}'s intent {}: both take \"{}\" ({})",
            self.skill, self.intent, self.owner, self.shadowed, self.sentence, self.lang
        )
    }
}

/// A small typical home for the runtime lists: (list, text, context key, context value).
fn sample_home(lang: &str) -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    let (names, areas, floors): (&[(&str, &str)], &[&str], &[&str]) = match lang {
        "de" => (
            &[
                ("Küchenlicht", "light"),
                ("Deckenlampe", "light"),
                ("Rollladen", "cover"),
                ("Haustür", "lock"),
                ("Fernseher", "media_player"),
            ],
            &["Küche", "Wohnzimmer", "Schlafzimmer", "Flur"],
            &["Erdgeschoss", "Obergeschoss"],
        ),
        _ => (
            &[
                ("kitchen light", "light"),
                ("ceiling light", "light"),
                ("bedroom blinds", "cover"),
                ("front door", "lock"),
                ("tv", "media_player"),
            ],
            &["kitchen", "living room", "bedroom", "hallway"],
            &["ground floor", "upstairs"],
        ),
    };
    let mut out: Vec<_> = names.iter().map(|(n, d)| ("name", *n, Some(*d))).collect();
    out.extend(areas.iter().map(|a| ("area", *a, None)));
    out.extend(floors.iter().map(|f| ("floor", *f, None)));
    out
}

/// The sampling limits with the sample home's texts for the runtime lists.
fn limits(lang: &str) -> SampleLimits {
    let mut runtime: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (list, text, _) in sample_home(lang) {
        runtime.entry(list.into()).or_default().push(text.into());
    }
    SampleLimits {
        per_template: PER_TEMPLATE,
        per_source: PER_SOURCE,
        runtime,
        ..SampleLimits::default()
    }
}

/// Fills `engine`'s runtime lists with the sample home (names carry their domain as context).
fn furnish(engine: &mut IntentEngine, lang: &str) {
    let mut lists: BTreeMap<&str, Vec<ListValue>> = BTreeMap::new();
    for (list, text, domain) in sample_home(lang) {
        let mut v = ListValue::new(text, text);
        if let Some(d) = domain {
            v = v.with_context("domain", d);
        }
        lists.entry(list).or_default().push(v);
    }
    for (list, values) in lists {
        engine.set_list(list, values);
    }
}

/// Every (skill intent, shadowed intent) pair whose sentences overlap, with
/// the first sentence found for each. `others` is everything loaded besides
/// the skill, `new` the skill's source for `lang`. One merged engine of both
/// (its compile is also the intent-name clash check, [`emma_intent::IntentError::Clash`])
/// hears the samples of each side; a sentence overlaps when an intent of the
/// other side is among its candidates above the confidence threshold.
pub fn overlaps(
    skill: &str,
    others: &[IntentSource],
    new: &IntentSource,
    lang: &str,
) -> Result<Vec<Shadow>, AssistantError> {
    let mut all = others.to_vec();
    all.push(new.clone());
    let (mut engine, owners) = IntentEngine::from_sources(&all, lang)?;
    furnish(&mut engine, lang);
    let threshold = engine.settings().threshold;
    let ctx = Context::new();
    let is_new = |intent: &str| owners.get(intent).is_some_and(|o| *o == new.owner);
    // Every intent that takes `text` (above the threshold).
    let takers = |text: &str| -> Vec<String> {
        engine
            .recognize(text, &ctx)
            .candidates
            .into_iter()
            .filter(|m| m.confidence >= threshold)
            .map(|m| m.intent.to_string())
            .collect()
    };
    let limits = limits(lang);
    let mut found: BTreeMap<(String, String), Shadow> = BTreeMap::new();
    let mut note = |intent: &str, shadowed: &str, sentence: &str| {
        let owner = owners.get(shadowed).cloned().unwrap_or_default();
        found
            .entry((intent.to_string(), shadowed.to_string()))
            .or_insert_with(|| Shadow {
                lang: lang.to_string(),
                skill: skill.to_string(),
                intent: intent.to_string(),
                owner,
                shadowed: shadowed.to_string(),
                sentence: sentence.to_string(),
            });
    };
    // A sample counts only when its own intent takes it: sampling ignores
    // `requires_context`, so a template may yield sentences its intent never takes.
    // The skill's sentences, taken by another intent too.
    for s in samples(new, lang, &limits)? {
        let t = takers(&s.text);
        if t.contains(&s.intent) {
            for other in t.iter().filter(|i| !is_new(i)) {
                note(&s.intent, other, &s.text);
            }
        }
    }
    // Everything else's sentences, taken by the skill too. The skill alone
    // (when it compiles alone) is a fast first filter: most sentences are not its.
    let alone = IntentEngine::from_sources(std::slice::from_ref(new), lang)
        .ok()
        .map(|(mut e, _)| {
            furnish(&mut e, lang);
            e
        });
    for source in others {
        for s in samples(source, lang, &limits)? {
            if alone
                .as_ref()
                .is_some_and(|a| a.recognize(&s.text, &ctx).candidates.is_empty())
            {
                continue;
            }
            let t = takers(&s.text);
            if t.contains(&s.intent) {
                for mine in t.iter().filter(|i| is_new(i)) {
                    note(mine, &s.intent, &s.text);
                }
            }
        }
    }
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins(lang: &str) -> Vec<IntentSource> {
        vec![
            super::super::intents::builtin_source(lang).unwrap(),
            super::super::intents::dialog_source(lang).unwrap(),
            super::super::handoff::intent_source(lang).unwrap(),
        ]
    }

    fn skill(yaml: &str) -> IntentSource {
        IntentSource::namespaced("com.test.skill", "skill/intents/en.yaml", yaml)
    }

    #[test]
    fn a_skill_intent_with_built_in_sentences_is_found_both_ways() {
        // Its sentence is one the built-in takes (the skill's sentence, heard by the built-ins).
        let lights = skill(
            "language: en\nintents:\n  CoffeeLights:\n    data:\n      - sentences: [\"turn on the kitchen light\"]\n",
        );
        let got = overlaps("com.test.skill", &builtins("en"), &lights, "en").unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let s = &got[0];
        assert_eq!(
            (s.intent.as_str(), s.owner.as_str(), s.shadowed.as_str()),
            ("CoffeeLights", "built-in", "HassTurnOn")
        );
        assert_eq!(s.sentence, "turn on the kitchen light");
        // A wildcard takes the built-ins' sentences (the built-ins' sentences, heard by the skill).
        let greedy = skill(
            "language: en\nintents:\n  Anything:\n    data:\n      - sentences: [\"pause {thing}\"]\nlists:\n  thing:\n    wildcard: true\n",
        );
        let got = overlaps("com.test.skill", &builtins("en"), &greedy, "en").unwrap();
        assert!(
            got.iter()
                .any(|s| s.shadowed == "HassMediaPause" && s.sentence.starts_with("pause ")),
            "{got:?}"
        );
    }

    #[test]
    fn distinct_sentences_do_not_overlap() {
        let coffee = skill(
            "language: en\nintents:\n  OrderDrink:\n    data:\n      - sentences: [\"[make me|order] [a] [{size}] {drink}\", \"the usual [please]\"]\nlists:\n  drink:\n    values: [latte, espresso]\n  size:\n    values: [small, large]\n",
        );
        let got = overlaps("com.test.skill", &builtins("en"), &coffee, "en").unwrap();
        assert!(got.is_empty(), "{got:?}");
    }
}
