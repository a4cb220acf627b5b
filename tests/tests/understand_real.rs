//! Emma on real human speech: the coffee orders of Picovoice's
//! speech-to-intent benchmark, clean and in kitchen noise, scored as the
//! benchmark scores (see `emma_tests::s2i_bench` for the data, the mixing
//! and the scoring).
//!
//! The data is not in the repository; fetch it and run:
//!
//! ```text
//! git clone https://github.com/Picovoice/speech-to-intent-benchmark /tmp/s2i
//! EMMA_S2I_BENCH=/tmp/s2i cargo test -p emma-tests --test understand_real -- --ignored --nocapture real_coffee_table
//! ```
//!
//! Environment: `EMMA_S2I_BENCH=DIR` (required; without it the test says
//! how to get the data and passes), `EMMA_S2I_SPLIT=held|tune|all`
//! (default `held`), `EMMA_S2I_STEP=N` (every N-th file of the split,
//! default 1), `EMMA_S2I_METHODS=a,b` (rows of [`METHODS`]: `default`,
//! `whole-file`, `vad`, `open-vocabulary`, `agreement`, `denoise`,
//! `denoise-stream`, `denoise-agreement`, `denoise-agreement-no-rescoring`; default
//! `default,whole-file`), `EMMA_S2I_CONDITIONS=clean,24,18,12,6` (default
//! all), `EMMA_S2I_OUT=FILE` (one JSON line per utterance, for analysis),
//! `EMMA_S2I_SILENCE_MS=N` (the trailing non-speech that ends an utterance,
//! in place of the method's endpointer's).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use emma_core::intent::IntentEngine;
use emma_core::speech::{EndpointConfig, Engine, ModelRegistry, POCKETSPHINX_EN_US};
use emma_core::understand::{Decoding, Understander, Understood};
use emma_tests::s2i_bench::{Condition, Corpus, Recording, SAMPLE_RATE, Split, Tally, score_file};

/// One way to run Emma: a name, what to turn on in the [`Understander`]
/// (opened with PocketSphinx en-us, grammar decoding, default rejection),
/// and the endpointing. Add a row to measure another configuration.
struct Method {
    name: &'static str,
    configure: fn(&mut Understander) -> anyhow::Result<()>,
    endpoint: fn() -> EndpointConfig,
    /// What is done to the audio before the understander hears it.
    prepare: fn(Vec<i16>) -> anyhow::Result<Vec<i16>>,
}

/// The methods `EMMA_S2I_METHODS` chooses from.
const METHODS: &[Method] = &[
    Method {
        name: "default",
        configure: nothing,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
    Method {
        name: "whole-file",
        configure: nothing,
        endpoint: || EndpointConfig::default().whole_stream(),
        prepare: as_is,
    },
    Method {
        name: "vad",
        configure: nothing,
        endpoint: EndpointConfig::voice_activity,
        prepare: as_is,
    },
    Method {
        name: "open-vocabulary",
        configure: open_vocabulary,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
    Method {
        name: "agreement",
        configure: agreement,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
    Method {
        name: "denoise",
        configure: nothing,
        endpoint: EndpointConfig::default,
        prepare: denoise,
    },
    Method {
        name: "denoise-stream",
        configure: denoise_stream,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
    Method {
        name: "denoise-agreement",
        configure: denoise_agreement,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
    Method {
        name: "denoise-agreement-no-rescoring",
        configure: no_rescoring,
        endpoint: EndpointConfig::default,
        prepare: as_is,
    },
];

/// `endpoint` with `EMMA_S2I_SILENCE_MS`'s end-of-utterance silence, if set.
fn silence_override(endpoint: EndpointConfig) -> anyhow::Result<EndpointConfig> {
    match std::env::var("EMMA_S2I_SILENCE_MS") {
        Ok(v) if !v.trim().is_empty() => Ok(EndpointConfig {
            silence_end_ms: v
                .trim()
                .parse()
                .with_context(|| format!("EMMA_S2I_SILENCE_MS={v}"))?,
            ..endpoint
        }),
        _ => Ok(endpoint),
    }
}

/// The library's defaults.
fn nothing(_: &mut Understander) -> anyhow::Result<()> {
    Ok(())
}

/// The recording as it is.
fn as_is(pcm: Vec<i16>) -> anyhow::Result<Vec<i16>> {
    Ok(pcm)
}

/// RNNoise's noise suppression over the whole recording before recognition
/// (`emma_speech::denoise::denoise`).
fn denoise(pcm: Vec<i16>) -> anyhow::Result<Vec<i16>> {
    Ok(emma_speech::denoise::denoise(&pcm)?)
}

/// RNNoise in the understander, over the stream (`--denoise`).
fn denoise_stream(u: &mut Understander) -> anyhow::Result<()> {
    u.set_denoise(true);
    Ok(())
}

/// Streaming RNNoise and agreement with Moonshine together (`--denoise --agreement`).
fn denoise_agreement(u: &mut Understander) -> anyhow::Result<()> {
    denoise_stream(u)?;
    agreement(u)
}

/// `denoise-agreement` without ranking neighbours by Moonshine (`--no-rescoring`).
fn no_rescoring(u: &mut Understander) -> anyhow::Result<()> {
    denoise_agreement(u)?;
    u.set_rescoring(false);
    Ok(())
}

/// The models `scripts/setup` installs.
fn registry() -> ModelRegistry {
    ModelRegistry::new(emma_tests::speech::emma_home().join("models"))
}

/// Open vocabulary with the installed Moonshine model (`--open-vocabulary`).
fn open_vocabulary(u: &mut Understander) -> anyhow::Result<()> {
    if !u.use_open_vocabulary_if_installed(&registry())? {
        bail!("open-vocabulary needs the Moonshine model (run scripts/setup)");
    }
    Ok(())
}

/// Rejection by agreement with the installed Moonshine model (`--agreement`).
fn agreement(u: &mut Understander) -> anyhow::Result<()> {
    if !u.use_agreement_if_installed(&registry())? {
        bail!("agreement needs the Moonshine model (run scripts/setup)");
    }
    Ok(())
}

/// Parses a comma-separated environment variable, or returns `default`.
fn env_list<T>(
    name: &str,
    default: Vec<T>,
    parse: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| parse(s.trim()).with_context(|| format!("{name}={v}")))
            .collect(),
        _ => Ok(default),
    }
}

/// The rows of [`METHODS`] named by `EMMA_S2I_METHODS`.
fn methods() -> anyhow::Result<Vec<&'static Method>> {
    let find = |name: &str| {
        METHODS.iter().find(|m| m.name == name).with_context(|| {
            let names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
            format!("unknown method {name:?}: one of {}", names.join(", "))
        })
    };
    env_list("EMMA_S2I_METHODS", vec![&METHODS[0], &METHODS[1]], find)
}

/// The configuration the environment asks for.
struct Settings {
    split: Split,
    step: usize,
    methods: Vec<&'static Method>,
    conditions: Vec<Condition>,
    out: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let split = match std::env::var("EMMA_S2I_SPLIT") {
            Ok(s) => s.parse().context("EMMA_S2I_SPLIT")?,
            Err(_) => Split::Held,
        };
        let step = match std::env::var("EMMA_S2I_STEP") {
            Ok(s) => s
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .with_context(|| format!("EMMA_S2I_STEP={s}: a whole number ≥ 1"))?,
            Err(_) => 1,
        };
        Ok(Settings {
            split,
            step,
            methods: methods()?,
            conditions: env_list("EMMA_S2I_CONDITIONS", Condition::all(), str::parse)?,
            out: std::env::var_os("EMMA_S2I_OUT").map(PathBuf::from),
        })
    }
}

/// An understander for the coffee context configured by `method`.
fn open(context: &Path, method: &Method) -> anyhow::Result<Understander> {
    let intents = IntentEngine::from_path(context, "en")
        .with_context(|| format!("cannot load intents from {}", context.display()))?;
    let mut u = Understander::new(
        intents,
        Engine::PocketSphinx,
        Path::new(POCKETSPHINX_EN_US),
        Decoding::Grammar,
    )
    .context("PocketSphinx en-us opens (scripts/setup installs it)")?;
    (method.configure)(&mut u).with_context(|| format!("method {}", method.name))?;
    Ok(u)
}

/// One line of `EMMA_S2I_OUT` for utterance `r` of `file`.
fn json_line(method: &str, condition: Condition, file: &str, r: &Understood) -> serde_json::Value {
    serde_json::json!({
        "method": method,
        "condition": condition.to_string(),
        "file": file,
        "text": r.text,
        "intent": r.intent,
        "slots": r.slots,
        "unsure": r.unsure,
        "rejected": r.rejected,
        "via": r.via,
        "agreement": r.agreement,
        "rescored": r.rescored,
    })
}

/// Runs `method` over `files` under `condition`; writes each utterance to `out`.
fn measure(
    corpus: &Corpus,
    files: &[&Recording],
    method: &Method,
    condition: Condition,
    out: &mut Option<BufWriter<File>>,
) -> anyhow::Result<Tally> {
    let mut u = open(&corpus.context(), method)?;
    let endpoint = silence_override((method.endpoint)())?;
    let mut tally = Tally::default();
    for (i, rec) in files.iter().enumerate() {
        let pcm = (method.prepare)(corpus.audio(rec, condition)?)
            .with_context(|| format!("{}: {}", method.name, rec.path.display()))?;
        let t = Instant::now();
        let heard = u
            .understand_samples(endpoint, &pcm)
            .with_context(|| format!("{}: {}", method.name, rec.path.display()))?;
        tally.decode_s += t.elapsed().as_secs_f64();
        tally.audio_s += pcm.len() as f64 / SAMPLE_RATE;
        tally.add(score_file(&rec.label, &heard));
        if let Some(w) = out {
            let nothing = [Understood::nothing()];
            let lines = if heard.is_empty() {
                &nothing[..]
            } else {
                &heard
            };
            for r in lines {
                writeln!(w, "{}", json_line(method.name, condition, &rec.name, r))?;
            }
        }
        if (i + 1) % 50 == 0 {
            eprintln!(
                "{} {condition}: {}/{} files, {} right",
                method.name,
                i + 1,
                files.len(),
                tally.right
            );
        }
    }
    Ok(tally)
}

/// `n/d (p%)`.
fn pct(n: usize, d: usize) -> String {
    format!("{n}/{d} ({:.1}%)", 100.0 * n as f64 / d.max(1) as f64)
}

/// Prints the results as a markdown table.
fn print_table(rows: &[(&str, Condition, Tally)]) {
    println!(
        "| method | condition | right | acted | asked | wrong and acted | split (>1 utterance) | real-time factor |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (method, condition, t) in rows {
        println!(
            "| {method} | {condition} | {} | {} | {} | {} | {} | {:.2} |",
            pct(t.right, t.n),
            t.acted,
            t.asked,
            t.wrong_acted,
            t.split,
            t.real_time_factor()
        );
    }
}

/// Prints each method's mean right % over the kitchen-noise conditions measured.
fn print_noise_means(rows: &[(&str, Condition, Tally)], methods: &[&Method]) {
    for m in methods {
        let noisy: Vec<(Condition, f64)> = rows
            .iter()
            .filter(|(name, c, _)| *name == m.name && *c != Condition::Clean)
            .map(|(_, c, t)| (*c, t.right_pct()))
            .collect();
        if noisy.is_empty() {
            continue;
        }
        let mean = noisy.iter().map(|(_, p)| p).sum::<f64>() / noisy.len() as f64;
        let over: Vec<String> = noisy.iter().map(|(c, _)| c.to_string()).collect();
        println!(
            "{}: mean right over kitchen noise {:.1}% ({})",
            m.name,
            mean,
            over.join(", ")
        );
    }
}

/// The measurement behind "Real recordings" in `docs/understand.md`.
#[test]
#[ignore = "needs the speech-to-intent benchmark's data (EMMA_S2I_BENCH) and many minutes"]
fn real_coffee_table() -> anyhow::Result<()> {
    let Some(root) = std::env::var_os("EMMA_S2I_BENCH").map(PathBuf::from) else {
        eprintln!(
            "EMMA_S2I_BENCH is not set: git clone https://github.com/Picovoice/speech-to-intent-benchmark DIR \
             and run with EMMA_S2I_BENCH=DIR (docs/understand.md, \"Real recordings\")"
        );
        return Ok(());
    };
    let settings = Settings::from_env()?;
    let corpus = Corpus::load(&root)?;
    let files: Vec<&Recording> = corpus
        .split(settings.split)
        .into_iter()
        .step_by(settings.step)
        .collect();
    eprintln!(
        "{} of {} recordings ({:?} split, every {})",
        files.len(),
        corpus.recordings.len(),
        settings.split,
        settings.step
    );
    let mut out = match &settings.out {
        Some(p) => Some(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let mut rows = vec![];
    for method in &settings.methods {
        for &condition in &settings.conditions {
            let tally = measure(&corpus, &files, method, condition, &mut out)?;
            rows.push((method.name, condition, tally));
        }
    }
    if let Some(w) = &mut out {
        w.flush()?;
    }
    println!();
    print_table(&rows);
    println!();
    print_noise_means(&rows, &settings.methods);
    Ok(())
}
