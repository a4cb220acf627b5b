//! Where the shared, read-only test data lives, found the way the workspace's
//! own tests find it (`tests/src/lib.rs` `shared_data`): `EMMA_SHARED_DATA`
//! when set (the `data` directory itself), else `../shared/data` beside the
//! project root, else `../../shared/data` for a git worktree one level deeper.

use std::path::PathBuf;

/// The shared data directory (`…/shared/data`).
pub fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    // core/intent → the project root is two levels up.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let beside = root.join("../shared/data");
    let above = root.join("../../shared/data");
    if !beside.is_dir() && above.is_dir() {
        above
    } else {
        beside
    }
}

/// The Home Assistant intents snapshot (`shared/data/ha-intents`).
pub fn ha_intents() -> PathBuf {
    shared_data().join("ha-intents")
}
