//! `cargo bench -p emma-intent --bench intents`: Emma's intent engine against
//! Python hassil 3.0.1 on the Home Assistant test sentences, in one run.
//!
//! Prints sentences/second of each (single-threaded), the ratio, load times
//! and memory. hassil runs in a venv under `$EMMA_HOME/cache/bench-venv`
//! (created with `python3 -m venv` + `pip install hassil==3.0.1` when
//! missing), the same one `emma bench intents` uses. Set `EMMA_BENCH_LANGS`
//! (e.g. `en,de`) to choose languages.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use emma_intent::IntentEngine;
use emma_intent::harness::{Fixtures, suite_cases};

/// The hassil side of the benchmark, shared with `emma bench intents`.
const HASSIL_SCRIPT: &str = include_str!("hassil_baseline.py");

fn emma_home() -> PathBuf {
    match std::env::var_os("EMMA_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share/emma"),
    }
}

fn hassil_python() -> PathBuf {
    let venv = emma_home().join("cache/bench-venv");
    let python = venv.join("bin/python");
    let ok = python.is_file()
        && Command::new(&python)
            .args(["-c", "import hassil"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("creating {} with hassil 3.0.1", venv.display());
        std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
        assert!(
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap()
                .success()
        );
        assert!(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "hassil==3.0.1"])
                .status()
                .unwrap()
                .success()
        );
    }
    python
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ha-intents");
    let langs = std::env::var("EMMA_BENCH_LANGS").unwrap_or_else(|_| "en,de".into());
    let python = hassil_python();
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
        let cases = suite_cases(&root, lang).unwrap();
        let before = rss_kib("VmRSS:");
        let t0 = Instant::now();
        let mut engine = IntentEngine::from_path(&root, lang).unwrap();
        Fixtures::from_file(&root.join("tests").join(lang).join("_fixtures.yaml"))
            .unwrap()
            .apply(&mut engine);
        let load = t0.elapsed();
        let mem = rss_kib("VmRSS:").saturating_sub(before);
        let emma: Vec<Option<String>> = cases
            .iter()
            .map(|c| {
                engine
                    .recognize(&c.sentence, &c.context)
                    .best
                    .map(|m| m.intent)
            })
            .collect();
        let t1 = Instant::now();
        let mut n = 0;
        while t1.elapsed().as_secs_f64() < 3.0 {
            for c in &cases {
                std::hint::black_box(engine.recognize(&c.sentence, &c.context));
            }
            n += cases.len();
        }
        let emma_rate = n as f64 / t1.elapsed().as_secs_f64();
        let dir = std::env::temp_dir().join(format!("emma-bench-intents-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases_json = format!(
            "[{}]",
            cases
                .iter()
                .map(|c| {
                    let ctx: Vec<String> = c
                        .context
                        .iter()
                        .map(|(k, v)| format!("{k:?}: {v:?}"))
                        .collect();
                    format!(
                        "{{\"text\": {:?}, \"context\": {{{}}}}}",
                        c.sentence,
                        ctx.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        );
        std::fs::write(dir.join("cases.json"), cases_json).unwrap();
        std::fs::write(dir.join("bench.py"), HASSIL_SCRIPT).unwrap();
        let out = Command::new(&python)
            .arg(dir.join("bench.py"))
            .arg(&root)
            .arg(lang)
            .arg(dir.join("cases.json"))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "hassil failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let num = |key: &str| -> f64 {
            let i = text.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
            text[i..]
                .split([',', '}'])
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let hassil_rate = cases.len() as f64 / num("elapsed_s");
        let intents_start = text.find("\"intents\": [").unwrap() + 12;
        let intents_end = text[intents_start..].find(']').unwrap() + intents_start;
        let hassil: Vec<Option<String>> = text[intents_start..intents_end]
            .split(", ")
            .map(|s| {
                if s == "null" {
                    None
                } else {
                    Some(s.trim_matches('"').to_string())
                }
            })
            .collect();
        let agree =
            emma.iter().zip(&hassil).filter(|(a, b)| a == b).count() as f64 / cases.len() as f64;
        println!(
            "{:<5} {:>9} {:>12.0} {:>13.1} {:>7.0}x {:>8.0}ms {:>9.0}ms {:>6} KiB {:>8.0} KiB {:>6.1}%",
            lang,
            cases.len(),
            emma_rate,
            hassil_rate,
            emma_rate / hassil_rate,
            load.as_secs_f64() * 1e3,
            num("load_s") * 1e3,
            mem,
            num("peak_rss_kb"),
            agree * 100.0
        );
    }
}
