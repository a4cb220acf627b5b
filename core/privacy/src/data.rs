//! The customer data Emma itself keeps in `customer.sqlite`, and its expiry.
//!
//! These are the raw stores; [`crate::Privacy`] wraps them so every write is
//! also a ledger entry and audio is refused without an opt-in.

use crate::category::Category;
use crate::customer::CustomerDb;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::collections::BTreeMap;

/// One transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transcript {
    /// When it was heard (ms since the Unix epoch).
    pub at_ms: u64,
    /// What was heard.
    pub text: String,
    /// The intent it was understood as, if any.
    pub intent: Option<String>,
}

/// One device action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// Device id.
    pub device: String,
    /// What happened (`turn_on`, `state`…).
    pub action: String,
    /// Its value, if any.
    pub value: Option<String>,
    /// Who caused it (`customer`, a skill id, `device`).
    pub by: String,
}

/// How often a skill reached the customer on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Touchpoint {
    /// Skill id.
    pub skill: String,
    /// `reply`, `notification`, `proposal`, `event`…
    pub kind: String,
    /// Day number (days since the Unix epoch, UTC).
    pub day: u64,
    /// How many times.
    pub count: u64,
}

/// What one expiry run removed, per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expired {
    /// Rows removed per category name.
    pub removed: BTreeMap<String, u64>,
}

impl Expired {
    /// Total rows removed.
    pub fn total(&self) -> u64 {
        self.removed.values().sum()
    }
}

const DAY_MS: u64 = 86_400_000;

/// The categories that expire, with their table and time column.
const EXPIRING: [(Category, &str, &str); 4] = [
    (Category::Transcripts, "transcripts", "at_ms"),
    (Category::Audio, "audio", "at_ms"),
    (Category::DeviceUsage, "device_usage", "at_ms"),
    (Category::Touchpoints, "touchpoints", "day"),
];

impl CustomerDb {
    /// Sets a profile field.
    pub fn set_profile(&self, field: &str, value: &str, now_ms: u64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO profile (field, value, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (field) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                params![field, value, now_ms as i64],
            )
            .map(drop)
        })
    }

    /// A profile field, if set.
    pub fn profile(&self, field: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.prepare_cached("SELECT value FROM profile WHERE field = ?1")?
                .query_row(params![field], |r| r.get(0))
                .optional()
        })
    }

    /// Every profile field.
    pub fn profile_all(&self) -> Result<BTreeMap<String, String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT field, value FROM profile ORDER BY field")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })
    }

    /// Removes a profile field; whether it was set.
    pub fn clear_profile(&self, field: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM profile WHERE field = ?1", params![field]))
            .map(|n| n > 0)
    }

    /// Stores a transcript.
    pub fn add_transcript(&self, text: &str, intent: Option<&str>, at_ms: u64) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("INSERT INTO transcripts (at_ms, text, intent) VALUES (?1, ?2, ?3)")?
                .execute(params![at_ms as i64, text, intent])
                .map(drop)
        })
    }

    /// Stored transcripts, oldest first.
    pub fn transcripts(&self) -> Result<Vec<Transcript>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT at_ms, text, intent FROM transcripts ORDER BY at_ms, id")?;
            st.query_map([], |r| {
                Ok(Transcript {
                    at_ms: r.get::<_, i64>(0)?.max(0) as u64,
                    text: r.get(1)?,
                    intent: r.get(2)?,
                })
            })?
            .collect()
        })
    }

    /// Stores a recording (mono 16-bit samples); callers check the opt-in first.
    pub fn add_audio(&self, samples: &[i16], sample_rate: u32, at_ms: u64) -> Result<()> {
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.with(|c| {
            c.execute(
                "INSERT INTO audio (at_ms, sample_rate, samples) VALUES (?1, ?2, ?3)",
                params![at_ms as i64, sample_rate, bytes],
            )
            .map(drop)
        })
    }

    /// Stored recordings as (at_ms, sample rate, little-endian i16 bytes), oldest first.
    pub fn audio(&self) -> Result<Vec<(u64, u32, Vec<u8>)>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT at_ms, sample_rate, samples FROM audio ORDER BY at_ms, id")?;
            st.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
    }

    /// Records a device action.
    pub fn add_usage(&self, u: &Usage) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO device_usage (at_ms, device, action, value, by) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![u.at_ms as i64, u.device, u.action, u.value, u.by])
            .map(drop)
        })
    }

    /// Recorded device actions, oldest first.
    pub fn usage(&self) -> Result<Vec<Usage>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT at_ms, device, action, value, by FROM device_usage ORDER BY at_ms, id",
            )?;
            st.query_map([], |r| {
                Ok(Usage {
                    at_ms: r.get::<_, i64>(0)?.max(0) as u64,
                    device: r.get(1)?,
                    action: r.get(2)?,
                    value: r.get(3)?,
                    by: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Counts one touchpoint of `skill` of `kind` on the day of `at_ms`.
    pub fn count_touchpoint(&self, skill: &str, kind: &str, at_ms: u64) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO touchpoints (skill, kind, day, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (skill, kind, day) DO UPDATE SET count = count + 1",
            )?
            .execute(params![skill, kind, (at_ms / DAY_MS) as i64])
            .map(drop)
        })
    }

    /// Touchpoint statistics, by day then skill.
    pub fn touchpoints(&self) -> Result<Vec<Touchpoint>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT skill, kind, day, count FROM touchpoints ORDER BY day, skill, kind",
            )?;
            st.query_map([], |r| {
                Ok(Touchpoint {
                    skill: r.get(0)?,
                    kind: r.get(1)?,
                    day: r.get::<_, i64>(2)?.max(0) as u64,
                    count: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })?
            .collect()
        })
    }

    /// Sets how long `category` is kept (it must be one that expires).
    pub fn set_retention(&self, category: &Category, seconds: u64) -> Result<()> {
        if !category.expires() {
            return Err(crate::PrivacyError::Invalid {
                what: format!("retention for `{category}`"),
                reason: "only transcripts, audio, device-usage and touchpoints expire; other data is kept until erased".into(),
            });
        }
        self.with(|c| {
            c.execute(
                "INSERT INTO retention (category, seconds) VALUES (?1, ?2)
                 ON CONFLICT (category) DO UPDATE SET seconds = excluded.seconds",
                params![category.kind(), seconds as i64],
            )
            .map(drop)
        })
    }

    /// How long `category` is kept: the configured period, else its default.
    pub fn retention_secs(&self, category: &Category) -> Result<Option<u64>> {
        let set: Option<i64> = self.with(|c| {
            c.query_row(
                "SELECT seconds FROM retention WHERE category = ?1",
                params![category.kind()],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(set
            .map(|s| s.max(0) as u64)
            .or(category.default_retention_secs()))
    }

    /// Deletes every transcript, recording, device action and touchpoint older
    /// than its category's retention at `now_ms` (secure_delete zeroes the bytes).
    pub fn expire(&self, now_ms: u64) -> Result<Expired> {
        let mut out = Expired::default();
        for (category, table, column) in EXPIRING {
            let Some(secs) = self.retention_secs(&category)? else {
                continue;
            };
            let cutoff_ms = now_ms.saturating_sub(secs.saturating_mul(1000));
            let cutoff = if column == "day" {
                cutoff_ms / DAY_MS
            } else {
                cutoff_ms
            };
            let n = self.with(|c| {
                c.execute(
                    &format!("DELETE FROM {table} WHERE {column} < ?1"),
                    params![cutoff as i64],
                )
            })?;
            if n > 0 {
                out.removed.insert(category.kind().to_string(), n as u64);
            }
        }
        if out.total() > 0 && !self.with(crate::layout::truncate_wal)? {
            tracing::debug!(path = %self.path().display(), "WAL in use; expired rows leave it at the next expiry");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_expires_only_old_rows_and_is_configurable() {
        let dir = tempfile::tempdir().unwrap();
        let db = CustomerDb::open(&dir.path().join("customer.sqlite")).unwrap();
        let day = DAY_MS;
        let now = 400 * day;
        db.add_transcript("old", None, now - 31 * day).unwrap();
        db.add_transcript("new", Some("light.on"), now - 29 * day)
            .unwrap();
        db.add_audio(&[1, 2, 3], 16_000, now - 8 * day).unwrap();
        db.add_usage(&Usage {
            at_ms: now - 100 * day,
            device: "light.kitchen".into(),
            action: "turn_on".into(),
            value: None,
            by: "customer".into(),
        })
        .unwrap();
        db.count_touchpoint("coffee", "reply", now - 366 * day)
            .unwrap();
        db.count_touchpoint("coffee", "reply", now).unwrap();
        db.count_touchpoint("coffee", "reply", now).unwrap();
        db.set_profile("name", "Ada", now - 399 * day).unwrap();

        let e = db.expire(now).unwrap();
        assert_eq!(e.total(), 4, "{e:?}");
        assert_eq!(db.transcripts().unwrap().len(), 1);
        assert_eq!(db.transcripts().unwrap()[0].text, "new");
        assert!(db.audio().unwrap().is_empty());
        assert!(db.usage().unwrap().is_empty());
        assert_eq!(db.touchpoints().unwrap()[0].count, 2);
        assert_eq!(
            db.profile("name").unwrap().as_deref(),
            Some("Ada"),
            "profile never expires"
        );

        db.set_retention(&Category::Transcripts, 3600).unwrap();
        assert_eq!(db.expire(now).unwrap().removed.get("transcripts"), Some(&1));
        assert!(db.set_retention(&Category::Orders, 1).is_err());
    }
}
