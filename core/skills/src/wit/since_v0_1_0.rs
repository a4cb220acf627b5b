//! Host side of `emma:skill@0.1.0` (`skills/wit/since_v0.1.0/skill.wit`).
//!
//! Every import checks the permission (declared in the manifest AND granted
//! by the customer) before doing anything.

use crate::manifest::Budgeted;
use crate::permission::{DeviceAccess, Permission};
use crate::state::SkillState;
use crate::types as host;
use emma_untrusted as untrusted;

wasmtime::component::bindgen!({
    path: "../../skills/wit/since_v0.1.0",
    world: "skill",
});

use emma::skill::types::{CapError, OrderLine, Pair};

impl emma::skill::types::Host for SkillState {}

fn device_perm(device: &str, access: DeviceAccess) -> Result<Permission, CapError> {
    if !crate::permission::is_device_id(device) {
        return Err(CapError::Invalid(format!(
            "`{device}` is not a device id like `light.kitchen`"
        )));
    }
    Ok(Permission::Device {
        pattern: device.to_string(),
        access,
    })
}

impl emma::skill::devices::Host for SkillState {
    fn control(
        &mut self,
        device: String,
        command: String,
        value: Option<String>,
    ) -> Result<(), CapError> {
        let perm = device_perm(&device, DeviceAccess::Control)?;
        self.check(perm.clone())?;
        let bytes = device.len() + command.len() + value.as_ref().map_or(0, String::len);
        self.spend(Budgeted::DeviceControl, &perm, bytes)?;
        self.services
            .control(&device, &command, value.as_deref())
            .map_err(CapError::Unavailable)?;
        self.effects.push(host::Effect::DeviceControl {
            device,
            command,
            value,
        });
        Ok(())
    }

    fn read(&mut self, device: String) -> Result<String, CapError> {
        self.check(device_perm(&device, DeviceAccess::Read)?)?;
        self.services.read(&device).map_err(CapError::Unavailable)
    }
}

impl emma::skill::store::Host for SkillState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapError> {
        self.check(Permission::Store)?;
        self.db
            .get(&self.skill_id, &key)
            .map_err(|e| CapError::Unavailable(e.to_string()))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), CapError> {
        self.check(Permission::Store)?;
        if key.is_empty() || key.len() > 256 {
            return Err(CapError::Invalid("store keys are 1 to 256 bytes".into()));
        }
        self.spend(Budgeted::StoreWrite, &Permission::Store, 0)?;
        self.db
            .set(&self.skill_id, &key, &value, self.store_quota)
            .map_err(|e| match e {
                crate::storage::StorageError::QuotaExceeded { .. } => {
                    CapError::QuotaExceeded(e.to_string())
                }
                other => CapError::Unavailable(other.to_string()),
            })?;
        self.services.stored(&key);
        Ok(())
    }

    fn delete(&mut self, key: String) -> Result<(), CapError> {
        self.check(Permission::Store)?;
        self.spend(Budgeted::StoreWrite, &Permission::Store, 0)?;
        self.db
            .delete(&self.skill_id, &key)
            .map_err(|e| CapError::Unavailable(e.to_string()))
    }
}

impl emma::skill::profile::Host for SkillState {
    fn get(&mut self, field: String) -> Result<Option<String>, CapError> {
        let perm = format!("profile:{field}")
            .parse::<Permission>()
            .map_err(|_| CapError::Invalid(format!("`{field}` is not a profile field name")))?;
        self.check(perm)?;
        Ok(self.services.profile(&field))
    }
}

impl emma::skill::notify::Host for SkillState {
    fn send(&mut self, title: String, body: String) -> Result<(), CapError> {
        self.check(Permission::Notify)?;
        self.spend(
            Budgeted::Notify,
            &Permission::Notify,
            title.len() + body.len(),
        )?;
        self.effects.push(host::Effect::Notification {
            title: untrusted::line(&title, host::caps::TITLE),
            body: untrusted::text(&body, host::caps::TEXT),
        });
        Ok(())
    }
}

/// Most lines one order proposal may have.
const MAX_ORDER_LINES: usize = 100;
/// Most bytes of text (skus, descriptions, note) one order proposal may carry.
const MAX_ORDER_BYTES: usize = 16 * 1024;

/// Longest log line a skill may write, in characters.
const LOG_CHARS: usize = 1024;

impl SkillState {
    /// Per-line bounds of an order proposal: a quantity within the skill's
    /// `limits.order_max_quantity`, and a sku of printable characters.
    fn check_order_lines(&self, lines: &[OrderLine]) -> Result<(), String> {
        for (n, l) in lines.iter().enumerate() {
            let n = n + 1;
            let sku_ok = !l.sku.is_empty()
                && l.sku.len() <= 64
                && l.sku.chars().all(|c| {
                    c.is_ascii_graphic()
                        || (!c.is_ascii()
                            && !c.is_control()
                            && !untrusted::is_invisible(c)
                            && !c.is_whitespace())
                });
            if !sku_ok {
                return Err(format!(
                    "line {n}: sku {:?} is not 1 to 64 printable characters without spaces",
                    untrusted::line(&l.sku, 64)
                ));
            }
            if l.quantity > self.order_max_quantity {
                return Err(format!(
                    "line {n} ({}): quantity {} is over this skill's limit of {} per line (limits.order_max_quantity)",
                    l.sku, l.quantity, self.order_max_quantity
                ));
            }
        }
        Ok(())
    }
}

impl emma::skill::orders::Host for SkillState {
    fn propose(&mut self, lines: Vec<OrderLine>, note: String) -> Result<String, CapError> {
        self.check(Permission::OrderPropose)?;
        if lines.is_empty() || lines.iter().any(|l| l.quantity == 0) {
            return Err(CapError::Invalid(
                "an order needs at least one line with quantity > 0".into(),
            ));
        }
        let bytes: usize = note.len()
            + lines
                .iter()
                .map(|l| l.sku.len() + l.description.len())
                .sum::<usize>();
        if lines.len() > MAX_ORDER_LINES || bytes > MAX_ORDER_BYTES {
            return Err(CapError::Invalid(format!(
                "an order may have at most {MAX_ORDER_LINES} lines and {MAX_ORDER_BYTES} bytes of text"
            )));
        }
        if let Err(reason) = self.check_order_lines(&lines) {
            tracing::warn!(skill = %self.skill_id, %reason, "order proposal rejected");
            return Err(CapError::Invalid(reason));
        }
        self.spend(Budgeted::Order, &Permission::OrderPropose, bytes)?;
        let note = untrusted::text(&note, host::caps::TEXT);
        let lines: Vec<host::OrderLine> = lines
            .into_iter()
            .map(|l| host::OrderLine {
                sku: l.sku,
                quantity: l.quantity,
                description: untrusted::line(&l.description, host::caps::TITLE),
            })
            .collect();
        // Stored as pending; only the customer-facing host API can confirm it.
        let id = self
            .db
            .propose(&self.skill_id, &lines, &note, crate::orders::now_unix())
            .map_err(|e| match e {
                crate::orders::OrderError::TooManyPending { .. } => {
                    CapError::QuotaExceeded(e.to_string())
                }
                other => {
                    tracing::warn!(skill = %self.skill_id, error = %other, "could not store order proposal");
                    CapError::Unavailable("the order proposal could not be stored".into())
                }
            })?;
        self.effects.push(host::Effect::OrderProposal {
            id: id.clone(),
            lines,
            note,
            confirmed: false,
        });
        Ok(id)
    }
}

impl emma::skill::handoff::Host for SkillState {
    fn request(&mut self, reason: String, summary: String) -> Result<(), CapError> {
        self.check(Permission::Handoff)?;
        self.spend(
            Budgeted::Handoff,
            &Permission::Handoff,
            reason.len() + summary.len(),
        )?;
        self.effects.push(host::Effect::Handoff {
            reason: untrusted::line(&reason, host::caps::TITLE),
            summary: untrusted::text(&summary, host::caps::TEXT),
        });
        Ok(())
    }
}

impl emma::skill::clock::Host for SkillState {
    fn now_ms(&mut self) -> Result<u64, CapError> {
        self.check(Permission::Clock)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(now.as_millis() as u64)
    }
}

impl emma::skill::log::Host for SkillState {
    fn write(&mut self, level: emma::skill::log::Level, message: String) -> Result<(), CapError> {
        use emma::skill::log::Level;
        self.check(Permission::Log)?;
        self.spend(
            Budgeted::Log,
            &Permission::Log,
            message.len().min(LOG_CHARS),
        )?;
        let message = untrusted::line(&message, LOG_CHARS);
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        tracing::info!(skill = %self.skill_id, level, "{message}");
        self.effects.push(host::Effect::Log {
            level: level.into(),
            message,
        });
        Ok(())
    }
}

fn pairs(v: &[(String, String)]) -> Vec<Pair> {
    v.iter()
        .map(|(name, value)| Pair {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// Converts a host request to this version's type.
pub fn request(r: &host::Request) -> emma::skill::types::Request {
    emma::skill::types::Request {
        intent: r.intent.clone(),
        slots: pairs(&r.slots),
        language: r.language.clone(),
        context: pairs(&r.context),
    }
}

/// Converts a host event to this version's type.
pub fn event(e: &host::DeviceEvent) -> emma::skill::types::DeviceEvent {
    emma::skill::types::DeviceEvent {
        device: e.device.clone(),
        kind: e.kind.clone(),
        value: e.value.clone(),
    }
}

/// Converts settings to this version's type.
pub fn settings(v: &[(String, String)]) -> Vec<Pair> {
    pairs(v)
}

/// Converts this version's reply to the host type.
pub fn reply(r: emma::skill::types::Reply) -> host::Reply {
    host::Reply {
        speech: r.speech,
        card: r.card.map(|c| host::Card {
            title: c.title,
            body: c.body,
        }),
        data: r.data,
        follow_up: r.follow_up,
        actions: r
            .actions
            .into_iter()
            .map(|a| host::Action {
                device: a.device,
                command: a.command,
                value: a.value,
            })
            .collect(),
        handoff: r.handoff.map(|h| host::Handoff {
            reason: h.reason,
            summary: h.summary,
        }),
    }
}

/// Converts this version's error to the host type.
pub fn guest_error(e: emma::skill::types::SkillError) -> host::GuestError {
    use emma::skill::types::SkillError as E;
    match e {
        E::UnsupportedIntent(s) => host::GuestError::UnsupportedIntent(s),
        E::MissingSlot(s) => host::GuestError::MissingSlot(s),
        E::Denied(s) => host::GuestError::Denied(s),
        E::Failed(s) => host::GuestError::Failed(s),
    }
}
