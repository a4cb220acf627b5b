//! `emma bench privacy`: ledger append cost, export and erase time for a home
//! with 10,000 ledger entries and 1,000 orders, each against a baseline
//! measured in the same run on the same disk.
//!
//! Baselines: a plain SQLite insert of the same row with the same durability
//! (WAL, `synchronous=NORMAL`) but no hash chain, for the append; copying the
//! raw database files, for export; plain `DELETE`s without `secure_delete`,
//! `VACUUM` or WAL truncation, for erase.

use crate::data::Usage;
use crate::error::{Result, db_err};
use crate::layout::{Layout, now_ms};
use crate::ledger::{Action, NewEntry, Reason};
use crate::privacy::Privacy;
use crate::{Category, seed};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The size of the benchmark home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BenchConfig {
    /// Ledger entries before measuring.
    pub ledger_entries: usize,
    /// Order proposals in the skills' database.
    pub orders: usize,
    /// Timed ledger appends.
    pub appends: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            ledger_entries: 10_000,
            orders: 1_000,
            appends: 1_000,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    Percentiles {
        p50_us: at(0.5),
        p95_us: at(0.95),
        p99_us: at(0.99),
    }
}

/// The figures `emma bench privacy` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// The home measured.
    pub config: BenchConfig,
    /// Plain insert, same durability, no chain.
    pub baseline_insert: Percentiles,
    /// One ledger entry appended (hash chain, head read, commit).
    pub ledger_append: Percentiles,
    /// One utterance's entries appended one by one (transcript store, profile share, device usage store).
    pub utterance_3_appends: Percentiles,
    /// The same three entries in one transaction ([`crate::Ledger::append_all`]).
    pub utterance_batched: Percentiles,
    /// Export of the whole home (ms).
    pub export_ms: f64,
    /// Export file size (bytes).
    pub export_bytes: u64,
    /// Baseline: copying every database file (ms).
    pub copy_files_ms: f64,
    /// Erase of the whole home (ms).
    pub erase_ms: f64,
    /// Baseline: plain DELETEs, no secure_delete, VACUUM or WAL truncation (ms).
    pub plain_delete_ms: f64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "home: {} ledger entries, {} orders, {} timed appends",
            c.ledger_entries, c.orders, c.appends
        )?;
        let line = |f: &mut std::fmt::Formatter<'_>, name: &str, p: &Percentiles| {
            writeln!(
                f,
                "  {name:<34} p50 {:>8.1} µs  p95 {:>8.1} µs  p99 {:>8.1} µs  (p95 {:.2}x baseline)",
                p.p50_us,
                p.p95_us,
                p.p99_us,
                p.p95_us / self.baseline_insert.p95_us.max(0.001)
            )
        };
        line(f, "baseline: plain insert", &self.baseline_insert)?;
        line(f, "ledger append (1 entry)", &self.ledger_append)?;
        line(f, "utterance: 3 appends", &self.utterance_3_appends)?;
        line(f, "utterance: 3 entries, 1 commit", &self.utterance_batched)?;
        writeln!(
            f,
            "  target ledger cost per utterance ≤ 1 ms p95: {} ({:.3} ms)",
            if self.utterance_3_appends.p95_us <= 1000.0 {
                "met"
            } else {
                "NOT met"
            },
            self.utterance_3_appends.p95_us / 1000.0
        )?;
        writeln!(
            f,
            "  export: {:.1} ms, {} bytes  (baseline copy of the database files {:.1} ms: {:.1}x)",
            self.export_ms,
            self.export_bytes,
            self.copy_files_ms,
            self.export_ms / self.copy_files_ms.max(0.001)
        )?;
        write!(
            f,
            "  erase:  {:.1} ms  (baseline plain DELETEs {:.1} ms: {:.1}x)",
            self.erase_ms,
            self.plain_delete_ms,
            self.erase_ms / self.plain_delete_ms.max(0.001)
        )
    }
}

fn share_entry() -> NewEntry {
    NewEntry::new(
        Action::Share,
        Some(Category::Profile("name".into())),
        "coffee",
        Reason::intent("coffee.order"),
    )
    .consent(Some(1))
}

/// Builds a home under `dir` with `cfg`'s size.
fn build_home(dir: &Path, cfg: &BenchConfig) -> Result<Privacy> {
    let layout = Layout::in_dir(dir);
    let skills = ["coffee", "parcel"];
    seed::skills(&layout, &skills, cfg.orders / skills.len(), "bench")?;
    seed::devices(&layout, 100, "bench")?;
    let p = Privacy::open(layout)?;
    let now = now_ms();
    for i in 0..20 {
        p.customer()
            .set_profile(&format!("field{i}"), "bench value", now)?;
    }
    p.customer().with_mut(|c| {
        let tx = c.transaction()?;
        for i in 0..1_000 {
            tx.execute(
                "INSERT INTO transcripts (at_ms, text, intent) VALUES (?1, ?2, 'HassTurnOn')",
                rusqlite::params![now as i64, format!("turn on lamp {i}")],
            )?;
        }
        tx.commit()
    })?;
    let batch: Vec<NewEntry> = (0..500).map(|_| share_entry()).collect();
    for _ in 0..cfg.ledger_entries / batch.len() {
        p.ledger().append_all(&batch, now)?;
    }
    Ok(p)
}

fn elapsed_us(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// Runs the benchmark in `dir` (a scratch directory on the disk to measure).
pub fn run(dir: &Path, cfg: BenchConfig) -> Result<BenchReport> {
    let home = dir.join("home");
    let twin = dir.join("twin");
    let p = build_home(&home, &cfg)?;
    p.grant("emma", &Category::Audio, "bench", None, now_ms())?;

    // Baseline: the same row, same durability, no chain.
    let base_path = dir.join("baseline.sqlite");
    let base = seed::open_with(
        &base_path,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, action TEXT NOT NULL,
           category TEXT NOT NULL, field TEXT, party TEXT NOT NULL, reason TEXT NOT NULL, consent INTEGER, prev TEXT NOT NULL, hash TEXT NOT NULL);",
    )?;
    let mut baseline = Vec::with_capacity(cfg.appends);
    for _ in 0..cfg.appends {
        let t = Instant::now();
        base.execute(
            "INSERT INTO entries (at_ms, action, category, field, party, reason, consent, prev, hash) VALUES (1, 'share', 'profile', 'name', 'coffee', 'intent:coffee.order', 1, ?1, ?1)",
            [super::ledger::GENESIS],
        )
        .map_err(db_err(&base_path))?;
        baseline.push(elapsed_us(t));
    }

    let mut one = Vec::with_capacity(cfg.appends);
    for _ in 0..cfg.appends {
        let t = Instant::now();
        p.ledger().append(share_entry(), now_ms())?;
        one.push(elapsed_us(t));
    }
    let store =
        |c: Category| NewEntry::new(Action::Store, Some(c), "emma", Reason::intent("HassTurnOn"));
    let mut three = Vec::with_capacity(cfg.appends / 3);
    let mut batched = Vec::with_capacity(cfg.appends / 3);
    for _ in 0..cfg.appends / 3 {
        let t = Instant::now();
        p.ledger().append(store(Category::Transcripts), now_ms())?;
        p.ledger().append(share_entry(), now_ms())?;
        p.ledger()
            .append(store(Category::DeviceUsage).field("light.l1"), now_ms())?;
        three.push(elapsed_us(t));
        let t = Instant::now();
        p.ledger().append_all(
            &[
                store(Category::Transcripts),
                share_entry(),
                store(Category::DeviceUsage).field("light.l1"),
            ],
            now_ms(),
        )?;
        batched.push(elapsed_us(t));
    }
    // One stored usage row too, so export and erase see every store.
    p.record_usage(
        &Usage {
            at_ms: now_ms(),
            device: "light.l1".into(),
            action: "turn_on".into(),
            value: None,
            by: "customer".into(),
        },
        Reason::intent("HassTurnOn"),
    )?;

    // Export vs copying the files.
    let out = dir.join("export.json");
    let t = Instant::now();
    let summary = p.export(&out, now_ms())?;
    let export_ms = elapsed_us(t) / 1000.0;
    let copy_dir = dir.join("copy");
    std::fs::create_dir_all(&copy_dir).map_err(|source| crate::PrivacyError::Io {
        path: copy_dir.clone(),
        source,
    })?;
    let t = Instant::now();
    for (i, db) in p.layout().databases().iter().enumerate() {
        if db.is_file() {
            let to = copy_dir.join(format!("{i}.sqlite"));
            std::fs::copy(db, &to)
                .map_err(|source| crate::PrivacyError::Io { path: to, source })?;
        }
    }
    let copy_files_ms = elapsed_us(t) / 1000.0;

    // Erase vs plain deletes on an identical home.
    let q = build_home(&twin, &cfg)?;
    let t = Instant::now();
    q.customer().with(|c| {
        for table in crate::customer::DATA_TABLES {
            c.execute(&format!("DELETE FROM {table}"), [])?;
        }
        Ok(())
    })?;
    for (path, tables) in [
        (&q.layout().skills_db, &["kv", "proposals"][..]),
        (
            &q.layout().device_dbs[0],
            &["devices", "areas", "floors"][..],
        ),
        (&q.layout().outbox, &["outbox"][..]),
    ] {
        let c = rusqlite::Connection::open(path).map_err(db_err(path))?;
        for table in tables {
            c.execute(&format!("DELETE FROM {table}"), [])
                .map_err(db_err(path))?;
        }
    }
    let plain_delete_ms = elapsed_us(t) / 1000.0;
    let t = Instant::now();
    p.erase(now_ms())?;
    let erase_ms = elapsed_us(t) / 1000.0;

    Ok(BenchReport {
        config: cfg,
        baseline_insert: percentiles(baseline),
        ledger_append: percentiles(one),
        utterance_3_appends: percentiles(three),
        utterance_batched: percentiles(batched),
        export_ms,
        export_bytes: summary.bytes,
        copy_files_ms,
        erase_ms,
        plain_delete_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_on_a_small_home_and_leaves_it_erased() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BenchConfig {
            ledger_entries: 1_000,
            orders: 100,
            appends: 30,
        };
        let r = run(dir.path(), cfg).unwrap();
        assert!(r.ledger_append.p50_us > 0.0 && r.ledger_append.p95_us >= r.ledger_append.p50_us);
        assert!(r.export_bytes > 10_000, "{r:?}");
        let text = r.to_string();
        assert!(
            text.contains("x baseline") && text.contains("erase:"),
            "{text}"
        );
        let p = Privacy::open_dir(dir.path().join("home")).unwrap();
        assert!(p.customer().transcripts().unwrap().is_empty());
        println!("{r}");
    }
}
