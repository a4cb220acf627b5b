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
//! - Text from skills is cleaned of control characters before it is shown or spoken.

mod audio;
pub mod bench;
mod config;
mod conversation;
pub mod dialog;
mod error;
mod event;
pub mod intents;
mod services;
mod tts;

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
pub use config::{AssistantConfig, BrokerChoice, SpeechConfig, TtsConfig, WakeConfig};
pub use conversation::MAX_TEXT_CHARS;
pub use error::AssistantError;
pub use event::{AssistantEvent, EventListener, EventReceiver, IntentInfo, ReplyAudio, Turn};
pub use tts::{Espeak, TextToSpeech};

use audio::AudioSession;
use conversation::{LoadedSkill, Request, Worker};
use dialog::{Responses, Session};
use event::Hub;
use services::HomeServices;

use crate::events::EventRouter;
use crate::understand::Understander;

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
}

/// Everything that exists only while the assistant runs.
struct Running {
    requests: mpsc::Sender<Request>,
    worker: Option<JoinHandle<()>>,
    bus: Bus,
    home: Home,
    events: tokio::task::JoinHandle<()>,
    understander: Arc<Mutex<Option<Understander>>>,
    wake: audio::WakeSlot,
    audio: Option<AudioSession>,
    broker_addr: Option<SocketAddr>,
    intents: BTreeMap<String, Vec<String>>,
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
        Ok(Assistant {
            shared: Arc::new(Shared {
                config,
                hub: Hub::default(),
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
        let (tx, rx) = mpsc::channel();
        self.send(Request::Text {
            text: text.to_string(),
            reply: Box::new(move |t| {
                let _ = tx.send(t);
            }),
        })?;
        rx.recv().map_err(|_| AssistantError::Stopped)?
    }

    /// Handles typed text as one utterance.
    pub async fn process_text_async(&self, text: &str) -> Result<Turn, AssistantError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Request::Text {
            text: text.to_string(),
            reply: Box::new(move |t| {
                let _ = tx.send(t);
            }),
        })?;
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
            running.audio = Some(AudioSession::start(
                running.understander.clone(),
                running.wake.clone(),
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

impl Shared {
    fn broker_config(&self) -> Result<(BrokerConfig, Option<SocketAddr>), AssistantError> {
        let client_id = format!("emma-assistant-{}", std::process::id());
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
        let (broker, broker_addr) = self.broker_config()?;
        let options = BusOptions {
            outbox_path: c.data_dir.join("outbox.sqlite"),
            ..BusOptions::default()
        };
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
        ];
        for path in &c.extra_intents {
            sources.extend(intents::extra_sources(path)?);
        }
        let mut instances = Vec::new();
        let mut loaded = Vec::new();
        let mut skill_ids: Vec<String> = Vec::new();
        let skill_home = if c.load_skills {
            let home_dir = c.data_dir.join("skills");
            let skill_home = SkillHome::open(&home_dir)?;
            let runtime = SkillRuntime::new(skill_home.runtime_config())?;
            for installed in skill_home.list()? {
                let id = installed.bundle.manifest.id.clone();
                // A skill whose templates clash with what is loaded is skipped, loudly.
                let mut trial = sources.clone();
                trial.extend(intents::skill_source(&installed.bundle, &c.language));
                if let Err(e) = emma_intent::IntentEngine::from_sources(&trial, &c.language) {
                    self.skip_skill(&id, &e.to_string());
                    continue;
                }
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
                        sources = trial;
                        instances.push(instance);
                        loaded.push(LoadedSkill { sent, services });
                        skill_ids.push(id);
                    }
                    Err(e) => self.skip_skill(&id, &e.to_string()),
                }
            }
            Some(skill_home)
        } else {
            None
        };
        let routes = intents::build(&sources, &c.language, &skill_ids)?;
        let listing = conversation::handled_intents(&routes);
        let understander = match &c.speech {
            Some(s) => {
                let engine = intents::build(&sources, &c.language, &skill_ids)?.engine;
                let u = Understander::new(engine, s.engine, &s.model, s.decoding)?;
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
        let worker = Worker {
            lang: c.language.clone(),
            responses: Responses::builtin(&c.language)?,
            routes,
            control: HomeControl::builtin(&c.language)?,
            router: EventRouter::new(instances),
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
            privacy,
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
        tracing::info!(
            language = %c.language,
            skills = listing.len().saturating_sub(1),
            "assistant started"
        );
        Ok(Running {
            requests: tx,
            worker: Some(worker),
            bus,
            home,
            events,
            understander,
            wake,
            audio: None,
            broker_addr,
            intents: listing,
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

/// Checks, before installing `bundle`, that its intents clash with no
/// built-in intent and no installed skill's intent (see [`intents::check_new_skill`]).
pub fn check_install(
    home: &SkillHome,
    bundle: &emma_skill_host::Bundle,
) -> Result<(), AssistantError> {
    intents::check_new_skill(home, bundle)
}
