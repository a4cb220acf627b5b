//! The `emma privacy` command-line contract, on the real binary with a
//! throwaway `EMMA_HOME`.

use std::path::Path;
use std::process::{Command, Output};

fn emma(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emma"))
        .args(args)
        .env("EMMA_HOME", home)
        .output()
        .expect("run the emma binary")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn err(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected a failure");
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn consent_ledger_export_erase_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::create_dir_all(h.join("skills/installed")).unwrap();
    std::fs::write(h.join("skills/installed/coffee.emmaskill"), b"x").unwrap();

    // Unknown skill and category: clear errors naming them.
    let e = err(&emma(h, &["privacy", "consent", "grant", "tea", "orders"]));
    assert!(
        e.contains("unknown skill `tea`") && e.contains("coffee, emma"),
        "{e}"
    );
    let e = err(&emma(
        h,
        &["privacy", "consent", "grant", "coffee", "recordings"],
    ));
    assert!(e.contains("unknown data category `recordings`"), "{e}");
    let e = err(&emma(
        h,
        &[
            "privacy",
            "consent",
            "grant",
            "coffee",
            "orders",
            "--expires",
            "soon",
        ],
    ));
    assert!(e.contains("--expires `soon`"), "{e}");

    let out = ok(&emma(
        h,
        &[
            "privacy",
            "consent",
            "grant",
            "coffee",
            "profile:name",
            "--purpose",
            "greet me",
            "--expires",
            "30d",
        ],
    ));
    assert!(out.contains("coffee may use profile:name"), "{out}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(&emma(h, &["privacy", "consent", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["category"], "profile:name");
    assert!(list[0]["expires_ms"].as_u64().is_some());
    ok(&emma(
        h,
        &["privacy", "consent", "revoke", "coffee", "profile:name"],
    ));
    let e = err(&emma(
        h,
        &["privacy", "consent", "revoke", "coffee", "profile:name"],
    ));
    assert!(e.contains("no active consent"), "{e}");

    let ledger: serde_json::Value = serde_json::from_str(&ok(&emma(
        h,
        &[
            "privacy", "ledger", "--skill", "coffee", "--since", "1h", "--json",
        ],
    )))
    .unwrap();
    let actions: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["consent", "revoke"]);
    assert!(ok(&emma(h, &["privacy", "ledger", "--verify"])).contains("ledger intact: 2 entries"));

    // Export: atomic, and a bad path changes nothing.
    let e = err(&emma(h, &["privacy", "export", "/nonexistent/dir/x.json"]));
    assert!(e.contains("nothing was written"), "{e}");
    let file = h.join("out.json");
    ok(&emma(h, &["privacy", "export", file.to_str().unwrap()]));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["format"], "emma-customer-export");
    assert_eq!(doc["ledger"]["entries"].as_array().unwrap().len(), 2);

    // Erase asks for --yes, then reports per store.
    let e = err(&emma(h, &["privacy", "erase"]));
    assert!(e.contains("--yes"), "{e}");
    let out = ok(&emma(h, &["privacy", "erase", "--yes"]));
    assert!(out.contains("customer.sqlite"), "{out}");

    // Tampering is reported with exit status 1.
    rusqlite::Connection::open(h.join("ledger.sqlite"))
        .unwrap()
        .execute("UPDATE entries SET party = 'tea' WHERE seq = 1", [])
        .unwrap();
    let e = err(&emma(h, &["privacy", "ledger", "--verify"]));
    assert!(e.contains("tampered at entry 1"), "{e}");
}
