//! Device events for skills and other subscribers.

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::device::{Device, Domain};
use crate::grant::glob;

/// What happened to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceEvent {
    /// What happened.
    pub kind: EventKind,
    /// The device id.
    pub device: String,
    /// The device's domain.
    pub domain: Domain,
    /// Its state after the event.
    pub state: Option<String>,
    /// Its attributes after the event.
    pub attributes: Map<String, Value>,
}

impl DeviceEvent {
    pub(crate) fn of(device: &Device, kind: EventKind) -> DeviceEvent {
        DeviceEvent {
            kind,
            device: device.id.clone(),
            domain: device.domain,
            state: device.state.clone(),
            attributes: device.attributes.clone(),
        }
    }
}

/// Which device events a subscriber wants: device ids matching a glob (`light.*`, `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    devices: String,
}

impl EventFilter {
    /// Events for every device.
    pub fn all() -> EventFilter {
        EventFilter {
            devices: "*".into(),
        }
    }

    /// Events for devices whose id matches `pattern` (`*` matches any run of characters).
    pub fn devices(pattern: impl Into<String>) -> EventFilter {
        EventFilter {
            devices: pattern.into(),
        }
    }

    /// Whether the filter lets `event` through.
    pub fn accepts(&self, event: &DeviceEvent) -> bool {
        glob(&self.devices, &event.device)
    }
}

/// What an event stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// An event the filter accepted.
    Event(DeviceEvent),
    /// The subscriber was too slow and missed this many events (of any device).
    Missed(u64),
}

/// A stream of device events, from [`crate::Registry::subscribe`].
///
/// Slow subscribers never block the registry: they are told how many events they missed.
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<DeviceEvent>,
    filter: EventFilter,
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<DeviceEvent>, filter: EventFilter) -> EventStream {
        EventStream { rx, filter }
    }

    /// The next accepted event; `None` once the registry is gone.
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            match self.rx.recv().await {
                Ok(ev) if self.filter.accepts(&ev) => return Some(StreamItem::Event(ev)),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => return Some(StreamItem::Missed(n)),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next accepted event if one is already waiting (never blocks).
    pub fn try_next(&mut self) -> Option<StreamItem> {
        loop {
            match self.rx.try_recv() {
                Ok(ev) if self.filter.accepts(&ev) => return Some(StreamItem::Event(ev)),
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    return Some(StreamItem::Missed(n));
                }
                Err(_) => return None,
            }
        }
    }
}
