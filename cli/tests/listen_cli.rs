//! The `emma listen` / `emma model` command-line contract, run on the real
//! binary of this build with real engines and espeak-ng speech.

use std::path::Path;
use std::process::{Command, Output};

fn emma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emma"))
        .args(args)
        .env("EMMA_HOME", emma_home())
        .output()
        .expect("run the emma binary")
}

/// The data directory `scripts/setup` filled (models, libvosk).
fn emma_home() -> String {
    std::env::var("EMMA_HOME")
        .unwrap_or_else(|_| format!("{}/.local/share/emma", std::env::var("HOME").unwrap()))
}

fn speak(text: &str, path: &Path) {
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is installed by scripts/setup");
    assert!(status.success());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn listen_json_follows_the_contract_for_every_file_in_sorted_order() {
    let dir = tempfile::tempdir().unwrap();
    let wavs = dir.path().join("wavs");
    std::fs::create_dir(&wavs).unwrap();
    speak("play some music", &wavs.join("b.wav"));
    speak("what time is it", &wavs.join("a.wav"));
    std::fs::write(wavs.join("notes.txt"), "not audio, not listed").unwrap();
    let grammar = dir.path().join("grammar.json");
    std::fs::write(
        &grammar,
        r#"["what time is it", "play some music", "stop the music"]"#,
    )
    .unwrap();

    let out = emma(&[
        "listen",
        "--engine",
        "pocketsphinx",
        "--grammar",
        grammar.to_str().unwrap(),
        "--wav",
        wavs.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]["file"].as_str().unwrap().ends_with("a.wav"));
    assert!(lines[1]["file"].as_str().unwrap().ends_with("b.wav"));
    assert_eq!(lines[0]["text"], "what time is it");
    assert_eq!(lines[1]["text"], "play some music");
    for line in &lines {
        assert_eq!(line["engine"], "pocketsphinx");
        assert!(line["audio_s"].as_f64().unwrap() > 0.5);
        assert!(line["decode_s"].as_f64().unwrap() >= 0.0);
        let words = line["words"].as_array().unwrap();
        assert_eq!(
            words.len(),
            line["text"].as_str().unwrap().split(' ').count()
        );
        let mut last_end = 0.0;
        for w in words {
            let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
            assert!(start >= last_end - 1e-6 && end > start, "{w}");
            assert!((0.0..=1.0).contains(&w["conf"].as_f64().unwrap()));
            last_end = end;
        }
    }

    // Human output: just the text, one line per utterance.
    let out = emma(&[
        "listen",
        "--engine",
        "pocketsphinx",
        "--grammar",
        grammar.to_str().unwrap(),
        "--wav",
        wavs.join("a.wav").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("what time is it"));
}

#[test]
fn bad_input_gives_an_error_naming_the_file_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let not_audio = dir.path().join("notes.wav");
    std::fs::write(&not_audio, "this is a text file").unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();

    for file in [&not_audio, &empty] {
        let out = emma(&[
            "listen",
            "--engine",
            "pocketsphinx",
            "--wav",
            file.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("emma: "), "{err}");
        assert!(err.contains(file.to_str().unwrap()), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    let out = emma(&[
        "listen",
        "--engine",
        "julius",
        "--wav",
        not_audio.to_str().unwrap(),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("julius"), "{}", stderr(&out));

    let not_a_model = dir.path().join("not-a-model");
    std::fs::create_dir(&not_a_model).unwrap();
    let out = emma(&[
        "listen",
        "--engine",
        "vosk",
        "--model",
        not_a_model.to_str().unwrap(),
        "--wav",
        not_audio.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not-a-model"), "{err}");
    assert!(
        err.contains("final.mdl") || err.contains("model.conf"),
        "{err}"
    );
}
