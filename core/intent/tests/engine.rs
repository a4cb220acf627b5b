//! Engine behaviour: fixture tables of templates + utterance → intent + slots,
//! runtime lists, context, ranking, rejection and error reporting.

use emma_intent::{Context, IntentEngine, IntentError, ListValue};

const HOME: &str = r#"
language: en
intents:
  HassTurnOn:
    data:
      - sentences:
          - "turn on [the] {name}"
          - "turn on [the] lights in [the] {area}"
        response: default
      - sentences:
          - "(open;[the] {name})"
        requires_context:
          domain: cover
  HassLightSet:
    data:
      - sentences:
          - "set [the] {area} brightness to {brightness}[ ](%|percent)"
        slots:
          domain: light
  HassClimateGetTemperature:
    data:
      - sentences:
          - "how (hot|warm) is it [in here]"
        requires_context:
          area:
            slot: true
  HassShoppingListAddItem:
    data:
      - sentences:
          - "add {item} to [my] shopping list"
lists:
  area:
    values:
      - Kitchen
      - in: "(living room|lounge)"
        out: Living Room
  brightness:
    range:
      from: 0
      to: 100
  item:
    wildcard: true
skip_words:
  - please
"#;

fn engine() -> IntentEngine {
    let mut e = IntentEngine::from_yaml_str(HOME, "home.yaml", "en").unwrap();
    e.set_list(
        "name",
        vec![
            ListValue::new("ceiling light", "light.ceiling").with_context("domain", "light"),
            ListValue::new("garage door", "cover.garage").with_context("domain", "cover"),
        ],
    );
    e
}

/// One row of a fixture table: utterance, context → intent and slots.
fn check(
    e: &IntentEngine,
    text: &str,
    ctx: &[(&str, &str)],
    want: Option<(&str, &[(&str, &str)])>,
) {
    let ctx: Context = ctx.iter().copied().collect();
    let got = e.recognize(text, &ctx).best;
    match (want, got) {
        (None, None) => {}
        (Some((intent, slots)), Some(m)) => {
            assert_eq!(m.intent, intent, "{text}");
            let got: Vec<(String, String)> = m
                .slots
                .iter()
                .map(|(k, v)| (k.to_string(), v.value.to_string()))
                .collect();
            let want: Vec<(String, String)> = slots
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{text}");
            assert!((0.0..=1.0).contains(&m.confidence));
        }
        (want, got) => panic!("{text}: want {want:?}, got {got:?}"),
    }
}

#[test]
fn fixture_table() {
    let e = engine();
    check(
        &e,
        "Turn on the ceiling light, please!",
        &[],
        Some(("HassTurnOn", &[("name", "light.ceiling")])),
    );
    check(
        &e,
        "turn on lights in the lounge",
        &[],
        Some(("HassTurnOn", &[("area", "Living Room")])),
    );
    check(
        &e,
        "open the garage door",
        &[],
        Some(("HassTurnOn", &[("name", "cover.garage")])),
    );
    check(
        &e,
        "the garage door open",
        &[],
        Some(("HassTurnOn", &[("name", "cover.garage")])),
    );
    // requires_context domain=cover filters the list values.
    check(&e, "open the ceiling light", &[], None);
    check(
        &e,
        "set the kitchen brightness to 50%",
        &[],
        Some((
            "HassLightSet",
            &[
                ("area", "Kitchen"),
                ("brightness", "50"),
                ("domain", "light"),
            ],
        )),
    );
    check(&e, "set kitchen brightness to 101 percent", &[], None);
    check(
        &e,
        "how warm is it",
        &[("area", "Kitchen")],
        Some(("HassClimateGetTemperature", &[("area", "Kitchen")])),
    );
    check(&e, "how warm is it", &[], None);
    check(
        &e,
        "add Oat Milk to my shopping list",
        &[],
        Some(("HassShoppingListAddItem", &[("item", "Oat Milk")])),
    );
    check(&e, "turn the page", &[], None);
}

#[test]
fn runtime_lists_change_without_reloading() {
    let mut e = engine();
    check(&e, "turn on the desk lamp", &[], None);
    e.set_list(
        "name",
        vec![ListValue::new("desk lamp", "light.desk").with_context("domain", "light")],
    );
    check(
        &e,
        "turn on the desk lamp",
        &[],
        Some(("HassTurnOn", &[("name", "light.desk")])),
    );
    check(&e, "turn on the ceiling light", &[], None);
}

#[test]
fn threshold_rejects_with_candidates() {
    let mut e = engine();
    e.set_threshold(0.99);
    let r = e.recognize("add oat milk to my shopping list", &Context::default());
    assert!(r.best.is_none());
    assert_eq!(r.candidates[0].intent, "HassShoppingListAddItem");
    assert!(r.candidates[0].confidence < 0.99);
}

#[test]
fn more_literal_text_wins() {
    let yaml = r#"
language: en
intents:
  Generic:
    data: [{sentences: ["play {query}"]}]
  Radio:
    data: [{sentences: ["play radio {station}"]}]
lists:
  query: {wildcard: true}
  station: {wildcard: true}
"#;
    let e = IntentEngine::from_yaml_str(yaml, "t.yaml", "en").unwrap();
    let m = e
        .recognize("play radio jazz fm", &Context::default())
        .best
        .unwrap();
    assert_eq!(m.intent, "Radio");
    assert_eq!(m.slots["station"].value, "jazz fm");
}

fn load_err(yaml: &str) -> String {
    let err = IntentEngine::from_yaml_str(yaml, "bad.yaml", "en").unwrap_err();
    err.to_string()
}

#[test]
fn errors_name_file_line_and_text() {
    let e = load_err(
        "language: en\nintents:\n  X:\n    data:\n      - sentences:\n          - \"turn (on\"\n",
    );
    assert!(
        e.contains("bad.yaml:6") && e.contains("turn (on") && e.contains("unbalanced"),
        "{e}"
    );
    let e = load_err(
        "language: en\nintents:\n  X:\n    data:\n      - sentences:\n          - \"set {nope}\"\n",
    );
    assert!(e.contains("bad.yaml:6") && e.contains("{nope}"), "{e}");
    let e = load_err(
        "language: en\nintents:\n  X:\n    data:\n      - sentences:\n          - \"set <nope>\"\n",
    );
    assert!(e.contains("bad.yaml:6") && e.contains("<nope>"), "{e}");
    let e = load_err(
        "language: en\nintents: {X: {data: [{sentences: [\"{n}\"]}]}}\nlists:\n  n:\n    range: {from: 10, to: 1}\n",
    );
    assert!(e.contains("bad.yaml:4") && e.contains("greater"), "{e}");
    let e = load_err("language: en\nintents:\n  X: [\n");
    assert!(e.starts_with("bad.yaml") && e.contains("bad yaml"), "{e}");
    let e = load_err(
        "language: en\nexpansion_rules:\n  a: \"<b>\"\n  b: \"<a>\"\nintents: {X: {data: [{sentences: [\"<a>\"]}]}}\n",
    );
    assert!(e.contains("refers to itself"), "{e}");
    assert!(matches!(
        IntentEngine::from_path(std::path::Path::new("/nonexistent/intents"), "en"),
        Err(IntentError::Io { .. })
    ));
}

/// The pre-filter (words every match needs, one of each alternative's words,
/// the words a template starts and ends with, a list's template values by
/// their first word) never drops a sentence the matcher would take.
#[test]
fn pre_filters_keep_every_match() {
    let yaml = r#"
language: en
intents:
  Dim:
    data:
      - sentences:
          - "(dim|lower|reduce) [the] {color} (lights|lamps)[ ]please"
          - "(make;[the] {color} light) (darker|dimmer)"
          - "{color}-(lights|lamps) (off|out)"
lists:
  color:
    values:
      - in: "(warm|cosy) white"
        out: warm
      - in: "red"
        out: red
"#;
    let engine = IntentEngine::from_yaml_str(yaml, "<test>", "en").unwrap();
    for (sentence, color) in [
        ("dim the warm white lights please", "warm"),
        ("reduce cosy white lamps please", "warm"),
        ("lower red lampsplease", "red"),
        ("the red light make darker", "red"),
        ("make cosy white light dimmer", "warm"),
        ("warm white-lamps out", "warm"),
        ("red-lights off", "red"),
    ] {
        let m = engine
            .recognize(sentence, &Context::new())
            .best
            .unwrap_or_else(|| panic!("{sentence:?}: no intent"));
        assert_eq!(m.slots["color"].value, color, "{sentence:?}");
    }
    for sentence in [
        "dim the warm white please",
        "make the red light",
        "the red light darker make",
        "hot white lights out",
    ] {
        assert!(
            engine.recognize(sentence, &Context::new()).best.is_none(),
            "{sentence:?}"
        );
    }
}

#[test]
fn match_context_is_the_callers_with_the_list_values_over_it() {
    let e = engine();
    let ctx = |pairs: &[(&str, &str)]| -> Context { pairs.iter().copied().collect() };
    let context = |text: &str, caller: &Context| -> Vec<(String, String)> {
        e.recognize_best(text, caller)
            .expect(text)
            .context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    // The list value's context alone, the caller's alone, both merged (the
    // value's over the caller's).
    assert_eq!(
        context("turn on the ceiling light", &Context::new()),
        pairs(&[("domain", "light")])
    );
    let kitchen = ctx(&[("area", "Kitchen")]);
    assert_eq!(
        context("add oat milk to my shopping list", &kitchen),
        pairs(&[("area", "Kitchen")])
    );
    assert_eq!(
        context(
            "turn on the garage door",
            &ctx(&[("area", "Kitchen"), ("domain", "x")])
        ),
        pairs(&[("area", "Kitchen"), ("domain", "cover")])
    );
    let m = e
        .recognize_best("turn on the ceiling light", &kitchen)
        .unwrap();
    assert_eq!(m.context.get("domain"), Some("light"));
    assert_eq!(m.context.len(), 2);
    assert_eq!(
        serde_json::to_string(&m.context).unwrap(),
        r#"{"area":"Kitchen","domain":"light"}"#
    );
    assert_eq!(
        format!("{:?}", m.context),
        r#"{"area": "Kitchen", "domain": "light"}"#
    );
    // Empty and built-up contexts compare by their entries.
    assert_eq!(Context::new(), ctx(&[]));
    assert_eq!(Context::new().with("a", "1"), ctx(&[("a", "1")]));
}
