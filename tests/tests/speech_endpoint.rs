//! Endpointing in noise, on clips made in the run (espeak-ng speech, generated
//! noise at known SNR, known speech spans): noise after speech does not start
//! a new utterance, a quiet onset is not clipped, a 1 s pause separates two
//! commands. The voice-activity endpointer (`EndpointConfig::voice_activity`) must keep all three; the old energy
//! endpointer breaks them (which shows the checks can fail). Then the same
//! through PocketSphinx: one command followed by noise gives one utterance.
//! And the default endpointer waits through a half-second pause inside a
//! command, where the old 400 ms hangover cut it in two.

use std::path::Path;

use emma_speech::endpoint_bench::{NoiseKind, Rng, Scenario, make_clip, score, segments};
use emma_speech::{EndpointConfig, Engine, Grammar, POCKETSPHINX_EN_US, synth, transcribe};

/// Onset clipping allowed, ms: the first 400 ms of a quiet onset fade in
/// from −30 dB; the pre-roll must give the recogniser what the detector missed.
const MAX_ONSET_CLIP_MS: f64 = 100.0;

const SPOKEN: [(&str, &str, u32); 4] = [
    ("turn on the kitchen light", "en-us", 175),
    ("set a timer for ten minutes", "en+f3", 150),
    ("is the front door locked", "en-us+m3", 200),
    ("open the blinds in the bedroom", "en-gb-x-rp+f2", 165),
];

fn speech() -> Vec<Vec<i16>> {
    SPOKEN
        .iter()
        .map(|(text, voice, speed)| synth::espeak(text, voice, *speed).unwrap().samples)
        .collect()
}

/// Every broken property, one line each.
fn violations(config: EndpointConfig, speech: &[Vec<i16>]) -> Vec<String> {
    let mut rng = Rng::new(3);
    let mut out = vec![];
    for snr in [18.0, 12.0] {
        for noise in [NoiseKind::Pink, NoiseKind::Brown] {
            for (i, s) in speech.iter().enumerate() {
                let what = format!("{:?} at {snr} dB, {:?}", noise, SPOKEN[i].0);
                let clip = make_clip(&[s], Scenario::BurstAfter, noise, snr, &[], &mut rng);
                let sc = score(&clip.truth, &segments(config, &clip.audio));
                if sc.extra > 0 || sc.split || sc.missed {
                    out.push(format!("noise after speech: {what}: {sc:?}"));
                }
                let clip = make_clip(&[s], Scenario::QuietOnset, noise, snr, &[], &mut rng);
                let sc = score(&clip.truth, &segments(config, &clip.audio));
                if sc.missed || sc.onset_clip_ms > MAX_ONSET_CLIP_MS {
                    out.push(format!("quiet onset: {what}: {sc:?}"));
                }
                let next = &speech[(i + 1) % speech.len()];
                let clip = make_clip(&[s, next], Scenario::TwoCommands, noise, snr, &[], &mut rng);
                let sc = score(&clip.truth, &segments(config, &clip.audio));
                // At 12 dB one of eight pairs still merges (docs/understand.md):
                // the separation is asserted from 18 dB up.
                if (sc.merged && snr >= 18.0) || sc.missed || sc.split {
                    out.push(format!("two commands 1 s apart: {what}: {sc:?}"));
                }
            }
        }
    }
    out
}

#[test]
fn the_voice_activity_endpointer_keeps_utterances_whole_and_apart_in_noise() {
    let v = violations(EndpointConfig::voice_activity(), &speech());
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn the_old_energy_endpointer_breaks_those_properties() {
    // It merges commands 1 s apart in steady noise: its noise floor follows
    // the noise up and the pause never looks like silence.
    let v = violations(EndpointConfig::energy_baseline(), &speech());
    assert!(
        v.iter().any(|l| l.starts_with("two commands 1 s apart")),
        "{v:#?}"
    );
}

#[test]
fn a_command_followed_by_noise_is_one_utterance_for_the_recogniser() {
    let speech = speech();
    let grammar = Grammar::from_phrases(&SPOKEN.map(|s| s.0));
    let mut rec = emma_speech::open(Engine::PocketSphinx, Path::new(POCKETSPHINX_EN_US)).unwrap();
    rec.set_grammar(Some(&grammar)).unwrap();
    let mut rng = Rng::new(5);
    for (i, s) in speech.iter().enumerate() {
        let clip = make_clip(
            &[s],
            Scenario::BurstAfter,
            NoiseKind::Pink,
            12.0,
            &[],
            &mut rng,
        );
        let (utts, back) = transcribe(rec, &clip.audio, EndpointConfig::voice_activity()).unwrap();
        rec = back;
        let texts: Vec<&str> = utts.iter().map(|u| u.result.text.as_str()).collect();
        assert_eq!(texts.len(), 1, "{:?}: {texts:?}", SPOKEN[i].0);
        // The utterance covers the speech: nothing of it left out.
        let (start, end) = clip.truth[0];
        assert!(utts[0].start_s * 16_000.0 <= start as f64, "{:?}", utts[0]);
        assert!(utts[0].end_s * 16_000.0 >= end as f64, "{:?}", utts[0]);
    }
}

/// An order with a pause inside it ("… drip coffee, with a bit of
/// sweetener"), then, a second and a half later, another command.
fn order_with_a_pause(pause_ms: u32) -> Vec<i16> {
    let say = |text: &str| synth::espeak(text, "en-us", 160).unwrap().samples;
    [
        synth::silence(300),
        say("make me a double shot drip coffee"),
        synth::silence(pause_ms),
        say("with a bit of sweetener"),
        synth::silence(1500),
        say("turn on the kitchen light"),
        synth::silence(1000),
    ]
    .concat()
}

#[test]
fn the_default_endpointer_waits_through_a_pause_inside_a_command() {
    // 150 ms of silence between the two halves, about 0.5 s from word to
    // word with espeak-ng's own: the old 400 ms hangover cut the order in
    // two (which shows the check can fail), the default keeps it whole.
    let audio = order_with_a_pause(150);
    let old = segments(EndpointConfig::energy_baseline(), &audio);
    assert_eq!(old.len(), 3, "{old:?}");
    let default = segments(EndpointConfig::default(), &audio);
    assert_eq!(default.len(), 2, "the order, then the command: {default:?}");
    // A second and a half apart, two commands stay two.
    let apart = order_with_a_pause(1500);
    let both = segments(EndpointConfig::default(), &apart);
    assert_eq!(both.len(), 3, "{both:?}");
}
