//! Typed slot values: text, numbers and lists, as hassil keeps them.
//!
//! A sentence block's `slots:` may give a list (`device_class: [blind,
//! shutter]`), a list value's `out` may be a number, and a range list yields
//! numbers. [`Value`] keeps that type; [`Value::as_text`] is the cheap text
//! form for callers that only want a string.

use std::borrow::Cow;

use crate::yaml::{Yaml, format_number};

/// The value of a slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (a list's `out`, a fixed slot, or the words as spoken).
    Text(String),
    /// A number (a range list, or a numeric `out` / fixed slot).
    Number(f64),
    /// A list (a fixed slot given as a YAML/JSON list).
    List(Vec<Value>),
}

impl Value {
    /// Converts a YAML/JSON value the way hassil keeps it: strings stay
    /// strings, numbers numbers, sequences lists; booleans become `"true"` /
    /// `"false"` and null the empty text.
    pub(crate) fn from_yaml(v: &Yaml) -> Value {
        match v {
            Yaml::Num(n) => Value::Number(*n),
            Yaml::Seq(items) => Value::List(items.iter().map(Value::from_yaml).collect()),
            Yaml::Null => Value::Text(String::new()),
            other => Value::Text(crate::engine::yaml_value_text(other)),
        }
    }

    /// The value as text: text as is, whole numbers without `.0`, list items
    /// joined with `,`. Borrows when the value is text.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            Value::Text(s) => Cow::Borrowed(s),
            Value::Number(n) => Cow::Owned(format_number(*n)),
            Value::List(items) => Cow::Owned(
                items
                    .iter()
                    .map(|i| i.as_text().into_owned())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// The number, for numbers and for text that reads as one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
            Value::List(_) => None,
        }
    }

    /// The list items, or `None` for a single value.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Equality of single values as Home Assistant's tests compare them:
    /// numbers as numbers (so `5`, `5.0` and the text `"5"` are equal), text
    /// exactly, lists item by item.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Value::List(_), _) | (_, Value::List(_)) => false,
            (Value::Text(a), Value::Text(b)) if a == b => true,
            _ => match (self.as_number(), other.as_number()) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                _ => false,
            },
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

/// The text form ([`Value::as_text`]), for APIs that take `impl Into<String>`.
impl From<Value> for String {
    fn from(v: Value) -> String {
        match v {
            Value::Text(s) => s,
            other => other.as_text().into_owned(),
        }
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        matches!(self, Value::Text(s) if s == other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

/// JSON: text as a string, numbers as numbers (whole numbers without `.0`),
/// lists as arrays.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(t) => s.serialize_str(t),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => s.serialize_i64(*n as i64),
            Value::Number(n) => s.serialize_f64(*n),
            Value::List(items) => s.collect_seq(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_types_are_kept() {
        let seq = Yaml::Seq(vec![Yaml::Str("blind".into()), Yaml::Num(2.0)]);
        let v = Value::from_yaml(&seq);
        assert_eq!(
            v,
            Value::List(vec![Value::Text("blind".into()), Value::Number(2.0)])
        );
        assert_eq!(v.as_text(), "blind,2");
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["blind",2]"#);
        assert_eq!(serde_json::to_string(&Value::Number(0.5)).unwrap(), "0.5");
    }

    #[test]
    fn numbers_compare_as_numbers_and_lists_item_by_item() {
        assert!(Value::Number(5.0).same(&Value::Text("5".into())));
        assert!(!Value::Text("5".into()).same(&Value::Text("five".into())));
        let l = Value::List(vec!["a".into(), "b".into()]);
        assert!(l.same(&Value::List(vec!["a".into(), "b".into()])));
        assert!(!l.same(&Value::Text("a,b".into())));
    }
}
