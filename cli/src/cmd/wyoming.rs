//! `emma wyoming serve`: Emma as a Wyoming service for Home Assistant and
//! Rhasspy voice pipelines (speech to text, intents, handling by the
//! assistant, wake words, speech out).
//!
//! Parses the arguments, loads intents, speech model, wake words, the
//! assistant and voices, and runs [`emma_core::wyoming`]'s sessions on an
//! [`emma_wyoming::Server`], announced over zeroconf when asked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use emma_core::assistant::{Assistant, AssistantConfig, BrokerChoice};
use emma_core::devices::IntentLists;
use emma_core::devices::control;
use emma_core::intent::IntentEngine;
use emma_core::intent::harness::Fixtures;
use emma_core::understand::Decoding as CoreDecoding;
use emma_core::wyoming::asr::IntentLoader;
use emma_core::wyoming::{
    AsrConfig, AssistantHandler, EmmaFactory, Espeak, Services, SpeechPool, WakeModel, WakePool,
};
use emma_speech::{EndpointConfig, Engine, ModelRegistry, POCKETSPHINX_EN_US, WakeEngine};
use emma_wyoming::{Limits, Server, ServerOptions, ServerUri, zeroconf};

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
    /// Wyoming's conventional ports: 10300 speech to text, 10400 wake word, 10200 speech out.
    #[arg(long, default_value = "tcp://127.0.0.1:10300")]
    uri: String,
    /// Language of intents, speech and replies.
    #[arg(long, default_value = "en")]
    lang: String,
    /// Intents for `recognize` and the speech grammar (hassil directory or
    /// file, Home Assistant intents tree, Rhino or Alexa model). Default:
    /// Emma's home-control intents with the names of the registered devices
    /// (`emma devices add`). Handling always uses the assistant's intents
    /// (home control, installed skills, dialog).
    #[arg(long, value_name = "PATH")]
    intents: Option<PathBuf>,
    /// Fixtures filling the `name`, `area` and `floor` lists of `--intents`
    /// (default for a Home Assistant tree: its `tests/<lang>/_fixtures.yaml`).
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// Speech engine: `vosk`, `pocketsphinx` or `moonshine` (English, open vocabulary: free
    /// transcription, no grammar). Default: pocketsphinx for English, vosk otherwise.
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
    /// Hear wildcard slots ("add {item} to my shopping list") in an
    /// open-vocabulary Moonshine transcript (English grammar decoding; the
    /// model `scripts/setup` installs; docs/understand.md, "Open vocabulary").
    #[arg(long)]
    open_vocabulary: bool,
    /// Check every command the grammar hears against Moonshine's
    /// open-vocabulary transcript (English grammar decoding; the model
    /// `scripts/setup` installs): speech that is not a command is sent as
    /// what Moonshine heard instead of nothing, and far fewer questions
    /// become commands (docs/understand.md, "Rejection by agreement").
    /// Adds Moonshine's transcription to every command (about 0.1 s on 2
    /// cores where the grammar heard it right: Moonshine checks the
    /// grammar's sentence as a draft; about 0.25 s otherwise).
    #[arg(long)]
    agreement: bool,
    /// Clean the audio with RNNoise before it is heard (with `--agreement`
    /// the best measured in kitchen noise; docs/understand.md).
    #[arg(long)]
    denoise: bool,
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
    /// Offer no handling (no assistant, no MQTT broker).
    #[arg(long)]
    no_handle: bool,
    /// MQTT broker of the assistant that handles requests:
    /// mqtt://[user[:pass]@]host[:port] or mqtts://…; default: Emma's embedded broker.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// Area of the speaking satellite: the default place for "turn on the lights".
    #[arg(long)]
    area: Option<String>,
    /// Load no installed skills into the assistant.
    #[arg(long)]
    no_skills: bool,
    /// Wake word offered to `detect`, as ENGINE:PHRASE (repeatable), e.g.
    /// `pocketsphinx:computer`, `livekit:hey livekit` (the phrase livekit's
    /// bundled classifier knows). Default: both of those.
    #[arg(long, value_name = "ENGINE:PHRASE")]
    wake: Vec<String>,
    /// Offer no wake word detection.
    #[arg(long)]
    no_wake: bool,
    /// Announce the service on the local network as `_wyoming._tcp.local.`
    /// (tcp:// only), under this instance name (default: emma-HOSTNAME).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    zeroconf: Option<String>,
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
    if args.zeroconf.is_some() && !matches!(uri, ServerUri::Tcp { .. }) {
        anyhow::bail!("--zeroconf announces a TCP port; it needs --uri tcp://HOST:PORT");
    }
    // The assistant runs its own runtime: it is started and stopped outside ours.
    let assistant = if args.no_handle {
        None
    } else {
        let mut c = AssistantConfig::new(emma_home(), &args.lang);
        if let Some(url) = &args.broker {
            c.broker = BrokerChoice::Url(url.clone());
        }
        c.area = args.area.clone();
        c.load_skills = !args.no_skills;
        let a = Assistant::new(c)?;
        a.start()
            .context("cannot start the assistant that handles requests")?;
        Some(a)
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let served = runtime.block_on(run_server(&args, uri, assistant.clone()));
    drop(runtime);
    if let Some(a) = assistant {
        a.stop()?;
    }
    served
}

async fn run_server(
    args: &ServeArgs,
    uri: ServerUri,
    assistant: Option<Assistant>,
) -> anyhow::Result<()> {
    {
        // The registry's device names feed the built-in intents.
        let lists = super::devices::open_registry()?.intent_lists();
        let loader = intent_loader(args, lists);
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
            let moonshine = |flag: &str| -> anyhow::Result<PathBuf> {
                let registry = super::speech::registry();
                let english = args.lang == "en" || args.lang.starts_with("en-");
                match registry.moonshine_english() {
                    Some(dir)
                        if english
                            && engine != Engine::Moonshine
                            && args.decoding == Decoding::Grammar =>
                    {
                        Ok(dir)
                    }
                    _ => anyhow::bail!(
                        "{flag} needs English grammar decoding and the Moonshine model in {} (run scripts/setup)",
                        registry.dir().display()
                    ),
                }
            };
            let open_vocabulary = args
                .open_vocabulary
                .then(|| moonshine("--open-vocabulary"))
                .transpose()?;
            let agreement = args
                .agreement
                .then(|| moonshine("--agreement"))
                .transpose()?;
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
                open_vocabulary,
                agreement,
                denoise: args.denoise,
            };
            let loader = loader.clone();
            let (pool, warnings) =
                tokio::task::spawn_blocking(move || SpeechPool::new(config, loader)).await??;
            for w in warnings {
                eprintln!("emma: warning: {w}");
            }
            Some(Arc::new(pool))
        };
        let handler = match assistant {
            Some(a) => Some(
                Arc::new(AssistantHandler::new(a).map_err(anyhow::Error::msg)?)
                    as Arc<dyn emma_core::wyoming::Handle>,
            ),
            None => None,
        };
        let wake = if args.no_wake {
            None
        } else {
            let models = wake_models(&args.wake)?;
            let max = args.max_streams;
            let pool = tokio::task::spawn_blocking(move || {
                WakePool::new(models, max, Duration::from_secs(10))
            })
            .await?
            .map_err(anyhow::Error::msg)?;
            Some(Arc::new(pool))
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
            wake,
            tts,
        };
        let offered: Vec<&str> = [
            services.asr.as_ref().map(|_| "asr"),
            Some("intent"),
            services.handler.as_ref().map(|_| "handle"),
            services.wake.as_ref().map(|_| "wake"),
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
        let _announced = match (&args.zeroconf, server.uri()) {
            (Some(name), ServerUri::Tcp { host, port }) => {
                let name = if name.is_empty() {
                    default_instance_name()
                } else {
                    name.clone()
                };
                let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().context(
                    "--zeroconf needs the server's address as an IP (e.g. tcp://0.0.0.0:10300)",
                )?;
                let a = zeroconf::announce(&name, ip, *port, &offered)
                    .context("cannot announce the service over zeroconf")?;
                eprintln!(
                    "emma: announced as {} on port {port} (zeroconf)",
                    a.fullname()
                );
                Some(a)
            }
            _ => None,
        };
        let factory = Arc::new(EmmaFactory::new(Arc::new(services)));
        server.run(factory, shutdown_signal()).await?;
        eprintln!("emma: Wyoming server stopped");
        anyhow::Ok(())
    }
}

/// `emma-HOST` from the kernel's host name (`emma` when it cannot be read).
fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = match host.trim() {
        "" => "emma".to_string(),
        h => format!("emma-{h}"),
    };
    name.chars().take(63).collect()
}

/// The wake words of `--wake` (default: PocketSphinx "computer" and
/// livekit's "hey livekit", for the engines this build has).
fn wake_models(specs: &[String]) -> anyhow::Result<Vec<WakeModel>> {
    if specs.is_empty() {
        return [
            (WakeEngine::PocketSphinx, "computer"),
            (
                WakeEngine::LiveKit,
                emma_speech::wake::LIVEKIT_BUNDLED_PHRASE,
            ),
        ]
        .into_iter()
        .filter(|(e, _)| e.is_enabled())
        .map(|(e, p)| WakeModel::new(e, p, Default::default()).map_err(anyhow::Error::msg))
        .collect();
    }
    specs
        .iter()
        .map(|s| WakeModel::parse(s).map_err(anyhow::Error::msg))
        .collect()
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
        (Engine::Moonshine, None) => registry
            .moonshine_english()
            .context("no Moonshine model found; run scripts/setup")?,
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
