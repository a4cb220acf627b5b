//! Every example skill passes its own `skill-tests.toml` through the library
//! runner (`emma_skill_host::skill_tests`) that `emma skill test` uses, and the
//! runner fails a case whose expectation the skill does not meet.

mod skill_support;

use emma_skill_host::skill_tests::{self, FILE_NAME, TestFile};
use skill_support::{compiled, repo, runtime};

const EXAMPLES: [&str; 3] = [
    "skills/examples/coffee",
    "skills/examples/parcel",
    "skills/examples/lights",
];

#[test]
fn every_example_skill_passes_its_own_skill_tests_toml() {
    for rel in EXAMPLES {
        let file = TestFile::read(&repo().join(rel).join(FILE_NAME))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let (bundle, component) = compiled(rel);
        let mut seen = 0;
        let report = skill_tests::run(runtime(), &component, &bundle, &file, &mut |_| seen += 1);
        assert_eq!(seen, file.cases.len(), "{rel}: every case reported");
        let failures: Vec<_> = report
            .cases
            .iter()
            .filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.name)))
            .collect();
        assert!(failures.is_empty(), "{rel}: {failures:#?}");
        assert!(
            report.passed() >= 3,
            "{rel}: only {} cases",
            report.passed()
        );
    }
}

#[test]
fn a_case_the_skill_does_not_meet_fails_with_the_reason() {
    let rel = "skills/examples/coffee";
    let file = TestFile::parse(
        r#"
[[case]]
name = "wrong words"
intent = "OrderDrink"
slots = { drink = "latte" }
devices = { "coffee.machine" = "idle" }
speech_contains = ["a pony"]

[[case]]
name = "expects an error that does not come"
intent = "OrderDrink"
slots = { drink = "latte" }
devices = { "coffee.machine" = "idle" }
error = "missing slot"

[[case]]
name = "undeclared intent"
intent = "NoSuchIntent"
"#,
        "inline",
    )
    .unwrap();
    let (bundle, component) = compiled(rel);
    let report = skill_tests::run(runtime(), &component, &bundle, &file, &mut |_| {});
    assert_eq!(report.failed(), 3, "{report:#?}");
    let why = |i: usize| report.cases[i].failure.clone().unwrap();
    assert!(why(0).contains("does not contain `a pony`"), "{}", why(0));
    assert!(why(1).contains("expected an error"), "{}", why(1));
    assert!(why(2).contains("NoSuchIntent"), "{}", why(2));
}
