//! Customer control for apps: consents, the ledger of every stored or shared
//! item, export and erase (`emma_core::privacy::Privacy`). Every method is a
//! one-line delegate; `docs/privacy.md` describes the behaviour.

use crate::error::EmmaError;
use emma_core::privacy::{self as core, Category, PrivacyError, now_ms};
use std::path::Path;
use std::sync::Arc;

/// The customer's consents, ledger, export and erase for one home (one data
/// directory). Thread-safe; a change made here (or by `emma privacy` in
/// another process) applies to the running assistant's next call.
#[derive(uniffi::Object)]
pub struct CustomerControl {
    inner: Arc<core::Privacy>,
}

/// A consent the customer gave a skill (or `emma`) for one data category.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConsentInfo {
    /// Consent id (ledger entries name it).
    pub id: i64,
    /// The skill id, or `emma`.
    pub skill: String,
    /// The category: `profile:<field>`, `orders`, `device-usage`, `device-names`,
    /// `transcripts`, `audio`, `touchpoints` or `proactive`.
    pub category: String,
    /// What the data is used for, in the customer's words.
    pub purpose: String,
    /// When it was given (ms since the Unix epoch).
    pub granted_ms: u64,
    /// When it runs out, if it does.
    pub expires_ms: Option<u64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

/// One ledger entry: what was stored or shared, with whom, when, why and
/// under which consent — never the value itself.
#[derive(Debug, Clone, uniffi::Record)]
pub struct LedgerEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// `store`, `share`, `consent`, `revoke`, `expire`, `export` or `erase`.
    pub action: String,
    /// Data category (`profile`, `orders`, `skill-store`…, `*` for all).
    pub category: String,
    /// Item within the category (a profile field, a device id, a store key…).
    pub field: Option<String>,
    /// Who stored or received it: a skill id, `emma`, `customer`, `mqtt:<topic>`, `handoff`.
    pub party: String,
    /// Why: `intent:<name>`, `event:<kind>`, `customer`, `retention`…
    pub reason: String,
    /// The consent it was made under.
    pub consent: Option<i64>,
}

/// The result of checking the ledger's hash chain.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum LedgerVerification {
    /// Every entry is as it was appended.
    Intact {
        /// Number of entries.
        entries: u64,
        /// Hash of the newest entry.
        head: String,
    },
    /// An entry was edited, replaced or removed.
    Broken {
        /// The first entry that does not verify.
        seq: u64,
        /// What is wrong with it.
        problem: String,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ExportSummary {
    /// The file written.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Items per section (`profile`, `orders`, `ledger`…).
    pub counts: std::collections::HashMap<String, u64>,
}

/// What an erase removed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EraseSummary {
    /// Rows deleted across every store.
    pub rows: u64,
    /// The database files erased.
    pub stores: Vec<String>,
}

impl From<core::Consent> for ConsentInfo {
    fn from(c: core::Consent) -> Self {
        ConsentInfo {
            id: c.id,
            skill: c.skill,
            category: c.category,
            purpose: c.purpose,
            granted_ms: c.granted_ms,
            expires_ms: c.expires_ms,
            revoked_ms: c.revoked_ms,
        }
    }
}

impl From<core::Entry> for LedgerEntry {
    fn from(e: core::Entry) -> Self {
        LedgerEntry {
            seq: e.seq,
            at_ms: e.at_ms,
            action: e.action,
            category: e.category,
            field: e.field,
            party: e.party,
            reason: e.reason,
            consent: e.consent,
        }
    }
}

impl From<core::Verification> for LedgerVerification {
    fn from(v: core::Verification) -> Self {
        match v {
            core::Verification::Intact { entries, head } => {
                LedgerVerification::Intact { entries, head }
            }
            core::Verification::Broken { seq, problem } => {
                LedgerVerification::Broken { seq, problem }
            }
        }
    }
}

impl From<PrivacyError> for EmmaError {
    fn from(e: PrivacyError) -> Self {
        let msg = e.to_string();
        match e {
            PrivacyError::UnknownSkill { .. }
            | PrivacyError::InvalidSkill(_)
            | PrivacyError::Category(_)
            | PrivacyError::NotGranted { .. }
            | PrivacyError::Invalid { .. }
            | PrivacyError::Export { .. } => EmmaError::InvalidInput(msg),
            PrivacyError::Database { .. } | PrivacyError::Busy { .. } | PrivacyError::Io { .. } => {
                EmmaError::Privacy(msg)
            }
        }
    }
}

fn category(text: &str) -> Result<Category, EmmaError> {
    Ok(text.parse::<Category>().map_err(PrivacyError::from)?)
}

#[uniffi::export]
impl CustomerControl {
    /// Opens the privacy stores of the home in `data_dir` (the assistant's data directory).
    #[uniffi::constructor]
    pub fn open(data_dir: String) -> Result<Arc<Self>, EmmaError> {
        Ok(Arc::new(CustomerControl {
            inner: Arc::new(core::Privacy::open_dir(data_dir)?),
        }))
    }

    /// Consents given, revoked and expired, of one skill or (`null`) every skill.
    pub fn consents(&self, skill: Option<String>) -> Result<Vec<ConsentInfo>, EmmaError> {
        Ok(self
            .inner
            .customer()
            .consents(skill.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The customer lets `skill` use `category` for `purpose`, until `expires_ms` if given.
    pub fn grant(
        &self,
        skill: String,
        category: String,
        purpose: String,
        expires_ms: Option<u64>,
    ) -> Result<ConsentInfo, EmmaError> {
        Ok(self
            .inner
            .grant(
                &skill,
                &self::category(&category)?,
                &purpose,
                expires_ms,
                now_ms(),
            )?
            .into())
    }

    /// Revokes `skill`'s consent for `category` (every category with `null`); returns what was revoked.
    pub fn revoke(
        &self,
        skill: String,
        category: Option<String>,
    ) -> Result<Vec<ConsentInfo>, EmmaError> {
        let category = category.as_deref().map(self::category).transpose()?;
        Ok(self
            .inner
            .revoke(&skill, category.as_ref(), now_ms())?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Whether `skill` may use `category` now.
    pub fn allows(&self, skill: String, category: String) -> Result<bool, EmmaError> {
        Ok(self
            .inner
            .allows(&skill, &self::category(&category)?, now_ms()))
    }

    /// Ledger entries, oldest first: only `party`'s if given, only from `since_ms`,
    /// at most the newest `limit`.
    pub fn ledger(
        &self,
        party: Option<String>,
        since_ms: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<LedgerEntry>, EmmaError> {
        let filter = core::Filter {
            party,
            since_ms,
            limit: limit.map(|l| l as usize),
        };
        Ok(self
            .inner
            .ledger()
            .entries(&filter)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Checks the ledger's hash chain: reports the first edited, replaced or removed entry.
    pub fn verify_ledger(&self) -> Result<LedgerVerification, EmmaError> {
        Ok(self.inner.ledger().verify()?.into())
    }

    /// Writes all of the customer's data from every store as one JSON document
    /// to `path` (schema in `docs/privacy.md`); on failure nothing is written.
    pub fn export(&self, path: String) -> Result<ExportSummary, EmmaError> {
        let s = self.inner.export(Path::new(&path), now_ms())?;
        Ok(ExportSummary {
            path: s.path.display().to_string(),
            bytes: s.bytes,
            counts: s.counts.into_iter().map(|(k, v)| (k, v as u64)).collect(),
        })
    }

    /// Erases the customer's data from every store, skills' stores included
    /// (stop the assistant first: a store it holds open is reported as busy).
    pub fn erase(&self) -> Result<EraseSummary, EmmaError> {
        let r = self.inner.erase(now_ms())?;
        Ok(EraseSummary {
            rows: r.rows(),
            stores: r
                .stores
                .iter()
                .map(|s| s.path.display().to_string())
                .collect(),
        })
    }
}
