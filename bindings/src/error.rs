//! The one error type every binding call throws: Kotlin `EmmaException`, Swift
//! `EmmaError`, Python `EmmaError`. Variants say which layer failed; the message
//! is the core error's text, which names what went wrong and what to do.

use emma_core::assistant::AssistantError;
use emma_core::intent::IntentError;
use emma_core::skills::HostError;
use emma_core::skills::permission::PermissionParseError;

/// An error from Emma, as foreign code sees it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum EmmaError {
    /// The assistant configuration is not valid (the message names the field).
    #[error("{0}")]
    Config(String),
    /// The assistant is not running: call `start()` first (or it was stopped).
    #[error("{0}")]
    NotRunning(String),
    /// An argument from the app is not valid (the message names it).
    #[error("{0}")]
    InvalidInput(String),
    /// Intent templates could not be loaded or compiled.
    #[error("{0}")]
    Intents(String),
    /// Installing, verifying, granting or running a skill failed, or an order proposal was refused.
    #[error("{0}")]
    Skills(String),
    /// The device layer (registry, broker, outbox) failed.
    #[error("{0}")]
    Devices(String),
    /// Speech recognition failed or is not configured.
    #[error("{0}")]
    Speech(String),
    /// The privacy stores (consents, ledger, customer data) failed or are busy.
    #[error("{0}")]
    Privacy(String),
    /// A blocking call was made from an event listener, which runs on the
    /// assistant's own thread: call it from another thread, or use its async form.
    #[error("{0}")]
    WrongThread(String),
    /// Something else inside the assistant failed.
    #[error("{0}")]
    Internal(String),
}

impl From<AssistantError> for EmmaError {
    fn from(e: AssistantError) -> Self {
        let msg = e.to_string();
        match e {
            AssistantError::Config { .. } => EmmaError::Config(msg),
            AssistantError::NotRunning | AssistantError::Stopped => EmmaError::NotRunning(msg),
            AssistantError::NoSpeech
            | AssistantError::Audio(_)
            | AssistantError::Speech(_)
            | AssistantError::Understand(_)
            | AssistantError::Calibration(_) => EmmaError::Speech(msg),
            AssistantError::Intents(_) | AssistantError::Shadows { .. } => EmmaError::Intents(msg),
            AssistantError::Devices(_) => EmmaError::Devices(msg),
            AssistantError::Skills(_) => EmmaError::Skills(msg),
            AssistantError::Privacy(_) => EmmaError::Privacy(msg),
            AssistantError::InListener { .. } => EmmaError::WrongThread(msg),
            AssistantError::Io { .. } => EmmaError::Internal(msg),
        }
    }
}

impl From<IntentError> for EmmaError {
    fn from(e: IntentError) -> Self {
        EmmaError::Intents(e.to_string())
    }
}

impl From<HostError> for EmmaError {
    fn from(e: HostError) -> Self {
        EmmaError::Skills(e.to_string())
    }
}

impl From<PermissionParseError> for EmmaError {
    fn from(e: PermissionParseError) -> Self {
        EmmaError::InvalidInput(e.to_string())
    }
}
