//! The durable outbox: device commands are stored before they are sent and
//! deleted when the broker acknowledges them.
//!
//! Neither MQTT side keeps unacknowledged QoS 1 publishes on disk (rumqttc holds
//! them in memory, rumqttd holds nothing, mosquitto snapshots rarely), so a
//! crash on either side loses commands. The outbox closes that gap: a command
//! is a row in SQLite (`synchronous=FULL`) before it goes on the wire, carries an
//! id (receivers drop duplicates) and an expiry (a stale "unlock the door" is
//! dropped and reported, never sent late), and is sent again after a reconnect
//! or a restart until a PUBACK removes it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::{DevicesError, Result, db_err};
use crate::registry::open_db;

/// How long a command stays valid when nobody says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// How many commands may wait for the broker when nobody says otherwise.
pub const DEFAULT_LIMIT: usize = 10_000;

/// One device command on its way to the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxCommand {
    /// Unique id; Emma-protocol payloads carry it so receivers can drop duplicates.
    pub id: String,
    /// MQTT topic.
    pub topic: String,
    /// MQTT payload.
    #[serde(serialize_with = "payload_text")]
    pub payload: Vec<u8>,
    /// Whether the broker should retain it.
    pub retain: bool,
    /// Whether it stays in the outbox until the device confirms it (on the bus's
    /// confirm topic) rather than just until the broker acknowledges it. A broker
    /// that crashes after its PUBACK but before delivering loses the command; a
    /// device confirmation closes that gap end to end.
    pub confirm: bool,
    /// When it was created (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it stops being worth sending (ms since the Unix epoch).
    pub expires_ms: u64,
}

fn payload_text<S: serde::Serializer>(
    payload: &[u8],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(payload))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A new, process-unique and practically globally unique command id.
pub fn new_command_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}

impl OutboxCommand {
    /// A command with a fresh id, valid for `ttl` from now.
    pub fn new(
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        ttl: Duration,
    ) -> OutboxCommand {
        OutboxCommand::with_id(new_command_id(), topic, payload, ttl)
    }

    /// A command with the given id, valid for `ttl` from now.
    pub fn with_id(
        id: impl Into<String>,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        ttl: Duration,
    ) -> OutboxCommand {
        let created_ms = now_ms();
        OutboxCommand {
            id: id.into(),
            topic: topic.into(),
            payload: payload.into(),
            retain: false,
            confirm: false,
            created_ms,
            expires_ms: created_ms.saturating_add(ttl.as_millis() as u64),
        }
    }

    /// Builder: keep it until the device confirms it (see [`OutboxCommand::confirm`]).
    pub fn confirmed(mut self) -> OutboxCommand {
        self.confirm = true;
        self
    }

    /// Whether it has expired at `now` (ms since the epoch).
    pub fn expired_at(&self, now: u64) -> bool {
        now >= self.expires_ms
    }
}

/// Commands waiting for their PUBACK, in SQLite.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
    limit: usize,
    len: usize,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("limit", &self.limit)
            .finish()
    }
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path` (`:memory:` for none on disk),
    /// holding at most `limit` commands.
    pub fn open(path: impl AsRef<Path>, limit: usize) -> Result<Outbox> {
        let path = path.as_ref().to_path_buf();
        let conn = open_db(&path)?;
        let len = Outbox::init(&conn, &path)?;
        Ok(Outbox {
            conn,
            path,
            limit,
            len,
        })
    }

    fn init(conn: &Connection, path: &Path) -> Result<usize> {
        let err = db_err(path);
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                retain INTEGER NOT NULL,
                confirm INTEGER NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL
            );",
        )
        .map_err(&err)?;
        let len: i64 = conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .map_err(&err)?;
        Ok(len as usize)
    }

    /// Stores a command durably; [`DevicesError::OutboxFull`] when `limit` commands already wait.
    pub fn push(&mut self, cmd: &OutboxCommand) -> Result<()> {
        if self.len >= self.limit {
            return Err(DevicesError::OutboxFull {
                pending: self.len,
                limit: self.limit,
            });
        }
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (id, topic, payload, retain, confirm, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    cmd.id,
                    cmd.topic,
                    cmd.payload,
                    cmd.retain,
                    cmd.confirm,
                    cmd.created_ms as i64,
                    cmd.expires_ms as i64
                ])
            })
            .map_err(db_err(&self.path))?;
        self.len += 1;
        Ok(())
    }

    /// Removes an acknowledged command; `false` if it was not there.
    pub fn ack(&mut self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id]))
            .map_err(db_err(&self.path))?;
        self.len -= n.min(self.len);
        Ok(n > 0)
    }

    /// Removes and returns every command that expired at `now` (ms since the epoch).
    pub fn take_expired(&mut self, now: u64) -> Result<Vec<OutboxCommand>> {
        let expired = self.select("WHERE expires_ms <= ?1", now as i64)?;
        if !expired.is_empty() {
            let n = self
                .conn
                .execute(
                    "DELETE FROM outbox WHERE expires_ms <= ?1",
                    params![now as i64],
                )
                .map_err(db_err(&self.path))?;
            self.len -= n.min(self.len);
        }
        Ok(expired)
    }

    /// Every waiting command, oldest first.
    pub fn pending(&self) -> Result<Vec<OutboxCommand>> {
        self.select("WHERE ?1 = ?1", 0)
    }

    fn select(&self, clause: &str, arg: i64) -> Result<Vec<OutboxCommand>> {
        let err = db_err(&self.path);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT id, topic, payload, retain, confirm, created_ms, expires_ms FROM outbox {clause} ORDER BY seq"
            ))
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![arg], |r| {
                Ok(OutboxCommand {
                    id: r.get(0)?,
                    topic: r.get(1)?,
                    payload: r.get(2)?,
                    retain: r.get(3)?,
                    confirm: r.get(4)?,
                    created_ms: r.get::<_, i64>(5)? as u64,
                    expires_ms: r.get::<_, i64>(6)? as u64,
                })
            })
            .map_err(&err)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(&err)
    }

    /// How many commands wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no command waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most commands that may wait.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_acks_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite");
        let a = OutboxCommand::new("t/a", "1", DEFAULT_TTL);
        let b = OutboxCommand::new("t/b", "2", DEFAULT_TTL);
        {
            let mut ob = Outbox::open(&path, 10).unwrap();
            ob.push(&a).unwrap();
            ob.push(&b).unwrap();
            assert!(ob.ack(&a.id).unwrap());
            assert!(!ob.ack(&a.id).unwrap());
        }
        let ob = Outbox::open(&path, 10).unwrap();
        assert_eq!(ob.len(), 1);
        assert_eq!(ob.pending().unwrap(), vec![b]);
    }

    #[test]
    fn full_is_a_clear_error() {
        let mut ob = Outbox::open(":memory:", 2).unwrap();
        ob.push(&OutboxCommand::new("t", "1", DEFAULT_TTL)).unwrap();
        ob.push(&OutboxCommand::new("t", "2", DEFAULT_TTL)).unwrap();
        let err = ob
            .push(&OutboxCommand::new("t", "3", DEFAULT_TTL))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("outbox full: 2 commands"),
            "{err}"
        );
        assert_eq!(ob.len(), 2);
    }

    #[test]
    fn expired_commands_are_taken_out() {
        let mut ob = Outbox::open(":memory:", 10).unwrap();
        let stale = OutboxCommand::new("t", "old", Duration::ZERO);
        let fresh = OutboxCommand::new("t", "new", DEFAULT_TTL);
        ob.push(&stale).unwrap();
        ob.push(&fresh).unwrap();
        let expired = ob.take_expired(now_ms()).unwrap();
        assert_eq!(expired, vec![stale]);
        assert_eq!(ob.pending().unwrap(), vec![fresh]);
        assert_eq!(ob.len(), 1);
    }

    #[test]
    fn ids_are_unique() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| new_command_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
