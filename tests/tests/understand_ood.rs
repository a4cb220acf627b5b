//! Speech that is not a command must come back without an intent.
//!
//! The grammar decoder forces any audio into some command; the
//! [`Understander`] rejects hypotheses whose acoustic fit against a phone
//! loop is poor (`emma_core::understand::Rejection`). These tests run the
//! pipeline in-process (PocketSphinx en-us) on out-of-domain speech — espeak-ng
//! sentences (`emma_tests::ood_corpus`) and the real wake-word recordings in
//! `../shared/data/wake-words` — against the coffee-maker context and Home
//! Assistant's English light intents, and check that in-domain commands are
//! still understood.
//!
//! The default tests run fixed samples with bounds measured with margin
//! (with the default rejection much out-of-domain speech against the coffee
//! context is still accepted: see the table in `docs/understand.md`); the
//! full measurement behind the table in `docs/understand.md` is ignored by
//! default: `cargo test -p emma-tests --test understand_ood -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use emma_core::intent::IntentEngine;
use emma_core::intent::harness::Fixtures;
use emma_core::speech::ModelRegistry;
use emma_core::speech::{EndpointConfig, Engine, POCKETSPHINX_EN_US, audio};
use emma_core::understand::{
    Agreement, AgreementRule, Decoding, Rejected, Rejection, Understander, Understood, Unsure,
};
use emma_tests::ood_corpus;
use emma_tests::speech_corpus::{
    Condition, Noise, SpokenCommand, coffee_commands, coffee_context, full_conditions,
    ha_light_commands, ha_light_tree, synthesize,
};

/// An understander with the library's default rejection (the rule these
/// bounds were measured with).
fn open(intents: IntentEngine) -> Understander {
    let u = Understander::new(
        intents,
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .expect("PocketSphinx en-us opens (scripts/setup installs it)");
    assert_eq!(u.rejection(), Rejection::default());
    u
}

fn coffee() -> Understander {
    open(IntentEngine::from_path(&coffee_context(), "en").unwrap())
}

/// The Home Assistant intents tree at `tree`, its test fixtures filling the
/// `name`, `area` and `floor` lists.
fn ha_intents(tree: &Path) -> Understander {
    let mut engine = IntentEngine::from_path(tree, "en").unwrap();
    Fixtures::from_file(&tree.join("tests/en/_fixtures.yaml"))
        .unwrap()
        .apply(&mut engine);
    open(engine)
}

/// Every utterance `u` heard in `file`.
fn hear(u: &mut Understander, file: &Path) -> Vec<Understood> {
    let pcm = audio::read_file(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .samples;
    u.understand_samples(EndpointConfig::default(), &pcm)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The utterances of `files` that came back with an intent, as `file: text → intent`.
fn accepted(u: &mut Understander, files: &[PathBuf]) -> Vec<String> {
    let mut out = vec![];
    for f in files {
        for r in hear(u, f) {
            if let Some(intent) = &r.intent {
                out.push(format!(
                    "{}: {:?} → {intent} {:?} (fit {:?}, via {})",
                    f.display(),
                    r.text,
                    r.slots,
                    r.fit,
                    r.via
                ));
            }
        }
    }
    out
}

const CLEAN: Condition = Condition {
    voice: "en-us",
    speed: 175,
    noise: None,
};
const NOISY: Condition = Condition {
    voice: "en+m3",
    speed: 160,
    noise: Some(Noise {
        kind: "whitenoise",
        snr_db: 20.0,
    }),
};

#[test]
fn spoken_out_of_domain_sentences_stay_within_the_measured_bound() {
    let dir = tempfile::tempdir().unwrap();
    let sentences: Vec<&str> = ood_corpus::sentences().into_iter().step_by(10).collect();
    let mut files = ood_corpus::speak(&sentences[..7], CLEAN, &dir.path().join("clean")).unwrap();
    files.extend(ood_corpus::speak(&sentences[7..], NOISY, &dir.path().join("noisy")).unwrap());
    let tree = ha_light_tree(dir.path()).unwrap();
    // Measured with the default rejection: coffee 8 of 13, HA lights 1 of
    // 13 (with the no-fit rule alone, the previous default: 9 and 2) — far
    // from the target; this bounds regressions.
    for (name, mut u, bound) in [("coffee", coffee(), 9), ("ha-lights", ha_intents(&tree), 2)] {
        let wrong = accepted(&mut u, &files);
        eprintln!("{name}: {} of {} accepted", wrong.len(), files.len());
        for w in &wrong {
            eprintln!("  {w}");
        }
        assert!(wrong.len() <= bound, "{name}: {wrong:#?}");
    }
}

#[test]
fn real_wake_word_recordings_stay_within_the_measured_bound() {
    let all = ood_corpus::wake_word_files().unwrap();
    assert_eq!(all.len(), 1124, "wake-word recordings");
    let files: Vec<PathBuf> = all.into_iter().step_by(112).collect();
    let dir = tempfile::tempdir().unwrap();
    let tree = ha_light_tree(dir.path()).unwrap();
    // Measured with the default rejection: coffee 4 of 11, HA lights 2 of 11
    // (with the no-fit rule alone, the previous default: 8 and 3) — far
    // from the target; this bounds regressions.
    // (HA lights was 1 of 11 before the first utterance of a recogniser was
    // decoded again with the updated cepstral mean, which made 4 of 5 first
    // home commands right that were wrong: real non-commands now fit the
    // grammar better too. Rejection, not a cold decoder, must keep them out.)
    // (Coffee 6 of 11 since the default end of utterance went from 400 to
    // 700 ms: these 11 are split differently. On every 4th recording (281),
    // `emma understand coffee_maker.yaml` accepted 159 with 400 ms and 156
    // with 700 ms, 3 acted on (not asked about) with each: no regression
    // behind the one more here.)
    for (name, mut u, bound) in [("coffee", coffee(), 6), ("ha-lights", ha_intents(&tree), 3)] {
        let wrong = accepted(&mut u, &files);
        eprintln!("{name}: {} of {} accepted", wrong.len(), files.len());
        for w in &wrong {
            eprintln!("  {w}");
        }
        assert!(wrong.len() <= bound, "{name}: {wrong:#?}");
    }
}

#[test]
fn a_rejected_utterance_says_why_and_skips_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let files = ood_corpus::speak(&["tell me a joke"], CLEAN, dir.path()).unwrap();
    let mut u = coffee();
    // Without rejection the grammar forces this sentence into a coffee command.
    u.set_rejection(Rejection::off());
    let forced = hear(&mut u, &files[0]);
    assert!(
        forced.iter().any(|r| r.intent.is_some()),
        "the grammar no longer forces this sentence into a command: {forced:?}"
    );
    // A threshold above every score rejects it, with the reason and without
    // any recovery step or free-decoding pass.
    u.set_rejection(Rejection {
        min_ratio: 0.5,
        when_nothing_fits: true,
        ..Rejection::off()
    });
    let heard = hear(&mut u, &files[0]);
    assert!(!heard.is_empty());
    for r in &heard {
        assert_eq!(r.intent, None, "{r:?}");
        assert_eq!(r.rejected, Some(Rejected::NotACommand), "{r:?}");
        assert_eq!(r.via, "none", "{r:?}");
        assert_eq!(r.confidence, 0.0);
        assert!(r.verification.is_some(), "{r:?}");
    }
}

#[test]
fn in_domain_commands_are_still_understood() {
    let dir = tempfile::tempdir().unwrap();
    // Every other command (the full set is in the accuracy tests and the table).
    let commands: Vec<SpokenCommand> = coffee_commands().into_iter().step_by(2).collect();
    let files = synthesize(&commands, CLEAN, &dir.path().join("coffee")).unwrap();
    let mut u = coffee();
    let mut exact = 0;
    let mut rejected = vec![];
    for (cmd, f) in commands.iter().zip(&files) {
        let heard = hear(&mut u, f);
        let first = heard.first();
        if let Some(r) = first.filter(|r| r.rejected == Some(Rejected::NotACommand)) {
            rejected.push(format!("{:?} → {r:?}", cmd.text));
        }
        let ok = first.is_some_and(|r| cmd.accepts(r.intent.as_deref(), &r.slots));
        if ok {
            exact += 1;
            let r = first.unwrap();
            // Above the Assistant's default confidence threshold (0.3).
            assert!(r.fit.is_some() && r.confidence >= 0.3, "{r:?}");
        } else {
            eprintln!("miss: {:?} → {first:?}", cmd.text);
        }
    }
    eprintln!("coffee clean: {exact}/{}", commands.len());
    // The default rejection turns none of these commands away (measured).
    assert!(rejected.is_empty(), "{rejected:#?}");
    // Measured 7/10 with and without rejection (the macchiato order cannot
    // be exact: not in the dictionary; the other two are misheard).
    assert!(exact >= 7, "coffee clean: {exact}/{}", commands.len());
}

/// The Moonshine English model `scripts/setup` installs.
fn moonshine_model() -> PathBuf {
    ModelRegistry::new(emma_tests::speech::emma_home().join("models"))
        .moonshine_english()
        .expect("the Moonshine model is installed (run scripts/setup)")
}

/// [`coffee`] with Moonshine's agreement check on.
fn coffee_with_agreement() -> Understander {
    with_agreement(coffee())
}

/// `u` with Moonshine's agreement check on.
fn with_agreement(mut u: Understander) -> Understander {
    let models = moonshine_model().parent().unwrap().to_owned();
    assert!(
        u.use_agreement_if_installed(&ModelRegistry::new(models))
            .unwrap()
    );
    u
}

/// Hears `files`, none of which may give an intent, and counts the
/// utterances whose agreement `why` holds for; each of those must have been
/// rejected by the agreement check.
fn rejected_by_agreement_for(
    u: &mut Understander,
    files: &[PathBuf],
    why: impl Fn(&emma_core::understand::Agreement) -> bool,
) -> usize {
    let mut n = 0;
    for f in files {
        for r in hear(u, f) {
            assert_eq!(r.intent, None, "{}: {r:?}", f.display());
            if r.agreement.as_deref().is_some_and(&why) {
                assert_eq!(
                    r.rejected_by,
                    Some(emma_core::understand::RejectedBy::Agreement),
                    "{}: {r:?}",
                    f.display()
                );
                n += 1;
            }
        }
    }
    n
}

#[test]
fn agreement_stops_acting_on_spoken_non_commands_the_acoustic_check_lets_through() {
    let dir = tempfile::tempdir().unwrap();
    // Out-of-domain sentences the default acoustic rejection accepted as
    // coffee orders in the measurement (docs/understand.md), and a command.
    let ood = [
        "tell me a joke",
        "what is the weather like tomorrow",
        "i'd like a cup of tea",
        "play some music",
    ];
    let files = ood_corpus::speak(&ood, CLEAN, &dir.path().join("ood")).unwrap();
    let command = coffee_commands().into_iter().next().unwrap();
    let cmd_file = &synthesize(
        std::slice::from_ref(&command),
        CLEAN,
        &dir.path().join("cmd"),
    )
    .unwrap()[0];
    let mut u = coffee_with_agreement();
    assert_eq!(u.agreement_rule(), Some(Some(AgreementRule::DEFAULT)));
    let mut by_agreement = 0;
    for f in &files {
        for r in hear(&mut u, f) {
            if r.intent.is_some() {
                // A sure command Moonshine disagrees with is asked about, never acted on.
                assert_eq!(
                    r.unsure,
                    Some(Unsure::Disagreement),
                    "{}: {r:?}",
                    f.display()
                );
                by_agreement += 1;
                continue;
            }
            if r.rejected_by == Some(emma_core::understand::RejectedBy::Agreement) {
                assert_eq!(r.rejected, Some(Rejected::NotACommand));
                let a = r.agreement.as_ref().expect("the transcript is reported");
                assert!(!a.transcript.is_empty(), "{r:?}");
                by_agreement += 1;
            }
        }
    }
    // Without the agreement check the acoustic one lets some through.
    assert!(by_agreement >= 1, "the agreement check rejected nothing");
    let heard = hear(&mut u, cmd_file);
    let first = heard.first().expect("the command is heard");
    assert!(
        command.accepts(first.intent.as_deref(), &first.slots),
        "{:?} → {first:?}",
        command.text
    );
    let a = first.agreement.as_ref().expect("the command was checked");
    assert!(AgreementRule::DEFAULT.agrees(a), "{a:?}");
}

/// With Moonshine's agreement deciding, the acoustic check rejects only
/// speech in which no grammar word fits: what its word loop would have
/// rejected is heard by Moonshine, which rejects the out-of-domain
/// sentences itself (or asks), never acts on them.
#[test]
fn with_agreement_the_word_loop_leaves_the_decision_to_moonshine() {
    let dir = tempfile::tempdir().unwrap();
    let ood = [
        "how tall is the eiffel tower",
        "remind me to call my mother",
        "what time is it in tokyo",
        "turn the volume down a little",
        "who won the football game last night",
        "can you spell necessary",
    ];
    let files = ood_corpus::speak(&ood, CLEAN, &dir.path().join("ood")).unwrap();
    let mut plain = coffee();
    let mut agreeing = coffee_with_agreement();
    let mut by_word_loop = 0;
    for f in &files {
        for r in hear(&mut plain, f) {
            let fits = r.verification.is_some_and(|v| v.complete || v.words > 0);
            if r.rejected_by == Some(emma_core::understand::RejectedBy::Acoustic) && fits {
                by_word_loop += 1;
            }
        }
        for r in hear(&mut agreeing, f) {
            assert!(r.intent.is_none() || r.unsure.is_some(), "acted on: {r:?}");
            if r.rejected_by == Some(emma_core::understand::RejectedBy::Acoustic) {
                let v = r.verification.expect("the acoustic check's evidence");
                assert!(!v.complete && v.words == 0, "{}: {r:?}", f.display());
            }
        }
    }
    assert!(
        by_word_loop >= 1,
        "without agreement the word loop rejects some of these"
    );
}

/// `sentences` spoken by espeak-ng in each clean `(voice, speed)`, into `dir`.
fn spoken_clean(sentences: &[&str], voices: &[(&'static str, u32)], dir: &Path) -> Vec<PathBuf> {
    voices
        .iter()
        .flat_map(|&(voice, speed)| {
            let condition = Condition {
                voice,
                speed,
                noise: None,
            };
            ood_corpus::speak(sentences, condition, &dir.join(voice)).unwrap()
        })
        .collect()
}

/// The out-of-domain sentences `emma understand --denoise --agreement` acted
/// on before [`Agreement::confirms`] (docs/understand.md, 4 December): the
/// grammar's unsure, cut-off command shared only small words ("me a") or an
/// opening with Moonshine's transcript. They may be asked about, never acted
/// on.
#[test]
fn a_transcript_sharing_only_small_words_does_not_make_an_unsure_command_sure() {
    let dir = tempfile::tempdir().unwrap();
    let ood = [
        "sing me a song",
        "make me a sandwich",
        "can i have an orange juice",
    ];
    // The two voices of the measurement's clean half.
    let files = spoken_clean(&ood, &[("en-gb", 140), ("en-us", 160)], dir.path());
    let mut u = coffee_with_agreement();
    u.set_denoise(true);
    let mut asked = 0;
    for f in &files {
        for r in hear(&mut u, f) {
            if r.intent.is_some() {
                assert!(r.unsure.is_some(), "acted on {}: {r:?}", f.display());
                asked += 1;
            }
        }
    }
    eprintln!("{asked} of {} asked about, none acted on", files.len());
}

/// Out-of-domain sentences that open like a coffee order: the grammar hears
/// an order ("i'd like a cappuccino") in "I'd like a cup of tea" and
/// Moonshine the sentence itself, so the two share half the words or more
/// but none of the order's slots. In the full measurement (780 files,
/// `--denoise --agreement`, 4 December) these were among the 21 accepted,
/// "I'd like a cup of tea" acted on; the transcript's missing slots now
/// reject them.
#[test]
fn a_transcript_without_any_of_the_commands_slots_rejects_it() {
    let dir = tempfile::tempdir().unwrap();
    let ood = [
        "I'd like a cup of tea",
        "I want a hot chocolate",
        "sing me a song",
    ];
    let files = spoken_clean(&ood, &[("en-us", 175), ("en-gb", 140)], dir.path());
    let mut u = coffee_with_agreement();
    u.set_denoise(true);
    let without_slots = rejected_by_agreement_for(&mut u, &files, |a| a.slots.none_heard());
    // The grammar heard orders in some of them: the slot check is what rejected those.
    assert!(
        without_slots >= 2,
        "{without_slots} rejected for their slots"
    );
}

/// Out-of-domain sentences that Home Assistant's grammar rebuilt into
/// commands (docs/understand.md, 5 December): "I think it is going to snow"
/// cut off and completed into a timer's `{conversation_command} in
/// <timer_duration>`, "Wake me up at six" into a broadcast, "The lights on the
/// city are beautiful" aligned to a light command, and "How old is the
/// president" heard as "how cool is the entrance", a sentence the splice
/// step gave back unchanged, which made it sure. Moonshine's transcript has
/// none of their grammar values (a wildcard's words are whatever was said),
/// so each is rejected; commands of the same grammar are still understood.
#[test]
fn a_rebuilt_command_without_a_grammar_value_in_the_transcript_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let tree = emma_tests::speech_corpus::ha_tree(
        &dir.path().join("ha"),
        &[
            "light_HassTurnOn.yaml",
            "homeassistant_HassStartTimer.yaml",
            "climate_HassClimateGetTemperature.yaml",
            "assist_satellite_HassBroadcast.yaml",
        ],
    )
    .unwrap();
    let mut files = spoken_clean(
        &[
            "I think it is going to snow.",
            "Wake me up at six.",
            "The lights on the city are beautiful.",
        ],
        &[("en-us", 175)],
        &dir.path().join("us"),
    );
    files.extend(spoken_clean(
        &[
            "I think it is going to snow.",
            "Are you listening to me?",
            "How old is the president?",
        ],
        &[("en-gb", 140)],
        &dir.path().join("gb"),
    ));
    let mut u = with_agreement(ha_intents(&tree));
    u.set_denoise(true);
    let by_the_rule = rejected_by_agreement_for(&mut u, &files, |a| {
        a.misses_listed_slots() && !a.contradicts()
    });
    // Words alone agreed for the rebuilt timers (measured: 4 of the 6).
    assert!(
        by_the_rule >= 2,
        "{by_the_rule} rejected for no grammar value"
    );
    let commands = spoken_clean(
        &[
            "set a timer for five minutes",
            "turn on the living room lights",
        ],
        &[("en-us", 175)],
        &dir.path().join("commands"),
    );
    let intents: Vec<Option<String>> = commands
        .iter()
        .flat_map(|f| hear(&mut u, f))
        .map(|r| r.intent)
        .collect();
    assert_eq!(
        intents,
        [Some("HassStartTimer".into()), Some("HassTurnOn".into())]
    );
}

/// A speech-to-text service wants what was said, command or not:
/// `set_transcribe_non_commands` has Moonshine transcribe what the grammar
/// gives no command for, and only then.
#[test]
fn non_commands_are_transcribed_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let ood = ["tell me a joke", "what is the capital of australia"];
    let files = ood_corpus::speak(&ood, CLEAN, &dir.path().join("ood")).unwrap();
    let mut u = coffee_with_agreement();
    let heard = |u: &mut Understander| -> Vec<Understood> {
        files.iter().flat_map(|f| hear(u, f)).collect()
    };
    for r in heard(&mut u) {
        if r.intent.is_none() && r.rejected_by != Some(emma_core::understand::RejectedBy::Agreement)
        {
            assert!(r.agreement.is_none(), "transcribed unasked: {r:?}");
        }
    }
    u.set_transcribe_non_commands(true);
    let results = heard(&mut u);
    assert!(results.iter().all(|r| r.intent.is_none()), "{results:?}");
    let transcripts: Vec<String> = results
        .iter()
        .filter_map(|r| r.agreement.as_ref().map(|a| a.transcript.to_lowercase()))
        .collect();
    assert!(
        transcripts.iter().any(|t| t.contains("joke"))
            && transcripts.iter().any(|t| t.contains("australia")),
        "{transcripts:?}"
    );
}

// ---- The full measurement (ignored by default) ----

/// One file decoded with rejection off: what each rejection rule would decide.
#[derive(Debug, Clone)]
struct Sample {
    /// The utterances that came back with an intent (out-of-domain: every
    /// one a false accept; in-domain: the first utterance, if it had one).
    accepted: Vec<Scored>,
    /// In-domain: the first utterance's intent and slots are exactly right.
    correct: bool,
}

#[derive(Debug, Clone)]
struct Scored {
    /// The library's default acoustic rejection lets it through.
    default_ok: bool,
    /// The open-vocabulary transcript's agreement (when Moonshine is installed).
    agreement: Option<Agreement>,
    /// Whole-utterance phone-loop ratio.
    ratio: Option<f64>,
    /// The ratio over the grammar words' frames only.
    speech: Option<f64>,
    /// The worst word's ratio.
    word: Option<f64>,
    /// The ratio against the word loop, whole path.
    loop_ratio: Option<f64>,
    /// The ratio against the word loop over the grammar words' frames.
    loop_speech: Option<f64>,
    posterior: Option<f64>,
    /// No full grammar path and no grammar word on the best partial one.
    nothing_fits: bool,
    /// Which step found the intent (`grammar`, `completion`, …).
    via: String,
    /// The command was reconstructed, not heard whole
    /// ([`Unsure::Recovered`]).
    recovered: bool,
}

/// What the assistant does with an utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Act,
    Ask,
    Reject,
}

/// Which verification score a rule thresholds.
#[derive(Debug, Clone, Copy)]
enum Score {
    Ratio,
    Speech,
    Word,
    Loop,
    LoopSpeech,
}

impl Scored {
    fn of(r: &Understood) -> Scored {
        let v = r.verification;
        Scored {
            default_ok: v.is_none_or(|v| !Rejection::default().rejects(&v)),
            agreement: r.agreement.as_deref().cloned(),
            ratio: v.map(|v| v.ratio_per_frame()),
            speech: v.and_then(|v| v.speech_ratio()),
            word: v.and_then(|v| v.min_word_ratio),
            loop_ratio: v.and_then(|v| v.word_loop_ratio()),
            loop_speech: v.and_then(|v| v.speech_word_loop_ratio()),
            posterior: v.map(|v| v.posterior),
            nothing_fits: v.is_some_and(|v| !v.complete && v.words == 0),
            via: r.via.clone(),
            // Measured with asking off: what the default would call reconstructed.
            recovered: Rejection::default().doubt(&r.via, None) == Some(Unsure::Recovered),
        }
    }

    /// What the assistant would do under the default rejection, asking
    /// below `sure` (and when `recovered`; `NEG_INFINITY`: never asks), with
    /// Moonshine's agreement by `agreement` if given: two recognisers
    /// agreeing is sure when the transcript confirms the command
    /// (`Agreement::confirms`), else a weak command is still asked about;
    /// disagreeing on a sure command asks, on an unsure one rejects.
    fn verdict(&self, sure: f64, agreement: Option<AgreementRule>) -> Verdict {
        if !self.default_ok {
            return Verdict::Reject;
        }
        let weak =
            sure.is_finite() && (self.recovered || self.loop_speech.is_some_and(|f| f < sure));
        match agreement {
            None if weak => Verdict::Ask,
            None => Verdict::Act,
            Some(rule) if self.agrees(rule) => {
                let confirms = self.agreement.as_ref().is_some_and(|a| a.confirms());
                if weak && !confirms {
                    Verdict::Ask
                } else {
                    Verdict::Act
                }
            }
            Some(_) if weak || !sure.is_finite() => Verdict::Reject,
            Some(_) => Verdict::Ask,
        }
    }

    fn get(&self, score: Score) -> Option<f64> {
        match score {
            Score::Ratio => self.ratio,
            Score::Speech => self.speech,
            Score::Word => self.word,
            Score::Loop => self.loop_ratio,
            Score::LoopSpeech => self.loop_speech,
        }
    }

    /// The default acoustic rule, then agreement by `rule` (no transcript: no agreement).
    fn agrees(&self, rule: AgreementRule) -> bool {
        self.default_ok && self.agreement.as_ref().is_some_and(|a| rule.agrees(a))
    }

    fn passes(&self, score: Score, min: f64, when_nothing_fits: bool) -> bool {
        !(when_nothing_fits && self.nothing_fits) && self.get(score).is_none_or(|f| f >= min)
    }
}

impl Sample {
    fn accepted_by(&self, rule: &dyn Fn(&Scored) -> bool) -> bool {
        self.accepted.iter().any(rule)
    }
}

/// Out-of-domain: every utterance with an intent counts.
fn ood_sample(u: &mut Understander, file: &Path) -> Sample {
    Sample {
        accepted: hear(u, file)
            .iter()
            .filter(|r| r.intent.is_some())
            .map(Scored::of)
            .collect(),
        correct: false,
    }
}

/// In-domain: the first utterance is scored, as `emma understand` is by the accuracy tests.
fn command_sample(u: &mut Understander, cmd: &SpokenCommand, file: &Path) -> Sample {
    let heard = hear(u, file);
    let first = heard.first();
    Sample {
        accepted: first
            .filter(|r| r.intent.is_some())
            .map(Scored::of)
            .into_iter()
            .collect(),
        correct: first.is_some_and(|r| cmd.accepts(r.intent.as_deref(), &r.slots)),
    }
}

/// The thresholds of the trade-off curve (natural log per frame), loosest first.
const SWEEP: [f64; 17] = [
    -4.0, -3.0, -2.5, -2.0, -1.75, -1.5, -1.3, -1.2, -1.1, -1.0, -0.9, -0.8, -0.6, -0.4, -0.3,
    -0.2, -0.1,
];

fn pct(n: usize, d: usize) -> String {
    format!("{n}/{d} ({:.1}%)", 100.0 * n as f64 / d.max(1) as f64)
}

/// Prints the trade-off table: per threshold, false accepts on each
/// out-of-domain set and exact accuracy on each in-domain set.
fn table(sets: &[(String, bool, Vec<Sample>)], sweep: bool) {
    let mut header = "| method |".to_owned();
    let mut rule = "|---|".to_owned();
    for (name, ood, _) in sets {
        header += &format!(
            " {name} ({}) |",
            if *ood { "accepted ↓" } else { "exact ↑" }
        );
        rule += "---|";
    }
    println!("{header}\n{rule}");
    type Rule = Box<dyn Fn(&Scored) -> bool>;
    let mut methods: Vec<(String, Rule)> = vec![(
        "no rejection (before)".to_owned(),
        Box::new(|_: &Scored| true),
    )];
    if sweep {
        methods.push((
            "**default** (acoustic)".to_owned(),
            Box::new(|s: &Scored| s.default_ok),
        ));
        if sets.iter().any(|(_, _, v)| {
            v.iter()
                .any(|s| s.accepted.iter().any(|a| a.agreement.is_some()))
        }) {
            let mut rules = vec![AgreementRule::SameIntent];
            for w in [0.34, 0.5, 0.6, 0.67, 0.75] {
                rules.push(AgreementRule::Words(w));
            }
            for w in [0.5, 0.6, 0.67, 0.75, 0.8] {
                rules.push(AgreementRule::SameIntentOrWords(w));
            }
            for rule in rules {
                methods.push((
                    format!("default + agreement: {}", rule.name()),
                    Box::new(move |s: &Scored| s.agrees(rule)),
                ));
            }
        }
        methods.push((
            "no full path and no grammar word fits".to_owned(),
            Box::new(|s: &Scored| s.passes(Score::Ratio, f64::NEG_INFINITY, true)),
        ));
        for (score, name) in [
            (Score::Ratio, "utterance ratio"),
            (Score::Speech, "words' frames ratio"),
            (Score::Word, "worst word ratio"),
            (Score::Loop, "word-loop ratio"),
            (Score::LoopSpeech, "word-loop ratio over words' frames"),
        ] {
            for t in SWEEP {
                methods.push((
                    format!("no-fit rule + {name} ≥ {t}"),
                    Box::new(move |s: &Scored| s.passes(score, t, true)),
                ));
            }
        }
    } else {
        methods.push((
            "lattice posterior ≥ 0.5".to_owned(),
            Box::new(|s: &Scored| s.posterior.is_none_or(|x| x >= 0.5f64.ln())),
        ));
        methods.push((
            "no-fit rule + utterance ratio ≥ -1.0".to_owned(),
            Box::new(|s: &Scored| s.passes(Score::Ratio, -1.0, true)),
        ));
    }
    for (label, accept) in &methods {
        let mut line = format!("| {label} |");
        for (_, ood, samples) in sets {
            let n = if *ood {
                samples.iter().filter(|s| s.accepted_by(accept)).count()
            } else {
                samples
                    .iter()
                    .filter(|s| s.correct && s.accepted_by(accept))
                    .count()
            };
            line += &format!(" {} |", pct(n, samples.len()));
        }
        println!("{line}");
    }
}

/// What the assistant would do with each utterance when it asks before
/// acting on unsure commands: per set, how many it acts on at once and how
/// many it asks about ("Did you say …?"); the rest it rejects. In-domain
/// counts only exactly right commands.
fn ask_table(sets: &[(String, bool, Vec<Sample>)]) {
    let mut header = "| policy |".to_owned();
    let mut rule = "|---|".to_owned();
    for (name, ood, _) in sets {
        header += &format!(
            " {name} ({}) |",
            if *ood {
                "acted ↓ / asked"
            } else {
                "acted ↑ / asked"
            }
        );
        rule += "---|";
    }
    println!("{header}\n{rule}");
    let agreeing = sets.iter().any(|(_, _, v)| {
        v.iter()
            .any(|s| s.accepted.iter().any(|a| a.agreement.is_some()))
    });
    let mut policies: Vec<(String, f64, Option<AgreementRule>)> = vec![(
        "default, never asks (before)".to_owned(),
        f64::NEG_INFINITY,
        None,
    )];
    for sure in [0.0, 0.25, 0.5, 0.75, 1.0] {
        policies.push((
            format!("default, asks below word-loop {sure} or when recovered"),
            sure,
            None,
        ));
    }
    if agreeing {
        policies.push((
            format!(
                "default + agreement ({}), rejects when it disagrees (before)",
                AgreementRule::DEFAULT.name()
            ),
            f64::NEG_INFINITY,
            Some(AgreementRule::DEFAULT),
        ));
        policies.push((
            format!(
                "default + agreement ({}), asks when it disagrees on a command sure from {}",
                AgreementRule::DEFAULT.name(),
                Rejection::DEFAULT_SURE_WORD_LOOP_RATIO
            ),
            Rejection::DEFAULT_SURE_WORD_LOOP_RATIO,
            Some(AgreementRule::DEFAULT),
        ));
    }
    for (label, sure, agreement) in &policies {
        let mut line = format!("| {label} |");
        for (_, ood, samples) in sets {
            let (mut acted, mut asked) = (0, 0);
            for s in samples {
                if !*ood && !s.correct {
                    continue;
                }
                let verdicts: Vec<Verdict> = s
                    .accepted
                    .iter()
                    .map(|a| a.verdict(*sure, *agreement))
                    .collect();
                if verdicts.contains(&Verdict::Act) {
                    acted += 1;
                } else if verdicts.contains(&Verdict::Ask) {
                    asked += 1;
                }
            }
            line += &format!(
                " {} / {} |",
                pct(acted, samples.len()),
                pct(asked, samples.len())
            );
        }
        println!("{line}");
    }
}

/// Raw scores, one line per utterance with an intent (and one line with
/// empty scores for a file without any), for plotting the curve.
fn scores_tsv(sets: &[(String, bool, Vec<Sample>)]) -> String {
    let mut tsv = String::from(
        "set\tfile\tood\tcorrect\tratio\tspeech\tword\tloop\tloop_speech\tnothing_fits\tdefault_ok\tsame_intent\twords\tms\ttranscript\tvia\n",
    );
    let f = |x: Option<f64>| x.map_or(String::new(), |f| format!("{f:.4}"));
    for (name, ood, samples) in sets {
        for (i, s) in samples.iter().enumerate() {
            if s.accepted.is_empty() {
                tsv += &format!(
                    "{name}\t{i}\t{ood}\t{}\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
                    s.correct
                );
            }
            for a in &s.accepted {
                let ag = a.agreement.as_ref();
                tsv += &format!(
                    "{name}\t{i}\t{ood}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    s.correct,
                    f(a.ratio),
                    f(a.speech),
                    f(a.word),
                    f(a.loop_ratio),
                    f(a.loop_speech),
                    a.nothing_fits,
                    a.default_ok,
                    ag.map_or("-".to_owned(), |g| g.same_intent.to_string()),
                    f(ag.map(|g| g.words)),
                    ag.map_or("-".to_owned(), |g| g.ms.to_string()),
                    ag.map_or("-".to_owned(), |g| g.transcript.replace(['\t', '\n'], " ")),
                    a.via,
                );
            }
        }
    }
    tsv
}

fn env_step(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The measurement behind the out-of-domain table in `docs/understand.md`.
///
/// Environment: `EMMA_OOD_CORPUS=DIR` keeps the spoken corpora and writes
/// the raw scores there; `EMMA_OOD_SETS=coffee|ha-lights` measures one
/// intent set; `EMMA_OOD_STEP=N` every N-th spoken out-of-domain file,
/// `EMMA_OOD_WAKE_STEP=N` every N-th wake word (default: the same N),
/// `EMMA_OOD_CMD_STEP=N` every N-th in-domain command; `EMMA_OOD_BEFORE=1`
/// also runs a sample without any rejection.
#[test]
#[ignore = "full measurement, many minutes: run with --ignored --nocapture"]
fn full_ood_table() {
    let keep = std::env::var_os("EMMA_OOD_CORPUS").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let root = keep.clone().unwrap_or_else(|| tmp.path().to_owned());
    let tree = ha_light_tree(&root).unwrap();
    let (ha, _) = ha_light_commands(&tree, 12).unwrap();
    let coffee_cmds = coffee_commands();
    let sentences = ood_corpus::sentences();
    let step = env_step("EMMA_OOD_STEP", 1);
    let wake_step = env_step("EMMA_OOD_WAKE_STEP", step);
    let cmd_step = env_step("EMMA_OOD_CMD_STEP", 1);
    let wake: Vec<PathBuf> = ood_corpus::wake_word_files()
        .unwrap()
        .into_iter()
        .step_by(wake_step)
        .collect();
    let started = Instant::now();
    let mut ood_files = vec![];
    for c in ood_corpus::conditions() {
        let dir = root.join(format!("ood/{c}").replace([' ', '+'], "_"));
        ood_files.extend(ood_corpus::speak(&sentences, c, &dir).unwrap());
    }
    let ood_files: Vec<PathBuf> = ood_files.into_iter().step_by(step).collect();
    eprintln!(
        "{} out-of-domain utterances spoken in {:.0?}",
        ood_files.len(),
        started.elapsed()
    );
    let only = std::env::var("EMMA_OOD_SETS").unwrap_or_default();
    let moonshine =
        ModelRegistry::new(emma_tests::speech::emma_home().join("models")).moonshine_english();
    if moonshine.is_none() {
        eprintln!("Moonshine is not installed (scripts/setup): no agreement rows");
    }
    let mut sets: Vec<(String, bool, Vec<Sample>)> = vec![];
    let mut before: Vec<(String, bool, Vec<Sample>)> = vec![];
    let write_scores = |sets: &[(String, bool, Vec<Sample>)]| {
        if let Some(dir) = &keep {
            let name = format!("scores{}{only}.tsv", if only.is_empty() { "" } else { "-" });
            std::fs::write(dir.join(name), scores_tsv(sets)).unwrap();
        }
    };
    for (name, commands, intents) in [
        ("coffee", &coffee_cmds, None),
        ("ha-lights", &ha, Some(&tree)),
    ] {
        if !only.is_empty() && only != name {
            continue;
        }
        let mut u = match intents {
            None => coffee(),
            Some(t) => ha_intents(t),
        };
        // Only the no-fit rule rejects while measuring (every rule of the
        // table includes it), so every rule can be applied afterwards.
        u.set_rejection(Rejection {
            when_nothing_fits: true,
            ..Rejection::off()
        });
        // Every command the grammar finds is transcribed by Moonshine too
        // (reported, not enforced), so the agreement rules apply afterwards.
        if let Some(dir) = &moonshine {
            u.set_agreement(Engine::Moonshine, dir, None).unwrap();
        }
        let t = Instant::now();
        let mut samples = vec![];
        for c in full_conditions() {
            let dir = root.join(format!("{name}/{c}").replace([' ', '+'], "_"));
            let files = if dir.join(format!("{:03}.wav", commands.len() - 1)).is_file() {
                (0..commands.len())
                    .map(|i| dir.join(format!("{i:03}.wav")))
                    .collect()
            } else {
                synthesize(commands, c, &dir).unwrap()
            };
            for (cmd, f) in commands.iter().zip(&files).step_by(cmd_step) {
                samples.push(command_sample(&mut u, cmd, f));
            }
        }
        eprintln!("{name} in-domain: {} in {:.0?}", samples.len(), t.elapsed());
        sets.push((format!("{name} commands"), false, samples));
        write_scores(&sets);
        table(&sets, true);
        if std::env::var_os("EMMA_OOD_BEFORE").is_some() {
            // No rejection at all, on a sample (every no-match costs a free-decoding pass).
            u.set_rejection(Rejection::off());
            let t = Instant::now();
            let sample: Vec<PathBuf> = ood_files
                .iter()
                .step_by(20)
                .chain(wake.iter().step_by(112))
                .cloned()
                .collect();
            let samples: Vec<Sample> = sample.iter().map(|f| ood_sample(&mut u, f)).collect();
            eprintln!(
                "{name} before (no rejection), {} out-of-domain files: {:.2} s per file",
                sample.len(),
                t.elapsed().as_secs_f64() / sample.len() as f64
            );
            before.push((format!("{name} OOD sample"), true, samples));
            table(&before, false);
            u.set_rejection(Rejection {
                when_nothing_fits: true,
                ..Rejection::off()
            });
        }
        for (label, files) in [("wake words", &wake), ("OOD speech", &ood_files)] {
            let t = Instant::now();
            let samples: Vec<Sample> = files.iter().map(|f| ood_sample(&mut u, f)).collect();
            eprintln!(
                "{name} {label}: {} files, {:.2} s per file",
                files.len(),
                t.elapsed().as_secs_f64() / files.len() as f64
            );
            sets.push((format!("{name} {label}"), true, samples));
            write_scores(&sets);
            // Progress: the table so far (the full run takes long on a loaded machine).
            table(&sets, true);
            ask_table(&sets);
        }
    }
    if !before.is_empty() {
        println!("\nWithout rejection (every 20th spoken utterance, every 112th wake word):\n");
        table(&before, false);
    }
    println!("\nAll rules (the first row is the no-fit rule here, not \"before\"):\n");
    table(&sets, true);
    println!("\nAsking before acting (the assistant's \"Did you say …?\"):\n");
    ask_table(&sets);
    moonshine_times(&sets);
}

/// How long Moonshine took per transcribed utterance (it adds to the end-of-speech latency).
fn moonshine_times(sets: &[(String, bool, Vec<Sample>)]) {
    let mut ms: Vec<u64> = sets
        .iter()
        .flat_map(|(_, _, v)| v.iter())
        .flat_map(|s| s.accepted.iter())
        .filter_map(|a| a.agreement.as_ref().map(|g| g.ms))
        .collect();
    if ms.is_empty() {
        return;
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "\nMoonshine per transcribed utterance ({}): mean {:.0} ms, p50 {} ms, p95 {} ms, max {} ms",
        ms.len(),
        ms.iter().sum::<u64>() as f64 / ms.len() as f64,
        at(0.5),
        at(0.95),
        ms[ms.len() - 1]
    );
}
