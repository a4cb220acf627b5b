//! `emma bench …`: benchmarks that print ratios against a baseline measured in the same run.

use clap::{Args, Subcommand};

/// Arguments of `emma bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Speech recognition: real-time factor, end-of-speech latency, peak memory.
    Asr(super::speech::BenchAsrArgs),
    /// Devices: events/s into the registry, command latency text→device, memory for 1,000 devices.
    Devices(super::devices::BenchDevicesArgs),
    /// Skills: warm call latency, cold start from cache, first compile, memory per skill.
    Skills(super::skill::BenchSkillsArgs),
    /// Intent recognition: sentences/s against Python hassil on the HA test sentences, load time, memory.
    Intents(super::intents::BenchIntentsArgs),
    /// Privacy: ledger append p95, export and erase of 10,000 ledger entries and 1,000 orders.
    Privacy(super::privacy::BenchPrivacyArgs),
}

/// Runs `emma bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchCommand::Asr(args) => super::speech::bench_asr(args),
        BenchCommand::Devices(args) => super::devices::bench(args),
        BenchCommand::Skills(args) => super::skill::bench(args),
        BenchCommand::Intents(args) => super::intents::bench(args, &crate::home::emma_home()),
        BenchCommand::Privacy(args) => super::privacy::bench(args),
    }
}
