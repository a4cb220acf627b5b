//! What the assistant reports: every step of the pipeline as one typed,
//! JSON-serialisable [`AssistantEvent`], delivered to every subscriber.
//!
//! Subscribers are channels ([`EventReceiver`]) or callbacks
//! ([`EventListener`], what the bindings' foreign listeners implement). A
//! listener that panics is caught and logged; it never stops the pipeline.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emma_devices::SentCommand;
use emma_skill_host::types::OrderLine;
use serde::Serialize;

/// One step of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
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
        /// Intent name.
        name: String,
        /// Slot values.
        slots: BTreeMap<String, String>,
        /// Confidence in 0..=1.
        confidence: f32,
        /// Who handles it: `built-in` or a skill id.
        handler: String,
    },
    /// Nothing was understood (Emma does not guess).
    NotUnderstood {
        /// What was heard.
        text: String,
        /// Why (`no intent matched`, `confidence 0.31 below 0.50`, …).
        reason: String,
    },
    /// A skill answered.
    SkillReply {
        /// The skill id.
        skill: String,
        /// What it says (sanitised).
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
        /// `built-in` or the skill id that asked for it.
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
    /// A device reported something a skill subscribes to.
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
        /// Proposal id.
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
    /// Something for the customer outside a conversation: a person's answer to a handoff that
    /// arrived after its session ended (show it, or speak it when the customer is back).
    Notification {
        /// Who sends it (the agent's name, sanitised).
        from: String,
        /// The message (sanitised).
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
        /// The assistant waits for an answer (a room, a yes or no).
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

/// Synthesised speech.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyAudio {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    #[serde(skip)]
    pub samples: Vec<i16>,
    /// Length in seconds.
    pub duration_s: f64,
}

/// A recognised intent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentInfo {
    /// Intent name.
    pub name: String,
    /// Slot values.
    pub slots: BTreeMap<String, String>,
    /// Confidence in 0..=1.
    pub confidence: f32,
    /// `built-in` or the skill id.
    pub handler: String,
}

/// What one utterance (text or speech) led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// `built-in`, a skill id, or `dialog` (answers to Emma's own questions).
    pub handled_by: Option<String>,
    /// Whether the request was understood and carried out: a built-in
    /// command sent (or a question asked to complete it), a skill's answer,
    /// a dialog step. `false` when nothing (or too little) was understood,
    /// no device matched, the intent has no handler, the skill failed or
    /// every command it needed failed. Protocol servers map it to their
    /// success/failure answer (Wyoming's `handled` / `not-handled`).
    pub handled: bool,
}

/// A callback receiving every event (must return quickly; runs on the assistant's thread).
///
/// A listener must not wait for the assistant: the calls that block until the
/// assistant's own threads answer ([`Assistant::process_text`],
/// [`Assistant::end_audio`], [`Assistant::stop`],
/// [`Assistant::report_touchpoints`]) return
/// [`AssistantError::InListener`](super::AssistantError::InListener) when made
/// from inside `on_event`, instead of waiting for the thread that is running
/// the listener (a deadlock). Hand such work to another thread.
///
/// [`Assistant::process_text`]: super::Assistant::process_text
/// [`Assistant::end_audio`]: super::Assistant::end_audio
/// [`Assistant::stop`]: super::Assistant::stop
/// [`Assistant::report_touchpoints`]: super::Assistant::report_touchpoints
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: &AssistantEvent);
}

/// A channel receiving every event from the moment it subscribed.
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::Receiver<AssistantEvent>,
}

impl EventReceiver {
    /// Waits for the next event; `None` once the assistant is dropped.
    pub fn recv(&self) -> Option<AssistantEvent> {
        self.rx.recv().ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<AssistantEvent> {
        self.rx.try_recv().ok()
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<AssistantEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every event waiting now.
    pub fn drain(&self) -> Vec<AssistantEvent> {
        self.rx.try_iter().collect()
    }
}

thread_local! {
    /// How many listener calls this thread is inside (listeners may emit too).
    static IN_LISTENER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the current thread is running an [`EventListener`].
pub(crate) fn in_listener() -> bool {
    IN_LISTENER.with(|n| n.get() > 0)
}

/// Marks the current thread as inside a listener call until dropped.
struct ListenerScope;

impl ListenerScope {
    fn enter() -> Self {
        IN_LISTENER.with(|n| n.set(n.get() + 1));
        ListenerScope
    }
}

impl Drop for ListenerScope {
    fn drop(&mut self) {
        IN_LISTENER.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Fan-out to every subscriber.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    inner: Arc<Mutex<HubInner>>,
}

#[derive(Default)]
struct HubInner {
    channels: Vec<mpsc::Sender<AssistantEvent>>,
    listeners: Vec<Arc<dyn EventListener>>,
}

impl Hub {
    pub fn subscribe(&self) -> EventReceiver {
        let (tx, rx) = mpsc::channel();
        self.lock().channels.push(tx);
        EventReceiver { rx }
    }

    pub fn add_listener(&self, listener: Arc<dyn EventListener>) {
        self.lock().listeners.push(listener);
    }

    pub fn emit(&self, event: AssistantEvent) {
        tracing::debug!(?event, "assistant event");
        let listeners = {
            let mut inner = self.lock();
            // A dropped receiver unsubscribes.
            inner.channels.retain(|tx| tx.send(event.clone()).is_ok());
            inner.listeners.clone()
        };
        for l in listeners {
            let _scope = ListenerScope::enter();
            let call = std::panic::AssertUnwindSafe(|| l.on_event(&event));
            if std::panic::catch_unwind(call).is_err() {
                tracing::warn!("an event listener panicked; the assistant goes on");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The event for a command sent by `by`.
pub(crate) fn command_event(cmd: &SentCommand, by: &str) -> AssistantEvent {
    AssistantEvent::DeviceCommand {
        device: cmd.device.clone(),
        topic: cmd.topic.clone(),
        payload: cmd.payload.clone(),
        by: by.to_string(),
    }
}
