//! The home and the brand's desk, both real, end to end: the customer speaks into
//! `Assistant::process_audio` (espeak-ng audio, PocketSphinx), the handoff leaves through the
//! home's durable outbox to a real mosquitto, a real `emma-desk` worker (library API, SQLite)
//! takes it off its shared subscription and routes it to the agent who speaks the customer's
//! language, the agent answers with the top-ranked suggestion, and the home speaks the answer in
//! the same session — or, when the session is over, shows it as a notification.
//!
//! One test has the agent work in the desk's page in headless Chromium: sign in, open the handoff
//! the customer's spoken request made, answer with one click on a suggestion.
//!
//! Timings are printed (`--nocapture`): handoff made → stored on the desk (or shown on the agent's
//! page), and agent reply sent → `AssistantEvent::Reply` (synthesised by espeak-ng) or
//! `Notification` in the home.

mod assistant_support;
mod desk_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantEvent, BrokerChoice, EventListener, SpeechConfig,
    TtsConfig,
};
use emma_core::handoff::{HandoffReason, HandoffRequest, Limits, Speaker, topic};
use emma_core::privacy::{Category, EMMA, Privacy, Reason, now_ms};
use emma_desk::store::{Handoff, Status};
use emma_desk::{Desk, DeskConfig, NewAgent};
use emma_tests::mosquitto::Mosquitto;

const HOME: &str = "home-e2e";
/// The brand a handoff goes to when no skill is involved (`HandoffConfig::brand`'s default).
const BRAND: &str = "emma";

/// When the home emitted each event the test waits for.
#[derive(Default)]
struct Clock {
    seen: Mutex<Vec<(Instant, AssistantEvent)>>,
}

impl EventListener for Clock {
    fn on_event(&self, event: &AssistantEvent) {
        if matches!(
            event,
            AssistantEvent::Handoff { .. }
                | AssistantEvent::Reply { .. }
                | AssistantEvent::Notification { .. }
        ) {
            self.seen
                .lock()
                .unwrap()
                .push((Instant::now(), event.clone()));
        }
    }
}

impl Clock {
    /// The first event after `since` matching `want`, with when it came, waiting up to `wait`.
    fn first(
        &self,
        since: Instant,
        wait: Duration,
        want: impl Fn(&AssistantEvent) -> bool,
    ) -> Option<(Instant, AssistantEvent)> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(hit) = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .find(|(at, e)| *at >= since && want(e))
            {
                return Some(hit.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A broker, a desk worker with two agents of the brand (Ann speaks English, Bert only German),
/// and a spoken-language home on it.
struct World {
    rt: tokio::runtime::Runtime,
    desk: Arc<Desk>,
    assistant: Assistant,
    clock: Arc<Clock>,
    dir: tempfile::TempDir,
    _broker: Mosquitto,
}

fn agent(id: &str, name: &str, brand: &str, languages: &[&str]) -> NewAgent {
    NewAgent {
        id: id.into(),
        brand: brand.into(),
        name: name.into(),
        languages: languages.iter().map(|l| l.to_string()).collect(),
        skills: vec!["*".into()],
        capacity: 3,
        password: "correct horse battery".into(),
    }
}

fn world(configure: impl FnOnce(&mut AssistantConfig)) -> World {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = dir.path().join("desk.sqlite").display().to_string();
    let desk = rt.block_on(async {
        let (desk, _tasks) = Desk::start(DeskConfig::new(broker.url(), db, "desk-e2e"))
            .await
            .unwrap();
        for a in [
            agent("bert", "Bert", BRAND, &["de"]),
            agent("ann", "Ann", BRAND, &["en"]),
            agent("probe", "Probe", "probe", &["en"]),
        ] {
            desk.add_agent(a).await.unwrap();
        }
        for id in ["bert", "ann"] {
            desk.store()
                .set_available(id, true, now_ms(), "test")
                .await
                .unwrap();
        }
        desk
    });
    wait_until_subscribed(&rt, &desk, &broker);

    let home_dir = dir.path().join("home");
    std::fs::create_dir(&home_dir).unwrap();
    let mut config = AssistantConfig::new(&home_dir, "en");
    config.broker = BrokerChoice::Url(broker.url());
    config.load_skills = false;
    config.speech = Some(SpeechConfig::pocketsphinx_en_us());
    config.tts = TtsConfig::Espeak {
        voice: Some("en-us".into()),
        speed: 160,
    };
    config.handoff.home = Some(HOME.into());
    config.handoff.report_every = None;
    configure(&mut config);
    let assistant = Assistant::new(config).unwrap();
    let clock = Arc::new(Clock::default());
    assistant.add_listener(clock.clone());
    assistant.start().unwrap();
    World {
        rt,
        desk,
        assistant,
        clock,
        dir,
        _broker: broker,
    }
}

/// The desk subscribes in the background: publish probe handoffs (brand `probe`, nobody
/// available) until one is stored, so the home's handoff is not published before anyone listens.
fn wait_until_subscribed(rt: &tokio::runtime::Runtime, desk: &Desk, broker: &Mosquitto) {
    use emma_core::devices::{BrokerConfig, Bus, BusOptions, QoS};
    rt.block_on(async {
        let mut cfg = BrokerConfig::from_url(&broker.url()).unwrap();
        cfg.client_id = "probe".into();
        let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
        bus.wait_connected(Duration::from_secs(5)).await.unwrap();
        let probe = HandoffRequest {
            v: 1,
            id: "probe".into(),
            home: "probe-home".into(),
            brand: "probe".into(),
            skill: None,
            language: "en".into(),
            reason: HandoffReason::Asked,
            summary: String::new(),
            transcript: vec![],
            candidates: vec![],
            context: Default::default(),
            suggestions: vec![],
            created_ms: now_ms(),
        };
        let payload = emma_core::handoff::encode(&probe, &Limits::default()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            bus.publish(
                topic::handoff("probe"),
                payload.clone(),
                QoS::AtLeastOnce,
                false,
            )
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            if desk
                .store()
                .handoff("probe", "probe")
                .await
                .unwrap()
                .is_some()
            {
                break;
            }
            assert!(Instant::now() < deadline, "the desk never subscribed");
        }
        bus.shutdown().await.unwrap();
    });
}

impl World {
    /// Speaks `text` into the home; returns when the customer stopped speaking.
    fn speak(&self, text: &str) -> Instant {
        let turns = assistant_support::speak(&self.assistant, &[text]);
        assert_eq!(turns.len(), 1, "{turns:#?}");
        assert_eq!(
            turns[0].intent.as_ref().map(|i| i.name.as_str()),
            Some("EmmaTalkToPerson"),
            "{turns:#?}"
        );
        assert_eq!(turns[0].reply, "I'll ask a person to help with that");
        Instant::now()
    }

    /// The handoff made at `made` as the desk stores it, and when it was first seen there (the
    /// store is polled every millisecond).
    fn on_desk(&self, made: Instant) -> (Instant, Handoff) {
        let deadline = made + Duration::from_secs(10);
        self.rt.block_on(async {
            loop {
                let queue = self.desk.store().queue(BRAND, 10).await.unwrap();
                if let Some(item) = queue.items.first() {
                    let seen = Instant::now();
                    let h = self
                        .desk
                        .store()
                        .handoff(BRAND, &item.id)
                        .await
                        .unwrap()
                        .unwrap();
                    return (seen, h);
                }
                assert!(Instant::now() < deadline, "no handoff on the desk in 10 s");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    }

    /// The agent answers `h` with the suggestion the page ranks first; returns its text and when it
    /// was sent.
    fn answer_with_top_suggestion(&self, h: &Handoff, agent_id: &str) -> (String, Instant) {
        self.rt.block_on(async {
            let store = self.desk.store();
            let agent = store.agent(agent_id).await.unwrap().unwrap();
            let chosen = store.suggestion_counts(BRAND, h.intent()).await.unwrap();
            let ranked = emma_desk::suggest::rank(&h.request.suggestions, &chosen);
            let text = ranked[0].text.clone();
            let sent = Instant::now();
            let reply = self.desk.reply(&agent, &h.request.id, &text).await.unwrap();
            assert_eq!(reply.agent, "Ann");
            (text, sent)
        })
    }
}

#[test]
fn a_spoken_request_for_a_person_reaches_the_agent_and_the_answer_is_spoken_in_the_session() {
    let w = world(|_| {});
    let p = Privacy::open_dir(w.dir.path().join("home")).unwrap();
    p.set_profile("name", "Ada", Reason::customer(), now_ms())
        .unwrap();
    p.grant(
        EMMA,
        &"profile:name".parse::<Category>().unwrap(),
        "help from a person",
        None,
        now_ms(),
    )
    .unwrap();

    let start = Instant::now();
    w.speak("I want to talk to a person");
    let (made, _) = w
        .clock
        .first(start, Duration::from_secs(5), |e| {
            matches!(e, AssistantEvent::Handoff { .. })
        })
        .expect("a Handoff event");
    let (seen, h) = w.on_desk(made);
    eprintln!(
        "e2e: handoff made -> stored and routed on the desk: {:.1} ms",
        seen.duration_since(made).as_secs_f64() * 1e3
    );

    // On the desk: routed by language to Ann (Bert speaks only German), with the context.
    assert_eq!(h.status, Status::Assigned);
    assert_eq!(h.agent.as_deref(), Some("ann"));
    let req = &h.request;
    assert_eq!((req.home.as_str(), req.brand.as_str()), (HOME, BRAND));
    assert_eq!(req.reason, HandoffReason::Asked);
    assert_eq!(req.language, "en");
    assert_eq!(req.transcript[0].speaker, Speaker::Customer);
    assert_eq!(req.transcript[0].text, "i want to talk to a person");
    assert_eq!(req.candidates[0].intent, "EmmaTalkToPerson");
    assert_eq!(
        req.context.get("profile.name").map(String::as_str),
        Some("Ada")
    );
    assert!(req.suggestions.len() >= 3, "{:?}", req.suggestions);

    // Ann answers with the top suggestion: the home speaks it in the same session.
    let (text, sent) = w.answer_with_top_suggestion(&h, "ann");
    let (spoken, reply) = w
        .clock
        .first(sent, Duration::from_secs(10), |e| {
            matches!(
                e,
                AssistantEvent::Reply { .. } | AssistantEvent::Notification { .. }
            )
        })
        .expect("the agent's answer in the home");
    eprintln!(
        "e2e: agent reply sent -> spoken in the home (espeak-ng synthesis included): {:.1} ms",
        spoken.duration_since(sent).as_secs_f64() * 1e3
    );
    match reply {
        AssistantEvent::Reply {
            text: said, audio, ..
        } => {
            assert_eq!(said, format!("Ann says: {text}"));
            let audio = audio.expect("synthesised speech");
            assert!(audio.samples.len() > audio.sample_rate as usize / 2);
        }
        other => panic!("expected a Reply in the session, got {other:?}"),
    }
    // The desk knows it went out.
    let h =
        w.rt.block_on(w.desk.store().handoff(BRAND, &req.id))
            .unwrap()
            .unwrap();
    assert_eq!(
        (h.status, h.reply.as_deref()),
        (Status::Answered, Some(text.as_str()))
    );
    w.assistant.stop().unwrap();
}

#[test]
fn an_answer_after_the_session_ended_is_a_notification() {
    let w = world(|c| {
        c.session_timeout = Duration::from_millis(500);
        c.handoff.reply_window = Duration::from_millis(500);
    });
    let start = Instant::now();
    w.speak("I want to talk to a person");
    let (made, _) = w
        .clock
        .first(start, Duration::from_secs(5), |e| {
            matches!(e, AssistantEvent::Handoff { .. })
        })
        .expect("a Handoff event");
    let (seen, h) = w.on_desk(made);
    eprintln!(
        "e2e: handoff made -> stored and routed on the desk: {:.1} ms",
        seen.duration_since(made).as_secs_f64() * 1e3
    );
    assert_eq!(h.agent.as_deref(), Some("ann"));
    // The customer has gone: the session and the wait for an agent are over.
    std::thread::sleep(Duration::from_millis(1200));
    let (text, sent) = w.answer_with_top_suggestion(&h, "ann");
    let (shown, e) = w
        .clock
        .first(sent, Duration::from_secs(10), |e| {
            matches!(
                e,
                AssistantEvent::Reply { .. } | AssistantEvent::Notification { .. }
            )
        })
        .expect("the agent's answer in the home");
    eprintln!(
        "e2e: agent reply sent -> notification in the home: {:.1} ms",
        shown.duration_since(sent).as_secs_f64() * 1e3
    );
    assert_eq!(
        e,
        AssistantEvent::Notification {
            from: "Ann".into(),
            text,
            handoff: Some(h.request.id.clone()),
        }
    );
    w.assistant.stop().unwrap();
}

/// The `p`-th percentile (nearest rank) of `ms`, sorted in place.
fn percentile(ms: &mut [f64], p: f64) -> f64 {
    ms.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}

#[test]
fn handoff_to_desk_and_answer_to_home_latency_over_rounds() {
    const ROUNDS: usize = 20;
    let w = world(|_| {});
    // A plain subscriber beside the desk's shared subscription: when the handoff leaves the broker.
    let (watch, mut seen_on_broker) = w.rt.block_on(async {
        use emma_core::devices::{BrokerConfig, Bus, BusOptions};
        let url = w._broker.url();
        let mut cfg = BrokerConfig::from_url(&url).unwrap();
        cfg.client_id = "watch".into();
        let (bus, _) = Bus::start(cfg, BusOptions::default()).unwrap();
        bus.wait_connected(Duration::from_secs(5)).await.unwrap();
        let rx = bus.subscribe("emma/desk/+/handoff").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        (bus, rx)
    });
    let (mut to_desk, mut to_home, mut to_broker) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let start = Instant::now();
        let t = w
            .assistant
            .process_text("I want to talk to a person")
            .unwrap();
        assert_eq!(
            t.reply, "I'll ask a person to help with that",
            "round {round}"
        );
        let (made, _) = w
            .clock
            .first(start, Duration::from_secs(5), |e| {
                matches!(e, AssistantEvent::Handoff { .. })
            })
            .expect("a Handoff event");
        w.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), seen_on_broker.recv()).await
        })
        .expect("the handoff through the broker")
        .expect("the watch is subscribed");
        to_broker.push(made.elapsed().as_secs_f64() * 1e3);
        let (seen, h) = w.on_desk(made);
        assert_eq!(h.agent.as_deref(), Some("ann"), "round {round}");
        to_desk.push(seen.duration_since(made).as_secs_f64() * 1e3);
        let (text, sent) = w.answer_with_top_suggestion(&h, "ann");
        let want = format!("Ann says: {text}");
        let (spoken, _) = w
            .clock
            .first(sent, Duration::from_secs(10), |e| {
                matches!(e, AssistantEvent::Reply { text, audio: Some(_), .. } if *text == want)
            })
            .expect("the agent's answer spoken in the home");
        to_home.push(spoken.duration_since(sent).as_secs_f64() * 1e3);
    }
    eprintln!(
        "e2e over {ROUNDS} rounds: handoff made -> at a plain subscriber p50 {:.1} ms, p95 {:.1} ms",
        percentile(&mut to_broker, 50.0),
        percentile(&mut to_broker, 95.0),
    );
    eprintln!(
        "e2e over {ROUNDS} rounds: handoff made -> on the desk p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; \
         agent reply -> spoken (espeak-ng) p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        percentile(&mut to_desk, 50.0),
        percentile(&mut to_desk, 95.0),
        percentile(&mut to_desk, 100.0),
        percentile(&mut to_home, 50.0),
        percentile(&mut to_home, 95.0),
        percentile(&mut to_home, 100.0),
    );
    // Suggestion ranking learnt from the agent's choices: the one chosen every round is first.
    let chosen =
        w.rt.block_on(w.desk.store().suggestion_counts(BRAND, "EmmaTalkToPerson"))
            .unwrap();
    assert_eq!(chosen.values().sum::<u64>(), ROUNDS as u64, "{chosen:?}");
    w.rt.block_on(watch.shutdown()).unwrap();
    w.assistant.stop().unwrap();
}

/// The element once the page that has it is loaded (a click that submits a form returns before
/// the next page is there).
async fn element(browser: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} within 10 s: {e}"))
}

#[test]
fn an_agent_in_the_browser_answers_a_spoken_request_and_the_home_speaks_the_answer() {
    use fantoccini::Locator;
    let w = world(|_| {});
    let p = Privacy::open_dir(w.dir.path().join("home")).unwrap();
    p.set_profile("name", "Ada", Reason::customer(), now_ms())
        .unwrap();
    p.grant(
        EMMA,
        &"profile:name".parse::<Category>().unwrap(),
        "help from a person",
        None,
        now_ms(),
    )
    .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], emma_tests::mosquitto::free_port()));
    let _page =
        w.rt.spawn(emma_desk::web::serve(w.desk.clone(), addr, false));
    let base = format!("http://{addr}");
    let driver = desk_support::ChromeDriver::start().unwrap();
    let browser = w.rt.block_on(async {
        let browser = driver.browser().await.unwrap();
        // Ann signs in (the page may take a moment to listen).
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.goto(&format!("{base}/login")).await.is_err() {
            assert!(Instant::now() < deadline, "the desk page never came up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        element(&browser, "#agent")
            .await
            .send_keys("ann")
            .await
            .unwrap();
        element(&browser, "#password")
            .await
            .send_keys("correct horse battery")
            .await
            .unwrap();
        element(&browser, "#sign-in").await.click().await.unwrap();
        let who = element(&browser, "#who").await.text().await.unwrap();
        assert_eq!(who, "Ann · emma");
        browser
    });

    let start = Instant::now();
    w.speak("I want to talk to a person");
    let (made, _) = w
        .clock
        .first(start, Duration::from_secs(5), |e| {
            matches!(e, AssistantEvent::Handoff { .. })
        })
        .expect("a Handoff event");
    let (text, sent) = w.rt.block_on(async {
        // It shows up among Ann's handoffs (the page refreshes itself; the test reloads sooner).
        let link = loop {
            browser.goto(&format!("{base}/")).await.unwrap();
            if let Ok(link) = browser.find(Locator::Css("#mine a.handoff-link")).await {
                break link;
            }
            assert!(made.elapsed() < Duration::from_secs(20), "not shown in 20 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        eprintln!(
            "e2e browser: handoff made -> shown on the agent's page: {:.0} ms (page reloaded every ~20 ms)",
            made.elapsed().as_secs_f64() * 1e3
        );
        link.click().await.unwrap();
        let transcript = element(&browser, "#transcript").await.text().await.unwrap();
        assert!(
            transcript.contains("i want to talk to a person"),
            "{transcript}"
        );
        let context = element(&browser, "#context").await.text().await.unwrap();
        assert!(context.contains("Ada"), "{context}");
        // One click on the first suggestion.
        let first = element(&browser, "#suggestions li").await.text().await.unwrap();
        let sent = Instant::now();
        element(&browser, "button.suggestion")
            .await
            .click()
            .await
            .unwrap();
        element(&browser, "#sent").await;
        (first, sent)
    });
    let (spoken, reply) = w
        .clock
        .first(
            sent,
            Duration::from_secs(10),
            |e| matches!(e, AssistantEvent::Reply { text, .. } if text.starts_with("Ann says: ")),
        )
        .expect("the agent's answer spoken in the home");
    eprintln!(
        "e2e browser: suggestion clicked -> spoken in the home: {:.0} ms",
        spoken.duration_since(sent).as_secs_f64() * 1e3
    );
    let AssistantEvent::Reply {
        text: said, audio, ..
    } = reply
    else {
        unreachable!()
    };
    // The page shows the suggestion with its use count after it; the home hears the suggestion.
    let said = said.trim_start_matches("Ann says: ");
    assert!(
        !said.is_empty() && text.contains(said),
        "page: {text:?}, home: {said:?}"
    );
    assert!(audio.is_some(), "spoken with espeak-ng");
    w.rt.block_on(browser.close()).unwrap();
    w.assistant.stop().unwrap();
}
