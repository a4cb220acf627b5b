//! Offline speech recognition for Emma: audio input, Vosk and PocketSphinx backends, endpointing, model management.
//!
//! Work in progress: see ARCHITECTURE.md for what this crate will own.
