//! The wire contract between a home and a brand's agent desk.
//!
//! A home (`emma_core::assistant::Assistant`) and a desk (`emma desk`) never share code
//! paths or databases; they share only this crate: three JSON messages and the MQTT topics that carry them.
//!
//! ```text
//!  home ──HandoffRequest──▶ emma/desk/{brand}/handoff        (QoS 1, through the home's durable outbox)
//!  home ──TouchpointReport▶ emma/desk/{brand}/touchpoints    (QoS 1, aggregates only, with consent)
//!  desk ──AgentReply──────▶ emma/home/{home}/handoff/reply   (QoS 1)
//! ```
//!
//! Several desk workers share one queue through a shared subscription
//! (`$share/desk/emma/desk/+/handoff`, see [`topic::DESK_SHARED_HANDOFFS`]).
//!
//! Everything here is read from the network, so [`decode`] is the only way in: it bounds the payload
//! size, rejects unknown fields, checks the protocol version and every length and identifier, and says
//! which field is wrong. Text inside a valid message is still untrusted (a skill or an agent wrote it):
//! sanitise it before it is shown or spoken.

mod message;
pub mod topic;
mod validate;

pub use message::{
    AgentReply, Candidate, HandoffReason, HandoffRequest, IntentStats, Speaker, TouchpointReport,
    Utterance,
};
pub use validate::{Limits, Message, WireError, decode, encode};

/// The protocol version every message carries in `v`; a message with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;
