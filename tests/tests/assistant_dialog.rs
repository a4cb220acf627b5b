//! The assistant end to end with text: a real mosquitto on a free loopback
//! port, a device registry on disk, the built-in home intents, the dialog.
//! Every command is checked twice: as the assistant's event and as a message
//! a second MQTT client actually received.

mod assistant_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistant_support::speak;
use emma_core::assistant::{
    Assistant, AssistantConfig, AssistantError, AssistantEvent, AudioChunk, BrokerChoice,
    EventListener, SpeechConfig, Turn, WakeConfig,
};
use emma_core::devices::{Area, BrokerConfig, Bus, BusOptions, Device, Domain, Message, Registry};
use emma_core::speech::{SAMPLE_RATE, synth};
use emma_core::understand::calibrate::Voice;
use emma_core::understand::{Calibration, CalibrationOptions};
use emma_tests::mosquitto::Mosquitto;
use tokio::sync::mpsc;

/// A home with a running assistant and a watcher client on the broker.
struct Fixture {
    assistant: Assistant,
    watcher: mpsc::Receiver<Message>,
    _watch_bus: Bus,
    rt: tokio::runtime::Runtime,
    _broker: Mosquitto,
    _dir: tempfile::TempDir,
}

fn home(registry: &mut Registry) {
    for (id, name) in [
        ("kitchen", "kitchen"),
        ("living_room", "living room"),
        ("bedroom", "bedroom"),
        ("hall", "hall"),
    ] {
        registry
            .upsert_area(Area {
                id: id.into(),
                name: name.into(),
                aliases: vec![],
                floor: None,
            })
            .unwrap();
    }
    for d in [
        Device::new("light.kitchen", "kitchen light", Domain::Light).in_area("kitchen"),
        Device::new("light.sofa", "sofa lamp", Domain::Light).in_area("living_room"),
        Device::new("light.bedroom", "bedroom lamp", Domain::Light).in_area("bedroom"),
        Device::new("lock.front_door", "front door", Domain::Lock).in_area("hall"),
    ] {
        registry.upsert_device(d).unwrap();
    }
}

fn fixture(configure: impl FnOnce(&mut AssistantConfig), devices: bool) -> Fixture {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    if devices {
        let mut registry = Registry::open(dir.path().join("devices.sqlite")).unwrap();
        home(&mut registry);
    }
    let mut config = AssistantConfig::new(dir.path(), "en");
    config.broker = BrokerChoice::Url(broker.url());
    config.load_skills = false;
    configure(&mut config);
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
        _watch_bus: watch_bus,
        rt,
        _broker: broker,
        _dir: dir,
    }
}

impl Fixture {
    fn say(&self, text: &str) -> Turn {
        self.assistant.process_text(text).unwrap()
    }

    /// Device ids of the commands the watcher receives within `wait`.
    fn published(&mut self, wait: Duration) -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + wait;
        self.rt.block_on(async {
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match tokio::time::timeout(left, self.watcher.recv()).await {
                    Ok(Some(m)) => out.push(
                        m.topic
                            .trim_start_matches("emma/device/")
                            .trim_end_matches("/set")
                            .to_string(),
                    ),
                    _ => break,
                }
            }
        });
        out
    }
}

fn devices(turn: &Turn) -> Vec<&str> {
    turn.commands.iter().map(|c| c.device.as_str()).collect()
}

#[test]
fn text_commands_reach_the_broker_and_replies_say_what_was_done() {
    let mut f = fixture(|_| {}, true);
    let t = f.say("turn on the kitchen light");
    assert_eq!(t.intent.as_ref().unwrap().name, "HassTurnOn");
    assert_eq!(devices(&t), ["light.kitchen"]);
    assert_eq!(t.reply, "Turned on the kitchen light");
    assert_eq!(t.handled_by.as_deref(), Some("built-in"));
    assert_eq!(f.published(Duration::from_secs(3)), ["light.kitchen"]);
}

#[test]
fn what_is_not_understood_is_answered_never_acted_on() {
    let mut f = fixture(|_| {}, true);
    let events = f.assistant.subscribe();
    for text in [
        "tell me a joke",
        "what is the capital of france",
        "",
        "   ",
        "\u{1b}[2J\u{7}",
    ] {
        let t = f.say(text);
        assert!(t.intent.is_none(), "{text:?}: {t:?}");
        assert!(t.commands.is_empty(), "{text:?}");
    }
    let long = "turn on the kitchen light ".repeat(40_000); // 1 MB
    let t = f.say(&long);
    assert!(t.commands.is_empty());
    assert!(t.reply.contains("too long"), "{}", t.reply);
    assert!(
        events
            .drain()
            .iter()
            .any(|e| matches!(e, AssistantEvent::NotUnderstood { .. }))
    );
    assert!(f.published(Duration::from_millis(800)).is_empty());
    // The session goes on.
    assert_eq!(
        devices(&f.say("turn on the kitchen light")),
        ["light.kitchen"]
    );
}

#[test]
fn a_fresh_home_says_there_is_no_such_device_and_how_to_add_one() {
    let f = fixture(|_| {}, false);
    let t = f.say("turn on the kitchen light");
    assert!(t.commands.is_empty());
    assert!(
        t.reply.contains("no device named kitchen light") && t.reply.contains("emma devices add"),
        "{}",
        t.reply
    );
}

#[test]
fn a_missing_room_is_asked_for_and_the_answer_completes_the_command() {
    let mut f = fixture(|_| {}, true);
    let t = f.say("turn on the lights");
    assert!(t.expects_answer, "{t:?}");
    assert_eq!(t.reply, "In which room?");
    assert!(t.commands.is_empty());
    let t = f.say("in the attic");
    assert!(t.expects_answer);
    assert!(t.reply.contains("attic"), "{}", t.reply);
    let t = f.say("the bedroom");
    assert_eq!(devices(&t), ["light.bedroom"], "{t:?}");
    assert_eq!(f.published(Duration::from_secs(3)), ["light.bedroom"]);
}

#[test]
fn the_speaking_devices_area_is_the_default_place() {
    let f = fixture(|c| c.area = Some("living_room".into()), true);
    let t = f.say("turn on the lights");
    assert!(!t.expects_answer, "{t:?}");
    assert_eq!(devices(&t), ["light.sofa"]);
}

#[test]
fn it_and_them_refer_to_the_last_devices() {
    let f = fixture(|_| {}, true);
    let t = f.say("turn it off");
    assert!(t.commands.is_empty());
    assert!(t.reply.contains("Which device"), "{}", t.reply);
    f.say("turn on the sofa lamp");
    let t = f.say("turn it off");
    assert_eq!(devices(&t), ["light.sofa"]);
    assert_eq!(t.intent.unwrap().name, "HassTurnOff");
    let t = f.say("set it to 30%");
    assert_eq!(devices(&t), ["light.sofa"]);
}

#[test]
fn cancel_forgets_the_question() {
    let f = fixture(|_| {}, true);
    assert!(f.say("turn on the lights").expects_answer);
    let t = f.say("never mind");
    assert!(!t.expects_answer);
    assert_eq!(t.reply, "Okay, never mind");
    // "the bedroom" is no longer an answer.
    let t = f.say("the bedroom");
    assert!(t.commands.is_empty(), "{t:?}");
}

#[test]
fn unlocking_asks_first_and_no_means_nothing_is_sent() {
    let mut f = fixture(|_| {}, true);
    let t = f.say("unlock the front door");
    assert!(t.expects_answer);
    assert!(t.reply.contains("unlock the front door"), "{}", t.reply);
    assert!(t.commands.is_empty());
    let t = f.say("no");
    assert!(t.commands.is_empty());
    assert!(f.published(Duration::from_millis(800)).is_empty());
    f.say("unlock the front door");
    let t = f.say("yes");
    assert_eq!(devices(&t), ["lock.front_door"]);
    assert_eq!(f.published(Duration::from_secs(3)), ["lock.front_door"]);
}

#[test]
fn a_question_times_out_with_the_session() {
    let f = fixture(|c| c.session_timeout = Duration::from_millis(300), true);
    assert!(f.say("turn on the lights").expects_answer);
    std::thread::sleep(Duration::from_millis(500));
    let t = f.say("the bedroom");
    assert!(t.commands.is_empty(), "{t:?}");
}

#[test]
fn misuse_gets_typed_errors_and_listeners_that_panic_are_survived() {
    struct Boom;
    impl EventListener for Boom {
        fn on_event(&self, _: &AssistantEvent) {
            panic!("listener bug");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = AssistantConfig::new(dir.path(), "en");
    config.load_skills = false;
    let stopped = Assistant::new(config.clone()).unwrap();
    assert!(matches!(
        stopped.process_text("hi"),
        Err(AssistantError::NotRunning)
    ));
    assert!(matches!(
        stopped.end_audio(),
        Err(AssistantError::NotRunning)
    ));
    stopped.stop().unwrap(); // stopping a stopped assistant is a no-op
    let mut bad = config.clone();
    bad.language = "xx".into();
    assert!(matches!(
        Assistant::new(bad),
        Err(AssistantError::Config { .. })
    ));
    // One running assistant per data directory: a second is refused with what to do,
    // and may start once the first has stopped.
    let first = Assistant::new(config.clone()).unwrap();
    first.start().unwrap();
    let second = Assistant::new(config.clone()).unwrap();
    let e = second.start().unwrap_err().to_string();
    assert!(e.contains("another Emma assistant is running"), "{e}");
    first.stop().unwrap();
    second.start().unwrap();
    second.stop().unwrap();

    let f = fixture(|_| {}, true);
    f.assistant.add_listener(Arc::new(Boom));
    assert_eq!(
        devices(&f.say("turn on the kitchen light")),
        ["light.kitchen"]
    );
    // No speech configured: audio is a clear error.
    let e = f
        .assistant
        .process_audio(AudioChunk::I16 {
            samples: &[0; 160],
            rate: 16_000,
        })
        .unwrap_err();
    assert!(matches!(e, AssistantError::NoSpeech), "{e}");
    // Calls from many threads at once are served one turn at a time.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let t = f
                    .assistant
                    .process_text("turn off the kitchen light")
                    .unwrap();
                assert_eq!(devices(&t), ["light.kitchen"]);
            });
        }
    });
    f.assistant.stop().unwrap();
    assert!(matches!(
        f.assistant.process_text("hi"),
        Err(AssistantError::NotRunning)
    ));
    // And it starts again.
    f.assistant.start().unwrap();
    assert_eq!(
        devices(&f.say("turn on the kitchen light")),
        ["light.kitchen"]
    );
}

/// A listener that calls back into the assistant with the blocking calls,
/// which would wait for the very thread running it.
struct Reentrant {
    assistant: Assistant,
    results: std::sync::Mutex<Vec<String>>,
}

impl EventListener for Reentrant {
    fn on_event(&self, event: &AssistantEvent) {
        if !matches!(event, AssistantEvent::Reply { .. }) {
            return;
        }
        let a = &self.assistant;
        let mut results = self.results.lock().unwrap();
        for (call, r) in [
            (
                "process_text",
                a.process_text("turn off the kitchen light").err(),
            ),
            ("end_audio", a.end_audio().err()),
            ("report_touchpoints", a.report_touchpoints().err()),
            ("stop", a.stop().err()),
        ] {
            results.push(match r {
                Some(AssistantError::InListener { call: named }) => {
                    assert_eq!(named, call);
                    format!("{call}: refused")
                }
                other => format!("{call}: {other:?}"),
            });
        }
    }
}

#[test]
fn blocking_calls_from_a_listener_are_refused_instead_of_deadlocking() {
    let f = fixture(|_| {}, true);
    let listener = Arc::new(Reentrant {
        assistant: f.assistant.clone(),
        results: Default::default(),
    });
    f.assistant.add_listener(listener.clone());
    // Without the check this turn never returns: process_text inside the
    // listener waits for the conversation thread that is running it, and stop
    // joins it.
    let (tx, rx) = std::sync::mpsc::channel();
    let a = f.assistant.clone();
    std::thread::spawn(move || {
        let _ = tx.send(a.process_text("turn on the kitchen light"));
    });
    let turn = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the turn came back")
        .unwrap();
    assert_eq!(devices(&turn), ["light.kitchen"]);
    assert_eq!(
        listener.results.lock().unwrap().clone(),
        [
            "process_text: refused",
            "end_audio: refused",
            "report_touchpoints: refused",
            "stop: refused"
        ]
    );
    let e = AssistantError::InListener { call: "stop" }.to_string();
    assert!(e.contains("from another thread"), "{e}");
    // The refused stop did nothing: the assistant still runs and serves turns
    // (each turn's listener call is refused again, the turn is not).
    assert!(f.assistant.is_running());
    let turn = f.say("turn off the kitchen light");
    assert_eq!(devices(&turn), ["light.kitchen"]);
}

#[test]
fn with_a_wake_word_only_the_command_after_it_is_acted_on() {
    let mut f = fixture(
        |c| {
            c.speech = Some(SpeechConfig::pocketsphinx_en_us());
            c.wake = Some(WakeConfig::pocketsphinx("computer"));
        },
        true,
    );
    let events = f.assistant.subscribe();
    // No wake word: Emma is not being spoken to.
    let turns = speak(&f.assistant, &["turn on the kitchen light"]);
    assert!(turns.is_empty(), "{turns:?}");
    assert!(f.published(Duration::from_millis(800)).is_empty());
    assert!(
        !events
            .drain()
            .iter()
            .any(|e| matches!(e, AssistantEvent::Wake { .. }))
    );
    // A person saying the wake word (a real recording from the shared data), a pause, the command.
    let person = emma_core::speech::wake::bench::load_word(
        &emma_tests::shared_data().join("wake-words"),
        "computer",
        Some(1),
    )
    .unwrap()
    .remove(0);
    let mut samples = synth::silence(500);
    samples.extend_from_slice(&person);
    samples.extend(synth::silence(700));
    samples.extend(
        synth::espeak("turn on the kitchen light", "en-us", 150)
            .unwrap()
            .samples,
    );
    samples.extend(synth::silence(700));
    for chunk in samples.chunks(1600) {
        f.assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: SAMPLE_RATE,
            })
            .unwrap();
    }
    let turns = f.assistant.end_audio().unwrap();
    let seen = events.drain();
    assert_eq!(turns.len(), 1, "{turns:?} {seen:?}");
    let wake = seen
        .iter()
        .position(|e| matches!(e, AssistantEvent::Wake { phrase, .. } if phrase == "computer"))
        .expect("a wake event");
    let listening = seen
        .iter()
        .position(|e| matches!(e, AssistantEvent::Listening))
        .expect("listening after the wake word");
    assert!(wake < listening);
    // The command after the wake word reached the pipeline as one turn about
    // the kitchen light. (Its first words are sometimes misheard right after
    // the wake word — "what's kitchen light" — a known gap noted in issue 9.)
    assert!(turns[0].heard.contains("kitchen light"), "{turns:?}");
    let published = f.published(Duration::from_secs(2));
    assert!(
        published.iter().all(|d| d == "light.kitchen"),
        "{published:?}"
    );
}

#[test]
fn minutes_of_silence_clipped_speech_and_odd_rates_end_in_answers_not_failures() {
    let mut f = fixture(
        |c| c.speech = Some(SpeechConfig::pocketsphinx_en_us()),
        true,
    );
    // Three minutes of a quiet room (a little noise, as a microphone gives): no turn, no command.
    let mut seed = 7u32;
    let quiet: Vec<i16> = (0..SAMPLE_RATE as usize * 180)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 16) % 41) as i16 - 20
        })
        .collect();
    let start = Instant::now();
    for chunk in quiet.chunks(1600) {
        f.assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: SAMPLE_RATE,
            })
            .unwrap();
    }
    let turns = f.assistant.end_audio().unwrap();
    assert!(turns.is_empty(), "{turns:?}");
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "three minutes of silence took {:?}",
        start.elapsed()
    );

    // Speech clipped hard (×8, saturating): a turn or an honest "not understood", never an error.
    let speech = synth::espeak("turn on the kitchen light", "en-us", 150)
        .unwrap()
        .samples;
    let mut clipped: Vec<i16> = speech.iter().map(|s| s.saturating_mul(8)).collect();
    clipped.extend(synth::silence(700));
    for chunk in clipped.chunks(1600) {
        f.assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: SAMPLE_RATE,
            })
            .unwrap();
    }
    for t in f.assistant.end_audio().unwrap() {
        assert!(!t.reply.is_empty(), "{t:?}");
    }

    // The same command as 44.1 kHz floats and as 8 kHz telephone audio: resampled and understood.
    let to_rate = |rate: u32| -> Vec<f32> {
        let n = speech.len() * rate as usize / SAMPLE_RATE as usize;
        (0..n)
            .map(|i| f32::from(speech[i * SAMPLE_RATE as usize / rate as usize]) / 32768.0)
            .chain(std::iter::repeat_n(0.0, rate as usize * 7 / 10))
            .collect()
    };
    let f44 = to_rate(44_100);
    for chunk in f44.chunks(4410) {
        f.assistant
            .process_audio(AudioChunk::F32 {
                samples: chunk,
                rate: 44_100,
            })
            .unwrap();
    }
    let turns = f.assistant.end_audio().unwrap();
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(
        turns[0].intent.as_ref().map(|i| i.name.as_str()),
        Some("HassTurnOn")
    );
    let i8k: Vec<i16> = to_rate(8_000)
        .iter()
        .map(|s| (s * 32767.0) as i16)
        .collect();
    for chunk in i8k.chunks(800) {
        f.assistant
            .process_audio(AudioChunk::I16 {
                samples: chunk,
                rate: 8_000,
            })
            .unwrap();
    }
    let turns = f.assistant.end_audio().unwrap();
    assert_eq!(turns.len(), 1, "{turns:?}");
    // The session went on throughout: the commands that were understood were sent.
    let sent = f.published(Duration::from_secs(2));
    assert!(
        !sent.is_empty() && sent.iter().all(|d| d == "light.kitchen"),
        "{sent:?}"
    );
}

/// Spoken questions Emma does not serve, which the grammar decoder forces
/// into commands (measured in docs/understand.md, "Asking instead of acting").
const QUESTIONS: [&str; 8] = [
    "how old is the president",
    "who won the football game yesterday",
    "sing me a song",
    "tell me a joke",
    "what is the capital of france",
    "how far away is the moon",
    "remind me to call my mother",
    "what is the meaning of life",
];

/// Speech config with `sure` as the word-loop ratio from which commands are
/// acted on without asking (`NEG_INFINITY`: never ask).
fn asking_from(sure: f64) -> impl FnOnce(&mut AssistantConfig) {
    move |c| {
        let mut s = SpeechConfig::pocketsphinx_en_us();
        s.rejection.sure_word_loop_ratio = sure;
        c.speech = Some(s);
    }
}

/// Turns that acted: an intent carried out that is not a dialog word ("no").
fn acted(turns: &[Turn]) -> Vec<String> {
    turns
        .iter()
        .filter(|t| {
            t.intent
                .as_ref()
                .is_some_and(|i| !matches!(i.name.as_str(), "EmmaYes" | "EmmaNo" | "EmmaCancel"))
        })
        .map(|t| format!("{:?} → {:?}: {:?}", t.heard, t.intent, t.reply))
        .collect()
}

#[test]
fn spoken_questions_are_asked_about_or_refused_never_acted_on() {
    // Control: an assistant that never asks acts on what it misheard (a
    // handoff to a person with "want to talk to a agent", when measured).
    let mut never_asks = fixture(asking_from(f64::NEG_INFINITY), true);
    let turns = speak(&never_asks.assistant, &QUESTIONS);
    assert!(
        !acted(&turns).is_empty() || !never_asks.published(Duration::from_secs(1)).is_empty(),
        "the grammar no longer forces these questions into commands: {turns:#?}"
    );
    // The default asks "Did you say …?" instead, or says it did not understand.
    let mut f = fixture(
        asking_from(emma_core::understand::Rejection::DEFAULT_SURE_WORD_LOOP_RATIO),
        true,
    );
    let turns = speak(&f.assistant, &QUESTIONS);
    assert!(acted(&turns).is_empty(), "{:#?}", acted(&turns));
    assert!(f.published(Duration::from_secs(2)).is_empty());
    assert!(
        turns
            .iter()
            .any(|t| t.reply.starts_with("Did you say") && t.expects_answer),
        "{turns:#?}"
    );
}

#[test]
fn with_moonshine_a_refused_question_is_reported_as_it_was_said() {
    // The hearing `emma run` uses where Moonshine is installed.
    let registry =
        emma_core::speech::ModelRegistry::new(emma_tests::speech::emma_home().join("models"));
    let mut f = fixture(
        |c| {
            let mut s = SpeechConfig::pocketsphinx_en_us().with_agreement_if_installed(&registry);
            assert!(s.agreement.is_some(), "scripts/setup installs Moonshine");
            s.denoise = true;
            c.speech = Some(s);
        },
        true,
    );
    let turns = speak(&f.assistant, &QUESTIONS[..4]);
    assert!(acted(&turns).is_empty(), "{:#?}", acted(&turns));
    assert!(f.published(Duration::from_secs(2)).is_empty());
    // A question Moonshine's transcript refused is reported in its words
    // ("Who won the football game yesterday?"), not as the command the
    // grammar forced it into ("want to talk to a agent", measured).
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3)
            .map(str::to_owned)
            .collect()
    };
    let in_its_words = turns
        .iter()
        .filter(|t| !t.handled && t.heard.chars().any(char::is_uppercase))
        .filter(|t| {
            QUESTIONS[..4].iter().any(|q| {
                words(&t.heard)
                    .iter()
                    .filter(|w| words(q).contains(w))
                    .count()
                    >= 2
            })
        })
        .count();
    assert!(in_its_words >= 1, "{turns:#?}");
}

#[test]
fn an_unsure_command_waits_for_yes_and_no_sends_nothing() {
    // Every command is unsure here, so each is asked about.
    let mut f = fixture(asking_from(f64::INFINITY), true);
    let turns = speak(
        &f.assistant,
        &[
            "turn on the kitchen light",
            "yes",
            "turn on the sofa lamp",
            "no",
        ],
    );
    let replies: Vec<&str> = turns.iter().map(|t| t.reply.as_str()).collect();
    assert_eq!(turns.len(), 4, "{replies:?}");
    assert_eq!(replies[0], "Did you say \"turn on the kitchen light\"?");
    assert!(turns[0].expects_answer && turns[0].commands.is_empty());
    assert_eq!(devices(&turns[1]), ["light.kitchen"], "{replies:?}");
    assert!(replies[2].starts_with("Did you say"), "{replies:?}");
    assert!(turns[3].commands.is_empty(), "{replies:?}");
    assert_eq!(replies[3], "Okay, sorry; please say it again");
    assert_eq!(f.published(Duration::from_secs(2)), ["light.kitchen"]);
}

#[test]
fn a_speech_calibration_is_saved_and_applied_for_its_grammar_only() {
    // Never asks by its own config, so an applied calibration shows as questions.
    let mut f = fixture(asking_from(f64::NEG_INFINITY), true);
    let command = "turn on the kitchen light";
    let options = CalibrationOptions {
        sentences: vec!["tell me a joke".into(), command.into()],
        voices: vec![Voice::clean("en-us", 175)],
        max_acted: 0.0,
        confidence: 0.95,
    };
    let mut calls = vec![];
    let c = f
        .assistant
        .calibrate_speech(&options, &mut |done, total| calls.push((done, total)))
        .unwrap();
    assert_eq!(
        c.skipped,
        [command],
        "the grammar's own command is not spoken"
    );
    assert_eq!((c.recordings, calls), (1, vec![(1, 1)]));
    let file = f._dir.path().join("speech-calibration.json");
    assert_eq!(
        Calibration::load(&file).unwrap(),
        c,
        "saved in the data directory"
    );

    // The next start applies the saved point: here one that asks about every command.
    let always_ask = Calibration {
        sure_word_loop_ratio: 100.0,
        ..c.clone()
    };
    always_ask.save(&file).unwrap();
    f.assistant.stop().unwrap();
    f.assistant.start().unwrap();
    let turns = speak(&f.assistant, &[command]);
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].reply, format!("Did you say \"{command}\"?"));
    assert!(turns[0].commands.is_empty());

    // One made for another grammar (a skill or a device changed it) is not.
    Calibration {
        fingerprint: "another grammar".into(),
        ..always_ask
    }
    .save(&file)
    .unwrap();
    f.assistant.stop().unwrap();
    f.assistant.start().unwrap();
    let turns = speak(&f.assistant, &[command]);
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(devices(&turns[0]), ["light.kitchen"], "{turns:?}");
    // A broken file does not keep the assistant from starting either.
    std::fs::write(&file, "not json").unwrap();
    f.assistant.stop().unwrap();
    f.assistant.start().unwrap();
    assert_eq!(
        f.published(Duration::from_secs(2)),
        ["light.kitchen"],
        "only the command acted on was sent"
    );
}

/// A device added or removed while the assistant runs changes the grammar: a
/// calibration made for the old one stops applying at once, and the saved one
/// applies again when the grammar is the one it was made for.
#[test]
fn a_speech_calibration_follows_the_grammar_while_devices_change() {
    let f = fixture(asking_from(f64::NEG_INFINITY), true);
    let command = "turn on the kitchen light";
    let options = CalibrationOptions {
        sentences: vec!["tell me a joke".into()],
        voices: vec![Voice::clean("en-us", 175)],
        max_acted: 0.0,
        confidence: 0.95,
    };
    let desk = || Device::new("light.desk", "desk lamp", Domain::Light).in_area("kitchen");
    let calibrate = |f: &Fixture| {
        f.assistant
            .calibrate_speech(&options, &mut |_, _| {})
            .unwrap()
    };
    // A turn brings the new lists into the grammar.
    let add_desk = |f: &Fixture| {
        let home = f.assistant.home().unwrap();
        home.registry().upsert_device(desk()).unwrap();
        f.say("what time is it");
    };
    let without = calibrate(&f);
    add_desk(&f);
    let with = calibrate(&f);
    assert_ne!(
        without.fingerprint, with.fingerprint,
        "device names are in the grammar"
    );

    // Saved for the grammar with the desk lamp: one that asks about every command.
    let file = f._dir.path().join("speech-calibration.json");
    Calibration {
        sure_word_loop_ratio: 100.0,
        ..with
    }
    .save(&file)
    .unwrap();
    f.assistant.stop().unwrap();
    f.assistant.start().unwrap();
    let asked = |f: &Fixture| {
        let turns = speak(&f.assistant, &[command]);
        assert_eq!(turns.len(), 1, "{turns:?}");
        let asked = turns[0].reply == format!("Did you say \"{command}\"?");
        assert_eq!(asked, turns[0].commands.is_empty(), "{turns:?}");
        asked
    };
    assert!(asked(&f), "the saved calibration applies on start");

    // The desk lamp goes: the grammar is another, and the calibration stops applying.
    f.assistant
        .home()
        .unwrap()
        .registry()
        .remove_device("light.desk")
        .unwrap();
    f.say("what time is it");
    assert!(
        !asked(&f),
        "a calibration made for another grammar still applied"
    );

    // It is back: so is the calibration made for that grammar.
    add_desk(&f);
    assert!(
        asked(&f),
        "the saved calibration did not apply to its grammar again"
    );
}
