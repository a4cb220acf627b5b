//! Wake-word detection with the real engines: people's recordings from
//! `../shared/data/wake-words` (beside the repository), espeak-ng speech, and
//! the "hey livekit" clips shipped with the livekit-wakeword crate.
#![cfg(all(feature = "pocketsphinx", feature = "livekit"))]

use std::path::{Path, PathBuf};

use emma_speech::wake::LIVEKIT_BUNDLED_PHRASE;
use emma_speech::wake::bench::{ha_sentences, load_word};
use emma_speech::{
    SpeechError, WakeEngine, WakeOptions, WakeWordDetector, audio, open_wake, synth,
};

fn shared_data() -> PathBuf {
    // `EMMA_SHARED_DATA` names it, as for the workspace's other tests.
    std::env::var_os("EMMA_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    )
}

fn wake_words() -> PathBuf {
    shared_data().join("wake-words")
}

fn open(engine: WakeEngine, phrase: &str) -> Box<dyn WakeWordDetector> {
    open_wake(engine, phrase, &WakeOptions::default()).expect("detector opens")
}

/// Feeds `pcm` in `chunk`-sample pieces from a fresh state; returns the detections' end samples.
fn detections(det: &mut dyn WakeWordDetector, pcm: &[i16], chunk: usize) -> Vec<u64> {
    det.reset().unwrap();
    let phrase = det.phrase().to_owned();
    pcm.chunks(chunk)
        .filter_map(|c| det.push(c).unwrap())
        .map(|d| {
            assert_eq!(d.phrase, phrase);
            d.end_sample
        })
        .collect()
}

/// Half a second of silence before, one second after (the engines' context).
fn padded(pcm: &[i16]) -> Vec<i16> {
    let mut out = synth::silence(500);
    out.extend_from_slice(pcm);
    out.extend(synth::silence(1000));
    out
}

/// Half a minute of Home Assistant commands in three voices, none with the phrases tested.
fn speech_without_phrase() -> Vec<i16> {
    let sentences = ha_sentences(&shared_data().join("ha-intents/tests/en")).unwrap();
    let mut out = Vec::new();
    for (i, s) in sentences.iter().step_by(97).take(12).enumerate() {
        assert!(!s.contains("computer") && !s.contains("emma"), "{s}");
        let voice = ["en-us", "en-gb", "en-us+f3"][i % 3];
        out.extend(synth::espeak(s, voice, 160).unwrap().samples);
        out.extend(synth::silence(300));
    }
    assert!(out.len() > 16_000 * 20, "at least 20 s of speech");
    out
}

#[test]
fn pocketsphinx_spots_real_computer_recordings_and_not_other_words() {
    let mut det = open(WakeEngine::PocketSphinx, "computer");
    let clips = load_word(&wake_words(), "computer", Some(12)).unwrap();
    let hits = clips
        .iter()
        .filter(|c| !detections(det.as_mut(), &padded(c), 1_280).is_empty())
        .count();
    assert!(
        hits >= 9,
        "only {hits}/12 recordings of \"computer\" detected"
    );
    for word in ["jarvis", "alexa"] {
        for (i, clip) in load_word(&wake_words(), word, Some(12))
            .unwrap()
            .iter()
            .enumerate()
        {
            let found = detections(det.as_mut(), &padded(clip), 1_280);
            assert!(found.is_empty(), "{word} recording {i} woke \"computer\"");
        }
    }
}

#[test]
fn pocketsphinx_spots_synthesised_hey_emma_where_it_ends() {
    // espeak-ng voices match the acoustic model less well than people do:
    // `emma bench wake` finds most of them at 1e-40, few at the default.
    let options = WakeOptions {
        threshold: Some(-40.0),
        ..WakeOptions::default()
    };
    let mut det = open_wake(WakeEngine::PocketSphinx, "Hey Emma", &options).unwrap();
    assert_eq!(det.phrase(), "hey emma");
    let mut hits = 0;
    for voice in [
        "en-us",
        "en-gb",
        "en-us+f3",
        "en-gb-scotland",
        "en-029",
        "en-gb-x-rp+f2",
    ] {
        let phrase = synth::espeak("hey emma", voice, 165).unwrap().samples;
        let command = synth::espeak("turn on the kitchen light", voice, 165)
            .unwrap()
            .samples;
        let mut pcm = synth::silence(2_000);
        pcm.extend_from_slice(&phrase);
        let phrase_end = pcm.len() as u64;
        pcm.extend(synth::silence(200));
        pcm.extend_from_slice(&command);
        pcm.extend(synth::silence(500));
        let found = detections(det.as_mut(), &pcm, 320);
        assert!(found.len() <= 1, "{voice}: woke twice: {found:?}");
        if let Some(&end) = found.first() {
            hits += 1;
            // espeak leaves a little silence at the end of its audio.
            let error_ms = (end as f64 - phrase_end as f64) / 16.0;
            assert!(
                (-400.0..=200.0).contains(&error_ms),
                "{voice}: detection ends {error_ms:.0} ms from the phrase's end"
            );
        }
    }
    assert!(hits >= 4, "only {hits}/6 voices detected");
}

#[test]
fn pocketsphinx_stays_quiet_on_speech_without_the_phrase() {
    let speech = speech_without_phrase();
    for phrase in ["hey emma", "computer"] {
        let mut det = open(WakeEngine::PocketSphinx, phrase);
        let found = detections(det.as_mut(), &speech, 1_280);
        assert!(found.is_empty(), "{phrase:?} woke at samples {found:?}");
    }
}

#[test]
fn livekit_detects_its_phrase() {
    // Its networks cost ~0.1 s of CPU per hop in a debug build: one short clip.
    let mut det = open(WakeEngine::LiveKit, "hey LiveKit");
    let positive = audio::read_file(&livekit_data().join("positive.wav"))
        .unwrap()
        .samples;
    let found = detections(det.as_mut(), &padded(&positive), 1_280);
    assert_eq!(found.len(), 1, "positive.wav: {found:?}");
    // The other words' recordings and long speech: `emma bench wake` (too slow here).
}

/// Known defect, kept visible: the bundled classifier scores 0.95 on the
/// crate's own negative clip in one of the streaming windows.
#[test]
#[ignore = "known false wake of the bundled hey-livekit classifier on negative.wav"]
fn livekit_ignores_the_negative_clip() {
    let mut det = open(WakeEngine::LiveKit, LIVEKIT_BUNDLED_PHRASE);
    let negative = audio::read_file(&livekit_data().join("negative.wav"))
        .unwrap()
        .samples;
    det.reset().unwrap();
    let wrong: Vec<_> = padded(&negative)
        .chunks(1_280)
        .filter_map(|c| det.push(c).unwrap())
        .collect();
    assert!(wrong.is_empty(), "negative.wav woke it: {wrong:?}");
}

fn livekit_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/livekit")
}

#[test]
fn chunk_size_does_not_change_what_is_detected() {
    let positive = audio::read_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/livekit/positive.wav"),
    )
    .unwrap()
    .samples;
    let pcm = padded(&positive);
    let mut lk = open(WakeEngine::LiveKit, LIVEKIT_BUNDLED_PHRASE);
    let whole = detections(lk.as_mut(), &pcm, pcm.len());
    // Odd sizes, one sample at a time for a stretch, empty chunks in between.
    lk.reset().unwrap();
    let mut odd = Vec::new();
    let mut rest = pcm.as_slice();
    let mut size = 1;
    while !rest.is_empty() {
        assert_eq!(lk.push(&[]).unwrap(), None);
        let n = size.min(rest.len());
        odd.extend(lk.push(&rest[..n]).unwrap().map(|d| d.end_sample));
        rest = &rest[n..];
        size = if size > 3_000 { 1 } else { size * 3 + 1 };
    }
    assert_eq!(whole.len(), 1);
    assert_eq!(odd, whole);

    let clip = padded(&load_word(&wake_words(), "computer", Some(1)).unwrap()[0]);
    let mut ps = open(WakeEngine::PocketSphinx, "computer");
    let big = detections(ps.as_mut(), &clip, clip.len());
    let small = detections(ps.as_mut(), &clip, 7);
    assert_eq!(big.len(), 1);
    assert_eq!(small.len(), 1);
    assert!(
        small[0] < clip.len() as u64 - 8_000,
        "{small:?}: after the phrase's end"
    );
}

#[test]
fn minutes_of_silence_and_noise_wake_nothing() {
    let mut ps = open(WakeEngine::PocketSphinx, "hey emma");
    let silence = vec![0i16; 16_000];
    for _ in 0..300 {
        assert_eq!(ps.push(&silence).unwrap(), None);
    }
    let noise: Vec<i16> = emma_speech::wake::bench::pink_noise(16_000 * 30, 1)
        .iter()
        .map(|x| (x * 3_000.0) as i16)
        .collect();
    assert!(detections(ps.as_mut(), &noise, 1_600).is_empty());
    // Clipped square waves at full scale.
    let harsh: Vec<i16> = (0..16_000 * 5)
        .map(|i| if i % 40 < 20 { i16::MAX } else { i16::MIN })
        .collect();
    assert!(detections(ps.as_mut(), &harsh, 1_600).is_empty());

    let mut lk = open(WakeEngine::LiveKit, LIVEKIT_BUNDLED_PHRASE);
    assert!(detections(lk.as_mut(), &harsh[..16_000 * 2], 1_600).is_empty());
}

#[test]
fn bad_phrases_and_models_are_refused_with_the_reason() {
    let err = |engine, phrase: &str, options: &WakeOptions| -> String {
        open_wake(engine, phrase, options)
            .err()
            .expect("refused")
            .to_string()
    };
    let default = WakeOptions::default();
    let e = err(WakeEngine::PocketSphinx, "hey zqxjkw", &default);
    assert!(e.contains("zqxjkw") && e.contains("dictionary"), "{e}");
    let e = err(WakeEngine::LiveKit, "hey emma", &default);
    assert!(
        e.contains("hey livekit") && e.contains("pocketsphinx"),
        "{e}"
    );
    let missing = WakeOptions {
        livekit_model: Some(PathBuf::from("/nonexistent/hey_emma.onnx")),
        ..WakeOptions::default()
    };
    let e = err(WakeEngine::LiveKit, "hey emma", &missing);
    assert!(e.contains("/nonexistent/hey_emma.onnx"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not an onnx model").unwrap();
    let bad = WakeOptions {
        livekit_model: Some(garbage.clone()),
        ..WakeOptions::default()
    };
    let e = err(WakeEngine::LiveKit, "hey emma", &bad);
    assert!(e.contains("garbage.onnx"), "{e}");
    let no_model = WakeOptions {
        pocketsphinx_model: Some(dir.path().to_owned()),
        ..WakeOptions::default()
    };
    assert!(matches!(
        open_wake(WakeEngine::PocketSphinx, "computer", &no_model),
        Err(SpeechError::ModelLoad { .. } | SpeechError::Io { .. } | SpeechError::NotAModel { .. })
    ));
    let hop = WakeOptions {
        livekit_hop_ms: 0,
        ..WakeOptions::default()
    };
    assert!(err(WakeEngine::LiveKit, LIVEKIT_BUNDLED_PHRASE, &hop).contains("hop"));
}
