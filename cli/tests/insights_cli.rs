//! `emma insights` contract: what `emma run` did at this home, as a human report and as JSON.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn emma(home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_emma"))
        .env("EMMA_HOME", home)
        .args(args)
        .output()
        .expect("run the emma binary");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn insights_report_the_interactions_of_this_home() {
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = emma(home.path(), &["insights"]);
    assert!(ok, "{err}");
    assert!(out.contains("No interactions"), "{out}");

    let (ok, _, err) = emma(
        home.path(),
        &[
            "run",
            "--no-skills",
            "--json",
            "--text",
            "turn on the kitchen light",
            "--text",
            "tell me a joke",
            "--text",
            "what is the capital of france",
        ],
    );
    assert!(ok, "{err}");

    let (ok, out, err) = emma(home.path(), &["insights", "--json", "--days", "7"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["total"], 3);
    assert_eq!(v["trend"].as_array().unwrap().len(), 7);
    let top = v["top"].as_array().unwrap();
    let nu = top
        .iter()
        .find(|r| r["intent"] == "not-understood")
        .unwrap();
    assert_eq!(
        (nu["count"].as_u64(), nu["failure_rate"].as_f64()),
        (Some(2), Some(1.0))
    );
    assert_eq!(nu["handoff_rate"].as_f64(), Some(0.5));

    let (ok, out, err) = emma(home.path(), &["insights"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("3 interactions") && out.contains("not-understood"),
        "{out}"
    );
    assert!(
        out.contains("interactions ·"),
        "a sparkline, today on the right: {out}"
    );

    let (ok, _, err) = emma(home.path(), &["insights", "--days", "0"]);
    assert!(!ok && err.contains("--days"), "{err}");
}
