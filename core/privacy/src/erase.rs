//! Erase: remove the customer's data from every store, provably.
//!
//! Each store is emptied in one transaction with `secure_delete=ON` (freed
//! bytes are overwritten with zeros), then `VACUUM`ed (the file is rebuilt
//! from live rows only, so nothing written before `secure_delete` was on
//! survives in free space) with temporary tables in memory (no temp file),
//! and a write-ahead log is checkpointed and truncated to zero bytes. Every
//! step is an SQLite transaction: a crash in the middle (kill -9) leaves a hot
//! journal or WAL that SQLite rolls back or replays on the next open, and
//! running erase again finishes the job. [`scan_for`] is the proof: it reads
//! the raw bytes of every file under the data directory.
//!
//! What erase keeps: consents and retention settings (the customer's choices,
//! not data about them), the skills' grants, and the ledger, which holds no
//! values — it gets an `erase` entry. Device definitions go with their names
//! (discovery brings devices back under their maker's names).

use crate::customer::DATA_TABLES;
use crate::error::{PrivacyError, Result, db_err};
use crate::layout::{has_table, open_foreign, truncate_wal};
use crate::ledger::{Action, NewEntry, Reason};
use crate::privacy::{CUSTOMER, Privacy};
use rusqlite::Connection;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What erase did to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreErased {
    /// The database file.
    pub path: PathBuf,
    /// Rows deleted.
    pub rows: u64,
    /// File size before and after (bytes).
    pub bytes_before: u64,
    /// File size after.
    pub bytes_after: u64,
}

/// What erase did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EraseReport {
    /// Per database that existed.
    pub stores: Vec<StoreErased>,
}

impl EraseReport {
    /// Rows deleted in all stores.
    pub fn rows(&self) -> u64 {
        self.stores.iter().map(|s| s.rows).sum()
    }
}

/// The tables of customer data in the other crates' databases.
const SKILL_TABLES: [&str; 2] = ["kv", "proposals"];
const DEVICE_TABLES: [&str; 3] = ["devices", "areas", "floors"];
const OUTBOX_TABLES: [&str; 1] = ["outbox"];
/// The assistant's interaction log and its handoffs.
/// `reports` says until when each brand got aggregates: which brands the customer dealt with.
const TOUCHPOINT_TABLES: [&str; 2] = ["touchpoints", "reports"];
const HANDOFF_TABLES: [&str; 1] = ["handoffs"];

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Empties `tables` (those that exist), vacuums, and truncates the WAL.
fn wipe(conn: &mut Connection, path: &Path, tables: &[&str]) -> Result<u64> {
    let err = db_err(path);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(&err)?;
    let mut rows = 0u64;
    for t in tables {
        if has_table(&tx, t).map_err(&err)? {
            rows += tx.execute(&format!("DELETE FROM {t}"), []).map_err(&err)? as u64;
        }
    }
    tx.commit().map_err(&err)?;
    conn.execute_batch("VACUUM;").map_err(&err)?;
    if !truncate_wal(conn).map_err(&err)? {
        return Err(PrivacyError::Busy {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

impl Privacy {
    /// Erases the customer's data from every store: profile, transcripts,
    /// audio, device usage and touchpoints; orders and the skills' key-value
    /// stores; devices, areas and floors; pending device commands. Run it
    /// with Emma stopped: a store another process holds open is reported as
    /// [`PrivacyError::Busy`], and running erase again completes it.
    pub fn erase(&self, now_ms: u64) -> Result<EraseReport> {
        let mut report = EraseReport::default();
        let layout = self.layout().clone();

        let path = self.customer().path().to_path_buf();
        let before = size(&path);
        let rows = self
            .customer()
            .with_mut(|c| Ok(wipe(c, &path, &DATA_TABLES)))??;
        report.stores.push(StoreErased {
            bytes_after: size(&path),
            path,
            rows,
            bytes_before: before,
        });

        let mut foreign: Vec<(PathBuf, &[&str])> = vec![(layout.skills_db.clone(), &SKILL_TABLES)];
        foreign.extend(
            layout
                .device_dbs
                .iter()
                .map(|p| (p.clone(), &DEVICE_TABLES[..])),
        );
        foreign.push((layout.outbox.clone(), &OUTBOX_TABLES));
        foreign.push((layout.touchpoints.clone(), &TOUCHPOINT_TABLES));
        foreign.push((layout.handoffs.clone(), &HANDOFF_TABLES));
        for (path, tables) in foreign {
            let Some(mut conn) = open_foreign(&path)? else {
                continue;
            };
            let before = size(&path);
            let rows = wipe(&mut conn, &path, tables)?;
            drop(conn);
            report.stores.push(StoreErased {
                bytes_after: size(&path),
                path,
                rows,
                bytes_before: before,
            });
        }
        self.ledger().append(
            NewEntry::new(Action::Erase, None, CUSTOMER, Reason::customer()),
            now_ms,
        )?;
        Ok(report)
    }
}

/// One place a needle was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The file.
    pub path: PathBuf,
    /// Which needle (index into the needles given).
    pub needle: usize,
    /// Byte offset.
    pub offset: u64,
}

/// Scans the raw bytes of every file under each of `roots` (databases, their
/// `-wal`, `-journal` and `-shm` files, caches) for each needle; returns every hit.
pub fn scan_for(roots: &[PathBuf], needles: &[&[u8]]) -> Result<Vec<Hit>> {
    let mut hits = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(p) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PrivacyError::Io { path: p, source }),
        };
        if meta.is_dir() {
            let rd = std::fs::read_dir(&p).map_err(|source| PrivacyError::Io {
                path: p.clone(),
                source,
            })?;
            for e in rd.flatten() {
                stack.push(e.path());
            }
        } else if meta.is_file() {
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                // A file that vanished between listing and reading holds nothing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(PrivacyError::Io { path: p, source }),
            };
            for (i, n) in needles.iter().enumerate() {
                if n.is_empty() {
                    continue;
                }
                let mut start = 0;
                while let Some(at) = find(&bytes[start..], n) {
                    hits.push(Hit {
                        path: p.clone(),
                        needle: i,
                        offset: (start + at) as u64,
                    });
                    start += at + 1;
                }
            }
        }
    }
    Ok(hits)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
