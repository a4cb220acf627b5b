//! `emma devices …`, `emma broker`, `emma say-text` and `emma bench devices`:
//! devices and events over MQTT. Parsing and printing only; the work is in
//! `emma_core::devices`.
//!
//! Without `--broker`, Emma starts its embedded broker on 127.0.0.1 (port 1883
//! if free). The device registry and the command outbox live in Emma's data
//! directory (`devices.sqlite`, `outbox.sqlite`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use emma_core::devices::bench::{self, BenchConfig};
use emma_core::devices::connect::BrokerSettings;
use emma_core::devices::control::HomeControl;
use emma_core::devices::events::StreamItem;
use emma_core::devices::{
    Action, Bus, BusEvent, BusOptions, Device, Domain, EmbeddedBroker, EventFilter, Home, Registry,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::home::emma_home;

/// Which broker to use (shared by every command that talks to devices).
#[derive(Debug, Args, Clone)]
pub struct BrokerArgs {
    /// Broker URL: mqtt://[user[:pass]@]host[:port] or mqtts://…; default: Emma's embedded broker.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// MQTT user name (overrides the URL's).
    #[arg(long)]
    username: Option<String>,
    /// MQTT password (overrides the URL's).
    #[arg(long)]
    password: Option<String>,
    /// MQTT client id (default: emma-cli).
    #[arg(long)]
    client_id: Option<String>,
}

/// Arguments of `emma devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    what: DevicesCommand,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// List known devices (after listening briefly for retained discovery configs and states).
    List {
        #[command(flatten)]
        broker: BrokerArgs,
        /// How long to listen for retained messages, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        listen_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print device state changes as they happen (Ctrl-C stops).
    Watch {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Only devices whose id matches this pattern (`light.*`).
        #[arg(long, default_value = "*")]
        filter: String,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send a device a command: `emma devices set "kitchen light" state=on brightness=40`.
    Set {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Device id or name.
        device: String,
        /// What to set: state=on|off, brightness=0-100, color=red, position=, temperature=, volume=, key=value.
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
        /// Seconds the command stays valid while the broker is unreachable.
        #[arg(long, default_value_t = 30)]
        ttl: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register a device by hand (devices announced with Home Assistant discovery register themselves).
    Add {
        /// Id, `domain.object` (`light.kitchen_light`).
        id: String,
        /// The name people say.
        name: String,
        /// Area (room) id.
        #[arg(long)]
        area: Option<String>,
        /// Other names people say.
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// Capabilities (`brightness`, `color`, `confirm`…).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
    },
    /// Remove a device from the registry.
    Remove {
        /// Device id.
        id: String,
    },
}

/// Arguments of `emma broker`.
#[derive(Debug, Args)]
pub struct BrokerServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1883")]
    listen: std::net::SocketAddr,
}

/// Arguments of `emma say-text`.
#[derive(Debug, Args)]
pub struct SayTextArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Intent templates (hassil YAML file or HA intents tree); default: Emma's built-in home-control intents.
    #[arg(long, value_name = "PATH")]
    intents: Option<PathBuf>,
    /// Language (built-in intents: en, de).
    #[arg(long, default_value = "en")]
    lang: String,
    /// Print JSON: {"intent", "slots", "commands": [{"topic", "payload"}], "reply"}.
    #[arg(long)]
    json: bool,
    /// What was said; `-` reads it from stdin.
    text: String,
}

/// Arguments of `emma bench devices`.
#[derive(Debug, Args)]
pub struct BenchDevicesArgs {
    /// State messages for the throughput run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Commands for the latency run.
    #[arg(long, default_value_t = 300)]
    commands: usize,
    /// Registered devices.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Text from devices on the network (names, areas, states), safe to print:
/// escape sequences, controls and bidi characters removed, capped.
fn shown(text: &str) -> String {
    emma_untrusted::line(text, 100)
}

/// Prints a line; a closed pipe (`emma devices list | head`) ends output quietly.
fn emit(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

impl BrokerArgs {
    fn settings(&self) -> BrokerSettings {
        BrokerSettings {
            url: self.broker.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            client_id: Some(self.client_id.clone().unwrap_or_else(|| "emma-cli".into())),
        }
    }
}

/// Connects the bus (starting the embedded broker when no URL is given).
pub(crate) async fn connect(args: &BrokerArgs) -> anyhow::Result<(Bus, Option<EmbeddedBroker>)> {
    let options = BusOptions {
        outbox_path: emma_home().join("outbox.sqlite"),
        ..BusOptions::default()
    };
    let conn =
        emma_core::devices::connect::connect(&args.settings(), options, Duration::from_secs(5))
            .await?;
    for cmd in conn.expired {
        eprintln!(
            "emma: dropped expired command {} to {} (queued at {} ms)",
            cmd.id, cmd.topic, cmd.created_ms
        );
    }
    Ok((conn.bus, conn.embedded))
}

pub(crate) fn open_registry() -> anyhow::Result<Registry> {
    Ok(Registry::open(emma_home().join("devices.sqlite"))?)
}

/// Runs `emma devices`.
pub fn devices(args: DevicesArgs) -> anyhow::Result<()> {
    match args.what {
        DevicesCommand::Add { id, name, area, aliases, capabilities } => {
            let domain_name = id.split_once('.').map(|(d, _)| d).unwrap_or("");
            let domain = Domain::parse(domain_name).with_context(|| {
                format!("device id {id:?} must start with a domain (light., switch., cover., climate., fan., media_player., sensor., lock., vacuum., custom.)")
            })?;
            let mut device = Device::new(id.clone(), name, domain);
            device.area = area;
            device.aliases = aliases;
            device.capabilities = capabilities;
            open_registry()?.upsert_device(device)?;
            println!("added {id}");
            Ok(())
        }
        DevicesCommand::Remove { id } => match open_registry()?.remove_device(&id)? {
            Some(_) => {
                println!("removed {id}");
                Ok(())
            }
            None => bail!("there is no device with id {id}; `emma devices list` shows the known ones"),
        },
        DevicesCommand::List { broker, listen_ms, json } => runtime()?.block_on(async {
            let (bus, _embedded) = connect(&broker).await?;
            let home = Home::start(bus.clone(), open_registry()?).await?;
            tokio::time::sleep(Duration::from_millis(listen_ms)).await;
            let devices: Vec<Device> = home.registry().devices().cloned().collect();
            if json {
                emit(&serde_json::to_string_pretty(&devices)?)?;
            } else if devices.is_empty() {
                emit("no devices yet: announce them with Home Assistant discovery or `emma devices add`")?;
            } else {
                for d in &devices {
                    emit(&format!(
                        "{:<32} {:<24} {:<14} {:<10} {}",
                        shown(&d.id),
                        shown(&d.name),
                        shown(d.area.as_deref().unwrap_or("-")),
                        shown(d.state.as_deref().unwrap_or("?")),
                        shown(&d.capabilities.join(","))
                    ))?;
                }
            }
            bus.shutdown().await?;
            Ok(())
        }),
        DevicesCommand::Watch { broker, filter, json } => runtime()?.block_on(async {
            let (bus, _embedded) = connect(&broker).await?;
            let home = Home::start(bus.clone(), open_registry()?).await?;
            let mut events = home.subscribe(EventFilter::devices(filter));
            let mut status = bus.events();
            eprintln!("watching devices on {} (Ctrl-C stops)", bus.config().url());
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    item = events.next() => match item {
                        Some(StreamItem::Event(ev)) if json => emit(&serde_json::to_string(&ev)?)?,
                        Some(StreamItem::Event(ev)) => emit(&format!(
                            "{:?} {} state={} {}",
                            ev.kind,
                            shown(&ev.device),
                            shown(ev.state.as_deref().unwrap_or("?")),
                            serde_json::Value::Object(ev.attributes)
                        ))?,
                        Some(StreamItem::Missed(n)) => eprintln!("emma: missed {n} events (output too slow)"),
                        None => break,
                    },
                    ev = status.recv() => if let Ok(BusEvent::Disconnected { reason }) = ev {
                        eprintln!("emma: lost the broker ({reason}); reconnecting");
                    },
                }
            }
            bus.shutdown().await?;
            Ok(())
        }),
        DevicesCommand::Set { broker, device, assignments, ttl, json } => runtime()?.block_on(async {
            let actions = assignments.iter().map(|a| Action::parse_assignment(a)).collect::<Result<Vec<_>, _>>()?;
            let (bus, _embedded) = connect(&broker).await?;
            let mut home = Home::start(bus.clone(), open_registry()?).await?;
            home.set_command_ttl(Duration::from_secs(ttl));
            let id = home.registry().find(&device)?.id.clone();
            let mut sent = Vec::new();
            for action in &actions {
                sent.extend(home.command(&id, action).await?);
            }
            let flushed = bus.flush(Duration::from_secs(5)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"device": id, "commands": sent, "acknowledged": flushed}))?);
            } else {
                for c in &sent {
                    println!("{} {}", c.topic, c.payload);
                }
                if !flushed {
                    eprintln!("emma: the broker has not acknowledged yet; the command stays in the outbox for {ttl} s");
                }
            }
            bus.shutdown().await?;
            Ok(())
        }),
    }
}

/// Runs `emma broker`.
pub fn broker(args: BrokerServeArgs) -> anyhow::Result<()> {
    let broker = EmbeddedBroker::start(args.listen)?;
    eprintln!(
        "emma broker listening on mqtt://{} (Ctrl-C stops)",
        broker.addr()
    );
    runtime()?.block_on(async { tokio::signal::ctrl_c().await })?;
    Ok(())
}

/// Runs `emma say-text`.
pub fn say_text(args: SayTextArgs) -> anyhow::Result<()> {
    let text = crate::input::utterance(&args.text)?;
    let mut control = match &args.intents {
        Some(path) => HomeControl::from_path(path, &args.lang)?,
        None => HomeControl::builtin(&args.lang)?,
    };
    runtime()?.block_on(async {
        let (bus, _embedded) = connect(&args.broker).await?;
        let home = Home::start(bus.clone(), open_registry()?).await?;
        let outcome = control.handle(&home, &text).await?;
        if let Some(intent) = &outcome.intent {
            home.set_last_intent(intent).await?;
        }
        let flushed = bus.flush(Duration::from_secs(5)).await?;
        if args.json {
            let commands: Vec<_> = outcome
                .commands
                .iter()
                .map(|c| serde_json::json!({"topic": c.topic, "payload": c.payload, "id": c.id, "device": c.device}))
                .collect();
            let out = serde_json::json!({
                "intent": outcome.intent,
                "slots": outcome.slots,
                "commands": commands,
                "reply": outcome.reply,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for c in &outcome.commands {
                println!("→ {} {}", c.topic, c.payload);
            }
            println!("{}", outcome.reply);
        }
        if !flushed {
            eprintln!("emma: the broker has not acknowledged every command yet; they stay in the outbox until they expire");
        }
        bus.shutdown().await?;
        Ok(())
    })
}

/// Runs `emma bench devices`.
pub fn bench(args: BenchDevicesArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let cfg = BenchConfig {
        events: args.events,
        commands: args.commands,
        devices: args.devices,
        dir: dir.clone(),
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(100));
    let report = runtime()?.block_on(bench::run(&cfg, |phase| bar.set_message(phase.to_string())));
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{:<44} {:>12} {:>12} {:>8} {:>10}  baseline",
        "measure", "emma", "baseline", "ratio", "target"
    );
    for m in &report.measures {
        println!(
            "{:<44} {:>12.2} {:>12.2} {:>8.2} {:>10}  {}",
            format!("{} ({})", m.name, m.unit),
            m.value,
            m.baseline,
            m.ratio,
            format!("{}{} {}", if m.met { "ok " } else { "MISS " }, m.target, ""),
            m.baseline_is
        );
    }
    println!("state events lost: {}", report.events_lost);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("emma-bench-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
