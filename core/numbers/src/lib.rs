//! Number words for every language CLDR has spell-out rules for.
//!
//! Voice commands say numbers as words ("set the timer for twenty five
//! minutes", "fünfundzwanzig Grad", "vingt-cinq pour cent"), so the intent
//! engine's `range` lists need every way a language writes a number. Like
//! hassil (through the Python package `unicode-rbnf`), this crate gets them
//! from the CLDR rule-based number format (RBNF) data rather than from a
//! hand-written table per language: the CLDR XML files are embedded and run by
//! a small RBNF interpreter with ICU's semantics.
//!
//! ```
//! let words = emma_numbers::spell_out("en", 25).unwrap();
//! assert_eq!(words, ["twenty-five", "twenty five"]);
//! assert!(emma_numbers::spell_out("de", 25).unwrap().contains(&"fünfundzwanzig".to_string()));
//! assert_eq!(emma_numbers::parse_number("fr", "vingt-cinq"), Some(25));
//! ```
//!
//! # Layout
//! - `data`: the embedded CLDR files (`data/`, Unicode License v3).
//! - `rule`: parsing one rule's text (substitutions, optional parts, plural selectors).
//! - `plural`: CLDR plural rules, for rules whose word form depends on the count.
//! - `speller`: a language's rule sets and the interpreter ([`Speller`]).
#![forbid(unsafe_code)]

mod data;
mod plural;
mod rule;
mod speller;

pub use speller::{PARSE_MAX, Speller};

/// Why a number could not be spelled out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumbersError {
    /// No CLDR spell-out rules for the language.
    #[error(
        "no number spell-out rules for language {lang:?}; see emma_numbers::supported_languages() for the list"
    )]
    UnsupportedLanguage {
        /// The language asked for.
        lang: String,
    },
    /// The rule set name does not exist in the language.
    #[error("language {lang:?} has no rule set {ruleset:?}; see Speller::rulesets() for the list")]
    UnknownRuleset {
        /// The language's CLDR locale.
        lang: String,
        /// The rule set asked for.
        ruleset: String,
    },
    /// The rule set has no rule for the number (e.g. a fraction in a set
    /// without `x.x` rule).
    #[error(
        "rule set {ruleset:?} of language {lang:?} has no rule for {number}; try another rule set"
    )]
    NoRule {
        /// The language's CLDR locale.
        lang: String,
        /// The rule set that had no rule.
        ruleset: String,
        /// The number being formatted.
        number: String,
    },
    /// The rules call each other more than 64 levels deep.
    #[error(
        "rule set {ruleset:?} of language {lang:?} recursed too deeply formatting {number}; the rules loop"
    )]
    TooDeep {
        /// The language's CLDR locale.
        lang: String,
        /// The rule set being formatted when the limit was hit.
        ruleset: String,
        /// The number being formatted.
        number: String,
    },
    /// The text is not a decimal number.
    #[error("{text:?} is not a decimal number; write it like 12, -3 or 2.5")]
    InvalidNumber {
        /// The text given.
        text: String,
    },
    /// An embedded CLDR file could not be read (a broken data update).
    #[error("data/{file}:{line}: {message}; re-vendor the file from the unicode-rbnf wheel")]
    Data {
        /// The file under `data/rbnf/`.
        file: String,
        /// Line in the file.
        line: u32,
        /// What is wrong.
        message: String,
    },
}

/// Every CLDR locale with spell-out rules (`af`, `de`, `de_CH`, `en`, …,
/// `zu`); [`spell_out`] accepts these and region variants of them.
pub fn supported_languages() -> Vec<&'static str> {
    data::RBNF_FILES.iter().map(|(code, _)| *code).collect()
}

/// All cardinal word forms of `n` in `lang`, as hassil matches them: the
/// output of every cardinal rule set ([`Speller::cardinal_rulesets`]:
/// `spellout-numbering`, `spellout-cardinal` and its gender and case
/// variants), the default first, each followed by its variant with `-` and
/// `_` as spaces when that differs, without duplicates.
pub fn spell_out(lang: &str, n: i64) -> Result<Vec<String>, NumbersError> {
    let speller = Speller::for_language(lang)?;
    collect_forms(speller, |set| speller.format(n, set))
}

/// Like [`spell_out`] for a decimal written with a `.` (`"2.5"`, `"-0.75"`),
/// using the rule sets' `x.x` rules ("two point five", "zwei Komma fünf").
pub fn spell_out_decimal(lang: &str, number: &str) -> Result<Vec<String>, NumbersError> {
    let speller = Speller::for_language(lang)?;
    let num = speller::Num::parse(number).ok_or_else(|| NumbersError::InvalidNumber {
        text: number.to_string(),
    })?;
    collect_forms(speller, |set| speller.format_num(&num, set))
}

fn collect_forms(
    speller: &Speller,
    format: impl Fn(&str) -> Result<String, NumbersError>,
) -> Result<Vec<String>, NumbersError> {
    let mut forms: Vec<String> = Vec::new();
    let mut first_error = None;
    for set in speller.cardinal_rulesets() {
        match format(set) {
            Ok(text) => {
                let spaced = text.replace(['-', '_'], " ");
                for form in [text, spaced] {
                    if !form.trim().is_empty() && !forms.contains(&form) {
                        forms.push(form);
                    }
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (forms.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(NumbersError::UnknownRuleset {
            lang: speller.language().to_string(),
            ruleset: "spellout-cardinal".into(),
        }),
        _ => Ok(forms),
    }
}

/// The number (0 to [`PARSE_MAX`]) that `words` spell in `lang`, by reverse
/// lookup of [`spell_out`]'s forms; `None` for unknown words or languages.
/// The first call per language builds the table by spelling out every
/// number with every cardinal rule set: in release builds about 50 ms for
/// English, 0.2 s for German and 0.8 s for Russian with its 25 case and
/// gender rule sets.
pub fn parse_number(lang: &str, words: &str) -> Option<i64> {
    Speller::for_language(lang).ok()?.parse(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `src/data.rs` must list exactly the files in `data/rbnf/`.
    #[test]
    fn data_table_lists_every_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/rbnf");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".xml")
                    .to_string()
            })
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, supported_languages());
    }

    #[test]
    fn errors_name_the_problem() {
        let err = spell_out("tlh", 1).unwrap_err();
        assert_eq!(
            err,
            NumbersError::UnsupportedLanguage { lang: "tlh".into() }
        );
        assert!(err.to_string().contains("\"tlh\""));
        let err = spell_out_decimal("en", "two").unwrap_err();
        assert!(err.to_string().contains("\"two\""), "{err}");
        assert_eq!(parse_number("tlh", "wa'"), None);
    }
}
