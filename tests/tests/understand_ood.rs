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
//! (with the default rejection most out-of-domain speech against the coffee
//! context is still accepted: see the table in `docs/understand.md`); the
//! full measurement behind the table in `docs/understand.md` is ignored by
//! default: `cargo test -p emma-tests --release --test understand_ood -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use emma_core::intent::IntentEngine;
use emma_core::intent::harness::Fixtures;
use emma_core::speech::{EndpointConfig, Engine, POCKETSPHINX_EN_US, audio};
use emma_core::understand::{Decoding, Rejected, Rejection, Understander, Understood};
use emma_tests::ood_corpus;
use emma_tests::speech_corpus::{
    Condition, Noise, SpokenCommand, coffee_commands, coffee_context, full_conditions,
    ha_light_commands, ha_light_tree, synthesize,
};

/// An understander with the rule these bounds were measured with: the no-fit
/// rule alone (verification on, no ratio threshold). It is not the library
/// default yet (see `Rejection::default`).
fn open(intents: IntentEngine) -> Understander {
    let mut u = Understander::new(
        intents,
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .expect("PocketSphinx en-us opens (scripts/setup installs it)");
    u.set_rejection(Rejection {
        min_ratio: f64::NEG_INFINITY,
        when_nothing_fits: true,
    });
    u
}

fn coffee() -> Understander {
    open(IntentEngine::from_path(&coffee_context(), "en").unwrap())
}

fn ha_lights(tree: &Path) -> Understander {
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
    // Measured with the default rejection (no-fit rule only): coffee 9 of
    // 13, HA lights 2 of 13 — far from the target; this bounds regressions.
    for (name, mut u, bound) in [("coffee", coffee(), 10), ("ha-lights", ha_lights(&tree), 3)] {
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
    // Measured with the default rejection (no-fit rule only): coffee 8 of
    // 11, HA lights 3 of 11 — far from the target; this bounds regressions.
    // (HA lights was 1 of 11 before the first utterance of a recogniser was
    // decoded again with the updated cepstral mean, which made 4 of 5 first
    // home commands right that were wrong: real non-commands now fit the
    // grammar better too. Rejection, not a cold decoder, must keep them out.)
    for (name, mut u, bound) in [("coffee", coffee(), 9), ("ha-lights", ha_lights(&tree), 3)] {
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
    for (cmd, f) in commands.iter().zip(&files) {
        let heard = hear(&mut u, f);
        let first = heard.first();
        let ok = first.is_some_and(|r| cmd.accepts(r.intent.as_deref(), &r.slots));
        if ok {
            exact += 1;
            let r = first.unwrap();
            assert!(r.fit.is_some() && r.confidence > 0.0, "{r:?}");
        } else {
            eprintln!("miss: {:?} → {first:?}", cmd.text);
        }
    }
    eprintln!("coffee clean: {exact}/{}", commands.len());
    // Measured 8/10 (the macchiato order cannot be exact: not in the dictionary).
    assert!(exact >= 8, "coffee clean: {exact}/{}", commands.len());
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

#[derive(Debug, Clone, Copy)]
struct Scored {
    fit: Option<f64>,
    posterior: Option<f64>,
    /// No full grammar path and no grammar word on the best partial one.
    nothing_fits: bool,
}

impl Scored {
    fn of(r: &Understood) -> Scored {
        Scored {
            fit: r.fit,
            posterior: r.verification.map(|v| v.posterior),
            nothing_fits: r.verification.is_some_and(|v| !v.complete && v.words == 0),
        }
    }

    fn passes(&self, min_ratio: f64, when_nothing_fits: bool) -> bool {
        !(when_nothing_fits && self.nothing_fits) && self.fit.is_none_or(|f| f >= min_ratio)
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
const SWEEP: [f64; 11] = [
    -1.5, -1.3, -1.2, -1.1, -1.0, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4,
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
            "no full path and no grammar word fits".to_owned(),
            Box::new(|s: &Scored| s.passes(f64::NEG_INFINITY, true)),
        ));
        for t in SWEEP {
            methods.push((
                format!("no-fit rule + phone-loop ratio ≥ {t}"),
                Box::new(move |s: &Scored| s.passes(t, true)),
            ));
        }
    } else {
        methods.push((
            "lattice posterior ≥ 0.5".to_owned(),
            Box::new(|s: &Scored| s.posterior.is_none_or(|x| x >= 0.5f64.ln())),
        ));
        methods.push((
            "no-fit rule + phone-loop ratio ≥ -1.0".to_owned(),
            Box::new(|s: &Scored| s.passes(-1.0, true)),
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

/// The measurement behind the out-of-domain table in `docs/understand.md`.
#[test]
#[ignore = "full measurement, many minutes: run with --release --ignored --nocapture"]
fn full_ood_table() {
    let keep = std::env::var_os("EMMA_OOD_CORPUS").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let root = keep.unwrap_or_else(|| tmp.path().to_owned());
    let tree = ha_light_tree(&root).unwrap();
    let (ha, _) = ha_light_commands(&tree, 12).unwrap();
    let coffee_cmds = coffee_commands();
    let sentences = ood_corpus::sentences();
    // `EMMA_OOD_STEP=N`: every N-th out-of-domain file only (a quicker run).
    let step: usize = std::env::var("EMMA_OOD_STEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let wake: Vec<PathBuf> = ood_corpus::wake_word_files()
        .unwrap()
        .into_iter()
        .step_by(step)
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
    // `EMMA_OOD_SETS=coffee` or `ha-lights` measures one intent set (two processes can share the work).
    let only = std::env::var("EMMA_OOD_SETS").unwrap_or_default();
    let mut sets: Vec<(String, bool, Vec<Sample>)> = vec![];
    let mut before: Vec<(String, bool, Vec<Sample>)> = vec![];
    for (name, commands, intents) in [
        ("coffee", &coffee_cmds, None),
        ("ha-lights", &ha, Some(&tree)),
    ] {
        if !only.is_empty() && only != name {
            continue;
        }
        let mut u = match intents {
            None => coffee(),
            Some(t) => ha_lights(t),
        };
        // In-domain: no rejection, so every rule can be applied afterwards.
        u.set_rejection(Rejection::off());
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
            for (cmd, f) in commands.iter().zip(&files) {
                samples.push(command_sample(&mut u, cmd, f));
            }
        }
        eprintln!("{name} in-domain: {} in {:.0?}", samples.len(), t.elapsed());
        sets.push((format!("{name} commands"), false, samples));
        table(&sets, true);
        // Before: no rejection, on a sample (every no-match costs a free-decoding pass).
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
        // Out-of-domain: the loosest threshold of the sweep and the no-fit
        // rule, so rejected files cost no recovery or free decoding.
        u.set_rejection(Rejection {
            min_ratio: SWEEP[0],
            when_nothing_fits: true,
        });
        for (label, files) in [("OOD speech", &ood_files), ("wake words", &wake)] {
            let t = Instant::now();
            let samples: Vec<Sample> = files.iter().map(|f| ood_sample(&mut u, f)).collect();
            eprintln!(
                "{name} {label}: {} files, {:.2} s per file",
                files.len(),
                t.elapsed().as_secs_f64() / files.len() as f64
            );
            sets.push((format!("{name} {label}"), true, samples));
            // Progress: the table so far (the full run takes long on a loaded machine).
            table(&sets, true);
        }
    }
    println!(
        "\nWithout rejection (a sample: every 20th spoken utterance, every 112th wake word):\n"
    );
    table(&before, false);
    println!(
        "\nOut-of-domain rows valid from the no-fit rule + ratio ≥ {} on:\n",
        SWEEP[0]
    );
    table(&sets, true);
    // Raw scores for plotting the curve: one line per accepted utterance.
    if let Some(dir) = std::env::var_os("EMMA_OOD_CORPUS") {
        let mut tsv = String::from("set\tfile\tood\tcorrect\tfit\tnothing_fits\n");
        for (name, ood, samples) in &sets {
            for (i, s) in samples.iter().enumerate() {
                for a in &s.accepted {
                    tsv += &format!(
                        "{name}\t{i}\t{ood}\t{}\t{}\t{}\n",
                        s.correct,
                        a.fit.map_or(String::new(), |f| format!("{f:.4}")),
                        a.nothing_fits
                    );
                }
            }
        }
        let name = format!("scores{}{only}.tsv", if only.is_empty() { "" } else { "-" });
        std::fs::write(Path::new(&dir).join(name), tsv).unwrap();
    }
}
