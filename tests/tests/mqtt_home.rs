//! Devices over a real `mosquitto`: Home Assistant discovery into the
//! registry (bad configs skipped, never a crash), text → intent → the right
//! command on the device's own topic, state messages → registry → device
//! events for subscribers, grants, Hermes queries and Emma's own entities.

use std::time::Duration;

use emma_devices::control::HomeControl;
use emma_devices::events::StreamItem;
use emma_devices::{
    Access, BrokerConfig, Bus, BusOptions, EventFilter, Home, QoS, Registry, allowed,
};
use emma_tests::mosquitto::Mosquitto;
use tokio::sync::mpsc;

async fn bus(url: &str, id: &str) -> Bus {
    let mut cfg = BrokerConfig::from_url(url).unwrap();
    cfg.client_id = id.to_string();
    let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
    bus.wait_connected(Duration::from_secs(5)).await.unwrap();
    bus
}

async fn retain(bus: &Bus, topic: &str, payload: impl Into<Vec<u8>>) {
    bus.publish(topic, payload, QoS::AtLeastOnce, true)
        .await
        .unwrap();
}

async fn recv(rx: &mut mpsc::Receiver<emma_devices::Message>) -> (String, String) {
    let m = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a message within 5 s")
        .unwrap();
    (m.topic, String::from_utf8_lossy(&m.payload).into_owned())
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes a small home's discovery configs (three good, seven bad) and starts Emma on it.
async fn discovered_home(broker: &Mosquitto) -> (Home, Bus) {
    let devices = bus(&broker.url(), "zigbee-bridge").await;
    retain(&devices, "homeassistant/light/kitchen_lamp/config", r#"{
        "name": "kitchen lamp", "unique_id": "kl1",
        "~": "zigbee/kitchen_lamp", "cmd_t": "~/set", "stat_t": "~/state", "bri_cmd_t": "~/brightness",
        "device": {"name": "Lamp", "suggested_area": "Kitchen"}}"#).await;
    retain(&devices, "homeassistant/cover/living_blind/config", r#"{
        "name": "blind", "command_topic": "blinds/living/set", "set_position_topic": "blinds/living/position",
        "device": {"suggested_area": "Living Room"}}"#).await;
    retain(&devices, "homeassistant/light/bridge/desk/config", r#"{
        "name": "desk light", "schema": "json", "command_topic": "z2m/desk/set", "state_topic": "z2m/desk",
        "supported_color_modes": ["xy"]}"#).await;
    // Bad ones: each must be skipped with a reason, none may stop Emma.
    retain(&devices, "homeassistant/light/broken/config", "{not json").await;
    retain(
        &devices,
        "homeassistant/light/binary/config",
        vec![0xff, 0xfe, 0x00],
    )
    .await;
    retain(
        &devices,
        "homeassistant/light/deep/config",
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
    )
    .await;
    retain(
        &devices,
        "homeassistant/light/huge/config",
        format!(r#"{{"name":"{}"}}"#, "x".repeat(300 * 1024)),
    )
    .await;
    retain(&devices, "homeassistant/teleporter/t1/config", "{}").await;
    retain(
        &devices,
        "homeassistant/light/nocmd/config",
        r#"{"name":"no command topic"}"#,
    )
    .await;
    retain(&devices, "homeassistant/light/array/config", "[1,2,3]").await;
    // Retained publishes are fire-and-forget: let them reach the broker first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    devices.shutdown().await.unwrap();

    let emma = bus(&broker.url(), "emma").await;
    let home = Home::start(emma.clone(), Registry::in_memory().unwrap())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = home.stats();
        if s.discovered >= 3 && s.skipped >= 7 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "discovery incomplete after 10 s: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (home, emma)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_fills_the_registry_and_skips_bad_configs() {
    let broker = Mosquitto::start().unwrap();
    let (home, emma) = discovered_home(&broker).await;
    let stats = home.stats();
    assert_eq!(stats.discovered, 3, "{stats:?}");
    assert_eq!(stats.skipped, 7, "{stats:?}");
    {
        let reg = home.registry();
        let ids: Vec<&str> = reg.devices().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            ["cover.living_blind", "light.desk", "light.kitchen_lamp"]
        );
        let lamp = reg.device("light.kitchen_lamp").unwrap();
        assert_eq!(lamp.area.as_deref(), Some("kitchen"));
        assert!(lamp.can("brightness"));
        assert_eq!(
            reg.device("cover.living_blind").unwrap().area.as_deref(),
            Some("living_room")
        );
        assert!(reg.device("light.desk").unwrap().can("color"));
    }
    // Emma is still up: a removal (empty retained config) goes through.
    let bridge = bus(&broker.url(), "zigbee-bridge-2").await;
    retain(&bridge, "homeassistant/light/bridge/desk/config", "").await;
    wait_until("removal", || home.registry().device("light.desk").is_none()).await;
    assert!(emma.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_drives_discovered_devices_on_their_own_topics() {
    let broker = Mosquitto::start().unwrap();
    let (home, _emma) = discovered_home(&broker).await;
    let device = bus(&broker.url(), "device-side").await;
    let mut lamp = device.subscribe("zigbee/kitchen_lamp/#").await.unwrap();
    let mut blind = device.subscribe("blinds/living/#").await.unwrap();
    let mut desk = device.subscribe("z2m/desk/set").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut control = HomeControl::builtin("en").unwrap();

    let out = control
        .handle(&home, "turn on the kitchen lamp")
        .await
        .unwrap();
    assert_eq!(out.intent.as_deref(), Some("HassTurnOn"));
    assert_eq!(out.reply, "Turned on the kitchen lamp");
    assert_eq!(
        recv(&mut lamp).await,
        ("zigbee/kitchen_lamp/set".into(), "ON".into())
    );

    let out = control
        .handle(&home, "set the kitchen lamp to 50%")
        .await
        .unwrap();
    assert_eq!(out.slots.get("brightness").map(String::as_str), Some("50"));
    assert_eq!(
        recv(&mut lamp).await,
        ("zigbee/kitchen_lamp/brightness".into(), "128".into())
    );

    control
        .handle(&home, "set the blind to 30 percent")
        .await
        .unwrap();
    assert_eq!(
        recv(&mut blind).await,
        ("blinds/living/position".into(), "30".into())
    );
    control.handle(&home, "close the blind").await.unwrap();
    assert_eq!(
        recv(&mut blind).await,
        ("blinds/living/set".into(), "CLOSE".into())
    );

    control
        .handle(&home, "make the desk light blue")
        .await
        .unwrap();
    let (_, payload) = recv(&mut desk).await;
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"state": "ON", "color": {"r": 0, "g": 0, "b": 255}})
    );

    let out = control
        .handle(&home, "turn on the oven in the kitchen")
        .await
        .unwrap();
    assert!(out.commands.is_empty());
    assert_eq!(out.reply, "There is no device named oven in the kitchen");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), lamp.recv())
            .await
            .is_err(),
        "nothing sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_reach_the_registry_and_only_granted_subscribers() {
    let broker = Mosquitto::start().unwrap();
    let (home, _emma) = discovered_home(&broker).await;
    let mut lights = home.subscribe(EventFilter::devices("light.*"));
    let mut covers = home.subscribe(EventFilter::devices("cover.*"));
    // Emma subscribes to each discovered state topic asynchronously; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let device = bus(&broker.url(), "device-side").await;
    device
        .publish("zigbee/kitchen_lamp/state", "ON", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    wait_until("lamp state", || {
        home.registry()
            .device("light.kitchen_lamp")
            .and_then(|d| d.state.clone())
            .as_deref()
            == Some("on")
    })
    .await;
    let ev = tokio::time::timeout(Duration::from_secs(5), lights.next())
        .await
        .unwrap()
        .unwrap();
    let StreamItem::Event(ev) = ev else {
        panic!("missed events")
    };
    assert_eq!(
        (ev.device.as_str(), ev.state.as_deref()),
        ("light.kitchen_lamp", Some("on"))
    );
    assert!(
        covers.try_next().is_none(),
        "a cover subscriber sees no light events"
    );

    // A skill granted lights may control the lamp, not the blind.
    let reg = home.registry();
    let lamp = reg.device("light.kitchen_lamp").unwrap();
    let blind = reg.device("cover.living_blind").unwrap();
    assert!(allowed("device:light.*:control", lamp, Access::Control));
    assert!(!allowed("device:light.*:control", blind, Access::Control));
    assert!(!allowed(
        "device:light.kitchen_lamp:read",
        lamp,
        Access::Control
    ));
    assert!(allowed(
        "device:light.kitchen_lamp:read",
        lamp,
        Access::Read
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hermes_queries_get_intents_and_spoken_replies() {
    let broker = Mosquitto::start().unwrap();
    let (home, _emma) = discovered_home(&broker).await;
    tokio::spawn(emma_devices::hermes::serve(
        home.clone(),
        HomeControl::builtin("en").unwrap(),
    ));
    let app = bus(&broker.url(), "hermes-app").await;
    let mut intents = app.subscribe("hermes/intent/#").await.unwrap();
    let mut not_recognized = app
        .subscribe("hermes/nlu/intentNotRecognized")
        .await
        .unwrap();
    let mut tts = app.subscribe("hermes/tts/say").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.publish(
        "hermes/nlu/query",
        r#"{"input":"turn off the kitchen lamp","siteId":"kitchen","id":"q1"}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await
    .unwrap();
    let (topic, payload) = recv(&mut intents).await;
    assert_eq!(topic, "hermes/intent/HassTurnOff");
    let msg: emma_devices::hermes::IntentMessage = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        (msg.site_id.as_str(), msg.id.as_deref()),
        ("kitchen", Some("q1"))
    );
    assert!(
        msg.slots
            .iter()
            .any(|s| s.slot_name == "name" && s.value.value == "light.kitchen_lamp")
    );
    let (_, say) = recv(&mut tts).await;
    let say: emma_devices::hermes::TtsSay = serde_json::from_str(&say).unwrap();
    assert_eq!(say.text, "Turned off the kitchen lamp");

    app.publish(
        "hermes/asr/textCaptured",
        r#"{"text":"bake me a cake","likelihood":0.9,"seconds":1.0,"siteId":"kitchen"}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await
    .unwrap();
    let (_, payload) = recv(&mut not_recognized).await;
    assert!(payload.contains("bake me a cake"));
    // Garbage on a Hermes topic is skipped; the next query still works.
    app.publish(
        "hermes/nlu/query",
        vec![0xff, 0x00],
        QoS::AtLeastOnce,
        false,
    )
    .await
    .unwrap();
    app.publish(
        "hermes/nlu/query",
        r#"{"input":"turn on the kitchen lamp"}"#,
        QoS::AtLeastOnce,
        false,
    )
    .await
    .unwrap();
    let (_, say) = recv(&mut tts).await; // the reply to "bake me a cake"
    assert!(say.contains("didn't understand"), "{say}");
    let (topic, _) = recv(&mut intents).await;
    assert_eq!(topic, "hermes/intent/HassTurnOn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emma_announces_its_own_entities_via_discovery() {
    let broker = emma_devices::EmbeddedBroker::start(([127, 0, 0, 1], 0).into()).unwrap();
    let url = format!("mqtt://{}", broker.addr());
    let emma = bus(&url, "emma").await;
    let home = Home::start(emma.clone(), Registry::in_memory().unwrap())
        .await
        .unwrap();
    home.publish_own_entities().await.unwrap();
    home.set_last_intent("HassTurnOn").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A Home Assistant that connects later sees the retained configs and state.
    let ha = bus(&url, "home-assistant").await;
    let mut configs = ha
        .subscribe("homeassistant/sensor/emma/+/config")
        .await
        .unwrap();
    let mut last = ha.subscribe("emma/assistant/last_intent").await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (topic, payload) = recv(&mut configs).await;
        match emma_devices::discovery::parse_config(&topic, payload.as_bytes()).unwrap() {
            emma_devices::discovery::Discovered::Device(d) => seen.push(d.id.clone()),
            other => panic!("{other:?}"),
        }
    }
    seen.sort();
    assert_eq!(seen, ["sensor.assistant_state", "sensor.last_intent"]);
    assert_eq!(recv(&mut last).await.1, "HassTurnOn");
}
