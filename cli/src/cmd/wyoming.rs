//! `emma wyoming serve`: Emma as a Wyoming service for Home Assistant and
//! Rhasspy voice pipelines (speech to text, intents, handling, speech out).
//!
//! Parses the arguments, loads intents, speech model, devices and voices, and
//! runs [`emma_core::wyoming`]'s sessions on an [`emma_wyoming::Server`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use emma_core::devices::control::{self, HomeControl};
use emma_core::devices::{Home, IntentLists};
use emma_core::intent::IntentEngine;
use emma_core::intent::harness::Fixtures;
use emma_core::understand::Decoding as CoreDecoding;
use emma_core::wyoming::asr::IntentLoader;
use emma_core::wyoming::{AsrConfig, EmmaFactory, Espeak, HomeHandler, Services, SpeechPool};
use emma_speech::{EndpointConfig, Engine, ModelRegistry, POCKETSPHINX_EN_US};
use emma_wyoming::{Limits, Server, ServerOptions, ServerUri};

use super::devices::BrokerArgs;
use super::understand::Decoding;
use crate::home::emma_home;

/// Arguments of `emma wyoming`.
#[derive(Debug, Args)]
pub struct WyomingArgs {
    #[command(subcommand)]
    what: WyomingCommand,
}

#[derive(Debug, Subcommand)]
enum WyomingCommand {
    /// Serve speech to text, intents, handling and speech out over Wyoming.
    Serve(Box<ServeArgs>),
}

/// Arguments of `emma wyoming serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: tcp://HOST:PORT (port 0: any free port), unix://PATH or stdio://.
    /// Wyoming's conventional ports: 10300 speech to text, 10200 speech out.
    #[arg(long, default_value = "tcp://127.0.0.1:10300")]
    uri: String,
    /// Language of intents, speech and replies.
    #[arg(long, default_value = "en")]
    lang: String,
    /// Intents (hassil directory or file, Home Assistant intents tree, Rhino or
    /// Alexa model). Default: Emma's home-control intents with the names of
    /// the registered devices (`emma devices add`).
    #[arg(long, value_name = "PATH")]
    intents: Option<PathBuf>,
    /// Fixtures filling the `name`, `area` and `floor` lists of `--intents`
    /// (default for a Home Assistant tree: its `tests/<lang>/_fixtures.yaml`).
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// Speech engine: `vosk` or `pocketsphinx`. Default: pocketsphinx for English, vosk otherwise.
    #[arg(long)]
    engine: Option<String>,
    /// Speech model: a registered name (`emma model list`) or a directory.
    #[arg(long)]
    model: Option<String>,
    /// `grammar`: decode with the intents' grammar (free decoding as fallback); `free`: free decoding.
    #[arg(long, value_enum, default_value_t = Decoding::Grammar)]
    decoding: Decoding,
    /// Silence that separates utterances inside one stream, in milliseconds
    /// (the transcript joins them).
    #[arg(long, default_value_t = 800)]
    silence_ms: u32,
    /// Audio streams decoded at once (each holds a recogniser).
    #[arg(long, default_value_t = 4)]
    max_streams: usize,
    /// espeak-ng voice for `synthesize` when the client names none (default: from --lang).
    #[arg(long)]
    voice: Option<String>,
    /// espeak-ng speed in words per minute.
    #[arg(long, default_value_t = 165)]
    speed: u32,
    /// Offer no speech to text.
    #[arg(long)]
    no_asr: bool,
    /// Offer no speech out.
    #[arg(long)]
    no_tts: bool,
    /// Offer no handling (no devices, no MQTT broker).
    #[arg(long)]
    no_handle: bool,
    #[command(flatten)]
    broker: BrokerArgs,
    /// Close a connection that sends no complete event for this many seconds.
    #[arg(long, default_value_t = 60)]
    idle_timeout_s: u64,
    /// Most connections open at once.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
}

/// Runs `emma wyoming`.
pub fn run(args: WyomingArgs) -> anyhow::Result<()> {
    match args.what {
        WyomingCommand::Serve(args) => serve(*args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let uri: ServerUri = args.uri.parse()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Devices: their names feed the built-in intents, and handling commands them.
        let (home, lists, _broker) = if args.no_handle {
            let lists = super::devices::open_registry()?.intent_lists();
            (None, lists, None)
        } else {
            let (bus, broker) = super::devices::connect(&args.broker).await?;
            let registry = super::devices::open_registry()?;
            let lists = registry.intent_lists();
            let home = Home::start(bus, registry).await?;
            (Some(home), lists, broker)
        };
        let loader = intent_loader(&args, lists);
        let intents = loader().map_err(anyhow::Error::msg)?;
        let intents_name = match &args.intents {
            Some(p) => p.display().to_string(),
            None => format!("emma-home-{}", args.lang),
        };
        let asr = if args.no_asr {
            None
        } else {
            let engine: Engine = match &args.engine {
                Some(e) => e.parse()?,
                None if args.lang == "en" || args.lang.starts_with("en-") => Engine::PocketSphinx,
                None => Engine::Vosk,
            };
            let (model, model_name) = model_dir(engine, args.model.as_deref())?;
            let config = AsrConfig {
                engine,
                model,
                model_name,
                decoding: CoreDecoding::from(args.decoding),
                endpoint: EndpointConfig {
                    silence_end_ms: args.silence_ms,
                    ..EndpointConfig::default()
                },
                max_streams: args.max_streams,
                wait: Duration::from_secs(10),
            };
            let loader = loader.clone();
            let (pool, warnings) =
                tokio::task::spawn_blocking(move || SpeechPool::new(config, loader)).await??;
            for w in warnings {
                eprintln!("emma: warning: {w}");
            }
            Some(Arc::new(pool))
        };
        let handler = match home {
            Some(home) => {
                let control = match &args.intents {
                    Some(p) => HomeControl::from_path(p, &args.lang)?,
                    None => HomeControl::builtin(&args.lang)?,
                };
                Some(
                    Arc::new(HomeHandler::new(control, home, intents_name.clone()))
                        as Arc<dyn emma_core::wyoming::HandleText>,
                )
            }
            None => None,
        };
        let tts = if args.no_tts {
            None
        } else {
            let voice = args
                .voice
                .clone()
                .unwrap_or_else(|| match args.lang.as_str() {
                    "en" => "en-us".into(),
                    other => other.to_string(),
                });
            Some(Espeak::new(&voice, args.speed).map_err(anyhow::Error::msg)?)
        };
        let services = Services {
            language: args.lang.clone(),
            asr,
            intents: Some((intents_name, Arc::new(intents))),
            handler,
            tts,
        };
        let offered: Vec<&str> = [
            services.asr.as_ref().map(|_| "asr"),
            Some("intent"),
            services.handler.as_ref().map(|_| "handle"),
            services.tts.as_ref().map(|_| "tts"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let options = ServerOptions {
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(args.idle_timeout_s.max(1)),
            max_connections: args.max_connections,
            ..ServerOptions::default()
        };
        let server = Server::bind(&uri, options).await?;
        // stderr: with stdio:// the standard output carries the protocol.
        eprintln!(
            "emma: Wyoming server listening on {} ({})",
            server.uri(),
            offered.join(", ")
        );
        let factory = Arc::new(EmmaFactory::new(Arc::new(services)));
        server.run(factory, shutdown_signal()).await?;
        eprintln!("emma: Wyoming server stopped");
        anyhow::Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match &mut term {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Builds the intent engine: `--intents` (with fixtures), or Emma's built-in
/// home-control intents with the registry's lists.
fn intent_loader(args: &ServeArgs, lists: IntentLists) -> IntentLoader {
    let lang = args.lang.clone();
    match &args.intents {
        Some(path) => {
            let path = path.clone();
            let fixtures = args.fixtures.clone().or_else(|| {
                let f = path.join("tests").join(&lang).join("_fixtures.yaml");
                f.is_file().then_some(f)
            });
            Arc::new(move || {
                let mut engine = IntentEngine::from_path(&path, &lang)
                    .map_err(|e| format!("cannot load intents from {}: {e}", path.display()))?;
                if let Some(f) = &fixtures {
                    Fixtures::from_file(f)
                        .map_err(|e| format!("cannot read fixtures {}: {e}", f.display()))?
                        .apply(&mut engine);
                }
                Ok(engine)
            })
        }
        None => Arc::new(move || {
            let yaml = match lang.as_str() {
                "en" => control::EN_YAML,
                "de" => control::DE_YAML,
                other => {
                    return Err(format!(
                        "no built-in intents for language {other:?} (have: en, de); pass --intents"
                    ));
                }
            };
            let mut engine =
                IntentEngine::from_yaml_str(yaml, &format!("built-in {lang}.yaml"), &lang)
                    .map_err(|e| e.to_string())?;
            control::load_lists(&mut engine, &lists);
            Ok(engine)
        }),
    }
}

/// The model directory and its name for `info`.
fn model_dir(engine: Engine, model: Option<&str>) -> anyhow::Result<(PathBuf, String)> {
    let registry = ModelRegistry::new(emma_home().join("models"));
    let dir = match (engine, model) {
        (_, Some(m)) => registry.resolve(m)?,
        (Engine::Vosk, None) => registry
            .default_vosk()
            .context("no Vosk model found; run scripts/setup or `emma model add`")?,
        (Engine::PocketSphinx, None) => PathBuf::from(POCKETSPHINX_EN_US),
    };
    let name = match (engine, model) {
        (Engine::PocketSphinx, None) => "pocketsphinx-en-us".to_string(),
        _ => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string()),
    };
    Ok((dir, name))
}
