//! Emma's engine, behind one crate.
//!
//! Emma turns what a customer says at home into actions: audio → text
//! ([`speech`]) → intent ([`intent`]) → brand skill ([`skills`]) → device
//! command or reply ([`devices`]). Each layer lives in its own crate so it can
//! change, build and be tested on its own; this crate re-exports them under
//! one name so applications depend on `emma-core` only.
//!
//! # Layout
//! - [`grammar`]: structured speech grammars shared by the intent engine and the recognisers.
//! - [`speech`]: audio input (WAV, raw PCM, microphones), Vosk and PocketSphinx, endpointing, models.
//! - [`intent`]: sentence templates, matching, confidence and rejection.
//! - [`skills`]: the WebAssembly sandbox brand skills run in.
//! - [`devices`]: the device registry and MQTT.
//! - [`understand`]: speech → intent, with grammar decoding and recovery of misheard or cut-off commands.
//! - [`events`]: device events delivered to subscribed, granted skills.
//! - [`assistant`]: the assistant — audio or text → intent → skill/device → reply, with dialog.
//! - [`wyoming`]: Emma as a Wyoming service (Home Assistant / Rhasspy voice pipelines).
//! - [`privacy`]: consent, the ledger of every store and share, retention, export and erase.
//! - [`consent`]: skill services filtered by consent, recording every share in the ledger.
#![forbid(unsafe_code)]

pub mod assistant;
pub mod consent;
pub mod events;

pub use emma_devices as devices;
pub use emma_grammar as grammar;
pub use emma_handoff as handoff;
pub use emma_intent as intent;
pub use emma_privacy as privacy;
pub use emma_skill_host as skills;
pub use emma_speech as speech;

pub mod understand;
pub mod wyoming;
