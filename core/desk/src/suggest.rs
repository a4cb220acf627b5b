//! Suggested replies, ranked by how often the brand's agents chose each one for the same intent.

use std::collections::HashMap;

/// A suggestion with the number of times agents of the brand chose it for this intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The reply text (from the home: untrusted, escape before showing).
    pub text: String,
    /// Times chosen before.
    pub chosen: u64,
}

/// The home's suggestions, most chosen first; ties keep the home's order. Duplicates and blank ones are
/// dropped.
pub fn rank(suggestions: &[String], chosen: &HashMap<String, u64>) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = Vec::new();
    for s in suggestions {
        let text = s.trim();
        if text.is_empty() || out.iter().any(|r| r.text == text) {
            continue;
        }
        out.push(Ranked {
            text: text.to_owned(),
            chosen: chosen.get(text).copied().unwrap_or(0),
        });
    }
    // Stable: equal counts keep the home's order.
    out.sort_by_key(|r| std::cmp::Reverse(r.chosen));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_chosen_first_ties_in_order() {
        let s: Vec<String> = ["A", "B", " C ", "B", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let counts = HashMap::from([("C".to_string(), 2), ("B".to_string(), 2)]);
        let r: Vec<_> = rank(&s, &counts)
            .into_iter()
            .map(|r| (r.text, r.chosen))
            .collect();
        assert_eq!(r, [("B".into(), 2), ("C".into(), 2), ("A".into(), 0)]);
    }
}
