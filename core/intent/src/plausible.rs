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

use std::collections::HashSet;

use crate::lists::SlotList;
use crate::program::{ListRef, Node};

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
            Node::List { list, slot } => {
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
            .map(|m| m.intent)
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

    #[test]
    fn open_slots_take_any_span() {
        let engine = IntentEngine::from_yaml_str(YAML, "<test>", "en").unwrap();
        assert!(intent(&engine, "play the dark side of the moon").is_some());
    }
}
