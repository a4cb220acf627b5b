//! `emma skill new`: a new skill crate that builds anywhere, not only inside
//! an Emma checkout.
//!
//! The guest SDK (`skills/sdk`) and the WIT it is generated from are compiled
//! into the host with `include_str!`, so an installed `emma` binary carries
//! them. [`unpack_sdk`] writes them once per API version under a directory the
//! caller picks (the CLI uses `<emma home>/sdk`), as a standalone crate (no
//! workspace inheritance); [`new_skill`] writes a skill crate whose
//! `emma-skill` dependency points there. Nothing refers to the build tree.

use std::path::{Path, PathBuf};

/// The guest SDK's source.
const SDK_LIB: &str = include_str!("../../../skills/sdk/src/lib.rs");
/// The guest SDK's manifest in the workspace (read for its dependency line).
const SDK_MANIFEST: &str = include_str!("../../../skills/sdk/Cargo.toml");
/// The WIT the SDK's bindings are generated from.
const SKILL_WIT: &str = include_str!("../../../skills/wit/since_v0.1.0/skill.wit");
/// The API version the carried SDK builds against.
pub const SDK_API_VERSION: &str = "0.1.0";

/// Scaffolding failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The skill name is not usable as a crate and skill id.
    #[error(
        "skill name `{0}` must be 1 to 40 lowercase letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    /// The target directory exists.
    #[error("{0} already exists; pick another name or directory")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// The SDK's `Cargo.toml` as a standalone crate: the workspace's fields
/// written out, the same `wit-bindgen` requirement.
fn standalone_sdk_manifest() -> String {
    let wit_bindgen = SDK_MANIFEST
        .lines()
        .find(|l| l.starts_with("wit-bindgen"))
        .expect("skills/sdk/Cargo.toml depends on wit-bindgen");
    format!(
        "# Unpacked by `emma` (skill API {SDK_API_VERSION}); do not edit: it is rewritten when it differs.\n\
         [package]\nname = \"emma-skill\"\nversion = \"{SDK_API_VERSION}\"\nedition = \"2024\"\n\
         license = \"Apache-2.0 OR MIT\"\npublish = false\n\n[dependencies]\n{wit_bindgen}\n"
    )
}

/// Writes the carried guest SDK under `root/v<API version>/` (if it is not
/// there already, or differs) and returns the SDK crate's directory.
pub fn unpack_sdk(root: &Path) -> Result<PathBuf, ScaffoldError> {
    let base = root.join(format!("v{SDK_API_VERSION}"));
    let files = [
        (base.join("sdk/Cargo.toml"), standalone_sdk_manifest()),
        (base.join("sdk/src/lib.rs"), SDK_LIB.to_string()),
        (
            base.join(format!("wit/since_v{SDK_API_VERSION}/skill.wit")),
            SKILL_WIT.to_string(),
        ),
    ];
    for (path, text) in &files {
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            write(path, text)?;
        }
    }
    Ok(base.join("sdk"))
}

/// The skill id a scaffolded skill gets: `dev.local.<name with dots>`.
pub fn scaffold_id(name: &str) -> String {
    format!("dev.local.{}", name.replace('-', "."))
}

/// Writes a new skill crate named `name` into `dir` (which must not exist),
/// depending on the SDK unpacked at `sdk`.
pub fn new_skill(dir: &Path, name: &str, sdk: &Path) -> Result<(), ScaffoldError> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let sdk = std::fs::canonicalize(sdk).unwrap_or_else(|_| sdk.to_path_buf());
    // TOML basic strings: escape backslashes and quotes in the path.
    let sdk_path = sdk
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let files: [(&str, String); 6] = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"skill-{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nemma-skill = {{ path = \"{sdk_path}\" }}\n\n\
                 [profile.release]\nopt-level = \"s\"\nstrip = true\npanic = \"abort\"\n\n[workspace]\n"
            ),
        ),
        (
            "skill.toml",
            format!(
                "id = \"{}\"\nversion = \"0.1.0\"\npublisher = \"Me\"\ndescription = \"Says hello\"\n\
                 languages = [\"en\"]\nintents = [\"Hello\"]\npermissions = []\n\n[limits]\nmemory_mib = 16\ntimeout_ms = 500\n",
                scaffold_id(name)
            ),
        ),
        ("src/lib.rs", SCAFFOLD_LIB.to_string()),
        (
            "intents/en.yaml",
            "language: en\nintents:\n  Hello:\n    data:\n      - sentences:\n          - \"hello\"\n          - \"hi\"\n"
                .to_string(),
        ),
        (
            "skill-tests.toml",
            "[[case]]\nname = \"says hello\"\nintent = \"Hello\"\nspeech_contains = [\"hello\"]\n"
                .to_string(),
        ),
        (".gitignore", "/target\n*.emmaskill\n".to_string()),
    ];
    for (rel, text) in files {
        write(&dir.join(rel), &text)?;
    }
    Ok(())
}

const SCAFFOLD_LIB: &str = r#"//! A skill that says hello.

use emma_skill::{Reply, Request, Skill, SkillError, export_skill};

struct Hello;

impl Skill for Hello {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        match req.intent.as_str() {
            "Hello" => {
                let name = req.slot("name").unwrap_or("there");
                Ok(Reply::say(format!("Hello, {name}!")))
            }
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }
}

export_skill!(Hello);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_unpacks_standalone_and_versioned_and_is_refreshed() {
        let tmp = tempfile::tempdir().unwrap();
        let sdk = unpack_sdk(tmp.path()).unwrap();
        assert_eq!(sdk, tmp.path().join("v0.1.0/sdk"));
        let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
        assert!(!manifest.contains(".workspace"), "{manifest}");
        assert!(
            manifest.contains("wit-bindgen = { version = \"0.61\""),
            "{manifest}"
        );
        // The SDK finds its WIT at the same relative path as in the repository.
        assert!(SDK_LIB.contains("path: \"../wit/since_v0.1.0\""));
        assert!(sdk.join("../wit/since_v0.1.0/skill.wit").is_file());
        std::fs::write(sdk.join("src/lib.rs"), "broken").unwrap();
        unpack_sdk(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(sdk.join("src/lib.rs")).unwrap(),
            SDK_LIB
        );
    }

    #[test]
    fn new_skill_points_at_the_unpacked_sdk_and_checks_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let sdk = unpack_sdk(&tmp.path().join("home")).unwrap();
        let dir = tmp.path().join("tea-timer");
        new_skill(&dir, "tea-timer", &sdk).unwrap();
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let canonical = std::fs::canonicalize(&sdk).unwrap();
        assert!(
            cargo.contains(&format!("path = \"{}\"", canonical.display())),
            "{cargo}"
        );
        let m = crate::Manifest::parse(
            &std::fs::read_to_string(dir.join("skill.toml")).unwrap(),
            "skill.toml",
        )
        .unwrap();
        assert_eq!(m.id, "dev.local.tea.timer");
        assert!(matches!(
            new_skill(&dir, "tea-timer", &sdk),
            Err(ScaffoldError::Exists(_))
        ));
        for bad in [
            "",
            "Tea",
            "tea_timer",
            "-tea",
            "9lives",
            "tea-",
            &"a".repeat(41),
        ] {
            assert!(
                matches!(
                    new_skill(&tmp.path().join("x"), bad, &sdk),
                    Err(ScaffoldError::BadName(_))
                ),
                "{bad:?}"
            );
        }
    }
}
