//! Foreign-language bindings (Kotlin, Swift, Python) for Emma.
//!
//! Not built yet: the uniffi layer comes with its own issue. This crate exists
//! so the workspace layout is fixed; it exports nothing.
#![forbid(unsafe_code)]
