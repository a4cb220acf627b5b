//! Touchpoints: one row per interaction in the home's store, aggregates for brands (with consent)
//! and insights for the customer.
//!
//! Every turn records a [`Touchpoint`] — channel, skill, intent, outcome, latency, whether it
//! ended in a handoff, satisfaction if it was asked — in `touchpoints.sqlite` in the data
//! directory (each row a `touchpoints` store in the privacy ledger, field: the skill). No text and
//! no audio are stored here.
//!
//! Only aggregates leave the home: [`report`] turns a brand's rows of a period into a
//! [`TouchpointReport`] (counts, failure and handoff counts, latency percentiles per skill and
//! intent), keeping only rows whose party — the skill, or `emma` for built-in and not-understood
//! requests — holds the customer's `touchpoints` consent; each report is a ledger share.
//! [`Insights`] is the customer's own view (`emma insights`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emma_devices::{Bus, OutboxCommand};
use emma_handoff::{IntentStats, Limits, PROTOCOL_VERSION, TouchpointReport, topic};
use emma_privacy::{Action, Category, EMMA, NewEntry, Privacy, Reason};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::conversation::Worker;
use super::error::AssistantError;
use super::event::{AssistantEvent, EventListener, Turn};
use super::intents::Handler;

/// The intent name of requests nothing understood.
pub const NOT_UNDERSTOOD: &str = "not-understood";

/// How long touchpoint rows are kept (the privacy policy's touchpoint retention).
pub const RETENTION: Duration = Duration::from_secs(365 * 24 * 3600);

const DAY_MS: u64 = 24 * 3600 * 1000;

/// How the customer reached Emma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// Typed text.
    Text,
    /// Speech.
    Voice,
}

/// How an interaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Understood and handled.
    Done,
    /// Not understood (no intent, or below the confidence threshold).
    NotUnderstood,
    /// Understood, but the skill or a device command failed or was refused.
    Failed,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Text => "text",
            Channel::Voice => "voice",
        }
    }
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::NotUnderstood => "not-understood",
            Outcome::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "not-understood" => Outcome::NotUnderstood,
            "failed" => Outcome::Failed,
            _ => Outcome::Done,
        }
    }
}

/// One interaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Touchpoint {
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Text or voice.
    pub channel: Channel,
    /// The skill that handled it (`None`: Emma's own intents, or nothing understood).
    pub skill: Option<String>,
    /// The brand the interaction counts for (`None`: Emma's home control, nobody's business).
    pub brand: Option<String>,
    /// The intent ([`NOT_UNDERSTOOD`] when none).
    pub intent: String,
    /// How it ended.
    pub outcome: Outcome,
    /// From the request to the reply, milliseconds.
    pub latency_ms: u32,
    /// Whether it ended in a handoff to a person.
    pub handoff: bool,
    /// The customer's answer when asked whether it helped.
    pub satisfied: Option<bool>,
}

/// The home's touchpoint store (`touchpoints.sqlite`).
#[derive(Debug)]
pub struct TouchpointStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl TouchpointStore {
    /// Opens (creating) the store in `data_dir`, removing rows past [`RETENTION`].
    pub fn open(data_dir: &Path) -> Result<TouchpointStore, AssistantError> {
        let path = data_dir.join("touchpoints.sqlite");
        let conn = Connection::open(&path).map_err(|e| db(&path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS touchpoints (
                 at_ms INTEGER NOT NULL,
                 channel TEXT NOT NULL,
                 skill TEXT,
                 brand TEXT,
                 intent TEXT NOT NULL,
                 outcome TEXT NOT NULL,
                 latency_ms INTEGER NOT NULL,
                 handoff INTEGER NOT NULL,
                 satisfied INTEGER
             );
             CREATE INDEX IF NOT EXISTS touchpoints_at ON touchpoints (at_ms);
             CREATE TABLE IF NOT EXISTS reports (brand TEXT PRIMARY KEY, until_ms INTEGER NOT NULL);",
        )
        .map_err(|e| db(&path, e))?;
        let cutoff = emma_privacy::now_ms().saturating_sub(RETENTION.as_millis() as u64);
        conn.execute(
            "DELETE FROM touchpoints WHERE at_ms < ?1",
            params![cutoff as i64],
        )
        .map_err(|e| db(&path, e))?;
        Ok(TouchpointStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores one interaction.
    pub fn record(&self, t: &Touchpoint) -> Result<(), AssistantError> {
        self.lock()
            .execute(
                "INSERT INTO touchpoints (at_ms, channel, skill, brand, intent, outcome, latency_ms, handoff, satisfied)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    t.at_ms as i64,
                    t.channel.as_str(),
                    t.skill,
                    t.brand,
                    t.intent,
                    t.outcome.as_str(),
                    t.latency_ms,
                    t.handoff,
                    t.satisfied
                ],
            )
            .map(drop)
            .map_err(|e| db(&self.path, e))
    }

    /// The customer's answer to "did that help?" for the latest interaction; `false` when there is none.
    pub fn rate_latest(&self, positive: bool) -> Result<bool, AssistantError> {
        self.lock()
            .execute(
                "UPDATE touchpoints SET satisfied = ?1 WHERE rowid = (SELECT max(rowid) FROM touchpoints)",
                params![positive],
            )
            .map(|n| n == 1)
            .map_err(|e| db(&self.path, e))
    }

    /// Interactions from `start_ms` (inclusive) to `end_ms` (exclusive), oldest first.
    pub fn between(&self, start_ms: u64, end_ms: u64) -> Result<Vec<Touchpoint>, AssistantError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(
                "SELECT at_ms, channel, skill, brand, intent, outcome, latency_ms, handoff, satisfied
                 FROM touchpoints WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, rowid",
            )
            .map_err(|e| db(&self.path, e))?;
        st.query_map(params![start_ms as i64, end_ms as i64], |r| {
            Ok(Touchpoint {
                at_ms: r.get::<_, i64>(0)?.max(0) as u64,
                channel: if r.get::<_, String>(1)? == "voice" {
                    Channel::Voice
                } else {
                    Channel::Text
                },
                skill: r.get(2)?,
                brand: r.get(3)?,
                intent: r.get(4)?,
                outcome: Outcome::parse(&r.get::<_, String>(5)?),
                latency_ms: r.get(6)?,
                handoff: r.get(7)?,
                satisfied: r.get(8)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db(&self.path, e))
    }

    /// Brands with interactions, and where their last report ended.
    fn brands(&self) -> Result<Vec<(String, Option<u64>)>, AssistantError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT DISTINCT t.brand, r.until_ms FROM touchpoints t
                 LEFT JOIN reports r ON r.brand = t.brand WHERE t.brand IS NOT NULL ORDER BY t.brand",
            )
            .map_err(|e| db(&self.path, e))?;
        st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db(&self.path, e))
    }

    fn reported(&self, brand: &str, until_ms: u64) -> Result<(), AssistantError> {
        self.lock()
            .execute(
                "INSERT INTO reports (brand, until_ms) VALUES (?1, ?2)
                 ON CONFLICT (brand) DO UPDATE SET until_ms = excluded.until_ms",
                params![brand, until_ms as i64],
            )
            .map(drop)
            .map_err(|e| db(&self.path, e))
    }
}

fn db(path: &Path, e: rusqlite::Error) -> AssistantError {
    AssistantError::Config {
        field: format!("touchpoint store ({})", path.display()),
        reason: e.to_string(),
    }
}

/// The `p`-th percentile (nearest rank) of sorted values; 0 when empty.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Aggregates per (skill, intent), most frequent first.
pub fn aggregate(rows: &[Touchpoint]) -> Vec<IntentStats> {
    let mut groups: BTreeMap<(Option<String>, String), Vec<&Touchpoint>> = BTreeMap::new();
    for t in rows {
        groups
            .entry((t.skill.clone(), t.intent.clone()))
            .or_default()
            .push(t);
    }
    let mut out: Vec<IntentStats> = groups
        .into_iter()
        .map(|((skill, intent), ts)| {
            let mut lat: Vec<u32> = ts.iter().map(|t| t.latency_ms).collect();
            lat.sort_unstable();
            IntentStats {
                skill,
                intent,
                count: ts.len() as u64,
                failures: ts.iter().filter(|t| t.outcome != Outcome::Done).count() as u64,
                handoffs: ts.iter().filter(|t| t.handoff).count() as u64,
                latency_p50_ms: percentile(&lat, 50.0),
                latency_p95_ms: percentile(&lat, 95.0),
                latency_p99_ms: percentile(&lat, 99.0),
                satisfaction_asked: ts.iter().filter(|t| t.satisfied.is_some()).count() as u64,
                satisfaction_positive: ts.iter().filter(|t| t.satisfied == Some(true)).count()
                    as u64,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.intent.cmp(&b.intent)));
    out
}

/// The report for `brand` over `rows` (already of the period), with only the rows whose party
/// consented to touchpoint statistics at `now_ms` (each such party's share is recorded in the
/// ledger). `None`: nothing consented.
pub fn report(
    privacy: &Privacy,
    home: &str,
    brand: &str,
    rows: &[Touchpoint],
    period: (u64, u64),
    now_ms: u64,
) -> Result<Option<TouchpointReport>, AssistantError> {
    let id = format!("tp-{}", emma_devices::outbox::new_command_id());
    let mut allowed: BTreeMap<String, bool> = BTreeMap::new();
    let mut kept = Vec::new();
    for t in rows.iter().filter(|t| t.brand.as_deref() == Some(brand)) {
        let party = t.skill.clone().unwrap_or_else(|| EMMA.to_string());
        let ok = *allowed
            .entry(party.clone())
            .or_insert_with(|| privacy.allows(&party, &Category::Touchpoints, now_ms));
        if ok {
            kept.push(t.clone());
        }
    }
    if kept.is_empty() {
        return Ok(None);
    }
    for (party, _) in allowed.iter().filter(|(_, ok)| **ok) {
        let shared = privacy
            .record_share(
                party,
                &Category::Touchpoints,
                Some(brand),
                Reason::other(format!("touchpoint-report:{id}")),
                now_ms,
            )
            .map_err(|e| AssistantError::Config {
                field: "privacy ledger".into(),
                reason: e.to_string(),
            })?;
        if shared.is_none() {
            // Revoked between the check and the share: send nothing rather than too much.
            return Ok(None);
        }
    }
    let mut stats = aggregate(&kept);
    stats.truncate(Limits::default().max_stats);
    Ok(Some(TouchpointReport {
        v: PROTOCOL_VERSION,
        id,
        home: home.to_string(),
        brand: brand.to_string(),
        period_start_ms: period.0,
        period_end_ms: period.1.max(period.0 + 1),
        stats,
    }))
}

/// Reports every brand's interactions since its last report, through the outbox to
/// `emma/desk/{brand}/touchpoints`; returns what was sent. A brand without consent gets nothing
/// (and that period is never sent later).
pub(crate) async fn publish_reports(
    bus: &Bus,
    store: &TouchpointStore,
    privacy: &Privacy,
    home: &str,
    ttl: Duration,
) -> Result<Vec<TouchpointReport>, AssistantError> {
    let now = emma_privacy::now_ms();
    let end = now + 1;
    let mut sent = Vec::new();
    for (brand, since) in store.brands()? {
        let start = since.unwrap_or(0);
        if start >= end {
            continue;
        }
        let rows = store.between(start, end)?;
        match report(privacy, home, &brand, &rows, (start, end), now)? {
            Some(r) => {
                let payload = emma_handoff::encode(&r, &Limits::default()).map_err(|e| {
                    AssistantError::Config {
                        field: "touchpoint report".into(),
                        reason: e.to_string(),
                    }
                })?;
                bus.send_command(OutboxCommand::with_id(
                    r.id.clone(),
                    topic::touchpoints(&brand),
                    payload,
                    ttl,
                ))
                .await?;
                tracing::info!(%brand, rows = r.stats.len(), "touchpoint aggregates reported");
                sent.push(r);
            }
            None => {
                tracing::info!(%brand, "touchpoints not reported: no consent for touchpoint statistics");
            }
        }
        store.reported(&brand, end)?;
    }
    Ok(sent)
}

/// Notices, between a turn's start and end, whether anything in it failed (a skill or device
/// error, a refused command). Turns run on the worker thread one at a time.
#[derive(Debug, Default)]
pub(crate) struct TurnWatch {
    failed: AtomicBool,
}

impl EventListener for TurnWatch {
    fn on_event(&self, event: &AssistantEvent) {
        let failed = match event {
            AssistantEvent::Error { stage, .. } => stage == "skill" || stage == "device",
            AssistantEvent::CommandRefused { .. } => true,
            _ => false,
        };
        if failed {
            self.failed.store(true, Ordering::Relaxed);
        }
    }
}

/// The worker's recorder: the store and the watch.
pub(crate) struct Recorder {
    pub store: Arc<TouchpointStore>,
    pub watch: Arc<TurnWatch>,
    pub started: Instant,
}

impl Recorder {
    pub fn new(store: Arc<TouchpointStore>, watch: Arc<TurnWatch>) -> Recorder {
        Recorder {
            store,
            watch,
            started: Instant::now(),
        }
    }

    /// A turn starts now.
    pub fn begin(&mut self, now: Instant) {
        self.started = now;
        self.watch.failed.store(false, Ordering::Relaxed);
    }
}

impl Worker {
    /// Records the touchpoint of a finished turn.
    pub(crate) fn record_touchpoint(&mut self, turn: &Turn, voice: bool) {
        let missed = self.handoffs.missed();
        let handoff = self.handoffs.made();
        let intent = match (&turn.intent, &turn.handled_by) {
            (Some(i), _) => i.name.clone(),
            (None, _) if missed => NOT_UNDERSTOOD.into(),
            (None, Some(h)) => h.clone(),
            (None, None) => "none".into(),
        };
        let asked = matches!(self.routes.handlers.get(&intent), Some(Handler::Handoff));
        let skill = match self.routes.handlers.get(&intent) {
            Some(Handler::Skill(id)) => Some(id.clone()),
            // A request for a person counts for the brand it went to.
            Some(Handler::Handoff) => self.handoffs.talking_to().map(String::from),
            _ => None,
        };
        let brand = if skill.is_some() || missed || handoff || asked {
            Some(self.handoffs.brand_for(skill.as_deref()))
        } else {
            None
        };
        let outcome = if missed {
            Outcome::NotUnderstood
        } else if self.touch.watch.failed.load(Ordering::Relaxed) {
            Outcome::Failed
        } else {
            Outcome::Done
        };
        let t = Touchpoint {
            at_ms: emma_privacy::now_ms(),
            channel: if voice { Channel::Voice } else { Channel::Text },
            skill,
            brand,
            intent,
            outcome,
            latency_ms: self
                .touch
                .started
                .elapsed()
                .as_millis()
                .min(u32::MAX as u128) as u32,
            handoff,
            satisfied: None,
        };
        if let Err(e) = self.touch.store.record(&t) {
            tracing::warn!(error = %e, "touchpoint not recorded");
            return;
        }
        // The row holds no text, but it is data about the customer: a ledger store like any other.
        let reason = if missed {
            Reason::other("utterance")
        } else {
            Reason::intent(&t.intent)
        };
        let mut entry = NewEntry::new(Action::Store, Some(Category::Touchpoints), EMMA, reason);
        entry.field = t.skill.clone();
        if let Err(e) = self.privacy.ledger().append(entry, t.at_ms) {
            tracing::warn!(error = %e, "touchpoint store not in the ledger");
        }
    }
}

/// One row of [`Insights::top`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentInsight {
    /// The skill (`None`: Emma's own).
    pub skill: Option<String>,
    /// The intent.
    pub intent: String,
    /// Interactions.
    pub count: u64,
    /// Share that failed or was not understood, 0..=1.
    pub failure_rate: f64,
    /// Share that ended in a handoff, 0..=1.
    pub handoff_rate: f64,
    /// Latency percentiles, milliseconds.
    pub latency_p50_ms: u32,
    /// 95th percentile.
    pub latency_p95_ms: u32,
    /// 99th percentile.
    pub latency_p99_ms: u32,
}

/// One day of [`Insights::trend`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// Start of the day (UTC), milliseconds since the Unix epoch.
    pub day_start_ms: u64,
    /// Interactions.
    pub count: u64,
    /// Failed or not understood.
    pub failures: u64,
    /// Handed off.
    pub handoffs: u64,
}

/// The customer's view of their touchpoints over a period (`emma insights`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    /// Start of the period.
    pub period_start_ms: u64,
    /// End of the period (exclusive).
    pub period_end_ms: u64,
    /// Interactions.
    pub total: u64,
    /// Share that failed or was not understood.
    pub failure_rate: f64,
    /// Share handed to a person.
    pub handoff_rate: f64,
    /// Latency percentiles over everything, milliseconds.
    pub latency_p50_ms: u32,
    /// 95th percentile.
    pub latency_p95_ms: u32,
    /// 99th percentile.
    pub latency_p99_ms: u32,
    /// Intents by frequency.
    pub top: Vec<IntentInsight>,
    /// Every day of the period, oldest first.
    pub trend: Vec<Day>,
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Insights {
    /// Insights over the `days` days before `now_ms` from the store in `data_dir` (nothing recorded yet: all zero).
    pub fn load(data_dir: &Path, days: u32, now_ms: u64) -> Result<Insights, AssistantError> {
        let days = days.max(1) as u64;
        let end = (now_ms / DAY_MS + 1) * DAY_MS;
        let start = end.saturating_sub(days * DAY_MS);
        if !data_dir.join("touchpoints.sqlite").exists() {
            return Ok(Insights::from_rows(&[], start, end));
        }
        let store = TouchpointStore::open(data_dir)?;
        Ok(Insights::from_rows(&store.between(start, end)?, start, end))
    }

    /// Insights over `rows`, which lie in `start..end`.
    pub fn from_rows(rows: &[Touchpoint], start: u64, end: u64) -> Insights {
        let total = rows.len() as u64;
        let failures = rows.iter().filter(|t| t.outcome != Outcome::Done).count() as u64;
        let handoffs = rows.iter().filter(|t| t.handoff).count() as u64;
        let mut lat: Vec<u32> = rows.iter().map(|t| t.latency_ms).collect();
        lat.sort_unstable();
        let top = aggregate(rows)
            .into_iter()
            .map(|s| IntentInsight {
                failure_rate: rate(s.failures, s.count),
                handoff_rate: rate(s.handoffs, s.count),
                skill: s.skill,
                intent: s.intent,
                count: s.count,
                latency_p50_ms: s.latency_p50_ms,
                latency_p95_ms: s.latency_p95_ms,
                latency_p99_ms: s.latency_p99_ms,
            })
            .collect();
        let mut trend: Vec<Day> = (start / DAY_MS..end.div_ceil(DAY_MS))
            .map(|d| Day {
                day_start_ms: d * DAY_MS,
                count: 0,
                failures: 0,
                handoffs: 0,
            })
            .collect();
        for t in rows {
            let i = (t.at_ms / DAY_MS).saturating_sub(start / DAY_MS) as usize;
            if let Some(d) = trend.get_mut(i) {
                d.count += 1;
                d.failures += u64::from(t.outcome != Outcome::Done);
                d.handoffs += u64::from(t.handoff);
            }
        }
        Insights {
            period_start_ms: start,
            period_end_ms: end,
            total,
            failure_rate: rate(failures, total),
            handoff_rate: rate(handoffs, total),
            latency_p50_ms: percentile(&lat, 50.0),
            latency_p95_ms: percentile(&lat, 95.0),
            latency_p99_ms: percentile(&lat, 99.0),
            top,
            trend,
        }
    }

    /// A terminal report: totals, the top intents, and the daily trend as sparklines.
    pub fn render(&self, top: usize) -> String {
        use std::fmt::Write;
        let days = self.trend.len();
        let mut s = String::new();
        if self.total == 0 {
            let _ = writeln!(
                s,
                "No interactions in the last {days} days. Talk to Emma (emma run) and come back."
            );
            return s;
        }
        let _ = writeln!(
            s,
            "Last {days} days: {} interactions, {:.1}% failed or not understood, {:.1}% handed to a person",
            self.total,
            self.failure_rate * 100.0,
            self.handoff_rate * 100.0
        );
        let _ = writeln!(
            s,
            "Latency: p50 {} ms, p95 {} ms, p99 {} ms\n",
            self.latency_p50_ms, self.latency_p95_ms, self.latency_p99_ms
        );
        let _ = writeln!(
            s,
            "{:<28} {:<24} {:>6} {:>7} {:>8} {:>7} {:>7} {:>7}",
            "intent", "skill", "count", "failed", "handoff", "p50 ms", "p95 ms", "p99 ms"
        );
        for i in self.top.iter().take(top) {
            let _ = writeln!(
                s,
                "{:<28} {:<24} {:>6} {:>6.1}% {:>7.1}% {:>7} {:>7} {:>7}",
                emma_untrusted::line(&i.intent, 28),
                emma_untrusted::line(i.skill.as_deref().unwrap_or("emma"), 24),
                i.count,
                i.failure_rate * 100.0,
                i.handoff_rate * 100.0,
                i.latency_p50_ms,
                i.latency_p95_ms,
                i.latency_p99_ms
            );
        }
        if self.top.len() > top {
            let _ = writeln!(s, "… and {} more (--top N)", self.top.len() - top);
        }
        let counts: Vec<u64> = self.trend.iter().map(|d| d.count).collect();
        let fails: Vec<u64> = self.trend.iter().map(|d| d.failures).collect();
        let hands: Vec<u64> = self.trend.iter().map(|d| d.handoffs).collect();
        let _ = writeln!(s, "\nTrend, one column per day (oldest left):");
        let _ = writeln!(
            s,
            "  interactions {}  (max {})",
            sparkline(&counts),
            counts.iter().max().unwrap_or(&0)
        );
        let _ = writeln!(
            s,
            "  failed       {}  (max {})",
            sparkline(&fails),
            fails.iter().max().unwrap_or(&0)
        );
        let _ = writeln!(
            s,
            "  handed off   {}  (max {})",
            sparkline(&hands),
            hands.iter().max().unwrap_or(&0)
        );
        s
    }
}

/// One block character per value, scaled to the largest (`·` for zero).
pub fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                '·'
            } else {
                BARS[((v * 8).div_ceil(max) as usize).clamp(1, 8) - 1]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(
        intent: &str,
        skill: Option<&str>,
        latency: u32,
        outcome: Outcome,
        handoff: bool,
    ) -> Touchpoint {
        Touchpoint {
            at_ms: 5 * DAY_MS + 10,
            channel: Channel::Text,
            skill: skill.map(String::from),
            brand: Some("acme".into()),
            intent: intent.into(),
            outcome,
            latency_ms: latency,
            handoff,
            satisfied: None,
        }
    }

    #[test]
    fn aggregates_count_rates_and_percentiles_per_skill_and_intent() {
        let mut rows: Vec<Touchpoint> = (1..=100)
            .map(|ms| tp("Brew", Some("coffee"), ms, Outcome::Done, false))
            .collect();
        rows.push(tp(NOT_UNDERSTOOD, None, 7, Outcome::NotUnderstood, false));
        rows.push(tp(NOT_UNDERSTOOD, None, 9, Outcome::NotUnderstood, true));
        let stats = aggregate(&rows);
        assert_eq!(stats.len(), 2);
        let brew = &stats[0];
        assert_eq!((brew.count, brew.failures, brew.handoffs), (100, 0, 0));
        assert_eq!(
            (
                brew.latency_p50_ms,
                brew.latency_p95_ms,
                brew.latency_p99_ms
            ),
            (50, 95, 99)
        );
        let nu = &stats[1];
        assert_eq!((nu.count, nu.failures, nu.handoffs), (2, 2, 1));
        assert_eq!((nu.latency_p50_ms, nu.latency_p99_ms), (7, 9));
        let i = Insights::from_rows(&rows, 3 * DAY_MS, 6 * DAY_MS);
        assert_eq!(i.trend.len(), 3);
        assert_eq!(i.trend[2].count, 102);
        assert!((i.handoff_rate - 1.0 / 102.0).abs() < 1e-9);
        let text = i.render(5);
        assert!(text.contains("Brew") && text.contains("··█"), "{text}");
    }

    #[test]
    fn sparklines_scale_to_the_largest_value() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), "·▁▄█");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn a_store_round_trips_and_a_report_needs_consent() {
        let dir = tempfile::tempdir().unwrap();
        let store = TouchpointStore::open(dir.path()).unwrap();
        let now = emma_privacy::now_ms();
        let mut t = tp(NOT_UNDERSTOOD, None, 12, Outcome::NotUnderstood, true);
        t.at_ms = now;
        store.record(&t).unwrap();
        assert_eq!(store.between(now, now + 1).unwrap(), [t.clone()]);
        assert!(store.rate_latest(true).unwrap());
        let rated = store.between(now, now + 1).unwrap();
        assert_eq!(rated[0].satisfied, Some(true));
        let s = &aggregate(&rated)[0];
        assert_eq!((s.satisfaction_asked, s.satisfaction_positive), (1, 1));
        t.satisfied = Some(true);
        let privacy = Privacy::open_dir(dir.path()).unwrap();
        let rows = store.between(0, now + 1).unwrap();
        assert!(
            report(&privacy, "home-1", "acme", &rows, (0, now + 1), now)
                .unwrap()
                .is_none()
        );
        privacy
            .grant(
                EMMA,
                &Category::Touchpoints,
                "help the brand improve",
                None,
                now,
            )
            .unwrap();
        let r = report(&privacy, "home-1", "acme", &rows, (0, now + 1), now)
            .unwrap()
            .unwrap();
        assert_eq!(r.stats.len(), 1);
        emma_handoff::encode(&r, &Limits::default()).unwrap();
        assert!(
            report(&privacy, "home-1", "other", &rows, (0, now + 1), now)
                .unwrap()
                .is_none()
        );
    }
}
