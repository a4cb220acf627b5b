//! Spoken-command corpora for measuring speech → intent accuracy.
//!
//! Commands with their expected intent and slots are spoken with `espeak-ng`
//! (several voices and speeds), optionally mixed with `sox`-generated white or
//! pink noise at a given signal-to-noise ratio, written as WAV files, run
//! through `emma understand --json`, and scored by exact match: the intent and
//! every slot (no more, no fewer) must be as expected.
//!
//! Two command sets: the Rhino coffee-maker context from the intent engine's
//! import tests, and Home Assistant English light commands (HassTurnOn,
//! HassTurnOff, HassLightSet test sentences from `../shared/data/ha-intents`,
//! with its fixtures as the `name`/`area`/`floor` lists).
//!
//! SNR is relative to the RMS level of the whole spoken command (including
//! espeak's short pauses between words), so the speech itself is a little
//! louder against the noise than the nominal figure.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::{Context as _, bail};
use emma_intent::harness::Fixtures;
use emma_intent::{Context, IntentEngine};
use yaml_rust2::{Yaml, YamlLoader};

/// One spoken command and what it must be understood as.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenCommand {
    /// What is spoken.
    pub text: String,
    /// Expected intent name.
    pub intent: String,
    /// Expected slots: name → acceptable values (as the source writes them).
    pub slots: BTreeMap<String, Vec<String>>,
}

impl SpokenCommand {
    /// A command with one acceptable value per slot.
    pub fn new(text: &str, intent: &str, slots: &[(&str, &str)]) -> Self {
        SpokenCommand {
            text: text.to_owned(),
            intent: intent.to_owned(),
            slots: slots
                .iter()
                .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
                .collect(),
        }
    }

    /// True when `intent` and `slots` are exactly what this command expects
    /// (numbers compare as numbers).
    pub fn accepts(&self, intent: Option<&str>, slots: &BTreeMap<String, String>) -> bool {
        intent == Some(self.intent.as_str())
            && slots.len() == self.slots.len()
            && self.slots.iter().all(|(k, accepted)| {
                slots
                    .get(k)
                    .is_some_and(|got| accepted.iter().any(|a| same_value(a, got)))
            })
    }
}

fn same_value(a: &str, b: &str) -> bool {
    a == b
        || matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() < 1e-9)
}

/// Background noise mixed into the speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// `whitenoise` or `pinknoise` (sox `synth` types).
    pub kind: &'static str,
    /// Signal-to-noise ratio in dB.
    pub snr_db: f32,
}

/// How a corpus is spoken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    /// espeak-ng voice (`en-us`, `en-gb`, `en+m3`, `en+f2`…).
    pub voice: &'static str,
    /// Words per minute.
    pub speed: u32,
    /// Added noise, if any.
    pub noise: Option<Noise>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}wpm", self.voice, self.speed)?;
        match self.noise {
            Some(n) => write!(f, " {} {}dB", n.kind.trim_end_matches("noise"), n.snr_db),
            None => write!(f, " clean"),
        }
    }
}

/// The measurement grid: four voices, two speeds, clean and with white noise
/// at 20 dB or pink noise at 10 dB SNR, in six combinations (the whole
/// cross product is too slow for this 2-core machine):
/// en-us 175 clean, en-gb 140 clean, en+m3 175 white 20 dB, en+f2 140 pink
/// 10 dB, en-us 175 pink 10 dB, en-gb 175 white 20 dB.
pub fn full_conditions() -> Vec<Condition> {
    let white = Some(Noise {
        kind: "whitenoise",
        snr_db: 20.0,
    });
    let pink = Some(Noise {
        kind: "pinknoise",
        snr_db: 10.0,
    });
    [
        ("en-us", 175, None),
        ("en-gb", 140, None),
        ("en+m3", 175, white),
        ("en+f2", 140, pink),
        ("en-us", 175, pink),
        ("en-gb", 175, white),
    ]
    .into_iter()
    .map(|(voice, speed, noise)| Condition {
        voice,
        speed,
        noise,
    })
    .collect()
}

/// The Rhino coffee-maker context the intent engine's import tests use.
pub fn coffee_context() -> PathBuf {
    crate::workspace_root().join("core/intent/tests/data/import/coffee_maker.yml")
}

/// Commands for the coffee-maker context, with the slot values as the
/// context's value lists spell them.
pub fn coffee_commands() -> Vec<SpokenCommand> {
    let c = SpokenCommand::new;
    vec![
        c(
            "give me a large latte",
            "orderDrink",
            &[("size", "large"), ("coffeeDrink", "latte")],
        ),
        c(
            "can I have a small cappuccino please",
            "orderDrink",
            &[("size", "small"), ("coffeeDrink", "cappuccino")],
        ),
        c(
            "I'd like a twelve ounce mocha",
            "orderDrink",
            &[("size", "twelve ounce"), ("coffeeDrink", "mocha")],
        ),
        c(
            "make me an americano",
            "orderDrink",
            &[("coffeeDrink", "americano")],
        ),
        c(
            "could I get a medium dark roast coffee",
            "orderDrink",
            &[
                ("size", "medium"),
                ("roast", "dark roast"),
                ("coffeeDrink", "coffee"),
            ],
        ),
        c(
            "order a flat white with a double shot",
            "orderDrink",
            &[
                ("coffeeDrink", "flat white"),
                ("numberOfShots", "double shot"),
            ],
        ),
        c(
            "get me a sixteen ounce espresso",
            "orderDrink",
            &[("size", "sixteen ounce"), ("coffeeDrink", "espresso")],
        ),
        c(
            "I want a decaf latte with some sugar",
            "orderDrink",
            &[
                ("roast", "decaf"),
                ("coffeeDrink", "latte"),
                ("sugarAmount", "some"),
            ],
        ),
        c(
            "hey give me a macchiato please",
            "orderDrink",
            &[("coffeeDrink", "macchiato")],
        ),
        c(
            "I'll have a large frappuccino",
            "orderDrink",
            &[("size", "large"), ("coffeeDrink", "frappuccino")],
        ),
        c("make it strong", "brewStrength", &[("strength", "strong")]),
        c(
            "set the strength to extra strong",
            "brewStrength",
            &[("strength", "extra strong")],
        ),
        c(
            "change the strength to mild",
            "brewStrength",
            &[("strength", "mild")],
        ),
        c("make four cups of coffee", "cupCount", &[("cups", "4")]),
        c("brew two cups", "cupCount", &[("cups", "2")]),
        c(
            "change my latte to a mocha",
            "changeDrink",
            &[("oldDrink", "latte"), ("newDrink", "mocha")],
        ),
        c(
            "switch the espresso order to an americano",
            "changeDrink",
            &[("oldDrink", "espresso"), ("newDrink", "americano")],
        ),
        c(
            "make it a cappuccino instead of latte",
            "changeDrink",
            &[("newDrink", "cappuccino"), ("oldDrink", "latte")],
        ),
        c("cancel my order", "cancelOrder", &[]),
        c("never mind", "cancelOrder", &[]),
    ]
}

/// Builds a Home Assistant intents tree with only the English light intents
/// (HassTurnOn, HassTurnOff, HassLightSet), the language-wide `_common.yaml`,
/// `lists/`, `rules/` and the fixtures, under `dir`; returns its root.
pub fn ha_light_tree(dir: &Path) -> anyhow::Result<PathBuf> {
    ha_tree(
        &dir.join("ha-lights"),
        &[
            "light_HassTurnOn.yaml",
            "light_HassTurnOff.yaml",
            "light_HassLightSet.yaml",
        ],
    )
}

/// Builds a Home Assistant intents tree at `root` with the English sentence
/// files `sentences` (names in `sentences/en/` of the shared snapshot), the
/// language-wide `_common.yaml`, `lists/`, `rules/` and the test fixtures;
/// returns `root`.
pub fn ha_tree(root: &Path, sentences: &[&str]) -> anyhow::Result<PathBuf> {
    let src = crate::shared_data().join("ha-intents");
    let sentence_dir = root.join("sentences/en");
    let tests = root.join("tests/en");
    std::fs::create_dir_all(&sentence_dir)?;
    std::fs::create_dir_all(&tests)?;
    for f in std::iter::once(&"_common.yaml").chain(sentences) {
        std::fs::copy(src.join("sentences/en").join(f), sentence_dir.join(f))
            .with_context(|| format!("cannot copy {f} from {}", src.display()))?;
    }
    std::fs::copy(
        src.join("tests/en/_fixtures.yaml"),
        tests.join("_fixtures.yaml"),
    )?;
    for d in ["lists", "rules"] {
        copy_dir(&src.join(d), &root.join(d))?;
    }
    Ok(root.to_owned())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let p = entry?.path();
        let target = to.join(p.file_name().expect("entry has a name"));
        if p.is_dir() {
            copy_dir(&p, &target)?;
        } else {
            std::fs::copy(&p, &target)?;
        }
    }
    Ok(())
}

/// Home Assistant's English light test sentences (HassTurnOn, HassTurnOff,
/// HassLightSet; tests that need a caller context are left out), every
/// `step`-th one, kept only if the intent engine understands the written
/// sentence in `tree` (so the measurement is about speech, not text matching).
/// Returns the commands and how many written sentences the engine missed.
pub fn ha_light_commands(tree: &Path, step: usize) -> anyhow::Result<(Vec<SpokenCommand>, usize)> {
    let src = crate::shared_data().join("ha-intents/tests/en");
    let mut engine = IntentEngine::from_path(tree, "en")?;
    Fixtures::from_file(&tree.join("tests/en/_fixtures.yaml"))?.apply(&mut engine);
    let mut all = vec![];
    for f in [
        "light_HassTurnOn.yaml",
        "light_HassTurnOff.yaml",
        "light_HassLightSet.yaml",
    ] {
        all.extend(read_ha_tests(&src.join(f))?);
    }
    let mut out = vec![];
    let mut missed = 0;
    for cmd in all.into_iter().step_by(step.max(1)) {
        let got = engine.recognize(&cmd.text, &Context::new()).best;
        let slots: BTreeMap<String, String> = got
            .as_ref()
            .map(|m| {
                m.slots
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.value.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if cmd.accepts(got.as_ref().map(|m| m.intent.as_str()), &slots) {
            out.push(cmd);
        } else {
            missed += 1;
        }
    }
    Ok((out, missed))
}

fn read_ha_tests(path: &Path) -> anyhow::Result<Vec<SpokenCommand>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let docs = YamlLoader::load_from_str(&text)
        .with_context(|| format!("{}: bad YAML", path.display()))?;
    let scalar = |y: &Yaml| -> Option<String> {
        match y {
            Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
            Yaml::Integer(i) => Some(i.to_string()),
            Yaml::Boolean(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut out = vec![];
    for test in docs
        .first()
        .and_then(|d| d["tests"].as_vec())
        .into_iter()
        .flatten()
    {
        if !test["intent"]["context"].is_badvalue() || !test["context"].is_badvalue() {
            continue;
        }
        let Some(intent) = test["intent"]["name"].as_str() else {
            continue;
        };
        let mut slots = BTreeMap::new();
        if let Some(map) = test["intent"]["slots"].as_hash() {
            for (k, v) in map {
                let Some(k) = k.as_str() else { continue };
                let values: Vec<String> = match v {
                    Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
                    other => scalar(other).into_iter().collect(),
                };
                slots.insert(k.to_owned(), values);
            }
        }
        for s in test["sentences"].as_vec().into_iter().flatten() {
            if let Some(text) = s.as_str() {
                out.push(SpokenCommand {
                    text: text.to_owned(),
                    intent: intent.to_owned(),
                    slots: slots.clone(),
                });
            }
        }
    }
    if out.is_empty() {
        bail!("{}: no test sentences found", path.display());
    }
    Ok(out)
}

fn run(cmd: &mut Process) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| {
        format!("cannot run {cmd:?} (scripts/setup installs espeak-ng and sox)")
    })?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `sox … stat` reports on stderr.
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn rms(wav: &Path) -> anyhow::Result<f64> {
    let report = run(Process::new("sox").arg(wav).args(["-n", "stat"]))?;
    report
        .lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("sox stat gave no RMS amplitude for {}", wav.display()))
}

/// Speaks every command under `condition` into `dir` as `NNN.wav` (sorted
/// like the commands); returns the files.
pub fn synthesize(
    commands: &[SpokenCommand],
    condition: Condition,
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let work = tempfile::tempdir()?;
    let mut files = vec![];
    for (i, cmd) in commands.iter().enumerate() {
        let raw = work.path().join("raw.wav");
        let padded = work.path().join("padded.wav");
        let out = dir.join(format!("{i:03}.wav"));
        run(Process::new("espeak-ng")
            .args([
                "-v",
                condition.voice,
                "-s",
                &condition.speed.to_string(),
                "-w",
            ])
            .arg(&raw)
            .arg("--")
            .arg(&cmd.text))?;
        run(Process::new("sox")
            .arg(&raw)
            .arg(&padded)
            .args(["pad", "0.3", "0.6"]))?;
        match condition.noise {
            None => {
                std::fs::rename(&padded, &out)?;
            }
            Some(noise) => {
                let noise_wav = work.path().join("noise.wav");
                // `-R`: sox's repeatable mode, so the noise is the same on every run.
                run(Process::new("sox")
                    .arg("-R")
                    .arg(&padded)
                    .arg(&noise_wav)
                    .args(["synth", noise.kind]))?;
                let gain =
                    rms(&raw)? / rms(&noise_wav)? / 10f64.powf(f64::from(noise.snr_db) / 20.0);
                run(Process::new("sox")
                    .args(["-R", "-m", "-v", "1"])
                    .arg(&padded)
                    .args(["-v", &format!("{gain:.6}")])
                    .arg(&noise_wav)
                    .arg(&out))?;
            }
        }
        files.push(out);
    }
    Ok(files)
}

/// The `emma` binary of the build these tests belong to (`cargo build -p
/// emma-cli` or a workspace build puts it beside the test binaries' `deps/`).
pub fn emma_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .context("test binary has no directory")?;
    let emma = dir.join("emma");
    if !emma.is_file() {
        bail!(
            "{} is missing; build it first with `cargo build -p emma-cli` (same target dir)",
            emma.display()
        );
    }
    Ok(emma)
}

/// What `emma understand` made of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The file.
    pub file: String,
    /// The transcript.
    pub text: String,
    /// The intent, if any.
    pub intent: Option<String>,
    /// Slots.
    pub slots: BTreeMap<String, String>,
    /// Which step found it (`grammar`, `nbest`, `completion`, `fuzzy`, `free-…`).
    pub via: String,
}

/// Runs `emma understand INTENTS --wav DIR --json` (with `--decoding`), one
/// result per file (the first utterance of each file).
pub fn understand(
    emma: &Path,
    intents: &Path,
    wav_dir: &Path,
    decoding: &str,
) -> anyhow::Result<Vec<Heard>> {
    let out = Process::new(emma)
        .arg("understand")
        .arg(intents)
        .args([
            "--lang",
            "en",
            "--engine",
            "pocketsphinx",
            "--decoding",
            decoding,
            "--json",
            "--wav",
        ])
        .arg(wav_dir)
        .output()
        .with_context(|| format!("cannot run {}", emma.display()))?;
    if !out.status.success() {
        bail!(
            "emma understand failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut heard: Vec<Heard> = vec![];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
        let file = v["file"].as_str().unwrap_or_default().to_owned();
        if heard.last().is_some_and(|h| h.file == file) {
            continue;
        }
        heard.push(Heard {
            file,
            text: v["text"].as_str().unwrap_or_default().to_owned(),
            intent: v["intent"].as_str().map(str::to_owned),
            slots: v["slots"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| v.to_string()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            via: v["via"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(heard)
}

/// Exact-match accuracy of one run.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// Commands.
    pub total: usize,
    /// Intent and all slots right.
    pub exact: usize,
    /// Intent right (slots may be wrong).
    pub intent: usize,
    /// `(expected, heard)` of every miss.
    pub misses: Vec<(SpokenCommand, Option<Heard>)>,
}

impl Score {
    /// Exact matches / commands.
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.exact as f64 / self.total as f64
        }
    }
}

/// Scores `heard` (one per file, files named `NNN.wav` as [`synthesize`] writes) against `commands`.
pub fn score(commands: &[SpokenCommand], heard: &[Heard]) -> Score {
    let mut s = Score {
        total: commands.len(),
        ..Score::default()
    };
    for (i, cmd) in commands.iter().enumerate() {
        let name = format!("{i:03}.wav");
        let h = heard.iter().find(|h| h.file.ends_with(&name));
        let intent = h.and_then(|h| h.intent.as_deref());
        if intent == Some(cmd.intent.as_str()) {
            s.intent += 1;
        }
        if h.is_some_and(|h| cmd.accepts(intent, &h.slots)) {
            s.exact += 1;
        } else {
            s.misses.push((cmd.clone(), h.cloned()));
        }
    }
    s
}

/// Synthesises `commands` under `condition` and scores `emma understand` on
/// them with `decoding` (`grammar` or `free`).
pub fn measure(
    emma: &Path,
    intents: &Path,
    commands: &[SpokenCommand],
    condition: Condition,
    decoding: &str,
    dir: &Path,
) -> anyhow::Result<Score> {
    let wav_dir = dir.join(condition.to_string().replace([' ', '+'], "_"));
    if !wav_dir.is_dir() {
        synthesize(commands, condition, &wav_dir)?;
    }
    Ok(score(
        commands,
        &understand(emma, intents, &wav_dir, decoding)?,
    ))
}
