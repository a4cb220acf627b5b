//! Ranking a command's neighbours by Moonshine's probability
//! (`emma_core::understand::rescore`, `Understander::rescore_command`): the
//! value spoken replaces a misheard one, two misheard slots are corrected
//! one after the other, the command spoken stays, and what cannot be
//! rescored is left alone; and the noise estimate rescoring reports. The measurement on real recordings
//! in kitchen noise is in docs/understand.md ("Ranking slot values by
//! Moonshine's own probability").

use std::path::Path;

use emma_core::intent::IntentEngine;
use emma_core::speech::{Engine, ModelRegistry, POCKETSPHINX_EN_US, synth};
use emma_core::understand::rescore::MARGIN;
use emma_core::understand::{AgreementRule, Decoding, Understander};
use emma_tests::speech_corpus::coffee_context;

/// The coffee context in PocketSphinx, without Moonshine.
fn coffee() -> Understander {
    Understander::new(
        IntentEngine::from_path(&coffee_context(), "en").unwrap(),
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .expect("PocketSphinx en-us opens (scripts/setup installs it)")
}

/// The coffee context with Moonshine's agreement check (which rescoring uses).
fn coffee_with_moonshine() -> Understander {
    let mut u = coffee();
    let moonshine = ModelRegistry::new(emma_tests::speech::emma_home().join("models"))
        .moonshine_english()
        .expect("the Moonshine model is installed (run scripts/setup)");
    u.set_agreement(Engine::Moonshine, &moonshine, Some(AgreementRule::DEFAULT))
        .unwrap();
    u
}

fn spoken(text: &str) -> Vec<i16> {
    let speech = synth::espeak(text, "en-us", 150).unwrap().samples;
    [synth::silence(300), speech, synth::silence(400)].concat()
}

#[test]
fn the_value_spoken_replaces_a_misheard_one_in_its_slot() {
    let mut u = coffee_with_moonshine();
    let pcm = spoken("give me a large latte");
    for misheard in ["give me a small latte", "give me a large mocha"] {
        let (record, better) = u.rescore_command(misheard, &pcm).unwrap().unwrap();
        assert!(record.replaced, "{misheard:?}: {record:?}");
        assert!(record.neighbours >= 10, "{record:?}");
        let [(best, gain)] = &record.replacements[..] else {
            panic!("{misheard:?}: one replacement, then none likelier: {record:?}");
        };
        assert_eq!(best, "give me a large latte");
        assert!(*gain > MARGIN, "{record:?}");
        // The last round scored the replacement's own neighbours: none
        // likelier (most not even read in full: they could not be).
        assert!(record.best.as_ref().is_none_or(|(_, g)| *g <= MARGIN));
        assert!(record.unread > 0, "{record:?}");
        let better = better.expect("a replacement");
        assert_eq!(better.text, "give me a large latte");
        assert_eq!(better.intent.as_deref(), Some("orderDrink"));
        assert_eq!(better.slots.get("size").map(String::as_str), Some("large"));
        assert_eq!(
            better.slots.get("coffeeDrink").map(String::as_str),
            Some("latte")
        );
    }
}

#[test]
fn two_misheard_slots_are_corrected_one_at_a_time() {
    let mut u = coffee_with_moonshine();
    let pcm = spoken("give me a large latte");
    let (record, better) = u
        .rescore_command("give me a small mocha", &pcm)
        .unwrap()
        .unwrap();
    let steps: Vec<&str> = record
        .replacements
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(steps.len(), 2, "{record:?}");
    assert_eq!(steps[1], "give me a large latte");
    assert!(record.replacements.iter().all(|(_, g)| *g > MARGIN));
    let better = better.expect("a replacement");
    assert_eq!(better.slots.get("size").map(String::as_str), Some("large"));
    assert_eq!(
        better.slots.get("coffeeDrink").map(String::as_str),
        Some("latte")
    );
}

#[test]
fn the_command_spoken_stays() {
    let mut u = coffee_with_moonshine();
    let pcm = spoken("can I have a small cappuccino please");
    let (record, better) = u
        .rescore_command("can I have a small cappuccino please", &pcm)
        .unwrap()
        .unwrap();
    assert_eq!(record.sentence, "can i have a small cappuccino please");
    assert!(!record.replaced, "{record:?}");
    assert!(better.is_none());
    // Every neighbour is less likely: most were not even read in full (the
    // start of their own words made them too unlikely to replace it).
    assert!(record.unread * 2 > record.neighbours, "{record:?}");
    assert!(
        record.best.as_ref().is_none_or(|(_, g)| *g < 0.0),
        "{record:?}"
    );
}

#[test]
fn what_cannot_be_rescored_is_left_alone() {
    let pcm = spoken("give me a large latte");
    // Without Moonshine there is nothing to score with.
    assert!(
        coffee()
            .rescore_command("give me a small latte", &pcm)
            .unwrap()
            .is_none()
    );
    let mut u = coffee_with_moonshine();
    // Not a command of the intents, or no text at all.
    for text in ["tell me a joke", "", "\u{202e}\u{7}"] {
        assert!(u.rescore_command(text, &pcm).unwrap().is_none(), "{text:?}");
    }
    // Control characters and direction marks are not words.
    let (record, _) = u
        .rescore_command("\u{202e}give me a SMALL latte\u{7}", &pcm)
        .unwrap()
        .unwrap();
    assert_eq!(record.sentence, "give me a small latte");
    // No audio to judge by: nothing replaced.
    let (record, better) = u
        .rescore_command("give me a small latte", &[])
        .unwrap()
        .unwrap();
    assert!(record.best.is_none() && !record.replaced && better.is_none());
    // Longer than Moonshine hears at once: an error that says so.
    let long = synth::silence(17_000)
        .into_iter()
        .chain(pcm.iter().copied())
        .collect::<Vec<_>>();
    let long = [long.clone(), long].concat();
    let err = u
        .rescore_command("give me a small latte", &long)
        .unwrap_err();
    assert!(err.to_string().contains("split the audio"), "{err}");
}

#[test]
fn the_noise_estimate_falls_as_noise_rises() {
    let speech = spoken("can I have a small cappuccino please");
    let level = synth::rms(&speech);
    let estimate = |snr: Option<f64>| {
        let mut pcm = speech.clone();
        if let Some(snr) = snr {
            synth::mix_noise(&mut pcm, level, synth::NoiseKind::Pink, snr, 7);
        }
        let cleaned = emma_core::speech::denoise::denoise(&pcm).unwrap();
        emma_core::speech::denoise::speech_to_noise_db(&pcm, &cleaned).unwrap()
    };
    let levels: Vec<f64> = [None, Some(24.0), Some(12.0), Some(6.0), Some(0.0)]
        .into_iter()
        .map(estimate)
        .collect();
    assert!(
        levels.windows(2).all(|w| w[0] > w[1]),
        "clean, 24, 12, 6, 0 dB: {levels:?}"
    );
    // Clean speech estimates above 10 dB; speech at 6 dB below.
    assert!(levels[0] > 10.0 && levels[3] < 10.0, "{levels:?}");
    assert!(
        emma_core::speech::denoise::speech_to_noise_db(&[0; 1600], &[0; 1600]).is_none(),
        "silence has no estimate"
    );
}
