//! Order proposals the customer confirms or declines.
//!
//! A skill with `order:propose` can only *propose*: the host stores the
//! proposal as pending in the skill database and hands the skill its id.
//! Confirming or declining is done here, through the customer-facing host
//! API (`emma skill confirm` / `decline`); no WIT import reaches it, so a
//! skill can never confirm its own proposal. A proposal left pending longer
//! than the time-to-live becomes expired and can no longer be confirmed.
//! Ids come from an AUTOINCREMENT column, so an erased skill's ids are never
//! reused for another proposal.

use crate::storage::{SkillDb, StorageError};
use crate::types::OrderLine;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// How long a proposal stays pending before it expires: 7 days.
pub const PROPOSAL_TTL_SECS: u64 = 7 * 24 * 3600;

/// Most pending proposals one skill may have; more are refused until the
/// customer decides on some.
pub const MAX_PENDING_PER_SKILL: u64 = 20;

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalState {
    /// Waiting for the customer.
    Pending,
    /// The customer confirmed it.
    Confirmed,
    /// The customer declined it.
    Declined,
    /// Nobody decided within [`PROPOSAL_TTL_SECS`].
    Expired,
}

impl ProposalState {
    fn as_str(self) -> &'static str {
        match self {
            ProposalState::Pending => "pending",
            ProposalState::Confirmed => "confirmed",
            ProposalState::Declined => "declined",
            ProposalState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<ProposalState> {
        Some(match s {
            "pending" => ProposalState::Pending,
            "confirmed" => ProposalState::Confirmed,
            "declined" => ProposalState::Declined,
            "expired" => ProposalState::Expired,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ProposalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The customer's answer to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead with the order.
    Confirm,
    /// Do not order.
    Decline,
}

/// One stored order proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// Id the skill got back and the customer uses to confirm or decline.
    pub id: String,
    /// The proposing skill.
    pub skill: String,
    /// What would be ordered.
    pub lines: Vec<OrderLine>,
    /// The skill's note for the customer.
    pub note: String,
    /// Where it stands.
    pub state: ProposalState,
    /// When it was proposed (seconds since the Unix epoch).
    pub created: u64,
    /// When it was confirmed, declined or expired.
    pub decided: Option<u64>,
}

/// Order proposal errors.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No proposal has this id.
    #[error("no order proposal `{id}`; list them with `emma skill orders`")]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// The proposal was already confirmed, declined or expired.
    #[error(
        "order proposal `{id}` is already {state}; only pending proposals can be confirmed or declined"
    )]
    AlreadyDecided {
        /// Its id.
        id: String,
        /// Its state.
        state: ProposalState,
    },
    /// The skill has too many undecided proposals.
    #[error(
        "skill `{skill}` already has {pending} pending order proposals; the customer must confirm or decline some first"
    )]
    TooManyPending {
        /// Skill id.
        skill: String,
        /// How many are pending.
        pending: u64,
    },
    /// A stored row could not be read back.
    #[error("skill database {path}: order proposal `{id}` has a corrupt {field}")]
    Corrupt {
        /// Database path.
        path: String,
        /// Proposal id.
        id: String,
        /// The column.
        field: &'static str,
    },
    /// SQLite failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Seconds since the Unix epoch now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

type Row = (i64, String, String, String, String, i64, Option<i64>);

const SELECT: &str = "SELECT id, skill, lines, note, state, created, decided FROM proposals";

impl SkillDb {
    /// Stores a pending proposal from `skill` at time `now`; returns its id.
    pub fn propose(
        &self,
        skill: &str,
        lines: &[OrderLine],
        note: &str,
        now: u64,
    ) -> Result<String, OrderError> {
        self.expire_proposals(now)?;
        let pending: i64 = self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM proposals WHERE skill = ?1 AND state = 'pending'",
                params![skill],
                |r| r.get(0),
            )
        })?;
        if pending as u64 >= MAX_PENDING_PER_SKILL {
            return Err(OrderError::TooManyPending {
                skill: skill.into(),
                pending: pending as u64,
            });
        }
        let json = serde_json::to_string(lines).expect("order lines serialize");
        let id = self.with(|c| {
            c.execute(
                "INSERT INTO proposals (skill, lines, note, state, created) VALUES (?1, ?2, ?3, 'pending', ?4)",
                params![skill, json, note, now as i64],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        Ok(id.to_string())
    }

    /// Marks proposals pending for longer than [`PROPOSAL_TTL_SECS`] as expired;
    /// returns how many expired.
    pub fn expire_proposals(&self, now: u64) -> Result<u64, OrderError> {
        let cutoff = now.saturating_sub(PROPOSAL_TTL_SECS) as i64;
        let n = self.with(|c| {
            c.execute(
                "UPDATE proposals SET state = 'expired', decided = ?1 WHERE state = 'pending' AND created < ?2",
                params![now as i64, cutoff],
            )
        })?;
        Ok(n as u64)
    }

    /// Every proposal, oldest first, after expiring stale ones at `now`.
    pub fn proposals(&self, now: u64) -> Result<Vec<Proposal>, OrderError> {
        self.expire_proposals(now)?;
        let rows: Vec<Row> = self.with(|c| {
            let mut st = c.prepare(&format!("{SELECT} ORDER BY id"))?;
            st.query_map([], row)?.collect()
        })?;
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    /// One proposal by id (after expiring stale ones at `now`).
    pub fn proposal(&self, id: &str, now: u64) -> Result<Proposal, OrderError> {
        self.expire_proposals(now)?;
        let unknown = || OrderError::Unknown { id: id.into() };
        let rowid: i64 = id.trim().parse().map_err(|_| unknown())?;
        let r: Option<Row> = self.with(|c| {
            c.query_row(&format!("{SELECT} WHERE id = ?1"), params![rowid], row)
                .optional()
        })?;
        self.decode(r.ok_or_else(unknown)?)
    }

    /// Applies the customer's decision to a pending proposal; a proposal is
    /// decided once, so deciding again (or on an expired one) is an error.
    pub fn decide(&self, id: &str, decision: Decision, now: u64) -> Result<Proposal, OrderError> {
        let p = self.proposal(id, now)?;
        let new = match decision {
            Decision::Confirm => ProposalState::Confirmed,
            Decision::Decline => ProposalState::Declined,
        };
        // The state check is in the UPDATE itself, so two racing decisions
        // cannot both succeed.
        let changed = self.with(|c| {
            c.execute(
                "UPDATE proposals SET state = ?1, decided = ?2 WHERE id = ?3 AND state = 'pending'",
                params![new.as_str(), now as i64, p.id.parse::<i64>().unwrap_or(-1)],
            )
        })?;
        if changed == 0 {
            let state = self.proposal(id, now)?.state;
            return Err(OrderError::AlreadyDecided { id: p.id, state });
        }
        tracing::info!(proposal = %p.id, skill = %p.skill, state = %new, "order proposal decided by the customer");
        Ok(Proposal {
            state: new,
            decided: Some(now),
            ..p
        })
    }

    fn decode(&self, r: Row) -> Result<Proposal, OrderError> {
        let (id, skill, lines, note, state, created, decided) = r;
        let corrupt = |field| OrderError::Corrupt {
            path: self.path().to_string(),
            id: id.to_string(),
            field,
        };
        Ok(Proposal {
            id: id.to_string(),
            skill,
            lines: serde_json::from_str(&lines).map_err(|_| corrupt("lines"))?,
            note,
            state: ProposalState::parse(&state).ok_or_else(|| corrupt("state"))?,
            created: created.max(0) as u64,
            decided: decided.map(|d| d.max(0) as u64),
        })
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beans() -> Vec<OrderLine> {
        vec![OrderLine {
            sku: "BEANS-1KG".into(),
            quantity: 1,
            description: "Beans".into(),
        }]
    }

    #[test]
    fn confirm_once_decline_and_unknown_ids() {
        let db = SkillDb::in_memory().unwrap();
        let a = db.propose("coffee", &beans(), "low", 100).unwrap();
        let b = db.propose("coffee", &beans(), "low again", 101).unwrap();
        assert_ne!(a, b);
        let all = db.proposals(102).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|p| p.state == ProposalState::Pending));
        assert_eq!(all[0].lines, beans());
        assert_eq!(all[0].created, 100);

        let p = db.decide(&a, Decision::Confirm, 110).unwrap();
        assert_eq!((p.state, p.decided), (ProposalState::Confirmed, Some(110)));
        let again = db.decide(&a, Decision::Confirm, 111).unwrap_err();
        assert!(matches!(
            again,
            OrderError::AlreadyDecided {
                state: ProposalState::Confirmed,
                ..
            }
        ));
        assert!(again.to_string().contains("already confirmed"), "{again}");
        assert!(db.decide(&a, Decision::Decline, 112).is_err());

        assert_eq!(
            db.decide(&b, Decision::Decline, 113).unwrap().state,
            ProposalState::Declined
        );
        for bad in ["999", "abc", ""] {
            let e = db.decide(bad, Decision::Confirm, 114).unwrap_err();
            assert!(matches!(e, OrderError::Unknown { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("emma skill orders"));
        }
    }

    #[test]
    fn stale_proposals_expire_and_cannot_be_confirmed() {
        let db = SkillDb::in_memory().unwrap();
        let id = db.propose("coffee", &beans(), "", 1_000).unwrap();
        let late = 1_000 + PROPOSAL_TTL_SECS + 1;
        assert_eq!(
            db.proposal(&id, 1_000 + PROPOSAL_TTL_SECS).unwrap().state,
            ProposalState::Pending
        );
        assert_eq!(
            db.proposal(&id, late).unwrap().state,
            ProposalState::Expired
        );
        assert!(matches!(
            db.decide(&id, Decision::Confirm, late),
            Err(OrderError::AlreadyDecided {
                state: ProposalState::Expired,
                ..
            })
        ));
    }

    #[test]
    fn pending_proposals_per_skill_are_capped() {
        let db = SkillDb::in_memory().unwrap();
        for _ in 0..MAX_PENDING_PER_SKILL {
            db.propose("spam", &beans(), "", 5).unwrap();
        }
        let e = db.propose("spam", &beans(), "", 5).unwrap_err();
        assert!(matches!(e, OrderError::TooManyPending { .. }), "{e}");
        // Other skills are not affected, and deciding frees a slot.
        db.propose("coffee", &beans(), "", 5).unwrap();
        db.decide("1", Decision::Decline, 6).unwrap();
        db.propose("spam", &beans(), "", 7).unwrap();
    }

    #[test]
    fn proposals_survive_reopen_and_erase_removes_them_without_reusing_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skills.db");
        let (kept, erased) = {
            let db = SkillDb::open(&path).unwrap();
            (
                db.propose("coffee", &beans(), "", 1).unwrap(),
                db.propose("parcel", &beans(), "", 2).unwrap(),
            )
        };
        let db = SkillDb::open(&path).unwrap();
        assert_eq!(db.proposals(3).unwrap().len(), 2);
        db.decide(&kept, Decision::Confirm, 3).unwrap();
        db.erase_skill("parcel").unwrap();
        let left = db.proposals(4).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].id.as_str(), left[0].state),
            (kept.as_str(), ProposalState::Confirmed)
        );
        assert!(matches!(
            db.decide(&erased, Decision::Confirm, 4),
            Err(OrderError::Unknown { .. })
        ));
        let fresh = db.propose("parcel", &beans(), "", 5).unwrap();
        assert_ne!(fresh, erased, "an erased id must not be reused");
    }
}
