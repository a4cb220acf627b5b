//! Skill services filtered by the customer's consent, with every share in the ledger.
//!
//! [`ConsentServices`] wraps the [`Services`] a skill gets (devices and
//! profile) for one skill. On every call it asks [`Privacy`] whether the
//! customer consented — nothing is cached, so a revocation applies to the
//! next call — and records what it handed over in the ledger:
//! - `profile(field)`: needs `profile:<field>`; the value comes from the
//!   customer's profile in `customer.sqlite`, else from the wrapped services.
//! - `read(device)`: needs `device-usage` (a device's state says what the
//!   customer does at home).
//! - `control(device, …)`: the skill's grant is checked by the host as
//!   before; a command carried out is stored as device usage.
//! - `stored(key)`: a write to the skill's own store is recorded as a
//!   `skill-store` store with the key (never the value).
//!
//! [`EventConsent`] is the [`EventGate`] of the assistant's event router: a
//! device event reaches a skill only with its `proactive` opt-in and its
//! `device-usage` consent, asked on every delivery. [`record_commands`]
//! records the device commands published on MQTT.
//!
//! The embedder (the `Assistant`) sets the reason — the intent or event the
//! skill is handling — with [`ConsentServices::set_reason`] before each call,
//! and passes the conversation context through [`filter_context`].

use std::sync::{Arc, Mutex};

use emma_devices::SentCommand;
use emma_privacy::{Category, Privacy, Reason, Usage, now_ms};
use emma_skill_host::Services;

use crate::events::EventGate;

/// A skill's services, filtered by consent (see the module docs).
pub struct ConsentServices {
    skill: String,
    inner: Arc<dyn Services>,
    privacy: Arc<Privacy>,
    reason: Mutex<Reason>,
}

impl std::fmt::Debug for ConsentServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentServices")
            .field("skill", &self.skill)
            .finish_non_exhaustive()
    }
}

impl ConsentServices {
    /// Wraps `inner` for skill `skill`.
    pub fn new(
        skill: impl Into<String>,
        inner: Arc<dyn Services>,
        privacy: Arc<Privacy>,
    ) -> ConsentServices {
        ConsentServices {
            skill: skill.into(),
            inner,
            privacy,
            reason: Mutex::new(Reason::other("unspecified")),
        }
    }

    /// The skill these services are for.
    pub fn skill(&self) -> &str {
        &self.skill
    }

    /// Why the skill is being called (the intent or event), recorded with each share.
    pub fn set_reason(&self, reason: Reason) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// Why the skill is being called now (the last [`ConsentServices::set_reason`]).
    pub fn reason(&self) -> Reason {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a share; a ledger failure withholds the data (fail closed).
    fn shared(&self, category: &Category, field: Option<&str>) -> bool {
        match self
            .privacy
            .record_share(&self.skill, category, field, self.reason(), now_ms())
        {
            Ok(Some(_)) => true,
            Ok(None) => false,
            Err(e) => {
                tracing::error!(skill = %self.skill, %category, error = %e, "ledger write failed; withholding the data");
                false
            }
        }
    }
}

impl Services for ConsentServices {
    fn control(&self, device: &str, command: &str, value: Option<&str>) -> Result<(), String> {
        self.inner.control(device, command, value)?;
        let usage = Usage {
            at_ms: now_ms(),
            device: device.into(),
            action: command.into(),
            value: value.map(String::from),
            by: self.skill.clone(),
        };
        if let Err(e) = self.privacy.record_usage(&usage, self.reason()) {
            tracing::warn!(skill = %self.skill, device, error = %e, "device usage not recorded");
        }
        Ok(())
    }

    fn read(&self, device: &str) -> Result<String, String> {
        let denied = || {
            format!(
                "the customer has not consented to share device usage with skill `{}`; \
                 they can allow it with `emma privacy consent grant {} device-usage --purpose …`",
                self.skill, self.skill
            )
        };
        if !self
            .privacy
            .allows(&self.skill, &Category::DeviceUsage, now_ms())
        {
            return Err(denied());
        }
        let state = self.inner.read(device)?;
        if self.shared(&Category::DeviceUsage, Some(device)) {
            Ok(state)
        } else {
            Err(denied())
        }
    }

    fn profile(&self, field: &str) -> Option<String> {
        let category: Category = format!("profile:{field}").parse().ok()?;
        if !self.privacy.allows(&self.skill, &category, now_ms()) {
            return None;
        }
        let value = match self.privacy.customer().profile(field) {
            Ok(Some(v)) => Some(v),
            Ok(None) => self.inner.profile(field),
            Err(e) => {
                tracing::error!(skill = %self.skill, field, error = %e, "profile read failed");
                None
            }
        }?;
        self.shared(&category, None).then_some(value)
    }

    fn stored(&self, key: &str) {
        // A store key is the skill's own name for what it keeps; it goes in as the field.
        let field: String = key.chars().filter(|c| !c.is_control()).take(256).collect();
        if let Err(e) = self.privacy.record_store(
            &self.skill,
            &Category::SkillStore,
            Some(&field),
            self.reason(),
            now_ms(),
        ) {
            tracing::error!(skill = %self.skill, error = %e, "skill store write not recorded in the ledger");
        }
    }
}

/// The consent gate of the assistant's event router: a device event reaches
/// a skill only if the customer opted the skill in to proactive features and
/// consented to share device usage with it ([`Privacy::allows_event`]), asked
/// on every delivery. An admitted delivery is recorded as a `device-usage`
/// share (field: the device, reason: `event:<kind>`), which is also what the
/// skill's services record its actions under.
pub struct EventConsent {
    privacy: Arc<Privacy>,
    services: Vec<Arc<ConsentServices>>,
}

impl EventConsent {
    /// A gate over `privacy` for skills with these `services`.
    pub fn new(privacy: Arc<Privacy>, services: Vec<Arc<ConsentServices>>) -> EventConsent {
        EventConsent { privacy, services }
    }
}

impl EventGate for EventConsent {
    fn admit(&self, skill: &str, event: &emma_skill_host::DeviceEvent) -> bool {
        let now = now_ms();
        if !self.privacy.allows_event(skill, now) {
            tracing::debug!(skill, kind = %event.kind, "device event withheld: no proactive opt-in or device-usage consent");
            return false;
        }
        let reason = Reason::event(&event.kind);
        match self.privacy.record_share(
            skill,
            &Category::DeviceUsage,
            Some(&event.device),
            reason.clone(),
            now,
        ) {
            Ok(Some(_)) => {
                if let Some(s) = self.services.iter().find(|s| s.skill() == skill) {
                    s.set_reason(reason);
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::error!(skill, error = %e, "ledger write failed; device event withheld");
                false
            }
        }
    }
}

/// How often the assistant deletes data past its retention period (it also does on start).
pub const EXPIRY_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs [`Privacy::expire`] every `every` on `rt` until the task is aborted
/// (the first run is one period from now: opening [`Privacy`] ran it already).
pub fn spawn_expiry(
    rt: &tokio::runtime::Handle,
    privacy: Arc<Privacy>,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let p = privacy.clone();
            match tokio::task::spawn_blocking(move || p.expire(now_ms())).await {
                Ok(Ok(x)) if !x.removed.is_empty() => {
                    tracing::info!(removed = ?x.removed, "expired data past its retention period")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "retention expiry failed"),
                Err(e) => tracing::warn!(error = %e, "retention expiry task failed"),
            }
        }
    })
}

/// Records device commands published on MQTT: each is a `device-usage` share
/// with `mqtt:<topic>` (field: the device) and, with `usage`, a device-usage
/// store by `by` (commands a skill sent through its services are stored there
/// already). Failures are logged: the command has gone out either way.
pub fn record_commands(
    privacy: &Privacy,
    by: &str,
    sent: &[SentCommand],
    reason: &Reason,
    usage: bool,
) {
    let now = now_ms();
    for c in sent {
        if usage {
            let u = Usage {
                at_ms: now,
                device: c.device.clone(),
                action: command_name(&c.payload),
                value: None,
                by: by.to_string(),
            };
            if let Err(e) = privacy.record_usage(&u, reason.clone()) {
                tracing::warn!(device = %c.device, error = %e, "device usage not recorded");
            }
        }
        if let Err(e) = privacy.record_outside_share(
            &format!("mqtt:{}", c.topic),
            &Category::DeviceUsage,
            Some(&c.device),
            reason.clone(),
            now,
        ) {
            tracing::warn!(topic = %c.topic, error = %e, "device command not recorded in the ledger");
        }
    }
}

/// A short name for a command payload (`{"state":"ON"}` → `state=ON`), for device usage.
fn command_name(payload: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .filter(|(k, _)| k.as_str() != "id")
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => payload.chars().take(64).collect(),
    }
}

/// The data category a conversation-context key carries, if it is customer data:
/// `text`/`utterance`/`transcript` → transcripts; `area`, `floor`, `device`,
/// `device_name` → device names; `profile.<field>` → that profile field;
/// `device_state` → device usage. Other keys (session ids, the previous
/// intent) are not customer data.
pub fn context_category(key: &str) -> Option<Category> {
    match key {
        "text" | "utterance" | "transcript" => Some(Category::Transcripts),
        "area" | "floor" | "device" | "device_name" => Some(Category::DeviceNames),
        "device_state" => Some(Category::DeviceUsage),
        _ => key
            .strip_prefix("profile.")
            .and_then(|f| format!("profile:{f}").parse().ok()),
    }
}

/// Removes from a skill's conversation `context` every entry of customer data
/// the customer did not consent to share with `skill`, and records the shares
/// of the rest in the ledger; returns the keys withheld. A context key that
/// looks like a profile field but is not a valid one is withheld too.
pub fn filter_context(
    privacy: &Privacy,
    skill: &str,
    context: &mut Vec<(String, String)>,
    reason: &Reason,
    now_ms: u64,
) -> Vec<String> {
    let mut withheld = Vec::new();
    context.retain(|(key, _)| {
        let category = match context_category(key) {
            Some(c) => c,
            None if key.starts_with("profile.") => {
                withheld.push(key.clone());
                return false;
            }
            None => return true,
        };
        let field = category.field().is_none().then_some(key.as_str());
        match privacy.record_share(skill, &category, field, reason.clone(), now_ms) {
            Ok(Some(_)) => true,
            Ok(None) => {
                withheld.push(key.clone());
                false
            }
            Err(e) => {
                tracing::error!(skill, key, error = %e, "ledger write failed; withholding context");
                withheld.push(key.clone());
                false
            }
        }
    });
    withheld
}

#[cfg(test)]
mod tests {
    use super::*;
    use emma_devices::{Area, Device, Domain, Floor, Outbox, OutboxCommand, Registry};
    use emma_privacy::{Filter, Verification, scan_for};
    use emma_skill_host::{LocalServices, SkillDb};

    fn home() -> (tempfile::TempDir, Arc<Privacy>) {
        let dir = tempfile::tempdir().unwrap();
        let installed = dir.path().join("skills/installed");
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::write(installed.join("coffee.emmaskill"), b"x").unwrap();
        let p = Arc::new(Privacy::open_dir(dir.path()).unwrap());
        (dir, p)
    }

    #[test]
    fn profile_and_state_reach_the_skill_only_with_consent() {
        let (_d, p) = home();
        let inner: Arc<dyn Services> = Arc::new(
            LocalServices::new()
                .with_device("sensor.beans", "12")
                .with_profile("name", "Ada"),
        );
        let s = ConsentServices::new("coffee", inner, p.clone());
        s.set_reason(Reason::intent("coffee.greet"));
        assert_eq!(s.profile("name"), None, "no consent yet");
        assert!(s.read("sensor.beans").unwrap_err().contains("device-usage"));

        let now = now_ms();
        p.grant(
            "coffee",
            &Category::Profile("name".into()),
            "greet me",
            None,
            now,
        )
        .unwrap();
        p.grant("coffee", &Category::DeviceUsage, "bean level", None, now)
            .unwrap();
        assert_eq!(s.profile("name").as_deref(), Some("Ada"));
        assert_eq!(s.profile("email"), None, "each field on its own");
        assert_eq!(s.read("sensor.beans").unwrap(), "12");
        // The customer's own profile store wins over the embedder's.
        p.set_profile("name", "Ada L.", Reason::customer(), now)
            .unwrap();
        assert_eq!(s.profile("name").as_deref(), Some("Ada L."));

        // Revoked: the very next call is denied, no restart.
        p.revoke("coffee", Some(&Category::Profile("name".into())), now_ms())
            .unwrap();
        assert_eq!(s.profile("name"), None);
        p.revoke("coffee", None, now_ms()).unwrap();
        assert!(s.read("sensor.beans").is_err());

        let shares: Vec<_> = p
            .ledger()
            .entries(&Filter {
                party: Some("coffee".into()),
                ..Filter::default()
            })
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "share")
            .collect();
        assert_eq!(shares.len(), 3, "{shares:#?}");
        assert!(shares.iter().all(|e| e.reason == "intent:coffee.greet"));
        assert_eq!(shares[1].field.as_deref(), Some("sensor.beans"));
        assert!(matches!(
            p.ledger().verify().unwrap(),
            Verification::Intact { .. }
        ));
    }

    #[test]
    fn context_is_filtered_by_consent() {
        let (_d, p) = home();
        let now = now_ms();
        p.grant(
            "coffee",
            &Category::DeviceNames,
            "say which room",
            None,
            now,
        )
        .unwrap();
        let mut ctx: Vec<(String, String)> = [
            ("text", "make coffee for Anna"),
            ("area", "Anna's room"),
            ("profile.name", "Ada"),
            ("profile.bad key", "x"),
            ("session", "42"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let withheld = filter_context(&p, "coffee", &mut ctx, &Reason::intent("coffee.make"), now);
        assert_eq!(withheld, ["text", "profile.name", "profile.bad key"]);
        let kept: Vec<&str> = ctx.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kept, ["area", "session"]);
        let shares = p
            .ledger()
            .entries(&Filter {
                party: Some("coffee".into()),
                ..Filter::default()
            })
            .unwrap();
        let last = shares.last().unwrap();
        assert_eq!(
            (
                last.action.as_str(),
                last.category.as_str(),
                last.field.as_deref()
            ),
            ("share", "device-names", Some("area"))
        );
    }

    #[test]
    fn expiry_runs_periodically() {
        let (_d, p) = home();
        p.customer()
            .set_retention(&Category::Transcripts, 1)
            .unwrap();
        p.customer()
            .add_transcript("CNRYexpireZ", None, now_ms() - 5_000)
            .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let task = spawn_expiry(rt.handle(), p.clone(), std::time::Duration::from_millis(50));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !p.customer().transcripts().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "expired within 5 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        task.abort();
        let expired = p
            .ledger()
            .entries(&Filter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "expire" && e.category == "transcripts")
            .count();
        assert_eq!(expired, 1);
    }

    #[test]
    fn control_is_recorded_as_device_usage() {
        let (_d, p) = home();
        let inner: Arc<dyn Services> =
            Arc::new(LocalServices::new().with_device("switch.grinder", "off"));
        let s = ConsentServices::new("coffee", inner, p.clone());
        s.control("switch.grinder", "turn_on", None).unwrap();
        assert!(s.control("switch.nope", "turn_on", None).is_err());
        let usage = p.customer().usage().unwrap();
        assert_eq!(usage.len(), 1);
        assert_eq!(
            (usage[0].device.as_str(), usage[0].by.as_str()),
            ("switch.grinder", "coffee")
        );
    }

    /// Export and erase against the real stores of emma-skill-host and emma-devices.
    #[test]
    fn export_and_erase_cover_the_real_skill_and_device_stores() {
        let (d, p) = home();
        let canary = "CNRYrealstoresZ";
        {
            let db = SkillDb::open(&d.path().join("skills/skills.db")).unwrap();
            db.set(
                "coffee",
                "favourite",
                format!("{canary} kv").as_bytes(),
                1 << 20,
            )
            .unwrap();
            let line = emma_skill_host::types::OrderLine {
                sku: "BEANS".into(),
                quantity: 1,
                description: format!("{canary} order"),
            };
            db.propose("coffee", &[line], "low", 1).unwrap();
            let mut reg = Registry::open(d.path().join("devices.sqlite")).unwrap();
            reg.upsert_floor(Floor {
                id: "up".into(),
                name: format!("{canary} floor"),
                aliases: vec![],
                level: Some(1),
            })
            .unwrap();
            reg.upsert_area(Area {
                id: "den".into(),
                name: format!("{canary} area"),
                aliases: vec![],
                floor: Some("up".into()),
            })
            .unwrap();
            reg.upsert_device(
                Device::new("light.anna", format!("{canary} lamp"), Domain::Light).in_area("den"),
            )
            .unwrap();
            let mut outbox = Outbox::open(d.path().join("outbox.sqlite"), 10).unwrap();
            outbox
                .push(&OutboxCommand::new(
                    "emma/device/light.anna/set",
                    format!("{canary} cmd").into_bytes(),
                    std::time::Duration::from_secs(60),
                ))
                .unwrap();
        }
        let out = d.path().join("export.json");
        p.export(&out, now_ms()).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        for what in ["kv", "order", "floor", "area", "lamp", "cmd"] {
            assert!(
                text.contains(&format!("{canary} {what}")),
                "{what} missing from the export"
            );
        }
        std::fs::remove_file(&out).unwrap();
        let needles: &[&[u8]] = &[canary.as_bytes()];
        assert!(
            !scan_for(&[d.path().to_path_buf()], needles)
                .unwrap()
                .is_empty()
        );
        p.erase(now_ms()).unwrap();
        let hits = scan_for(&[d.path().to_path_buf()], needles).unwrap();
        assert!(hits.is_empty(), "{hits:#?}");
        // The real crates still open their stores after erase.
        assert!(
            SkillDb::open(&d.path().join("skills/skills.db"))
                .unwrap()
                .get("coffee", "favourite")
                .unwrap()
                .is_none()
        );
        assert!(
            Registry::open(d.path().join("devices.sqlite"))
                .unwrap()
                .is_empty()
        );
    }
}
