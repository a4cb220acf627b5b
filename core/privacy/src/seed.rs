//! A synthetic home for benchmarks and tests: fills every store of a
//! [`Layout`] with the other crates' schemas (emma-skill-host's `skills.db`,
//! emma-devices' registry and outbox, as of this crate's writing; emma-core's
//! tests check the same flows against the real crates).

use crate::error::{Result, db_err};
use crate::layout::Layout;
use rusqlite::{Connection, params};
use std::path::Path;

/// emma-skill-host `storage.rs` schema (journal DELETE, secure_delete ON).
pub const SKILLS_SCHEMA: &str = "
PRAGMA journal_mode=DELETE;
PRAGMA synchronous=FULL;
PRAGMA secure_delete=ON;
CREATE TABLE IF NOT EXISTS kv (skill TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (skill, key));
CREATE TABLE IF NOT EXISTS grants (customer TEXT NOT NULL, skill TEXT NOT NULL, permission TEXT NOT NULL, PRIMARY KEY (customer, skill, permission));
CREATE TABLE IF NOT EXISTS proposals (id INTEGER PRIMARY KEY AUTOINCREMENT, skill TEXT NOT NULL, lines TEXT NOT NULL, note TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, decided INTEGER);";

/// emma-devices `registry.rs` schema (WAL; secure_delete off, as emma-devices opens it).
pub const REGISTRY_SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS floors (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS areas (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, domain TEXT NOT NULL, body TEXT NOT NULL);";

/// emma-devices `outbox.rs` schema (WAL).
pub const OUTBOX_SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
  payload BLOB NOT NULL, retain INTEGER NOT NULL, confirm INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);";

/// Opens `path` (creating its directory) and applies `schema`.
pub fn open_with(path: &Path, schema: &str) -> Result<Connection> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|source| crate::PrivacyError::Io {
            path: d.to_path_buf(),
            source,
        })?;
    }
    let c = Connection::open(path).map_err(db_err(path))?;
    c.execute_batch(schema).map_err(db_err(path))?;
    Ok(c)
}

/// Adds `n` order proposals and `n` key-value entries per skill in `skills`, with `tag` in every value.
pub fn skills(layout: &Layout, skills: &[&str], n: usize, tag: &str) -> Result<()> {
    let p = &layout.skills_db;
    let mut c = open_with(p, SKILLS_SCHEMA)?;
    let tx = c.transaction().map_err(db_err(p))?;
    for s in skills {
        for i in 0..n {
            tx.execute(
                "INSERT INTO proposals (skill, lines, note, state, created) VALUES (?1, ?2, ?3, 'pending', ?4)",
                params![
                    s,
                    format!(r#"[{{"sku":"SKU-{i}","quantity":1,"description":"{tag} beans {i}"}}]"#),
                    format!("{tag} note {i}"),
                    i as i64
                ],
            )
            .map_err(db_err(p))?;
            tx.execute(
                "INSERT OR REPLACE INTO kv (skill, key, value) VALUES (?1, ?2, ?3)",
                params![
                    s,
                    format!("key-{i}"),
                    format!("{tag} value {i}").into_bytes()
                ],
            )
            .map_err(db_err(p))?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO grants (customer, skill, permission) VALUES ('default', ?1, 'store')",
            params![s],
        )
        .map_err(db_err(p))?;
    }
    tx.commit().map_err(db_err(p))
}

/// Adds `n` devices (named with `tag`), one area and one floor to the first device database,
/// and `n` pending commands to the outbox.
pub fn devices(layout: &Layout, n: usize, tag: &str) -> Result<()> {
    let p = &layout.device_dbs[0];
    let mut c = open_with(p, REGISTRY_SCHEMA)?;
    let tx = c.transaction().map_err(db_err(p))?;
    tx.execute(
        "INSERT OR REPLACE INTO areas (id, body) VALUES ('a1', ?1)",
        params![format!(
            r#"{{"id":"a1","name":"{tag} room","aliases":[],"floor":"f1"}}"#
        )],
    )
    .map_err(db_err(p))?;
    tx.execute(
        "INSERT OR REPLACE INTO floors (id, body) VALUES ('f1', ?1)",
        params![format!(
            r#"{{"id":"f1","name":"{tag} floor","aliases":[],"level":0}}"#
        )],
    )
    .map_err(db_err(p))?;
    for i in 0..n {
        let id = format!("light.l{i}");
        tx.execute(
            "INSERT OR REPLACE INTO devices (id, domain, body) VALUES (?1, 'light', ?2)",
            params![
                id,
                format!(
                    r#"{{"id":"{id}","name":"{tag} lamp {i}","aliases":["{tag} alias"],"area":"a1","domain":"light","state":"on","attributes":{{}}}}"#
                )
            ],
        )
        .map_err(db_err(p))?;
    }
    tx.commit().map_err(db_err(p))?;
    let p = &layout.outbox;
    let mut c = open_with(p, OUTBOX_SCHEMA)?;
    let tx = c.transaction().map_err(db_err(p))?;
    for i in 0..n {
        tx.execute(
            "INSERT OR REPLACE INTO outbox (id, topic, payload, retain, confirm, created_ms, expires_ms) VALUES (?1, ?2, ?3, 0, 1, 1, 2)",
            params![format!("cmd-{tag}-{i}"), format!("emma/device/light.l{i}/set"), format!(r#"{{"state":"on","note":"{tag}"}}"#).into_bytes()],
        )
        .map_err(db_err(p))?;
    }
    tx.commit().map_err(db_err(p))
}
