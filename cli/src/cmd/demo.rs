//! `emma demo`: the README's first command.

use clap::Args;

/// Arguments of `emma demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs the demo.
pub fn run(_: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("emma demo is not built yet")
}
