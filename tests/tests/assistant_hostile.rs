//! Hostile skills during a conversation: a skill that loops, recurses,
//! allocates without end, answers with a megabyte, panics or floods its
//! capabilities gets a clear answer from the assistant, the session goes on,
//! the well-behaved skill and the built-in commands keep working, and what
//! was queued is published exactly once.

mod assistant_support;

use std::time::{Duration, Instant};

use assistant_support::{Watcher, install, kitchen_home};
use emma_core::assistant::{Assistant, AssistantConfig, AssistantEvent, BrokerChoice};
use emma_core::devices::{Device, Domain};
use emma_core::privacy::{Entry, Filter, Privacy};
use emma_tests::mosquitto::Mosquitto;

const COFFEE: &str = "skills/examples/coffee";
const HOSTILE: &str = "skills/testdata/hostile";
const FLOODS: &str = "skills/testdata/hostile-effects";

struct Fixture {
    assistant: Assistant,
    watcher: Watcher,
    _dir: tempfile::TempDir,
    _broker: Mosquitto,
}

fn fixture() -> Fixture {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    kitchen_home(
        dir.path(),
        [
            Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
            Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
        ],
    );
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
    install(
        &skills,
        HOSTILE,
        &["store", "profile:name", "device:light.*:control"],
    );
    // Granted what it declares, lights included: the budgets must hold even so.
    install(
        &skills,
        FLOODS,
        &[
            "notify",
            "log",
            "store",
            "handoff",
            "order:propose",
            "device:light.*:control",
        ],
    );
    let mut config = AssistantConfig::new(dir.path(), "en");
    config.broker = BrokerChoice::Url(broker.url());
    let watcher = Watcher::start(&broker.url());
    let assistant = Assistant::new(config).unwrap();
    assistant.start().unwrap();
    Fixture {
        assistant,
        watcher,
        _dir: dir,
        _broker: broker,
    }
}

#[test]
fn a_skill_that_traps_gets_a_clear_answer_and_the_session_goes_on() {
    let mut f = fixture();
    let events = f.assistant.subscribe();
    for sentence in [
        "hostile loop",
        "hostile recurse",
        "hostile allocate",
        "hostile huge reply",
        "hostile panic",
    ] {
        let start = Instant::now();
        let t = f.assistant.process_text(sentence).unwrap();
        let took = start.elapsed();
        assert_eq!(t.handled_by.as_deref(), Some("test.hostile"), "{sentence}");
        assert!(
            t.reply.contains("test.hostile could not do that"),
            "{sentence}: {}",
            t.reply
        );
        assert!(t.commands.is_empty(), "{sentence}");
        // The skill's 300 ms limit (plus compile-cache-warm instantiation) bounds the wait.
        assert!(took < Duration::from_secs(5), "{sentence} took {took:?}");
        // Between hostile turns, the well-behaved skill and the built-ins answer as usual.
        let t = f
            .assistant
            .process_text("make me a small espresso")
            .unwrap();
        assert_eq!(
            t.handled_by.as_deref(),
            Some("com.example.coffee"),
            "after {sentence}"
        );
        assert!(
            t.reply.contains("espresso"),
            "after {sentence}: {}",
            t.reply
        );
    }
    let errors = events
        .drain()
        .into_iter()
        .filter(|e| matches!(e, AssistantEvent::Error { stage, .. } if stage == "skill"))
        .count();
    assert_eq!(errors, 5, "one skill error event per hostile turn");
    // Each espresso went out exactly once; nothing from the hostile skill.
    let got = f.watcher.devices(Duration::from_secs(3));
    assert_eq!(got, vec!["coffee.machine"; 5], "{got:?}");
    // The hostile skill itself is still usable after its traps.
    let t = f.assistant.process_text("hostile hello").unwrap();
    assert_eq!(t.reply, "hello friend");
}

#[test]
fn a_command_a_skill_sent_before_it_failed_is_in_the_ledger() {
    let mut f = fixture();
    let t = f.assistant.process_text("hostile light then loop").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("test.hostile"));
    assert!(t.reply.contains("test.hostile could not do that"), "{t:?}");
    // The command went out before the deadline stopped the call…
    let got = f.watcher.devices(Duration::from_secs(3));
    assert_eq!(got, vec!["light.kitchen"], "{got:?}");
    // …so the share is in the customer's ledger, as for a call that succeeded
    // (it was not: the failed call's commands were never recorded).
    let privacy = Privacy::open_dir(f._dir.path()).unwrap();
    let shares: Vec<Entry> = privacy
        .ledger()
        .entries(&Filter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "share" && e.party == "mqtt:emma/device/light.kitchen/set")
        .collect();
    assert_eq!(shares.len(), 1, "{shares:#?}");
}

#[test]
fn floods_are_capped_and_never_reach_the_customer_or_the_broker_unbounded() {
    let mut f = fixture();
    let events = f.assistant.subscribe();
    let t = f
        .assistant
        .process_text("turn on the kitchen light")
        .unwrap();
    assert_eq!(t.commands.len(), 1);

    for sentence in ["flood notifications", "flood devices", "flood handoffs"] {
        let t = f.assistant.process_text(sentence).unwrap();
        assert_eq!(
            t.handled_by.as_deref(),
            Some("test.hostile-effects"),
            "{sentence}"
        );
        assert!(t.reply.chars().count() < 1_000, "{sentence}: {}", t.reply);
    }
    let seen = events.drain();
    let handoffs = seen
        .iter()
        .filter(|e| matches!(e, AssistantEvent::Handoff { .. }))
        .count();
    assert!(
        handoffs <= 1,
        "{handoffs} handoff events from one flood (budget: 1 per call)"
    );
    let flooded = seen
        .iter()
        .filter(|e| matches!(e, AssistantEvent::DeviceCommand { by, .. } if by == "test.hostile-effects"))
        .count();
    assert!(
        flooded <= 10,
        "{flooded} device commands from one call (budget: 10 per call)"
    );
    // What went out: the command queued before the flood, once, and the budgeted flood.
    let got = f.watcher.devices(Duration::from_secs(3));
    assert_eq!(got.len(), 1 + flooded, "{got:?}");
    assert!(got.iter().all(|d| d == "light.kitchen"), "{got:?}");

    // Text meant to take over the terminal is cleaned before anyone sees or hears it.
    let t = f.assistant.process_text("hostile spoof").unwrap();
    assert!(
        !t.reply
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{:?}",
        t.reply
    );
    // And the session goes on.
    let t = f
        .assistant
        .process_text("turn off the kitchen light")
        .unwrap();
    assert_eq!(t.commands.len(), 1);
}
