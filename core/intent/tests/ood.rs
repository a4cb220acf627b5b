//! Out-of-domain rejection on `tests/data/ood/{en,de}.txt` with the HA
//! intents and fixtures loaded, while the in-domain HA suites keep passing.
//!
//! The person intent's open `who is {zone}` / `wer ist {zone}` wildcard
//! accepts "who is the president of the united states" in hassil 3.0.1 (3 of
//! the small en set, 3 of the small de set); Emma scores wildcard spans for
//! plausibility and rejects them. Figures for the large sets, Emma beside
//! hassil: `cargo bench -p emma-intent --bench differential -- --ood`.

#[path = "support/shared.rs"]
mod shared;

use std::path::PathBuf;

use emma_intent::harness::{Fixtures, run_suite};
use emma_intent::{Context, IntentEngine};

/// "who is the pope" was the last (an article without its preposition opens
/// the span's phrase: see `plausible.rs`).
const LARGE_BOUND_EN: usize = 0;
const LARGE_BOUND_DE: usize = 0;

fn engine(lang: &str) -> IntentEngine {
    let root = shared::ha_intents();
    let mut engine = IntentEngine::from_path(&root, lang).unwrap();
    Fixtures::from_file(&root.join("tests").join(lang).join("_fixtures.yaml"))
        .unwrap()
        .apply(&mut engine);
    engine
}

fn ood(lang: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/ood/{lang}.txt"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn false_accepts(lang: &str, sentences: &[String]) -> Vec<String> {
    let engine = engine(lang);
    sentences
        .iter()
        .filter_map(|s| {
            let r = engine.recognize(s, &Context::default());
            r.best
                .map(|m| format!("{s:?} -> {} {:?} ({:.2})", m.intent, m.slots, m.confidence))
        })
        .collect()
}

/// Nothing of the small hand-written sets may match, not even the "who is …"
/// questions hassil accepts through the person intent's open wildcard (3 en,
/// 3 de): wildcard spans are scored for plausibility (see `plausible.rs`).
fn assert_no_false_accepts(lang: &str) {
    let sentences = ood(lang);
    assert!(sentences.len() >= 50);
    let accepted = false_accepts(lang, &sentences);
    assert!(
        accepted.is_empty(),
        "{} of {} accepted:\n{}",
        accepted.len(),
        sentences.len(),
        accepted.join("\n")
    );
}

#[test]
fn english_out_of_domain_sentences_are_rejected() {
    assert_no_false_accepts("en");
}

#[test]
fn german_out_of_domain_sentences_are_rejected() {
    assert_no_false_accepts("de");
}

/// The large sets (`{lang}-large.txt`, >= 500 sentences each: questions,
/// chit-chat, missing devices, near-misses). hassil 3.0.1 accepts the 20 en
/// "who is …" questions and their de counterparts; Emma must stay at or below
/// the bound measured when the plausibility score was introduced.
fn assert_large_set(lang: &str, bound: usize) {
    let sentences = ood(&format!("{lang}-large"));
    assert!(sentences.len() >= 500, "{}", sentences.len());
    let accepted = false_accepts(lang, &sentences);
    assert!(
        accepted.len() <= bound,
        "{} of {} accepted (bound {bound}):\n{}",
        accepted.len(),
        sentences.len(),
        accepted.join("\n")
    );
}

#[test]
fn english_large_out_of_domain_set() {
    assert_large_set("en", LARGE_BOUND_EN);
}

#[test]
fn german_large_out_of_domain_set() {
    assert_large_set("de", LARGE_BOUND_DE);
}

#[test]
fn in_domain_suites_still_pass_with_the_default_threshold() {
    for lang in ["en", "de"] {
        let report = run_suite(&shared::ha_intents(), lang, &mut |_| {}).unwrap();
        // The harness judges `best`, which the threshold may reject.
        let rejected = report
            .outcomes
            .iter()
            .filter(|o| o.got.as_ref().is_some_and(|g| g.confidence < 0.5))
            .count();
        assert_eq!(report.failed(), 0, "{lang}");
        eprintln!(
            "{lang}: {} passed, {} known failures",
            report.passed(),
            report.known_failures().count()
        );
        assert_eq!(
            rejected, 0,
            "{lang}: {rejected} in-domain sentences below the threshold"
        );
    }
}
