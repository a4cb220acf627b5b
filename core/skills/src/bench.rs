//! `emma bench skills`: warm-call latency, cold start from a cached artifact,
//! first compile time and memory per loaded skill, each printed against its
//! target and against a baseline measured in the same run.

use crate::error::HostError;
use crate::guest_build::BuildError;
use crate::runtime::{RuntimeConfig, SkillRuntime};
use crate::services::LocalServices;
use crate::storage::SkillDb;
use crate::trivial;
use crate::types::Request;
use crate::{Bundle, PermissionSet};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bench errors.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Host failure.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Building the trivial skill failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A call did not answer.
    #[error("bench call failed: {0}")]
    Call(String),
}

/// One measured number.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// What was measured.
    pub name: String,
    /// Measured value.
    pub value: f64,
    /// Unit of `value` and `target`.
    pub unit: String,
    /// Target (upper bound).
    pub target: f64,
    /// A baseline measured in the same run, in the same unit.
    pub baseline: Option<f64>,
    /// What the baseline is.
    pub baseline_name: Option<String>,
    /// Whether `value <= target`.
    pub meets_target: bool,
}

impl Metric {
    fn new(
        name: &str,
        value: f64,
        unit: &str,
        target: f64,
        baseline: Option<(&str, f64)>,
    ) -> Metric {
        Metric {
            name: name.into(),
            value,
            unit: unit.into(),
            target,
            baseline: baseline.map(|b| b.1),
            baseline_name: baseline.map(|b| b.0.to_string()),
            meets_target: value <= target,
        }
    }
}

/// Bench settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Warm calls to time.
    pub warm_calls: usize,
    /// Skills to load for the memory figure.
    pub skills: usize,
    /// Scratch dir for the artifact cache.
    pub scratch: std::path::PathBuf,
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Cold starts timed for the p50/p95 figures.
const COLD_STARTS: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark with the built-in trivial skill, or with `bundle`'s
/// component for the compile, cold-start and memory figures.
pub fn run(
    cfg: &BenchConfig,
    bundle: Option<&Path>,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Metric>, BenchError> {
    let trivial_bytes = trivial::trivial_component()?;
    let (real_bytes, real_manifest) = match bundle {
        Some(p) => {
            let b = Bundle::read(p).map_err(HostError::from)?;
            (b.component, b.manifest)
        }
        None => (
            trivial_bytes.clone(),
            trivial::trivial_manifest("bench.trivial"),
        ),
    };
    let cache = cfg.scratch.join("bench-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let rt = SkillRuntime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        max_instances: (cfg.skills as u32 + 8).max(16),
        ..RuntimeConfig::default()
    })?;
    let mut out = Vec::new();

    progress("first compile");
    let started = Instant::now();
    let compiled = rt.compile(&real_bytes)?;
    let first_compile = started.elapsed();
    let started = Instant::now();
    let _validate = wasmparser::Validator::new().validate_all(&real_bytes);
    let validate = started.elapsed();
    out.push(Metric::new(
        &format!("first compile ({} KiB component)", real_bytes.len() / 1024),
        first_compile.as_secs_f64() * 1e3,
        "ms",
        2000.0,
        Some(("validation only", validate.as_secs_f64() * 1e3)),
    ));

    progress("cold start");
    let mut colds = Vec::new();
    for _ in 0..COLD_STARTS {
        let started = Instant::now();
        let c = rt.compile(&real_bytes)?;
        if !c.from_cache {
            return Err(BenchError::Call("artifact cache missed".into()));
        }
        let mut skill = rt.load(
            &c,
            &real_manifest,
            PermissionSet::default(),
            SkillDb::in_memory().map_err(HostError::from)?,
            Arc::new(LocalServices::new()),
        )?;
        skill.install()?;
        colds.push(started.elapsed());
    }
    colds.sort();
    let mut warm_skill = rt.load(
        &compiled,
        &real_manifest,
        PermissionSet::default(),
        SkillDb::in_memory().map_err(HostError::from)?,
        Arc::new(LocalServices::new()),
    )?;
    let started = Instant::now();
    warm_skill.install()?;
    let instantiate_only = started.elapsed();
    for (name, p) in [
        ("cold start from cached artifact (p50)", 0.5),
        ("cold start from cached artifact (p95)", 0.95),
    ] {
        out.push(Metric::new(
            name,
            percentile(&colds, p).as_secs_f64() * 1e3,
            "ms",
            1.0,
            Some((
                "instantiate an already-loaded component",
                instantiate_only.as_secs_f64() * 1e3,
            )),
        ));
    }

    progress("warm calls");
    let trivial_compiled = rt.compile(&trivial_bytes)?;
    let mut trivial_skill = rt.load(
        &trivial_compiled,
        &trivial::trivial_manifest("bench.trivial"),
        PermissionSet::default(),
        SkillDb::in_memory().map_err(HostError::from)?,
        Arc::new(LocalServices::new()),
    )?;
    let req = Request::new("Ping", "en").slot("size", "large");
    let mut times = Vec::with_capacity(cfg.warm_calls);
    for _ in 0..cfg.warm_calls.max(1) {
        let started = Instant::now();
        let o = trivial_skill.handle_intent(&req)?;
        times.push(started.elapsed());
        if o.result.as_ref().map(|r| r.speech.as_str()) != Ok("ok") {
            return Err(BenchError::Call(format!("unexpected reply {:?}", o.result)));
        }
    }
    times.sort();
    // Baseline: the same request/reply conversion done natively, no wasm.
    let mut native = Vec::with_capacity(cfg.warm_calls);
    for _ in 0..cfg.warm_calls.max(1) {
        let started = Instant::now();
        let r = std::hint::black_box(req.clone());
        let reply = crate::types::Reply {
            speech: if r.intent == "Ping" {
                "ok".into()
            } else {
                String::new()
            },
            card: None,
            data: None,
            follow_up: None,
            actions: Vec::new(),
            handoff: None,
        };
        std::hint::black_box(reply);
        native.push(started.elapsed());
    }
    native.sort();
    out.push(Metric::new(
        "warm call latency, trivial handler (p50)",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        "µs",
        20.0,
        Some((
            "same request/reply built natively",
            percentile(&native, 0.5).as_secs_f64() * 1e6,
        )),
    ));
    out.push(Metric::new(
        "warm call latency, trivial handler (p99)",
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        "µs",
        100.0,
        Some((
            "same request/reply built natively",
            percentile(&native, 0.99).as_secs_f64() * 1e6,
        )),
    ));

    progress("memory");
    let before = rss_bytes().unwrap_or(0);
    let mut loaded = Vec::with_capacity(cfg.skills);
    for i in 0..cfg.skills {
        let m = crate::Manifest {
            id: format!("bench.skill{i}"),
            ..real_manifest.clone()
        };
        let mut s = rt.load(
            &compiled,
            &m,
            PermissionSet::default(),
            SkillDb::in_memory().map_err(HostError::from)?,
            Arc::new(LocalServices::new()),
        )?;
        s.install()?;
        loaded.push(s);
    }
    let after = rss_bytes().unwrap_or(0);
    let per_skill = after.saturating_sub(before) as f64 / cfg.skills.max(1) as f64 / 1024.0;
    out.push(Metric::new(
        &format!("memory per loaded skill ({} loaded)", cfg.skills),
        per_skill,
        "KiB",
        2048.0,
        Some((
            "component artifact size",
            compiled_size(&cache) as f64 / 1024.0,
        )),
    ));
    drop(loaded);
    Ok(out)
}

fn compiled_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}
