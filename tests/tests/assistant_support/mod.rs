//! Shared helpers for the `assistant_*` tests: installing real skills into an
//! assistant's skill home, a watcher on a real broker that sees what the
//! assistant publishes, and speaking into `process_audio`.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use emma_core::assistant::{Assistant, AudioChunk, Turn, check_install};
use emma_core::devices::{Area, BrokerConfig, Bus, BusOptions, Device, Message, QoS, Registry};
use emma_core::skills::{Permission, SkillHome, SkillRuntime};
use emma_core::speech::{SAMPLE_RATE, synth};
use tokio::sync::mpsc;

#[path = "../skill_support/mod.rs"]
pub mod skill_support;

/// Builds the skill at `rel` (repo-relative), checks it against what is
/// installed, and installs it for the default customer with `grants`.
pub fn install(skills: &Path, rel: &str, grants: &[&str]) {
    let b = skill_support::bundle(rel);
    let home = SkillHome::open(skills).unwrap();
    check_install(&home, &b).unwrap();
    let file = skills.join(format!("{}.emmaskill", b.manifest.id));
    std::fs::write(&file, b.to_bytes(None)).unwrap();
    let runtime = SkillRuntime::new(home.runtime_config()).unwrap();
    let grants: Vec<Permission> = grants.iter().map(|g| g.parse().unwrap()).collect();
    home.install(&runtime, &file, "default", &grants, true)
        .unwrap();
}

/// Registers a kitchen and `devices` in the device registry of the
/// assistant data directory `data_dir`.
pub fn kitchen_home(data_dir: &Path, devices: impl IntoIterator<Item = Device>) {
    let mut registry = Registry::open(data_dir.join("devices.sqlite")).unwrap();
    registry
        .upsert_area(Area {
            id: "kitchen".into(),
            name: "kitchen".into(),
            aliases: vec![],
            floor: None,
        })
        .unwrap();
    for d in devices {
        registry.upsert_device(d).unwrap();
    }
}

/// A second client on the broker that records device commands
/// (`emma/device/+/set`) the assistant publishes.
pub struct Watcher {
    rx: mpsc::Receiver<Message>,
    bus: Bus,
    rt: tokio::runtime::Runtime,
}

impl Watcher {
    /// Connects to the broker at `url` and subscribes.
    pub fn start(url: &str) -> Watcher {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (bus, rx) = rt.block_on(async {
            let mut cfg = BrokerConfig::from_url(url).unwrap();
            cfg.client_id = "watcher".into();
            let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
            bus.wait_connected(Duration::from_secs(5)).await.unwrap();
            let rx = bus.subscribe("emma/device/+/set").await.unwrap();
            (bus, rx)
        });
        Watcher { rx, bus, rt }
    }

    /// (device id, payload) of every command received within `wait`.
    pub fn published(&mut self, wait: Duration) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + wait;
        let rx = &mut self.rx;
        self.rt.block_on(async {
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(m)) => out.push((
                        m.topic
                            .trim_start_matches("emma/device/")
                            .trim_end_matches("/set")
                            .to_string(),
                        String::from_utf8_lossy(&m.payload).into_owned(),
                    )),
                    _ => break,
                }
            }
        });
        out
    }

    /// Publishes as a device would (QoS 1), e.g. a state report.
    pub fn publish(&self, topic: &str, payload: &str) {
        self.rt
            .block_on(self.bus.publish(topic, payload, QoS::AtLeastOnce, false))
            .unwrap();
    }

    /// Device ids of the commands received within `wait`.
    pub fn devices(&mut self, wait: Duration) -> Vec<String> {
        self.published(wait).into_iter().map(|(d, _)| d).collect()
    }
}

/// Speaks `parts` (espeak-ng, en-us) with a pause after each into
/// `process_audio` in 100 ms chunks, then ends the stream.
pub fn speak(assistant: &Assistant, parts: &[&str]) -> Vec<Turn> {
    let pause = vec![0i16; SAMPLE_RATE as usize * 7 / 10];
    let mut samples = Vec::new();
    for p in parts {
        samples.extend(synth::espeak(p, "en-us", 150).unwrap().samples);
        samples.extend_from_slice(&pause);
    }
    for chunk in samples.chunks(1600) {
        assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: SAMPLE_RATE,
            })
            .unwrap();
    }
    assistant.end_audio().unwrap()
}
