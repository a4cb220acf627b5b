//! Errors of the intent engine: every one names the file, line and text at fault.

use std::path::PathBuf;

/// Where a problem was found: a file (or other origin) and, when known, a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File path or caller-given origin name (e.g. `"<string>"`).
    pub file: String,
    /// 1-based line number, when known.
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.file, line),
            None => write!(f, "{}", self.file),
        }
    }
}

/// Everything that can go wrong loading or compiling intents.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The YAML itself is malformed or exceeds the parser's safety budget.
    #[error("{origin}: bad yaml: {message}; fix the syntax of this file")]
    Yaml {
        /// Where.
        origin: Origin,
        /// What the YAML parser said.
        message: String,
    },
    /// The YAML is well formed but a field has the wrong shape.
    #[error("{origin}: field `{field}`: {message}")]
    Field {
        /// Where.
        origin: Origin,
        /// Dotted path of the field (e.g. `intents.HassTurnOn.data[0].sentences`).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A sentence template does not parse (unbalanced brackets, empty list name…).
    #[error("{origin}: bad template {template:?}: {message}")]
    Template {
        /// Where.
        origin: Origin,
        /// The offending template text.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// A template refers to a slot list that is defined nowhere.
    #[error(
        "{origin}: template {template:?} uses unknown list {{{list}}}; define it under `lists:` or load it with set_list"
    )]
    UnknownList {
        /// Where.
        origin: Origin,
        /// The template using the list.
        template: String,
        /// The missing list name.
        list: String,
    },
    /// A template refers to an expansion rule that is defined nowhere.
    #[error(
        "{origin}: template {template:?} uses unknown rule <{rule}>; define it under `expansion_rules:`"
    )]
    UnknownRule {
        /// Where.
        origin: Origin,
        /// The template using the rule.
        template: String,
        /// The missing rule name.
        rule: String,
    },
    /// Expansion rules refer to each other in a cycle.
    #[error("{origin}: expansion rule <{rule}> refers to itself (directly or through other rules)")]
    RecursiveRule {
        /// Where.
        origin: Origin,
        /// The rule in the cycle.
        rule: String,
    },
    /// A number range list is invalid.
    #[error("{origin}: list {list:?} has a bad range: {message}")]
    BadRange {
        /// Where.
        origin: Origin,
        /// The list name.
        list: String,
        /// What is wrong.
        message: String,
    },
    /// The path holds no intents this engine can read.
    #[error(
        "{path}: no intents found for language {lang:?}; expected a hassil YAML file, a directory of them, or a Home Assistant intents tree"
    )]
    NothingToLoad {
        /// The path given.
        path: PathBuf,
        /// The language asked for.
        lang: String,
    },
    /// A Rhino context or Alexa model could not be converted.
    #[error("{origin}: cannot import: {message}")]
    Import {
        /// Where.
        origin: Origin,
        /// What the importer said.
        message: String,
    },
    /// Two intent sources define the same intent (a skill would shadow another's).
    #[error(
        "{origin}: intent {intent:?} is already defined by {first}; {second} cannot define it too (rename the intent in {second}'s templates)"
    )]
    Clash {
        /// Where the second definition is.
        origin: Origin,
        /// The intent.
        intent: String,
        /// Who defined it first.
        first: String,
        /// Who tried to define it again.
        second: String,
    },
}
