//! The pre-filter: which templates can match a sentence, decided from the
//! literal text every match of a template contains, before the matcher runs.
//!
//! Every template compiles into *clauses*, each a set of literals of which
//! every match has at least one (see [`crate::program::required_clauses`] and
//! [`crate::program::edge_literals`]), of three kinds:
//! - *contains*: the sentence contains the literal (`lights` in `turn on the
//!   lights`, one of `all`/`every` for `(all|every) lights`);
//! - *starts*: the sentence starts with the literal (`turn`);
//! - *ends*: the sentence ends with it (`lights`).
//!
//! A template is a candidate when each of its clauses has a literal in the
//! sentence. One pass finds the literals present: Aho-Corasick over the
//! sentence's characters ([`crate::literals::CharDfa`]), where a *starts*
//! literal is the literal after a start marker and an *ends* literal the
//! literal before an end marker, the markers fed before the first character
//! and (looked at without being taken) after the last one. Templates are then reached from the literals found, through one
//! *anchor* clause per template — the one whose literals the fewest templates
//! use, so a literal that hundreds of templates contain ("the", Welsh "y",
//! "de") doesn't touch all of them for every sentence — and only those reached
//! check their other clauses.

use std::collections::HashMap;

use crate::literals::{Alphabet, CharDfa};
use crate::text::Input;

/// The kind of a clause (what "has this literal" means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Anywhere in the sentence.
    Contains,
    /// At the start of the sentence.
    Starts,
    /// At the end (before trailing hyphens and underscores, which a word gap may take).
    Ends,
}

/// One template's clauses, as [`Prefilter::build`] takes them.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateClauses {
    pub clauses: Vec<(Kind, Vec<String>)>,
}

/// Stands for the start of the sentence in *starts* literals (`"\u{2}turn"`).
const START: char = '\u{2}';
/// Stands for the end of the sentence in *ends* literals (`"lights\u{3}"`).
const END: char = '\u{3}';

/// The compiled pre-filter of an engine's templates.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefilter {
    /// The characters of all literals.
    alphabet: Alphabet,
    /// All literals, pattern `i` being literal id `i`: *contains* literals
    /// as they are, *starts* ones after [`START`], *ends* ones before [`END`].
    literal_dfa: CharDfa,
    literals: usize,
    /// Per literal id: the templates whose anchor clause lists it.
    triggers: Vec<Box<[u32]>>,
    /// Per template: its clauses, the anchor first, each its literal ids.
    /// (Slices of their own rather than ranges of shared arrays: reading
    /// one is one bounds check, not four.)
    clauses: Vec<Box<[Box<[u32]>]>>,
    /// Templates without clauses (always candidates).
    always: Vec<u32>,
}

/// A sentence's pre-filter buffers, reused across sentences (and engines:
/// the stamps only grow).
#[derive(Debug, Default)]
pub(crate) struct PrefilterBufs {
    /// The call's number; a literal or template is marked by writing it.
    generation: u32,
    literal_seen: Vec<u32>,
    template_seen: Vec<u32>,
    /// Literal ids found in this sentence, in order.
    found: Vec<u32>,
    /// The automaton's transitions into states that end literals.
    matched: Vec<u32>,
}

impl Prefilter {
    /// Compiles the templates' clauses (template `i` is `templates[i]`).
    pub fn build(templates: &[TemplateClauses]) -> Prefilter {
        let mut ids: HashMap<(Kind, &str), u32> = HashMap::new();
        let mut contains: Vec<&str> = vec![];
        let mut anchored: Vec<(Kind, &str)> = vec![];
        // Literal ids: contains first (the automaton's pattern ids), then anchored.
        for t in templates {
            for (kind, lits) in &t.clauses {
                for l in lits {
                    if *kind == Kind::Contains && !ids.contains_key(&(*kind, l.as_str())) {
                        ids.insert((*kind, l), contains.len() as u32);
                        contains.push(l);
                    }
                }
            }
        }
        for t in templates {
            for (kind, lits) in &t.clauses {
                for l in lits {
                    if *kind != Kind::Contains && !ids.contains_key(&(*kind, l.as_str())) {
                        ids.insert((*kind, l), (contains.len() + anchored.len()) as u32);
                        anchored.push((*kind, l));
                    }
                }
            }
        }
        let literals = contains.len() + anchored.len();
        let patterns: Vec<String> = contains
            .iter()
            .map(|l| l.to_string())
            .chain(anchored.iter().map(|(kind, l)| match kind {
                Kind::Starts => format!("{START}{l}"),
                _ => format!("{l}{END}"),
            }))
            .collect();
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let alphabet = Alphabet::new(patterns.iter().copied().chain([
            START.encode_utf8(&mut [0; 4]) as &str,
            END.encode_utf8(&mut [0; 4]),
        ]));
        let mut filter = Prefilter {
            literal_dfa: CharDfa::build(&alphabet, &patterns),
            literals,
            ..Prefilter::default()
        };
        filter.alphabet = alphabet;
        // How many templates use each literal: the anchor is the clause
        // whose literals are used least (summed over its literals, squared,
        // so one common literal outweighs several rare ones).
        let mut users = vec![0u64; literals];
        let lit_ids = |kind: Kind, lits: &[String]| -> Vec<u32> {
            let mut v: Vec<u32> = lits.iter().map(|l| ids[&(kind, l.as_str())]).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let compiled: Vec<Vec<Vec<u32>>> = templates
            .iter()
            .map(|t| {
                let mut clauses: Vec<Vec<u32>> =
                    t.clauses.iter().map(|(k, l)| lit_ids(*k, l)).collect();
                clauses.sort();
                clauses.dedup();
                clauses
            })
            .collect();
        for clauses in &compiled {
            for c in clauses {
                for &l in c {
                    users[l as usize] += 1;
                }
            }
        }
        let mut triggered: Vec<Vec<u32>> = vec![vec![]; literals];
        for (ti, clauses) in compiled.iter().enumerate() {
            // Rarest first: the first is the anchor (a sentence reaches the
            // template only through it, so it is not checked again), and the
            // others are checked in this order, the likeliest to fail first.
            let mut clauses: Vec<&Vec<u32>> = clauses.iter().collect();
            clauses.sort_by_key(|c| c.iter().map(|&l| users[l as usize].pow(2)).sum::<u64>());
            let anchor = clauses.first().copied();
            match anchor {
                None => filter.always.push(ti as u32),
                Some(anchor) => {
                    for &l in anchor {
                        triggered[l as usize].push(ti as u32);
                    }
                }
            }
            filter
                .clauses
                .push(clauses.iter().map(|c| c.as_slice().into()).collect());
        }
        filter.triggers = triggered.into_iter().map(Vec::into_boxed_slice).collect();
        filter
    }

    /// The candidate templates of `input`, in template order, into `out`.
    pub fn candidates(&self, input: &Input, bufs: &mut PrefilterBufs, out: &mut Vec<u32>) {
        out.clear();
        bufs.generation = bufs.generation.wrapping_add(1);
        if bufs.generation == 0 {
            bufs.literal_seen.fill(0);
            bufs.template_seen.fill(0);
            bufs.generation = 1;
        }
        let generation = bufs.generation;
        if bufs.literal_seen.len() < self.literals {
            bufs.literal_seen.resize(self.literals, 0);
        }
        let templates = self.clauses.len();
        if bufs.template_seen.len() < templates {
            bufs.template_seen.resize(templates, 0);
        }
        let PrefilterBufs {
            literal_seen,
            template_seen,
            found,
            matched,
            ..
        } = bufs;
        found.clear();
        let mut mark = |id: u32| {
            let seen = &mut literal_seen[id as usize];
            if *seen != generation {
                *seen = generation;
                found.push(id);
            }
        };
        let low = &input.low;
        // The end, without trailing whitespace, hyphens and underscores.
        let end = low
            .iter()
            .rposition(|&c| !(c == ' ' || c == '-' || c == '_'))
            .map_or(0, |i| i + 1);
        self.literal_dfa
            .walk_anchored(&self.alphabet, (START, END), low, end, matched, &mut mark);
        for &lit in found.iter() {
            for &t in self.triggers[lit as usize].iter() {
                let seen = &mut template_seen[t as usize];
                if *seen == generation {
                    continue;
                }
                *seen = generation;
                // The anchor (the first clause) has the literal that led here.
                let all = self.clauses[t as usize].iter().skip(1).all(|clause| {
                    clause
                        .iter()
                        .any(|&l| literal_seen[l as usize] == generation)
                });
                if all {
                    out.push(t);
                }
            }
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::SkipWords;

    fn clauses(list: &[(Kind, &[&str])]) -> TemplateClauses {
        TemplateClauses {
            clauses: list
                .iter()
                .map(|(k, l)| (*k, l.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    fn candidates(filter: &Prefilter, text: &str) -> Vec<u32> {
        let input = Input::new(text, &SkipWords::default());
        let mut out = vec![];
        filter.candidates(&input, &mut PrefilterBufs::default(), &mut out);
        out
    }

    #[test]
    fn every_clause_needs_one_of_its_literals() {
        use Kind::*;
        let filter = Prefilter::build(&[
            // turn on (all|every) lights
            clauses(&[
                (Starts, &["turn"]),
                (Contains, &["on"]),
                (Contains, &["all", "every"]),
                (Ends, &["lights"]),
            ]),
            // {name} on
            clauses(&[(Ends, &["on"])]),
            // {anything}
            clauses(&[]),
            // the (kitchen|hall) fan
            clauses(&[(Contains, &["the"]), (Contains, &["kitchen", "hall"])]),
        ]);
        assert_eq!(candidates(&filter, "turn on every lights"), [0, 2]);
        assert_eq!(candidates(&filter, "turn on the lights"), [2]);
        assert_eq!(candidates(&filter, "lights turn on"), [1, 2]);
        assert_eq!(candidates(&filter, "turn all lights on"), [1, 2]);
        assert_eq!(candidates(&filter, "the hall fan"), [2, 3]);
        // Trailing hyphens don't hide the end.
        assert_eq!(candidates(&filter, "kitchen on-"), [1, 2]);
        // Buffers reused by the next sentence forget the last one.
        let mut bufs = PrefilterBufs::default();
        let mut out = vec![];
        for (text, want) in [
            ("turn on every lights", vec![0, 2]),
            ("the kitchen", vec![2, 3]),
            ("hall", vec![2]),
        ] {
            let input = Input::new(text, &SkipWords::default());
            filter.candidates(&input, &mut bufs, &mut out);
            assert_eq!(out, want, "{text}");
        }
    }
}
