//! Whether two English words sound alike, by their pronunciations.
//!
//! An open-vocabulary recogniser writes what it heard as words it knows, and
//! short function words come out as their neighbours in sound: Moonshine
//! writes "and coffee filters to my shopping list" for "add coffee filters …"
//! and "but cat food on my list" for "put cat food …". By spelling those are
//! different words; by sound they are a phone apart. [`Pronunciations`]
//! compares words by their CMU dictionary phones (the dictionary PocketSphinx
//! decodes with), so that aligning a transcript to the grammar
//! ([`super::walk::Walker::align_with`]) may swap a word only for one that
//! sounds like it.
//!
//! The distance is a weighted edit distance over phones: a phone swapped for
//! one of its own class (a vowel for a vowel, /p/ for /b/, /n/ for /m/) costs
//! half as much as any other edit. Words sound alike when the cheapest
//! distance over their dictionary variants is at most [`ALIKE`] of the longer
//! pronunciation. When the dictionary lacks either word, the two are compared
//! by their letters the same way (vowel letters as one class).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Words sound alike at most this distance per phone of the longer word
/// ("and" /AE N D/ and "add" /AE D/: one deletion in three phones).
pub const ALIKE: f32 = 0.4;

/// Phone (or letter) classes: a swap within a class costs half.
const CLASSES: &[&[&str]] = &[
    &[
        "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
    ],
    &["P", "B", "T", "D", "K", "G"],
    &["CH", "JH", "SH", "ZH"],
    &["F", "V", "TH", "DH", "S", "Z", "HH"],
    &["M", "N", "NG"],
    &["L", "R", "W", "Y"],
];

/// One phone or letter: its symbol's index and its class (`u8::MAX`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sound {
    id: u16,
    class: u8,
}

/// A pronunciation dictionary, word → its variants' phones.
#[derive(Debug, Default)]
pub struct Pronunciations {
    words: HashMap<String, Vec<Vec<Sound>>>,
    symbols: HashMap<String, u16>,
}

impl Pronunciations {
    /// Reads a CMU-format dictionary (`word PH PH …`, variants as `word(2)`).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses a CMU-format dictionary; lines that are not `word phones…` are skipped.
    pub fn parse(text: &str) -> Self {
        let mut p = Pronunciations::default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(word), Some(first)) = (parts.next(), parts.next()) else {
                continue;
            };
            let word = word.split('(').next().unwrap_or(word).to_lowercase();
            let phones = std::iter::once(first)
                .chain(parts)
                .map(|ph| p.sound(ph.trim_end_matches(|c: char| c.is_ascii_digit())))
                .collect();
            p.words.entry(word).or_default().push(phones);
        }
        p
    }

    /// Number of words (variants counted once).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the dictionary is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn sound(&mut self, symbol: &str) -> Sound {
        let next = self.symbols.len() as u16;
        let id = *self.symbols.entry(symbol.to_owned()).or_insert(next);
        let class = CLASSES
            .iter()
            .position(|c| c.contains(&symbol))
            .map_or(u8::MAX, |i| i as u8);
        Sound { id, class }
    }

    /// The word's pronunciations, if the dictionary has it. Called for every
    /// swap an alignment tries: the entries are borrowed, and a lower-case
    /// word is looked up as it is.
    fn phones(&self, word: &str) -> Option<&[Vec<Sound>]> {
        if word.chars().any(char::is_uppercase) {
            self.words.get(&word.to_lowercase())
        } else {
            self.words.get(word)
        }
        .map(Vec::as_slice)
    }

    /// Whether `a` and `b` sound alike (see the module doc); equal words always do.
    pub fn sound_alike(&self, a: &str, b: &str) -> bool {
        a.eq_ignore_ascii_case(b) || self.per_phone(a, b) <= ALIKE
    }

    /// The word of `vocabulary` that sounds most like `word`, if any sounds
    /// alike (the first of equally near ones); `word` itself when it is there.
    pub fn nearest<'v>(
        &self,
        word: &str,
        vocabulary: impl IntoIterator<Item = &'v str>,
    ) -> Option<&'v str> {
        let mut best: Option<(f32, &str)> = None;
        for v in vocabulary {
            if v.eq_ignore_ascii_case(word) {
                return Some(v);
            }
            let d = self.per_phone(v, word);
            if d <= ALIKE && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, v));
            }
        }
        best.map(|(_, v)| v)
    }

    /// The cheapest distance over the two words' variants, per phone of the
    /// longer one. When the dictionary lacks either word, both are compared
    /// by their letters: a pronunciation and a spelling share no symbol, so
    /// "maca" (not in the dictionary) would be as far from "mocha" as from
    /// "whole", while by letters it is a vowel and an "h" away.
    fn per_phone(&self, a: &str, b: &str) -> f32 {
        let (sa, sb) = match (self.phones(a), self.phones(b)) {
            (Some(x), Some(y)) => (Cow::Borrowed(x), Cow::Borrowed(y)),
            _ => (Cow::Owned(vec![letters(a)]), Cow::Owned(vec![letters(b)])),
        };
        sa.iter()
            .flat_map(|x| {
                sb.iter().map(move |y| {
                    let longest = x.len().max(y.len()).max(1) as f32;
                    distance(x, y) / longest
                })
            })
            .fold(f32::INFINITY, f32::min)
    }
}

/// A word's lower-case letters as sounds, the vowel letters (and "y") one class.
fn letters(word: &str) -> Vec<Sound> {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| Sound {
            // Letters live above every phone symbol.
            id: 0x8000 | (c as u32 & 0x7fff) as u16,
            class: if "aeiouy".contains(c) { 0 } else { u8::MAX },
        })
        .collect()
}

/// Weighted edit distance: insertions and deletions 1, a swap 1 (0.5 within a class).
fn distance(a: &[Sound], b: &[Sound]) -> f32 {
    let mut prev: Vec<f32> = (0..=b.len()).map(|j| j as f32).collect();
    let mut cur = vec![0.0f32; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = (i + 1) as f32;
        for (j, y) in b.iter().enumerate() {
            let swap = if x.id == y.id {
                0.0
            } else if x.class != u8::MAX && x.class == y.class {
                0.5
            } else {
                1.0
            };
            cur[j + 1] = (prev[j] + swap).min(prev[j + 1] + 1.0).min(cur[j] + 1.0);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DICT: &str = "add AE D\nand AH N D\nand(2) AE N D\nbut B AH T\nput P UH T\n\
        tell T EH L\nset S EH T\nannounce AH N AW N S\nto T UW\ntwo T UW\nlist L IH S T\n";

    #[test]
    fn words_a_phone_apart_sound_alike() {
        let p = Pronunciations::parse(DICT);
        assert_eq!(p.len(), 10);
        assert!(p.sound_alike("and", "add"), "one deletion in three phones");
        assert!(
            p.sound_alike("But", "put"),
            "two swaps within their classes"
        );
        assert!(p.sound_alike("to", "two"), "homophones");
        assert!(p.sound_alike("list", "list"));
    }

    #[test]
    fn the_nearest_word_of_a_vocabulary_is_the_one_that_sounds_most_alike() {
        let p = Pronunciations::parse(DICT);
        let vocabulary = ["tell", "add", "and", "list"];
        assert_eq!(p.nearest("and", vocabulary), Some("and"), "itself first");
        assert_eq!(
            p.nearest("lattes", ["mocha", "latte"]),
            Some("latte"),
            "by letters"
        );
        assert_eq!(p.nearest("but", ["put", "and"]), Some("put"));
        assert_eq!(
            p.nearest("lattes", ["lattesss", "latte"]),
            Some("latte"),
            "the nearer of two alike, not the first"
        );
        assert_eq!(p.nearest("announce", vocabulary), None);
        assert_eq!(p.nearest("add", []), None);
    }

    #[test]
    fn different_words_do_not() {
        let p = Pronunciations::parse(DICT);
        assert!(!p.sound_alike("tell", "set"));
        assert!(!p.sound_alike("tell", "announce"));
        assert!(!p.sound_alike("list", "add"));
    }

    #[test]
    fn words_outside_the_dictionary_are_compared_by_letters() {
        let p = Pronunciations::parse(DICT);
        assert!(p.sound_alike("moonshine", "moonshines"));
        assert!(!p.sound_alike("moonshine", "espresso"));
        assert!(!p.sound_alike("add", "xyz"));
        // An empty dictionary still compares letters.
        let empty = Pronunciations::default();
        assert!(empty.sound_alike("latte", "lattes") && !empty.sound_alike("latte", "mocha"));
    }

    #[test]
    fn a_word_outside_the_dictionary_is_compared_with_a_dictionary_word_by_letters() {
        // Moonshine writes "maca" and "maritano" for "mocha" and "americano":
        // their letters, not phones, are all there is to compare.
        let p = Pronunciations::parse(
            "mocha M OW K AH\nwhole HH OW L\namericano AH M EH R IH K AA N OW\nlatte L AA T EY\n",
        );
        assert_eq!(p.nearest("maca", ["whole", "mocha"]), Some("mocha"));
        assert_eq!(
            p.nearest("Maritano", ["latte", "americano"]),
            Some("americano")
        );
        assert!(p.sound_alike("mocha", "maca") && p.sound_alike("maca", "mocha"));
        assert_eq!(p.nearest("xylophone", ["whole", "mocha", "latte"]), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let p = Pronunciations::parse("lonely\n\n  \nok OW K EY\n");
        assert_eq!(p.len(), 1);
    }
}
