//! `emma demo`: the README's first command — Emma's whole path, offline, in one run.
//!
//! 1. a small home is registered (lights, blinds) in an in-memory registry;
//! 2. Emma's built-in English home-control intents are compiled into a speech
//!    grammar with the home's device and area names;
//! 3. spoken commands are synthesised with espeak-ng (this machine has no
//!    microphone to speak into; `emma listen --mic` is the live path);
//! 4. PocketSphinx decodes them, restricted to that grammar;
//! 5. the intent engine understands the text, the built-in handlers resolve the
//!    devices and send commands over MQTT through the durable outbox to the
//!    embedded broker, and Emma answers.
//!
//! Nothing leaves the machine: the broker listens on 127.0.0.1 only.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use emma_core::devices::control::HomeControl;
use emma_core::devices::{Area, Bus, BusOptions, Device, Domain, EmbeddedBroker, Home, Registry};
use emma_core::speech::{self, EndpointConfig, Engine, SpeechError};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `emma demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Commands to speak (repeatable). Default: a few home-control commands.
    #[arg(long = "say", value_name = "TEXT")]
    say: Vec<String>,
    /// espeak-ng voice for the synthetic speaker.
    #[arg(long, default_value = "en-us")]
    voice: String,
    /// One JSON object per command.
    #[arg(long)]
    json: bool,
}

const DEFAULT_COMMANDS: [&str; 4] = [
    "turn on the kitchen light",
    "turn off the lights in the living room",
    "what is the state of the kitchen light",
    "turn on the light in the bedroom",
];

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let commands: Vec<String> = if args.say.is_empty() {
        DEFAULT_COMMANDS.iter().map(|s| s.to_string()).collect()
    } else {
        args.say.clone()
    };

    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(100));

    bar.set_message("registering the demo home");
    let registry = demo_home()?;
    let mut control = HomeControl::builtin("en")?;
    control.refresh_lists(&registry);

    bar.set_message("compiling the intents into a speech grammar");
    let mut grammar = control.intents().export_grammar().grammar;
    bar.set_message("loading PocketSphinx (en-us)");
    let model = std::path::Path::new(speech::recognizer::POCKETSPHINX_EN_US);
    let mut recognizer = speech::open(Engine::PocketSphinx, model)
        .context("PocketSphinx en-us is needed for the demo; run scripts/setup")?;
    // Words the acoustic model cannot pronounce are pruned from the grammar.
    for _ in 0..3 {
        match recognizer.set_grammar(Some(&grammar)) {
            Ok(_) => break,
            Err(SpeechError::UnknownWords { words, .. }) => {
                grammar = emma_core::understand::walk::prune(&grammar, &words)
                    .context("no grammar sentence is left after pruning unknown words")?;
            }
            Err(e) => return Err(e.into()),
        }
    }

    bar.set_message("starting the embedded MQTT broker");
    let dir = std::env::temp_dir().join(format!("emma-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        let broker = EmbeddedBroker::start_default()?; // serves until the process exits
        let options = BusOptions {
            outbox_path: dir.join("outbox.sqlite"),
            ..BusOptions::default()
        };
        let (bus, _) = Bus::start(broker.client_config("emma-demo"), options)?;
        let home = Home::start(bus.clone(), registry).await?;
        bar.finish_and_clear();
        if !args.json {
            println!(
                "Emma demo — everything below runs offline on this machine (broker {}).\n",
                broker.addr()
            );
        }
        for text in &commands {
            let audio = speech::synth::espeak(text, &args.voice, 150)?;
            let started = Instant::now();
            let (utterances, back) =
                speech::transcribe(recognizer, &audio.samples, EndpointConfig::default())?;
            recognizer = back;
            let heard: Vec<String> = utterances.iter().map(|u| u.result.text.clone()).collect();
            let heard = heard.join(" ");
            let decode_s = started.elapsed().as_secs_f64();
            let outcome = control.handle(&home, &heard).await?;
            if args.json {
                let commands: Vec<_> = outcome
                    .commands
                    .iter()
                    .map(|c| serde_json::json!({"topic": c.topic, "payload": c.payload}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "said": text,
                        "heard": heard,
                        "intent": outcome.intent,
                        "slots": outcome.slots,
                        "commands": commands,
                        "reply": outcome.reply,
                        "audio_s": audio.duration_s(),
                        "decode_s": decode_s,
                    })
                );
            } else {
                println!("  said:   {text}");
                println!(
                    "  heard:  {heard}   ({:.1} s of audio, decoded in {:.2} s)",
                    audio.duration_s(),
                    decode_s
                );
                match &outcome.intent {
                    Some(intent) => println!("  intent: {intent} {:?}", outcome.slots),
                    None => println!("  intent: none (Emma does not guess)"),
                }
                for c in &outcome.commands {
                    println!("  mqtt:   {} {}", c.topic, c.payload);
                }
                println!("  emma:   {}\n", outcome.reply);
            }
        }
        let flushed = bus.flush(Duration::from_secs(5)).await?;
        if !flushed {
            eprintln!("emma: the broker has not acknowledged every command");
        }
        bus.shutdown().await?;
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A small home: kitchen, living room and bedroom with a few devices.
fn demo_home() -> anyhow::Result<Registry> {
    let mut registry = Registry::in_memory()?;
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
        Device::new("bedroom_blinds", "bedroom blinds", Domain::Cover).in_area("bedroom"),
    ] {
        registry.upsert_device(device)?;
    }
    Ok(registry)
}
