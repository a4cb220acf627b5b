//! Rhino context import: the coffee-maker example converts to hassil YAML
//! and its sentences match through the intent engine with Rhino's slot values.

use emma_intent::import::{SourceFormat, detect, rhino_to_hassil};
use emma_intent::{Context, IntentEngine};

const COFFEE: &str = include_str!("data/import/coffee_maker.yml");

fn engine() -> IntentEngine {
    let yaml = rhino_to_hassil(COFFEE).expect("coffee maker context converts");
    IntentEngine::from_yaml_str(&yaml, "coffee_maker.yml", "en")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// `sentence` must give `intent` with exactly `slots`.
fn check(engine: &IntentEngine, sentence: &str, intent: Option<&str>, slots: &[(&str, &str)]) {
    let got = engine.recognize(sentence, &Context::default()).best;
    match (intent, got) {
        (None, None) => {}
        (None, Some(m)) => panic!(
            "{sentence:?}: expected no intent, got {} {:?}",
            m.intent, m.slots
        ),
        (Some(want), None) => panic!("{sentence:?}: expected {want}, got nothing"),
        (Some(want), Some(m)) => {
            assert_eq!(m.intent, want, "{sentence:?}");
            let got: Vec<(String, String)> = m
                .slots
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect();
            let mut want_slots: Vec<(String, String)> = slots
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            want_slots.sort();
            assert_eq!(got, want_slots, "{sentence:?}");
        }
    }
}

#[test]
fn detected_as_rhino() {
    assert_eq!(detect(COFFEE), SourceFormat::Rhino);
}

#[test]
fn converts_to_hassil_lists_per_slot_type() {
    let yaml = rhino_to_hassil(COFFEE).unwrap();
    assert!(yaml.starts_with("language: \"en\"\nintents:\n"), "{yaml}");
    // Several slot names can share a type; each reference names its slot.
    assert!(yaml.contains("{coffeeDrink:coffeeDrink}"), "{yaml}");
    assert!(yaml.contains("{coffeeDrink:oldDrink}"), "{yaml}");
    assert_eq!(
        yaml.matches("\"coffeeDrink\":\n    values:").count(),
        1,
        "one list per slot type: {yaml}"
    );
    assert!(yaml.contains("\"flat white\""), "{yaml}");
    assert!(
        yaml.contains("\"polite\": \"(could you|can you|would you|hey)\""),
        "{yaml}"
    );
    assert!(yaml.contains("{pv_SingleDigitInteger:cups}"), "{yaml}");
    assert!(
        yaml.contains("\"pv_SingleDigitInteger\":\n    range:\n      from: 0\n      to: 9\n"),
        "{yaml}"
    );
}

#[test]
fn sentences_match_with_rhino_slot_values() {
    let engine = engine();
    check(
        &engine,
        "get me a large latte",
        Some("orderDrink"),
        &[("size", "large"), ("coffeeDrink", "latte")],
    );
    check(
        &engine,
        "could you make me a twelve ounce dark roast americano with some sugar please",
        Some("orderDrink"),
        &[
            ("size", "twelve ounce"),
            ("roast", "dark roast"),
            ("coffeeDrink", "americano"),
            ("sugarAmount", "some"),
        ],
    );
    check(
        &engine,
        "make me a flat white with double shot and no sugar",
        Some("orderDrink"),
        &[
            ("coffeeDrink", "flat white"),
            ("numberOfShots", "double shot"),
            ("sugarAmount", "no"),
        ],
    );
    check(
        &engine,
        "can I have a small decaf mocha",
        Some("orderDrink"),
        &[
            ("size", "small"),
            ("roast", "decaf"),
            ("coffeeDrink", "mocha"),
        ],
    );
    check(
        &engine,
        "make it extra strong",
        Some("brewStrength"),
        &[("strength", "extra strong")],
    );
    check(
        &engine,
        "brew four cups of coffee",
        Some("cupCount"),
        &[("cups", "4")],
    );
    check(&engine, "make 3 cups", Some("cupCount"), &[("cups", "3")]);
    // Two slot names of one slot type, each reported under its own name.
    check(
        &engine,
        "change my latte to a flat white",
        Some("changeDrink"),
        &[("oldDrink", "latte"), ("newDrink", "flat white")],
    );
    check(
        &engine,
        "make it mocha instead of espresso",
        Some("changeDrink"),
        &[("newDrink", "mocha"), ("oldDrink", "espresso")],
    );
    check(&engine, "never mind", Some("cancelOrder"), &[]);
    check(&engine, "get me a large tea", None, &[]);
    check(&engine, "order me a pizza", None, &[]);
}
