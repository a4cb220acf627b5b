//! Out-of-domain rejection on `tests/data/ood/{en,de}.txt` with the HA
//! intents and fixtures loaded, while the in-domain HA suites keep passing.
//!
//! Known limit: the person intent's open `who is {zone}` / `wer ist {zone}`
//! wildcard accepts "who is the president of the united states"-style
//! questions, exactly as hassil 3.0.1 does (3 of 108 en, 3 of 96 de). No
//! confidence rule found so far separates them from in-domain wildcard
//! sentences ("play The Office", "who is at home"), so the tests pin that
//! ceiling: any other false accept fails them.

use std::path::PathBuf;

use emma_intent::harness::{Fixtures, run_suite};
use emma_intent::{Context, IntentEngine};

fn ha_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ha-intents")
}

fn engine(lang: &str) -> IntentEngine {
    let root = ha_root();
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

fn false_accepts(lang: &str) -> Vec<String> {
    let engine = engine(lang);
    ood(lang)
        .into_iter()
        .filter_map(|s| {
            let r = engine.recognize(&s, &Context::default());
            r.best
                .map(|m| format!("{s:?} -> {} {:?} ({:.2})", m.intent, m.slots, m.confidence))
        })
        .collect()
}

/// At most the three known "who is …" / "wer ist …" sentences (the person
/// intent's open wildcard, accepted by hassil too) may match; nothing else.
fn assert_only_known_false_accepts(lang: &str, known_prefix: &str) {
    let sentences = ood(lang);
    assert!(sentences.len() >= 50);
    let accepted = false_accepts(lang);
    assert!(
        accepted.iter().all(|a| a.starts_with(known_prefix)),
        "{}",
        accepted.join("\n")
    );
    assert!(
        accepted.len() <= 3,
        "{} of {} accepted:\n{}",
        accepted.len(),
        sentences.len(),
        accepted.join("\n")
    );
}

#[test]
fn english_out_of_domain_sentences_are_rejected() {
    assert_only_known_false_accepts("en", "\"who is ");
}

#[test]
fn german_out_of_domain_sentences_are_rejected() {
    assert_only_known_false_accepts("de", "\"wer ist ");
}

#[test]
fn in_domain_suites_still_pass_with_the_default_threshold() {
    for lang in ["en", "de"] {
        let report = run_suite(&ha_root(), lang, &mut |_| {}).unwrap();
        // The harness judges `best`, which the threshold may reject.
        let rejected = report
            .outcomes
            .iter()
            .filter(|o| o.got.as_ref().is_some_and(|g| g.confidence < 0.5))
            .count();
        assert_eq!(report.failed(), 0, "{lang}");
        assert_eq!(
            rejected, 0,
            "{lang}: {rejected} in-domain sentences below the threshold"
        );
    }
}
