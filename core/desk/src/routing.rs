//! Which agent gets a handoff.
//!
//! Among the available agents of the handoff's brand who have room (load below capacity):
//! 1. **language** — the agent must speak the customer's language (`pt-BR` is served by `pt-BR` or `pt`;
//!    the reply is spoken to the customer, so no other agent can answer);
//! 2. **skill** — an agent who knows the skill the conversation was with (or `*`) comes first;
//! 3. **load** — then the one with fewest open handoffs;
//! 4. **history** — then one who answered this home before;
//! 5. finally the agent id, so the choice is deterministic.
//!
//! No agent speaking the language → the handoff waits in the queue.

use std::cmp::Reverse;

/// An agent who could take a handoff, as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoad<'a> {
    /// The agent id.
    pub id: &'a str,
    /// Languages spoken.
    pub languages: &'a [String],
    /// Skills known (`*` for all).
    pub skills: &'a [String],
    /// Open handoffs now.
    pub load: u32,
    /// Answered this home before.
    pub answered_before: bool,
}

/// Whether an agent speaking `spoken` can answer a customer speaking `customer`: the same tag, or the
/// agent's tag is the customer's primary language (`pt` serves `pt-BR`), ignoring case and `_`/`-`.
pub fn speaks(spoken: &str, customer: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
    let (spoken, customer) = (norm(spoken), norm(customer));
    let primary = customer.split('-').next().unwrap_or("");
    spoken == customer || (!spoken.contains('-') && spoken == primary)
}

/// The index in `agents` of the agent to route to, or `None` when nobody speaks the language.
pub fn choose(language: &str, skill: Option<&str>, agents: &[AgentLoad<'_>]) -> Option<usize> {
    agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a.languages.iter().any(|l| speaks(l, language)))
        .max_by_key(|(_, a)| {
            let knows = skill.is_some_and(|s| a.skills.iter().any(|k| k == s || k == "*"));
            (knows, Reverse(a.load), a.answered_before, Reverse(a.id))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn language_then_skill_then_load_then_history() {
        let en = strings(&["en"]);
        let de_en = strings(&["de", "en"]);
        let coffee = strings(&["coffee"]);
        let none: Vec<String> = Vec::new();
        let agents = [
            AgentLoad {
                id: "ann",
                languages: &en,
                skills: &none,
                load: 0,
                answered_before: false,
            },
            AgentLoad {
                id: "bob",
                languages: &de_en,
                skills: &coffee,
                load: 2,
                answered_before: false,
            },
            AgentLoad {
                id: "cid",
                languages: &de_en,
                skills: &none,
                load: 1,
                answered_before: true,
            },
            AgentLoad {
                id: "dan",
                languages: &de_en,
                skills: &none,
                load: 1,
                answered_before: false,
            },
        ];
        // Only bob, cid and dan speak German; bob knows the skill despite his load.
        assert_eq!(choose("de", Some("coffee"), &agents), Some(1));
        // No skill: least load among German speakers (cid, dan at 1), then history: cid.
        assert_eq!(choose("de-AT", None, &agents), Some(2));
        // English, unknown skill: least load wins (ann, 0).
        assert_eq!(choose("en", Some("tea"), &agents), Some(0));
        // Nobody speaks French: wait in the queue.
        assert_eq!(choose("fr", None, &agents), None);
    }

    #[test]
    fn language_tags() {
        assert!(speaks("pt", "pt-BR"));
        assert!(speaks("PT_br", "pt-BR"));
        assert!(!speaks("pt-PT", "pt-BR"));
        assert!(!speaks("en", "de"));
    }
}
