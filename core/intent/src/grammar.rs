//! Export of loaded intents (with their current slot lists) as a
//! restricted-decoding speech grammar ([`emma_grammar::Grammar`]).
//!
//! Each expansion rule and each slot list becomes one shared sub-rule, so a
//! long device list appears once however many templates use it; sentences
//! are merged on common leading words. Wildcards become [`GExpr::Free`];
//! lists longer than [`MAX_LIST_VALUES`] are cut with a warning. Words glued
//! without a space (`batter(y|ies)`) are expanded into whole words.

use std::collections::{BTreeMap, BTreeSet};

use emma_grammar::{Expr as GExpr, Grammar, Rule};

use crate::engine::IntentEngine;
use crate::lists::SlotList;
use crate::program::{ListRef, Node};

/// Most values a list contributes to a grammar before it is cut.
pub const MAX_LIST_VALUES: usize = 2_000;
/// Most spellings a glued word group expands to before it becomes free text.
const MAX_GLUE: usize = 64;

/// A grammar and what had to be approximated to build it.
#[derive(Debug, Clone)]
pub struct GrammarExport {
    /// The grammar.
    pub grammar: Grammar,
    /// Human-readable warnings (lists cut, spans decoded freely).
    pub warnings: Vec<String>,
}

struct Builder<'e> {
    engine: &'e IntentEngine,
    rules: BTreeMap<String, GExpr>,
    pending: Vec<(String, Pending)>,
    seen: BTreeSet<String>,
    warnings: Vec<String>,
}

enum Pending {
    Rule(u32, u32),
    List(ListRef),
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl<'e> Builder<'e> {
    fn rule_ref(&mut self, table: u32, idx: u32) -> GExpr {
        let base = &self.engine.rule_names[table as usize][idx as usize];
        let name = if table == 0 {
            format!("r_{}", sanitize(base))
        } else {
            format!("r{table}_{}", sanitize(base))
        };
        if self.seen.insert(name.clone()) {
            self.pending.push((name.clone(), Pending::Rule(table, idx)));
        }
        GExpr::Rule(name)
    }

    fn list_ref(&mut self, list: ListRef) -> GExpr {
        let name = match list {
            ListRef::Global(i) => format!("l_{}", sanitize(&self.engine.list_names[i as usize])),
            ListRef::Local(i) => format!("ll_{i}"),
        };
        if matches!(self.list(list), Some(SlotList::Wildcard)) {
            return GExpr::Free;
        }
        if self.seen.insert(name.clone()) {
            self.pending.push((name.clone(), Pending::List(list)));
        }
        GExpr::Rule(name)
    }

    fn list(&self, list: ListRef) -> Option<&'e SlotList> {
        match list {
            ListRef::Global(i) => self
                .engine
                .globals
                .get(i as usize)
                .and_then(|l| l.as_deref()),
            ListRef::Local(i) => self.engine.locals.get(i as usize),
        }
    }

    fn conv(&mut self, node: &Node, table: u32) -> Option<GExpr> {
        Some(match node {
            Node::Lit { chars, .. } => word(&chars.iter().collect::<String>())?,
            Node::Space => return None,
            Node::Seq(items) => {
                let mut flat: Vec<&Node> = vec![];
                flatten(items, &mut flat);
                let mut parts = vec![];
                let mut run: Vec<&Node> = vec![];
                for item in flat.into_iter().chain(std::iter::once(&Node::Space)) {
                    if matches!(item, Node::Space) {
                        match run.len() {
                            0 => {}
                            1 => parts.extend(self.conv(run[0], table)),
                            _ => parts.push(self.glue(&run, table)),
                        }
                        run.clear();
                    } else {
                        run.push(item);
                    }
                }
                seq(parts)?
            }
            Node::Alt(items, _) => {
                let mut alts = vec![];
                let mut optional = false;
                for item in items.iter() {
                    match self.conv(item, table) {
                        Some(e) => alts.push(e),
                        None => optional = true,
                    }
                }
                let inner = if alts.len() == 1 {
                    alts.pop()?
                } else if alts.is_empty() {
                    return None;
                } else {
                    GExpr::Alt(alts)
                };
                if optional {
                    GExpr::Opt(Box::new(inner))
                } else {
                    inner
                }
            }
            Node::Rule(i) => self.rule_ref(table, *i),
            Node::List { list, .. } => self.list_ref(*list),
        })
    }

    /// Words written without a space between template parts: expand to spellings.
    fn glue(&mut self, run: &[&Node], table: u32) -> GExpr {
        let mut acc = vec![String::new()];
        for node in run {
            let Some(parts) = self.strings(node, table) else {
                return GExpr::Free;
            };
            let mut next = vec![];
            for a in &acc {
                for p in &parts {
                    next.push(format!("{a}{p}"));
                }
            }
            if next.len() > MAX_GLUE {
                self.warnings.push(format!(
                    "a glued word group has more than {MAX_GLUE} spellings; decoded freely"
                ));
                return GExpr::Free;
            }
            acc = next;
        }
        let alts: Vec<GExpr> = acc
            .iter()
            .filter_map(|s| seq(s.split_whitespace().filter_map(word).collect()))
            .collect();
        match alts.len() {
            0 => GExpr::Seq(vec![]),
            1 => alts.into_iter().next().expect("one"),
            _ => GExpr::Alt(alts),
        }
    }

    fn strings(&self, node: &Node, table: u32) -> Option<Vec<String>> {
        Some(match node {
            Node::Lit { chars, .. } => vec![chars.iter().collect()],
            Node::Space => vec![" ".into()],
            Node::Seq(items) => {
                let mut acc = vec![String::new()];
                for item in items.iter() {
                    let parts = self.strings(item, table)?;
                    acc = acc
                        .iter()
                        .flat_map(|a| parts.iter().map(move |p| format!("{a}{p}")))
                        .collect();
                    if acc.len() > MAX_GLUE {
                        return None;
                    }
                }
                acc
            }
            Node::Alt(items, _) => {
                let mut out = vec![];
                for item in items.iter() {
                    out.extend(self.strings(item, table)?);
                }
                out
            }
            Node::Rule(i) => {
                self.strings(&self.engine.rule_tables[table as usize][*i as usize], table)?
            }
            Node::List { list, .. } => match self.list(*list)? {
                SlotList::Text(t) if t.template_values.is_empty() && t.values.len() <= MAX_GLUE => {
                    t.values.iter().map(|v| v.text_in.to_lowercase()).collect()
                }
                _ => return None,
            },
        })
    }

    fn drain(&mut self) {
        while let Some((name, pending)) = self.pending.pop() {
            let expr = match pending {
                Pending::Rule(table, idx) => {
                    let node = &self.engine.rule_tables[table as usize][idx as usize];
                    self.conv(node, table).unwrap_or(GExpr::Seq(vec![]))
                }
                Pending::List(list) => self.list_expr(&name, list),
            };
            self.rules.insert(name, expr);
        }
    }

    fn list_expr(&mut self, name: &str, list: ListRef) -> GExpr {
        let mut alts = vec![];
        match self.list(list) {
            Some(SlotList::Text(t)) => {
                for v in &t.values {
                    let e = match &v.node {
                        Some(node) => self.conv(node, 0),
                        None => seq(v.text_in.split_whitespace().filter_map(word).collect()),
                    };
                    alts.extend(e);
                }
            }
            Some(SlotList::Range(r)) => {
                if r.word_texts.is_empty() {
                    let mut n = r.start;
                    while n <= r.stop {
                        alts.extend(word(&n.to_string()));
                        n += r.step;
                    }
                } else {
                    for w in &r.word_texts {
                        alts.extend(seq(w.split_whitespace().filter_map(word).collect()));
                    }
                }
            }
            Some(SlotList::Wildcard) => return GExpr::Free,
            None => {}
        }
        if alts.len() > MAX_LIST_VALUES {
            self.warnings.push(format!(
                "list {name} has {} values; only the first {MAX_LIST_VALUES} are in the grammar",
                alts.len()
            ));
            alts.truncate(MAX_LIST_VALUES);
        }
        alts.dedup();
        if alts.is_empty() {
            self.warnings.push(format!(
                "list {name} is empty; sentences using it cannot be decoded"
            ));
            return GExpr::Alt(vec![]);
        }
        factor(alts)
    }
}

/// A speakable word for the recogniser's dictionary: lower case, letters,
/// digits, apostrophes and inner hyphens; symbols such as `%` or `1/2` are
/// left out (speech yields their spoken alternatives instead).
fn word(w: &str) -> Option<GExpr> {
    let w = w
        .trim_matches(|c: char| c == '-' || c == '.')
        .to_lowercase();
    if w.is_empty()
        || !w
            .chars()
            .all(|c| c.is_alphanumeric() || c == '\'' || c == '-' || c == '.')
    {
        return None;
    }
    Some(GExpr::Word(w))
}

fn flatten<'n>(items: &'n [Node], out: &mut Vec<&'n Node>) {
    for item in items {
        match item {
            Node::Seq(inner) => flatten(inner, out),
            other => out.push(other),
        }
    }
}

fn seq(mut parts: Vec<GExpr>) -> Option<GExpr> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(GExpr::Seq(parts)),
    }
}

fn split_first(e: GExpr) -> (GExpr, Option<GExpr>) {
    match e {
        GExpr::Seq(mut parts) if !parts.is_empty() => {
            let first = parts.remove(0);
            (first, seq(parts))
        }
        other => (other, None),
    }
}

/// Merges alternatives that start with the same element (common prefixes).
pub(crate) fn factor(alts: Vec<GExpr>) -> GExpr {
    let mut groups: Vec<(GExpr, Vec<Option<GExpr>>)> = vec![];
    for alt in alts {
        let (first, rest) = split_first(alt);
        match groups.iter_mut().find(|(f, _)| *f == first) {
            Some((_, rests)) => {
                if !rests.contains(&rest) {
                    rests.push(rest);
                }
            }
            None => groups.push((first, vec![rest])),
        }
    }
    let mut out = vec![];
    for (first, rests) in groups {
        let ends_here = rests.iter().any(Option::is_none);
        let tails: Vec<GExpr> = rests.into_iter().flatten().collect();
        let tail = match tails.len() {
            0 => None,
            1 => tails.into_iter().next(),
            _ => Some(factor(tails)),
        };
        out.push(match (tail, ends_here) {
            (None, _) => first,
            (Some(t), false) => GExpr::Seq(vec![first, t]),
            (Some(t), true) => GExpr::Seq(vec![first, GExpr::Opt(Box::new(t))]),
        });
    }
    if out.len() == 1 {
        out.pop().expect("one")
    } else {
        GExpr::Alt(out)
    }
}

impl IntentEngine {
    /// The restricted-decoding grammar of all loaded intents and current lists.
    pub fn to_grammar(&self) -> Grammar {
        self.export_grammar().grammar
    }

    /// Like [`IntentEngine::to_grammar`], with warnings about approximations.
    pub fn export_grammar(&self) -> GrammarExport {
        let mut b = Builder {
            engine: self,
            rules: BTreeMap::new(),
            pending: vec![],
            seen: BTreeSet::new(),
            warnings: vec![],
        };
        let mut sentences = vec![];
        for s in &self.sentences {
            let table = self.data[s.data as usize].rules;
            if let Some(e) = b.conv(&s.node, table)
                && !sentences.contains(&e)
            {
                sentences.push(e);
            }
        }
        b.drain();
        let mut rules = vec![Rule {
            name: "command".into(),
            expr: factor(sentences),
        }];
        rules.extend(b.rules.into_iter().map(|(name, expr)| Rule { name, expr }));
        let mut warnings = b.warnings;
        warnings.sort();
        warnings.dedup();
        GrammarExport {
            grammar: Grammar {
                root: "command".into(),
                rules,
            },
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ListValue;

    const YAML: &str = r#"
language: en
intents:
  TurnOn:
    data:
      - sentences:
          - "turn on [the] {name}"
          - "turn on the batter(y|ies) in {area}"
  Shop:
    data:
      - sentences:
          - "add {item} to my list"
lists:
  area:
    values: [Kitchen, Living Room]
  item:
    wildcard: true
"#;

    #[test]
    fn exports_shared_lists_merged_prefixes_and_free_wildcards() {
        let mut engine = IntentEngine::from_yaml_str(YAML, "t.yaml", "en").unwrap();
        engine.set_list(
            "name",
            vec![ListValue::new("Ceiling Light", "light.ceiling")],
        );
        let export = engine.export_grammar();
        let g = &export.grammar;
        g.validate().unwrap();
        assert!(g.has_free());
        let root = &g.rule("command").unwrap().expr;
        // Both TurnOn templates share the "turn" prefix.
        let GExpr::Alt(alts) = root else {
            panic!("{root:?}")
        };
        assert_eq!(alts.len(), 2, "{alts:?}");
        assert!(g.rule("l_name").is_some() && g.rule("l_area").is_some());
        let words = g.words();
        assert!(
            words.contains("battery") && words.contains("batteries"),
            "{words:?}"
        );
        assert!(words.contains("ceiling") && words.contains("living"));
    }

    #[test]
    fn large_lists_are_capped_with_a_warning() {
        let mut engine = IntentEngine::from_yaml_str(YAML, "t.yaml", "en").unwrap();
        engine.set_list(
            "name",
            (0..MAX_LIST_VALUES + 5)
                .map(|i| ListValue::new(format!("lamp {i}"), "x"))
                .collect(),
        );
        let export = engine.export_grammar();
        assert!(
            export.warnings.iter().any(|w| w.contains("l_name")),
            "{:?}",
            export.warnings
        );
    }
}
