//! Export: one JSON document with all of the customer's data from every store.
//!
//! The schema is documented in `docs/privacy.md` (`format`
//! `emma-customer-export`, `version` 1). The document is written to a
//! temporary file beside the target and renamed over it, so an export that
//! fails (unwritable directory, full disk) leaves nothing behind and changes
//! nothing, not even the ledger.

use crate::error::{PrivacyError, Result, db_err};
use crate::layout::{has_table, open_read};
use crate::ledger::{Action, Filter, NewEntry, Reason};
use crate::privacy::{CUSTOMER, Privacy};
use base64::Engine as _;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `format` field of an export.
pub const FORMAT: &str = "emma-customer-export";
/// The schema version of an export.
pub const VERSION: u32 = 1;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Items per section (`profile`, `orders`, `ledger`…).
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// A stored blob as JSON: `{"text": …}` when it is UTF-8, else `{"base64": …}`.
fn blob(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!({ "text": s }),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// A TEXT column holding JSON: parsed when it parses, else kept as a string.
fn json_text(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::String(s))
}

fn rows(
    conn: &Connection,
    path: &Path,
    table: &str,
    sql: &str,
    f: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Value>,
) -> Result<Vec<Value>> {
    if !has_table(conn, table).map_err(db_err(path))? {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare(sql).map_err(db_err(path))?;
    st.query_map([], f)
        .and_then(|r| r.collect())
        .map_err(db_err(path))
}

/// The assistant's interaction log (emma-core's `touchpoints.sqlite`): one row per interaction,
/// no text, no audio.
fn interactions(layout: &crate::Layout) -> Result<Vec<Value>> {
    let Some(conn) = open_read(&layout.touchpoints)? else {
        return Ok(Vec::new());
    };
    rows(
        &conn,
        &layout.touchpoints,
        "touchpoints",
        "SELECT at_ms, channel, skill, brand, intent, outcome, latency_ms, handoff, satisfied \
         FROM touchpoints ORDER BY at_ms, rowid",
        |r| {
            Ok(json!({
                "at_ms": r.get::<_, i64>(0)?,
                "channel": r.get::<_, String>(1)?,
                "skill": r.get::<_, Option<String>>(2)?,
                "brand": r.get::<_, Option<String>>(3)?,
                "intent": r.get::<_, String>(4)?,
                "outcome": r.get::<_, String>(5)?,
                "latency_ms": r.get::<_, i64>(6)?,
                "handoff": r.get::<_, bool>(7)?,
                "satisfied": r.get::<_, Option<bool>>(8)?,
            }))
        },
    )
}

/// The handoffs to people the assistant made (emma-core's `handoffs.sqlite`): to whom, when, and
/// who answered (the transcript sent is in the outbox until the broker took it).
fn handoffs(layout: &crate::Layout) -> Result<Vec<Value>> {
    let Some(conn) = open_read(&layout.handoffs)? else {
        return Ok(Vec::new());
    };
    rows(
        &conn,
        &layout.handoffs,
        "handoffs",
        "SELECT id, brand, skill, created_ms, answered_ms, agent FROM handoffs ORDER BY created_ms, id",
        |r| {
            Ok(json!({
                "id": r.get::<_, String>(0)?,
                "brand": r.get::<_, String>(1)?,
                "skill": r.get::<_, Option<String>>(2)?,
                "created_ms": r.get::<_, i64>(3)?,
                "answered_ms": r.get::<_, Option<i64>>(4)?,
                "agent": r.get::<_, Option<String>>(5)?,
            }))
        },
    )
}

impl Privacy {
    /// Builds the export document at `now_ms` (see `docs/privacy.md`).
    pub fn export_document(&self, now_ms: u64) -> Result<Value> {
        let c = self.customer();
        let mut doc = Map::new();
        doc.insert("format".into(), json!(FORMAT));
        doc.insert("version".into(), json!(VERSION));
        doc.insert("exported_ms".into(), json!(now_ms));
        doc.insert("profile".into(), json!(c.profile_all()?));
        doc.insert("consents".into(), json!(c.consents(None)?));
        let mut retention = Map::new();
        for kind in ["transcripts", "audio", "device-usage", "touchpoints"] {
            let cat: crate::Category = kind.parse()?;
            retention.insert(kind.into(), json!(c.retention_secs(&cat)?));
        }
        doc.insert("retention_secs".into(), Value::Object(retention));
        doc.insert("transcripts".into(), json!(c.transcripts()?));
        let audio: Vec<Value> = c
            .audio()?
            .into_iter()
            .map(|(at, rate, bytes)| {
                json!({
                    "at_ms": at,
                    "sample_rate": rate,
                    "samples_i16le_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                })
            })
            .collect();
        doc.insert("audio".into(), Value::Array(audio));
        doc.insert("device_usage".into(), json!(c.usage()?));
        doc.insert("touchpoints".into(), json!(c.touchpoints()?));

        let layout = self.layout();
        // Orders and the skills' key-value stores (emma-skill-host's skills.db).
        let (mut orders, mut stores) = (Vec::new(), Map::new());
        if let Some(conn) = open_read(&layout.skills_db)? {
            let p = &layout.skills_db;
            orders = rows(
                &conn,
                p,
                "proposals",
                "SELECT id, skill, lines, note, state, created, decided FROM proposals ORDER BY id",
                |r| {
                    Ok(json!({
                        "id": r.get::<_, i64>(0)?.to_string(),
                        "skill": r.get::<_, String>(1)?,
                        "lines": json_text(r.get(2)?),
                        "note": r.get::<_, String>(3)?,
                        "state": r.get::<_, String>(4)?,
                        "created": r.get::<_, i64>(5)?,
                        "decided": r.get::<_, Option<i64>>(6)?,
                    }))
                },
            )?;
            for kv in rows(
                &conn,
                p,
                "kv",
                "SELECT skill, key, value FROM kv ORDER BY skill, key",
                |r| {
                    Ok(json!([
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        blob(&r.get::<_, Vec<u8>>(2)?)
                    ]))
                },
            )? {
                let (Some(skill), Some(key)) = (kv[0].as_str(), kv[1].as_str()) else {
                    continue;
                };
                let entry = stores.entry(skill.to_string()).or_insert_with(|| json!({}));
                entry[key] = kv[2].clone();
            }
        }
        doc.insert("orders".into(), Value::Array(orders));
        doc.insert("skill_stores".into(), Value::Object(stores));

        // Devices, areas, floors (emma-devices' registry) and pending commands (its outbox).
        let (mut devices, mut areas, mut floors) = (Vec::new(), Vec::new(), Vec::new());
        for path in &layout.device_dbs {
            let Some(conn) = open_read(path)? else {
                continue;
            };
            let body = |r: &rusqlite::Row<'_>| Ok(json_text(r.get(0)?));
            devices.extend(rows(
                &conn,
                path,
                "devices",
                "SELECT body FROM devices ORDER BY id",
                body,
            )?);
            areas.extend(rows(
                &conn,
                path,
                "areas",
                "SELECT body FROM areas ORDER BY id",
                body,
            )?);
            floors.extend(rows(
                &conn,
                path,
                "floors",
                "SELECT body FROM floors ORDER BY id",
                body,
            )?);
        }
        doc.insert("devices".into(), Value::Array(devices));
        doc.insert("areas".into(), Value::Array(areas));
        doc.insert("floors".into(), Value::Array(floors));
        let mut outbox = Vec::new();
        if let Some(conn) = open_read(&layout.outbox)? {
            outbox = rows(
                &conn,
                &layout.outbox,
                "outbox",
                "SELECT id, topic, payload, created_ms, expires_ms FROM outbox ORDER BY seq",
                |r| {
                    Ok(json!({
                        "id": r.get::<_, String>(0)?,
                        "topic": r.get::<_, String>(1)?,
                        "payload": blob(&r.get::<_, Vec<u8>>(2)?),
                        "created_ms": r.get::<_, i64>(3)?,
                        "expires_ms": r.get::<_, i64>(4)?,
                    }))
                },
            )?;
        }
        doc.insert("outbox".into(), Value::Array(outbox));
        doc.insert("interactions".into(), Value::Array(interactions(layout)?));
        doc.insert("handoffs".into(), Value::Array(handoffs(layout)?));

        doc.insert(
            "ledger".into(),
            json!({
                "verification": self.ledger().verify()?,
                "entries": self.ledger().entries(&Filter::default())?,
            }),
        );
        Ok(Value::Object(doc))
    }

    /// Writes the export document to `path` atomically and records the export
    /// in the ledger. On any error nothing is written and nothing changes.
    pub fn export(&self, path: &Path, now_ms: u64) -> Result<ExportSummary> {
        let fail = |reason: String| PrivacyError::Export {
            path: path.to_path_buf(),
            reason,
        };
        if path.is_dir() {
            return Err(fail("it is a directory; give a file name".into()));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(fail(format!("directory {} does not exist", dir.display())));
        }
        let doc = self.export_document(now_ms)?;
        let mut counts = std::collections::BTreeMap::new();
        if let Value::Object(m) = &doc {
            for (k, v) in m {
                match v {
                    Value::Array(a) => {
                        counts.insert(k.clone(), a.len());
                    }
                    Value::Object(o) if k != "retention_secs" && k != "ledger" => {
                        counts.insert(k.clone(), o.len());
                    }
                    _ => {}
                }
            }
            if let Some(Value::Array(e)) = m.get("ledger").and_then(|l| l.get("entries")) {
                counts.insert("ledger".into(), e.len());
            }
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".emma-export-")
            .tempfile_in(&dir)
            .map_err(|e| fail(format!("cannot create a file in {}: {e}", dir.display())))?;
        {
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            serde_json::to_writer_pretty(&mut w, &doc).map_err(|e| fail(e.to_string()))?;
            w.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
            w.flush().map_err(|e| fail(e.to_string()))?;
        }
        tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
        let bytes = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
        tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
        self.ledger().append(
            NewEntry::new(Action::Export, None, CUSTOMER, Reason::customer()),
            now_ms,
        )?;
        Ok(ExportSummary {
            path: path.to_path_buf(),
            bytes,
            counts,
        })
    }
}
