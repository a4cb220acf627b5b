//! The full differential run: Emma against hassil 3.0.1 on sentences sampled
//! from every template of every language of the `home-assistant-intents`
//! package, printing the per-language agreement table and throughput.
//!
//!   cargo bench -p emma-intent --bench differential -- [--cap N] [--lang L]… [--limit N]
//!       [--seed N] [--write-sample PATH]
//!
//! `--emma-ms N` times Emma for at least N ms per language (default 200).
//! `--from-sample PATH` reuses the cases, hassil answers and hassil timings
//! recorded in a sample file instead of running hassil (only the `--lang`s given, if any).
//! `--cap` sentences per template (default 1); `--limit` keeps at most that many
//! sentences per language (default 0 = all); `--write-sample PATH` writes the
//! cases with hassil's answers for `tests/differential.rs` (use with `--limit`).
//! hassil runs in `$EMMA_HOME/cache/bench-venv` (made by `scripts/setup`).
//! `--ood` instead prints false accepts of Emma and hassil on the large
//! out-of-domain sets (`core/intent/tests/data/ood/{en,de}-large.txt`) and
//! false rejects on the HA test sentences, with the HA tree and fixtures.
//! Throughput is sentences per second recognising the same sampled sentences,
//! both single-threaded and in CPU time of the recognising thread (so other
//! work on a shared machine doesn't count): hassil one pass inside its own
//! process, Emma's `recognize` repeated for `--emma-ms`, and then its
//! `recognize_best` (the best match only, what hassil's `recognize_best`
//! answers; `recognize` also builds up to five candidates) as long.

#[path = "../core/intent/tests/support/differential.rs"]
mod differential;

use std::time::{Duration, Instant};

use differential::{agreement, engine, languages, package_data, sample};
use emma_intent::{Context, IntentEngine};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut cap, mut limit, mut seed) = (1usize, 0usize, 15u64);
    let mut langs: Vec<String> = vec![];
    let mut write: Option<std::path::PathBuf> = None;
    let mut from: Option<std::path::PathBuf> = None;
    let mut emma_ms = 200u64;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--cap" => cap = val().parse().expect("--cap N"),
            "--limit" => limit = val().parse().expect("--limit N"),
            "--seed" => seed = val().parse().expect("--seed N"),
            "--lang" => langs.push(val()),
            "--write-sample" => write = Some(val().into()),
            "--ood" => return ood(),
            "--from-sample" => from = Some(val().into()),
            "--emma-ms" => emma_ms = val().parse().expect("--emma-ms N"),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let only: Vec<String> = langs.clone();
    if langs.is_empty() {
        langs = languages(&package_data());
    }
    eprintln!(
        "sampling {} languages with hassil (cap {cap} per template, seed {seed})…",
        langs.len()
    );
    let samples: std::collections::BTreeMap<String, differential::LangSample> = match &from {
        // hassil's answers and timings as recorded in a sample file.
        Some(path) => {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).expect("sample file")).unwrap();
            let mut all: std::collections::BTreeMap<String, differential::LangSample> =
                serde_json::from_value(doc["langs"].clone()).unwrap();
            if !only.is_empty() {
                all.retain(|l, _| only.contains(l));
            }
            all
        }
        None => sample(&langs, cap, seed, limit),
    };
    println!(
        "| lang | sentences | agree | explained | agreement | emma sent/s | emma best-only sent/s | hassil sent/s | emma/hassil | best-only/hassil |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut all_n, mut all_agree, mut all_known) = (0, 0, 0);
    let mut min_ratio = f64::INFINITY;
    let mut min_best = f64::INFINITY;
    let mut disagreements = vec![];
    for (lang, s) in &samples {
        let engine = engine(lang);
        let (n, agree, known, shown) = agreement(&engine, lang, s, 20);
        all_n += n;
        all_agree += agree;
        all_known += known;
        disagreements.extend(shown.into_iter().map(|d| format!("{lang}: {d}")));
        // Time Emma's `recognize` (what hassil's `recognize_best` is timed on)
        // on the same sentences for at least `--emma-ms` (default 200 ms).
        let inputs: Vec<(&str, Context)> = s
            .cases
            .iter()
            .map(|c| (c.text.as_str(), c.context.iter().collect()))
            .collect();
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let mut done = 0usize;
        let spent = || match (cpu_start, thread_cpu()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => start.elapsed(),
        };
        while spent() < Duration::from_millis(emma_ms) || done == 0 {
            for (text, ctx) in &inputs {
                std::hint::black_box(engine.recognize(text, ctx));
            }
            done += s.cases.len().max(1);
        }
        let emma_rate = done as f64 / spent().as_secs_f64();
        // The same for `recognize_best` (the best match only, as hassil's
        // `recognize_best` answers; `recognize` also builds the candidates).
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let mut best_done = 0usize;
        let spent = || match (cpu_start, thread_cpu()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => start.elapsed(),
        };
        while spent() < Duration::from_millis(emma_ms) || best_done == 0 {
            for (text, ctx) in &inputs {
                std::hint::black_box(engine.recognize_best(text, ctx));
            }
            best_done += s.cases.len().max(1);
        }
        let best_rate = best_done as f64 / spent().as_secs_f64();
        let hassil_rate = n as f64 / s.cpu_s.unwrap_or(s.elapsed_s).max(1e-9);
        let ratio = emma_rate / hassil_rate;
        let best_ratio = best_rate / hassil_rate;
        if n > 0 {
            min_ratio = min_ratio.min(ratio);
            min_best = min_best.min(best_ratio);
        }
        println!(
            "| {lang} | {n} | {agree} | {known} | {:.1}% | {emma_rate:.0} | {best_rate:.0} | {hassil_rate:.1} | {ratio:.0}× | {best_ratio:.0}× |",
            100.0 * agree as f64 / n.max(1) as f64
        );
    }
    println!(
        "\nall: {all_agree}/{all_n} agree ({:.2}%), {all_known} explained differences; \
         lowest emma/hassil throughput ratio {min_ratio:.0}× (best-only {min_best:.0}×)",
        100.0 * all_agree as f64 / all_n.max(1) as f64
    );
    if !disagreements.is_empty() {
        println!("\ndisagreements (first 20 per language):");
        for d in &disagreements {
            println!("  {d}");
        }
    }
    if let Some(path) = write {
        let site = package_data().join("../..");
        let version = std::fs::read_dir(&site)
            .unwrap()
            .flatten()
            .find_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_prefix("home_assistant_intents-")?
                    .strip_suffix(".dist-info")
                    .map(String::from)
            })
            .expect("home_assistant_intents dist-info");
        let out = serde_json::json!({
            "package_version": version,
            "seed": seed,
            "cap": cap,
            "limit": limit,
            "langs": samples,
        });
        std::fs::write(&path, serde_json::to_string(&out).unwrap()).unwrap();
        eprintln!("wrote {}", path.display());
    }
}

/// CPU time of the calling thread (Linux `/proc/thread-self/schedstat`), so
/// that other work on a shared machine doesn't count; `None` elsewhere (the
/// wall clock is used then).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Out-of-domain figures for Emma and hassil, side by side.
fn ood() {
    use emma_intent::harness::{Fixtures, suite_cases};
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = differential::shared::ha_intents();
    let python = differential::venv().join("bin/python");
    let dir = std::env::temp_dir().join(format!("emma-ood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hassil_baseline.py");
    std::fs::write(&script, include_str!("hassil_baseline.py")).unwrap();
    println!("| lang | set | sentences | emma accepts | hassil accepts |");
    println!("|---|---|---:|---:|---:|");
    for lang in ["en", "de"] {
        let mut engine = IntentEngine::from_path(&root, lang).unwrap();
        Fixtures::from_file(&root.join("tests").join(lang).join("_fixtures.yaml"))
            .unwrap()
            .apply(&mut engine);
        let ood: Vec<(String, Context)> =
            std::fs::read_to_string(manifest.join(format!("tests/data/ood/{lang}-large.txt")))
                .unwrap()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| (l.to_string(), Context::new()))
                .collect();
        let domain: Vec<(String, Context)> = suite_cases(&root, lang)
            .unwrap()
            .into_iter()
            .map(|c| (c.sentence, c.context))
            .collect();
        for (set, cases) in [
            ("out-of-domain (false accepts)", &ood),
            ("HA tests (accepted)", &domain),
        ] {
            let emma: Vec<bool> = cases
                .iter()
                .map(|(t, c)| engine.recognize(t, c).best.is_some())
                .collect();
            let json: Vec<serde_json::Value> = cases
                .iter()
                .map(|(t, c)| serde_json::json!({"text": t, "context": c.iter().collect::<std::collections::BTreeMap<_, _>>()}))
                .collect();
            let path = dir.join(format!("cases-{lang}.json"));
            std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
            let out = std::process::Command::new(&python)
                .arg(&script)
                .arg(&root)
                .arg(lang)
                .arg(&path)
                .output()
                .expect("running hassil");
            assert!(
                out.status.success(),
                "hassil: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let hassil: Vec<bool> = h["intents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| !v.is_null())
                .collect();
            println!(
                "| {lang} | {set} | {} | {} | {} |",
                cases.len(),
                emma.iter().filter(|&&a| a).count(),
                hassil.iter().filter(|&&a| a).count()
            );
            if set.starts_with("out") {
                for (i, (t, _)) in cases.iter().enumerate() {
                    if emma[i] || hassil[i] {
                        println!("    {t:?}: emma {}, hassil {}", emma[i], hassil[i]);
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
