//! The skill-host figures of `emma bench skills` without the rest of the CLI:
//! a release build of only the skill host (`emma-cli` also links the speech
//! engines), for measuring cold start from a cached artifact.
//!
//! ```text
//! cargo run --release -p emma-skill-host --example bench_skills [BUNDLE]
//! ```

use emma_skill_host::bench::{BenchConfig, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = std::env::args().nth(1).map(std::path::PathBuf::from);
    let scratch = std::env::temp_dir().join(format!("emma-bench-skills-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let cfg = BenchConfig {
        warm_calls: 20_000,
        skills: 100,
        scratch: scratch.clone(),
    };
    let metrics = run(&cfg, bundle.as_deref(), |stage| eprintln!("… {stage}"));
    let _ = std::fs::remove_dir_all(&scratch);
    for m in metrics? {
        let baseline = match (&m.baseline_name, m.baseline) {
            (Some(name), Some(b)) => format!("; {name}: {b:.3} {}", m.unit),
            _ => String::new(),
        };
        println!(
            "{:<48} {:>10.3} {:<3} target ≤ {} [{}{baseline}]",
            m.name,
            m.value,
            m.unit,
            m.target,
            if m.meets_target { "ok" } else { "MISSED" }
        );
    }
    Ok(())
}
