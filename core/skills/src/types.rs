//! Host-side request, reply and effect types, independent of any WIT version.

use emma_untrusted as untrusted;
use serde::{Deserialize, Serialize};

/// Length caps (in characters) for the text fields of replies and effects.
pub mod caps {
    /// Titles, reasons, order descriptions, follow-up topics.
    pub const TITLE: usize = emma_untrusted::LINE_CHARS;
    /// Speech, notification bodies, handoff summaries, order notes.
    pub const TEXT: usize = emma_untrusted::TEXT_CHARS;
    /// Card bodies.
    pub const CARD_BODY: usize = 4 * emma_untrusted::TEXT_CHARS;
}

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

impl Reply {
    /// The reply with every text a person sees or hears made safe by
    /// [`emma_untrusted`]: escape sequences, control, bidi and invisible
    /// characters removed and lengths capped. `data` (machine JSON) and the
    /// actions (checked against grants separately) are left as they are.
    pub fn sanitised(self) -> Reply {
        Reply {
            speech: untrusted::text(&self.speech, caps::TEXT),
            card: self.card.map(|c| Card {
                title: untrusted::line(&c.title, caps::TITLE),
                body: untrusted::text(&c.body, caps::CARD_BODY),
            }),
            data: self.data,
            follow_up: self.follow_up.map(|f| untrusted::line(&f, caps::TITLE)),
            actions: self.actions,
            handoff: self.handoff.map(|h| Handoff {
                reason: untrusted::line(&h.reason, caps::TITLE),
                summary: untrusted::text(&h.summary, caps::TEXT),
            }),
        }
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

/// A device action in a reply that the host took out because the skill holds
/// no grant for it. It must never be carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedAction {
    /// The action as the skill returned it.
    pub action: Action,
    /// Why: `device:lock.front_door:control: not granted by the customer`.
    pub reason: String,
}

/// What one call produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome<T> {
    /// The skill that answered (its manifest id).
    pub skill: String,
    /// The skill's own answer or error. Reply actions here are only those the
    /// skill may carry out; the rest are in `refused_actions`.
    pub result: Result<T, GuestError>,
    /// What the skill did through capabilities.
    pub effects: Vec<Effect>,
    /// Capabilities the host refused (including uses over budget).
    pub denials: Vec<Denial>,
    /// Reply actions for devices the skill may not control, taken out of the reply.
    pub refused_actions: Vec<RefusedAction>,
}

impl<T> Outcome<T> {
    /// The same outcome with the skill's answer mapped by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            skill: self.skill,
            result: self.result.map(f),
            effects: self.effects,
            denials: self.denials,
            refused_actions: self.refused_actions,
        }
    }
}
