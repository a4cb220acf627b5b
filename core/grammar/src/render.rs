//! Checking a [`Grammar`] and rendering it for the speech engines: JSGF for
//! PocketSphinx, a phrase list (or a word list) for Vosk.

use std::collections::{BTreeSet, HashSet};

use crate::{Expr, Grammar};

/// Why a [`Grammar`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// The root rule is not among the rules.
    #[error("grammar root rule `{0}` is not defined; add a rule with that name")]
    MissingRoot(String),
    /// A rule references a rule that does not exist.
    #[error("rule `{rule}` refers to undefined rule `{missing}`")]
    UndefinedRule {
        /// The rule containing the reference.
        rule: String,
        /// The name that is not defined.
        missing: String,
    },
    /// Two rules share a name.
    #[error("rule `{0}` is defined twice; rule names must be unique")]
    DuplicateRule(String),
    /// A rule name has characters outside `[A-Za-z0-9_]`.
    #[error("rule name `{0}` is invalid; use only letters, digits and `_`")]
    BadRuleName(String),
    /// A word is empty or contains whitespace or characters engines cannot take.
    #[error(
        "word {word:?} in rule `{rule}` is invalid; a word is one token without spaces, quotes, backslashes or JSGF punctuation"
    )]
    BadWord {
        /// The rule containing the word.
        rule: String,
        /// The offending word.
        word: String,
    },
    /// A JSGF source could not be parsed.
    #[error("jsgf line {line}: {message}")]
    Jsgf {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// Rules reference each other in a cycle.
    #[error(
        "rule `{0}` refers to itself (directly or through other rules); recursive grammars are not supported"
    )]
    Recursive(String),
    /// A JSON grammar source is neither a phrase list nor the structured form.
    #[error(
        "neither a JSON list of phrases nor an emma grammar ({{\"root\": …, \"rules\": […]}}): {0}"
    )]
    Json(String),
    /// A phrase list has no phrases.
    #[error("the phrase list is empty")]
    EmptyPhraseList,
}

impl Grammar {
    /// Checks rule names, references, words and the absence of recursion.
    pub fn validate(&self) -> Result<(), GrammarError> {
        let mut names = HashSet::new();
        for rule in &self.rules {
            if rule.name.is_empty()
                || !rule
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(GrammarError::BadRuleName(rule.name.clone()));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(GrammarError::DuplicateRule(rule.name.clone()));
            }
        }
        if !names.contains(self.root.as_str()) {
            return Err(GrammarError::MissingRoot(self.root.clone()));
        }
        for rule in &self.rules {
            check_expr(&rule.name, &rule.expr, &names)?;
        }
        for rule in &self.rules {
            let mut stack = vec![rule.name.as_str()];
            self.check_cycle(&rule.expr, &mut stack)?;
        }
        Ok(())
    }

    fn check_cycle<'a>(
        &'a self,
        expr: &'a Expr,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), GrammarError> {
        match expr {
            Expr::Word(_) | Expr::Free => Ok(()),
            Expr::Seq(parts) | Expr::Alt(parts) => {
                parts.iter().try_for_each(|p| self.check_cycle(p, stack))
            }
            Expr::Opt(inner) => self.check_cycle(inner, stack),
            Expr::Rule(name) => {
                if stack.contains(&name.as_str()) {
                    return Err(GrammarError::Recursive(name.clone()));
                }
                let Some(rule) = self.rule(name) else {
                    return Ok(());
                };
                stack.push(name);
                let result = self.check_cycle(&rule.expr, stack);
                stack.pop();
                result
            }
        }
    }

    /// Every distinct word the grammar can produce, sorted.
    pub fn words(&self) -> BTreeSet<String> {
        fn collect(expr: &Expr, out: &mut BTreeSet<String>) {
            match expr {
                Expr::Word(w) => {
                    out.insert(w.clone());
                }
                Expr::Seq(p) | Expr::Alt(p) => p.iter().for_each(|e| collect(e, out)),
                Expr::Opt(e) => collect(e, out),
                Expr::Rule(_) | Expr::Free => {}
            }
        }
        let mut out = BTreeSet::new();
        for rule in &self.rules {
            collect(&rule.expr, &mut out);
        }
        out
    }

    /// Whether any reachable rule contains [`Expr::Free`].
    pub fn has_free(&self) -> bool {
        fn any_free(g: &Grammar, e: &Expr, depth: usize) -> bool {
            if depth > 64 {
                return false;
            }
            match e {
                Expr::Free => true,
                Expr::Word(_) => false,
                Expr::Seq(p) | Expr::Alt(p) => p.iter().any(|e| any_free(g, e, depth + 1)),
                Expr::Opt(e) => any_free(g, e, depth + 1),
                Expr::Rule(n) => g.rule(n).is_some_and(|r| any_free(g, &r.expr, depth + 1)),
            }
        }
        self.rule(&self.root)
            .is_some_and(|r| any_free(self, &r.expr, 0))
    }

    /// All phrases the root rule accepts, if there are at most `limit` of them
    /// and the grammar has no [`Expr::Free`] span; `None` otherwise.
    ///
    /// Call [`Grammar::validate`] first; an invalid grammar yields `None`.
    pub fn phrases(&self, limit: usize) -> Option<Vec<String>> {
        if self.validate().is_err() || self.has_free() {
            return None;
        }
        let root = self.rule(&self.root)?;
        let expanded = self.expand(&root.expr, limit)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for words in expanded {
            let phrase = words.join(" ");
            if !phrase.is_empty() && seen.insert(phrase.clone()) {
                out.push(phrase);
            }
        }
        Some(out)
    }

    fn expand(&self, expr: &Expr, limit: usize) -> Option<Vec<Vec<String>>> {
        match expr {
            Expr::Word(w) => Some(vec![vec![w.clone()]]),
            Expr::Free => None,
            Expr::Rule(name) => self.expand(&self.rule(name)?.expr, limit),
            Expr::Opt(inner) => {
                let mut v = vec![Vec::new()];
                v.extend(self.expand(inner, limit)?);
                (v.len() <= limit).then_some(v)
            }
            Expr::Alt(parts) => {
                let mut v = Vec::new();
                for p in parts {
                    v.extend(self.expand(p, limit)?);
                    if v.len() > limit {
                        return None;
                    }
                }
                Some(v)
            }
            Expr::Seq(parts) => {
                let mut acc: Vec<Vec<String>> = vec![Vec::new()];
                for p in parts {
                    let next = self.expand(p, limit)?;
                    if acc.len().saturating_mul(next.len()) > limit {
                        return None;
                    }
                    let mut combined = Vec::with_capacity(acc.len() * next.len());
                    for a in &acc {
                        for n in &next {
                            let mut c = a.clone();
                            c.extend(n.iter().cloned());
                            combined.push(c);
                        }
                    }
                    acc = combined;
                }
                Some(acc)
            }
        }
    }

    /// Renders the grammar as a JSGF 1.0 grammar named `emma` whose public
    /// rule is the root. [`Expr::Free`] becomes `<NULL>` (matches nothing
    /// extra): JSGF has no wildcard, so callers wanting open text should
    /// decode freely instead.
    pub fn to_jsgf(&self) -> Result<String, GrammarError> {
        self.validate()?;
        let mut out = String::from("#JSGF V1.0;\ngrammar emma;\n");
        for rule in &self.rules {
            let visibility = if rule.name == self.root {
                "public "
            } else {
                ""
            };
            out.push_str(&format!(
                "{visibility}<{}> = {};\n",
                rule.name,
                jsgf_expr(&rule.expr)
            ));
        }
        Ok(out)
    }
}

fn check_expr(rule: &str, expr: &Expr, names: &HashSet<&str>) -> Result<(), GrammarError> {
    match expr {
        Expr::Word(w) => {
            let bad = w.is_empty()
                || w.chars().any(|c| {
                    c.is_whitespace()
                        || c.is_control()
                        || matches!(
                            c,
                            '"' | '\\'
                                | ';'
                                | '<'
                                | '>'
                                | '='
                                | '|'
                                | '*'
                                | '+'
                                | '('
                                | ')'
                                | '['
                                | ']'
                                | '{'
                                | '}'
                                | '/'
                        )
                });
            if bad {
                return Err(GrammarError::BadWord {
                    rule: rule.to_owned(),
                    word: w.clone(),
                });
            }
            Ok(())
        }
        Expr::Seq(p) | Expr::Alt(p) => p.iter().try_for_each(|e| check_expr(rule, e, names)),
        Expr::Opt(e) => check_expr(rule, e, names),
        Expr::Rule(name) => {
            if names.contains(name.as_str()) {
                Ok(())
            } else {
                Err(GrammarError::UndefinedRule {
                    rule: rule.to_owned(),
                    missing: name.clone(),
                })
            }
        }
        Expr::Free => Ok(()),
    }
}

fn jsgf_expr(expr: &Expr) -> String {
    match expr {
        Expr::Word(w) => w.clone(),
        Expr::Seq(p) if p.is_empty() => "<NULL>".to_owned(),
        Expr::Alt(p) if p.is_empty() => "<VOID>".to_owned(),
        Expr::Seq(p) => format!(
            "({})",
            p.iter().map(jsgf_expr).collect::<Vec<_>>().join(" ")
        ),
        Expr::Alt(p) => format!(
            "({})",
            p.iter().map(jsgf_expr).collect::<Vec<_>>().join(" | ")
        ),
        Expr::Opt(e) => format!("[{}]", jsgf_expr(e)),
        Expr::Rule(n) => format!("<{n}>"),
        Expr::Free => "<NULL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Expr, Grammar, Rule};

    use super::GrammarError;

    fn lights() -> Grammar {
        Grammar {
            root: "cmd".into(),
            rules: vec![
                Rule {
                    name: "cmd".into(),
                    expr: Expr::Seq(vec![
                        Expr::Alt(vec![Expr::Word("open".into()), Expr::Word("close".into())]),
                        Expr::Opt(Box::new(Expr::Word("the".into()))),
                        Expr::Rule("thing".into()),
                    ]),
                },
                Rule {
                    name: "thing".into(),
                    expr: Expr::Alt(vec![Expr::Word("door".into()), Expr::Word("window".into())]),
                },
            ],
        }
    }

    #[test]
    fn jsgf_has_public_root_and_all_rules() {
        let jsgf = lights().to_jsgf().unwrap();
        assert_eq!(
            jsgf,
            "#JSGF V1.0;\ngrammar emma;\npublic <cmd> = ((open | close) [the] <thing>);\n<thing> = (door | window);\n"
        );
    }

    #[test]
    fn phrases_expand_all_combinations() {
        let phrases = lights().phrases(100).unwrap();
        assert_eq!(phrases.len(), 8);
        assert!(phrases.contains(&"open the door".to_owned()));
        assert!(phrases.contains(&"close window".to_owned()));
        assert_eq!(lights().phrases(7), None);
    }

    #[test]
    fn words_are_collected() {
        let words: Vec<_> = lights().words().into_iter().collect();
        assert_eq!(words, ["close", "door", "open", "the", "window"]);
    }

    #[test]
    fn invalid_grammars_are_named() {
        let mut g = lights();
        g.root = "nope".into();
        assert_eq!(g.validate(), Err(GrammarError::MissingRoot("nope".into())));
        let mut g = lights();
        g.rules[1].expr = Expr::Rule("cmd".into());
        assert!(matches!(g.validate(), Err(GrammarError::Recursive(_))));
        let mut g = lights();
        g.rules[1].expr = Expr::Word("a b".into());
        let err = g.validate().unwrap_err();
        assert!(err.to_string().contains("\"a b\""), "{err}");
        let mut g = lights();
        g.rules[0].expr = Expr::Rule("missing".into());
        assert!(err_contains(g.validate(), "missing"));
    }

    fn err_contains(r: Result<(), GrammarError>, s: &str) -> bool {
        r.is_err_and(|e| e.to_string().contains(s))
    }

    #[test]
    fn from_phrases_round_trips() {
        let g = Grammar::from_phrases(&["Turn On", "stop"]);
        assert_eq!(g.phrases(10).unwrap(), ["turn on", "stop"]);
        assert!(!g.has_free());
    }

    #[test]
    fn serde_form_is_stable() {
        let g = Grammar::from_phrases(&["stop"]);
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(
            json,
            r#"{"root":"command","rules":[{"name":"command","expr":{"alt":[{"seq":[{"word":"stop"}]}]}}]}"#
        );
    }
}
