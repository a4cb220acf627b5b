//! Errors of the desk.

/// Something the desk refused or could not do, naming what and where.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The store (SQLite or PostgreSQL) failed.
    #[error("store ({backend}): {message}")]
    Store {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What failed.
        message: String,
    },
    /// The database URL or file cannot be used.
    #[error("database `{url}`: {message}")]
    Database {
        /// The URL or path given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The broker URL cannot be used.
    #[error("broker `{url}`: {message}")]
    Broker {
        /// The URL given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// An MQTT publish or subscribe failed.
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// No handoff with this id (for this agent's brand).
    #[error("handoff `{0}` does not exist")]
    UnknownHandoff(String),
    /// An agent tried to answer a handoff routed to someone else (or still in the queue).
    #[error("handoff `{handoff}` is not assigned to agent `{agent}`")]
    NotYours {
        /// The handoff.
        handoff: String,
        /// The agent who tried.
        agent: String,
    },
    /// The handoff was answered already; a second reply is refused.
    #[error("handoff `{0}` was already answered")]
    AlreadyAnswered(String),
    /// No agent with this id.
    #[error("agent `{0}` does not exist")]
    UnknownAgent(String),
    /// A field an agent or an administrator entered is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A message could not be encoded for the wire.
    #[error(transparent)]
    Wire(#[from] emma_handoff::WireError),
    /// Listening or serving HTTP failed.
    #[error("web server on {addr}: {message}")]
    Web {
        /// The address.
        addr: String,
        /// What failed.
        message: String,
    },
}

/// Result with [`DeskError`].
pub type Result<T, E = DeskError> = std::result::Result<T, E>;
