//! Finding literal strings in a sentence's characters: an [`Alphabet`]
//! numbering the characters the literals use, and [`CharDfa`], an
//! Aho-Corasick automaton over those classes as a dense table.
//!
//! The pre-filter (`prefilter.rs`) finds its *contains* literals with it and
//! indexes its anchor tries by the same classes; normalisation (`text.rs`)
//! looks for skip words with it. Both walk the input's decoded characters
//! (`Input::low`), one table step per character (a UTF-8 byte walk takes two
//! steps per Cyrillic character and three per Indic or Georgian one).

use std::collections::VecDeque;

/// No trie edge / no literal.
pub(crate) const NO_NODE: u32 = u32::MAX;

/// The characters of all literals, numbered: the automata below index their
/// dense transition tables by a character's class instead of searching
/// edges, and walk the sentence's characters (the input is already decoded,
/// and an Indic or Georgian character is three UTF-8 bytes, one step here).
#[derive(Debug, Clone, Default)]
pub(crate) struct Alphabet {
    /// Class of each character code below the table's length; 0 = in no
    /// literal (as is every character beyond the table).
    classes: Vec<u16>,
    /// Number of classes, 0 included.
    pub len: usize,
}

impl Alphabet {
    pub fn new<'a>(literals: impl Iterator<Item = &'a str>) -> Alphabet {
        let mut chars: Vec<char> = literals.flat_map(str::chars).collect();
        chars.sort_unstable();
        chars.dedup();
        let size = chars.last().map_or(0, |&c| c as usize + 1);
        let mut classes = vec![0u16; size];
        for (i, &c) in chars.iter().enumerate() {
            // More than 65,535 distinct characters in a language's literals
            // would share the last class: a coarser test, still a superset.
            classes[c as usize] = u16::try_from(i + 1).unwrap_or(u16::MAX);
        }
        Alphabet {
            classes,
            len: chars.len().min(u16::MAX as usize) + 1,
        }
    }

    #[inline]
    pub fn class(&self, c: char) -> usize {
        self.classes.get(c as usize).map_or(0, |&k| k as usize)
    }
}

/// An Aho-Corasick automaton over characters, as a dense table (state ×
/// character class): every literal ending at a character is found in one
/// pass, one table step per character.
#[derive(Debug, Clone, Default)]
pub(crate) struct CharDfa {
    /// `next[state * classes + class]`: the next state, premultiplied by the
    /// number of classes, with [`HAS_MATCH`] set when literals end there.
    next: Vec<u32>,
    /// Per state: the literals ending there (its own and its suffixes'),
    /// CSR into `outputs`.
    output_start: Vec<u32>,
    outputs: Vec<u32>,
}

/// Set in a [`CharDfa`] transition whose target state ends literals.
const HAS_MATCH: u32 = 1 << 31;

impl CharDfa {
    /// The automaton of `literals` (literal `i` reported as id `i`).
    pub fn build(abc: &Alphabet, literals: &[&str]) -> CharDfa {
        let k = abc.len;
        // The trie: `goto[state * k + class]`, NO_NODE where it has no edge.
        let mut goto: Vec<u32> = vec![NO_NODE; k];
        let mut own: Vec<Vec<u32>> = vec![vec![]];
        for (id, lit) in literals.iter().enumerate() {
            let mut s = 0usize;
            for c in lit.chars() {
                let at = s * k + abc.class(c);
                s = match goto[at] {
                    NO_NODE => {
                        own.push(vec![]);
                        goto.resize(goto.len() + k, NO_NODE);
                        let n = own.len() - 1;
                        goto[at] = n as u32;
                        n
                    }
                    n => n as usize,
                };
            }
            own[s].push(id as u32);
        }
        let states = own.len();
        // Breadth first: a state's failure state is done before it, so its
        // missing edges and outputs are copied from there.
        let mut fail = vec![0usize; states];
        let mut delta = vec![0u32; states * k];
        let mut outputs: Vec<Vec<u32>> = own;
        let mut queue = VecDeque::new();
        for class in 0..k {
            match goto[class] {
                NO_NODE => delta[class] = 0,
                n => {
                    delta[class] = n;
                    fail[n as usize] = 0;
                    queue.push_back(n as usize);
                }
            }
        }
        while let Some(s) = queue.pop_front() {
            let f = fail[s];
            let inherited = outputs[f].clone();
            outputs[s].extend(inherited);
            for class in 0..k {
                match goto[s * k + class] {
                    NO_NODE => delta[s * k + class] = delta[f * k + class],
                    n => {
                        delta[s * k + class] = n;
                        fail[n as usize] = delta[f * k + class] as usize;
                        queue.push_back(n as usize);
                    }
                }
            }
        }
        let next = delta
            .iter()
            .map(|&t| {
                let flag = if outputs[t as usize].is_empty() {
                    0
                } else {
                    HAS_MATCH
                };
                (t * k as u32) | flag
            })
            .collect();
        let mut dfa = CharDfa {
            next,
            output_start: vec![0],
            outputs: vec![],
        };
        for mut o in outputs {
            o.sort_unstable();
            o.dedup();
            dfa.outputs.extend(o);
            dfa.output_start.push(dfa.outputs.len() as u32);
        }
        dfa
    }

    /// True when any literal occurs in `chars`.
    #[inline]
    pub fn any(&self, abc: &Alphabet, chars: &[char]) -> bool {
        match self.output_start.get(1) {
            // Not built (a default automaton has no literals).
            None => return false,
            Some(&n) if n > 0 => return true,
            _ => {}
        }
        let mut at = 0usize;
        for &c in chars {
            let t = self.next[at + abc.class(c)];
            if t & HAS_MATCH != 0 {
                return true;
            }
            at = t as usize;
        }
        false
    }

    /// [`CharDfa::walk`] over `markers.0` followed by `chars`, also
    /// reporting the literals that end with `markers.1` placed after
    /// `chars[..end]` (looked at without being taken, so literals go on
    /// being found across `end`): literals anchored at the start (after the
    /// start marker) and at `end` (before the end marker) in one pass.
    ///
    /// The walk only notes the transitions into states that end literals
    /// (in `matched`, a buffer reused across calls); their literals are
    /// reported after it, so the loop over the characters stays small.
    #[inline]
    pub fn walk_anchored(
        &self,
        abc: &Alphabet,
        markers: (char, char),
        chars: &[char],
        end: usize,
        matched: &mut Vec<u32>,
        mut found: impl FnMut(u32),
    ) {
        matched.clear();
        if !self.report_empty(&mut found) {
            return;
        }
        let mut at = 0usize;
        self.steps(abc, &mut at, &[markers.0], matched);
        self.steps(abc, &mut at, &chars[..end], matched);
        let t = self.next[at + abc.class(markers.1)];
        if t & HAS_MATCH != 0 {
            matched.push(t);
        }
        self.steps(abc, &mut at, &chars[end..], matched);
        for &t in matched.iter() {
            self.report(abc, t, &mut found);
        }
    }

    /// Calls `found` with every literal that occurs in `chars` (at least
    /// once; a literal may be reported again where it occurs again).
    #[cfg(test)]
    pub fn walk(&self, abc: &Alphabet, chars: &[char], mut found: impl FnMut(u32)) {
        if self.report_empty(&mut found) {
            let mut matched = vec![];
            self.steps(abc, &mut 0, chars, &mut matched);
            for t in matched {
                self.report(abc, t, &mut found);
            }
        }
    }

    /// Reports the empty literal (in every sentence); false when the
    /// automaton is not built (a default one has no literals).
    #[inline]
    fn report_empty(&self, found: &mut impl FnMut(u32)) -> bool {
        let Some(&empty) = self.output_start.get(1) else {
            return false;
        };
        for &id in &self.outputs[..empty as usize] {
            found(id);
        }
        true
    }

    /// Takes `chars` from state `at` (premultiplied), noting the
    /// transitions into states that end literals in `matched`.
    #[inline]
    fn steps(&self, abc: &Alphabet, at: &mut usize, chars: &[char], matched: &mut Vec<u32>) {
        for &c in chars {
            let t = self.next[*at + abc.class(c)];
            *at = (t & !HAS_MATCH) as usize;
            if t & HAS_MATCH != 0 {
                matched.push(t);
            }
        }
    }

    /// Reports the literals of transition `t`'s target state.
    #[inline]
    fn report(&self, abc: &Alphabet, t: u32, found: &mut impl FnMut(u32)) {
        let state = (t & !HAS_MATCH) as usize / abc.len;
        let (a, b) = (
            self.output_start[state] as usize,
            self.output_start[state + 1] as usize,
        );
        for &id in &self.outputs[a..b] {
            found(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literals found (sorted, once each) against a substring search.
    #[test]
    fn finds_what_a_substring_search_finds() {
        let literals = [
            "he",
            "she",
            "his",
            "hers",
            "ис",
            "гэрэл",
            "ಆಫ್",
            "a b",
            "",
            "s",
        ];
        let abc = Alphabet::new(literals.iter().copied());
        let dfa = CharDfa::build(&abc, &literals);
        for text in [
            "ushers",
            "this is his",
            "гэрлийг асаа гэрэл",
            "ಫ್ಯಾನ್ ಆಫ್ ಮಾಡು",
            "a  b a b",
            "",
            "xyz",
        ] {
            let chars: Vec<char> = text.chars().collect();
            let mut got = vec![];
            dfa.walk(&abc, &chars, |id| got.push(id));
            got.sort_unstable();
            got.dedup();
            let want: Vec<u32> = (0..literals.len() as u32)
                .filter(|&i| text.contains(literals[i as usize]))
                .collect();
            assert_eq!(got, want, "{text:?}");
            let nonempty = &literals[..8];
            let abc2 = Alphabet::new(nonempty.iter().copied());
            let any = CharDfa::build(&abc2, nonempty).any(&abc2, &chars);
            assert_eq!(any, nonempty.iter().any(|l| text.contains(l)), "{text:?}");
        }
        // Anchored: "^turn" at the start only, "on$" at the end (before
        // trailing text that `end` leaves out) only; "on" anywhere.
        let literals = ["\u{2}turn", "on\u{3}", "on", "n-"];
        let abc = Alphabet::new(literals.iter().copied());
        let dfa = CharDfa::build(&abc, &literals);
        for (text, end, want) in [
            ("turn on", 7, vec![0, 1, 2]),
            ("return on-", 9, vec![1, 2, 3]),
            ("turn on it", 10, vec![0, 2]),
        ] {
            let chars: Vec<char> = text.chars().collect();
            let mut got = vec![];
            dfa.walk_anchored(&abc, ('\u{2}', '\u{3}'), &chars, end, &mut vec![], |id| {
                got.push(id)
            });
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, want, "{text:?}");
        }
        // A default (unbuilt) automaton finds nothing.
        assert!(!CharDfa::default().any(&Alphabet::default(), &['a']));
    }
}
