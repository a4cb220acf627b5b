//! On-disk cache of compiled components, keyed by the component's SHA-256 and
//! the engine's compatibility hash, so a restart does not recompile.
//!
//! Each artifact has a `.sha256` sidecar checked before loading: a corrupted
//! or swapped file is recompiled, never loaded.

use crate::error::HostError;
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

fn cache_err(path: &Path, reason: impl std::fmt::Display) -> HostError {
    HostError::Cache {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Loads the artifact for `key`, or `None` when absent, stale or damaged.
#[allow(unsafe_code)]
pub(crate) fn load(engine: &Engine, dir: &Path, key: &str) -> Result<Option<Component>, HostError> {
    let art = dir.join(format!("{key}.cwasm"));
    let sum = dir.join(format!("{key}.sha256"));
    let (Ok(bytes), Ok(expected)) = (std::fs::read(&art), std::fs::read_to_string(&sum)) else {
        return Ok(None);
    };
    if crate::bundle::hex(&Sha256::digest(&bytes)) != expected.trim() {
        tracing::warn!(path = %art.display(), "cached artifact does not match its checksum; recompiling");
        return Ok(None);
    }
    // SAFETY: `Component::deserialize` trusts its input to be an artifact this
    // engine produced. The file is in the host's private cache dir, was written
    // by `store` below from `Component::serialize`, and its SHA-256 was just
    // checked against the sidecar written with it; wasmtime itself rejects
    // artifacts from a different engine configuration or version.
    match unsafe { Component::deserialize(engine, &bytes) } {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            tracing::warn!(path = %art.display(), error = %e, "cached artifact unusable; recompiling");
            Ok(None)
        }
    }
}

/// Writes the artifact for `key` atomically (temp file + rename).
pub(crate) fn store(dir: &Path, key: &str, component: &Component) -> Result<(), HostError> {
    std::fs::create_dir_all(dir).map_err(|e| cache_err(dir, e))?;
    let bytes = component
        .serialize()
        .map_err(|e| cache_err(dir, format!("{e:#}")))?;
    let art = dir.join(format!("{key}.cwasm"));
    let tmp = dir.join(format!("{key}.cwasm.tmp"));
    std::fs::write(&tmp, &bytes).map_err(|e| cache_err(&tmp, e))?;
    std::fs::rename(&tmp, &art).map_err(|e| cache_err(&art, e))?;
    let sum = dir.join(format!("{key}.sha256"));
    std::fs::write(&sum, crate::bundle::hex(&Sha256::digest(&bytes)))
        .map_err(|e| cache_err(&sum, e))?;
    Ok(())
}
