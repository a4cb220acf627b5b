//! Emma's intent engine: hassil-compatible sentence templates compiled into a
//! matcher, with confidence and rejection.
//!
//! It reads the Home Assistant intents format unchanged (`language`,
//! `intents`, `lists`, `expansion_rules`, `skip_words`; HA trees with
//! `sentences/`, `lists/`, `rules/`), compiles every template once, and
//! recognises text with hassil's `recognize_best` ranking (see [`engine`]).
//!
//! # Layout
//! - [`template`]: the template language parser.
//! - [`engine`]: compiling, ranking, confidence, runtime lists.
//! - [`harness`]: the Home Assistant test-suite runner behind `emma intents test`.
//! - [`grammar`]: export to a restricted-decoding speech grammar.
//! - [`merge`]: one engine from several sources (built-in intents, skills), each with its own lists.
//! - [`sample`]: bounded sample sentences of a source's templates (the assistant's shadowing check).
//! - `hassil_baseline` (feature `bench`): Python hassil measured against Emma for the benchmarks.
//! - [`SharedStr`]: names a match shares with the engine (intent, template, slots).
//! - [`Slots`]: a match's slots by name, a sorted vector.
//! - internal: `yaml` (budgeted YAML), `text` (normalisation), `lists`
//!   (slot lists as tries), `literals` (literal search over characters),
//!   `program` (compiled templates and the matcher), `prefilter`,
//!   `load` (finding files), `fuzzy`, `numbers`.
//!
//! This crate does no I/O except reading the intent files it is pointed at
//! (and, with the `bench` feature only, running the hassil baseline).
#![forbid(unsafe_code)]

pub mod engine;
mod error;
mod foreign;
mod fuzzy;
pub mod grammar;
pub mod harness;
#[cfg(feature = "bench")]
pub mod hassil_baseline;
pub mod import;
mod lists;
mod literals;
mod load;
pub mod merge;
mod numbers;
mod plausible;
mod prefilter;
mod program;
pub mod sample;
mod shared;
pub mod slots;
pub mod template;
mod text;
pub mod value;
mod yaml;

pub use engine::{Context, IntentEngine, IntentMatch, Recognition, Settings, SlotValue};
pub use error::{IntentError, Origin};
pub use lists::ListValue;
pub use merge::{IntentSource, Owners};
pub use sample::{Sample, SampleLimits, samples};
pub use shared::SharedStr;
pub use slots::Slots;
pub use value::Value;
