//! Emma's device layer: the device registry, MQTT (client, embedded broker,
//! durable outbox), Home Assistant discovery, Hermes topics, and the built-in
//! home-control intents that turn "turn on the kitchen light" into a command.
//!
//! # Layout
//! - [`device`]: what a device, area and floor are.
//! - [`registry`]: devices, areas and floors in SQLite; the intent engine's `{name}`/`{area}`/`{floor}` lists.
//! - [`outbox`]: commands stored before they are sent, deleted when acknowledged, with a time-to-live.
//! - [`bus`]: the one task that owns the MQTT connection; [`Bus`] handles for everyone else.
//! - [`embedded`]: the zero-config `rumqttd` broker on localhost.
//! - [`config`]: broker URLs (`mqtt://user:pass@host:port`, `mqtts://…`).
//! - [`connect`]: embedded or external broker, credentials, and the connected bus.
//! - [`events`]: device events for skills; [`grant`]: which devices a skill may read or control.
//! - [`discovery`]: Home Assistant MQTT discovery configs → devices; Emma's own entities.
//! - [`wire`]: commands encoded per payload schema, state messages decoded.
//! - [`home`]: the registry kept current from the bus, and device commands through the outbox.
//! - `control` (feature `intents`): built-in home-control intents (en, de) → device commands and replies.
//! - [`hermes`]: Snips/Rhasspy Hermes topics and payloads.
//! - [`bench`]: `emma bench devices`.
//! - [`topic`]: MQTT topic-filter matching.
//!
//! # Why an outbox
//! QoS 1 alone loses commands when either side crashes (see `RELIABILITY.md` §2):
//! the outbox in Emma's own database is what guarantees "every command arrives,
//! none fires late".
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod bus;
pub mod config;
pub mod connect;
#[cfg(feature = "intents")]
pub mod control;
pub mod device;
pub mod discovery;
pub mod embedded;
pub mod error;
pub mod events;
pub mod grant;
pub mod hermes;
pub mod home;
pub mod outbox;
pub mod registry;
#[cfg(feature = "intents")]
pub mod responses;
pub mod topic;
pub mod wire;

pub use bus::{Bus, BusEvent, BusOptions, Message};
pub use config::BrokerConfig;
pub use device::{Area, Device, Domain, Floor, MqttBinding, PayloadSchema};
pub use embedded::EmbeddedBroker;
pub use error::{DevicesError, Result};
pub use events::{DeviceEvent, EventFilter, EventKind, EventStream, StreamItem};
pub use grant::{Access, allowed};
pub use home::{Home, SentCommand};
pub use outbox::{Outbox, OutboxCommand};
pub use registry::{IntentLists, ListEntry, Registry, StateUpdate, Target};
pub use rumqttc::QoS;
pub use wire::Action;
