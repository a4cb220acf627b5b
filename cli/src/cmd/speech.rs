//! `emma listen`, `emma audio`, `emma model`, `emma bench asr`.
//!
//! In progress (issue 3): the speech layer is being built in `emma-speech`.

use clap::Args;

/// Arguments of `emma listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {}
/// Arguments of `emma audio`.
#[derive(Debug, Args)]
pub struct AudioArgs {}
/// Arguments of `emma model`.
#[derive(Debug, Args)]
pub struct ModelArgs {}
/// Arguments of `emma bench asr`.
#[derive(Debug, Args)]
pub struct BenchAsrArgs {}

/// Runs `emma listen`.
pub fn listen(_: ListenArgs) -> anyhow::Result<()> {
    anyhow::bail!("emma listen is not built yet")
}
/// Runs `emma audio`.
pub fn audio(_: AudioArgs) -> anyhow::Result<()> {
    anyhow::bail!("emma audio is not built yet")
}
/// Runs `emma model`.
pub fn model(_: ModelArgs) -> anyhow::Result<()> {
    anyhow::bail!("emma model is not built yet")
}
/// Runs `emma bench asr`.
pub fn bench_asr(_: BenchAsrArgs) -> anyhow::Result<()> {
    anyhow::bail!("emma bench asr is not built yet")
}
