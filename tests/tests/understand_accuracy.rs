//! Speech → intent accuracy of `emma understand` on synthetic spoken commands
//! (espeak-ng, sox noise), PocketSphinx en-us, exact match of intent and slots.
//!
//! The default tests run a small slice and assert floors measured with margin
//! (see `docs/understand.md` for the full grid, `full_grid` below, ignored by
//! default: `cargo test -p emma-tests --test understand_accuracy -- --ignored --nocapture`).
//! They need the `emma` binary of the same build (`cargo build -p emma-cli`).

use emma_tests::speech_corpus::{
    self, Condition, Noise, Score, SpokenCommand, coffee_commands, coffee_context, full_conditions,
    ha_light_commands, ha_light_tree, measure,
};

fn report(label: &str, s: &Score) {
    eprintln!(
        "{label}: exact {}/{} ({:.0}%), intent {}/{}",
        s.exact,
        s.total,
        s.accuracy() * 100.0,
        s.intent,
        s.total
    );
    for (cmd, heard) in &s.misses {
        eprintln!(
            "  miss: {:?} → {:?}",
            cmd.text,
            heard
                .as_ref()
                .map(|h| (&h.text, &h.intent, &h.slots, &h.via))
        );
    }
}

const CLEAN: Condition = Condition {
    voice: "en-us",
    speed: 175,
    noise: None,
};
const NOISY: Condition = Condition {
    voice: "en+m3",
    speed: 140,
    noise: Some(Noise {
        kind: "whitenoise",
        snr_db: 20.0,
    }),
};

#[test]
fn coffee_commands_are_understood_from_speech_and_a_wrong_intent_set_fails() {
    let emma = speech_corpus::emma_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<SpokenCommand> = coffee_commands();
    let context = coffee_context();

    let clean = measure(&emma, &context, &commands, CLEAN, "grammar", dir.path()).unwrap();
    report("coffee grammar clean", &clean);
    assert!(
        clean.accuracy() >= 0.85,
        "clean accuracy {:.2}",
        clean.accuracy()
    );

    let noisy = measure(&emma, &context, &commands, NOISY, "grammar", dir.path()).unwrap();
    report("coffee grammar noisy", &noisy);
    assert!(
        noisy.accuracy() >= 0.7,
        "noisy accuracy {:.2}",
        noisy.accuracy()
    );

    // The same audio against intents that cannot express these commands.
    let kitchen =
        emma_tests::workspace_root().join("core/intent/tests/data/import/kitchen_alexa.json");
    let wrong = measure(&emma, &kitchen, &commands, CLEAN, "grammar", dir.path()).unwrap();
    report("coffee audio, Alexa kitchen intents", &wrong);
    assert!(
        wrong.accuracy() <= 0.05,
        "wrong intents scored {:.2}",
        wrong.accuracy()
    );
}

#[test]
fn home_assistant_light_commands_are_understood_from_speech() {
    let emma = speech_corpus::emma_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tree = ha_light_tree(dir.path()).unwrap();
    let (commands, missed) = ha_light_commands(&tree, 24).unwrap();
    eprintln!(
        "{} HA commands ({missed} written sentences the engine misses were left out)",
        commands.len()
    );
    assert!(
        commands.len() >= 10,
        "too few HA commands: {}",
        commands.len()
    );
    let s = measure(&emma, &tree, &commands, CLEAN, "grammar", dir.path()).unwrap();
    report("ha grammar clean", &s);
    assert!(s.accuracy() >= 0.6, "accuracy {:.2}", s.accuracy());
}

/// Prints one Markdown table row per condition (grammar vs free decoding) and a total row.
fn grid(name: &str, intents: &std::path::Path, commands: &[SpokenCommand], dir: &std::path::Path) {
    let emma = speech_corpus::emma_binary().unwrap();
    let mut totals = [(0usize, 0usize); 2];
    for condition in full_conditions() {
        let mut line = format!("| {name} | {condition} |");
        for (i, decoding) in ["grammar", "free"].into_iter().enumerate() {
            let s = measure(&emma, intents, commands, condition, decoding, dir).unwrap();
            totals[i].0 += s.exact;
            totals[i].1 += s.total;
            line += &format!(" {}/{} ({:.0}%) |", s.exact, s.total, s.accuracy() * 100.0);
        }
        println!("{line}");
    }
    let pct = |(a, b): (usize, usize)| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "| {name} | all | {}/{} ({:.1}%) | {}/{} ({:.1}%) |",
        totals[0].0,
        totals[0].1,
        pct(totals[0]),
        totals[1].0,
        totals[1].1,
        pct(totals[1])
    );
}

/// The coffee half of the grid behind the numbers in `docs/understand.md`.
#[test]
#[ignore = "full measurement, minutes: run with --ignored --nocapture"]
fn full_grid_coffee() {
    let dir = tempfile::tempdir().unwrap();
    grid("coffee", &coffee_context(), &coffee_commands(), dir.path());
}

/// The Home Assistant half of the grid behind the numbers in `docs/understand.md`.
#[test]
#[ignore = "full measurement, many minutes: run with --ignored --nocapture"]
fn full_grid_ha() {
    let dir = tempfile::tempdir().unwrap();
    let tree = ha_light_tree(dir.path()).unwrap();
    let (ha, missed) = ha_light_commands(&tree, 12).unwrap();
    eprintln!("HA commands: {} ({missed} left out)", ha.len());
    grid("ha-lights", &tree, &ha, dir.path());
}
