//! `emma intents …` (test, parse) and `emma bench intents`: the intent engine
//! from the command line. This module only parses arguments, calls
//! `emma-intent` and prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use emma_intent::harness::{self, Fixtures, Outcome};
use emma_intent::hassil_baseline;
use emma_intent::{Context, IntentEngine, IntentMatch};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `emma intents`.
#[derive(Debug, Args)]
pub struct IntentsArgs {
    #[command(subcommand)]
    what: IntentsCommand,
}

#[derive(Debug, Subcommand)]
enum IntentsCommand {
    /// Run a Home Assistant intents test suite (`tests/<lang>/`) against its templates.
    Test(TestArgs),
    /// Recognise one sentence.
    Parse(ParseArgs),
}

/// Arguments of `emma intents test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Root of an HA-format intents tree (`sentences/<lang>/`, `tests/<lang>/`).
    root: PathBuf,
    /// Language code, e.g. `en`.
    #[arg(long)]
    lang: String,
    /// Judge these intents instead of the tree's `sentences/`: e.g. the
    /// `home-assistant-intents` package's `<lang>.json` or its directory.
    #[arg(long)]
    intents: Option<PathBuf>,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
}

/// Arguments of `emma intents parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// An HA intents tree, a sentences directory, one template file, the
    /// `home-assistant-intents` package JSON (`<lang>.json` or its directory),
    /// a Rhino context or an Alexa model.
    path: PathBuf,
    /// The sentence to recognise; `-` reads it from stdin.
    sentence: String,
    /// Language code, e.g. `en`.
    #[arg(long)]
    lang: String,
    /// Fixtures (areas, floors, entities) for the `{area}`, `{floor}`, `{name}` lists;
    /// default: `tests/<lang>/_fixtures.yaml` of an HA tree.
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Context entries `key=value` (e.g. `area=Kitchen`); repeatable.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Confidence below which there is no intent (0 to 1).
    #[arg(long)]
    threshold: Option<f32>,
    /// Fuzzy matching: allow up to this many word edits (0 = off).
    #[arg(long, default_value_t = 0)]
    fuzzy: u32,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Runs `emma intents`.
pub fn run(args: IntentsArgs) -> anyhow::Result<()> {
    match args.what {
        IntentsCommand::Test(args) => test(args),
        IntentsCommand::Parse(args) => parse(args),
    }
}

/// A confidence with two decimals, as f64 (so JSON shows `0.54`, not f32 noise).
fn round2(c: f32) -> f64 {
    (f64::from(c) * 100.0).round() / 100.0
}

fn slots_text(m: &IntentMatch) -> String {
    m.slots
        .iter()
        .map(|(k, v)| format!("{k}={:?}", v.value.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn outcome_json(o: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "file": o.case.file.display().to_string(),
        "sentence": o.case.sentence,
        "expected": {"intent": o.case.intent, "slots": o.case.slots},
        "got": o.got.as_ref().map(|g| serde_json::json!({
            "intent": g.intent,
            "slots": g.slots.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect::<std::collections::BTreeMap<_, _>>(),
            "confidence": round2(g.confidence),
        })),
        "passed": o.passed,
    })
}

fn test(args: TestArgs) -> anyhow::Result<()> {
    let total = harness::count_cases(&args.root, &args.lang);
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sentences").expect("valid template"),
    );
    let start = Instant::now();
    let report =
        harness::run_suite_with(&args.root, args.intents.as_deref(), &args.lang, &mut |_| {
            bar.inc(1)
        })
        .with_context(|| {
            format!(
                "running the {} suite under {}",
                args.lang,
                args.root.display()
            )
        })?;
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    if args.json {
        let out = serde_json::json!({
            "lang": args.lang,
            "passed": report.passed(),
            "failed": report.failed(),
            "failures": report.failures().map(outcome_json).collect::<Vec<_>>(),
            "known_failures": report.known_failures().map(outcome_json).collect::<Vec<_>>(),
            "seconds": elapsed.as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for o in report.failures() {
            println!("FAIL {}", o.case.file.display());
            println!("  sentence: {}", o.case.sentence);
            println!("  expected: {} {:?}", o.case.intent, o.case.slots);
            match &o.got {
                Some(g) => println!("  got:      {} {}", g.intent, slots_text(g)),
                None => println!("  got:      no intent"),
            }
        }
        let known: Vec<&Outcome> = report.known_failures().collect();
        if !known.is_empty() {
            println!("known failures (listed in _test_failures.yaml, not counted):");
            for o in known {
                let status = if o.passed {
                    "now passes"
                } else {
                    "still fails"
                };
                println!("  {:?}: {status}", o.case.sentence);
            }
        }
        println!("{} passed, {} failed", report.passed(), report.failed());
    }
    if report.failed() > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn parse(args: ParseArgs) -> anyhow::Result<()> {
    let sentence = crate::input::utterance(&args.sentence)?;
    let mut engine = IntentEngine::from_path(&args.path, &args.lang)
        .with_context(|| format!("loading intents from {}", args.path.display()))?;
    let fixtures = args.fixtures.clone().or_else(|| {
        Some(
            args.path
                .join("tests")
                .join(&args.lang)
                .join("_fixtures.yaml"),
        )
        .filter(|p| p.is_file())
    });
    if let Some(f) = fixtures {
        Fixtures::from_file(&f)
            .with_context(|| format!("reading fixtures {}", f.display()))?
            .apply(&mut engine);
    }
    let mut settings = engine.settings().clone();
    if let Some(t) = args.threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--threshold must be between 0 and 1, got {t}");
        }
        settings.threshold = t;
    }
    settings.fuzzy_max_edits = args.fuzzy;
    engine.set_settings(settings);
    let mut ctx = Context::new();
    for entry in &args.context {
        let Some((k, v)) = entry.split_once('=') else {
            bail!("--context {entry:?} must look like key=value");
        };
        ctx.insert(k.trim(), v.trim());
    }
    let rec = engine.recognize(&sentence, &ctx);
    if args.json {
        let slots: serde_json::Map<String, serde_json::Value> = rec
            .best
            .as_ref()
            .map(|m| {
                m.slots
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            serde_json::to_value(&v.value).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let confidence = rec
            .best
            .as_ref()
            .or(rec.candidates.first())
            .map(|m| m.confidence)
            .unwrap_or(0.0);
        let out = serde_json::json!({
            "intent": rec.best.as_ref().map(|m| m.intent.clone()),
            "slots": slots,
            "confidence": round2(confidence),
            "text": sentence,
            "candidates": rec.candidates.iter().map(|c| serde_json::json!({"intent": c.intent, "confidence": round2(c.confidence)})).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }
    match &rec.best {
        Some(m) => {
            println!("intent:     {}", m.intent);
            for (k, v) in &m.slots {
                println!("slot:       {k} = {} (spoken {:?})", v.value, v.text);
            }
            println!("confidence: {:.2}", m.confidence);
            if let Some(r) = &m.response {
                println!("response:   {r}");
            }
        }
        None => {
            println!("intent:     none (I don't know)");
            for c in &rec.candidates {
                println!(
                    "candidate:  {} {} (confidence {:.2})",
                    c.intent,
                    slots_text(c),
                    c.confidence
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// emma bench intents

/// Arguments of `emma bench intents`.
#[derive(Debug, Args)]
pub struct BenchIntentsArgs {
    /// Languages to measure (default: every language with tests under the root).
    #[arg(long = "lang")]
    langs: Vec<String>,
    /// HA intents tree (default: `../shared/data/ha-intents` beside the current directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Seconds to spend timing Emma per language.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn default_root() -> PathBuf {
    PathBuf::from("../shared/data/ha-intents")
}

/// Runs `emma bench intents`.
pub fn bench(args: BenchIntentsArgs, home: &Path) -> anyhow::Result<()> {
    let root = args.root.clone().unwrap_or_else(default_root);
    if !root.join("sentences").is_dir() {
        bail!(
            "{} is not an HA intents tree (no sentences/); pass --root",
            root.display()
        );
    }
    let langs = if args.langs.is_empty() {
        hassil_baseline::test_languages(&root)?
    } else {
        args.langs.clone()
    };
    let venv = home.join("cache").join("bench-venv");
    let python = match hassil_baseline::venv_python(&venv) {
        Some(python) => python,
        None => {
            let spinner = ProgressBar::new_spinner();
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner.set_message(format!(
                "creating {} with hassil {}",
                venv.display(),
                hassil_baseline::HASSIL_VERSION
            ));
            let python = hassil_baseline::ensure_venv(&venv);
            spinner.finish_and_clear();
            python?
        }
    };
    let mut results = vec![];
    for lang in &langs {
        if !args.json {
            eprintln!("{lang}: measuring Emma and hassil…");
        }
        results.push(hassil_baseline::compare(
            &python,
            &root,
            lang,
            args.seconds,
        )?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    println!(
        "{:<5} {:>9} {:>14} {:>14} {:>9} {:>10} {:>10} {:>12} {:>12} {:>9}",
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
    for r in &results {
        println!(
            "{:<5} {:>9} {:>14.0} {:>14.1} {:>8.0}x {:>8.0}ms {:>8.0}ms {:>9} KiB {:>8} KiB {:>8.1}%",
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
    println!(
        "(single-threaded; emma mem = RSS growth for loading the language; hassil peak = whole Python process)"
    );
    Ok(())
}
