//! Permissions a skill declares in `skill.toml` and a customer grants at install.
//!
//! Syntax: `device:<id|domain.*|*>:<control|read>`, `store`, `profile:<field>`,
//! `notify`, `order:propose`, `handoff`, `clock`, `log`.

use std::fmt;
use std::str::FromStr;

/// What a device permission allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceAccess {
    /// Send commands.
    Control,
    /// Read state.
    Read,
}

/// One permission.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Control or read devices matching a pattern (`light.kitchen`, `light.*`, `*`).
    Device {
        /// Device id, `domain.*` or `*`.
        pattern: String,
        /// Control or read.
        access: DeviceAccess,
    },
    /// The skill's own key-value store.
    Store,
    /// One profile field, e.g. `name`.
    Profile(String),
    /// Send notifications.
    Notify,
    /// Propose orders the customer confirms.
    OrderPropose,
    /// Ask for a human.
    Handoff,
    /// Read the clock.
    Clock,
    /// Write to the host log.
    Log,
}

/// A permission string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission `{0}`: expected device:<id|domain.*>:<control|read>, store, profile:<field>, notify, order:propose, handoff, clock or log"
)]
pub struct PermissionParseError(pub String);

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Whether `s` is a concrete device id like `light.kitchen`: 1 to 128 ASCII
/// letters, digits, `_`, `-` and `.`, with at least one `.`.
pub fn is_device_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.contains('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl FromStr for Permission {
    type Err = PermissionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PermissionParseError(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        Ok(match parts.as_slice() {
            ["store"] => Permission::Store,
            ["notify"] => Permission::Notify,
            ["order", "propose"] => Permission::OrderPropose,
            ["handoff"] => Permission::Handoff,
            ["clock"] => Permission::Clock,
            ["log"] => Permission::Log,
            ["profile", field] if valid_name(field) => Permission::Profile((*field).to_string()),
            ["device", pattern, access] => {
                let access = match *access {
                    "control" => DeviceAccess::Control,
                    "read" => DeviceAccess::Read,
                    _ => return Err(err()),
                };
                let ok = *pattern == "*"
                    || pattern.strip_suffix(".*").is_some_and(valid_name)
                    || (valid_name(pattern) && !pattern.contains('*'));
                if !ok {
                    return Err(err());
                }
                Permission::Device {
                    pattern: (*pattern).to_string(),
                    access,
                }
            }
            _ => return Err(err()),
        })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Device { pattern, access } => {
                let a = match access {
                    DeviceAccess::Control => "control",
                    DeviceAccess::Read => "read",
                };
                write!(f, "device:{pattern}:{a}")
            }
            Permission::Store => f.write_str("store"),
            Permission::Profile(field) => write!(f, "profile:{field}"),
            Permission::Notify => f.write_str("notify"),
            Permission::OrderPropose => f.write_str("order:propose"),
            Permission::Handoff => f.write_str("handoff"),
            Permission::Clock => f.write_str("clock"),
            Permission::Log => f.write_str("log"),
        }
    }
}

impl Permission {
    /// Whether holding `self` allows the concrete use `wanted`
    /// (a device permission with a concrete device id, or any other permission).
    pub fn covers(&self, wanted: &Permission) -> bool {
        match (self, wanted) {
            (
                Permission::Device { pattern, access },
                Permission::Device {
                    pattern: device,
                    access: want,
                },
            ) => {
                access == want
                    && (pattern == "*"
                        || pattern == device
                        || pattern.strip_suffix(".*").is_some_and(|domain| {
                            device
                                .strip_prefix(domain)
                                .is_some_and(|rest| rest.starts_with('.'))
                        }))
            }
            (a, b) => a == b,
        }
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(Vec<Permission>);

impl PermissionSet {
    /// Builds a set from permissions.
    pub fn new(perms: impl IntoIterator<Item = Permission>) -> Self {
        let mut v: Vec<Permission> = Vec::new();
        for p in perms {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        PermissionSet(v)
    }

    /// Parses permission strings, failing on the first bad one.
    pub fn parse<'a>(
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PermissionParseError> {
        Ok(Self::new(
            items
                .into_iter()
                .map(str::parse)
                .collect::<Result<Vec<_>, _>>()?,
        ))
    }

    /// Whether some permission in the set covers `wanted`.
    pub fn allows(&self, wanted: &Permission) -> bool {
        self.0.iter().any(|p| p.covers(wanted))
    }

    /// The permissions, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.0.iter()
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_round_trip() {
        for s in [
            "store",
            "device:light.*:control",
            "device:*:read",
            "profile:name",
            "order:propose",
            "log",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_permissions() {
        for s in [
            "",
            "devices",
            "device:light:write",
            "device:li*ht:read",
            "profile:",
            "order",
            "store:x",
        ] {
            assert!(s.parse::<Permission>().is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn device_patterns_match_domains_only() {
        let lights = p("device:light.*:control");
        assert!(lights.covers(&p("device:light.kitchen:control")));
        assert!(!lights.covers(&p("device:lightning.rod:control")));
        assert!(!lights.covers(&p("device:light.kitchen:read")));
        assert!(!lights.covers(&p("device:lock.front:control")));
        assert!(p("device:*:read").covers(&p("device:lock.front:read")));
        assert!(p("device:lock.front:read").covers(&p("device:lock.front:read")));
        assert!(!p("profile:name").covers(&p("profile:email")));
    }
}
