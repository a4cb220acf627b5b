//! The assistant's one intent engine: Emma's built-in home intents, every
//! loaded skill's templates and extra files, merged with
//! [`IntentEngine::from_sources`] (each source keeps its own lists), plus the
//! routing table that says who handles each intent.
//!
//! A skill cannot shadow a built-in intent or another skill's intent: the
//! merge refuses a clash, and [`check_new_skill`] runs the same merge before a
//! skill is installed so the clash is an install error, not a runtime surprise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emma_intent::{IntentEngine, IntentError, IntentSource, Owners};
use emma_skill_host::{Bundle, SkillHome};

use super::error::AssistantError;

/// Who handles built-in intents.
pub const BUILTIN: &str = "built-in";

/// Who handles an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// Emma's home control.
    Builtin,
    /// A skill, by id.
    Skill(String),
    /// An extra intent file nobody handles: recognised and reported only.
    Unhandled(String),
    /// The dialog's own answers (yes, no, cancel, a room) said with no question pending.
    Dialog,
    /// The customer asks for a person: a handoff to the brand's desk.
    Handoff,
}

impl Handler {
    /// The name events use: `built-in`, the skill id or the file.
    pub fn name(&self) -> &str {
        match self {
            Handler::Builtin => BUILTIN,
            Handler::Dialog => super::dialog::DIALOG,
            Handler::Handoff => super::handoff::OWNER,
            Handler::Skill(id) | Handler::Unhandled(id) => id,
        }
    }
}

/// The built-in home intents of `lang` as a source.
pub fn builtin_source(lang: &str) -> Result<IntentSource, AssistantError> {
    let text = match lang {
        "en" => emma_devices::control::EN_YAML,
        "de" => emma_devices::control::DE_YAML,
        other => {
            return Err(AssistantError::Config {
                field: "language".into(),
                reason: format!("no built-in home intents for {other:?}"),
            });
        }
    };
    Ok(IntentSource {
        owner: BUILTIN.into(),
        origin: format!("built-in {lang}.yaml"),
        text: text.into(),
        // The runtime lists (name, area, floor) are shared; built-ins keep their names.
        namespace: None,
    })
}

/// The dialog's answers (yes, no, cancel, a room) as a source.
pub fn dialog_source(lang: &str) -> Result<IntentSource, AssistantError> {
    let r = super::dialog::Responses::builtin(lang)?;
    Ok(IntentSource {
        owner: super::dialog::DIALOG.into(),
        origin: format!("dialog responses/{lang}.yaml"),
        text: r.dialog_templates(lang),
        namespace: None,
    })
}

/// A skill bundle's templates for `lang`, if it ships them.
pub fn skill_source(bundle: &Bundle, lang: &str) -> Option<IntentSource> {
    let id = &bundle.manifest.id;
    bundle
        .intents
        .iter()
        .find(|(l, _)| l == lang)
        .map(|(_, yaml)| IntentSource::namespaced(id, format!("{id}/intents/{lang}.yaml"), yaml))
}

/// The intent files in `path` (one file, or the `.yaml`/`.yml`/`.json` files of a directory).
pub fn extra_sources(path: &Path) -> Result<Vec<IntentSource>, AssistantError> {
    let io = |p: &Path, source| AssistantError::Io {
        path: p.display().to_string(),
        source,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).map_err(|e| io(f, e))?;
            let owner = f.display().to_string();
            Ok(IntentSource::namespaced(owner.clone(), owner, text))
        })
        .collect()
}

/// The merged engine and who handles what.
pub struct Routes {
    /// The one engine (speech grammar and matching).
    pub engine: IntentEngine,
    /// Intent → handler.
    pub handlers: BTreeMap<String, Handler>,
}

/// Merges the sources; `skills` are the ids of skill owners (others are extra files).
pub fn build(
    sources: &[IntentSource],
    lang: &str,
    skills: &[String],
) -> Result<Routes, IntentError> {
    let (engine, owners): (IntentEngine, Owners) = IntentEngine::from_sources(sources, lang)?;
    let handlers = owners
        .into_iter()
        .map(|(intent, owner)| {
            let h = if owner == BUILTIN {
                Handler::Builtin
            } else if owner == super::dialog::DIALOG {
                Handler::Dialog
            } else if owner == super::handoff::OWNER {
                Handler::Handoff
            } else if skills.contains(&owner) {
                Handler::Skill(owner)
            } else {
                Handler::Unhandled(owner)
            };
            (intent, h)
        })
        .collect();
    Ok(Routes { engine, handlers })
}

/// Refuses a skill whose intents would shadow a built-in intent or an
/// installed skill's intent, in every language it ships templates for.
pub fn check_new_skill(home: &SkillHome, bundle: &Bundle) -> Result<(), AssistantError> {
    let installed = home.list()?;
    for lang in emma_devices::control::BUILTIN_LANGUAGES {
        let Some(new) = skill_source(bundle, lang) else {
            continue;
        };
        let mut sources = vec![
            builtin_source(lang)?,
            dialog_source(lang)?,
            super::handoff::intent_source(lang)?,
        ];
        for skill in &installed {
            if skill.bundle.manifest.id == bundle.manifest.id {
                continue; // a new version replaces the old one
            }
            sources.extend(skill_source(&skill.bundle, lang));
        }
        sources.push(new);
        IntentEngine::from_sources(&sources, lang)?;
    }
    Ok(())
}
