//! Walking a [`Grammar`] word by word: prefixes, completions, nearest
//! sentences, and pruning the words a speech model cannot pronounce.
//!
//! The recovery steps of [`super::Understander`] use it to finish a cut-off
//! command and to find the grammar sentence nearest to a misheard one.

use std::collections::{HashMap, HashSet};

use emma_grammar::Expr;
use emma_grammar::Grammar;

/// Most parse states kept per word.
const MAX_STATES: usize = 20_000;
/// Deepest rule nesting followed.
const MAX_DEPTH: usize = 64;

/// A position in the grammar: the expressions still to match, next on top.
type Stack<'g> = Vec<&'g Expr>;

fn key(stack: &Stack<'_>) -> Vec<usize> {
    stack.iter().map(|e| *e as *const Expr as usize).collect()
}

/// What can come next from a position.
enum Next<'g> {
    /// The sentence may end here.
    End,
    /// This word, then the rest.
    Word(&'g str, Stack<'g>),
    /// Any word (a free-text span), then the rest (which still has the span on top).
    Any(Stack<'g>),
}

/// A grammar prepared for walking.
pub struct Walker<'g> {
    rules: HashMap<&'g str, &'g Expr>,
    root: Option<&'g Expr>,
}

/// Which word edits [`Walker::align_with`] may make, each costing one.
pub struct Edits<'a> {
    /// Whether a heard word may be extra, and a grammar word skipped.
    pub indels: bool,
    /// Whether the heard word (second) may stand for the grammar word (first).
    pub swap: &'a dyn Fn(&str, &str) -> bool,
}

impl Edits<'_> {
    /// Insertions, deletions and any substitution.
    pub const ANY: Edits<'static> = Edits {
        indels: true,
        swap: &|_, _| true,
    };
}

impl<'g> Walker<'g> {
    /// Prepares `grammar`.
    pub fn new(grammar: &'g Grammar) -> Self {
        let rules: HashMap<&str, &Expr> = grammar
            .rules
            .iter()
            .map(|r| (r.name.as_str(), &r.expr))
            .collect();
        let root = rules.get(grammar.root.as_str()).copied();
        Walker { rules, root }
    }

    fn next(&self, mut stack: Stack<'g>, depth: usize, out: &mut Vec<Next<'g>>) {
        if depth > MAX_DEPTH {
            return;
        }
        let Some(top) = stack.pop() else {
            out.push(Next::End);
            return;
        };
        match top {
            Expr::Word(w) => out.push(Next::Word(w, stack)),
            Expr::Seq(parts) => {
                stack.extend(parts.iter().rev());
                self.next(stack, depth + 1, out);
            }
            Expr::Alt(parts) => {
                for p in parts {
                    let mut s = stack.clone();
                    s.push(p);
                    self.next(s, depth + 1, out);
                }
            }
            Expr::Opt(inner) => {
                self.next(stack.clone(), depth + 1, out);
                stack.push(inner);
                self.next(stack, depth + 1, out);
            }
            Expr::Rule(name) => {
                if let Some(e) = self.rules.get(name.as_str()) {
                    stack.push(e);
                    self.next(stack, depth + 1, out);
                }
            }
            Expr::Free => {
                self.next(stack.clone(), depth + 1, out);
                stack.push(top);
                out.push(Next::Any(stack));
            }
        }
    }

    fn expand(&self, stack: &Stack<'g>) -> Vec<Next<'g>> {
        let mut out = vec![];
        self.next(stack.clone(), 0, &mut out);
        out
    }

    fn start(&self) -> Vec<Stack<'g>> {
        self.root.map(|r| vec![vec![r]]).unwrap_or_default()
    }

    /// Positions after reading `words` exactly (empty: not a prefix of any sentence).
    fn prefix(&self, words: &[&str]) -> Vec<Stack<'g>> {
        let mut states = self.start();
        for word in words {
            let mut seen = HashSet::new();
            let mut next = vec![];
            for s in &states {
                for n in self.expand(s) {
                    let rest = match n {
                        Next::Word(w, rest) if w.eq_ignore_ascii_case(word) => rest,
                        Next::Any(rest) => rest,
                        _ => continue,
                    };
                    if next.len() < MAX_STATES && seen.insert(key(&rest)) {
                        next.push(rest);
                    }
                }
            }
            states = next;
            if states.is_empty() {
                break;
            }
        }
        states
    }

    /// Shortest ways to finish a sentence that starts with `words` (the
    /// whole sentences, at most `limit`; none when `words` is complete or
    /// not a prefix).
    pub fn complete(&self, words: &[&str], limit: usize) -> Vec<Vec<String>> {
        let states = self.prefix(words);
        let mut out = vec![];
        if states
            .iter()
            .any(|s| self.expand(s).iter().any(|n| matches!(n, Next::End)))
        {
            return out;
        }
        let base: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let mut frontier: Vec<(Stack<'g>, Vec<String>)> =
            states.into_iter().map(|s| (s, vec![])).collect();
        for _ in 0..12 {
            let mut seen = HashSet::new();
            let mut next = vec![];
            for (s, added) in &frontier {
                for n in self.expand(s) {
                    match n {
                        Next::End => {
                            if !added.is_empty() && out.len() < limit {
                                let mut full = base.clone();
                                full.extend(added.iter().cloned());
                                if !out.contains(&full) {
                                    out.push(full);
                                }
                            }
                        }
                        Next::Word(w, rest) => {
                            // Different words into the same state are different completions.
                            let mut a = added.clone();
                            a.push(w.to_owned());
                            if next.len() < MAX_STATES && seen.insert((key(&rest), a.clone())) {
                                next.push((rest, a));
                            }
                        }
                        Next::Any(_) => {}
                    }
                }
            }
            if out.len() >= limit || next.is_empty() {
                break;
            }
            frontier = next;
        }
        out
    }

    /// The grammar sentence nearest to `words` with at most `max_edits`
    /// word insertions, deletions and substitutions, and its edit count.
    pub fn align(&self, words: &[&str], max_edits: u32) -> Option<(Vec<String>, u32)> {
        self.align_with(words, max_edits, &Edits::ANY)
    }

    /// Like [`Walker::align`], with only the edits `edits` allows.
    pub fn align_with(
        &self,
        words: &[&str],
        max_edits: u32,
        edits: &Edits<'_>,
    ) -> Option<(Vec<String>, u32)> {
        #[derive(Clone)]
        struct St<'g> {
            stack: Stack<'g>,
            cost: u32,
            out: Vec<String>,
        }
        let keep = |states: Vec<St<'g>>| -> Vec<St<'g>> {
            // One state per grammar position (the cheapest), kept in the order the
            // positions first appear — which follows the grammar — so that ties in
            // cost resolve the same way on every run (positions are keyed by
            // address, whose order changes from run to run).
            let mut slot: HashMap<Vec<usize>, usize> = HashMap::new();
            let mut kept: Vec<St<'g>> = Vec::new();
            for s in states {
                if s.cost > max_edits {
                    continue;
                }
                match slot.get(&key(&s.stack)) {
                    Some(&i) if kept[i].cost <= s.cost => {}
                    Some(&i) => kept[i] = s,
                    None => {
                        slot.insert(key(&s.stack), kept.len());
                        kept.push(s);
                    }
                }
            }
            // Stable: equal costs keep their grammar order.
            kept.sort_by_key(|s| s.cost);
            kept.truncate(MAX_STATES / 4);
            kept
        };
        // Grammar words the speaker skipped (deletions), each costing one edit.
        let close = |states: Vec<St<'g>>| -> Vec<St<'g>> {
            if !edits.indels {
                return states;
            }
            let mut all = states.clone();
            let mut frontier = states;
            for _ in 0..max_edits {
                let mut next = vec![];
                for s in &frontier {
                    for n in self.expand(&s.stack) {
                        if let Next::Word(w, rest) = n {
                            let mut out = s.out.clone();
                            out.push(w.to_owned());
                            next.push(St {
                                stack: rest,
                                cost: s.cost + 1,
                                out,
                            });
                        }
                    }
                }
                let next = keep(next);
                if next.is_empty() {
                    break;
                }
                all.extend(next.iter().cloned());
                frontier = next;
            }
            keep(all)
        };
        let mut states = close(
            self.start()
                .into_iter()
                .map(|stack| St {
                    stack,
                    cost: 0,
                    out: vec![],
                })
                .collect(),
        );
        for word in words {
            let mut next = vec![];
            for s in &states {
                // The word is extra (inserted by the recogniser).
                if edits.indels {
                    next.push(St {
                        cost: s.cost + 1,
                        ..s.clone()
                    });
                }
                for n in self.expand(&s.stack) {
                    let (rest, spoken, cost) = match n {
                        Next::Word(w, rest) if w.eq_ignore_ascii_case(word) => {
                            (rest, w.to_owned(), 0)
                        }
                        Next::Word(w, rest) if (edits.swap)(w, word) => (rest, w.to_owned(), 1),
                        Next::Word(..) => continue,
                        Next::Any(rest) => (rest, (*word).to_owned(), 0),
                        Next::End => continue,
                    };
                    let mut out = s.out.clone();
                    out.push(spoken);
                    next.push(St {
                        stack: rest,
                        cost: s.cost + cost,
                        out,
                    });
                }
            }
            states = close(keep(next));
            if states.is_empty() {
                return None;
            }
        }
        states
            .into_iter()
            .filter(|s| {
                !s.out.is_empty() && self.expand(&s.stack).iter().any(|n| matches!(n, Next::End))
            })
            .min_by_key(|s| s.cost)
            .map(|s| (s.out, s.cost))
    }
}

/// `grammar` without the alternatives that need one of `unknown`; `None`
/// when nothing is left.
pub fn prune(grammar: &Grammar, unknown: &[String]) -> Option<Grammar> {
    let unknown: HashSet<&str> = unknown.iter().map(String::as_str).collect();
    let mut rules: Vec<emma_grammar::Rule> = grammar.rules.clone();
    // Rules left empty make the expressions that use them impossible too.
    let mut dead: HashSet<String> = HashSet::new();
    loop {
        let mut changed = false;
        for r in &mut rules {
            if dead.contains(&r.name) {
                continue;
            }
            match prune_expr(&r.expr, &unknown, &dead) {
                Ok(Some(e)) => r.expr = e,
                Ok(None) | Err(()) => {
                    dead.insert(r.name.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    if dead.contains(&grammar.root) {
        return None;
    }
    rules.retain(|r| !dead.contains(&r.name));
    Some(Grammar {
        root: grammar.root.clone(),
        rules,
    })
}

/// `Err`: the expression cannot be spoken any more; `Ok(None)`: only silence is left.
fn prune_expr(
    e: &Expr,
    unknown: &HashSet<&str>,
    dead: &HashSet<String>,
) -> Result<Option<Expr>, ()> {
    Ok(Some(match e {
        Expr::Word(w) if unknown.contains(w.as_str()) => return Err(()),
        Expr::Word(_) | Expr::Free => e.clone(),
        Expr::Rule(name) if dead.contains(name) => return Err(()),
        Expr::Rule(_) => e.clone(),
        Expr::Seq(parts) => {
            let mut kept = vec![];
            for p in parts {
                kept.extend(prune_expr(p, unknown, dead)?);
            }
            match kept.len() {
                0 => return Ok(None),
                1 => kept.pop().expect("one"),
                _ => Expr::Seq(kept),
            }
        }
        Expr::Alt(parts) => {
            let mut kept = vec![];
            let mut silent = false;
            for p in parts {
                match prune_expr(p, unknown, dead) {
                    Ok(Some(e)) => kept.push(e),
                    Ok(None) => silent = true,
                    Err(()) => {}
                }
            }
            let alt = match kept.len() {
                0 if silent => return Ok(None),
                0 => return Err(()),
                1 => kept.pop().expect("one"),
                _ => Expr::Alt(kept),
            };
            if silent {
                Expr::Opt(Box::new(alt))
            } else {
                alt
            }
        }
        Expr::Opt(inner) => match prune_expr(inner, unknown, dead) {
            Ok(Some(i)) => Expr::Opt(Box::new(i)),
            Ok(None) | Err(()) => return Ok(None),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use emma_grammar::Rule;

    fn w(s: &str) -> Expr {
        Expr::Word(s.into())
    }

    /// "(give me|make me) [a] (large|twelve ounce) <drink> [please]" and "never mind".
    fn grammar() -> Grammar {
        let order = Expr::Seq(vec![
            Expr::Alt(vec![
                Expr::Seq(vec![w("give"), w("me")]),
                Expr::Seq(vec![w("make"), w("me")]),
            ]),
            Expr::Opt(Box::new(w("a"))),
            Expr::Opt(Box::new(Expr::Alt(vec![
                w("large"),
                Expr::Seq(vec![w("twelve"), w("ounce")]),
            ]))),
            Expr::Rule("drink".into()),
            Expr::Opt(Box::new(w("please"))),
        ]);
        Grammar {
            root: "command".into(),
            rules: vec![
                Rule {
                    name: "command".into(),
                    expr: Expr::Alt(vec![order, Expr::Seq(vec![w("never"), w("mind")])]),
                },
                Rule {
                    name: "drink".into(),
                    expr: Expr::Alt(vec![
                        w("latte"),
                        w("mocha"),
                        Expr::Seq(vec![w("flat"), w("white")]),
                    ]),
                },
            ],
        }
    }

    #[test]
    fn completes_a_cut_off_command_with_the_shortest_endings() {
        let g = grammar();
        let walker = Walker::new(&g);
        let done = walker.complete(&["give", "me", "a", "large"], 10);
        let texts: Vec<String> = done.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            texts,
            [
                "give me a large latte",
                "give me a large mocha",
                "give me a large latte please",
                "give me a large mocha please",
                "give me a large flat white",
                "give me a large flat white please"
            ]
        );
        assert!(
            walker
                .complete(&["give", "me", "a", "latte"], 10)
                .is_empty(),
            "complete already"
        );
        assert!(
            walker.complete(&["order", "a"], 10).is_empty(),
            "not a prefix"
        );
    }

    #[test]
    fn aligns_to_the_nearest_sentence_within_the_edit_budget() {
        let g = grammar();
        let walker = Walker::new(&g);
        let (s, edits) = walker
            .align(&["give", "me", "the", "large", "latte"], 2)
            .unwrap();
        // "the" is either extra or a misheard "a": one edit either way.
        assert_eq!(edits, 1);
        let s = s.join(" ");
        assert!(
            ["give me a large latte", "give me large latte"].contains(&s.as_str()),
            "{s}"
        );
        let (s, edits) = walker
            .align(&["me", "large", "mocha", "please"], 2)
            .unwrap();
        assert_eq!(
            (s.join(" "), edits),
            ("give me large mocha please".into(), 1)
        );
        assert!(walker.align(&["what", "time", "is", "it"], 1).is_none());
    }

    #[test]
    fn restricted_edits_only_swap_the_words_allowed() {
        let g = grammar();
        let walker = Walker::new(&g);
        let alike = |grammar: &str, heard: &str| (grammar, heard) == ("give", "live");
        let only_swaps = Edits {
            indels: false,
            swap: &alike,
        };
        let (s, edits) = walker
            .align_with(&["live", "me", "a", "large", "latte"], 2, &only_swaps)
            .unwrap();
        assert_eq!((s.join(" "), edits), ("give me a large latte".into(), 1));
        // Any edit would do it, but this one is not allowed: a swap of "dive".
        assert!(
            walker
                .align_with(&["dive", "me", "a", "large", "latte"], 2, &only_swaps)
                .is_none()
        );
        // Nor is skipping a word or an extra one.
        assert!(
            walker
                .align_with(&["me", "a", "large", "latte"], 2, &only_swaps)
                .is_none()
        );
        assert!(walker.align(&["me", "a", "large", "latte"], 2).is_some());
    }

    #[test]
    fn pruning_drops_only_the_alternatives_with_unknown_words() {
        let g = grammar();
        let pruned = prune(&g, &["twelve".into(), "latte".into()]).unwrap();
        let words = pruned.words();
        assert!(!words.contains("twelve") && !words.contains("ounce") && !words.contains("latte"));
        assert!(words.contains("mocha") && words.contains("large") && words.contains("mind"));
        assert!(prune(&g, &["give".into(), "make".into(), "never".into()]).is_none());
    }
}
