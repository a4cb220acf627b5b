//! Harness shared by Emma's cross-crate integration tests (`tests/tests/*.rs`):
//! paths to the project's data, tools on the machine, free loopback ports.
#![forbid(unsafe_code)]

pub mod mosquitto;
pub mod ood_corpus;
pub mod s2i_bench;
pub mod speech;
pub mod speech_corpus;
use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared/data` beside the project root: read-only test data (Home
/// Assistant intents, wake-word recordings). `EMMA_SHARED_DATA` overrides
/// it; a checkout one level deeper (a git worktree under `wt/NAME`) finds
/// `../../shared/data` when `../shared/data` does not exist.
pub fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    let beside = workspace_root().join("../shared/data");
    let above = workspace_root().join("../../shared/data");
    if !beside.is_dir() && above.is_dir() {
        return above;
    }
    beside
}
