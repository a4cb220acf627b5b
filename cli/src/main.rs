//! `emma`: Emma's command-line interface.
//!
//! This binary only parses arguments and calls `emma-core`; every capability
//! lives in the library so the bindings and other hosts get the same behaviour.
//! Each subcommand family has its own module under `cmd/`.
//!
//! Exit codes: 0 success, 1 an error (printed as `emma: …` on stderr),
//! 2 a usage error (printed by clap).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

mod cmd;
mod home;
mod input;

/// Emma: a private, offline voice assistant SDK for brands and the homes they ship into.
#[derive(Debug, Parser)]
#[command(name = "emma", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Emma's demo: synthesise a spoken command and transcribe it offline.
    Demo(cmd::demo::DemoArgs),
    /// The live assistant: microphone (or --wav, --text, --stdin) → intents → skills and devices → reply.
    Run(cmd::run::RunArgs),
    /// Transcribe speech from WAV files, raw PCM on stdin or a microphone.
    Listen(cmd::speech::ListenArgs),
    /// Understand speech: decode with the grammar of a set of intents and match the intent.
    Understand(cmd::understand::UnderstandArgs),
    /// Audio input devices.
    Audio(cmd::speech::AudioArgs),
    /// Register, list and remove speech models.
    Model(cmd::speech::ModelArgs),
    /// Intents: run Home Assistant test suites, recognise a sentence.
    Intents(cmd::intents::IntentsArgs),
    /// Brand skills: scaffold, build, sign, install and run sandboxed wasm components.
    Skill(cmd::skill::SkillArgs),
    /// Devices over MQTT: list, watch and set devices, register them by hand.
    Devices(cmd::devices::DevicesArgs),
    /// Run Emma's embedded MQTT broker standalone.
    Broker(cmd::devices::BrokerServeArgs),
    /// Text → intent → device command, end to end: `emma say-text "turn on the kitchen light"`.
    SayText(cmd::devices::SayTextArgs),
    /// Customer control: consents, the ledger of what was stored and shared, export, erase.
    Privacy(cmd::privacy::PrivacyArgs),
    /// This home's touchpoints: top intents, failure and handoff rates, latency, trend.
    Insights(cmd::insights::InsightsArgs),
    /// Benchmarks that print ratios against a baseline measured in the same run.
    Bench(cmd::bench::BenchArgs),
    /// Serve Emma to Home Assistant / Rhasspy voice pipelines over the Wyoming protocol.
    Wyoming(cmd::wyoming::WyomingArgs),
    /// The brand's agent desk: handoffs from homes, agents' web page, touchpoint insights.
    Desk(cmd::desk::DeskArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Listen(args) => cmd::speech::listen(args),
        Command::Understand(args) => cmd::understand::run(args),
        Command::Audio(args) => cmd::speech::audio(args),
        Command::Model(args) => cmd::speech::model(args),
        Command::Intents(args) => cmd::intents::run(args),
        Command::Skill(args) => cmd::skill::run(args),
        Command::Devices(args) => cmd::devices::devices(args),
        Command::Broker(args) => cmd::devices::broker(args),
        Command::SayText(args) => cmd::devices::say_text(args),
        Command::Privacy(args) => cmd::privacy::run(args),
        Command::Insights(args) => cmd::insights::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Wyoming(args) => cmd::wyoming::run(args),
        Command::Desk(args) => cmd::desk::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("emma: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // rumqttd (the embedded broker) logs ordinary client disconnects as errors; show them from -vv.
    let default = if verbose < 2 {
        format!("{default},rumqttd=off")
    } else {
        default.to_string()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour escape codes only on a terminal: a log piped to a file or
    // another program stays plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
