//! The C API of `libmoonshine.so` (moonshine-cpp 0.1.4), loaded at run time:
//! with [`super::reclaim`], the only unsafe code of the Moonshine backend.
//!
//! `libmoonshine.so` needs `libonnxruntime.so.1`; both live in the model
//! directory's `lib/` (where `scripts/setup` puts them). ONNX Runtime is
//! opened first by its full path with `RTLD_GLOBAL`, so the dynamic loader
//! finds it by its soname when it opens libmoonshine, without an rpath or
//! `LD_LIBRARY_PATH`. Nothing links against either library: a build without
//! them still compiles and runs, and only opening a Moonshine model fails.
//!
//! The C functions (from the wheel's `moonshine_cpp.py`):
//! - `int moonshine_load_model(const char *encoder, const char *decoder, const char *tokenizer, int32_t type)`:
//!   a handle ≥ 0, or -1;
//! - `int moonshine_transcribe(int handle, const float *audio, size_t len, char **text)`:
//!   0 on success, `*text` then owned by the library;
//! - `void moonshine_free_text(char *text)`, `void moonshine_free_model(int handle)`.
//!
//! ONNX Runtime errors inside `moonshine_transcribe` are C++ exceptions the
//! library does not catch: the process aborts. The safe wrapper
//! ([`super::MoonshineModel`]) therefore only passes audio within the
//! lengths the model accepts.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

use crate::error::{Result, SpeechError};

/// `MOONSHINE_MODEL_TYPE_BASE` of the C API.
pub const MODEL_TYPE_BASE: i32 = 1;

type LoadModel = unsafe extern "C" fn(*const c_char, *const c_char, *const c_char, i32) -> c_int;
type Transcribe = unsafe extern "C" fn(c_int, *const f32, usize, *mut *mut c_char) -> c_int;
type FreeText = unsafe extern "C" fn(*mut c_char);
type FreeModel = unsafe extern "C" fn(c_int);

/// The opened libraries and their functions. Never closed: ONNX Runtime
/// keeps global state (threads, allocators) that must outlive every model.
pub struct Library {
    load_model: LoadModel,
    transcribe: Transcribe,
    free_text: FreeText,
    free_model: FreeModel,
}

fn load_error(path: &Path, reason: String) -> SpeechError {
    SpeechError::ModelLoad {
        engine: "moonshine",
        path: path.to_owned(),
        reason,
    }
}

fn dlerror() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl* call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dlopen error".to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated (see above).
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

fn dlopen(path: &Path, flags: c_int) -> Result<*mut c_void> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| load_error(path, "path contains a NUL byte".to_owned()))?;
    // SAFETY: `c` is a valid C string; dlopen has no other preconditions.
    let h = unsafe { libc::dlopen(c.as_ptr(), flags) };
    if h.is_null() {
        return Err(load_error(path, format!("cannot open: {}", dlerror())));
    }
    Ok(h)
}

fn symbol(lib: *mut c_void, name: &CStr, path: &Path) -> Result<*mut c_void> {
    // SAFETY: `lib` is a handle from dlopen and `name` a C string.
    let s = unsafe { libc::dlsym(lib, name.as_ptr()) };
    if s.is_null() {
        return Err(load_error(
            path,
            format!(
                "{} has no symbol {}",
                path.display(),
                name.to_string_lossy()
            ),
        ));
    }
    Ok(s)
}

/// The first `libonnxruntime.so.*` file (not a symlink's target check:
/// either the versioned file or the `.so.1` link will do) in `lib`.
fn onnxruntime(lib: &Path) -> Option<PathBuf> {
    let soname = lib.join("libonnxruntime.so.1");
    if soname.exists() {
        return Some(soname);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

impl Library {
    /// Opens ONNX Runtime and libmoonshine from `lib` (a model directory's `lib/`).
    pub fn open(lib: &Path) -> Result<Library> {
        let ort = onnxruntime(lib).ok_or_else(|| {
            load_error(
                lib,
                "no libonnxruntime.so.* here; run scripts/setup".to_owned(),
            )
        })?;
        let moonshine = lib.join("libmoonshine.so");
        if !moonshine.is_file() {
            return Err(load_error(
                lib,
                "no libmoonshine.so here; run scripts/setup".to_owned(),
            ));
        }
        let ort = dlopen(&ort, libc::RTLD_NOW | libc::RTLD_GLOBAL)?;
        let h = dlopen(&moonshine, libc::RTLD_NOW | libc::RTLD_LOCAL)?;
        super::reclaim::install(ort, h);
        let sym = |name: &CStr| symbol(h, name, &moonshine);
        // SAFETY: the symbols have the C signatures documented in the
        // module docs (moonshine-cpp's own ctypes declarations).
        unsafe {
            Ok(Library {
                load_model: std::mem::transmute::<*mut c_void, LoadModel>(sym(
                    c"moonshine_load_model",
                )?),
                transcribe: std::mem::transmute::<*mut c_void, Transcribe>(sym(
                    c"moonshine_transcribe",
                )?),
                free_text: std::mem::transmute::<*mut c_void, FreeText>(sym(
                    c"moonshine_free_text",
                )?),
                free_model: std::mem::transmute::<*mut c_void, FreeModel>(sym(
                    c"moonshine_free_model",
                )?),
            })
        }
    }

    /// Loads a model; `None` when the library refuses it.
    pub fn load_model(
        self,
        encoder: &CStr,
        decoder: &CStr,
        tokenizer: &CStr,
        model_type: i32,
    ) -> Option<Model> {
        // SAFETY: three valid C strings; the library copies what it keeps.
        let handle = unsafe {
            (self.load_model)(
                encoder.as_ptr(),
                decoder.as_ptr(),
                tokenizer.as_ptr(),
                model_type,
            )
        };
        (handle >= 0).then_some(Model {
            lib: self,
            handle,
            reclaimed: 0,
        })
    }
}

/// A loaded model: the handle is used only through `&mut self` and freed
/// once, on drop.
pub struct Model {
    lib: Library,
    handle: c_int,
    /// Values [`super::reclaim`] released after the last transcription.
    reclaimed: usize,
}

impl Model {
    /// Transcribes `audio` (16 kHz mono in [-1, 1]). Audio outside
    /// `min..=max` samples (the caller's bounds, see the module docs) is
    /// refused with `Err(None)` rather than passed on; `Err(Some(rc))` is
    /// the library's error code.
    pub fn transcribe(
        &mut self,
        audio: &[f32],
        min: usize,
        max: usize,
    ) -> std::result::Result<String, Option<i32>> {
        if audio.len() < min || audio.len() > max {
            return Err(None);
        }
        let mut text: *mut c_char = std::ptr::null_mut();
        let leaks = super::reclaim::Transcription::begin(audio);
        // SAFETY: the handle is live (freed only in Drop) and `&mut self`
        // keeps calls from overlapping; `audio` is valid for `len` floats.
        let rc =
            unsafe { (self.lib.transcribe)(self.handle, audio.as_ptr(), audio.len(), &mut text) };
        self.reclaimed = leaks.map_or(0, super::reclaim::Transcription::finish);
        if rc != 0 {
            return Err(Some(rc));
        }
        if text.is_null() {
            return Ok(String::new());
        }
        // SAFETY: the library returned a NUL-terminated string it owns until free_text.
        let out = unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: `text` came from moonshine_transcribe and is freed once.
        unsafe { (self.lib.free_text)(text) };
        Ok(out)
    }
}

impl Model {
    /// How many leaked tensors were released after the last transcription
    /// (0 where the remedy does not apply).
    pub fn reclaimed(&self) -> usize {
        self.reclaimed
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the handle came from moonshine_load_model and is freed only here.
        unsafe { (self.lib.free_model)(self.handle) }
    }
}
