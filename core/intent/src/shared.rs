//! [`SharedStr`]: immutable text shared between a compiled engine and the
//! matches it reports.
//!
//! A recognised [`crate::IntentMatch`] names its intent, template, response
//! and slots with text the engine compiled once. Copying that text into fresh
//! `String`s cost an allocation and a copy each, for every reported match
//! (about half of building one); a `SharedStr` is a reference-counted pointer
//! to the engine's copy, so reporting a name is a counter increment.
//!
//! It reads like a `&str` (it dereferences to `str`, compares with `str`,
//! `&str` and `String` in both directions, borrows as `str` so maps keyed by it
//! are looked up with a `&str`), prints and serialises as its text (JSON
//! output is unchanged), and converts into a `String` with `to_string()` or
//! `String::from`.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Immutable, cheaply cloned text (an `Arc<str>`) that behaves like a string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        Self::from("")
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> Self {
        Self(Arc::from(s.as_str()))
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> Self {
        s.0.to_string()
    }
}

impl From<&SharedStr> for String {
    fn from(s: &SharedStr) -> Self {
        s.0.to_string()
    }
}

macro_rules! eq_str {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for SharedStr {
            fn eq(&self, other: &$other) -> bool {
                *self.0 == **other
            }
        }
        impl PartialEq<SharedStr> for $other {
            fn eq(&self, other: &SharedStr) -> bool {
                **self == *other.0
            }
        }
    )*};
}

eq_str!(&str, String);

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == *other.0
    }
}

impl serde::Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn reads_like_a_string() {
        let s = SharedStr::from("HassTurnOn");
        assert_eq!(s, "HassTurnOn");
        assert_eq!("HassTurnOn", s);
        assert_eq!(s, "HassTurnOn".to_string());
        assert_eq!(s.len(), 10);
        assert_eq!(format!("{s} {s:?}"), "HassTurnOn \"HassTurnOn\"");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"HassTurnOn\"");
        let map: BTreeMap<SharedStr, u32> = [(SharedStr::from("name"), 1)].into();
        assert_eq!(map.get("name"), Some(&1));
        assert_eq!(String::from(s.clone()), "HassTurnOn");
    }
}
