//! The whole assistant for an app: create it from a config, start it, feed it
//! text or audio, receive every step as an event, plug in the app's own
//! speech synthesis (`emma_core::assistant::Assistant`).

use crate::devices::{DeviceInfo, DeviceListener, DeviceWatch, ForeignDeviceListener, SentCommand};
use crate::error::EmmaError;
use crate::jvm::attach_waker;
use crate::privacy::CustomerControl;
use crate::skills::{OrderLine, SkillManager};
use emma_core::assistant as core;
use emma_core::devices::EventFilter;
use emma_core::devices::wire::Action;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The assistant. Thread-safe: every method may be called from any thread.
#[derive(uniffi::Object)]
pub struct Assistant {
    /// The core assistant (itself an `Arc` handle over shared state).
    inner: core::Assistant,
}

/// How the assistant is put together; every field but `data_dir` has a default.
#[derive(Clone, uniffi::Record)]
pub struct AssistantConfig {
    /// Where devices, the command outbox and installed skills (`skills/`) are kept.
    pub data_dir: String,
    /// The customer's language: `en` or `de`.
    #[uniffi(default = "en")]
    pub language: String,
    /// Whose grants apply to skills.
    #[uniffi(default = "default")]
    pub customer: String,
    /// Speech recognition; `null` for a text-only assistant.
    #[uniffi(default = None)]
    pub speech: Option<SpeechConfig>,
    /// A wake phrase (`hey emma`); `null`: every utterance is for Emma.
    #[uniffi(default = None)]
    pub wake_phrase: Option<String>,
    /// Speech out for replies; `null`: text only.
    #[uniffi(default = None)]
    pub tts: Option<SpeechOut>,
    /// An external MQTT broker (`mqtt://user:pass@host:port`); `null`: the embedded one on 127.0.0.1.
    #[uniffi(default = None)]
    pub broker_url: Option<String>,
    /// More intent files or trees (hassil YAML, Rhino context, Alexa model).
    #[uniffi(default = [])]
    pub extra_intents: Vec<String>,
    /// Load every installed skill from `data_dir/skills`.
    #[uniffi(default = true)]
    pub load_skills: bool,
    /// How long a question (a room, yes or no) waits for the answer, in milliseconds.
    #[uniffi(default = 8000)]
    pub session_timeout_ms: u64,
    /// The speaking device's area: the default place for "turn on the lights".
    #[uniffi(default = None)]
    pub area: Option<String>,
    /// Intents below this confidence (0..1) are answered, never acted on.
    #[uniffi(default = 0.5)]
    pub confidence_threshold: f32,
    /// How long `stop` waits for queued device commands to reach the broker, in milliseconds.
    #[uniffi(default = 5000)]
    pub flush_timeout_ms: u64,
    /// This home's id in handoffs and touchpoint reports; `null`: made once and kept in `data_dir`.
    #[uniffi(default = None)]
    pub home_id: Option<String>,
    /// The brand whose desk answers requests for a person when no skill is involved; `null`: `emma`.
    #[uniffi(default = None)]
    pub handoff_brand: Option<String>,
}

/// Touchpoint aggregates sent to one brand: counts and latency percentiles per skill and intent.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TouchpointReport {
    /// The report's id.
    pub id: String,
    /// The brand it went to.
    pub brand: String,
    /// Start of the period, milliseconds since the Unix epoch.
    pub period_start_ms: u64,
    /// End of the period (exclusive).
    pub period_end_ms: u64,
    /// One row per skill and intent.
    pub stats: Vec<IntentStats>,
}

/// One row of a [`TouchpointReport`].
#[derive(Debug, Clone, uniffi::Record)]
pub struct IntentStats {
    /// The skill (`null`: Emma's own intents).
    pub skill: Option<String>,
    /// The intent (`not-understood` when none).
    pub intent: String,
    /// Interactions.
    pub count: u64,
    /// Not understood or failed.
    pub failures: u64,
    /// Handed to a person.
    pub handoffs: u64,
    /// Latency median, milliseconds.
    pub latency_p50_ms: u32,
    /// Latency 95th percentile, milliseconds.
    pub latency_p95_ms: u32,
    /// Latency 99th percentile, milliseconds.
    pub latency_p99_ms: u32,
    /// Times the customer was asked whether it helped.
    pub satisfaction_asked: u64,
    /// Times they said yes.
    pub satisfaction_positive: u64,
}

impl From<emma_core::handoff::TouchpointReport> for TouchpointReport {
    fn from(r: emma_core::handoff::TouchpointReport) -> Self {
        TouchpointReport {
            id: r.id,
            brand: r.brand,
            period_start_ms: r.period_start_ms,
            period_end_ms: r.period_end_ms,
            stats: r
                .stats
                .into_iter()
                .map(|s| IntentStats {
                    skill: s.skill,
                    intent: s.intent,
                    count: s.count,
                    failures: s.failures,
                    handoffs: s.handoffs,
                    latency_p50_ms: s.latency_p50_ms,
                    latency_p95_ms: s.latency_p95_ms,
                    latency_p99_ms: s.latency_p99_ms,
                    satisfaction_asked: s.satisfaction_asked,
                    satisfaction_positive: s.satisfaction_positive,
                })
                .collect(),
        }
    }
}

/// The speech recogniser.
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum SpeechEngine {
    /// Vosk (Kaldi): any Vosk model directory.
    Vosk,
    /// CMU PocketSphinx: Debian's en-us model (`/usr/share/pocketsphinx/model/en-us`).
    PocketSphinx,
}

/// Speech recognition settings.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SpeechConfig {
    /// The recogniser.
    pub engine: SpeechEngine,
    /// Its model directory.
    pub model: String,
    /// The model's language, when known (a mismatch with the assistant's is refused).
    #[uniffi(default = None)]
    pub model_language: Option<String>,
    /// Decode only the sentences the intents allow (`true`, best for commands) or freely.
    #[uniffi(default = true)]
    pub grammar: bool,
    /// A Moonshine model directory (English): wildcard slots ("add {item} to
    /// my shopping list"), which the grammar cannot enumerate, are heard in
    /// its transcript; `null`: off. Adds the transcription's time to
    /// utterances the grammar is not sure of (every utterance when the
    /// intents have wildcards).
    #[uniffi(default = None)]
    pub open_vocabulary_model: Option<String>,
    /// A Moonshine model directory (English grammar decoding): every command
    /// the grammar hears is checked against Moonshine's transcript of the
    /// utterance, and one it disagrees with is asked about or rejected
    /// (with `denoise`, the best measured: 95.8% of real orders right in
    /// kitchen noise against 86.5% without, and none of 780 spoken
    /// out-of-domain sentences acted on; docs/understand.md). Adds
    /// Moonshine's transcription to every command (about 0.1 s on two cores
    /// where the grammar heard it right, about 0.25 s otherwise) and about
    /// 550 MiB; `null`: off.
    #[uniffi(default = None)]
    pub agreement_model: Option<String>,
    /// Clean the audio with RNNoise before it is heard: a little better in
    /// kitchen noise, clean speech unchanged (docs/understand.md, "Speech
    /// enhancement before recognition"); off by default.
    #[uniffi(default = false)]
    pub denoise: bool,
}

/// How replies are spoken.
#[derive(uniffi::Enum)]
pub enum SpeechOut {
    /// espeak-ng (run as a subprocess).
    Espeak {
        /// Voice (`en-us`, `de`); `null` picks the language's.
        voice: Option<String>,
        /// Words per minute.
        speed: u32,
    },
    /// The app's own synthesis.
    Custom {
        /// The app's engine.
        engine: Arc<dyn TextToSpeech>,
    },
}

impl Clone for SpeechOut {
    fn clone(&self) -> Self {
        match self {
            SpeechOut::Espeak { voice, speed } => SpeechOut::Espeak {
                voice: voice.clone(),
                speed: *speed,
            },
            SpeechOut::Custom { engine } => SpeechOut::Custom {
                engine: engine.clone(),
            },
        }
    }
}

/// Synthesised speech.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ReplyAudio {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
    /// Length in seconds.
    pub duration_s: f64,
}

/// A recognised intent.
#[derive(Debug, Clone, uniffi::Record)]
pub struct IntentInfo {
    /// Intent name.
    pub name: String,
    /// Slot values.
    pub slots: HashMap<String, String>,
    /// Confidence in 0..1.
    pub confidence: f32,
    /// `built-in` or the skill id.
    pub handler: String,
}

/// What one utterance (typed or spoken) led to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Turn {
    /// What was heard or typed.
    pub heard: String,
    /// The intent acted on, if any.
    pub intent: Option<IntentInfo>,
    /// What Emma answered.
    pub reply: String,
    /// Device commands sent.
    pub commands: Vec<SentCommand>,
    /// Emma waits for an answer.
    pub expects_answer: bool,
    /// `built-in`, a skill id, or `dialog`.
    pub handled_by: Option<String>,
}

/// One step of the pipeline, as listeners receive it.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum AssistantEvent {
    /// The wake word was heard.
    Wake {
        /// The phrase.
        phrase: String,
        /// Detector score.
        score: f32,
    },
    /// The assistant listens for a command.
    Listening,
    /// A partial transcript while the customer speaks.
    Partial {
        /// Text so far.
        text: String,
    },
    /// The final transcript of an utterance (or the text given).
    Transcript {
        /// The text.
        text: String,
    },
    /// An intent was recognised.
    Intent {
        /// The intent.
        intent: IntentInfo,
    },
    /// Nothing was understood (Emma does not guess).
    NotUnderstood {
        /// What was heard.
        text: String,
        /// Why.
        reason: String,
    },
    /// A skill answered.
    SkillReply {
        /// The skill id.
        skill: String,
        /// What it says.
        speech: String,
    },
    /// A device command went into the outbox.
    DeviceCommand {
        /// Device id.
        device: String,
        /// MQTT topic.
        topic: String,
        /// MQTT payload.
        payload: String,
        /// `built-in` or the skill that asked.
        by: String,
    },
    /// A device command was refused (no grant, unknown device).
    CommandRefused {
        /// Device id.
        device: String,
        /// Who asked.
        by: String,
        /// Why.
        reason: String,
    },
    /// A device reported something.
    DeviceEvent {
        /// Device id.
        device: String,
        /// Event kind, e.g. `bean-level`.
        kind: String,
        /// Value.
        value: String,
    },
    /// A skill proposed an order the customer must confirm.
    Proposal {
        /// The skill.
        skill: String,
        /// Proposal id (confirm or decline it with `SkillManager`).
        id: String,
        /// What it would order.
        lines: Vec<OrderLine>,
        /// Note for the customer.
        note: String,
    },
    /// The customer decided on a proposal.
    ProposalDecided {
        /// Proposal id.
        id: String,
        /// `confirmed` or `declined`.
        decision: String,
    },
    /// A skill asked for a human.
    Handoff {
        /// The skill, if one asked.
        skill: Option<String>,
        /// Why.
        reason: String,
        /// What the human needs to know.
        summary: String,
    },
    /// A person's answer to a handoff that arrived after its session ended.
    Notification {
        /// Who sends it (the agent's name).
        from: String,
        /// The message.
        text: String,
        /// The handoff it answers, if any.
        handoff: Option<String>,
    },
    /// What Emma says.
    Reply {
        /// The text.
        text: String,
        /// Synthesised speech, when speech out is on.
        audio: Option<ReplyAudio>,
        /// Emma waits for an answer.
        expects_answer: bool,
    },
    /// Something failed; the session goes on.
    Error {
        /// Which step (`speech`, `skill`, `device`, `tts`, `event`).
        stage: String,
        /// What happened.
        message: String,
    },
}

/// An error a listener or speech engine written in the app reports
/// (an exception it throws arrives here too).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The app's code failed.
    #[error("{reason}")]
    Failed {
        /// What went wrong.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}

/// Receives every assistant event. Implemented by the app; called on the
/// assistant's thread, so return quickly. An exception it throws is logged
/// and the assistant goes on.
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: AssistantEvent) -> Result<(), CallbackError>;
}

/// The app's speech synthesis.
#[uniffi::export(with_foreign)]
pub trait TextToSpeech: Send + Sync {
    /// Speaks `text` in `language` (`en`, `de`).
    fn synthesize(&self, text: String, language: String) -> Result<ReplyAudio, CallbackError>;
}

/// Follows a speech calibration (`calibrateSpeech`). Implemented by the app;
/// called on a worker thread after each recording.
#[uniffi::export(with_foreign)]
pub trait CalibrationProgress: Send + Sync {
    /// `done` of `total` recordings understood.
    fn on_progress(&self, done: u32, total: u32);
}

/// What a speech calibration chose and measured (see `calibrateSpeech`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct SpeechCalibration {
    /// The word-loop ratio from which a spoken command is acted on without asking.
    pub sure_word_loop_ratio: f64,
    /// Recordings of sentences that are not commands, spoken and understood.
    pub recordings: u32,
    /// Of those, how many would be acted on at the chosen point.
    pub acted: u32,
    /// Of those, how many would be acted on at the default point.
    pub acted_at_default: u32,
}

impl From<emma_core::understand::Calibration> for SpeechCalibration {
    fn from(c: emma_core::understand::Calibration) -> Self {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SpeechCalibration {
            sure_word_loop_ratio: c.sure_word_loop_ratio,
            recordings: count(c.recordings),
            acted: count(c.acted),
            acted_at_default: count(c.acted_at_default),
        }
    }
}

/// Passes core events to an app's listener.
struct ForeignListener(Arc<dyn EventListener>);

impl core::EventListener for ForeignListener {
    fn on_event(&self, event: &core::AssistantEvent) {
        let _app = crate::callbacks::enter_app();
        if let Err(e) = self.0.on_event(event.clone().into()) {
            tracing::warn!("an app's event listener failed: {e}");
        }
    }
}

/// Lets the core call an app's speech synthesis.
struct ForeignTts(Arc<dyn TextToSpeech>);

impl core::TextToSpeech for ForeignTts {
    fn synthesize(&self, text: &str, language: &str) -> Result<core::ReplyAudio, String> {
        let _app = crate::callbacks::enter_app();
        let a = self
            .0
            .synthesize(text.into(), language.into())
            .map_err(|e| e.to_string())?;
        Ok(core::ReplyAudio {
            sample_rate: a.sample_rate,
            samples: a.samples,
            duration_s: a.duration_s,
        })
    }
}

fn blocking_failed(e: tokio::task::JoinError) -> EmmaError {
    EmmaError::Internal(format!("an assistant call failed: {e}"))
}

#[uniffi::export(async_runtime = "tokio")]
impl Assistant {
    /// Creates an assistant (the config is checked now; nothing runs until `start`).
    #[uniffi::constructor]
    pub fn new(config: AssistantConfig) -> Result<Arc<Self>, EmmaError> {
        Ok(Arc::new(Self {
            inner: core::Assistant::new(config.into())?,
        }))
    }

    /// Starts the broker connection, devices, skills and speech; starting twice does nothing.
    pub async fn start(&self) -> Result<(), EmmaError> {
        let inner = self.inner.clone();
        Ok(
            attach_waker(tokio::task::spawn_blocking(move || inner.start()))
                .await
                .map_err(blocking_failed)??,
        )
    }

    /// Stops cleanly (queued device commands are flushed first); stopping twice does nothing.
    pub async fn stop(&self) -> Result<(), EmmaError> {
        let inner = self.inner.clone();
        Ok(
            attach_waker(tokio::task::spawn_blocking(move || inner.stop()))
                .await
                .map_err(blocking_failed)??,
        )
    }

    /// Whether the assistant is started.
    pub fn is_running(&self) -> bool {
        self.inner.is_running()
    }

    /// Handles typed text as one utterance.
    pub async fn process_text(&self, text: String) -> Result<Turn, EmmaError> {
        Ok(attach_waker(self.inner.process_text_async(&text))
            .await?
            .into())
    }

    /// Handles typed text as one utterance, blocking the calling thread until
    /// the reply: for apps that already work on a thread of their own (Kotlin
    /// `Dispatchers.IO`, a Python worker thread, a command-line tool). It skips
    /// the hop through the app's event loop that an async call makes, so it
    /// costs the app less per call than `processText`. Never call it on a UI
    /// thread or an event loop; from an event listener it throws
    /// `WrongThread` (the listener runs on the thread that would answer).
    pub fn process_text_blocking(&self, text: String) -> Result<Turn, EmmaError> {
        Ok(self.inner.process_text(&text)?.into())
    }

    /// Feeds captured mono 16-bit audio at `sample_rate` Hz; turns arrive as events.
    pub fn process_audio(&self, samples: Vec<i16>, sample_rate: u32) -> Result<(), EmmaError> {
        Ok(self.inner.process_audio(core::AudioChunk::I16 {
            samples: &samples,
            rate: sample_rate,
        })?)
    }

    /// Feeds captured mono float audio (-1..1) at `sample_rate` Hz.
    pub fn process_audio_f32(&self, samples: Vec<f32>, sample_rate: u32) -> Result<(), EmmaError> {
        Ok(self.inner.process_audio(core::AudioChunk::F32 {
            samples: &samples,
            rate: sample_rate,
        })?)
    }

    /// Ends the audio stream: the last utterance is handled; returns every turn of the stream.
    pub async fn end_audio(&self) -> Result<Vec<Turn>, EmmaError> {
        let inner = self.inner.clone();
        let turns = attach_waker(tokio::task::spawn_blocking(move || inner.end_audio()))
            .await
            .map_err(blocking_failed)??;
        Ok(turns.into_iter().map(Into::into).collect())
    }

    /// Calibrates, for the intents the assistant understands now, from which
    /// acoustic fit a spoken command is acted on without asking "Did you say
    /// …?": speaks built-in sentences that are not commands with espeak-ng
    /// (installed on the device) and chooses the point from which, with 95%
    /// confidence, at most 2% of such speech would be acted on. Used at once
    /// and kept in the data directory for later starts; while a skill or a
    /// device name has changed the grammar since, the default is used.
    /// Takes minutes; audio waits meanwhile. Throws `NotRunning` when stopped
    /// and `Speech` without speech.
    pub async fn calibrate_speech(
        &self,
        progress: Option<Arc<dyn CalibrationProgress>>,
    ) -> Result<SpeechCalibration, EmmaError> {
        let inner = self.inner.clone();
        let c = attach_waker(tokio::task::spawn_blocking(move || {
            let options = emma_core::understand::CalibrationOptions::default();
            inner.calibrate_speech(&options, &mut |done, total| {
                if let Some(p) = &progress {
                    let _app = crate::callbacks::enter_app();
                    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                    p.on_progress(count(done), count(total));
                }
            })
        }))
        .await
        .map_err(blocking_failed)??;
        Ok(c.into())
    }

    /// Adds a listener receiving every event from now on.
    pub fn add_listener(&self, listener: Arc<dyn EventListener>) {
        self.inner.add_listener(Arc::new(ForeignListener(listener)))
    }

    /// The home's devices now.
    pub fn devices(&self) -> Result<Vec<DeviceInfo>, EmmaError> {
        Ok(self.inner.devices()?.into_iter().map(Into::into).collect())
    }

    /// Adds (or updates) a device the app knows about, e.g. one it set up itself.
    pub fn add_device(&self, device: DeviceInfo) -> Result<(), EmmaError> {
        Ok(self
            .inner
            .home()?
            .registry()
            .upsert_device(device.try_into()?)?)
    }

    /// Sends `assignment` (`state=on`, `brightness=40`, `color=red`, …) to device `device`.
    pub async fn control_device(
        &self,
        device: String,
        assignment: String,
    ) -> Result<Vec<SentCommand>, EmmaError> {
        let home = self.inner.home()?;
        let sent =
            attach_waker(home.command(&device, &Action::parse_assignment(&assignment)?)).await?;
        Ok(sent.into_iter().map(Into::into).collect())
    }

    /// Where the embedded broker listens (`127.0.0.1:PORT`), or `null` with an external broker or when stopped.
    pub fn broker_address(&self) -> Option<String> {
        self.inner.broker_addr().map(|a| a.to_string())
    }

    /// The intents the assistant understands, by handler (`built-in`, skill ids).
    pub fn intents(&self) -> Result<HashMap<String, Vec<String>>, EmmaError> {
        Ok(self.inner.intents()?.into_iter().collect())
    }

    /// Calls `listener` with every event of the devices whose id matches
    /// `pattern` (`*` for all, `light.*`) until the watch is cancelled or dropped.
    pub fn watch_devices(
        &self,
        pattern: String,
        listener: Arc<dyn DeviceListener>,
    ) -> Result<Arc<DeviceWatch>, EmmaError> {
        Ok(DeviceWatch::new(self.inner.watch_devices(
            EventFilter::devices(pattern),
            Arc::new(ForeignDeviceListener(listener)),
        )?))
    }

    /// This home's id in handoffs to people and touchpoint reports (made once, kept in the data
    /// directory, or the configured `home_id`).
    pub fn home_id(&self) -> Result<String, EmmaError> {
        Ok(self.inner.home_id()?)
    }

    /// The customer's answer to "did that help?" for the latest interaction; `false` when there
    /// was none yet.
    pub fn rate_latest_interaction(&self, positive: bool) -> Result<bool, EmmaError> {
        Ok(self.inner.rate_latest_interaction(positive)?)
    }

    /// Sends each brand the aggregates of its interactions since its last report, only where the
    /// customer consented to `touchpoints`; returns what was sent (no text, no audio).
    pub async fn report_touchpoints(&self) -> Result<Vec<TouchpointReport>, EmmaError> {
        let inner = self.inner.clone();
        let sent = attach_waker(tokio::task::spawn_blocking(move || {
            inner.report_touchpoints()
        }))
        .await
        .map_err(blocking_failed)??;
        Ok(sent.into_iter().map(Into::into).collect())
    }

    /// The customer's consents, ledger, export and erase for this assistant's home.
    pub fn customer_control(&self) -> Result<Arc<CustomerControl>, EmmaError> {
        CustomerControl::open(self.inner.config().data_dir.display().to_string())
    }

    /// The skills in this assistant's data directory, acting for its customer.
    pub fn skills(&self) -> Result<Arc<SkillManager>, EmmaError> {
        let c = self.inner.config();
        SkillManager::open(
            c.data_dir.join("skills").display().to_string(),
            c.customer.clone(),
        )
    }
}

impl From<AssistantConfig> for core::AssistantConfig {
    fn from(c: AssistantConfig) -> Self {
        let mut out = core::AssistantConfig::new(PathBuf::from(c.data_dir), &c.language);
        out.customer = c.customer;
        out.speech = c.speech.map(Into::into);
        out.wake = c
            .wake_phrase
            .map(|phrase| core::WakeConfig::pocketsphinx(&phrase));
        out.tts = match c.tts {
            None => core::TtsConfig::None,
            Some(SpeechOut::Espeak { voice, speed }) => core::TtsConfig::Espeak { voice, speed },
            Some(SpeechOut::Custom { engine }) => {
                core::TtsConfig::Custom(Arc::new(ForeignTts(engine)))
            }
        };
        out.broker = c
            .broker_url
            .map_or(core::BrokerChoice::Embedded, core::BrokerChoice::Url);
        out.extra_intents = c.extra_intents.into_iter().map(PathBuf::from).collect();
        out.load_skills = c.load_skills;
        out.session_timeout = Duration::from_millis(c.session_timeout_ms);
        out.area = c.area;
        out.confidence_threshold = c.confidence_threshold;
        out.flush_timeout = Duration::from_millis(c.flush_timeout_ms);
        out.handoff.home = c.home_id;
        if let Some(brand) = c.handoff_brand {
            out.handoff.brand = brand;
        }
        out
    }
}

impl From<SpeechConfig> for core::SpeechConfig {
    fn from(s: SpeechConfig) -> Self {
        core::SpeechConfig {
            engine: match s.engine {
                SpeechEngine::Vosk => emma_core::speech::Engine::Vosk,
                SpeechEngine::PocketSphinx => emma_core::speech::Engine::PocketSphinx,
            },
            model: PathBuf::from(s.model),
            model_language: s.model_language,
            decoding: if s.grammar {
                emma_core::understand::Decoding::Grammar
            } else {
                emma_core::understand::Decoding::Free
            },
            endpoint: Default::default(),
            agreement: s.agreement_model.map(PathBuf::from),
            open_vocabulary: s.open_vocabulary_model.map(PathBuf::from),
            denoise: s.denoise,
            rejection: Default::default(),
        }
    }
}

impl From<core::ReplyAudio> for ReplyAudio {
    fn from(a: core::ReplyAudio) -> Self {
        ReplyAudio {
            sample_rate: a.sample_rate,
            samples: a.samples,
            duration_s: a.duration_s,
        }
    }
}

impl From<core::IntentInfo> for IntentInfo {
    fn from(i: core::IntentInfo) -> Self {
        IntentInfo {
            name: i.name,
            slots: i.slots.into_iter().collect(),
            confidence: i.confidence,
            handler: i.handler,
        }
    }
}

impl From<core::Turn> for Turn {
    fn from(t: core::Turn) -> Self {
        Turn {
            heard: t.heard,
            intent: t.intent.map(Into::into),
            reply: t.reply,
            commands: t.commands.into_iter().map(Into::into).collect(),
            expects_answer: t.expects_answer,
            handled_by: t.handled_by,
        }
    }
}

impl From<core::AssistantEvent> for AssistantEvent {
    fn from(e: core::AssistantEvent) -> Self {
        use core::AssistantEvent as E;
        match e {
            E::Wake { phrase, score } => Self::Wake { phrase, score },
            E::Listening => Self::Listening,
            E::Partial { text } => Self::Partial { text },
            E::Transcript { text } => Self::Transcript { text },
            E::Intent {
                name,
                slots,
                confidence,
                handler,
            } => Self::Intent {
                intent: IntentInfo {
                    name,
                    slots: slots.into_iter().collect(),
                    confidence,
                    handler,
                },
            },
            E::NotUnderstood { text, reason } => Self::NotUnderstood { text, reason },
            E::SkillReply { skill, speech } => Self::SkillReply { skill, speech },
            E::DeviceCommand {
                device,
                topic,
                payload,
                by,
            } => Self::DeviceCommand {
                device,
                topic,
                payload,
                by,
            },
            E::CommandRefused { device, by, reason } => Self::CommandRefused { device, by, reason },
            E::DeviceEvent {
                device,
                kind,
                value,
            } => Self::DeviceEvent {
                device,
                kind,
                value,
            },
            E::Proposal {
                skill,
                id,
                lines,
                note,
            } => Self::Proposal {
                skill,
                id,
                lines: lines.into_iter().map(Into::into).collect(),
                note,
            },
            E::ProposalDecided { id, decision } => Self::ProposalDecided { id, decision },
            E::Handoff {
                skill,
                reason,
                summary,
            } => Self::Handoff {
                skill,
                reason,
                summary,
            },
            E::Notification {
                from,
                text,
                handoff,
            } => Self::Notification {
                from,
                text,
                handoff,
            },
            E::Reply {
                text,
                audio,
                expects_answer,
            } => Self::Reply {
                text,
                audio: audio.map(Into::into),
                expects_answer,
            },
            E::Error { stage, message } => Self::Error { stage, message },
        }
    }
}
