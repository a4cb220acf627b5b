//! The assistant's one intent engine: Emma's built-in home intents, every
//! loaded skill's templates and extra files, merged with
//! [`IntentEngine::from_sources`] (each source keeps its own lists), plus the
//! routing table that says who handles each intent.
//!
//! A skill cannot shadow a built-in intent or another skill's intent: the
//! merge refuses a clash of intent names, and [`check_new_skill`] checks
//! names and sentences ([`super::shadow`]) before a skill is installed, so a
//! clash is an install error, not a runtime surprise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emma_intent::{IntentEngine, IntentError, IntentSource, Owners};
use emma_skill_host::{Bundle, SkillHome};

use super::error::AssistantError;
use super::shadow::Shadow;

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
    Ok(routes(engine, owners, skills))
}

/// The routing table of a merged engine: `owners` as [`IntentEngine::from_sources`]
/// returned them; `skills` are the ids of skill owners (others are extra files).
pub fn routes(engine: IntentEngine, owners: Owners, skills: &[String]) -> Routes {
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
    Routes { engine, handlers }
}

/// A merged engine and the skills it could not take.
pub struct Merged {
    /// The engine of everything merged.
    pub engine: IntentEngine,
    /// Intent → owner.
    pub owners: Owners,
    /// Ids of the skills merged, in the order given.
    pub accepted: Vec<String>,
    /// Skills left out: (id, why).
    pub refused: Vec<(String, String)>,
}

/// Merges `base` with the skills' sources (`(id, source for the language)`,
/// in load order), leaving out a skill whose intent names clash with what is
/// already merged or whose templates do not compile. Names are checked by
/// parsing only and the merged engine is compiled once; only when that
/// compile fails are the skills merged one at a time to find the culprit.
pub fn merge_skills(
    base: &[IntentSource],
    skills: &[(String, Option<IntentSource>)],
    lang: &str,
) -> Result<Merged, IntentError> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for s in base {
        for n in s.intent_names(lang)? {
            names.entry(n).or_insert_with(|| s.owner.clone());
        }
    }
    let mut refused = Vec::new();
    let mut kept: Vec<&(String, Option<IntentSource>)> = Vec::new();
    for skill in skills {
        let (id, source) = skill;
        if let Some(src) = source {
            let own = match src.intent_names(lang) {
                Ok(n) => n,
                Err(e) => {
                    refused.push((id.clone(), e.to_string()));
                    continue;
                }
            };
            if let Some(n) = own.iter().find(|n| names.contains_key(*n)) {
                let clash = IntentError::Clash {
                    origin: emma_intent::Origin {
                        file: src.origin.clone(),
                        line: None,
                    },
                    intent: n.clone(),
                    first: names[n].clone(),
                    second: id.clone(),
                };
                refused.push((id.clone(), clash.to_string()));
                continue;
            }
            for n in own {
                names.insert(n, id.clone());
            }
        }
        kept.push(skill);
    }
    let with = |kept: &[&(String, Option<IntentSource>)]| -> Vec<IntentSource> {
        base.iter()
            .cloned()
            .chain(kept.iter().filter_map(|(_, s)| s.clone()))
            .collect()
    };
    let (engine, owners) = match IntentEngine::from_sources(&with(&kept), lang) {
        Ok(merged) => merged,
        Err(e) if kept.is_empty() => return Err(e),
        Err(_) => {
            // Some skill's templates do not compile here: merge one at a time to find it.
            let mut good: Vec<&(String, Option<IntentSource>)> = Vec::new();
            for skill in kept {
                let mut trial = good.clone();
                trial.push(skill);
                match IntentEngine::from_sources(&with(&trial), lang) {
                    Ok(_) => good = trial,
                    Err(e) => refused.push((skill.0.clone(), e.to_string())),
                }
            }
            kept = good;
            IntentEngine::from_sources(&with(&kept), lang)?
        }
    };
    Ok(Merged {
        engine,
        owners,
        accepted: kept.iter().map(|(id, _)| id.clone()).collect(),
        refused,
    })
}

/// Refuses a skill whose intents would shadow a built-in intent or an
/// installed skill's intent, in every language it ships templates for: by
/// intent name ([`IntentError::Clash`]) or by sentence
/// ([`AssistantError::Shadows`], see [`super::shadow`]). Overlaps with the
/// intents the manifest lists under `shadows` are allowed and returned, so the
/// installer can tell the customer.
pub fn check_new_skill(home: &SkillHome, bundle: &Bundle) -> Result<Vec<Shadow>, AssistantError> {
    let installed = home.list()?;
    let id = &bundle.manifest.id;
    let mut allowed = Vec::new();
    for lang in emma_devices::control::BUILTIN_LANGUAGES {
        let Some(new) = skill_source(bundle, lang) else {
            continue;
        };
        let mut others = vec![
            builtin_source(lang)?,
            dialog_source(lang)?,
            super::handoff::intent_source(lang)?,
        ];
        for skill in &installed {
            if skill.bundle.manifest.id == *id {
                continue; // a new version replaces the old one
            }
            others.extend(skill_source(&skill.bundle, lang));
        }
        // The merge refuses a clash of intent names (naming both owners), then sentences are checked.
        for shadow in super::shadow::overlaps(id, &others, &new, lang)? {
            if bundle.manifest.shadows.contains(&shadow.shadowed) {
                allowed.push(shadow);
            } else {
                return Err(AssistantError::Shadows {
                    shadow: Box::new(shadow),
                });
            }
        }
    }
    Ok(allowed)
}
