//! The one error type of the privacy layer.

use std::path::PathBuf;

/// Everything that can go wrong with consent, the ledger, export or erase.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A database failed.
    #[error("privacy database {path}: {source}; check the file is writable and not corrupted")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A consent names a skill that is not installed.
    #[error(
        "unknown skill `{skill}`: installed skills are {known}; install it with `emma skill install` first"
    )]
    UnknownSkill {
        /// The id asked for.
        skill: String,
        /// The skills that exist, comma-separated (`emma` is Emma itself).
        known: String,
    },
    /// A skill id is not well formed.
    #[error("invalid skill id `{0}`: ids are 1-64 ASCII letters, digits, '_', '-' or '.'")]
    InvalidSkill(String),
    /// A data category could not be parsed.
    #[error(transparent)]
    Category(#[from] crate::category::CategoryParseError),
    /// Revoking a consent that was never granted (or is already revoked).
    #[error(
        "skill `{skill}` has no active consent for `{category}`; see `emma privacy consent list`"
    )]
    NotGranted {
        /// Skill id.
        skill: String,
        /// Category.
        category: String,
    },
    /// A value is out of range (an expiry in the past, an empty purpose…).
    #[error("{what}: {reason}")]
    Invalid {
        /// What was wrong.
        what: String,
        /// Why.
        reason: String,
    },
    /// The export file could not be written; nothing was changed.
    #[error("export to {path}: {reason}; nothing was written")]
    Export {
        /// The target path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another process holds a store open, so erase cannot prove the WAL is empty.
    #[error(
        "{path} is in use by another process (its write-ahead log could not be truncated); stop Emma and run erase again"
    )]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`PrivacyError`].
pub type Result<T, E = PrivacyError> = std::result::Result<T, E>;

/// Maps a SQLite error on `path` into [`PrivacyError::Database`].
pub(crate) fn db_err(path: &std::path::Path) -> impl Fn(rusqlite::Error) -> PrivacyError + '_ {
    move |source| PrivacyError::Database {
        path: path.to_path_buf(),
        source,
    }
}
