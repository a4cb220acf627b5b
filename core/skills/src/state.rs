//! Per-skill store state: identity, permissions, storage, limits and what
//! the current call did.

use crate::budget::CallBudget;
use crate::manifest::Budgeted;
use crate::permission::{Permission, PermissionSet};
use crate::services::Services;
use crate::storage::SkillDb;
use crate::types::{Denial, Effect};
use std::sync::Arc;

/// Data every import sees through `&mut self`.
pub struct SkillState {
    pub(crate) skill_id: String,
    pub(crate) declared: PermissionSet,
    pub(crate) granted: PermissionSet,
    pub(crate) db: SkillDb,
    pub(crate) store_quota: u64,
    pub(crate) services: Arc<dyn Services>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) denials: Vec<Denial>,
    pub(crate) memory_cap: usize,
    /// Set when the guest asked for more memory than `memory_cap`.
    pub(crate) memory_refused: Option<usize>,
    /// Largest quantity on one order line (`limits.order_max_quantity`).
    pub(crate) order_max_quantity: u32,
    /// What the current call may still do through side-effecting capabilities.
    pub(crate) budget: CallBudget,
}

/// Most table elements a skill may have (function pointers).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl SkillState {
    /// Allows `wanted` only if the manifest declares it AND the customer granted it;
    /// a refusal is logged and recorded for the call's outcome.
    pub(crate) fn check(
        &mut self,
        wanted: Permission,
    ) -> Result<(), crate::wit::since_v0_1_0::emma::skill::types::CapError> {
        let declared = self.declared.allows(&wanted);
        if declared && self.granted.allows(&wanted) {
            return Ok(());
        }
        let reason = if declared {
            "not granted by the customer"
        } else {
            "not declared in skill.toml"
        };
        tracing::warn!(skill = %self.skill_id, permission = %wanted, reason, "capability denied");
        self.denials.push(Denial {
            permission: wanted.to_string(),
            reason: reason.into(),
        });
        Err(
            crate::wit::since_v0_1_0::emma::skill::types::CapError::Denied(format!(
                "{wanted}: {reason}"
            )),
        )
    }
}

impl SkillState {
    /// Counts one use of a side-effecting capability (after its permission
    /// check), or refuses it with `quota-exceeded`. The first refusal of each
    /// kind in a call is logged and recorded as a denial.
    pub(crate) fn spend(
        &mut self,
        what: Budgeted,
        permission: &Permission,
        bytes: usize,
    ) -> Result<(), crate::wit::since_v0_1_0::emma::skill::types::CapError> {
        match self.budget.spend(what, bytes) {
            Ok(()) => Ok(()),
            Err((over, first)) => {
                if first {
                    tracing::warn!(skill = %self.skill_id, permission = %permission, reason = %over.reason, "capability over budget; refusing it for the rest of this call");
                    self.denials.push(Denial {
                        permission: permission.to_string(),
                        reason: over.reason.clone(),
                    });
                }
                Err(
                    crate::wit::since_v0_1_0::emma::skill::types::CapError::QuotaExceeded(
                        over.reason,
                    ),
                )
            }
        }
    }

    /// Ends a call's budget: logs how many uses were refused in all and says
    /// so in the denials.
    pub(crate) fn close_budget(&mut self) {
        let refusals: Vec<(Budgeted, u32)> = self.budget.refusals().collect();
        for (what, n) in refusals {
            if n > 1 {
                tracing::warn!(skill = %self.skill_id, capability = what.key(), refused = n, "capability uses refused over budget in one call");
            }
            let prefix = format!("{}:", what.key());
            if let Some(d) = self
                .denials
                .iter_mut()
                .find(|d| d.reason.starts_with(&prefix))
            {
                d.reason = format!("{} ({n} use(s) refused in this call)", d.reason);
            }
        }
    }
}

impl wasmtime::ResourceLimiter for SkillState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}
