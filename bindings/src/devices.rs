//! Devices as apps see them: plain records converted from and to
//! `emma_core::devices` types, and a device watch with an app's listener.
//! Listing, watching and control go through the
//! [`Assistant`](crate::assistant::Assistant), which owns the registry and the broker.

use crate::assistant::CallbackError;
use crate::error::EmmaError;
use emma_core::assistant as core;
use emma_core::devices::{Device, DevicesError, Domain};
use std::sync::Arc;

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

/// What happened to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceEventKind {
    /// It appeared in the registry (registered or discovered).
    Added,
    /// Its description (name, area, topics…) changed.
    Changed,
    /// It was removed from the registry.
    Removed,
    /// It reported a new state or attributes.
    StateChanged,
}

/// One device event, with the device's state after it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeviceEventInfo {
    /// What happened.
    pub kind: DeviceEventKind,
    /// The device id.
    pub device: String,
    /// Its domain (`light`, `switch`, …).
    pub domain: String,
    /// Its state after the event, once known.
    pub state: Option<String>,
    /// Its attributes after the event, as a JSON object (`{"brightness": 40}`).
    pub attributes_json: String,
}

impl From<&emma_core::devices::DeviceEvent> for DeviceEventInfo {
    fn from(e: &emma_core::devices::DeviceEvent) -> Self {
        use emma_core::devices::EventKind;
        DeviceEventInfo {
            kind: match e.kind {
                EventKind::Added => DeviceEventKind::Added,
                EventKind::Changed => DeviceEventKind::Changed,
                EventKind::Removed => DeviceEventKind::Removed,
                EventKind::StateChanged => DeviceEventKind::StateChanged,
            },
            device: e.device.clone(),
            domain: e.domain.to_string(),
            state: e.state.clone(),
            attributes_json: serde_json::Value::Object(e.attributes.clone()).to_string(),
        }
    }
}

/// Receives the device events of a watch (`Assistant.watchDevices`), in
/// order, one at a time, on a thread of the assistant. Implemented by the
/// app; an exception it throws is logged and the watch goes on.
#[uniffi::export(with_foreign)]
pub trait DeviceListener: Send + Sync {
    /// One device event.
    fn on_device_event(&self, event: DeviceEventInfo) -> Result<(), CallbackError>;
}

/// A running device watch; it stops when cancelled or when the app drops it.
#[derive(uniffi::Object)]
pub struct DeviceWatch {
    inner: core::DeviceWatch,
}

impl DeviceWatch {
    pub(crate) fn new(inner: core::DeviceWatch) -> Arc<Self> {
        Arc::new(DeviceWatch { inner })
    }
}

#[uniffi::export]
impl DeviceWatch {
    /// Stops the watch.
    pub fn cancel(&self) {
        self.inner.cancel()
    }

    /// Whether the watch still runs.
    pub fn is_active(&self) -> bool {
        self.inner.is_active()
    }
}

/// Passes core device events to an app's listener.
pub(crate) struct ForeignDeviceListener(pub Arc<dyn DeviceListener>);

impl core::DeviceListener for ForeignDeviceListener {
    fn on_device_event(&self, event: &emma_core::devices::DeviceEvent) {
        let _app = crate::callbacks::enter_app();
        if let Err(e) = self.0.on_device_event(event.into()) {
            tracing::warn!("an app's device listener failed: {e}");
        }
    }
}
