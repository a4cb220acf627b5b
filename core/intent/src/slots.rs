//! [`Slots`]: a match's slots by name, in name order.
//!
//! A match has a handful of slots, so they are a vector sorted by name rather
//! than a `BTreeMap`: building one is a single allocation of the right size (a
//! map's first node holds eleven entries) and no node walks, and dropping it
//! frees that one block. It reads like the map it replaces: [`Slots::get`] and
//! `slots["name"]` look a slot up by name, iteration is in name order, and it
//! serialises as a JSON object, exactly as the map did.

use std::fmt;
use std::ops::Index;

use crate::engine::SlotValue;
use crate::shared::SharedStr;

/// Slots by name (sorted by name, each name once).
#[derive(Clone, Default, PartialEq)]
pub struct Slots {
    entries: Vec<(SharedStr, SlotValue)>,
}

impl Slots {
    /// No slots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Slots from entries already sorted by name, each name once (the engine
    /// builds them in that order).
    pub(crate) fn from_sorted(entries: Vec<(SharedStr, SlotValue)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Self { entries }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// The slot `name`.
    pub fn get(&self, name: &str) -> Option<&SlotValue> {
        self.find(name).ok().map(|i| &self.entries[i].1)
    }

    /// The slot `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut SlotValue> {
        self.find(name).ok().map(|i| &mut self.entries[i].1)
    }

    /// True when the slot `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets the slot `name`, returning its previous value.
    pub fn insert(&mut self, name: impl Into<SharedStr>, value: SlotValue) -> Option<SlotValue> {
        let name = name.into();
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes the slot `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<SlotValue> {
        self.find(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The slots in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The slot names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &SharedStr> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The slot values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &SlotValue> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// Iterator over [`Slots`] in name order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (SharedStr, SlotValue)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a SharedStr, &'a SlotValue);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Slots {
    type Item = (&'a SharedStr, &'a SlotValue);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Slots {
    type Item = (SharedStr, SlotValue);
    type IntoIter = std::vec::IntoIter<(SharedStr, SlotValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<SharedStr>> FromIterator<(K, SlotValue)> for Slots {
    fn from_iter<T: IntoIterator<Item = (K, SlotValue)>>(iter: T) -> Self {
        let mut slots = Slots::new();
        slots.extend(iter);
        slots
    }
}

impl<K: Into<SharedStr>> Extend<(K, SlotValue)> for Slots {
    fn extend<T: IntoIterator<Item = (K, SlotValue)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// `slots["name"]`; panics when the slot is not set, as a map does.
impl Index<&str> for Slots {
    type Output = SlotValue;
    fn index(&self, name: &str) -> &SlotValue {
        self.get(name)
            .unwrap_or_else(|| panic!("no slot named {name:?}"))
    }
}

/// As a map: `{"name": SlotValue { .. }}`.
impl fmt::Debug for Slots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// As a JSON object keyed by slot name, in name order.
impl serde::Serialize for Slots {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn text(s: &str) -> SlotValue {
        SlotValue {
            value: Value::Text(s.into()),
            text: s.into(),
            wildcard: false,
        }
    }

    #[test]
    fn reads_like_a_sorted_map() {
        let mut slots: Slots = [("name", text("lamp")), ("area", text("kitchen"))]
            .into_iter()
            .collect();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots["area"].value, "kitchen");
        assert_eq!(slots.get("name").map(|v| v.text.as_str()), Some("lamp"));
        assert!(slots.get("floor").is_none());
        assert!(slots.contains_key("name"));
        let names: Vec<&str> = slots.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["area", "name"]);
        assert_eq!(slots.insert("area", text("hall")).unwrap().text, "kitchen");
        assert_eq!(slots["area"].text, "hall");
        assert_eq!(slots.remove("name").unwrap().text, "lamp");
        assert_eq!(slots.len(), 1);
        let map: std::collections::BTreeMap<SharedStr, SlotValue> =
            [("b".into(), text("2")), ("a".into(), text("1"))].into();
        let same: Slots = map.clone().into_iter().collect();
        assert_eq!(
            serde_json::to_string(&same).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(format!("{same:?}"), format!("{map:?}"));
    }
}
