//! The durable outbox against real brokers: `kill -9` the broker half-way
//! through 1,000 QoS 1 commands, `kill -9` Emma before the acknowledgements,
//! and check that every command is applied exactly once by a device that
//! drops duplicates by id, and that expired commands are dropped and reported.
//!
//! Brokers: a real `mosquitto` on a free loopback port, and Emma's embedded
//! `rumqttd` running in a child process (so it can be killed too). Emma itself
//! is killed as a child process: this test binary re-runs itself in a "role"
//! chosen by the `EMMA_TEST_ROLE` environment variable.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emma_devices::{BrokerConfig, Bus, BusOptions, OutboxCommand, QoS};
use emma_tests::mosquitto::{Mosquitto, free_port};

const TOPIC: &str = "emma/device/light.test/set";

/// A device that applies each command id once and confirms every delivery.
#[derive(Default)]
struct Applied {
    deliveries: usize,
    applied: HashMap<String, usize>,
}

async fn start_device(url: &str) -> (Bus, Arc<Mutex<Applied>>) {
    let mut cfg = BrokerConfig::from_url(url).unwrap();
    cfg.client_id = format!("device-{}", std::process::id());
    let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
    let mut rx = bus.subscribe(TOPIC).await.unwrap();
    let state = Arc::new(Mutex::new(Applied::default()));
    let (b, s) = (bus.clone(), state.clone());
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
            let id = v["id"].as_str().unwrap().to_string();
            {
                let mut s = s.lock().unwrap();
                s.deliveries += 1;
                // Dedup by id: a repeated id is not applied again.
                if !s.applied.contains_key(&id) {
                    s.applied.insert(id.clone(), 1);
                }
            }
            let _ = b.publish("emma/confirm", id, QoS::AtLeastOnce, false).await;
        }
    });
    wait_connected(&bus).await;
    (bus, state)
}

async fn wait_connected(bus: &Bus) {
    // A subscription round-trip proves the connection is up.
    let probe = format!("emma/test/probe/{}", emma_devices::outbox::new_command_id());
    let mut rx = bus.subscribe(probe.clone()).await.unwrap();
    loop {
        let _ = bus
            .publish(probe.clone(), "x", QoS::AtMostOnce, false)
            .await;
        if tokio::time::timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_ok()
        {
            return;
        }
    }
}

fn emma_options(outbox: &Path) -> BusOptions {
    BusOptions {
        outbox_path: outbox.to_path_buf(),
        confirm_timeout: Duration::from_secs(2),
        ..BusOptions::default()
    }
}

fn command(id: String, ttl: Duration) -> OutboxCommand {
    let payload = serde_json::json!({"id": id, "state": "on"}).to_string();
    OutboxCommand::with_id(id, TOPIC, payload, ttl).confirmed()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends 1,000 commands and calls `kill_and_restart` after the 500th.
async fn thousand_commands_survive(url: String, kill_and_restart: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let (device, applied) = start_device(&url).await;
    let mut cfg = BrokerConfig::from_url(&url).unwrap();
    cfg.client_id = "emma-under-test".into();
    let (emma, _) = Bus::start(cfg, emma_options(&dir.path().join("outbox.sqlite"))).unwrap();
    wait_connected(&emma).await;
    let mut kill = Some(kill_and_restart);
    let ids: Vec<String> = (0..1000).map(|i| format!("cmd-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        if i == 500 {
            (kill.take().unwrap())();
        }
        emma.send_command(command(id.clone(), Duration::from_secs(120)))
            .await
            .expect("queued in the outbox");
    }
    wait_until(
        "all 1,000 commands applied",
        Duration::from_secs(60),
        || applied.lock().unwrap().applied.len() == 1000,
    )
    .await;
    assert!(
        emma.flush(Duration::from_secs(30)).await.unwrap(),
        "outbox drains"
    );
    {
        let a = applied.lock().unwrap();
        let lost: Vec<_> = ids
            .iter()
            .filter(|id| !a.applied.contains_key(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "lost {} commands: {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        assert_eq!(a.applied.len(), 1000, "applied only the commands sent");
        assert!(
            a.applied.values().all(|&n| n == 1),
            "no command applied twice"
        );
        eprintln!(
            "1000 commands: lost 0, applied twice 0, deliveries {} (duplicates dropped by id: {})",
            a.deliveries,
            a.deliveries - 1000
        );
    }
    emma.shutdown().await.unwrap();
    device.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_killed_half_way_loses_no_command() {
    let broker = Arc::new(Mutex::new(Mosquitto::start().unwrap()));
    let url = broker.lock().unwrap().url();
    let b = broker.clone();
    thousand_commands_survive(url, move || {
        b.lock().unwrap().kill9();
        let b = b.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            b.lock().unwrap().restart().unwrap();
        });
    })
    .await;
}

/// Runs this test binary again as a child process in `role`.
fn spawn_role(role: &str, test: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("EMMA_TEST_ROLE", role)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Reads the child's stdout until a line ending with `marker`; returns the lines read.
fn wait_for_line(child: &mut Child, marker: &str) -> Vec<String> {
    let out = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(out);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "child exited before printing {marker}");
        let done = line.trim_end().ends_with(marker);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// Everything the (dead) child wrote that was not read yet.
fn rest_of_output(child: &mut Child) -> Vec<String> {
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out.lines().map(str::to_string).collect()
}

/// The highest `n` in lines `QUEUED long-<n>`.
fn last_queued(lines: &[String]) -> Option<usize> {
    lines
        .iter()
        .filter_map(|l| {
            l.trim()
                .rsplit_once("QUEUED long-")
                .and_then(|(_, n)| n.parse().ok())
        })
        .max()
}

fn kill9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
#[ignore = "helper process: the embedded broker, run by embedded_broker_killed_half_way_loses_no_command"]
fn role_embedded_broker() {
    if std::env::var("EMMA_TEST_ROLE").as_deref() != Ok("broker") {
        return;
    }
    let port: u16 = std::env::var("EMMA_TEST_PORT").unwrap().parse().unwrap();
    emma_devices::EmbeddedBroker::start(([127, 0, 0, 1], port).into()).unwrap();
    println!("READY");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_killed_half_way_loses_no_command() {
    let port = free_port();
    let env = [("EMMA_TEST_PORT", port.to_string())];
    let spawn = move || {
        let mut child = spawn_role("broker", "role_embedded_broker", &env);
        wait_for_line(&mut child, "READY");
        child
    };
    let broker = Arc::new(Mutex::new(spawn.clone()()));
    let b = broker.clone();
    thousand_commands_survive(format!("mqtt://127.0.0.1:{port}"), move || {
        kill9(&mut b.lock().unwrap());
        let b = b.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            *b.lock().unwrap() = spawn();
        });
    })
    .await;
    // Give the restart thread a moment, then stop the broker.
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill9(&mut broker.lock().unwrap());
}

#[test]
#[ignore = "helper process: Emma sending commands, run by the emma_killed_* tests"]
fn role_emma() {
    if std::env::var("EMMA_TEST_ROLE").as_deref() != Ok("emma") {
        return;
    }
    let url = std::env::var("EMMA_TEST_URL").unwrap();
    let outbox = std::env::var("EMMA_TEST_OUTBOX").unwrap();
    let long = std::env::var("EMMA_TEST_LONG")
        .unwrap()
        .parse::<usize>()
        .unwrap();
    let short = std::env::var("EMMA_TEST_SHORT")
        .unwrap()
        .parse::<usize>()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut cfg = BrokerConfig::from_url(&url).unwrap();
        cfg.client_id = "emma-child".into();
        let (emma, _) = Bus::start(cfg, emma_options(Path::new(&outbox))).unwrap();
        for i in 0..short {
            emma.send_command(command(format!("short-{i}"), Duration::from_millis(1500)))
                .await
                .unwrap();
        }
        for i in 0..long {
            emma.send_command(command(format!("long-{i}"), Duration::from_secs(120)))
                .await
                .unwrap();
            // Only now is the command Emma's responsibility: it is in the outbox on disk.
            println!("QUEUED long-{i}");
            if i + 1 == long / 4 {
                println!("QUARTER");
            }
        }
        println!("READY");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

fn spawn_emma(url: &str, outbox: &Path, long: usize, short: usize) -> Child {
    spawn_role(
        "emma",
        "role_emma",
        &[
            ("EMMA_TEST_URL", url.to_string()),
            ("EMMA_TEST_OUTBOX", outbox.display().to_string()),
            ("EMMA_TEST_LONG", long.to_string()),
            ("EMMA_TEST_SHORT", short.to_string()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emma_killed_mid_flight_replays_every_command_once() {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.sqlite");
    let (device, applied) = start_device(&broker.url()).await;
    let mut child = spawn_emma(&broker.url(), &outbox, 1000, 0);
    // Kill Emma a quarter of the way through queueing, with commands in flight.
    let mut lines = wait_for_line(&mut child, "QUARTER");
    kill9(&mut child);
    lines.extend(rest_of_output(&mut child));
    let queued = last_queued(&lines).expect("some commands queued") + 1;
    let before = applied.lock().unwrap().applied.len();

    let mut cfg = BrokerConfig::from_url(&broker.url()).unwrap();
    cfg.client_id = "emma-child".into();
    let (emma, expired) = Bus::start(cfg, emma_options(&outbox)).unwrap();
    assert!(expired.is_empty());
    wait_until(
        "every queued command applied after the restart",
        Duration::from_secs(60),
        || {
            let a = applied.lock().unwrap();
            (0..queued).all(|i| a.applied.contains_key(&format!("long-{i}")))
        },
    )
    .await;
    assert!(
        emma.flush(Duration::from_secs(30)).await.unwrap(),
        "outbox drains"
    );
    {
        let a = applied.lock().unwrap();
        assert!(
            a.applied.values().all(|&n| n == 1),
            "no command applied twice"
        );
        assert!(a.applied.keys().all(|k| {
            k.strip_prefix("long-")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n < 1000)
        }));
        eprintln!(
            "killed emma after {queued} commands were queued ({before} applied); after restart {} applied once, {} duplicates dropped",
            a.applied.len(),
            a.deliveries - a.applied.len()
        );
    }
    emma.shutdown().await.unwrap();
    device.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emma_killed_before_acks_replays_and_drops_expired() {
    // The broker is down while Emma queues: nothing can be acknowledged.
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.sqlite");
    let mut child = spawn_emma(&url, &outbox, 200, 50);
    wait_for_line(&mut child, "READY");
    kill9(&mut child);
    // Let the short-lived commands expire while Emma is dead.
    std::thread::sleep(Duration::from_millis(1600));

    let broker = Mosquitto::start_on(port).unwrap();
    let (device, applied) = start_device(&broker.url()).await;
    let mut cfg = BrokerConfig::from_url(&url).unwrap();
    cfg.client_id = "emma-child".into();
    let (emma, expired) = Bus::start(cfg, emma_options(&outbox)).unwrap();
    let expired: HashSet<String> = expired.into_iter().map(|c| c.id).collect();
    let want: HashSet<String> = (0..50).map(|i| format!("short-{i}")).collect();
    assert_eq!(expired, want, "exactly the expired commands are reported");
    wait_until(
        "the 200 live commands applied",
        Duration::from_secs(30),
        || applied.lock().unwrap().applied.len() >= 200,
    )
    .await;
    assert!(emma.flush(Duration::from_secs(30)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let a = applied.lock().unwrap();
        assert_eq!(
            a.applied.len(),
            200,
            "expired commands never fire: {:?}",
            a.applied
                .keys()
                .filter(|k| k.starts_with("short"))
                .collect::<Vec<_>>()
        );
        assert!((0..200).all(|i| a.applied.get(&format!("long-{i}")) == Some(&1)));
    }
    emma.shutdown().await.unwrap();
    device.shutdown().await.unwrap();
}
