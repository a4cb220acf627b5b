//! Moonshine as Emma runs it (`emma_speech::moonshine`): it checks a draft
//! (what the grammar decoder heard) instead of writing every token in a step
//! of its own — the transcript is the one it writes alone, whatever the
//! draft, in fewer decoder runs when the draft is right — and a broken model
//! directory is refused with what is wrong and where, never a crash.
//!
//! Needs `scripts/setup` (the Moonshine model in `$EMMA_HOME`, espeak-ng).

use std::path::{Path, PathBuf};

use emma_speech::moonshine::{MAX_SAMPLES, MoonshineModel};
use emma_speech::{ModelRegistry, SpeechError, synth};
use emma_tests::speech::emma_home;

fn installed() -> PathBuf {
    ModelRegistry::new(emma_home().join("models"))
        .moonshine_english()
        .expect("the Moonshine model is installed (run scripts/setup)")
}

fn model() -> MoonshineModel {
    MoonshineModel::load(&installed()).expect("the Moonshine model loads")
}

/// A model directory in `dir` with the installed one's files, `lib/` linked,
/// and `replace` written over some of them.
fn model_dir(dir: &Path, replace: &[(&str, &[u8])]) -> PathBuf {
    let from = installed();
    let to = dir.join("moonshine");
    std::fs::create_dir_all(&to).unwrap();
    std::os::unix::fs::symlink(from.join("lib"), to.join("lib")).unwrap();
    for f in [
        "encoder_model.ort",
        "decoder_model_merged.ort",
        "tokenizer.bin",
    ] {
        std::os::unix::fs::symlink(from.join(f), to.join(f)).unwrap();
    }
    for (f, bytes) in replace {
        std::fs::remove_file(to.join(f)).ok();
        std::fs::write(to.join(f), bytes).unwrap();
    }
    to
}

fn load_error(dir: &Path) -> String {
    match MoonshineModel::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e @ SpeechError::ModelLoad { .. }) => e.to_string(),
        Err(e) => panic!("not a model error: {e}"),
    }
}

#[test]
fn a_broken_model_directory_is_refused_with_what_and_where() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = model_dir(
        &tmp.path().join("a"),
        &[("encoder_model.ort", b"not a model")],
    );
    let e = load_error(&garbage);
    assert!(e.contains("encoder_model.ort"), "{e}");

    // Real ONNX Runtime models in the wrong roles.
    let swapped = tmp.path().join("b/moonshine");
    std::fs::create_dir_all(&swapped).unwrap();
    let from = installed();
    std::os::unix::fs::symlink(from.join("lib"), swapped.join("lib")).unwrap();
    std::os::unix::fs::symlink(
        from.join("decoder_model_merged.ort"),
        swapped.join("encoder_model.ort"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        from.join("encoder_model.ort"),
        swapped.join("decoder_model_merged.ort"),
    )
    .unwrap();
    std::os::unix::fs::symlink(from.join("tokenizer.bin"), swapped.join("tokenizer.bin")).unwrap();
    let e = load_error(&swapped);
    assert!(e.contains("not a Moonshine model"), "{e}");

    let cut = model_dir(
        &tmp.path().join("c"),
        &[("tokenizer.bin", &[5, b'<', b'u'])],
    );
    let e = load_error(&cut);
    assert!(
        e.contains("tokenizer.bin") && e.contains("past the end"),
        "{e}"
    );

    let no_runtime = model_dir(&tmp.path().join("d"), &[]);
    std::fs::remove_file(no_runtime.join("lib")).unwrap();
    std::fs::create_dir(no_runtime.join("lib")).unwrap();
    let e = load_error(&no_runtime);
    assert!(
        e.contains("libonnxruntime") && e.contains("scripts/setup"),
        "{e}"
    );
}

#[test]
fn audio_outside_what_moonshine_hears_is_empty_or_refused() {
    let model = model();
    assert_eq!(model.transcribe(&[]).unwrap(), "");
    assert_eq!(model.transcribe(&[1200; 800]).unwrap(), "", "50 ms");
    // Silence and full-scale square waves are heard as something or nothing, never a crash.
    model.transcribe(&vec![0; 32_000]).unwrap();
    let square: Vec<i16> = (0..48_000)
        .map(|i| if i / 40 % 2 == 0 { i16::MAX } else { i16::MIN })
        .collect();
    model
        .transcribe_with_draft(&square, "turn on the light")
        .unwrap();
    let long: Vec<i16> = (0..MAX_SAMPLES + 16_000)
        .map(|i| ((i % 97) as i16 - 48) * 300)
        .collect();
    let e = model.transcribe(&long).unwrap_err().to_string();
    assert!(
        e.contains("longer than") && e.contains("split the audio"),
        "{e}"
    );
}

#[test]
fn a_draft_changes_how_fast_moonshine_writes_never_what() {
    let model = model();
    let speech = latte_order();
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

/// "can I get a large latte with oat milk", spoken by espeak-ng.
fn latte_order() -> Vec<i16> {
    synth::espeak("can I get a large latte with oat milk", "en-us", 150)
        .unwrap()
        .samples
}

/// The sentence [`latte_order`] speaks, then three neighbours (one slot's
/// value changed each).
const LATTE_AND_NEIGHBOURS: [&str; 4] = [
    "can i get a large latte with oat milk",
    "can i get a small latte with oat milk",
    "can i get a large mocha with oat milk",
    "can i get a large latte with soy milk",
];

#[test]
fn moonshine_finds_the_sentence_spoken_likelier_than_its_neighbours() {
    let model = model();
    let speech = latte_order();
    let sentences = LATTE_AND_NEIGHBOURS;
    let scores = model.score(&speech, &sentences).unwrap();
    assert_eq!(scores.len(), sentences.len());
    assert!(
        scores.iter().all(|s| s.is_finite() && *s < 0.0),
        "{scores:?}"
    );
    for (other, s) in sentences.iter().zip(&scores).skip(1) {
        assert!(
            scores[0] > s + 2.0,
            "{:?} ({}) against {other:?} ({s})",
            sentences[0],
            scores[0]
        );
    }
    assert!(model.score(&[], &sentences).unwrap().is_empty());
    assert!(model.score(&speech, &[]).unwrap().is_empty());
}

#[test]
fn scoring_neighbours_together_gives_each_its_score_alone() {
    let model = model();
    let speech = latte_order();
    // Neighbours that differ from the first sentence at its start, in its
    // middle, at its end, by being longer or shorter, or not at all.
    let sentences = [
        "can i get a large latte with oat milk",
        "could i get a large latte with oat milk",
        "can i get a small latte with oat milk",
        "can i get a large latte with oat milk",
        "can i get a large latte with soy milk",
        "can i get a large latte with oat milk and sugar",
        "can i get a large latte",
        "can i get a large latte with oat milk please thank you very much",
    ];
    let together = model.score(&speech, &sentences).unwrap();
    for (sentence, score) in sentences.iter().zip(&together) {
        let alone = model.score(&speech, &[sentence]).unwrap()[0];
        assert!(
            (alone - score).abs() < 0.01,
            "{sentence:?}: {score} among neighbours, {alone} alone"
        );
    }
    assert_eq!(together[0], together[3], "the same sentence twice");
}

#[test]
fn a_neighbour_left_unread_could_not_have_reached_its_floor() {
    let model = model();
    let speech = latte_order();
    let mut sentences = LATTE_AND_NEIGHBOURS.to_vec();
    sentences.extend([
        "can i get a large latte with oat milk",
        "can i get a large lager with oat milk",
        "could i get a large latte with oat milk",
    ]);
    let all = model.compare(&speech, &sentences, &[]).unwrap();
    assert!(
        all.iter().all(Option::is_some),
        "no floors: all read {all:?}"
    );
    // Each floor in turn, from one no neighbour reaches to one all do.
    for floor in [2.0, 0.0, -1.0, -4.0, -10.0, -1e9] {
        let floors = vec![floor; sentences.len()];
        let bounded = model.compare(&speech, &sentences, &floors).unwrap();
        for ((s, a), b) in sentences.iter().zip(&all).zip(&bounded) {
            let a = a.unwrap();
            match b {
                Some(b) => assert!((a - b).abs() < 1e-3, "{s:?}: {b} read, {a} unbounded"),
                None => assert!(a < floor, "{s:?} left unread at floor {floor}, but {a}"),
            }
        }
        if floor <= -1e9 {
            assert!(bounded.iter().all(Option::is_some), "{bounded:?}");
        }
    }
    // The spoken sentence is likeliest, and its neighbours fall well short
    // of it: at the rescoring margin most are not read at all.
    let floors = vec![2.0; sentences.len()];
    let bounded = model.compare(&speech, &sentences, &floors).unwrap();
    let unread = bounded.iter().filter(|g| g.is_none()).count();
    assert!(unread >= 3, "{bounded:?} against {all:?}");
    assert_eq!(
        bounded[4],
        Some(0.0),
        "the same sentence again is read: {bounded:?}"
    );
}

/// `scripts/setup` stores the weights as floats (`scripts/moonshine-float-weights.py`):
/// the installed model runs with them, and they hear and score as the 8-bit
/// weights they were unpacked from (a directory with the `.ort` files alone).
#[test]
fn the_float_weights_hear_and_score_as_the_8_bit_ones() {
    let float = model();
    assert!(
        float.float_weights(),
        "scripts/setup writes the float weights"
    );
    let tmp = tempfile::tempdir().unwrap();
    let packed = MoonshineModel::load(&model_dir(tmp.path(), &[])).unwrap();
    assert!(!packed.float_weights());
    let speech = latte_order();
    let a = float.transcribe(&speech).unwrap();
    let b = packed.transcribe(&speech).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same transcript");
    let sentences = [
        "can i get a large latte with oat milk",
        "can i get a small latte with oat milk",
        "can i get a large mocha with soy milk",
    ];
    let x = float.score(&speech, &sentences).unwrap();
    let y = packed.score(&speech, &sentences).unwrap();
    for ((s, x), y) in sentences.iter().zip(&x).zip(&y) {
        assert!(
            (x - y).abs() < 0.01,
            "{s:?}: {x} with float weights, {y} with 8-bit"
        );
    }
}
