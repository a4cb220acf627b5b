//! Compiling in a child process (`emma skill compile-worker`): an over-time
//! compile is really stopped (the process is killed and reaped, nothing keeps
//! running), and compile memory is capped. Needs the `emma` binary of the same
//! build (`cargo build -p emma-cli`).

mod skill_support;

use emma_skill_host::{
    CompileWorker, HostError, LocalServices, PermissionSet, Request, RuntimeConfig, SkillDb,
    SkillRuntime,
};
use skill_support::{bundle, speech};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SKILL: &str = "skills/testdata/hostile";

/// The tests here look at this process's children: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn runtime(timeout: Duration, memory_mib: u64) -> SkillRuntime {
    SkillRuntime::new(RuntimeConfig {
        compile_timeout: timeout,
        compile_memory_mib: memory_mib,
        compile_worker: Some(CompileWorker {
            program: emma_tests::speech_corpus::emma_binary().unwrap(),
            args: vec!["skill".into(), "compile-worker".into()],
        }),
        max_instances: 4,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// Child processes of this test process, from /proc.
fn children() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(text.split_whitespace().map(str::to_string));
        }
    }
    out
}

#[test]
fn a_worker_compiles_a_skill_that_then_runs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime(Duration::from_secs(120), 2048);
    let b = bundle(SKILL);
    let c = rt.compile(&b.component).expect("compile in the worker");
    let mut skill = rt
        .load(
            &c,
            &b.manifest,
            PermissionSet::default(),
            SkillDb::in_memory().unwrap(),
            Arc::new(LocalServices::new()),
        )
        .unwrap();
    let o = skill.handle_intent(&Request::new("Hello", "en")).unwrap();
    assert_eq!(speech(&o), "hello friend");
}

#[test]
fn an_over_time_compile_is_killed_at_its_deadline() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime(Duration::from_millis(50), 2048);
    let b = bundle(SKILL);
    let started = Instant::now();
    let err = rt.compile(&b.component).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, HostError::CompileTimeout { .. }), "{err}");
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert!(
        children().is_empty(),
        "the worker must be gone: {:?}",
        children()
    );
}

#[test]
fn a_compile_over_its_memory_cap_is_rejected() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime(Duration::from_secs(120), 24);
    let err = rt.compile(&bundle(SKILL).component).unwrap_err();
    assert!(matches!(err, HostError::CompileMemory { mib: 24 }), "{err}");
    assert!(err.to_string().contains("24 MiB"), "{err}");
}
