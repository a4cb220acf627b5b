//! The Wyoming protocol, which Home Assistant's voice pipeline and Rhasspy 3
//! use to talk to speech services, written in Rust: framing, events, audio
//! formats and a server that gives each connection its own session.
//!
//! A Wyoming message is a JSON header line (`type`, `version`, optional
//! `data_length` and `payload_length`), then `data_length` bytes of JSON data
//! (merged into the header's inline `data`), then `payload_length` bytes of
//! binary payload (PCM audio). The reference implementation is the PyPI
//! package `wyoming` (MIT); the event types and fields here follow it.
//!
//! This crate knows nothing about speech engines: a host implements
//! [`Handler`] (one per connection) and [`HandlerFactory`], and [`Server`]
//! does the rest. Everything a client sends is untrusted: frames are read
//! within [`Limits`], every failure names what was wrong, and one bad or idle
//! client never stops the others.
//!
//! # Layout
//! - [`frame`]: the wire format: [`FrameReader`] / [`FrameWriter`] with hard limits.
//! - [`event`]: typed events ([`Event`]) ↔ frames.
//! - [`info`]: the `info` answer to `describe` (programs, models, voices).
//! - [`audio`]: PCM formats and conversion of any rate/width/channels to the 16 kHz mono i16 Emma decodes.
//! - [`uri`]: `tcp://HOST:PORT`, `unix://PATH`, `stdio://`.
//! - [`server`]: accept loop, per-connection sessions, idle timeout, connection cap.
//! - [`zeroconf`]: announcing a server as `_wyoming._tcp.local.`.
#![forbid(unsafe_code)]

pub mod audio;
pub mod event;
pub mod frame;
pub mod info;
pub mod server;
pub mod uri;
pub mod zeroconf;

pub use audio::{AudioError, AudioFormat, TARGET_RATE, to_mono_i16};
pub use event::{Event, EventError};
pub use frame::{Frame, FrameError, FrameReader, FrameWriter, Limits};
pub use server::{
    Flow, Handler, HandlerError, HandlerFactory, Responder, Server, ServerError, ServerOptions,
    serve_connection,
};
pub use uri::{ServerUri, UriError};
