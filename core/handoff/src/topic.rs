//! MQTT topics between homes and desks, and the identifiers that appear in them.

/// What a desk worker subscribes to for every brand's handoffs, sharing the queue with other workers.
pub const DESK_SHARED_HANDOFFS: &str = "$share/desk/emma/desk/+/handoff";
/// What a desk worker subscribes to for every brand's touchpoint reports.
pub const DESK_SHARED_TOUCHPOINTS: &str = "$share/desk/emma/desk/+/touchpoints";

/// Longest brand or home identifier.
pub const MAX_ID_LEN: usize = 64;

/// Where a home publishes a handoff for `brand`.
pub fn handoff(brand: &str) -> String {
    format!("emma/desk/{brand}/handoff")
}

/// Where a home publishes touchpoint aggregates for `brand`.
pub fn touchpoints(brand: &str) -> String {
    format!("emma/desk/{brand}/touchpoints")
}

/// Where a desk publishes agent replies for `home`; the home subscribes to it.
pub fn reply(home: &str) -> String {
    format!("emma/home/{home}/handoff/reply")
}

/// The brand a desk topic (`emma/desk/{brand}/…`) is for, if it is one.
pub fn brand_of(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("emma/desk/")?;
    let (brand, kind) = rest.split_once('/')?;
    (matches!(kind, "handoff" | "touchpoints") && is_valid_id(brand)).then_some(brand)
}

/// Whether `id` may be a brand or home identifier: 1 to [`MAX_ID_LEN`] characters of ASCII letters,
/// digits, `.`, `_` and `-` — nothing that means something in an MQTT topic (`/`, `+`, `#`, `$`).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_the_brand() {
        assert_eq!(brand_of(&handoff("com.example")), Some("com.example"));
        assert_eq!(brand_of(&touchpoints("acme-coffee")), Some("acme-coffee"));
        assert_eq!(brand_of("emma/desk/acme/other"), None);
        assert_eq!(brand_of("emma/desk/a+b/handoff"), None);
        assert_eq!(reply("home-1"), "emma/home/home-1/handoff/reply");
    }

    #[test]
    fn ids_exclude_topic_syntax() {
        for bad in ["", "a/b", "+", "#", "$SYS", "ä", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(is_valid_id("com.example_coffee-1"));
    }
}
