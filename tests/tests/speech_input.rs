//! Bad input and engine selection through the public API: every failure is
//! an `Err` whose message names the file (or engine, or model) and the problem.

use std::path::Path;

use emma_speech::{Engine, ModelRegistry, SpeechError, audio, check_vosk_model};
use emma_tests::speech::espeak_wav;

#[test]
fn bad_audio_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = espeak_wav(dir.path(), "good", "hello", "en-us", 0.1);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text.wav",
            b"just some text, not audio".to_vec(),
            "not a WAV or FLAC file",
        ),
        ("empty.wav", Vec::new(), "empty"),
        (
            "truncated.wav",
            bytes[..bytes.len() / 2 + 1].to_vec(),
            "truncated",
        ),
        ("header-only.wav", bytes[..30].to_vec(), "invalid WAV"),
        ("fake.flac", b"fLaC\0\0\0garbage".to_vec(), "FLAC"),
    ];
    for (name, content, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = audio::read_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(expect),
            "{name}: {err}"
        );
    }
    let missing = dir.path().join("missing.wav");
    let err = audio::read_file(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.wav"), "{err}");
}

#[test]
fn unknown_engine_is_a_clear_error() {
    let err = "whisper".parse::<Engine>().unwrap_err();
    assert!(matches!(err, SpeechError::UnknownEngine(_)));
    assert_eq!(
        err.to_string(),
        "unknown speech engine `whisper`; use `vosk`, `pocketsphinx` or `moonshine`"
    );
}

#[test]
fn missing_and_corrupt_model_dirs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model");
    let err = emma_speech::open(Engine::Vosk, &missing)
        .err()
        .expect("missing dir fails")
        .to_string();
    assert!(err.contains("no-such-model"), "{err}");

    let partial = dir.path().join("half-model");
    std::fs::create_dir_all(partial.join("am")).unwrap();
    std::fs::write(partial.join("am/final.mdl"), b"x").unwrap();
    let err = check_vosk_model(&partial).unwrap_err().to_string();
    assert!(
        err.contains("half-model is not a Vosk model: missing conf/model.conf, graph/HCLG.fst"),
        "{err}"
    );

    // All files present but garbage: libvosk refuses it, and we say which directory.
    let corrupt = dir.path().join("corrupt-model");
    for f in ["am/final.mdl", "conf/model.conf", "graph/HCLG.fst"] {
        std::fs::create_dir_all(corrupt.join(f).parent().unwrap()).unwrap();
        std::fs::write(corrupt.join(f), b"garbage").unwrap();
    }
    let err = emma_speech::open(Engine::Vosk, &corrupt)
        .err()
        .expect("corrupt model fails")
        .to_string();
    assert!(err.contains("corrupt-model"), "{err}");

    let err = emma_speech::open(Engine::PocketSphinx, &missing)
        .err()
        .expect("missing ps model fails")
        .to_string();
    assert!(
        err.contains("no-such-model") && err.contains("mdef"),
        "{err}"
    );

    let reg = ModelRegistry::new(dir.path().join("models"));
    let err = reg.resolve("nope").unwrap_err().to_string();
    assert!(err.contains("no model named `nope`"), "{err}");
    assert!(Path::new(&dir.path().join("models")).exists() || reg.list().unwrap().is_empty());
}
