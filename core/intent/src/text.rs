//! Input text normalisation as hassil does it: punctuation at word edges
//! removed, whitespace collapsed, Unicode NFC, skip words dropped, and a
//! lower-case shadow of the text for case-insensitive matching.

use unicode_normalization::UnicodeNormalization;

use crate::literals::{Alphabet, CharDfa};

/// Characters hassil strips at word edges: `.。,，?¿？؟!¡！;；:：’`.
fn is_punct(c: char) -> bool {
    matches!(
        c,
        '.' | '。'
            | ','
            | '，'
            | '?'
            | '¿'
            | '？'
            | '؟'
            | '!'
            | '¡'
            | '！'
            | ';'
            | '；'
            | ':'
            | '：'
            | '’'
    )
}

/// Python's `\w`: letters, digits, underscore.
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Removes punctuation at the start and end of the text and at word edges,
/// keeping it inside words ("1.5", "12:30").
pub fn remove_punctuation(text: &str) -> String {
    if !text.chars().any(is_punct) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let keep_final = is_initialism(&chars);
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_punct(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_punct(chars[i]) {
            i += 1;
        }
        let at_start = start == 0;
        let at_end = i == chars.len();
        let prev_word = start > 0 && is_word(chars[start - 1]);
        let next_word = i < chars.len() && is_word(chars[i]);
        let remove = if at_start {
            true
        } else if at_end {
            !keep_final
        } else {
            !(prev_word && next_word)
        };
        if !remove {
            out.extend(&chars[start..i]);
        }
    }
    out
}

/// "A.C." style text whose final dot hassil keeps.
fn is_initialism(chars: &[char]) -> bool {
    chars.len() >= 4
        && chars.len().is_multiple_of(2)
        && chars.chunks(2).all(|p| is_word(p[0]) && p[1] == '.')
}

/// Collapses whitespace runs to one space, applies NFC and trims.
pub fn normalize_whitespace(text: &str) -> String {
    // Already normal: ASCII with single spaces between words.
    let b = text.as_bytes();
    if text.is_ascii()
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && !b.windows(2).any(|w| w == b"  ")
        && !b.iter().any(|&c| c != b' ' && c.is_ascii_whitespace())
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    if text.is_ascii()
        || unicode_normalization::is_nfc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        collapse_whitespace(text.chars(), &mut out);
    } else {
        collapse_whitespace(text.nfc(), &mut out);
    }
    out
}

fn collapse_whitespace(chars: impl Iterator<Item = char>, out: &mut String) {
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
}

/// Lower-cases one character (keeping it when the lower case is longer).
pub fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Skip words, longest first, lower-cased.
#[derive(Debug, Clone, Default)]
pub struct SkipWords {
    words: Vec<Vec<char>>,
    /// Remove the words wherever they occur, not only as whole words (hassil
    /// does so for languages with `settings.ignore_whitespace`).
    anywhere: bool,
    /// The same words as strings.
    strings: Vec<String>,
    /// The words as an automaton over the input's characters, for the quick
    /// "any of them here?" check every sentence makes (one pass for all
    /// words; a substring search per word cost ~230 instructions each).
    alphabet: Alphabet,
    finder: CharDfa,
}

impl SkipWords {
    /// Builds the set from the YAML `skip_words`.
    pub fn new<I: IntoIterator<Item = String>>(words: I) -> Self {
        let mut words: Vec<Vec<char>> = words
            .into_iter()
            .map(|w| w.trim().chars().map(lower).collect::<Vec<char>>())
            .filter(|w| !w.is_empty())
            .collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.dedup();
        let strings: Vec<String> = words.iter().map(|w| w.iter().collect()).collect();
        let alphabet = Alphabet::new(strings.iter().map(String::as_str));
        let literals: Vec<&str> = strings.iter().map(String::as_str).collect();
        let finder = CharDfa::build(&alphabet, &literals);
        Self {
            words,
            strings,
            anywhere: false,
            alphabet,
            finder,
        }
    }

    /// The same words, removed wherever they occur (for languages without
    /// spaces between words, where hassil has no word boundary to look for).
    pub fn anywhere(mut self) -> Self {
        self.anywhere = true;
        self
    }

    /// Removes skip words that stand between non-word characters (`text` is
    /// whitespace-normalised, as [`normalize_whitespace`] leaves it).
    pub fn remove(&self, text: &str) -> String {
        if self.words.is_empty() {
            return text.to_string();
        }
        // Most sentences hold no skip word at all: check that before the
        // character-by-character pass.
        let low_text: String = text.chars().map(lower).collect();
        if !self.strings.iter().any(|w| low_text.contains(w.as_str())) {
            return text.to_string();
        }
        if self.anywhere {
            // As hassil's `re.sub("(w1|w2|…)", "", text)`, longest word first.
            let chars: Vec<char> = text.chars().collect();
            let low: Vec<char> = low_text.chars().collect();
            let mut out = String::with_capacity(text.len());
            let mut i = 0;
            while i < chars.len() {
                if let Some(w) = self.words.iter().find(|w| low[i..].starts_with(w)) {
                    i += w.len();
                    continue;
                }
                out.push(chars[i]);
                i += 1;
            }
            return normalize_whitespace(&out);
        }
        let padded: Vec<char> = format!(" {text} ").chars().collect();
        let low: Vec<char> = padded.iter().map(|&c| lower(c)).collect();
        let mut out = String::with_capacity(text.len() + 2);
        let mut removed = false;
        let mut i = 0;
        while i < padded.len() {
            if i > 0
                && !is_word(padded[i - 1])
                && let Some(w) = self.words.iter().find(|w| {
                    low[i..].starts_with(w) && padded.get(i + w.len()).is_some_and(|&c| !is_word(c))
                })
            {
                out.push(' ');
                i += w.len();
                removed = true;
                continue;
            }
            out.push(padded[i]);
            i += 1;
        }
        if removed {
            normalize_whitespace(&out)
        } else {
            text.to_string()
        }
    }
}

/// Lower-casing leaves the character as it is.
const LOWER_SAME: u8 = 1;
/// NFC quick check "yes" and canonical combining class 0: a run of such
/// characters is already NFC.
const NFC_SAFE: u8 = 2;
const PUNCT: u8 = 4;
const SPACE: u8 = 8;
/// NFC quick check "maybe" with canonical combining class 0 (Indic vowel
/// signs, Hangul vowels): NFC unless it composes with the character before it.
const NFC_MAYBE_STARTER: u8 = 16;
/// NFC quick check "yes" with a non-zero combining class (viramas, nuktas):
/// NFC while the classes of consecutive marks don't decrease.
const NFC_YES_MARK: u8 = 32;
/// The common case in one test: lower case already, NFC-safe, neither
/// punctuation nor whitespace (the character is copied as it is).
const PLAIN: u8 = 64;

/// The NFC flags of `c` (none when it needs the full normalisation).
fn nfc_flags(c: char) -> u8 {
    use unicode_normalization::IsNormalized;
    if (c as u32) < 0x300 {
        return NFC_SAFE;
    }
    let starter = unicode_normalization::char::canonical_combining_class(c) == 0;
    match (
        unicode_normalization::is_nfc_quick(std::iter::once(c)),
        starter,
    ) {
        (IsNormalized::Yes, true) => NFC_SAFE,
        (IsNormalized::Yes, false) => NFC_YES_MARK,
        (IsNormalized::Maybe, true) => NFC_MAYBE_STARTER,
        _ => 0,
    }
}

/// Per-character flags of the Basic Multilingual Plane, computed once, so
/// that normalising a sentence needs no Unicode table searches for the
/// characters almost every sentence consists of.
/// (A fixed-size array: looking a character up is one comparison with a
/// constant, not with a length kept in memory.)
fn char_flags() -> &'static FlagTable {
    static TABLE: std::sync::OnceLock<Box<FlagTable>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0u8; BMP]);
        for (u, f) in (0u32..).zip(table.iter_mut()) {
            *f = char::from_u32(u).map_or(0, compute_flags);
        }
        table
    })
}

/// Characters of the Basic Multilingual Plane.
const BMP: usize = 0x1_0000;

/// Flags of every character of the BMP.
type FlagTable = [u8; BMP];

/// The flags of `c`, computed (the table holds them for the BMP).
fn compute_flags(c: char) -> u8 {
    let mut f = 0;
    if lower(c) == c {
        f |= LOWER_SAME;
    }
    f |= nfc_flags(c);
    if is_punct(c) {
        f |= PUNCT;
    }
    if c.is_whitespace() {
        f |= SPACE;
    }
    if f & (LOWER_SAME | NFC_SAFE) == LOWER_SAME | NFC_SAFE && f & (PUNCT | SPACE) == 0 {
        f |= PLAIN;
    }
    f
}

/// Builds the character table ahead of the first sentence (engines call it
/// when they are compiled, so recognition never pays for it).
pub fn warm_up() {
    char_flags();
}

/// The flags of `c` (computed on the spot outside the BMP).
#[inline]
fn flags(table: &FlagTable, c: char) -> u8 {
    match table.get(c as usize) {
        Some(&f) => f,
        None => compute_flags(c),
    }
}

/// A sentence ready for matching: its lower-cased characters, and where the
/// original (for slot text) differs from them.
///
/// Its only whitespace is single spaces (`' '`) between words: filling
/// collapses every whitespace run, whatever its characters, to one space and
/// trims the ends, so the matcher tests `== ' '` instead of the Unicode
/// whitespace property (a table search for every non-ASCII character).
///
/// The original characters are the lower-case ones except at the positions
/// listed in `cased` (upper-case letters, mostly few): filling writes one
/// character per position instead of two, and slot text is rebuilt from
/// `low` with those put back.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Lower-cased characters (after normalisation).
    pub low: Vec<char>,
    /// `(position, original character)` where the original differs from
    /// `low`, by position.
    cased: Vec<(u32, char)>,
    /// Characters of `low` that are not whitespace (counted while filling).
    non_space: usize,
}

impl Input {
    /// Normalises `text` the way hassil's `recognize_all` does.
    pub fn new(text: &str, skip: &SkipWords) -> Self {
        let mut input = Self::default();
        input.fill(text, skip);
        input
    }

    /// [`Input::new`] into this input's buffers (reused across sentences).
    pub fn fill(&mut self, text: &str, skip: &SkipWords) {
        // One pass for what nearly every sentence is: no punctuation and
        // already NFC; whitespace is collapsed and trimmed on the way.
        if !self.fill_plain(text) {
            let text = if text.chars().any(is_punct) {
                normalize_whitespace(&remove_punctuation(text))
            } else {
                normalize_whitespace(text)
            };
            self.fill_normalised(&text);
        }
        // Most sentences hold no skip word: look for one in the lower-case
        // text before removing any.
        if !skip.words.is_empty() && skip.finder.any(&skip.alphabet, &self.low) {
            let text = self.orig_string();
            self.fill_normalised(&skip.remove(&text));
        }
        debug_assert!(
            self.low.iter().all(|&c| c == ' ' || !c.is_whitespace())
                && self.low.first() != Some(&' ')
                && self.low.last() != Some(&' ')
                && !self.low.windows(2).any(|w| w == [' ', ' ']),
            "whitespace is single spaces between words"
        );
    }

    /// Fills the buffers from text without punctuation whose characters are
    /// all NFC-safe; false (buffers undefined) when the text needs the full
    /// normalisation.
    fn fill_plain(&mut self, text: &str) -> bool {
        self.low.clear();
        self.cased.clear();
        self.non_space = 0;
        self.low.reserve(text.len());
        let table = char_flags();
        if text.is_ascii() {
            return self.fill_ascii(text, table);
        }
        let mut prev = ' ';
        let mut last_class = 0;
        // Spaces written: one for each whitespace run after a word (one at
        // the end is taken back below).
        let mut spaces = 0;
        for c in text.chars() {
            let f = flags(table, c);
            if f & PLAIN != 0 {
                // What the checks below do for such a character, in one test.
                last_class = 0;
                prev = c;
                self.low.push(c);
                continue;
            }
            if f & PUNCT != 0 {
                return false;
            }
            // The text so far is NFC (hassil's quick check would say "yes").
            // A mark keeps it so when marks stay in canonical order; a
            // "maybe" starter, when it doesn't compose with the character
            // before it (the only one it could compose with).
            if f & NFC_YES_MARK != 0 {
                let class = unicode_normalization::char::canonical_combining_class(c);
                if class < last_class {
                    return false;
                }
                last_class = class;
            } else if f & NFC_SAFE != 0
                || (f & NFC_MAYBE_STARTER != 0
                    && unicode_normalization::char::compose(prev, c).is_none())
            {
                last_class = 0;
            } else {
                return false;
            }
            prev = c;
            if f & SPACE != 0 {
                if self.low.last().is_some_and(|&l| l != ' ') {
                    self.low.push(' ');
                    spaces += 1;
                }
                continue;
            }
            let l = if f & LOWER_SAME != 0 { c } else { lower(c) };
            if l != c {
                self.cased.push((self.low.len() as u32, c));
            }
            self.low.push(l);
        }
        if self.low.last() == Some(&' ') {
            self.low.pop();
            spaces -= 1;
        }
        self.non_space = self.low.len() - spaces;
        true
    }

    /// [`Input::fill_plain`] for ASCII text: byte by byte, every character
    /// NFC-safe, flags from the table's first 128 entries.
    fn fill_ascii(&mut self, text: &str, table: &FlagTable) -> bool {
        let ascii: &[u8; 128] = table[..128].try_into().expect("the table covers ASCII");
        let mut spaces = 0;
        for &b in text.as_bytes() {
            let f = ascii[usize::from(b & 0x7f)];
            if f & PLAIN != 0 {
                self.low.push(char::from(b));
                continue;
            }
            if f & PUNCT != 0 {
                return false;
            }
            if f & SPACE != 0 {
                if self.low.last().is_some_and(|&l| l != ' ') {
                    self.low.push(' ');
                    spaces += 1;
                }
                continue;
            }
            let l = b.to_ascii_lowercase();
            if l != b {
                self.cased.push((self.low.len() as u32, char::from(b)));
            }
            self.low.push(char::from(l));
        }
        if self.low.last() == Some(&' ') {
            self.low.pop();
            spaces -= 1;
        }
        self.non_space = self.low.len() - spaces;
        true
    }

    /// Fills the buffers from already normalised text.
    fn fill_normalised(&mut self, text: &str) {
        self.low.clear();
        self.cased.clear();
        for c in text.chars() {
            let l = lower(c);
            if l != c {
                self.cased.push((self.low.len() as u32, c));
            }
            self.low.push(l);
        }
        self.non_space = self.low.iter().filter(|&&c| c != ' ').count();
    }

    /// The number of characters that are not whitespace (what a match's
    /// confidence divides wildcard characters by), counted while filling.
    pub fn non_space_len(&self) -> usize {
        self.non_space
    }

    /// The original (normalised, not lower-cased) text.
    pub fn orig_string(&self) -> String {
        self.orig_range(0, self.low.len())
    }

    /// The original text between two character offsets.
    fn orig_range(&self, start: usize, end: usize) -> String {
        let chars = &self.low[start..end];
        let first = self.cased.partition_point(|&(p, _)| (p as usize) < start);
        let cased = self.cased[first..]
            .iter()
            .take_while(|&&(p, _)| (p as usize) < end);
        // ASCII text (most slot values in Latin script) as bytes: a
        // narrowing copy instead of encoding character by character.
        let high = chars.iter().fold(0, |acc, &c| acc | c as u32);
        if high < 0x80 && cased.clone().all(|(_, c)| c.is_ascii()) {
            let mut bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
            for &(p, c) in cased {
                bytes[p as usize - start] = c as u8;
            }
            return String::from_utf8(bytes).expect("ASCII is UTF-8");
        }
        let mut out = String::with_capacity(chars.iter().map(|c| c.len_utf8()).sum());
        let mut from = start;
        for &(p, c) in cased {
            out.extend(&self.low[from..p as usize]);
            out.push(c);
            from = p as usize + 1;
        }
        out.extend(&self.low[from..end]);
        out
    }

    /// The original text between two character offsets, trimmed.
    pub fn slice(&self, start: usize, end: usize) -> String {
        let (start, end) = self.trimmed(start, end);
        self.orig_range(start, end)
    }

    /// The number of characters of [`Input::slice`].
    pub fn trimmed_len(&self, start: usize, end: usize) -> usize {
        let (start, end) = self.trimmed(start, end);
        end - start
    }

    /// `start..end` without the spaces at its ends.
    fn trimmed(&self, mut start: usize, mut end: usize) -> (usize, usize) {
        while start < end && self.low[start] == ' ' {
            start += 1;
        }
        while end > start && self.low[end - 1] == ' ' {
            end -= 1;
        }
        (start, end)
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.low.len()
    }

    /// True for empty input.
    pub fn is_empty(&self) -> bool {
        self.low.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_like_hassil() {
        assert_eq!(remove_punctuation("what's the time?"), "what's the time");
        assert_eq!(remove_punctuation("¿qué hora es?"), "qué hora es");
        assert_eq!(
            remove_punctuation("set it to 1.5, please!"),
            "set it to 1.5 please"
        );
        assert_eq!(remove_punctuation("at 12:30."), "at 12:30");
    }

    #[test]
    fn skip_words_only_whole_words() {
        let skip = SkipWords::new(["please".to_string(), "can you".to_string()]);
        assert_eq!(
            skip.remove("Can you turn on the light please"),
            "turn on the light"
        );
        assert_eq!(skip.remove("pleased to meet you"), "pleased to meet you");
    }

    #[test]
    fn skip_words_anywhere_without_spaces() {
        // zh-TW: "幫我" is a skip word; hassil removes it inside "幫我的…" too.
        let skip = SkipWords::new(["幫我".to_string(), "請".to_string()]).anywhere();
        assert_eq!(skip.remove("幫我的25分鐘的計時器"), "的25分鐘的計時器");
        assert_eq!(skip.remove("請關燈"), "關燈");
        let whole = SkipWords::new(["幫我".to_string()]);
        assert_eq!(whole.remove("幫我的25分鐘的計時器"), "幫我的25分鐘的計時器");
    }

    #[test]
    fn input_keeps_case_for_slots() {
        let input = Input::new("  Play  The Office! ", &SkipWords::default());
        assert_eq!(input.low.iter().collect::<String>(), "play the office");
        assert_eq!(input.slice(5, 15), "The Office");
    }

    /// The one-pass normalisation gives what the full one (punctuation,
    /// whitespace, NFC) gives, on text that needs NFC and text that only looks
    /// like it might.
    #[test]
    fn one_pass_normalisation_agrees_with_the_full_one() {
        let full = |text: &str| {
            let orig = normalize_whitespace(&remove_punctuation(text));
            let low: String = orig.chars().map(lower).collect();
            (orig, low)
        };
        for text in [
            "turn on the Kitchen light",
            "  Завтра  включи\tсвет ",
            // Kannada: viramas (combining class 9) and a "maybe" vowel sign.
            "ಫ್ಯಾನ್\u{200c}ಗಳು ಆಫ್ ಮಾಡು ಕೂಡು",
            // e + combining acute composes to é.
            "cafe\u{301} ouvert",
            // Marks out of canonical order (230 before 220) are reordered.
            "a\u{301}\u{316} b",
            // Hangul jamo L + V compose to a syllable; a syllable stays.
            "\u{1100}\u{1161} 불 켜",
            // Kannada o (e + uu vowel signs) composes.
            "\u{0c95}\u{0cc6}\u{0cc2}",
            // An en quad is whitespace whose NFC is a plain space.
            "two\u{2000}words",
            "what's the time?",
            // Upper case copied around, whitespace collapsed, both.
            "Turn ON the Kitchen LIGHT",
            "Гэрлийг АСААРАЙ",
            "  leading and  double\tspaces ",
            " Upper  Case\u{a0}NBSP",
            "İstanbul ΣΟΦΊΑ trailing ",
        ] {
            let input = Input::new(text, &SkipWords::default());
            let (orig, low) = full(text);
            assert_eq!(input.orig_string(), orig, "{text:?}");
            assert_eq!(input.low.iter().collect::<String>(), low, "{text:?}");
            let non_space = low.chars().filter(|c| !c.is_whitespace()).count();
            assert_eq!(input.non_space_len(), non_space, "{text:?}");
        }
        // Buffers reused for a shorter sentence hold only that sentence.
        let mut input = Input::new("a much longer first sentence", &SkipWords::default());
        input.fill("Hi", &SkipWords::default());
        assert_eq!(input.low, vec!['h', 'i']);
        assert_eq!(input.orig_string(), "Hi");
        assert_eq!(input.slice(0, 2), "Hi");
        // Non-ASCII text keeps its original characters; ASCII too.
        let input = Input::new("Свет ЁЛКА Ok", &SkipWords::default());
        assert_eq!(input.slice(0, 4), "Свет");
        assert_eq!(input.slice(4, 10), "ЁЛКА");
        assert_eq!(input.slice(10, 12), "Ok");
        assert_eq!(input.orig_string(), "Свет ЁЛКА Ok");
    }
}
