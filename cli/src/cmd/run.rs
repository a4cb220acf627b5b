//! `emma run`: the live assistant. Everything happens in
//! [`emma_core::assistant::Assistant`]; this command only picks the input
//! (microphone, WAV files, text, stdin lines) and prints the events.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, AudioChunk, BrokerChoice, EventListener,
    SpeechConfig, TtsConfig, WakeConfig,
};
use emma_core::speech::{self, Engine, SAMPLE_RATE};
use emma_core::understand::CalibrationOptions;

use crate::home::emma_home;

/// Arguments of `emma run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Language (en, de).
    #[arg(long, default_value = "en")]
    lang: String,
    /// Understand these WAV files (a directory: every .wav in it, sorted) instead of the microphone.
    #[arg(long, value_name = "FILE|DIR")]
    wav: Option<PathBuf>,
    /// With --wav: treat each file as one utterance (no endpointing inside it), for batch use.
    #[arg(long, requires = "wav", conflicts_with = "wake")]
    whole_file: bool,
    /// Handle this text as an utterance (repeatable), instead of the microphone.
    #[arg(long, value_name = "TEXT")]
    text: Vec<String>,
    /// Read utterances from standard input, one per line.
    #[arg(long)]
    stdin: bool,
    /// Microphone to use (default: the system's default input).
    #[arg(long)]
    device: Option<String>,
    /// Speech engine for audio.
    #[arg(long, value_enum, default_value = "pocketsphinx")]
    engine: EngineArg,
    /// Model directory for the engine (default: PocketSphinx's US English model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// MQTT broker URL (default: the embedded broker on 127.0.0.1).
    #[arg(long)]
    broker: Option<String>,
    /// The area of this speaker ("turn on the lights" means here).
    #[arg(long)]
    area: Option<String>,
    /// Listen for this wake word first (e.g. "computer", "hey emma"); after it, one command
    /// is understood and Emma waits for the wake word again. Without it every utterance is a command.
    #[arg(long, value_name = "PHRASE")]
    wake: Option<String>,
    /// Wake-word engine: pocketsphinx (any phrase in its dictionary) or livekit (its bundled
    /// "hey livekit" model, or --wake-model).
    #[arg(long, value_enum, default_value = "pocketsphinx", requires = "wake")]
    wake_engine: WakeEngineArg,
    /// LiveKit: a classifier .onnx trained for the phrase.
    #[arg(long, value_name = "FILE", requires = "wake")]
    wake_model: Option<PathBuf>,
    /// Wake-word threshold on the engine's scale (default: the measured default).
    #[arg(long, requires = "wake")]
    wake_threshold: Option<f32>,
    /// Speak replies with espeak-ng (reported as audio in the events).
    #[arg(long)]
    speak: bool,
    /// Check commands against an open-vocabulary Moonshine transcript and
    /// reject those it disagrees with, and fail when Moonshine is not
    /// installed. Without `--fast` this (with `--denoise`) is already the
    /// default wherever `scripts/setup` installed Moonshine (English
    /// grammar decoding; docs/understand.md).
    #[arg(long)]
    agreement: bool,
    /// Hear with PocketSphinx alone even when Moonshine is installed: each
    /// reply comes about 0.05 s sooner (2 cores; 0.15 s at the 95th
    /// percentile) and about 650 MiB less is held, but far more questions
    /// and chatter are taken for commands (docs/understand.md).
    #[arg(long, conflicts_with = "agreement")]
    fast: bool,
    /// Understand wildcard slots ("add {item} to my shopping list") from an
    /// open-vocabulary Moonshine transcript of utterances the grammar gave no
    /// sure command for (English, when `scripts/setup` installed Moonshine;
    /// see docs/understand.md, "Open vocabulary").
    #[arg(long)]
    open_vocabulary: bool,
    /// Clean the audio with RNNoise before it is heard: a little better in
    /// kitchen noise, clean speech unchanged (docs/understand.md, "Speech
    /// enhancement before recognition"). On by default with Moonshine's
    /// agreement; this adds it to `--fast`.
    #[arg(long)]
    denoise: bool,
    /// Calibrate, for the intents this assistant understands (built-ins,
    /// skills, device names), from which acoustic fit a spoken command is
    /// acted on without asking: speaks built-in sentences that are not
    /// commands with espeak-ng (minutes), saves the point in Emma's data
    /// directory for later starts, and exits (docs/understand.md,
    /// "Calibrating the sure point per grammar"). Give it the hearing flags
    /// later runs use (`--fast`, `--agreement`, `--denoise`,
    /// `--open-vocabulary`): a calibration is kept only for the setup it
    /// was made with.
    #[arg(long, conflicts_with_all = ["text", "stdin", "wav", "wake"])]
    calibrate: bool,
    /// Do not load installed skills.
    #[arg(long)]
    no_skills: bool,
    /// Print every event as a JSON line.
    #[arg(long)]
    json: bool,
}

/// Speech engines `emma run` can use.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EngineArg {
    /// PocketSphinx (English, restricted to the intents' grammar).
    Pocketsphinx,
    /// Vosk (needs --model).
    Vosk,
}

/// Wake-word engines `emma run` can use.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WakeEngineArg {
    /// PocketSphinx keyphrase spotting.
    Pocketsphinx,
    /// livekit-wakeword (neural, pure Rust).
    Livekit,
}

/// Prints events as they happen (human lines, or JSON lines with `json`).
pub(crate) struct Printer {
    /// One JSON object per event.
    pub json: bool,
}

impl EventListener for Printer {
    fn on_event(&self, event: &AssistantEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        let line = match event {
            AssistantEvent::Wake { phrase, .. } => format!("(wake word: {phrase})"),
            AssistantEvent::Listening => "(listening)".to_string(),
            AssistantEvent::Partial { .. } => return,
            AssistantEvent::Transcript { text } => format!("heard:   {}", shown(text)),
            AssistantEvent::Intent {
                name,
                slots,
                confidence,
                handler,
            } => format!("intent:  {name} {slots:?} ({confidence:.2}, {handler})"),
            AssistantEvent::NotUnderstood { reason, .. } => {
                format!("intent:  none ({reason}; Emma does not guess)")
            }
            AssistantEvent::SkillReply { .. } => return,
            AssistantEvent::DeviceCommand {
                topic, payload, by, ..
            } => format!("mqtt:    {topic} {} ({by})", shown(payload)),
            AssistantEvent::CommandRefused { device, by, reason } => {
                format!("refused: {by} → {device}: {}", shown(reason))
            }
            AssistantEvent::DeviceEvent {
                device,
                kind,
                value,
            } => format!("event:   {device} {kind} = {}", shown(value)),
            AssistantEvent::Proposal {
                skill, id, lines, ..
            } => format!(
                "order:   {} proposes {} (proposal {id}, waits for the customer)",
                shown(skill),
                lines
                    .iter()
                    .map(|l| format!("{} × {}", l.quantity, shown(&l.description)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AssistantEvent::ProposalDecided { id, decision } => {
                format!("order:   proposal {id} {decision}")
            }
            AssistantEvent::Handoff { skill, reason, .. } => format!(
                "handoff: {} asks for a person: {}",
                skill.as_deref().unwrap_or("emma"),
                shown(reason)
            ),
            AssistantEvent::Notification { from, text, .. } => {
                format!("message: from {}: {}", shown(from), shown(text))
            }
            AssistantEvent::Reply {
                text,
                audio,
                expects_answer,
            } => {
                let mut l = format!("emma:    {}", shown(text));
                if let Some(a) = audio {
                    l.push_str(&format!("  [{:.1} s of speech]", a.duration_s));
                }
                if *expects_answer {
                    l.push_str("  (waiting for an answer)");
                }
                l.push('\n');
                l
            }
            AssistantEvent::Error { stage, message } => {
                format!("error:   {stage}: {}", shown(message))
            }
        };
        println!("{line}");
    }
}

/// Text from skills, devices or speech, safe for a terminal (see `emma-untrusted`).
fn shown(text: &str) -> String {
    emma_untrusted::line(text, emma_untrusted::TEXT_CHARS)
}

/// The assistant configuration the command line describes.
fn config(args: &RunArgs, audio: bool) -> anyhow::Result<AssistantConfig> {
    let mut c = AssistantConfig::new(emma_home(), &args.lang);
    if let Some(url) = &args.broker {
        c.broker = BrokerChoice::Url(url.clone());
    }
    c.area = args.area.clone();
    c.load_skills = !args.no_skills;
    if args.speak {
        c.tts = TtsConfig::Espeak {
            voice: None,
            speed: 160,
        };
    }
    if let Some(phrase) = &args.wake {
        anyhow::ensure!(
            audio,
            "--wake listens to audio: use it with the microphone or --wav, not --text/--stdin"
        );
        let mut wake = WakeConfig::pocketsphinx(phrase);
        if let WakeEngineArg::Livekit = args.wake_engine {
            wake.engine = emma_core::speech::wake::WakeEngine::LiveKit;
        }
        wake.options.livekit_model = args.wake_model.clone();
        wake.options.threshold = args.wake_threshold;
        c.wake = Some(wake);
    }
    if audio {
        c.speech = Some(match (args.engine, &args.model) {
            (EngineArg::Pocketsphinx, None) => SpeechConfig::pocketsphinx_en_us(),
            (EngineArg::Pocketsphinx, Some(m)) => SpeechConfig {
                model: m.clone(),
                model_language: None,
                ..SpeechConfig::pocketsphinx_en_us()
            },
            (EngineArg::Vosk, Some(m)) => SpeechConfig {
                engine: Engine::Vosk,
                model: m.clone(),
                model_language: None,
                ..SpeechConfig::pocketsphinx_en_us()
            },
            (EngineArg::Vosk, None) => bail!("--engine vosk needs --model DIR"),
        });
        if args.whole_file
            && let Some(speech) = c.speech.as_mut()
        {
            speech.endpoint = speech.endpoint.whole_stream();
        }
        if let Some(speech) = c.speech.as_mut() {
            speech.denoise = args.denoise;
        }
        let registry = || emma_speech::ModelRegistry::new(crate::home::emma_home().join("models"));
        if !args.fast
            && let Some(s) = c.speech.take()
        {
            // The best measured hearing wherever it is installed: RNNoise
            // and Moonshine's agreement (docs/understand.md).
            let registry = registry();
            let mut s = s.with_agreement_if_installed(&registry);
            if args.agreement && s.agreement.is_none() {
                bail!(
                    "--agreement needs English grammar decoding and the Moonshine model in {} (run scripts/setup)",
                    registry.dir().display()
                );
            }
            s.denoise |= s.agreement.is_some();
            c.speech = Some(s);
        }
        if args.open_vocabulary
            && let Some(s) = c.speech.take()
        {
            let registry = registry();
            let s = s.with_open_vocabulary_if_installed(&registry);
            if s.open_vocabulary.is_none() {
                bail!(
                    "--open-vocabulary needs English grammar decoding and the Moonshine model in {} (run scripts/setup)",
                    registry.dir().display()
                );
            }
            c.speech = Some(s);
        }
    }
    Ok(c)
}

/// What hears speech, for people: the engines and checks of `s`.
fn hearing(s: &SpeechConfig) -> String {
    let mut parts = vec![];
    if s.denoise {
        parts.push("RNNoise");
    }
    parts.push(match s.engine {
        Engine::Vosk => "Vosk",
        _ => "PocketSphinx",
    });
    if s.agreement.is_some() {
        parts.push("Moonshine's agreement");
    }
    if s.open_vocabulary.is_some() {
        parts.push("Moonshine's open vocabulary");
    }
    let mut out = parts.join(", ");
    if s.agreement.is_none() && s.engine == Engine::PocketSphinx {
        out.push_str(
            " (without Moonshine far more questions are taken for commands; scripts/setup installs it)",
        );
    }
    out
}

/// A flag set when the user presses Ctrl-C (the assistant then stops cleanly).
fn interrupted() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let _ = std::thread::Builder::new()
        .name("emma-ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                set.store(true, Ordering::SeqCst);
                eprintln!("emma: stopping (queued commands are flushed first)");
            }
        });
    flag
}

/// Runs `emma run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let typed = !args.text.is_empty() || args.stdin;
    let config = config(&args, !typed)?;
    if !args.json
        && let Some(s) = &config.speech
    {
        eprintln!("emma: hearing with {}", hearing(s));
    }
    let assistant = Assistant::new(config)?;
    if args.calibrate {
        assistant.start().context("starting the assistant")?;
        let result = calibrate(&assistant, args.json);
        let stopped = assistant.stop();
        result?;
        stopped?;
        return Ok(());
    }
    assistant.add_listener(Arc::new(Printer { json: args.json }));
    assistant.start().context("starting the assistant")?;
    let stop = interrupted();
    let result = drive(&assistant, &args, &stop);
    let stopped = assistant.stop();
    result?;
    stopped?;
    Ok(())
}

/// `emma run --calibrate`: the assistant's speech calibration, saved in its data directory.
fn calibrate(assistant: &Assistant, json: bool) -> anyhow::Result<()> {
    let saved = assistant
        .config()
        .data_dir
        .join(emma_core::assistant::SPEECH_CALIBRATION_FILE);
    super::understand::calibrate_and_report(json, &saved, |progress| {
        Ok(assistant.calibrate_speech(&CalibrationOptions::default(), progress)?)
    })
}

fn drive(assistant: &Assistant, args: &RunArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    for text in &args.text {
        assistant.process_text(text)?;
    }
    if args.stdin {
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading standard input")?;
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if !line.trim().is_empty() {
                assistant.process_text(&line)?;
            }
        }
    }
    if !args.text.is_empty() || args.stdin {
        return Ok(());
    }
    if let Some(path) = &args.wav {
        for file in super::speech::wav_files(path)? {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let audio = speech::audio::read_file(&file)?;
            for chunk in audio.samples.chunks(SAMPLE_RATE as usize / 10) {
                assistant.process_audio(AudioChunk::I16 {
                    samples: chunk,
                    rate: SAMPLE_RATE,
                })?;
            }
            // Trailing silence closes the last utterance like a pause would.
            let silence = vec![0i16; SAMPLE_RATE as usize / 2];
            assistant.process_audio(AudioChunk::I16 {
                samples: &silence,
                rate: SAMPLE_RATE,
            })?;
            assistant.end_audio()?;
        }
        return Ok(());
    }
    mic(assistant, args, stop)
}

#[cfg(feature = "mic")]
fn mic(assistant: &Assistant, args: &RunArgs, stop: &AtomicBool) -> anyhow::Result<()> {
    let mut capture = speech::mic::MicCapture::open(args.device.as_deref())?;
    if !args.json {
        eprintln!("emma: listening on the microphone; Ctrl-C stops");
    }
    while !stop.load(Ordering::SeqCst) {
        let chunk = capture.next_chunk(Duration::from_secs(5))?;
        assistant.process_audio(AudioChunk::I16 {
            samples: &chunk,
            rate: SAMPLE_RATE,
        })?;
    }
    assistant.end_audio()?;
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn mic(_: &Assistant, _: &RunArgs, _: &AtomicBool) -> anyhow::Result<()> {
    let _ = Duration::ZERO;
    bail!(
        "emma was built without mic; use --wav, --text or --stdin, or rebuild with `--features mic`"
    )
}

/// Arguments of `emma bench assistant`.
#[derive(Debug, Args)]
pub struct BenchAssistantArgs {
    /// Spoken utterances, streamed in real time (about 2.5 s each).
    #[arg(long, default_value_t = 50)]
    utterances: usize,
    /// Typed turns for the throughput run.
    #[arg(long, default_value_t = 2000)]
    turns: usize,
    /// Load the three example skills (built from this checkout) for the memory figure, and
    /// measure a good skill's latency next to a hostile one.
    #[arg(long)]
    skills: bool,
    /// Clean the audio with RNNoise first (as `emma run --denoise`).
    #[arg(long)]
    denoise: bool,
    /// Check each command against Moonshine's transcript (as `emma run --agreement`): the
    /// latency then includes the transcription after the end of speech.
    #[arg(long)]
    agreement: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The example skills and the grants the bench gives them.
fn bench_skills() -> anyhow::Result<emma_core::assistant::bench::BenchSkills> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    anyhow::ensure!(
        repo.join("skills/examples/coffee/skill.toml").is_file(),
        "--skills builds the example skills from a checkout; none at {}",
        repo.display()
    );
    let grants = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Ok(emma_core::assistant::bench::BenchSkills {
        examples: vec![
            (
                repo.join("skills/examples/coffee"),
                grants(&[
                    "device:coffee.*:control",
                    "store",
                    "order:propose",
                    "notify",
                ]),
            ),
            (
                repo.join("skills/examples/lights"),
                grants(&["device:light.*:control"]),
            ),
            (
                repo.join("skills/examples/parcel"),
                grants(&["handoff", "store"]),
            ),
        ],
        hostile: repo.join("skills/testdata/hostile"),
        guest_target: crate::home::emma_home().join("cache/demo-guests"),
    })
}

/// Runs `emma bench assistant`.
pub fn bench(args: BenchAssistantArgs) -> anyhow::Result<()> {
    use emma_core::assistant::bench;
    let mut speech = SpeechConfig::pocketsphinx_en_us();
    speech.denoise = args.denoise;
    if args.agreement {
        let registry = emma_speech::ModelRegistry::new(crate::home::emma_home().join("models"));
        speech = speech.with_agreement_if_installed(&registry);
        if speech.agreement.is_none() {
            bail!(
                "--agreement needs the Moonshine model in {} (run scripts/setup)",
                registry.dir().display()
            );
        }
    }
    let dir = std::env::temp_dir().join(format!("emma-bench-assistant-{}", std::process::id()));
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(Duration::from_millis(100));
    let report = bench::run(
        &bench::BenchConfig {
            dir: dir.clone(),
            utterances: args.utterances,
            turns: args.turns,
            skills: if args.skills {
                Some(bench_skills()?)
            } else {
                None
            },
            speech,
        },
        |phase| bar.set_message(phase.to_string()),
    );
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    let r = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let hearing = match (args.denoise, args.agreement) {
        (false, false) => "PocketSphinx",
        (true, false) => "RNNoise, PocketSphinx",
        (false, true) => "PocketSphinx, Moonshine's agreement",
        (true, true) => "RNNoise, PocketSphinx, Moonshine's agreement",
    };
    println!("emma bench assistant (baselines measured in the same run; hearing: {hearing})");
    println!(
        "  end of speech → device command  p50 {:.1} ms  p95 {:.1} ms  ({} utterances, {} missed; target p95 ≤ 150 ms)",
        r.latency_p50_ms, r.latency_p95_ms, r.utterances, r.missed
    );
    println!(
        "    baseline: recogniser finish  p50 {:.1} ms  p95 {:.1} ms  → the rest of the pipeline adds {:.1} ms at p50",
        r.decode_p50_ms,
        r.decode_p95_ms,
        r.latency_p50_ms - r.decode_p50_ms
    );
    println!(
        "    (plus the endpointer's {} ms trailing-silence window before the utterance can end)",
        r.silence_window_ms
    );
    println!(
        "  process_text                    {:.0} turns/s  vs HomeControl::plan {:.0}/s  (ratio {:.3})",
        r.text_turns_per_s,
        r.plan_per_s,
        r.text_turns_per_s / r.plan_per_s
    );
    println!(
        "  peak RSS                        {:.0} MiB{}",
        r.peak_rss_mib,
        if args.skills {
            "  (English model + the three example skills; target ≤ 350 MB)"
        } else {
            "  (English model, no skills: --skills loads the examples)"
        }
    );
    if let Some(s) = &r.skill_latency {
        println!(
            "  a good skill's turn             p50 {:.1} ms  p99 {:.1} ms  alone ({} turns)",
            s.alone_p50_ms, s.alone_p99_ms, s.turns
        );
        println!(
            "    next to a hostile skill       p50 {:.1} ms  p99 {:.1} ms  (ratio p99 {:.2}; the hostile turns took p50 {:.0} ms)",
            s.hostile_p50_ms,
            s.hostile_p99_ms,
            s.hostile_p99_ms / s.alone_p99_ms,
            s.hostile_turn_p50_ms
        );
    }
    Ok(())
}
