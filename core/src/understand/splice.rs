//! Splicing: the grammar's sentence with the open-vocabulary transcript's
//! words where the two differ, as far as the result is still a command.
//!
//! The grammar decoder hears a whole command but forces each slot into its
//! nearest value ("double shot" for "triple shot"); the open-vocabulary
//! recogniser hears the slot words better but garbles others ("At Leica,
//! Light Rose Triple Shot Cappuccino …" for "I'd like a light roast triple
//! shot cappuccino …"), so its transcript is not a sentence of the grammar
//! and cannot settle the command by itself ([`super::open`]). Splicing takes
//! the grammar's sentence as the frame and tries the transcript's words
//! where they differ:
//! 1. the transcript's words (normalised as [`super::agree::normalise`]
//!    does) that are not words of the grammar are read as the grammar word
//!    that sounds most like them, if one does ([`Pronunciations::nearest`]:
//!    "mocker" → "mocha", "rose" → "roast"); then the two word sequences
//!    are diffed (Myers, the `similar` crate) into edits;
//! 2. all edits at once, if that is a sentence of the intents; else each
//!    edit in order, kept when the sentence with it and the ones kept before
//!    is still a sentence. An edit that replaces several words and is not
//!    kept whole is tried in parts: the transcript's words left over first,
//!    then word for word from its end, in runs of neighbouring words, the
//!    longest first, so that "want a twelve ounce" → "wanted double shot" can
//!    keep "double shot" (neither word alone makes a sentence), "roast
//!    single" → "rose triple" can keep "triple" and leave "roast", and "a
//!    double" → "triple" keeps "a".
//! 3. A grammar word the transcript lacks is never dropped: a missing word
//!    is no evidence ("whole milk" heard as "homemade" must not become
//!    "milk"). A replacement by fewer words is the transcript's own
//!    evidence, and is kept only when the command keeps every slot the
//!    grammar's had: "a bit of brown sugar" heard as "some brown sugar"
//!    changes the sugar's amount, but "get me an eight ounce …" heard as
//!    "can I have a …" must keep its size.
//!
//! Only the transcript's words (or the grammar words they sound like) are
//! spliced in, never a word the grammar heard alone, so a splice that
//! changes a slot is the open-vocabulary recogniser's reading of that slot.
//! Whether it is used, and how, is [`super::Understander`]'s decision (it
//! asks before acting on it).

use std::collections::BTreeSet;
use std::ops::Range;

use emma_intent::{Context, IntentEngine, IntentMatch};
use emma_speech::words::word_share;
use similar::{Algorithm, DiffTag, capture_diff_slices};

use super::agree::normalise;
use super::recover::understood;
use super::sounds::Pronunciations;
use super::{SPLICED, Understood};

/// Most edits tried one by one (each is a match of the whole sentence); a
/// transcript further from the grammar's sentence than this is not spliced.
const MAX_EDITS: usize = 24;

/// One difference: grammar words `old` are replaced by transcript words `new`.
#[derive(Debug, Clone, PartialEq)]
struct Edit {
    old: Range<usize>,
    new: Range<usize>,
}

/// Longest run of word-for-word pairs tried as one part of an edit.
const MAX_RUN: usize = 4;

/// One edit of the diff, and the smaller edits it is tried as when it is
/// not kept whole (empty for a one-word edit).
#[derive(Debug, Clone, PartialEq)]
struct Group {
    whole: Edit,
    parts: Vec<Edit>,
}

/// The grammar sentence `grammar_text` with the words of `transcript`
/// spliced in (see the module doc), matched by `intents`: `via:
/// open-splice`. `None` when no edit leaves a sentence of the intents.
/// `vocabulary` is the grammar's words, `sounds` how they sound.
pub(super) fn splice(
    intents: &IntentEngine,
    vocabulary: &BTreeSet<String>,
    sounds: &Pronunciations,
    grammar_text: &str,
    transcript: &str,
) -> Option<Understood> {
    let lang = intents.language();
    let grammar = normalise(lang, grammar_text);
    let heard: Vec<String> = normalise(lang, transcript)
        .into_iter()
        .map(|w| {
            if vocabulary.contains(&w) {
                return w;
            }
            sounds
                .nearest(&w, vocabulary.iter().map(String::as_str))
                .map_or(w, str::to_owned)
        })
        .collect();
    if grammar.is_empty() || heard.is_empty() {
        return None;
    }
    let groups = groups(&grammar, &heard);
    if groups.is_empty() || groups.len() > MAX_EDITS {
        return None;
    }
    let ctx = Context::new();
    // The grammar's own command: a replacement by fewer words may change
    // its slots' values, never lose one of them.
    let frame: Vec<String> = intents
        .recognize(&grammar.join(" "), &ctx)
        .best
        .map(|m| m.slots.keys().map(|k| k.to_string()).collect())
        .unwrap_or_default();
    let matches = |kept: &[&Edit]| -> Option<(Vec<String>, IntentMatch)> {
        let sentence = apply(&grammar, &heard, kept);
        let m = intents.recognize(&sentence.join(" "), &ctx).best?;
        let shorter = kept.iter().any(|e| e.new.len() < e.old.len());
        if shorter && !frame.iter().all(|k| m.slots.contains_key(k)) {
            return None;
        }
        Some((sentence, m))
    };
    let all: Vec<&Edit> = groups.iter().map(|g| &g.whole).collect();
    let (sentence, m) = matches(&all).or_else(|| {
        let mut kept: Vec<&Edit> = vec![];
        let mut best = None;
        for g in &groups {
            if let Some(found) = keep(&mut kept, &g.whole, matches) {
                best = Some(found);
                continue;
            }
            for part in &g.parts {
                if let Some(found) = keep(&mut kept, part, matches) {
                    best = Some(found);
                }
            }
        }
        best
    })?;
    // As sure as the sentence matched, times how much of the transcript it keeps.
    let conf = m.confidence * word_share(&sentence, &heard) as f32;
    Some(understood(&sentence.join(" "), m, conf, SPLICED.into()))
}

/// Adds `e` to the edits `kept` (in their order) when it touches none of
/// them and the sentence with it is still one of the intents: that match.
fn keep<'e, T>(
    kept: &mut Vec<&'e Edit>,
    e: &'e Edit,
    matches: impl Fn(&[&Edit]) -> Option<T>,
) -> Option<T> {
    if kept.iter().any(|k| overlaps(k, e)) {
        return None;
    }
    let at = kept.partition_point(|k| order(k) <= order(e));
    kept.insert(at, e);
    let found = matches(kept);
    if found.is_none() {
        kept.remove(at);
    }
    found
}

/// The differences between `grammar` and `heard`, each with its parts.
fn groups(grammar: &[String], heard: &[String]) -> Vec<Group> {
    capture_diff_slices(Algorithm::Myers, grammar, heard)
        .into_iter()
        // A word the transcript lacks is no evidence against the grammar's:
        // the open-vocabulary recogniser drops and garbles words too.
        .filter(|op| op.tag() != DiffTag::Equal && !op.new_range().is_empty())
        .map(|op| {
            let (old, new) = (op.old_range(), op.new_range());
            let pairs = old.len().min(new.len());
            let mut parts = vec![];
            if pairs > 0 && old.len().max(new.len()) > 1 {
                // The words the transcript has more of, then word for word
                // in runs, the longest first ("twelve ounce" → "double
                // shot" together, where neither word alone makes a sentence).
                let (o, n) = (old.end - pairs, new.end - pairs);
                if n > new.start {
                    parts.push(Edit {
                        old: old.start..old.start,
                        new: new.start..n,
                    });
                }
                let longest = if pairs == old.len() && pairs == new.len() {
                    pairs - 1 // all of them is the whole edit
                } else {
                    pairs
                };
                for len in (1..=longest.min(MAX_RUN)).rev() {
                    parts.extend((0..=pairs - len).map(|k| Edit {
                        old: o + k..o + k + len,
                        new: n + k..n + k + len,
                    }));
                }
            }
            Group {
                whole: Edit { old, new },
                parts,
            }
        })
        .collect()
}

/// Whether two edits touch the same grammar words, or insert at the same
/// place (an insertion just before a replacement does not touch it).
fn overlaps(a: &Edit, b: &Edit) -> bool {
    let (a, b) = (&a.old, &b.old);
    match (a.is_empty(), b.is_empty()) {
        (true, true) => a.start == b.start,
        (true, false) => b.start < a.start && a.start < b.end,
        (false, true) => a.start < b.start && b.start < a.end,
        (false, false) => a.start < b.end && b.start < a.end,
    }
}

/// Where an edit goes among others: by its first grammar word, an
/// insertion before a replacement at the same place.
fn order(e: &Edit) -> (usize, bool) {
    (e.old.start, !e.old.is_empty())
}

/// `grammar` with the edits `kept` (in order, not overlapping) applied from `heard`.
fn apply(grammar: &[String], heard: &[String], kept: &[&Edit]) -> Vec<String> {
    let mut out = vec![];
    let mut at = 0;
    for e in kept {
        out.extend_from_slice(&grammar[at..e.old.start]);
        out.extend_from_slice(&heard[e.new.clone()]);
        at = e.old.end;
    }
    out.extend_from_slice(&grammar[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few lines of the coffee-maker context, in Emma's intent format.
    const YAML: &str = r#"
language: en
intents:
  orderDrink:
    data:
      - sentences:
          - "(i'd like|can i have|make me) (a|an) [{roast}] [{shots}] {drink} [with {milk}]"
lists:
  roast:
    values: [light roast, dark roast]
  shots:
    values: [single shot, double shot, triple shot]
  drink:
    values: [cappuccino, latte, mocha, iced mocha]
  milk:
    values: [milk, soy milk, some milk, a bit of milk]
"#;

    /// CMU dictionary lines for the words the tests mishear.
    const DICT: &str = "mocha M OW K AH\nmocker M AA K ER\nlatte L AA T EY\n\
        roast R OW S T\nrose R OW Z\ntriple T R IH P AH L\n";

    /// Splices `heard` into `grammar` with the coffee intents above.
    fn run(grammar: &str, heard: &str) -> Option<Understood> {
        let intents = IntentEngine::from_yaml_str(YAML, "coffee.yaml", "en").unwrap();
        let vocabulary = intents.export_grammar().grammar.words();
        let sounds = Pronunciations::parse(DICT);
        splice(&intents, &vocabulary, &sounds, grammar, heard)
    }

    fn slot<'u>(u: &'u Understood, name: &str) -> Option<&'u str> {
        u.slots.get(name).map(String::as_str)
    }

    #[test]
    fn a_slot_the_transcript_heard_differently_is_spliced_in() {
        // Measured on the real recordings at 12 dB: the grammar heard
        // "single", Moonshine "triple" among words that are no sentence.
        let u = run(
            "i'd like an light roast single shot cappuccino",
            "At Leica, Light Rose Triple Shot Cappuccino.",
        )
        .unwrap();
        assert_eq!(u.text, "i'd like an light roast triple shot cappuccino");
        assert_eq!(u.intent.as_deref(), Some("orderDrink"));
        assert_eq!(slot(&u, "shots"), Some("triple shot"));
        assert_eq!(
            slot(&u, "roast"),
            Some("light roast"),
            "\"rose\" is no value"
        );
        assert_eq!(u.via, "open-splice");
        assert!(u.confidence > 0.0 && u.confidence < 1.0, "{}", u.confidence);
    }

    #[test]
    fn all_edits_at_once_when_that_is_a_sentence() {
        let u = run(
            "make me a mocha with some milk",
            "Make me an iced mocha with soy milk.",
        )
        .unwrap();
        assert_eq!(u.text, "make me an iced mocha with soy milk");
        assert_eq!(slot(&u, "drink"), Some("iced mocha"));
        assert_eq!(slot(&u, "milk"), Some("soy milk"));
    }

    #[test]
    fn the_grammars_words_stay_where_the_transcript_has_none_or_garbles_them() {
        // Dropped words and extra words the grammar has no place for.
        let u = run(
            "can i have a double shot latte",
            "Can I have triple shot latte, please?",
        )
        .unwrap();
        assert_eq!(u.text, "can i have a triple shot latte");
    }

    #[test]
    fn a_word_the_grammar_lacks_is_read_as_the_grammar_word_it_sounds_like() {
        let u = run("make me a latte with milk", "Make me a mocker with milk.").unwrap();
        assert_eq!(u.text, "make me a mocha with milk");
        assert_eq!(slot(&u, "drink"), Some("mocha"));
    }

    #[test]
    fn nothing_to_splice_gives_nothing() {
        for (grammar, heard) in [
            // The same words: no edit.
            ("make me a latte", "Make me a latte."),
            // No edit leaves a sentence.
            ("make me a latte", "Tell me a joke."),
            ("make me a latte", ""),
            ("", "make me a latte"),
        ] {
            assert_eq!(run(grammar, heard), None, "{grammar:?} / {heard:?}");
        }
    }

    #[test]
    fn a_replacement_is_tried_whole_then_in_runs_word_for_word_from_its_end() {
        let w = |s: &str| normalise("en", s);
        let (g, h) = (w("a b c d"), w("a x y z d e"));
        let e = |old: Range<usize>, new: Range<usize>| Edit { old, new };
        assert_eq!(
            groups(&g, &h),
            [
                Group {
                    whole: e(1..3, 1..4),
                    parts: vec![e(1..1, 1..2), e(1..3, 2..4), e(1..2, 2..3), e(2..3, 3..4)],
                },
                Group {
                    whole: e(4..4, 5..6),
                    parts: vec![],
                },
            ]
        );
        assert_eq!(
            apply(&g, &h, &[&e(2..3, 3..4), &e(4..4, 5..6)]),
            w("a b z d e")
        );
        // The grammar's words the transcript lacks stay: no part drops them.
        assert_eq!(
            groups(&g, &w("a x d")),
            [Group {
                whole: e(1..3, 1..2),
                parts: vec![e(2..3, 1..2)],
            }]
        );
        assert_eq!(groups(&g, &w("a c d")), []);
    }

    #[test]
    fn fewer_words_replace_the_grammars_only_word_for_word_from_the_end() {
        // "double shot latte" → "mocha" whole would drop the shots.
        let u = run("make me a double shot latte", "Make me a mocha.").unwrap();
        assert_eq!(u.text, "make me a double shot mocha");
    }

    #[test]
    fn neighbouring_words_that_make_a_sentence_only_together_are_spliced_together() {
        // Measured at 6 dB: "I wanted double shot maritano …" for "i want a
        // twelve ounce americano …"; neither "double" nor "shot" alone fits.
        let u = run(
            "i'd like a light roast latte",
            "I'd like the triple shot latte.",
        )
        .unwrap();
        assert_eq!(u.text, "i'd like a triple shot latte");
        assert_eq!(slot(&u, "shots"), Some("triple shot"));
        assert_eq!(slot(&u, "roast"), None);
    }

    #[test]
    fn fewer_words_replace_the_grammars_when_every_slot_stays() {
        // Measured at 12 dB: "… and some brown sugar" for the grammar's "…
        // and a bit of brown sugar".
        let u = run(
            "make me a latte with a bit of milk",
            "Make me a latte with some milk.",
        )
        .unwrap();
        assert_eq!(u.text, "make me a latte with some milk");
        assert_eq!(slot(&u, "milk"), Some("some milk"));
    }

    #[test]
    fn a_grammar_word_the_transcript_garbles_is_not_dropped() {
        // Measured at 12 dB: "whole milk" heard as "homemade"; dropping
        // "whole" would make a sentence, and a wrong order.
        for heard in [
            "I'd like a latte with some homemade.",
            "I'd like a latte with some milk.",
        ] {
            assert_eq!(
                run("i'd like a latte with some soy milk", heard),
                None,
                "{heard}"
            );
        }
    }
}
