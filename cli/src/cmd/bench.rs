//! `emma bench …`: benchmarks that print ratios against a baseline measured in the same run.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use emma_speech::WakeEngine;
use emma_speech::wake::bench::{EngineSweep, WakeBenchConfig};
use emma_speech::wake::{LIVEKIT_BUNDLED_PHRASE, WakeOptions};
use indicatif::ProgressBar;

/// Arguments of `emma bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Speech recognition: real-time factor, end-of-speech latency, peak memory.
    Asr(super::speech::BenchAsrArgs),
    /// Devices: events/s into the registry, command latency text→device, memory for 1,000 devices.
    Devices(super::devices::BenchDevicesArgs),
    /// Skills: warm call latency, cold start from cache, first compile, memory per skill.
    Skills(super::skill::BenchSkillsArgs),
    /// The assistant: end of speech → device command (p50/p95), process_text throughput, peak memory.
    Assistant(super::run::BenchAssistantArgs),
    /// Intent recognition: sentences/s against Python hassil on the HA test sentences, load time, memory.
    Intents(super::intents::BenchIntentsArgs),
    /// Privacy: ledger append p95, export and erase of 10,000 ledger entries and 1,000 orders.
    Privacy(super::privacy::BenchPrivacyArgs),
    /// Wake word: recall on people's recordings and synthesised phrases, clean and in noise,
    /// false wakes per hour, wake-word → detection latency, memory; swept over thresholds.
    Wake(BenchWakeArgs),
    /// Endpointing: split/merged/missed utterances and clipped onsets on a noisy corpus made
    /// in the run, per voice-activity detector, against the old energy endpointer.
    Endpoint(BenchEndpointArgs),
}

/// Arguments of `emma bench endpoint`.
#[derive(Debug, Args)]
pub struct BenchEndpointArgs {
    /// Folder of real recordings (`.flac`/`.wav`, searched recursively) used as speech besides
    /// espeak-ng; skipped when it does not exist.
    #[arg(long, default_value = "../shared/data/wake-words")]
    real: PathBuf,
    /// At most this many real recordings.
    #[arg(long, default_value_t = 12)]
    real_max: usize,
    /// Signal-to-noise ratios, dB.
    #[arg(long, value_delimiter = ',', default_value = "24,18,12,6")]
    snr: Vec<f32>,
    /// Clips per scenario × noise × SNR.
    #[arg(long, default_value_t = 6)]
    per_cell: usize,
    /// Seed of the corpus.
    #[arg(long, default_value_t = 10)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn bench_endpoint(args: BenchEndpointArgs) -> anyhow::Result<()> {
    use emma_speech::endpoint_bench::{EndpointBenchConfig, run};
    if args.per_cell == 0 || args.snr.is_empty() {
        anyhow::bail!("--per-cell and --snr must not be empty");
    }
    let config = EndpointBenchConfig {
        real_dir: args.real.is_dir().then_some(args.real),
        real_max: args.real_max,
        snrs: args.snr,
        per_cell: args.per_cell,
        seed: args.seed,
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = run(&config, &mut |msg| bar.set_message(msg.to_owned()))
        .context("endpointing benchmark")?;
    bar.finish_and_clear();
    print_report(args.json, &report, report.table())
}

/// Prints a bench report: pretty JSON with `--json`, else its table.
fn print_report(json: bool, report: &impl serde::Serialize, table: String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// Arguments of `emma bench wake`.
#[derive(Debug, Args)]
pub struct BenchWakeArgs {
    /// Shared data directory holding `wake-words/` and `ha-intents/`.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Recorded word (a folder of `wake-words/`) used as the phrase.
    #[arg(long, default_value = "computer")]
    phrase: String,
    /// Phrase synthesised with espeak-ng for PocketSphinx's synthetic recall.
    #[arg(long, default_value = "hey emma")]
    synth_phrase: String,
    /// Recorded words that must not wake.
    #[arg(long, value_delimiter = ',', default_value = "jarvis,alexa")]
    other_words: Vec<String>,
    /// At most this many recordings per word (default: all).
    #[arg(long)]
    limit: Option<usize>,
    /// Minutes of synthesised speech without the phrase (false wakes per hour).
    #[arg(long, default_value_t = 30.0)]
    speech_minutes: f64,
    /// Engines to measure.
    #[arg(long, value_delimiter = ',', default_value = "pocketsphinx,livekit")]
    engine: Vec<WakeEngine>,
    /// PocketSphinx thresholds to sweep (log10 of `-kws_threshold`).
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        default_value = "-10,-20,-30,-40"
    )]
    sphinx_thresholds: Vec<f32>,
    /// LiveKit thresholds to sweep (classifier probability).
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7")]
    livekit_thresholds: Vec<f32>,
    /// Chunk size fed to the detectors, ms.
    #[arg(long, default_value_t = 80)]
    chunk_ms: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn bench_wake(args: BenchWakeArgs) -> anyhow::Result<()> {
    let sweeps = args
        .engine
        .iter()
        .map(|&engine| EngineSweep {
            engine,
            synth_phrase: match engine {
                WakeEngine::PocketSphinx => args.synth_phrase.clone(),
                WakeEngine::LiveKit => LIVEKIT_BUNDLED_PHRASE.to_owned(),
            },
            thresholds: match engine {
                WakeEngine::PocketSphinx => args.sphinx_thresholds.clone(),
                WakeEngine::LiveKit => args.livekit_thresholds.clone(),
            },
        })
        .collect();
    let config = WakeBenchConfig {
        wake_words_dir: args.data.join("wake-words"),
        sentences_dir: args.data.join("ha-intents/tests/en"),
        real_phrase: args.phrase,
        other_words: args.other_words,
        limit: args.limit,
        speech_s: args.speech_minutes * 60.0,
        sweeps,
        chunk_ms: args.chunk_ms,
        options: WakeOptions::default(),
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = emma_speech::wake::bench::run(&config, &mut |msg| bar.set_message(msg.to_owned()))
        .with_context(|| format!("wake-word benchmark on {}", args.data.display()))?;
    bar.finish_and_clear();
    print_report(args.json, &report, report.table())
}

/// Runs `emma bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchCommand::Asr(args) => super::speech::bench_asr(args),
        BenchCommand::Devices(args) => super::devices::bench(args),
        BenchCommand::Skills(args) => super::skill::bench(args),
        BenchCommand::Assistant(args) => super::run::bench(args),
        BenchCommand::Intents(args) => super::intents::bench(args, &crate::home::emma_home()),
        BenchCommand::Privacy(args) => super::privacy::bench(args),
        BenchCommand::Wake(args) => bench_wake(args),
        BenchCommand::Endpoint(args) => bench_endpoint(args),
    }
}
