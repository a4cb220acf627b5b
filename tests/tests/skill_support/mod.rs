//! Shared helpers for the `skill_*` tests: build guest crates once per test
//! binary (in their own target dir, never the outer cargo's) and compile them once.

#![allow(dead_code)]

use emma_skill_host::guest_build::build_bundle;
use emma_skill_host::{
    Bundle, CompiledSkill, LocalServices, PermissionSet, SkillDb, SkillInstance, SkillRuntime,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Target dir for wasm guests, stable across runs so rebuilds are incremental.
pub fn guest_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skill-guests")
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds (once per test binary) the guest crate at `rel` (relative to the repo root) into a bundle.
pub fn bundle(rel: &str) -> Bundle {
    static BUNDLES: OnceLock<Mutex<HashMap<String, Bundle>>> = OnceLock::new();
    let map = BUNDLES.get_or_init(Default::default);
    if let Some(b) = map.lock().unwrap().get(rel) {
        return b.clone();
    }
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = map.lock().unwrap().get(rel) {
        return b.clone();
    }
    let b = build_bundle(&repo().join(rel), &guest_target())
        .unwrap_or_else(|e| panic!("building {rel}: {e}"));
    map.lock().unwrap().insert(rel.to_string(), b.clone());
    b
}

/// One runtime per test binary.
pub fn runtime() -> &'static SkillRuntime {
    static RT: OnceLock<SkillRuntime> = OnceLock::new();
    RT.get_or_init(|| SkillRuntime::new(Default::default()).expect("runtime"))
}

/// Compiles (once per test binary) the guest crate at `rel`.
pub fn compiled(rel: &str) -> (Bundle, CompiledSkill) {
    static COMPILED: OnceLock<Mutex<HashMap<String, CompiledSkill>>> = OnceLock::new();
    let b = bundle(rel);
    let map = COMPILED.get_or_init(Default::default);
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let c = map
        .lock()
        .unwrap()
        .entry(rel.to_string())
        .or_insert_with(|| runtime().compile(&b.component).expect("compile"))
        .clone();
    (b, c)
}

/// Loads a built guest with `grants`, a database and services.
pub fn load(rel: &str, grants: &[&str], db: SkillDb, services: LocalServices) -> SkillInstance {
    let (b, c) = compiled(rel);
    runtime()
        .load(
            &c,
            &b.manifest,
            PermissionSet::parse(grants.iter().copied()).unwrap(),
            db,
            Arc::new(services),
        )
        .expect("load")
}

/// Speech of a successful reply, or a panic naming what came back.
pub fn speech(outcome: &emma_skill_host::Outcome<emma_skill_host::Reply>) -> String {
    match &outcome.result {
        Ok(r) => r.speech.clone(),
        Err(e) => panic!("expected a reply, got skill error {e}"),
    }
}
