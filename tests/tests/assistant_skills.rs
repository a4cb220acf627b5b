//! The assistant with real brand skills (built from source to wasm, installed
//! signed-or-dev into the assistant's skill home) and real speech: intents
//! routed to the skill that owns them, device commands from skills through
//! the outbox, a reply action without a grant never published, a device
//! event that makes a skill propose an order the customer confirms by voice.

mod assistant_support;

use std::time::{Duration, Instant};

use assistant_support::skill_support::bundle;
use assistant_support::{Watcher, install, kitchen_home, speak};
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, BrokerChoice, SpeechConfig, Turn, check_install,
};
use emma_core::devices::{Device, Domain};
use emma_core::skills::{ProposalState, SkillHome};
use emma_tests::mosquitto::Mosquitto;

const COFFEE: &str = "skills/examples/coffee";
const OVERREACH: &str = "skills/testdata/overreach";

struct Fixture {
    assistant: Assistant,
    watcher: Watcher,
    dir: tempfile::TempDir,
    _broker: Mosquitto,
}

fn fixture(speech: bool) -> Fixture {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    kitchen_home(
        dir.path(),
        [
            Device::new("coffee.machine", "coffee machine", Domain::Custom).in_area("kitchen"),
            Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
            Device::new("lock.front_door", "front door", Domain::Lock),
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
    let watcher = Watcher::start(&broker.url());
    let assistant = Assistant::new(config).unwrap();
    assistant.start().unwrap();
    Fixture {
        assistant,
        watcher,
        dir,
        _broker: broker,
    }
}

impl Fixture {
    fn published(&mut self, wait: Duration) -> Vec<(String, String)> {
        self.watcher.published(wait)
    }

    fn speak(&self, text: &str) -> Vec<Turn> {
        speak(&self.assistant, &[text])
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

/// The coffee bundle with `yaml` as its English templates (and no others).
fn coffee_with(yaml: &str) -> emma_core::skills::Bundle {
    let mut b = bundle(COFFEE);
    b.intents = vec![("en".into(), yaml.into())];
    b
}

#[test]
fn a_skill_sentence_that_a_built_in_takes_is_an_install_error_unless_declared() {
    let dir = tempfile::tempdir().unwrap();
    let home = SkillHome::open(dir.path()).unwrap();
    // Its own intent name, a built-in's sentence.
    let sneaky = coffee_with(
        "language: en\nintents:\n  CoffeeLights:\n    data:\n      - sentences:\n          - \"turn on the kitchen light\"\n          - \"brew [me] a coffee\"\n",
    );
    let e = check_install(&home, &sneaky).unwrap_err();
    assert!(
        matches!(e, emma_core::assistant::AssistantError::Shadows { .. }),
        "{e}"
    );
    let e = e.to_string();
    for want in [
        "com.example.coffee",
        "CoffeeLights",
        "built-in",
        "HassTurnOn",
        "\"turn on the kitchen light\"",
        "shadows",
    ] {
        assert!(e.contains(want), "{want:?} missing from: {e}");
    }
    // Declared in the manifest: allowed, and reported for the customer.
    let mut declared = sneaky.clone();
    declared.manifest.shadows = vec!["HassTurnOn".into()];
    let allowed = check_install(&home, &declared).unwrap();
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(
        (allowed[0].intent.as_str(), allowed[0].shadowed.as_str()),
        ("CoffeeLights", "HassTurnOn")
    );
    // A sentence of its own is no overlap.
    let fine = coffee_with(
        "language: en\nintents:\n  Brew:\n    data:\n      - sentences: [\"brew [me] a coffee\"]\n",
    );
    assert!(check_install(&home, &fine).unwrap().is_empty());
}

#[test]
fn a_skill_sentence_that_another_skill_takes_is_an_install_error() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    install(&skills, COFFEE, &["store"]);
    let home = SkillHome::open(&skills).unwrap();
    // Another skill whose wildcard takes the coffee skill's orders.
    let mut greedy = bundle(OVERREACH);
    greedy.intents = vec![(
        "en".into(),
        "language: en\nintents:\n  AnyOrder:\n    data:\n      - sentences: [\"make me [a] {thing}\"]\nlists:\n  thing:\n    wildcard: true\n".into(),
    )];
    let e = check_install(&home, &greedy).unwrap_err().to_string();
    assert!(
        e.contains("test.overreach")
            && e.contains("AnyOrder")
            && e.contains("com.example.coffee")
            && (e.contains("OrderDrink") || e.contains("Favourite"))
            && e.contains("\"make me "),
        "{e}"
    );
}

#[test]
fn the_example_skills_install_with_their_declared_shadows_and_the_check_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    let grants: [(&str, &[&str]); 3] = [
        (COFFEE, &["store"]),
        ("skills/examples/parcel", &["store"]),
        ("skills/examples/lights", &["device:light.*:control"]),
    ];
    for (rel, g) in grants {
        let b = bundle(rel);
        let home = SkillHome::open(&skills).unwrap();
        let t = Instant::now();
        let allowed = check_install(&home, &b).unwrap();
        let check = t.elapsed();
        // Every overlap allowed is one the manifest declares.
        assert!(
            allowed
                .iter()
                .all(|s| b.manifest.shadows.contains(&s.shadowed)),
            "{allowed:?}"
        );
        let file = skills.join(format!("{}.emmaskill", b.manifest.id));
        std::fs::write(&file, b.to_bytes(None)).unwrap();
        let runtime = emma_core::skills::SkillRuntime::new(home.runtime_config()).unwrap();
        let perms: Vec<emma_core::skills::Permission> =
            g.iter().map(|p| p.parse().unwrap()).collect();
        let t = Instant::now();
        home.install(&runtime, &file, "default", &perms, true)
            .unwrap();
        let install = t.elapsed();
        eprintln!(
            "{}: check_install {:.1} ms, install {:.1} ms, allowed {:?}",
            b.manifest.id,
            check.as_secs_f64() * 1e3,
            install.as_secs_f64() * 1e3,
            allowed
                .iter()
                .map(|s| format!("{}>{} \"{}\"", s.intent, s.shadowed, s.sentence))
                .collect::<Vec<_>>()
        );
        assert!(check < Duration::from_secs(5), "{check:?}");
    }
    // The lights skill takes the built-in light sentences, as it declares.
    let home = SkillHome::open(&skills).unwrap();
    let lights = home.installed("com.example.lights").unwrap();
    assert!(
        lights
            .bundle
            .manifest
            .shadows
            .contains(&"HassTurnOn".to_string())
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
    // Partial transcripts while the customer speaks, then the final one.
    let seen = events.drain();
    let partial = seen
        .iter()
        .position(|e| matches!(e, AssistantEvent::Partial { text } if !text.is_empty()))
        .unwrap_or_else(|| panic!("no partial transcript: {seen:?}"));
    let transcript = seen
        .iter()
        .position(|e| matches!(e, AssistantEvent::Transcript { .. }))
        .expect("a transcript");
    assert!(partial < transcript, "{seen:?}");
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
    f.watcher.publish(
        "emma/device/coffee.machine/state",
        r#"{"state":"idle","bean_level":12}"#,
    );
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

#[test]
fn a_skills_question_sends_the_next_answer_back_to_that_skill() {
    let mut f = fixture(false);
    // The coffee skill asks what to make when there is no usual yet.
    let t = f.assistant.process_text("the usual").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("com.example.coffee"));
    assert!(t.expects_answer, "{t:?}");
    assert!(t.commands.is_empty());
    // "Never mind" ends the skill's question like Emma's own.
    let t = f.assistant.process_text("never mind").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("dialog"), "{t:?}");
    assert!(!t.expects_answer);
    // Asked again, the answer goes back to the skill and is carried out.
    let t = f.assistant.process_text("the usual").unwrap();
    assert!(t.expects_answer, "{t:?}");
    let t = f.assistant.process_text("a large latte").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("com.example.coffee"), "{t:?}");
    assert_eq!(t.intent.as_ref().unwrap().name, "OrderDrink");
    assert!(!t.expects_answer);
    // The skill remembered it: now "the usual" brews at once.
    let t = f.assistant.process_text("the usual").unwrap();
    assert!(t.reply.contains("usual"), "{t:?}");
    assert!(!t.expects_answer);
    let got = f.published(Duration::from_secs(3));
    assert_eq!(
        got.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["coffee.machine", "coffee.machine"],
        "{got:?}"
    );
    assert!(got.iter().all(|(_, p)| p.contains("large")), "{got:?}");
}

/// Waits up to `wait` for events; returns them all.
fn collect(events: &emma_core::assistant::EventReceiver, wait: Duration) -> Vec<AssistantEvent> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(e) = events.recv_timeout(left.min(Duration::from_millis(100))) {
            out.push(e);
        }
    }
    out
}

/// Events until a reorder question is asked (at most 10 s), and 1 s more.
fn until_asked(events: &emma_core::assistant::EventReceiver) -> Vec<AssistantEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while reorder_questions(&out).is_empty() && Instant::now() < deadline {
        out.extend(events.recv_timeout(Duration::from_millis(100)));
    }
    out.extend(collect(events, Duration::from_secs(1)));
    out
}

/// The texts of the replies among `events` that mention a reorder.
fn reorder_questions(events: &[AssistantEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AssistantEvent::Reply {
                text,
                expects_answer,
                ..
            } if text.contains("reorder") => {
                assert!(*expects_answer, "{text}");
                Some(text.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_proposal_made_while_the_customer_speaks_is_asked_after_the_turn_in_order() {
    use emma_core::assistant::AudioChunk;
    use emma_core::speech::{SAMPLE_RATE, synth};

    let f = fixture(true);
    let events = f.assistant.subscribe();
    let speech = synth::espeak("turn on the kitchen light", "en-us", 150)
        .unwrap()
        .samples;
    let push = |pcm: &[i16]| {
        for chunk in pcm.chunks(1600) {
            f.assistant
                .process_audio(AudioChunk::I16 {
                    samples: chunk,
                    rate: SAMPLE_RATE,
                })
                .unwrap();
        }
    };
    // The customer is in the middle of a sentence (the recogniser shows a partial)...
    let (head, tail) = speech.split_at(speech.len() * 2 / 3);
    push(head);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen
        .iter()
        .any(|e| matches!(e, AssistantEvent::Partial { text } if !text.is_empty()))
    {
        assert!(Instant::now() < deadline, "no partial transcript: {seen:?}");
        seen.extend(events.recv_timeout(Duration::from_millis(100)));
    }
    // ...when the machine reports low beans twice: two proposals.
    f.watcher.publish(
        "emma/device/coffee.machine/state",
        r#"{"state":"idle","bean_level":12}"#,
    );
    f.watcher.publish(
        "emma/device/coffee.machine/state",
        r#"{"state":"idle","bean_level":8}"#,
    );
    let mut proposals = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while proposals.len() < 2 && Instant::now() < deadline {
        if let Some(e) = events.recv_timeout(Duration::from_millis(100)) {
            if let AssistantEvent::Proposal { id, .. } = &e {
                proposals.push(id.clone());
            }
            seen.push(e);
        }
    }
    assert_eq!(proposals.len(), 2, "{seen:?}");
    seen.extend(collect(&events, Duration::from_millis(800)));
    // Nothing is said over the customer.
    assert!(reorder_questions(&seen).is_empty(), "{seen:?}");

    // The sentence ends; the turn is answered first, then the first question.
    let mut rest = tail.to_vec();
    rest.extend(vec![0i16; SAMPLE_RATE as usize * 7 / 10]);
    push(&rest);
    let turns = f.assistant.end_audio().unwrap();
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].intent.as_ref().unwrap().name, "HassTurnOn");
    let after = until_asked(&events);
    let turn_reply = after
        .iter()
        .position(|e| matches!(e, AssistantEvent::Reply { text, .. } if *text == turns[0].reply))
        .unwrap_or_else(|| panic!("the turn's reply: {after:?}"));
    let asked = reorder_questions(&after);
    assert_eq!(asked.len(), 1, "one question at a time: {after:?}");
    assert!(asked[0].contains("12 percent"), "oldest first: {asked:?}");
    let question = after
        .iter()
        .position(|e| matches!(e, AssistantEvent::Reply { text, .. } if text.contains("reorder")))
        .unwrap();
    assert!(turn_reply < question, "{after:?}");

    // Answered through the dialog; then the second question comes.
    let turns = f.speak("yes");
    assert!(turns[0].reply.contains("confirmed"), "{turns:?}");
    let asked = reorder_questions(&until_asked(&events));
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("8 percent"), "{asked:?}");
    let turns = f.speak("no");
    assert!(!turns[0].expects_answer, "{turns:?}");
    let home = SkillHome::open(&f.dir.path().join("skills")).unwrap();
    let state = |id: &str| {
        home.orders()
            .unwrap()
            .into_iter()
            .find(|p| p.id == id)
            .unwrap()
            .state
    };
    assert_eq!(state(&proposals[0]), ProposalState::Confirmed);
    assert_ne!(state(&proposals[1]), ProposalState::Confirmed);
}

#[test]
fn a_proposal_waits_for_the_answer_to_an_open_question_and_does_not_replace_it() {
    let mut f = fixture(false);
    let events = f.assistant.subscribe();
    // The coffee skill asks what the usual is.
    let t = f.assistant.process_text("the usual").unwrap();
    assert!(t.expects_answer, "{t:?}");
    f.watcher.publish(
        "emma/device/coffee.machine/state",
        r#"{"state":"idle","bean_level":12}"#,
    );
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen
        .iter()
        .any(|e| matches!(e, AssistantEvent::Proposal { .. }))
    {
        assert!(Instant::now() < deadline, "no proposal: {seen:?}");
        seen.extend(events.recv_timeout(Duration::from_millis(100)));
    }
    seen.extend(collect(&events, Duration::from_millis(800)));
    assert!(reorder_questions(&seen).is_empty(), "{seen:?}");
    // The answer still goes to the skill's question, then the proposal is asked.
    let t = f.assistant.process_text("a large latte").unwrap();
    assert_eq!(t.handled_by.as_deref(), Some("com.example.coffee"), "{t:?}");
    assert!(!t.expects_answer, "{t:?}");
    let asked = reorder_questions(&until_asked(&events));
    assert_eq!(asked.len(), 1, "{asked:?}");
    let t = f.assistant.process_text("yes").unwrap();
    assert!(t.reply.contains("confirmed"), "{t:?}");
    let _ = f.published(Duration::from_millis(200));
}

/// Start time with the three example skills installed (run with
/// `--ignored --nocapture`; prints the median of several starts).
#[test]
#[ignore = "measurement"]
fn measure_start_with_the_example_skills() {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    install(&skills, COFFEE, &["store"]);
    install(&skills, "skills/examples/parcel", &["store"]);
    install(
        &skills,
        "skills/examples/lights",
        &["device:light.*:control"],
    );
    for speech in [false, true] {
        let mut times = Vec::new();
        for _ in 0..7 {
            let mut config = AssistantConfig::new(dir.path(), "en");
            config.broker = BrokerChoice::Url(broker.url());
            if speech {
                config.speech = Some(SpeechConfig::pocketsphinx_en_us());
            }
            let assistant = Assistant::new(config).unwrap();
            let t = Instant::now();
            assistant.start().unwrap();
            times.push(t.elapsed());
            let listing = assistant.intents().unwrap();
            for id in [
                "com.example.coffee",
                "com.example.parcel",
                "com.example.lights",
            ] {
                assert!(listing.contains_key(id), "{listing:?}");
            }
            assistant.stop().unwrap();
        }
        times.sort();
        eprintln!(
            "start (speech: {speech}), 3 example skills: median {:.0} ms, min {:.0} ms",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
}
