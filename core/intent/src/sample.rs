//! Sample sentences from an intent source's templates, bounded: what a
//! customer could say to each intent, for checks such as "would another
//! source's templates take these sentences?" (the assistant's install-time
//! shadowing check).
//!
//! Each template yields at most [`SampleLimits::per_template`] distinct
//! sentences. When a template stands for more sentences than that, the first
//! sample takes every first choice and the others pick each alternative,
//! optional part, permutation and list value by a fixed hash of the sample
//! number and the choice's position, so every alternative of a small group
//! shows up and the result is the same on every run. Expansion rules are
//! followed (at most [`MAX_RULE_DEPTH`] deep); lists give a value of their
//! `values` (templates included), a `range` gives its ends and a middle
//! value as digits, a wildcard gives [`SampleLimits::wildcard`]. Lists the
//! source does not define (the home's `name`, `area`, `floor`) take their
//! texts from [`SampleLimits::runtime`]; a template using a list with no
//! texts is skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::IntentError;
use crate::merge::IntentSource;
use crate::template::{self, Expr};
use crate::yaml::{self, Yaml};

/// Deepest chain of expansion rules followed.
pub const MAX_RULE_DEPTH: usize = 16;

/// Bounds and fillers for [`samples`].
#[derive(Debug, Clone)]
pub struct SampleLimits {
    /// Most sentences per template.
    pub per_template: usize,
    /// Most sentences per source.
    pub per_source: usize,
    /// Texts for lists the source uses but does not define (e.g. `name`, `area`).
    pub runtime: BTreeMap<String, Vec<String>>,
    /// What a wildcard list stands for.
    pub wildcard: String,
}

impl Default for SampleLimits {
    fn default() -> Self {
        SampleLimits {
            per_template: 32,
            per_source: 5_000,
            runtime: BTreeMap::new(),
            wildcard: "something".into(),
        }
    }
}

/// One sampled sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The intent whose template produced it.
    pub intent: String,
    /// The template, as written.
    pub template: String,
    /// The sentence (whitespace collapsed).
    pub text: String,
}

/// Sample sentences of every intent of `source` (hassil YAML, Rhino or Alexa), in file order.
pub fn samples(
    source: &IntentSource,
    lang: &str,
    limits: &SampleLimits,
) -> Result<Vec<Sample>, IntentError> {
    let text = crate::foreign::to_hassil(&source.text, &source.origin, lang)?;
    let doc = yaml::parse(&text, &source.origin)?;
    let empty = Yaml::Map(vec![]);
    let global_lists = lists(doc.get("lists").unwrap_or(&empty), limits);
    let global_rules = rules(doc.get("expansion_rules").unwrap_or(&empty));
    let mut out = Vec::new();
    for (intent, def) in doc.get("intents").unwrap_or(&empty).entries() {
        for block in def.get("data").map(Yaml::items).unwrap_or_default() {
            let mut scope = Scope {
                lists: global_lists.clone(),
                rules: global_rules.clone(),
                limits,
            };
            scope
                .lists
                .extend(lists(block.get("lists").unwrap_or(&empty), limits));
            scope
                .rules
                .extend(rules(block.get("expansion_rules").unwrap_or(&empty)));
            for sentence in block.get("sentences").map(Yaml::items).unwrap_or_default() {
                let Some(template) = sentence.as_text() else {
                    continue;
                };
                let expr = template::parse(&template).map_err(|e| IntentError::Template {
                    origin: crate::error::Origin {
                        file: source.origin.clone(),
                        line: yaml::line_of(&text, &template),
                    },
                    template: template.clone(),
                    message: e.to_string(),
                })?;
                let room = limits.per_source.saturating_sub(out.len());
                for text in scope.sentences(&expr, limits.per_template.min(room)) {
                    out.push(Sample {
                        intent: intent.clone(),
                        template: template.clone(),
                        text,
                    });
                }
                if out.len() >= limits.per_source {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// The texts (or templates) of each list definition in `defs`: `values`, a
/// range's ends and middle, the wildcard placeholder.
fn lists(defs: &Yaml, limits: &SampleLimits) -> HashMap<String, Vec<Expr>> {
    let mut out = HashMap::new();
    for (name, def) in defs.entries() {
        let mut texts = Vec::new();
        if let Some(values) = def.get("values") {
            for v in values.items() {
                let t = v.get("in").and_then(Yaml::as_text).or_else(|| v.as_text());
                if let Some(t) = t {
                    texts.push(value_expr(&t));
                }
            }
        } else if let Some(range) = def.get("range") {
            let num = |k: &str| match range.get(k) {
                Some(Yaml::Num(n)) => Some(*n as i64),
                _ => None,
            };
            if let (Some(from), Some(to)) = (num("from"), num("to")) {
                let step = num("step").filter(|s| *s > 0).unwrap_or(1);
                let mid = from + (to - from).max(0) / 2 / step * step;
                let set: BTreeSet<i64> = [from, mid, to].into_iter().collect();
                texts.extend(set.into_iter().map(|n| Expr::Text(n.to_string())));
            }
        } else if def.get("wildcard").is_some_and(Yaml::is_true) {
            texts.push(Expr::Text(limits.wildcard.clone()));
        }
        out.insert(name.clone(), texts);
    }
    out
}

/// A list value: a template when it uses template syntax (as hassil reads it), else literal text.
fn value_expr(text: &str) -> Expr {
    if template::is_template(text)
        && let Ok(e) = template::parse(text)
    {
        return e;
    }
    Expr::Text(text.to_string())
}

/// The expansion rules in `defs`, parsed (unparsable rules are left out: the engine reports them).
fn rules(defs: &Yaml) -> HashMap<String, Expr> {
    defs.entries()
        .iter()
        .filter_map(|(name, body)| {
            let t = body.as_text()?;
            template::parse(&t).ok().map(|e| (name.clone(), e))
        })
        .collect()
}

/// Lists and rules visible to one data block.
struct Scope<'a> {
    lists: HashMap<String, Vec<Expr>>,
    rules: HashMap<String, Expr>,
    limits: &'a SampleLimits,
}

/// One walk through a template: which choice each choice point takes.
struct Walk {
    sample: u64,
    point: u64,
}

impl Walk {
    /// The option to take at the next choice point with `n` options.
    fn choose(&mut self, n: usize) -> usize {
        self.point += 1;
        if self.sample == 0 || n <= 1 {
            return 0;
        }
        let n = n as u64;
        if self.sample < 8 {
            // Early samples step every point through its options (from a
            // different start per point), so small groups are all covered.
            return ((self.sample + mix(self.point)) % n) as usize;
        }
        (mix(self.sample.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.point) % n) as usize
    }
}

/// splitmix64's finaliser: a fixed, well-spread hash.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Scope<'_> {
    /// Up to `cap` distinct sentences of `expr`; none if it uses a list without texts.
    fn sentences(&self, expr: &Expr, cap: usize) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        // Twice the cap in attempts: duplicates are expected on small templates.
        for sample in 0..(cap as u64).saturating_mul(2) {
            if out.len() >= cap {
                break;
            }
            let mut walk = Walk { sample, point: 0 };
            let mut text = String::new();
            if !self.walk(expr, &mut walk, &mut text, 0) {
                return vec![];
            }
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if !text.is_empty() && seen.insert(text.clone()) {
                out.push(text);
            }
        }
        out
    }

    /// Appends one choice of `expr` to `out`; false if a list has no texts or rules nest too deep.
    fn walk(&self, expr: &Expr, w: &mut Walk, out: &mut String, depth: usize) -> bool {
        match expr {
            Expr::Text(t) => {
                out.push_str(t);
                true
            }
            Expr::Seq(items) => items.iter().all(|i| self.walk(i, w, out, depth)),
            Expr::Alt { items, optional } => {
                let n = items.len() + usize::from(*optional);
                let k = w.choose(n);
                match items.get(k) {
                    Some(item) => self.walk(item, w, out, depth),
                    None => true,
                }
            }
            Expr::Perm(items) => {
                // A rotation of the parts, each followed by a space.
                let start = w.choose(items.len());
                (0..items.len()).all(|i| {
                    let ok = self.walk(&items[(start + i) % items.len()], w, out, depth);
                    out.push(' ');
                    ok
                })
            }
            Expr::List { list, .. } => {
                let runtime: Vec<Expr>;
                let texts: &[Expr] = match self.lists.get(list) {
                    Some(v) => v,
                    None => {
                        runtime = self
                            .limits
                            .runtime
                            .get(list)
                            .map(|v| v.iter().map(|t| Expr::Text(t.clone())).collect())
                            .unwrap_or_default();
                        &runtime
                    }
                };
                if texts.is_empty() || depth >= MAX_RULE_DEPTH {
                    return false;
                }
                let k = w.choose(texts.len());
                self.walk(&texts[k], w, out, depth + 1)
            }
            Expr::Rule(name) => match self.rules.get(name) {
                Some(body) if depth < MAX_RULE_DEPTH => self.walk(body, w, out, depth + 1),
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> IntentSource {
        IntentSource::namespaced("test", "test.yaml", text)
    }

    const COFFEE: &str = r#"
language: en
intents:
  OrderDrink:
    data:
      - sentences:
          - "<order> [a] [{size}] {drink} [with {shots} shot[s]]"
  Lights:
    data:
      - sentences:
          - "turn on [the] {name}"
      - sentences:
          - "(dim|brighten) the {room} light"
        lists:
          room:
            values: [hall, {in: "(bath|bed) room", out: x}]
lists:
  drink:
    values: [latte, espresso, flat white]
  size:
    values: [small, large]
  shots:
    range: {from: 1, to: 4}
expansion_rules:
  order: "(make me|order)"
"#;

    #[test]
    fn samples_follow_rules_lists_ranges_and_block_lists() {
        let mut limits = SampleLimits::default();
        limits
            .runtime
            .insert("name".into(), vec!["kitchen light".into()]);
        let got = samples(&source(COFFEE), "en", &limits).unwrap();
        let texts: Vec<&str> = got.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts[0], "make me a small latte with 1 shots");
        // Every alternative and list value shows up.
        for part in [
            "order ",
            "make me ",
            "latte",
            "espresso",
            "flat white",
            "small",
            "large",
        ] {
            assert!(
                texts.iter().any(|t| t.contains(part)),
                "{part} missing from {texts:?}"
            );
        }
        for want in [
            "make me flat white",
            "turn on the kitchen light",
            "turn on kitchen light",
            "dim the bath room light",
            "brighten the hall light",
        ] {
            assert!(texts.contains(&want), "{want} missing from {texts:?}");
        }
        assert!(texts.iter().any(|t| t.contains("with 4 shot")), "{texts:?}");
        assert!(
            got.iter()
                .all(|s| !s.text.contains('{') && !s.text.contains('<'))
        );
        let order = got.iter().filter(|s| s.intent == "OrderDrink").count();
        assert!(order <= limits.per_template, "{order}");
        // The same every run.
        assert_eq!(got, samples(&source(COFFEE), "en", &limits).unwrap());
    }

    #[test]
    fn caps_hold_and_a_list_without_texts_skips_its_template() {
        let limits = SampleLimits {
            per_template: 5,
            per_source: 7,
            ..SampleLimits::default()
        };
        let got = samples(&source(COFFEE), "en", &limits).unwrap();
        assert_eq!(got.len(), 7, "{got:?}");
        assert_eq!(got.iter().filter(|s| s.intent == "OrderDrink").count(), 5);
        // No runtime texts for {name}: "turn on [the] {name}" gives nothing.
        assert!(
            got.iter().all(|s| !s.text.starts_with("turn on")),
            "{got:?}"
        );
    }

    #[test]
    fn recursive_rules_and_bad_templates_are_bounded_or_reported() {
        let looping = "language: en\nintents:\n  A:\n    data:\n      - sentences: [\"<a> x\", \"plain\"]\nexpansion_rules:\n  a: \"<a> y\"\n";
        let got = samples(&source(looping), "en", &SampleLimits::default()).unwrap();
        assert_eq!(
            got.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
            ["plain"]
        );
        let bad = "language: en\nintents:\n  A:\n    data:\n      - sentences: [\"turn (on\"]\n";
        let e = samples(&source(bad), "en", &SampleLimits::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("turn (on"), "{e}");
    }
}
