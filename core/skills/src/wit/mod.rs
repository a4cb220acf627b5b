//! One module per frozen WIT version in `skills/wit/since_v*/`, and the
//! dispatch that picks one from a component's exports.

pub mod since_v0_1_0;

/// The API versions this host implements, newest first.
pub const SUPPORTED: &[&str] = &["0.1.0"];

/// Interface names (without version) a skill may import.
pub const OFFERED_IMPORTS: &[&str] = &[
    "types", "devices", "store", "profile", "notify", "orders", "handoff", "clock", "log",
];

/// The handler export name for `version`.
pub fn handler_export(version: &str) -> String {
    format!("emma:skill/handler@{version}")
}
