//! Writes a hassil intents YAML document. Every string is double-quoted with
//! JSON escapes (valid YAML), so no value can change the document's shape.

use std::fmt::Write;

/// A list in the output.
pub(super) enum List {
    /// Values: `(in, out)`; `out` is omitted when equal to `in`.
    Values(Vec<(String, String)>),
    /// `range: {from, to}`.
    Range { from: i64, to: i64 },
    /// `wildcard: true`.
    Wildcard,
}

/// A hassil intents document under construction; items keep insertion order.
#[derive(Default)]
pub(super) struct Document {
    pub(super) language: String,
    /// Intent name → sentences.
    pub(super) intents: Vec<(String, Vec<String>)>,
    pub(super) lists: Vec<(String, List)>,
    pub(super) rules: Vec<(String, String)>,
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

impl Document {
    /// The YAML text.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "language: {}", quote(&self.language));
        out.push_str("intents:\n");
        for (name, sentences) in &self.intents {
            let _ = writeln!(out, "  {}:\n    data:\n      - sentences:", quote(name));
            for s in sentences {
                let _ = writeln!(out, "          - {}", quote(s));
            }
        }
        if !self.lists.is_empty() {
            out.push_str("lists:\n");
            for (name, list) in &self.lists {
                let _ = writeln!(out, "  {}:", quote(name));
                match list {
                    List::Values(values) => {
                        out.push_str("    values:\n");
                        for (input, output) in values {
                            if input == output {
                                let _ = writeln!(out, "      - {}", quote(input));
                            } else {
                                let _ = writeln!(
                                    out,
                                    "      - in: {}\n        out: {}",
                                    quote(input),
                                    quote(output)
                                );
                            }
                        }
                    }
                    List::Range { from, to } => {
                        let _ = writeln!(out, "    range:\n      from: {from}\n      to: {to}");
                    }
                    List::Wildcard => out.push_str("    wildcard: true\n"),
                }
            }
        }
        if !self.rules.is_empty() {
            out.push_str("expansion_rules:\n");
            for (name, body) in &self.rules {
                let _ = writeln!(out, "  {}: {}", quote(name), quote(body));
            }
        }
        out
    }
}

/// Characters with a meaning in hassil templates, which imported literal text
/// must not carry.
pub(super) const TEMPLATE_SYNTAX: &[char] = &['(', ')', '[', ']', '{', '}', '<', '>', '|', ';'];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_quoted_yaml() {
        let doc = Document {
            language: "en".into(),
            intents: vec![("order".into(), vec!["a \"b\" {size}".into()])],
            lists: vec![
                (
                    "size".into(),
                    List::Values(vec![
                        ("small".into(), "small".into()),
                        ("big".into(), "large".into()),
                    ]),
                ),
                ("n".into(), List::Range { from: 1, to: 9 }),
                ("q".into(), List::Wildcard),
            ],
            rules: vec![("please".into(), "[please]".into())],
        };
        let yaml = doc.render();
        assert!(
            yaml.contains("          - \"a \\\"b\\\" {size}\"\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("      - in: \"big\"\n        out: \"large\"\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("    range:\n      from: 1\n      to: 9\n"),
            "{yaml}"
        );
        assert!(yaml.contains("  \"please\": \"[please]\"\n"), "{yaml}");
    }
}
