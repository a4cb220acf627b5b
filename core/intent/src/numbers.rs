//! Number words for range lists, from CLDR spell-out rules (`emma-numbers`),
//! for every language that has them, as hassil does through RBNF data.

/// Spoken forms of `n` in `lang` (empty when the language has no rules).
pub(crate) fn number_words(lang: &str, n: i64) -> Vec<String> {
    emma_numbers::spell_out(&lang.replace('-', "_"), n).unwrap_or_default()
}

/// Spoken forms of a decimal such as `"2.5"` (empty when unsupported).
pub(crate) fn decimal_words(lang: &str, number: &str) -> Vec<String> {
    emma_numbers::spell_out_decimal(&lang.replace('-', "_"), number).unwrap_or_default()
}
