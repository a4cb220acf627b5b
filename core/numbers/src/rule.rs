//! One RBNF rule: its base value, divisor and the parsed rule text.
//!
//! Rule text syntax (ICU `RuleBasedNumberFormat`, as used by CLDR):
//! - `←←` / `<<`: the quotient `n / divisor`, formatted with this rule set;
//!   `←%set←` with another set, `←#,##0←` as digits.
//! - `→→` / `>>`: the remainder `n % divisor` (in `x.x` rules: the fraction
//!   digits, one by one); `→→→`: the remainder formatted with the rule that
//!   precedes this one, skipping rule selection (fraction digits without spaces).
//! - `=%set=`: the same number formatted with another rule set; `=#,##0=` as digits.
//! - `[…]`: optional text, omitted when the number is an exact multiple of the
//!   divisor (expanded into two rules, as ICU does).
//! - `$(cardinal,one{…}few{…}other{…})$`: a word form chosen by CLDR plural
//!   rules for `n / divisor`.
//! - a leading `'` only protects leading spaces.

/// What kind of number a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// A normal rule for whole numbers ≥ this value.
    Normal(u128),
    /// `-x`: negative numbers.
    Negative,
    /// `x.x`: numbers with a fraction.
    ImproperFraction,
    /// `0.x`: numbers between 0 and 1.
    ProperFraction,
}

/// Where a substitution's number goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The rule set that owns the rule.
    Own,
    /// Another rule set, by name without `%`.
    Set(String),
    /// A decimal pattern such as `#,##0`: digits, not words.
    Pattern(String),
    /// `→→→`: the preceding rule, bypassing rule selection.
    Predecessor,
}

/// Which number a substitution formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubKind {
    /// `←←`: `n / divisor` (the integral part in fraction rules).
    Quotient,
    /// `→→`: `n % divisor` (the fraction digits in fraction rules).
    Remainder,
    /// `==`: `n` itself.
    Same,
}

/// One piece of a rule's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Text(String),
    /// A substitution.
    Sub(SubKind, Target),
    /// A plural selector: ordinal or cardinal, and `(category, text)` forms.
    Plural {
        ordinal: bool,
        forms: Vec<(String, String)>,
    },
}

/// A parsed rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) base: Base,
    /// `radix^exponent`: the highest power of the radix ≤ the base value.
    pub(crate) divisor: u128,
    pub(crate) parts: Vec<Part>,
    /// Base value of the rule written before this one, for `→→→`.
    pub(crate) predecessor: Option<u128>,
}

impl Rule {
    /// Whether the rule has a `→→` substitution (drives ICU's "rollback").
    pub(crate) fn has_modulus(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Sub(SubKind::Remainder, _)))
    }
}

/// Parses the `value` attribute of a rule; `None` for the `Inf` and `NaN`
/// rules, which whole and decimal numbers never reach.
pub(crate) fn parse_base(value: &str) -> Result<Option<Base>, String> {
    Ok(Some(match value {
        "Inf" | "NaN" => return Ok(None),
        "-x" => Base::Negative,
        "x.x" | "x,x" => Base::ImproperFraction,
        "0.x" | "0,x" => Base::ProperFraction,
        _ => value.parse().map(Base::Normal).map_err(|_| {
            format!("rule value {value:?} is neither a number nor -x, x.x, 0.x, Inf, NaN")
        })?,
    }))
}

/// The highest power of `radix` that is ≤ `base` (1 for base 0).
pub(crate) fn divisor(base: u128, radix: u128) -> u128 {
    let mut d: u128 = 1;
    while let Some(next) = d.checked_mul(radix) {
        if next > base {
            break;
        }
        d = next;
    }
    d
}

/// Parses rule text into one or two rules (two when `[optional]` text splits
/// it, as ICU does: the bare base value gets the text without the brackets, the
/// base + 1 the text with them; for `x.x` the split gives the `0.x` rule).
pub(crate) fn parse_rule(base: Base, radix: u128, text: &str) -> Result<Vec<Rule>, String> {
    let text = text.split(';').next().unwrap_or("");
    let text = text.strip_prefix('\'').unwrap_or(text);
    let div = match base {
        Base::Normal(b) => divisor(b, radix.max(2)),
        _ => 1,
    };
    let make = |base, text: &str| -> Result<Rule, String> {
        Ok(Rule {
            base,
            divisor: div,
            parts: parse_parts(text)?,
            predecessor: None,
        })
    };
    let Some(open) = text.find('[') else {
        return Ok(vec![make(base, text)?]);
    };
    let close = text[open..]
        .find(']')
        .map(|i| i + open)
        .ok_or_else(|| format!("'[' without ']' in {text:?}"))?;
    let without = format!("{}{}", &text[..open], &text[close + 1..]);
    let with = format!(
        "{}{}{}",
        &text[..open],
        &text[open + 1..close],
        &text[close + 1..]
    );
    match base {
        Base::Normal(b) if b > 0 && b % div == 0 => Ok(vec![
            make(Base::Normal(b), &without)?,
            make(Base::Normal(b + 1), &with)?,
        ]),
        Base::ImproperFraction => Ok(vec![
            make(Base::ImproperFraction, &with)?,
            make(Base::ProperFraction, &without)?,
        ]),
        _ => Ok(vec![make(base, &with)?]),
    }
}

fn is_quotient(c: char) -> bool {
    c == '←' || c == '<'
}

fn is_remainder(c: char) -> bool {
    c == '→' || c == '>'
}

/// Splits rule text into literal text, substitutions and plural selectors.
fn parse_parts(text: &str) -> Result<Vec<Part>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let kind = if is_quotient(c) {
            Some(SubKind::Quotient)
        } else if is_remainder(c) {
            Some(SubKind::Remainder)
        } else if c == '=' {
            Some(SubKind::Same)
        } else {
            None
        };
        if let Some(kind) = kind {
            let closes = |x: char| match kind {
                SubKind::Quotient => is_quotient(x),
                SubKind::Remainder => is_remainder(x),
                SubKind::Same => x == '=',
            };
            let end = (i + 1..chars.len())
                .find(|&j| closes(chars[j]))
                .ok_or_else(|| format!("unterminated substitution {c:?} in {text:?}"))?;
            let inner: String = chars[i + 1..end].iter().collect();
            let mut next = end + 1;
            let target = if inner.is_empty() {
                if kind == SubKind::Remainder && chars.get(next).is_some_and(|&x| is_remainder(x)) {
                    next += 1;
                    Target::Predecessor
                } else if kind == SubKind::Same {
                    return Err(format!(
                        "'==' would format the same number forever in {text:?}"
                    ));
                } else {
                    Target::Own
                }
            } else if kind == SubKind::Quotient && chars.get(next).is_some_and(|&x| is_quotient(x))
            {
                // `←%set←←` (CLDR fraction sets): the extra arrow adds nothing
                // for whole numbers.
                next += 1;
                named_target(&inner, text)?
            } else {
                named_target(&inner, text)?
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Sub(kind, target));
            i = next;
        } else if c == '$' && chars.get(i + 1) == Some(&'(') {
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == ')' && chars[j + 1] == '$')
                .ok_or_else(|| format!("'$(' without ')$' in {text:?}"))?;
            let inner: String = chars[i + 2..end].iter().collect();
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(parse_plural(&inner).map_err(|e| format!("{e} in {text:?}"))?);
            i = end + 2;
        } else {
            literal.push(c);
            i += 1;
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// The target of `←%set←`, `←#,##0←` and the like.
fn named_target(inner: &str, text: &str) -> Result<Target, String> {
    if let Some(name) = inner.strip_prefix('%') {
        Ok(Target::Set(name.trim_start_matches('%').to_string()))
    } else if inner.starts_with(['#', '0']) {
        Ok(Target::Pattern(inner.to_string()))
    } else {
        Err(format!("unknown substitution {inner:?} in {text:?}"))
    }
}

/// Parses `cardinal,one{x}few{y}other{z}`.
fn parse_plural(inner: &str) -> Result<Part, String> {
    let (kind, rest) = inner
        .split_once(',')
        .ok_or_else(|| format!("plural selector {inner:?} lacks 'cardinal,' or 'ordinal,'"))?;
    let ordinal = match kind.trim() {
        "cardinal" => false,
        "ordinal" => true,
        other => return Err(format!("unknown plural type {other:?}")),
    };
    let mut forms = Vec::new();
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let open = rest
            .find('{')
            .ok_or_else(|| format!("plural form without '{{' in {inner:?}"))?;
        let close = rest[open..]
            .find('}')
            .map(|j| j + open)
            .ok_or_else(|| format!("plural form without '}}' in {inner:?}"))?;
        forms.push((
            rest[..open].trim().to_string(),
            rest[open + 1..close].to_string(),
        ));
        rest = rest[close + 1..].trim_start();
    }
    if forms.is_empty() {
        return Err(format!("plural selector {inner:?} has no forms"));
    }
    Ok(Part::Plural { ordinal, forms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Part {
        Part::Text(s.into())
    }

    #[test]
    fn divisor_is_highest_power_not_above_base() {
        assert_eq!(divisor(0, 10), 1);
        assert_eq!(divisor(25, 10), 10);
        assert_eq!(divisor(100, 10), 100);
        assert_eq!(divisor(999, 10), 100);
        assert_eq!(divisor(1010, 100), 100);
        assert_eq!(divisor(100_000, 1000), 1000);
        assert_eq!(divisor(40, 20), 20);
    }

    #[test]
    fn optional_text_splits_into_two_rules() {
        let rules = parse_rule(Base::Normal(100), 10, "←← hundred[ →→];").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].base, Base::Normal(100));
        assert_eq!(
            rules[0].parts,
            vec![Part::Sub(SubKind::Quotient, Target::Own), text(" hundred")]
        );
        assert_eq!(rules[1].base, Base::Normal(101));
        assert_eq!(rules[1].divisor, 100);
        assert!(rules[1].has_modulus());
        // A base that is not a multiple of its divisor keeps the text.
        let rules = parse_rule(Base::Normal(21), 10, "x[y]z;").unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].parts, vec![text("xyz")]);
    }

    #[test]
    fn substitutions_and_names() {
        let rules = parse_rule(Base::Normal(1000), 10, "←%%hundreds← mil[→%spellout-x→];").unwrap();
        assert_eq!(
            rules[1].parts,
            vec![
                Part::Sub(SubKind::Quotient, Target::Set("hundreds".into())),
                text(" mil"),
                Part::Sub(SubKind::Remainder, Target::Set("spellout-x".into())),
            ]
        );
        let rules = parse_rule(Base::Normal(10), 10, "←← →→→;").unwrap();
        assert_eq!(
            rules[0].parts[2],
            Part::Sub(SubKind::Remainder, Target::Predecessor)
        );
        let rules = parse_rule(Base::Normal(0), 10, "=#,##0=;").unwrap();
        assert_eq!(
            rules[0].parts,
            vec![Part::Sub(SubKind::Same, Target::Pattern("#,##0".into()))]
        );
        let rules = parse_rule(Base::Normal(1), 10, "' and =%x=;").unwrap();
        assert_eq!(rules[0].parts[0], text(" and "));
    }

    #[test]
    fn plural_selector() {
        let rules = parse_rule(
            Base::Normal(1000),
            10,
            "←← $(cardinal,one{тысяча}few{тысячи}other{тысяч})$[ →→];",
        )
        .unwrap();
        let Part::Plural { ordinal, forms } = &rules[0].parts[2] else {
            panic!("no plural part: {:?}", rules[0].parts)
        };
        assert!(!ordinal);
        assert_eq!(forms[1], ("few".to_string(), "тысячи".to_string()));
    }

    #[test]
    fn malformed_rules_are_errors() {
        for bad in [
            "←← hundred[ →→",
            "←%x",
            "$(cardinal,one{a}",
            "$(dual,one{a})$",
            "==",
            "←x←",
        ] {
            assert!(parse_rule(Base::Normal(100), 10, bad).is_err(), "{bad}");
        }
        assert!(parse_base("1e5").is_err());
        assert_eq!(parse_base("x,x"), Ok(Some(Base::ImproperFraction)));
        assert_eq!(parse_base("Inf"), Ok(None));
    }
}
