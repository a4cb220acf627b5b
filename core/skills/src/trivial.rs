//! A minimal skill written directly against the canonical ABI (WAT), so the
//! host can benchmark and self-test without a Rust guest toolchain.
//!
//! It answers every intent with the speech `ok`, ignores events and settings.

use crate::guest_build::BuildError;

/// The frozen WIT this host implements, embedded so tools need no repo checkout.
pub const WIT_V0_1_0: &str = include_str!("../../../skills/wit/since_v0.1.0/skill.wit");

const TRIVIAL_WAT: &str = r#"
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  ;; speech text
  (data (i32.const 16) "ok")
  ;; result<reply, skill-error> at 256: tag 0 (ok), speech = (16, 2), all else empty
  (data (i32.const 256) "\00\00\00\00\10\00\00\00\02\00\00\00")
  ;; 512..: zeros = ok(none) / ok(())
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq (i32.const -1)
              (memory.grow
                (i32.add (i32.const 1)
                  (i32.shr_u
                    (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                    (i32.const 16)))))
          (then unreachable))))
    (local.get $p))
  (func (export "emma:skill/handler@0.1.0#handle-intent")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (global.set $heap (i32.const 1024))
    (i32.const 256))
  (func (export "emma:skill/handler@0.1.0#handle-event")
    (param i32 i32 i32 i32 i32 i32) (result i32)
    (global.set $heap (i32.const 1024))
    (i32.const 512))
  (func (export "emma:skill/handler@0.1.0#install") (result i32)
    (i32.const 512))
  (func (export "emma:skill/handler@0.1.0#configure") (param i32 i32) (result i32)
    (global.set $heap (i32.const 1024))
    (i32.const 512))
)
"#;

/// Wraps a core module (text or binary) implementing the `skill` world's
/// canonical ABI into a component, embedding the WIT type information.
pub fn component_from_core_wat(wat_text: &str) -> Result<Vec<u8>, BuildError> {
    let fail = |reason: String| BuildError::Componentize {
        what: "core module".into(),
        reason,
    };
    let mut core = wat::parse_str(wat_text).map_err(|e| fail(e.to_string()))?;
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("skill.wit", WIT_V0_1_0)
        .map_err(|e| fail(format!("{e:#}")))?;
    let world = resolve
        .select_world(&[pkg], Some("skill"))
        .map_err(|e| fail(format!("{e:#}")))?;
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| fail(format!("{e:#}")))?;
    crate::guest_build::componentize(&core, "core module")
}

/// The trivial skill as a component.
pub fn trivial_component() -> Result<Vec<u8>, BuildError> {
    component_from_core_wat(TRIVIAL_WAT)
}

/// A manifest for the trivial skill with the given id.
pub fn trivial_manifest(id: &str) -> crate::Manifest {
    let text = format!(
        "id = \"{id}\"\nversion = \"0.1.0\"\npublisher = \"Emma\"\nlanguages = [\"en\"]\nintents = [\"Ping\"]\n\n[limits]\nmemory_mib = 1\n"
    );
    crate::Manifest::parse(&text, "trivial").expect("trivial manifest is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalServices, PermissionSet, Request, RuntimeConfig, SkillDb, SkillRuntime};
    use std::sync::Arc;

    #[test]
    fn trivial_skill_answers_and_cache_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RuntimeConfig {
            cache_dir: Some(dir.path().to_path_buf()),
            ..RuntimeConfig::default()
        };
        let rt = SkillRuntime::new(cfg).unwrap();
        let bytes = trivial_component().unwrap();
        let first = rt.compile(&bytes).unwrap();
        assert!(!first.from_cache);
        let second = rt.compile(&bytes).unwrap();
        assert!(
            second.from_cache,
            "second compile must come from the artifact cache"
        );
        let manifest = trivial_manifest("test.trivial");
        let mut skill = rt
            .load(
                &second,
                &manifest,
                PermissionSet::default(),
                SkillDb::in_memory().unwrap(),
                Arc::new(LocalServices::new()),
            )
            .unwrap();
        for _ in 0..3 {
            let o = skill
                .handle_intent(&Request::new("Ping", "en").slot("a", "b"))
                .unwrap();
            assert_eq!(o.result.unwrap().speech, "ok");
        }
        assert_eq!(skill.install().unwrap().result, Ok(()));
        // A damaged artifact is recompiled, not loaded.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "cwasm") {
                let mut b = std::fs::read(&p).unwrap();
                let mid = b.len() / 2;
                b[mid] ^= 0xff;
                std::fs::write(&p, b).unwrap();
            }
        }
        assert!(!rt.compile(&bytes).unwrap().from_cache);
    }
}
