//! Structured speech grammars.
//!
//! The intent engine compiles its templates into a [`Grammar`]; the speech
//! recognisers turn a [`Grammar`] into what their engine understands (JSGF for
//! PocketSphinx, a phrase or word list for Vosk). Keeping the structure (rules,
//! alternatives, optional parts) instead of flat strings lets each backend pick
//! the most compact form and lets slot lists stay shared sub-rules.
//!
//! This crate does no I/O and has no native dependencies.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// A restricted-decoding grammar: named rules, one of them the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grammar {
    /// Name of the rule every utterance must match.
    pub root: String,
    /// All rules, in definition order. Rule names are unique.
    pub rules: Vec<Rule>,
}

/// One named rule of a [`Grammar`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Rule name, `[A-Za-z0-9_]+`.
    pub name: String,
    /// What the rule expands to.
    pub expr: Expr,
}

/// A grammar expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// One literal word (lower case, as the acoustic model's dictionary spells it).
    Word(String),
    /// The parts in order.
    Seq(Vec<Expr>),
    /// Exactly one of the parts.
    Alt(Vec<Expr>),
    /// The part or nothing.
    Opt(Box<Expr>),
    /// A reference to another rule by name.
    Rule(String),
    /// Open text the grammar cannot enumerate (a wildcard slot). Backends decode
    /// such a span freely or fall back to free decoding for the whole utterance.
    Free,
}

mod jsgf;
mod render;
mod source;

pub use render::GrammarError;
pub use source::GrammarFormat;

impl Grammar {
    /// A grammar accepting exactly the given phrases (each split on whitespace
    /// into words, lower-cased).
    pub fn from_phrases<S: AsRef<str>>(phrases: &[S]) -> Grammar {
        let alts = phrases
            .iter()
            .map(|p| {
                Expr::Seq(
                    p.as_ref()
                        .split_whitespace()
                        .map(|w| Expr::Word(w.to_lowercase()))
                        .collect(),
                )
            })
            .collect();
        Grammar {
            root: "command".to_owned(),
            rules: vec![Rule {
                name: "command".to_owned(),
                expr: Expr::Alt(alts),
            }],
        }
    }

    /// The rule called `name`, if any.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}
