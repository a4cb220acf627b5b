//! Calibrating the sure point per grammar (`emma_core::understand::calibrate`):
//! what a calibration measures, that it is refused for another grammar, and
//! that the point it sets decides whether the assistant asks.
//!
//! Small samples (a few espeak-ng sentences, PocketSphinx en-us in-process);
//! the measurement of a full calibration is in `docs/understand.md`
//! ("Calibrating the sure point per grammar").

use std::path::Path;

use emma_core::intent::harness::Fixtures;
use emma_core::intent::{IntentEngine, ListValue};
use emma_core::speech::{EndpointConfig, Engine, POCKETSPHINX_EN_US, synth};
use emma_core::understand::{
    Calibration, CalibrationError, CalibrationOptions, Decoding, Rejection, Understander, Unsure,
    calibrate::Voice,
};
use emma_tests::speech_corpus::{coffee_commands, coffee_context, ha_light_tree};

fn open(intents: IntentEngine) -> Understander {
    Understander::new(
        intents,
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .expect("PocketSphinx en-us opens (scripts/setup installs it)")
}

fn coffee() -> Understander {
    open(IntentEngine::from_path(&coffee_context(), "en").unwrap())
}

/// A calibration of `u` whose only content is its sure point.
fn calibration_at(u: &Understander, sure: f64) -> Calibration {
    Calibration {
        fingerprint: u.fingerprint(),
        sure_word_loop_ratio: sure,
        max_acted: 0.02,
        confidence: 0.95,
        recordings: 0,
        allowed: 0,
        acted: 0,
        acted_at_default: 0,
        skipped: vec![],
        fits: vec![],
    }
}

/// `u`'s calibration no longer applies: the configured sure point is back,
/// and a warning says why (`why` is in it).
fn assert_calibration_dropped(u: &Understander, why: &str) {
    assert!(!u.is_calibrated());
    assert_eq!(u.rejection(), Rejection::default());
    assert!(
        u.warnings()
            .iter()
            .any(|w| w.starts_with("calibration:") && w.contains(why)),
        "{:?}",
        u.warnings()
    );
}

#[test]
fn calibration_leaves_out_the_grammars_own_commands_and_sets_a_point_no_recording_reaches() {
    let mut u = coffee();
    let command = coffee_commands()[0].text.clone();
    let options = CalibrationOptions {
        sentences: vec![
            command.clone(),
            "what time is it in tokyo".into(),
            "I would like a cup of tea".into(),
            "tell me about the weather".into(),
        ],
        voices: vec![Voice::clean("en-us", 175)],
        max_acted: 0.0,
        confidence: 0.95,
    };
    let mut calls = vec![];
    let c = u
        .calibrate(&options, &mut |done, total| calls.push((done, total)))
        .unwrap();
    assert_eq!(
        c.skipped,
        vec![command],
        "a command of the grammar is not spoken"
    );
    assert_eq!(c.recordings, 3);
    assert_eq!(calls, vec![(1, 3), (2, 3), (3, 3)]);
    assert!(c.sure_word_loop_ratio >= 0.0, "{c:?}");
    // None allowed: every recording that would be acted on at some point
    // falls below the chosen point.
    assert!(c.fits.iter().all(|&f| f < c.sure_word_loop_ratio), "{c:?}");
    assert_eq!(c.acted, 0);
    assert!(
        c.fits.windows(2).all(|w| w[0] >= w[1]),
        "highest first: {c:?}"
    );
    assert_eq!(
        c.acted_at_default,
        c.fits
            .iter()
            .filter(|&&f| f >= Rejection::DEFAULT_SURE_WORD_LOOP_RATIO)
            .count()
    );
    // The understander is unchanged until the calibration is applied.
    assert_eq!(u.rejection(), Rejection::default());
    u.apply_calibration(&c).unwrap();
    assert_eq!(u.rejection().sure_word_loop_ratio, c.sure_word_loop_ratio);
    assert_eq!(
        u.rejection().min_word_loop_ratio,
        Rejection::DEFAULT_MIN_WORD_LOOP_RATIO,
        "only the sure point changes"
    );
}

#[test]
fn a_calibration_made_for_another_grammar_is_refused() {
    let mut coffee = coffee();
    let tmp = tempfile::tempdir().unwrap();
    let tree = ha_light_tree(tmp.path()).unwrap();
    let mut engine = IntentEngine::from_path(&tree, "en").unwrap();
    Fixtures::from_file(&tree.join("tests/en/_fixtures.yaml"))
        .unwrap()
        .apply(&mut engine);
    let lights = open(engine);
    assert_ne!(coffee.fingerprint(), lights.fingerprint());
    assert_eq!(coffee.fingerprint(), self::coffee().fingerprint(), "stable");
    let e = coffee
        .apply_calibration(&calibration_at(&lights, 2.0))
        .unwrap_err();
    assert!(matches!(e, CalibrationError::OtherGrammar { .. }), "{e}");
    assert!(e.to_string().contains("calibrate again"), "{e}");
    assert_eq!(coffee.rejection(), Rejection::default(), "nothing applied");
}

#[test]
fn the_calibrated_point_decides_whether_a_command_is_asked_about() {
    let mut u = coffee();
    let spoken = synth::espeak("can I have a small cappuccino please", "en-us", 175).unwrap();
    let pcm = [synth::silence(300), spoken.samples, synth::silence(600)].concat();
    let heard = |u: &mut Understander| {
        let r = u
            .understand_samples(EndpointConfig::default(), &pcm)
            .unwrap();
        let command = r
            .into_iter()
            .find(|r| r.intent.is_some())
            .expect("a command");
        assert_eq!(command.intent.as_deref(), Some("orderDrink"));
        command
    };
    let fit = heard(&mut u).fit.expect("a word-loop ratio");
    assert!(
        fit > 0.0,
        "a clean command fits its grammar better than the word loop: {fit}"
    );
    u.apply_calibration(&calibration_at(&u, fit + 1.0)).unwrap();
    assert_eq!(heard(&mut u).unsure, Some(Unsure::AcousticFit));
    u.apply_calibration(&calibration_at(&u, 0.0)).unwrap();
    assert_eq!(heard(&mut u).unsure, None);
}

#[test]
fn a_calibration_stops_applying_when_the_lists_change_the_grammar() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = ha_light_tree(tmp.path()).unwrap();
    let mut engine = IntentEngine::from_path(&tree, "en").unwrap();
    let fixtures = Fixtures::from_file(&tree.join("tests/en/_fixtures.yaml")).unwrap();
    fixtures.apply(&mut engine);
    let mut u = open(engine);
    let before = u.fingerprint();
    u.apply_calibration(&calibration_at(&u, 2.0)).unwrap();
    assert!(u.is_calibrated());

    // The same lists again: the grammar, and so the calibration, stand.
    fixtures.apply(u.intents_mut());
    u.reload_grammar().unwrap();
    assert_eq!(u.fingerprint(), before);
    assert!(u.is_calibrated());
    assert_eq!(u.rejection().sure_word_loop_ratio, 2.0);

    // A new area (a device was added to it): the calibration was made for
    // another grammar, and the sure point it replaced comes back.
    let mut areas: Vec<ListValue> = fixtures
        .areas
        .iter()
        .map(|(n, _)| ListValue::new(n, n))
        .collect();
    areas.push(ListValue::new("conservatory", "conservatory"));
    u.intents_mut().set_list("area", areas);
    u.reload_grammar().unwrap();
    assert_ne!(u.fingerprint(), before);
    assert_calibration_dropped(&u, "lists changed");

    // One made for the new grammar applies; a second one still goes back to
    // the configured point, not to the first calibration's.
    u.apply_calibration(&calibration_at(&u, 1.0)).unwrap();
    u.apply_calibration(&calibration_at(&u, 3.0)).unwrap();
    fixtures.apply(u.intents_mut());
    u.reload_grammar().unwrap();
    assert_eq!(u.fingerprint(), before, "the old lists, the old grammar");
    assert_eq!(u.rejection(), Rejection::default());

    // A rejection set by the app replaces a calibration: no later reload brings
    // anything back.
    u.apply_calibration(&calibration_at(&u, 2.0)).unwrap();
    u.set_rejection(Rejection {
        sure_word_loop_ratio: 0.25,
        ..Rejection::default()
    });
    assert!(!u.is_calibrated());
}

/// RNNoise and agreement with Moonshine change how speech fits and which
/// recordings are acted on, so a calibration is for one setup of them: one
/// made without them is refused with them on, one in use stops applying the
/// moment they change, and the defaults keep their fingerprint (calibrations
/// saved before these steps were counted still apply).
#[test]
fn a_calibration_is_for_one_setup_of_rnnoise_and_agreement() {
    let mut u = coffee();
    let plain = u.fingerprint();
    let without = calibration_at(&u, 2.0);
    u.apply_calibration(&without).unwrap();

    u.set_denoise(false);
    assert!(
        u.is_calibrated(),
        "setting what is already set changes nothing"
    );
    u.set_denoise(true);
    assert_ne!(u.fingerprint(), plain);
    assert_calibration_dropped(&u, "RNNoise");
    assert!(matches!(
        u.apply_calibration(&without),
        Err(CalibrationError::OtherGrammar { .. })
    ));
    u.apply_calibration(&calibration_at(&u, 1.5)).unwrap();
    u.set_denoise(false);
    assert_eq!(u.fingerprint(), plain);
    assert_eq!(u.rejection(), Rejection::default());
    u.apply_calibration(&without).unwrap();

    let moonshine =
        emma_core::speech::ModelRegistry::new(emma_tests::speech::emma_home().join("models"))
            .moonshine_english()
            .expect("the Moonshine model is installed (run scripts/setup)");
    u.set_agreement(
        Engine::Moonshine,
        &moonshine,
        Some(emma_core::understand::AgreementRule::DEFAULT),
    )
    .unwrap();
    let agreeing = u.fingerprint();
    assert_ne!(agreeing, plain);
    assert!(!u.is_calibrated());
    u.apply_calibration(&calibration_at(&u, 1.0)).unwrap();
    u.set_agreement_rule(Some(emma_core::understand::AgreementRule::SameIntent));
    assert_ne!(
        u.fingerprint(),
        agreeing,
        "another rule acts on other recordings"
    );
    assert!(!u.is_calibrated());
    u.clear_agreement();
    assert_eq!(u.fingerprint(), plain);
    u.apply_calibration(&without).unwrap();
    assert_eq!(u.rejection().sure_word_loop_ratio, 2.0);
}
