//! Host-side request, reply and effect types, independent of any WIT version.

use serde::{Deserialize, Serialize};

/// What the customer asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Intent name, e.g. `OrderDrink`.
    pub intent: String,
    /// Slot values, in recognition order.
    pub slots: Vec<(String, String)>,
    /// Language code, e.g. `en`.
    pub language: String,
    /// Conversation context.
    pub context: Vec<(String, String)>,
}

impl Request {
    /// A request for `intent` in `language` with no slots.
    pub fn new(intent: impl Into<String>, language: impl Into<String>) -> Request {
        Request {
            intent: intent.into(),
            language: language.into(),
            ..Request::default()
        }
    }

    /// Adds a slot.
    pub fn slot(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.slots.push((name.into(), value.into()));
        self
    }
}

/// A card for a screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
}

/// A device action in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Device id.
    pub device: String,
    /// Command.
    pub command: String,
    /// Optional argument.
    pub value: Option<String>,
}

/// A request for a human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handoff {
    /// Why.
    pub reason: String,
    /// What the human needs to know.
    pub summary: String,
}

/// A skill's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// What Emma says.
    pub speech: String,
    /// Optional card.
    pub card: Option<Card>,
    /// Optional JSON data.
    pub data: Option<String>,
    /// Follow-up topic when the skill expects an answer.
    pub follow_up: Option<String>,
    /// Device actions.
    pub actions: Vec<Action>,
    /// Set when a human should take over.
    pub handoff: Option<Handoff>,
}

impl Reply {
    /// Bytes of text in the reply, as checked against `limits.reply_kib`.
    pub fn size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.speech.len()
            + self
                .card
                .as_ref()
                .map_or(0, |c| c.title.len() + c.body.len())
            + opt(&self.data)
            + opt(&self.follow_up)
            + self
                .actions
                .iter()
                .map(|a| a.device.len() + a.command.len() + opt(&a.value))
                .sum::<usize>()
            + self
                .handoff
                .as_ref()
                .map_or(0, |h| h.reason.len() + h.summary.len())
    }
}

/// A device event delivered to subscribed skills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceEvent {
    /// Device id.
    pub device: String,
    /// Event kind, e.g. `bean-level`.
    pub kind: String,
    /// Value, e.g. `12`.
    pub value: String,
}

/// The error a skill itself returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum GuestError {
    /// The skill does not handle the intent.
    #[error("skill does not handle intent: {0}")]
    UnsupportedIntent(String),
    /// A slot is missing.
    #[error("missing slot: {0}")]
    MissingSlot(String),
    /// A capability was denied to the skill.
    #[error("denied: {0}")]
    Denied(String),
    /// Any other failure.
    #[error("skill failed: {0}")]
    Failed(String),
}

/// One line of an order proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Stock-keeping unit.
    pub sku: String,
    /// Quantity.
    pub quantity: u32,
    /// Human description.
    pub description: String,
}

/// Something a skill did through a capability during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Effect {
    /// A device command that was carried out.
    DeviceControl {
        /// Device id.
        device: String,
        /// Command.
        command: String,
        /// Argument.
        value: Option<String>,
    },
    /// A notification to the customer.
    Notification {
        /// Title.
        title: String,
        /// Body.
        body: String,
    },
    /// An order the customer must confirm before anything is bought.
    OrderProposal {
        /// Proposal id.
        id: String,
        /// Lines.
        lines: Vec<OrderLine>,
        /// Note for the customer.
        note: String,
        /// Always `false` here: only the customer confirms.
        confirmed: bool,
    },
    /// A request for a human.
    Handoff {
        /// Why.
        reason: String,
        /// Summary.
        summary: String,
    },
    /// A log line.
    Log {
        /// Level.
        level: String,
        /// Message.
        message: String,
    },
}

/// A capability the host refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The permission that was needed, e.g. `device:lock.front:control`.
    pub permission: String,
    /// `not declared in skill.toml` or `not granted by the customer`.
    pub reason: String,
}

/// What one call produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome<T> {
    /// The skill's own answer or error.
    pub result: Result<T, GuestError>,
    /// What the skill did through capabilities.
    pub effects: Vec<Effect>,
    /// Capabilities the host refused.
    pub denials: Vec<Denial>,
}
