//! Compiling a component in a child process, so that a compile bomb is really
//! stopped: the child runs under an address-space limit (`RLIMIT_AS`) and is
//! killed at the compile deadline, instead of a thread that keeps burning CPU
//! and memory after the host gave up on it.
//!
//! The embedder names the worker program ([`CompileWorker`]); the `emma`
//! binary is its own worker (`emma skill compile-worker`, which calls
//! [`serve`]). The child reads component bytes on stdin and writes the
//! precompiled artifact on stdout; the host loads it like a cached artifact.

use crate::error::HostError;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How to start a compile worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWorker {
    /// The program, e.g. the `emma` binary itself.
    pub program: PathBuf,
    /// Its arguments, e.g. `["skill", "compile-worker"]`.
    pub args: Vec<String>,
}

/// Exit code of a worker whose compile failed (the reason is on stderr).
const EXIT_COMPILE_FAILED: i32 = 3;

/// Runs in the worker process: caps its own address space at `memory_mib`,
/// reads a component from stdin, compiles it with the engine settings of
/// `config` and writes the artifact to stdout.
pub fn serve(config: &crate::RuntimeConfig, memory_mib: u64) -> ! {
    let limit = memory_mib * 1024 * 1024;
    if let Err(e) = rlimit::Resource::AS.set(limit, limit) {
        eprintln!("compile worker: cannot limit memory: {e}");
        std::process::exit(EXIT_COMPILE_FAILED);
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(config.max_component_bytes as u64 + 1)
        .read_to_end(&mut bytes)
    {
        eprintln!("compile worker: reading the component: {e}");
        std::process::exit(EXIT_COMPILE_FAILED);
    }
    let result = wasmtime::Engine::new(&crate::runtime::compile_only_config(config))
        .and_then(|engine| engine.precompile_component(&bytes));
    match result {
        Ok(artifact) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&artifact).and_then(|()| out.flush()).is_err() {
                std::process::exit(EXIT_COMPILE_FAILED);
            }
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(EXIT_COMPILE_FAILED);
        }
    }
}

/// Compiles `bytes` in a worker process under `timeout` and `memory_mib`;
/// returns the precompiled artifact. The worker is killed and reaped at the
/// deadline, so nothing keeps running after `CompileTimeout`.
pub(crate) fn compile(
    worker: &CompileWorker,
    bytes: &[u8],
    timeout: Duration,
    memory_mib: u64,
) -> Result<Vec<u8>, HostError> {
    let engine_err = |what: &str, e: std::io::Error| {
        HostError::Engine(format!(
            "compile worker {}: {what}: {e}",
            worker.program.display()
        ))
    };
    let started = Instant::now();
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .arg("--memory-mib")
        .arg(memory_mib.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| engine_err("cannot start it", e))?;
    // Feed stdin and drain stdout/stderr on scoped threads: they end when the
    // child exits or is killed, before this function returns.
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = stdin.write_all(bytes);
        });
        let out = scope.spawn(move || {
            let mut v = Vec::new();
            let _ = stdout.read_to_end(&mut v);
            v
        });
        let err = scope.spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(engine_err("waiting for it", e));
                }
            }
        };
        let artifact = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        match status {
            None => Err(HostError::CompileTimeout {
                secs: timeout.as_secs(),
            }),
            Some(s) if s.success() => Ok(artifact),
            Some(s) if s.code() == Some(EXIT_COMPILE_FAILED) && !out_of_memory(&stderr) => {
                Err(HostError::Compile {
                    reason: stderr.trim().to_string(),
                })
            }
            Some(_) => Err(HostError::CompileMemory { mib: memory_mib }),
        }
    })
}

/// Whether a worker's stderr says it ran out of memory (allocation failure
/// aborts; wasmtime reports failed mmaps as errors).
fn out_of_memory(stderr: &str) -> bool {
    let s = stderr.to_lowercase();
    s.contains("memory allocation")
        || s.contains("cannot allocate memory")
        || s.contains("out of memory")
}
