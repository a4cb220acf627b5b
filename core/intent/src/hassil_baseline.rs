//! The baseline of Emma's intent benchmarks: Python hassil, measured in the
//! same run on the same Home Assistant test sentences (feature `bench`).
//!
//! `cargo bench -p emma-intent --bench intents` and `emma bench intents` both
//! call [`compare`]: Emma loads the tree and recognises every test sentence
//! single-threaded for a few seconds; hassil ([`HASSIL_VERSION`], in a venv
//! made once by [`ensure_venv`]) recognises the same sentences in its own
//! process. The result carries both rates, their ratio, load times, memory
//! and how often the two agree on the intent.
//!
//! Unlike the rest of this crate, this module runs processes (`python3 -m
//! venv`, `pip`, the hassil script) and writes temporary files; that is why it
//! is behind a feature that only benchmark hosts enable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::harness::{Fixtures, TestCase, suite_cases};
use crate::{IntentEngine, IntentError};

/// The hassil release Emma is measured against.
pub const HASSIL_VERSION: &str = "3.0.1";

/// The Python side: loads the tree and fixtures, recognises the sentences
/// given as JSON, prints one JSON object ([`HassilRun`]).
pub const SCRIPT: &str = include_str!("../../../benches/hassil_baseline.py");

/// What can go wrong while measuring.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The root is not a Home Assistant intents tree.
    #[error("{} is not a Home Assistant intents tree (no sentences/ directory)", .0.display())]
    NotATree(PathBuf),
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The venv could not be made or hassil could not be installed.
    #[error("{0}")]
    Venv(String),
    /// The hassil run failed or printed something unexpected.
    #[error("hassil on {lang}: {reason}")]
    Hassil {
        /// The language.
        lang: String,
        /// What went wrong (hassil's stderr, or the parse error).
        reason: String,
    },
    /// Emma could not load the tree.
    #[error(transparent)]
    Intent(#[from] IntentError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BaselineError + '_ {
    move |source| BaselineError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The venv's python if it has hassil [`HASSIL_VERSION`].
pub fn venv_python(venv: &Path) -> Option<PathBuf> {
    let python = venv.join("bin").join("python");
    let check = format!(
        "import hassil, importlib.metadata as m; assert m.version('hassil') == '{HASSIL_VERSION}'"
    );
    let ok = python.is_file()
        && Command::new(&python)
            .args(["-c", &check])
            .output()
            .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// Makes (once) a venv at `venv` with hassil [`HASSIL_VERSION`] and returns
/// its python. Needs `python3` with the venv module and PyPI (`scripts/setup`
/// installs python3-venv).
pub fn ensure_venv(venv: &Path) -> Result<PathBuf, BaselineError> {
    if let Some(python) = venv_python(venv) {
        return Ok(python);
    }
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let out = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .output()
        .map_err(|e| {
            BaselineError::Venv(format!(
                "cannot run python3 -m venv ({e}); install python3 and python3-venv (scripts/setup does)"
            ))
        })?;
    if !out.status.success() {
        return Err(BaselineError::Venv(format!(
            "python3 -m venv {} failed: {}; install python3-venv (scripts/setup does)",
            venv.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let python = venv.join("bin").join("python");
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .arg(format!("hassil=={HASSIL_VERSION}"))
        .output()
        .map_err(|e| BaselineError::Venv(format!("cannot run pip in {}: {e}", venv.display())))?;
    if !out.status.success() {
        return Err(BaselineError::Venv(format!(
            "pip install hassil=={HASSIL_VERSION} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(python)
}

/// The languages of `root` that have a test suite (`tests/<lang>/_fixtures.yaml`), sorted.
pub fn test_languages(root: &Path) -> Result<Vec<String>, BaselineError> {
    let tests = root.join("tests");
    let mut langs: Vec<String> = std::fs::read_dir(&tests)
        .map_err(io(&tests))?
        .flatten()
        .filter(|e| e.path().join("_fixtures.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    langs.sort();
    Ok(langs)
}

/// What the hassil script reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HassilRun {
    /// Import + load time, seconds.
    pub load_s: f64,
    /// Time to recognise every sentence once, seconds.
    pub elapsed_s: f64,
    /// The intent hassil found for each sentence, in order.
    pub intents: Vec<Option<String>>,
    /// Peak RSS of the Python process, KiB.
    pub peak_rss_kb: u64,
}

impl HassilRun {
    /// Parses the script's output for `cases` sentences.
    pub fn parse(stdout: &[u8], cases: usize) -> Result<HassilRun, String> {
        let run: HassilRun = serde_json::from_slice(stdout).map_err(|e| {
            format!(
                "unexpected output ({e}): {}",
                String::from_utf8_lossy(stdout)
            )
        })?;
        if run.intents.len() != cases {
            return Err(format!(
                "answered {} of {cases} sentences",
                run.intents.len()
            ));
        }
        if run.elapsed_s.is_nan() || run.elapsed_s <= 0.0 {
            return Err(format!("reported {} s for the sentences", run.elapsed_s));
        }
        Ok(run)
    }
}

/// Runs hassil (with `python` from [`ensure_venv`]) on `cases` of `root`'s `lang`.
pub fn run_hassil(
    python: &Path,
    root: &Path,
    lang: &str,
    cases: &[TestCase],
) -> Result<HassilRun, BaselineError> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "emma-hassil-baseline-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let result = (|| {
        let cases_path = dir.join("cases.json");
        let script_path = dir.join("hassil_baseline.py");
        let json: Vec<serde_json::Value> = cases
            .iter()
            .map(|c| {
                let context: BTreeMap<&str, &str> = c.context.iter().collect();
                serde_json::json!({"text": c.sentence, "context": context})
            })
            .collect();
        let bytes = serde_json::to_vec(&json).expect("strings serialise");
        std::fs::write(&cases_path, bytes).map_err(io(&cases_path))?;
        std::fs::write(&script_path, SCRIPT).map_err(io(&script_path))?;
        let out = Command::new(python)
            .arg(&script_path)
            .arg(root)
            .arg(lang)
            .arg(&cases_path)
            .output()
            .map_err(|e| BaselineError::Hassil {
                lang: lang.into(),
                reason: format!("cannot run {}: {e}", python.display()),
            })?;
        if !out.status.success() {
            return Err(BaselineError::Hassil {
                lang: lang.into(),
                reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        HassilRun::parse(&out.stdout, cases.len()).map_err(|reason| BaselineError::Hassil {
            lang: lang.into(),
            reason,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Emma's side of one language.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmmaRun {
    /// Loading the tree and fixtures, seconds.
    pub load_s: f64,
    /// Sentences per second, single-threaded.
    pub sentences_per_s: f64,
    /// Resident memory added by loading the language, KiB.
    pub memory_kib: u64,
    /// Peak resident memory of this process so far, KiB.
    pub peak_rss_kib: u64,
    /// The intent Emma found for each sentence, in order.
    pub intents: Vec<Option<String>>,
}

/// Loads `root`'s `lang` (with its fixtures), recognises `cases` once for the
/// answers, then repeatedly for at least `seconds` to time them.
pub fn run_emma(
    root: &Path,
    lang: &str,
    cases: &[TestCase],
    seconds: f64,
) -> Result<EmmaRun, BaselineError> {
    let (rss_before, _) = rss_kib();
    let t0 = Instant::now();
    let mut engine = IntentEngine::from_path(root, lang)?;
    let fixtures = root.join("tests").join(lang).join("_fixtures.yaml");
    if fixtures.is_file() {
        Fixtures::from_file(&fixtures)?.apply(&mut engine);
    }
    let load_s = t0.elapsed().as_secs_f64();
    let (rss_after, _) = rss_kib();
    let intents = cases
        .iter()
        .map(|c| {
            engine
                .recognize(&c.sentence, &c.context)
                .best
                .map(|m| m.intent.to_string())
        })
        .collect();
    let t1 = Instant::now();
    let mut n = 0usize;
    while n == 0 || t1.elapsed().as_secs_f64() < seconds {
        for c in cases {
            std::hint::black_box(engine.recognize(&c.sentence, &c.context));
        }
        n += cases.len().max(1);
    }
    let (_, peak) = rss_kib();
    Ok(EmmaRun {
        load_s,
        sentences_per_s: n as f64 / t1.elapsed().as_secs_f64(),
        memory_kib: rss_after.saturating_sub(rss_before),
        peak_rss_kib: peak,
        intents,
    })
}

/// Emma against hassil on one language.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The language.
    pub lang: String,
    /// Test sentences.
    pub sentences: usize,
    /// Emma's load time, ms.
    pub emma_load_ms: f64,
    /// Emma's sentences per second.
    pub emma_sentences_per_s: f64,
    /// Memory Emma added for the language, KiB.
    pub emma_memory_kib: u64,
    /// Emma's peak RSS, KiB.
    pub emma_peak_rss_kib: u64,
    /// hassil's import + load time, ms.
    pub hassil_load_ms: f64,
    /// hassil's sentences per second.
    pub hassil_sentences_per_s: f64,
    /// hassil's peak RSS (whole Python process), KiB.
    pub hassil_peak_rss_kib: u64,
    /// Emma's rate over hassil's.
    pub speedup: f64,
    /// Share of sentences where both found the same intent (or both none).
    pub agreement: f64,
}

/// Measures Emma and hassil (run with `python`) on `root`'s `lang` test sentences.
pub fn compare(
    python: &Path,
    root: &Path,
    lang: &str,
    seconds: f64,
) -> Result<Comparison, BaselineError> {
    if !root.join("sentences").is_dir() {
        return Err(BaselineError::NotATree(root.to_owned()));
    }
    let cases = suite_cases(root, lang)?;
    let emma = run_emma(root, lang, &cases, seconds)?;
    let hassil = run_hassil(python, root, lang, &cases)?;
    let hassil_rate = cases.len() as f64 / hassil.elapsed_s;
    Ok(Comparison {
        lang: lang.to_owned(),
        sentences: cases.len(),
        emma_load_ms: emma.load_s * 1e3,
        emma_sentences_per_s: emma.sentences_per_s,
        emma_memory_kib: emma.memory_kib,
        emma_peak_rss_kib: emma.peak_rss_kib,
        hassil_load_ms: hassil.load_s * 1e3,
        hassil_sentences_per_s: hassil_rate,
        hassil_peak_rss_kib: hassil.peak_rss_kb,
        speedup: emma.sentences_per_s / hassil_rate,
        agreement: agreement(&emma.intents, &hassil.intents),
    })
}

/// Share of positions where `a` and `b` hold the same answer (0 for no answers).
pub fn agreement(a: &[Option<String>], b: &[Option<String>]) -> f64 {
    let n = a.len().max(b.len());
    if n == 0 {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n as f64
}

/// Resident memory of this process, (current, peak) in KiB; zeros where
/// `/proc` is missing.
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_counts_equal_answers_including_none() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            agreement(&[s("A"), None, s("B")], &[s("A"), None, s("C")]),
            2.0 / 3.0
        );
        assert_eq!(agreement(&[s("A")], &[s("A"), s("B")]), 0.5);
        assert_eq!(agreement(&[], &[]), 0.0);
    }

    #[test]
    fn hassil_output_is_parsed_and_checked() {
        let ok = br#"{"load_s": 0.5, "elapsed_s": 2.0, "sentences": 2, "intents": ["HassTurnOn", null], "peak_rss_kb": 51200}"#;
        let run = HassilRun::parse(ok, 2).unwrap();
        assert_eq!(run.intents, vec![Some("HassTurnOn".into()), None]);
        assert_eq!(run.peak_rss_kb, 51200);
        assert!(HassilRun::parse(ok, 3).unwrap_err().contains("2 of 3"));
        assert!(
            HassilRun::parse(b"Traceback", 2)
                .unwrap_err()
                .contains("Traceback")
        );
        let zero = br#"{"load_s": 0.5, "elapsed_s": 0.0, "intents": [], "peak_rss_kb": 1}"#;
        assert!(HassilRun::parse(zero, 0).is_err());
    }

    #[test]
    fn emma_side_measures_a_small_tree() {
        let root = std::env::temp_dir().join(format!("emma-baseline-test-{}", std::process::id()));
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "sentences/en/light.yaml",
            "language: en\nintents:\n  HassTurnOn:\n    data:\n      - sentences:\n          - turn on the light\n",
        );
        write(
            "tests/en/_fixtures.yaml",
            "language: en\nareas: []\nentities: []\n",
        );
        write(
            "tests/en/light.yaml",
            "language: en\ntests:\n  - sentences:\n      - turn on the light\n    intent:\n      name: HassTurnOn\n",
        );
        assert_eq!(test_languages(&root).unwrap(), vec!["en".to_string()]);
        let cases = suite_cases(&root, "en").unwrap();
        let run = run_emma(&root, "en", &cases, 0.01).unwrap();
        assert_eq!(run.intents, vec![Some("HassTurnOn".to_string())]);
        assert!(run.sentences_per_s > 0.0);
        let err = compare(Path::new("python3"), &root.join("tests"), "en", 0.01).unwrap_err();
        assert!(matches!(err, BaselineError::NotATree(_)), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
