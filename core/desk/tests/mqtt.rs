//! A desk worker on a real mosquitto: handoffs published the way a home does are stored and routed; bad
//! messages are refused; an agent's reply reaches the home (QoS 1) and is marked delivered once the broker
//! acknowledges it; a handoff published while the desk is down arrives after it restarts, once.

mod support;

use std::time::Duration;

use emma_desk::{Desk, DeskConfig, NewAgent};
use emma_handoff::{AgentReply, Limits, topic};
use support::fixtures::handoff;
use support::{Home, Mosquitto, eventually};

fn ann() -> NewAgent {
    NewAgent {
        id: "ann".into(),
        brand: "acme".into(),
        name: "Ann".into(),
        languages: vec!["en".into()],
        skills: vec!["*".into()],
        capacity: 5,
        password: "correct horse battery".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_in_reply_out_restart_in_between() {
    support::logs();
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db").display().to_string();
    let config = DeskConfig::new(broker.url(), db.clone(), "desk-test-1");
    let (desk, tasks) = Desk::start(config.clone()).await.unwrap();
    desk.add_agent(ann()).await.unwrap();
    desk.store()
        .set_available("ann", true, emma_desk::desk::now_ms(), "test")
        .await
        .unwrap();

    let mut home = Home::connect(broker.port(), "home-1", &[topic::reply("home-1")])
        .await
        .unwrap();
    // Wait until the desk is subscribed: a probe handoff gets stored.
    let limits = Limits::default();
    let probe = handoff("probe", "home-1", "en", None);
    eventually(Duration::from_secs(10), "desk subscribed", || async {
        home.publish(
            &topic::handoff("acme"),
            emma_handoff::encode(&probe, &limits).unwrap(),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        desk.store().handoff("acme", "probe").await.unwrap()
    })
    .await
    .unwrap();

    // Bad input: malformed, oversized, unknown brand, brand not matching the topic, unknown field.
    let t = topic::handoff("acme");
    home.publish(&t, b"{not json".to_vec()).await.unwrap();
    home.publish(&t, vec![b' '; limits.max_bytes + 10])
        .await
        .unwrap();
    let mut other = handoff("h-other", "home-1", "en", None);
    other.brand = "nobody".into();
    home.publish(
        &topic::handoff("nobody"),
        emma_handoff::encode(&other, &limits).unwrap(),
    )
    .await
    .unwrap();
    home.publish(&t, emma_handoff::encode(&other, &limits).unwrap())
        .await
        .unwrap();
    let mut extra: serde_json::Value =
        serde_json::to_value(handoff("h-extra", "home-1", "en", None)).unwrap();
    extra["admin"] = true.into();
    home.publish(&t, serde_json::to_vec(&extra).unwrap())
        .await
        .unwrap();
    // A good one, delivered twice.
    let h1 = emma_handoff::encode(&handoff("h1", "home-1", "en", None), &limits).unwrap();
    home.publish(&t, h1.clone()).await.unwrap();
    home.publish(&t, h1).await.unwrap();

    let h = eventually(Duration::from_secs(10), "h1 routed", || async {
        desk.store()
            .handoff("acme", "h1")
            .await
            .unwrap()
            .filter(|h| h.agent.is_some())
    })
    .await
    .unwrap();
    assert_eq!(h.agent.as_deref(), Some("ann"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Only the probe and h1 were stored.
    assert_eq!(desk.store().counts().await.unwrap(), (0, 2, 0));
    for refused in ["h-other", "h-extra"] {
        assert!(
            desk.store()
                .handoff("nobody", refused)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            desk.store()
                .handoff("acme", refused)
                .await
                .unwrap()
                .is_none()
        );
    }

    // The agent replies; the home receives it.
    let agent = desk.store().agent("ann").await.unwrap().unwrap();
    let sent = desk
        .reply(&agent, "h1", "Hello, how can I help?")
        .await
        .unwrap();
    let (topic_name, payload) = home.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(topic_name, topic::reply("home-1"));
    let got: AgentReply = emma_handoff::decode(&payload, &limits).unwrap();
    assert_eq!(got, sent);
    assert_eq!((got.handoff.as_str(), got.agent.as_str()), ("h1", "Ann"));
    // Marked delivered when the broker acknowledged it.
    eventually(
        Duration::from_secs(10),
        "reply marked published",
        || async {
            desk.store()
                .unpublished()
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        },
    )
    .await
    .unwrap();
    // Not theirs / already answered: refused, nothing published.
    assert!(desk.reply(&agent, "h1", "again").await.is_err());

    // The desk dies (no clean disconnect); a handoff arrives meanwhile; it restarts.
    for t in tasks {
        t.abort();
    }
    drop(desk);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h2 = emma_handoff::encode(&handoff("h2", "home-1", "en", None), &limits).unwrap();
    home.publish(&t, h2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (desk, tasks) = Desk::start(config).await.unwrap();
    let h = eventually(Duration::from_secs(15), "h2 after restart", || async {
        desk.store().handoff("acme", "h2").await.unwrap()
    })
    .await
    .unwrap();
    assert_eq!(h.agent.as_deref(), Some("ann"), "routed after the restart");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        desk.store().counts().await.unwrap(),
        (0, 2, 1),
        "nothing lost, nothing twice"
    );
    // The home got exactly one reply.
    assert!(
        home.next(Duration::from_millis(500)).await.is_err(),
        "a reply was delivered twice"
    );
    for t in tasks {
        t.abort();
    }
}
