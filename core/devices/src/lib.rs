//! Emma's device layer: registry, MQTT client and embedded broker, Home Assistant discovery, Hermes topics, durable outbox.
//!
//! Work in progress: see ARCHITECTURE.md for what this crate will own.
