//! Per-call overhead of the bindings: a trivial call (`is_running`), a trivial
//! async call (`start` on a started assistant: in the bindings a `suspend`
//! call completed from another thread, like `process_text`) and
//! `process_text`, from Rust (the core assistant, the baseline), Kotlin and
//! Python, measured in one run; prints each cost (`process_text`: the mean and
//! the median, which a loaded machine disturbs less) and the foreign minus Rust
//! difference (target: at most 20 µs above Rust), plus the peak memory of the
//! Kotlin and Python processes. Kotlin runs twice: on the JVM's defaults and
//! with a capped young generation ([`KOTLIN_YOUNG_GEN`]); see `bindings/README.md`
//! for where the Kotlin time goes. Last, for each language, the generated
//! code's own work in a `processTextBlocking` call, each part timed alone
//! (the handle clone and call, lowering the sentence, reading the `Turn`),
//! next to the measured difference.
//!
//! The assistants' data directories live in memory (`/dev/shm` where it
//! exists, else `EMMA_BENCH_DIR` or the system's temp dir): each `process_text`
//! turn commits the ledger and the outbox to SQLite, and on a disk each commit
//! waits for an `fsync` whose latency (milliseconds on a VM disk, varying from
//! turn to turn) would hide a difference of microseconds. On tmpfs an `fsync`
//! returns at once and the turn is the same CPU work in every language.
//! `EMMA_BENCH_DIR=DIR` puts them on DIR instead, to see the durable turn.
//!
//! The foreign `processText` is a `suspend`/`async` call, so its baseline is
//! the core's `process_text_async` awaited on a current-thread tokio runtime;
//! `processTextBlocking` (called from the benchmark's thread, as a worker
//! thread would) is compared with the blocking `process_text`. The Rust baseline runs
//! before and after the foreign programs; each cost is compared with the lower
//! of the two, so that a load change on a shared
//! machine shows up as the gap between them rather than as binding overhead.
//!
//! `cargo bench -p emma-bindings --bench ffi_overhead` (needs `scripts/setup` for kotlinc).

#[path = "../tests/support/mod.rs"]
mod support;

use emma_core::assistant::{Assistant, AssistantConfig};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use support::*;

const TRIVIAL: u32 = 200_000;
const TEXTS: u32 = 300;
const SENTENCE: &str = "turn on the kitchen lamp";
/// JVM options of the second Kotlin run: a small young generation, so
/// garbage collection runs often enough for JNA's cleaner to free the native
/// memory of the call-status structures uniffi's generated code allocates on
/// every call (two per method call with JNA 5.13). Without it the JVM sizes the
/// young generation from the machine's memory, collects rarely, and JNA's
/// table of live native allocations grows to millions of entries.
const KOTLIN_YOUNG_GEN: &[&str] = &["-Xmn16m"];

/// `key=value` pairs from a bench program's last line.
fn parse(out: &[u8]) -> HashMap<String, f64> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().last().unwrap_or_default();
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.parse().unwrap_or_else(|_| panic!("bad number in {line}")),
            )
        })
        .collect()
}

/// What one Rust run measured, in nanoseconds.
#[derive(Clone, Copy)]
struct RustCosts {
    /// Mean of the trivial call.
    trivial: f64,
    /// Mean of `start` on a started assistant.
    start_again: f64,
    /// `process_text`'s mean and median (the blocking call).
    text: f64,
    text_median: f64,
    /// `process_text_async`'s mean and median, awaited on a current-thread
    /// tokio runtime: what an async Rust app pays, the baseline of the foreign
    /// `suspend`/`async` calls.
    text_async: f64,
    text_async_median: f64,
}

impl RustCosts {
    /// The lower of two runs' figures, each on its own.
    fn lower(self, other: Self) -> Self {
        Self {
            trivial: self.trivial.min(other.trivial),
            start_again: self.start_again.min(other.start_again),
            text: self.text.min(other.text),
            text_median: self.text_median.min(other.text_median),
            text_async: self.text_async.min(other.text_async),
            text_async_median: self.text_async_median.min(other.text_async_median),
        }
    }
}

/// Mean and median of `n` timed runs of `f`, in nanoseconds.
fn mean_median(n: u32, mut f: impl FnMut()) -> (f64, f64) {
    let mut each: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    let mean = each.iter().sum::<f64>() / f64::from(n);
    each.sort_by(f64::total_cmp);
    (mean, each[each.len() / 2])
}

/// The Rust baseline: the core assistant called directly.
fn rust(dir: &Path) -> RustCosts {
    let mut config = AssistantConfig::new(dir, "en");
    config.load_skills = false;
    let a = Assistant::new(config).expect("assistant");
    a.start().expect("start");
    let mut running = 0u32;
    for _ in 0..TRIVIAL {
        running += u32::from(std::hint::black_box(&a).is_running());
    }
    let t = Instant::now();
    for _ in 0..TRIVIAL {
        running += u32::from(std::hint::black_box(&a).is_running());
    }
    let trivial = t.elapsed().as_nanos() as f64 / f64::from(TRIVIAL);
    assert_eq!(running, 2 * TRIVIAL);
    let t = Instant::now();
    for _ in 0..TEXTS * 10 {
        a.start().expect("start again");
    }
    let start_again = t.elapsed().as_nanos() as f64 / f64::from(TEXTS * 10);
    for _ in 0..TEXTS / 10 + 1 {
        a.process_text(SENTENCE).expect("process_text");
    }
    let (text, text_median) = mean_median(TEXTS, || {
        a.process_text(SENTENCE).expect("process_text");
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (text_async, text_async_median) = mean_median(TEXTS, || {
        rt.block_on(a.process_text_async(SENTENCE))
            .expect("process_text_async");
    });
    a.stop().expect("stop");
    RustCosts {
        trivial,
        start_again,
        text,
        text_median,
        text_async,
        text_async_median,
    }
}

/// One foreign program's figures over the rounds.
#[derive(Default)]
struct Runs(Vec<HashMap<String, f64>>);

impl Runs {
    fn add(&mut self, run: HashMap<String, f64>) {
        self.0.push(run);
    }

    /// Each figure's lowest value over the rounds (peak memory: the highest).
    fn best(&self) -> HashMap<String, f64> {
        let mut best = HashMap::new();
        for run in &self.0 {
            for (k, &v) in run {
                let keep_max = k.starts_with("peak_");
                best.entry(k.clone())
                    .and_modify(|b: &mut f64| *b = if keep_max { b.max(v) } else { b.min(v) })
                    .or_insert(v);
            }
        }
        best
    }
}

/// Where the data directories go: `EMMA_BENCH_DIR`, else `/dev/shm` (memory),
/// else the system's temp dir.
fn bench_root() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_BENCH_DIR") {
        return dir.into();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn main() {
    let root = bench_root();
    let tmp = tempfile::Builder::new()
        .prefix("emma-ffi-bench")
        .tempdir_in(&root)
        .unwrap_or_else(|e| panic!("temp dir in {}: {e}", root.display()));
    let args = |sub: &str| {
        let d = tmp.path().join(sub);
        vec![
            d.display().to_string(),
            TRIVIAL.to_string(),
            TEXTS.to_string(),
            SENTENCE.to_string(),
        ]
    };
    let jar = kotlin_jar(
        "tests",
        &[
            crate_dir().join("tests/kotlin"),
            repo().join("examples/kotlin"),
        ],
    );

    let kotlin_run = |sub: &str, options: &[&str]| {
        parse(
            &run_ok(
                java_with(&jar, "emma.tests.BenchMain", options).args(args(sub)),
                "kotlin bench",
            )
            .stdout,
        )
    };
    let python_run = |sub: &str| {
        parse(
            &run_ok(
                support::python(&crate_dir().join("tests/python/bench.py")).args(args(sub)),
                "python bench",
            )
            .stdout,
        )
    };
    // Rounds of Rust, Kotlin (the JVM as it comes, then with the young
    // generation capped: see the module docs), Python, and Rust once more at
    // the end; each figure is the lowest of its rounds (peak memory: the
    // highest).
    let rounds: u32 = std::env::var("EMMA_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(3);
    let mut rust_runs = Vec::new();
    let (mut kotlin, mut kotlin_young, mut python) =
        (Runs::default(), Runs::default(), Runs::default());
    for round in 0..rounds {
        rust_runs.push(rust(&tmp.path().join(format!("rust-{round}"))));
        kotlin.add(kotlin_run(&format!("kotlin-{round}"), &[]));
        kotlin_young.add(kotlin_run(
            &format!("kotlin-young-{round}"),
            KOTLIN_YOUNG_GEN,
        ));
        python.add(python_run(&format!("python-{round}")));
    }
    rust_runs.push(rust(&tmp.path().join("rust-last")));
    let base = rust_runs
        .iter()
        .copied()
        .reduce(RustCosts::lower)
        .expect("at least one run");
    let (kotlin, kotlin_young, python) = (kotlin.best(), kotlin_young.best(), python.best());

    println!(
        "per-call cost, lowest of {rounds} rounds ({TRIVIAL} trivial calls, {} start calls, {TEXTS} processText calls of {SENTENCE:?}; data in {}):",
        TEXTS * 10,
        root.display()
    );
    let medians = |f: fn(&RustCosts) -> f64| {
        rust_runs
            .iter()
            .map(|r| format!("{:.1}", f(r) / 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "rust runs (µs): process_text median {}; process_text_async median {}",
        medians(|r| r.text_median),
        medians(|r| r.text_async_median)
    );
    println!(
        "{:<28} {:>12} {:>12} {:>14} {:>12} {:>14} {:>14} {:>14}",
        "call",
        "rust",
        "kotlin",
        "kotlin -Xmn16m",
        "python",
        "kotlin-rust",
        "-Xmn16m - rust",
        "python-rust"
    );
    // The foreign processText is async: its baseline is the async Rust call;
    // processTextBlocking's is the blocking one.
    for (name, key, base) in [
        ("isRunning (trivial)", "trivial_ns", base.trivial),
        ("start again (async)", "start_again_ns", base.start_again),
        ("processText (mean)", "process_text_ns", base.text_async),
        (
            "processText (median)",
            "process_text_median_ns",
            base.text_async_median,
        ),
        ("processTextBlocking (mean)", "blocking_ns", base.text),
        (
            "processTextBlocking (median)",
            "blocking_median_ns",
            base.text_median,
        ),
    ] {
        let (k, ky, p) = (kotlin[key], kotlin_young[key], python[key]);
        println!(
            "{name:<28} {:>10.2}µs {:>10.2}µs {:>12.2}µs {:>10.2}µs {:>12.2}µs {:>12.2}µs {:>12.2}µs",
            base / 1e3,
            k / 1e3,
            ky / 1e3,
            p / 1e3,
            (k - base) / 1e3,
            (ky - base) / 1e3,
            (p - base) / 1e3
        );
    }
    // Where processTextBlocking's overhead goes: the generated code's own work
    // around the Rust call, each part timed alone in the same process.
    for (name, runs) in [
        ("kotlin", &kotlin),
        ("kotlin -Xmn16m", &kotlin_young),
        ("python", &python),
    ] {
        let (trivial, lower, read) = (
            runs["trivial_ns"],
            runs["generated_lower_ns"],
            runs["generated_read_ns"],
        );
        println!(
            "{name} processTextBlocking, uniffi's generated code alone: handle clone + call {:.2}µs + lowering the sentence {:.2}µs + reading the Turn record {:.2}µs = {:.2}µs (measured above Rust, median: {:.2}µs)",
            trivial / 1e3,
            lower / 1e3,
            read / 1e3,
            (trivial + lower + read) / 1e3,
            (runs["blocking_median_ns"] - base.text_median) / 1e3
        );
    }
    println!(
        "peak memory: kotlin {:.0} MiB, kotlin -Xmn16m {:.0} MiB, python {:.0} MiB (whole process, assistant started)",
        kotlin["peak_rss_kib"] / 1024.0,
        kotlin_young["peak_rss_kib"] / 1024.0,
        python["peak_rss_kib"] / 1024.0
    );
}
