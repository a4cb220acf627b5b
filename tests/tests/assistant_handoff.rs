//! Handoff to a person and touchpoints, home side, end to end: a real mosquitto on a free
//! loopback port, the assistant with its durable outbox, and a second MQTT client playing the
//! brand's desk — it receives `HandoffRequest`s on `emma/desk/{brand}/handoff`, answers with
//! `AgentReply`s on `emma/home/{home}/handoff/reply`, and receives touchpoint reports.

mod assistant_support;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assistant_support::{install, kitchen_home};
use emma_core::assistant::touchpoints::{Insights, NOT_UNDERSTOOD};
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, AudioChunk, BrokerChoice, EventReceiver,
    SpeechConfig, Turn,
};
use emma_core::devices::{BrokerConfig, Bus, BusOptions, Device, Domain, Message, QoS};
use emma_core::handoff::{
    AgentReply, HandoffReason, HandoffRequest, Limits, Speaker, TouchpointReport, topic,
};
use emma_core::privacy::{Category, EMMA, Filter, Privacy, now_ms};
use emma_core::speech::{SAMPLE_RATE, synth};
use emma_tests::mosquitto::Mosquitto;
use tokio::sync::mpsc;

const HOME: &str = "home-test";
const PARCEL: &str = "skills/examples/parcel";

/// The brand's desk: an MQTT client receiving handoffs and reports, sending replies.
struct Desk {
    bus: Bus,
    handoffs: mpsc::Receiver<Message>,
    reports: mpsc::Receiver<Message>,
}

struct Fixture {
    assistant: Assistant,
    desk: Desk,
    rt: tokio::runtime::Runtime,
    broker: Mosquitto,
    config: AssistantConfig,
    dir: tempfile::TempDir,
}

fn desk(rt: &tokio::runtime::Runtime, url: &str) -> Desk {
    rt.block_on(async {
        let mut cfg = BrokerConfig::from_url(url).unwrap();
        cfg.client_id = "desk".into();
        let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
        bus.wait_connected(Duration::from_secs(5)).await.unwrap();
        let handoffs = bus.subscribe("emma/desk/+/handoff").await.unwrap();
        let reports = bus.subscribe("emma/desk/+/touchpoints").await.unwrap();
        // Let the SUBACKs arrive before anything is published.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Desk {
            bus,
            handoffs,
            reports,
        }
    })
}

fn fixture(configure: impl FnOnce(&mut AssistantConfig, &Path)) -> Fixture {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    kitchen_home(
        dir.path(),
        [Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen")],
    );
    let mut config = AssistantConfig::new(dir.path(), "en");
    config.broker = BrokerChoice::Url(broker.url());
    config.load_skills = false;
    config.handoff.home = Some(HOME.into());
    config.handoff.report_every = None;
    configure(&mut config, dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let desk = desk(&rt, &broker.url());
    let assistant = Assistant::new(config.clone()).unwrap();
    assistant.start().unwrap();
    Fixture {
        assistant,
        desk,
        rt,
        broker,
        config,
        dir,
    }
}

impl Fixture {
    fn say(&self, text: &str) -> Turn {
        self.assistant.process_text(text).unwrap()
    }

    fn privacy(&self) -> Privacy {
        Privacy::open_dir(self.dir.path()).unwrap()
    }

    /// The next handoff the desk receives within `wait`, decoded with the contract's limits.
    fn handoff(&mut self, wait: Duration) -> Option<(String, HandoffRequest)> {
        let m = self.rt.block_on(async {
            tokio::time::timeout(wait, self.desk.handoffs.recv())
                .await
                .ok()
                .flatten()
        })?;
        let req = emma_core::handoff::decode::<HandoffRequest>(&m.payload, &Limits::default())
            .unwrap_or_else(|e| panic!("the home sent a handoff the desk refuses: {e}"));
        Some((m.topic, req))
    }

    fn report(&mut self, wait: Duration) -> Option<(String, TouchpointReport)> {
        let m = self.rt.block_on(async {
            tokio::time::timeout(wait, self.desk.reports.recv())
                .await
                .ok()
                .flatten()
        })?;
        let r = emma_core::handoff::decode::<TouchpointReport>(&m.payload, &Limits::default())
            .unwrap_or_else(|e| panic!("the home sent a report the desk refuses: {e}"));
        Some((m.topic, r))
    }

    /// The desk publishes `payload` on the home's reply topic.
    fn reply_raw(&self, payload: Vec<u8>) {
        self.rt.block_on(async {
            self.desk
                .bus
                .publish(topic::reply(HOME), payload, QoS::AtLeastOnce, false)
                .await
                .unwrap();
        });
    }

    fn reply(&self, handoff: &str, agent: &str, text: &str) {
        let r = AgentReply {
            v: 1,
            handoff: handoff.into(),
            agent: agent.into(),
            text: text.into(),
            sent_ms: now_ms(),
        };
        self.reply_raw(emma_core::handoff::encode(&r, &Limits::default()).unwrap());
    }
}

/// The first event matching `want` within `wait`.
fn wait_for(
    events: &EventReceiver,
    wait: Duration,
    want: impl Fn(&AssistantEvent) -> bool,
) -> Option<AssistantEvent> {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Some(e) if want(&e) => return Some(e),
            Some(_) => {}
            None => return None,
        }
    }
    None
}

fn is_reply(e: &AssistantEvent) -> bool {
    matches!(
        e,
        AssistantEvent::Reply { .. } | AssistantEvent::Notification { .. }
    )
}

fn grant(p: &Privacy, party: &str, category: &str) {
    p.grant(
        party,
        &category.parse::<Category>().unwrap(),
        "help from a person",
        None,
        now_ms(),
    )
    .unwrap();
}

#[test]
fn asking_for_a_person_hands_off_with_transcript_candidates_and_consented_context_and_the_reply_is_spoken()
 {
    let mut f = fixture(|c, _| c.area = Some("kitchen".into()));
    let p = f.privacy();
    p.set_profile(
        "name",
        "Ada",
        emma_core::privacy::Reason::customer(),
        now_ms(),
    )
    .unwrap();
    p.set_profile(
        "email",
        "ada@example.org",
        emma_core::privacy::Reason::customer(),
        now_ms(),
    )
    .unwrap();
    grant(&p, EMMA, "profile:name");
    grant(&p, EMMA, "device-names");
    let events = f.assistant.subscribe();

    let t = f.say("turn on the kitchen light");
    assert_eq!(t.reply, "Turned on the kitchen light");
    assert!(
        f.handoff(Duration::from_millis(500)).is_none(),
        "no handoff for a handled request"
    );

    let asked = Instant::now();
    let t = f.say("I want to talk to a person");
    assert_eq!(t.intent.as_ref().unwrap().name, "EmmaTalkToPerson");
    assert_eq!(t.reply, "I'll ask a person to help with that");
    let (topic, req) = f
        .handoff(Duration::from_secs(5))
        .expect("a handoff on the desk");
    eprintln!("handoff: typed request to desk in {:?}", asked.elapsed());
    assert_eq!(topic, "emma/desk/emma/handoff");
    assert_eq!((req.home.as_str(), req.brand.as_str()), (HOME, "emma"));
    assert_eq!(req.reason, HandoffReason::Asked);
    assert_eq!(req.skill, None);
    assert_eq!(req.language, "en");
    let lines: Vec<(Speaker, &str)> = req
        .transcript
        .iter()
        .map(|u| (u.speaker, u.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (Speaker::Customer, "turn on the kitchen light"),
            (Speaker::Emma, "Turned on the kitchen light"),
            (Speaker::Customer, "I want to talk to a person"),
        ]
    );
    assert_eq!(req.candidates[0].intent, "EmmaTalkToPerson");
    assert!(req.candidates[0].confidence > 0.5, "{:?}", req.candidates);
    // Consented fields only: the name and the room, not the e-mail address.
    assert_eq!(
        req.context.get("profile.name").map(String::as_str),
        Some("Ada")
    );
    assert_eq!(req.context.get("area").map(String::as_str), Some("kitchen"));
    assert!(
        !req.context.contains_key("profile.email"),
        "{:?}",
        req.context
    );
    assert!(req.suggestions.len() >= 3, "{:?}", req.suggestions);
    // The handoff and each share are in the ledger.
    let ledger = p.ledger().entries(&Filter::default()).unwrap();
    assert!(
        ledger
            .iter()
            .any(|e| e.party == "handoff:emma" && e.field.as_deref() == Some(req.id.as_str())),
        "{ledger:#?}"
    );
    assert!(ledger.iter().any(|e| e.action == "share"
        && e.party == "handoff:emma"
        && e.category == "profile"
        && e.reason == format!("handoff:{}", req.id)));

    // The agent answers: spoken in the same session, the agent named, escape sequences removed.
    events.drain();
    let answered = Instant::now();
    f.reply(
        &req.id,
        "Bo",
        "Hello Ada, \u{1b}[2JI can help with the light.",
    );
    let e = wait_for(&events, Duration::from_secs(5), is_reply).expect("the agent's reply");
    eprintln!(
        "handoff: agent reply to spoken reply in {:?}",
        answered.elapsed()
    );
    match e {
        AssistantEvent::Reply { text, .. } => {
            assert_eq!(text, "Bo says: Hello Ada, I can help with the light.")
        }
        other => panic!("expected a Reply in the session, got {other:?}"),
    }
    // The same reply again is not delivered twice.
    f.reply(&req.id, "Bo", "Hello again");
    assert_eq!(wait_for(&events, Duration::from_secs(1), is_reply), None);
}

#[test]
fn bad_replies_are_refused_and_the_home_goes_on() {
    let mut f = fixture(|_, _| {});
    f.say("connect me to a human");
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    let events = f.assistant.subscribe();
    let good = |id: &str| {
        format!(r#"{{"v":1,"handoff":"{id}","agent":"Bo","text":"hi","sent_ms":1}}"#).into_bytes()
    };
    f.reply_raw(b"{not json".to_vec());
    f.reply_raw(vec![b' '; Limits::default().max_bytes + 1]);
    f.reply_raw(good("no-such-handoff"));
    f.reply_raw(
        format!(
            r#"{{"v":2,"handoff":"{}","agent":"Bo","text":"hi","sent_ms":1}}"#,
            req.id
        )
        .into_bytes(),
    );
    f.reply_raw(
        format!(
            r#"{{"v":1,"handoff":"{}","agent":"Bo","text":"hi","sent_ms":1,"admin":true}}"#,
            req.id
        )
        .into_bytes(),
    );
    f.reply_raw(
        format!(
            r#"{{"v":1,"handoff":"{}","agent":"Bo","text":"","sent_ms":1}}"#,
            req.id
        )
        .into_bytes(),
    );
    assert_eq!(
        wait_for(&events, Duration::from_millis(1500), is_reply),
        None
    );
    // The real answer still gets through.
    f.reply_raw(good(&req.id));
    let e = wait_for(&events, Duration::from_secs(5), is_reply).expect("the good reply");
    assert!(
        matches!(&e, AssistantEvent::Reply { text, .. } if text == "Bo says: hi"),
        "{e:?}"
    );
    assert_eq!(
        f.say("turn on the kitchen light").reply,
        "Turned on the kitchen light"
    );
}

#[test]
fn two_requests_not_understood_in_a_row_hand_off() {
    let mut f = fixture(|_, _| {});
    let t = f.say("tell me a joke");
    assert_eq!(t.reply, "Sorry, I didn't understand that");
    // Understood in between: the streak starts again.
    f.say("turn on the kitchen light");
    let t = f.say("sing me a song");
    assert_eq!(t.reply, "Sorry, I didn't understand that");
    assert!(f.handoff(Duration::from_millis(700)).is_none());
    let t = f.say("what is the capital of france");
    assert!(t.intent.is_none());
    assert_eq!(
        t.reply,
        "Sorry, I didn't understand that. I'll ask a person to help with that"
    );
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(req.reason, HandoffReason::NotUnderstood);
    let said: Vec<&str> = req
        .transcript
        .iter()
        .filter(|u| u.speaker == Speaker::Customer)
        .map(|u| u.text.as_str())
        .collect();
    assert_eq!(
        said,
        [
            "tell me a joke",
            "turn on the kitchen light",
            "sing me a song",
            "what is the capital of france"
        ]
    );
    assert!(
        req.context.is_empty(),
        "nothing consented: {:?}",
        req.context
    );
    assert!(
        req.candidates
            .iter()
            .all(|c| (0.0..=1.0).contains(&c.confidence))
    );
}

#[test]
fn a_skills_handoff_goes_to_its_brand_with_its_reply_as_the_first_suggestion() {
    let mut f = fixture(|c, dir| {
        c.load_skills = true;
        install(&dir.join("skills"), PARCEL, &["handoff", "store"]);
    });
    let t = f.say("where is my parcel XY999");
    assert_eq!(t.handled_by.as_deref(), Some("com.example.parcel"), "{t:?}");
    assert!(
        t.reply.ends_with("I'll ask a person to help with that"),
        "{}",
        t.reply
    );
    let (topic, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(topic, "emma/desk/example-parcel-service/handoff");
    assert_eq!(req.brand, "example-parcel-service");
    assert_eq!(req.reason, HandoffReason::Skill);
    assert_eq!(req.skill.as_deref(), Some("com.example.parcel"));
    assert!(req.summary.contains("unknown parcel"), "{}", req.summary);
    assert_eq!(
        req.suggestions[0],
        "I'm connecting you with a member of our team."
    );
    assert_eq!(req.candidates[0].intent, "WhereIsParcel");
    // handoff.request and the reply's handoff of the same call are one handoff.
    assert!(f.handoff(Duration::from_millis(700)).is_none());
}

#[test]
fn without_the_handoff_grant_a_skill_cannot_hand_off() {
    let mut f = fixture(|c, dir| {
        c.load_skills = true;
        install(&dir.join("skills"), PARCEL, &["store"]);
    });
    let t = f.say("where is my parcel XY999");
    assert!(!t.reply.contains("person"), "{}", t.reply);
    assert!(f.handoff(Duration::from_millis(1500)).is_none());
}

#[test]
fn with_handoffs_off_nothing_leaves_the_home_and_the_customer_is_told() {
    let mut f = fixture(|c, _| c.handoff.enabled = false);
    let t = f.say("I want to talk to a person");
    assert_eq!(
        t.reply,
        "Sorry, I couldn't reach a person right now; please try again later"
    );
    f.say("tell me a joke");
    let t = f.say("sing me a song");
    assert_eq!(t.reply, "Sorry, I didn't understand that");
    assert!(f.handoff(Duration::from_millis(1500)).is_none());
}

#[test]
fn a_german_customer_asking_for_a_person_is_handed_off_in_german() {
    let mut f = fixture(|c, _| c.language = "de".into());
    let t = f.say("ich möchte mit einem Menschen sprechen");
    assert_eq!(t.reply, "Ich frage einen Menschen, der dir hilft");
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(
        (req.language.as_str(), req.reason),
        ("de", HandoffReason::Asked)
    );
    assert!(
        req.suggestions.iter().any(|s| s.starts_with("Hallo")),
        "{:?}",
        req.suggestions
    );
    let events = f.assistant.subscribe();
    f.reply(&req.id, "Bo", "Hallo, wie kann ich helfen?");
    let e = wait_for(&events, Duration::from_secs(5), is_reply).expect("the reply");
    assert!(
        matches!(&e, AssistantEvent::Reply { text, .. } if text == "Bo sagt: Hallo, wie kann ich helfen?"),
        "{e:?}"
    );
}

#[test]
fn a_reply_after_the_session_ended_is_a_notification() {
    let mut f = fixture(|c, _| {
        c.session_timeout = Duration::from_millis(300);
        c.handoff.reply_window = Duration::from_millis(300);
    });
    f.say("I want to talk to a person");
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    let events = f.assistant.subscribe();
    std::thread::sleep(Duration::from_millis(900));
    f.reply(&req.id, "Bo", "Your parcel is on its way");
    let e = wait_for(&events, Duration::from_secs(5), is_reply).expect("a notification");
    assert_eq!(
        e,
        AssistantEvent::Notification {
            from: "Bo".into(),
            text: "Your parcel is on its way".into(),
            handoff: Some(req.id.clone()),
        }
    );
}

#[test]
fn a_handoff_made_while_the_broker_is_down_arrives_after_it_is_back_even_across_a_restart() {
    let mut f = fixture(|c, _| c.flush_timeout = Duration::from_millis(300));
    f.broker.kill9();
    let t = f.say("I want to talk to a person");
    assert_eq!(
        t.reply, "I'll ask a person to help with that",
        "queued on disk"
    );
    // Emma stops with the handoff unsent; the broker comes back; a new Emma sends it.
    f.assistant.stop().unwrap();
    f.broker.restart().unwrap();
    let url = f.broker.url();
    // A new desk connection (the old one, same client id, would fight it for the session).
    f.rt.block_on(f.desk.bus.shutdown()).unwrap();
    f.desk = desk(&f.rt, &url);
    let again = Assistant::new(f.config.clone()).unwrap();
    again.start().unwrap();
    let events = again.subscribe();
    let (_, req) = f
        .handoff(Duration::from_secs(10))
        .expect("the handoff, after the outage");
    assert_eq!(req.reason, HandoffReason::Asked);
    assert!(f.handoff(Duration::from_millis(500)).is_none(), "sent once");
    // The new run still knows the handoff: the answer arrives, as a notification (new session).
    // The home is away when the agent answers: the broker keeps the reply for the home's
    // session (a stable client id), and the next run delivers it, as a notification.
    again.stop().unwrap();
    drop(events);
    f.reply(&req.id, "Bo", "Back online");
    let third = Assistant::new(f.config.clone()).unwrap();
    let events = third.subscribe();
    third.start().unwrap();
    let e = wait_for(&events, Duration::from_secs(5), is_reply).expect("the reply");
    assert!(
        matches!(&e, AssistantEvent::Notification { text, .. } if text == "Back online"),
        "{e:?}"
    );
    third.stop().unwrap();
}

/// A TCP relay between the home and the broker: `down` cuts the home off (the desk, connected
/// directly, stays subscribed), `up` lets it reconnect.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, as by a dead broker
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut conns = open2.lock().unwrap();
                conns.push(client.try_clone().unwrap());
                conns.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, up, open }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.open.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_handoff_made_while_the_broker_is_unreachable_is_delivered_once_it_is_back() {
    let mut relay = None;
    let mut f = fixture(|c, _| {
        let BrokerChoice::Url(url) = &c.broker else {
            unreachable!()
        };
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let r = Relay::start(port);
        c.broker = BrokerChoice::Url(format!("mqtt://127.0.0.1:{}", r.port));
        relay = Some(r);
    });
    let relay = relay.unwrap();
    relay.down();
    std::thread::sleep(Duration::from_millis(300));
    let t = f.say("I want to talk to a person");
    assert_eq!(
        t.reply, "I'll ask a person to help with that",
        "queued on disk"
    );
    assert!(
        f.handoff(Duration::from_secs(2)).is_none(),
        "the broker is unreachable"
    );
    relay.up();
    let (_, req) = f
        .handoff(Duration::from_secs(10))
        .expect("delivered after the outage");
    assert_eq!(req.reason, HandoffReason::Asked);
    assert!(
        f.handoff(Duration::from_millis(700)).is_none(),
        "delivered once"
    );
}

#[test]
fn touchpoints_are_measured_and_reported_only_with_consent() {
    let mut f = fixture(|_, _| {});
    for text in [
        "turn on the kitchen light",
        "turn on the kitchen light",
        "tell me a joke",
        "what is the capital of france",
        "turn off the kitchen light",
        "I want to talk to a person",
    ] {
        f.say(text);
    }
    let insights = Insights::load(f.dir.path(), 1, now_ms()).unwrap();
    assert_eq!(insights.total, 6);
    let row = |intent: &str| {
        insights
            .top
            .iter()
            .find(|i| i.intent == intent)
            .unwrap_or_else(|| panic!("{intent} in {:#?}", insights.top))
    };
    assert_eq!(row("HassTurnOn").count, 2);
    assert_eq!(row("HassTurnOn").failure_rate, 0.0);
    assert_eq!(row("HassTurnOff").count, 1);
    assert_eq!(row(NOT_UNDERSTOOD).count, 2);
    assert_eq!(row(NOT_UNDERSTOOD).failure_rate, 1.0);
    assert_eq!(row(NOT_UNDERSTOOD).handoff_rate, 0.5);
    assert_eq!(row("EmmaTalkToPerson").handoff_rate, 1.0);
    assert!((insights.handoff_rate - 2.0 / 6.0).abs() < 1e-9);
    assert!(insights.latency_p50_ms <= insights.latency_p99_ms);
    assert_eq!(insights.trend.last().unwrap().count, 6);
    // The handoffs themselves went to the desk.
    assert!(f.handoff(Duration::from_secs(5)).is_some());
    assert!(f.handoff(Duration::from_secs(5)).is_some());

    // No consent: nothing leaves the home.
    assert!(f.assistant.report_touchpoints().unwrap().is_empty());
    assert!(f.report(Duration::from_millis(800)).is_none());

    // With consent, the next period's aggregates go to the brand: counts, no text.
    grant(&f.privacy(), EMMA, "touchpoints");
    f.say("sing me a song");
    f.say("sing me a song");
    f.say("I want to talk to a person");
    // The app asked "did that help?" and the customer said yes.
    assert!(f.assistant.rate_latest_interaction(true).unwrap());
    f.say("turn on the kitchen light"); // home control: no brand's business
    let sent = f.assistant.report_touchpoints().unwrap();
    assert_eq!(sent.len(), 1);
    let (topic, r) = f
        .report(Duration::from_secs(5))
        .expect("a report on the desk");
    assert_eq!(topic, "emma/desk/emma/touchpoints");
    assert_eq!(r, sent[0]);
    assert_eq!((r.home.as_str(), r.brand.as_str()), (HOME, "emma"));
    let stats: Vec<(&str, u64, u64, u64)> = r
        .stats
        .iter()
        .map(|s| (s.intent.as_str(), s.count, s.failures, s.handoffs))
        .collect();
    assert_eq!(
        stats,
        [(NOT_UNDERSTOOD, 2, 2, 1), ("EmmaTalkToPerson", 1, 0, 1)]
    );
    let asked = &r.stats[1];
    assert_eq!(
        (asked.satisfaction_asked, asked.satisfaction_positive),
        (1, 1)
    );
    let text =
        String::from_utf8(emma_core::handoff::encode(&r, &Limits::default()).unwrap()).unwrap();
    assert!(
        !text.contains("song"),
        "no free text leaves the home: {text}"
    );
    // Reported once: the next report has nothing new.
    assert!(f.assistant.report_touchpoints().unwrap().is_empty());
    // The customer erases their data: the interaction log goes with it.
    f.assistant.stop().unwrap();
    f.privacy().erase(now_ms()).unwrap();
    assert_eq!(Insights::load(f.dir.path(), 1, now_ms()).unwrap().total, 0);
}

#[test]
fn a_spoken_request_for_a_person_hands_off() {
    let mut f = fixture(|c, _| c.speech = Some(SpeechConfig::pocketsphinx_en_us()));
    let pause = vec![0i16; SAMPLE_RATE as usize * 7 / 10];
    let mut samples = synth::silence(300);
    samples.extend(
        synth::espeak("I want to talk to a person", "en-us", 150)
            .unwrap()
            .samples,
    );
    samples.extend_from_slice(&pause);
    for chunk in samples.chunks(1600) {
        f.assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: SAMPLE_RATE,
            })
            .unwrap();
    }
    let turns = f.assistant.end_audio().unwrap();
    assert_eq!(turns.len(), 1, "{turns:#?}");
    assert_eq!(
        turns[0].intent.as_ref().map(|i| i.name.as_str()),
        Some("EmmaTalkToPerson"),
        "{turns:#?}"
    );
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(req.reason, HandoffReason::Asked);
    assert_eq!(req.transcript[0].speaker, Speaker::Customer);
    let insights = Insights::load(f.dir.path(), 1, now_ms()).unwrap();
    assert_eq!(insights.total, 1);
}

/// An intent whose words are mostly a wildcard: matched with a confidence well below 1.
const NOTES: &str = r#"
language: en
intents:
  TakeNote:
    data:
      - sentences:
          - "note {note}"
lists:
  note:
    wildcard: true
"#;

#[test]
fn two_requests_below_the_confidence_threshold_in_a_row_hand_off() {
    let mut f = fixture(|c, dir| {
        let notes = dir.join("notes.yaml");
        std::fs::write(&notes, NOTES).unwrap();
        c.extra_intents = vec![notes];
        c.confidence_threshold = 0.9;
    });
    let events = f.assistant.subscribe();
    let low = |events: &EventReceiver| {
        wait_for(events, Duration::from_secs(2), |e| {
            matches!(e, AssistantEvent::NotUnderstood { .. })
        })
    };
    let t = f.say("note buy some milk");
    assert_eq!(t.intent, None, "not acted on: {t:?}");
    assert_eq!(t.reply, "Sorry, I'm not sure what you meant");
    match low(&events) {
        Some(AssistantEvent::NotUnderstood { reason, .. }) => {
            assert!(
                reason.contains("below 0.90 for TakeNote"),
                "the low-confidence path: {reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(f.handoff(Duration::from_millis(700)).is_none());
    let t = f.say("note call the plumber");
    assert_eq!(
        t.reply,
        "Sorry, I'm not sure what you meant. I'll ask a person to help with that"
    );
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(req.reason, HandoffReason::NotUnderstood);
    assert_eq!(req.candidates[0].intent, "TakeNote");
    assert!(
        req.candidates[0].confidence < 0.9,
        "the agent sees how unsure Emma was: {:?}",
        req.candidates
    );

    // Unknown, then understood too unsurely: also two in a row.
    f.say("tell me a joke");
    let t = f.say("note water the plants");
    assert!(
        t.reply.ends_with("I'll ask a person to help with that"),
        "{}",
        t.reply
    );
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a second handoff");
    assert_eq!(req.reason, HandoffReason::NotUnderstood);
    // Understood well enough in between: the streak starts again.
    f.say("note buy bread");
    f.say("turn on the kitchen light");
    f.say("note feed the cat");
    assert!(f.handoff(Duration::from_millis(700)).is_none());
}

#[test]
fn a_handoff_is_a_ledger_share_with_the_brand_and_interactions_are_exported_and_erased() {
    let mut f = fixture(|c, _| c.area = Some("kitchen".into()));
    let p = f.privacy();
    for (field, value) in [("name", "Ada"), ("email", "ada@example.org")] {
        p.set_profile(
            field,
            value,
            emma_core::privacy::Reason::customer(),
            now_ms(),
        )
        .unwrap();
    }
    grant(&p, EMMA, "profile:name");
    grant(&p, EMMA, "device-names");
    let consent = |c: &str| {
        p.consent(EMMA, &c.parse::<Category>().unwrap(), now_ms())
            .unwrap()
            .unwrap()
            .id
    };
    f.say("turn on the kitchen light");
    f.say("I want to talk to a person");
    let (_, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");

    // One share per item with the brand's desk, each naming its consent.
    let reason = format!("handoff:{}", req.id);
    let shares: Vec<(String, String, Option<String>, Option<i64>)> = p
        .ledger()
        .entries(&Filter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.reason == reason)
        .map(|e| (e.action, e.category, e.field, e.consent))
        .collect();
    let share = |cat: &str, field: &str, consent: Option<i64>| {
        (
            "share".to_string(),
            cat.to_string(),
            Some(field.to_string()),
            consent,
        )
    };
    assert_eq!(
        shares,
        [
            share("transcripts", &req.id, None),
            share("profile", "name", Some(consent("profile:name"))),
            share("device-names", "area", Some(consent("device-names"))),
        ]
    );
    assert!(
        p.ledger()
            .entries(&Filter::default())
            .unwrap()
            .iter()
            .filter(|e| e.reason == reason)
            .all(|e| e.party == "handoff:emma")
    );
    // Each interaction row is a ledger store too (no text in it).
    let stored: Vec<String> = p
        .ledger()
        .entries(&Filter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "store" && e.category == "touchpoints")
        .map(|e| e.reason)
        .collect();
    assert_eq!(stored, ["intent:HassTurnOn", "intent:EmmaTalkToPerson"]);
    assert!(matches!(
        p.ledger().verify().unwrap(),
        emma_core::privacy::Verification::Intact { .. }
    ));
    // The agent answers; the export then holds the interactions and the handoff, answered.
    let events = f.assistant.subscribe();
    f.reply(&req.id, "Bo", "Hello Ada");
    wait_for(&events, Duration::from_secs(5), is_reply).expect("the reply");
    f.assistant.stop().unwrap();
    let out = f.dir.path().join("export.json");
    let summary = p.export(&out, now_ms()).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let interactions = doc["interactions"].as_array().unwrap();
    let intents: Vec<(&str, bool)> = interactions
        .iter()
        .map(|i| {
            (
                i["intent"].as_str().unwrap(),
                i["handoff"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(intents, [("HassTurnOn", false), ("EmmaTalkToPerson", true)]);
    assert_eq!(interactions[1]["brand"], "emma");
    assert_eq!(interactions[1]["channel"], "text");
    assert_eq!(summary.counts["interactions"], 2);
    let handoffs = doc["handoffs"].as_array().unwrap();
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0]["id"], req.id.as_str());
    assert_eq!(handoffs[0]["brand"], "emma");
    assert_eq!(handoffs[0]["agent"], "Bo");
    assert!(handoffs[0]["answered_ms"].as_i64().is_some());

    // Erase: the interaction log and the handoffs go; the next export has none.
    p.erase(now_ms()).unwrap();
    p.export(&out, now_ms()).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["interactions"], serde_json::json!([]));
    assert_eq!(doc["handoffs"], serde_json::json!([]));
    assert_eq!(Insights::load(f.dir.path(), 1, now_ms()).unwrap().total, 0);
    // And no byte of the interaction log's intent names is left in its file.
    let hits = emma_core::privacy::scan_for(
        &[f.dir.path().join("touchpoints.sqlite")],
        &[b"EmmaTalkToPerson", b"HassTurnOn"],
    )
    .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn asking_for_a_person_while_talking_to_a_skill_goes_to_its_brand() {
    let mut f = fixture(|c, dir| {
        c.load_skills = true;
        install(&dir.join("skills"), PARCEL, &["handoff", "store"]);
    });
    let p = f.privacy();
    p.set_profile(
        "name",
        "Ada",
        emma_core::privacy::Reason::customer(),
        now_ms(),
    )
    .unwrap();
    // Consented to the parcel skill, not to Emma: the parcel brand's person sees it.
    grant(&p, "com.example.parcel", "profile:name");
    let t = f.say("where is my parcel EM123");
    assert!(t.reply.contains("out for delivery"), "{}", t.reply);
    assert!(f.handoff(Duration::from_millis(500)).is_none());
    // The skill has no "talk to a human" intent of its own: the built-in one answers.
    let t = f.say("I want to talk to a person");
    assert_eq!(t.intent.as_ref().unwrap().name, "EmmaTalkToPerson");
    assert_eq!(t.handled_by.as_deref(), Some("handoff"));
    let (topic, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(topic, "emma/desk/example-parcel-service/handoff");
    assert_eq!(req.reason, HandoffReason::Asked);
    assert_eq!(req.skill.as_deref(), Some("com.example.parcel"));
    assert!(
        req.summary.contains("com.example.parcel"),
        "{}",
        req.summary
    );
    assert_eq!(
        req.context.get("profile.name").map(String::as_str),
        Some("Ada")
    );
    assert!(
        p.ledger()
            .entries(&Filter::default())
            .unwrap()
            .iter()
            .any(|e| e.party == "handoff:example-parcel-service" && e.category == "profile")
    );
    f.assistant.stop().unwrap();
}

#[test]
fn after_a_skill_without_the_handoff_grant_a_request_for_a_person_goes_to_the_installations_desk() {
    let mut f = fixture(|c, dir| {
        c.load_skills = true;
        install(&dir.join("skills"), PARCEL, &["store"]);
    });
    let t = f.say("where is my parcel EM123");
    assert_eq!(t.handled_by.as_deref(), Some("com.example.parcel"));
    f.say("I want to talk to a person");
    let (topic, req) = f.handoff(Duration::from_secs(5)).expect("a handoff");
    assert_eq!(topic, "emma/desk/emma/handoff");
    assert_eq!((req.brand.as_str(), req.skill.as_deref()), ("emma", None));
}
