//! Messages and agents for tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use emma_desk::store::Agent;
use emma_handoff::{
    Candidate, HandoffReason, HandoffRequest, IntentStats, PROTOCOL_VERSION, Speaker,
    TouchpointReport, Utterance,
};

/// A handoff from `home` for brand `acme`.
pub fn handoff(id: &str, home: &str, language: &str, skill: Option<&str>) -> HandoffRequest {
    HandoffRequest {
        v: PROTOCOL_VERSION,
        id: id.into(),
        home: home.into(),
        brand: "acme".into(),
        skill: skill.map(str::to_owned),
        language: language.into(),
        reason: HandoffReason::Asked,
        summary: "Customer asks for a person about the coffee machine".into(),
        transcript: vec![
            Utterance {
                speaker: Speaker::Customer,
                text: "I want to talk to a person".into(),
                at_ms: 1,
            },
            Utterance {
                speaker: Speaker::Emma,
                text: "A person will answer shortly.".into(),
                at_ms: 2,
            },
        ],
        candidates: vec![Candidate {
            intent: "CoffeeDescale".into(),
            confidence: 0.41,
        }],
        context: BTreeMap::from([("profile.name".into(), "Ada".into())]),
        suggestions: vec![
            "Hello, how can I help?".into(),
            "Descaling takes 20 minutes; start it from the menu.".into(),
            "I'll send a technician.".into(),
        ],
        created_ms: 1,
    }
}

/// An agent of brand `acme`.
pub fn agent(id: &str, languages: &[&str], skills: &[&str], capacity: u32) -> Agent {
    Agent {
        id: id.into(),
        brand: "acme".into(),
        name: format!("Agent {id}"),
        languages: languages.iter().map(|s| s.to_string()).collect(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        capacity,
        available: false,
        load: 0,
    }
}

/// A touchpoint report with one row per (intent, count, failures, handoffs, p50, p95, p99).
pub fn report(
    id: &str,
    home: &str,
    day: u64,
    rows: &[(&str, u64, u64, u64, u32, u32, u32)],
) -> TouchpointReport {
    TouchpointReport {
        v: PROTOCOL_VERSION,
        id: id.into(),
        home: home.into(),
        brand: "acme".into(),
        period_start_ms: 1_764_633_600_000 + day * 86_400_000,
        period_end_ms: 1_764_633_600_000 + (day + 1) * 86_400_000,
        stats: rows
            .iter()
            .map(
                |&(intent, count, failures, handoffs, p50, p95, p99)| IntentStats {
                    skill: Some("com.acme.coffee".into()),
                    intent: intent.into(),
                    count,
                    failures,
                    handoffs,
                    latency_p50_ms: p50,
                    latency_p95_ms: p95,
                    latency_p99_ms: p99,
                    satisfaction_asked: 0,
                    satisfaction_positive: 0,
                },
            )
            .collect(),
    }
}
