//! Consent, the ledger and export through the [`Privacy`] handle.

mod common;

use common::{Canaries, plant, scaffold};
use emma_privacy::{Category, Filter, Privacy, PrivacyError, Reason, Verification, now_ms};

fn home() -> (tempfile::TempDir, Privacy) {
    let dir = tempfile::tempdir().unwrap();
    scaffold(dir.path());
    let p = Privacy::open_dir(dir.path()).unwrap();
    (dir, p)
}

#[test]
fn profile_is_shared_only_with_consent_and_revoke_is_immediate() {
    let (_d, p) = home();
    let now = now_ms();
    p.set_profile("name", "Ada", Reason::customer(), now)
        .unwrap();
    p.set_profile("email", "ada@example.org", Reason::customer(), now)
        .unwrap();
    let why = || Reason::intent("coffee.greet");
    assert_eq!(p.profile_for("coffee", "name", why(), now).unwrap(), None);

    let c = p
        .grant(
            "coffee",
            &"profile:name".parse().unwrap(),
            "greet me by name",
            None,
            now,
        )
        .unwrap();
    assert_eq!(
        p.profile_for("coffee", "name", why(), now)
            .unwrap()
            .as_deref(),
        Some("Ada")
    );
    assert_eq!(
        p.profile_for("coffee", "email", why(), now).unwrap(),
        None,
        "each field on its own"
    );
    assert_eq!(
        p.profile_for("parcel", "name", why(), now).unwrap(),
        None,
        "each skill on its own"
    );

    // The share is in the ledger, with its consent and reason, without the value.
    let shares: Vec<_> = p
        .ledger()
        .entries(&Filter {
            party: Some("coffee".into()),
            ..Filter::default()
        })
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "share")
        .collect();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].category, "profile");
    assert_eq!(shares[0].field.as_deref(), Some("name"));
    assert_eq!(shares[0].consent, Some(c.id));
    assert_eq!(shares[0].reason, "intent:coffee.greet");
    assert!(!serde_json::to_string(&shares).unwrap().contains("Ada"));

    p.revoke("coffee", Some(&Category::Profile("name".into())), now + 1)
        .unwrap();
    assert_eq!(
        p.profile_for("coffee", "name", why(), now + 2).unwrap(),
        None
    );

    // Expiry ends a consent by itself.
    p.grant(
        "coffee",
        &Category::Profile("name".into()),
        "greet",
        Some(now + 100),
        now + 3,
    )
    .unwrap();
    assert!(p.allows("coffee", &Category::Profile("name".into()), now + 99));
    assert!(!p.allows("coffee", &Category::Profile("name".into()), now + 100));
}

#[test]
fn events_need_proactive_opt_in_and_device_usage_consent() {
    let (_d, p) = home();
    let now = now_ms();
    assert!(!p.allows_event("coffee", now));
    p.grant(
        "coffee",
        &Category::DeviceUsage,
        "watch the bean level",
        None,
        now,
    )
    .unwrap();
    assert!(!p.allows_event("coffee", now), "proactive is opt-in");
    p.grant(
        "coffee",
        &Category::Proactive,
        "reorder when low",
        None,
        now,
    )
    .unwrap();
    assert!(p.allows_event("coffee", now));
    p.revoke("coffee", Some(&Category::Proactive), now).unwrap();
    assert!(!p.allows_event("coffee", now));
}

#[test]
fn audio_is_not_stored_without_opt_in() {
    let (d, p) = home();
    let now = now_ms();
    assert!(!p.record_audio(&[1, 2, 3], 16_000, now).unwrap());
    assert!(p.customer().audio().unwrap().is_empty());
    p.grant("emma", &Category::Audio, "improve recognition", None, now)
        .unwrap();
    assert!(p.record_audio(&[1, 2, 3], 16_000, now).unwrap());
    assert_eq!(p.customer().audio().unwrap().len(), 1);
    drop(d);
}

#[test]
fn unknown_skills_and_categories_are_clear_errors() {
    let (_d, p) = home();
    let now = now_ms();
    let e = p
        .grant("nosuch", &Category::Orders, "x", None, now)
        .unwrap_err();
    assert!(matches!(e, PrivacyError::UnknownSkill { .. }), "{e}");
    assert!(e.to_string().contains("coffee, emma, parcel"), "{e}");
    let e = p
        .grant("../x", &Category::Orders, "x", None, now)
        .unwrap_err();
    assert!(matches!(e, PrivacyError::InvalidSkill(_)), "{e}");
    let e = "recordings".parse::<Category>().unwrap_err();
    assert!(
        e.to_string().contains("unknown data category `recordings`"),
        "{e}"
    );
    let e = p
        .revoke("coffee", Some(&Category::Orders), now)
        .unwrap_err();
    assert!(matches!(e, PrivacyError::NotGranted { .. }), "{e}");
    let e = p
        .grant("coffee", &Category::Orders, "   ", None, now)
        .unwrap_err();
    assert!(e.to_string().contains("purpose"), "{e}");
    let e = p
        .grant("coffee", &Category::Orders, "x", Some(now - 1), now)
        .unwrap_err();
    assert!(e.to_string().contains("not in the future"), "{e}");
    // A skill's own store is covered by its `store` grant, not by a consent.
    let e = p
        .grant("coffee", &Category::SkillStore, "x", None, now)
        .unwrap_err();
    assert!(e.to_string().contains("store` grant"), "{e}");
}

#[test]
fn every_store_and_share_is_in_the_ledger_and_the_chain_verifies() {
    let (d, p) = home();
    drop(p);
    let c = Canaries::new(1);
    plant(d.path(), &c, 3);
    let p = Privacy::open_dir(d.path()).unwrap();
    let entries = p.ledger().entries(&Filter::default()).unwrap();
    let has = |action: &str, cat: &str| {
        entries
            .iter()
            .any(|e| e.action == action && e.category == cat)
    };
    for cat in [
        "profile",
        "transcripts",
        "audio",
        "device-usage",
        "touchpoints",
    ] {
        assert!(has("store", cat), "no store entry for {cat}: {entries:#?}");
    }
    assert!(has("consent", "audio"));
    p.record_outside_share(
        "mqtt:emma/device/light.l0/set",
        &Category::DeviceUsage,
        Some("light.l0"),
        Reason::intent("HassTurnOn"),
        now_ms(),
    )
    .unwrap();
    assert!(matches!(
        p.ledger().verify().unwrap(),
        Verification::Intact { .. }
    ));
}

#[test]
fn export_holds_every_planted_item_and_a_failed_export_changes_nothing() {
    let (d, p) = home();
    drop(p);
    let c = Canaries::new(2);
    plant(d.path(), &c, 3);
    let p = Privacy::open_dir(d.path()).unwrap();
    let out = d.path().join("export.json");
    let summary = p.export(&out, now_ms()).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "emma-customer-export");
    assert_eq!(doc["version"], 1);
    for (what, canary) in &c.items {
        if *what == "audio" {
            continue;
        }
        assert!(
            text.contains(canary.as_str()),
            "{what} missing from the export"
        );
    }
    use base64::Engine as _;
    let audio = base64::engine::general_purpose::STANDARD
        .decode(doc["audio"][0]["samples_i16le_base64"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8_lossy(&audio).contains(c.get("audio")));
    assert_eq!(doc["orders"].as_array().unwrap().len(), 6);
    assert_eq!(
        doc["skill_stores"]["coffee"]["key-0"]["text"],
        format!("{} value 0", c.get("orders"))
    );
    assert_eq!(doc["ledger"]["verification"]["status"], "intact");
    assert!(summary.counts["ledger"] > 5);

    // Failing exports: nothing written, ledger untouched.
    let len = p.ledger().len().unwrap();
    let listing = || {
        let mut v: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let files = listing();
    for bad in [
        d.path().join("no-such-dir").join("x.json"),
        out.join("x.json"),     // parent is a file
        d.path().to_path_buf(), // a directory
    ] {
        let e = p.export(&bad, now_ms()).unwrap_err();
        assert!(matches!(e, PrivacyError::Export { .. }), "{e}");
        assert!(e.to_string().contains("nothing was written"), "{e}");
    }
    assert_eq!(p.ledger().len().unwrap(), len);
    assert_eq!(listing(), files);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        text,
        "an earlier export is untouched"
    );
}
