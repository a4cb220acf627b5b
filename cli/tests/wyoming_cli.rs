//! `emma wyoming serve` against the reference Wyoming client (PyPI `wyoming`,
//! in the venv `scripts/setup` creates under `$EMMA_HOME/venv/wyoming`), with
//! real PocketSphinx, the wake-word engines on people's recordings
//! (`../shared/data/wake-words`), espeak-ng speech and the assistant on the
//! embedded MQTT broker.
//!
//! One server per test (loading the recogniser and grammar takes seconds);
//! the checks inside run in sequence against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use emma_wyoming::frame::encode;
use emma_wyoming::{Event, Frame};
use serde_json::Value;

/// The data directory `scripts/setup` filled (the venv lives there).
fn setup_home() -> PathBuf {
    std::env::var_os("EMMA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".local/share/emma"))
}

fn python() -> PathBuf {
    let p = setup_home().join("venv/wyoming/bin/python");
    assert!(p.is_file(), "{} is missing: run scripts/setup", p.display());
    p
}

fn emma(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emma"));
    c.env("EMMA_HOME", home).env_remove("RUST_LOG");
    c
}

/// A running server, killed when dropped.
struct Serve {
    child: Child,
    uri: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path, uri: &str, extra: &[&str]) -> Serve {
    let mut child = emma(home)
        .args(["wyoming", "serve", "--uri", uri, "--idle-timeout-s", "30"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the emma binary");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = vec![];
    let uri = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("emma exited before listening: {seen:#?}"))
            .unwrap();
        if let Some(rest) = line.strip_prefix("emma: Wyoming server listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        seen.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve { child, uri }
}

/// Runs the reference client; returns its JSON lines.
fn client(uri: &str, args: &[&str]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wyoming_client.py");
    let out = Command::new(python())
        .arg(script)
        .arg(uri)
        .args(args)
        .output()
        .expect("run the wyoming client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn espeak(text: &str, path: &Path) {
    let ok = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is installed by scripts/setup")
        .success();
    assert!(ok);
}

/// `sox FROM [output options] TO [effects]`.
fn sox(from: &Path, to: &Path, args: &[&str]) {
    sox_effects(from, to, args, &[]);
}

fn sox_effects(from: &Path, to: &Path, args: &[&str], effects: &[&str]) {
    let ok = Command::new("sox")
        .arg(from)
        .args(args)
        .arg(to)
        .args(effects)
        .status()
        .expect("sox")
        .success();
    assert!(ok);
}

/// A home with two lights, registered through the CLI.
fn home_with_lights() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for (id, name) in [
        ("light.kitchen_light", "kitchen light"),
        ("light.bedroom_lamp", "bedroom lamp"),
    ] {
        let out = emma(home.path())
            .args(["devices", "add", id, name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    home
}

#[test]
fn the_reference_client_gets_transcripts_intents_handling_and_speech() {
    let home = home_with_lights();
    let server = serve(home.path(), "tcp://127.0.0.1:0", &[]);
    let uri = server.uri.clone();
    assert!(uri.starts_with("tcp://127.0.0.1:"), "{uri}");

    // describe → info with every service Emma offers.
    let info = &client(&uri, &["describe"])[0];
    assert_eq!(info["asr"][0]["name"], "emma-asr");
    assert_eq!(info["asr"][0]["models"][0], "pocketsphinx-en-us");
    assert_eq!(info["asr"][0]["languages"][0], "en");
    assert_eq!(info["asr"][0]["streaming"], true);
    assert_eq!(info["intent"][0]["languages"][0], "en");
    assert_eq!(info["handle"][0]["home_control"], true);
    let voices = info["tts"][0]["voices"].as_array().unwrap();
    assert!(
        voices.iter().any(|v| v == "en-us") && voices.len() > 20,
        "{voices:?}"
    );
    let wake = &info["wake"][0];
    assert_eq!(wake["name"], "emma-wake");
    assert_eq!(
        wake["models"],
        serde_json::json!(["pocketsphinx-computer", "livekit-hey_livekit"])
    );
    assert_eq!(
        wake["phrases"],
        serde_json::json!(["computer", "hey livekit"])
    );
    assert_eq!(wake["languages"][0], "en");

    // Speech in three formats, streamed at once in 1,024-sample chunks:
    // espeak-ng's 22,050 Hz, 16 kHz, and 48 kHz stereo.
    let dir = tempfile::tempdir().unwrap();
    let native = dir.path().join("native.wav");
    espeak("turn on the kitchen light", &native);
    let wide = dir.path().join("wide.wav");
    sox(&native, &wide, &["-r", "16000"]);
    let stereo = dir.path().join("stereo.wav");
    sox(&native, &stereo, &["-r", "48000", "-c", "2", "-b", "16"]);
    let paths: Vec<&str> = [&native, &wide, &stereo]
        .iter()
        .map(|p| p.to_str().unwrap())
        .collect();
    let mut args = vec!["transcribe"];
    args.extend(&paths);
    let results = client(&uri, &args);
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r["text"], "turn on the kitchen light", "{r}");
        assert_eq!(r["language"], "en");
        let events: Vec<&str> = r["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(events.first(), Some(&"transcript-start"), "{events:?}");
        assert_eq!(events.last(), Some(&"transcript-stop"), "{events:?}");
        assert!(
            events.contains(&"transcript-chunk:turn on the kitchen light"),
            "{events:?}"
        );
        assert!(r["chunks"].as_u64().unwrap() > 10);
    }

    // recognize → intent with the registry's device id; not-recognized.
    let r = &client(&uri, &["recognize", "turn off the bedroom lamp"])[0];
    assert_eq!(r["intent"], "HassTurnOff", "{r}");
    assert_eq!(r["entities"]["name"], "light.bedroom_lamp", "{r}");
    assert_eq!(r["context"]["text"], "turn off the bedroom lamp");
    let r = &client(&uri, &["recognize", "what is the capital of peru"])[0];
    assert_eq!(r["intent"], Value::Null, "{r}");

    // handle: carried out by the assistant. A transcript, an intent from
    // recognize (with its sentence), and a bare intent as another recogniser
    // sends it: `handled` means the commands went into the assistant's
    // outbox (a turn whose commands all failed is `not-handled`).
    let r = &client(&uri, &["handle", "turn on the kitchen light"])[0];
    assert_eq!(r["handled"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("kitchen light"),
        "{r}"
    );
    let r = &client(&uri, &["handle-intent", "turn off the bedroom lamp"])[0];
    assert_eq!(r["handled"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("bedroom lamp"),
        "{r}"
    );
    let r = &client(
        &uri,
        &["handle-bare", "HassTurnOn", "name=light.bedroom_lamp"],
    )[0];
    assert_eq!(r["handled"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("bedroom lamp"),
        "{r}"
    );
    // Not carried out: nothing understood, a device the home lacks, an
    // intent nobody handles. Each still gets a reply to speak.
    for args in [
        &["handle", "open the garage door"][..],
        &["handle", "what is the capital of peru"][..],
        &["handle-bare", "HassTurnOn", "name=light.garage"][..],
        &["handle-bare", "LaunchMissiles", "target=moon"][..],
    ] {
        let r = &client(&uri, args)[0];
        assert_eq!(r["handled"], false, "{args:?}: {r}");
        assert!(!r["text"].as_str().unwrap().is_empty(), "{args:?}: {r}");
    }

    // Wake words on people's recordings (padded with the engines' context):
    // "computer" is detected where it ends; other words are not. (`detect`
    // names the model: livekit's classifier costs ~1.3 s of CPU per second
    // of audio in a debug build; the engine has its own tests.)
    for (word, n) in [("computer", 4), ("jarvis", 3), ("alexa", 3)] {
        let mut hits = 0;
        for (i, clip) in wake_clips(word, n).iter().enumerate() {
            let wav = dir.path().join(format!("{word}-{i}.wav"));
            sox_effects(clip, &wav, &[], &["pad", "0.5", "1"]);
            let r = &client(&uri, &["detect", wav.to_str().unwrap(), "computer"])[0];
            let detections = r["detections"].as_array().unwrap();
            if let Some(d) = detections.first() {
                assert_eq!(word, "computer", "{word} woke Emma: {r}");
                assert_eq!(d["name"], "pocketsphinx-computer", "{r}");
                // The phrase ends inside the clip, after the half second of padding.
                let ts = d["timestamp"].as_u64().unwrap();
                assert!(ts > 500 && ts <= r["audio_ms"].as_u64().unwrap(), "{r}");
                hits += 1;
            }
        }
        if word == "computer" {
            assert!(
                hits >= 3,
                "only {hits}/{n} recordings of \"computer\" detected"
            );
        }
    }
    // `detect` naming no model listens with all of them; by model name; an
    // unknown name is refused.
    let clip = &wake_clips("computer", 1)[0];
    let wav = dir.path().join("named.wav");
    sox_effects(clip, &wav, &[], &["pad", "0.5", "1"]);
    let r = &client(&uri, &["detect", wav.to_str().unwrap()])[0];
    assert_eq!(r["detections"][0]["name"], "pocketsphinx-computer", "{r}");
    let r = &client(
        &uri,
        &["detect", wav.to_str().unwrap(), "pocketsphinx-computer"],
    )[0];
    assert_eq!(r["detections"][0]["name"], "pocketsphinx-computer", "{r}");
    // Five clients leave in the middle of a wake word stream (more than the
    // 4 streams allowed at once): their detectors and slots come back, and
    // the next client is served.
    for _ in 0..5 {
        let mut leaver = connect(&uri);
        send(
            &mut leaver,
            &Event::Detect {
                names: Some(vec!["computer".into()]),
            },
        );
        send(
            &mut leaver,
            &Event::AudioStart(emma_wyoming::event::AudioStart {
                format: emma_wyoming::AudioFormat::EMMA,
                timestamp: None,
            }),
        );
        send(
            &mut leaver,
            &Event::AudioChunk(emma_wyoming::event::AudioChunk {
                format: emma_wyoming::AudioFormat::EMMA,
                timestamp: None,
                audio: vec![0; 2048],
            }),
        );
        drop(leaver);
    }
    let r = &client(&uri, &["detect", wav.to_str().unwrap(), "computer"])[0];
    assert_eq!(r["detections"][0]["name"], "pocketsphinx-computer", "{r}");
    let r = &client(&uri, &["detect", wav.to_str().unwrap(), "ok_nabu"])[0];
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("no wake word [\"ok_nabu\"]"),
        "{r}"
    );

    // synthesize → 16 kHz 16-bit mono audio in chunks of at most 1,024 samples.
    let r = &client(&uri, &["synthesize", "the kitchen light is on"])[0];
    assert_eq!(
        (
            r["rate"].as_u64(),
            r["width"].as_u64(),
            r["channels"].as_u64()
        ),
        (Some(16000), Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(r["max_chunk_samples"], 1024);
    let secs = r["audio_s"].as_f64().unwrap();
    assert!((0.8..5.0).contains(&secs), "{r}");
    assert!(r["peak"].as_i64().unwrap() > 3000, "not silence: {r}");
    let r = &client(&uri, &["synthesize", "hallo", "de"])[0];
    assert!(r["audio_s"].as_f64().unwrap() > 0.2, "{r}");
    let r = &client(&uri, &["synthesize", "hi", "klingon"])[0];
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("no voice \"klingon\""),
        "{r}"
    );
}

#[test]
fn speech_that_is_not_a_command_gets_no_forced_transcript() {
    // The grammar decoder forces any speech into some command ("tell me a
    // joke" → a light command); Home Assistant acts on the transcript it is
    // given, so what the acoustic check rejects must come back empty.
    let home = home_with_lights();
    let server = serve(
        home.path(),
        "tcp://127.0.0.1:0",
        &["--no-handle", "--no-tts", "--no-wake"],
    );
    let dir = tempfile::tempdir().unwrap();
    // Before rejected speech was left out, "tell me a joke" came back as
    // "turn all the light on" in some runs (which decoder of the server's
    // pool hears it, and what it heard before, varies; the unit test
    // `a_rejected_utterance_adds_nothing_to_the_transcript` is exact).
    let questions = [
        "how far away is the moon",
        "how old is the president",
        "remind me to call my mother",
        "sing me a song",
        "tell me a joke",
        "what is the weather like tomorrow",
        "who won the football game yesterday",
    ];
    let mut texts = vec![];
    for (i, q) in questions.iter().enumerate() {
        // One request at a time: the server's decoders keep their noise estimate between requests.
        texts.push(spoken_transcript(&server.uri, dir.path(), i, q));
    }
    // The acoustic check itself lets about one spoken non-command in 13
    // through on these intents (`understand_ood`'s bound), and which pooled
    // decoder hears a request, with what history, varies with the machine's
    // load: one of the seven came back as "turn light on" in one CI run
    // (4 December). Without the rejection, the grammar forces them into commands.
    let forced: Vec<&String> = texts.iter().filter(|t| !t.is_empty()).collect();
    assert!(forced.len() <= 1, "{texts:?}");
    // A command is still transcribed.
    let cmd = dir.path().join("cmd.wav");
    espeak("turn on the kitchen light", &cmd);
    let out = &client(&server.uri, &["transcribe", cmd.to_str().unwrap()])[0];
    assert_eq!(out["text"], "turn on the kitchen light", "{out}");
}

/// With `--agreement` (and `--denoise`), Moonshine checks every command the
/// grammar hears and transcribes what is not a command: a spoken question
/// is sent as the question's own words (what Moonshine heard, for Home
/// Assistant's agent to answer), never as the command the grammar forced
/// it into; a command is still transcribed as said.
#[test]
fn agreement_sends_no_forced_command_for_spoken_questions() {
    let home = home_with_lights();
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--no-handle",
        "--no-tts",
        "--no-wake",
        "--agreement",
        "--denoise",
    ];
    // Without the model in this home the option is an error, not silently off.
    refused_without_moonshine(home.path(), &flags, "--agreement");
    link_moonshine(home.path());
    let server = serve(home.path(), "tcp://127.0.0.1:0", &flags);
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let questions = [
        "how old is the president",
        "sing me a song",
        "tell me a joke",
        "what is the weather like tomorrow",
        "who won the football game yesterday",
    ];
    let mut sent = 0;
    for (i, q) in questions.iter().enumerate() {
        let text = spoken_transcript(&server.uri, dir.path(), i, q);
        let text = text.as_str();
        // Nothing, or Moonshine's written sentence ("Harold is a president."
        // for the first: capitals and punctuation, which the grammar's
        // lower-case commands never have) sharing a word with the question.
        let said = words(q);
        let written = text
            .chars()
            .any(|c| c.is_uppercase() || c.is_ascii_punctuation());
        assert!(
            text.is_empty() || (written && words(text).iter().any(|w| said.contains(w))),
            "{q:?} came back as {text:?}"
        );
        sent += usize::from(!text.is_empty());
    }
    // Moonshine transcribes whatever the grammar gives no command for:
    // Home Assistant gets the question (5 of 5 when measured by hand).
    assert!(sent >= 3, "{sent} of {} questions sent", questions.len());
    let cmd = dir.path().join("cmd.wav");
    espeak("turn on the kitchen light", &cmd);
    let out = &client(&server.uri, &["transcribe", cmd.to_str().unwrap()])[0];
    assert_eq!(out["text"], "turn on the kitchen light", "{out}");
}

#[test]
fn moonshine_transcribes_what_no_grammar_holds() {
    // Home Assistant's Wyoming ASR is free transcription; Moonshine gives it
    // open vocabulary (a question no command grammar holds). Its model comes
    // from scripts/setup, linked into a fresh home.
    let home = tempfile::tempdir().unwrap();
    link_moonshine(home.path());
    let wavs = tempfile::tempdir().unwrap();
    let raw = wavs.path().join("raw.wav");
    let wav = wavs.path().join("question.wav");
    espeak("what is the capital of france", &raw);
    // 16 kHz mono with the silence an endpointed utterance has around it.
    sox_effects(
        &raw,
        &wav,
        &["-r", "16000", "-c", "1", "-b", "16"],
        &["pad", "0.3", "0.5"],
    );
    let server = serve(
        home.path(),
        "tcp://127.0.0.1:0",
        &[
            "--engine",
            "moonshine",
            "--no-handle",
            "--no-tts",
            "--no-wake",
        ],
    );
    let info = &client(&server.uri, &["describe"])[0];
    assert!(info.to_string().contains("moonshine"), "{info}");
    let out = &client(&server.uri, &["transcribe", wav.to_str().unwrap()])[0];
    let text = out["text"].as_str().unwrap_or_default().to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        words,
        ["what", "is", "the", "capital", "of", "france"],
        "{out}"
    );
}

/// Home Assistant's wildcard intents through Wyoming: with `--open-vocabulary`
/// the shopping-list item reaches Home Assistant as spoken (from Moonshine's
/// transcript); with the grammar alone it does not (measured: 0 of 40
/// spoken shopping-list commands, docs/understand.md "Open vocabulary").
#[test]
fn open_vocabulary_sends_the_wildcard_item_home_assistant_needs() {
    let home = tempfile::tempdir().unwrap();
    let wavs = tempfile::tempdir().unwrap();
    let raw = wavs.path().join("raw.wav");
    let wav = wavs.path().join("add.wav");
    let say = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&raw)
        .arg("add brown rice to my shopping list")
        .status()
        .unwrap();
    assert!(say.success());
    sox_effects(
        &raw,
        &wav,
        &["-r", "16000", "-c", "1", "-b", "16"],
        &["pad", "0.3", "0.5"],
    );
    let ha = shared_data().join("ha-intents");
    let ha = ha.to_str().unwrap();
    let common = ["--intents", ha, "--no-handle", "--no-tts", "--no-wake"];
    // Without the model in this home the option is an error, not silently off.
    refused_without_moonshine(
        home.path(),
        &[&common[..], &["--open-vocabulary"]].concat(),
        "--open-vocabulary",
    );
    let transcript = |extra: &[&str]| -> String {
        let server = serve(
            home.path(),
            "tcp://127.0.0.1:0",
            &[&common[..], extra].concat(),
        );
        let out = &client(&server.uri, &["transcribe", wav.to_str().unwrap()])[0];
        out["text"].as_str().unwrap_or_default().to_lowercase()
    };
    let grammar_only = transcript(&[]);
    assert!(!grammar_only.contains("brown rice"), "{grammar_only}");
    link_moonshine(home.path());
    let open = transcript(&["--open-vocabulary"]);
    assert!(
        open.contains("brown rice") && open.contains("shopping list"),
        "{open}"
    );
}

/// What the server at `uri` transcribes of `text` spoken by espeak-ng
/// (16 kHz, with the silence an endpointed utterance has around it; file
/// `n` in `dir`).
fn spoken_transcript(uri: &str, dir: &Path, n: usize, text: &str) -> String {
    let raw = dir.join(format!("{n}-raw.wav"));
    let wav = dir.join(format!("{n}.wav"));
    espeak(text, &raw);
    sox_effects(&raw, &wav, &["-r", "16000"], &["pad", "0.3", "0.5"]);
    let out = client(uri, &["transcribe", wav.to_str().unwrap()]).remove(0);
    out["text"].as_str().unwrap_or_default().to_owned()
}

/// `emma wyoming serve` with `args` in `home`, which has no Moonshine
/// model, refuses to start and says that `flag` needs it.
fn refused_without_moonshine(home: &Path, args: &[&str], flag: &str) {
    let out = emma(home)
        .args(["wyoming", "serve", "--uri", "tcp://127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("{flag} needs")),
        "{err}"
    );
}

/// The shared data directory: `EMMA_SHARED_DATA`, as for the workspace's
/// other tests, else `../shared/data` beside the repository.
fn shared_data() -> PathBuf {
    std::env::var_os("EMMA_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// Links the Moonshine model `scripts/setup` installed into the fresh `home`.
fn link_moonshine(home: &Path) {
    std::fs::create_dir_all(home.join("models")).unwrap();
    let installed = setup_home().join("models/moonshine-base-en");
    assert!(
        installed.join("lib/libonnxruntime.so.1").is_file(),
        "{} is missing: run scripts/setup",
        installed.display()
    );
    std::os::unix::fs::symlink(&installed, home.join("models/moonshine-base-en")).unwrap();
}

/// The first `n` recordings of `word` (sorted by name) from the shared data.
fn wake_clips(word: &str, n: usize) -> Vec<PathBuf> {
    let dir = shared_data().join("wake-words").join(word);
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    clips.sort();
    clips.truncate(n);
    assert_eq!(clips.len(), n, "{}", dir.display());
    clips
}

fn connect(uri: &str) -> TcpStream {
    let addr = uri.strip_prefix("tcp://").unwrap();
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn send(s: &mut TcpStream, e: &Event) {
    s.write_all(&encode(&e.to_frame())).unwrap();
}

/// The next event (blocking), or `None` when the server closed.
fn recv(r: &mut BufReader<TcpStream>) -> Option<(String, Value)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let header: Value = serde_json::from_str(&line).unwrap();
    let mut data = header.get("data").cloned().unwrap_or(serde_json::json!({}));
    if let Some(n) = header["data_length"].as_u64() {
        let mut buf = vec![0; n as usize];
        r.read_exact(&mut buf).unwrap();
        let seg: Value = serde_json::from_slice(&buf).unwrap();
        for (k, v) in seg.as_object().unwrap() {
            data[k] = v.clone();
        }
    }
    if let Some(n) = header["payload_length"].as_u64() {
        let mut buf = vec![0; n as usize];
        r.read_exact(&mut buf).unwrap();
    }
    Some((header["type"].as_str().unwrap().to_string(), data))
}

#[test]
fn bad_clients_are_refused_and_others_keep_being_served() {
    let home = home_with_lights();
    let server = serve(
        home.path(),
        "tcp://127.0.0.1:0",
        &["--no-handle", "--no-tts", "--no-wake"],
    );
    let uri = server.uri.clone();

    // Audio before audio-start, then a chunk in another format than its stream's.
    let mut s = connect(&uri);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let chunk = |rate: u32| Frame {
        kind: "audio-chunk".into(),
        data: serde_json::from_value(serde_json::json!({"rate": rate, "width": 2, "channels": 1}))
            .unwrap(),
        payload: Some(vec![0; 2048]),
    };
    s.write_all(&encode(&chunk(16000))).unwrap();
    let (kind, data) = recv(&mut r).unwrap();
    assert_eq!(
        (kind.as_str(), data["code"].as_str()),
        ("error", Some("audio-before-start")),
        "{data}"
    );
    s.write_all(
        b"{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1}}\n",
    )
    .unwrap();
    assert_eq!(recv(&mut r).unwrap().0, "transcript-start");
    s.write_all(&encode(&chunk(22050))).unwrap();
    let (_, data) = recv(&mut r).unwrap();
    assert_eq!(data["code"], "audio-format-mismatch");
    assert!(
        data["text"].as_str().unwrap().contains(
            "is 22050 Hz, 16-bit, 1 channel but its stream's `audio-start` said 16000 Hz"
        ),
        "{data}"
    );
    let mut wide = chunk(16000);
    wide.data.insert("width".into(), 4.into());
    wide.payload = Some(vec![0; 4096]);
    s.write_all(&encode(&wide)).unwrap();
    let (_, data) = recv(&mut r).unwrap();
    assert_eq!(data["code"], "audio-format-mismatch");
    assert!(data["text"].as_str().unwrap().contains("32-bit"), "{data}");
    // An odd-sized payload is not a whole number of samples.
    let mut odd = chunk(16000);
    odd.payload = Some(vec![0; 3]);
    s.write_all(&encode(&odd)).unwrap();
    assert_eq!(recv(&mut r).unwrap().1["code"], "bad-audio");
    // The stream itself still works: silence → an empty transcript.
    s.write_all(&encode(&chunk(16000))).unwrap();
    send(&mut s, &Event::AudioStop { timestamp: None });
    let mut kinds = vec![];
    loop {
        let (kind, data) = recv(&mut r).unwrap();
        kinds.push(kind.clone());
        if kind == "transcript" {
            assert_eq!(data["text"], "");
            break;
        }
    }
    assert_eq!(kinds, ["transcript-stop", "transcript"]);
    // Unsupported format at audio-start; wake word and handling not offered here.
    s.write_all(
        b"{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":6,\"channels\":1}}\n",
    )
    .unwrap();
    let (_, data) = recv(&mut r).unwrap();
    assert_eq!(data["code"], "unsupported-audio");
    send(&mut s, &Event::Detect { names: None });
    assert!(
        recv(&mut r).unwrap().1["text"]
            .as_str()
            .unwrap()
            .contains("does not offer wake word detection")
    );
    send(
        &mut s,
        &Event::Transcribe {
            name: None,
            language: Some("fr".into()),
        },
    );
    assert_eq!(recv(&mut r).unwrap().1["code"], "unsupported-language");

    // A client leaving mid-stream, and a 10 MB header line: closed with an
    // error; the well-behaved client above is still served.
    let mut leaver = connect(&uri);
    leaver
        .write_all(
            b"{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1}}\n",
        )
        .unwrap();
    leaver.write_all(&encode(&chunk(16000))).unwrap();
    drop(leaver);
    let flood = connect(&uri);
    let writer = {
        let mut f = flood.try_clone().unwrap();
        std::thread::spawn(move || {
            let block = vec![b'x'; 1024 * 1024];
            for _ in 0..10 {
                if f.write_all(&block).is_err() {
                    break;
                }
            }
        })
    };
    writer.join().unwrap();
    let mut fr = BufReader::new(flood.try_clone().unwrap());
    let (_, data) = recv(&mut fr).expect("an error before the close");
    assert_eq!(data["code"], "bad-frame");
    assert!(recv(&mut fr).is_none(), "closed");
    let _ = flood.shutdown(std::net::Shutdown::Both);

    send(
        &mut s,
        &Event::Recognize {
            text: "turn on the kitchen light".into(),
        },
    );
    let (kind, data) = recv(&mut r).unwrap();
    assert_eq!(kind, "intent", "{data}");
    assert_eq!(data["name"], "HassTurnOn");

    // 100 connections that send nothing, and 10 more that each send a
    // 10 MB header line: the server's resident memory stays bounded and
    // the well-behaved client is still answered.
    let pid = server.child.id();
    let before = rss_kib(pid);
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(&uri)).collect();
    for _ in 0..10 {
        let mut f = connect(&uri);
        let block = vec![b'x'; 1024 * 1024];
        for _ in 0..10 {
            if f.write_all(&block).is_err() {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let during = rss_kib(pid);
    send(
        &mut s,
        &Event::Recognize {
            text: "turn off the bedroom lamp".into(),
        },
    );
    let (kind, data) = recv(&mut r).unwrap();
    assert_eq!(kind, "intent", "{data}");
    assert_eq!(data["name"], "HassTurnOff");
    eprintln!(
        "server RSS: {before} KiB before, {during} KiB with 100 idle connections after 10 × 10 MB headers (+{} KiB)",
        during.saturating_sub(before)
    );
    assert!(
        during.saturating_sub(before) < 32 * 1024,
        "RSS grew from {before} to {during} KiB"
    );
    drop(idle);
}

/// Resident memory of process `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn serves_unix_sockets_and_stdio() {
    let home = home_with_lights();
    let sock = home.path().join("emma.sock");
    let server = serve(
        home.path(),
        &format!("unix://{}", sock.display()),
        &["--no-handle", "--no-asr"],
    );
    let info = &client(&server.uri, &["describe"])[0];
    assert_eq!(info["asr"], serde_json::json!([]));
    assert_eq!(info["tts"][0]["name"], "espeak-ng");
    drop(server);

    // stdio://: one session on standard input and output.
    let mut child = emma(home.path())
        .args([
            "wyoming",
            "serve",
            "--uri",
            "stdio://",
            "--no-handle",
            "--no-asr",
            "--no-tts",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&encode(
            &Event::Recognize {
                text: "turn off the kitchen light".into(),
            }
            .to_frame(),
        ))
        .unwrap();
    drop(stdin);
    let mut out = vec![];
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("\"type\":\"intent\""), "{text}");
    assert!(text.contains("\"name\":\"HassTurnOff\""), "{text}");
}

/// The closing-note benchmark (run by hand; it asserts only correctness):
/// `audio-stop` → `transcript` latency with grammar decoding against a
/// `describe` round trip measured in the same run, and how many streams
/// paced at real time one server decodes at once.
///
/// `cargo test -p emma-cli --test wyoming_cli -- --ignored --nocapture benchmark`
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn benchmark_latency_and_concurrent_real_time_streams() {
    let home = home_with_lights();
    let server = serve(
        home.path(),
        "tcp://127.0.0.1:0",
        &[
            "--no-handle",
            "--no-tts",
            "--no-wake",
            "--max-streams",
            "16",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let native = dir.path().join("native.wav");
    espeak("turn on the kitchen light", &native);
    let wav = dir.path().join("utterance.wav");
    // 16 kHz, with a second of silence before and two after (as a satellite
    // streams it: speech, then the silence that ends it).
    sox_effects(&native, &wav, &["-r", "16000"], &["pad", "1", "2"]);
    let wav = wav.to_str().unwrap();

    let b = &client(&server.uri, &["bench", wav, "30"])[0];
    assert_eq!(
        b["texts"],
        serde_json::json!(["turn on the kitchen light"]),
        "{b}"
    );
    let p50 = b["p50_s"].as_f64().unwrap();
    let p95 = b["p95_s"].as_f64().unwrap();
    let rtt = b["describe_rtt_p50_s"].as_f64().unwrap();
    println!(
        "audio-stop → transcript, grammar decoding, 30 runs (1 s silence, speech, 2 s silence; sent as fast as the socket takes it):"
    );
    println!(
        "  p50 {:.1} ms, p95 {:.1} ms; describe round trip p50 {:.2} ms (baseline); p50/baseline {:.0}×",
        p50 * 1e3,
        p95 * 1e3,
        rtt * 1e3,
        p50 / rtt
    );

    println!(
        "streams paced at real time, at once (real time: every transcript right, latency ≤ 1 s):"
    );
    println!("  streams  audio s  wall s  wall/audio  max latency s  right");
    let mut sustained = 0;
    for n in [1, 2, 4, 6, 8, 12, 16] {
        let r = &client(&server.uri, &["realtime", wav, &n.to_string()])[0];
        let audio = r["audio_s"].as_f64().unwrap();
        let wall = r["wall_s"].as_f64().unwrap();
        let latency = r["latency_max_s"].as_f64().unwrap();
        let right = r["texts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| *t == "turn on the kitchen light")
            .count();
        println!(
            "  {n:>7}  {audio:>7.2}  {wall:>6.2}  {:>10.2}  {latency:>13.2}  {right}/{n}",
            wall / audio
        );
        if right == n && latency <= 1.0 {
            sustained = n;
        } else {
            break;
        }
    }
    println!("  sustained in real time: {sustained} streams");
    assert!(sustained >= 1, "not even one stream in real time");
}
