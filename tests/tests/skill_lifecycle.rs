//! Install lifecycle on disk: trust, signed install, dev mode, grants and
//! revokes, storage that survives a restart, erase, and the artifact cache.

mod skill_support;

use emma_skill_host::bundle::BundleError;
use emma_skill_host::{HostError, LocalServices, Permission, Request, SkillHome, SkillRuntime};
use skill_support::bundle;
use std::sync::Arc;

const HOSTILE: &str = "skills/testdata/hostile";

fn write_bundle(
    dir: &std::path::Path,
    key: Option<&ed25519_dalek::SigningKey>,
) -> std::path::PathBuf {
    let path = dir.join("hostile.emmaskill");
    std::fs::write(&path, bundle(HOSTILE).to_bytes(key)).unwrap();
    path
}

#[test]
fn signed_install_grants_storage_restart_and_erase() {
    let tmp = tempfile::tempdir().unwrap();
    let home_dir = tmp.path().join("skills");
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let signed = write_bundle(tmp.path(), Some(&key));
    let store = Permission::Store;

    {
        let home = SkillHome::open(&home_dir).unwrap();
        let rt = SkillRuntime::new(home.runtime_config()).unwrap();
        // Not trusted yet.
        let err = home
            .install(&rt, &signed, "alice", std::slice::from_ref(&store), false)
            .unwrap_err();
        assert!(
            matches!(err, HostError::Bundle(BundleError::UntrustedKey { .. })),
            "{err}"
        );
        home.trust(&key.verifying_key()).unwrap();
        // A grant the manifest does not declare is refused at install.
        let notify: Permission = "notify".parse().unwrap();
        let err = home
            .install(&rt, &signed, "alice", &[notify], false)
            .unwrap_err();
        assert!(matches!(err, HostError::GrantNotDeclared { .. }), "{err}");

        let installed = home
            .install(&rt, &signed, "alice", std::slice::from_ref(&store), false)
            .unwrap();
        assert!(matches!(
            installed.trust,
            emma_skill_host::Trust::Trusted(_)
        ));
        let mut skill = home
            .load(&rt, "test.hostile", "alice", Arc::new(LocalServices::new()))
            .unwrap();
        let o = skill
            .handle_intent(&Request::new("StoreWrite", "en").slot("value", "canary-4711"))
            .unwrap();
        assert!(o.denials.is_empty(), "{:?}", o.denials);
        // Bob never granted store.
        let mut bobs = home
            .load(&rt, "test.hostile", "bob", Arc::new(LocalServices::new()))
            .unwrap();
        let o = bobs
            .handle_intent(&Request::new("StoreRead", "en"))
            .unwrap();
        assert_eq!(o.denials[0].reason, "not granted by the customer");
    }

    // "Restart": new home handle, new runtime; the artifact comes from the cache.
    let home = SkillHome::open(&home_dir).unwrap();
    let rt = SkillRuntime::new(home.runtime_config()).unwrap();
    let b = home.installed("test.hostile").unwrap().bundle;
    assert!(rt.compile(&b.component).unwrap().from_cache);
    let mut skill = home
        .load(&rt, "test.hostile", "alice", Arc::new(LocalServices::new()))
        .unwrap();
    let o = skill
        .handle_intent(&Request::new("StoreRead", "en"))
        .unwrap();
    assert_eq!(o.result.unwrap().speech, "canary-4711");

    // Revoke: the next load is denied.
    assert_eq!(
        home.revoke("test.hostile", "alice", Some(&store)).unwrap(),
        1
    );
    let mut skill = home
        .load(&rt, "test.hostile", "alice", Arc::new(LocalServices::new()))
        .unwrap();
    let o = skill
        .handle_intent(&Request::new("StoreRead", "en"))
        .unwrap();
    assert_eq!(o.denials[0].permission, "store");

    // Remove with erase: data gone from the database and from the file.
    home.remove("test.hostile", "alice", true).unwrap();
    assert!(home.installed("test.hostile").is_err());
    assert_eq!(home.db().get("test.hostile", "secret").unwrap(), None);
    let raw = std::fs::read(home_dir.join("skills.db")).unwrap();
    assert!(
        !raw.windows(11).any(|w| w == b"canary-4711"),
        "erased data still in skills.db"
    );
}

#[test]
fn dev_mode_is_explicit_and_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let home = SkillHome::open(&tmp.path().join("skills")).unwrap();
    let rt = SkillRuntime::new(home.runtime_config()).unwrap();
    let unsigned = write_bundle(tmp.path(), None);
    let err = home
        .install(&rt, &unsigned, "alice", &[], false)
        .unwrap_err();
    assert!(
        matches!(err, HostError::Bundle(BundleError::Unsigned { .. })),
        "{err}"
    );
    let installed = home.install(&rt, &unsigned, "alice", &[], true).unwrap();
    assert_eq!(installed.trust, emma_skill_host::Trust::Dev);
    assert_eq!(home.list().unwrap()[0].trust, emma_skill_host::Trust::Dev);
}

#[test]
fn tampering_with_an_installed_bundle_is_caught_on_load() {
    let tmp = tempfile::tempdir().unwrap();
    let home = SkillHome::open(&tmp.path().join("skills")).unwrap();
    let rt = SkillRuntime::new(home.runtime_config()).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    home.trust(&key.verifying_key()).unwrap();
    let installed = home
        .install(
            &rt,
            &write_bundle(tmp.path(), Some(&key)),
            "alice",
            &[],
            false,
        )
        .unwrap();
    let mut bytes = std::fs::read(&installed.path).unwrap();
    let at = bytes
        .windows(15)
        .position(|w| w == b"memory_mib = 32")
        .unwrap();
    bytes[at + 13] = b'9';
    std::fs::write(&installed.path, bytes).unwrap();
    let err = home
        .load(&rt, "test.hostile", "alice", Arc::new(LocalServices::new()))
        .err()
        .unwrap();
    assert!(
        matches!(err, HostError::Bundle(BundleError::BadSignature { .. })),
        "{err}"
    );
}
