//! Hostile skills that misbehave through what they *do* and *say*: floods of
//! side effects, terminal escapes in their text, absurd order lines and reply
//! actions for devices they hold no grant for (issue 16). Each test fails on a
//! host without the matching defence.

mod skill_support;

use emma_skill_host::types::Action;
use emma_skill_host::{
    Budget, Budgeted, CompiledSkill, Effect, LocalServices, Manifest, Outcome, PermissionSet,
    Reply, Request, RuntimeConfig, SkillDb, SkillInstance, SkillRuntime,
};
use skill_support::{compiled, runtime, speech};
use std::sync::Arc;
use std::time::Duration;

const SKILL: &str = "skills/testdata/hostile-effects";
const ALL: &[&str] = &[
    "notify",
    "log",
    "store",
    "handoff",
    "order:propose",
    "device:light.*:control",
];

fn load_with(
    rt: &SkillRuntime,
    c: &CompiledSkill,
    manifest: &Manifest,
    grants: &[&str],
    db: SkillDb,
) -> SkillInstance {
    rt.load(
        c,
        manifest,
        PermissionSet::parse(grants.iter().copied()).unwrap(),
        db,
        Arc::new(LocalServices::new().with_device("light.kitchen", "off")),
    )
    .expect("load")
}

/// Loads the skill in the shared runtime with `manifest`.
fn load(manifest: &Manifest, grants: &[&str], db: SkillDb) -> SkillInstance {
    load_with(runtime(), &compiled(SKILL).1, manifest, grants, db)
}

fn skill(grants: &[&str]) -> SkillInstance {
    load(
        &compiled(SKILL).0.manifest,
        grants,
        SkillDb::in_memory().unwrap(),
    )
}

fn run(skill: &mut SkillInstance, intent: &str, n: Option<u32>) -> Outcome<Reply> {
    let mut req = Request::new(intent, "en");
    if let Some(n) = n {
        req = req.slot("n", n.to_string());
    }
    skill.handle_intent(&req).expect("the call itself succeeds")
}

fn count(o: &Outcome<Reply>, kind: &str) -> usize {
    o.effects
        .iter()
        .filter(|e| serde_json::to_value(e).unwrap()["type"] == kind)
        .count()
}

// ---- 1. Side effects stay within budget ------------------------------------

#[test]
fn a_flood_of_side_effects_is_cut_at_the_per_call_budget() {
    let defaults = emma_skill_host::Limits::default();
    let cases = [
        ("NotifyFlood", "notification", Budgeted::Notify, "notify"),
        ("LogFlood", "log", Budgeted::Log, "log"),
        ("HandoffFlood", "handoff", Budgeted::Handoff, "handoff"),
        (
            "OrderFlood",
            "order-proposal",
            Budgeted::Order,
            "order:propose",
        ),
        (
            "DeviceFlood",
            "device-control",
            Budgeted::DeviceControl,
            "device:light.kitchen:control",
        ),
        ("StoreFlood", "", Budgeted::StoreWrite, "store"),
    ];
    for (intent, kind, what, permission) in cases {
        let mut s = skill(ALL);
        let o = run(&mut s, intent, Some(5_000));
        let allowed = defaults.budget(what).per_call as usize;
        if !kind.is_empty() {
            assert_eq!(
                count(&o, kind),
                allowed,
                "{intent}: effects {:?}",
                o.effects.len()
            );
        }
        assert_eq!(
            speech(&o),
            format!("{allowed} ok, {} over quota", 5_000 - allowed),
            "{intent}"
        );
        // One denial names the budget and how many uses were refused; not 5,000.
        let over: Vec<_> = o
            .denials
            .iter()
            .filter(|d| d.reason.contains("budget"))
            .collect();
        assert_eq!(over.len(), 1, "{intent}: {:?}", o.denials);
        assert_eq!(over[0].permission, permission, "{intent}");
        assert!(
            over[0]
                .reason
                .contains(&format!("limits.{}_per_call", what.key()))
                && over[0]
                    .reason
                    .contains(&format!("{} use(s) refused", 5_000 - allowed)),
            "{intent}: {}",
            over[0].reason
        );
    }
}

#[test]
fn the_issue_flood_of_100000_notifications_produces_a_small_reply() {
    let mut s = skill(ALL);
    let o = run(&mut s, "NotifyFlood", None);
    let json = serde_json::to_string(&o).unwrap();
    assert!(json.len() < 4 * 1024, "{} bytes of outcome", json.len());
    assert_eq!(count(&o, "notification"), 3);
}

#[test]
fn per_period_budget_holds_across_calls_and_reloads_then_renews() {
    let (b, _) = compiled(SKILL);
    let mut manifest = b.manifest.clone();
    manifest.limits.budgets[0] = Budget {
        per_call: 3,
        per_hour: 5,
    };
    assert_eq!(Budgeted::ALL[0], Budgeted::Notify);
    let rt = SkillRuntime::new(RuntimeConfig {
        budget_period: Duration::from_millis(3000),
        max_instances: 8,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let c = rt.compile(&b.component).expect("compile");
    let mut s = load_with(&rt, &c, &manifest, ALL, SkillDb::in_memory().unwrap());
    assert_eq!(
        speech(&run(&mut s, "Notify", Some(3))),
        "3 ok, 0 over quota"
    );
    let started = std::time::Instant::now();
    // A reloaded instance shares the period: only 2 of the hour's 5 are left.
    let mut again = load_with(&rt, &c, &manifest, ALL, SkillDb::in_memory().unwrap());
    let o = run(&mut again, "Notify", Some(3));
    assert_eq!(speech(&o), "2 ok, 1 over quota");
    assert!(
        o.denials[0].reason.contains("limits.notify_per_hour"),
        "{:?}",
        o.denials
    );
    assert_eq!(
        speech(&run(&mut s, "Notify", Some(1))),
        "0 ok, 1 over quota"
    );
    std::thread::sleep(Duration::from_millis(3100).saturating_sub(started.elapsed()));
    assert_eq!(
        speech(&run(&mut s, "Notify", Some(3))),
        "3 ok, 0 over quota"
    );
}

#[test]
fn bytes_produced_through_capabilities_count_toward_the_reply_limit() {
    // Three 30 KiB notifications fit the per-call count but not the 64 KiB reply limit.
    let mut s = skill(ALL);
    let o = run(&mut s, "BigNotifications", Some(3));
    assert_eq!(speech(&o), "2 ok, 1 over quota");
    assert!(
        o.denials[0].reason.contains("limits.reply_kib"),
        "{:?}",
        o.denials
    );
}

// ---- 2. Untrusted text is sanitised ------------------------------------------

fn assert_clean(what: &str, text: &str) {
    assert!(
        emma_untrusted::is_clean(text) && !text.contains('\r') && !text.contains("[2J"),
        "{what} is not clean: {text:?}"
    );
    assert!(text.contains("Alarm still armed"), "{what}: {text:?}");
}

#[test]
fn escapes_in_speech_cards_notifications_handoffs_logs_and_orders_are_removed() {
    let db = SkillDb::in_memory().unwrap();
    let (b, _) = compiled(SKILL);
    let mut s = load(&b.manifest, ALL, db.clone());
    let o = run(&mut s, "Spoof", None);
    assert_eq!(
        o.skill, "test.hostile-effects",
        "the outcome names its skill"
    );
    let r = o.result.as_ref().expect("a reply");
    assert_clean("speech", &r.speech);
    let card = r.card.as_ref().unwrap();
    assert_clean("card title", &card.title);
    assert_clean("card body", &card.body);
    assert_clean("follow-up", r.follow_up.as_ref().unwrap());
    let h = r.handoff.as_ref().unwrap();
    assert_clean("handoff reason", &h.reason);
    assert_clean("handoff summary", &h.summary);
    assert_eq!(o.effects.len(), 4, "{:?}", o.effects);
    for e in &o.effects {
        let texts: Vec<&str> = match e {
            Effect::Notification { title, body } => vec![title, body],
            Effect::Handoff { reason, summary } => vec![reason, summary],
            Effect::Log { message, .. } => vec![message],
            Effect::OrderProposal { lines, note, .. } => vec![&lines[0].description, note],
            other => panic!("unexpected effect {other:?}"),
        };
        for t in texts {
            assert_clean("effect text", t);
        }
    }
    // What is stored for `emma skill orders` is clean too.
    let stored = db.proposals(emma_skill_host::orders::now_unix()).unwrap();
    assert_clean("stored order description", &stored[0].lines[0].description);
    assert_clean("stored order note", &stored[0].note);
}

// ---- 3. Order lines are bounded ---------------------------------------------

#[test]
fn absurd_order_quantities_are_rejected_with_a_reason() {
    let db = SkillDb::in_memory().unwrap();
    let (b, _) = compiled(SKILL);
    let mut s = load(&b.manifest, ALL, db.clone());
    let o = run(&mut s, "HugeQuantity", None);
    assert_eq!(
        speech(&o),
        "rejected: line 1 (BEANS-1KG): quantity 4294967295 is over this skill's limit of 10 per line (limits.order_max_quantity)"
    );
    assert!(db.proposals(0).unwrap().is_empty(), "nothing may be stored");
    assert!(o.effects.is_empty());

    let o = s
        .handle_intent(&Request::new("HugeQuantity", "en").slot("quantity", "10"))
        .unwrap();
    assert!(speech(&o).starts_with("proposed "), "{}", speech(&o));

    // A manifest may ask for more, within the host's cap.
    let mut manifest = b.manifest.clone();
    manifest.limits.order_max_quantity = 500;
    let mut bulk = load(&manifest, ALL, SkillDb::in_memory().unwrap());
    let o = bulk
        .handle_intent(&Request::new("HugeQuantity", "en").slot("quantity", "500"))
        .unwrap();
    assert!(speech(&o).starts_with("proposed "), "{}", speech(&o));
    let e = Manifest::parse(
        &format!(
            "id = \"a.b\"\nversion = \"0.1.0\"\npublisher = \"p\"\nlanguages = [\"en\"]\nintents = [\"X\"]\n[limits]\norder_max_quantity = {}\n",
            u32::MAX
        ),
        "skill.toml",
    )
    .unwrap_err();
    assert_eq!(e.field, "limits.order_max_quantity");
}

#[test]
fn order_skus_with_control_characters_are_rejected() {
    let db = SkillDb::in_memory().unwrap();
    let (b, _) = compiled(SKILL);
    let mut s = load(&b.manifest, ALL, db.clone());
    let o = run(&mut s, "ControlSku", None);
    assert!(
        speech(&o).starts_with("rejected: line 1: sku"),
        "{}",
        speech(&o)
    );
    assert!(db.proposals(0).unwrap().is_empty());
}

// ---- 4. Reply actions need a grant --------------------------------------------

#[test]
fn reply_actions_without_a_grant_are_taken_out_of_the_reply() {
    let mut s = skill(ALL);
    let o = run(&mut s, "UnlockActions", None);
    let r = o.result.as_ref().unwrap();
    assert_eq!(
        r.actions,
        vec![Action {
            device: "light.kitchen".into(),
            command: "turn-off".into(),
            value: None
        }],
        "only the granted light stays"
    );
    let refused: Vec<(&str, &str)> = o
        .refused_actions
        .iter()
        .map(|a| (a.action.device.as_str(), a.reason.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (
                "lock.front_door",
                "device:lock.front_door:control: not declared in skill.toml"
            ),
            (
                "alarm.home",
                "device:alarm.home:control: not declared in skill.toml"
            ),
            ("*", "`*` is not a device id like `light.kitchen`"),
        ]
    );

    // Declared but not granted: refused too.
    let mut ungranted = skill(&["notify"]);
    let o = run(&mut ungranted, "UnlockActions", None);
    assert!(o.result.as_ref().unwrap().actions.is_empty());
    assert_eq!(
        o.refused_actions[2].reason,
        "device:light.kitchen:control: not granted by the customer"
    );
}

// ---- The `emma` command shows only sanitised text and names the skill -------

/// Runs the `emma` binary of this build (`cargo build -p emma-cli`).
fn emma(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(emma_tests::speech_corpus::emma_binary().unwrap())
        .env("EMMA_HOME", home)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn emma_skill_run_and_orders_print_sanitised_text_that_names_the_skill() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("hostile-effects.emmaskill");
    std::fs::write(&path, compiled(SKILL).0.to_bytes(None)).unwrap();
    let path = path.to_str().unwrap();
    let mut args = vec!["-v", "skill", "run", path, "--dev", "--intent", "Spoof"];
    for g in ALL {
        args.extend(["--grant", g]);
    }
    let out = emma(tmp.path(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{7}'),
            "{what} carries control characters: {text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{what} carries a bidi override");
    }
    assert!(
        stdout.starts_with("test.hostile-effects says: Alarm still armed Turned off the alarm"),
        "{stdout}"
    );
    // The skill's own log line reaches the (plain) log, sanitised.
    assert!(stderr.contains("Alarm still armed"), "{stderr}");

    let out = emma(tmp.path(), &["skill", "orders"]);
    let orders = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{orders}");
    assert!(
        orders.contains("test.hostile-effects  1 x Alarm still armed"),
        "{orders}"
    );
    assert!(
        !orders.contains('\u{1b}') && !orders.contains('\r'),
        "{orders:?}"
    );

    let out = emma(
        tmp.path(),
        &["skill", "run", path, "--dev", "--intent", "UnlockActions"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains("front_door"), "{stdout}");
    assert!(
        stderr.contains(
            "test.hostile-effects: refused action lock.front_door unlock (device:lock.front_door:control: not declared in skill.toml); it was not carried out"
        ),
        "{stderr}"
    );
}

// ---- Skills that sound like an installed one are refused at install ---------

#[test]
fn a_skill_whose_sentences_sound_like_an_installed_skills_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let home = emma_skill_host::SkillHome::open(&tmp.path().join("skills")).unwrap();
    let rt = SkillRuntime::new(home.runtime_config()).unwrap();
    let coffee = skill_support::bundle("skills/examples/coffee");
    let path = tmp.path().join("coffee.emmaskill");
    std::fs::write(&path, coffee.to_bytes(None)).unwrap();
    home.install(&rt, &path, "alice", &[], true).unwrap();

    // Same code and sentences, spelled differently, under another id.
    let mut evil = coffee.clone();
    evil.manifest_text = evil
        .manifest_text
        .replace("com.example.coffee", "com.evil.koffee");
    evil.manifest = Manifest::parse(&evil.manifest_text, "skill.toml").unwrap();
    // Only one sentence, spelled differently from the installed skill's.
    evil.intents = vec![(
        "en".into(),
        "language: en\nintents:\n  Favourite:\n    data:\n      - sentences:\n          - \"[make me] my usuall\"\n".into(),
    )];
    let evil_path = tmp.path().join("evil.emmaskill");
    std::fs::write(&evil_path, evil.to_bytes(None)).unwrap();
    let err = home
        .install(&rt, &evil_path, "alice", &[], true)
        .unwrap_err();
    match &err {
        emma_skill_host::HostError::SoundsLike {
            skill,
            other,
            sentence,
            other_sentence,
        } => {
            assert_eq!(
                (skill.as_str(), other.as_str()),
                ("com.evil.koffee", "com.example.coffee")
            );
            assert_eq!(sentence, "[make me] my usuall");
            assert_eq!(other_sentence, "[make me] my usual");
        }
        other => panic!("expected SoundsLike, got {other}"),
    }
    assert!(err.to_string().contains("sounds like"), "{err}");
    assert!(home.list().unwrap().len() == 1, "nothing was installed");

    // A skill that sounds different installs next to it, and the same skill can be reinstalled.
    let parcel = tmp.path().join("parcel.emmaskill");
    std::fs::write(
        &parcel,
        skill_support::bundle("skills/examples/parcel").to_bytes(None),
    )
    .unwrap();
    home.install(&rt, &parcel, "alice", &[], true).unwrap();
    home.install(&rt, &path, "alice", &[], true).unwrap();
}
