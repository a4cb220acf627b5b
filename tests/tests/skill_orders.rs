//! Order proposals end to end: the coffee example proposes a reorder when
//! its beans run low, the proposal is stored as pending in the skill home's
//! database, and only the customer confirms or declines it — through the
//! library and through `emma skill orders/confirm/decline` (needs the `emma`
//! binary of the same build, `cargo build -p emma-cli`).

mod skill_support;

use emma_skill_host::{
    DeviceEvent, Effect, HostError, LocalServices, OrderError, ProposalState, SkillHome,
    SkillRuntime,
};
use emma_tests::speech_corpus::emma_binary;
use skill_support::bundle;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

const COFFEE: &str = "skills/examples/coffee";

fn low_beans() -> DeviceEvent {
    DeviceEvent {
        device: "coffee.machine".into(),
        kind: "bean-level".into(),
        value: "12".into(),
    }
}

/// Installs the coffee example (dev bundle) under `home_dir` for `default`
/// with `order:propose` granted, lets it see low beans, returns the proposal id.
fn install_and_propose(home_dir: &Path) -> String {
    let path = home_dir.parent().unwrap().join("coffee.emmaskill");
    std::fs::write(&path, bundle(COFFEE).to_bytes(None)).unwrap();
    let home = SkillHome::open(home_dir).unwrap();
    let rt = SkillRuntime::new(home.runtime_config()).unwrap();
    let grant = "order:propose".parse().unwrap();
    home.install(&rt, &path, "default", &[grant], true).unwrap();
    let services = LocalServices::new().with_device("coffee.machine", "idle");
    let mut skill = home
        .load(&rt, "com.example.coffee", "default", Arc::new(services))
        .unwrap();
    let o = skill.handle_event(&low_beans()).unwrap();
    match &o.effects[..] {
        [Effect::OrderProposal { id, confirmed, .. }] => {
            assert!(!confirmed, "a skill never confirms its own proposal");
            id.clone()
        }
        other => panic!("expected one order proposal, got {other:?}"),
    }
}

fn emma(emma_home: &Path, args: &[&str]) -> Output {
    Command::new(emma_binary().unwrap())
        .env("EMMA_HOME", emma_home)
        .arg("skill")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn coffee_proposal_is_pending_until_the_customer_confirms_once() {
    let tmp = tempfile::tempdir().unwrap();
    let home_dir = tmp.path().join("skills");
    let id = install_and_propose(&home_dir);
    let second = install_and_propose(&home_dir);
    assert_ne!(id, second, "every proposal gets its own id");

    // Reopening the database (a restart) keeps them, pending.
    let home = SkillHome::open(&home_dir).unwrap();
    let orders = home.orders().unwrap();
    assert_eq!(orders.len(), 2);
    let p = &orders[0];
    assert_eq!(
        (p.id.as_str(), p.skill.as_str(), p.state),
        (id.as_str(), "com.example.coffee", ProposalState::Pending)
    );
    assert_eq!(p.lines[0].sku, "BEANS-HOUSE-1KG");
    assert_eq!(p.note, "Beans at 12%");
    assert!(p.created > 1_700_000_000, "created is a real timestamp");

    let confirmed = home.confirm(&id).unwrap();
    assert_eq!(confirmed.state, ProposalState::Confirmed);
    let err = home.confirm(&id).unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Order(OrderError::AlreadyDecided {
                state: ProposalState::Confirmed,
                ..
            })
        ),
        "{err}"
    );
    assert!(matches!(
        home.decline("424242"),
        Err(HostError::Order(OrderError::Unknown { .. }))
    ));
    assert_eq!(
        home.decline(&second).unwrap().state,
        ProposalState::Declined
    );
    let states: Vec<_> = SkillHome::open(&home_dir)
        .unwrap()
        .orders()
        .unwrap()
        .into_iter()
        .map(|p| p.state)
        .collect();
    assert_eq!(states, [ProposalState::Confirmed, ProposalState::Declined]);

    // Removing without erase keeps the history; erase removes it.
    home.remove("com.example.coffee", "default", false).unwrap();
    assert_eq!(home.orders().unwrap().len(), 2);
    home.remove("com.example.coffee", "default", true).unwrap();
    assert!(home.orders().unwrap().is_empty());
}

#[test]
fn cli_lists_confirms_and_declines_orders() {
    let tmp = tempfile::tempdir().unwrap();
    let emma_home = tmp.path().join("emma");
    std::fs::create_dir_all(&emma_home).unwrap();
    let id = install_and_propose(&emma_home.join("skills"));
    let other = install_and_propose(&emma_home.join("skills"));

    let out = emma(&emma_home, &["orders", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["state"], "pending");
    assert_eq!(v[0]["skill"], "com.example.coffee");
    assert_eq!(v[0]["lines"][0]["sku"], "BEANS-HOUSE-1KG");

    let out = emma(&emma_home, &["orders"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pending") && text.contains("House blend beans"),
        "{text}"
    );
    assert!(text.contains("2 pending"), "{text}");

    let out = emma(&emma_home, &["confirm", &id]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("confirmed order"));
    let out = emma(&emma_home, &["confirm", &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already confirmed"), "{err}");

    let out = emma(&emma_home, &["decline", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no order proposal `nope`"), "{err}");

    let out = emma(&emma_home, &["decline", &other]);
    assert!(out.status.success(), "{out:?}");
    let out = emma(&emma_home, &["orders", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["confirmed", "declined"]);
}
