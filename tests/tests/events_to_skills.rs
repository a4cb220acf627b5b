//! Device events reach skills over a real `mosquitto` and a real skill
//! component (the coffee example): a coffee machine reports its bean level on
//! its state topic, the registry turns it into a device event, and
//! `emma_core::events::EventRouter` hands `bean-level` to the coffee skills
//! whose customer granted the device — the granted one proposes a reorder, the
//! ungranted one gets nothing, and a failing skill never stops the others.

mod skill_support;

use std::time::Duration;

use emma_core::events::{Delivery, EventRouter};
use emma_devices::{
    BrokerConfig, Bus, BusOptions, Device, Domain, EventFilter, Home, QoS, Registry, StateUpdate,
};
use emma_skill_host::{Effect, GuestError, LocalServices, PermissionSet, SkillDb, SkillInstance};
use emma_tests::mosquitto::Mosquitto;
use skill_support::load;
use tokio::sync::mpsc;

const COFFEE: &str = "skills/examples/coffee";

/// Skill indexes in the router. Index 1 (granted no device) must never appear:
/// every step checks the exact list of skills called, then that nothing else came.
const GRANTED: usize = 0;
const MACHINE_ONLY: usize = 2;

fn coffee(grants: &[&str]) -> SkillInstance {
    let services = LocalServices::new().with_device("coffee.machine", "idle");
    load(COFFEE, grants, SkillDb::in_memory().unwrap(), services)
}

async fn bus(url: &str, id: &str) -> Bus {
    let mut cfg = BrokerConfig::from_url(url).unwrap();
    cfg.client_id = id.to_string();
    let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
    bus.wait_connected(Duration::from_secs(5)).await.unwrap();
    bus
}

async fn report(bus: &Bus, device: &str, payload: &str) {
    bus.publish(
        format!("emma/device/{device}/state"),
        payload,
        QoS::AtLeastOnce,
        false,
    )
    .await
    .unwrap();
}

/// The next `n` deliveries, each within 10 s.
async fn take(rx: &mut mpsc::Receiver<Delivery>, n: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    for i in 0..n {
        let d = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("delivery {} of {n} within 10 s", i + 1))
            .expect("router still running");
        out.push(d);
    }
    out
}

/// Asserts no delivery arrives for a while.
async fn quiet(rx: &mut mpsc::Receiver<Delivery>, after: &str) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        panic!("unexpected delivery after {after}: {d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_skills_get_device_events_and_ungranted_ones_nothing() {
    let broker = Mosquitto::start().unwrap();
    let mut registry = Registry::in_memory().unwrap();
    for id in ["coffee.machine", "coffee.office"] {
        registry
            .upsert_device(Device::new(id, id.replace('.', " "), Domain::Custom))
            .unwrap();
    }
    let emma = bus(&broker.url(), "emma").await;
    let home = Home::start(emma, registry).await.unwrap();

    let router = EventRouter::new(vec![
        coffee(&["device:coffee.*:control", "order:propose"]),
        coffee(&["order:propose"]),
        coffee(&["device:coffee.machine:control"]),
    ]);
    let (task, mut rx) = router.spawn(home.subscribe(EventFilter::all()));
    let machine = bus(&broker.url(), "coffee-firmware").await;

    // Low beans: both skills granted `coffee.machine` hear it, in router order.
    report(
        &machine,
        "coffee.machine",
        r#"{"state":"idle","bean_level":12}"#,
    )
    .await;
    let got = take(&mut rx, 2).await;
    assert_eq!(
        got.iter().map(|d| d.skill).collect::<Vec<_>>(),
        [GRANTED, MACHINE_ONLY]
    );
    for d in &got {
        assert_eq!(d.skill_id, "com.example.coffee");
        assert_eq!(
            (
                d.event.device.as_str(),
                d.event.kind.as_str(),
                d.event.value.as_str()
            ),
            ("coffee.machine", "bean-level", "12")
        );
    }
    let granted = got[0].result.as_ref().expect("the host ran the skill");
    let reply = granted.result.as_ref().unwrap().as_ref().expect("a reply");
    assert_eq!(reply.follow_up.as_deref(), Some("confirm-reorder"));
    assert!(reply.speech.contains("12 percent"), "{}", reply.speech);
    match &granted.effects[..] {
        [
            Effect::OrderProposal {
                lines, confirmed, ..
            },
        ] => {
            assert!(!confirmed, "only the customer confirms");
            assert_eq!(lines[0].sku, "BEANS-HOUSE-1KG");
        }
        other => panic!("expected one order proposal, got {other:?}"),
    }
    // The device grant alone lets the event in, but proposing still needs its own grant.
    let machine_only = got[1].result.as_ref().expect("the host ran the skill");
    assert!(machine_only.effects.is_empty());
    assert_eq!(machine_only.denials[0].permission, "order:propose");
    quiet(
        &mut rx,
        "the first report (the ungranted skill must get nothing)",
    )
    .await;

    // The same level again is no change: nothing is delivered.
    report(
        &machine,
        "coffee.machine",
        r#"{"state":"idle","bean_level":12}"#,
    )
    .await;
    quiet(&mut rx, "an unchanged report").await;

    // A value the skill cannot read makes it fail; the failure is reported
    // for each skill and does not stop delivery to the next one.
    report(&machine, "coffee.machine", r#"{"bean_level":"lots"}"#).await;
    let got = take(&mut rx, 2).await;
    assert_eq!(
        got.iter().map(|d| d.skill).collect::<Vec<_>>(),
        [GRANTED, MACHINE_ONLY]
    );
    for d in &got {
        assert!(!d.succeeded());
        let outcome = d.result.as_ref().expect("a guest error, not a host error");
        assert!(
            matches!(&outcome.result, Err(GuestError::Failed(m)) if m.contains("lots")),
            "{:?}",
            outcome.result
        );
    }
    // ... and the next event still reaches them.
    report(&machine, "coffee.machine", r#"{"bean_level":60}"#).await;
    let got = take(&mut rx, 2).await;
    for d in &got {
        assert!(d.succeeded(), "{d:?}");
        assert_eq!(d.event.value, "60");
        assert_eq!(
            d.result.as_ref().unwrap().result,
            Ok(None),
            "no reorder at 60%"
        );
    }

    // The office machine is covered only by the `coffee.*` grant.
    report(&machine, "coffee.office", r#"{"bean_level":5}"#).await;
    let got = take(&mut rx, 1).await;
    assert_eq!(got[0].skill, GRANTED);
    assert_eq!(got[0].event.device, "coffee.office");
    assert!(got[0].succeeded());
    quiet(&mut rx, "the office report").await;

    // Removing the device is not a subscribed kind: nothing for coffee skills.
    home.registry().remove_device("coffee.office").unwrap();
    quiet(&mut rx, "a removal").await;

    task.abort();
}

fn beans(level: u32, water: &str) -> StateUpdate {
    let serde_json::Value::Object(attributes) =
        serde_json::json!({"bean_level": level, "water": water})
    else {
        unreachable!("an object literal")
    };
    StateUpdate {
        device: "coffee.machine".into(),
        state: None,
        attributes,
    }
}

#[test]
fn only_changed_values_are_forwarded_and_a_revoked_grant_stops_delivery() {
    let mut registry = Registry::in_memory().unwrap();
    registry
        .upsert_device(Device::new(
            "coffee.machine",
            "coffee machine",
            Domain::Custom,
        ))
        .unwrap();
    let mut router = EventRouter::new(vec![coffee(&["device:coffee.*:control", "order:propose"])]);
    let deliver = |registry: &mut Registry, router: &mut EventRouter, update| {
        let events = registry.apply_states(&[update]).unwrap();
        assert_eq!(events.len(), 1, "the registry reports a change");
        events
            .iter()
            .flat_map(|e| router.deliver(e))
            .collect::<Vec<_>>()
    };
    let got = deliver(&mut registry, &mut router, beans(12, "full"));
    assert_eq!(got.len(), 1);
    assert!(got[0].succeeded(), "{got:?}");
    assert_eq!(got[0].event.value, "12");

    // Only the water changed: the skill does not hear `bean-level` again.
    let got = deliver(&mut registry, &mut router, beans(12, "low"));
    assert!(got.is_empty(), "{got:?}");

    // After the customer revokes the device grant, nothing reaches the skill.
    router.skills_mut()[0].set_grants(PermissionSet::parse(["order:propose"]).unwrap());
    let got = deliver(&mut registry, &mut router, beans(8, "low"));
    assert!(got.is_empty(), "{got:?}");
}
