//! Emma against hassil on every language of the `home-assistant-intents`
//! package: a fixed-seed sample of sentences drawn from every language's
//! templates (`tests/data/differential/sample.json`, written by
//! `cargo bench -p emma-intent --bench differential -- --write-sample`, which
//! records hassil's answers), each recognised by Emma from the package JSON and
//! compared on intent, every slot (name, value, text) and the response key.
//!
//! The package comes from the venv `scripts/setup` creates
//! (`$EMMA_HOME/cache/bench-venv`); the sample records the package version it
//! was drawn from, and the test refuses to compare against another version.
//! The full run (every template, hassil live, agreement table and throughput)
//! is the `differential` benchmark.

#[path = "support/differential.rs"]
mod differential;

use std::collections::BTreeMap;
use std::path::PathBuf;

use differential::{LangSample, agreement, engine, package_data};

#[derive(serde::Deserialize)]
struct Sample {
    package_version: String,
    seed: u64,
    langs: BTreeMap<String, LangSample>,
}

fn sample() -> Sample {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/differential/sample.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn installed_version() -> String {
    let site = package_data().join("../..");
    std::fs::read_dir(&site)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("home_assistant_intents-")?
                .strip_suffix(".dist-info")
                .map(String::from)
        })
        .next()
        .expect("home_assistant_intents dist-info")
}

#[test]
fn every_package_language_agrees_with_hassil_on_the_fixed_sample() {
    let sample = sample();
    assert_eq!(
        sample.package_version,
        installed_version(),
        "the sample was drawn from another home-assistant-intents; rerun scripts/setup or \
         regenerate it with `cargo bench -p emma-intent --bench differential -- --write-sample`"
    );
    // Languages are independent: spread them over the machine's cores.
    let langs: Vec<(&String, &LangSample)> = sample.langs.iter().collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let results: Vec<(usize, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = langs
            .chunks(langs.len().div_ceil(threads))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(lang, s)| {
                            let engine = engine(lang);
                            let (n, agree, known, shown) = agreement(&engine, lang, s, 5);
                            // The best-only entry point answers what `recognize` does.
                            for case in &s.cases {
                                let ctx: emma_intent::Context = case.context.iter().collect();
                                assert_eq!(
                                    engine.recognize_best(&case.text, &ctx),
                                    engine.recognize(&case.text, &ctx).best,
                                    "{lang}: {:?}",
                                    case.text
                                );
                            }
                            let failure = (agree + known < n).then(|| {
                                format!("{lang}: {agree}+{known}/{n}\n  {}", shown.join("\n  "))
                            });
                            (n, failure)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().filter_map(|r| r.1).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let langs = differential::languages(&package_data());
    assert_eq!(
        langs,
        sample.langs.keys().cloned().collect::<Vec<_>>(),
        "sample (seed {}) must cover every language of the package",
        sample.seed
    );
    assert!(total >= 1000, "only {total} sampled sentences");
}

#[test]
fn the_comparison_notices_every_kind_of_difference() {
    use differential::{Answer, SlotAnswer, compare};
    let answer = |intent: &str, value: serde_json::Value, text: &str, response: &str| Answer {
        intent: intent.into(),
        slots: [(
            "device_class".to_string(),
            SlotAnswer {
                value,
                text: text.into(),
                wildcard: false,
            },
        )]
        .into(),
        response: Some(response.into()),
    };
    let list = serde_json::json!(["blind", "shade"]);
    let h = answer("HassTurnOn", list.clone(), "", "default");
    assert!(compare(Some(&h), Some(&h), false).is_empty());
    assert!(compare(None, None, false).is_empty());
    assert_eq!(compare(Some(&h), None, false).len(), 1);
    let joined = answer(
        "HassTurnOn",
        serde_json::json!("blind,shade"),
        "",
        "default",
    );
    assert_eq!(compare(Some(&h), Some(&joined), false).len(), 1);
    let number = answer("HassTurnOn", serde_json::json!(5), "", "default");
    let text = answer("HassTurnOn", serde_json::json!("5"), "", "default");
    assert_eq!(compare(Some(&number), Some(&text), false).len(), 1);
    let spoken = answer("HassTurnOn", list.clone(), "blinds", "default");
    assert_eq!(compare(Some(&h), Some(&spoken), false).len(), 1);
    let other = answer("HassTurnOn", list.clone(), "", "cover");
    assert_eq!(compare(Some(&h), Some(&other), false).len(), 1);
    let intent = answer("HassTurnOff", list, "", "default");
    assert_eq!(compare(Some(&h), Some(&intent), false).len(), 1);
}

/// `emma intents test ROOT --intents <package>/en.json`: the HA English suite
/// judged against the package's merged JSON instead of the YAML tree. The
/// shared tree and the package are different releases: 680 of 1,089 pass, and
/// the failures checked ("is the phone battery low?") fail in hassil with the
/// package too, so this pins the loading path, not parity (the differential
/// test does that).
#[test]
fn the_english_suite_runs_against_the_package_json() {
    let root = differential::shared::ha_intents();
    let json = package_data().join("en.json");
    let report =
        emma_intent::harness::run_suite_with(&root, Some(&json), "en", &mut |_| {}).unwrap();
    let failed: Vec<String> = report
        .failures()
        .take(10)
        .map(|o| {
            format!(
                "{:?}: {:?}",
                o.case.sentence,
                o.got.as_ref().map(|g| &g.intent)
            )
        })
        .collect();
    eprintln!(
        "en via package JSON: {} passed, {} failed",
        report.passed(),
        report.failed()
    );
    assert!(report.passed() >= 680, "{failed:?}");
}
