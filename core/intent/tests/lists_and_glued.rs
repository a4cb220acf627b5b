//! Slot values that are lists, and wildcards glued to the following word,
//! in several languages (hassil's behaviour, checked in the differential run).

use emma_intent::{Context, IntentEngine, Value};

fn engine(yaml: &str, lang: &str) -> IntentEngine {
    IntentEngine::from_yaml_str(yaml, "<test>", lang).unwrap()
}

fn best(engine: &IntentEngine, text: &str) -> emma_intent::IntentMatch {
    engine
        .recognize(text, &Context::new())
        .best
        .unwrap_or_else(|| panic!("{text:?}: no intent"))
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

#[test]
fn fixed_list_slots_stay_lists_in_every_language() {
    for (lang, sentence, text) in [
        ("en", "open the blinds", "open the blinds"),
        ("nl", "open de rolluiken", "open de rolluiken"),
        ("de", "öffne die Rollläden", "öffne die Rollläden"),
    ] {
        let yaml = format!(
            "language: {lang}\nintents:\n  HassTurnOn:\n    data:\n      - sentences: [\"{sentence}\"]\n        \
             slots:\n          domain: cover\n          device_class: [blind, shutter, shade]\n"
        );
        let m = best(&engine(&yaml, lang), text);
        assert_eq!(
            m.slots["device_class"].value,
            list(&["blind", "shutter", "shade"]),
            "{lang}"
        );
        assert_eq!(m.slots["domain"].value, "cover");
        assert_eq!(
            serde_json::to_value(&m.slots["device_class"].value).unwrap(),
            serde_json::json!(["blind", "shutter", "shade"])
        );
    }
}

#[test]
fn list_out_values_keep_numbers() {
    let yaml = r#"
language: en
intents:
  SetSpeed:
    data:
      - sentences: ["set speed to {speed}"]
lists:
  speed:
    values:
      - in: slow
        out: 1
      - in: fast
        out: [2, 3]
"#;
    let e = engine(yaml, "en");
    assert_eq!(
        best(&e, "set speed to slow").slots["speed"].value,
        Value::Number(1.0)
    );
    assert_eq!(
        best(&e, "set speed to fast").slots["speed"].value,
        Value::List(vec![Value::Number(2.0), Value::Number(3.0)])
    );
}

#[test]
fn wildcards_glued_to_the_next_word_split_inside_it() {
    let cases = [
        // Dutch and German compounds: the timer's name is glued to "timer"/"Wecker".
        ("nl", "zet een {name}timer", "zet een pizzatimer", "pizza"),
        (
            "de",
            "stelle den {name}wecker",
            "stelle den Eierwecker",
            "Eier",
        ),
        // Danish writes it with or without a hyphen.
        ("da", "start {name}[-]timeren", "start 42-timeren", "42"),
        // Chinese has no spaces at all.
        (
            "zh-CN",
            "把{name}加到购物清单",
            "把牛奶加到购物清单",
            "牛奶",
        ),
    ];
    for (lang, template, sentence, name) in cases {
        let yaml = format!(
            "language: {lang}\nintents:\n  Test:\n    data:\n      - sentences: [\"{template}\"]\n\
             lists:\n  name:\n    wildcard: true\n"
        );
        let m = best(&engine(&yaml, lang), sentence);
        assert_eq!(m.slots["name"].value, name, "{lang}: {sentence}");
        assert!(m.slots["name"].wildcard);
    }
}

#[test]
fn a_spaced_template_does_not_split_words() {
    let yaml = "language: nl\nintents:\n  Test:\n    data:\n      - sentences: [\"zet een {name} timer\"]\n\
                lists:\n  name:\n    wildcard: true\n";
    let e = engine(yaml, "nl");
    assert!(
        e.recognize("zet een pizzatimer", &Context::new())
            .best
            .is_none()
    );
    assert_eq!(best(&e, "zet een pizza timer").slots["name"].value, "pizza");
}
