//! The ledger: one entry for every store of customer data and every share of
//! it with a skill or the outside, in its own database file (`ledger.sqlite`),
//! apart from the data it describes.
//!
//! An entry says *what* (category and field, never the value), *who* (the
//! skill or party), *when*, *why* (the intent or event) and *under which
//! consent*. Entries are append-only and hash-chained: each stores
//! SHA-256(previous hash ‖ entry), so [`Ledger::verify`] finds the first entry
//! that was edited or removed. Removing the newest entries is caught too:
//! SQLite's `sqlite_sequence` remembers the highest sequence number ever
//! issued.
//!
//! Appends run in an `IMMEDIATE` transaction that reads the chain's head, so
//! two processes (the `Assistant` and the CLI) appending at once still build
//! one chain.

use crate::category::Category;
use crate::error::{Result, db_err};
use crate::layout::open_owned;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    category TEXT NOT NULL,
    field TEXT,
    party TEXT NOT NULL,
    reason TEXT NOT NULL,
    consent INTEGER,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_party ON entries (party, seq);
CREATE INDEX IF NOT EXISTS entries_at ON entries (at_ms);
";

/// What happened to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Customer data was written to a store.
    Store,
    /// Customer data was given to a skill or an outside party.
    Share,
    /// The customer gave a consent.
    Consent,
    /// The customer revoked a consent.
    Revoke,
    /// Data past its retention period was deleted.
    Expire,
    /// The customer exported their data.
    Export,
    /// The customer erased their data.
    Erase,
}

impl Action {
    /// Kebab-case name (`store`, `share`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Store => "store",
            Action::Share => "share",
            Action::Consent => "consent",
            Action::Revoke => "revoke",
            Action::Expire => "expire",
            Action::Export => "export",
            Action::Erase => "erase",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why data was stored or shared: `intent:<name>`, `event:<kind>`, `customer`, `retention`…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    /// Handling the intent `name`.
    pub fn intent(name: &str) -> Reason {
        Reason(format!("intent:{name}"))
    }
    /// Reacting to a device event of kind `kind`.
    pub fn event(kind: &str) -> Reason {
        Reason(format!("event:{kind}"))
    }
    /// The customer asked (CLI, app).
    pub fn customer() -> Reason {
        Reason("customer".into())
    }
    /// The retention period ran out.
    pub fn retention() -> Reason {
        Reason("retention".into())
    }
    /// Anything else, e.g. `handoff:<ticket>`.
    pub fn other(text: impl Into<String>) -> Reason {
        Reason(text.into())
    }
    /// The text stored in the ledger.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// What happened.
    pub action: Action,
    /// What kind of data (`None`: every kind, e.g. an erase).
    pub category: Option<Category>,
    /// Which item within the category, when it is not the category itself
    /// (a device id, a skill store key, an order id) — never a value.
    pub field: Option<String>,
    /// Who stored or received it: a skill id, `emma`, `mqtt:<topic>`, `handoff:<brand>`, `customer`.
    pub party: String,
    /// Why.
    pub reason: Reason,
    /// The consent it was done under, if one was needed.
    pub consent: Option<i64>,
}

impl NewEntry {
    /// A new entry with no field and no consent.
    pub fn new(
        action: Action,
        category: Option<Category>,
        party: &str,
        reason: Reason,
    ) -> NewEntry {
        NewEntry {
            action,
            category,
            field: None,
            party: party.into(),
            reason,
            consent: None,
        }
    }
    /// Builder: the item within the category.
    pub fn field(mut self, field: impl Into<String>) -> NewEntry {
        self.field = Some(field.into());
        self
    }
    /// Builder: the consent it was made under.
    pub fn consent(mut self, id: Option<i64>) -> NewEntry {
        self.consent = id;
        self
    }

    fn category_text(&self) -> String {
        match &self.category {
            // A profile field is the category's field; keep the category as `profile`.
            Some(c) => c.kind().to_string(),
            None => "*".into(),
        }
    }

    fn field_text(&self) -> Option<String> {
        match (&self.category, &self.field) {
            (_, Some(f)) => Some(f.clone()),
            (Some(c), None) => c.field().map(String::from),
            _ => None,
        }
    }
}

/// One stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// What happened (`store`, `share`…).
    pub action: String,
    /// Data category (`profile`, `orders`…, `*` for all).
    pub category: String,
    /// Item within the category (a profile field, a device id…).
    pub field: Option<String>,
    /// Who stored or received it.
    pub party: String,
    /// Why.
    pub reason: String,
    /// The consent it was made under.
    pub consent: Option<i64>,
    /// The previous entry's hash (hex).
    pub prev: String,
    /// SHA-256(prev ‖ this entry), hex.
    pub hash: String,
}

/// The outcome of [`Ledger::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Verification {
    /// Every entry is present and unchanged.
    Intact {
        /// How many entries.
        entries: u64,
        /// The newest entry's hash (a customer can note it to check later).
        head: String,
    },
    /// The chain is broken at `seq`.
    Broken {
        /// The first entry that is missing or altered.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
}

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only entries whose party is this skill.
    pub party: Option<String>,
    /// Only entries at or after this time (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// At most this many, newest last (`None`: all).
    pub limit: Option<usize>,
}

/// Handle to `ledger.sqlite`.
#[derive(Debug)]
pub struct Ledger {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 over the previous hash and every field, each length-prefixed so
/// no two different entries encode alike.
#[allow(clippy::too_many_arguments)]
fn chain_hash(
    prev: &str,
    seq: u64,
    at_ms: u64,
    action: &str,
    category: &str,
    field: Option<&str>,
    party: &str,
    reason: &str,
    consent: Option<i64>,
) -> String {
    let mut h = Sha256::new();
    let mut put = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    put(prev.as_bytes());
    put(&seq.to_le_bytes());
    put(&at_ms.to_le_bytes());
    put(action.as_bytes());
    put(category.as_bytes());
    match field {
        Some(f) => put(format!("1{f}").as_bytes()),
        None => put(b"0"),
    }
    put(party.as_bytes());
    put(reason.as_bytes());
    match consent {
        Some(c) => put(format!("1{c}").as_bytes()),
        None => put(b"0"),
    }
    hex(&h.finalize())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get::<_, i64>(0)?.max(0) as u64,
        at_ms: r.get::<_, i64>(1)?.max(0) as u64,
        action: r.get(2)?,
        category: r.get(3)?,
        field: r.get(4)?,
        party: r.get(5)?,
        reason: r.get(6)?,
        consent: r.get(7)?,
        prev: r.get(8)?,
        hash: r.get(9)?,
    })
}

const COLUMNS: &str = "seq, at_ms, action, category, field, party, reason, consent, prev, hash";

impl Ledger {
    /// Opens (creating) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger> {
        let conn = open_owned(path)?;
        conn.execute_batch(SCHEMA).map_err(db_err(path))?;
        Ok(Ledger {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends entries at `now_ms` in one transaction (one pipeline step's
    /// entries cost one commit); returns their sequence numbers.
    pub fn append_all(&self, entries: &[NewEntry], now_ms: u64) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err(&self.path))?;
        let mut out = Vec::with_capacity(entries.len());
        {
            let head: Option<(i64, String)> = tx
                .prepare_cached("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1")
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(db_err(&self.path))?;
            // The next seq is the one AUTOINCREMENT will hand out, even if the
            // newest rows were deleted; a tampered tail stays visible.
            let issued: i64 = tx
                .query_row(
                    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0)",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err(&self.path))?;
            let (mut seq, mut prev) = match head {
                Some((s, h)) => (s.max(issued) as u64, h),
                None => (issued as u64, GENESIS.to_string()),
            };
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (seq, at_ms, action, category, field, party, reason, consent, prev, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(db_err(&self.path))?;
            for e in entries {
                seq += 1;
                let category = e.category_text();
                let field = e.field_text();
                let hash = chain_hash(
                    &prev,
                    seq,
                    now_ms,
                    e.action.as_str(),
                    &category,
                    field.as_deref(),
                    &e.party,
                    e.reason.as_str(),
                    e.consent,
                );
                insert
                    .execute(params![
                        seq as i64,
                        now_ms as i64,
                        e.action.as_str(),
                        category,
                        field,
                        e.party,
                        e.reason.as_str(),
                        e.consent,
                        prev,
                        hash
                    ])
                    .map_err(db_err(&self.path))?;
                out.push(seq);
                prev = hash;
            }
        }
        tx.commit().map_err(db_err(&self.path))?;
        Ok(out)
    }

    /// Appends one entry at `now_ms`; returns its sequence number.
    pub fn append(&self, entry: NewEntry, now_ms: u64) -> Result<u64> {
        Ok(self.append_all(std::slice::from_ref(&entry), now_ms)?[0])
    }

    /// Entries matching `filter`, oldest first.
    pub fn entries(&self, filter: &Filter) -> Result<Vec<Entry>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let mut st = conn
            .prepare(&format!(
                "SELECT * FROM (SELECT {COLUMNS} FROM entries WHERE (?1 IS NULL OR party = ?1) AND at_ms >= ?2
                 ORDER BY seq DESC LIMIT ?3) ORDER BY seq"
            ))
            .map_err(db_err(&self.path))?;
        st.query_map(
            params![filter.party, filter.since_ms.unwrap_or(0) as i64, limit],
            row,
        )
        .and_then(|rows| rows.collect())
        .map_err(db_err(&self.path))
    }

    /// How many entries the ledger holds.
    pub fn len(&self) -> Result<u64> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(db_err(&self.path))
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Walks the chain from the first entry and reports the first one that is
    /// missing (a gap in the sequence, or newest entries removed) or altered
    /// (its hash does not match its content or its predecessor).
    pub fn verify(&self) -> Result<Verification> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = conn
            .prepare(&format!("SELECT {COLUMNS} FROM entries ORDER BY seq"))
            .map_err(db_err(&self.path))?;
        let mut rows = st.query([]).map_err(db_err(&self.path))?;
        let mut expected_seq = 1u64;
        let mut prev = GENESIS.to_string();
        let mut count = 0u64;
        while let Some(r) = rows.next().map_err(db_err(&self.path))? {
            let e = row(r).map_err(db_err(&self.path))?;
            if e.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    problem: format!(
                        "entries {expected_seq}..{} are missing (removed from the ledger)",
                        e.seq - 1
                    ),
                });
            }
            if e.prev != prev {
                return Ok(Verification::Broken {
                    seq: e.seq,
                    problem: "its link to the previous entry does not match (an entry before it was altered or replaced)".into(),
                });
            }
            let want = chain_hash(
                &e.prev,
                e.seq,
                e.at_ms,
                &e.action,
                &e.category,
                e.field.as_deref(),
                &e.party,
                &e.reason,
                e.consent,
            );
            if want != e.hash {
                return Ok(Verification::Broken {
                    seq: e.seq,
                    problem: "its content does not match its hash (the entry was altered)".into(),
                });
            }
            prev = e.hash;
            expected_seq += 1;
            count += 1;
        }
        drop(rows);
        let issued: i64 = conn
            .query_row(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(db_err(&self.path))?;
        if issued as u64 > count {
            return Ok(Verification::Broken {
                seq: count + 1,
                problem: format!(
                    "the newest entries {}..{issued} are missing (removed from the ledger)",
                    count + 1
                ),
            });
        }
        Ok(Verification::Intact {
            entries: count,
            head: prev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(skill: &str, field: &str) -> NewEntry {
        NewEntry::new(
            Action::Share,
            Some(Category::Profile(field.into())),
            skill,
            Reason::intent("coffee.order"),
        )
        .consent(Some(7))
    }

    fn ledger_with(n: usize) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        for i in 0..n {
            l.append(share("coffee", &format!("f{i}")), 1_000 + i as u64)
                .unwrap();
        }
        (dir, l)
    }

    fn sql(l: &Ledger, s: &str) {
        l.conn.lock().unwrap().execute_batch(s).unwrap();
    }

    #[test]
    fn appends_chain_and_verify_intact() {
        let (_d, l) = ledger_with(5);
        let all = l.entries(&Filter::default()).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].prev, GENESIS);
        assert_eq!(all[0].category, "profile");
        assert_eq!(all[0].field.as_deref(), Some("f0"));
        assert_eq!(all[0].consent, Some(7));
        for w in all.windows(2) {
            assert_eq!(w[1].prev, w[0].hash);
            assert_eq!(w[1].seq, w[0].seq + 1);
        }
        assert_eq!(
            l.verify().unwrap(),
            Verification::Intact {
                entries: 5,
                head: all[4].hash.clone()
            }
        );
        let batch = l
            .append_all(&[share("parcel", "name"), share("parcel", "email")], 9_000)
            .unwrap();
        assert_eq!(batch, vec![6, 7]);
        let parcel = l
            .entries(&Filter {
                party: Some("parcel".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(parcel.len(), 2);
        let recent = l
            .entries(&Filter {
                since_ms: Some(1_003),
                limit: Some(2),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 7]);
        assert!(matches!(
            l.verify().unwrap(),
            Verification::Intact { entries: 7, .. }
        ));
    }

    #[test]
    fn edited_entry_is_reported() {
        let (_d, l) = ledger_with(6);
        sql(
            &l,
            "UPDATE entries SET party = 'someone-else' WHERE seq = 3",
        );
        let Verification::Broken { seq, problem } = l.verify().unwrap() else {
            panic!("tampering not detected")
        };
        assert_eq!(seq, 3);
        assert!(problem.contains("altered"), "{problem}");
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link() {
        let (_d, l) = ledger_with(6);
        // An attacker who recomputes entry 3's hash still breaks entry 4's link.
        let e = &l.entries(&Filter::default()).unwrap()[2];
        let forged = chain_hash(
            &e.prev,
            3,
            e.at_ms,
            "share",
            "profile",
            Some("f2"),
            "evil",
            &e.reason,
            e.consent,
        );
        sql(
            &l,
            &format!("UPDATE entries SET party = 'evil', hash = '{forged}' WHERE seq = 3"),
        );
        assert!(matches!(
            l.verify().unwrap(),
            Verification::Broken { seq: 4, .. }
        ));
    }

    #[test]
    fn removed_entries_are_reported_in_the_middle_and_at_the_end() {
        let (_d, l) = ledger_with(6);
        sql(&l, "DELETE FROM entries WHERE seq = 2");
        let Verification::Broken { seq, problem } = l.verify().unwrap() else {
            panic!("removal not detected")
        };
        assert_eq!(seq, 2);
        assert!(problem.contains("missing"), "{problem}");

        let (_d2, l2) = ledger_with(6);
        sql(&l2, "DELETE FROM entries WHERE seq >= 5");
        let Verification::Broken { seq, problem } = l2.verify().unwrap() else {
            panic!("tail removal not detected")
        };
        assert_eq!(seq, 5);
        assert!(problem.contains("newest"), "{problem}");
        // Appending after a removed tail does not hide it.
        l2.append(share("coffee", "x"), 5).unwrap();
        assert!(matches!(l2.verify().unwrap(), Verification::Broken { .. }));
    }

    #[test]
    fn two_handles_build_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.sqlite");
        let a = Ledger::open(&p).unwrap();
        let b = Ledger::open(&p).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..50 {
                    a.append(share("a", "name"), 1).unwrap();
                }
            });
            s.spawn(|| {
                for _ in 0..50 {
                    b.append(share("b", "name"), 2).unwrap();
                }
            });
        });
        assert!(matches!(
            a.verify().unwrap(),
            Verification::Intact { entries: 100, .. }
        ));
    }
}
