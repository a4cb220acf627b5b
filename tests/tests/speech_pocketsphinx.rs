//! PocketSphinx (Debian en-us) on English commands synthesised with espeak-ng:
//! JSGF grammar decoding, word timings, n-best, runtime grammar switches,
//! endpointing and format variants. The model is loaded once per binary.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};

use emma_speech::{
    EndpointConfig, Engine, Grammar, POCKETSPHINX_EN_US, SpeechError, SpeechRecognizer, audio,
    transcribe,
};
use emma_tests::speech::{espeak_wav, sox_concat, sox_convert};

/// Commands that are acoustically well separated (no "turn on"/"turn off" pairs).
const COMMANDS: [&str; 8] = [
    "open the garage door",
    "play some music",
    "what time is it",
    "stop the timer",
    "call my mother",
    "lock the front door",
    "increase the volume",
    "show me the weather",
];

fn recognizer() -> MutexGuard<'static, Option<Box<dyn SpeechRecognizer>>> {
    static REC: OnceLock<Mutex<Option<Box<dyn SpeechRecognizer>>>> = OnceLock::new();
    let m = REC.get_or_init(|| {
        Mutex::new(Some(
            emma_speech::open(Engine::PocketSphinx, Path::new(POCKETSPHINX_EN_US))
                .expect("load en-us"),
        ))
    });
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Transcribes a file with the shared recogniser under `grammar`.
fn decode(path: &Path, grammar: Option<&Grammar>) -> Vec<emma_speech::Utterance> {
    let mut guard = recognizer();
    let mut rec = guard.take().expect("recogniser present");
    rec.set_grammar(grammar).expect("grammar accepted");
    let audio = audio::read_file(path).expect("readable wav");
    let (utts, rec) = transcribe(rec, &audio.samples, EndpointConfig::default()).expect("decodes");
    *guard = Some(rec);
    utts
}

fn text(utts: &[emma_speech::Utterance]) -> String {
    utts.iter()
        .map(|u| u.result.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn grammar_recognises_espeak_commands() {
    let dir = tempfile::tempdir().unwrap();
    let grammar = Grammar::from_phrases(&COMMANDS);
    let mut exact = 0;
    let mut report = Vec::new();
    for (i, phrase) in COMMANDS.iter().enumerate() {
        let wav = espeak_wav(dir.path(), &format!("c{i}"), phrase, "en-us", 0.3);
        let utts = decode(&wav, Some(&grammar));
        let got = text(&utts);
        if got == *phrase {
            exact += 1;
        }
        // Whatever was recognised is a grammar phrase.
        for u in &utts {
            assert!(
                COMMANDS.contains(&u.result.text.as_str()),
                "{:?} is not a grammar phrase",
                u.result.text
            );
        }
        report.push(format!("{phrase:?} -> {got:?}"));
    }
    assert!(exact >= 7, "only {exact}/8 exact:\n{}", report.join("\n"));
}

#[test]
fn final_result_has_word_timings_and_nbest() {
    let dir = tempfile::tempdir().unwrap();
    let wav = espeak_wav(dir.path(), "w", "lock the front door", "en-us", 0.5);
    let utts = decode(&wav, Some(&Grammar::from_phrases(&COMMANDS)));
    assert_eq!(utts.len(), 1, "{utts:?}");
    let r = &utts[0].result;
    assert_eq!(r.text, "lock the front door");
    let words: Vec<&str> = r.words.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(words, ["lock", "the", "front", "door"]);
    let duration = audio::read_file(&wav).unwrap().duration_s();
    let mut last_end = 0.0;
    for w in &r.words {
        assert!(
            w.start >= last_end - 1e-9 && w.end > w.start && w.end <= duration + 0.01,
            "{w:?}"
        );
        assert!((0.0..=1.0).contains(&w.conf), "{w:?}");
        last_end = w.end;
    }
    // Speech starts after the 0.5 s of padding (espeak adds a little lead-in).
    assert!(r.words[0].start >= 0.4, "{:?}", r.words[0]);
    assert!(!r.alternatives.is_empty(), "n-best missing");
    assert_eq!(r.alternatives[0].text, r.text);
}

#[test]
fn grammar_switches_at_runtime_without_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let wav = espeak_wav(dir.path(), "s", "play some music", "en-us", 0.3);
    let music = Grammar::from_phrases(&["play some music", "stop the timer"]);
    let other = Grammar::from_phrases(&["call my mother", "open the garage door"]);
    assert_eq!(text(&decode(&wav, Some(&music))), "play some music");
    // Under a grammar without the phrase, the output stays inside that grammar.
    for u in decode(&wav, Some(&other)) {
        assert!(
            ["call my mother", "open the garage door"].contains(&u.result.text.as_str()),
            "{:?}",
            u.result.text
        );
    }
    // Free decoding again, then the first grammar again.
    let free = decode(&wav, None);
    assert!(!free.is_empty());
    assert_eq!(text(&decode(&wav, Some(&music))), "play some music");
}

#[test]
fn unknown_grammar_words_are_an_error_naming_them() {
    let mut guard = recognizer();
    let rec = guard.as_mut().unwrap();
    let err = rec
        .set_grammar(Some(&Grammar::from_phrases(&["play zzyzxq music"])))
        .unwrap_err();
    assert!(
        matches!(&err, SpeechError::UnknownWords { words, .. } if words == &["zzyzxq"]),
        "{err}"
    );
    assert!(err.to_string().contains("zzyzxq"));
}

#[test]
fn two_utterances_in_one_stream_give_two_finals() {
    let dir = tempfile::tempdir().unwrap();
    let a = espeak_wav(dir.path(), "a", "stop the timer", "en-us", 0.6);
    let b = espeak_wav(dir.path(), "b", "call my mother", "en-us", 0.6);
    let both = sox_concat(&[a, b], &dir.path().join("both.wav"));
    let utts = decode(&both, Some(&Grammar::from_phrases(&COMMANDS)));
    let texts: Vec<&str> = utts.iter().map(|u| u.result.text.as_str()).collect();
    assert_eq!(texts, ["stop the timer", "call my mother"]);
    assert!(utts[0].end_s <= utts[1].start_s + 1e-9);
    // Word times count from the start of the stream.
    assert!(utts[1].result.words[0].start > utts[0].result.words.last().unwrap().end);
}

#[test]
fn format_variants_decode_to_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let base = espeak_wav(dir.path(), "v", "open the garage door", "en-us", 0.3);
    let grammar = Grammar::from_phrases(&COMMANDS);
    for (name, args) in [
        ("8bit", vec!["-b", "8", "-e", "unsigned-integer"]),
        ("stereo", vec!["-c", "2"]),
        ("44k", vec!["-r", "44100"]),
        ("float", vec!["-e", "floating-point", "-b", "32"]),
        ("24bit_48k", vec!["-b", "24", "-r", "48000"]),
    ] {
        let out = sox_convert(&base, &dir.path().join(format!("{name}.wav")), &args);
        assert_eq!(
            text(&decode(&out, Some(&grammar))),
            "open the garage door",
            "{name}"
        );
    }
    let flac = sox_convert(&base, &dir.path().join("v.flac"), &[]);
    assert_eq!(
        text(&decode(&flac, Some(&grammar))),
        "open the garage door",
        "flac"
    );
}
