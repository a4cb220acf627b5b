//! The Moonshine backend on real audio (espeak-ng), and on input it must
//! refuse or treat as nothing: no panic, no abort.
//!
//! Needs `scripts/setup` (which installs `models/moonshine-base-en` into
//! `$EMMA_HOME`, default `~/.local/share/emma`).
#![cfg(feature = "moonshine")]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use emma_speech::moonshine::{MAX_SAMPLES, MIN_SAMPLES, MoonshineModel, MoonshineRecognizer};
use emma_speech::{Engine, Grammar, ModelRegistry, SpeechError, SpeechRecognizer, synth};

fn emma_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".local/share/emma")
}

fn model() -> Arc<MoonshineModel> {
    static MODEL: OnceLock<Arc<MoonshineModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = ModelRegistry::new(emma_home().join("models"))
                .moonshine_english()
                .expect("the Moonshine model is installed (run scripts/setup)");
            Arc::new(MoonshineModel::load(&dir).expect("the Moonshine model loads"))
        })
        .clone()
}

fn words(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect()
}

#[test]
fn a_spoken_sentence_is_transcribed_word_for_word() {
    let audio = synth::espeak("tell me a joke", "en-us", 150).unwrap();
    let mut rec = MoonshineRecognizer::new(model());
    assert_eq!(rec.engine(), Engine::Moonshine);
    for chunk in audio.samples.chunks(1600) {
        assert_eq!(rec.accept(chunk).unwrap(), None, "not streaming");
    }
    let text = rec.finish().unwrap().text;
    assert_eq!(words(&text), "tell me a joke", "{text:?}");
    // `finish` ends the utterance: the next one starts empty.
    assert_eq!(rec.finish().unwrap().text, "");
}

#[test]
fn empty_short_and_silent_audio_give_an_empty_transcript() {
    let m = model();
    assert_eq!(m.transcribe(&[]).unwrap(), "");
    // Shorter than the model's convolutions take (ONNX Runtime would abort).
    assert_eq!(m.transcribe(&vec![1000; 800]).unwrap(), "");
    assert_eq!(m.transcribe(&vec![0; MIN_SAMPLES - 1]).unwrap(), "");
    assert_eq!(m.transcribe(&vec![0; MIN_SAMPLES]).unwrap(), "");
    assert_eq!(m.transcribe(&vec![0; 32_000]).unwrap(), "");
}

#[test]
fn too_long_an_utterance_is_a_clear_error() {
    let mut rec = MoonshineRecognizer::new(model());
    let second = vec![0i16; 16_000];
    for _ in 0..=MAX_SAMPLES / 16_000 {
        rec.accept(&second).unwrap();
    }
    let err = rec.finish().unwrap_err();
    assert!(matches!(err, SpeechError::Engine { .. }), "{err:?}");
    assert!(err.to_string().contains("longer than the 16 s"), "{err}");
    // The recogniser is usable afterwards.
    assert_eq!(rec.finish().unwrap().text, "");
}

#[test]
fn a_grammar_is_refused_and_free_decoding_accepted() {
    let mut rec = MoonshineRecognizer::new(model());
    let g = Grammar::from_phrases(&["turn on the light"]);
    let err = rec.set_grammar(Some(&g)).unwrap_err().to_string();
    assert!(err.contains("cannot be restricted to a grammar"), "{err}");
    rec.set_grammar(None).unwrap();
}

#[test]
fn a_directory_without_the_model_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = MoonshineModel::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("moonshine") && err.contains("encoder_model.ort"),
        "{err}"
    );
    // Model files but no libraries.
    for f in [
        "encoder_model.ort",
        "decoder_model_merged.ort",
        "tokenizer.bin",
    ] {
        std::fs::write(dir.path().join(f), b"not a model").unwrap();
    }
    let err = MoonshineModel::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("libonnxruntime"), "{err}");
}
