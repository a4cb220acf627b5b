//! The customer database (`customer.sqlite`): consents and the customer data
//! Emma itself keeps (profile, transcripts, opted-in audio, device usage,
//! touchpoint statistics, retention settings).
//!
//! Write-ahead log with `synchronous=NORMAL` (storing a transcript costs no
//! fsync on the utterance path) and `secure_delete=ON`; expiry and erase
//! truncate the WAL after deleting, so deleted values are zeroed in the file
//! and no old page image survives in the `-wal` file.

use crate::error::{Result, db_err};
use crate::layout::open_owned;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS consents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    skill TEXT NOT NULL,
    category TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX IF NOT EXISTS consents_by_skill ON consents (skill, category, revoked_ms);
CREATE TABLE IF NOT EXISTS profile (field TEXT PRIMARY KEY, value TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transcripts (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, text TEXT NOT NULL, intent TEXT);
CREATE INDEX IF NOT EXISTS transcripts_at ON transcripts (at_ms);
CREATE TABLE IF NOT EXISTS audio (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, sample_rate INTEGER NOT NULL, samples BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audio_at ON audio (at_ms);
CREATE TABLE IF NOT EXISTS device_usage (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, device TEXT NOT NULL, action TEXT NOT NULL, value TEXT, by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS device_usage_at ON device_usage (at_ms);
CREATE TABLE IF NOT EXISTS touchpoints (skill TEXT NOT NULL, kind TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (skill, kind, day));
CREATE TABLE IF NOT EXISTS retention (category TEXT PRIMARY KEY, seconds INTEGER NOT NULL);
";

/// Tables of customer data (not settings) that erase empties.
pub(crate) const DATA_TABLES: [&str; 5] = [
    "profile",
    "transcripts",
    "audio",
    "device_usage",
    "touchpoints",
];

/// Handle to `customer.sqlite`.
#[derive(Debug)]
pub struct CustomerDb {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl CustomerDb {
    /// Opens (creating) the customer database at `path`.
    pub fn open(path: &Path) -> Result<CustomerDb> {
        let conn = open_owned(path)?;
        conn.execute_batch(SCHEMA).map_err(db_err(path))?;
        Ok(CustomerDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(db_err(&self.path))
    }

    pub(crate) fn with_mut<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(db_err(&self.path))
    }
}
