//! Customer control inside the assistant, with the real example coffee skill
//! (built to wasm), a real `mosquitto` and the real privacy stores:
//! - proactive features are opt-in per skill: a bean-level report reaches the
//!   coffee skill only after the customer opted it in, and a revoke applies
//!   to the very next event, without a restart;
//! - consent filters what a skill sees: a real skill's `profile.get` and the
//!   context handed to it;
//! - every store and share of a realistic session is in the ledger (transcripts,
//!   device usage, each MQTT publish, the skill's store write, the context and
//!   the event it was shown, the order proposal and its confirmation), the
//!   chain verifies, and the export holds everything that was stored.

mod assistant_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistant_support::skill_support::{compiled, runtime};
use assistant_support::{install, kitchen_home};
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, BrokerChoice, EventReceiver,
};
use emma_core::consent::ConsentServices;
use emma_core::devices::{BrokerConfig, Bus, BusOptions, Device, Domain, Message, QoS};
use emma_core::privacy::{Category, Entry, Filter, Privacy, Reason, Verification, now_ms};
use emma_core::skills::{LocalServices, PermissionSet, Request, Services, SkillDb};
use emma_tests::mosquitto::Mosquitto;
use tokio::sync::mpsc;

const COFFEE: &str = "skills/examples/coffee";
const COFFEE_ID: &str = "com.example.coffee";
const HOSTILE: &str = "skills/testdata/hostile";
const NAME: &str = "Ada CNRYprofileZ";

struct Session {
    assistant: Assistant,
    privacy: Privacy,
    events: EventReceiver,
    watcher: mpsc::Receiver<Message>,
    bus: Bus,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    _broker: Mosquitto,
}

impl Session {
    fn start() -> Session {
        let broker = Mosquitto::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        kitchen_home(
            dir.path(),
            [
                Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
                Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
            ],
        );
        install(
            &dir.path().join("skills"),
            COFFEE,
            &["device:coffee.*:control", "store", "order:propose"],
        );
        // The customer's own data and choices, as the CLI or an app would set them.
        let privacy = Privacy::open_dir(dir.path()).unwrap();
        privacy
            .set_profile("name", NAME, Reason::customer(), now_ms())
            .unwrap();
        privacy
            .grant(
                COFFEE_ID,
                &Category::DeviceNames,
                "know which room I am in",
                None,
                now_ms(),
            )
            .unwrap();

        let mut config = AssistantConfig::new(dir.path(), "en");
        config.broker = BrokerChoice::Url(broker.url());
        config.area = Some("kitchen".into());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (bus, watcher) = rt.block_on(async {
            let mut cfg = BrokerConfig::from_url(&broker.url()).unwrap();
            cfg.client_id = "privacy-watcher".into();
            let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
            bus.wait_connected(Duration::from_secs(5)).await.unwrap();
            let rx = bus.subscribe("emma/device/+/set").await.unwrap();
            (bus, rx)
        });
        let assistant = Assistant::new(config).unwrap();
        let events = assistant.subscribe();
        assistant.start().unwrap();
        Session {
            assistant,
            privacy,
            events,
            watcher,
            bus,
            rt,
            dir,
            _broker: broker,
        }
    }

    /// Device commands seen on the broker within `wait`: (topic, payload).
    fn published(&mut self, wait: Duration) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + wait;
        self.rt.block_on(async {
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match tokio::time::timeout(left, self.watcher.recv()).await {
                    Ok(Some(m)) => out.push((
                        m.topic.clone(),
                        String::from_utf8_lossy(&m.payload).into_owned(),
                    )),
                    _ => break,
                }
            }
        });
        out
    }

    /// The machine reports its beans at `level` percent. With `expect`, returns
    /// the proposal the skill made once Emma asked about it; without, returns
    /// once the conversation worker has handled the event (a text turn queued
    /// behind it has come back), with any proposal made (none is expected).
    fn beans(&mut self, level: u32, expect: bool) -> Option<String> {
        let state = format!("brewing-{level}");
        self.rt
            .block_on(self.bus.publish(
                "emma/device/coffee.machine/state",
                format!(r#"{{"state":"{state}","bean_level":{level}}}"#),
                QoS::AtLeastOnce,
                false,
            ))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut proposal = None;
        loop {
            assert!(Instant::now() < deadline, "the bean report within 10 s");
            match self.events.recv_timeout(Duration::from_millis(100)) {
                Some(AssistantEvent::Proposal { id, skill, .. }) => {
                    assert_eq!(skill, COFFEE_ID);
                    proposal = Some(id);
                }
                Some(AssistantEvent::Reply {
                    expects_answer: true,
                    ..
                }) if proposal.is_some() => return proposal,
                _ => {}
            }
            let seen =
                self.assistant.devices().unwrap().iter().any(|d| {
                    d.id == "coffee.machine" && d.state.as_deref() == Some(state.as_str())
                });
            if seen && !expect {
                break;
            }
        }
        // The registry has the report; the event is on its way to the worker.
        // A turn queued after it comes back only once the event was handled.
        std::thread::sleep(Duration::from_millis(300));
        let t = self
            .assistant
            .process_text("purple elephants sing")
            .unwrap();
        assert!(t.commands.is_empty() && !t.expects_answer, "{t:?}");
        while let Some(e) = self.events.recv_timeout(Duration::from_millis(50)) {
            if let AssistantEvent::Proposal { id, .. } = e {
                proposal = Some(id);
            }
        }
        proposal
    }

    fn ledger(&self) -> Vec<Entry> {
        self.privacy.ledger().entries(&Filter::default()).unwrap()
    }
}

/// Entries matching (action, category, party, field, reason); `None` matches anything.
fn find<'a>(
    ledger: &'a [Entry],
    action: &str,
    category: &str,
    party: &str,
    field: Option<&str>,
    reason: Option<&str>,
) -> Vec<&'a Entry> {
    ledger
        .iter()
        .filter(|e| {
            e.action == action
                && e.category == category
                && e.party == party
                && field.is_none_or(|f| e.field.as_deref() == Some(f))
                && reason.is_none_or(|r| e.reason == r)
        })
        .collect()
}

#[test]
fn a_session_is_in_the_ledger_and_proactive_features_are_opt_in() {
    let mut s = Session::start();

    // 1. A built-in command: transcript kept, device usage stored, the publish shared.
    let t = s
        .assistant
        .process_text("turn on the kitchen light")
        .unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("built-in"), "{t:?}");
    // 2. The coffee skill: context (the room) shared under consent, the brew
    //    command published, the favourite written to the skill's store.
    let t = s.assistant.process_text("make me a large latte").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some(COFFEE_ID), "{t:?}");
    let mut published = s.published(Duration::from_secs(3));
    assert_eq!(published.len(), 2, "{published:?}");
    // Without the device-names consent the room is withheld from the skill's context.
    s.privacy
        .revoke(COFFEE_ID, Some(&Category::DeviceNames), now_ms())
        .unwrap();
    let t = s
        .assistant
        .process_text("make me a small espresso")
        .unwrap();
    assert_eq!(t.handled_by.as_deref(), Some(COFFEE_ID), "{t:?}");
    published.extend(s.published(Duration::from_secs(3)));
    assert_eq!(published.len(), 3, "{published:?}");

    // 3. Low beans, but the skill is not opted in: not called, nothing proposed.
    assert_eq!(
        s.beans(12, false),
        None,
        "no proposal without the proactive opt-in"
    );
    let shown = |s: &Session| {
        find(
            &s.ledger(),
            "share",
            "device-usage",
            COFFEE_ID,
            Some("coffee.machine"),
            Some("event:bean-level"),
        )
        .len()
    };
    assert_eq!(shown(&s), 0, "the event was not shown to the skill");

    // 4. The customer opts in while the assistant runs: the next event reaches the skill.
    for c in [Category::Proactive, Category::DeviceUsage] {
        s.privacy
            .grant(COFFEE_ID, &c, "reorder beans", None, now_ms())
            .unwrap();
    }
    let id = s.beans(11, true).expect("a proposal once opted in");
    assert_eq!(shown(&s), 1);
    let t = s.assistant.process_text("yes").unwrap();
    assert!(t.reply.contains("confirmed"), "{t:?}");

    // 5. Revoked: the very next event is not delivered (no restart).
    s.privacy
        .revoke(COFFEE_ID, Some(&Category::Proactive), now_ms())
        .unwrap();
    assert_eq!(s.beans(9, false), None, "no proposal after the revoke");
    assert_eq!(shown(&s), 1, "no new share after the revoke");
    let published_after = s.published(Duration::from_millis(500));
    assert!(published_after.is_empty(), "{published_after:?}");

    // Every store and share that happened is in the ledger, as often as it happened.
    let l = s.ledger();
    let times = |n: usize,
                 action: &str,
                 category: &str,
                 party: &str,
                 field: Option<&str>,
                 reason: Option<&str>| {
        let got = find(&l, action, category, party, field, reason);
        assert_eq!(
            got.len(),
            n,
            "{n} × {action} {category} {party} {field:?} {reason:?} in {l:#?}"
        );
    };
    let drink = Some("intent:OrderDrink");
    times(
        1,
        "store",
        "transcripts",
        "emma",
        None,
        Some("intent:HassTurnOn"),
    );
    times(2, "store", "transcripts", "emma", None, drink);
    let light = Some("light.kitchen");
    times(
        1,
        "store",
        "device-usage",
        "emma",
        light,
        Some("intent:HassTurnOn"),
    );
    times(
        2,
        "store",
        "device-usage",
        "emma",
        Some("coffee.machine"),
        drink,
    );
    // The room went to the skill once: the second drink came after the revoke.
    times(1, "share", "device-names", COFFEE_ID, Some("area"), drink);
    times(
        2,
        "store",
        "skill-store",
        COFFEE_ID,
        Some("favourite"),
        drink,
    );
    let order = Some(id.as_str());
    times(
        1,
        "store",
        "orders",
        COFFEE_ID,
        order,
        Some("event:bean-level"),
    );
    times(1, "store", "orders", COFFEE_ID, order, Some("customer"));
    // Each publish on the broker is one share with its topic.
    for (topic, _) in &published {
        let device = topic
            .trim_start_matches("emma/device/")
            .trim_end_matches("/set");
        let sent = published.iter().filter(|(t, _)| t == topic).count();
        let party = format!("mqtt:{topic}");
        times(sent, "share", "device-usage", &party, Some(device), None);
    }
    assert_eq!(
        l.iter().filter(|e| e.party.starts_with("mqtt:")).count(),
        published.len()
    );
    // The context share carries the consent it was made under; the profile was never handed over.
    let area = find(&l, "share", "device-names", COFFEE_ID, Some("area"), None);
    assert!(area[0].consent.is_some());
    assert!(find(&l, "share", "profile", COFFEE_ID, None, None).is_empty());
    // Values never enter the ledger (file bytes included).
    let mut ledger_bytes = Vec::new();
    for f in ["ledger.sqlite", "ledger.sqlite-wal"] {
        ledger_bytes.extend(std::fs::read(s.dir.path().join(f)).unwrap_or_default());
    }
    let holds = |v: &str| ledger_bytes.windows(v.len()).any(|w| w == v.as_bytes());
    assert!(holds("favourite"), "the ledger files hold the entries");
    for value in ["latte", "espresso", "CNRYprofile", "kitchen light"] {
        assert!(!holds(value), "{value} is in ledger.sqlite");
    }
    assert!(matches!(
        s.privacy.ledger().verify().unwrap(),
        Verification::Intact { .. }
    ));

    // The export holds everything stored in the session.
    let out = s.dir.path().join("export.json");
    s.privacy.export(&out, now_ms()).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["profile"]["name"], NAME, "{}", doc["profile"]);
    let said: Vec<&str> = doc["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    for text in [
        "turn on the kitchen light",
        "make me a large latte",
        "make me a small espresso",
        "yes",
    ] {
        assert!(said.contains(&text), "{text} missing from {said:?}");
    }
    let favourite = doc["skill_stores"][COFFEE_ID]["favourite"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", doc["skill_stores"]));
    assert!(favourite.contains("espresso"), "{favourite}");
    let order = doc["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id.as_str())
        .unwrap_or_else(|| panic!("order {id} missing from {}", doc["orders"]));
    assert!(order.to_string().contains("BEANS-HOUSE-1KG"), "{order}");
    let used: Vec<&str> = doc["device_usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["device"].as_str().unwrap())
        .collect();
    assert!(
        used.contains(&"light.kitchen") && used.contains(&"coffee.machine"),
        "{used:?}"
    );
    let exported = doc["ledger"]["entries"].as_array().unwrap().len();
    assert_eq!(exported, l.len(), "the export holds the whole ledger");
    s.assistant.stop().unwrap();
}

#[test]
fn a_real_skill_gets_profile_fields_only_with_consent() {
    let dir = tempfile::tempdir().unwrap();
    let installed = dir.path().join("skills/installed");
    std::fs::create_dir_all(&installed).unwrap();
    std::fs::write(installed.join("test.hostile.emmaskill"), b"x").unwrap();
    let privacy = Arc::new(Privacy::open_dir(dir.path()).unwrap());
    privacy
        .set_profile("name", NAME, Reason::customer(), now_ms())
        .unwrap();
    let services = Arc::new(ConsentServices::new(
        "test.hostile",
        Arc::new(LocalServices::new()),
        privacy.clone(),
    ));
    let (b, c) = compiled(HOSTILE);
    let mut skill = runtime()
        .load(
            &c,
            &b.manifest,
            PermissionSet::parse(["store", "profile:name"]).unwrap(),
            SkillDb::in_memory().unwrap(),
            services.clone() as Arc<dyn Services>,
        )
        .unwrap();
    let mut ask = || {
        services.set_reason(Reason::intent("ProfileName"));
        let o = skill
            .handle_intent(&Request::new("ProfileName", "en"))
            .unwrap();
        o.result.unwrap().speech
    };
    // The skill holds the `profile:name` grant, but the customer has not consented.
    assert_eq!(ask(), "");
    privacy
        .grant(
            "test.hostile",
            &Category::Profile("name".into()),
            "greet me",
            None,
            now_ms(),
        )
        .unwrap();
    assert_eq!(ask(), NAME);
    privacy
        .revoke(
            "test.hostile",
            Some(&Category::Profile("name".into())),
            now_ms(),
        )
        .unwrap();
    assert_eq!(ask(), "", "the revoke applies to the next call");
    let shares = privacy
        .ledger()
        .entries(&Filter {
            party: Some("test.hostile".into()),
            ..Filter::default()
        })
        .unwrap();
    let shares: Vec<_> = shares.iter().filter(|e| e.action == "share").collect();
    assert_eq!(shares.len(), 1, "{shares:#?}");
    assert_eq!(
        (
            shares[0].category.as_str(),
            shares[0].field.as_deref(),
            shares[0].reason.as_str()
        ),
        ("profile", Some("name"), "intent:ProfileName")
    );
}
