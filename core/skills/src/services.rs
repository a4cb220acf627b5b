//! What the embedder provides behind the capabilities: devices and profile fields.
//!
//! The host has already checked permissions before it calls these.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Devices and profile data, provided by the embedder.
pub trait Services: Send + Sync {
    /// Carries out `command` on `device`.
    fn control(&self, device: &str, command: &str, value: Option<&str>) -> Result<(), String>;
    /// Reads `device`'s state.
    fn read(&self, device: &str) -> Result<String, String>;
    /// A profile field the customer filled in, if any.
    fn profile(&self, field: &str) -> Option<String>;
    /// Told after the skill wrote `key` of its own key-value store (the key,
    /// never the value), so the embedder can account for every store of
    /// customer data (Emma's ledger). Does nothing by default.
    fn stored(&self, key: &str) {
        let _ = key;
    }
}

/// In-process services: device states in a map, a fixed profile.
/// Used by `emma skill run` and tests; real homes plug in `emma-devices`.
#[derive(Debug, Default)]
pub struct LocalServices {
    devices: Mutex<BTreeMap<String, String>>,
    profile: BTreeMap<String, String>,
}

impl LocalServices {
    /// Empty services.
    pub fn new() -> LocalServices {
        LocalServices::default()
    }

    /// Adds a device with an initial state.
    pub fn with_device(self, id: &str, state: &str) -> LocalServices {
        self.devices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), state.into());
        self
    }

    /// Adds a profile field.
    pub fn with_profile(mut self, field: &str, value: &str) -> LocalServices {
        self.profile.insert(field.into(), value.into());
        self
    }

    /// Current state of a device.
    pub fn state(&self, id: &str) -> Option<String> {
        self.devices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

impl Services for LocalServices {
    fn control(&self, device: &str, command: &str, value: Option<&str>) -> Result<(), String> {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let state = devices
            .get_mut(device)
            .ok_or_else(|| format!("no device `{device}` in this home"))?;
        *state = match value {
            Some(v) => format!("{command} {v}"),
            None => command.to_string(),
        };
        Ok(())
    }

    fn read(&self, device: &str) -> Result<String, String> {
        self.state(device)
            .ok_or_else(|| format!("no device `{device}` in this home"))
    }

    fn profile(&self, field: &str) -> Option<String> {
        self.profile.get(field).cloned()
    }
}
