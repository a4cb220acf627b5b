//! Consent per skill and data category, with a purpose and an optional expiry.
//!
//! Nothing is cached: [`CustomerDb::active_consent`] reads the database on
//! every call, so a revocation (from this process or from `emma privacy
//! consent revoke` in another) takes effect on the very next call. Revoked and
//! superseded consents are kept with their revocation time, so a ledger entry
//! can always name the consent it was made under.

use crate::category::Category;
use crate::customer::CustomerDb;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// One consent the customer gave (or gave and took back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    /// Its id; ledger entries made under it name it.
    pub id: i64,
    /// The skill (or `emma` for Emma itself).
    pub skill: String,
    /// What data (or `proactive`).
    pub category: String,
    /// Why the customer agreed, in their words or the skill's.
    pub purpose: String,
    /// When it was given (ms since the Unix epoch).
    pub granted_ms: u64,
    /// When it lapses by itself, if ever.
    pub expires_ms: Option<u64>,
    /// When it was revoked (or replaced by a newer consent for the same skill and category).
    pub revoked_ms: Option<u64>,
}

impl Consent {
    /// Whether it is in force at `now_ms`.
    pub fn active(&self, now_ms: u64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|e| e > now_ms)
    }

    /// `active`, `expired` or `revoked` at `now_ms`.
    pub fn status(&self, now_ms: u64) -> &'static str {
        if self.revoked_ms.is_some() {
            "revoked"
        } else if self.active(now_ms) {
            "active"
        } else {
            "expired"
        }
    }
}

const COLUMNS: &str = "id, skill, category, purpose, granted_ms, expires_ms, revoked_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Consent> {
    Ok(Consent {
        id: r.get(0)?,
        skill: r.get(1)?,
        category: r.get(2)?,
        purpose: r.get(3)?,
        granted_ms: r.get::<_, i64>(4)?.max(0) as u64,
        expires_ms: r.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
        revoked_ms: r.get::<_, Option<i64>>(6)?.map(|v| v.max(0) as u64),
    })
}

impl CustomerDb {
    /// Records a consent; an active consent for the same skill and category is
    /// replaced (marked revoked at `now_ms`) in the same transaction.
    pub fn grant_consent(
        &self,
        skill: &str,
        category: &Category,
        purpose: &str,
        expires_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Consent> {
        let cat = category.to_string();
        let id = self.with_mut(|c| crate::layout::durably(c, |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE consents SET revoked_ms = ?3 WHERE skill = ?1 AND category = ?2 AND revoked_ms IS NULL",
                params![skill, cat, now_ms as i64],
            )?;
            tx.execute(
                "INSERT INTO consents (skill, category, purpose, granted_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![skill, cat, purpose, now_ms as i64, expires_ms.map(|e| e as i64)],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(id)
        }))?;
        Ok(Consent {
            id,
            skill: skill.into(),
            category: cat,
            purpose: purpose.into(),
            granted_ms: now_ms,
            expires_ms,
            revoked_ms: None,
        })
    }

    /// Revokes the skill's consents for `category` (all categories with `None`);
    /// returns the consents revoked.
    pub fn revoke_consent(
        &self,
        skill: &str,
        category: Option<&Category>,
        now_ms: u64,
    ) -> Result<Vec<Consent>> {
        let cat = category.map(|c| c.to_string());
        self.with_mut(|c| crate::layout::durably(c, |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let revoked: Vec<Consent> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {COLUMNS} FROM consents WHERE skill = ?1 AND (?2 IS NULL OR category = ?2) AND revoked_ms IS NULL ORDER BY id"
                ))?;
                st.query_map(params![skill, cat], row)?.collect::<rusqlite::Result<_>>()?
            };
            tx.execute(
                "UPDATE consents SET revoked_ms = ?3 WHERE skill = ?1 AND (?2 IS NULL OR category = ?2) AND revoked_ms IS NULL",
                params![skill, cat, now_ms as i64],
            )?;
            tx.commit()?;
            Ok(revoked
                .into_iter()
                .map(|c| Consent {
                    revoked_ms: Some(now_ms),
                    ..c
                })
                .collect())
        }))
    }

    /// The consent in force for `skill` and `category` at `now_ms`, if any.
    pub fn active_consent(
        &self,
        skill: &str,
        category: &Category,
        now_ms: u64,
    ) -> Result<Option<Consent>> {
        let cat = category.to_string();
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM consents WHERE skill = ?1 AND category = ?2 AND revoked_ms IS NULL
                 AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY id DESC LIMIT 1"
            ))?
            .query_row(params![skill, cat, now_ms as i64], row)
            .optional()
        })
    }

    /// Every consent ever given (active, expired and revoked), optionally for one skill, oldest first.
    pub fn consents(&self, skill: Option<&str>) -> Result<Vec<Consent>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM consents WHERE (?1 IS NULL OR skill = ?1) ORDER BY id"
            ))?;
            st.query_map(params![skill], row)?.collect()
        })
    }

    /// Whether any consent (in any state) names `skill`.
    pub fn knows_skill(&self, skill: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM consents WHERE skill = ?1",
                params![skill],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_expire_replace_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let db = CustomerDb::open(&dir.path().join("customer.sqlite")).unwrap();
        let name = Category::Profile("name".into());
        assert!(db.active_consent("coffee", &name, 0).unwrap().is_none());
        let c = db
            .grant_consent("coffee", &name, "greet me", Some(1_000), 10)
            .unwrap();
        assert_eq!(
            db.active_consent("coffee", &name, 999).unwrap(),
            Some(c.clone())
        );
        assert!(
            db.active_consent("coffee", &name, 1_000).unwrap().is_none(),
            "expired at its expiry"
        );
        assert!(
            db.active_consent("parcel", &name, 500).unwrap().is_none(),
            "other skill"
        );
        assert!(
            db.active_consent("coffee", &Category::Profile("email".into()), 500)
                .unwrap()
                .is_none(),
            "each profile field on its own"
        );
        // A new grant replaces the old one.
        let d = db
            .grant_consent("coffee", &name, "greet me forever", None, 20)
            .unwrap();
        assert_ne!(c.id, d.id);
        assert_eq!(
            db.active_consent("coffee", &name, 5_000)
                .unwrap()
                .unwrap()
                .id,
            d.id
        );
        let all = db.consents(Some("coffee")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status(30), "revoked");
        // Revoke takes effect on the next read.
        let revoked = db.revoke_consent("coffee", Some(&name), 30).unwrap();
        assert_eq!(revoked.len(), 1);
        assert!(db.active_consent("coffee", &name, 31).unwrap().is_none());
        assert!(
            db.revoke_consent("coffee", Some(&name), 32)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn revoke_from_another_connection_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customer.sqlite");
        let assistant = CustomerDb::open(&path).unwrap();
        let cli = CustomerDb::open(&path).unwrap();
        cli.grant_consent("coffee", &Category::Orders, "reorder beans", None, 1)
            .unwrap();
        assert!(
            assistant
                .active_consent("coffee", &Category::Orders, 2)
                .unwrap()
                .is_some()
        );
        cli.revoke_consent("coffee", None, 3).unwrap();
        assert!(
            assistant
                .active_consent("coffee", &Category::Orders, 4)
                .unwrap()
                .is_none()
        );
    }
}
