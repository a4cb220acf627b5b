//! Slot lists: text values (with `in`/`out`, context and metadata), number
//! ranges (digits and number words) and wildcards, each compiled into a
//! character trie so a list is matched in one pass whatever its size.

use std::collections::BTreeMap;

use crate::program::Node;
use crate::text::lower;

/// One value of a text slot list, as given to [`crate::IntentEngine::set_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListValue {
    /// What is spoken (plain text; hassil template syntax is allowed in YAML lists).
    pub text_in: String,
    /// What goes into the slot.
    pub value_out: String,
    /// Context added when this value matches (e.g. `domain=light`).
    pub context: BTreeMap<String, String>,
}

impl ListValue {
    /// A value spoken as `text_in` that fills the slot with `value_out`.
    pub fn new(text_in: impl Into<String>, value_out: impl Into<String>) -> Self {
        Self {
            text_in: text_in.into(),
            value_out: value_out.into(),
            context: BTreeMap::new(),
        }
    }

    /// Adds a context entry that the match carries when this value is used.
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }
}

/// A compiled value of a text list.
#[derive(Debug, Clone)]
pub(crate) struct TextValue {
    /// Slot output; `None` means "the text as spoken".
    pub out: Option<crate::value::Value>,
    /// Context merged into the match (shared with the matches it is all of).
    pub context: crate::engine::Context,
    /// For template values (`(closed|shut)`): the compiled template.
    pub node: Option<Node>,
    /// For template values: the literal words a match starts with (`None`:
    /// anything), to skip the template quickly.
    pub first: Option<Vec<Box<[char]>>>,
    /// The spoken form as written (for grammar export).
    pub text_in: String,
}

/// A character trie over lower-cased words; a word gap in a value (a space
/// when inserted) is the node's `gap` edge, apart from its character edges.
///
/// Built with [`CharTrie::build`], a trie also knows its *runs*: from a node
/// with one character edge, no gap and no values, the path goes on alone
/// until a node that branches or ends a value, so [`CharTrie::find`]
/// compares those characters at once instead of stepping node by node (the
/// names of devices and areas are mostly such runs after their first
/// characters).
#[derive(Debug, Clone, Default)]
pub(crate) struct CharTrie {
    nodes: Vec<TrieNode>,
    /// The characters of every run, each node's run a range of them.
    run_chars: Vec<char>,
    /// The root's children by ASCII character (0: none), when the root has
    /// character edges only (built with [`CharTrie::build`]): every walk's
    /// first step, from the widest node, is one lookup instead of a search.
    root_ascii: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    /// Character edges (never `' '`), sorted by character.
    edges: Vec<(char, u32)>,
    /// The child after a word gap (0: none; the root is nobody's child).
    gap: u32,
    values: Vec<u32>,
    /// The run from this node (two characters or more; `len` 0: none).
    run: Run,
}

/// The fewest characters a run is recorded for (a one-character run is an edge).
const MIN_RUN: usize = 2;

/// A run of a [`CharTrie`]: `run_chars[start..start + len]` lead from its
/// node to node `to`.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    start: u32,
    len: u32,
    to: u32,
}

/// Up to this many edges a node is searched from the start (most nodes
/// below the first characters have one or two).
const LINEAR_EDGES: usize = 4;

impl CharTrie {
    pub fn new() -> Self {
        Self {
            nodes: vec![TrieNode::default()],
            run_chars: vec![],
            root_ascii: vec![],
        }
    }

    /// The trie of `texts` (already whitespace-normalised), each with its
    /// value id, and its runs.
    pub fn build<'t>(texts: impl IntoIterator<Item = (&'t str, u32)>) -> Self {
        let mut trie = Self::new();
        for (text, id) in texts {
            trie.insert(text, id);
        }
        trie.find_runs();
        let root = &trie.nodes[0];
        if root.gap == 0 && root.run.len == 0 && root.values.is_empty() {
            let mut table = vec![0u32; 128];
            for &(c, next) in &root.edges {
                if let Some(slot) = table.get_mut(c as usize) {
                    *slot = next;
                }
            }
            trie.root_ascii = table;
        }
        trie
    }

    /// Inserts `text` (already whitespace-normalised) for value `id`
    /// (forgetting the runs: [`CharTrie::build`] finds them).
    pub fn insert(&mut self, text: &str, id: u32) {
        if !self.run_chars.is_empty() || !self.root_ascii.is_empty() {
            self.run_chars.clear();
            self.root_ascii.clear();
            self.nodes.iter_mut().for_each(|n| n.run = Run::default());
        }
        let mut node = 0usize;
        let text = crate::text::normalize_whitespace(text);
        for c in text.chars().map(lower) {
            let next = if c.is_whitespace() {
                match self.nodes[node].gap {
                    0 => {
                        let n = self.push_node();
                        self.nodes[node].gap = n as u32;
                        n
                    }
                    n => n as usize,
                }
            } else {
                // Edges stay sorted by character, so `walk` can search them.
                match self.nodes[node].edges.binary_search_by_key(&c, |e| e.0) {
                    Ok(i) => self.nodes[node].edges[i].1 as usize,
                    Err(i) => {
                        let n = self.push_node();
                        self.nodes[node].edges.insert(i, (c, n as u32));
                        n
                    }
                }
            };
            node = next;
        }
        if node != 0 {
            self.nodes[node].values.push(id);
        }
    }

    /// True when the path through node `n` goes on alone: one character
    /// edge, no word gap, no value.
    fn lone(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.edges.len() == 1 && node.gap == 0 && node.values.is_empty()
    }

    /// Records the run from every node where the path goes on alone for two
    /// characters or more.
    fn find_runs(&mut self) {
        for n in 0..self.nodes.len() {
            let start = self.run_chars.len();
            let mut at = n;
            while self.lone(at) {
                let (c, next) = self.nodes[at].edges[0];
                self.run_chars.push(c);
                at = next as usize;
            }
            let len = self.run_chars.len() - start;
            if len < MIN_RUN {
                self.run_chars.truncate(start);
                continue;
            }
            self.nodes[n].run = Run {
                start: start as u32,
                len: len as u32,
                to: at as u32,
            };
        }
    }

    fn push_node(&mut self) -> usize {
        self.nodes.push(TrieNode::default());
        self.nodes.len() - 1
    }

    /// All `(value id, end offset)` pairs whose text matches `low` at `pos`.
    pub fn find(&self, low: &[char], pos: usize, out: &mut Vec<(u32, usize)>) {
        if self.nodes.len() <= 1 {
            return;
        }
        if !self.root_ascii.is_empty() {
            let Some(&c) = low.get(pos) else { return };
            if let Some(&next) = self.root_ascii.get(c as usize) {
                if next != 0 {
                    self.walk(next as usize, low, pos + 1, out);
                }
                return;
            }
        }
        self.walk(0, low, pos, out);
    }

    fn walk(&self, mut node: usize, low: &[char], mut pos: usize, out: &mut Vec<(u32, usize)>) {
        // Follows the one character path iteratively; only a word gap
        // branches (recursively).
        loop {
            let n = &self.nodes[node];
            if node != 0 {
                for &v in &n.values {
                    out.push((v, pos));
                }
            }
            if n.gap != 0 {
                // A word gap: whitespace run, or a hyphen/underscore joining words.
                // (The input's word gaps are single spaces, see `Input`.)
                let mut p = pos + usize::from(low.get(pos) == Some(&' '));
                if p == pos && p < low.len() && (low[p] == '-' || low[p] == '_') {
                    p += 1;
                }
                if p > pos {
                    self.walk(n.gap as usize, low, p, out);
                }
            }
            if n.run.len > 0 {
                // A node on a run has no values and no word gap: the run's
                // characters match, or nothing more does. (Compared in
                // line: most walks that end on a run end at its first
                // characters, before a `memcmp` call would have paid.)
                let (start, len) = (n.run.start as usize, n.run.len as usize);
                let Some(ahead) = low.get(pos..pos + len) else {
                    return;
                };
                if ahead
                    .iter()
                    .zip(&self.run_chars[start..start + len])
                    .any(|(a, b)| a != b)
                {
                    return;
                }
                node = n.run.to as usize;
                pos += len;
                continue;
            }
            let Some(&c) = low.get(pos) else { return };
            let edges = n.edges.as_slice();
            let next = if edges.len() <= LINEAR_EDGES {
                edges.iter().find(|e| e.0 == c).map(|e| e.1)
            } else {
                edges
                    .binary_search_by_key(&c, |e| e.0)
                    .ok()
                    .map(|i| edges[i].1)
            };
            match next {
                Some(next) => {
                    node = next as usize;
                    pos += 1;
                }
                None => return,
            }
        }
    }
}

/// A text list compiled for matching.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextList {
    pub values: Vec<TextValue>,
    pub trie: CharTrie,
    /// Indices of values that are templates (matched with the general matcher).
    pub template_values: Vec<u32>,
}

/// A number range list.
#[derive(Debug, Clone)]
pub(crate) struct RangeList {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
    /// Fractions allowed after each integer (0.5 for halves, 0.1… for tenths).
    pub fractions: Vec<f64>,
    pub multiplier: Option<f64>,
    pub digits: bool,
    /// Number words in the sentence's language → value.
    pub words: Option<CharTrie>,
    pub word_values: Vec<f64>,
    pub word_texts: Vec<String>,
}

impl RangeList {
    /// True if `n` (already parsed from digits) is in the range.
    pub fn contains(&self, n: f64) -> bool {
        // As hassil's `get_numbers`: every whole number of the range, each
        // followed by its fractions, so `to: 100` with halves includes 100.5.
        let top = if self.fractions.is_empty() {
            n
        } else {
            n.floor()
        };
        if n < self.start as f64 || top > self.stop as f64 {
            return false;
        }
        if self.step == 1 && self.fractions.is_empty() {
            return n.fract() == 0.0;
        }
        let whole = n.floor();
        let frac = n - whole;
        let whole = whole as i64;
        if (whole - self.start) % self.step != 0 {
            return false;
        }
        frac.abs() < 1e-9 || self.fractions.iter().any(|f| (f - frac).abs() < 1e-9)
    }

    /// Applies the multiplier.
    pub fn out(&self, n: f64) -> f64 {
        match self.multiplier {
            Some(m) => n * m,
            None => n,
        }
    }
}

/// A slot list of any kind.
#[derive(Debug, Clone)]
pub(crate) enum SlotList {
    Text(TextList),
    Range(RangeList),
    Wildcard,
}

impl SlotList {
    /// Builds a text list from runtime values (no templates).
    pub fn from_values(values: Vec<ListValue>) -> Self {
        let texts: Vec<String> = values
            .iter()
            .map(|v| crate::text::normalize_whitespace(&v.text_in))
            .collect();
        let mut list = TextList {
            trie: CharTrie::build(texts.iter().zip(0..).map(|(t, i)| (t.as_str(), i))),
            ..TextList::default()
        };
        for v in values {
            list.values.push(TextValue {
                out: Some(crate::value::Value::Text(v.value_out)),
                context: v.context.into_iter().collect(),
                node: None,
                first: None,
                text_in: v.text_in,
            });
        }
        SlotList::Text(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_finds_all_prefixes_with_word_gaps() {
        let mut t = CharTrie::new();
        t.insert("Kitchen", 0);
        t.insert("kitchen  light", 1);
        t.insert("living room", 2);
        let low: Vec<char> = "kitchen light on".chars().collect();
        let mut out = vec![];
        t.find(&low, 0, &mut out);
        assert_eq!(out, vec![(0, 7), (1, 13)]);
        let low: Vec<char> = "living-room".chars().collect();
        out.clear();
        t.find(&low, 0, &mut out);
        assert_eq!(out, vec![(2, 11)]);
    }

    /// Runs (a path going on alone) find what stepping node by node finds.
    #[test]
    fn runs_find_what_steps_find() {
        let texts = [
            "kitchen",
            "kitchen light",
            "kitchen lights",
            "living room",
            "garage door",
            "гэрэл",
            "a",
            "ab-cd",
        ];
        let stepped = {
            let mut t = CharTrie::new();
            for (i, text) in texts.iter().enumerate() {
                t.insert(text, i as u32);
            }
            t
        };
        let built = CharTrie::build(texts.iter().zip(0..).map(|(t, i)| (*t, i)));
        assert!(stepped.run_chars.is_empty() && !built.run_chars.is_empty());
        assert!(stepped.root_ascii.is_empty() && !built.root_ascii.is_empty());
        for input in [
            "kitchen lights on",
            "kitchen light",
            "kitchen",
            "kitche",
            "living-room",
            "living roo",
            "garage door open",
            "гэрэл асаа",
            "ab cd",
            "a",
            "",
        ] {
            let low: Vec<char> = input.chars().collect();
            for pos in 0..=low.len() {
                let (mut a, mut b) = (vec![], vec![]);
                stepped.find(&low, pos, &mut a);
                built.find(&low, pos, &mut b);
                assert_eq!(a, b, "{input:?} at {pos}");
            }
        }
        // Inserting after building forgets the runs (they may no longer hold).
        let mut t = built.clone();
        t.insert("kitchenette", 9);
        let low: Vec<char> = "kitchenette".chars().collect();
        let mut out = vec![];
        t.find(&low, 0, &mut out);
        assert_eq!(out, vec![(0, 7), (9, 11)]);
    }

    #[test]
    fn ranges_check_step_and_fractions() {
        let r = RangeList {
            start: 0,
            stop: 10,
            step: 2,
            fractions: vec![0.5],
            multiplier: None,
            digits: true,
            words: None,
            word_values: vec![],
            word_texts: vec![],
        };
        assert!(r.contains(4.0));
        assert!(r.contains(4.5));
        assert!(!r.contains(3.0));
        // hassil's `get_numbers` yields each whole number's fractions, the
        // last one's too.
        assert!(r.contains(10.5));
        assert!(!r.contains(10.25));
        assert!(!r.contains(11.0));
        assert!(!r.contains(12.0));
    }
}
