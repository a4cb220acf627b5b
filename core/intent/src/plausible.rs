//! Plausibility of wildcard spans: rejecting "who is the president of the
//! united states" where a template says `who is [the] {zone:state}`.
//!
//! A wildcard takes any words, so an open one at the end of a short template
//! accepts questions that have nothing to do with the intent. hassil accepts
//! them too. Emma scores each wildcard span against the *typical fillers* of
//! the slot it fills, learnt from the templates when they are compiled:
//!
//! - A slot is *closed* when the language also fills it from fixed lists
//!   (the `state` slot that `{zone:state}` fills is elsewhere filled by
//!   `{on_off_states:state}`, `{lock_states:state}`…): its typical filler is
//!   short, at most `T` words, the longest value of those lists. Slots that
//!   runtime lists fill (`name`, `area`, `floor`) and slots only wildcards
//!   fill (`message`, `search_query`, `item`) are open: any span is plausible.
//! - For a closed slot the score is the product of
//!   - length: `min(1, T / words)`;
//!   - vocabulary: `0.5` when the span has two or more words and none of its
//!     content words (words the templates don't use; articles and
//!     prepositions are template words) is a value of any list: a question
//!     about "albert einstein", "dein Lieblingssänger", "der Papst";
//!   - shape: `0.5` when a word after the first is a template word (a
//!     function word such as "of", "in", "der": "president *of* france").
//!
//! The match's confidence is multiplied by the lowest score of its wildcard
//! spans, so implausible ones fall below the threshold ("I don't know") but
//! still appear among the candidates.
//!
//! The span is scored with the words that belong to it. A template may put two
//! optional groups before a wildcard, an *introducer* and a word after it:
//! `who is [<in>] [the] {zone:state}`, where the second group's word reads as
//! part of the introducer ("at the office"). When the sentence has that word
//! without any introducer before it ("who is *the pope*"), the word opens the
//! span's phrase instead, and the span is scored with it ("the pope": two
//! words, its content word unknown to every list). German writes the same
//! template with the article inside the preposition's group
//! (`[((in|auf)[ <artikel_bestimmt>]|im)] {zone:state}`), which rejects "wer
//! ist der Papst" the same way.

use std::collections::HashSet;

use crate::lists::SlotList;
use crate::program::{ListRef, Node, edge_literals};
use crate::text::Input;

/// Two optional groups before a wildcard, `[<in>] [the] {zone:state}`: the
/// words the second can be (`the`), and the words the first can end with
/// (`in`, `at`, …). See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Introducer {
    pub slot: u32,
    pub words: Vec<Box<[char]>>,
    pub before: Vec<Box<[char]>>,
}

/// The [`Introducer`]s of a template (its wildcards are found by the slot
/// score only; here every list reference with two optional groups before it
/// counts, open or closed).
pub(crate) fn introducers(node: &Node, rules: &[Node], out: &mut Vec<Introducer>) {
    match node {
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                introducers(item, rules, out);
                if let Node::List { slot, .. } = item
                    && let Some(found) = introducer_before(&items[..i], rules, *slot)
                    && !out.contains(&found)
                {
                    out.push(found);
                }
            }
        }
        Node::Alt(items, _) => items.iter().for_each(|i| introducers(i, rules, out)),
        _ => {}
    }
}

/// The optional group's choices other than the empty one, if `node` is optional.
fn optional_choices(node: &Node) -> Option<Vec<&Node>> {
    let Node::Alt(items, _) = node else {
        return None;
    };
    let empty = |n: &Node| matches!(n, Node::Seq(s) if s.is_empty());
    items
        .iter()
        .any(empty)
        .then(|| items.iter().filter(|n| !empty(n)).collect())
}

/// The single literal words `node` can be (`None` when it can be anything else).
fn single_words(node: &Node, rules: &[Node], depth: usize, out: &mut Vec<Box<[char]>>) -> bool {
    if depth > 16 {
        return false;
    }
    match node {
        Node::Lit { chars, .. } => {
            out.push(chars.clone());
            true
        }
        Node::Rule(i) => single_words(&rules[*i as usize], rules, depth + 1, out),
        Node::Alt(items, _) => items.iter().all(|i| single_words(i, rules, depth + 1, out)),
        Node::Seq(items) if items.len() == 1 => single_words(&items[0], rules, depth + 1, out),
        _ => false,
    }
}

fn introducer_before(before: &[Node], rules: &[Node], slot: u32) -> Option<Introducer> {
    let mut groups = before.iter().rev().filter(|n| !matches!(n, Node::Space));
    let second = optional_choices(groups.next()?)?;
    let first = optional_choices(groups.next()?)?;
    let mut words = vec![];
    for choice in &second {
        if !single_words(choice, rules, 0, &mut words) {
            return None;
        }
    }
    let mut ends = vec![];
    for choice in &first {
        let (last, nullable) = edge_literals(choice, rules, 0, true);
        if nullable {
            return None;
        }
        ends.extend(last?);
    }
    (!words.is_empty() && !ends.is_empty()).then_some(Introducer {
        slot,
        words,
        before: ends,
    })
}

/// The start of the word that ends just before `pos` (after the whitespace
/// before `pos`), and that word's end; `None` at the start of the input.
fn word_before(low: &[char], pos: usize) -> Option<(usize, usize)> {
    let end = low[..pos].iter().rposition(|c| !c.is_whitespace())? + 1;
    let start = low[..end]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |i| i + 1);
    Some((start, end))
}

/// Where the span of a wildcard filling `slot` from `start` begins for
/// scoring: at `start`, or at the word before it when that word is an
/// introducer's second word with none of the introducer's own words before it.
pub(crate) fn span_start(
    introducers: &[Introducer],
    slot: u32,
    input: &Input,
    start: usize,
) -> usize {
    let low = &input.low;
    for intro in introducers.iter().filter(|i| i.slot == slot) {
        let Some((ws, we)) = word_before(low, start) else {
            continue;
        };
        let word = &low[ws..we];
        // Not the second group's word, or also the first group's own last
        // word (`[hiện tại] [<in>]`, where <in> has "tại"): no new phrase.
        if !intro.words.iter().any(|w| **w == *word)
            || intro.before.iter().any(|w| word.ends_with(w))
        {
            continue;
        }
        let introduced = word_before(low, ws)
            .is_some_and(|(ps, pe)| intro.before.iter().any(|w| low[ps..pe].ends_with(w)));
        if !introduced {
            return ws;
        }
    }
    start
}

/// What the compiled templates say about slots and words.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lexicon {
    /// Per slot id: `Some(T)` for a closed slot (longest fixed filler in words).
    typical_words: Vec<Option<u32>>,
    /// Lower-case literal words of the templates and rules.
    template_words: HashSet<String>,
    /// Lower-case words of fixed list values.
    list_words: HashSet<String>,
}

/// Slot usage seen while walking templates.
#[derive(Clone, Copy, Default)]
struct Usage {
    fixed_words: u32,
    fixed: bool,
    runtime: bool,
}

impl Lexicon {
    /// Learns from every template node (and the rule tables they use).
    pub fn build(
        roots: &[(&Node, &[Node])],
        globals: &[Option<std::sync::Arc<SlotList>>],
        locals: &[SlotList],
        runtime: &[u32],
        slots: usize,
    ) -> Lexicon {
        let mut usage = vec![Usage::default(); slots];
        let mut lex = Lexicon::default();
        let mut seen_rules: HashSet<(usize, u32)> = HashSet::new();
        for (node, rules) in roots {
            lex.walk(
                node,
                rules,
                globals,
                locals,
                runtime,
                &mut usage,
                &mut seen_rules,
                0,
            );
        }
        lex.typical_words = usage
            .iter()
            .map(|u| (u.fixed && !u.runtime).then_some(u.fixed_words.max(1)))
            .collect();
        lex
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        node: &Node,
        rules: &[Node],
        globals: &[Option<std::sync::Arc<SlotList>>],
        locals: &[SlotList],
        runtime: &[u32],
        usage: &mut [Usage],
        seen: &mut HashSet<(usize, u32)>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        match node {
            Node::Lit { chars, .. } => {
                self.template_words.insert(chars.iter().collect());
            }
            Node::Space => {}
            Node::Seq(items) | Node::Alt(items, _) => {
                for i in items.iter() {
                    self.walk(i, rules, globals, locals, runtime, usage, seen, depth + 1);
                }
            }
            Node::Rule(i) => {
                if seen.insert((rules.as_ptr() as usize, *i)) {
                    self.walk(
                        &rules[*i as usize],
                        rules,
                        globals,
                        locals,
                        runtime,
                        usage,
                        seen,
                        depth + 1,
                    );
                }
            }
            Node::List { list, slot, .. } => {
                let u = &mut usage[*slot as usize];
                let resolved = match *list {
                    ListRef::Global(id) => {
                        if runtime.contains(&id) {
                            u.runtime = true;
                            return;
                        }
                        globals.get(id as usize).and_then(|l| l.as_deref())
                    }
                    ListRef::Local(id) => locals.get(id as usize),
                };
                match resolved {
                    Some(SlotList::Text(t)) => {
                        u.fixed = true;
                        for v in &t.values {
                            let words = v.text_in.split_whitespace().count() as u32;
                            u.fixed_words = u.fixed_words.max(words);
                            for w in v.text_in.split_whitespace() {
                                self.list_words.insert(w.to_lowercase());
                            }
                        }
                    }
                    Some(SlotList::Range(_)) => u.fixed = true,
                    Some(SlotList::Wildcard) | None => {}
                }
            }
        }
    }

    /// The plausibility in `(0, 1]` of `span` filling `slot` through a wildcard.
    pub fn score(&self, slot: u32, span: &str) -> f32 {
        let Some(Some(typical)) = self.typical_words.get(slot as usize) else {
            return 1.0;
        };
        let words: Vec<String> = span.split_whitespace().map(str::to_lowercase).collect();
        if words.is_empty() {
            return 1.0;
        }
        let mut score = (*typical as f32 / words.len() as f32).min(1.0);
        // Content words: those the templates don't use (articles and
        // prepositions are template words in every language).
        let content: Vec<&String> = words
            .iter()
            .filter(|w| !self.template_words.contains(*w))
            .collect();
        if words.len() >= 2
            && !content.is_empty()
            && !content.iter().any(|w| self.list_words.contains(*w))
        {
            score *= 0.5;
        }
        if words[1..].iter().any(|w| self.template_words.contains(w)) {
            score *= 0.5;
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, IntentEngine};

    const YAML: &str = r#"
language: en
intents:
  GetState:
    data:
      - sentences:
          - "is the door {door_states:state}"
          - "who is [at] [the] {zone:state}"
      - sentences:
          - "play {query}"
lists:
  door_states:
    values: [open, closed, not locked]
  zone:
    wildcard: true
  query:
    wildcard: true
"#;

    fn intent(engine: &IntentEngine, text: &str) -> Option<String> {
        engine
            .recognize(text, &Context::new())
            .best
            .map(|m| m.intent.to_string())
    }

    #[test]
    fn short_spans_in_closed_slots_pass_and_questions_do_not() {
        let engine = IntentEngine::from_yaml_str(YAML, "<test>", "en").unwrap();
        assert_eq!(
            intent(&engine, "who is at work").as_deref(),
            Some("GetState")
        );
        assert_eq!(
            intent(&engine, "who is at the office").as_deref(),
            Some("GetState")
        );
        // Too long for a slot whose fixed fillers have at most two words.
        assert_eq!(
            intent(&engine, "who is the president of the united states"),
            None
        );
        // Two unknown content words.
        assert_eq!(intent(&engine, "who is albert einstein"), None);
        // A template word inside the span.
        assert_eq!(intent(&engine, "who is king of spain"), None);
        // The rejected match is still the best candidate.
        let rec = engine.recognize("who is albert einstein", &Context::new());
        assert_eq!(rec.candidates[0].intent, "GetState");
    }

    /// `[<in>] [the] {zone:state}`: "the" without a preposition before it
    /// opens the span's phrase ("the pope"), with one it doesn't ("at the office").
    #[test]
    fn an_article_without_its_preposition_belongs_to_the_span() {
        let yaml = YAML.replace(
            "who is [at] [the] {zone:state}",
            "who is [<in>] [the] {zone:state}",
        ) + "expansion_rules:\n  in: \"(in|at)\"\n";
        let engine = IntentEngine::from_yaml_str(&yaml, "<test>", "en").unwrap();
        assert_eq!(intent(&engine, "who is the pope"), None);
        for accepted in [
            "who is at the office",
            "who is at work",
            "who is home",
            "who is in the garden",
        ] {
            assert_eq!(
                intent(&engine, accepted).as_deref(),
                Some("GetState"),
                "{accepted}"
            );
        }
        // The rejected match stays the best candidate.
        let rec = engine.recognize("who is the pope", &Context::new());
        assert_eq!(rec.candidates[0].intent, "GetState");
    }

    #[test]
    fn open_slots_take_any_span() {
        let engine = IntentEngine::from_yaml_str(YAML, "<test>", "en").unwrap();
        assert!(intent(&engine, "play the dark side of the moon").is_some());
    }
}
