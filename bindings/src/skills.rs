//! Brand skills on the device: install signed bundles, see and change what
//! each may do, uninstall; and the order proposals skills make, which only the
//! customer confirms or declines (`emma_core::skills::SkillHome`).

use crate::error::EmmaError;
use crate::jvm::attach_waker;
use emma_core::skills::bundle::parse_public_key;
use emma_core::skills::{
    HostError, InstalledSkill, Permission, Proposal, ProposalState, SkillHome, SkillRuntime, Trust,
};
use std::path::Path;
use std::sync::Arc;

/// The skills installed in one directory, acting for one customer.
#[derive(uniffi::Object)]
pub struct SkillManager {
    home: Arc<SkillHome>,
    runtime: Arc<SkillRuntime>,
    customer: String,
}

/// An installed skill.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SkillInfo {
    /// Reverse-DNS id, e.g. `com.example.coffee`.
    pub id: String,
    /// Version, `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// Publisher name, shown to the customer.
    pub publisher: String,
    /// One-line description.
    pub description: String,
    /// Intents the skill answers.
    pub intents: Vec<String>,
    /// Permissions the skill asks for (`device:coffee.*:control`, `store`, `order:propose`, …).
    pub requested_permissions: Vec<String>,
    /// The trusted publisher key (hex) that signed it, or `null` when installed in dev mode.
    pub signed_by: Option<String>,
}

impl From<InstalledSkill> for SkillInfo {
    fn from(s: InstalledSkill) -> Self {
        let m = s.bundle.manifest;
        SkillInfo {
            id: m.id,
            version: m.version,
            publisher: m.publisher,
            description: m.description,
            intents: m.intents,
            requested_permissions: m.permissions.iter().map(ToString::to_string).collect(),
            signed_by: match s.trust {
                Trust::Trusted(key) => Some(key),
                Trust::Dev => None,
            },
        }
    }
}

/// Where an order proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OrderState {
    /// Waiting for the customer.
    Pending,
    /// The customer confirmed it.
    Confirmed,
    /// The customer declined it.
    Declined,
    /// Nobody decided within a week.
    Expired,
}

/// One line of an order.
#[derive(Debug, Clone, uniffi::Record)]
pub struct OrderLine {
    /// Stock-keeping unit.
    pub sku: String,
    /// Quantity.
    pub quantity: u32,
    /// Human description.
    pub description: String,
}

/// An order a skill proposed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct OrderProposal {
    /// Id used to confirm or decline.
    pub id: String,
    /// The proposing skill.
    pub skill: String,
    /// What would be ordered.
    pub lines: Vec<OrderLine>,
    /// The skill's note for the customer.
    pub note: String,
    /// Where it stands.
    pub state: OrderState,
    /// When it was proposed (seconds since the Unix epoch).
    pub created: u64,
    /// When it was confirmed, declined or expired.
    pub decided: Option<u64>,
}

impl From<emma_core::skills::types::OrderLine> for OrderLine {
    fn from(l: emma_core::skills::types::OrderLine) -> Self {
        OrderLine {
            sku: l.sku,
            quantity: l.quantity,
            description: l.description,
        }
    }
}

impl From<Proposal> for OrderProposal {
    fn from(p: Proposal) -> Self {
        OrderProposal {
            id: p.id,
            skill: p.skill,
            lines: p.lines.into_iter().map(Into::into).collect(),
            note: p.note,
            state: match p.state {
                ProposalState::Pending => OrderState::Pending,
                ProposalState::Confirmed => OrderState::Confirmed,
                ProposalState::Declined => OrderState::Declined,
                ProposalState::Expired => OrderState::Expired,
            },
            created: p.created,
            decided: p.decided,
        }
    }
}

fn permissions(items: &[String]) -> Result<Vec<Permission>, EmmaError> {
    Ok(items.iter().map(|s| s.parse()).collect::<Result<_, _>>()?)
}

#[uniffi::export(async_runtime = "tokio")]
impl SkillManager {
    /// Opens (creating) the skill directory `dir` for `customer` (whose grants apply).
    #[uniffi::constructor]
    pub fn open(dir: String, customer: String) -> Result<Arc<Self>, EmmaError> {
        let home = SkillHome::open(Path::new(&dir))?;
        let runtime = SkillRuntime::new(home.runtime_config())?;
        Ok(Arc::new(Self {
            home: Arc::new(home),
            runtime: Arc::new(runtime),
            customer,
        }))
    }

    /// Trusts a publisher key (the text of its `.pub` file); returns the key file written.
    pub fn trust_publisher(&self, public_key: String) -> Result<String, EmmaError> {
        let key = parse_public_key(&public_key, "public_key")
            .map_err(|e| EmmaError::InvalidInput(e.to_string()))?;
        Ok(self.home.trust(&key)?.display().to_string())
    }

    /// Verifies, compiles and installs the bundle at `path`, granting `grants`
    /// (each must be a permission the skill declares). `dev` accepts an unsigned
    /// or untrusted bundle: for development only. A skill whose intent names
    /// or sentences would shadow a built-in intent or another installed
    /// skill's intent is refused (`Intents` error naming both and a sentence)
    /// unless its manifest declares the overlap under `shadows`.
    pub async fn install(
        &self,
        path: String,
        grants: Vec<String>,
        dev: bool,
    ) -> Result<SkillInfo, EmmaError> {
        let (home, runtime, customer, grants) = (
            self.home.clone(),
            self.runtime.clone(),
            self.customer.clone(),
            permissions(&grants)?,
        );
        attach_waker(tokio::task::spawn_blocking(
            move || -> Result<_, EmmaError> {
                let bundle = emma_core::skills::Bundle::read(Path::new(&path))
                    .map_err(|e| EmmaError::Skills(e.to_string()))?;
                emma_core::assistant::check_install(&home, &bundle)?;
                Ok(home.install(&runtime, Path::new(&path), &customer, &grants, dev)?)
            },
        ))
        .await
        .map_err(|e| EmmaError::Internal(format!("installing a skill: {e}")))?
        .map(Into::into)
    }

    /// Installed skills, sorted by id (each re-verified).
    pub fn list(&self) -> Result<Vec<SkillInfo>, EmmaError> {
        Ok(self.home.list()?.into_iter().map(Into::into).collect())
    }

    /// One installed skill.
    pub fn get(&self, id: String) -> Result<SkillInfo, EmmaError> {
        Ok(self.home.installed(&id)?.into())
    }

    /// The permissions skill `id` asks for.
    pub fn requested_permissions(&self, id: String) -> Result<Vec<String>, EmmaError> {
        Ok(self.get(id)?.requested_permissions)
    }

    /// The permissions this customer granted skill `id`.
    pub fn granted_permissions(&self, id: String) -> Result<Vec<String>, EmmaError> {
        Ok(self
            .home
            .db()
            .grants(&self.customer, &id)
            .map_err(HostError::from)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Grants skill `id` more permissions (each must be one it declares).
    pub fn grant(&self, id: String, permissions_to_grant: Vec<String>) -> Result<(), EmmaError> {
        Ok(self
            .home
            .grant(&id, &self.customer, &permissions(&permissions_to_grant)?)?)
    }

    /// Revokes one permission, or all with `null`; returns how many were revoked.
    pub fn revoke(&self, id: String, permission: Option<String>) -> Result<u64, EmmaError> {
        let perm = permission.map(|p| p.parse::<Permission>()).transpose()?;
        Ok(self.home.revoke(&id, &self.customer, perm.as_ref())?)
    }

    /// Uninstalls skill `id` and this customer's grants; `erase_data` also erases everything it stored.
    pub fn uninstall(&self, id: String, erase_data: bool) -> Result<(), EmmaError> {
        Ok(self.home.remove(&id, &self.customer, erase_data)?)
    }

    /// Every order proposal skills made, oldest first (stale ones marked expired).
    pub fn orders(&self) -> Result<Vec<OrderProposal>, EmmaError> {
        Ok(self.home.orders()?.into_iter().map(Into::into).collect())
    }

    /// The customer confirms proposal `id` (only pending ones can be decided).
    pub fn confirm_order(&self, id: String) -> Result<OrderProposal, EmmaError> {
        Ok(self.home.confirm(&id)?.into())
    }

    /// The customer declines proposal `id` (only pending ones can be decided).
    pub fn decline_order(&self, id: String) -> Result<OrderProposal, EmmaError> {
        Ok(self.home.decline(&id)?.into())
    }
}
