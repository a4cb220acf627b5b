//! Helpers shared by the import tests.

use emma_intent::{Context, IntentEngine};

/// `sentence` must give `intent` with exactly `slots` (value as reported), or
/// no intent at all when `intent` is `None`.
pub fn check(engine: &IntentEngine, sentence: &str, intent: Option<&str>, slots: &[(&str, &str)]) {
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
                .map(|(k, v)| (k.to_string(), v.value.to_string()))
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
