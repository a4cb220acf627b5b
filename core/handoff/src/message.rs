//! The three messages between homes and desks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A home asks the brand for a person.
///
/// Carries only what the customer consented to share: `context` holds consented fields (the ledger records
/// the share), never audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    /// Protocol version, [`crate::PROTOCOL_VERSION`].
    pub v: u32,
    /// Unique id chosen by the home (also the outbox command id, so a retry is recognised as the same handoff).
    pub id: String,
    /// The home that asks; replies go to `emma/home/{home}/handoff/reply`.
    pub home: String,
    /// The brand whose desk answers (an identifier, see [`crate::topic::is_valid_id`]).
    pub brand: String,
    /// The skill the conversation was with, if any.
    pub skill: Option<String>,
    /// The customer's language (`en`, `de`, …): the desk routes to an agent who speaks it.
    pub language: String,
    /// Why the handoff started.
    pub reason: HandoffReason,
    /// A one-line summary for the agent (the skill's, or the home's).
    pub summary: String,
    /// The session so far, oldest first.
    pub transcript: Vec<Utterance>,
    /// What the home thought the customer meant, best first.
    pub candidates: Vec<Candidate>,
    /// Consented customer context, field → value.
    pub context: BTreeMap<String, String>,
    /// Replies the agent may send with one click (from the skill's reply and the response templates).
    pub suggestions: Vec<String>,
    /// When the home created it, milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// Why a handoff started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HandoffReason {
    /// The customer asked for a person.
    Asked,
    /// The request was not understood (or below the confidence threshold) twice in a row.
    NotUnderstood,
    /// A skill asked for a person (`handoff.request` or a reply's `handoff`).
    Skill,
}

/// One line of the session transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utterance {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said (the customer's words as recognised, or Emma's reply).
    pub text: String,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Who said an [`Utterance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Speaker {
    /// The customer.
    Customer,
    /// The assistant (or a skill through it).
    Emma,
    /// A person at the brand.
    Agent,
}

/// An intent the home considered, with its confidence in `0..=1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Intent name.
    pub intent: String,
    /// Confidence in `0..=1`.
    pub confidence: f32,
}

/// A person at the brand answers a handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentReply {
    /// Protocol version, [`crate::PROTOCOL_VERSION`].
    pub v: u32,
    /// The handoff answered ([`HandoffRequest::id`]).
    pub handoff: String,
    /// The agent's display name, as the customer may hear it.
    pub agent: String,
    /// The reply, spoken to the customer.
    pub text: String,
    /// When the agent sent it, milliseconds since the Unix epoch.
    pub sent_ms: u64,
}

/// Aggregated touchpoints of one home for one period: counts, rates and latency percentiles, never free
/// text or audio. Sent only with the customer's consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchpointReport {
    /// Protocol version, [`crate::PROTOCOL_VERSION`].
    pub v: u32,
    /// Unique id of this report (a re-delivered report is counted once).
    pub id: String,
    /// The home.
    pub home: String,
    /// The brand the aggregates are for (only that brand's skills and handoffs).
    pub brand: String,
    /// Start of the period, milliseconds since the Unix epoch.
    pub period_start_ms: u64,
    /// End of the period (exclusive).
    pub period_end_ms: u64,
    /// One row per (skill, intent).
    pub stats: Vec<IntentStats>,
}

/// Aggregates for one intent of one skill (or a built-in intent when `skill` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentStats {
    /// The skill, or `None` for built-in intents and not-understood requests.
    pub skill: Option<String>,
    /// Intent name (`not-understood` for requests no intent matched).
    pub intent: String,
    /// Interactions in the period.
    pub count: u64,
    /// Interactions that failed (refused, error, not understood).
    pub failures: u64,
    /// Interactions that ended in a handoff.
    pub handoffs: u64,
    /// Latency percentiles from end of request to reply, milliseconds.
    pub latency_p50_ms: u32,
    /// 95th percentile.
    pub latency_p95_ms: u32,
    /// 99th percentile.
    pub latency_p99_ms: u32,
    /// Satisfaction answers received, and how many were positive.
    pub satisfaction_asked: u64,
    /// Positive satisfaction answers.
    pub satisfaction_positive: u64,
}
