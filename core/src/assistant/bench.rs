//! `emma bench assistant`: what the customer feels, measured on this machine
//! with a baseline from the same run.
//!
//! - **End of speech → device command**: spoken commands (espeak-ng) are
//!   streamed into [`Assistant::process_audio`] in real time (20 ms chunks,
//!   paced by the clock, as a microphone delivers them). The latency is from
//!   the moment the endpointer has all the audio it needs (the end of speech
//!   plus its trailing-silence window) to the [`AssistantEvent::DeviceCommand`]
//!   leaving for the outbox. The baseline is the recogniser alone on the same
//!   audio (decode + finish), so the ratio shows what the rest of the
//!   pipeline costs.
//! - **Text throughput**: `process_text` turns per second against
//!   [`HomeControl::plan`](emma_devices::control::HomeControl::plan) (the
//!   built-in handler without the assistant around it) on the same sentences.
//! - **Memory**: peak RSS of this process after everything is loaded (with
//!   the example skills when [`BenchConfig::skills`] is given).
//! - **A hostile skill next to a good one** (with [`BenchConfig::skills`]):
//!   p50/p99 of a well-behaved skill's turn (`process_text` → the coffee
//!   skill → device command queued) without, then with a hostile skill
//!   installed whose every other turn loops until its time limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emma_devices::control::HomeControl;
use emma_devices::{Area, Device, Domain, Registry};
use emma_speech::{EndpointConfig, SAMPLE_RATE};
use serde::Serialize;

use super::{
    Assistant, AssistantConfig, AssistantError, AssistantEvent, AudioChunk, EventListener,
    SpeechConfig,
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// A scratch directory (registry, outbox).
    pub dir: PathBuf,
    /// Spoken utterances for the latency run.
    pub utterances: usize,
    /// Typed turns for the throughput run.
    pub turns: usize,
    /// The example skills to load, and the hostile one to add.
    pub skills: Option<BenchSkills>,
    /// How the assistant hears: [`SpeechConfig::pocketsphinx_en_us`] (the
    /// default), or with RNNoise and Moonshine's agreement on, whose
    /// transcription after the end of speech the latency then includes.
    pub speech: SpeechConfig,
}

/// Skills for the memory and hostile-skill measurements, built from source.
#[derive(Debug, Clone)]
pub struct BenchSkills {
    /// Example skill crates (the coffee skill must be among them), with the grants each gets.
    pub examples: Vec<(PathBuf, Vec<String>)>,
    /// A skill whose `Loop` intent never returns (`skills/testdata/hostile`).
    pub hostile: PathBuf,
    /// Cargo target directory for the wasm guests (kept between runs).
    pub guest_target: PathBuf,
}

/// The well-behaved skill's turn, without and with a hostile skill loaded.
#[derive(Debug, Clone, Serialize)]
pub struct SkillLatency {
    /// Skills loaded.
    pub skills: Vec<String>,
    /// Baseline: p50 of the coffee skill's turn with only the example skills, ms.
    pub alone_p50_ms: f64,
    /// Baseline p99, ms.
    pub alone_p99_ms: f64,
    /// p50 with the hostile skill loaded and looping every other turn, ms.
    pub hostile_p50_ms: f64,
    /// p99 with the hostile skill, ms.
    pub hostile_p99_ms: f64,
    /// How long the hostile turns took (its time limit plus recovery), p50 ms.
    pub hostile_turn_p50_ms: f64,
    /// Turns measured in each phase.
    pub turns: usize,
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Utterances whose command arrived.
    pub utterances: usize,
    /// Utterances that produced no command (misheard or rejected).
    pub missed: usize,
    /// End of speech → device command, ms.
    pub latency_p50_ms: f64,
    /// End of speech → device command, ms.
    pub latency_p95_ms: f64,
    /// The endpointer's trailing-silence window, ms (part of what a speaker waits, not of the latency above).
    pub silence_window_ms: u32,
    /// Baseline: the recogniser alone, finish() after the same audio, ms.
    pub decode_p50_ms: f64,
    /// Baseline p95, ms.
    pub decode_p95_ms: f64,
    /// `process_text` turns per second.
    pub text_turns_per_s: f64,
    /// Baseline: `HomeControl::plan` per second.
    pub plan_per_s: f64,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mib: f64,
    /// The well-behaved skill's latency with and without a hostile one, when skills were loaded.
    pub skill_latency: Option<SkillLatency>,
}

/// The coffee skill's sentence for the hostile-skill phase.
const GOOD_TURN: &str = "make me a small espresso";
/// The hostile skill's sentence: it loops until its time limit.
const HOSTILE_TURN: &str = "hostile loop";

/// Builds `dir`'s skill and installs it into `skills` for the default customer.
fn install_skill(
    skills: &Path,
    dir: &Path,
    grants: &[String],
    target: &Path,
) -> Result<String, AssistantError> {
    let failed = |reason: String| AssistantError::Config {
        field: format!("bench skill {}", dir.display()),
        reason,
    };
    let bundle = emma_skill_host::guest_build::build_bundle(dir, target)
        .map_err(|e| failed(e.to_string()))?;
    let home = emma_skill_host::SkillHome::open(skills).map_err(|e| failed(e.to_string()))?;
    super::check_install(&home, &bundle)?;
    let file = skills.join(format!("{}.emmaskill", bundle.manifest.id));
    std::fs::write(&file, bundle.to_bytes(None)).map_err(|e| AssistantError::Io {
        path: file.display().to_string(),
        source: e,
    })?;
    let runtime = emma_skill_host::SkillRuntime::new(home.runtime_config())
        .map_err(|e| failed(e.to_string()))?;
    let grants = grants
        .iter()
        .map(|g| g.parse())
        .collect::<Result<Vec<emma_skill_host::Permission>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    home.install(&runtime, &file, "default", &grants, true)
        .map_err(|e| failed(e.to_string()))?;
    Ok(bundle.manifest.id)
}

/// Times `turns` of the good skill's sentence; with `hostile`, a hostile turn before each.
fn skill_turns(
    assistant: &Assistant,
    turns: usize,
    hostile: bool,
) -> Result<(Vec<f64>, Vec<f64>), AssistantError> {
    let mut good = Vec::with_capacity(turns);
    let mut bad = Vec::new();
    for _ in 0..turns {
        if hostile {
            let t = Instant::now();
            assistant.process_text(HOSTILE_TURN)?;
            bad.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        let turn = assistant.process_text(GOOD_TURN)?;
        good.push(t.elapsed().as_secs_f64() * 1e3);
        if turn.commands.is_empty() {
            return Err(AssistantError::Config {
                field: "bench skills".into(),
                reason: format!("{GOOD_TURN:?} sent no command: {}", turn.reply),
            });
        }
    }
    good.sort_by(f64::total_cmp);
    bad.sort_by(f64::total_cmp);
    Ok((good, bad))
}

const COMMANDS: [(&str, &str); 5] = [
    ("turn on the kitchen light", "light.kitchen"),
    ("turn off the kitchen light", "light.kitchen"),
    ("turn on the sofa lamp", "light.sofa"),
    ("turn off the lights in the living room", "light.sofa"),
    ("set the sofa lamp to 40 percent", "light.sofa"),
];

fn home(registry: &mut Registry) -> Result<(), AssistantError> {
    for (id, name) in [("kitchen", "kitchen"), ("living_room", "living room")] {
        registry.upsert_area(Area {
            id: id.into(),
            name: name.into(),
            aliases: vec![],
            floor: None,
        })?;
    }
    registry.upsert_device(
        Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
    )?;
    registry.upsert_device(
        Device::new("light.sofa", "sofa lamp", Domain::Light).in_area("living_room"),
    )?;
    // For the example coffee skill (`--skills`).
    registry.upsert_device(
        Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
    )?;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Last sample louder than -40 dBFS (the end of speech in a synthetic recording).
fn speech_end(samples: &[i16]) -> usize {
    samples
        .iter()
        .rposition(|s| s.unsigned_abs() > 328)
        .map_or(0, |i| i + 1)
}

/// Records when each event arrived.
#[derive(Default)]
struct Clock {
    seen: std::sync::Mutex<Vec<(Instant, AssistantEvent)>>,
}

impl EventListener for Clock {
    fn on_event(&self, event: &AssistantEvent) {
        if matches!(event, AssistantEvent::DeviceCommand { .. }) {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), event.clone()));
        }
    }
}

impl Clock {
    /// When the first command for `device` arrived after `after`.
    fn first(&self, device: &str, after: Instant) -> Option<Instant> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(t, e)| {
                *t >= after
                    && matches!(e, AssistantEvent::DeviceCommand { device: d, .. } if d == device)
            })
            .map(|(t, _)| *t)
    }
}

/// Runs the measurements, calling `progress` with the phase.
pub fn run(
    cfg: &BenchConfig,
    mut progress: impl FnMut(&str),
) -> Result<BenchReport, AssistantError> {
    std::fs::create_dir_all(&cfg.dir).map_err(|e| AssistantError::Io {
        path: cfg.dir.display().to_string(),
        source: e,
    })?;
    let registry_path = cfg.dir.join("devices.sqlite");
    home(&mut Registry::open(&registry_path)?)?;
    let skills_dir = cfg.dir.join("skills");
    let mut loaded = Vec::new();
    if let Some(skills) = &cfg.skills {
        for (dir, grants) in &skills.examples {
            progress(&format!("building skill {}", dir.display()));
            loaded.push(install_skill(
                &skills_dir,
                dir,
                grants,
                &skills.guest_target,
            )?);
        }
    }
    let endpoint = EndpointConfig::default();
    let mut config = AssistantConfig::new(&cfg.dir, "en");
    config.load_skills = cfg.skills.is_some();
    config.speech = Some(cfg.speech.clone());
    let assistant = Assistant::new(config)?;
    progress("starting the assistant");
    assistant.start()?;
    let clock = Arc::new(Clock::default());
    assistant.add_listener(clock.clone());

    progress("synthesising speech");
    let mut audio = Vec::new();
    for (text, device) in COMMANDS {
        let a = emma_speech::synth::espeak(text, "en-us", 160)?;
        let mut samples = a.samples;
        samples.truncate(speech_end(&samples));
        audio.push((text, samples, device));
    }

    progress("baseline: the recogniser alone");
    let mut control = HomeControl::builtin("en")?;
    let registry = Registry::open(&registry_path)?;
    control.refresh_lists(&registry);
    let mut decode_ms = Vec::new();
    {
        let mut grammar = control.intents().export_grammar().grammar;
        let mut rec = emma_speech::open(
            emma_speech::Engine::PocketSphinx,
            Path::new(emma_speech::POCKETSPHINX_EN_US),
        )?;
        // Words the model cannot pronounce are pruned, as the Understander does.
        for _ in 0..3 {
            match rec.set_grammar(Some(&grammar)) {
                Ok(_) => break,
                Err(emma_speech::SpeechError::UnknownWords { words, .. }) => {
                    match crate::understand::walk::prune(&grammar, &words) {
                        Some(g) => grammar = g,
                        None => break,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        for i in 0..cfg.utterances {
            let (_, samples, _) = &audio[i % audio.len()];
            rec.reset()?;
            rec.accept(samples)?;
            let t = Instant::now();
            rec.finish()?;
            decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }

    progress("end of speech → device command (real time)");
    let chunk = SAMPLE_RATE as usize / 50; // 20 ms
    let window = endpoint.silence_end_ms as usize * SAMPLE_RATE as usize / 1000;
    let mut latencies = Vec::new();
    let mut missed = 0;
    for i in 0..cfg.utterances {
        let (_, speech, device) = &audio[i % audio.len()];
        let mut samples = speech.clone();
        samples.extend(std::iter::repeat_n(0, window + SAMPLE_RATE as usize / 2));
        let needed = speech.len() + window; // the endpointer can close the utterance here
        let start = Instant::now();
        let mut ready = None;
        for (k, c) in samples.chunks(chunk).enumerate() {
            let due = start + Duration::from_millis(20 * k as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            assistant.process_audio(AudioChunk::I16 {
                samples: c,
                rate: SAMPLE_RATE,
            })?;
            if ready.is_none() && (k + 1) * chunk >= needed {
                ready = Some(Instant::now());
            }
        }
        assistant.end_audio()?;
        let ready = ready.unwrap_or(start);
        match clock.first(device, start) {
            Some(t) => latencies.push(t.saturating_duration_since(ready).as_secs_f64() * 1e3),
            None => missed += 1,
        }
    }

    progress("text throughput");
    let texts: Vec<&str> = COMMANDS.iter().map(|(t, _)| *t).collect();
    let t = Instant::now();
    for i in 0..cfg.turns {
        assistant.process_text(texts[i % texts.len()])?;
    }
    let text_turns_per_s = cfg.turns as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..cfg.turns {
        let _ = control.plan(&registry, texts[i % texts.len()]);
    }
    let plan_per_s = cfg.turns as f64 / t.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_mib();

    let skill_latency = match &cfg.skills {
        None => None,
        Some(skills) => {
            let n = cfg.turns.clamp(10, 200);
            progress("a good skill's turns, alone");
            let (alone, _) = skill_turns(&assistant, n, false)?;
            progress("building the hostile skill");
            assistant.stop()?;
            loaded.push(install_skill(
                &skills_dir,
                &skills.hostile,
                &[],
                &skills.guest_target,
            )?);
            assistant.start()?;
            progress("a good skill's turns, next to a hostile one");
            let (next_to_hostile, hostile_turns) = skill_turns(&assistant, n, true)?;
            Some(SkillLatency {
                skills: loaded,
                alone_p50_ms: percentile(&alone, 0.5),
                alone_p99_ms: percentile(&alone, 0.99),
                hostile_p50_ms: percentile(&next_to_hostile, 0.5),
                hostile_p99_ms: percentile(&next_to_hostile, 0.99),
                hostile_turn_p50_ms: percentile(&hostile_turns, 0.5),
                turns: n,
            })
        }
    };
    assistant.stop()?;

    latencies.sort_by(f64::total_cmp);
    decode_ms.sort_by(f64::total_cmp);
    Ok(BenchReport {
        utterances: latencies.len(),
        missed,
        latency_p50_ms: percentile(&latencies, 0.5),
        latency_p95_ms: percentile(&latencies, 0.95),
        silence_window_ms: endpoint.silence_end_ms,
        decode_p50_ms: percentile(&decode_ms, 0.5),
        decode_p95_ms: percentile(&decode_ms, 0.95),
        text_turns_per_s,
        plan_per_s,
        peak_rss_mib,
        skill_latency,
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), MiB; NaN elsewhere.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
