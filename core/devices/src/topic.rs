//! MQTT topic filters: `+` matches one level, `#` the rest.

/// Whether `topic` matches the MQTT subscription `filter` (`+` one level, `#` trailing levels).
///
/// Shared subscriptions (`$share/<group>/<filter>`) match like their inner filter.
/// Topics starting with `$` are not matched by filters starting with a wildcard, as the spec says.
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = strip_share(filter);
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The filter inside a shared subscription `$share/<group>/<filter>`, or the filter itself.
pub fn strip_share(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/').map(|(_, f)| f))
        .unwrap_or(filter)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        let cases = [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "a/b", true),
            ("#", "$SYS/x", false),
            ("+/b", "a/b", true),
            ("a/b", "a/c", false),
            ("a/b/c", "a/b", false),
            ("$share/emma/hermes/#", "hermes/intent/x", true),
            (
                "homeassistant/+/+/config",
                "homeassistant/light/k/config",
                true,
            ),
            (
                "homeassistant/+/+/config",
                "homeassistant/light/n/k/config",
                false,
            ),
        ];
        for (filter, topic, want) in cases {
            assert_eq!(matches(filter, topic), want, "{filter} vs {topic}");
        }
    }
}
