//! Rhino context import: the coffee-maker example converts to hassil YAML
//! and its sentences match through the intent engine with Rhino's slot values.

use emma_intent::import::{SourceFormat, detect, rhino_to_hassil};
use emma_intent::{Context, IntentEngine};

mod support;
use support::check;

const COFFEE: &str = include_str!("data/import/coffee_maker.yml");

fn engine() -> IntentEngine {
    let yaml = rhino_to_hassil(COFFEE).expect("coffee maker context converts");
    IntentEngine::from_yaml_str(&yaml, "coffee_maker.yml", "en")
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
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

mod generated {
    //! Random Rhino expressions (words, `[choices]`, `(optional)` parts and
    //! slots) with a sentence each one accepts: the conversion must load in
    //! the engine and the sentence must match with the chosen slot value.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Node {
        Word(&'static str),
        Choice(Vec<Node>),
        Optional(Box<Node>),
        Slot,
    }

    const WORDS: &[&str] = &["make", "me", "a", "hot", "cup", "please", "now", "big"];
    const DRINKS: &[&str] = &["tea", "green tea", "cocoa"];

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop::sample::select(WORDS).prop_map(Node::Word);
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Node::Choice),
                inner.prop_map(|n| Node::Optional(Box::new(n))),
            ]
        })
    }

    fn rhino(n: &Node) -> String {
        match n {
            Node::Word(w) => w.to_string(),
            Node::Choice(alts) => format!(
                "[{}]",
                alts.iter().map(rhino).collect::<Vec<_>>().join(", ")
            ),
            Node::Optional(inner) => format!("({})", rhino(inner)),
            Node::Slot => "$drink:drink".to_string(),
        }
    }

    /// A sentence the node accepts; `pick` chooses alternatives and optionals.
    fn sample(n: &Node, pick: &mut impl FnMut(usize) -> usize, drink: &str, out: &mut Vec<String>) {
        match n {
            Node::Word(w) => out.push(w.to_string()),
            Node::Choice(alts) => sample(&alts[pick(alts.len())], pick, drink, out),
            Node::Optional(inner) => {
                if pick(2) == 1 {
                    sample(inner, pick, drink, out);
                }
            }
            Node::Slot => out.push(drink.to_string()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn converted_expressions_match_their_sentences(
            before in prop::collection::vec(node(), 0..3),
            after in prop::collection::vec(node(), 0..3),
            picks in prop::collection::vec(0usize..100, 32),
            drink in prop::sample::select(DRINKS),
        ) {
            let mut nodes = before.clone();
            nodes.push(Node::Slot);
            nodes.extend(after.iter().cloned());
            let expression = nodes.iter().map(rhino).collect::<Vec<_>>().join(" ");
            let context = format!(
                "context:\n  expressions:\n    order:\n      - \"{expression}\"\n  slots:\n    drink:\n{}",
                DRINKS.iter().map(|d| format!("      - \"{d}\"\n")).collect::<String>()
            );
            let yaml = rhino_to_hassil(&context).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let engine = IntentEngine::from_yaml_str(&yaml, "generated.yml", "en")
                .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
            let mut i = 0;
            let mut pick = |n: usize| { i += 1; picks[i % picks.len()] % n };
            let mut words = Vec::new();
            for n in &nodes {
                sample(n, &mut pick, drink, &mut words);
            }
            let sentence = words.join(" ");
            let best = engine.recognize(&sentence, &Context::default()).best;
            let best = best.ok_or_else(|| TestCaseError::fail(format!("{sentence:?} did not match {expression:?}")))?;
            prop_assert_eq!(best.intent, "order");
            prop_assert_eq!(&best.slots["drink"].value, drink, "{:?} for {:?}", sentence, expression);
        }

        #[test]
        fn any_text_converts_or_errors(text in "\\PC{0,200}") {
            let _ = rhino_to_hassil(&text);
            let _ = emma_intent::import::alexa_to_hassil(&text);
            let _ = detect(&text);
        }

        #[test]
        fn any_expression_converts_or_errors(expression in "[a-z \\[\\]()$@:,.{}|]{0,60}") {
            let context = format!("context:\n  expressions:\n    x:\n      - {expression:?}\n  slots:\n    drink: [tea]\n");
            let _ = rhino_to_hassil(&context);
        }
    }
}
