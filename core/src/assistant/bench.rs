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
//! - **Memory**: peak RSS of this process after everything is loaded.

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
    let endpoint = EndpointConfig::default();
    let mut config = AssistantConfig::new(&cfg.dir, "en");
    config.load_skills = false;
    config.speech = Some(SpeechConfig::pocketsphinx_en_us());
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
        peak_rss_mib: peak_rss_mib(),
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
