//! `emma wyoming serve` against the reference Wyoming client (PyPI `wyoming`,
//! in the venv `scripts/setup` creates under `$EMMA_HOME/venv/wyoming`), with
//! real PocketSphinx, espeak-ng speech and the embedded MQTT broker.
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

fn sox(from: &Path, to: &Path, args: &[&str]) {
    let ok = Command::new("sox")
        .arg(from)
        .args(args)
        .arg(to)
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
    assert_eq!(info["wake"], serde_json::json!([]));

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

    // handle a transcript, and an intent from recognize: commands go out.
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
    let r = &client(&uri, &["handle", "open the garage door"])[0];
    assert_eq!(r["handled"], false, "{r}");
    assert!(!r["text"].as_str().unwrap().is_empty());

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
        &["--no-handle", "--no-tts"],
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
