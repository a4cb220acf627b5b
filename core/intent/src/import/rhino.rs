//! Picovoice Rhino contexts → hassil YAML.
//!
//! A Rhino context looks like
//! ```yaml
//! context:
//!   expressions:
//!     orderDrink:
//!       - "[give, get] me a (@size) $drinkType:drink"
//!   slots:
//!     drinkType: [americano, latte]
//!   macros:
//!     size: [small, large]
//! ```
//! and converts as:
//! - `[a, b c]` (exactly one of) → `(a|b c)`; `(x)` (optional) → `[x]`,
//!   `(a, an)` (optionally one of) → `[a|an]`;
//! - `$type:name` → `{type:name}`: one hassil list per slot *type*, named
//!   after it, referenced with the slot's name, so several slot names can
//!   share a type and each is reported under its own name. Values are plain
//!   phrases, so a slot's value is the phrase as written in the context.
//! - `@macro` → the expansion rule `<macro>` (alternatives of its phrases).
//! - built-in slots: `$pv.SingleDigitInteger` → range 0–9,
//!   `$pv.TwoDigitInteger` → range 0–99, `$pv.Percent` → range 0–100 followed
//!   by the word "percent" (its value is the number), `$pv.SingleDigitOrdinal`
//!   / `$pv.TwoDigitOrdinal` → the language's CLDR ordinal words for 1–9 /
//!   1–99 (value: the number), `$pv.Alphabetic` / `$pv.Alphanumeric` → a
//!   wildcard.

use super::emit::{Document, List, TEMPLATE_SYNTAX};
use super::{ImportError, line_of, list_name};
use crate::error::IntentError;
use crate::yaml::{self, Yaml};

/// Converts a Rhino context YAML to a hassil intents YAML for English; see
/// the module docs for the mapping.
pub fn rhino_to_hassil(yaml: &str) -> Result<String, ImportError> {
    rhino_to_hassil_with_language(yaml, "en")
}

/// Converts a Rhino context YAML to a hassil intents YAML for `lang` (Rhino
/// files do not name their language; it decides the built-in ordinal words).
pub fn rhino_to_hassil_with_language(text: &str, lang: &str) -> Result<String, ImportError> {
    let doc = yaml::parse(text, "<rhino context>").map_err(|e| match e {
        IntentError::Yaml { origin, message } => ImportError::Yaml {
            line: origin.line,
            message,
        },
        other => ImportError::Yaml {
            line: None,
            message: other.to_string(),
        },
    })?;
    // `needle` is a key (found as `key:` starting a line) or a quoted value.
    let field = |path: &str, needle: &str, message: String| ImportError::Field {
        path: path.to_string(),
        line: key_line(text, needle).or_else(|| line_of(text, needle)),
        message,
    };
    let context = doc.get("context").ok_or_else(|| {
        field(
            "context",
            "",
            "missing; a rhino context starts with `context:`".into(),
        )
    })?;
    let expressions = match context.get("expressions") {
        Some(e @ Yaml::Map(_)) => e,
        Some(_) => {
            return Err(field(
                "context.expressions",
                "expressions",
                "must map intent names to lists of expressions".into(),
            ));
        }
        None => {
            return Err(field(
                "context.expressions",
                "context",
                "missing; list each intent's expressions under `expressions:`".into(),
            ));
        }
    };

    let mut out = Document {
        language: lang.to_string(),
        ..Document::default()
    };
    let slot_types = context.get("slots").map(Yaml::entries).unwrap_or(&[]);
    for (type_name, values) in slot_types {
        let path = format!("context.slots.{type_name}");
        let Yaml::Seq(items) = values else {
            return Err(field(&path, type_name, "must be a list of phrases".into()));
        };
        let mut phrases = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let phrase = item.as_text().ok_or_else(|| {
                field(
                    &format!("{path}[{i}]"),
                    type_name,
                    "must be a phrase".into(),
                )
            })?;
            if let Some(c) = phrase.chars().find(|c| TEMPLATE_SYNTAX.contains(c)) {
                return Err(field(
                    &format!("{path}[{i}]"),
                    &phrase,
                    format!("slot value {phrase:?} contains {c:?}; remove it"),
                ));
            }
            phrases.push((phrase.clone(), phrase));
        }
        out.lists
            .push((list_name(type_name), List::Values(phrases)));
    }

    let mut converter = Converter {
        declared: slot_types.iter().map(|(k, _)| k.clone()).collect(),
        macros: context
            .get("macros")
            .map(|m| m.entries().iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default(),
        builtins: Vec::new(),
    };

    if let Some(macros) = context.get("macros") {
        for (name, phrases) in macros.entries() {
            let path = format!("context.macros.{name}");
            let mut alternatives = Vec::new();
            for (i, phrase) in phrases.items().iter().enumerate() {
                let phrase = phrase.as_text().ok_or_else(|| {
                    field(&format!("{path}[{i}]"), name, "must be a phrase".into())
                })?;
                let converted = converter
                    .convert(&phrase)
                    .map_err(|m| field(&format!("{path}[{i}]"), &phrase, m))?;
                alternatives.push(converted);
            }
            if alternatives.is_empty() {
                return Err(field(&path, name, "must list at least one phrase".into()));
            }
            out.rules
                .push((list_name(name), format!("({})", alternatives.join("|"))));
        }
    }

    for (intent, list) in expressions.entries() {
        let path = format!("context.expressions.{intent}");
        let Yaml::Seq(items) = list else {
            return Err(field(&path, intent, "must be a list of expressions".into()));
        };
        let mut sentences = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let expression = item
                .as_text()
                .ok_or_else(|| field(&format!("{path}[{i}]"), intent, "must be a string".into()))?;
            let sentence = converter
                .convert(&expression)
                .map_err(|m| field(&format!("{path}[{i}]"), &expression, m))?;
            sentences.push(sentence);
        }
        out.intents.push((intent.clone(), sentences));
    }

    for builtin in &converter.builtins {
        out.lists
            .push((list_name(builtin), builtin_list(builtin, lang)));
    }
    Ok(out.render())
}

/// The hassil list standing in for a Rhino built-in slot.
fn builtin_list(name: &str, lang: &str) -> List {
    let ordinals = |max: i64| -> List {
        let Ok(speller) = emma_numbers::Speller::for_language(lang) else {
            return List::Wildcard;
        };
        let mut values = Vec::new();
        for n in 1..=max {
            if let Ok(word) = speller.format(n, "spellout-ordinal") {
                values.push((word.replace('-', " "), n.to_string()));
            }
        }
        if values.is_empty() {
            List::Wildcard
        } else {
            List::Values(values)
        }
    };
    match name {
        "pv.SingleDigitInteger" => List::Range { from: 0, to: 9 },
        "pv.TwoDigitInteger" => List::Range { from: 0, to: 99 },
        "pv.Percent" => List::Range { from: 0, to: 100 },
        "pv.SingleDigitOrdinal" => ordinals(9),
        "pv.TwoDigitOrdinal" => ordinals(99),
        _ => List::Wildcard,
    }
}

const BUILTINS: &[&str] = &[
    "pv.SingleDigitInteger",
    "pv.TwoDigitInteger",
    "pv.Percent",
    "pv.SingleDigitOrdinal",
    "pv.TwoDigitOrdinal",
    "pv.Alphabetic",
    "pv.Alphanumeric",
];

/// Converts Rhino expression syntax to hassil template syntax.
struct Converter {
    declared: Vec<String>,
    macros: Vec<String>,
    /// Built-in slot types used so far, in order of first use.
    builtins: Vec<String>,
}

impl Converter {
    fn convert(&mut self, expression: &str) -> Result<String, String> {
        let chars: Vec<char> = expression.chars().collect();
        let mut pos = 0;
        let out = self.sequence(&chars, &mut pos, None)?;
        if pos < chars.len() {
            return Err(format!("unexpected {:?} at column {}", chars[pos], pos + 1));
        }
        Ok(out.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Parses until `end` (or the end of input), returning hassil text.
    fn sequence(
        &mut self,
        chars: &[char],
        pos: &mut usize,
        end: Option<char>,
    ) -> Result<String, String> {
        let mut out = String::new();
        while *pos < chars.len() {
            let c = chars[*pos];
            if Some(c) == end || (c == ',' && end.is_some()) {
                return Ok(out);
            }
            match c {
                '[' => {
                    *pos += 1;
                    let mut alternatives = Vec::new();
                    loop {
                        let alt = self.sequence(chars, pos, Some(']'))?;
                        alternatives.push(alt.trim().to_string());
                        match chars.get(*pos) {
                            Some(',') => *pos += 1,
                            Some(']') => {
                                *pos += 1;
                                break;
                            }
                            _ => return Err("'[' without ']'".into()),
                        }
                    }
                    out.push('(');
                    out.push_str(&alternatives.join("|"));
                    out.push(')');
                }
                '(' => {
                    // `(a)` optional; `(a, an)` optionally one of several.
                    *pos += 1;
                    let mut alternatives = Vec::new();
                    loop {
                        let alt = self.sequence(chars, pos, Some(')'))?;
                        alternatives.push(alt.trim().to_string());
                        match chars.get(*pos) {
                            Some(',') => *pos += 1,
                            Some(')') => {
                                *pos += 1;
                                break;
                            }
                            _ => return Err("'(' without ')'".into()),
                        }
                    }
                    out.push('[');
                    out.push_str(&alternatives.join("|"));
                    out.push(']');
                }
                '$' => {
                    *pos += 1;
                    let type_name = take_name(chars, pos, true);
                    if chars.get(*pos) != Some(&':') {
                        return Err(format!(
                            "slot ${type_name} needs a name: write ${type_name}:name"
                        ));
                    }
                    *pos += 1;
                    let slot = take_name(chars, pos, false);
                    if type_name.is_empty() || slot.is_empty() {
                        return Err("empty slot type or name after '$'".into());
                    }
                    if BUILTINS.contains(&type_name.as_str()) {
                        if !self.builtins.contains(&type_name) {
                            self.builtins.push(type_name.clone());
                        }
                    } else if !self.declared.contains(&type_name) {
                        return Err(format!(
                            "unknown slot type ${type_name}; declare it under context.slots or use a pv.* built-in"
                        ));
                    }
                    out.push_str(&format!("{{{}:{slot}}}", list_name(&type_name)));
                    if type_name == "pv.Percent" {
                        out.push_str(" percent");
                    }
                }
                '@' => {
                    *pos += 1;
                    let name = take_name(chars, pos, false);
                    if !self.macros.contains(&name) {
                        return Err(format!(
                            "unknown macro @{name}; declare it under context.macros"
                        ));
                    }
                    out.push('<');
                    out.push_str(&list_name(&name));
                    out.push('>');
                }
                ']' | ')' | ',' => return Err(format!("unexpected {c:?} at column {}", *pos + 1)),
                c if TEMPLATE_SYNTAX.contains(&c) => {
                    return Err(format!(
                        "{c:?} at column {} has no meaning in rhino; remove it",
                        *pos + 1
                    ));
                }
                c => {
                    out.push(c);
                    *pos += 1;
                }
            }
        }
        match end {
            Some(e) => Err(format!("missing {e:?}")),
            None => Ok(out),
        }
    }
}

/// 1-based line of the first line that starts (after indentation) with `key:`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches(['"', '\'']);
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start_matches(['"', '\'']).starts_with(':'))
        })
        .map(|i| i + 1)
}

fn take_name(chars: &[char], pos: &mut usize, allow_dot: bool) -> String {
    let mut name = String::new();
    while let Some(&c) = chars.get(*pos) {
        if c.is_alphanumeric() || c == '_' || c == '-' || (allow_dot && c == '.') {
            name.push(c);
            *pos += 1;
        } else {
            break;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(expression: &str) -> Result<String, String> {
        Converter {
            declared: vec!["size".into(), "drink".into()],
            macros: vec!["please".into()],
            builtins: vec![],
        }
        .convert(expression)
    }

    #[test]
    fn expression_syntax() {
        assert_eq!(
            convert("[give, get] me a (large) $drink:drink").unwrap(),
            "(give|get) me a [large] {drink:drink}"
        );
        assert_eq!(
            convert("(@please) [a $size:size, the] cup").unwrap(),
            "[<please>] (a {size:size}|the) cup"
        );
        assert_eq!(
            convert("set ($pv.Percent:level)").unwrap(),
            "set [{pv_Percent:level} percent]"
        );
        assert_eq!(convert("[a, (b c)]").unwrap(), "(a|[b c])");
        assert_eq!(
            convert("get (a, an) $drink:d").unwrap(),
            "get [a|an] {drink:d}"
        );
    }

    #[test]
    fn expression_errors() {
        for (bad, says) in [
            ("[a, b", "missing ']'"),
            ("(a", "missing ')'"),
            ("a ] b", "unexpected ']'"),
            ("$drink", "needs a name"),
            ("$tea:t", "unknown slot type $tea"),
            ("@nope", "unknown macro @nope"),
            ("a {b}", "no meaning in rhino"),
        ] {
            let err = convert(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn document_errors_name_field_and_line() {
        let err = rhino_to_hassil("context:\n  expressions:\n    order:\n      - \"get $tea:t\"\n")
            .unwrap_err();
        assert_eq!(
            err,
            ImportError::Field {
                path: "context.expressions.order[0]".into(),
                line: Some(4),
                message:
                    "unknown slot type $tea; declare it under context.slots or use a pv.* built-in"
                        .into(),
            }
        );
        assert!(
            err.to_string()
                .starts_with("context.expressions.order[0] (line 4): unknown slot type")
        );
        let err = rhino_to_hassil("foo: 1\n").unwrap_err();
        assert!(err.to_string().contains("context"), "{err}");
        let err = rhino_to_hassil("context:\n  expressions: [\n").unwrap_err();
        assert!(matches!(err, ImportError::Yaml { .. }), "{err}");
        let err =
            rhino_to_hassil("context:\n  expressions:\n    a: [x]\n  slots:\n    s: {x: 1}\n")
                .unwrap_err();
        assert!(
            err.to_string().starts_with("context.slots.s (line 5)"),
            "{err}"
        );
    }
}
