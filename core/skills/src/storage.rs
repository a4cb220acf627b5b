//! Per-skill key-value storage, per-customer grants and order proposals
//! (see [`crate::orders`]), in one SQLite file.
//!
//! `synchronous=FULL` so an acknowledged write survives a power cut,
//! `secure_delete=ON` and the rollback journal (not WAL) so an erased skill's
//! data does not linger in freed pages or a write-ahead log.
//! Every row is keyed by skill id: a skill can only ever name its own keys.

use crate::permission::{Permission, PermissionSet};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite failed.
    #[error("skill database {path}: {source}")]
    Sqlite {
        /// Database path.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A write would exceed the skill's quota.
    #[error(
        "skill `{skill}` store quota of {quota} bytes exceeded ({wanted} bytes needed); delete keys or raise limits.store_kib"
    )]
    QuotaExceeded {
        /// Skill id.
        skill: String,
        /// Quota in bytes.
        quota: u64,
        /// Bytes the store would hold.
        wanted: u64,
    },
}

/// Shared handle to the skill database.
#[derive(Clone)]
pub struct SkillDb {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

impl std::fmt::Debug for SkillDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillDb").field("path", &self.path).finish()
    }
}

impl SkillDb {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SkillDb, StorageError> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StorageError::Sqlite {
            path: p.clone(),
            source,
        })?;
        Self::init(conn, p)
    }

    /// An in-memory database (tests, `emma skill run` without install).
    pub fn in_memory() -> Result<SkillDb, StorageError> {
        let conn = Connection::open_in_memory().map_err(|source| StorageError::Sqlite {
            path: ":memory:".into(),
            source,
        })?;
        Self::init(conn, ":memory:".into())
    }

    fn init(conn: Connection, path: String) -> Result<SkillDb, StorageError> {
        conn.execute_batch(
            "PRAGMA journal_mode=DELETE;
             PRAGMA synchronous=FULL;
             PRAGMA secure_delete=ON;
             CREATE TABLE IF NOT EXISTS kv (skill TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (skill, key));
             CREATE TABLE IF NOT EXISTS grants (customer TEXT NOT NULL, skill TEXT NOT NULL, permission TEXT NOT NULL, PRIMARY KEY (customer, skill, permission));
             CREATE TABLE IF NOT EXISTS proposals (id INTEGER PRIMARY KEY AUTOINCREMENT, skill TEXT NOT NULL, lines TEXT NOT NULL, note TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, decided INTEGER);",
        )
        .map_err(|source| StorageError::Sqlite { path: path.clone(), source })?;
        Ok(SkillDb {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database path (`:memory:` for an in-memory one).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|source| StorageError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Reads `key` from `skill`'s namespace.
    pub fn get(&self, skill: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM kv WHERE skill = ?1 AND key = ?2",
                params![skill, key],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Bytes (keys + values) `skill` uses.
    pub fn usage(&self, skill: &str) -> Result<u64, StorageError> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0) FROM kv WHERE skill = ?1",
                params![skill],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    /// Writes `key` in `skill`'s namespace if the result stays within `quota` bytes.
    pub fn set(
        &self,
        skill: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), StorageError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let sq = |source| StorageError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let tx = conn.unchecked_transaction().map_err(sq)?;
        let used: i64 = tx
            .query_row(
                "SELECT COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0) FROM kv WHERE skill = ?1 AND key != ?2",
                params![skill, key],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let wanted = used as u64 + key.len() as u64 + value.len() as u64;
        if wanted > quota {
            return Err(StorageError::QuotaExceeded {
                skill: skill.into(),
                quota,
                wanted,
            });
        }
        tx.execute(
            "INSERT OR REPLACE INTO kv (skill, key, value) VALUES (?1, ?2, ?3)",
            params![skill, key, value],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)
    }

    /// Deletes `key` from `skill`'s namespace.
    pub fn delete(&self, skill: &str, key: &str) -> Result<(), StorageError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM kv WHERE skill = ?1 AND key = ?2",
                params![skill, key],
            )
            .map(drop)
        })
    }

    /// Erases everything `skill` stored (keys and order proposals) and compacts the file so nothing remains on disk.
    pub fn erase_skill(&self, skill: &str) -> Result<u64, StorageError> {
        self.with(|c| {
            let n = c.execute("DELETE FROM kv WHERE skill = ?1", params![skill])?;
            c.execute("DELETE FROM proposals WHERE skill = ?1", params![skill])?;
            c.execute_batch("VACUUM;")?;
            Ok(n as u64)
        })
    }

    /// Grants `perm` on `skill` to `customer`.
    pub fn grant(
        &self,
        customer: &str,
        skill: &str,
        perm: &Permission,
    ) -> Result<(), StorageError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO grants (customer, skill, permission) VALUES (?1, ?2, ?3)",
                params![customer, skill, perm.to_string()],
            )
            .map(drop)
        })
    }

    /// Revokes `perm` (or every permission with `None`); returns how many were revoked.
    pub fn revoke(
        &self,
        customer: &str,
        skill: &str,
        perm: Option<&Permission>,
    ) -> Result<u64, StorageError> {
        self.with(|c| match perm {
            Some(p) => c.execute(
                "DELETE FROM grants WHERE customer = ?1 AND skill = ?2 AND permission = ?3",
                params![customer, skill, p.to_string()],
            ),
            None => c.execute(
                "DELETE FROM grants WHERE customer = ?1 AND skill = ?2",
                params![customer, skill],
            ),
        })
        .map(|n| n as u64)
    }

    /// The permissions `customer` granted to `skill` (unparseable rows are skipped).
    pub fn grants(&self, customer: &str, skill: &str) -> Result<PermissionSet, StorageError> {
        let rows: Vec<String> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT permission FROM grants WHERE customer = ?1 AND skill = ?2 ORDER BY rowid",
            )?;
            st.query_map(params![customer, skill], |r| r.get(0))?
                .collect()
        })?;
        Ok(PermissionSet::new(
            rows.iter().filter_map(|r| r.parse().ok()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_quota_and_erase() {
        let db = SkillDb::in_memory().unwrap();
        db.set("a", "k", b"secret", 100).unwrap();
        assert_eq!(db.get("a", "k").unwrap().as_deref(), Some(&b"secret"[..]));
        assert_eq!(db.get("b", "k").unwrap(), None);
        assert!(matches!(
            db.set("a", "big", &[0; 200], 100),
            Err(StorageError::QuotaExceeded { .. })
        ));
        // Overwriting a key does not count its old value twice.
        db.set("a", "k", &[1; 90], 100).unwrap();
        assert_eq!(db.usage("a").unwrap(), 91);
        assert_eq!(db.erase_skill("a").unwrap(), 1);
        assert_eq!(db.get("a", "k").unwrap(), None);
    }

    #[test]
    fn survives_reopen_and_grants_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skills.db");
        {
            let db = SkillDb::open(&path).unwrap();
            db.set("a", "k", b"v", 100).unwrap();
            db.grant("me", "a", &Permission::Store).unwrap();
            db.grant("me", "a", &Permission::Notify).unwrap();
        }
        let db = SkillDb::open(&path).unwrap();
        assert_eq!(db.get("a", "k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(db.grants("me", "a").unwrap().len(), 2);
        assert_eq!(db.revoke("me", "a", Some(&Permission::Store)).unwrap(), 1);
        assert!(!db.grants("me", "a").unwrap().allows(&Permission::Store));
        assert!(db.grants("you", "a").unwrap().is_empty());
    }
}
