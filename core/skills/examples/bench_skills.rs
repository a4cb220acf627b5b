//! The skill-host benchmark (`emma bench skills`) without the CLI, so that it
//! can be measured in a release build of the host alone (wasmtime and the
//! host, not the speech engines):
//!
//! ```sh
//! cargo run --release -p emma-skill-host --example bench_skills -- [WARM_CALLS] [SKILLS]
//! ```
//!
//! Prints one line per metric with its target and the baseline measured in
//! the same run.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let warm_calls = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let skills = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let scratch = std::env::temp_dir().join(format!("emma-bench-skills-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let cfg = emma_skill_host::bench::BenchConfig {
        warm_calls,
        skills,
        scratch: scratch.clone(),
    };
    let result = emma_skill_host::bench::run(&cfg, None, |stage| eprintln!("bench: {stage}"));
    let _ = std::fs::remove_dir_all(&scratch);
    for m in result? {
        let baseline = match (&m.baseline_name, m.baseline) {
            (Some(name), Some(b)) if b > 0.0 => format!("; {:.1}x {name} ({b:.3} {})", m.value / b, m.unit),
            _ => String::new(),
        };
        println!(
            "{:<48} {:>10.3} {:<3} target <= {} [{}{baseline}]",
            m.name,
            m.value,
            m.unit,
            m.target,
            if m.meets_target { "ok" } else { "MISSED" },
        );
    }
    Ok(())
}
