//! Rejection by agreement: a second, open-vocabulary recogniser (Moonshine)
//! transcribes the same utterance, and a grammar hypothesis is accepted only
//! when that transcript agrees with it.
//!
//! The grammar decoder forces any speech into some command; an
//! open-vocabulary transcript of "tell me a joke" says "tell me a joke".
//! Two signals compare the two:
//! - the **intent** the text intent engine finds in the transcript (exact
//!   matching, as for typed text: it rejects almost all out-of-domain
//!   sentences), compared with the grammar hypothesis' intent;
//! - the **words**: the longest common subsequence of the normalised
//!   grammar words and transcript words (lowercase, no punctuation, digits
//!   spelled out), as a share of the longer of the two.
//!
//! A third signal finds the out-of-domain sentences that share an opening
//! with a command ("Give me a break." for "give me a light"): the
//! command's **slots** whose words the transcript has, by sound
//! ([`SlotsHeard`]; "rose" for "roast" counts, "break" for "light" does
//! not).
//!
//! [`AgreementRule`] says how the first two combine; `docs/understand.md` has
//! the measured trade-off.

use std::collections::{BTreeMap, BTreeSet};

use emma_intent::{Context, IntentEngine};
use serde::Serialize;

use super::Understood;
use super::sounds::Pronunciations;

/// What the open-vocabulary transcript of an utterance said about a grammar hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// The open-vocabulary transcript, as the recogniser wrote it.
    pub transcript: String,
    /// The intent the text intent engine found in the transcript, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// That intent is the grammar hypothesis' intent.
    pub same_intent: bool,
    /// Shared words (longest common subsequence of normalised words) as a
    /// share of the longer word sequence, in 0..=1.
    pub words: f64,
    /// The command's slots the transcript has, by sound.
    pub slots: SlotsHeard,
    /// Milliseconds the transcription took (it adds to end-of-speech latency).
    pub ms: u64,
}

/// How many of a command's slots an open-vocabulary transcript has.
///
/// A slot counts when the grammar's sentence says its value in words (a
/// fixed slot, a context slot or a value the sentence spells otherwise does
/// not), and it is heard when one of those words sounds like a word of the
/// transcript ([`Pronunciations::sound_alike`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SlotsHeard {
    /// Slots whose value the grammar's sentence says in words.
    pub said: usize,
    /// Of those, the slots the transcript has a word of, by sound.
    pub heard: usize,
    /// Of those heard, the slots whose value is one of the grammar's, not
    /// open text: a wildcard's words are whatever was said, so hearing
    /// them says nothing about the command ("is the best in the world",
    /// completed into a timer's "{conversation_command} in five minutes").
    pub listed: usize,
}

impl SlotsHeard {
    /// Counts the slots of `slots` (name → value; the names in `open` are
    /// open text) said in `grammar` (the grammar's sentence, normalised) and
    /// heard in `transcript` (normalised).
    ///
    /// A slot is heard by a transcript word that is not the transcript's
    /// copy of one of the sentence's other words: each word the sentence
    /// says outside its slots takes one equal word of the transcript out of
    /// the comparison first. Short words sound alike easily ("what" and
    /// "light" are a phone of the same class apart, and a vowel), so
    /// without this "What is on my calendar today?" heard "what is our
    /// light"'s light in its own "what".
    pub fn count(
        sounds: &Pronunciations,
        lang: &str,
        grammar: &[String],
        slots: &BTreeMap<String, String>,
        open: &BTreeSet<String>,
        transcript: &[String],
    ) -> SlotsHeard {
        let said: Vec<(&String, Vec<String>)> = slots
            .iter()
            .map(|(name, value)| {
                let words = normalise(lang, value)
                    .into_iter()
                    .filter(|w| grammar.contains(w))
                    .collect();
                (name, words)
            })
            .collect();
        let carrier = without(grammar, said.iter().flat_map(|(_, words)| words));
        let rest = without(transcript, &carrier);
        let mut out = SlotsHeard::default();
        for (name, said) in said {
            if said.is_empty() {
                continue;
            }
            out.said += 1;
            if said
                .iter()
                .any(|w| rest.iter().any(|t| sounds.sound_alike(w, t)))
            {
                out.heard += 1;
                out.listed += usize::from(!open.contains(name));
            }
        }
        out
    }

    /// Whether the command said slots and the transcript has none of them.
    pub fn none_heard(&self) -> bool {
        self.said > 0 && self.heard == 0
    }
}

/// Shared words from which a transcript confirms a command without giving
/// its intent: the command is then acted on without asking. Half the words
/// (the default rule's bar) is enough not to reject a command, not to be
/// sure of it: a cut-off "get me a small" and Moonshine's "Sing me a song."
/// share "me a" (docs/understand.md, 4 December).
pub const SURE_WORDS: f64 = 0.75;

/// Shared words below which a transcript that heard speech is another
/// sentence, not a mishearing of the command. Moonshine's mishearings of
/// real coffee orders in kitchen noise shared at least 0.29 of the words
/// when it heard anything (0.0 only as empty transcripts); spoken
/// out-of-domain sentences that the grammar heard as sure commands shared
/// 0–0.17 ("Do you know any good restaurants nearby?" for "brew a light
/// roast medium latte"; docs/understand.md, 4 December).
pub const OTHER_WORDS: f64 = 0.25;

impl Agreement {
    /// Whether the transcript confirms the command so that it needs no
    /// "Did you say …?": the same intent, or at least [`SURE_WORDS`] of the
    /// words.
    pub fn confirms(&self) -> bool {
        self.same_intent || self.words >= SURE_WORDS
    }

    /// Whether the transcript heard another sentence: words, not the
    /// command's intent, and fewer than [`OTHER_WORDS`] of them the
    /// command's or none of its slots ([`SlotsHeard::none_heard`]: "Make me
    /// a sandwich." for "make me a small light"). Asking "Did you say …?"
    /// then makes no sense; an empty transcript (heard nothing) is no
    /// evidence either way.
    pub fn contradicts(&self) -> bool {
        self.other_words() || (self.said_otherwise() && self.slots.none_heard())
    }

    /// The first half of [`Agreement::contradicts`]: words, not the
    /// command's intent, and fewer than [`OTHER_WORDS`] of them the
    /// command's. Another command's slots may still be heard in them
    /// (rescoring may find it), but not another sentence's words.
    pub fn other_words(&self) -> bool {
        self.said_otherwise() && self.words < OTHER_WORDS
    }

    /// Whether the transcript agrees with the command only in part: it
    /// does not confirm it ([`Agreement::confirms`]) and has words, but not
    /// every slot the command said.
    pub fn agrees_in_part(&self) -> bool {
        !self.confirms() && self.said().is_some() && self.slots.heard < self.slots.said
    }

    /// Whether the transcript has words and not the command's intent: the
    /// condition under which its words and slots can speak against it.
    fn said_otherwise(&self) -> bool {
        !self.same_intent && self.said().is_some()
    }

    /// The same transcript compared with `command` (its text, intent and
    /// slots), a command that rescoring or splicing made of the one this
    /// agreement was about: the transcript's intent, read once, is kept.
    pub fn about(&self, lang: &str, sounds: &Pronunciations, command: &Understood) -> Agreement {
        measure(
            lang,
            sounds,
            command,
            command.intent.as_deref().unwrap_or_default(),
            &self.transcript,
            self.intent.clone(),
            self.ms,
        )
    }

    /// Whether the transcript, which heard words and not the command's
    /// intent, has none of the command's slots that hold one of the
    /// grammar's values ([`SlotsHeard::listed`]; open text does not count).
    /// A command rebuilt from part of what was heard (completed, aligned
    /// to the nearest sentence, spliced) is then the recovery step's, not
    /// the speaker's: "Turn up the heating." is not "turn off the" completed
    /// into some device, nor "Who is the best singer in the world?" a timer.
    pub fn misses_listed_slots(&self) -> bool {
        self.said_otherwise() && self.slots.listed == 0
    }

    /// The transcript without surrounding space when it has words; `None`
    /// when the recogniser heard nothing (or only punctuation).
    pub fn said(&self) -> Option<&str> {
        let t = self.transcript.trim();
        t.chars().any(char::is_alphanumeric).then_some(t)
    }
}

/// When a transcript agrees with a grammar hypothesis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AgreementRule {
    /// The transcript gives the same intent.
    SameIntent,
    /// At least this share of words agree.
    Words(f64),
    /// The same intent, or at least this share of words.
    SameIntentOrWords(f64),
}

impl AgreementRule {
    /// The default rule, chosen from the measurement in `docs/understand.md`.
    pub const DEFAULT: AgreementRule = AgreementRule::SameIntentOrWords(0.5);

    /// Whether `a` agrees under this rule.
    pub fn agrees(&self, a: &Agreement) -> bool {
        match *self {
            AgreementRule::SameIntent => a.same_intent,
            AgreementRule::Words(min) => a.words >= min,
            AgreementRule::SameIntentOrWords(min) => a.same_intent || a.words >= min,
        }
    }

    /// A short name for output (`emma understand`): `intent`, `words ≥ 0.5`, ….
    pub fn name(&self) -> String {
        match self {
            AgreementRule::SameIntent => "same intent".to_owned(),
            AgreementRule::Words(min) => format!("words ≥ {min}"),
            AgreementRule::SameIntentOrWords(min) => format!("same intent or words ≥ {min}"),
        }
    }
}

/// Compares `transcript` (open vocabulary) with the grammar hypothesis
/// `command` (its text, slots and open slots) understood as `intent`;
/// `sounds` says which words sound alike.
pub fn compare(
    intents: &IntentEngine,
    sounds: &Pronunciations,
    command: &Understood,
    intent: &str,
    transcript: &str,
    ms: u64,
) -> Agreement {
    let lang = intents.language().to_owned();
    let heard = normalise(&lang, transcript);
    let text_intent = if heard.is_empty() {
        None
    } else {
        // Matched as typed text would be, and also in its normalised form
        // (digits spelled out, no punctuation), whichever finds an intent.
        let ctx = Context::new();
        intents
            .recognize(transcript, &ctx)
            .best
            .or_else(|| intents.recognize(&heard.join(" "), &ctx).best)
            .map(|m| m.intent.to_string())
    };
    measure(&lang, sounds, command, intent, transcript, text_intent, ms)
}

/// The agreement of `transcript`, whose own intent is `text_intent`, with
/// `command` understood as `intent`.
fn measure(
    lang: &str,
    sounds: &Pronunciations,
    command: &Understood,
    intent: &str,
    transcript: &str,
    text_intent: Option<String>,
    ms: u64,
) -> Agreement {
    let heard = normalise(lang, transcript);
    let grammar = normalise(lang, &command.text);
    Agreement {
        transcript: transcript.to_owned(),
        same_intent: text_intent.as_deref() == Some(intent),
        intent: text_intent,
        words: word_share(&grammar, &heard),
        slots: SlotsHeard::count(
            sounds,
            lang,
            &grammar,
            &command.slots,
            &command.open_slots,
            &heard,
        ),
        ms,
    }
}

/// `words` without one equal word for each of `taken` (a multiset difference).
fn without<'a>(words: &[String], taken: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut rest = words.to_vec();
    for t in taken {
        if let Some(i) = rest.iter().position(|w| w == t) {
            rest.remove(i);
        }
    }
    rest
}

/// Lowercase words without punctuation, numbers spelled out in `lang`
/// (`"Set 2 timers."` → `set two timers`; `20%` → `twenty percent`).
pub fn normalise(lang: &str, text: &str) -> Vec<String> {
    let mut out = vec![];
    let lower = text.to_lowercase().replace('%', " percent ");
    for raw in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let word = raw.trim_matches('\'');
        if word.is_empty() {
            continue;
        }
        if word.chars().all(|c| c.is_ascii_digit())
            && let Ok(n) = word.parse::<i64>()
            && let Ok(forms) = emma_numbers::spell_out(lang, n)
            && let Some(spelled) = forms.first()
        {
            // `spell_out` lists every cardinal form ("twenty-five", then
            // "twenty five", then gender and case variants); the first is
            // the default. Its words may be joined by spaces or hyphens.
            out.extend(
                spelled
                    .split([' ', '-'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        // Hyphenated words as the grammar writes them: "twenty-one" → two words.
        out.extend(word.split('-').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    out
}

pub use emma_speech::words::word_share;

#[cfg(test)]
mod tests {
    use super::*;

    /// Slot values by name.
    fn slots(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn words(s: &str) -> Vec<String> {
        normalise("en", s)
    }

    #[test]
    fn normalising_drops_case_and_punctuation_and_spells_digits() {
        assert_eq!(
            words("Set 2 timers, please."),
            ["set", "two", "timers", "please"]
        );
        assert_eq!(
            words("Dim it to 25%"),
            ["dim", "it", "to", "twenty", "five", "percent"]
        );
        assert_eq!(words("Don't stop"), ["don't", "stop"]);
        assert!(words(" ... ").is_empty());
    }

    #[test]
    fn a_number_is_spelled_once() {
        // `emma_numbers::spell_out` returns every cardinal form ("twenty-five"
        // and "twenty five", gender and case variants): only the first, the
        // default, is what a person says.
        assert_eq!(words("2"), ["two"]);
        assert_eq!(words("25"), ["twenty", "five"]);
        assert_eq!(
            words("set it to 21 degrees"),
            ["set", "it", "to", "twenty", "one", "degrees"]
        );
        assert_eq!(words("100"), ["one", "hundred"]);
        assert_eq!(normalise("de", "2"), ["zwei"]);
        assert_eq!(normalise("de", "1"), ["eins"]);
        let g = words("set the brightness to twenty five percent");
        assert_eq!(word_share(&g, &words("Set the brightness to 25%.")), 1.0);
    }

    #[test]
    fn word_share_is_the_common_subsequence_over_the_longer_side() {
        let g = words("make me a large latte");
        assert_eq!(word_share(&g, &words("Make me a large latte.")), 1.0);
        assert!((word_share(&g, &words("make me a latte")) - 0.8).abs() < 1e-9);
        assert!((word_share(&g, &words("tell me a joke")) - 0.4).abs() < 1e-9);
        assert_eq!(word_share(&g, &[]), 0.0);
    }

    #[test]
    fn rules_combine_the_two_signals() {
        let a = Agreement {
            transcript: "x".into(),
            intent: None,
            same_intent: false,
            words: 0.6,
            slots: SlotsHeard::default(),
            ms: 0,
        };
        assert!(!AgreementRule::SameIntent.agrees(&a));
        assert!(AgreementRule::Words(0.5).agrees(&a));
        assert!(!AgreementRule::Words(0.7).agrees(&a));
        let same = Agreement {
            same_intent: true,
            words: 0.0,
            ..a.clone()
        };
        assert!(AgreementRule::SameIntentOrWords(0.9).agrees(&same));
        assert!(!AgreementRule::SameIntentOrWords(0.9).agrees(&a));
    }

    #[test]
    fn a_transcript_confirms_with_most_words_and_contradicts_with_few() {
        let with = |transcript: &str, same_intent: bool, words: f64| Agreement {
            transcript: transcript.into(),
            intent: None,
            same_intent,
            words,
            slots: SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1,
            },
            ms: 0,
        };
        assert!(with("x", true, 0.0).confirms());
        assert!(with("x", false, SURE_WORDS).confirms());
        assert!(!with("x", false, 0.6).confirms());
        assert!(with("Who wrote Romeo and Juliet?", false, 0.0).contradicts());
        assert!(with("x", false, OTHER_WORDS - 0.01).contradicts());
        assert!(!with("x", false, OTHER_WORDS).contradicts());
        assert!(!with("x", true, 0.0).contradicts());
        // Heard nothing (or only punctuation): no evidence of another sentence.
        assert!(!with("", false, 0.0).contradicts());
        assert!(!with(" ... ", false, 0.0).contradicts());
    }

    #[test]
    fn a_transcript_without_any_of_the_commands_slots_contradicts_it() {
        let sounds = Pronunciations::parse(
            "give G IH V\nme M IY\na AH\nlight L AY T\nbreak B R EY K\n\
             roast R OW S T\nrose R OW Z\nsmall S M AO L\ndark D AA R K\n\
             song S AO NG\nsing S IH NG",
        );
        let count = |grammar: &str, s: &BTreeMap<String, String>, transcript: &str| {
            SlotsHeard::count(
                &sounds,
                "en",
                &words(grammar),
                s,
                &BTreeSet::new(),
                &words(transcript),
            )
        };
        let roast = slots(&[("roast", "light roast")]);
        // The sentence says "light", not "roast": only "light" can be heard.
        let broke = count("give me a light", &roast, "Give me a break.");
        assert_eq!(
            broke,
            SlotsHeard {
                said: 1,
                heard: 0,
                listed: 0
            }
        );
        assert!(broke.none_heard());
        // A mishearing by sound still hears the slot ("rose" for "roast").
        let rose = count("give me a light roast", &roast, "Give me a light rose.");
        assert_eq!(
            rose,
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1
            }
        );
        assert_eq!(
            count("give me a dark roast", &roast, "Give me a light rose."),
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1
            },
            "one word of the slot is enough"
        );
        // Slots the sentence does not say (fixed or context slots) do not count.
        let fixed = slots(&[("domain", "light"), ("size", "small")]);
        let song = count("sing me a small", &fixed, "Sing me a song.");
        assert_eq!(
            song,
            SlotsHeard {
                said: 1,
                heard: 0,
                listed: 0
            }
        );
        assert!(!SlotsHeard::default().none_heard());
        // Shared opening words no longer hide another sentence.
        let a = Agreement {
            transcript: "Give me a break.".into(),
            intent: None,
            same_intent: false,
            words: 0.75,
            slots: broke,
            ms: 0,
        };
        assert!(a.contradicts());
        assert!(
            !Agreement {
                slots: rose,
                ..a.clone()
            }
            .contradicts()
        );
        assert!(
            !Agreement {
                same_intent: true,
                ..a
            }
            .contradicts()
        );
    }

    #[test]
    fn a_rebuilt_command_needs_a_listed_slot_in_the_transcript() {
        let sounds = Pronunciations::parse(
            "is IH Z\nthe DH AH\nbest B EH S T\nin IH N\nworld W ER L D\n\
             lock L AA K\nturn T ER N\noff AO F\nup AH P\nheating HH IY T IH NG\n\
             what W AH T\nlight L AY T\nour AW ER\non AA N\nmy M AY\n\
             calendar K AE L AH N D ER\ntoday T AH D EY\nlamp L AE M P",
        );
        let open = BTreeSet::from(["conversation_command".to_owned()]);
        let agreement = |grammar: &str, s: &BTreeMap<String, String>, transcript: &str| {
            let heard =
                SlotsHeard::count(&sounds, "en", &words(grammar), s, &open, &words(transcript));
            Agreement {
                transcript: transcript.into(),
                intent: None,
                same_intent: false,
                words: 0.8,
                slots: heard,
                ms: 0,
            }
        };
        // Open text is heard (it is whatever was said) but names nothing of the grammar.
        let timer = slots(&[("conversation_command", "is the best in the world")]);
        let best = agreement(
            "is the best in the world",
            &timer,
            "Who is the best singer in the world?",
        );
        assert_eq!(
            best.slots,
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 0
            }
        );
        assert!(best.misses_listed_slots());
        assert!(!best.contradicts(), "the words alone agree");
        // No slot at all ("turn off the", completed into an intent without a device).
        let off = agreement("turn off the", &slots(&[]), "Turn up the heating.");
        assert!(off.misses_listed_slots());
        assert!(!off.other_words(), "three of four words are shared");
        // The same transcript about a command changed since (by rescoring):
        // its words and slots are counted again, its intent kept.
        let changed = Understood {
            text: "turn off the lock".into(),
            intent: Some("HassTurnOff".into()),
            slots: slots(&[("domain", "lock")]),
            ..Understood::nothing()
        };
        let again = Agreement {
            transcript: "Turn off the lock.".into(),
            ..off.clone()
        }
        .about("en", &sounds, &changed);
        assert_eq!(
            again.slots,
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1
            }
        );
        assert_eq!((again.words, again.same_intent), (1.0, false));
        assert!(!again.misses_listed_slots() && !again.contradicts());
        // A value of the grammar's lists that the transcript has.
        let lock = agreement(
            "lock the locks",
            &slots(&[("domain", "lock")]),
            "Lock in the car.",
        );
        assert_eq!(
            lock.slots,
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1
            }
        );
        assert!(!lock.misses_listed_slots());
        // The sentence's other words take their copies out of the transcript
        // first: "light" sounds like "what", but that "what" is the command's own.
        let light = agreement(
            "what is our light",
            &slots(&[("name", "light")]),
            "What is on my calendar today?",
        );
        assert!(sounds.sound_alike("light", "what"));
        assert_eq!(
            light.slots,
            SlotsHeard {
                said: 1,
                heard: 0,
                listed: 0
            }
        );
        let lamp = agreement(
            "what is our light",
            &slots(&[("name", "light")]),
            "What is our lamp? What light?",
        );
        assert_eq!(
            lamp.slots,
            SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1
            }
        );
        // The transcript's own intent, or no words at all, is no evidence against it.
        assert!(
            !Agreement {
                same_intent: true,
                ..best.clone()
            }
            .misses_listed_slots()
        );
        assert!(
            !Agreement {
                transcript: " ... ".into(),
                ..best
            }
            .misses_listed_slots()
        );
    }
}
