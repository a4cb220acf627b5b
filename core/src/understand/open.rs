//! Open vocabulary: what the grammar cannot enumerate, heard by a neural
//! recogniser.
//!
//! A wildcard slot ("add {item} to my shopping list", "play {search_query}
//! in <area>") has no words in the decoding grammar, so the grammar decoder
//! forces such commands into other sentences or rejects them, and
//! PocketSphinx's n-gram free decoding transcribes free English poorly
//! (docs/understand.md, "Open vocabulary"). With an open-vocabulary
//! recogniser (Moonshine, [`super::Understander::set_open_vocabulary`]) the
//! utterance is transcribed whole and its transcript matched:
//! 1. exactly, as typed text would be (without quotation marks, which would
//!    end up in the slot), else in its normalised form (digits spelled out,
//!    no punctuation): `via: open`;
//! 2. aligned to the grammar, where each transcript word may stand only for
//!    a grammar word that sounds like it ([`Pronunciations`]; "and coffee
//!    filters to my shopping list" → "add coffee filters …"), at most one
//!    such swap per three words and no word added or dropped: `via:
//!    open-fuzzy` (the text is the aligned sentence), which the assistant
//!    asks about before acting on it.
//!
//! Which results the caller may use is its decision ([`OpenMatch::wildcards`]).

use emma_grammar::Grammar;
use emma_intent::{Context, IntentEngine};

use super::Understood;
use super::agree::normalise;
use super::recover::understood;
use super::sounds::Pronunciations;
use super::walk::{Edits, Walker};

/// An intent found in an open-vocabulary transcript.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OpenMatch {
    pub understood: Understood,
    /// Wildcard slots in the matched template (the grammar cannot hear those).
    pub wildcards: u32,
}

/// The intent in `transcript` (see the module doc), if any.
pub(super) fn match_transcript(
    intents: &IntentEngine,
    grammar: &Grammar,
    sounds: &Pronunciations,
    transcript: &str,
) -> Option<OpenMatch> {
    let words = normalise(intents.language(), transcript);
    if words.is_empty() {
        return None;
    }
    let ctx = Context::new();
    let spoken = words.join(" ");
    // Quotes a recogniser puts around a title would end up in the slot.
    let unquoted = transcript.replace(['"', '“', '”'], "");
    let exact = intents
        .recognize(&unquoted, &ctx)
        .best
        .or_else(|| intents.recognize(&spoken, &ctx).best);
    if let Some(m) = exact {
        let (wildcards, conf) = (m.wildcards, m.confidence);
        return Some(OpenMatch {
            understood: understood(transcript, m, conf, super::TRANSCRIBED.into()),
            wildcards,
        });
    }
    let alike = |grammar_word: &str, heard: &str| sounds.sound_alike(grammar_word, heard);
    let edits = Edits {
        indels: false,
        swap: &alike,
    };
    let heard: Vec<&str> = words.iter().map(String::as_str).collect();
    let max_swaps = (heard.len() as u32).div_ceil(3);
    let (sentence, swaps) = Walker::new(grammar).align_with(&heard, max_swaps, &edits)?;
    let sentence = sentence.join(" ");
    let m = intents.recognize(&sentence, &ctx).best?;
    let conf = m.confidence * (1.0 - swaps as f32 / heard.len() as f32);
    if conf < intents.settings().threshold {
        return None;
    }
    let wildcards = m.wildcards;
    Some(OpenMatch {
        // What the assistant asks about: the sentence, not the transcript.
        understood: understood(&sentence, m, conf, "open-fuzzy".into()),
        wildcards,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
language: en
intents:
  AddItem:
    data:
      - sentences:
          - "add {item} to [my] [shopping] list"
          - "put {item} on [my] [shopping] list"
  TurnOn:
    data:
      - sentences:
          - "turn on the {area} light"
lists:
  item:
    wildcard: true
  area:
    values: [kitchen, hall]
"#;

    const DICT: &str = "add AE D\nand AH N D\nand(2) AE N D\nbut B AH T\nput P UH T\n\
        tell T EH L\nturn T ER N\nburn B ER N\n";

    fn setup() -> (IntentEngine, Grammar, Pronunciations) {
        let intents = IntentEngine::from_yaml_str(YAML, "list.yaml", "en").unwrap();
        let grammar = intents.export_grammar().grammar;
        (intents, grammar, Pronunciations::parse(DICT))
    }

    fn item(m: &OpenMatch) -> Option<&str> {
        m.understood.slots.get("item").map(String::as_str)
    }

    #[test]
    fn a_transcript_that_matches_as_text_fills_the_wildcard() {
        let (intents, grammar, sounds) = setup();
        let m = match_transcript(
            &intents,
            &grammar,
            &sounds,
            "Add oat milk to my shopping list.",
        )
        .unwrap();
        assert_eq!(m.understood.intent.as_deref(), Some("AddItem"));
        assert_eq!(item(&m), Some("oat milk"));
        assert_eq!((m.understood.via.as_str(), m.wildcards), ("open", 1));
        let quoted = match_transcript(
            &intents,
            &grammar,
            &sounds,
            "Add \"Yellow Submarine\" to my list.",
        )
        .unwrap();
        assert_eq!(item(&quoted), Some("Yellow Submarine"));
        let closed =
            match_transcript(&intents, &grammar, &sounds, "Turn on the kitchen light.").unwrap();
        assert_eq!(
            (closed.understood.via.as_str(), closed.wildcards),
            ("open", 0)
        );
    }

    #[test]
    fn a_word_that_sounds_like_the_grammar_word_is_aligned() {
        let (intents, grammar, sounds) = setup();
        for (heard, want) in [
            ("And coffee filters to my shopping list.", "coffee filters"),
            ("But cat food on my list", "cat food"),
        ] {
            let m = match_transcript(&intents, &grammar, &sounds, heard).unwrap();
            assert_eq!(m.understood.intent.as_deref(), Some("AddItem"), "{heard}");
            assert_eq!(item(&m), Some(want), "{heard}");
            assert_eq!(m.understood.via, "open-fuzzy");
            assert!(m.understood.text.starts_with("add ") || m.understood.text.starts_with("put "));
            assert!(m.understood.confidence < 1.0);
        }
        let burn = match_transcript(&intents, &grammar, &sounds, "burn on the hall light").unwrap();
        assert_eq!(burn.understood.intent.as_deref(), Some("TurnOn"));
    }

    #[test]
    fn other_speech_finds_nothing() {
        let (intents, grammar, sounds) = setup();
        for heard in [
            "Tell me a joke.",
            "tell coffee filters to my shopping list",
            "coffee filters to my shopping list",
            "what time is it",
            "",
            " ... ",
        ] {
            assert_eq!(
                match_transcript(&intents, &grammar, &sounds, heard),
                None,
                "{heard:?}"
            );
        }
    }
}
