//! The one error type of the device layer.

use std::path::PathBuf;

/// Everything that can go wrong in the device layer.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// The SQLite database (registry or outbox) failed.
    #[error("device database {path}: {source}; check the file is writable and not corrupted")]
    Database {
        /// The database file (`:memory:` for in-memory databases).
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A row in the database could not be decoded.
    #[error(
        "device database {path}: row {key} is not valid ({reason}); remove it with `emma devices remove`"
    )]
    CorruptRow {
        /// The database file.
        path: PathBuf,
        /// The primary key of the bad row.
        key: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The outbox holds as many commands as it may while the broker is unreachable.
    #[error(
        "outbox full: {pending} commands are waiting for the broker (limit {limit}); check the broker connection, the command was not queued"
    )]
    OutboxFull {
        /// Commands waiting.
        pending: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A broker URL could not be parsed.
    #[error("broker url {url:?}: {reason}; expected mqtt://[user[:pass]@]host[:port] or mqtts://…")]
    BrokerUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Broker settings contradict each other (credentials without a URL, a password without a user).
    #[error("broker settings: {0}")]
    BrokerSettings(String),
    /// The embedded broker could not start.
    #[error("embedded broker on {addr}: {reason}")]
    EmbeddedBroker {
        /// The address it tried to listen on.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The MQTT client could not connect or talk to the broker.
    #[error("mqtt broker {broker}: {reason}")]
    Mqtt {
        /// `host:port` of the broker.
        broker: String,
        /// What went wrong.
        reason: String,
    },
    /// The bus task has stopped (after shutdown, or it failed).
    #[error("the mqtt bus has stopped; create a new one")]
    BusStopped,
    /// No device matches what was asked for.
    #[error("{0}")]
    NoSuchDevice(String),
    /// A device cannot do what was asked.
    #[error("device {device}: {reason}")]
    Unsupported {
        /// The device id.
        device: String,
        /// What it cannot do.
        reason: String,
    },
    /// Invalid input from a caller (a field, a value).
    #[error("{what}: {reason}")]
    Invalid {
        /// The thing that is invalid (a field name, `key=value`, a file and line).
        what: String,
        /// Why.
        reason: String,
    },
    /// The built-in or given intent templates could not be loaded.
    #[error("intents {origin}: {reason}")]
    Intents {
        /// The file or built-in name.
        origin: String,
        /// What the intent engine said.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = DevicesError> = std::result::Result<T, E>;

pub(crate) fn db_err(path: &std::path::Path) -> impl Fn(rusqlite::Error) -> DevicesError + '_ {
    move |source| DevicesError::Database {
        path: path.to_path_buf(),
        source,
    }
}
