//! The assistant with real brand skills (built from source to wasm, installed
//! signed-or-dev into the assistant's skill home) and real speech: intents
//! routed to the skill that owns them, device commands from skills through
//! the outbox, a reply action without a grant never published, a device
//! event that makes a skill propose an order the customer confirms by voice.

mod skill_support;

use std::path::Path;
use std::time::{Duration, Instant};

use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, AudioChunk, BrokerChoice, SpeechConfig, Turn,
    check_install,
};
use emma_core::devices::{
    Area, BrokerConfig, Bus, BusOptions, Device, Domain, Message, QoS, Registry,
};
use emma_core::skills::{Permission, ProposalState, SkillHome, SkillRuntime};
use emma_core::speech::{SAMPLE_RATE, synth};
use emma_tests::mosquitto::Mosquitto;
use skill_support::bundle;
use tokio::sync::mpsc;

const COFFEE: &str = "skills/examples/coffee";
const OVERREACH: &str = "skills/testdata/overreach";

struct Fixture {
    assistant: Assistant,
    watcher: mpsc::Receiver<Message>,
    watch_bus: Bus,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    _broker: Mosquitto,
}

fn install(skills: &Path, rel: &str, grants: &[&str]) {
    let b = bundle(rel);
    let home = SkillHome::open(skills).unwrap();
    check_install(&home, &b).unwrap();
    let file = skills.join(format!("{}.emmaskill", b.manifest.id));
    std::fs::write(&file, b.to_bytes(None)).unwrap();
    let runtime = SkillRuntime::new(home.runtime_config()).unwrap();
    let grants: Vec<Permission> = grants.iter().map(|g| g.parse().unwrap()).collect();
    home.install(&runtime, &file, "default", &grants, true)
        .unwrap();
}

fn fixture(speech: bool) -> Fixture {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::open(dir.path().join("devices.sqlite")).unwrap();
    registry
        .upsert_area(Area {
            id: "kitchen".into(),
            name: "kitchen".into(),
            aliases: vec![],
            floor: None,
        })
        .unwrap();
    for d in [
        Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
        Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
        Device::new("lock.front_door", "front door", Domain::Lock),
    ] {
        registry.upsert_device(d).unwrap();
    }
    drop(registry);
    let skills = dir.path().join("skills");
    install(
        &skills,
        COFFEE,
        &[
            "device:coffee.*:control",
            "store",
            "order:propose",
            "notify",
        ],
    );
    install(&skills, OVERREACH, &["device:coffee.*:control"]);
    // Proactive features are opt-in: the customer lets the coffee skill act on device events.
    let privacy = emma_core::privacy::Privacy::open_dir(dir.path()).unwrap();
    for c in [
        emma_core::privacy::Category::Proactive,
        emma_core::privacy::Category::DeviceUsage,
    ] {
        privacy
            .grant(
                "com.example.coffee",
                &c,
                "reorder beans",
                None,
                emma_core::privacy::now_ms(),
            )
            .unwrap();
    }

    let mut config = AssistantConfig::new(dir.path(), "en");
    config.broker = BrokerChoice::Url(broker.url());
    if speech {
        config.speech = Some(SpeechConfig::pocketsphinx_en_us());
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (watch_bus, watcher) = rt.block_on(async {
        let mut cfg = BrokerConfig::from_url(&broker.url()).unwrap();
        cfg.client_id = "watcher".into();
        let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
        bus.wait_connected(Duration::from_secs(5)).await.unwrap();
        let rx = bus.subscribe("emma/device/+/set").await.unwrap();
        (bus, rx)
    });
    let assistant = Assistant::new(config).unwrap();
    assistant.start().unwrap();
    Fixture {
        assistant,
        watcher,
        watch_bus,
        rt,
        dir,
        _broker: broker,
    }
}

impl Fixture {
    fn published(&mut self, wait: Duration) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + wait;
        self.rt.block_on(async {
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match tokio::time::timeout(left, self.watcher.recv()).await {
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

    /// Speaks `text` (espeak-ng) into `process_audio` in 100 ms chunks.
    fn speak(&self, text: &str) -> Vec<Turn> {
        let audio = synth::espeak(text, "en-us", 150).unwrap();
        let silence = vec![0i16; SAMPLE_RATE as usize / 2];
        for chunk in audio
            .samples
            .chunks(1600)
            .chain(std::iter::once(silence.as_slice()))
        {
            self.assistant
                .process_audio(AudioChunk::I16 {
                    samples: chunk,
                    rate: SAMPLE_RATE,
                })
                .unwrap();
        }
        self.assistant.end_audio().unwrap()
    }
}

#[test]
fn skill_intents_reach_their_skill_and_its_commands_the_broker() {
    let mut f = fixture(false);
    assert!(
        f.assistant.intents().unwrap()["com.example.coffee"].contains(&"OrderDrink".to_string())
    );
    let t = f.assistant.process_text("make me a large latte").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("com.example.coffee"));
    assert_eq!(t.intent.as_ref().unwrap().name, "OrderDrink");
    assert!(t.reply.contains("large latte"), "{}", t.reply);
    // Brewed once: the reply's action repeats the devices.control call and is not sent twice.
    let got = f.published(Duration::from_secs(3));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "coffee.machine");
    assert!(got[0].1.contains("latte"), "{}", got[0].1);
    // Built-in intents still go to the built-in handlers.
    let t = f
        .assistant
        .process_text("turn on the kitchen light")
        .unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("built-in"));
}

#[test]
fn reply_actions_without_a_grant_are_refused_and_never_published() {
    let mut f = fixture(false);
    let events = f.assistant.subscribe();
    let t = f.assistant.process_text("open sesame").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("test.overreach"));
    // Only the granted coffee machine command went out.
    assert_eq!(
        t.commands
            .iter()
            .map(|c| c.device.as_str())
            .collect::<Vec<_>>(),
        ["coffee.machine"]
    );
    let got = f.published(Duration::from_secs(2));
    assert_eq!(
        got.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["coffee.machine"]
    );
    let refused: Vec<String> = events
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            AssistantEvent::CommandRefused { device, by, .. } => {
                assert_eq!(by, "test.overreach");
                Some(device)
            }
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["lock.front_door", "alarm.home"]);
    assert!(t.reply.contains("not allowed"), "{}", t.reply);

    // 10,000 actions: a clear answer, nothing published, the session goes on.
    let t = f.assistant.process_text("flood the house").unwrap();
    assert!(t.commands.is_empty());
    assert!(t.reply.contains("could not do that"), "{}", t.reply);
    assert!(f.published(Duration::from_millis(800)).is_empty());
    let t = f
        .assistant
        .process_text("turn on the kitchen light")
        .unwrap();
    assert_eq!(t.commands.len(), 1);
}

#[test]
fn a_skill_that_would_shadow_a_built_in_intent_is_an_install_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = SkillHome::open(dir.path()).unwrap();
    let mut b = bundle(COFFEE);
    for (_, yaml) in &mut b.intents {
        *yaml = yaml.replace("OrderDrink:", "HassTurnOn:");
    }
    let e = check_install(&home, &b).unwrap_err().to_string();
    assert!(
        e.contains("HassTurnOn") && e.contains("built-in") && e.contains("com.example.coffee"),
        "{e}"
    );
}

#[test]
fn a_bean_report_leads_to_a_proposal_the_customer_confirms_by_voice() {
    let mut f = fixture(true);
    let events = f.assistant.subscribe();

    // Spoken commands through process_audio reach the broker.
    let turns = f.speak("turn on the kitchen light");
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].intent.as_ref().unwrap().name, "HassTurnOn");
    let got = f.published(Duration::from_secs(3));
    assert_eq!(
        got.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["light.kitchen"]
    );
    let turns = f.speak("make me a large latte");
    assert_eq!(
        turns[0].handled_by.as_deref(),
        Some("com.example.coffee"),
        "{turns:?}"
    );

    // The machine reports low beans; the skill proposes; Emma asks.
    f.rt.block_on(f.watch_bus.publish(
        "emma/device/coffee.machine/state",
        r#"{"state":"idle","bean_level":12}"#,
        QoS::AtLeastOnce,
        false,
    ))
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut proposal = None;
    let mut asked = false;
    while Instant::now() < deadline && !(asked && proposal.is_some()) {
        match events.recv_timeout(Duration::from_millis(200)) {
            Some(AssistantEvent::Proposal { id, skill, .. }) => {
                assert_eq!(skill, "com.example.coffee");
                proposal = Some(id);
            }
            Some(AssistantEvent::Reply {
                expects_answer: true,
                text,
                ..
            }) => {
                assert!(text.contains("reorder"), "{text}");
                asked = true;
            }
            _ => {}
        }
    }
    let id = proposal.expect("a proposal within 10 s");
    assert!(asked, "Emma asks the customer");

    let turns = f.speak("yes");
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert!(turns[0].reply.contains("confirmed"), "{turns:?}");
    let home = SkillHome::open(&f.dir.path().join("skills")).unwrap();
    let p = home
        .orders()
        .unwrap()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap();
    assert_eq!(p.state, ProposalState::Confirmed);
}
