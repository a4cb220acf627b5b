//! Building skills: a guest crate → core wasm (cargo, `wasm32-unknown-unknown`)
//! → component (`wit-component`) → bundle with `skill.toml` and `intents/*.yaml`.

use crate::bundle::Bundle;
use crate::error::HostError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Errors building a skill from source.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `Cargo.toml` lacks what is needed.
    #[error("{path}: {reason}")]
    CargoToml {
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// cargo failed.
    #[error(
        "cargo build of {dir} failed (exit {status}); install the target with `rustup target add wasm32-unknown-unknown` if missing:\n{stderr}"
    )]
    Cargo {
        /// Crate dir.
        dir: String,
        /// Exit status.
        status: String,
        /// cargo's stderr tail.
        stderr: String,
    },
    /// Componentizing failed.
    #[error(
        "could not turn {what} into a component: {reason}; was it built with the emma-skill SDK?"
    )]
    Componentize {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// The bundle could not be assembled.
    #[error(transparent)]
    Host(#[from] HostError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Wraps a core wasm module that carries `emma:skill` type metadata (from
/// wit-bindgen) into a component.
pub fn componentize(core: &[u8], what: &str) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| BuildError::Componentize {
            what: what.to_string(),
            reason: format!("{e:#}"),
        })
}

/// The `[package] name` of the crate in `dir`.
pub fn crate_name(dir: &Path) -> Result<String, BuildError> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| BuildError::CargoToml {
        path: path.display().to_string(),
        reason: e.message().to_string(),
    })?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| BuildError::CargoToml {
            path: path.display().to_string(),
            reason: "no [package] name".into(),
        })
}

/// Runs `cargo build --release --target wasm32-unknown-unknown` on the guest
/// crate in `dir` with its own `target_dir` (never the caller's, whose lock
/// an outer cargo may hold) and returns the core module's path.
pub fn cargo_build(dir: &Path, target_dir: &Path) -> Result<PathBuf, BuildError> {
    let name = crate_name(dir)?;
    let out = Command::new("cargo")
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .output()
        .map_err(io(dir))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        return Err(BuildError::Cargo {
            dir: dir.display().to_string(),
            status: out.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", name.replace('-', "_"))))
}

/// Reads `intents/<lang>.yaml` for each language the manifest lists.
fn read_intents(dir: &Path, bundle_langs: &[String]) -> Result<Vec<(String, String)>, BuildError> {
    let mut out = Vec::new();
    for lang in bundle_langs {
        let path = dir.join("intents").join(format!("{lang}.yaml"));
        if path.exists() {
            out.push((
                lang.clone(),
                std::fs::read_to_string(&path).map_err(io(&path))?,
            ));
        }
    }
    Ok(out)
}

/// Builds the skill crate in `dir` into an (unsigned) bundle.
pub fn build_bundle(dir: &Path, target_dir: &Path) -> Result<Bundle, BuildError> {
    let manifest_path = dir.join("skill.toml");
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
    let manifest =
        crate::manifest::Manifest::parse(&manifest_text, &manifest_path.display().to_string())
            .map_err(HostError::from)?;
    let wasm = cargo_build(dir, target_dir)?;
    let core = std::fs::read(&wasm).map_err(io(&wasm))?;
    let component = componentize(&core, &wasm.display().to_string())?;
    let intents = read_intents(dir, &manifest.languages)?;
    Ok(Bundle::new(manifest_text, component, intents).map_err(HostError::from)?)
}
