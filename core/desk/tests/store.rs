//! The store's behaviour, on SQLite and on a real PostgreSQL: routing by language, skill, load and
//! history; the queue; an agent going away; refused replies; suggestion ranking; idempotent receipt;
//! reopening the store (a desk restart).

mod support;

use emma_desk::DeskError;
use emma_desk::store::{Received, Status, Store};
use support::fixtures::{agent, handoff, report};

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

async fn scenario(url: &str) {
    let store = Store::open(url).await.unwrap();
    // Unknown brand before any agent exists for it.
    assert_eq!(
        store
            .receive_handoff(&handoff("h0", "home-0", "en", None), 1)
            .await
            .unwrap(),
        Received::UnknownBrand
    );
    for a in [
        agent("ann", &["en"], &[], 2),
        agent("bea", &["de", "en"], &["com.acme.coffee"], 2),
        agent("cem", &["de"], &[], 1),
    ] {
        store.upsert_agent(&a, HASH, 1).await.unwrap();
    }
    // Nobody available: queued, with its age measurable from received_ms.
    assert_eq!(
        store
            .receive_handoff(&handoff("h1", "home-1", "de", None), 10)
            .await
            .unwrap(),
        Received::New(None)
    );
    // A re-delivery changes nothing.
    assert_eq!(
        store
            .receive_handoff(&handoff("h1", "home-1", "de", None), 11)
            .await
            .unwrap(),
        Received::Duplicate
    );
    let q = store.queue("acme", 100).await.unwrap().items;
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].status, q[0].received_ms), (Status::Queued, 10));

    // ann signs in: speaks no German, h1 keeps waiting.
    assert!(
        store
            .set_available("ann", true, 20, "test")
            .await
            .unwrap()
            .is_empty()
    );
    // cem signs in: the only German speaker available, takes h1.
    let a = store.set_available("cem", true, 21, "test").await.unwrap();
    assert_eq!((a[0].handoff.as_str(), a[0].agent.as_str()), ("h1", "cem"));
    store.set_available("bea", true, 22, "test").await.unwrap();

    // Skill first: a German coffee handoff goes to bea (knows the skill), not cem (full anyway).
    assert_eq!(
        store
            .receive_handoff(
                &handoff("h2", "home-2", "de-AT", Some("com.acme.coffee")),
                30
            )
            .await
            .unwrap(),
        Received::New(Some("bea".into()))
    );
    // Language first: an English coffee handoff — bea knows the skill (load 1) and beats ann (load 0).
    assert_eq!(
        store
            .receive_handoff(&handoff("h3", "home-3", "en", Some("com.acme.coffee")), 31)
            .await
            .unwrap(),
        Received::New(Some("bea".into()))
    );
    // Then least load: bea is full (2), ann takes the next English one.
    assert_eq!(
        store
            .receive_handoff(&handoff("h4", "home-4", "en", Some("com.acme.coffee")), 32)
            .await
            .unwrap(),
        Received::New(Some("ann".into()))
    );

    // Replies: not yours, then yours, then already answered.
    let ann = store.agent("ann").await.unwrap().unwrap();
    let cem = store.agent("cem").await.unwrap().unwrap();
    assert!(matches!(
        store.reply(&ann, "h1", "Hallo", 40).await,
        Err(DeskError::NotYours { .. })
    ));
    assert!(matches!(
        store.reply(&ann, "nope", "x", 40).await,
        Err(DeskError::UnknownHandoff(_))
    ));
    assert!(matches!(
        store.reply(&cem, "h1", "  ", 40).await,
        Err(DeskError::Invalid { .. })
    ));
    let chosen = "Descaling takes 20 minutes; start it from the menu.";
    let (out, _) = store.reply(&cem, "h1", chosen, 41).await.unwrap();
    assert_eq!(
        (out.home.as_str(), out.reply.handoff.as_str()),
        ("home-1", "h1")
    );
    assert_eq!(out.reply.agent, "Agent cem");
    assert!(matches!(
        store.reply(&cem, "h1", "again", 42).await,
        Err(DeskError::AlreadyAnswered(_))
    ));
    // Ranking: the chosen suggestion counts once for (acme, CoffeeDescale).
    let counts = store
        .suggestion_counts("acme", "CoffeeDescale")
        .await
        .unwrap();
    assert_eq!(counts.get(chosen), Some(&1));
    let h = store.handoff("acme", "h2").await.unwrap().unwrap();
    let ranked = emma_desk::suggest::rank(&h.request.suggestions, &counts);
    assert_eq!(ranked[0].text, chosen);
    assert_eq!(
        store.handoff("other", "h2").await.unwrap(),
        None,
        "another brand's handoff is invisible"
    );

    // History last: home-1 comes back in German; cem (answered home-1 before) and bea tie on skill
    // (no skill) — bea is full, cem has room: cem.
    assert_eq!(
        store
            .receive_handoff(&handoff("h5", "home-1", "de", None), 50)
            .await
            .unwrap(),
        Received::New(Some("cem".into()))
    );

    // bea goes away: h2 and h3 return to the queue; h3 (English) is re-routed to ann (room: 1), h2 waits.
    let moved = store.set_available("bea", false, 60, "test").await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].handoff.as_str(), moved[0].agent.as_str()),
        ("h3", "ann")
    );
    let h2 = store.handoff("acme", "h2").await.unwrap().unwrap();
    assert_eq!((h2.status, h2.agent), (Status::Queued, None));

    // The queue page lists every assigned handoff and at most N waiting ones, with the full count.
    let q = store.queue("acme", 0).await.unwrap();
    assert_eq!(q.waiting, 1);
    assert_eq!(q.items.len(), 3, "{:?}", q.items);
    assert!(q.items.iter().all(|i| i.status == Status::Assigned));
    assert_eq!(store.queue("acme", 10).await.unwrap().items.len(), 4);

    // The reply waits to be published until marked.
    let pending = store.unpublished().await.unwrap();
    assert_eq!(pending.len(), 1);
    store.mark_published("h1").await.unwrap();
    assert!(store.unpublished().await.unwrap().is_empty());

    // Touchpoint reports: idempotent by id.
    let r = report(
        "r1",
        "home-1",
        0,
        &[("CoffeeDescale", 4, 1, 1, 100, 200, 300)],
    );
    assert_eq!(
        store.receive_touchpoints(&r, 70).await.unwrap(),
        Received::New(None)
    );
    assert_eq!(
        store.receive_touchpoints(&r, 71).await.unwrap(),
        Received::Duplicate
    );
    assert_eq!(store.touch_rows("acme").await.unwrap().len(), 1);

    // Every action is in the audit log.
    let log = store.audit_log(Some("acme"), 500).await.unwrap();
    for action in [
        "received",
        "assigned",
        "reply",
        "reply-refused",
        "away",
        "returned",
        "available",
    ] {
        assert!(
            log.iter().any(|e| e.action == action),
            "no `{action}` in the log"
        );
    }

    // Agents whose page is gone go away; their handoffs wait again.
    let gone = store.expire_idle(1_000_000, 1_000).await.unwrap();
    assert_eq!(gone, ["ann", "cem"]);
    assert_eq!(store.counts().await.unwrap(), (4, 0, 1));
    store
        .set_available("ann", true, 1_000_001, "test")
        .await
        .unwrap();
    store
        .set_available("cem", true, 1_000_001, "test")
        .await
        .unwrap();

    // Reopen (a desk restart): everything is still there.
    drop(store);
    let store = Store::open(url).await.unwrap();
    assert_eq!(store.counts().await.unwrap(), (1, 3, 1));
    assert_eq!(
        store
            .receive_handoff(&handoff("h1", "home-1", "de", None), 80)
            .await
            .unwrap(),
        Received::Duplicate
    );
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path().join("desk.db").to_str().unwrap()).await;
}

#[tokio::test]
async fn postgres() {
    let pg = support::Postgres::start().unwrap();
    scenario(&pg.url()).await;
}

/// The PostgreSQL server restarts under a running desk: the store reconnects and nothing is lost.
#[tokio::test]
async fn postgres_restart() {
    let mut pg = support::Postgres::start().unwrap();
    let store = Store::open(&pg.url()).await.unwrap();
    store
        .upsert_agent(&agent("ann", &["en"], &[], 1), HASH, 1)
        .await
        .unwrap();
    store
        .receive_handoff(&handoff("h1", "home-1", "en", None), 10)
        .await
        .unwrap();
    pg.restart().unwrap();
    // The first statement may still see the old connection fail; the next one reconnects.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let queue = loop {
        match store.queue("acme", 100).await.map(|q| q.items) {
            Ok(q) => break q,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("while PostgreSQL restarts: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no reconnect: {e}"),
        }
    };
    assert_eq!(queue.len(), 1);
    assert_eq!(
        store
            .receive_handoff(&handoff("h1", "home-1", "en", None), 20)
            .await
            .unwrap(),
        Received::Duplicate
    );
}
