//! Hostile-skill suite: every way a skill can misbehave is stopped with a
//! specific error within its limits, and a well-behaved call right after
//! still answers correctly.

mod skill_support;

use emma_skill_host::bundle::BundleError;
use emma_skill_host::{
    Bundle, HostError, LocalServices, Request, RuntimeConfig, SkillDb, SkillInstance, SkillRuntime,
};
use skill_support::{bundle, compiled, load, runtime, speech};
use std::time::{Duration, Instant};

const HOSTILE: &str = "skills/testdata/hostile";

fn hostile(grants: &[&str]) -> SkillInstance {
    load(
        HOSTILE,
        grants,
        SkillDb::in_memory().unwrap(),
        LocalServices::new(),
    )
}

fn req(intent: &str) -> Request {
    Request::new(intent, "en")
}

/// The skill still answers after a failure (fresh instance), and so does another one.
fn assert_still_serves(skill: &mut SkillInstance) {
    assert!(!skill.is_live(), "a failed instance must be discarded");
    let o = skill
        .handle_intent(&req("Hello").slot("name", "again"))
        .expect("well-behaved call after failure");
    assert_eq!(speech(&o), "hello again");
    let mut other = hostile(&[]);
    assert_eq!(
        speech(&other.handle_intent(&req("Hello")).unwrap()),
        "hello friend"
    );
}

#[test]
fn infinite_loop_is_stopped_at_its_deadline() {
    let mut skill = hostile(&[]);
    let start = Instant::now();
    let err = skill.handle_intent(&req("Loop")).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, HostError::Timeout { ms: 300, .. }), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(800),
        "took {took:?}"
    );
    assert!(err.to_string().contains("300 ms deadline"), "{err}");
    assert_still_serves(&mut skill);
}

#[test]
fn deep_recursion_traps_every_time_without_aborting() {
    let mut skill = hostile(&[]);
    for _ in 0..20 {
        let err = skill.handle_intent(&req("Recurse")).unwrap_err();
        assert!(matches!(err, HostError::StackOverflow { .. }), "{err}");
    }
    assert_still_serves(&mut skill);
}

#[test]
fn allocating_gigabytes_hits_the_memory_cap() {
    let mut skill = hostile(&[]);
    let err = skill.handle_intent(&req("Allocate")).unwrap_err();
    assert!(
        matches!(err, HostError::MemoryLimit { mib: 32, .. }),
        "{err}"
    );
    assert_still_serves(&mut skill);
}

#[test]
fn huge_reply_is_refused() {
    let mut skill = hostile(&[]);
    let err = skill.handle_intent(&req("HugeReply")).unwrap_err();
    match err {
        HostError::ReplyTooLarge { bytes, limit, .. } => {
            assert_eq!((bytes, limit), (1024 * 1024, 16 * 1024));
        }
        other => panic!("expected ReplyTooLarge, got {other}"),
    }
    let o = skill.handle_intent(&req("Hello")).unwrap();
    assert_eq!(speech(&o), "hello friend");
}

#[test]
fn undeclared_capability_is_denied_and_recorded() {
    // Even a customer grant cannot give what the manifest does not declare.
    let mut skill = hostile(&["store"]);
    let o = skill.handle_intent(&req("Undeclared")).unwrap();
    assert_eq!(
        o.result.unwrap_err().to_string(),
        "denied: device:lock.front:control: not declared in skill.toml"
    );
    assert_eq!(o.denials.len(), 1);
    assert_eq!(o.denials[0].permission, "device:lock.front:control");
    assert_eq!(o.denials[0].reason, "not declared in skill.toml");
    assert!(o.effects.is_empty(), "nothing may happen: {:?}", o.effects);
    assert_eq!(
        speech(&skill.handle_intent(&req("Hello")).unwrap()),
        "hello friend"
    );
}

#[test]
fn declared_but_not_granted_capability_is_denied() {
    let db = SkillDb::in_memory().unwrap();
    let mut skill = load(HOSTILE, &[], db.clone(), LocalServices::new());
    let o = skill.handle_intent(&req("NotGranted")).unwrap();
    assert_eq!(o.denials[0].permission, "store");
    assert_eq!(o.denials[0].reason, "not granted by the customer");
    assert_eq!(
        db.get("test.hostile", "secret").unwrap(),
        None,
        "the write must not happen"
    );

    let mut profile = load(
        HOSTILE,
        &[],
        SkillDb::in_memory().unwrap(),
        LocalServices::new().with_profile("name", "Ada"),
    );
    let o = profile.handle_intent(&req("ProfileName")).unwrap();
    assert_eq!(o.denials[0].permission, "profile:name");
    let mut granted = load(
        HOSTILE,
        &["profile:name"],
        SkillDb::in_memory().unwrap(),
        LocalServices::new().with_profile("name", "Ada"),
    );
    assert_eq!(
        speech(&granted.handle_intent(&req("ProfileName")).unwrap()),
        "Ada"
    );
}

#[test]
fn a_skill_cannot_read_another_skills_store() {
    let db = SkillDb::in_memory().unwrap();
    let mut a = load(HOSTILE, &["store"], db.clone(), LocalServices::new());
    let o = a
        .handle_intent(&req("StoreWrite").slot("value", "alpha-secret"))
        .unwrap();
    assert_eq!(speech(&o), "stored");

    // Same code under another id: its own namespace only.
    let (b, c) = compiled(HOSTILE);
    let other_manifest = emma_skill_host::Manifest {
        id: "test.hostile-b".into(),
        ..b.manifest.clone()
    };
    let mut other = runtime()
        .load(
            &c,
            &other_manifest,
            emma_skill_host::PermissionSet::parse(["store"]).unwrap(),
            db.clone(),
            std::sync::Arc::new(LocalServices::new()),
        )
        .unwrap();
    for key in [
        "secret",
        "../test.hostile/secret",
        "test.hostile/secret",
        "test.hostile:secret",
        "%",
    ] {
        let o = other
            .handle_intent(&req("StoreRead").slot("key", key))
            .unwrap();
        assert_eq!(speech(&o), "nothing", "key {key:?} leaked");
    }
    assert_eq!(
        speech(&a.handle_intent(&req("StoreRead")).unwrap()),
        "alpha-secret"
    );
}

#[test]
fn panic_is_a_trap_for_that_call_only() {
    let mut skill = hostile(&[]);
    let err = skill.handle_intent(&req("Panic")).unwrap_err();
    assert!(matches!(err, HostError::Trap { .. }), "{err}");
    assert!(
        err.to_string().starts_with("skill `test.hostile` crashed"),
        "{err}"
    );
    assert_still_serves(&mut skill);
}

#[test]
fn undeclared_intent_never_reaches_the_skill() {
    let mut skill = hostile(&[]);
    let err = skill.handle_intent(&req("Teleport")).unwrap_err();
    assert!(
        matches!(err, HostError::NotDeclared { what: "intent", .. }),
        "{err}"
    );
}

#[test]
fn malformed_and_non_component_wasm_are_rejected() {
    let rt = runtime();
    assert!(matches!(
        rt.compile(b"definitely not wasm"),
        Err(HostError::Malformed { .. })
    ));
    let core = wat::parse_str("(module (func (export \"f\")))").unwrap();
    assert!(matches!(rt.compile(&core), Err(HostError::NotAComponent)));
    // A component header followed by garbage.
    let mut broken = wat::parse_str("(component)").unwrap();
    broken.extend_from_slice(&[0xff; 64]);
    let err = rt.compile(&broken).unwrap_err();
    assert!(matches!(err, HostError::Malformed { .. }), "{err}");
    // Truncated real skill.
    let good = bundle(HOSTILE).component;
    let err = rt.compile(&good[..good.len() / 2]).unwrap_err();
    assert!(matches!(err, HostError::Malformed { .. }), "{err}");
}

#[test]
fn oversized_component_is_rejected_before_compiling() {
    let rt = runtime();
    let mut bomb = wat::parse_str("(component)").unwrap();
    bomb.resize(50 * 1024 * 1024, 0);
    let start = Instant::now();
    let err = rt.compile(&bomb).unwrap_err();
    assert!(
        matches!(err, HostError::TooLarge { limit, .. } if limit == 16 * 1024 * 1024),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(200),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn compile_time_cap_rejects_slow_compiles() {
    // A tight cap stands in for a compile bomb: the host gives up at its cap.
    let rt = SkillRuntime::new(RuntimeConfig {
        compile_timeout: Duration::from_millis(1),
        ..Default::default()
    })
    .unwrap();
    let err = rt.compile(&bundle(HOSTILE).component).unwrap_err();
    assert!(matches!(err, HostError::CompileTimeout { .. }), "{err}");
}

#[test]
fn imports_the_host_does_not_offer_are_rejected() {
    let rt = runtime();
    for import in [
        "emma:skill/teleport@0.1.0",
        "wasi:filesystem/types@0.2.0",
        "emma:skill/devices@9.9.9",
    ] {
        let c = wat::parse_str(format!("(component (import \"{import}\" (instance)))")).unwrap();
        match rt.compile(&c) {
            Err(HostError::UnsupportedImport { import: got }) => assert_eq!(got, import),
            Err(other) => panic!("{import}: expected UnsupportedImport, got {other}"),
            Ok(_) => panic!("{import}: accepted"),
        }
    }
    let c = wat::parse_str(
        "(component (instance $i) (export \"emma:skill/handler@9.0.0\" (instance $i)))",
    )
    .unwrap();
    let err = rt.compile(&c).expect_err("unknown version accepted");
    assert!(
        matches!(err, HostError::UnsupportedVersion { ref found } if found == "emma:skill/handler@9.0.0"),
        "{err}"
    );
}

#[test]
fn tampered_manifest_or_component_fails_the_signature() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let signed = bundle(HOSTILE).to_bytes(Some(&key));
    let ok = Bundle::from_bytes(&signed, "ok").unwrap();
    assert!(ok.check_trust(&[key.verifying_key()], false, "ok").is_ok());

    let find = |needle: &[u8]| {
        signed
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    // Raise the memory limit in the manifest: same length, different meaning.
    let mut manifest_tampered = signed.clone();
    let at = find(b"memory_mib = 32");
    manifest_tampered[at + 13] = b'9';
    // Flip one byte in the middle of the component.
    let mut component_tampered = signed.clone();
    let at = find(b"\0asm") + bundle(HOSTILE).component.len() / 2;
    component_tampered[at] ^= 0x01;
    for (what, bytes) in [
        ("manifest", manifest_tampered),
        ("component", component_tampered),
    ] {
        match Bundle::from_bytes(&bytes, what) {
            Err(BundleError::BadSignature { .. }) => {}
            Err(other) => panic!("{what}: expected BadSignature, got {other}"),
            Ok(_) => panic!("{what}: tampered bundle accepted"),
        }
    }
    // Re-signed by an attacker's key: valid signature, untrusted key.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
    let resigned = Bundle::from_bytes(&bundle(HOSTILE).to_bytes(Some(&attacker)), "r").unwrap();
    let err = resigned
        .check_trust(&[key.verifying_key()], false, "r")
        .unwrap_err();
    assert!(matches!(err, BundleError::UntrustedKey { .. }), "{err}");
}
