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
    /// Context merged into the match.
    pub context: Vec<(String, String)>,
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
#[derive(Debug, Clone, Default)]
pub(crate) struct CharTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    /// Character edges (never `' '`), sorted by character.
    edges: Vec<(char, u32)>,
    /// The child after a word gap (0: none; the root is nobody's child).
    gap: u32,
    values: Vec<u32>,
}

/// Up to this many edges a node is searched from the start (most nodes
/// below the first characters have one or two).
const LINEAR_EDGES: usize = 4;

impl CharTrie {
    pub fn new() -> Self {
        Self {
            nodes: vec![TrieNode::default()],
        }
    }

    /// Inserts `text` (already whitespace-normalised) for value `id`.
    pub fn insert(&mut self, text: &str, id: u32) {
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

    fn push_node(&mut self) -> usize {
        self.nodes.push(TrieNode::default());
        self.nodes.len() - 1
    }

    /// All `(value id, end offset)` pairs whose text matches `low` at `pos`.
    pub fn find(&self, low: &[char], pos: usize, out: &mut Vec<(u32, usize)>) {
        if self.nodes.len() > 1 {
            self.walk(0, low, pos, out);
        }
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
        let mut list = TextList {
            trie: CharTrie::new(),
            ..TextList::default()
        };
        for (i, v) in values.into_iter().enumerate() {
            list.trie
                .insert(&crate::text::normalize_whitespace(&v.text_in), i as u32);
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
