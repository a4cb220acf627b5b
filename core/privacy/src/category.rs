//! Kinds of customer data a consent, a retention period or a ledger entry is about.

use std::fmt;
use std::str::FromStr;

/// One kind of customer data (or, for [`Category::Proactive`], one feature).
///
/// Text form, as the CLI and the databases spell it: `profile:<field>`,
/// `orders`, `device-usage`, `device-names`, `transcripts`, `audio`,
/// `touchpoints`, `skill-store`, `proactive`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// One profile field the customer filled in (`profile:name`); each field is consented on its own.
    Profile(String),
    /// Order history and order proposals.
    Orders,
    /// What devices did and when (commands, states, device events).
    DeviceUsage,
    /// The names, aliases and areas the customer gave devices (people name lamps after people).
    DeviceNames,
    /// Text of what the customer said.
    Transcripts,
    /// Recorded audio (never written to disk without an opt-in).
    Audio,
    /// How often each brand skill reached the customer (replies, notifications, proposals).
    Touchpoints,
    /// What a brand skill keeps in its own key-value store (a favourite drink…).
    /// Covered by the skill's `store` grant, not by a separate consent: it
    /// appears in the ledger, the export and the erase, but cannot be granted here.
    SkillStore,
    /// Not data: the skill may act on device events on its own (proactive features are opt-in).
    Proactive,
}

/// The text forms accepted, for help and error messages.
pub const CATEGORY_NAMES: &str = "profile:<field>, orders, device-usage, device-names, transcripts, audio, touchpoints or proactive";

/// A category name that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data category `{0}`: expected {CATEGORY_NAMES}")]
pub struct CategoryParseError(pub String);

/// Whether `s` is a valid skill id or profile field name: 1–64 ASCII letters, digits, `_`, `-`, `.`.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Category {
    /// Every category with no field, plus `profile` standing for all profile fields.
    pub fn data_kinds() -> [&'static str; 8] {
        [
            "profile",
            "orders",
            "device-usage",
            "device-names",
            "transcripts",
            "audio",
            "touchpoints",
            "skill-store",
        ]
    }

    /// The category's name without a field (`profile` for every profile field).
    pub fn kind(&self) -> &'static str {
        match self {
            Category::Profile(_) => "profile",
            Category::Orders => "orders",
            Category::DeviceUsage => "device-usage",
            Category::DeviceNames => "device-names",
            Category::Transcripts => "transcripts",
            Category::Audio => "audio",
            Category::Touchpoints => "touchpoints",
            Category::SkillStore => "skill-store",
            Category::Proactive => "proactive",
        }
    }

    /// Whether a customer consent can be given for this category (all but
    /// [`Category::SkillStore`], which the skill's `store` grant covers).
    pub fn consentable(&self) -> bool {
        !matches!(self, Category::SkillStore)
    }

    /// The profile field, for [`Category::Profile`].
    pub fn field(&self) -> Option<&str> {
        match self {
            Category::Profile(f) => Some(f),
            _ => None,
        }
    }

    /// How long data of this category is kept by default before expiry removes it
    /// (`None`: until the customer erases it).
    ///
    /// Transcripts 30 days, audio 7 days, device usage 90 days, touchpoint statistics 365 days.
    pub fn default_retention_secs(&self) -> Option<u64> {
        const DAY: u64 = 24 * 3600;
        match self {
            Category::Transcripts => Some(30 * DAY),
            Category::Audio => Some(7 * DAY),
            Category::DeviceUsage => Some(90 * DAY),
            Category::Touchpoints => Some(365 * DAY),
            _ => None,
        }
    }

    /// Whether data of this category expires (has a retention period at all).
    pub fn expires(&self) -> bool {
        self.default_retention_secs().is_some()
    }
}

impl FromStr for Category {
    type Err = CategoryParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CategoryParseError(s.to_string());
        Ok(match s {
            "orders" => Category::Orders,
            "device-usage" => Category::DeviceUsage,
            "device-names" => Category::DeviceNames,
            "transcripts" => Category::Transcripts,
            "audio" => Category::Audio,
            "touchpoints" => Category::Touchpoints,
            "skill-store" => Category::SkillStore,
            "proactive" => Category::Proactive,
            _ => match s.split_once(':') {
                Some(("profile", field)) if valid_name(field) => Category::Profile(field.into()),
                _ => return Err(err()),
            },
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Category::Profile(field) => write!(f, "profile:{field}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl serde::Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown_names() {
        for s in [
            "profile:name",
            "profile:postal_code",
            "orders",
            "device-usage",
            "device-names",
            "transcripts",
            "audio",
            "touchpoints",
            "skill-store",
            "proactive",
        ] {
            let c: Category = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
        for bad in [
            "",
            "profile",
            "profile:",
            "profile:a b",
            "profile:*",
            "Orders",
            "transcript",
            "device_usage",
        ] {
            let e = bad.parse::<Category>().unwrap_err();
            assert!(e.to_string().contains("expected profile:<field>"), "{e}");
        }
    }

    #[test]
    fn retention_defaults() {
        assert_eq!(
            Category::Transcripts.default_retention_secs(),
            Some(30 * 86400)
        );
        assert_eq!(
            Category::Profile("name".into()).default_retention_secs(),
            None
        );
        assert!(Category::Audio.expires());
        assert!(!Category::Orders.expires());
    }
}
