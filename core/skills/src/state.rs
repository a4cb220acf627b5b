//! Per-skill store state: identity, permissions, storage, limits and what
//! the current call did.

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
