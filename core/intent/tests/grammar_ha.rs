//! Grammar export of a whole HA language: valid, renders to JSGF, and stays
//! compact (lists are shared rules, not copied into every sentence).

#[path = "support/shared.rs"]
mod shared;

use emma_intent::IntentEngine;
use emma_intent::harness::Fixtures;

#[test]
fn home_assistant_english_exports_a_valid_compact_grammar() {
    let root = shared::ha_intents();
    let mut engine = IntentEngine::from_path(&root, "en").unwrap();
    Fixtures::from_file(&root.join("tests/en/_fixtures.yaml"))
        .unwrap()
        .apply(&mut engine);
    let export = engine.export_grammar();
    let grammar = &export.grammar;
    grammar.validate().unwrap();
    let jsgf = grammar.to_jsgf().unwrap();
    assert!(jsgf.contains("<l_name>") && jsgf.contains("<l_area>"));
    // Each list is defined once and referenced by name.
    assert_eq!(
        grammar.rules.iter().filter(|r| r.name == "l_name").count(),
        1
    );
    assert!(
        jsgf.matches("living room").count() <= 3,
        "area names copied around"
    );
    assert!(
        grammar.has_free(),
        "wildcards (search queries, items) decode freely"
    );
    let words = grammar.words();
    assert!(words.contains("turn") && words.contains("kitchen") && words.contains("brightness"));
    assert!(jsgf.len() < 2_000_000, "grammar is {} bytes", jsgf.len());
}
