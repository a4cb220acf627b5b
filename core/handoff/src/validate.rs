//! Decoding and checking messages from the network: sizes, versions, identifiers and lengths.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PROTOCOL_VERSION;
use crate::message::{AgentReply, HandoffRequest, TouchpointReport};
use crate::topic::is_valid_id;

/// Bounds on what a message may hold. The defaults suit a voice conversation; a desk may lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload in bytes.
    pub max_bytes: usize,
    /// Most transcript lines in a handoff.
    pub max_transcript: usize,
    /// Longest text (an utterance, a reply, a suggestion, a summary, a context value), in characters.
    pub max_text_chars: usize,
    /// Most intent candidates, context fields or suggestions in a handoff.
    pub max_items: usize,
    /// Most rows in a touchpoint report.
    pub max_stats: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            max_transcript: 64,
            max_text_chars: 2_000,
            max_items: 32,
            max_stats: 2_000,
        }
    }
}

/// A message that is not acceptable, naming the message kind and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The payload is larger than [`Limits::max_bytes`].
    #[error("{kind}: payload of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Message kind.
        kind: &'static str,
        /// Payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON of the message's shape.
    #[error("{kind}: not a valid message: {message}")]
    Json {
        /// Message kind.
        kind: &'static str,
        /// serde_json's description, with line and column.
        message: String,
    },
    /// Another protocol version.
    #[error(
        "{kind}: protocol version {found} is not supported (this side speaks {PROTOCOL_VERSION})"
    )]
    Version {
        /// Message kind.
        kind: &'static str,
        /// The version found.
        found: u32,
    },
    /// A field with a value out of bounds.
    #[error("{kind}: field `{field}`: {message}")]
    Field {
        /// Message kind.
        kind: &'static str,
        /// The field, e.g. `transcript[3].text`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// One of the three wire messages.
pub trait Message: Serialize + DeserializeOwned {
    /// Its name in errors and logs.
    const KIND: &'static str;
    /// Checks every field against `limits` (the JSON shape is already known to be right).
    fn check(&self, limits: &Limits) -> Result<(), WireError>;
}

/// Decodes and checks one message received from the network.
pub fn decode<M: Message>(payload: &[u8], limits: &Limits) -> Result<M, WireError> {
    if payload.len() > limits.max_bytes {
        return Err(WireError::TooLarge {
            kind: M::KIND,
            size: payload.len(),
            limit: limits.max_bytes,
        });
    }
    let message: M = serde_json::from_slice(payload).map_err(|e| WireError::Json {
        kind: M::KIND,
        message: e.to_string(),
    })?;
    message.check(limits)?;
    Ok(message)
}

/// Encodes a message after checking it with `limits`, so a side never sends what the other refuses.
pub fn encode<M: Message>(message: &M, limits: &Limits) -> Result<Vec<u8>, WireError> {
    message.check(limits)?;
    let bytes = serde_json::to_vec(message).map_err(|e| WireError::Json {
        kind: M::KIND,
        message: e.to_string(),
    })?;
    if bytes.len() > limits.max_bytes {
        return Err(WireError::TooLarge {
            kind: M::KIND,
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(bytes)
}

/// Field checks for one message kind.
struct Checker {
    kind: &'static str,
    limits: Limits,
}

impl Checker {
    fn fail(&self, field: impl Into<String>, message: impl Into<String>) -> WireError {
        WireError::Field {
            kind: self.kind,
            field: field.into(),
            message: message.into(),
        }
    }

    fn version(&self, v: u32) -> Result<(), WireError> {
        if v == PROTOCOL_VERSION {
            Ok(())
        } else {
            Err(WireError::Version {
                kind: self.kind,
                found: v,
            })
        }
    }

    fn id(&self, field: &str, value: &str) -> Result<(), WireError> {
        if is_valid_id(value) {
            Ok(())
        } else {
            Err(self.fail(
                field,
                "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'",
            ))
        }
    }

    fn text(&self, field: impl Into<String>, value: &str, required: bool) -> Result<(), WireError> {
        let chars = value.chars().count();
        if required && value.trim().is_empty() {
            return Err(self.fail(field, "must not be empty"));
        }
        if chars > self.limits.max_text_chars {
            return Err(self.fail(
                field,
                format!(
                    "{chars} characters, over the limit of {}",
                    self.limits.max_text_chars
                ),
            ));
        }
        Ok(())
    }

    fn count(&self, field: &str, len: usize, max: usize) -> Result<(), WireError> {
        if len > max {
            Err(self.fail(field, format!("{len} entries, over the limit of {max}")))
        } else {
            Ok(())
        }
    }

    fn language(&self, value: &str) -> Result<(), WireError> {
        let ok = (2..=16).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(self.fail("language", "must be a language tag such as `en` or `pt-BR`"))
        }
    }
}

impl Message for HandoffRequest {
    const KIND: &'static str = "handoff";

    fn check(&self, limits: &Limits) -> Result<(), WireError> {
        let c = Checker {
            kind: Self::KIND,
            limits: *limits,
        };
        c.version(self.v)?;
        c.id("id", &self.id)?;
        c.id("home", &self.home)?;
        c.id("brand", &self.brand)?;
        if let Some(skill) = &self.skill {
            c.text("skill", skill, true)?;
        }
        c.language(&self.language)?;
        c.text("summary", &self.summary, false)?;
        c.count("transcript", self.transcript.len(), limits.max_transcript)?;
        for (i, u) in self.transcript.iter().enumerate() {
            c.text(format!("transcript[{i}].text"), &u.text, false)?;
        }
        c.count("candidates", self.candidates.len(), limits.max_items)?;
        for (i, cand) in self.candidates.iter().enumerate() {
            c.text(format!("candidates[{i}].intent"), &cand.intent, true)?;
            if !(0.0..=1.0).contains(&cand.confidence) {
                return Err(c.fail(
                    format!("candidates[{i}].confidence"),
                    format!("{} is not in 0..=1", cand.confidence),
                ));
            }
        }
        c.count("context", self.context.len(), limits.max_items)?;
        for (k, v) in &self.context {
            c.text(format!("context.{k}"), k, true)?;
            c.text(format!("context.{k}"), v, false)?;
        }
        c.count("suggestions", self.suggestions.len(), limits.max_items)?;
        for (i, s) in self.suggestions.iter().enumerate() {
            c.text(format!("suggestions[{i}]"), s, true)?;
        }
        Ok(())
    }
}

impl Message for AgentReply {
    const KIND: &'static str = "agent-reply";

    fn check(&self, limits: &Limits) -> Result<(), WireError> {
        let c = Checker {
            kind: Self::KIND,
            limits: *limits,
        };
        c.version(self.v)?;
        c.id("handoff", &self.handoff)?;
        c.text("agent", &self.agent, true)?;
        c.text("text", &self.text, true)
    }
}

impl Message for TouchpointReport {
    const KIND: &'static str = "touchpoints";

    fn check(&self, limits: &Limits) -> Result<(), WireError> {
        let c = Checker {
            kind: Self::KIND,
            limits: *limits,
        };
        c.version(self.v)?;
        c.id("id", &self.id)?;
        c.id("home", &self.home)?;
        c.id("brand", &self.brand)?;
        if self.period_end_ms <= self.period_start_ms {
            return Err(c.fail("period_end_ms", "must be after period_start_ms"));
        }
        c.count("stats", self.stats.len(), limits.max_stats)?;
        for (i, s) in self.stats.iter().enumerate() {
            c.text(format!("stats[{i}].intent"), &s.intent, true)?;
            if let Some(skill) = &s.skill {
                c.text(format!("stats[{i}].skill"), skill, true)?;
            }
            if s.failures > s.count || s.handoffs > s.count || s.satisfaction_asked > s.count {
                return Err(c.fail(
                    format!("stats[{i}]"),
                    "failures, handoffs and satisfaction answers cannot exceed count",
                ));
            }
            if s.satisfaction_positive > s.satisfaction_asked {
                return Err(c.fail(
                    format!("stats[{i}].satisfaction_positive"),
                    "cannot exceed satisfaction_asked",
                ));
            }
            if !(s.latency_p50_ms <= s.latency_p95_ms && s.latency_p95_ms <= s.latency_p99_ms) {
                return Err(c.fail(
                    format!("stats[{i}]"),
                    "latency percentiles must be p50 <= p95 <= p99",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::message::{Candidate, HandoffReason, IntentStats, Speaker, Utterance};

    fn handoff() -> HandoffRequest {
        HandoffRequest {
            v: PROTOCOL_VERSION,
            id: "h-1".into(),
            home: "home-1".into(),
            brand: "acme".into(),
            skill: Some("com.acme.coffee".into()),
            language: "en".into(),
            reason: HandoffReason::Asked,
            summary: "wants a person".into(),
            transcript: vec![Utterance {
                speaker: Speaker::Customer,
                text: "I want to talk to a person".into(),
                at_ms: 1,
            }],
            candidates: vec![Candidate {
                intent: "HassTalkToPerson".into(),
                confidence: 0.9,
            }],
            context: BTreeMap::from([("profile.name".into(), "Ada".into())]),
            suggestions: vec!["Hello, how can I help?".into()],
            created_ms: 1,
        }
    }

    #[test]
    fn round_trips() {
        let limits = Limits::default();
        let bytes = encode(&handoff(), &limits).unwrap();
        assert_eq!(
            decode::<HandoffRequest>(&bytes, &limits).unwrap(),
            handoff()
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(r#""reason":"asked""#), "{text}");
    }

    #[test]
    fn refuses_with_the_field_named() {
        let limits = Limits::default();
        let mut h = handoff();
        h.transcript[0].text = "x".repeat(2_001);
        let err = encode(&h, &limits).unwrap_err().to_string();
        assert!(err.contains("transcript[0].text"), "{err}");

        let mut h = handoff();
        h.brand = "acme/../other".into();
        assert!(
            encode(&h, &limits)
                .unwrap_err()
                .to_string()
                .contains("`brand`")
        );

        let mut h = handoff();
        h.candidates[0].confidence = f32::NAN;
        assert!(encode(&h, &limits).is_err());

        let mut h = handoff();
        h.v = 2;
        assert!(matches!(
            encode(&h, &limits),
            Err(WireError::Version { found: 2, .. })
        ));
    }

    #[test]
    fn refuses_oversized_unknown_and_malformed_payloads() {
        let limits = Limits::default();
        let big = vec![b' '; limits.max_bytes + 1];
        assert!(matches!(
            decode::<AgentReply>(&big, &limits),
            Err(WireError::TooLarge { .. })
        ));
        let unknown =
            br#"{"v":1,"handoff":"h-1","agent":"Bo","text":"hi","sent_ms":1,"admin":true}"#;
        let err = decode::<AgentReply>(unknown, &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin"), "{err}");
        assert!(decode::<AgentReply>(b"{", &limits).is_err());
        assert!(decode::<AgentReply>(b"\xff\xfe", &limits).is_err());
    }

    #[test]
    fn touchpoint_rows_must_be_consistent() {
        let limits = Limits::default();
        let row = IntentStats {
            skill: None,
            intent: "HassTurnOn".into(),
            count: 3,
            failures: 4,
            handoffs: 0,
            latency_p50_ms: 1,
            latency_p95_ms: 2,
            latency_p99_ms: 3,
            satisfaction_asked: 0,
            satisfaction_positive: 0,
        };
        let report = TouchpointReport {
            v: 1,
            id: "t-1".into(),
            home: "home-1".into(),
            brand: "acme".into(),
            period_start_ms: 0,
            period_end_ms: 10,
            stats: vec![row],
        };
        let err = encode(&report, &limits).unwrap_err().to_string();
        assert!(err.contains("cannot exceed count"), "{err}");
    }
}
