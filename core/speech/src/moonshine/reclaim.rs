//! Gives back the memory libmoonshine 0.1.4 leaks on every transcription.
//!
//! **The leak.** libmoonshine keeps each decoder step's tensors in a
//! `std::map<std::string, TensorAndData*>`: a `TensorAndData` copies a
//! tensor into a buffer of its own (`calloc`) and wraps it in an ONNX Runtime
//! value (`CreateTensorWithDataAsOrtValue`). When the transcription returns,
//! the map is destroyed but the objects it points to are not: their buffers
//! and values are never freed. Measured on this machine (20 espeak-ng
//! utterances of 0.7–6.5 s, three rounds, one process): resident memory grew
//! by about 45 MB a call (1.47 → 2.37 → 3.26 GB), the same with ONNX
//! Runtime's memory arena off, so the kernel killed a long benchmark at
//! 24 GB; heaptrack put the unfreed memory in
//! `TensorAndData::TensorAndData(const Ort::Value&, std::string)`.
//!
//! **The remedy.** libmoonshine calls ONNX Runtime through the C++ API,
//! which reads the function table through one process-unique pointer,
//! `Ort::Global<void>::api_`, exported by libmoonshine. [`install`] points it
//! at a copy of the table in which `CreateTensorWithDataAsOrtValue` and
//! `ReleaseValue` also note, per thread, the values created over a caller's
//! buffer and the ones released. Around each transcription ([`Transcription`])
//! what libmoonshine created and did not release is released, and its buffer
//! freed (`free`, as libmoonshine itself frees the buffers of the entries it
//! replaces). libmoonshine keeps nothing from one call to the next: the map
//! is a local of `MoonshineModel::transcribe`. With the remedy, the same
//! three rounds stay at 783, 790 and 791 MB, with the transcripts unchanged
//! word for word. Checked on the same runs: every buffer freed is the start
//! of a heap block of the tensor's size (`malloc_usable_size` 8–24 bytes
//! above it), and with freed memory overwritten
//! (`GLIBC_TUNABLES=glibc.malloc.perturb=165`) later transcriptions are
//! still word for word the same, so nothing reads a buffer after it is freed.
//! (valgrind cannot run ONNX Runtime's AVX-512 code on this machine.)
//!
//! What is still lost per call: the `TensorAndData` objects themselves and
//! their names (about 150 bytes each, some 400 a call: about 60 kB), whose
//! addresses no API call shows.
//!
//! **Where it applies.** Only when the pieces are the ones measured: ONNX
//! Runtime 1.22 (its table is copied with the 318 entries of API version 22)
//! and a libmoonshine that exports `api_` and `TensorAndData`'s copying
//! constructor. Any other pair is left alone ([`install`] says false), leak
//! and all, rather than patched blind.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_void};
use std::sync::OnceLock;

/// Entries of `OrtApi` in API version 22 (ONNX Runtime 1.22), from
/// `onnxruntime_c_api.h` (the ort-sys 2.0.0-rc.10 bindings count the same).
const API_ENTRIES: usize = 318;
/// Index of `CreateTensorWithDataAsOrtValue` in `OrtApi`.
const CREATE_TENSOR_WITH_DATA: usize = 49;
/// Index of `ReleaseValue` in `OrtApi`.
const RELEASE_VALUE: usize = 96;
/// The ONNX Runtime API version whose table is copied.
const API_VERSION: u32 = 22;

/// `Ort::Global<void>::api_`, the C++ API's table pointer.
const API_SYMBOL: &CStr = c"_ZN3Ort6GlobalIvE4api_E";
/// `TensorAndData::TensorAndData(const Ort::Value&, std::string)`: the
/// constructor whose objects leak; its presence says this is the measured code.
const LEAKING_CONSTRUCTOR: &CStr =
    c"_ZN13TensorAndDataC1ERKN3Ort5ValueENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE";

type OrtStatus = c_void;
type CreateTensorWithData = unsafe extern "C" fn(
    *const c_void,
    *mut c_void,
    usize,
    *const i64,
    usize,
    i32,
    *mut *mut c_void,
) -> *mut OrtStatus;
type ReleaseValue = unsafe extern "C" fn(*mut c_void);
type GetApi = unsafe extern "C" fn(u32) -> *const c_void;
type GetVersionString = unsafe extern "C" fn() -> *const c_char;
type GetApiBase = unsafe extern "C" fn() -> *const ApiBase;

/// `OrtApiBase`.
#[repr(C)]
struct ApiBase {
    get_api: GetApi,
    get_version_string: GetVersionString,
}

/// ONNX Runtime's own functions, which the hooks call on.
struct Originals {
    create: CreateTensorWithData,
    release: ReleaseValue,
}

static ORIGINALS: OnceLock<Option<Originals>> = OnceLock::new();

thread_local! {
    /// While a transcription runs on this thread: the values libmoonshine
    /// created over its own buffers and has not released, with the buffers.
    static OPEN: RefCell<Option<Vec<(usize, usize)>>> = const { RefCell::new(None) };
}

unsafe extern "C" fn create_hook(
    info: *const c_void,
    data: *mut c_void,
    len: usize,
    shape: *const i64,
    shape_len: usize,
    ty: i32,
    out: *mut *mut c_void,
) -> *mut OrtStatus {
    let Some(Some(orig)) = ORIGINALS.get() else {
        // Unreachable: the hook is installed only after ORIGINALS is set.
        std::process::abort();
    };
    // SAFETY: the caller's arguments, passed on unchanged to the function they were meant for.
    let status = unsafe { (orig.create)(info, data, len, shape, shape_len, ty, out) };
    if status.is_null() && !out.is_null() {
        // SAFETY: on success ONNX Runtime wrote the new value to `*out`.
        let value = unsafe { *out } as usize;
        let _ = OPEN.try_with(|open| {
            if let Ok(mut open) = open.try_borrow_mut()
                && let Some(open) = open.as_mut()
            {
                open.push((value, data as usize));
            }
        });
    }
    status
}

unsafe extern "C" fn release_hook(value: *mut c_void) {
    let Some(Some(orig)) = ORIGINALS.get() else {
        std::process::abort();
    };
    if !value.is_null() {
        let _ = OPEN.try_with(|open| {
            if let Ok(mut open) = open.try_borrow_mut()
                && let Some(open) = open.as_mut()
                && let Some(i) = open.iter().rposition(|&(v, _)| v == value as usize)
            {
                open.swap_remove(i);
            }
        });
    }
    // SAFETY: the caller's value, released as it asked.
    unsafe { (orig.release)(value) }
}

/// Points libmoonshine's ONNX Runtime table at the hooked copy, once per
/// process (`ort` and `moonshine` are `dlopen` handles); libraries that are
/// not the measured pair are left alone, and [`Transcription::begin`] then
/// says `None`.
pub(super) fn install(ort: *mut c_void, moonshine: *mut c_void) {
    // SAFETY: see `patch`.
    ORIGINALS.get_or_init(|| unsafe { patch(ort, moonshine) });
}

/// # Safety
/// `ort` and `moonshine` are live `dlopen` handles of ONNX Runtime and
/// libmoonshine; no transcription is running (the table is swapped under it).
unsafe fn patch(ort: *mut c_void, moonshine: *mut c_void) -> Option<Originals> {
    // SAFETY: dlsym on live handles with C-string names.
    let (base, slot, ctor) = unsafe {
        (
            libc::dlsym(ort, c"OrtGetApiBase".as_ptr()),
            libc::dlsym(moonshine, API_SYMBOL.as_ptr()),
            libc::dlsym(moonshine, LEAKING_CONSTRUCTOR.as_ptr()),
        )
    };
    if base.is_null() || slot.is_null() || ctor.is_null() {
        return None;
    }
    // SAFETY: OrtGetApiBase has this signature in every ONNX Runtime release.
    let base = unsafe { std::mem::transmute::<*mut c_void, GetApiBase>(base)() };
    if base.is_null() {
        return None;
    }
    // SAFETY: `base` is ONNX Runtime's static OrtApiBase; the version string is static.
    let version = unsafe { CStr::from_ptr(((*base).get_version_string)()) };
    if !version.to_bytes().starts_with(b"1.22.") {
        return None;
    }
    // SAFETY: as above; GetApi returns null or the static table.
    let table = unsafe { ((*base).get_api)(API_VERSION) } as *const *const c_void;
    let slot = slot as *mut *const *const c_void;
    // SAFETY: `slot` is `Ort::Global<void>::api_`, a pointer libmoonshine set
    // when it was loaded; it must already hold the same table.
    if table.is_null() || unsafe { *slot } != table {
        return None;
    }
    // SAFETY: ONNX Runtime 1.22's table has API_ENTRIES function pointers.
    let mut copy: Box<[*const c_void]> =
        unsafe { std::slice::from_raw_parts(table, API_ENTRIES) }.into();
    // SAFETY: the two entries have these signatures (onnxruntime_c_api.h).
    let originals = unsafe {
        Originals {
            create: std::mem::transmute::<*const c_void, CreateTensorWithData>(
                copy[CREATE_TENSOR_WITH_DATA],
            ),
            release: std::mem::transmute::<*const c_void, ReleaseValue>(copy[RELEASE_VALUE]),
        }
    };
    copy[CREATE_TENSOR_WITH_DATA] = create_hook as *const c_void;
    copy[RELEASE_VALUE] = release_hook as *const c_void;
    // The copy lives as long as the process: libmoonshine reads it on every call.
    let copy: &'static [*const c_void] = Box::leak(copy);
    // The hooks find ONNX Runtime's functions through ORIGINALS, which
    // `get_or_init` sets only after this returns; until then nothing calls
    // them, because the swap below is the last step and no transcription runs.
    // SAFETY: `slot` is a writable data symbol of libmoonshine.
    unsafe { *slot = copy.as_ptr() };
    Some(originals)
}

/// One transcription's bookkeeping on this thread: [`Transcription::begin`]
/// before `moonshine_transcribe`, [`Transcription::finish`] after it.
pub(super) struct Transcription {
    orig: &'static Originals,
    /// The caller's audio buffer, as addresses.
    audio: std::ops::Range<usize>,
}

impl Transcription {
    /// Starts noting values; `None` where the remedy is not installed.
    /// `audio` is the caller's buffer: a value over it is never freed here.
    pub(super) fn begin(audio: &[f32]) -> Option<Transcription> {
        let Some(Some(orig)) = ORIGINALS.get() else {
            return None;
        };
        OPEN.try_with(|open| open.try_borrow_mut().map(|mut o| *o = Some(Vec::new())))
            .ok()?
            .ok()?;
        let range = audio.as_ptr_range();
        Some(Transcription {
            orig,
            audio: range.start as usize..range.end as usize,
        })
    }

    /// Releases what the transcription left behind; returns how many values.
    pub(super) fn finish(self) -> usize {
        let left = OPEN
            .try_with(|open| open.try_borrow_mut().map(|mut o| o.take()))
            .ok()
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_default();
        let mut reclaimed = 0;
        for &(value, data) in &left {
            if self.audio.contains(&data) {
                continue;
            }
            reclaimed += 1;
            // SAFETY: libmoonshine created `value` over `data` (its own
            // `calloc`) during this call and neither released it nor kept it
            // past the call (module docs); each is released and freed once.
            unsafe {
                (self.orig.release)(value as *mut c_void);
                libc::free(data as *mut c_void);
            }
        }
        reclaimed
    }
}
