//! Real human recordings: the coffee orders of Picovoice's speech-to-intent
//! benchmark, mixed with kitchen noise and scored the way the benchmark does.
//!
//! # Source and licence
//!
//! The data comes from <https://github.com/Picovoice/speech-to-intent-benchmark>
//! (619 recordings of people ordering coffee, 16 kHz mono, their labels, a
//! kitchen noise recording and the Rhino context `coffee_maker.yaml`, which
//! Emma imports directly). It is **not** part of Emma and is never copied into
//! this repository: the user clones the upstream repository and points the
//! harness at it (`EMMA_S2I_BENCH=DIR`); its licence terms are upstream's.
//! [`Corpus::load`] accepts the upstream layout (`data/speech/clean/*.wav`)
//! and a flat one (`clean/*.wav` beside `data/`).
//!
//! # Mixing (upstream `src/mix.py`)
//!
//! For each signal-to-noise ratio, each clean file gets a random segment of
//! `data/noise/kitchen.wav` as long as itself, scaled so that the loudest
//! 2,048-sample frame of the speech has `snr` dB more energy than the
//! loudest frame of the scaled noise ([`noise_scale`]); the sum is then
//! peak-normalised to half of full scale ([`PEAK`]). Upstream draws the
//! segments from an unseeded global RNG; here each file's segment is drawn
//! from an RNG seeded with [`MIX_SEED`], the SNR and the file's name
//! ([`noise_offset`]), so a mix does not depend on which other files are
//! measured (a sample with `EMMA_S2I_STEP` hears the same audio as the full
//! run). Everything is done in memory; no file is written.
//!
//! # Scoring (upstream `src/engine.py`, `Engine.process`)
//!
//! A file is right iff its intent equals the label's and every labelled slot
//! is present with an equal value after trimming whitespace; extra slots are
//! fine. Emma can hear several utterances in one file: the file's result is
//! its first utterance with an intent ([`score_file`]). Beyond the
//! benchmark's single number, a right file is either acted on (not
//! [`Understood::unsure`]) or asked about ("Did you say …?"); a wrong intent
//! acted on without asking is counted separately (the costly error), and so
//! are files the endpointer split into more than one utterance with text.
//!
//! # Split
//!
//! Files sorted by name: `tune` are the even indices (0, 2, 4, …; 310
//! files), `held` the odd ones (309 files): tune on one half, report the other.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, bail};
use emma_core::understand::Understood;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Frame length of the benchmark's energy measure, in samples.
pub const FRAME: usize = 2048;
/// The peak of a noisy mix, as a fraction of full scale.
pub const PEAK: f64 = 0.5;
/// The base seed of the noise segments (the prototype's `default_rng(10)`).
pub const MIX_SEED: u64 = 10;
/// The kitchen-noise SNRs measured, in dB.
pub const SNRS_DB: [u32; 4] = [24, 18, 12, 6];
/// Sample rate of the recordings and the noise.
pub const SAMPLE_RATE: f64 = 16_000.0;

/// What a recording's label says: the intent and the slots it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The intent's name (`orderDrink`).
    pub intent: String,
    /// Slot name → value; every one must be understood.
    pub slots: BTreeMap<String, String>,
}

/// One labelled recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// File name (`0075d273-….wav`), the key of `label.json`.
    pub name: String,
    /// Where the clean recording is.
    pub path: PathBuf,
    /// What it must be understood as.
    pub label: Label,
}

/// The benchmark's data: recordings sorted by name, the noise, the context.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The directory `EMMA_S2I_BENCH` named.
    pub root: PathBuf,
    /// Every clean recording with its label, sorted by name.
    pub recordings: Vec<Recording>,
    /// The kitchen noise, 16 kHz mono.
    pub noise: Vec<i16>,
}

impl Corpus {
    /// Loads the labels, lists the clean recordings and reads the noise
    /// under `root`; every missing or malformed piece is an error naming its path.
    pub fn load(root: &Path) -> anyhow::Result<Corpus> {
        if !root.is_dir() {
            bail!(
                "{} is not a directory (EMMA_S2I_BENCH must name a checkout of speech-to-intent-benchmark)",
                root.display()
            );
        }
        let labels = read_labels(&root.join("data/label/label.json"))?;
        let clean = clean_dir(root)?;
        let recordings = recordings(&clean, labels)?;
        let noise = read_pcm(&noise_path(root))?;
        Ok(Corpus {
            root: root.to_owned(),
            recordings,
            noise,
        })
    }

    /// The Rhino context the recordings are orders for.
    pub fn context(&self) -> PathBuf {
        self.root.join("data/rhino/coffee_maker.yaml")
    }

    /// The recordings of `split`, in name order.
    pub fn split(&self, split: Split) -> Vec<&Recording> {
        split_indices(self.recordings.len(), split)
            .map(|i| &self.recordings[i])
            .collect()
    }

    /// The audio of `rec` under `condition`: the recording itself, or mixed with the kitchen noise.
    pub fn audio(&self, rec: &Recording, condition: Condition) -> anyhow::Result<Vec<i16>> {
        let speech = read_pcm(&rec.path)?;
        match condition {
            Condition::Clean => Ok(speech),
            Condition::Kitchen { snr_db } => {
                let start =
                    noise_offset(MIX_SEED, &rec.name, snr_db, speech.len(), self.noise.len())
                        .with_context(|| format!("mixing {}", rec.path.display()))?;
                let segment = &self.noise[start..start + speech.len()];
                Ok(to_pcm(&mix(&speech, segment, f64::from(snr_db))))
            }
        }
    }
}

/// `data/speech/clean` (upstream layout) if it holds `.wav` files, else
/// `clean/` (flat layout; an upstream checkout whose recordings were moved
/// out leaves the first one empty).
pub fn clean_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let upstream = root.join("data/speech/clean");
    let flat = root.join("clean");
    for dir in [&upstream, &flat] {
        if has_wavs(dir) {
            return Ok(dir.clone());
        }
    }
    bail!(
        "no recordings: neither {} nor {} holds .wav files",
        upstream.display(),
        flat.display()
    )
}

/// Whether `dir` is a directory with at least one `.wav` file.
fn has_wavs(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".wav"))
    })
}

/// The kitchen noise recording under `root`.
pub fn noise_path(root: &Path) -> PathBuf {
    root.join("data/noise/kitchen.wav")
}

/// Reads `label.json`: file name → `{"intent": …, "slots": {name: value}}`.
pub fn read_labels(path: &Path) -> anyhow::Result<BTreeMap<String, Label>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_labels(&text).with_context(|| format!("malformed labels in {}", path.display()))
}

/// Parses the text of `label.json`.
pub fn parse_labels(text: &str) -> anyhow::Result<BTreeMap<String, Label>> {
    let json: serde_json::Value = serde_json::from_str(text)?;
    let Some(files) = json.as_object() else {
        bail!("the top level is not an object of file names");
    };
    let mut labels = BTreeMap::new();
    for (name, entry) in files {
        let intent = entry
            .get("intent")
            .and_then(|i| i.as_str())
            .with_context(|| format!("{name}: no string \"intent\""))?;
        let mut slots = BTreeMap::new();
        if let Some(s) = entry.get("slots") {
            let s = s
                .as_object()
                .with_context(|| format!("{name}: \"slots\" is not an object"))?;
            for (slot, value) in s {
                let value = value
                    .as_str()
                    .with_context(|| format!("{name}: slot {slot} is not a string"))?;
                slots.insert(slot.clone(), value.to_owned());
            }
        }
        labels.insert(
            name.clone(),
            Label {
                intent: intent.to_owned(),
                slots,
            },
        );
    }
    Ok(labels)
}

/// The `.wav` files of `dir` with their labels, sorted by name; a file without a label is an error.
fn recordings(dir: &Path, labels: BTreeMap<String, Label>) -> anyhow::Result<Vec<Recording>> {
    let mut names = vec![];
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let name = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".wav") {
            names.push(name);
        }
    }
    if names.is_empty() {
        bail!("no .wav files in {}", dir.display());
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let label = labels
                .get(&name)
                .with_context(|| format!("{}: no label in label.json", dir.join(&name).display()))?
                .clone();
            Ok(Recording {
                path: dir.join(&name),
                name,
                label,
            })
        })
        .collect()
}

/// Reads a recording as 16 kHz mono samples.
pub fn read_pcm(path: &Path) -> anyhow::Result<Vec<i16>> {
    Ok(emma_speech::audio::read_file(path)
        .with_context(|| format!("cannot read audio {}", path.display()))?
        .samples)
}

/// Which half of the sorted recordings is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Even indices: for tuning.
    Tune,
    /// Odd indices: for reporting.
    Held,
    /// Every file.
    All,
}

impl FromStr for Split {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Split> {
        match s {
            "tune" => Ok(Split::Tune),
            "held" => Ok(Split::Held),
            "all" => Ok(Split::All),
            _ => bail!("unknown split {s:?}: held, tune or all"),
        }
    }
}

/// The indices of `split` among `n` files sorted by name.
pub fn split_indices(n: usize, split: Split) -> impl Iterator<Item = usize> {
    let (start, step) = match split {
        Split::Tune => (0, 2),
        Split::Held => (1, 2),
        Split::All => (0, 1),
    };
    (start..n).step_by(step)
}

/// What the recordings are heard through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The recording as it is.
    Clean,
    /// Mixed with the kitchen noise at `snr_db`.
    Kitchen {
        /// Signal-to-noise ratio of the loudest frames, in dB.
        snr_db: u32,
    },
}

impl Condition {
    /// Clean, then kitchen noise at each of [`SNRS_DB`].
    pub fn all() -> Vec<Condition> {
        std::iter::once(Condition::Clean)
            .chain(SNRS_DB.iter().map(|&snr_db| Condition::Kitchen { snr_db }))
            .collect()
    }
}

impl FromStr for Condition {
    type Err = anyhow::Error;
    /// `clean`, or an SNR in dB (`24`, also `kitchen_24db`).
    fn from_str(s: &str) -> anyhow::Result<Condition> {
        if s == "clean" {
            return Ok(Condition::Clean);
        }
        let db = s.trim_start_matches("kitchen_").trim_end_matches("db");
        match db.parse() {
            Ok(snr_db) => Ok(Condition::Kitchen { snr_db }),
            Err(_) => bail!("unknown condition {s:?}: clean or an SNR in dB (24, 18, 12, 6)"),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Clean => f.write_str("clean"),
            Condition::Kitchen { snr_db } => write!(f, "kitchen {snr_db} dB"),
        }
    }
}

/// The energy of the loudest whole [`FRAME`]-sample frame (a trailing
/// partial frame is ignored, as upstream); a signal shorter than one frame
/// counts as one frame.
pub fn max_frame_energy(pcm: &[f64]) -> f64 {
    let energy = |frame: &[f64]| frame.iter().map(|x| x * x).sum::<f64>();
    if pcm.len() < FRAME {
        return energy(pcm);
    }
    pcm.chunks_exact(FRAME).map(energy).fold(0.0, f64::max)
}

/// The factor for `noise` that puts the loudest speech frame `snr_db` dB
/// above the loudest noise frame (0 for silent noise).
pub fn noise_scale(speech: &[f64], noise: &[f64], snr_db: f64) -> f64 {
    let noise_energy = max_frame_energy(noise);
    if noise_energy == 0.0 {
        return 0.0;
    }
    (max_frame_energy(speech) / (noise_energy * 10f64.powf(snr_db / 10.0))).sqrt()
}

/// Samples as floats in [-1, 1).
fn to_float(pcm: &[i16]) -> Vec<f64> {
    pcm.iter().map(|&s| f64::from(s) / 32768.0).collect()
}

/// Floats back to samples the way libsndfile writes `PCM_16` (× 32767, rounded, clipped).
pub fn to_pcm(x: &[f64]) -> Vec<i16> {
    x.iter()
        .map(|&v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// `speech` plus `noise` (as long as it) at `snr_db`, peak-normalised to [`PEAK`], as floats.
pub fn mix(speech: &[i16], noise: &[i16], snr_db: f64) -> Vec<f64> {
    assert_eq!(
        speech.len(),
        noise.len(),
        "the noise segment fits the speech"
    );
    let (s, n) = (to_float(speech), to_float(noise));
    let scale = noise_scale(&s, &n, snr_db);
    let mut m: Vec<f64> = s.iter().zip(&n).map(|(s, n)| s + scale * n).collect();
    let peak = m.iter().fold(0.0f64, |p, x| p.max(x.abs()));
    if peak > 0.0 {
        m.iter_mut().for_each(|x| *x *= PEAK / peak);
    }
    m
}

/// Where `name`'s noise segment starts at `snr_db`: uniform in
/// `0..noise_len - speech_len` (as upstream's `randint`), drawn from an
/// RNG seeded with `seed`, the SNR and the name (FNV-1a), so it depends on
/// nothing else. The RNG is rand 0.8's `StdRng` (ChaCha12), whose stream
/// `Cargo.lock` pins: another rand version may draw other segments.
pub fn noise_offset(
    seed: u64,
    name: &str,
    snr_db: u32,
    speech_len: usize,
    noise_len: usize,
) -> anyhow::Result<usize> {
    if speech_len >= noise_len {
        bail!("the recording ({speech_len} samples) is not shorter than the noise ({noise_len})");
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(snr_db.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ h);
    Ok(rng.gen_range(0..noise_len - speech_len))
}

/// How one file fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Intent and every labelled slot right.
    pub right: bool,
    /// Right, but unsure: the assistant would ask before acting.
    pub asked: bool,
    /// An intent that is wrong, acted on without asking.
    pub wrong_acted: bool,
    /// More than one utterance with text: the endpointer split the file.
    pub split: bool,
}

/// Whether `r` has `label`'s intent and every labelled slot, values compared after trimming.
pub fn understood_as(label: &Label, r: &Understood) -> bool {
    r.intent.as_deref() == Some(label.intent.as_str())
        && label
            .slots
            .iter()
            .all(|(k, v)| r.slots.get(k).is_some_and(|got| got.trim() == v.trim()))
}

/// Scores the utterances Emma heard in one file against its label: the
/// file's result is its first utterance with an intent.
pub fn score_file(label: &Label, heard: &[Understood]) -> Outcome {
    let split = heard.iter().filter(|r| !r.text.trim().is_empty()).count() > 1;
    let Some(hit) = heard.iter().find(|r| r.intent.is_some()) else {
        return Outcome {
            split,
            ..Outcome::default()
        };
    };
    let right = understood_as(label, hit);
    let unsure = hit.unsure.is_some();
    Outcome {
        right,
        asked: right && unsure,
        wrong_acted: !right && !unsure,
        split,
    }
}

/// Counts over the files of one method and condition.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Files scored.
    pub n: usize,
    /// Right files.
    pub right: usize,
    /// Right files acted on without asking.
    pub acted: usize,
    /// Right files asked about.
    pub asked: usize,
    /// Wrong intents acted on.
    pub wrong_acted: usize,
    /// Files split into more than one utterance with text.
    pub split: usize,
    /// Seconds of audio decoded.
    pub audio_s: f64,
    /// Wall-clock seconds spent decoding it.
    pub decode_s: f64,
}

impl Tally {
    /// Adds one file's outcome.
    pub fn add(&mut self, o: Outcome) {
        self.n += 1;
        self.right += usize::from(o.right);
        self.acted += usize::from(o.right && !o.asked);
        self.asked += usize::from(o.asked);
        self.wrong_acted += usize::from(o.wrong_acted);
        self.split += usize::from(o.split);
    }

    /// Right files in percent.
    pub fn right_pct(&self) -> f64 {
        100.0 * self.right as f64 / self.n.max(1) as f64
    }

    /// Decoding time over audio time.
    pub fn real_time_factor(&self) -> f64 {
        self.decode_s / self.audio_s.max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emma_core::understand::Unsure;

    /// A deterministic test signal: a sine of `amp` with `period` samples.
    fn tone(len: usize, amp: f64, period: f64) -> Vec<i16> {
        (0..len)
            .map(|i| (amp * (i as f64 * std::f64::consts::TAU / period).sin()) as i16)
            .collect()
    }

    #[test]
    fn s2i_max_frame_energy_takes_the_loudest_whole_frame() {
        let mut x = vec![0.0; FRAME * 3 + 10];
        x[FRAME + 5] = 2.0; // second frame: energy 4
        x[3] = 1.0; // first frame: energy 1
        x[FRAME * 3 + 2] = 10.0; // the partial trailing frame is ignored
        assert_eq!(max_frame_energy(&x), 4.0);
        assert_eq!(max_frame_energy(&[3.0, 4.0]), 25.0);
    }

    #[test]
    fn s2i_noise_scale_gives_the_requested_frame_energy_ratio() {
        // Speech loud in one frame only, noise louder throughout.
        let mut speech = vec![0i16; FRAME * 4];
        speech[FRAME..FRAME * 2].copy_from_slice(&tone(FRAME, 8000.0, 40.0));
        let noise = tone(FRAME * 4, 20000.0, 7.0);
        for snr in [24.0, 12.0, 6.0, 0.0] {
            let (s, n) = (to_float(&speech), to_float(&noise));
            let scaled: Vec<f64> = n.iter().map(|x| x * noise_scale(&s, &n, snr)).collect();
            let ratio_db = 10.0 * (max_frame_energy(&s) / max_frame_energy(&scaled)).log10();
            assert!((ratio_db - snr).abs() < 1e-9, "{snr} dB: got {ratio_db}");
        }
    }

    #[test]
    fn s2i_mix_is_peak_normalised_and_keeps_the_ratio() {
        let speech = tone(FRAME * 3, 3000.0, 50.0);
        let noise = tone(FRAME * 3, 12000.0, 9.0);
        let m = mix(&speech, &noise, 18.0);
        let peak = m.iter().fold(0.0f64, |p, x| p.max(x.abs()));
        assert!((peak - PEAK).abs() < 1e-12, "peak {peak}");
        let pcm = to_pcm(&m);
        assert_eq!(pcm.iter().map(|s| s.unsigned_abs()).max(), Some(16384));
        // The mix is speech + noise at 18 dB, scaled as a whole: subtracting
        // the scaled speech leaves noise 18 dB below it.
        let s = to_float(&speech);
        let n = to_float(&noise);
        let k = noise_scale(&s, &n, 18.0);
        let raw_peak = s
            .iter()
            .zip(&n)
            .fold(0.0f64, |p, (s, n)| p.max((s + k * n).abs()));
        let g = PEAK / raw_peak;
        let speech_part: Vec<f64> = s.iter().map(|x| x * g).collect();
        let noise_part: Vec<f64> = m.iter().zip(&speech_part).map(|(m, s)| m - s).collect();
        let ratio_db =
            10.0 * (max_frame_energy(&speech_part) / max_frame_energy(&noise_part)).log10();
        assert!((ratio_db - 18.0).abs() < 1e-6, "{ratio_db}");
    }

    #[test]
    fn s2i_same_seed_same_mix_other_seed_other_segment() {
        let a = noise_offset(MIX_SEED, "a.wav", 12, 1000, 100_000).unwrap();
        assert_eq!(
            a,
            noise_offset(MIX_SEED, "a.wav", 12, 1000, 100_000).unwrap()
        );
        // Different seeds, SNRs or names draw other segments (not all equal).
        let others = [
            noise_offset(MIX_SEED + 1, "a.wav", 12, 1000, 100_000).unwrap(),
            noise_offset(MIX_SEED, "a.wav", 6, 1000, 100_000).unwrap(),
            noise_offset(MIX_SEED, "b.wav", 12, 1000, 100_000).unwrap(),
        ];
        assert!(others.iter().any(|&o| o != a), "{a} {others:?}");
        assert!(others.iter().all(|&o| o < 99_000));
        assert!(noise_offset(MIX_SEED, "a.wav", 12, 5, 5).is_err());
        // And the whole corpus path: same seed, same samples.
        let corpus = Corpus {
            root: PathBuf::new(),
            recordings: vec![],
            noise: tone(50_000, 9000.0, 13.0),
        };
        let speech = tone(FRAME * 2, 4000.0, 31.0);
        let mixed = |seed| {
            let start = noise_offset(seed, "x.wav", 6, speech.len(), corpus.noise.len()).unwrap();
            to_pcm(&mix(
                &speech,
                &corpus.noise[start..start + speech.len()],
                6.0,
            ))
        };
        assert_eq!(mixed(MIX_SEED), mixed(MIX_SEED));
    }

    fn label(slots: &[(&str, &str)]) -> Label {
        Label {
            intent: "orderDrink".into(),
            slots: slots
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn heard(text: &str, intent: Option<&str>, slots: &[(&str, &str)]) -> Understood {
        let mut u = Understood::nothing();
        u.text = text.into();
        u.intent = intent.map(str::to_owned);
        u.slots = slots
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        u
    }

    #[test]
    fn s2i_scoring_follows_the_benchmark() {
        let want = label(&[("size", "twelve ounce"), ("coffeeDrink", "coffee")]);
        let exact = heard(
            "a twelve ounce coffee",
            Some("orderDrink"),
            &[("size", "twelve ounce"), ("coffeeDrink", "coffee")],
        );
        let right = score_file(&want, std::slice::from_ref(&exact));
        assert!(right.right && !right.asked && !right.wrong_acted && !right.split);
        // An extra slot is fine.
        let mut extra = exact.clone();
        extra.slots.insert("roast".into(), "dark roast".into());
        assert!(score_file(&want, &[extra]).right);
        // A missing slot is wrong, and acted on.
        let missing = heard("a coffee", Some("orderDrink"), &[("coffeeDrink", "coffee")]);
        let o = score_file(&want, &[missing]);
        assert!(!o.right && o.wrong_acted);
        // Values are compared after trimming whitespace, on both sides.
        let spaced = heard(
            "x",
            Some("orderDrink"),
            &[("size", " twelve ounce "), ("coffeeDrink", "coffee\n")],
        );
        assert!(score_file(&label(&[("size", "twelve ounce ")]), &[spaced]).right);
        // Another value or intent is wrong.
        let other = heard(
            "x",
            Some("orderDrink"),
            &[("size", "eight ounce"), ("coffeeDrink", "coffee")],
        );
        assert!(!score_file(&want, &[other]).right);
        let mut intent = exact.clone();
        intent.intent = Some("cancel".into());
        assert!(!score_file(&want, &[intent]).right);
    }

    #[test]
    fn s2i_the_first_utterance_with_an_intent_counts() {
        let want = label(&[("coffeeDrink", "coffee")]);
        let right = heard("coffee", Some("orderDrink"), &[("coffeeDrink", "coffee")]);
        let wrong = heard("latte", Some("orderDrink"), &[("coffeeDrink", "latte")]);
        let noise = heard("um", None, &[]);
        // An utterance without an intent before it does not count; the first with one does.
        let o = score_file(&want, &[noise.clone(), right.clone(), wrong.clone()]);
        assert!(o.right && o.split);
        let o = score_file(&want, &[wrong, right]);
        assert!(!o.right && o.wrong_acted);
        // Nothing heard, or only empty utterances: not right, not acted, not split.
        assert_eq!(score_file(&want, &[]), Outcome::default());
        let empty = heard(" ", None, &[]);
        assert_eq!(
            score_file(&want, &[empty.clone(), empty, noise]),
            Outcome::default()
        );
    }

    #[test]
    fn s2i_unsure_counts_as_asked_not_acted() {
        let want = label(&[("coffeeDrink", "coffee")]);
        let mut r = heard("coffee", Some("orderDrink"), &[("coffeeDrink", "coffee")]);
        r.unsure = Some(Unsure::AcousticFit);
        let o = score_file(&want, &[r.clone()]);
        assert!(o.right && o.asked && !o.wrong_acted);
        // A wrong unsure command is asked about, not acted on.
        r.slots.insert("coffeeDrink".into(), "latte".into());
        assert_eq!(score_file(&want, &[r]), Outcome::default());
        let mut t = Tally::default();
        t.add(o);
        t.add(Outcome {
            right: true,
            ..Outcome::default()
        });
        t.add(Outcome {
            wrong_acted: true,
            split: true,
            ..Outcome::default()
        });
        assert_eq!(
            (t.n, t.right, t.acted, t.asked, t.wrong_acted, t.split),
            (3, 2, 1, 1, 1, 1)
        );
    }

    #[test]
    fn s2i_labels_and_split() {
        let labels = parse_labels(
            r#"{"a.wav": {"intent": "orderDrink", "slots": {"size": "eight ounce"}},
                "b.wav": {"intent": "orderDrink", "slots": {}}}"#,
        )
        .unwrap();
        assert_eq!(labels["a.wav"], label(&[("size", "eight ounce")]));
        assert!(labels["b.wav"].slots.is_empty());
        assert!(parse_labels(r#"{"a.wav": {"slots": {}}}"#).is_err());
        assert!(parse_labels(r#"{"a.wav": {"intent": "x", "slots": {"s": 1}}}"#).is_err());
        assert!(parse_labels("[]").is_err());
        let held: Vec<usize> = split_indices(619, Split::Held).collect();
        let tune: Vec<usize> = split_indices(619, Split::Tune).collect();
        assert_eq!((held.len(), tune.len()), (309, 310));
        assert_eq!((held[0], tune[0], tune[1]), (1, 0, 2));
        assert_eq!(
            "24".parse::<Condition>().unwrap(),
            Condition::Kitchen { snr_db: 24 }
        );
        assert_eq!(
            "kitchen_6db".parse::<Condition>().unwrap(),
            Condition::Kitchen { snr_db: 6 }
        );
        assert_eq!("clean".parse::<Condition>().unwrap(), Condition::Clean);
        assert!("loud".parse::<Condition>().is_err());
        assert!("x".parse::<Split>().is_err());
    }

    #[test]
    fn s2i_missing_data_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", Corpus::load(dir.path()).unwrap_err());
        assert!(err.contains("label.json"), "{err}");
        std::fs::create_dir_all(dir.path().join("data/label")).unwrap();
        std::fs::write(dir.path().join("data/label/label.json"), "{}").unwrap();
        let err = format!("{:#}", Corpus::load(dir.path()).unwrap_err());
        assert!(
            err.contains("data/speech/clean") && err.contains("clean"),
            "{err}"
        );
        // A recording without a label names the file.
        std::fs::create_dir_all(dir.path().join("clean")).unwrap();
        std::fs::write(dir.path().join("clean/x.wav"), b"").unwrap();
        let err = format!("{:#}", Corpus::load(dir.path()).unwrap_err());
        assert!(
            err.contains("clean/x.wav") && err.contains("no label"),
            "{err}"
        );
    }

    #[test]
    fn s2i_recordings_are_found_in_either_layout() {
        let dir = tempfile::tempdir().unwrap();
        let (upstream, flat) = (
            dir.path().join("data/speech/clean"),
            dir.path().join("clean"),
        );
        std::fs::create_dir_all(&upstream).unwrap();
        std::fs::create_dir_all(&flat).unwrap();
        std::fs::write(flat.join("a.wav"), b"").unwrap();
        // An empty upstream directory falls back to the flat layout.
        assert_eq!(clean_dir(dir.path()).unwrap(), flat);
        std::fs::write(upstream.join("a.wav"), b"").unwrap();
        assert_eq!(clean_dir(dir.path()).unwrap(), upstream);
    }
}
