//! The assistant: one object from audio or text to device commands, skill
//! replies and a spoken answer. It is what `emma run`, `emma demo`, the
//! language bindings and protocol servers embed.
//!
//! # Design
//! An [`Assistant`] is a cheap handle (`Clone`, `Send`, `Sync`) over shared
//! state. It owns everything it needs, so callers need no ambient runtime:
//! - a tokio runtime for the device layer: the MQTT [`Bus`](emma_devices::Bus)
//!   with its durable outbox and the [`Home`](emma_devices::Home) that keeps
//!   the device registry current;
//! - the embedded broker (unless a broker URL is configured), started once and
//!   kept for the process (rumqttd has no stop call);
//! - the **conversation worker** (`conversation`), one thread that owns the one
//!   intent engine (built-in home intents + every loaded skill's templates +
//!   extra files, merged by [`intents`]), the skills (inside an
//!   [`EventRouter`](crate::events::EventRouter)), the built-in handlers and
//!   the dialog [`Session`](dialog::Session). Text, heard utterances and device
//!   events reach it as requests on one channel, so turns never interleave;
//! - for audio, a session thread per stream (`audio`) running the
//!   [`Understander`](crate::understand::Understander).
//!
//! - handoffs to people at the brand ([`handoff`]: asked for, not understood
//!   twice, or a skill's request; replies spoken or notified) and one
//!   touchpoint per turn ([`touchpoints`], reported to brands with consent);
//!   see `docs/handoff.md`.
//!
//! Every step is reported as an [`AssistantEvent`] to every subscriber
//! ([`Assistant::subscribe`], [`Assistant::add_listener`]).
//!
//! # Invariants
//! - A skill's device commands — through `devices.control` or the `actions`
//!   of its reply — pass the manifest ∧ customer-grant check and go through
//!   the same outbox as built-in commands. An action without a grant is
//!   refused, reported ([`AssistantEvent::CommandRefused`]) and never published.
//! - What is not understood, or understood below the confidence threshold,
//!   is answered, never acted on.
//! - A skill takes no sentence a built-in intent or another skill's intent
//!   takes unless its manifest declares it (`shadows`); [`check_install`]
//!   refuses it otherwise ([`shadow`]).
//! - A skill's event reply or proposal is never spoken while the customer is
//!   inside an utterance or answering a question: it is held, in order, and
//!   spoken after the turn (`conversation`).
//! - Text from skills is cleaned of control characters before it is shown or spoken.
//! - A device event reaches a skill only with the customer's `proactive` opt-in
//!   and `device-usage` consent, asked on every event; what a skill sees of the
//!   customer is filtered by consent, and every store and share of customer
//!   data is a ledger entry (`crate::consent`, `docs/privacy.md`).

mod audio;
pub mod bench;
mod calibration;
mod config;
mod conversation;
pub mod dialog;
mod error;
mod event;
pub mod handoff;
pub mod intents;
mod services;
pub mod shadow;
pub mod touchpoints;
mod tts;
mod wait;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use emma_devices::control::HomeControl;
use emma_devices::{
    BrokerConfig, Bus, BusOptions, Device, EmbeddedBroker, EventFilter, Home, Registry, StreamItem,
};
use emma_skill_host::{SkillHome, SkillRuntime};

pub use audio::{AudioChunk, MAX_CHUNK_SAMPLES};
pub use calibration::FILE as SPEECH_CALIBRATION_FILE;
pub use config::{AssistantConfig, BrokerChoice, SpeechConfig, TtsConfig, WakeConfig};
pub use conversation::MAX_TEXT_CHARS;
pub use error::AssistantError;
pub use event::{AssistantEvent, EventListener, EventReceiver, IntentInfo, ReplyAudio, Turn};
pub use handoff::HandoffConfig;
pub use shadow::Shadow;
pub use tts::{Espeak, TextToSpeech};
pub use watch::{DeviceListener, DeviceWatch};

use audio::AudioSession;
use conversation::{LoadedSkill, Request, Worker};
use dialog::{Responses, Session};
use event::Hub;
use services::HomeServices;

use crate::events::EventRouter;
use crate::understand::{Calibration, CalibrationOptions, Understander};

/// The assistant. Cheap to clone; every clone is the same assistant.
#[derive(Clone)]
pub struct Assistant {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant")
            .field("config", &self.shared.config)
            .field("running", &self.is_running())
            .finish()
    }
}

struct Shared {
    config: AssistantConfig,
    hub: Hub,
    runtime: tokio::runtime::Runtime,
    broker: Mutex<Option<EmbeddedBroker>>,
    state: Mutex<Option<Running>>,
    /// Notices failures within a turn, for its touchpoint (one listener for the assistant's life).
    turn_watch: Arc<touchpoints::TurnWatch>,
    /// When Emma last asked something: the answer needs no wake word.
    question: Arc<audio::QuestionWatch>,
}

/// Everything that exists only while the assistant runs.
struct Running {
    requests: mpsc::Sender<Request>,
    worker: Option<JoinHandle<()>>,
    bus: Bus,
    home: Home,
    events: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    understander: Arc<Mutex<Option<Understander>>>,
    wake: audio::WakeSlot,
    audio: Option<AudioSession>,
    broker_addr: Option<SocketAddr>,
    intents: BTreeMap<String, Vec<String>>,
    handoff: HandoffRunning,
    /// The data directory's lock, held while running (see [`lock_data_dir`]).
    _lock: std::fs::File,
}

/// Locks `dir` for one running assistant.
///
/// Two assistants on one data directory would share its outbox, ledger and
/// stores, and over an external broker fight over the home's MQTT session
/// (one client id per home): each would disconnect the other in turn. The
/// second one is refused instead, with what to do. The lock is an OS file
/// lock, released when the assistant stops or its process dies.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, AssistantError> {
    let path = dir.join("assistant.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AssistantError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AssistantError::Config {
            field: "data_dir".into(),
            reason: format!(
                "another Emma assistant is running on {} (it holds {}); stop it, or give this one its own data directory",
                dir.display(),
                path.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(AssistantError::Io {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

/// What handoffs and touchpoint reports need outside the worker.
struct HandoffRunning {
    home: String,
    touchpoints: Arc<touchpoints::TouchpointStore>,
    privacy: Arc<emma_privacy::Privacy>,
    reporter: Option<tokio::task::JoinHandle<()>>,
    replies: Option<tokio::task::JoinHandle<()>>,
}

impl Assistant {
    /// Creates an assistant from `config` (validated now; nothing starts until [`Assistant::start`]).
    pub fn new(config: AssistantConfig) -> Result<Assistant, AssistantError> {
        config.validate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("emma-assistant")
            .enable_all()
            .build()
            .map_err(|e| AssistantError::Io {
                path: "<tokio runtime>".into(),
                source: e,
            })?;
        let hub = Hub::default();
        let turn_watch = Arc::new(touchpoints::TurnWatch::default());
        hub.add_listener(turn_watch.clone());
        let question = Arc::new(audio::QuestionWatch::default());
        hub.add_listener(question.clone());
        Ok(Assistant {
            shared: Arc::new(Shared {
                config,
                hub,
                turn_watch,
                question,
                runtime,
                broker: Mutex::new(None),
                state: Mutex::new(None),
            }),
        })
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &AssistantConfig {
        &self.shared.config
    }

    /// Starts the broker connection, the device registry, the skills, the
    /// speech pipeline and the conversation worker. Starting a running
    /// assistant does nothing.
    pub fn start(&self) -> Result<(), AssistantError> {
        let mut state = self.state();
        if state.is_some() {
            return Ok(());
        }
        *state = Some(self.shared.start()?);
        Ok(())
    }

    /// Stops cleanly: the worker finishes the requests before this call,
    /// queued commands are flushed to the broker (for at most
    /// `flush_timeout`), skills are unloaded. Stopping a stopped assistant
    /// does nothing.
    pub fn stop(&self) -> Result<(), AssistantError> {
        not_in_listener("stop")?;
        let running = self.state().take();
        match running {
            Some(r) => self.shared.stop(r),
            None => Ok(()),
        }
    }

    /// Whether the assistant is started.
    pub fn is_running(&self) -> bool {
        self.state().is_some()
    }

    /// Handles typed text as one utterance; blocks until the reply.
    /// (From async code, use [`Assistant::process_text_async`].)
    pub fn process_text(&self, text: &str) -> Result<Turn, AssistantError> {
        not_in_listener("process_text")?;
        let (tx, rx) = mpsc::channel();
        self.send(Request::Text {
            text: text.to_string(),
            reply: Box::new(move |t| {
                let _ = tx.send(t);
            }),
        })?;
        wait::recv_soon(&rx, wait::POLL).map_err(|_| AssistantError::Stopped)?
    }

    /// Handles typed text as one utterance.
    ///
    /// The reply is polled for up to 100 µs before the call yields to its
    /// executor: a text turn usually ends by then, and the executor is not
    /// woken from another thread for it.
    pub async fn process_text_async(&self, text: &str) -> Result<Turn, AssistantError> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.send(Request::Text {
            text: text.to_string(),
            reply: Box::new(move |t| {
                let _ = tx.send(t);
            }),
        })?;
        if let Some(turn) = wait::try_soon(&mut rx, wait::ASYNC_POLL) {
            return turn.map_err(|_| AssistantError::Stopped)?;
        }
        rx.await.map_err(|_| AssistantError::Stopped)?
    }

    /// Acts on an intent another recogniser already found (a Wyoming
    /// client's `intent`, say) as if Emma had heard it: intent `name` with
    /// `slots` (values as the intents' lists define them) and confidence 1;
    /// `text` is what was said (it is logged as the turn's transcript and
    /// answers a pending question; when empty, the intent's name stands in).
    /// The dialog, handler routing and grant checks are those of speech.
    pub async fn process_intent_async(
        &self,
        name: &str,
        slots: BTreeMap<String, String>,
        text: &str,
    ) -> Result<Turn, AssistantError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let text = if text.trim().is_empty() { name } else { text };
        self.send(Request::Heard {
            understood: crate::understand::Understood {
                text: text.to_string(),
                intent: Some(name.to_string()),
                slots,
                confidence: 1.0,
                via: "given".into(),
                ..crate::understand::Understood::nothing()
            },
            reply: Box::new(move |t| {
                let _ = tx.send(t);
            }),
        })?;
        rx.await.map_err(|_| AssistantError::Stopped)?
    }

    /// Feeds captured audio (mono, any rate; see [`AudioChunk`]). Utterances
    /// are understood and acted on as the endpointer closes them; results
    /// arrive as events, and [`Assistant::end_audio`] returns the turns.
    pub fn process_audio(&self, chunk: AudioChunk<'_>) -> Result<(), AssistantError> {
        let pcm = chunk.to_16k()?;
        let mut state = self.state();
        let running = state.as_mut().ok_or(AssistantError::NotRunning)?;
        let speech = self
            .shared
            .config
            .speech
            .as_ref()
            .ok_or(AssistantError::NoSpeech)?;
        if running.audio.is_none() {
            let answering = self
                .shared
                .question
                .pending(self.shared.config.session_timeout);
            running.audio = Some(AudioSession::start(
                running.understander.clone(),
                running.wake.clone(),
                answering,
                speech.endpoint,
                running.requests.clone(),
                self.shared.hub.clone(),
            )?);
        }
        running.audio.as_ref().expect("started above").push(pcm)
    }

    /// Ends the current audio stream: the last utterance is understood and
    /// acted on; returns every turn of the stream. Without audio, no turns.
    pub fn end_audio(&self) -> Result<Vec<Turn>, AssistantError> {
        not_in_listener("end_audio")?;
        let session = {
            let mut state = self.state();
            let running = state.as_mut().ok_or(AssistantError::NotRunning)?;
            running.audio.take()
        };
        match session {
            Some(s) => s.finish(),
            None => Ok(Vec::new()),
        }
    }

    /// Calibrates, for the intents the assistant understands now, from which
    /// acoustic fit a spoken command is acted on without asking "Did you say
    /// …?" ([`crate::understand::calibrate`]): speaks built-in sentences that
    /// are not commands with espeak-ng and chooses the point from which so few
    /// would be acted on that, with 95% confidence, at most 2% of such speech
    /// is. The point is used at once and saved in the data directory, where
    /// the next start finds it. While a skill or a device name has changed the
    /// grammar since, the default is used (also at run time: it comes back
    /// when the grammar is the calibrated one again).
    /// Takes minutes with [`CalibrationOptions::default`]; audio waits
    /// meanwhile. `progress(done, total)` follows the recordings.
    pub fn calibrate_speech(
        &self,
        options: &CalibrationOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Calibration, AssistantError> {
        not_in_listener("calibrate_speech")?;
        let understander = {
            let state = self.state();
            let running = state.as_ref().ok_or(AssistantError::NotRunning)?;
            running.understander.clone()
        };
        let mut guard = understander.lock().unwrap_or_else(|e| e.into_inner());
        let u = guard.as_mut().ok_or(AssistantError::NoSpeech)?;
        calibration::calibrate(u, options, &self.shared.config.data_dir, progress)
    }

    /// A channel receiving every event from now on.
    pub fn subscribe(&self) -> EventReceiver {
        self.shared.hub.subscribe()
    }

    /// A callback receiving every event from now on (a panicking listener is caught and logged).
    pub fn add_listener(&self, listener: Arc<dyn EventListener>) {
        self.shared.hub.add_listener(listener);
    }

    /// The home's devices now.
    pub fn devices(&self) -> Result<Vec<Device>, AssistantError> {
        let state = self.state();
        let running = state.as_ref().ok_or(AssistantError::NotRunning)?;
        Ok(running.home.registry().devices().cloned().collect())
    }

    /// The home (registry, device commands), e.g. to register devices by hand.
    pub fn home(&self) -> Result<Home, AssistantError> {
        let state = self.state();
        Ok(state
            .as_ref()
            .ok_or(AssistantError::NotRunning)?
            .home
            .clone())
    }

    /// Where the embedded broker listens (`None` with an external broker or when stopped).
    pub fn broker_addr(&self) -> Option<SocketAddr> {
        self.state().as_ref().and_then(|r| r.broker_addr)
    }

    /// The intents the assistant understands, by handler (`built-in`, skill ids).
    pub fn intents(&self) -> Result<BTreeMap<String, Vec<String>>, AssistantError> {
        let state = self.state();
        Ok(state
            .as_ref()
            .ok_or(AssistantError::NotRunning)?
            .intents
            .clone())
    }

    /// This home's id: agent replies arrive on `emma/home/{id}/handoff/reply`
    /// (see [`HandoffConfig::home`]).
    pub fn home_id(&self) -> Result<String, AssistantError> {
        let state = self.state();
        Ok(state
            .as_ref()
            .ok_or(AssistantError::NotRunning)?
            .handoff
            .home
            .clone())
    }

    /// Reports every brand's touchpoint aggregates since its last report, through the outbox to
    /// `emma/desk/{brand}/touchpoints` — only what the customer consented to (`touchpoints`
    /// consent of the skill, or of `emma` for Emma's own intents); returns the reports queued.
    /// Also runs every [`HandoffConfig::report_every`].
    pub fn report_touchpoints(
        &self,
    ) -> Result<Vec<emma_handoff::TouchpointReport>, AssistantError> {
        not_in_listener("report_touchpoints")?;
        let (bus, h) = {
            let state = self.state();
            let r = state.as_ref().ok_or(AssistantError::NotRunning)?;
            (
                r.bus.clone(),
                (
                    r.handoff.touchpoints.clone(),
                    r.handoff.privacy.clone(),
                    r.handoff.home.clone(),
                ),
            )
        };
        let ttl = self.shared.config.handoff.ttl;
        self.shared
            .runtime
            .block_on(touchpoints::publish_reports(&bus, &h.0, &h.1, &h.2, ttl))
    }

    /// Records the customer's answer to "did that help?" (asked by the app or a skill) on the
    /// latest interaction's touchpoint; `false` when nothing was recorded yet.
    pub fn rate_latest_interaction(&self, positive: bool) -> Result<bool, AssistantError> {
        let store = {
            let state = self.state();
            let r = state.as_ref().ok_or(AssistantError::NotRunning)?;
            r.handoff.touchpoints.clone()
        };
        store.rate_latest(positive)
    }

    /// Runs `f` inside the assistant's runtime (for async device-layer calls from sync code).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.shared.runtime.block_on(f)
    }

    fn send(&self, req: Request) -> Result<(), AssistantError> {
        let state = self.state();
        let running = state.as_ref().ok_or(AssistantError::NotRunning)?;
        running
            .requests
            .send(req)
            .map_err(|_| AssistantError::Stopped)
    }

    fn state(&self) -> MutexGuard<'_, Option<Running>> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Refuses a call that waits for the assistant's threads when it is made
/// from an event listener (see [`EventListener`]).
fn not_in_listener(call: &'static str) -> Result<(), AssistantError> {
    if event::in_listener() {
        Err(AssistantError::InListener { call })
    } else {
        Ok(())
    }
}

impl Shared {
    /// The broker and this home's MQTT client id: `emma-{home id}`, stable across restarts, so the
    /// broker keeps the session (and agents' replies sent meanwhile) while the home is away.
    fn broker_config(
        &self,
        home: &str,
    ) -> Result<(BrokerConfig, Option<SocketAddr>), AssistantError> {
        let client_id = format!("emma-{home}");
        match &self.config.broker {
            BrokerChoice::Url(url) => {
                let mut c = BrokerConfig::from_url(url)?;
                if c.client_id.is_empty() {
                    c.client_id = client_id;
                }
                Ok((c, None))
            }
            BrokerChoice::Embedded => {
                let mut slot = self.broker.lock().unwrap_or_else(|e| e.into_inner());
                let broker = match slot.as_ref() {
                    Some(b) => b.clone(),
                    None => {
                        let b = EmbeddedBroker::start_default()?;
                        *slot = Some(b.clone());
                        b
                    }
                };
                Ok((broker.client_config(&client_id), Some(broker.addr())))
            }
        }
    }

    fn start(&self) -> Result<Running, AssistantError> {
        let c = &self.config;
        std::fs::create_dir_all(&c.data_dir).map_err(|e| AssistantError::Io {
            path: c.data_dir.display().to_string(),
            source: e,
        })?;
        let lock = lock_data_dir(&c.data_dir)?;
        let home_id = handoff::home_id(&c.data_dir, c.handoff.home.as_deref())?;
        let (broker, broker_addr) = self.broker_config(&home_id)?;
        // Agents' replies: subscribed before the bus connects, so none the broker kept for this
        // home's session while it was away is missed.
        let (reply_sink, replies) = tokio::sync::mpsc::channel(256);
        let mut options = BusOptions {
            outbox_path: c.data_dir.join("outbox.sqlite"),
            ..BusOptions::default()
        };
        if c.handoff.enabled {
            options
                .subscriptions
                .push((emma_handoff::topic::reply(&home_id), reply_sink));
        }
        let registry = Registry::open(c.data_dir.join("devices.sqlite"))?;
        // Consent, the ledger and retention (opening runs expiry).
        let privacy = Arc::new(emma_privacy::Privacy::open_dir(&c.data_dir)?);
        let (bus, home) = self.runtime.block_on(async {
            let (bus, replayed) = Bus::start(broker, options)?;
            if !replayed.is_empty() {
                tracing::info!(
                    commands = replayed.len(),
                    "replaying commands left in the outbox"
                );
            }
            let home = Home::start(bus.clone(), registry).await?;
            Ok::<_, AssistantError>((bus, home))
        })?;
        let rt = self.runtime.handle().clone();

        // Skills and the one intent engine.
        let mut sources = vec![
            intents::builtin_source(&c.language)?,
            intents::dialog_source(&c.language)?,
            handoff::intent_source(&c.language)?,
        ];
        let handoff_store = Arc::new(handoff::HandoffStore::open(&handoff::store_path(
            &c.data_dir,
        ))?);
        let touch_store = Arc::new(touchpoints::TouchpointStore::open(&c.data_dir)?);
        let mut brands = BTreeMap::new();
        // Skills whose brand takes handoffs (the customer granted them `handoff`).
        let mut staffed = std::collections::BTreeSet::new();
        for path in &c.extra_intents {
            sources.extend(intents::extra_sources(path)?);
        }
        let mut instances = Vec::new();
        let mut loaded = Vec::new();
        let mut skill_ids: Vec<String> = Vec::new();
        // Which skills' intents fit is decided before any skill is loaded; the
        // merged engine is compiled once (again only if a skill then fails to
        // load) and cloned for the speech understander.
        let (skill_home, routes) = if c.load_skills {
            let home_dir = c.data_dir.join("skills");
            let skill_home = SkillHome::open(&home_dir)?;
            let runtime = SkillRuntime::new(skill_home.runtime_config())?;
            let installed = skill_home.list()?;
            let candidates: Vec<(String, Option<emma_intent::IntentSource>)> = installed
                .iter()
                .map(|i| {
                    (
                        i.bundle.manifest.id.clone(),
                        intents::skill_source(&i.bundle, &c.language),
                    )
                })
                .collect();
            // A skill whose templates clash with what is loaded is skipped, loudly.
            let mut merged = intents::merge_skills(&sources, &candidates, &c.language)?;
            for (id, reason) in &merged.refused {
                self.skip_skill(id, reason);
            }
            for installed in installed
                .iter()
                .filter(|i| merged.accepted.contains(&i.bundle.manifest.id))
            {
                let id = installed.bundle.manifest.id.clone();
                let services = HomeServices::new(home.clone(), rt.clone(), &id, self.hub.clone());
                let sent = services.sent_log();
                // What the skill sees of the customer is filtered by consent, every share logged.
                let services = Arc::new(crate::consent::ConsentServices::new(
                    &id,
                    Arc::new(services),
                    privacy.clone(),
                ));
                match skill_home.load(&runtime, &id, &c.customer, services.clone()) {
                    Ok(instance) => {
                        let publisher = &installed.bundle.manifest.publisher;
                        let brand =
                            handoff::brand_id(publisher).unwrap_or_else(|| c.handoff.brand.clone());
                        brands.insert(id.clone(), brand);
                        if instance
                            .grants()
                            .allows(&emma_skill_host::Permission::Handoff)
                        {
                            staffed.insert(id.clone());
                        }
                        instances.push(instance);
                        loaded.push(LoadedSkill { sent, services });
                        skill_ids.push(id);
                    }
                    Err(e) => self.skip_skill(&id, &e.to_string()),
                }
            }
            if skill_ids != merged.accepted {
                // A skill failed to load: its intents leave the engine.
                let kept: Vec<_> = candidates
                    .into_iter()
                    .filter(|(id, _)| skill_ids.contains(id))
                    .collect();
                merged = intents::merge_skills(&sources, &kept, &c.language)?;
            }
            let routes = intents::routes(merged.engine, merged.owners, &skill_ids);
            (Some(skill_home), routes)
        } else {
            (None, intents::build(&sources, &c.language, &[])?)
        };
        let listing = conversation::handled_intents(&routes);
        let speaking = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let understander = match &c.speech {
            Some(s) => {
                let mut engine = routes.engine.clone();
                // The home's names and areas from the start: a grammar without them
                // would warn about empty lists and decode no device name.
                emma_devices::control::load_lists(&mut engine, &home.registry().intent_lists());
                let mut u = Understander::new(engine, s.engine, &s.model, s.decoding)?;
                u.set_rejection(s.rejection);
                u.set_denoise(s.denoise);
                if let Some(dir) = &s.agreement {
                    u.set_agreement(
                        emma_speech::Engine::Moonshine,
                        dir,
                        Some(crate::understand::AgreementRule::DEFAULT),
                    )?;
                    tracing::info!("speech: commands are checked against a Moonshine transcript");
                }
                if let Some(dir) = &s.open_vocabulary {
                    u.set_open_vocabulary(emma_speech::Engine::Moonshine, dir)?;
                    tracing::info!("speech: wildcard slots are heard by Moonshine");
                }
                calibration::restore(&mut u, &c.data_dir);
                u.watch_speech(speaking.clone());
                for w in u.warnings() {
                    tracing::info!("speech: {w}");
                }
                Some(u)
            }
            None => None,
        };
        let understander = Arc::new(Mutex::new(understander));
        let wake = match &c.wake {
            Some(w) => Some(emma_speech::wake::open_wake(
                w.engine, &w.phrase, &w.options,
            )?),
            None => None,
        };
        let wake: audio::WakeSlot = Arc::new(Mutex::new(wake));
        let handoffs = handoff::Handoffs::new(
            c.handoff.clone(),
            home_id.clone(),
            &c.language,
            brands,
            staffed,
            bus.clone(),
            rt.clone(),
            privacy.clone(),
            handoff_store,
            c.session_timeout,
        )?;
        // Retention: expiry ran on opening; it runs periodically from now on.
        let expiry =
            crate::consent::spawn_expiry(&rt, privacy.clone(), crate::consent::EXPIRY_EVERY);
        let worker = Worker {
            lang: c.language.clone(),
            responses: Responses::builtin(&c.language)?,
            routes,
            control: HomeControl::builtin(&c.language)?,
            // Device events reach a skill only with the customer's consent, asked on every event.
            router: EventRouter::new(instances).with_gate(Arc::new(
                crate::consent::EventConsent::new(
                    privacy.clone(),
                    loaded.iter().map(|l| l.services.clone()).collect(),
                ),
            )),
            skills: loaded,
            skill_home,
            home: home.clone(),
            rt: rt.clone(),
            hub: self.hub.clone(),
            session: Session::new(c.session_timeout),
            tts: match &c.tts {
                TtsConfig::None => None,
                TtsConfig::Espeak { voice, speed } => Some(Arc::new(Espeak {
                    voice: voice.clone(),
                    speed: *speed,
                })),
                TtsConfig::Custom(t) => Some(t.clone()),
            },
            area: c.area.clone(),
            threshold: c.confidence_threshold,
            generation: None,
            understander: understander.clone(),
            grammar_stale: false,
            data_dir: c.data_dir.clone(),
            privacy: privacy.clone(),
            handoffs,
            touch: touchpoints::Recorder::new(touch_store.clone(), self.turn_watch.clone()),
            speaking,
            held: std::collections::VecDeque::new(),
        };
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("emma-conversation".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| AssistantError::Io {
                path: "<conversation thread>".into(),
                source: e,
            })?;
        // Device events reach the worker (and through it, subscribed skills).
        let mut stream = home.subscribe(EventFilter::all());
        let forward = tx.clone();
        let events = self.runtime.spawn(async move {
            while let Some(item) = stream.next().await {
                match item {
                    StreamItem::Event(e) => {
                        if forward.send(Request::DeviceEvent(e)).is_err() {
                            break;
                        }
                    }
                    StreamItem::Missed(n) => {
                        tracing::warn!(missed = n, "the assistant fell behind on device events")
                    }
                }
            }
        });
        // Agents' replies reach the worker; touchpoint aggregates go out on schedule.
        let replies = c
            .handoff
            .enabled
            .then(|| self.runtime.spawn(handoff::forward(replies, tx.clone())));
        let reporter = c.handoff.report_every.map(|every| {
            let (bus, store, privacy, home) = (
                bus.clone(),
                touch_store.clone(),
                privacy.clone(),
                home_id.clone(),
            );
            let ttl = c.handoff.ttl;
            self.runtime.spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) =
                        touchpoints::publish_reports(&bus, &store, &privacy, &home, ttl).await
                    {
                        tracing::warn!(error = %e, "touchpoint report failed; retrying next period");
                    }
                }
            })
        });
        tracing::info!(
            language = %c.language,
            skills = listing.len().saturating_sub(1),
            home = %home_id,
            "assistant started"
        );
        Ok(Running {
            requests: tx,
            worker: Some(worker),
            bus,
            home,
            events,
            expiry,
            understander,
            wake,
            audio: None,
            broker_addr,
            intents: listing,
            handoff: HandoffRunning {
                home: home_id,
                touchpoints: touch_store,
                privacy,
                reporter,
                replies,
            },
            _lock: lock,
        })
    }

    fn skip_skill(&self, id: &str, reason: &str) {
        tracing::warn!(skill = %id, %reason, "skill not loaded");
        self.hub.emit(AssistantEvent::Error {
            stage: "skill".into(),
            message: format!("{id} was not loaded: {reason}"),
        });
    }

    fn stop(&self, mut r: Running) -> Result<(), AssistantError> {
        if let Some(audio) = r.audio.take() {
            let _ = audio.finish();
        }
        r.events.abort();
        for t in [r.handoff.reporter.take(), r.handoff.replies.take()]
            .into_iter()
            .flatten()
        {
            t.abort();
        }
        r.expiry.abort();
        let _ = r.requests.send(Request::Stop);
        if let Some(w) = r.worker.take() {
            let _ = w.join();
        }
        drop(r.home);
        let timeout = self.config.flush_timeout;
        let bus = r.bus;
        self.runtime.block_on(async {
            let flushed = bus.flush(timeout).await?;
            if !flushed {
                tracing::warn!(
                    "stopped with commands the broker has not acknowledged; they stay in the outbox and are sent on the next start"
                );
            }
            bus.shutdown().await?;
            Ok::<_, AssistantError>(())
        })?;
        tracing::info!("assistant stopped");
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let running = self.state.get_mut().ok().and_then(|s| s.take());
        if let Some(r) = running
            && let Err(e) = self.stop(r)
        {
            tracing::warn!(error = %e, "stopping the assistant on drop failed");
        }
    }
}

/// Checks, before installing `bundle`, that its intents shadow no built-in
/// intent and no installed skill's intent, by name or by sentence (see
/// [`intents::check_new_skill`]). Returns the overlaps the skill's manifest
/// declares under `shadows`, for the installer to show the customer.
pub fn check_install(
    home: &SkillHome,
    bundle: &emma_skill_host::Bundle,
) -> Result<Vec<Shadow>, AssistantError> {
    intents::check_new_skill(home, bundle)
}
