//! Device events to skills.
//!
//! The device layer reports what happened to a device ([`devices::DeviceEvent`]:
//! added, changed, removed, new state and attributes). Skills subscribe to
//! event *kinds* in their manifest (`events = ["bean-level"]`) and receive
//! [`skills::DeviceEvent`]s (`device`, `kind`, `value`). [`EventRouter`]
//! translates one into the other and delivers each event only to the skills
//! that subscribe to its kind **and** whose customer granted read (or control)
//! access to the device — never to a skill without the grant. With an
//! [`EventGate`] (the `Assistant` sets one that asks the customer's consent,
//! see `consent::EventConsent`) the gate is asked before every delivery too,
//! so a revoked consent applies to the next event. A skill that fails is
//! logged and reported in its [`Delivery`]; the others still get the event.
//!
//! Translation ([`skill_events`]): a state report yields `state` (the device's
//! state) and one event per attribute, named after the attribute with `_`
//! turned into `-` (`bean_level` → `bean-level`), its value as text. Because a
//! state report carries all attributes, the router forwards only values that
//! changed since the last report. Registry changes yield `added`, `changed` and
//! `removed` with the device's state (or nothing) as value.

use std::collections::HashMap;
use std::sync::Arc;

use emma_devices::{self as devices, Access, Device, EventKind, EventStream, StreamItem};
use emma_skill_host::{self as skills, HostError, Outcome, Permission, Reply, SkillInstance};
use serde_json::Value;
use tokio::sync::mpsc;

/// One event delivered to one skill, and what the skill made of it.
#[derive(Debug)]
pub struct Delivery {
    /// Index of the skill in the router (the order given to [`EventRouter::new`]).
    pub skill: usize,
    /// The skill's manifest id.
    pub skill_id: String,
    /// The event as the skill saw it.
    pub event: skills::DeviceEvent,
    /// The skill's answer (an optional reply plus effects and denials), or why the host could not run it.
    pub result: Result<Outcome<Option<Reply>>, HostError>,
}

impl Delivery {
    /// Whether the skill handled the event without error (its own or the host's).
    pub fn succeeded(&self) -> bool {
        matches!(&self.result, Ok(o) if o.result.is_ok())
    }
}

/// Asked before each delivery of an event to a skill that subscribes to it
/// and holds the device grant.
pub trait EventGate: Send + Sync {
    /// Whether `skill` may receive `event` now. Called right before the skill
    /// is called (and only then), so an implementation may also record the
    /// share and note why the skill is being called.
    fn admit(&self, skill: &str, event: &skills::DeviceEvent) -> bool;
}

/// Delivers device events to subscribed, granted skills.
pub struct EventRouter {
    skills: Vec<SkillInstance>,
    last: HashMap<(String, String), String>,
    gate: Option<Arc<dyn EventGate>>,
}

impl std::fmt::Debug for EventRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRouter")
            .field(
                "skills",
                &self
                    .skills
                    .iter()
                    .map(|s| s.manifest().id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Text of an attribute value: strings as they are, everything else as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The skill events a device event stands for (before change filtering).
pub fn skill_events(event: &devices::DeviceEvent) -> Vec<skills::DeviceEvent> {
    let ev = |kind: &str, value: String| skills::DeviceEvent {
        device: event.device.clone(),
        kind: kind.to_string(),
        value,
    };
    let state = || event.state.clone().unwrap_or_default();
    match event.kind {
        EventKind::Added => vec![ev("added", state())],
        EventKind::Changed => vec![ev("changed", state())],
        EventKind::Removed => vec![ev("removed", state())],
        EventKind::StateChanged => event
            .state
            .iter()
            .map(|s| ev("state", s.clone()))
            .chain(
                event
                    .attributes
                    .iter()
                    .map(|(k, v)| ev(&k.replace('_', "-"), value_text(v))),
            )
            .collect(),
    }
}

/// Whether `skill`'s customer grants let it read `device`.
pub fn may_read(skill: &SkillInstance, device: &Device) -> bool {
    skill.grants().iter().any(|p| {
        matches!(p, Permission::Device { .. })
            && devices::allowed(&p.to_string(), device, Access::Read)
    })
}

impl EventRouter {
    /// A router for `skills` (loaded with their customer's grants).
    pub fn new(skills: Vec<SkillInstance>) -> EventRouter {
        EventRouter {
            skills,
            last: HashMap::new(),
            gate: None,
        }
    }

    /// Builder: asks `gate` before every delivery as well.
    pub fn with_gate(mut self, gate: Arc<dyn EventGate>) -> EventRouter {
        self.gate = Some(gate);
        self
    }

    /// The skills, in the order given.
    pub fn skills(&self) -> &[SkillInstance] {
        &self.skills
    }

    /// The skills, e.g. to change grants after a revoke (takes effect on the next event).
    pub fn skills_mut(&mut self) -> &mut [SkillInstance] {
        &mut self.skills
    }

    /// Gives the skills back.
    pub fn into_skills(self) -> Vec<SkillInstance> {
        self.skills
    }

    /// Delivers `event` to every skill that subscribes to it, may read the
    /// device and (with a gate) is admitted by the gate;
    /// returns one [`Delivery`] per skill called. Failures are logged, never fatal.
    pub fn deliver(&mut self, event: &devices::DeviceEvent) -> Vec<Delivery> {
        let device = Device::new(event.device.clone(), event.device.clone(), event.domain);
        let mut out = Vec::new();
        for sev in skill_events(event) {
            if event.kind == EventKind::StateChanged {
                let key = (sev.device.clone(), sev.kind.clone());
                if self.last.get(&key) == Some(&sev.value) {
                    continue;
                }
                self.last.insert(key, sev.value.clone());
            }
            for (index, skill) in self.skills.iter_mut().enumerate() {
                if !skill.manifest().events.contains(&sev.kind) || !may_read(skill, &device) {
                    continue;
                }
                let skill_id = skill.manifest().id.clone();
                if let Some(gate) = &self.gate
                    && !gate.admit(&skill_id, &sev)
                {
                    tracing::debug!(skill = %skill_id, device = %sev.device, kind = %sev.kind, "device event not delivered: the gate refused");
                    continue;
                }
                let result = skill.handle_event(&sev);
                match &result {
                    Err(e) => {
                        tracing::warn!(skill = %skill_id, device = %sev.device, kind = %sev.kind, error = %e, "skill failed on a device event")
                    }
                    Ok(Outcome { result: Err(e), .. }) => {
                        tracing::warn!(skill = %skill_id, device = %sev.device, kind = %sev.kind, error = %e, "skill returned an error for a device event")
                    }
                    Ok(_) => {
                        tracing::debug!(skill = %skill_id, device = %sev.device, kind = %sev.kind, "device event delivered")
                    }
                }
                out.push(Delivery {
                    skill: index,
                    skill_id,
                    event: sev.clone(),
                    result,
                });
            }
        }
        if event.kind == EventKind::Removed {
            self.last.retain(|(d, _), _| d != &event.device);
        }
        out
    }

    /// Delivers every event from `events` until the stream ends, sending each
    /// [`Delivery`] to `deliveries` (if it is still open); returns the router.
    ///
    /// Skills run on tokio's blocking pool, so a slow skill (bounded by its
    /// manifest's `timeout_ms`) never stalls the async runtime.
    pub async fn run(
        mut self,
        mut events: EventStream,
        deliveries: mpsc::Sender<Delivery>,
    ) -> EventRouter {
        while let Some(item) = events.next().await {
            let event = match item {
                StreamItem::Event(e) => e,
                StreamItem::Missed(n) => {
                    tracing::warn!(
                        missed = n,
                        "skills missed device events: the event router fell behind"
                    );
                    continue;
                }
            };
            let (router, out) = match tokio::task::spawn_blocking(move || {
                let out = self.deliver(&event);
                (self, out)
            })
            .await
            {
                Ok(done) => done,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            self = router;
            for d in out {
                // A closed receiver only means nobody watches the outcomes.
                let _ = deliveries.send(d).await;
            }
        }
        self
    }

    /// Spawns [`EventRouter::run`] on the current tokio runtime; returns the task
    /// (yielding the router when the stream ends) and the deliveries.
    pub fn spawn(
        self,
        events: EventStream,
    ) -> (
        tokio::task::JoinHandle<EventRouter>,
        mpsc::Receiver<Delivery>,
    ) {
        let (tx, rx) = mpsc::channel(256);
        (tokio::spawn(self.run(events, tx)), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emma_devices::Domain;
    use serde_json::{Map, json};

    fn state_event(attrs: Value) -> devices::DeviceEvent {
        let Value::Object(attributes) = attrs else {
            panic!("object")
        };
        devices::DeviceEvent {
            kind: EventKind::StateChanged,
            device: "coffee.machine".into(),
            domain: Domain::Custom,
            state: Some("idle".into()),
            attributes,
        }
    }

    #[test]
    fn state_reports_become_state_and_attribute_events() {
        let evs = skill_events(&state_event(
            json!({"bean_level": 12, "water": "full", "on": true}),
        ));
        let got: Vec<(&str, &str)> = evs
            .iter()
            .map(|e| (e.kind.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("state", "idle"),
                ("bean-level", "12"),
                ("on", "true"),
                ("water", "full")
            ]
        );
        assert!(evs.iter().all(|e| e.device == "coffee.machine"));
    }

    #[test]
    fn registry_changes_become_named_events() {
        let removed = devices::DeviceEvent {
            kind: EventKind::Removed,
            device: "light.desk".into(),
            domain: Domain::Light,
            state: None,
            attributes: Map::new(),
        };
        let evs = skill_events(&removed);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind, "removed");
        assert_eq!(evs[0].value, "");
    }

    #[test]
    fn router_without_skills_delivers_nothing() {
        let mut r = EventRouter::new(Vec::new());
        assert!(
            r.deliver(&state_event(json!({"bean_level": 12})))
                .is_empty()
        );
    }
}
