//! A noisy endpointing corpus made in the run, and what `emma bench endpoint`
//! measures on it.
//!
//! Speech is espeak-ng (several voices and speeds) and, when a directory of
//! real recordings is given, real voices. Each clip puts one or two
//! utterances between leading and trailing noise-only stretches, in one of
//! four scenarios ([`Scenario`]), mixed with one of four noises
//! ([`NoiseKind`], all generated here with a seeded generator) at a chosen
//! SNR. The true speech spans come from the clean speech before mixing.
//!
//! Per clip and endpointer: a spoken utterance is *split* when two or more
//! detected utterances overlap it, two are *merged* when one detected
//! utterance overlaps both (they are 1 s apart), *missed* when none overlaps
//! it; an *extra* utterance overlaps no speech (noise taken for speech: what
//! becomes a noise hypothesis such as "can"). Onset and offset clipping are
//! how much of the speech span lies before the detected start (less the
//! pre-roll the listener hands on) or after the detected end.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::audio::{self, SAMPLE_RATE};
use crate::endpoint::{Boundary, EndpointConfig, Endpointer};
use crate::error::Result;
use crate::synth;
use crate::vad::{EnergySettings, FrameVad, VadEngine};

/// A detector the bench measures: a [`VadEngine`] or, with the
/// `vad-candidates` feature, WebRTC's VAD (libfvad in its most aggressive
/// mode, 10 ms frames; its handle is not `Send`, so it lives only here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// One of the endpointer's own detectors.
    Engine(VadEngine),
    /// WebRTC's VAD.
    #[cfg(feature = "vad-candidates")]
    WebRtc,
}

impl Detector {
    /// Every detector compiled in.
    pub fn all() -> Vec<Detector> {
        #[allow(unused_mut)]
        let mut v: Vec<Detector> = VadEngine::all().into_iter().map(Detector::Engine).collect();
        #[cfg(feature = "vad-candidates")]
        v.push(Detector::WebRtc);
        v
    }

    /// Its short name.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Engine(e) => e.name(),
            #[cfg(feature = "vad-candidates")]
            Detector::WebRtc => "webrtc",
        }
    }
}

enum Scorer {
    Frame(FrameVad),
    #[cfg(feature = "vad-candidates")]
    WebRtc(webrtc_vad::Vad),
}

impl Scorer {
    fn new(d: Detector, config: &EndpointConfig) -> Scorer {
        match d {
            Detector::Engine(e) => Scorer::Frame(FrameVad::new(
                e,
                EnergySettings {
                    margin_db: config.margin_db,
                    min_db: config.min_db,
                },
            )),
            #[cfg(feature = "vad-candidates")]
            Detector::WebRtc => Scorer::WebRtc(webrtc_vad::Vad::new_with_rate_and_mode(
                webrtc_vad::SampleRate::Rate16kHz,
                webrtc_vad::VadMode::VeryAggressive,
            )),
        }
    }
    fn frame_len(&self) -> usize {
        match self {
            Scorer::Frame(v) => v.frame_len(),
            #[cfg(feature = "vad-candidates")]
            Scorer::WebRtc(_) => FRAME10,
        }
    }
    fn score(&mut self, frame: &[i16]) -> f32 {
        match self {
            Scorer::Frame(v) => v.score(frame),
            #[cfg(feature = "vad-candidates")]
            Scorer::WebRtc(v) => f32::from(u8::from(v.is_voice_segment(frame).unwrap_or(false))),
        }
    }
}

/// Background noise mixed under the speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// 1/f noise (fan, air conditioning).
    Pink,
    /// 1/f² noise (traffic rumble, a washing machine).
    Brown,
    /// Other espeak-ng speech with other voices (a television, people talking).
    Babble,
    /// Harmonic tone sweeps in notes (music-like).
    Music,
}

impl NoiseKind {
    /// All kinds.
    pub const ALL: [NoiseKind; 4] = [
        NoiseKind::Pink,
        NoiseKind::Brown,
        NoiseKind::Babble,
        NoiseKind::Music,
    ];
}

/// What a clip contains besides noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// One utterance.
    Single,
    /// Two utterances with 1 s of pause between them: must stay two.
    TwoCommands,
    /// One utterance whose first 400 ms fade in from −30 dB: must not be clipped.
    QuietOnset,
    /// One utterance, then a 200 ms noise burst (a door, a clatter) 0.7 s after
    /// it at speech level: must not start a new utterance.
    BurstAfter,
}

impl Scenario {
    /// All scenarios.
    pub const ALL: [Scenario; 4] = [
        Scenario::Single,
        Scenario::TwoCommands,
        Scenario::QuietOnset,
        Scenario::BurstAfter,
    ];
}

/// One corpus clip.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The mixed audio, 16 kHz mono.
    pub audio: Vec<i16>,
    /// Speech spans (sample ranges) of the utterances spoken.
    pub truth: Vec<(u64, u64)>,
    /// Per 10 ms frame: whether the clean speech is active there.
    pub frame_truth: Vec<bool>,
    /// Signal-to-noise ratio of the mix, dB.
    pub snr_db: f32,
    /// The noise.
    pub noise: NoiseKind,
    /// The scenario.
    pub scenario: Scenario,
}

/// Commands and sentences spoken by espeak-ng.
pub const PHRASES: [&str; 12] = [
    "turn on the kitchen light",
    "set a timer for ten minutes",
    "what is the weather like tomorrow",
    "play some music in the living room",
    "switch off all the lights please",
    "add milk and eggs to the shopping list",
    "how long until the oven is ready",
    "open the blinds in the bedroom",
    "remind me to call my sister at six",
    "is the front door locked",
    "I would like a cup of tea",
    "set the heating to twenty one degrees",
];

/// espeak-ng voices and speeds the speech is spoken with.
pub const VOICES: [(&str, u32); 4] = [
    ("en-us", 175),
    ("en+f3", 150),
    ("en-us+m3", 200),
    ("en-gb-x-rp+f2", 165),
];

const BABBLE: [&str; 4] = [
    "and then the weather report said that it would rain all week in the north",
    "the match was delayed by an hour because of the storm last night",
    "in other news the city council approved the new budget this afternoon",
    "she told me the recipe needs two cups of flour and a pinch of salt",
];

/// A small deterministic generator (xorshift), so the corpus is the same every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next value, uniform in 0..2^64.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Speech material: clean utterances, 16 kHz.
pub struct SpeechSource {
    /// Clean utterances (espeak-ng, then real recordings if any).
    pub utterances: Vec<Vec<i16>>,
    /// Babble material (espeak-ng speech of other sentences).
    pub babble: Vec<i16>,
    /// How many of `utterances` are real recordings.
    pub real: usize,
}

impl SpeechSource {
    /// Synthesises the phrases with every voice; adds up to `real_max` real
    /// recordings (`.flac`/`.wav`) found under `real_dir`, if given.
    pub fn build(real_dir: Option<&Path>, real_max: usize) -> Result<Self> {
        let mut utterances = Vec::new();
        for (i, phrase) in PHRASES.iter().enumerate() {
            for (j, (voice, speed)) in VOICES.iter().enumerate() {
                // Not every voice says every phrase: 24 utterances, 6 per voice.
                if (i + j) % 2 == 0 {
                    utterances.push(synth::espeak(phrase, voice, *speed)?.samples);
                }
            }
        }
        let mut real = 0;
        if let Some(dir) = real_dir {
            let mut files: Vec<_> = walk(dir);
            files.sort();
            // Spread the picks over the directory (several speakers and words).
            let step = (files.len() / real_max.max(1)).max(1);
            for f in files.iter().step_by(step).take(real_max) {
                if let Ok(a) = audio::read_file(f) {
                    utterances.push(a.samples);
                    real += 1;
                }
            }
        }
        let mut babble = Vec::new();
        for (i, s) in BABBLE.iter().enumerate() {
            let voice = ["en-us+f4", "en+m2", "en-us+f2", "en+m7"][i];
            babble.extend(synth::espeak(s, voice, 180)?.samples);
        }
        Ok(SpeechSource {
            utterances,
            babble,
            real,
        })
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("flac") | Some("wav")
        ) {
            out.push(p);
        }
    }
    out
}

const FRAME10: usize = (SAMPLE_RATE / 100) as usize;

/// Per 10 ms frame of clean speech: active when within 30 dB of the loudest
/// frame (and above −60 dBFS; real recordings have their own noise floor).
fn active_frames(clean: &[f32]) -> Vec<bool> {
    let db: Vec<f32> = clean
        .chunks(FRAME10)
        .map(|f| {
            let e = f.iter().map(|s| s * s).sum::<f32>() / f.len().max(1) as f32;
            10.0 * e.max(1e-12).log10()
        })
        .collect();
    let peak = db.iter().copied().fold(f32::MIN, f32::max);
    db.iter().map(|&d| d > peak - 30.0 && d > -60.0).collect()
}

/// The span (sample range) of active speech in a clean utterance.
fn speech_span(clean: &[f32]) -> Option<(usize, usize)> {
    let act = active_frames(clean);
    let first = act.iter().position(|&a| a)?;
    let last = act.iter().rposition(|&a| a)?;
    Some((first * FRAME10, ((last + 1) * FRAME10).min(clean.len())))
}

fn to_f32(pcm: &[i16]) -> Vec<f32> {
    pcm.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

fn noise(kind: NoiseKind, len: usize, rng: &mut Rng, babble: &[f32]) -> Vec<f32> {
    match kind {
        NoiseKind::Pink => {
            // Paul Kellet's economy pink filter.
            let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
            (0..len)
                .map(|_| {
                    let w = rng.uniform();
                    b0 = 0.99765 * b0 + w * 0.0990460;
                    b1 = 0.96300 * b1 + w * 0.2965164;
                    b2 = 0.57000 * b2 + w * 1.0526913;
                    b0 + b1 + b2 + w * 0.1848
                })
                .collect()
        }
        NoiseKind::Brown => {
            let mut y = 0.0f32;
            (0..len)
                .map(|_| {
                    y = 0.998 * y + 0.05 * rng.uniform();
                    y
                })
                .collect()
        }
        NoiseKind::Babble => {
            // Two talkers from different places in the babble material.
            let n = babble.len().max(1);
            let (o1, o2) = (rng.below(n), rng.below(n));
            (0..len)
                .map(|i| {
                    babble.get((o1 + i) % n).copied().unwrap_or(0.0)
                        + 0.7 * babble.get((o2 + i) % n).copied().unwrap_or(0.0)
                })
                .collect()
        }
        NoiseKind::Music => {
            // Notes of 250–500 ms, each a gliding tone with three harmonics and a decay.
            let mut out = Vec::with_capacity(len);
            let mut phase = 0.0f32;
            while out.len() < len {
                let note = (SAMPLE_RATE as usize / 4) + rng.below(SAMPLE_RATE as usize / 4);
                let f0 = 110.0 * 2f32.powf(rng.below(24) as f32 / 12.0);
                let glide = 1.0 + 0.3 * rng.uniform();
                for i in 0..note {
                    let t = i as f32 / note as f32;
                    let f = f0 * (1.0 + (glide - 1.0) * t);
                    phase += std::f32::consts::TAU * f / SAMPLE_RATE as f32;
                    let env = (-3.0 * t).exp();
                    out.push(
                        env * (phase.sin()
                            + 0.5 * (2.0 * phase).sin()
                            + 0.25 * (3.0 * phase).sin()),
                    );
                }
            }
            out.truncate(len);
            out
        }
    }
}

fn power(x: &[f32]) -> f32 {
    x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32
}

/// Builds one clip: `utts` (clean) laid out per `scenario`, noise at `snr_db`.
pub fn make_clip(
    utts: &[&[i16]],
    scenario: Scenario,
    kind: NoiseKind,
    snr_db: f32,
    babble: &[i16],
    rng: &mut Rng,
) -> Clip {
    let sr = SAMPLE_RATE as usize;
    let lead = sr / 2 + rng.below(sr);
    let mut clean: Vec<f32> = vec![0.0; lead];
    let mut truth = Vec::new();
    let mut speech_power = Vec::new();
    let mut last_end = 0usize;
    for (k, u) in utts.iter().enumerate() {
        let mut x = to_f32(u);
        let Some((s, e)) = speech_span(&x) else {
            continue;
        };
        // Normalise every utterance to the same speech level (−20 dBFS RMS).
        let p = power(&x[s..e]).max(1e-12);
        let g = (0.01 / p).sqrt();
        x.iter_mut().for_each(|v| *v *= g);
        if scenario == Scenario::QuietOnset {
            let fade = sr * 4 / 10;
            for (i, v) in x[s..].iter_mut().take(fade).enumerate() {
                // −30 dB → 0 dB, linear in dB.
                *v *= 10f32.powf(-1.5 * (1.0 - i as f32 / fade as f32));
            }
        }
        if k > 0 {
            // 1 s of pause between the spans of the two utterances.
            let gap = sr;
            let want = last_end + gap;
            let at = want.saturating_sub(s);
            clean.resize(at.max(clean.len()), 0.0);
            clean.truncate(at);
        }
        let base = clean.len();
        truth.push(((base + s) as u64, (base + e) as u64));
        speech_power.push(power(&x[s..e]));
        clean.extend_from_slice(&x);
        last_end = base + e;
    }
    let tail = sr * 3 / 2 + sr / 2;
    clean.resize(last_end + tail, 0.0);
    let frame_truth = active_frames_from_truth(&clean);
    let mut burst = vec![0.0f32; clean.len()];
    if scenario == Scenario::BurstAfter {
        let at = last_end + sr * 7 / 10;
        let n = sr / 5;
        for i in 0..n {
            if let Some(b) = burst.get_mut(at + i) {
                // White noise at speech level (+6 dB peak), decaying.
                *b = 0.2 * rng.uniform() * (-5.0 * i as f32 / n as f32).exp();
            }
        }
    }
    let babble = to_f32(babble);
    let mut nz = noise(kind, clean.len(), rng, &babble);
    let sp = speech_power.iter().sum::<f32>() / speech_power.len().max(1) as f32;
    let np = power(&nz).max(1e-12);
    let g = (sp / np / 10f32.powf(snr_db / 10.0)).sqrt();
    nz.iter_mut().for_each(|v| *v *= g);
    let audio = audio::to_i16(
        &clean
            .iter()
            .zip(&nz)
            .zip(&burst)
            .map(|((c, n), b)| c + n + b)
            .collect::<Vec<f32>>(),
    );
    Clip {
        audio,
        truth,
        frame_truth,
        snr_db,
        noise: kind,
        scenario,
    }
}

fn active_frames_from_truth(clean: &[f32]) -> Vec<bool> {
    // Per-utterance levels are equal after normalisation, so one threshold serves.
    active_frames(clean)
}

/// Builds the corpus: every scenario × noise × SNR, `per_cell` clips each.
pub fn corpus(src: &SpeechSource, snrs: &[f32], per_cell: usize, seed: u64) -> Vec<Clip> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let n = src.utterances.len();
    for &snr in snrs {
        for scenario in Scenario::ALL {
            for kind in NoiseKind::ALL {
                for _ in 0..per_cell {
                    let a = rng.below(n);
                    let b = (a + 1 + rng.below(n - 1)) % n;
                    let utts: Vec<&[i16]> = if scenario == Scenario::TwoCommands {
                        vec![&src.utterances[a], &src.utterances[b]]
                    } else {
                        vec![&src.utterances[a]]
                    };
                    out.push(make_clip(&utts, scenario, kind, snr, &src.babble, &mut rng));
                }
            }
        }
    }
    out
}

/// The utterances an endpointer finds in `pcm`, as sample ranges: its start
/// less the pre-roll, its end of speech. One still open at the end runs to the end.
pub fn segments(config: EndpointConfig, pcm: &[i16]) -> Vec<(u64, u64)> {
    segments_with(Detector::Engine(config.engine), config, pcm)
}

/// [`segments`] with the frames scored by `detector`.
pub fn segments_with(detector: Detector, config: EndpointConfig, pcm: &[i16]) -> Vec<(u64, u64)> {
    let mut ep = Endpointer::new(config);
    let mut scorer = Scorer::new(detector, &config);
    let len = scorer.frame_len();
    let mut out = Vec::new();
    let mut start = None;
    // Stream in 100 ms chunks, as the listener does.
    for chunk in pcm.chunks(SAMPLE_RATE as usize / 10) {
        for b in ep.push_scored(chunk, len, &mut |f| scorer.score(f)) {
            match b {
                Boundary::SpeechStart(s) => {
                    start = Some(s.saturating_sub(config.pre_roll_samples()));
                }
                Boundary::SpeechEnd(e) => {
                    if let Some(s) = start.take() {
                        out.push((s, e));
                    }
                }
                Boundary::Dropped(_) => start = None,
            }
        }
    }
    if let Some(s) = start
        && ep.in_speech()
    {
        out.push((s, pcm.len() as u64));
    }
    out
}

/// How one endpointer did on one clip.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ClipScore {
    /// A spoken utterance was cut into two or more.
    pub split: bool,
    /// Two spoken utterances came out as one.
    pub merged: bool,
    /// A spoken utterance was not found at all.
    pub missed: bool,
    /// Detected utterances overlapping no speech.
    pub extra: usize,
    /// Speech before the first detected start, ms (over found utterances).
    pub onset_clip_ms: f64,
    /// Speech after the last detected end, ms.
    pub offset_clip_ms: f64,
}

/// Scores detected `segs` against the clip's truth.
pub fn score(truth: &[(u64, u64)], segs: &[(u64, u64)]) -> ClipScore {
    let overlaps = |a: (u64, u64), b: (u64, u64)| a.0 < b.1 && b.0 < a.1;
    let ms = |samples: u64| samples as f64 * 1000.0 / f64::from(SAMPLE_RATE);
    let mut s = ClipScore::default();
    for &t in truth {
        let hits: Vec<&(u64, u64)> = segs.iter().filter(|&&g| overlaps(t, g)).collect();
        match hits.len() {
            0 => s.missed = true,
            1 => {}
            _ => s.split = true,
        }
        if let (Some(first), Some(last)) = (hits.first(), hits.last()) {
            s.onset_clip_ms = s.onset_clip_ms.max(ms(first.0.saturating_sub(t.0)));
            s.offset_clip_ms = s.offset_clip_ms.max(ms(t.1.saturating_sub(last.1)));
        }
    }
    for &g in segs {
        let n = truth.iter().filter(|&&t| overlaps(t, g)).count();
        if n == 0 {
            s.extra += 1;
        }
        if n >= 2 {
            s.merged = true;
        }
    }
    s
}

/// Totals of one endpointer over a set of clips.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Clips.
    pub clips: usize,
    /// Clips with a split utterance.
    pub split: usize,
    /// Clips with merged utterances (of those with two utterances).
    pub merged: usize,
    /// Clips with a missed utterance.
    pub missed: usize,
    /// Clips with at least one extra (noise) utterance.
    pub extra: usize,
    /// Clips with any of the above.
    pub wrong: usize,
    /// Mean onset clipping, ms.
    pub onset_clip_ms_mean: f64,
    /// 90th percentile of onset clipping, ms.
    pub onset_clip_ms_p90: f64,
    /// Mean offset clipping, ms.
    pub offset_clip_ms_mean: f64,
    /// 90th percentile of offset clipping, ms.
    pub offset_clip_ms_p90: f64,
}

impl Tally {
    /// Totals of `scores`.
    pub fn of(scores: &[ClipScore]) -> Tally {
        let mut onset: Vec<f64> = scores.iter().map(|s| s.onset_clip_ms).collect();
        let mut offset: Vec<f64> = scores.iter().map(|s| s.offset_clip_ms).collect();
        onset.sort_by(f64::total_cmp);
        offset.sort_by(f64::total_cmp);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let p90 = |v: &[f64]| v.get(v.len() * 9 / 10).copied().unwrap_or(0.0);
        Tally {
            clips: scores.len(),
            split: scores.iter().filter(|s| s.split).count(),
            merged: scores.iter().filter(|s| s.merged).count(),
            missed: scores.iter().filter(|s| s.missed).count(),
            extra: scores.iter().filter(|s| s.extra > 0).count(),
            wrong: scores
                .iter()
                .filter(|s| s.split || s.merged || s.missed || s.extra > 0)
                .count(),
            onset_clip_ms_mean: mean(&onset),
            onset_clip_ms_p90: p90(&onset),
            offset_clip_ms_mean: mean(&offset),
            offset_clip_ms_p90: p90(&offset),
        }
    }
}

/// Frame-level accuracy and cost of one detector at threshold 0.5.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    /// The detector.
    pub engine: &'static str,
    /// The SNR, dB (`None`: all).
    pub snr_db: Option<f32>,
    /// Share of speech frames classified as speech.
    pub recall: f64,
    /// Share of non-speech frames classified as speech.
    pub false_alarm: f64,
    /// Share of frames classified right.
    pub accuracy: f64,
    /// Microseconds per frame.
    pub us_per_frame: f64,
    /// Frame length, ms.
    pub frame_ms: f64,
}

/// Classifies every frame of every clip with `engine`.
pub fn frame_accuracy(detector: Detector, clips: &[&Clip], snr_db: Option<f32>) -> FrameResult {
    let (mut tp, mut fp, mut pos, mut neg, mut frames) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut elapsed = std::time::Duration::ZERO;
    let mut frame_ms = 0.0;
    for clip in clips {
        let mut vad = Scorer::new(detector, &EndpointConfig::energy_baseline());
        let len = vad.frame_len();
        frame_ms = len as f64 * 1000.0 / f64::from(SAMPLE_RATE);
        for (i, frame) in clip.audio.chunks_exact(len).enumerate() {
            let t = Instant::now();
            let p = vad.score(frame);
            elapsed += t.elapsed();
            frames += 1;
            // Truth: the 10 ms frame under this frame's middle.
            let mid = (i * len + len / 2) / FRAME10;
            let truth = clip.frame_truth.get(mid).copied().unwrap_or(false);
            let said = p >= 0.5;
            if truth {
                pos += 1;
                tp += u64::from(said);
            } else {
                neg += 1;
                fp += u64::from(said);
            }
        }
    }
    let fr = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    FrameResult {
        engine: detector.name(),
        snr_db,
        recall: fr(tp, pos),
        false_alarm: fr(fp, neg),
        accuracy: fr(tp + (neg - fp), pos + neg),
        us_per_frame: elapsed.as_secs_f64() * 1e6 / frames.max(1) as f64,
        frame_ms,
    }
}

/// One row of the endpointing table.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointRow {
    /// Which endpointer (`baseline` is the old energy one).
    pub endpointer: String,
    /// The SNR, dB.
    pub snr_db: f32,
    /// The totals.
    pub tally: Tally,
}

/// Which clips a row of the breakdown counts.
type ClipFilter = Box<dyn Fn(&Clip) -> bool>;

/// Runs `configs` (name, settings) over the clips, per SNR and scenario.
pub fn endpoint_rows(
    configs: &[(String, Detector, EndpointConfig)],
    clips: &[Clip],
    snrs: &[f32],
) -> (Vec<EndpointRow>, Vec<(String, String, Tally)>) {
    let mut rows = Vec::new();
    let mut by_scenario = Vec::new();
    let scored: Vec<Vec<ClipScore>> = configs
        .iter()
        .map(|(_, d, c)| {
            clips
                .iter()
                .map(|clip| score(&clip.truth, &segments_with(*d, *c, &clip.audio)))
                .collect()
        })
        .collect();
    for &snr in snrs {
        for ((name, _, _), scores) in configs.iter().zip(&scored) {
            let s: Vec<ClipScore> = clips
                .iter()
                .zip(scores)
                .filter(|(c, _)| c.snr_db == snr)
                .map(|(_, s)| *s)
                .collect();
            rows.push(EndpointRow {
                endpointer: name.clone(),
                snr_db: snr,
                tally: Tally::of(&s),
            });
        }
    }
    let groups: Vec<(String, ClipFilter)> = Scenario::ALL
        .iter()
        .map(|&sc| {
            let label = match sc {
                Scenario::Single => "single",
                Scenario::TwoCommands => "two",
                Scenario::QuietOnset => "quiet",
                Scenario::BurstAfter => "burst",
            };
            let f: ClipFilter = Box::new(move |c: &Clip| c.scenario == sc);
            (label.to_owned(), f)
        })
        .chain(NoiseKind::ALL.iter().map(|&k| {
            let label = match k {
                NoiseKind::Pink => "pink",
                NoiseKind::Brown => "brown",
                NoiseKind::Babble => "babble",
                NoiseKind::Music => "music",
            };
            let f: ClipFilter = Box::new(move |c: &Clip| c.noise == k);
            (label.to_owned(), f)
        }))
        .collect();
    for (label, keep) in &groups {
        for ((name, _, _), scores) in configs.iter().zip(&scored) {
            let s: Vec<ClipScore> = clips
                .iter()
                .zip(scores)
                .filter(|(c, _)| keep(c))
                .map(|(_, s)| *s)
                .collect();
            by_scenario.push((name.clone(), label.clone(), Tally::of(&s)));
        }
    }
    (rows, by_scenario)
}

/// What `emma bench endpoint` runs.
#[derive(Debug, Clone)]
pub struct EndpointBenchConfig {
    /// Real recordings to use as speech besides espeak-ng (a folder searched for `.flac`/`.wav`).
    pub real_dir: Option<std::path::PathBuf>,
    /// At most this many real recordings.
    pub real_max: usize,
    /// SNRs, dB.
    pub snrs: Vec<f32>,
    /// Clips per scenario × noise × SNR.
    pub per_cell: usize,
    /// Seed of the corpus.
    pub seed: u64,
}

/// The endpointers the bench compares: the old energy one first (the
/// baseline), then the default, then the energy detector with the new
/// hysteresis, then the other candidates compiled in with the default's settings.
pub fn contenders() -> Vec<(String, Detector, EndpointConfig)> {
    let new = EndpointConfig::voice_activity();
    let mut v = vec![
        (
            "baseline (old energy)".to_owned(),
            Detector::Engine(VadEngine::Energy),
            EndpointConfig::energy_baseline(),
        ),
        (
            format!("{} (default)", new.engine.name()),
            Detector::Engine(new.engine),
            new,
        ),
        (
            "energy + new hysteresis".to_owned(),
            Detector::Engine(VadEngine::Energy),
            EndpointConfig {
                engine: VadEngine::Energy,
                start_threshold: 0.5,
                end_threshold: 0.5,
                ..new
            },
        ),
    ];
    for d in Detector::all() {
        if d != Detector::Engine(VadEngine::Energy) && d != Detector::Engine(new.engine) {
            // Binary detectors (WebRTC) answer 0 or 1: the thresholds do not matter.
            v.push((d.name().to_owned(), d, new));
        }
    }
    v
}

/// The bench's results.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// Clips in the corpus.
    pub clips: usize,
    /// Clean utterances (espeak-ng + real).
    pub utterances: usize,
    /// Real recordings among them.
    pub real: usize,
    /// Frame-level accuracy and cost per detector, per SNR and overall.
    pub frames: Vec<FrameResult>,
    /// Endpointing per endpointer and SNR.
    pub rows: Vec<EndpointRow>,
    /// Endpointing per endpointer and scenario, then per noise (all SNRs).
    pub by_scenario: Vec<(String, String, Tally)>,
}

/// Builds the corpus and measures every detector and endpointer on it.
pub fn run(config: &EndpointBenchConfig, progress: &mut dyn FnMut(&str)) -> Result<EndpointReport> {
    progress("synthesising speech");
    let src = SpeechSource::build(config.real_dir.as_deref(), config.real_max)?;
    progress("mixing the corpus");
    let clips = corpus(&src, &config.snrs, config.per_cell, config.seed);
    let mut frames = Vec::new();
    for engine in Detector::all() {
        progress(&format!("frame accuracy: {}", engine.name()));
        for &snr in &config.snrs {
            let sel: Vec<&Clip> = clips.iter().filter(|c| c.snr_db == snr).collect();
            frames.push(frame_accuracy(engine, &sel, Some(snr)));
        }
        let all: Vec<&Clip> = clips.iter().collect();
        frames.push(frame_accuracy(engine, &all, None));
    }
    progress("endpointing");
    let (rows, by_scenario) = endpoint_rows(&contenders(), &clips, &config.snrs);
    Ok(EndpointReport {
        clips: clips.len(),
        utterances: src.utterances.len(),
        real: src.real,
        frames,
        rows,
        by_scenario,
    })
}

impl EndpointReport {
    /// The report as text tables; ratios are against the baseline of the same run.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "corpus: {} clips from {} clean utterances ({} real recordings)\n",
            self.clips, self.utterances, self.real
        );
        let _ = writeln!(t, "frame level (threshold 0.5):");
        let _ = writeln!(
            t,
            "{:<10} {:>6} {:>8} {:>8} {:>8} {:>9} {:>10}",
            "detector", "SNR", "recall", "f.alarm", "accuracy", "frame ms", "µs/frame"
        );
        for f in &self.frames {
            let snr = f.snr_db.map_or("all".to_owned(), |s| format!("{s}"));
            let _ = writeln!(
                t,
                "{:<10} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>9.0} {:>10.2}",
                f.engine, snr, f.recall, f.false_alarm, f.accuracy, f.frame_ms, f.us_per_frame
            );
        }
        let _ = writeln!(
            t,
            "\nendpointing (clips with the fault; wrong = any of split/merged/missed/extra; ratio = wrong / baseline's wrong):"
        );
        let header = format!(
            "{:<26} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}",
            "endpointer",
            "SNR",
            "clips",
            "split",
            "merged",
            "missed",
            "extra",
            "wrong",
            "ratio",
            "onset ms",
            "onset p90",
            "offset p90"
        );
        let _ = writeln!(t, "{header}");
        let mut base_wrong = 0usize;
        for r in &self.rows {
            if r.endpointer.starts_with("baseline") {
                base_wrong = r.tally.wrong;
            }
            let _ = writeln!(
                t,
                "{}",
                row(
                    &r.endpointer,
                    &format!("{}", r.snr_db),
                    &r.tally,
                    base_wrong
                )
            );
        }
        let _ = writeln!(t, "\nby scenario, then by noise (all SNRs):");
        let _ = writeln!(t, "{header}");
        for (name, label, tally) in &self.by_scenario {
            if name.starts_with("baseline") {
                base_wrong = tally.wrong;
            }
            let _ = writeln!(t, "{}", row(name, label, tally, base_wrong));
        }
        t
    }
}

fn row(name: &str, col: &str, t: &Tally, base_wrong: usize) -> String {
    let ratio = if base_wrong == 0 {
        "-".to_owned()
    } else {
        format!("{:.2}", t.wrong as f64 / base_wrong as f64)
    };
    format!(
        "{:<26} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9.0} {:>9.0} {:>9.0}",
        name,
        col,
        t.clips,
        t.split,
        t.merged,
        t.missed,
        t.extra,
        t.wrong,
        ratio,
        t.onset_clip_ms_mean,
        t.onset_clip_ms_p90,
        t.offset_clip_ms_p90
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_counts_split_merged_missed_and_extra() {
        let truth = [(1000, 5000), (21000, 25000)];
        let s = score(&truth, &[(900, 3000), (3500, 5000), (30000, 31000)]);
        assert!(s.split && !s.merged && s.missed);
        assert_eq!(s.extra, 1);
        let s = score(&truth, &[(1200, 26000)]);
        assert!(s.merged && !s.split && !s.missed);
        assert!((s.onset_clip_ms - 12.5).abs() < 1e-9);
    }

    #[test]
    fn mixing_hits_the_snr() {
        let mut rng = Rng::new(7);
        let speech: Vec<i16> = (0..16_000)
            .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16)
            .collect();
        let clip = make_clip(
            &[&speech],
            Scenario::Single,
            NoiseKind::Pink,
            12.0,
            &[],
            &mut rng,
        );
        let (s, e) = clip.truth[0];
        let total = power(&to_f32(&clip.audio[s as usize..e as usize]));
        let noise_only = power(&to_f32(&clip.audio[..s as usize]));
        // Speech + noise over noise: 10·log10(1 + 10^1.2) ≈ 12.3 dB.
        let snr = 10.0 * (total / noise_only).log10();
        assert!((snr - 12.3).abs() < 1.5, "{snr}");
    }
}
