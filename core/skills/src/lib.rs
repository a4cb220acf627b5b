//! Host runtime for Emma brand skills: sandboxed WebAssembly components with manifests, grants and limits.
//!
//! Work in progress: see ARCHITECTURE.md for what this crate will own.
