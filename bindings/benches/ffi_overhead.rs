//! Per-call overhead of the bindings: a trivial call (`is_running`), a trivial
//! async call (`start` on a started assistant: in the bindings a `suspend`
//! call completed from another thread, like `process_text`) and
//! `process_text`, from Rust (the core assistant, the baseline), Kotlin and
//! Python, measured in one run; prints each cost (`process_text`: the mean and
//! the median, which a loaded machine disturbs less) and the foreign minus Rust
//! difference (target: at most 20 µs above Rust), plus the peak memory of the
//! Kotlin and Python processes. Kotlin runs twice: on the JVM's defaults and
//! with a capped young generation ([`KOTLIN_YOUNG_GEN`]); see `bindings/README.md`
//! for where the Kotlin time goes.
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

/// The means of the trivial call and of `start` on a started assistant,
/// `process_text`'s mean and median, in nanoseconds.
fn rust(dir: &Path) -> (f64, f64, f64, f64) {
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
    let mut each: Vec<f64> = (0..TEXTS)
        .map(|_| {
            let t = Instant::now();
            a.process_text(SENTENCE).expect("process_text");
            t.elapsed().as_nanos() as f64
        })
        .collect();
    let text = each.iter().sum::<f64>() / f64::from(TEXTS);
    each.sort_by(f64::total_cmp);
    let median = each[each.len() / 2];
    a.stop().expect("stop");
    (trivial, start_again, text, median)
}

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
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

    let (rust_trivial, rust_start, rust_text, rust_text_median) = rust(&tmp.path().join("rust"));
    let kotlin_run = |sub: &str, options: &[&str]| {
        parse(
            &run_ok(
                java_with(&jar, "emma.tests.BenchMain", options).args(args(sub)),
                "kotlin bench",
            )
            .stdout,
        )
    };
    // The JVM as it comes, then with the young generation capped (see the module docs).
    let kotlin = kotlin_run("kotlin", &[]);
    let kotlin_young = kotlin_run("kotlin-young", KOTLIN_YOUNG_GEN);
    let python = parse(
        &run_ok(
            support::python(&crate_dir().join("tests/python/bench.py")).args(args("python")),
            "python bench",
        )
        .stdout,
    );

    println!(
        "per-call cost, one run ({TRIVIAL} trivial calls, {} start calls, {TEXTS} processText calls of {SENTENCE:?}):",
        TEXTS * 10
    );
    println!(
        "{:<22} {:>12} {:>12} {:>14} {:>12} {:>14} {:>14} {:>14}",
        "call",
        "rust",
        "kotlin",
        "kotlin -Xmn16m",
        "python",
        "kotlin-rust",
        "-Xmn16m - rust",
        "python-rust"
    );
    for (name, key, base) in [
        ("isRunning (trivial)", "trivial_ns", rust_trivial),
        ("start again (async)", "start_again_ns", rust_start),
        ("processText (mean)", "process_text_ns", rust_text),
        (
            "processText (median)",
            "process_text_median_ns",
            rust_text_median,
        ),
    ] {
        let (k, ky, p) = (kotlin[key], kotlin_young[key], python[key]);
        println!(
            "{name:<22} {:>10.2}µs {:>10.2}µs {:>12.2}µs {:>10.2}µs {:>12.2}µs {:>12.2}µs {:>12.2}µs",
            base / 1e3,
            k / 1e3,
            ky / 1e3,
            p / 1e3,
            (k - base) / 1e3,
            (ky - base) / 1e3,
            (p - base) / 1e3
        );
    }
    println!(
        "peak memory: kotlin {:.0} MiB, kotlin -Xmn16m {:.0} MiB, python {:.0} MiB (whole process, assistant started)",
        kotlin["peak_rss_kib"] / 1024.0,
        kotlin_young["peak_rss_kib"] / 1024.0,
        python["peak_rss_kib"] / 1024.0
    );
}
