//! Finding and merging intent files: one YAML file, a directory of them, or a
//! Home Assistant intents tree (`sentences/<lang>/`, `lists/`, `rules/`,
//! `intents.yaml`), including HA's per-intent "slot combination" folders
//! (`sentences/<lang>/<Intent>/<combination>.yaml`), converted to the classic
//! format the way the HA intents repository does.

use std::path::{Path, PathBuf};

use crate::engine::Sources;
use crate::error::IntentError;
use crate::yaml::{self, Yaml};

fn read(path: &Path) -> Result<String, IntentError> {
    std::fs::read_to_string(path).map_err(|source| IntentError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, IntentError> {
    let mut files = vec![];
    let entries = std::fs::read_dir(dir).map_err(|source| IntentError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Reads and parses one file, remembering its text for error lines.
fn load_file(path: &Path, sources: &mut Sources, lang: &str) -> Result<Yaml, IntentError> {
    let text = read(path)?;
    let name = path.display().to_string();
    let text = crate::foreign::to_hassil(&text, &name, lang)?;
    let doc = yaml::parse(&text, &name)?;
    sources.files.push((name, text));
    Ok(doc)
}

/// Reads one merged-language JSON file of the `home-assistant-intents`
/// package (the dictionary hassil loads with `Intents.from_dict`).
fn load_json(path: &Path, sources: &mut Sources) -> Result<Yaml, IntentError> {
    let text = read(path)?;
    let name = path.display().to_string();
    let doc = yaml::parse_json(&text, &name)?;
    if !matches!(doc, Yaml::Map(_)) {
        return Err(IntentError::Field {
            origin: crate::error::Origin {
                file: name,
                line: None,
            },
            field: "(top level)".into(),
            message: "expected an object with `language` and `intents`".into(),
        });
    }
    sources.files.push((name, text));
    Ok(doc)
}

/// The package JSON file for `lang` when `path` is the package's `data`
/// directory (`<lang>.json`) or the package directory itself (`data/<lang>.json`).
fn package_json(path: &Path, lang: &str) -> Option<PathBuf> {
    [
        path.join(format!("{lang}.json")),
        path.join("data").join(format!("{lang}.json")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Loads and merges everything `path` holds for `lang`: a YAML file or tree,
/// or the `home-assistant-intents` JSON (a `<lang>.json` file, or the
/// package's directory holding `data/<lang>.json`).
pub(crate) fn load_path(path: &Path, lang: &str) -> Result<(Yaml, Sources), IntentError> {
    let mut sources = Sources { files: vec![] };
    if path.is_file() && path.extension().is_some_and(|e| e == "json") {
        let doc = load_json(path, &mut sources)?;
        return Ok((doc, sources));
    }
    if path.is_dir()
        && !path.join("sentences").is_dir()
        && let Some(json) = package_json(path, lang)
    {
        let doc = load_json(&json, &mut sources)?;
        return Ok((doc, sources));
    }
    if path.is_file() {
        let doc = load_file(path, &mut sources, lang)?;
        return Ok((doc, sources));
    }
    if !path.is_dir() {
        return Err(IntentError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    let (root, sentences) = if path.join("sentences").join(lang).is_dir() {
        (Some(path.to_path_buf()), path.join("sentences").join(lang))
    } else {
        // A sentences/<lang> directory inside a tree, or a plain directory of YAML files.
        let root = path
            .parent()
            .and_then(Path::parent)
            .filter(|r| {
                path.parent().is_some_and(|p| p.ends_with("sentences"))
                    && r.join("intents.yaml").is_file()
            })
            .map(Path::to_path_buf);
        (root, path.to_path_buf())
    };
    let doc = load_language(root.as_deref(), &sentences, lang, &mut sources)?;
    if doc.get("intents").is_none_or(|i| i.entries().is_empty()) {
        return Err(IntentError::NothingToLoad {
            path: path.to_path_buf(),
            lang: lang.to_string(),
        });
    }
    Ok((doc, sources))
}

/// Merges `sentences_dir/*.yaml`, then adds slot-combination folders for
/// intents the classic files don't define (with `lists/` and `rules/`).
fn load_language(
    root: Option<&Path>,
    sentences_dir: &Path,
    lang: &str,
    sources: &mut Sources,
) -> Result<Yaml, IntentError> {
    let mut merged = Yaml::Map(vec![]);
    for file in yaml_files(sentences_dir)? {
        let doc = load_file(&file, sources, lang)?;
        merged.merge(doc);
    }
    let info = intent_info(root, sources)?;
    let mut activated = false;
    for dir in subdirs(sentences_dir) {
        let intent = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let has_classic = merged.get("intents").and_then(|i| i.get(&intent)).is_some();
        if has_classic {
            continue;
        }
        let data = convert_intent_dir(&dir, &intent, &info, true, sources, lang)?;
        if data.is_empty() {
            continue;
        }
        merged.merge(Yaml::Map(vec![(
            "intents".into(),
            Yaml::Map(vec![(
                intent,
                Yaml::Map(vec![("data".into(), Yaml::Seq(data))]),
            )]),
        )]));
        activated = true;
    }
    if activated && let Some(root) = root {
        add_shared(root, lang, &mut merged, sources)?;
    }
    Ok(merged)
}

/// Overlays `lists/*.yaml`, `lists/<lang>/*.yaml` and `rules/<lang>/*.yaml`.
fn add_shared(
    root: &Path,
    lang: &str,
    merged: &mut Yaml,
    sources: &mut Sources,
) -> Result<(), IntentError> {
    let mut overlay = |dir: PathBuf, key: &str, merged: &mut Yaml| -> Result<(), IntentError> {
        if !dir.is_dir() {
            return Ok(());
        }
        for file in yaml_files(&dir)? {
            let doc = load_file(&file, sources, lang)?;
            if let Some(Yaml::Map(entries)) = doc.get(key) {
                set_entries(merged, key, entries.clone());
            }
        }
        Ok(())
    };
    overlay(root.join("lists"), "lists", merged)?;
    overlay(root.join("lists").join(lang), "lists", merged)?;
    overlay(root.join("rules").join(lang), "expansion_rules", merged)?;
    Ok(())
}

/// `merged[key].update(entries)` (overwrite, keep order of first definition).
fn set_entries(merged: &mut Yaml, key: &str, entries: Vec<(String, Yaml)>) {
    if let Yaml::Map(top) = merged {
        let target = match top.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => v,
            None => {
                top.push((key.to_string(), Yaml::Map(vec![])));
                &mut top.last_mut().expect("pushed").1
            }
        };
        if let Yaml::Map(map) = target {
            for (k, v) in entries {
                match map.iter_mut().find(|(mk, _)| *mk == k) {
                    Some((_, old)) => *old = v,
                    None => map.push((k, v)),
                }
            }
        }
    }
}

fn intent_info(root: Option<&Path>, sources: &mut Sources) -> Result<Yaml, IntentError> {
    match root.map(|r| r.join("intents.yaml")).filter(|p| p.is_file()) {
        Some(p) => load_file(&p, sources, "en"),
        None => Ok(Yaml::Null),
    }
}

/// Converts one `sentences/<lang>/<Intent>/` folder to classic data blocks.
/// `context_area` adds the satellite-area requirement of combinations that need it.
fn convert_intent_dir(
    dir: &Path,
    intent: &str,
    info: &Yaml,
    context_area: bool,
    sources: &mut Sources,
    lang: &str,
) -> Result<Vec<Yaml>, IntentError> {
    let combos = info.get(intent).and_then(|i| i.get("slot_combinations"));
    let mut out = vec![];
    for file in yaml_files(dir)? {
        let combo = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let combo_info = combos.and_then(|c| c.get(&combo));
        let doc = load_file(&file, sources, lang)?;
        let groups: Vec<&Yaml> = doc
            .get("data")
            .map(|d| d.items().iter().collect())
            .unwrap_or_default();
        let groups: Vec<&Yaml> = groups
            .into_iter()
            .filter(|g| {
                !g.get("sentences")
                    .map(Yaml::items)
                    .unwrap_or(&[])
                    .is_empty()
            })
            .collect();
        let untagged: Vec<&Yaml> = groups
            .iter()
            .copied()
            .filter(|g| !g.get("speech_to_phrase").is_some_and(Yaml::is_true))
            .collect();
        let chosen = if untagged.is_empty() {
            groups
        } else {
            untagged
        };
        for group in chosen {
            out.push(convert_group(group, &combo, combo_info, info, context_area));
        }
    }
    Ok(out)
}

fn convert_group(
    group: &Yaml,
    combo: &str,
    combo_info: Option<&Yaml>,
    info: &Yaml,
    context_area: bool,
) -> Yaml {
    let mut slots = group.get("slots").cloned().unwrap_or(Yaml::Map(vec![]));
    let mut requires = group
        .get("requires_context")
        .cloned()
        .unwrap_or(Yaml::Map(vec![]));
    let mut metadata = group.get("metadata").cloned().unwrap_or(Yaml::Map(vec![]));
    if let Some(domains) = group.get("name_domains") {
        let domains = match domains {
            Yaml::Str(name) => info
                .get("name_domain_groups")
                .and_then(|g| g.get(name))
                .cloned()
                .or_else(|| {
                    combo_info
                        .and_then(|c| c.get("name_domain_groups"))
                        .and_then(|g| g.get(name))
                        .cloned()
                })
                .unwrap_or(Yaml::Seq(vec![Yaml::Str(name.clone())])),
            other => other.clone(),
        };
        requires.merge(Yaml::Map(vec![("domain".into(), domains)]));
    } else if let Some(domain) = group.get("inferred_domain") {
        slots.merge(Yaml::Map(vec![("domain".into(), domain.clone())]));
    }
    if context_area
        && combo_info
            .and_then(|c| c.get("context_area"))
            .is_some_and(Yaml::is_true)
    {
        requires.merge(Yaml::Map(vec![(
            "area".into(),
            Yaml::Map(vec![("slot".into(), Yaml::Bool(true))]),
        )]));
    }
    metadata.merge(Yaml::Map(vec![(
        "slot_combination".into(),
        Yaml::Str(combo.into()),
    )]));
    let mut entry = vec![
        (
            "sentences".to_string(),
            group.get("sentences").cloned().unwrap_or(Yaml::Seq(vec![])),
        ),
        ("metadata".to_string(), metadata),
    ];
    if !slots.entries().is_empty() {
        entry.push(("slots".into(), slots));
    }
    if !requires.entries().is_empty() {
        entry.push(("requires_context".into(), requires));
    }
    for key in ["response", "expansion_rules", "lists", "excludes_context"] {
        if let Some(v) = group.get(key) {
            entry.push((key.into(), v.clone()));
        }
    }
    Yaml::Map(entry)
}

/// The document for one per-intent test folder: `_common.yaml` (skip words,
/// shared lists and rules), the intent's slot-combination folder, then
/// `lists/` and `rules/` (which take precedence).
pub(crate) fn load_intent_folder(
    root: &Path,
    lang: &str,
    intent: &str,
) -> Result<(Yaml, Sources), IntentError> {
    let mut sources = Sources { files: vec![] };
    let sentences = root.join("sentences").join(lang);
    let mut merged = Yaml::Map(vec![("language".into(), Yaml::Str(lang.into()))]);
    let common = sentences.join("_common.yaml");
    if common.is_file() {
        let mut doc = load_file(&common, &mut sources, lang)?;
        if let Yaml::Map(entries) = &mut doc {
            entries.retain(|(k, _)| k != "intents" && k != "responses");
        }
        merged.merge(doc);
    }
    let info = intent_info(Some(root), &mut sources)?;
    let data = convert_intent_dir(
        &sentences.join(intent),
        intent,
        &info,
        false,
        &mut sources,
        lang,
    )?;
    merged.merge(Yaml::Map(vec![(
        "intents".into(),
        Yaml::Map(vec![(
            intent.to_string(),
            Yaml::Map(vec![("data".into(), Yaml::Seq(data))]),
        )]),
    )]));
    add_shared(root, lang, &mut merged, &mut sources)?;
    Ok((merged, sources))
}
