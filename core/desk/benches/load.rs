//! Load test of the desk on loopback: simulated homes send handoffs and touchpoint reports through a real
//! mosquitto to several desk worker processes sharing one real PostgreSQL queue; one worker is killed with
//! SIGKILL mid-run and restarted under its id. Prints throughput, handoff → stored (what the agent page
//! shows) latency percentiles, and losses, against a baseline measured in the same run: the same messages
//! from the same homes through the same broker to a plain shared-subscription consumer that stores nothing.
//!
//! ```text
//! cargo bench -p emma-desk --bench load -- [--homes 10000] [--workers 3] [--rate 1000] [--connections 50] [--json]
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emma_desk::{Desk, DeskConfig, NewAgent, Store};
use emma_handoff::{Limits, topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use support::fixtures::{handoff, report};

struct Options {
    homes: usize,
    workers: usize,
    rate: u64,
    connections: usize,
    json: bool,
}

fn options() -> Options {
    let mut o = Options {
        homes: 10_000,
        workers: 3,
        rate: 1_000,
        connections: 50,
        json: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| -> u64 {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--homes" => {
                o.homes = value(i) as usize;
                i += 1;
            }
            "--workers" => {
                o.workers = value(i).max(2) as usize;
                i += 1;
            }
            "--rate" => {
                o.rate = value(i).max(1);
                i += 1;
            }
            "--connections" => {
                o.connections = value(i).max(1) as usize;
                i += 1;
            }
            "--json" => o.json = true,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
        i += 1;
    }
    o
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("--worker") {
        // A desk worker process: --worker ID BROKER DATABASE
        return rt.block_on(worker(&args[2], &args[3], &args[4]));
    }
    rt.block_on(run(options()))
}

async fn worker(id: &str, broker: &str, database: &str) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("emma_desk=error")
        .with_writer(std::io::stderr)
        .try_init();
    let (_desk, _tasks) = Desk::start(DeskConfig::new(broker, database, id)).await?;
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}

fn spawn_worker(id: &str, broker: &str, database: &str) -> anyhow::Result<Child> {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--worker", id, broker, database])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    anyhow::ensure!(
        line.trim() == "ready",
        "worker {id} did not start: {line:?}"
    );
    Ok(child)
}

async fn connect(
    port: u16,
    id: String,
) -> anyhow::Result<(AsyncClient, tokio::task::JoinHandle<()>)> {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(1_000);
    let (client, mut eventloop) = AsyncClient::new(o, 10_000);
    let task = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    Ok((client, task))
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Publishes every home's handoff and report, paced at `rate` messages per second; calls `at` with the
/// fraction done. Returns the publishing time.
async fn publish_all(
    homes: &[AsyncClient],
    n: usize,
    rate: u64,
    prefix: &str,
    brand_topics: (&str, &str),
    mut at: impl FnMut(usize),
) -> anyhow::Result<Duration> {
    let limits = Limits::default();
    let start = Instant::now();
    for i in 0..n {
        at(i);
        let mut h = handoff(
            &format!("{prefix}h{i}"),
            &format!("home-{i}"),
            ["en", "de", "fr"][i % 3],
            None,
        );
        h.created_ms = emma_desk::desk::now_ms();
        let r = report(
            &format!("{prefix}r{i}"),
            &format!("home-{i}"),
            (i % 7) as u64,
            &[("CoffeeBrew", 5, 1, 1, 50, 90, 120)],
        );
        let c = &homes[i % homes.len()];
        c.publish(
            brand_topics.0,
            QoS::AtLeastOnce,
            false,
            emma_handoff::encode(&h, &limits)?,
        )
        .await?;
        c.publish(
            brand_topics.1,
            QoS::AtLeastOnce,
            false,
            emma_handoff::encode(&r, &limits)?,
        )
        .await?;
        // Pace: 2 messages per home.
        let due = start + Duration::from_secs_f64((2 * (i + 1)) as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    Ok(start.elapsed())
}

async fn run(o: Options) -> anyhow::Result<()> {
    let broker = support::Mosquitto::start()?;
    let pg = support::Postgres::start()?;
    let db = pg.url();
    let n = o.homes;
    let mut homes = Vec::new();
    let mut home_tasks = Vec::new();
    for c in 0..o.connections {
        let (client, task) = connect(broker.port(), format!("homes-{c}")).await?;
        homes.push(client);
        home_tasks.push(task);
    }

    // Baseline: the same traffic to a plain shared-subscription consumer that only counts.
    let (sink, mut sink_loop) = AsyncClient::new(
        {
            let mut m = MqttOptions::new("baseline-sink", "127.0.0.1", broker.port());
            m.set_keep_alive(Duration::from_secs(60));
            m
        },
        10_000,
    );
    sink.subscribe("$share/base/bench/+/m", QoS::AtLeastOnce)
        .await?;
    let (count_tx, mut count_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let sink_task = tokio::spawn(async move {
        loop {
            match sink_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    let _ = count_tx.send(Instant::now());
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base_start = Instant::now();
    publish_all(&homes, n, o.rate, "b", ("bench/a/m", "bench/b/m"), |_| {}).await?;
    let mut got = 0;
    let mut last = base_start;
    while got < 2 * n {
        match tokio::time::timeout(Duration::from_secs(30), count_rx.recv()).await {
            Ok(Some(t)) => {
                got += 1;
                last = t;
            }
            _ => break,
        }
    }
    sink_task.abort();
    let base_secs = (last - base_start).as_secs_f64();
    let base_throughput = got as f64 / base_secs;

    // The desk: agents, then worker processes.
    let store = Store::open(&db).await?;
    for a in 0..20 {
        let id = format!("agent{a}");
        emma_desk::register_agent(
            &store,
            NewAgent {
                id: id.clone(),
                brand: "acme".into(),
                name: id.clone(),
                languages: vec![["en", "de", "fr"][a % 3].into()],
                skills: vec!["*".into()],
                capacity: 5,
                password: "correct horse battery".into(),
            },
        )
        .await?;
        store
            .set_available(&id, true, emma_desk::desk::now_ms(), "bench")
            .await?;
    }
    let mut workers: Vec<Child> = Vec::new();
    for w in 1..=o.workers {
        workers.push(spawn_worker(&format!("desk-{w}"), &broker.url(), &db)?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let kill_at = n * 4 / 10;
    let restart_at = n * 6 / 10;
    let mut killed_at = None;
    let mut restarted_at = None;
    let start = Instant::now();
    let topics = (topic::handoff("acme"), topic::touchpoints("acme"));
    let (broker_url, db2) = (broker.url(), db.clone());
    publish_all(&homes, n, o.rate, "", (&topics.0, &topics.1), |i| {
        if i == kill_at {
            // kill -9 worker 2.
            let _ = workers[1].kill();
            let _ = workers[1].wait();
            killed_at = Some((Instant::now(), emma_desk::desk::now_ms()));
        }
        if i == restart_at {
            workers[1] = spawn_worker("desk-2", &broker_url, &db2).expect("restart worker 2");
            restarted_at = Some((Instant::now(), emma_desk::desk::now_ms()));
        }
    })
    .await?;
    let publish_secs = start.elapsed().as_secs_f64();

    // Wait until everything is stored (or 120 s pass).
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut stored, mut reports);
    loop {
        let c = store.counts().await?;
        stored = c.0 + c.1 + c.2;
        reports = store.report_count("acme").await?;
        if (stored as usize >= n && reports as usize >= n) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done_secs = start.elapsed().as_secs_f64();

    // Latency: created by the home → committed in the shared store (what the agent page reads).
    let (client, conn) = tokio_postgres::connect(&db, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let rows = client
        .query("SELECT received_ms, body FROM handoffs", &[])
        .await?;
    let pairs: Vec<(u64, u64)> = rows
        .iter()
        .filter_map(|r| {
            let received: i64 = r.get(0);
            let body: String = r.get(1);
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let created = v["created_ms"].as_u64()?;
            Some((created, (received as u64).saturating_sub(created)))
        })
        .collect();
    let mut lat: Vec<u64> = pairs.iter().map(|p| p.1).collect();
    lat.sort_unstable();
    // Handoffs sent while worker 2 was down (and 1 s after): a third of them waited for its restart.
    let outage = match (killed_at, restarted_at) {
        (Some((_, k)), Some((_, r))) => (k, r + 1_000),
        _ => (0, 0),
    };
    let mut steady: Vec<u64> = pairs
        .iter()
        .filter(|(c, _)| *c < outage.0 || *c > outage.1)
        .map(|p| p.1)
        .collect();
    steady.sort_unstable();
    let received_logged: i64 = client
        .query_one("SELECT COUNT(*) FROM audit WHERE action = 'received'", &[])
        .await?
        .get(0);
    let throughput = (stored + reports) as f64 / done_secs;
    let lost = (n as u64).saturating_sub(stored) + (n as u64).saturating_sub(reports);
    let (p50, p99, max) = (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0),
    );
    let killed_for = match (killed_at, restarted_at) {
        (Some((k, _)), Some((r, _))) => (r - k).as_secs_f64(),
        _ => 0.0,
    };

    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    for t in home_tasks {
        t.abort();
    }

    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "homes": n, "workers": o.workers, "offered_rate": o.rate, "connections": o.connections,
                "baseline_msgs_per_s": base_throughput, "desk_msgs_per_s": throughput,
                "ratio_to_baseline": throughput / base_throughput,
                "publish_s": publish_secs, "all_stored_s": done_secs,
                "handoff_to_visible_ms": { "p50": p50, "p99": p99, "max": max },
                "handoff_to_visible_outside_outage_ms": { "p50": percentile(&steady, 0.5), "p99": percentile(&steady, 0.99) },
                "handoffs_stored": stored, "reports_stored": reports, "lost": lost,
                "received_log_entries": received_logged, "worker_down_s": killed_for,
            })
        );
    } else {
        println!(
            "desk load test: {n} homes × (1 handoff + 1 touchpoint report), {} desk workers, {} home connections, offered {} msg/s",
            o.workers, o.connections, o.rate
        );
        println!(
            "  baseline (same broker, counting consumer): {got} msgs in {base_secs:.2} s = {base_throughput:.0} msg/s"
        );
        println!(
            "  desk (PostgreSQL queue, routing, audit):    {} msgs in {done_secs:.2} s = {throughput:.0} msg/s  (ratio {:.2})",
            stored + reports,
            throughput / base_throughput
        );
        println!(
            "  worker desk-2 killed with SIGKILL at {kill_at} homes, restarted {killed_for:.1} s later"
        );
        println!(
            "  handoff → visible (stored in the shared queue): p50 {p50} ms, p99 {p99} ms, max {max} ms"
        );
        println!(
            "    outside the outage window ({} handoffs): p50 {} ms, p99 {} ms",
            steady.len(),
            percentile(&steady, 0.5),
            percentile(&steady, 0.99)
        );
        println!(
            "  stored: {stored}/{n} handoffs, {reports}/{n} reports; lost {lost}; 'received' log entries {received_logged} (duplicates {})",
            (received_logged as u64).saturating_sub(stored)
        );
    }
    anyhow::ensure!(lost == 0, "{lost} messages lost");
    Ok(())
}
