//! `emma demo`: the product tour, offline, on the same
//! [`Assistant`](emma_core::assistant::Assistant) `emma run` uses.
//!
//! 1. A fresh home in a temporary data directory: lights and blinds in three
//!    rooms and an Example coffee machine; the example coffee skill (built
//!    from `skills/examples/coffee` on first use, then cached) is installed
//!    with the customer's grants.
//! 2. Spoken commands are synthesised with espeak-ng (this machine has no
//!    microphone; `emma run` is the live path) and streamed into
//!    `process_audio`: PocketSphinx restricted to the grammar of the built-in
//!    home intents + the skill's intents + the dialog's answers.
//! 3. The tour: the wake word ("computer") before each command, home
//!    commands, a drink ordered through the coffee skill, a bean-level report
//!    from the machine over MQTT that makes the skill propose a reorder, the
//!    spoken "yes" that confirms it (an answer needs no wake word), a
//!    two-turn slot-filling exchange ("turn on the lights" → "In which
//!    room?"), and a typed question Emma cannot answer.
//!
//! Nothing leaves the machine: the broker listens on 127.0.0.1 only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, AudioChunk, SpeechConfig, Turn, WakeConfig,
};
use emma_core::devices::{Area, Device, Domain, QoS, Registry};
use emma_core::skills::guest_build::build_bundle;
use emma_core::skills::{Permission, SkillHome, SkillRuntime};
use emma_core::speech::{self, SAMPLE_RATE};
use indicatif::{ProgressBar, ProgressStyle};

use super::run::Printer;

/// Arguments of `emma demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Commands to speak instead of the tour (repeatable).
    #[arg(long = "say", value_name = "TEXT")]
    say: Vec<String>,
    /// espeak-ng voice for the synthetic speaker.
    #[arg(long, default_value = "en-us")]
    voice: String,
    /// Skip the coffee skill (no wasm build).
    #[arg(long)]
    no_skill: bool,
    /// Print every event as a JSON line.
    #[arg(long)]
    json: bool,
}

/// One step of the tour.
enum Step {
    /// The customer says the wake word, then this.
    Say(&'static str),
    /// The customer answers Emma's question (no wake word needed).
    Answer(&'static str),
    /// The customer types this in an app (`process_text`).
    Type(&'static str),
    /// The coffee machine reports its state over MQTT.
    Report(&'static str),
}

const TOUR: [(&str, Step); 8] = [
    ("home control", Step::Say("turn on the kitchen light")),
    (
        "home control",
        Step::Say("turn off the lights in the living room"),
    ),
    ("a brand skill", Step::Say("make me a large latte")),
    (
        "the machine reports low beans; the skill proposes a reorder",
        Step::Report(r#"{"state":"idle","bean_level":12}"#),
    ),
    ("the customer confirms", Step::Answer("yes")),
    ("slot filling", Step::Say("turn on the lights")),
    ("slot filling", Step::Answer("the bedroom")),
    // Typed: with speech, grammar decoding still forces many such questions into
    // a command (docs/understand.md); text is where rejection is reliable today.
    (
        "a question Emma cannot answer, typed in an app",
        Step::Type("what is the capital of france"),
    ),
];

const GRANTS: [&str; 4] = [
    "device:coffee.*:control",
    "store",
    "order:propose",
    "notify",
];

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(100));
    let started = Instant::now();

    let dir = std::env::temp_dir().join(format!("emma-demo-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dir.clone());
    bar.set_message("registering the demo home");
    demo_home(&dir.join("devices.sqlite"))?;
    let with_skill = !args.no_skill && args.say.is_empty();
    if with_skill {
        bar.set_message("building the example coffee skill (first run only)");
        install_coffee(&dir.join("skills"))?;
    }

    bar.set_message("starting the assistant (PocketSphinx, embedded broker, skills)");
    let mut config = AssistantConfig::new(&dir, "en");
    config.speech = Some(SpeechConfig::pocketsphinx_en_us());
    config.load_skills = with_skill;
    let tour_mode = args.say.is_empty();
    if tour_mode {
        let mut wake = WakeConfig::pocketsphinx(WAKE_WORD);
        // espeak-ng's voice is scored lower by the keyphrase spotter than people are
        // (measured: 0 of 4 synthetic "computer"s at the default 1e-20, 4 of 4 at 1e-40);
        // a live microphone keeps the default.
        wake.options.threshold = Some(-40.0);
        config.wake = Some(wake);
    }
    let assistant = Assistant::new(config)?;
    assistant
        .start()
        .context("starting the assistant; run scripts/setup for PocketSphinx and espeak-ng")?;
    bar.finish_and_clear();
    let ready = started.elapsed();
    assistant.add_listener(Arc::new(Printer { json: args.json }));
    if !args.json {
        println!(
            "Emma demo — everything below runs offline on this machine (broker {}, ready in {:.1} s).\n",
            assistant
                .broker_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            ready.as_secs_f64()
        );
    }
    let result = if args.say.is_empty() {
        tour(&assistant, &args, with_skill)
    } else {
        args.say
            .iter()
            .try_for_each(|text| say(&assistant, None, text, &args).map(|_| ()))
    };
    let stopped = assistant.stop();
    result?;
    stopped?;
    if !args.json {
        println!(
            "Demo finished in {:.1} s. `emma run` is the live assistant.",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn tour(assistant: &Assistant, args: &DemoArgs, with_skill: bool) -> anyhow::Result<()> {
    let events = assistant.subscribe();
    for (title, step) in TOUR {
        let skill_step = title.contains("skill") || title.contains("confirms");
        if skill_step && !with_skill {
            continue;
        }
        if !args.json {
            println!("── {title}");
        }
        match step {
            Step::Say(text) => {
                say(assistant, Some(WAKE_WORD), text, args)?;
            }
            Step::Answer(text) => {
                say(assistant, None, text, args)?;
            }
            Step::Type(text) => {
                if !args.json {
                    println!("typed:   {text}");
                }
                assistant.process_text(text)?;
            }
            Step::Report(payload) => {
                if !args.json {
                    println!("machine: emma/device/coffee.machine/state {payload}");
                }
                let home = assistant.home()?;
                assistant.block_on(home.bus().publish(
                    "emma/device/coffee.machine/state",
                    payload,
                    QoS::AtLeastOnce,
                    false,
                ))?;
                // The skill's question arrives as a reply event.
                wait_for(&events, Duration::from_secs(10), |e| {
                    matches!(
                        e,
                        AssistantEvent::Reply {
                            expects_answer: true,
                            ..
                        }
                    )
                })
                .context("the coffee skill did not propose a reorder within 10 s")?;
            }
        }
    }
    Ok(())
}

/// The tour's wake word.
const WAKE_WORD: &str = "computer";

/// Speaks `text` (after `wake`, when given) into the assistant and waits for the turn.
///
/// The synthetic speech gets a faint noise floor (about -50 dBFS), as every
/// microphone has: exact digital silence is something no room produces, and
/// PocketSphinx's feature normalisation and keyphrase spotting misjudge it.
fn say(
    assistant: &Assistant,
    wake: Option<&str>,
    text: &str,
    args: &DemoArgs,
) -> anyhow::Result<Vec<Turn>> {
    let audio = speech::synth::espeak(text, &args.voice, 150)?;
    let mut samples = speech::synth::silence(300);
    if let Some(w) = wake {
        samples.extend(speech::synth::espeak(w, &args.voice, 150)?.samples);
        samples.extend(speech::synth::silence(700));
    }
    samples.extend_from_slice(&audio.samples);
    samples.extend(speech::synth::silence(500));
    let mut seed = 0x2545_f491_u32;
    for s in &mut samples {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *s = s.saturating_add(((seed >> 16) % 201) as i16 - 100);
    }
    if !args.json {
        match wake {
            Some(w) => println!(
                "said:    {w}, {text}  ({:.1} s of speech)",
                audio.duration_s()
            ),
            None => println!("said:    {text}  ({:.1} s of speech)", audio.duration_s()),
        }
    }
    for chunk in samples.chunks(SAMPLE_RATE as usize / 10) {
        assistant.process_audio(AudioChunk::I16 {
            samples: chunk,
            rate: SAMPLE_RATE,
        })?;
    }
    Ok(assistant.end_audio()?)
}

fn wait_for(
    events: &emma_core::assistant::EventReceiver,
    timeout: Duration,
    want: impl Fn(&AssistantEvent) -> bool,
) -> Option<AssistantEvent> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Some(e) if want(&e) => return Some(e),
            Some(_) => {}
            None => return None,
        }
    }
    None
}

/// A small home: kitchen, living room and bedroom, lights, blinds, a coffee machine.
fn demo_home(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut registry = Registry::open(path)?;
    for (id, name) in [
        ("kitchen", "kitchen"),
        ("living_room", "living room"),
        ("bedroom", "bedroom"),
    ] {
        registry.upsert_area(Area {
            id: id.into(),
            name: name.into(),
            aliases: vec![],
            floor: None,
        })?;
    }
    for device in [
        Device::new("kitchen_light", "kitchen light", Domain::Light).in_area("kitchen"),
        Device::new("sofa_lamp", "sofa lamp", Domain::Light).in_area("living_room"),
        Device::new("ceiling_light", "ceiling light", Domain::Light).in_area("living_room"),
        Device::new("bedroom_lamp", "bedroom lamp", Domain::Light).in_area("bedroom"),
        Device::new("bedroom_blinds", "bedroom blinds", Domain::Cover).in_area("bedroom"),
        Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
    ] {
        registry.upsert_device(device)?;
    }
    Ok(())
}

/// Builds the example coffee skill (cached under Emma's data directory) and installs it.
fn install_coffee(skills: &Path) -> anyhow::Result<()> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skills/examples/coffee");
    anyhow::ensure!(
        source.join("skill.toml").is_file(),
        "the example coffee skill is not at {}; run the demo from a checkout, or pass --no-skill",
        source.display()
    );
    let guests = crate::home::emma_home().join("cache/demo-guests");
    let bundle = build_bundle(&source, &guests).context("building the example coffee skill")?;
    let home = SkillHome::open(skills)?;
    let file: PathBuf = skills.join("coffee.emmaskill");
    std::fs::write(&file, bundle.to_bytes(None))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let runtime = SkillRuntime::new(home.runtime_config())?;
    let grants: Vec<Permission> = GRANTS
        .iter()
        .map(|g| g.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("demo grant: {e}"))?;
    emma_core::assistant::check_install(&home, &bundle)?;
    home.install(&runtime, &file, "default", &grants, true)?;
    // The demo customer opts the skill in to acting on device events (proactive features are opt-in).
    let privacy = emma_core::privacy::Privacy::open_dir(skills.parent().unwrap_or(skills))?;
    let now = emma_core::privacy::now_ms();
    for category in [
        emma_core::privacy::Category::Proactive,
        emma_core::privacy::Category::DeviceUsage,
    ] {
        privacy.grant(
            &bundle.manifest.id,
            &category,
            "demo: propose a reorder when the beans run low",
            None,
            now,
        )?;
    }
    Ok(())
}

/// Removes the demo's temporary data directory.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
