//! Handling for Wyoming: a `transcript`, or an `intent` already recognised,
//! is carried out by the [`Assistant`] (devices, skills, dialog) and
//! answered `handled` or `not-handled`.
//!
//! [`Handle`] is what a session calls; [`AssistantHandler`] implements it
//! over a running [`Assistant`]: a transcript goes through
//! [`Assistant::process_text_async`], an intent through
//! [`Assistant::process_intent_async`], and the [`Turn`]'s
//! [`handled`](Turn::handled) decides the answer.
//!
//! One assistant serves every connection. Its dialog state (a pending
//! question such as "which room?", "turn it off" meaning the devices just
//! named) belongs to the home, not to a connection, as with several
//! microphones in one home; turns never interleave (the assistant serves
//! them one at a time).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use crate::assistant::{Assistant, Turn};

/// What to handle.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A sentence (a `transcript`).
    Text(String),
    /// An intent another recogniser found (an `intent`).
    Intent {
        /// Intent name, e.g. `HassTurnOn`.
        name: String,
        /// Slot values by slot name.
        slots: BTreeMap<String, String>,
        /// The sentence it was found in, when the client sent it.
        text: Option<String>,
    },
}

/// What handling came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    /// Whether it was carried out (`handled`) or not (`not-handled`).
    pub handled: bool,
    /// What to say to the user.
    pub reply: String,
}

impl From<&Turn> for Handling {
    fn from(turn: &Turn) -> Self {
        Handling {
            handled: turn.handled,
            reply: turn.reply.clone(),
        }
    }
}

/// Carries out requests.
pub trait Handle: Send + Sync + 'static {
    /// The handling model's name in `info`.
    fn name(&self) -> String;
    /// A description for `info`.
    fn description(&self) -> String;
    /// Handles `request`; an `Err` is a failure of the machinery (the
    /// assistant stopped), not a request Emma could not act on (that is
    /// `handled: false`).
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Handling, String>> + Send + '_>>;
}

/// Handling by a running [`Assistant`].
#[derive(Debug, Clone)]
pub struct AssistantHandler {
    assistant: Assistant,
    description: String,
}

impl AssistantHandler {
    /// Handles requests with `assistant` (which must be started). `info`
    /// describes it with the intents it handles, by handler.
    pub fn new(assistant: Assistant) -> Result<Self, String> {
        let intents = assistant
            .intents()
            .map_err(|e| format!("the assistant is not running: {e}"))?;
        let skills: Vec<&str> = intents
            .keys()
            .map(String::as_str)
            .filter(|h| *h != crate::assistant::intents::BUILTIN)
            .collect();
        let count: usize = intents.values().map(Vec::len).sum();
        let description = format!(
            "Emma assistant: {count} intents; devices over MQTT, dialog{}",
            if skills.is_empty() {
                String::new()
            } else {
                format!(", skills {}", skills.join(", "))
            }
        );
        Ok(AssistantHandler {
            assistant,
            description,
        })
    }
}

impl Handle for AssistantHandler {
    fn name(&self) -> String {
        format!("emma-assistant-{}", self.assistant.config().language)
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Handling, String>> + Send + '_>> {
        Box::pin(async move {
            let turn = match &request {
                Request::Text(text) => self.assistant.process_text_async(text).await,
                Request::Intent { name, slots, text } => {
                    self.assistant
                        .process_intent_async(name, slots.clone(), text.as_deref().unwrap_or(""))
                        .await
                }
            }
            .map_err(|e| format!("the assistant could not handle it: {e}"))?;
            Ok(Handling::from(&turn))
        })
    }
}
