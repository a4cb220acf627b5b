//! `emma bench wake`: recall and false wakes of each wake engine, swept over
//! thresholds, plus wake-word → detection latency and memory.
//!
//! - Recall on real voices: recordings of one word (e.g. "computer") from a
//!   directory of per-word folders, clean and mixed with synthesised pink
//!   noise and babble (several espeak-ng voices talking at once) at 20 and
//!   10 dB SNR.
//! - Recall on synthesised phrases (e.g. "hey emma") in several espeak-ng
//!   voices and speeds, clean and in noise.
//! - False wakes: on the other words' real recordings, and per hour of long
//!   speech without the phrase (Home Assistant test sentences synthesised back
//!   to back in several voices).
//!
//! Every detector runs through [`open_wake`] and [`WakeWordDetector::push`]
//! exactly as an application would, in chunks of [`WakeBenchConfig::chunk_ms`].
//! Nothing here is a timed test; the CLI prints the report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::audio::{self, SAMPLE_RATE};
use crate::error::{Result, SpeechError};
use crate::synth;
use crate::wake::{WakeEngine, WakeOptions, WakeWordDetector, open_wake};

/// espeak-ng voices used for synthesised phrases and speech.
pub const VOICES: [&str; 6] = [
    "en-us",
    "en-gb",
    "en-us+f3",
    "en-gb-scotland",
    "en-029",
    "en-gb-x-rp+f2",
];
/// espeak-ng speeds (words per minute) for synthesised phrases.
pub const SPEEDS: [u32; 3] = [130, 165, 200];

/// What to measure.
#[derive(Debug, Clone)]
pub struct WakeBenchConfig {
    /// Directory with one folder of recordings per word (`computer/`, `jarvis/`, …).
    pub wake_words_dir: PathBuf,
    /// Directory of Home Assistant intent test files (`tests/en`), searched recursively.
    pub sentences_dir: PathBuf,
    /// The recorded word used as the phrase (a folder of `wake_words_dir`).
    pub real_phrase: String,
    /// Recorded words that must not wake (folders of `wake_words_dir`).
    pub other_words: Vec<String>,

    /// At most this many recordings per word (`None`: all).
    pub limit: Option<usize>,
    /// Seconds of synthesised speech without the phrase for false wakes per hour.
    pub speech_s: f64,
    /// Engines, the phrase each hears spoken by espeak-ng, and thresholds to sweep.
    pub sweeps: Vec<EngineSweep>,
    /// Chunk size fed to `push`, ms.
    pub chunk_ms: u32,
    /// Engine options (the threshold is overridden by the sweep).
    pub options: WakeOptions,
}

/// One engine to measure.
#[derive(Debug, Clone)]
pub struct EngineSweep {
    /// The engine.
    pub engine: WakeEngine,
    /// The phrase synthesised by espeak-ng for its synthetic recall rows
    /// (e.g. "hey emma"; for LiveKit, a phrase it has a classifier for).
    pub synth_phrase: String,
    /// Thresholds to run it at.
    pub thresholds: Vec<f32>,
}

/// Recall under one condition.
#[derive(Debug, Clone, Serialize)]
pub struct RecallRow {
    /// `real clean`, `real pink 20 dB`, `synth babble 10 dB`, …
    pub condition: String,
    /// Clips with the phrase.
    pub clips: usize,
    /// Clips where the detector fired.
    pub detected: usize,
}

/// One engine at one threshold.
#[derive(Debug, Clone, Serialize)]
pub struct SweepResult {
    /// The engine.
    pub engine: WakeEngine,
    /// The phrase of the real recordings, or why it could not be listened for.
    pub real_phrase: String,
    /// The synthesised phrase.
    pub synth_phrase: String,
    /// The threshold.
    pub threshold: f32,
    /// Recall per condition (empty when the engine cannot listen for the phrase).
    pub recall: Vec<RecallRow>,
    /// Recordings of the other words (each fed to both phrases' detectors).
    pub other_clips: usize,
    /// Detections on them.
    pub other_detections: usize,
    /// Seconds of long speech without the phrase (fed to both phrases' detectors).
    pub speech_s: f64,
    /// Detections in it.
    pub speech_detections: usize,
    /// False wakes per hour over all negative audio (other words + long speech).
    pub false_wakes_per_hour: f64,
    /// Median wake-word → detection latency, ms (end of the spoken phrase to
    /// `push` returning, counting the chunk's own duration and compute).
    pub latency_ms_median: f64,
    /// 95th percentile of the same.
    pub latency_ms_p95: f64,
    /// Processing time / audio time over the whole run.
    pub rtf: f64,
}

/// Memory of one engine.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    /// The engine.
    pub engine: WakeEngine,
    /// RSS growth from opening one detector, MiB.
    pub open_mib: f64,
    /// RSS growth over `silence_s` of silence fed after warm-up, MiB.
    pub silence_growth_mib: f64,
    /// Seconds of silence fed.
    pub silence_s: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct WakeBenchReport {
    /// One entry per engine and threshold.
    pub sweeps: Vec<SweepResult>,
    /// Memory per engine.
    pub memory: Vec<MemoryResult>,
    /// Peak RSS of the process, MiB.
    pub peak_rss_mib: f64,
}

/// One clip with the phrase: audio and where the phrase ends.
struct Clip {
    pcm: Vec<i16>,
    speech_end: usize,
}

/// Reads up to `limit` recordings of `word` (sorted by file name).
pub fn load_word(dir: &Path, word: &str, limit: Option<usize>) -> Result<Vec<Vec<i16>>> {
    let folder = dir.join(word);
    let entries = std::fs::read_dir(&folder).map_err(|e| SpeechError::io(&folder, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("flac") || x.eq_ignore_ascii_case("wav"))
        })
        .collect();
    paths.sort();
    paths.truncate(limit.unwrap_or(usize::MAX));
    if paths.is_empty() {
        return Err(SpeechError::bad_audio(
            folder,
            "has no .flac or .wav recordings",
        ));
    }
    paths
        .iter()
        .map(|p| audio::read_file(p).map(|a| a.samples))
        .collect()
}

/// Collects the sentences of Home Assistant intent test files under `dir`
/// (the items of every `sentences:` list), sorted and deduplicated.
pub fn ha_sentences(dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| SpeechError::io(&d, e))? {
            let path = entry.map_err(|e| SpeechError::io(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| SpeechError::io(&file, e))?;
        out.extend(sentences_of_yaml(&text));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The items of `sentences:` lists in one test file.
fn sentences_of_yaml(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut list_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(key_indent) = list_indent {
            if indent > key_indent && trimmed.starts_with("- ") {
                let item = trimmed[2..].trim().trim_matches('"').trim_matches('\'');
                if !item.is_empty() && !item.contains('{') {
                    out.push(item.to_owned());
                }
                continue;
            }
            list_indent = None;
        }
        if trimmed.trim_start_matches("- ") == "sentences:" {
            list_indent = Some(indent + if trimmed.starts_with("- ") { 2 } else { 0 });
        }
    }
    out
}

/// Where speech ends: the end of the last 10 ms frame whose RMS is within
/// 30 dB of the loudest frame (and above -60 dBFS).
fn speech_end(pcm: &[i16]) -> usize {
    let energies = frame_energies(pcm);
    let max = energies.iter().copied().fold(0.0, f64::max);
    let floor = (max * 1e-3).max(32768.0f64.powi(2) * 1e-6);
    energies
        .iter()
        .rposition(|&e| e > floor)
        .map_or(pcm.len(), |i| ((i + 1) * 160).min(pcm.len()))
}

fn frame_energies(pcm: &[i16]) -> Vec<f64> {
    pcm.chunks(160)
        .map(|f| f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64)
        .collect()
}

/// Mean power of the speech frames (within 30 dB of the loudest).
fn speech_power(pcm: &[i16]) -> f64 {
    let energies = frame_energies(pcm);
    let max = energies.iter().copied().fold(0.0, f64::max);
    let active: Vec<f64> = energies.into_iter().filter(|&e| e > max * 1e-3).collect();
    if active.is_empty() {
        return 0.0;
    }
    active.iter().sum::<f64>() / active.len() as f64
}

/// Deterministic pink noise (white noise through Paul Kellet's filter), unit-ish power.
pub fn pink_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut white = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let (mut b0, mut b1, mut b2, mut b3, mut b4, mut b5, mut b6) =
        (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
    (0..len)
        .map(|_| {
            let w = white();
            b0 = 0.99886 * b0 + w * 0.055_517_9;
            b1 = 0.99332 * b1 + w * 0.075_075_9;
            b2 = 0.96900 * b2 + w * 0.153_852;
            b3 = 0.86650 * b3 + w * 0.310_485_6;
            b4 = 0.55000 * b4 + w * 0.532_952_2;
            b5 = -0.7616 * b5 - w * 0.016_898;
            let out = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
            b6 = w * 0.115_926;
            out * 0.11
        })
        .collect()
}

/// Babble: `talkers` espeak-ng voices reading different sentences at once, `len` samples.
pub fn babble(len: usize, sentences: &[String], talkers: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0f32; len];
    for t in 0..talkers {
        let voice = VOICES[t % VOICES.len()];
        let mut pos = 0;
        let mut i = t * 37;
        while pos < len && !sentences.is_empty() {
            let a = synth::espeak(&sentences[i % sentences.len()], voice, 150 + 10 * t as u32)?;
            for (o, &s) in out[pos..].iter_mut().zip(&a.samples) {
                *o += f32::from(s) / 32768.0;
            }
            pos += a.samples.len();
            i += 1;
        }
    }
    Ok(out)
}

/// Mixes `noise` (starting at `offset`, wrapping) into `pcm` at `snr_db`
/// relative to the speech frames' power.
fn mix(pcm: &[i16], noise: &[f32], offset: usize, snr_db: f64) -> Vec<i16> {
    if noise.is_empty() {
        return pcm.to_vec();
    }
    let n: Vec<f32> = (0..pcm.len())
        .map(|i| noise[(offset + i) % noise.len()])
        .collect();
    let noise_power = n
        .iter()
        .map(|&x| f64::from(x * 32768.0).powi(2))
        .sum::<f64>()
        / n.len().max(1) as f64;
    let gain = if noise_power > 0.0 {
        (speech_power(pcm) / noise_power / 10f64.powf(snr_db / 10.0)).sqrt()
    } else {
        0.0
    };
    pcm.iter()
        .zip(&n)
        .map(|(&s, &x)| {
            (f64::from(s) + f64::from(x) * 32768.0 * gain)
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// `ms` of silence before and 1 s after `pcm` (room for the engines' context).
fn pad(pcm: &[i16], before_ms: u32) -> Vec<i16> {
    let mut out = synth::silence(before_ms);
    out.extend_from_slice(pcm);
    out.extend(synth::silence(1000));
    out
}

/// Feeds `pcm` in chunks; returns the detections with the latency of each
/// (end of speech → `push` returned) in ms, and the processing time.
fn run_stream(
    det: &mut dyn WakeWordDetector,
    pcm: &[i16],
    chunk: usize,
    speech_end: Option<usize>,
) -> Result<(usize, Vec<f64>, f64)> {
    det.reset()?;
    let (mut count, mut latencies, mut busy) = (0, Vec::new(), 0.0);
    let mut fed = 0usize;
    for c in pcm.chunks(chunk) {
        let t = Instant::now();
        let hit = det.push(c)?;
        let dt = t.elapsed().as_secs_f64();
        busy += dt;
        fed += c.len();
        if hit.is_some() {
            count += 1;
            if let Some(end) = speech_end {
                let waited_ms = (fed as f64 - end as f64) * 1000.0 / f64::from(SAMPLE_RATE);
                latencies.push(waited_ms + dt * 1000.0);
            }
        }
    }
    Ok((count, latencies, busy))
}

/// A detector under measurement at a threshold that the sweep changes.
enum Runner {
    /// Reopened at each threshold and fed through `push`, as applications do.
    Stream {
        engine: WakeEngine,
        phrase: String,
        options: WakeOptions,
        detector: Box<dyn WakeWordDetector>,
    },
    /// LiveKit: the classifier's scores are computed once per clip and the
    /// thresholds replayed on them (its networks cost ~100x PocketSphinx's search).
    #[cfg(feature = "livekit")]
    Replay {
        scorer: Box<super::livekit::LiveKitDetector>,
        threshold: f32,
        /// Hop scores per clip, keyed by the clip's address (clips live for the whole run).
        cache: std::collections::HashMap<usize, Vec<(u64, f32, f64)>>,
    },
}

impl Runner {
    /// `None` when the engine cannot listen for `phrase`.
    fn open(engine: WakeEngine, phrase: &str, options: &WakeOptions) -> Result<Option<Runner>> {
        let detector = match open_wake(engine, phrase, options) {
            Ok(d) => d,
            Err(SpeechError::BadWakePhrase { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        #[cfg(feature = "livekit")]
        if engine == WakeEngine::LiveKit {
            drop(detector);
            return Ok(Some(Runner::Replay {
                scorer: Box::new(super::open_livekit_scorer(phrase, options)?),
                threshold: engine.default_threshold(),
                cache: std::collections::HashMap::new(),
            }));
        }
        Ok(Some(Runner::Stream {
            engine,
            phrase: phrase.to_owned(),
            options: options.clone(),
            detector,
        }))
    }

    fn set_threshold(&mut self, t: f32) -> Result<()> {
        match self {
            Runner::Stream {
                engine,
                phrase,
                options,
                detector,
            } => {
                options.threshold = Some(t);
                *detector = open_wake(*engine, phrase, options)?;
            }
            #[cfg(feature = "livekit")]
            Runner::Replay { threshold, .. } => *threshold = t,
        }
        Ok(())
    }

    /// Detections in `pcm`, latencies (ms) from `speech_end`, seconds of processing.
    fn run(
        &mut self,
        pcm: &[i16],
        chunk: usize,
        speech_end: Option<usize>,
    ) -> Result<(usize, Vec<f64>, f64)> {
        match self {
            Runner::Stream { detector, .. } => {
                run_stream(detector.as_mut(), pcm, chunk, speech_end)
            }
            #[cfg(feature = "livekit")]
            Runner::Replay {
                scorer,
                threshold,
                cache,
            } => {
                let key = pcm.as_ptr() as usize;
                let scores = match cache.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(scorer.hop_scores(pcm)?)
                    }
                };
                let busy = scores.iter().map(|s| s.2).sum();
                let hits = super::livekit::LiveKitDetector::replay(scores, *threshold);
                let latencies = match speech_end {
                    Some(end) => hits
                        .iter()
                        .map(|&(at, dt)| {
                            (at as f64 - end as f64) * 1000.0 / f64::from(SAMPLE_RATE) + dt * 1000.0
                        })
                        .collect(),
                    None => Vec::new(),
                };
                Ok((hits.len(), latencies, busy))
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Conditions: label, noise kind and SNR (`None`: clean).
const CONDITIONS: [(&str, Option<(&str, f64)>); 5] = [
    ("clean", None),
    ("pink 20 dB", Some(("pink", 20.0))),
    ("pink 10 dB", Some(("pink", 10.0))),
    ("babble 20 dB", Some(("babble", 20.0))),
    ("babble 10 dB", Some(("babble", 10.0))),
];

/// Runs the benchmark; `progress` gets a message per step.
pub fn run(config: &WakeBenchConfig, progress: &mut dyn FnMut(&str)) -> Result<WakeBenchReport> {
    let chunk = (SAMPLE_RATE / 1000 * config.chunk_ms.max(1)) as usize;
    progress("reading recordings and test sentences");
    let real: Vec<Clip> = load_word(&config.wake_words_dir, &config.real_phrase, config.limit)?
        .into_iter()
        .map(|pcm| {
            let pcm = pad(&pcm, 500);
            Clip {
                speech_end: speech_end(&pcm),
                pcm,
            }
        })
        .collect();
    let mut others = Vec::new();
    for w in &config.other_words {
        others.extend(load_word(&config.wake_words_dir, w, config.limit)?);
    }
    let phrase_words: Vec<String> = config
        .real_phrase
        .split_whitespace()
        .chain(
            config
                .sweeps
                .iter()
                .flat_map(|s| s.synth_phrase.split_whitespace()),
        )
        .map(str::to_lowercase)
        .collect();
    // Sentences naming a phrase's word ("hey" aside) would be true wakes.
    let sentences: Vec<String> = ha_sentences(&config.sentences_dir)?
        .into_iter()
        .filter(|s| {
            s.split(|c: char| !c.is_alphanumeric())
                .map(str::to_lowercase)
                .all(|w| w.len() <= 3 || !phrase_words.contains(&w))
        })
        .collect();
    if sentences.is_empty() {
        return Err(SpeechError::bad_audio(
            &config.sentences_dir,
            "holds no test sentences (`sentences:` lists in .yaml files)",
        ));
    }
    progress("synthesising the phrase and long speech without it");
    let mut synth_phrases: Vec<&str> = config
        .sweeps
        .iter()
        .map(|s| s.synth_phrase.as_str())
        .collect();
    synth_phrases.sort_unstable();
    synth_phrases.dedup();
    let mut synth_clips: Vec<(&str, Vec<Clip>)> = Vec::new();
    for phrase in synth_phrases {
        let mut clips = Vec::new();
        for voice in VOICES {
            for speed in SPEEDS {
                let a = synth::espeak(phrase, voice, speed)?;
                let pcm = pad(&a.samples, 1500);
                clips.push(Clip {
                    speech_end: speech_end(&pcm),
                    pcm,
                });
            }
        }
        synth_clips.push((phrase, clips));
    }
    let mut speech = Vec::new();
    let target = (config.speech_s * f64::from(SAMPLE_RATE)) as usize;
    let mut i = 0;
    while speech.len() < target {
        // A different voice and speed for each sentence, as in a room of people.
        let voice = VOICES[i % VOICES.len()];
        let speed = SPEEDS[(i / VOICES.len()) % SPEEDS.len()];
        let a = synth::espeak(&sentences[(i * 7) % sentences.len()], voice, speed)?;
        speech.extend_from_slice(&a.samples);
        speech.extend(synth::silence(300));
        i += 1;
    }
    speech.truncate(target);
    progress("synthesising noise");
    let noise_len = 30 * SAMPLE_RATE as usize;
    let pink = pink_noise(noise_len, 7);
    let babble_noise = babble(noise_len, &sentences, 4)?;
    let noisy = |clips: &[Clip], kind: &str, snr: f64| -> Vec<Clip> {
        let noise = if kind == "pink" { &pink } else { &babble_noise };
        clips
            .iter()
            .enumerate()
            .map(|(i, c)| Clip {
                pcm: mix(&c.pcm, noise, i * 7919, snr),
                speech_end: c.speech_end,
            })
            .collect()
    };
    // (label, clips, synthesised phrase or None for the real recordings)
    let mut conditions: Vec<(String, Vec<Clip>, Option<&str>)> = Vec::new();
    for (label, noise) in CONDITIONS {
        let variant = |clips: &[Clip]| match noise {
            None => clips
                .iter()
                .map(|c| Clip {
                    pcm: c.pcm.clone(),
                    speech_end: c.speech_end,
                })
                .collect(),
            Some((kind, snr)) => noisy(clips, kind, snr),
        };
        conditions.push((format!("real {label}"), variant(&real), None));
        for (phrase, clips) in &synth_clips {
            conditions.push((format!("synth {label}"), variant(clips), Some(*phrase)));
        }
    }
    let other_s: f64 = others.iter().map(|o| o.len() as f64).sum::<f64>() / f64::from(SAMPLE_RATE);
    let speech_s = speech.len() as f64 / f64::from(SAMPLE_RATE);

    let mut sweeps = Vec::new();
    let mut memory = Vec::new();
    for sweep in &config.sweeps {
        let engine = &sweep.engine;
        if !engine.is_enabled() {
            progress(&format!("skipping {engine}: emma was built without it"));
            continue;
        }
        memory.push(measure_memory(
            *engine,
            &sweep.synth_phrase,
            &config.options,
            chunk,
        )?);
        // Each phrase the engine can listen for; a refusal (e.g. no LiveKit
        // classifier for "computer") is reported, not fatal.
        let mut real_det = Runner::open(*engine, &config.real_phrase, &config.options)?;
        let mut synth_det = Runner::open(*engine, &sweep.synth_phrase, &config.options)?;
        for &threshold in &sweep.thresholds {
            progress(&format!("{engine} at threshold {threshold}"));
            for r in [&mut real_det, &mut synth_det].into_iter().flatten() {
                r.set_threshold(threshold)?;
            }
            let (mut busy, mut audio_s) = (0.0, 0.0);
            let mut latencies = Vec::new();
            let mut recall = Vec::new();
            for (label, clips, synth_phrase) in &conditions {
                let det = match synth_phrase {
                    None => &mut real_det,
                    Some(p) if *p == sweep.synth_phrase => &mut synth_det,
                    Some(_) => continue,
                };
                let Some(det) = det.as_mut() else {
                    continue;
                };
                let mut detected = 0;
                for c in clips {
                    let (n, lat, b) = det.run(&c.pcm, chunk, Some(c.speech_end))?;
                    busy += b;
                    audio_s += c.pcm.len() as f64 / f64::from(SAMPLE_RATE);
                    if n > 0 {
                        detected += 1;
                    }
                    if label.ends_with("clean") {
                        latencies.extend(lat.first().copied());
                    }
                }
                recall.push(RecallRow {
                    condition: label.clone(),
                    clips: clips.len(),
                    detected,
                });
            }
            let (mut other_detections, mut speech_detections, mut negative_s) = (0, 0, 0.0);
            for det in [&mut real_det, &mut synth_det].into_iter().flatten() {
                for o in &others {
                    let (n, _, b) = det.run(o, chunk, None)?;
                    other_detections += n;
                    busy += b;
                }
                let (n, _, b) = det.run(&speech, chunk, None)?;
                speech_detections += n;
                busy += b;
                negative_s += other_s + speech_s;
            }
            audio_s += negative_s;
            latencies.sort_by(f64::total_cmp);
            sweeps.push(SweepResult {
                engine: *engine,
                real_phrase: if real_det.is_some() {
                    config.real_phrase.clone()
                } else {
                    format!("{} (no model)", config.real_phrase)
                },
                synth_phrase: if synth_det.is_some() {
                    sweep.synth_phrase.clone()
                } else {
                    format!("{} (no model)", sweep.synth_phrase)
                },
                threshold,
                recall,
                other_clips: others.len(),
                other_detections,
                speech_s,
                speech_detections,
                false_wakes_per_hour: if negative_s > 0.0 {
                    (other_detections + speech_detections) as f64 * 3600.0 / negative_s
                } else {
                    0.0
                },
                latency_ms_median: percentile(&latencies, 0.5),
                latency_ms_p95: percentile(&latencies, 0.95),
                rtf: if audio_s > 0.0 { busy / audio_s } else { 0.0 },
            });
        }
    }
    Ok(WakeBenchReport {
        sweeps,
        memory,
        peak_rss_mib: crate::bench::rss_mib().1,
    })
}

/// RSS growth from opening a detector and from feeding it minutes of silence.
fn measure_memory(
    engine: WakeEngine,
    phrase: &str,
    options: &WakeOptions,
    chunk: usize,
) -> Result<MemoryResult> {
    let before = crate::bench::rss_mib().0;
    let mut det = open_wake(engine, phrase, options)?;
    let silence = vec![0i16; chunk];
    // Warm-up: allocations of the first runs are not growth.
    for _ in 0..(10 * SAMPLE_RATE as usize / chunk) {
        det.push(&silence)?;
    }
    let opened = crate::bench::rss_mib().0;
    let silence_s = 120.0;
    for _ in 0..((silence_s * f64::from(SAMPLE_RATE)) as usize / chunk) {
        det.push(&silence)?;
    }
    let after = crate::bench::rss_mib().0;
    Ok(MemoryResult {
        engine,
        open_mib: opened - before,
        silence_growth_mib: after - opened,
        silence_s,
    })
}

impl WakeBenchReport {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let conditions: Vec<String> = self
            .sweeps
            .iter()
            .flat_map(|s| s.recall.iter().map(|r| r.condition.clone()))
            .fold(Vec::new(), |mut acc, c| {
                if !acc.contains(&c) {
                    acc.push(c);
                }
                acc
            });
        let _ = write!(
            out,
            "{:<12} {:<24} {:>9}",
            "engine", "phrases (real, synth)", "threshold"
        );
        for c in &conditions {
            let _ = write!(out, " {:>17}", c);
        }
        let _ = writeln!(
            out,
            " {:>11} {:>11} {:>9} {:>14} {:>7}",
            "other words", "HA speech", "FA/hour", "latency p50/95", "RTF"
        );
        for s in &self.sweeps {
            let phrases = format!("{}, {}", s.real_phrase, s.synth_phrase);
            let _ = write!(
                out,
                "{:<12} {:<24} {:>9}",
                s.engine.name(),
                phrases,
                s.threshold
            );
            for c in &conditions {
                match s.recall.iter().find(|r| &r.condition == c) {
                    Some(r) => {
                        let pct = 100.0 * r.detected as f64 / r.clips.max(1) as f64;
                        let _ = write!(
                            out,
                            " {:>17}",
                            format!("{pct:.1}% ({}/{})", r.detected, r.clips)
                        );
                    }
                    None => {
                        let _ = write!(out, " {:>17}", "n/a");
                    }
                }
            }
            let _ = writeln!(
                out,
                " {:>11} {:>11} {:>9.2} {:>14} {:>7.3}",
                s.other_detections,
                format!("{} in {:.0} min", s.speech_detections, s.speech_s / 60.0),
                s.false_wakes_per_hour,
                format!("{:.0}/{:.0} ms", s.latency_ms_median, s.latency_ms_p95),
                s.rtf
            );
        }
        if let Some(s) = self.sweeps.first() {
            let _ = writeln!(
                out,
                "real: people's recordings; synth: espeak-ng, {} voices x {} speeds; other words: {} recordings fed to each phrase's detector; \
                 HA speech: synthesised test sentences; FA/hour: false wakes per hour over both; n/a: no model for the phrase",
                VOICES.len(),
                SPEEDS.len(),
                s.other_clips
            );
        }
        for m in &self.memory {
            let _ = writeln!(
                out,
                "{}: detector +{:.1} MiB RSS; +{:.2} MiB after {:.0} s of silence",
                m.engine.name(),
                m.open_mib,
                m.silence_growth_mib,
                m.silence_s
            );
        }
        let _ = writeln!(out, "peak RSS {:.0} MiB", self.peak_rss_mib);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_read_from_test_yaml() {
        let yaml = "language: en\ntests:\n  # c\n  - sentences:\n      - \"turn on the light\"\n      - 'what time is it'\n    intent:\n      name: X\n  - sentences:\n      - open {area} door\n      - close it\n    response: done\n";
        assert_eq!(
            sentences_of_yaml(yaml),
            ["turn on the light", "what time is it", "close it"]
        );
    }

    #[test]
    fn noise_mixes_at_the_requested_snr() {
        let speech: Vec<i16> = (0..16_000)
            .map(|i| ((i as f64 * 0.05).sin() * 8000.0) as i16)
            .collect();
        let noise = pink_noise(32_000, 3);
        for snr in [20.0, 10.0, 0.0] {
            let mixed = mix(&speech, &noise, 100, snr);
            let residual: Vec<f64> = mixed
                .iter()
                .zip(&speech)
                .map(|(&m, &s)| f64::from(m) - f64::from(s))
                .collect();
            let pn = residual.iter().map(|x| x * x).sum::<f64>() / residual.len() as f64;
            let measured = 10.0 * (speech_power(&speech) / pn).log10();
            assert!(
                (measured - snr).abs() < 0.5,
                "asked {snr} dB, got {measured:.2}"
            );
        }
    }

    #[test]
    fn speech_end_finds_the_last_loud_frame() {
        let mut pcm = vec![0i16; 8000];
        pcm.extend((0..4000).map(|i| if i % 2 == 0 { 5000 } else { -5000 }));
        pcm.extend(vec![3i16; 8000]);
        assert_eq!(speech_end(&pcm), 12_000);
    }
}
