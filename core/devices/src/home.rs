//! A home on the bus: the registry kept up to date from MQTT (discovery
//! configs and state messages) and device commands sent through the outbox.
//!
//! [`Home::start`] spawns one ingest task that receives discovery and state
//! messages from the [`Bus`] and writes state changes into the registry in
//! batches (one SQLite transaction per batch), which is what lets thousands of
//! state messages a second through without loss.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::bus::{Bus, Message};
use crate::device::{Device, PayloadSchema};
use crate::discovery::{self, Discovered};
use crate::error::{DevicesError, Result};
use crate::events::{EventFilter, EventStream};
use crate::outbox::{DEFAULT_TTL, OutboxCommand, new_command_id};
use crate::registry::Registry;
use crate::wire::{self, Action};

/// Most messages written to the registry in one transaction.
const BATCH: usize = 2048;

/// Where Emma publishes its own assistant state (`idle`, `listening`, …).
pub const ASSISTANT_STATE_TOPIC: &str = "emma/assistant/state";
/// Where Emma publishes the name of the last intent it handled.
pub const LAST_INTENT_TOPIC: &str = "emma/assistant/last_intent";

/// A command that went into the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentCommand {
    /// Command id (Emma-protocol payloads carry it).
    pub id: String,
    /// The device it is for.
    pub device: String,
    /// MQTT topic.
    pub topic: String,
    /// MQTT payload.
    pub payload: String,
}

/// Counters of what the ingest task has seen (for `emma devices` and benchmarks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// State messages applied to the registry.
    pub states: u64,
    /// Discovery configs applied (added, changed or removed devices).
    pub discovered: u64,
    /// Messages skipped (malformed, unknown device, unknown topic).
    pub skipped: u64,
}

/// The registry, kept current from the bus, plus device commands.
#[derive(Clone)]
pub struct Home {
    registry: Arc<Mutex<Registry>>,
    bus: Bus,
    stats: Arc<Mutex<IngestStats>>,
    ttl: Duration,
}

impl std::fmt::Debug for Home {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Home")
            .field("broker", &self.bus.config().address())
            .finish()
    }
}

struct Ingest {
    registry: Arc<Mutex<Registry>>,
    stats: Arc<Mutex<IngestStats>>,
    bus: Bus,
    sink: mpsc::WeakSender<Message>,
    /// HA state topic → device ids reading it.
    state_topics: HashMap<String, Vec<String>>,
}

impl Home {
    /// Starts keeping `registry` current from `bus`: subscribes to discovery
    /// configs and state topics and spawns the ingest task.
    pub async fn start(bus: Bus, registry: Registry) -> Result<Home> {
        let registry = Arc::new(Mutex::new(registry));
        let stats = Arc::new(Mutex::new(IngestStats::default()));
        let (tx, rx) = mpsc::channel(8192);
        let mut ingest = Ingest {
            registry: registry.clone(),
            stats: stats.clone(),
            bus: bus.clone(),
            sink: tx.downgrade(),
            state_topics: HashMap::new(),
        };
        bus.subscribe_into(format!("{}/#", discovery::PREFIX), tx.clone())
            .await?;
        bus.subscribe_into("emma/device/+/state", tx.clone())
            .await?;
        let known: Vec<Device> = lock(&registry).devices().cloned().collect();
        for d in &known {
            ingest.watch(d).await;
        }
        drop(tx);
        tokio::spawn(ingest.run(rx));
        Ok(Home {
            registry,
            bus,
            stats,
            ttl: DEFAULT_TTL,
        })
    }

    /// Sets how long commands stay valid (default 30 s).
    pub fn set_command_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// The registry (locked; keep the guard short).
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// The bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// What the ingest task has seen so far.
    pub fn stats(&self) -> IngestStats {
        lock(&self.stats).clone()
    }

    /// Device events for the devices `filter` covers.
    pub fn subscribe(&self, filter: EventFilter) -> EventStream {
        self.registry().subscribe(filter)
    }

    /// Sends `action` to the device with id `device` through the outbox.
    pub async fn command(&self, device: &str, action: &Action) -> Result<Vec<SentCommand>> {
        let device = self.registry().device(device).cloned().ok_or_else(|| {
            DevicesError::NoSuchDevice(format!("there is no device with id {device}"))
        })?;
        let id = new_command_id();
        let messages = wire::encode(&device, action, &id)?;
        let confirm = device.can("confirm");
        let mut sent = Vec::new();
        for (i, (topic, payload)) in messages.into_iter().enumerate() {
            let cmd_id = if i == 0 {
                id.clone()
            } else {
                format!("{id}-{i}")
            };
            let mut cmd =
                OutboxCommand::with_id(cmd_id.clone(), topic.clone(), payload.clone(), self.ttl);
            cmd.confirm = confirm;
            self.bus.send_command(cmd).await?;
            sent.push(SentCommand {
                id: cmd_id,
                device: device.id.clone(),
                topic,
                payload,
            });
        }
        Ok(sent)
    }

    /// Announces Emma's own entities (assistant state, last intent) via discovery.
    pub async fn publish_own_entities(&self) -> Result<()> {
        for (object, name, topic) in [
            (
                "assistant_state",
                "Emma assistant state",
                ASSISTANT_STATE_TOPIC,
            ),
            ("last_intent", "Emma last intent", LAST_INTENT_TOPIC),
        ] {
            let (config_topic, config) = discovery::own_sensor_config(object, name, topic);
            self.bus.announce(config_topic, config).await?;
        }
        Ok(())
    }

    /// Publishes Emma's assistant state (retained).
    pub async fn set_assistant_state(&self, state: &str) -> Result<()> {
        self.bus
            .publish(ASSISTANT_STATE_TOPIC, state, crate::QoS::AtLeastOnce, true)
            .await
    }

    /// Publishes the last intent Emma handled (retained).
    pub async fn set_last_intent(&self, intent: &str) -> Result<()> {
        self.bus
            .publish(LAST_INTENT_TOPIC, intent, crate::QoS::AtLeastOnce, true)
            .await
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ingest {
    /// Subscribes to a discovered device's own state topic.
    async fn watch(&mut self, device: &Device) {
        let Some(topic) = device.mqtt.as_ref().and_then(|m| m.state_topic.clone()) else {
            return;
        };
        let ids = self.state_topics.entry(topic.clone()).or_default();
        if !ids.contains(&device.id) {
            ids.push(device.id.clone());
        }
        if topic.starts_with("emma/device/")
            || topic.starts_with(&format!("{}/", discovery::PREFIX))
        {
            return; // already covered by the wildcard subscriptions
        }
        if let Some(sink) = self.sink.upgrade() {
            let _ = self.bus.subscribe_into(topic, sink).await;
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            self.apply(&mut batch).await;
        }
    }

    async fn apply(&mut self, batch: &mut Vec<Message>) {
        let mut updates = Vec::new();
        let mut skipped = 0;
        let mut discovered = 0;
        for msg in batch.drain(..) {
            if msg.topic.starts_with(&format!("{}/", discovery::PREFIX))
                && msg.topic.ends_with("/config")
            {
                // Flush pending states first so they apply to the device as it was.
                if !updates.is_empty() {
                    self.write_states(&mut updates);
                }
                match discovery::parse_config(&msg.topic, &msg.payload) {
                    Ok(Discovered::Device(device)) => {
                        let res = lock(&self.registry).upsert_device((*device).clone());
                        match res {
                            Ok(()) => {
                                discovered += 1;
                                self.watch(&device).await;
                            }
                            Err(e) => {
                                skipped += 1;
                                tracing::warn!(topic = %msg.topic, reason = %e, "discovered device not stored; skipped");
                            }
                        }
                    }
                    Ok(Discovered::Removed(id)) => {
                        if let Err(e) = lock(&self.registry).remove_device(&id) {
                            tracing::warn!(topic = %msg.topic, reason = %e, "device not removed");
                        }
                        discovered += 1;
                    }
                    Err(e) => {
                        skipped += 1;
                        tracing::warn!(topic = %e.topic, reason = %e.reason, "discovery message skipped");
                    }
                }
                continue;
            }
            let ids: Vec<String> = if let Some(id) = msg
                .topic
                .strip_prefix("emma/device/")
                .and_then(|r| r.strip_suffix("/state"))
            {
                vec![id.to_string()]
            } else {
                self.state_topics
                    .get(&msg.topic)
                    .cloned()
                    .unwrap_or_default()
            };
            if ids.is_empty() {
                if !msg.topic.starts_with(&format!("{}/", discovery::PREFIX)) {
                    tracing::debug!(topic = %msg.topic, "message on a topic no device uses; skipped");
                }
                skipped += 1;
                continue;
            }
            let reg = lock(&self.registry);
            for id in ids {
                let Some(device) = reg.device(&id) else {
                    tracing::debug!(topic = %msg.topic, device = %id, "state for an unknown device; skipped");
                    skipped += 1;
                    continue;
                };
                let device = if device.mqtt.is_none() || msg.topic.starts_with("emma/device/") {
                    // Emma-protocol state, whatever the device's command binding.
                    let mut d = device.clone();
                    d.mqtt = d.mqtt.filter(|m| m.schema != PayloadSchema::Basic);
                    d
                } else {
                    device.clone()
                };
                match wire::decode_state(&device, &msg.topic, &msg.payload) {
                    Some(u) => updates.push(u),
                    None => skipped += 1,
                }
            }
        }
        let states = updates.len() as u64;
        self.write_states(&mut updates);
        let mut s = lock(&self.stats);
        s.states += states;
        s.skipped += skipped;
        s.discovered += discovered;
    }

    fn write_states(&self, updates: &mut Vec<crate::registry::StateUpdate>) {
        if updates.is_empty() {
            return;
        }
        if let Err(e) = lock(&self.registry).apply_states(updates) {
            tracing::error!(error = %e, "state updates not stored");
        }
        updates.clear();
    }
}
