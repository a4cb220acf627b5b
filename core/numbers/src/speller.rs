//! A language's RBNF rule sets, loaded from the vendored CLDR XML, and the
//! interpreter that formats numbers with them (ICU `RuleBasedNumberFormat`
//! semantics: rule selection by base value, rollback, optional text, quotient
//! / remainder / same-value substitutions, plural selectors).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::NumbersError;
use crate::data::{ORDINALS_XML, PLURALS_XML, RBNF_FILES};
use crate::plural::PluralRules;
use crate::rule::{self, Base, Part, Rule, SubKind, Target};

/// Deepest chain of substitutions before formatting gives up (ICU uses 64 too).
const MAX_DEPTH: u32 = 64;

/// Largest number [`Speller::parse`] recognises.
pub const PARSE_MAX: i64 = 9_999;

/// A number to format: sign, whole part and fraction digits (no trailing zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Num {
    pub(crate) neg: bool,
    pub(crate) int: u128,
    pub(crate) frac: String,
}

impl Num {
    fn whole(int: u128) -> Self {
        Self {
            neg: false,
            int,
            frac: String::new(),
        }
    }

    fn magnitude(&self) -> Self {
        Self {
            neg: false,
            ..self.clone()
        }
    }

    pub(crate) fn from_i64(n: i64) -> Self {
        Self {
            neg: n < 0,
            int: u128::from(n.unsigned_abs()),
            frac: String::new(),
        }
    }

    /// Parses `-12.50`-style decimal text.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let valid = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if int.is_empty() || !valid(int) || !valid(frac) || int.len() > 30 || frac.len() > 30 {
            return None;
        }
        let frac = frac.trim_end_matches('0').to_string();
        let int: u128 = int.parse().ok()?;
        Some(Self {
            neg: neg && (int > 0 || !frac.is_empty()),
            int,
            frac,
        })
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.neg {
            f.write_str("-")?;
        }
        write!(f, "{}", self.int)?;
        if !self.frac.is_empty() {
            write!(f, ".{}", self.frac)?;
        }
        Ok(())
    }
}

/// A named list of rules.
#[derive(Debug)]
struct RuleSet {
    name: String,
    private: bool,
    /// Normal rules sorted by base value.
    normal: Vec<Rule>,
    negative: Option<Rule>,
    improper: Option<Rule>,
    proper: Option<Rule>,
}

/// The spell-out rules of one language, ready to format numbers.
///
/// Get one with [`Speller::for_language`]; it is loaded once per process and
/// shared.
#[derive(Debug)]
pub struct Speller {
    code: &'static str,
    sets: Vec<RuleSet>,
    by_name: HashMap<String, usize>,
    words: OnceLock<HashMap<String, i64>>,
}

fn plural_rules() -> &'static (PluralRules, PluralRules) {
    static RULES: OnceLock<(PluralRules, PluralRules)> = OnceLock::new();
    RULES.get_or_init(|| {
        // The vendored files are checked by unit tests; if they were broken
        // every form would fall back to "other" rather than fail formatting.
        (
            PluralRules::parse(PLURALS_XML, "plurals.xml").unwrap_or_default(),
            PluralRules::parse(ORDINALS_XML, "ordinals.xml").unwrap_or_default(),
        )
    })
}

/// Index into [`RBNF_FILES`] of the file for `lang` (`de-CH`, `de_ch`, `de`,
/// falling back from `de-AT` to `de`).
fn resolve(lang: &str) -> Option<usize> {
    let mut code = lang.trim().replace('-', "_");
    loop {
        if let Some(i) = RBNF_FILES
            .iter()
            .position(|(c, _)| c.eq_ignore_ascii_case(&code))
        {
            return Some(i);
        }
        let cut = code.rfind('_')?;
        code.truncate(cut);
    }
}

/// The locale whose rule sets `code` inherits (CLDR parent locales; script
/// variants such as `zh_Hant` and `sr_Latn` stand alone).
fn parent(code: &str) -> Option<&'static str> {
    if code == "nb" {
        return Some("no");
    }
    let (prefix, last) = code.rsplit_once('_')?;
    if last.len() == 4 && last.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    RBNF_FILES
        .iter()
        .find(|(c, _)| *c == prefix)
        .map(|(c, _)| *c)
}

impl Speller {
    /// The speller for `lang` (a CLDR locale such as `en`, `de-CH`, `pt_PT`;
    /// region variants without their own rules fall back to the language).
    pub fn for_language(lang: &str) -> Result<&'static Speller, NumbersError> {
        static LOADED: [OnceLock<Result<Speller, NumbersError>>; RBNF_FILES.len()] =
            [const { OnceLock::new() }; RBNF_FILES.len()];
        let index = resolve(lang).ok_or_else(|| NumbersError::UnsupportedLanguage {
            lang: lang.to_string(),
        })?;
        LOADED[index]
            .get_or_init(|| Speller::load(RBNF_FILES[index].0))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load(code: &'static str) -> Result<Speller, NumbersError> {
        let mut speller = match parent(code) {
            Some(p) => {
                let mut base = Speller::load(p)?;
                base.code = code;
                base
            }
            None => Speller {
                code,
                sets: Vec::new(),
                by_name: HashMap::new(),
                words: OnceLock::new(),
            },
        };
        let xml = RBNF_FILES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, x)| *x)
            .unwrap_or_default();
        let file = format!("{code}.xml");
        let data_error = |line: u32, message: String| NumbersError::Data {
            file: file.clone(),
            line,
            message,
        };
        let doc =
            crate::data::parse_xml(xml).map_err(|e| data_error(e.pos().row, e.to_string()))?;
        for node in doc.descendants().filter(|n| n.has_tag_name("ruleset")) {
            let line = doc.text_pos_at(node.range().start).row;
            let name = node
                .attribute("type")
                .ok_or_else(|| data_error(line, "ruleset without a type attribute".into()))?;
            if name == "lenient-parse" {
                continue;
            }
            let mut set = RuleSet {
                name: name.to_string(),
                private: node.attribute("access") == Some("private"),
                normal: Vec::new(),
                negative: None,
                improper: None,
                proper: None,
            };
            for rule_node in node.children().filter(|n| n.has_tag_name("rbnfrule")) {
                let line = doc.text_pos_at(rule_node.range().start).row;
                let value = rule_node
                    .attribute("value")
                    .ok_or_else(|| data_error(line, "rbnfrule without a value attribute".into()))?;
                let radix_text: String = rule_node
                    .attribute("radix")
                    .unwrap_or("10")
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                let radix: u128 = radix_text
                    .parse()
                    .map_err(|_| data_error(line, format!("bad radix in rule {value:?}")))?;
                let Some(base) = rule::parse_base(value).map_err(|e| data_error(line, e))? else {
                    continue;
                };
                let predecessor = set.normal.last().map(|r| match r.base {
                    Base::Normal(b) => b,
                    _ => 0,
                });
                let rules = rule::parse_rule(base, radix, rule_node.text().unwrap_or(""))
                    .map_err(|e| data_error(line, format!("ruleset {name}, rule {value}: {e}")))?;
                for mut r in rules {
                    match r.base {
                        Base::Normal(_) => {
                            r.predecessor = predecessor;
                            set.normal.push(r);
                        }
                        Base::Negative => set.negative = Some(r),
                        Base::ImproperFraction => set.improper = Some(r),
                        Base::ProperFraction => set.proper = Some(r),
                    }
                }
            }
            set.normal.sort_by_key(|r| match r.base {
                Base::Normal(b) => b,
                _ => 0,
            });
            match speller.by_name.get(name) {
                Some(&i) => speller.sets[i] = set,
                None => {
                    speller.by_name.insert(name.to_string(), speller.sets.len());
                    speller.sets.push(set);
                }
            }
        }
        if speller.sets.is_empty() {
            return Err(NumbersError::Data {
                file,
                line: 1,
                message: "no rule sets".into(),
            });
        }
        Ok(speller)
    }

    /// The CLDR locale whose rules this speller uses (e.g. `de` for `de-AT`).
    pub fn language(&self) -> &'static str {
        self.code
    }

    /// Names of all public rule sets, in file order (`spellout-numbering`,
    /// `spellout-cardinal-feminine`, `spellout-ordinal`, `digits-ordinal`, …).
    pub fn rulesets(&self) -> Vec<&str> {
        self.sets
            .iter()
            .filter(|s| !s.private)
            .map(|s| s.name.as_str())
            .collect()
    }

    /// The public rule sets that spell out cardinal numbers, as hassil picks
    /// them: names starting with `spellout` that contain `cardinal` or
    /// `numbering`, without `ordinal`, `year` or `verbose`. The language's
    /// default set (`spellout-numbering`; `spellout-cardinal-sinokorean` for
    /// Korean) comes first.
    pub fn cardinal_rulesets(&self) -> Vec<&str> {
        let default = if self.code == "ko" {
            "spellout-cardinal-sinokorean"
        } else {
            "spellout-numbering"
        };
        let mut names: Vec<&str> = self
            .rulesets()
            .into_iter()
            .filter(|n| {
                n.starts_with("spellout")
                    && (n.contains("cardinal") || n.contains("numbering"))
                    && !n.contains("ordinal")
                    && !n.contains("year")
                    && !n.contains("verbose")
            })
            .collect();
        if let Some(i) = names.iter().position(|n| *n == default) {
            let first = names.remove(i);
            names.insert(0, first);
        }
        names
    }

    /// Formats `n` with the named rule set (public or private, with or
    /// without the leading `%`).
    pub fn format(&self, n: i64, ruleset: &str) -> Result<String, NumbersError> {
        self.format_num(&Num::from_i64(n), ruleset)
    }

    /// Formats a decimal such as `"2.5"` or `"-0.75"` with the named rule set.
    pub fn format_decimal(&self, number: &str, ruleset: &str) -> Result<String, NumbersError> {
        let num = Num::parse(number).ok_or_else(|| NumbersError::InvalidNumber {
            text: number.to_string(),
        })?;
        self.format_num(&num, ruleset)
    }

    pub(crate) fn format_num(&self, num: &Num, ruleset: &str) -> Result<String, NumbersError> {
        let set = self.set_index(ruleset.trim_start_matches('%'))?;
        let mut out = String::new();
        self.format_in(set, num, 0, &mut out)?;
        Ok(out.replace('\u{ad}', ""))
    }

    fn set_index(&self, name: &str) -> Result<usize, NumbersError> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| NumbersError::UnknownRuleset {
                lang: self.code.to_string(),
                ruleset: name.to_string(),
            })
    }

    fn no_rule(&self, set: usize, num: &Num) -> NumbersError {
        NumbersError::NoRule {
            lang: self.code.to_string(),
            ruleset: self.sets[set].name.clone(),
            number: num.to_string(),
        }
    }

    /// Picks the rule for `num` in rule set `set` and applies it.
    fn format_in(
        &self,
        set: usize,
        num: &Num,
        depth: u32,
        out: &mut String,
    ) -> Result<(), NumbersError> {
        if depth > MAX_DEPTH {
            return Err(NumbersError::TooDeep {
                lang: self.code.to_string(),
                ruleset: self.sets[set].name.clone(),
                number: num.to_string(),
            });
        }
        let rs = &self.sets[set];
        if num.neg
            && let Some(rule) = &rs.negative
        {
            return self.apply(set, rule, num, &num.magnitude(), depth, out);
        }
        let value = num.magnitude();
        if num.neg {
            // No `-x` rule: only a set that hands the number on unchanged
            // (`0: =%set=;`) can keep the sign; anything else would drop it.
            let delegate = rs.normal.first().and_then(|r| match r.parts.as_slice() {
                [Part::Sub(SubKind::Same, Target::Set(name))] => Some(name),
                _ => None,
            });
            return match delegate {
                Some(name) => self.format_in(self.set_index(name)?, num, depth + 1, out),
                None => Err(self.no_rule(set, num)),
            };
        }
        if !value.frac.is_empty() {
            let rule = if value.int == 0 {
                rs.proper.as_ref().or(rs.improper.as_ref())
            } else {
                rs.improper.as_ref()
            };
            let rule = rule.ok_or_else(|| self.no_rule(set, num))?;
            return self.apply(set, rule, num, &value, depth, out);
        }
        let mut index = rs
            .normal
            .partition_point(|r| matches!(r.base, Base::Normal(b) if b <= value.int));
        if index == 0 {
            return Err(self.no_rule(set, num));
        }
        index -= 1;
        let rule = &rs.normal[index];
        // ICU's rollback: `100: ←← hundred[ →→]` is stored as rules 100 and
        // 101; 200 must use rule 100, not "two hundred zero".
        if let Base::Normal(b) = rule.base
            && index > 0
            && rule.has_modulus()
            && value.int.is_multiple_of(rule.divisor)
            && b % rule.divisor != 0
        {
            index -= 1;
        }
        self.apply(set, &rs.normal[index], num, &value, depth, out)
    }

    /// Applies one rule. `original` is the number as asked (a negative number
    /// reaching a set without a `-x` rule keeps its sign for `=%set=`), `value`
    /// the non-negative number the rule divides.
    fn apply(
        &self,
        set: usize,
        rule: &Rule,
        original: &Num,
        value: &Num,
        depth: u32,
        out: &mut String,
    ) -> Result<(), NumbersError> {
        let fraction = matches!(rule.base, Base::ImproperFraction | Base::ProperFraction);
        let normal = matches!(rule.base, Base::Normal(_));
        for part in &rule.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Plural { ordinal, forms } => {
                    let n = if normal {
                        value.int / rule.divisor
                    } else {
                        value.int
                    };
                    self.push_plural(*ordinal, forms, n, out);
                }
                Part::Sub(kind, target) => {
                    let operand = match (kind, rule.base) {
                        (SubKind::Same, Base::Negative) => value.clone(),
                        (SubKind::Same, _) => original.clone(),
                        (_, Base::Negative) => value.clone(),
                        (SubKind::Quotient, _) if fraction => Num::whole(value.int),
                        (SubKind::Remainder, _) if fraction => {
                            self.fraction_digits(set, target, value, depth, out)?;
                            continue;
                        }
                        (SubKind::Quotient, _) => Num::whole(value.int / rule.divisor),
                        (SubKind::Remainder, _) => Num::whole(value.int % rule.divisor),
                    };
                    self.substitute(set, rule, target, &operand, depth, out)?;
                }
            }
        }
        Ok(())
    }

    /// Appends the form of a plural selector that agrees with `n`.
    fn push_plural(&self, ordinal: bool, forms: &[(String, String)], n: u128, out: &mut String) {
        let (cardinal_rules, ordinal_rules) = plural_rules();
        let rules = if ordinal {
            ordinal_rules
        } else {
            cardinal_rules
        };
        let category = rules.category(self.code, n);
        let form = forms
            .iter()
            .find(|(c, _)| c == category)
            .or_else(|| forms.iter().find(|(c, _)| c == "other"))
            .or(forms.first());
        if let Some((_, text)) = form {
            out.push_str(text);
        }
    }

    /// `→→` in a fraction rule: each fraction digit spelled out, separated by
    /// spaces (`→→→`: no spaces); `→%set→` naming another rule set: the
    /// fraction as a numerator over a denominator word ([`Self::fraction_set`]).
    fn fraction_digits(
        &self,
        set: usize,
        target: &Target,
        value: &Num,
        depth: u32,
        out: &mut String,
    ) -> Result<(), NumbersError> {
        if let Target::Pattern(_) = target {
            out.push_str(&value.frac);
            return Ok(());
        }
        let (digit_set, spaced) = match target {
            Target::Set(name) => {
                let other = self.set_index(name)?;
                if other != set {
                    return self.fraction_set(other, &value.frac, depth + 1, out);
                }
                (other, true)
            }
            Target::Predecessor => (set, false),
            _ => (set, true),
        };
        for (i, d) in value.frac.chars().enumerate() {
            if i > 0 && spaced {
                out.push(' ');
            }
            let digit = Num::whole(u128::from(d.to_digit(10).unwrap_or(0)));
            self.format_in(digit_set, &digit, depth + 1, out)?;
        }
        Ok(())
    }

    /// ICU's fraction rule sets (Russian "пять десятых", Polish "pięć
    /// dziesiątych"): the rule whose base value, as a denominator, gives the
    /// numerator closest to a whole number wins; `←←` formats that numerator
    /// and plural selectors agree with it.
    fn fraction_set(
        &self,
        set: usize,
        frac: &str,
        depth: u32,
        out: &mut String,
    ) -> Result<(), NumbersError> {
        let no_rule = || NumbersError::NoRule {
            lang: self.code.to_string(),
            ruleset: self.sets[set].name.clone(),
            number: format!("0.{frac}"),
        };
        if depth > MAX_DEPTH || frac.len() > 18 {
            return Err(no_rule());
        }
        let digits: u128 = frac.parse().map_err(|_| no_rule())?;
        let denominator = 10u128.pow(frac.len() as u32);
        let mut best: Option<(u128, &Rule)> = None;
        for rule in &self.sets[set].normal {
            let Base::Normal(base) = rule.base else {
                continue;
            };
            if base == 0 {
                continue;
            }
            let remainder = digits.saturating_mul(base) % denominator;
            let distance = remainder.min(denominator - remainder);
            if best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, rule));
                if distance == 0 {
                    break;
                }
            }
        }
        let (_, rule) = best.ok_or_else(no_rule)?;
        let Base::Normal(base) = rule.base else {
            return Err(no_rule());
        };
        let numerator = (digits.saturating_mul(base) + denominator / 2) / denominator;
        for part in &rule.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Plural { ordinal, forms } => {
                    self.push_plural(*ordinal, forms, numerator, out)
                }
                Part::Sub(SubKind::Quotient, target) => {
                    self.substitute(set, rule, target, &Num::whole(numerator), depth, out)?;
                }
                Part::Sub(..) => {}
            }
        }
        Ok(())
    }

    fn substitute(
        &self,
        set: usize,
        rule: &Rule,
        target: &Target,
        operand: &Num,
        depth: u32,
        out: &mut String,
    ) -> Result<(), NumbersError> {
        match target {
            Target::Own => self.format_in(set, operand, depth + 1, out),
            Target::Set(name) => self.format_in(self.set_index(name)?, operand, depth + 1, out),
            Target::Pattern(pattern) => {
                out.push_str(&decimal_pattern(pattern, operand));
                Ok(())
            }
            Target::Predecessor => {
                let rs = &self.sets[set];
                let pred = rule
                    .predecessor
                    .and_then(|b| rs.normal.iter().rfind(|r| r.base == Base::Normal(b)))
                    .ok_or_else(|| self.no_rule(set, operand))?;
                if depth > MAX_DEPTH {
                    return Err(self.no_rule(set, operand));
                }
                self.apply(set, pred, operand, operand, depth + 1, out)
            }
        }
    }

    /// The number written as `words` in this language, for 0 to [`PARSE_MAX`]:
    /// any cardinal form [`crate::spell_out`] gives, case-insensitive, with
    /// hyphens, underscores and runs of spaces treated alike; plain digits
    /// parse as themselves.
    pub fn parse(&self, words: &str) -> Option<i64> {
        let key = normalize(words);
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_digit()) {
            return key.parse().ok();
        }
        let table = self.words.get_or_init(|| {
            let sets = self.cardinal_rulesets();
            let mut table = HashMap::new();
            for n in 0..=PARSE_MAX {
                for set in &sets {
                    if let Ok(text) = self.format(n, set) {
                        table.entry(normalize(&text)).or_insert(n);
                    }
                }
            }
            table
        });
        table.get(&key).copied()
    }
}

/// Lower-case, `-`/`_` as spaces, single spaces, no soft hyphens.
fn normalize(words: &str) -> String {
    words
        .to_lowercase()
        .replace(['-', '_'], " ")
        .replace('\u{ad}', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Digits for a `=#,##0=`-style substitution (grouping with `,` when the
/// pattern has one; fraction digits when it has a `.`).
fn decimal_pattern(pattern: &str, num: &Num) -> String {
    let digits = num.int.to_string();
    let mut text = String::new();
    if num.neg {
        text.push('-');
    }
    let int_pattern = pattern.split('.').next().unwrap_or("");
    if int_pattern.contains(',') {
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                text.push(',');
            }
            text.push(c);
        }
    } else {
        text.push_str(&digits);
    }
    if pattern.contains('.') && !num.frac.is_empty() {
        text.push('.');
        text.push_str(&num.frac);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_language_codes() {
        let code = |l: &str| resolve(l).map(|i| RBNF_FILES[i].0);
        assert_eq!(code("de"), Some("de"));
        assert_eq!(code("de-CH"), Some("de_CH"));
        assert_eq!(code("de_at"), Some("de"));
        assert_eq!(code("zh-Hant-TW"), Some("zh_Hant"));
        assert_eq!(code("EN"), Some("en"));
        assert_eq!(code("xx"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn inherited_locales_use_parent_rules() {
        let nb = Speller::for_language("nb").unwrap();
        assert_eq!(nb.format(3, "spellout-numbering").unwrap(), "tre");
        let en = Speller::for_language("en-001").unwrap();
        assert_eq!(en.format(21, "spellout-numbering").unwrap(), "twenty-one");
        let es = Speller::for_language("es-419").unwrap();
        assert_eq!(es.format(2, "spellout-numbering").unwrap(), "dos");
    }

    #[test]
    fn decimal_text() {
        assert_eq!(Num::parse("2.50").unwrap().to_string(), "2.5");
        assert_eq!(Num::parse("-0").unwrap().to_string(), "0");
        assert!(Num::parse("2.5.1").is_none());
        assert!(Num::parse("").is_none());
        assert!(Num::parse("1e3").is_none());
        assert_eq!(
            decimal_pattern("#,##0", &Num::whole(1_234_567)),
            "1,234,567"
        );
        assert_eq!(decimal_pattern("0", &Num::whole(1_234)), "1234");
    }

    #[test]
    fn unknown_ruleset_is_an_error() {
        let en = Speller::for_language("en").unwrap();
        let err = en.format(1, "spellout-nope").unwrap_err();
        assert!(err.to_string().contains("spellout-nope"), "{err}");
    }

    #[test]
    fn every_file_loads() {
        for (code, _) in RBNF_FILES {
            let speller = Speller::for_language(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert!(
                !speller.cardinal_rulesets().is_empty(),
                "{code} has no cardinal rule set"
            );
        }
    }
}
