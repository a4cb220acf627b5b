//! A small ordered YAML value, read with `serde-saphyr` under a strict budget.
//!
//! Order matters to hassil's ranking (intents, data blocks and list values
//! are tried in file order), so maps keep their insertion order.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{IntentError, Origin};

/// A YAML node with ordered maps.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// `null` or `~`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number.
    Num(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A map with keys in file order.
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// The value under `key` when this is a map.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The map entries, or an empty slice.
    pub fn entries(&self) -> &[(String, Yaml)] {
        match self {
            Yaml::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The sequence items, or an empty slice.
    pub fn items(&self) -> &[Yaml] {
        match self {
            Yaml::Seq(items) => items,
            _ => &[],
        }
    }

    /// A scalar as text (numbers formatted like Python does for whole numbers).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Yaml::Str(s) => Some(s.clone()),
            Yaml::Num(n) => Some(format_number(*n)),
            Yaml::Bool(b) => Some(if *b { "true" } else { "false" }.to_string()),
            _ => None,
        }
    }

    /// True for a YAML boolean `true`.
    pub fn is_true(&self) -> bool {
        matches!(self, Yaml::Bool(true))
    }

    /// Merges `other` into `self` like hassil's `merge_dict`: maps merge
    /// recursively, sequences are concatenated, scalars are overwritten.
    pub fn merge(&mut self, other: Yaml) {
        match (self, other) {
            (Yaml::Map(base), Yaml::Map(new)) => {
                for (key, value) in new {
                    if let Some((_, old)) = base.iter_mut().find(|(k, _)| *k == key) {
                        match (&mut *old, value) {
                            (Yaml::Map(_), v @ Yaml::Map(_)) => old.merge(v),
                            (Yaml::Seq(items), Yaml::Seq(more)) => items.extend(more),
                            (slot, v) => *slot = v,
                        }
                    } else {
                        base.push((key, value));
                    }
                }
            }
            (slot, other) => *slot = other,
        }
    }
}

/// Formats a number the way the HA test files write it: whole numbers without `.0`.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Yaml, E> {
        Ok(Yaml::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Num(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Yaml>()? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries: Vec<(String, Yaml)> = Vec::new();
        while let Some(key) = map.next_key::<Yaml>()? {
            let key = match key {
                Yaml::Str(s) => s,
                Yaml::Num(n) => format_number(n),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Null => "null".to_string(),
                _ => return Err(de::Error::custom("map keys must be scalars")),
            };
            let value = map.next_value::<Yaml>()?;
            if let Some((_, old)) = entries.iter_mut().find(|(k, _)| *k == key) {
                *old = value;
            } else {
                entries.push((key, value));
            }
        }
        Ok(Yaml::Map(entries))
    }
}

/// Largest YAML text accepted (intent files are a few hundred KiB at most).
pub const MAX_YAML_BYTES: usize = 16 * 1024 * 1024;

/// Parses YAML text with alias, depth and size limits (billion laughs and
/// deep nesting are rejected quickly).
/// Parses a JSON document (the `home-assistant-intents` package's merged
/// per-language files) into the same ordered value. Maps keep document order.
pub fn parse_json(text: &str, origin: &str) -> Result<Yaml, IntentError> {
    let err = |message: String, line: Option<usize>| IntentError::Json {
        origin: Origin {
            file: origin.to_string(),
            line,
        },
        message,
    };
    if text.len() > MAX_YAML_BYTES {
        return Err(err(
            format!(
                "{} bytes is more than the {MAX_YAML_BYTES} allowed",
                text.len()
            ),
            None,
        ));
    }
    // serde_json limits nesting to 128 levels, so hostile input cannot overflow the stack.
    serde_json::from_str::<Yaml>(text).map_err(|e| err(e.to_string(), Some(e.line())))
}

/// Parses a YAML document with the parser's safety budget.
pub fn parse(text: &str, origin: &str) -> Result<Yaml, IntentError> {
    let err = |message: String| IntentError::Yaml {
        origin: Origin {
            file: origin.to_string(),
            line: None,
        },
        message,
    };
    if text.len() > MAX_YAML_BYTES {
        return Err(err(format!(
            "{} bytes is more than the {MAX_YAML_BYTES} allowed",
            text.len()
        )));
    }
    if text.trim().is_empty() {
        return Ok(Yaml::Null);
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 2_000_000;
    budget.max_nodes = 1_000_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 4 * 1024 * 1024;
    // YAML 1.2 booleans only: a list named `n` or a value `on` stays text.
    let options = serde_saphyr::options! { budget: Some(budget), strict_booleans: true };
    serde_saphyr::from_str_with_options::<Yaml>(text, options).map_err(|e| {
        let message = e.to_string();
        let line = message_line(&message);
        IntentError::Yaml {
            origin: Origin {
                file: origin.to_string(),
                line,
            },
            message: message.lines().next().unwrap_or("").to_string(),
        }
    })
}

/// Pulls "line N" out of a parser message when it has one.
fn message_line(message: &str) -> Option<usize> {
    let idx = message.find("line ")?;
    let digits: String = message[idx + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// 1-based line of the first occurrence of `needle` in `text`.
pub fn line_of(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let idx = text.find(needle)?;
    Some(text[..idx].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_merges_like_hassil() {
        let mut a = parse("intents:\n  B: {data: [1]}\n  A: {data: [2]}\n", "a").unwrap();
        let b = parse("intents:\n  B: {data: [3]}\n  C: {data: []}\n", "b").unwrap();
        a.merge(b);
        let intents = a.get("intents").unwrap();
        let names: Vec<_> = intents.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["B", "A", "C"]);
        assert_eq!(
            intents.get("B").unwrap().get("data").unwrap().items().len(),
            2
        );
    }

    #[test]
    fn billion_laughs_is_rejected_fast() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            text.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = name;
        }
        let start = std::time::Instant::now();
        let err = parse(&text, "laughs.yaml").unwrap_err();
        assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
        assert!(err.to_string().contains("laughs.yaml"), "{err}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse(&text, "deep.yaml").unwrap_err();
        assert!(matches!(err, IntentError::Yaml { .. }), "{err}");
    }

    #[test]
    fn bad_yaml_names_file_and_line() {
        let err = parse("language: en\nintents:\n  X: [unclosed\n", "bad.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml"), "{text}");
    }
}
