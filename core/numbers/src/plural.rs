//! CLDR plural rules: which word form ("one", "few", "many", …) agrees with a
//! count in a language.
//!
//! RBNF rules pick word forms with `$(cardinal,one{тысяча}few{тысячи}other{тысяч})$`;
//! the category comes from CLDR's `plurals.xml` / `ordinals.xml` conditions such
//! as `v = 0 and i % 10 = 2..4 and i % 100 != 12..14`. Only whole numbers reach
//! this module (RBNF divides by the rule's divisor first), so the fraction
//! operands `v w f t c e` are always zero.

use std::collections::HashMap;

/// Parsed plural rules of one kind (cardinal or ordinal), keyed by locale.
#[derive(Debug, Default)]
pub(crate) struct PluralRules {
    by_locale: HashMap<String, Vec<(String, Condition)>>,
}

/// An `or` of `and`s of relations.
#[derive(Debug, Clone)]
struct Condition(Vec<Vec<Relation>>);

#[derive(Debug, Clone)]
struct Relation {
    operand: char,
    modulus: Option<u128>,
    negated: bool,
    ranges: Vec<(u128, u128)>,
}

impl PluralRules {
    /// Parses a CLDR supplemental plurals file.
    pub(crate) fn parse(xml: &str, file: &str) -> Result<Self, String> {
        let doc = crate::data::parse_xml(xml).map_err(|e| format!("{file}: {e}"))?;
        let mut by_locale = HashMap::new();
        for rules in doc.descendants().filter(|n| n.has_tag_name("pluralRules")) {
            let mut parsed = Vec::new();
            for rule in rules.children().filter(|n| n.has_tag_name("pluralRule")) {
                let count = rule.attribute("count").unwrap_or("other").to_string();
                let text = rule.text().unwrap_or("");
                let condition_text = text.split('@').next().unwrap_or("").trim();
                let line = doc.text_pos_at(rule.range().start).row;
                let condition = Condition::parse(condition_text)
                    .map_err(|e| format!("{file}:{line}: plural rule {count:?}: {e}"))?;
                parsed.push((count, condition));
            }
            for locale in rules.attribute("locales").unwrap_or("").split_whitespace() {
                by_locale.insert(locale.to_string(), parsed.clone());
            }
        }
        Ok(Self { by_locale })
    }

    /// The plural category of `n` in `locale` (falling back from `sr_Latn` to
    /// `sr`, and to "other" for unknown locales).
    pub(crate) fn category(&self, locale: &str, n: u128) -> &str {
        let mut code = locale;
        loop {
            if let Some(rules) = self.by_locale.get(code) {
                for (count, condition) in rules {
                    if condition.matches(n) {
                        return count;
                    }
                }
                return "other";
            }
            match code.rfind('_') {
                Some(cut) => code = &code[..cut],
                None => return "other",
            }
        }
    }
}

impl Condition {
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            // "other" has no condition: it always applies.
            return Ok(Self(vec![vec![]]));
        }
        let tokens = tokenize(text)?;
        let mut pos = 0;
        let mut ors = vec![vec![]];
        loop {
            let relation = parse_relation(&tokens, &mut pos)?;
            ors.last_mut().expect("ors starts non-empty").push(relation);
            match tokens.get(pos).map(String::as_str) {
                None => break,
                Some("and") => pos += 1,
                Some("or") => {
                    pos += 1;
                    ors.push(vec![]);
                }
                Some(other) => return Err(format!("expected 'and' or 'or', found {other:?}")),
            }
        }
        Ok(Self(ors))
    }

    fn matches(&self, n: u128) -> bool {
        self.0.iter().any(|all| all.iter().all(|r| r.matches(n)))
    }
}

impl Relation {
    fn matches(&self, n: u128) -> bool {
        // Whole numbers only: n = i, and every fraction operand is 0.
        let mut value = match self.operand {
            'n' | 'i' => n,
            _ => 0,
        };
        if let Some(m) = self.modulus {
            value %= m;
        }
        let inside = self
            .ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&value));
        inside != self.negated
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(word);
        } else if c == '.' {
            chars.next();
            if chars.next() != Some('.') {
                return Err("a single '.' (ranges are written a..b)".into());
            }
            tokens.push("..".into());
        } else if c == '!' {
            chars.next();
            if chars.next() != Some('=') {
                return Err("'!' not followed by '='".into());
            }
            tokens.push("!=".into());
        } else if matches!(c, '=' | ',' | '%') {
            chars.next();
            tokens.push(c.to_string());
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(tokens)
}

fn parse_relation(tokens: &[String], pos: &mut usize) -> Result<Relation, String> {
    let next = |pos: &mut usize| -> Result<&str, String> {
        let token = tokens.get(*pos).ok_or("condition ends early")?;
        *pos += 1;
        Ok(token.as_str())
    };
    let operand = next(pos)?;
    let operand = match operand {
        "n" | "i" | "v" | "w" | "f" | "t" | "c" | "e" => operand.chars().next().unwrap_or('n'),
        other => return Err(format!("unknown operand {other:?}")),
    };
    let mut modulus = None;
    if matches!(tokens.get(*pos).map(String::as_str), Some("%" | "mod")) {
        *pos += 1;
        let m = parse_number(next(pos)?)?;
        if m == 0 {
            return Err("modulus 0".into());
        }
        modulus = Some(m);
    }
    let negated = match next(pos)? {
        "=" | "in" | "within" => false,
        "!=" => true,
        "is" => {
            if tokens.get(*pos).map(String::as_str) == Some("not") {
                *pos += 1;
                true
            } else {
                false
            }
        }
        "not" => {
            let op = next(pos)?;
            if op != "in" && op != "within" {
                return Err(format!("expected 'in' after 'not', found {op:?}"));
            }
            true
        }
        other => return Err(format!("unknown relation {other:?}")),
    };
    let mut ranges = Vec::new();
    loop {
        let lo = parse_number(next(pos)?)?;
        let mut hi = lo;
        if tokens.get(*pos).map(String::as_str) == Some("..") {
            *pos += 1;
            hi = parse_number(next(pos)?)?;
        }
        ranges.push((lo, hi));
        if tokens.get(*pos).map(String::as_str) == Some(",") {
            *pos += 1;
        } else {
            break;
        }
    }
    Ok(Relation {
        operand,
        modulus,
        negated,
        ranges,
    })
}

fn parse_number(token: &str) -> Result<u128, String> {
    token
        .parse()
        .map_err(|_| format!("expected a number, found {token:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ORDINALS_XML, PLURALS_XML};

    /// Every `@integer` sample CLDR lists for a category must land in that
    /// category: this checks the parser and evaluator against CLDR itself.
    #[test]
    fn every_integer_sample_gets_its_own_category() {
        for (xml, file) in [(PLURALS_XML, "plurals.xml"), (ORDINALS_XML, "ordinals.xml")] {
            let rules = PluralRules::parse(xml, file).expect("vendored plural rules parse");
            let doc = crate::data::parse_xml(xml).expect("xml");
            let mut checked = 0;
            for set in doc.descendants().filter(|n| n.has_tag_name("pluralRules")) {
                let locale = set
                    .attribute("locales")
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                for rule in set.children().filter(|n| n.has_tag_name("pluralRule")) {
                    let count = rule.attribute("count").unwrap();
                    let text = rule.text().unwrap_or("");
                    let Some(samples) = text.split("@integer").nth(1) else {
                        continue;
                    };
                    let samples = samples.split('@').next().unwrap();
                    for sample in samples.split(',').map(str::trim) {
                        if sample == "…" || sample.is_empty() || sample.contains('c') {
                            continue;
                        }
                        let (lo, hi) = match sample.split_once('~') {
                            Some((a, b)) => (a.parse::<u128>().unwrap(), b.parse().unwrap()),
                            None => (sample.parse().unwrap(), sample.parse().unwrap()),
                        };
                        for n in lo..=hi {
                            assert_eq!(rules.category(locale, n), count, "{file} {locale} {n}");
                            checked += 1;
                        }
                    }
                }
            }
            assert!(checked > 500, "{file}: only {checked} samples checked");
        }
    }

    #[test]
    fn russian_forms() {
        let rules = PluralRules::parse(PLURALS_XML, "plurals.xml").unwrap();
        assert_eq!(rules.category("ru", 1), "one");
        assert_eq!(rules.category("ru", 3), "few");
        assert_eq!(rules.category("ru", 11), "many");
        assert_eq!(rules.category("ru", 21), "one");
        assert_eq!(rules.category("sr_Latn", 2), "few");
        assert_eq!(rules.category("xx", 2), "other");
    }

    #[test]
    fn bad_condition_is_an_error() {
        assert!(Condition::parse("n % 10 = ").is_err());
        assert!(Condition::parse("q = 1").is_err());
        assert!(Condition::parse("n = 1 xor n = 2").is_err());
        assert!(Condition::parse("n % 0 = 1").is_err());
    }
}
