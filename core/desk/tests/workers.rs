//! Several desk workers sharing one queue: a real PostgreSQL, a real mosquitto, shared subscriptions
//! (`$share/desk/…`). Handoffs from many homes are each stored and routed exactly once, even when one worker
//! dies mid-run (its connection drops without a goodbye) and comes back under the same id.

mod support;

use std::time::Duration;

use emma_desk::{Desk, DeskConfig, NewAgent};
use emma_handoff::{Limits, topic};
use support::fixtures::{handoff, report};
use support::{Home, Mosquitto, Postgres, eventually};

const HANDOFFS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_queue_one_dies() {
    support::logs();
    let broker = Mosquitto::start().unwrap();
    let pg = Postgres::start().unwrap();
    let config = |n: u32| DeskConfig::new(broker.url(), pg.url(), format!("desk-{n}"));
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(Desk::start(config(n)).await.unwrap());
    }
    let desk = workers[0].0.clone();
    for (i, lang) in ["en", "de", "en", "fr"].iter().enumerate() {
        let id = format!("agent{i}");
        desk.add_agent(NewAgent {
            id: id.clone(),
            brand: "acme".into(),
            name: id.clone(),
            languages: vec![lang.to_string()],
            skills: vec!["*".into()],
            capacity: 10,
            password: "correct horse battery".into(),
        })
        .await
        .unwrap();
        desk.store()
            .set_available(&id, true, emma_desk::desk::now_ms(), "test")
            .await
            .unwrap();
    }
    // Let every worker subscribe.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let home = Home::connect(broker.port(), "homes", &[]).await.unwrap();
    let limits = Limits::default();
    let languages = ["en", "de", "fr", "it"];
    for i in 0..HANDOFFS {
        if i == HANDOFFS / 3 {
            // Worker 2 dies without a goodbye…
            let (_, tasks) = workers.remove(1);
            for t in tasks {
                t.abort();
            }
        }
        if i == 2 * HANDOFFS / 3 {
            // …and comes back under its id: the broker kept its session and unacknowledged messages.
            workers.push(Desk::start(config(2)).await.unwrap());
        }
        let h = handoff(
            &format!("h{i}"),
            &format!("home-{i}"),
            languages[i % 4],
            None,
        );
        home.publish(
            &topic::handoff("acme"),
            emma_handoff::encode(&h, &limits).unwrap(),
        )
        .await
        .unwrap();
        let r = report(
            &format!("r{i}"),
            &format!("home-{i}"),
            0,
            &[("CoffeeBrew", 3, 0, 1, 10, 20, 30)],
        );
        home.publish(
            &topic::touchpoints("acme"),
            emma_handoff::encode(&r, &limits).unwrap(),
        )
        .await
        .unwrap();
        // Re-deliveries of some of them, as a home's outbox may do after a reconnect.
        if i % 50 == 0 {
            home.publish(
                &topic::handoff("acme"),
                emma_handoff::encode(&h, &limits).unwrap(),
            )
            .await
            .unwrap();
        }
    }

    let counts = eventually(Duration::from_secs(60), "every handoff stored", || async {
        let c = desk.store().counts().await.unwrap();
        (c.0 + c.1 + c.2 == HANDOFFS as u64).then_some(c)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        desk.store().counts().await.unwrap(),
        counts,
        "nothing stored twice"
    );
    // Capacity 10 each: en has two agents (20), de one (10), fr one (10); Italian nobody (queued).
    assert_eq!(counts.1, 40, "assigned: {counts:?}");
    assert_eq!(counts.0, HANDOFFS as u64 - 40);
    for a in desk.store().agents(Some("acme")).await.unwrap() {
        assert_eq!(a.load, 10, "{}", a.id);
    }
    let reports = eventually(Duration::from_secs(30), "every report stored", || async {
        let n = desk.store().report_count("acme").await.unwrap();
        (n == HANDOFFS as u64).then_some(n)
    })
    .await
    .unwrap();
    assert_eq!(reports, HANDOFFS as u64);
    // Each handoff was received (and logged) exactly once across the workers.
    let log = desk.store().audit_log(None, 10_000).await.unwrap();
    assert_eq!(
        log.iter().filter(|e| e.action == "received").count(),
        HANDOFFS
    );
    for (_, tasks) in workers {
        for t in tasks {
            t.abort();
        }
    }
}
