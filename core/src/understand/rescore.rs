//! Which value of a slot was said, in noise: the command's neighbours
//! ranked by Moonshine's own probability.
//!
//! In kitchen noise the grammar decoder still hears whole commands but
//! forces a slot it misheard into its nearest value ("a double shot" for
//! "a triple shot"), and Moonshine's transcript, which the agreement check
//! compares it with ([`super::agree`]), garbles the same words ("triple
//! shot" as "travel shop"), so neither says which value was said. Asked
//! directly, Moonshine does: its decoder gives the probability of any
//! sentence as the transcript of the audio ([`MoonshineModel::compare`]),
//! and the value spoken is the likeliest in its place.
//!
//! So, for a command found in noisy speech that the transcript does not
//! confirm whole, the command's **neighbours** are its sentence with one
//! slot's words replaced by another value of the same list ([`neighbours`];
//! each must still be the same command with only that slot changed), and
//! the likeliest replaces it when it is more than [`MARGIN`] (natural log)
//! likelier, or when it is nearly as likely ([`TIE`]) and Moonshine's own
//! transcript has its words and not the command's; then the new command's
//! neighbours are scored in turn (two slots misheard are corrected one at a
//! time), at most [`MAX_ROUNDS`] times. Measured offline on the held-out
//! real coffee orders (`docs/understand.md`): at 6 dB, 7 commands right
//! that were wrong and none wrong that was right; the rounds and the
//! transcript's tie-break one more each.
//!
//! It costs a Moonshine encoding and a few batched decoder runs, and only
//! the neighbours that could still replace the command are read in full:
//! the command's own reading predicts each neighbour's first different
//! token, which bounds how likely the neighbour can be (held out, 99 of
//! 100 neighbours stop there at 12 dB and 9 of 10 at 6 dB; rescoring took
//! 65 ms per rescored utterance at 12 dB instead of 356 ms, 111 ms instead
//! of 392 at 6 dB, with the same results). It runs only where it can
//! help: when the transcript has not confirmed the command already (same
//! intent, every slot heard). It ran only in noise at first (below 10 dB by what RNNoise
//! removes); run on all speech it made two more held-out recordings right
//! (one clean, one at 12 dB) and none wrong (`docs/understand.md`).
//!
//! [`MoonshineModel::compare`]: emma_speech::moonshine::MoonshineModel::compare

use std::collections::BTreeSet;

use emma_grammar::{Expr, Grammar};
use emma_intent::{Context, IntentEngine, IntentMatch};
use serde::Serialize;

use super::agree::{Agreement, normalise};

/// How much likelier (natural log) a neighbour must be than the command to
/// replace it. Tuned on the tuning half of the real recordings (6 and 12 dB):
/// from 2 on, no replacement was wrong.
pub const MARGIN: f64 = 2.0;
/// How much less likely (natural log) than the command a neighbour may be
/// and still replace it when the open-vocabulary transcript has the
/// neighbour's words and not the command's ([`Neighbour::heard_in`]): two
/// readings of the same model, the free one and the forced one, agree on it.
/// Chosen on the real recordings: on the tuning half at 1 it changed no
/// result; held out it made one right ("lots of soy milk", 0.45 less likely
/// than "a lot of soy milk", which the transcript did not have).
pub const TIE: f64 = 1.0;
/// Most rounds of rescoring: after a neighbour replaced the command, its
/// own neighbours are scored (a second slot misheard), up to this many times.
pub const MAX_ROUNDS: usize = 3;
/// Most neighbours scored for one command.
const MAX_NEIGHBOURS: usize = 64;
/// Most phrases a slot list expands to; longer lists are not used.
const MAX_PHRASES: usize = 200;
/// Deepest nesting of rules expanded in a list.
const MAX_DEPTH: usize = 8;

/// What rescoring did to a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rescored {
    /// The command's sentence before (normalised words).
    pub sentence: String,
    /// Neighbours scored, over every round.
    pub neighbours: usize,
    /// Of those, how many were not read in full: the start of their own
    /// words already made them too unlikely to replace the command (more
    /// than [`MARGIN`] likelier, or [`TIE`] when the transcript has them),
    /// so reading on could not change the result.
    pub unread: usize,
    /// The likeliest neighbour read in full in the last round and how much
    /// likelier it was than that round's command (natural log); `None` when
    /// none was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best: Option<(String, f64)>,
    /// A neighbour replaced the command (it was more than [`MARGIN`] likelier).
    pub replaced: bool,
    /// Each neighbour that replaced the command in turn, with its gain
    /// (at most [`MAX_ROUNDS`]; the last is the command now).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<(String, f64)>,
    /// The speech-to-noise estimate of the utterance, in dB, when RNNoise
    /// cleaned it (see [`emma_speech::denoise::speech_to_noise_db`]; `None`
    /// otherwise and when asked for directly: [`super::Understander::rescore_command`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_to_noise_db: Option<f64>,
    /// Milliseconds rescoring took.
    pub ms: u64,
}

/// Whether the agreement check has already confirmed the whole command:
/// the transcript is the same intent and has every slot's words.
pub(super) fn confirmed(a: &Agreement) -> bool {
    a.same_intent && a.slots.heard == a.slots.said
}

/// The phrases of each slot list in a grammar (its rules `l_*` and `ll_*`,
/// see [`IntentEngine::export_grammar`]), as normalised words.
#[derive(Debug, Clone, Default)]
pub(super) struct SlotPhrases {
    lists: Vec<Vec<Vec<String>>>,
}

impl SlotPhrases {
    /// The slot lists of `grammar`, each expanded to at most
    /// [`MAX_PHRASES`] phrases; lists with open text or more phrases are left out.
    pub fn of(grammar: &Grammar) -> SlotPhrases {
        let lists = grammar
            .rules
            .iter()
            .filter(|r| r.name.starts_with("l_") || r.name.starts_with("ll_"))
            .filter_map(|r| expand(grammar, &r.expr, 0))
            .filter(|phrases| phrases.len() > 1)
            .collect();
        SlotPhrases { lists }
    }

    /// The other phrases of every list that has `phrase`.
    fn others(&self, phrase: &[String]) -> BTreeSet<&[String]> {
        self.lists
            .iter()
            .filter(|l| l.iter().any(|p| p == phrase))
            .flatten()
            .map(Vec::as_slice)
            .filter(|p| *p != phrase)
            .collect()
    }
}

/// Every word sequence `expr` stands for; `None` for open text or more than
/// [`MAX_PHRASES`].
fn expand(grammar: &Grammar, expr: &Expr, depth: usize) -> Option<Vec<Vec<String>>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let out = match expr {
        Expr::Word(w) => vec![vec![w.clone()]],
        Expr::Free => return None,
        Expr::Rule(name) => expand(grammar, &grammar.rule(name)?.expr, depth + 1)?,
        Expr::Opt(inner) => {
            let mut out = vec![vec![]];
            out.extend(expand(grammar, inner, depth + 1)?);
            out
        }
        Expr::Alt(parts) => {
            let mut out = vec![];
            for p in parts {
                out.extend(expand(grammar, p, depth + 1)?);
                if out.len() > MAX_PHRASES {
                    return None;
                }
            }
            out
        }
        Expr::Seq(parts) => {
            let mut out = vec![vec![]];
            for p in parts {
                let next = expand(grammar, p, depth + 1)?;
                if out.len() * next.len() > MAX_PHRASES {
                    return None;
                }
                out = out
                    .iter()
                    .flat_map(|a| {
                        next.iter().map(move |b| {
                            let mut ab = a.clone();
                            ab.extend(b.iter().cloned());
                            ab
                        })
                    })
                    .collect();
            }
            out
        }
    };
    Some(out)
}

/// One neighbour of a command ([`neighbours`]).
#[derive(Debug, Clone)]
pub(super) struct Neighbour {
    /// Its sentence, normalised words.
    pub sentence: String,
    /// The command it is.
    pub command: IntentMatch,
    /// The command's words it replaced (a slot's phrase).
    pub said: Vec<String>,
    /// The words in their place.
    pub instead: Vec<String>,
}

impl Neighbour {
    /// Whether the open-vocabulary transcript `heard` (normalised words)
    /// has this neighbour's words and not the command's it replaced.
    pub fn heard_in(&self, heard: &[String]) -> bool {
        let has = |phrase: &[String]| {
            !phrase.is_empty() && heard.windows(phrase.len()).any(|w| w == phrase)
        };
        !self.instead.is_empty() && has(&self.instead) && !has(&self.said)
    }
}

/// A command and its neighbours ([`neighbours`]).
#[derive(Debug, Clone)]
pub(super) struct Neighbourhood {
    /// The command's sentence, normalised words.
    pub sentence: String,
    /// Its neighbours.
    pub neighbours: Vec<Neighbour>,
}

/// The command `text` is (normalised words, matched by `intents`) and its
/// neighbours: the same sentence with one slot's words replaced by another
/// phrase of a list that has them, kept when that is the same intent with
/// only that slot's value changed. At most [`MAX_NEIGHBOURS`], in slot order.
/// `None` when the normalised text is not a command of `intents`.
pub(super) fn neighbours(
    intents: &IntentEngine,
    phrases: &SlotPhrases,
    text: &str,
) -> Option<Neighbourhood> {
    let words = normalise(intents.language(), text);
    let sentence = words.join(" ");
    let ctx = Context::new();
    let command = intents.recognize(&sentence, &ctx).best?;
    let mut out: Vec<Neighbour> = vec![];
    let mut seen = BTreeSet::from([sentence.clone()]);
    for (name, value) in command.slots.iter() {
        if value.wildcard || value.text.trim().is_empty() {
            continue;
        }
        let spoken = normalise(intents.language(), &value.text);
        if spoken.is_empty() {
            // No words of its own (punctuation only): nowhere to replace.
            continue;
        }
        let at: Vec<usize> = (0..words.len())
            .filter(|&i| words[i..].starts_with(&spoken))
            .collect();
        let [at] = at[..] else {
            // Not said, or said twice: which one is the slot's is unknown.
            continue;
        };
        for other in phrases.others(&spoken) {
            if out.len() >= MAX_NEIGHBOURS {
                break;
            }
            let replaced = words[..at]
                .iter()
                .chain(other)
                .chain(&words[at + spoken.len()..])
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            if !seen.insert(replaced.clone()) {
                continue;
            }
            let Some(m) = intents.recognize(&replaced, &ctx).best else {
                continue;
            };
            let only_this = m.intent == command.intent
                && m.slots.len() == command.slots.len()
                && m.slots.iter().all(|(k, v)| match command.slots.get(k) {
                    Some(c) if k == name => c.value != v.value,
                    Some(c) => c.value == v.value,
                    None => false,
                });
            if only_this {
                out.push(Neighbour {
                    sentence: replaced,
                    command: m,
                    said: spoken.clone(),
                    instead: other.to_vec(),
                });
            }
        }
    }
    Some(Neighbourhood {
        sentence,
        neighbours: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COFFEE: &str = r#"
language: en
intents:
  Order:
    data:
      - sentences:
          - "[can i get] a {size} {drink} [with {milk}]"
lists:
  size:
    values: ["small", "medium", "large", "extra large"]
  drink:
    values: ["latte", "mocha", "iced mocha", "flat white"]
  milk:
    values: ["oat milk", "soy milk", "whole milk"]
"#;

    fn engine() -> IntentEngine {
        IntentEngine::from_yaml_str(COFFEE, "coffee.yaml", "en").unwrap()
    }

    #[test]
    fn slot_lists_expand_to_their_phrases() {
        let e = engine();
        let phrases = SlotPhrases::of(&e.export_grammar().grammar);
        let others = phrases.others(&["large".to_owned()]);
        let others: Vec<String> = others.iter().map(|p| p.join(" ")).collect();
        assert_eq!(others, ["extra large", "medium", "small"]);
        assert!(
            phrases
                .others(&["latte".to_owned(), "please".to_owned()])
                .is_empty()
        );
    }

    #[test]
    fn neighbours_change_one_slot_and_stay_the_command() {
        let e = engine();
        let phrases = SlotPhrases::of(&e.export_grammar().grammar);
        let Neighbourhood {
            sentence,
            neighbours: near,
        } = neighbours(&e, &phrases, "Can I get a large latte with oat milk?").unwrap();
        assert_eq!(sentence, "can i get a large latte with oat milk");
        let command = e.recognize(&sentence, &Context::new()).best.unwrap();
        assert_eq!(command.intent.as_ref(), "Order");
        let texts: Vec<&str> = near.iter().map(|n| n.sentence.as_str()).collect();
        // 3 other sizes, 3 other drinks, 2 other milks.
        assert_eq!(texts.len(), 8, "{texts:?}");
        assert!(texts.contains(&"can i get a extra large latte with oat milk"));
        assert!(texts.contains(&"can i get a large iced mocha with oat milk"));
        assert!(texts.contains(&"can i get a large latte with whole milk"));
        for n in &near {
            let changed = n
                .command
                .slots
                .iter()
                .filter(|(k, v)| command.slots.get(k).map(|c| &c.value) != Some(&v.value))
                .count();
            assert_eq!(changed, 1);
        }
        assert!(neighbours(&e, &phrases, "tell me a joke").is_none());
    }

    #[test]
    fn a_neighbour_is_heard_when_the_transcript_has_its_words_and_not_the_commands() {
        let e = engine();
        let phrases = SlotPhrases::of(&e.export_grammar().grammar);
        let near = neighbours(&e, &phrases, "can i get a large latte with oat milk")
            .unwrap()
            .neighbours;
        let n = near
            .iter()
            .find(|n| n.sentence == "can i get a large latte with soy milk")
            .unwrap();
        assert_eq!(
            (n.said.join(" "), n.instead.join(" ")),
            ("oat milk".into(), "soy milk".into())
        );
        let heard = |t: &str| normalise("en", t);
        assert!(n.heard_in(&heard("Can I get a large latte with soy milk?")));
        // Both, neither, or only a part of the phrase: no evidence either way.
        assert!(!n.heard_in(&heard("soy milk or oat milk")));
        assert!(!n.heard_in(&heard("a large latte with milk")));
        assert!(!n.heard_in(&heard("with soy")));
        assert!(!n.heard_in(&[]));
        // A neighbour without words on either side is never heard (and
        // looking for no words must not panic).
        let empty = Neighbour {
            said: vec![],
            instead: vec![],
            ..n.clone()
        };
        assert!(!empty.heard_in(&heard("soy milk")));
        let from_nothing = Neighbour {
            said: vec![],
            ..n.clone()
        };
        assert!(from_nothing.heard_in(&heard("with soy milk")));
    }
}
