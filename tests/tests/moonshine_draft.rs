//! Moonshine checks a draft (what the grammar decoder heard) instead of
//! writing every token in a step of its own: the transcript is the one it
//! writes alone, whatever the draft, in fewer decoder runs when the draft is
//! right (`emma_speech::moonshine::decode`).
//!
//! Needs `scripts/setup` (the Moonshine model in `$EMMA_HOME`, espeak-ng).

use emma_speech::moonshine::MoonshineModel;
use emma_speech::{ModelRegistry, synth};
use emma_tests::speech::emma_home;

fn model() -> MoonshineModel {
    let dir = ModelRegistry::new(emma_home().join("models"))
        .moonshine_english()
        .expect("the Moonshine model is installed (run scripts/setup)");
    MoonshineModel::load(&dir).expect("the Moonshine model loads")
}

#[test]
fn a_draft_changes_how_fast_moonshine_writes_never_what() {
    let model = model();
    let speech = synth::espeak("can I get a large latte with oat milk", "en-us", 150)
        .unwrap()
        .samples;
    let alone = model.transcribe(&speech).unwrap();
    let steps = model.last_steps();
    assert!(
        alone.to_lowercase().contains("latte"),
        "Moonshine heard the order: {alone:?}"
    );
    assert_eq!(steps.drafted, 0, "{steps:?}");
    assert_eq!(
        steps.runs,
        steps.tokens + 1,
        "alone: one run per token and one for the end"
    );

    let right = model
        .transcribe_with_draft(&speech, "can i get a large latte with oat milk")
        .unwrap();
    let drafted = model.last_steps();
    assert_eq!(right, alone);
    assert_eq!(drafted.tokens, steps.tokens);
    assert!(
        drafted.runs * 2 <= steps.runs && drafted.drafted * 2 >= drafted.tokens,
        "a right draft takes at most half the runs: {drafted:?} against {steps:?}"
    );

    for wrong in [
        "turn off the kitchen lights",
        "can i get a small espresso",
        "latte latte latte latte latte latte latte latte latte latte latte latte latte latte",
        "\u{0} ÿ \u{202e} 🙂 i'd",
        &"a ".repeat(2_000),
    ] {
        let text = model.transcribe_with_draft(&speech, wrong).unwrap();
        assert_eq!(text, alone, "draft {wrong:?}");
        let s = model.last_steps();
        assert_eq!(s.tokens, steps.tokens, "draft {wrong:?}: {s:?}");
    }
}

#[test]
fn speech_moonshine_hears_otherwise_is_written_as_it_hears_it() {
    let model = model();
    let speech = synth::espeak("who won the football game yesterday", "en-us", 150)
        .unwrap()
        .samples;
    let alone = model.transcribe(&speech).unwrap();
    // The grammar decoder forced the question into a command.
    let forced = model
        .transcribe_with_draft(&speech, "turn on the living room light")
        .unwrap();
    assert_eq!(forced, alone);
    assert!(alone.to_lowercase().contains("football"), "{alone:?}");
}
