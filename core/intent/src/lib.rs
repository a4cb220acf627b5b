//! Emma's intent engine: hassil-compatible sentence templates compiled into a matcher, with confidence and rejection.
//!
//! Work in progress: see ARCHITECTURE.md for what this crate will own.
