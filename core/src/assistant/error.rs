//! What can go wrong in the assistant, as one error type whose messages say what to do.

/// Why an assistant call failed.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    /// A configuration field is invalid.
    #[error("invalid assistant config: {field}: {reason}")]
    Config {
        /// The field (`language`, `speech.model`, …).
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The call needs a started assistant.
    #[error("the assistant is not running; call start() first")]
    NotRunning,
    /// Audio was given to an assistant configured without speech.
    #[error("this assistant has no speech recogniser; configure `speech` to process audio")]
    NoSpeech,
    /// Audio in a form the assistant cannot use.
    #[error("bad audio: {0}")]
    Audio(String),
    /// The speech engine failed.
    #[error(transparent)]
    Speech(#[from] emma_speech::SpeechError),
    /// Understanding speech failed.
    #[error(transparent)]
    Understand(#[from] crate::understand::UnderstandError),
    /// Calibrating speech failed, or a saved calibration cannot be read.
    #[error(transparent)]
    Calibration(#[from] crate::understand::CalibrationError),
    /// The intents could not be compiled (a clash between a skill and the built-ins, a bad template).
    #[error(transparent)]
    Intents(#[from] emma_intent::IntentError),
    /// A skill's sentences overlap a built-in intent's or another skill's and
    /// its manifest does not declare it.
    #[error(
        "{shadow}; change the skill's sentences, or list {} under `shadows` in its skill.toml if the overlap is deliberate",
        shadow.shadowed
    )]
    Shadows {
        /// The first overlap found.
        shadow: Box<super::shadow::Shadow>,
    },
    /// The device layer failed (database, broker, outbox).
    #[error(transparent)]
    Devices(#[from] emma_devices::DevicesError),
    /// The skill host failed (loading an installed skill).
    #[error(transparent)]
    Skills(#[from] emma_skill_host::HostError),
    /// The customer-control stores (consent, ledger) failed.
    #[error(transparent)]
    Privacy(#[from] emma_privacy::PrivacyError),
    /// An I/O error on the assistant's own files.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A call that waits for the assistant's own threads was made from an
    /// event listener, which runs on one of them: it would wait for itself.
    #[error(
        "{call} waits for the assistant's own thread, and was called from an event listener running on it; call it from another thread (or use its async form)"
    )]
    InListener {
        /// The call (`process_text`, `stop`, …).
        call: &'static str,
    },
    /// The assistant's worker stopped while the call was in flight (it was stopped or dropped).
    #[error("the assistant stopped while this call was in flight")]
    Stopped,
}
