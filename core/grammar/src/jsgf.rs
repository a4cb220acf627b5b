//! Reading JSGF (the subset [`Grammar::to_jsgf`] writes, plus comments,
//! weights and tags, which are ignored) into a [`Grammar`].

use crate::{Expr, Grammar, GrammarError, Rule};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    RuleRef(String),
    Sym(char),
}

fn err(line: usize, message: impl Into<String>) -> GrammarError {
    GrammarError::Jsgf {
        line,
        message: message.into(),
    }
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, GrammarError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err(line, "unterminated /* comment"));
                }
                i += 2;
            }
            '/' => {
                // A weight like /10/: skipped.
                let start = line;
                i += 1;
                while i < chars.len() && chars[i] != '/' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err(start, "unterminated /weight/"));
                }
                i += 1;
            }
            '{' => {
                // A tag: skipped.
                let start = line;
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err(start, "unterminated {tag}"));
                }
                i += 1;
            }
            '<' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '>')
                    .ok_or_else(|| err(line, "unterminated <rule> reference"))?;
                out.push((Tok::RuleRef(chars[i + 1..i + end].iter().collect()), line));
                i += end + 1;
            }
            '#' => {
                // The `#JSGF V1.0 …;` header.
                while i < chars.len() && chars[i] != ';' {
                    i += 1;
                }
                i += 1;
            }
            '=' | ';' | '|' | '(' | ')' | '[' | ']' | '*' | '+' => {
                out.push((Tok::Sym(c), line));
                i += 1;
            }
            '"' => {
                return Err(err(
                    line,
                    "quoted tokens are not supported; write plain words",
                ));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"=;|()[]*+<>{}/\"".contains(chars[i])
                {
                    i += 1;
                }
                out.push((
                    Tok::Word(chars[start..i].iter().collect::<String>().to_lowercase()),
                    line,
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |(_, l)| *l)
    }

    fn expect(&mut self, c: char) -> Result<(), GrammarError> {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(self.line(), format!("expected `{c}`")))
        }
    }

    fn alternatives(&mut self) -> Result<Expr, GrammarError> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some(&Tok::Sym('|')) {
            self.pos += 1;
            alts.push(self.sequence()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Expr::Alt(alts)
        })
    }

    fn sequence(&mut self) -> Result<Expr, GrammarError> {
        let mut items = Vec::new();
        loop {
            let item = match self.peek().cloned() {
                Some(Tok::Word(w)) => {
                    self.pos += 1;
                    Expr::Word(w)
                }
                Some(Tok::RuleRef(r)) => {
                    self.pos += 1;
                    match r.as_str() {
                        "NULL" => Expr::Seq(Vec::new()),
                        "VOID" => Expr::Alt(Vec::new()),
                        _ => Expr::Rule(r),
                    }
                }
                Some(Tok::Sym('(')) => {
                    self.pos += 1;
                    let e = self.alternatives()?;
                    self.expect(')')?;
                    e
                }
                Some(Tok::Sym('[')) => {
                    self.pos += 1;
                    let e = self.alternatives()?;
                    self.expect(']')?;
                    Expr::Opt(Box::new(e))
                }
                _ => break,
            };
            if matches!(self.peek(), Some(Tok::Sym('*' | '+'))) {
                return Err(err(self.line(), "repetition (`*`, `+`) is not supported"));
            }
            items.push(item);
        }
        if items.is_empty() {
            return Err(err(self.line(), "expected a word, <rule>, ( or ["));
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Seq(items)
        })
    }
}

impl Grammar {
    /// Parses a JSGF grammar. The root is the first `public` rule (else the
    /// first rule). Weights and tags are ignored; `import`, repetition and
    /// quoted tokens are errors naming the line.
    pub fn from_jsgf(src: &str) -> Result<Grammar, GrammarError> {
        let mut p = Parser {
            toks: tokenize(src)?,
            pos: 0,
        };
        let mut rules = Vec::new();
        let mut root = None;
        while let Some(tok) = p.peek().cloned() {
            let line = p.line();
            match tok {
                Tok::Word(w) if w == "grammar" => {
                    while !matches!(p.peek(), Some(Tok::Sym(';')) | None) {
                        p.pos += 1;
                    }
                    p.expect(';')?;
                }
                Tok::Word(w) if w == "import" => {
                    return Err(err(line, "`import` is not supported"));
                }
                Tok::Word(w) if w == "public" => {
                    p.pos += 1;
                    let name = parse_rule(&mut p, &mut rules)?;
                    root.get_or_insert(name);
                }
                Tok::RuleRef(_) => {
                    parse_rule(&mut p, &mut rules)?;
                }
                _ => return Err(err(line, "expected a rule definition `<name> = …;`")),
            }
        }
        let root = root
            .or_else(|| rules.first().map(|r: &Rule| r.name.clone()))
            .ok_or_else(|| err(1, "the grammar defines no rules"))?;
        let grammar = Grammar { root, rules };
        grammar.validate()?;
        Ok(grammar)
    }
}

fn parse_rule(p: &mut Parser, rules: &mut Vec<Rule>) -> Result<String, GrammarError> {
    let Some(Tok::RuleRef(name)) = p.peek().cloned() else {
        return Err(err(p.line(), "expected a rule name `<name>`"));
    };
    p.pos += 1;
    p.expect('=')?;
    let expr = p.alternatives()?;
    p.expect(';')?;
    rules.push(Rule {
        name: name.clone(),
        expr,
    });
    Ok(name)
}

#[cfg(test)]
mod tests {
    use crate::{Grammar, GrammarError};

    #[test]
    fn round_trips_through_to_jsgf() {
        let src = "#JSGF V1.0;\n// lights\ngrammar home;\npublic <cmd> = (turn | switch) [the] <thing> (on | off) {tag};\n<thing> = /5/ light | fan;\n";
        let g = Grammar::from_jsgf(src).unwrap();
        assert_eq!(g.root, "cmd");
        let again = Grammar::from_jsgf(&g.to_jsgf().unwrap()).unwrap();
        assert_eq!(g, again);
        let phrases = g.phrases(100).unwrap();
        assert_eq!(phrases.len(), 16);
        assert!(phrases.contains(&"switch the fan off".to_owned()));
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            Grammar::from_jsgf("#JSGF V1.0;\npublic <a> = go\n  <b>;\n<b> = (x | ;\n").unwrap_err();
        assert_eq!(
            e,
            GrammarError::Jsgf {
                line: 4,
                message: "expected a word, <rule>, ( or [".into()
            }
        );
        let e = Grammar::from_jsgf("public <a> = go*;").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(Grammar::from_jsgf("public <a> = <missing>;").is_err());
    }
}
