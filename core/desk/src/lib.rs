//! The brand's agent desk (`emma desk`).
//!
//! Homes publish [`emma_handoff::HandoffRequest`]s and [`emma_handoff::TouchpointReport`]s over MQTT; a desk
//! worker takes them from a shared subscription ([`emma_handoff::topic::DESK_SHARED_HANDOFFS`]), checks them
//! with [`emma_handoff::decode`], and stores them. Handoffs are routed to the best-suited available agent
//! ([`routing`]); the agents work in a web page ([`web`]) that shows the queue, the conversation and ranked
//! suggested replies ([`suggest`]); a reply goes back to the home as an [`emma_handoff::AgentReply`]
//! (QoS 1, `emma/home/{home}/handoff/reply`). Touchpoint reports are aggregated into insights ([`insights`]).
//!
//! ```text
//!  homes ──MQTT $share/desk/…──▶ worker 1 ┐
//!                              ▶ worker 2 ├──▶ store (SQLite file, or one PostgreSQL for all workers)
//!                              ▶ worker 3 ┘         ▲
//!  agents ──HTTP── web page ────────────────────────┘
//! ```
//!
//! The store is the only shared state: every change (a handoff received, an agent signing in or going
//! away, a reply) is one transaction, so several workers can share one PostgreSQL queue, and a worker can
//! be killed at any moment without losing or duplicating anything (handoffs and reports are idempotent by
//! id; a reply is recorded before it is published and re-published after a restart until it is sent).

pub mod desk;
mod error;
pub mod insights;
pub mod mqtt;
pub mod routing;
pub mod store;
pub mod suggest;
pub mod web;

pub use desk::{Desk, DeskConfig, NewAgent, register_agent};
pub use error::{DeskError, Result};
pub use store::Store;
