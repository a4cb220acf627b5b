//! Devices as apps see them: plain records converted from and to
//! `emma_core::devices` types. Listing and control go through the
//! [`Assistant`](crate::assistant::Assistant), which owns the registry and the broker.

use crate::error::EmmaError;
use emma_core::devices::{Device, DevicesError, Domain};

/// A device in the home.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeviceInfo {
    /// Stable id, `domain.object_id` (`light.kitchen_lamp`).
    pub id: String,
    /// The name people say ("kitchen lamp").
    pub name: String,
    /// What kind of device: `light`, `switch`, `cover`, `climate`, `fan`, `lock`, `media_player`, `sensor`, …
    pub domain: String,
    /// Other names people say.
    #[uniffi(default = [])]
    pub aliases: Vec<String>,
    /// The area (room) id it is in.
    #[uniffi(default = None)]
    pub area: Option<String>,
    /// What it can do beyond its domain's basics (`brightness`, `color`, …).
    #[uniffi(default = [])]
    pub capabilities: Vec<String>,
    /// Its current state (`on`, `off`, `21.5`, …), once known.
    #[uniffi(default = None)]
    pub state: Option<String>,
}

/// A device command that went into the outbox.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SentCommand {
    /// Command id.
    pub id: String,
    /// The device it is for.
    pub device: String,
    /// MQTT topic.
    pub topic: String,
    /// MQTT payload.
    pub payload: String,
}

impl From<Device> for DeviceInfo {
    fn from(d: Device) -> Self {
        DeviceInfo {
            id: d.id,
            name: d.name,
            domain: d.domain.to_string(),
            aliases: d.aliases,
            area: d.area,
            capabilities: d.capabilities,
            state: d.state,
        }
    }
}

/// A device the app adds is reached on Emma's own topics (`emma/device/<id>/set`).
impl TryFrom<DeviceInfo> for Device {
    type Error = EmmaError;
    fn try_from(d: DeviceInfo) -> Result<Self, EmmaError> {
        let domain = Domain::parse(&d.domain).ok_or_else(|| {
            EmmaError::InvalidInput(format!(
                "device {}: unknown domain {:?}; use light, switch, cover, climate, fan, lock, media_player or sensor",
                d.id, d.domain
            ))
        })?;
        let mut device = Device::new(d.id, d.name, domain);
        device.aliases = d.aliases;
        device.area = d.area;
        device.capabilities = d.capabilities;
        device.state = d.state;
        Ok(device)
    }
}

impl From<emma_core::devices::SentCommand> for SentCommand {
    fn from(c: emma_core::devices::SentCommand) -> Self {
        SentCommand {
            id: c.id,
            device: c.device,
            topic: c.topic,
            payload: c.payload,
        }
    }
}

impl From<DevicesError> for EmmaError {
    fn from(e: DevicesError) -> Self {
        EmmaError::Devices(e.to_string())
    }
}
