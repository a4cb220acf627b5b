//! The hassil template language: parsing a sentence template into an [`Expr`] tree.
//!
//! Syntax: `(a|b)` alternatives, `[a]` optional, `(a;b)` permutations (any
//! order), `{list}` / `{list:slot}` slot lists, `<rule>` expansion rules and
//! `\` escapes. Plain text between them is kept as written (whitespace
//! collapsed); the matcher treats each word of it as literal text.

use unicode_normalization::UnicodeNormalization;

/// A parsed template expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Literal text (may contain spaces, e.g. `"turn on "`).
    Text(String),
    /// Parts in order.
    Seq(Vec<Expr>),
    /// Exactly one of the parts; `optional` alternatives also match nothing.
    Alt {
        /// The choices, in template order.
        items: Vec<Expr>,
        /// True for `[…]`.
        optional: bool,
    },
    /// All parts in any order (`(a;b;c)`).
    Perm(Vec<Expr>),
    /// A slot list reference.
    List {
        /// The list's name.
        list: String,
        /// The slot it fills (same as the list unless `{list:slot}`).
        slot: String,
    },
    /// An expansion rule reference.
    Rule(String),
}

/// Why a template did not parse, with the character offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Character offset in the template.
    pub offset: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset)
    }
}

/// Longest template accepted, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 10_000;
/// Deepest bracket nesting accepted.
pub const MAX_DEPTH: usize = 100;

/// Parses one sentence template.
pub fn parse(template: &str) -> Result<Expr, ParseError> {
    let chars: Vec<char> = template.trim().chars().collect();
    if chars.len() > MAX_TEMPLATE_CHARS {
        return Err(ParseError {
            message: format!("template longer than {MAX_TEMPLATE_CHARS} characters"),
            offset: MAX_TEMPLATE_CHARS,
        });
    }
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
    };
    let expr = parser.group(None, 0)?;
    if parser.pos < chars.len() {
        return Err(parser.error(format!("unexpected {:?}", chars[parser.pos])));
    }
    Ok(expr)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: String) -> ParseError {
        ParseError {
            message,
            offset: self.pos,
        }
    }

    /// Parses items until `close` (or the end for the top level).
    fn group(&mut self, close: Option<char>, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("brackets nested deeper than {MAX_DEPTH}")));
        }
        let open_pos = self.pos.saturating_sub(1);
        let mut branches: Vec<Vec<Expr>> = vec![Vec::new()];
        let mut sep: Option<char> = None;
        let mut text = String::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                if let Some(close) = close {
                    let open = match close {
                        ')' => '(',
                        _ => '[',
                    };
                    return Err(ParseError {
                        message: format!("unbalanced {open:?}: no matching {close:?}"),
                        offset: open_pos,
                    });
                }
                break;
            };
            match c {
                '\\' => {
                    self.pos += 1;
                    let Some(&escaped) = self.chars.get(self.pos) else {
                        return Err(self.error("template ends with a lone '\\'".into()));
                    };
                    text.push(escaped);
                    self.pos += 1;
                }
                '(' | '[' => {
                    flush(&mut text, branches.last_mut().expect("one branch"));
                    self.pos += 1;
                    let inner = self.group(Some(if c == '(' { ')' } else { ']' }), depth + 1)?;
                    let item = if c == '[' {
                        let items = match inner {
                            Expr::Alt { items, .. } => items,
                            other => vec![other],
                        };
                        Expr::Alt {
                            items,
                            optional: true,
                        }
                    } else {
                        inner
                    };
                    branches.last_mut().expect("one branch").push(item);
                }
                ')' | ']' => {
                    if Some(c) != close {
                        return Err(self.error(format!("unbalanced {c:?}: nothing to close")));
                    }
                    self.pos += 1;
                    break;
                }
                '{' | '<' => {
                    flush(&mut text, branches.last_mut().expect("one branch"));
                    let end = if c == '{' { '}' } else { '>' };
                    let start = self.pos;
                    self.pos += 1;
                    let mut name = String::new();
                    loop {
                        match self.chars.get(self.pos) {
                            None => {
                                return Err(ParseError {
                                    message: format!("unbalanced {c:?}: no matching {end:?}"),
                                    offset: start,
                                });
                            }
                            Some('\\') => {
                                self.pos += 1;
                                if let Some(&e) = self.chars.get(self.pos) {
                                    name.push(e);
                                }
                                self.pos += 1;
                            }
                            Some(&ch) if ch == end => {
                                self.pos += 1;
                                break;
                            }
                            Some(&ch) if "()[]{}<>|;".contains(ch) => {
                                return Err(
                                    self.error(format!("unexpected {ch:?} inside {c}{end}"))
                                );
                            }
                            Some(&ch) => {
                                name.push(ch);
                                self.pos += 1;
                            }
                        }
                    }
                    let name = name.trim().to_string();
                    if name.is_empty() {
                        return Err(ParseError {
                            message: format!("empty {c}{end}"),
                            offset: start,
                        });
                    }
                    let item = if c == '{' {
                        let (list, slot) = match name.split_once(':') {
                            Some((l, s)) => (l.trim().to_string(), s.trim().to_string()),
                            None => (name.clone(), name.clone()),
                        };
                        if list.is_empty() || slot.is_empty() {
                            return Err(ParseError {
                                message: format!("bad list reference {{{name}}}"),
                                offset: start,
                            });
                        }
                        Expr::List { list, slot }
                    } else {
                        Expr::Rule(name)
                    };
                    branches.last_mut().expect("one branch").push(item);
                }
                '}' | '>' => {
                    return Err(self.error(format!("unbalanced {c:?}: nothing to close")));
                }
                '|' | ';' => {
                    if sep.is_some_and(|s| s != c) {
                        return Err(self.error(
                            "'|' and ';' mixed in one group; wrap one of them in ( )".into(),
                        ));
                    }
                    sep = Some(c);
                    flush(&mut text, branches.last_mut().expect("one branch"));
                    branches.push(Vec::new());
                    self.pos += 1;
                }
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        flush(&mut text, branches.last_mut().expect("one branch"));
        let mut seqs: Vec<Expr> = branches.into_iter().map(seq).collect();
        Ok(match sep {
            None => seqs.pop().expect("one branch"),
            Some('|') => Expr::Alt {
                items: seqs,
                optional: false,
            },
            Some(_) => Expr::Perm(seqs),
        })
    }
}

fn flush(text: &mut String, into: &mut Vec<Expr>) {
    if !text.is_empty() {
        into.push(Expr::Text(normalize_template_text(text)));
        text.clear();
    }
}

fn seq(mut items: Vec<Expr>) -> Expr {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        Expr::Seq(items)
    }
}

/// Collapses whitespace runs to one space and applies NFC, as hassil does.
pub fn normalize_template_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.nfc() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// True if `text` uses template syntax (hassil treats such list values as templates).
pub fn is_template(text: &str) -> bool {
    text.chars().any(|c| "(){}<>[]|".contains(c))
}

/// Visits every list and rule name an expression uses.
pub fn visit_refs(expr: &Expr, f: &mut dyn FnMut(&Expr)) {
    match expr {
        Expr::Text(_) => {}
        Expr::Seq(items) | Expr::Perm(items) | Expr::Alt { items, .. } => {
            for item in items {
                visit_refs(item, f);
            }
        }
        Expr::List { .. } | Expr::Rule(_) => f(expr),
    }
}

/// All texts a template without lists or rules can stand for (at most `cap`),
/// in template order. List and rule references expand to nothing.
pub fn expand(expr: &Expr, cap: usize) -> Vec<String> {
    match expr {
        Expr::Text(s) => vec![s.clone()],
        Expr::List { .. } | Expr::Rule(_) => vec![String::new()],
        Expr::Seq(items) => {
            let mut acc = vec![String::new()];
            for item in items {
                let parts = expand(item, cap);
                let mut next = Vec::new();
                'outer: for a in &acc {
                    for p in &parts {
                        if next.len() >= cap {
                            break 'outer;
                        }
                        next.push(format!("{a}{p}"));
                    }
                }
                acc = next;
            }
            acc
        }
        Expr::Alt { items, optional } => {
            let mut out: Vec<String> = items
                .iter()
                .flat_map(|i| expand(i, cap))
                .take(cap)
                .collect();
            if *optional && out.len() < cap {
                out.push(String::new());
            }
            out
        }
        Expr::Perm(items) => {
            // Template order only; enough for names.
            let seq = Expr::Seq(
                items
                    .iter()
                    .flat_map(|i| [i.clone(), Expr::Text(" ".into())])
                    .collect(),
            );
            expand(&seq, cap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Expr {
        Expr::Text(s.into())
    }

    #[test]
    fn parses_the_full_syntax() {
        let e = parse("turn (on|off) [the] {area} <light>").unwrap();
        assert_eq!(
            e,
            Expr::Seq(vec![
                t("turn "),
                Expr::Alt {
                    items: vec![t("on"), t("off")],
                    optional: false
                },
                t(" "),
                Expr::Alt {
                    items: vec![t("the")],
                    optional: true
                },
                t(" "),
                Expr::List {
                    list: "area".into(),
                    slot: "area".into()
                },
                t(" "),
                Expr::Rule("light".into()),
            ])
        );
        assert_eq!(
            parse("{brightness:level}").unwrap(),
            Expr::List {
                list: "brightness".into(),
                slot: "level".into()
            }
        );
        assert_eq!(parse("(a;b)").unwrap(), Expr::Perm(vec![t("a"), t("b")]));
        assert_eq!(parse(r"what\(s\)").unwrap(), t("what(s)"));
        assert_eq!(
            parse("(a|)").unwrap(),
            Expr::Alt {
                items: vec![t("a"), Expr::Seq(vec![])],
                optional: false
            }
        );
    }

    #[test]
    fn rejects_malformed_templates_with_offsets() {
        for (bad, needle) in [
            ("turn (on", "unbalanced '('"),
            ("turn on)", "unbalanced ')'"),
            ("[the", "unbalanced '['"),
            ("{area", "unbalanced '{'"),
            ("<rule", "unbalanced '<'"),
            ("{}", "empty {}"),
            ("a}", "unbalanced '}'"),
            ("(a|b;c)", "mixed"),
            ("x\\", "lone"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.message.contains(needle), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "[a-z ()\\[\\]{}<>|;:\\\\]{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn plain_text_round_trips(s in "[a-z]{1,8}( [a-z]{1,8}){0,4}") {
            proptest::prop_assert_eq!(parse(&s).unwrap(), Expr::Text(s.clone()));
        }
    }
}
