//! `emma bench devices`: throughput into the registry, command latency and
//! registry memory, each printed against a baseline measured in the same run.
//!
//! - **Events/s**: state messages published QoS 1 over loopback through the
//!   embedded broker into the registry (decoded, batched into SQLite). Baseline:
//!   the same messages to a bare subscriber. Every message must arrive (loss is
//!   reported, not hidden). Target ≥ 10,000/s.
//! - **Command latency**: text → intent → registry → outbox (SQLite, fsync) →
//!   broker → device subscriber, p50/p99. Baseline: a bare publish → receive.
//! - **Memory**: resident memory added by a registry of 1,000 devices.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::bus::{Bus, BusOptions};
use crate::device::{Device, Domain};
use crate::embedded::EmbeddedBroker;
use crate::error::{DevicesError, Result};
use crate::home::Home;
use crate::registry::Registry;

/// Targets the benchmark checks.
pub const TARGET_EVENTS_PER_SEC: f64 = 10_000.0;
/// Command latency target (p99, text to device).
pub const TARGET_COMMAND_P99_MS: f64 = 50.0;
/// Memory target for 1,000 devices.
pub const TARGET_MEMORY_MIB: f64 = 16.0;

/// Benchmark sizes.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// State messages for the throughput run.
    pub events: usize,
    /// Commands for the latency run.
    pub commands: usize,
    /// Devices in the registry.
    pub devices: usize,
    /// Where the on-disk databases go (a temporary directory).
    pub dir: std::path::PathBuf,
}

/// One measured value against its baseline and target.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// What was measured.
    pub name: String,
    /// The unit.
    pub unit: String,
    /// Emma's value.
    pub value: f64,
    /// The baseline's value, measured in the same run.
    pub baseline: f64,
    /// `value / baseline`.
    pub ratio: f64,
    /// The target.
    pub target: f64,
    /// Whether the target is met.
    pub met: bool,
    /// What the baseline is.
    pub baseline_is: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Each measure.
    pub measures: Vec<Measure>,
    /// State messages lost on the way into the registry (must be 0).
    pub events_lost: u64,
}

fn measure(
    name: &str,
    unit: &str,
    value: f64,
    baseline: f64,
    target: f64,
    higher_is_better: bool,
    baseline_is: &str,
) -> Measure {
    Measure {
        name: name.into(),
        unit: unit.into(),
        value,
        baseline,
        ratio: if baseline > 0.0 {
            value / baseline
        } else {
            f64::NAN
        },
        target,
        met: if higher_is_better {
            value >= target
        } else {
            value <= target
        },
        baseline_is: baseline_is.into(),
    }
}

fn devices(n: usize) -> Vec<Device> {
    (0..n)
        .map(|i| {
            Device::new(
                format!("light.lamp_{i}"),
                format!("lamp {i}"),
                Domain::Light,
            )
            .in_area(format!("room_{}", i % 20))
            .with_capability("brightness")
        })
        .collect()
}

/// Resident memory of this process in bytes (Linux `/proc/self/statm`), if known.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Publishes QoS 1, waiting while the client's queue is full (backpressure, nothing dropped).
async fn publish_retrying(bus: &Bus, topic: String, payload: String) -> Result<()> {
    loop {
        match bus
            .publish(
                topic.clone(),
                payload.clone(),
                crate::QoS::AtLeastOnce,
                false,
            )
            .await
        {
            Err(DevicesError::Mqtt { .. }) => tokio::time::sleep(Duration::from_micros(200)).await,
            other => return other,
        }
    }
}

/// Publishes `n` alternating on/off state reports over `devices` devices, the
/// same sequence for the baseline and for Emma so the two rates compare.
fn spawn_state_feeder(
    publisher: &Bus,
    n: usize,
    devices: usize,
    topic: impl Fn(usize) -> String + Send + 'static,
) -> tokio::task::JoinHandle<Result<()>> {
    let p = publisher.clone();
    tokio::spawn(async move {
        for i in 0..n {
            let payload = format!(
                r#"{{"state":"{}","seq":{i}}}"#,
                if i % 2 == 0 { "on" } else { "off" }
            );
            publish_retrying(&p, topic(i % devices), payload).await?;
        }
        Ok(())
    })
}

async fn client(broker: &EmbeddedBroker, id: &str) -> Result<Bus> {
    let (bus, _) = Bus::start(broker.client_config(id), BusOptions::default())?;
    bus.wait_connected(Duration::from_secs(5)).await?;
    Ok(bus)
}

/// Runs the benchmark; `progress` is told each phase's name.
pub async fn run(cfg: &BenchConfig, mut progress: impl FnMut(&str)) -> Result<BenchReport> {
    let broker = EmbeddedBroker::start(([127, 0, 0, 1], 0).into())?;
    let mut measures = Vec::new();

    // Memory for N devices (first, before the heap grows for the other runs).
    progress("memory for registered devices");
    let before = rss_bytes().unwrap_or(0);
    let mut registry = Registry::open(cfg.dir.join("bench-devices.sqlite"))?;
    for d in devices(cfg.devices) {
        registry.upsert_device(d)?;
    }
    let _lists = registry.intent_lists();
    let after = rss_bytes().unwrap_or(0);
    let plain_before = rss_bytes().unwrap_or(0);
    let plain: Vec<String> = devices(cfg.devices)
        .iter()
        .map(|d| serde_json::to_string(d).expect("serializes"))
        .collect();
    let plain_after = rss_bytes().unwrap_or(0);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    measures.push(measure(
        &format!("memory for {} registered devices", cfg.devices),
        "MiB",
        mib(after.saturating_sub(before)),
        mib(plain_after.saturating_sub(plain_before)).max(0.01),
        TARGET_MEMORY_MIB,
        false,
        "the same devices as JSON strings in a Vec",
    ));
    drop(plain);

    // Throughput: baseline (bare subscriber) then into the registry.
    progress("events per second, baseline");
    let publisher = client(&broker, "bench-publisher").await?;
    let sink = client(&broker, "bench-sink").await?;
    let mut rx = sink.subscribe("bench/raw/+/state").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let n = cfg.events;
    let feeder = spawn_state_feeder(&publisher, n, cfg.devices, |i| {
        format!("bench/raw/lamp_{i}/state")
    });
    let mut got = 0;
    while got < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(_)) => got += 1,
            _ => break,
        }
    }
    let baseline_rate = got as f64 / start.elapsed().as_secs_f64();
    feeder.await.map_err(|e| DevicesError::Invalid {
        what: "benchmark".into(),
        reason: e.to_string(),
    })??;

    progress("events per second into the registry");
    let (emma, _) = Bus::start(
        broker.client_config("bench-emma"),
        BusOptions {
            outbox_path: cfg.dir.join("bench-outbox.sqlite"),
            ..BusOptions::default()
        },
    )?;
    emma.wait_connected(Duration::from_secs(5)).await?;
    let home = Home::start(emma.clone(), registry).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let feeder = spawn_state_feeder(&publisher, n, cfg.devices, |i| {
        format!("emma/device/light.lamp_{i}/state")
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while (home.stats().states as usize) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ingested = home.stats().states;
    let rate = ingested as f64 / start.elapsed().as_secs_f64();
    feeder.await.map_err(|e| DevicesError::Invalid {
        what: "benchmark".into(),
        reason: e.to_string(),
    })??;
    let last = home
        .registry()
        .device(&format!("light.lamp_{}", (n - 1) % cfg.devices))
        .and_then(|d| d.attributes.get("seq").cloned());
    if last != Some(serde_json::json!(n - 1)) {
        tracing::warn!(?last, "the registry does not hold the last state sent");
    }
    measures.push(measure(
        "state events into the registry",
        "events/s",
        rate,
        baseline_rate,
        TARGET_EVENTS_PER_SEC,
        true,
        "the same messages to a bare subscriber",
    ));
    let events_lost = (n as u64).saturating_sub(ingested);

    // Command latency: text → device.
    progress("command latency, baseline");
    let mut device_rx = sink.subscribe("emma/device/+/set").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut base = Vec::with_capacity(cfg.commands);
    for i in 0..cfg.commands {
        let t = Instant::now();
        publisher
            .publish(
                format!("emma/device/light.lamp_{}/set", i % cfg.devices),
                r#"{"state":"on"}"#,
                crate::QoS::AtLeastOnce,
                false,
            )
            .await?;
        tokio::time::timeout(Duration::from_secs(5), device_rx.recv())
            .await
            .ok()
            .flatten();
        base.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    #[cfg(feature = "intents")]
    {
        progress("command latency, text to device");
        let mut control = crate::control::HomeControl::builtin("en")?;
        let mut lat = Vec::with_capacity(cfg.commands);
        for i in 0..cfg.commands {
            let text = format!("set lamp {} to {}%", i % cfg.devices, i % 100);
            let t = Instant::now();
            let outcome = control.handle(&home, &text).await?;
            if outcome.commands.is_empty() {
                return Err(DevicesError::Invalid {
                    what: format!("benchmark utterance {text:?}"),
                    reason: outcome.reply,
                });
            }
            tokio::time::timeout(Duration::from_secs(5), device_rx.recv())
                .await
                .ok()
                .flatten();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat.sort_by(f64::total_cmp);
        base.sort_by(f64::total_cmp);
        measures.push(measure(
            "command latency text→device p50",
            "ms",
            percentile(&lat, 0.5),
            percentile(&base, 0.5),
            TARGET_COMMAND_P99_MS,
            false,
            "a bare QoS 1 publish to the same subscriber",
        ));
        measures.push(measure(
            "command latency text→device p99",
            "ms",
            percentile(&lat, 0.99),
            percentile(&base, 0.99),
            TARGET_COMMAND_P99_MS,
            false,
            "a bare QoS 1 publish to the same subscriber",
        ));
    }
    for bus in [&publisher, &sink, &emma] {
        let _ = bus.shutdown().await;
    }
    Ok(BenchReport {
        measures,
        events_lost,
    })
}
