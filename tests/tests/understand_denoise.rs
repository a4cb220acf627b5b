//! RNNoise before recognition (`Understander::set_denoise`, `emma understand
//! --denoise`): the option reaches the stream, and in loud noise it hears
//! commands the raw audio loses. The measurement on real recordings is in
//! docs/understand.md ("Speech enhancement before recognition").

use std::path::Path;

use emma_core::intent::IntentEngine;
use emma_core::speech::{EndpointConfig, Engine, POCKETSPHINX_EN_US, synth};
use emma_core::understand::{Decoding, Understander};
use emma_tests::speech_corpus::coffee_context;

fn coffee() -> Understander {
    Understander::new(
        IntentEngine::from_path(&coffee_context(), "en").unwrap(),
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .expect("PocketSphinx en-us opens (scripts/setup installs it)")
}

/// The commands `u` finds in `pcm`, with their word-loop ratios.
fn heard(u: &mut Understander, pcm: &[i16]) -> Vec<(String, Option<f64>)> {
    u.understand_samples(EndpointConfig::default(), pcm)
        .unwrap()
        .into_iter()
        .filter(|r| r.intent.is_some())
        .map(|r| (r.text, r.fit))
        .collect()
}

/// Commands in white noise at 10 dB (seeded): with RNNoise in the stream
/// they are still heard right, and the recogniser hears the cleaned audio
/// (its fit differs from the raw audio's on every one).
#[test]
fn commands_in_noise_are_heard_through_the_denoiser() {
    for (i, phrase) in [
        "make it strong",
        "can I have a small cappuccino please",
        "brew three cups",
    ]
    .into_iter()
    .enumerate()
    {
        let spoken = synth::espeak(phrase, "en-us", 175).unwrap();
        let mut pcm = [synth::silence(300), spoken.samples, synth::silence(600)].concat();
        let level = synth::rms(&pcm);
        synth::mix_noise(
            &mut pcm,
            level,
            synth::NoiseKind::White,
            10.0,
            41 + i as u64,
        );
        let raw = heard(&mut coffee(), &pcm);
        let mut u = coffee();
        u.set_denoise(true);
        assert!(u.denoises());
        let cleaned = heard(&mut u, &pcm);
        let expected = phrase.to_lowercase().replace(" please", "");
        assert_eq!(cleaned.len(), 1, "{phrase}: {cleaned:?}");
        assert!(
            cleaned[0].0.starts_with(&expected),
            "{phrase}: heard {cleaned:?} (raw audio: {raw:?})"
        );
        assert_eq!(raw.len(), 1, "{phrase}: {raw:?}");
        assert_ne!(
            cleaned[0].1, raw[0].1,
            "{phrase}: the same fit with and without RNNoise: the stream was not cleaned"
        );
    }
}
