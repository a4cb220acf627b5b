//! `emma insights`: this home's touchpoints — top intents, failure and handoff rates, latency
//! percentiles and the daily trend. The library does the work (`emma_core::assistant::touchpoints`).

use std::io::Write as _;

use clap::Args;
use emma_core::assistant::touchpoints::Insights;

use crate::home::emma_home;

/// Arguments of `emma insights`.
#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// How many days back to look.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=365))]
    days: u32,
    /// How many intents to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// One JSON document instead of the human report.
    #[arg(long)]
    json: bool,
}

/// Runs `emma insights`.
pub fn run(args: InsightsArgs) -> anyhow::Result<()> {
    let insights = Insights::load(&emma_home(), args.days, emma_core::privacy::now_ms())?;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&insights)?)
    } else {
        insights.render(args.top)
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
