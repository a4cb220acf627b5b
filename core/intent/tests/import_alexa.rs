//! Alexa interaction model import: the kitchen example converts to hassil
//! YAML and matches through the intent engine, synonyms reporting the
//! canonical value.

use emma_intent::IntentEngine;
use emma_intent::import::{SourceFormat, alexa_to_hassil, detect};

mod support;
use support::check;

const KITCHEN: &str = include_str!("data/import/kitchen_alexa.json");

#[test]
fn detected_as_alexa() {
    assert_eq!(detect(KITCHEN), SourceFormat::Alexa);
}

#[test]
fn converts_types_to_lists_with_synonyms() {
    let yaml = alexa_to_hassil(KITCHEN).unwrap();
    assert!(
        yaml.contains("      - in: \"convection\"\n        out: \"fan\"\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "\"preheat the oven to {AMAZON_NUMBER:Temperature} degrees on {OvenMode:Mode}\""
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains("\"AMAZON_Food\":\n    wildcard: true\n"),
        "{yaml}"
    );
    assert!(!yaml.contains("FallbackIntent"), "{yaml}");
}

#[test]
fn sentences_match_through_the_engine() {
    let yaml = alexa_to_hassil(KITCHEN).unwrap();
    let engine = IntentEngine::from_yaml_str(&yaml, "kitchen_alexa.json", "en")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    check(
        &engine,
        "preheat the oven to 180 degrees",
        Some("StartOvenIntent"),
        &[("Temperature", "180")],
    );
    check(
        &engine,
        "preheat the oven to two hundred degrees on convection",
        Some("StartOvenIntent"),
        &[("Temperature", "200"), ("Mode", "fan")],
    );
    check(
        &engine,
        "set the oven to broil",
        Some("StartOvenIntent"),
        &[("Mode", "grill")],
    );
    check(
        &engine,
        "set a spaghetti timer for 8 minutes",
        Some("SetTimerIntent"),
        &[("Dish", "pasta"), ("Minutes", "8")],
    );
    check(
        &engine,
        "add oat milk to my shopping list",
        Some("AddToShoppingListIntent"),
        &[("Item", "oat milk")],
    );
    check(&engine, "stop", Some("AMAZON.StopIntent"), &[]);
    check(&engine, "never mind", Some("AMAZON.CancelIntent"), &[]);
    check(&engine, "set the oven to maximum", None, &[]);
}
