//! Where every store of customer data lives, and how the privacy layer opens SQLite files.

use crate::error::{Result, db_err};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The files of one Emma home that hold customer data.
///
/// [`Layout::in_dir`] gives the layout the CLI and the `Assistant` use; every
/// path can be changed before [`crate::Privacy::open`]. Stores that do not
/// exist are skipped by export and erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The data directory itself; erase proofs scan everything under it.
    pub root: PathBuf,
    /// Consents, profile, transcripts, audio, device usage, touchpoints, retention (this crate's).
    pub customer: PathBuf,
    /// The hash-chained ledger, kept apart from the data it describes (this crate's).
    pub ledger: PathBuf,
    /// The skills' database: key-value stores, grants, order proposals (emma-skill-host's).
    pub skills_db: PathBuf,
    /// Installed skill bundles (`<id>.emmaskill`); the skills consent can name.
    pub skills_installed: PathBuf,
    /// Device registries: names, aliases, areas, floors, states (emma-devices').
    pub device_dbs: Vec<PathBuf>,
    /// The durable command outbox (emma-devices').
    pub outbox: PathBuf,
    /// The assistant's interaction log: intent, outcome, latency per turn, no text (emma-core's).
    pub touchpoints: PathBuf,
    /// The handoffs to people the assistant made, to recognise the replies (emma-core's).
    pub handoffs: PathBuf,
    /// Caches that must never hold customer data (compiled skills, speech models); erase proofs scan them.
    pub caches: Vec<PathBuf>,
}

impl Layout {
    /// The standard layout under `root`: `customer.sqlite`, `ledger.sqlite`,
    /// `skills/skills.db`, `skills/installed/`, `devices.sqlite` or
    /// `registry.sqlite`, `outbox.sqlite`, `touchpoints.sqlite`, `handoffs.sqlite`, caches `skills/cache/` and `models/`.
    pub fn in_dir(root: impl Into<PathBuf>) -> Layout {
        let root = root.into();
        Layout {
            customer: root.join("customer.sqlite"),
            ledger: root.join("ledger.sqlite"),
            skills_db: root.join("skills").join("skills.db"),
            skills_installed: root.join("skills").join("installed"),
            device_dbs: vec![root.join("devices.sqlite"), root.join("registry.sqlite")],
            outbox: root.join("outbox.sqlite"),
            touchpoints: root.join("touchpoints.sqlite"),
            handoffs: root.join("handoffs.sqlite"),
            caches: vec![root.join("skills").join("cache"), root.join("models")],
            root,
        }
    }

    /// Every database file that may hold customer data, existing or not.
    pub fn databases(&self) -> Vec<PathBuf> {
        let mut v = vec![self.customer.clone(), self.skills_db.clone()];
        v.extend(self.device_dbs.iter().cloned());
        v.push(self.outbox.clone());
        v.push(self.touchpoints.clone());
        v.push(self.handoffs.clone());
        v.push(self.ledger.clone());
        v
    }

    /// Installed skill ids (file stems of `*.emmaskill`), sorted; empty when none are installed.
    pub fn installed_skills(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.skills_installed)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "emmaskill"))
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
            .collect();
        out.sort();
        out
    }
}

/// Opens (creating) a database this crate owns with Emma's settings:
/// write-ahead log with `synchronous=NORMAL` (a commit costs no fsync; it
/// survives a crash of the process at once and a power cut from the next
/// checkpoint on, and SQLite never recovers a torn transaction),
/// `secure_delete=ON` (freed bytes are zeroed), temporary tables in memory
/// (VACUUM leaves no temp file) and a busy timeout. Deletes that must leave
/// no trace (expiry, erase) truncate the WAL afterwards ([`truncate_wal`]);
/// consent changes commit with `synchronous=FULL` ([`durably`]).
pub(crate) fn open_owned(path: &Path) -> Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| crate::PrivacyError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(db_err(path))?;
    configure(&conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err(path))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_err(path))?;
    Ok(conn)
}

/// Runs `f` with `synchronous=FULL`, so its commit is on disk before it returns.
pub(crate) fn durably<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let out = f(conn);
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    out
}

/// Copies the WAL into the database and truncates it to zero bytes, so no
/// old page image (with deleted values) stays in the `-wal` file. Returns
/// whether it completed (`false`: another connection is reading; the next call retries).
pub(crate) fn truncate_wal(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(true);
    }
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

/// Opens an existing database of another crate for reading and writing
/// (erase), without changing its journal mode; `None` when the file does not exist.
pub(crate) fn open_foreign(path: &Path) -> Result<Option<Connection>> {
    if !path.is_file() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err(path))?;
    configure(&conn, path)?;
    Ok(Some(conn))
}

/// Opens an existing database for reading (export); `None` when the file does not exist.
pub(crate) fn open_read(path: &Path) -> Result<Option<Connection>> {
    if !path.is_file() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err(path))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(db_err(path))?;
    Ok(Some(conn))
}

fn configure(conn: &Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(db_err(path))?;
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(db_err(path))?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(db_err(path))?;
    Ok(())
}

/// Whether `table` exists in `conn`'s main database.
pub(crate) fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Milliseconds since the Unix epoch now (the clock every `now` argument is measured on).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
