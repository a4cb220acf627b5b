//! `cargo bench -p emma-intent --features bench --bench intents`: Emma's
//! intent engine against Python hassil on the Home Assistant test sentences,
//! in one run (`emma_intent::hassil_baseline`, the same code as `emma bench
//! intents`).
//!
//! Prints sentences/second of each (single-threaded), the ratio, load times
//! and memory. hassil runs in a venv under `$EMMA_HOME/cache/bench-venv`
//! (made with `python3 -m venv` + `pip install hassil` when missing), the one
//! `emma bench intents` uses. Set `EMMA_BENCH_LANGS` (e.g. `en,de`) to choose
//! languages.

use std::path::{Path, PathBuf};

use emma_intent::hassil_baseline::{self, Comparison};

fn emma_home() -> PathBuf {
    match std::env::var_os("EMMA_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share/emma"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ha-intents");
    let langs = std::env::var("EMMA_BENCH_LANGS").unwrap_or_else(|_| "en,de".into());
    eprintln!(
        "preparing hassil {} in $EMMA_HOME/cache/bench-venv",
        hassil_baseline::HASSIL_VERSION
    );
    let python = hassil_baseline::ensure_venv(&emma_home().join("cache/bench-venv"))?;
    println!(
        "{:<5} {:>9} {:>12} {:>13} {:>8} {:>10} {:>11} {:>10} {:>12} {:>7}",
        "lang",
        "sentences",
        "emma sent/s",
        "hassil sent/s",
        "ratio",
        "emma load",
        "hassil load",
        "emma mem",
        "hassil peak",
        "agree"
    );
    for lang in langs.split(',') {
        let r: Comparison = hassil_baseline::compare(&python, &root, lang, 3.0)?;
        println!(
            "{:<5} {:>9} {:>12.0} {:>13.1} {:>7.0}x {:>8.0}ms {:>9.0}ms {:>6} KiB {:>8} KiB {:>6.1}%",
            r.lang,
            r.sentences,
            r.emma_sentences_per_s,
            r.hassil_sentences_per_s,
            r.speedup,
            r.emma_load_ms,
            r.hassil_load_ms,
            r.emma_memory_kib,
            r.hassil_peak_rss_kib,
            r.agreement * 100.0
        );
    }
    Ok(())
}
