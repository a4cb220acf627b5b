//! What a skill's capability imports reach in a real home: devices through
//! `emma-devices` (the registry and the durable outbox), the same path as
//! built-in commands.
//!
//! The skill host has already checked the manifest declaration *and* the
//! customer's grant before it calls [`Services::control`]; every command sent
//! here is reported as an [`AssistantEvent::DeviceCommand`] by the skill.
//! Calls come from the conversation thread (never a tokio worker), so the
//! async device layer is driven with `Handle::block_on`.

use std::sync::{Arc, Mutex};

use emma_devices::{Action, Home, SentCommand};
use emma_skill_host::Services;
use serde_json::Value;
use tokio::runtime::Handle;

use super::event::{AssistantEvent, Hub, command_event};

/// Devices for one skill.
pub(crate) struct HomeServices {
    home: Home,
    rt: Handle,
    skill: String,
    hub: Hub,
    sent: Arc<Mutex<Vec<SentCommand>>>,
}

impl HomeServices {
    pub fn new(home: Home, rt: Handle, skill: &str, hub: Hub) -> HomeServices {
        HomeServices {
            home,
            rt,
            skill: skill.to_string(),
            hub,
            sent: Arc::default(),
        }
    }

    /// The commands sent since the last call (and forgets them).
    pub fn sent_log(&self) -> Arc<Mutex<Vec<SentCommand>>> {
        self.sent.clone()
    }
}

/// The device action a skill's `command` (and optional value) stands for.
pub(crate) fn skill_action(command: &str, value: Option<&str>) -> Result<Action, String> {
    let command = command.trim();
    if command.is_empty() || command.len() > 64 {
        return Err("a command must be 1 to 64 characters".into());
    }
    Ok(match (command, value) {
        ("turn_on" | "on" | "turn-on", None) => Action::TurnOn,
        ("turn_off" | "off" | "turn-off", None) => Action::TurnOff,
        ("pause", None) => Action::Pause,
        ("play", None) => Action::Play,
        (cmd, None) => Action::Set(cmd.to_string(), Value::Bool(true)),
        (cmd, Some(v)) => {
            // JSON values stay structured (a recipe), anything else is text.
            let value =
                serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.into()));
            Action::Set(cmd.to_string(), value)
        }
    })
}

impl Services for HomeServices {
    fn control(&self, device: &str, command: &str, value: Option<&str>) -> Result<(), String> {
        let action = skill_action(command, value)?;
        let sent = self
            .rt
            .block_on(self.home.command(device, &action))
            .map_err(|e| e.to_string())?;
        for c in &sent {
            self.hub.emit(command_event(c, &self.skill));
        }
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(sent);
        Ok(())
    }

    fn read(&self, device: &str) -> Result<String, String> {
        let registry = self.home.registry();
        let d = registry
            .device(device)
            .ok_or_else(|| format!("no device `{device}` in this home"))?;
        Ok(d.state.clone().unwrap_or_default())
    }

    fn profile(&self, _field: &str) -> Option<String> {
        // The customer profile store arrives with customer control (consent-filtered).
        None
    }
}

/// Reports a refused command.
pub(crate) fn refused(hub: &Hub, device: &str, by: &str, reason: &str) {
    tracing::warn!(%device, skill = %by, %reason, "device command refused");
    hub.emit(AssistantEvent::CommandRefused {
        device: device.to_string(),
        by: by.to_string(),
        reason: reason.to_string(),
    });
}
