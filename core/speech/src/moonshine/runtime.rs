//! ONNX Runtime's C API, opened at run time from the model directory: with
//! this module's unsafe code, the Moonshine backend runs the model's encoder
//! and decoder itself ([`super::decode`]).
//!
//! `scripts/setup` puts `libonnxruntime.so.1` (1.22, from the moonshine-cpp
//! wheel) in the model directory's `lib/`. It is opened with `RTLD_LOCAL`
//! and reached only through the function table `OrtGetApiBase()->GetApi(22)`
//! returns, whose layout is that of [`ort_sys::OrtApi`] (the table only
//! grows between versions; nothing past version 22's entries is used).
//! Nothing links against it: a build without the library still compiles and
//! runs, and only opening a Moonshine model fails. The `ort` crate is not
//! used for this: it keeps one process-wide API table, which the wake-word
//! detector (livekit-wakeword) points at its pure-Rust backend.
//!
//! Every call returns a status; a failure becomes [`SpeechError::Engine`]
//! with ONNX Runtime's message (no C++ exception crosses this API). Each
//! handle is released exactly once, by the `Drop` of the type that owns it.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use ort_sys::{
    GraphOptimizationLevel, ONNXTensorElementDataType, OrtAllocatorType, OrtApi, OrtApiBase,
    OrtEnv, OrtLoggingLevel, OrtMemType, OrtMemoryInfo, OrtSession, OrtStatusPtr, OrtValue,
};

use crate::error::{Result, SpeechError};

/// The API version requested: ONNX Runtime 1.22's.
const API_VERSION: u32 = 22;

/// An error of the Moonshine engine saying `reason`.
pub(super) fn engine_error(reason: String) -> SpeechError {
    SpeechError::Engine {
        engine: "moonshine",
        reason,
    }
}

fn load_error(path: &Path, reason: String) -> SpeechError {
    SpeechError::ModelLoad {
        engine: "moonshine",
        path: path.to_owned(),
        reason,
    }
}

/// The first `libonnxruntime.so*` in `lib` (the `.so.1` link first).
pub fn library_in(lib: &Path) -> Option<PathBuf> {
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

/// ONNX Runtime, opened: its function table, one environment and the CPU
/// memory description tensors are made with. Shared by the sessions and
/// values made from it, and kept open until the last is dropped.
pub struct Runtime {
    api: &'static OrtApi,
    env: NonNull<OrtEnv>,
    memory: NonNull<OrtMemoryInfo>,
}

// SAFETY: ONNX Runtime's environment and memory info are documented as
// usable from any thread; the table is immutable.
unsafe impl Send for Runtime {}
// SAFETY: as above.
unsafe impl Sync for Runtime {}

impl Runtime {
    /// Opens ONNX Runtime from `lib` (a model directory's `lib/`).
    pub fn open(lib: &Path) -> Result<Arc<Runtime>> {
        let path = library_in(lib).ok_or_else(|| {
            load_error(
                lib,
                "no libonnxruntime.so.* here; run scripts/setup".to_owned(),
            )
        })?;
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| load_error(&path, "path contains a NUL byte".to_owned()))?;
        // SAFETY: `c` is a valid C string. The handle is never closed: ONNX
        // Runtime keeps global state (threads, allocators) for the process.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            return Err(load_error(&path, format!("cannot open: {}", dlerror())));
        }
        // SAFETY: `h` is a live handle and the name a C string.
        let sym = unsafe { libc::dlsym(h, c"OrtGetApiBase".as_ptr()) };
        if sym.is_null() {
            return Err(load_error(&path, "no symbol OrtGetApiBase".to_owned()));
        }
        // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime.
        let base = unsafe {
            std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const OrtApiBase>(sym)()
        };
        // SAFETY: a non-null base is a static table of two functions.
        let api = unsafe { base.as_ref() }
            .map(|b| unsafe { (b.GetApi)(API_VERSION) })
            .filter(|a| !a.is_null())
            .ok_or_else(|| {
                load_error(
                    &path,
                    format!("this ONNX Runtime does not offer API version {API_VERSION} (1.22 or newer is needed)"),
                )
            })?;
        // SAFETY: GetApi returned a static table valid for the process.
        let api: &'static OrtApi = unsafe { &*api };
        let mut env = ptr::null_mut();
        // SAFETY: a valid log id and out pointer.
        check(api, unsafe {
            (api.CreateEnv)(
                OrtLoggingLevel::ORT_LOGGING_LEVEL_ERROR,
                c"emma-moonshine".as_ptr(),
                &mut env,
            )
        })
        .map_err(|e| load_error(&path, e))?;
        let env = NonNull::new(env).ok_or_else(|| load_error(&path, "no environment".into()))?;
        let mut memory = ptr::null_mut();
        // SAFETY: valid enum values and out pointer.
        let made = check(api, unsafe {
            (api.CreateCpuMemoryInfo)(
                OrtAllocatorType::OrtArenaAllocator,
                OrtMemType::OrtMemTypeDefault,
                &mut memory,
            )
        });
        let Some(memory) = NonNull::new(memory).filter(|_| made.is_ok()) else {
            // SAFETY: `env` was created above and is released once.
            unsafe { (api.ReleaseEnv)(env.as_ptr()) };
            return Err(load_error(&path, "no CPU memory info".into()));
        };
        Ok(Arc::new(Runtime { api, env, memory }))
    }

    /// Opens the model at `path` (ONNX or ORT format) with every graph
    /// optimisation on.
    pub fn session(self: &Arc<Self>, path: &Path) -> Result<Session> {
        let api = self.api;
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| load_error(path, "path contains a NUL byte".to_owned()))?;
        let mut options = ptr::null_mut();
        // SAFETY: out pointer.
        check(api, unsafe { (api.CreateSessionOptions)(&mut options) })
            .map_err(|e| load_error(path, e))?;
        let mut session = ptr::null_mut();
        // SAFETY: `options` is live until released below; `c` a C string.
        let made = check(api, unsafe {
            (api.SetSessionGraphOptimizationLevel)(options, GraphOptimizationLevel::ORT_ENABLE_ALL)
        })
        .and_then(|()| {
            // Idle intra-op threads sleep instead of spinning: PocketSphinx's
            // verification passes need the other core while Moonshine runs
            // (12 dB kitchen recordings: 16% less CPU time, no slower).
            // SAFETY: `options` is live; both strings are C strings.
            check(api, unsafe {
                (api.AddSessionConfigEntry)(
                    options,
                    c"session.intra_op.allow_spinning".as_ptr(),
                    c"0".as_ptr(),
                )
            })
        })
        .and_then(|()| {
            check(api, unsafe {
                (api.CreateSession)(self.env.as_ptr(), c.as_ptr(), options, &mut session)
            })
        });
        // SAFETY: created above, released once; the session keeps what it needs.
        unsafe { (api.ReleaseSessionOptions)(options) };
        made.map_err(|e| load_error(path, e))?;
        let session =
            NonNull::new(session).ok_or_else(|| load_error(path, "no session".to_owned()))?;
        let mut s = Session {
            runtime: self.clone(),
            session,
            inputs: vec![],
            outputs: vec![],
        };
        s.inputs = s.names(true).map_err(|e| load_error(path, e))?;
        s.outputs = s.names(false).map_err(|e| load_error(path, e))?;
        Ok(s)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: created in `open`, released once; no session or value
        // outlives the runtime (each holds an `Arc` of it).
        unsafe {
            (self.api.ReleaseMemoryInfo)(self.memory.as_ptr());
            (self.api.ReleaseEnv)(self.env.as_ptr());
        }
    }
}

/// `Ok` for a null status, else its message (the status released).
fn check(api: &OrtApi, status: OrtStatusPtr) -> std::result::Result<(), String> {
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null status from this API; its message lives until released.
    let message = unsafe { CStr::from_ptr((api.GetErrorMessage)(status.0)) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: released once, after its message was copied.
    unsafe { (api.ReleaseStatus)(status.0) };
    Err(message)
}

/// One loaded model and the names of its inputs and outputs.
pub struct Session {
    runtime: Arc<Runtime>,
    session: NonNull<OrtSession>,
    inputs: Vec<CString>,
    outputs: Vec<CString>,
}

// SAFETY: `OrtApi::Run` may be called on one session from several threads;
// the names are immutable.
unsafe impl Send for Session {}
// SAFETY: as above.
unsafe impl Sync for Session {}

impl Session {
    fn names(&self, inputs: bool) -> std::result::Result<Vec<CString>, String> {
        let api = self.runtime.api;
        let mut count = 0;
        let mut allocator = ptr::null_mut();
        // SAFETY: live session, out pointers; the default allocator is static.
        check(api, unsafe {
            if inputs {
                (api.SessionGetInputCount)(self.session.as_ptr(), &mut count)
            } else {
                (api.SessionGetOutputCount)(self.session.as_ptr(), &mut count)
            }
        })?;
        check(api, unsafe {
            (api.GetAllocatorWithDefaultOptions)(&mut allocator)
        })?;
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let mut name: *mut c_char = ptr::null_mut();
            // SAFETY: `i` < count; the name is allocated with `allocator`.
            check(api, unsafe {
                if inputs {
                    (api.SessionGetInputName)(self.session.as_ptr(), i, allocator, &mut name)
                } else {
                    (api.SessionGetOutputName)(self.session.as_ptr(), i, allocator, &mut name)
                }
            })?;
            if name.is_null() {
                return Err(format!("input or output {i} has no name"));
            }
            // SAFETY: a NUL-terminated name, copied, then freed once with its allocator.
            out.push(unsafe { CStr::from_ptr(name) }.to_owned());
            check(api, unsafe { (api.AllocatorFree)(allocator, name.cast()) })?;
        }
        Ok(out)
    }

    /// The declared shape of input `index` (`-1` for a dimension named
    /// rather than fixed).
    pub fn input_shape(&self, index: usize) -> Result<Vec<i64>> {
        let api = self.runtime.api;
        let mut info = ptr::null_mut();
        // SAFETY: live session, out pointer; `index` is checked by ONNX Runtime.
        check(api, unsafe {
            (api.SessionGetInputTypeInfo)(self.session.as_ptr(), index, &mut info)
        })
        .map_err(engine_error)?;
        let mut tensor = ptr::null();
        let mut n = 0;
        // SAFETY: `info` is live until released below, and `tensor` borrows from it.
        let got = check(api, unsafe {
            (api.CastTypeInfoToTensorInfo)(info, &mut tensor)
        })
        .and_then(|()| {
            if tensor.is_null() {
                return Err(format!("input {index} is not a tensor"));
            }
            check(api, unsafe { (api.GetDimensionsCount)(tensor, &mut n) })
        })
        .and_then(|()| {
            let mut dims = vec![0i64; n];
            check(api, unsafe {
                (api.GetDimensions)(tensor, dims.as_mut_ptr(), n)
            })
            .map(|()| dims)
        });
        // SAFETY: created above, released once (the tensor info with it).
        unsafe { (api.ReleaseTypeInfo)(info) };
        got.map_err(engine_error)
    }

    /// The model's input names, in its order.
    pub fn inputs(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|n| n.to_str().unwrap_or(""))
    }

    /// The model's output names, in its order.
    pub fn outputs(&self) -> impl Iterator<Item = &str> {
        self.outputs.iter().map(|n| n.to_str().unwrap_or(""))
    }

    /// Runs the model on `inputs` (one value per input, in [`Self::inputs`]'
    /// order); returns every output, in [`Self::outputs`]' order.
    pub fn run(&self, inputs: &[&Value]) -> Result<Vec<Value>> {
        let all: Vec<usize> = (0..self.outputs.len()).collect();
        self.run_for(inputs, &all)
    }

    /// Runs the model on `inputs` as [`Self::run`] does, for the outputs
    /// `wanted` only (indices into [`Self::outputs`]), returned in that
    /// order: ONNX Runtime then need not make or copy the others.
    pub fn run_for(&self, inputs: &[&Value], wanted: &[usize]) -> Result<Vec<Value>> {
        if let Some(&bad) = wanted.iter().find(|&&i| i >= self.outputs.len()) {
            return Err(engine_error(format!(
                "the model has {} outputs, not {}",
                self.outputs.len(),
                bad + 1
            )));
        }
        if inputs.len() != self.inputs.len() {
            return Err(engine_error(format!(
                "the model takes {} inputs, {} given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let api = self.runtime.api;
        let in_names: Vec<*const c_char> = self.inputs.iter().map(|n| n.as_ptr()).collect();
        let in_values: Vec<*const OrtValue> = inputs
            .iter()
            .map(|v| v.value.as_ptr().cast_const())
            .collect();
        let out_names: Vec<*const c_char> =
            wanted.iter().map(|&i| self.outputs[i].as_ptr()).collect();
        let mut outs: Vec<*mut OrtValue> = vec![ptr::null_mut(); out_names.len()];
        // SAFETY: names and values are live for the call and as many as
        // the model declares; ONNX Runtime fills `outs` with new values.
        let status = unsafe {
            (api.Run)(
                self.session.as_ptr(),
                ptr::null(),
                in_names.as_ptr(),
                in_values.as_ptr(),
                in_values.len(),
                out_names.as_ptr(),
                out_names.len(),
                outs.as_mut_ptr(),
            )
        };
        // Own whatever was made before reporting an error, so it is released.
        let owned: Vec<Option<Value>> = outs
            .into_iter()
            .map(|p| {
                NonNull::new(p).map(|value| Value {
                    runtime: self.runtime.clone(),
                    value,
                    _data: Data::Runtime,
                })
            })
            .collect();
        check(api, status).map_err(|e| engine_error(format!("the model failed: {e}")))?;
        owned
            .into_iter()
            .map(|v| v.ok_or_else(|| engine_error("the model gave no value for an output".into())))
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: created in `Runtime::session`, released once.
        unsafe { (self.runtime.api.ReleaseSession)(self.session.as_ptr()) }
    }
}

/// Who owns a tensor's data.
enum Data {
    /// ONNX Runtime (an output).
    Runtime,
    /// This vector, which ONNX Runtime reads in place (an input).
    F32(#[allow(dead_code)] Vec<f32>),
    I64(#[allow(dead_code)] Vec<i64>),
    Bool(#[allow(dead_code)] Vec<bool>),
}

/// One tensor: an input made here or an output of [`Session::run`].
pub struct Value {
    runtime: Arc<Runtime>,
    value: NonNull<OrtValue>,
    _data: Data,
}

// SAFETY: a value is used by one thread at a time (`&mut`/ownership) and
// its data is owned alongside it.
unsafe impl Send for Value {}

impl Value {
    fn over<T>(
        runtime: &Arc<Runtime>,
        shape: &[i64],
        data: &mut [T],
        kind: ONNXTensorElementDataType,
    ) -> Result<NonNull<OrtValue>> {
        let elements: i64 = shape.iter().product();
        if shape.iter().any(|&d| d < 0) || elements != data.len() as i64 {
            return Err(engine_error(format!(
                "a tensor of shape {shape:?} cannot hold {} elements",
                data.len()
            )));
        }
        let api = runtime.api;
        let mut value = ptr::null_mut();
        // SAFETY: `data` is valid for its length in bytes and outlives the
        // value (both are kept in the same `Value`); `shape` is read now.
        check(api, unsafe {
            (api.CreateTensorWithDataAsOrtValue)(
                runtime.memory.as_ptr(),
                data.as_mut_ptr().cast(),
                std::mem::size_of_val(data),
                shape.as_ptr(),
                shape.len(),
                kind,
                &mut value,
            )
        })
        .map_err(|e| engine_error(format!("cannot make a tensor: {e}")))?;
        NonNull::new(value).ok_or_else(|| engine_error("no tensor made".into()))
    }

    /// A float tensor of `shape` over `data`.
    pub fn f32(runtime: &Arc<Runtime>, shape: &[i64], mut data: Vec<f32>) -> Result<Value> {
        let value = Self::over(
            runtime,
            shape,
            &mut data,
            ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
        )?;
        Ok(Value {
            runtime: runtime.clone(),
            value,
            _data: Data::F32(data),
        })
    }

    /// A 64-bit integer tensor of `shape` over `data`.
    pub fn i64(runtime: &Arc<Runtime>, shape: &[i64], mut data: Vec<i64>) -> Result<Value> {
        let value = Self::over(
            runtime,
            shape,
            &mut data,
            ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64,
        )?;
        Ok(Value {
            runtime: runtime.clone(),
            value,
            _data: Data::I64(data),
        })
    }

    /// A boolean tensor of `shape` over `data`.
    pub fn bool(runtime: &Arc<Runtime>, shape: &[i64], mut data: Vec<bool>) -> Result<Value> {
        let value = Self::over(
            runtime,
            shape,
            &mut data,
            ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL,
        )?;
        Ok(Value {
            runtime: runtime.clone(),
            value,
            _data: Data::Bool(data),
        })
    }

    /// The tensor's element type and shape.
    fn describe(&self) -> Result<(ONNXTensorElementDataType, Vec<i64>)> {
        let api = self.runtime.api;
        let mut info = ptr::null_mut();
        // SAFETY: live value, out pointer.
        check(api, unsafe {
            (api.GetTensorTypeAndShape)(self.value.as_ptr(), &mut info)
        })
        .map_err(engine_error)?;
        let mut n = 0;
        let mut kind = ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
        // SAFETY: `info` is live until released below; out pointers.
        let got = check(api, unsafe { (api.GetTensorElementType)(info, &mut kind) })
            .and_then(|()| check(api, unsafe { (api.GetDimensionsCount)(info, &mut n) }))
            .and_then(|()| {
                let mut dims = vec![0i64; n];
                check(api, unsafe {
                    (api.GetDimensions)(info, dims.as_mut_ptr(), n)
                })
                .map(|()| (kind, dims))
            });
        // SAFETY: created above, released once.
        unsafe { (api.ReleaseTensorTypeAndShapeInfo)(info) };
        got.map_err(engine_error)
    }

    /// The tensor's shape.
    pub fn shape(&self) -> Result<Vec<i64>> {
        Ok(self.describe()?.1)
    }

    /// A float tensor of one row (first dimension 1) repeated `batch` times
    /// along that dimension.
    pub fn tiled(&self, batch: usize) -> Result<Value> {
        let mut shape = self.shape()?;
        if shape.first() != Some(&1) {
            return Err(engine_error(format!(
                "cannot repeat a tensor of shape {shape:?}: its first dimension is not 1"
            )));
        }
        shape[0] = batch as i64;
        let one = self.floats()?;
        let mut data = Vec::with_capacity(one.len() * batch);
        for _ in 0..batch {
            data.extend_from_slice(one);
        }
        Value::f32(&self.runtime, &shape, data)
    }

    /// The elements of a float tensor.
    pub fn floats(&self) -> Result<&[f32]> {
        let (kind, shape) = self.describe()?;
        if kind != ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT {
            return Err(engine_error(format!("a tensor of {kind:?}, not floats")));
        }
        let n: i64 = shape.iter().product();
        let n = usize::try_from(n).map_err(|_| engine_error("a negative tensor size".into()))?;
        let api = self.runtime.api;
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: live value, out pointer.
        check(api, unsafe {
            (api.GetTensorMutableData)(self.value.as_ptr(), &mut data)
        })
        .map_err(engine_error)?;
        if n == 0 {
            return Ok(&[]);
        }
        if data.is_null() {
            return Err(engine_error("a tensor without data".into()));
        }
        // SAFETY: a float tensor (checked above) of `n` elements whose data
        // lives as long as the value, which `&self` borrows.
        Ok(unsafe { std::slice::from_raw_parts(data.cast::<f32>(), n) })
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: made by `over` or returned by `Run`, released once.
        unsafe { (self.runtime.api.ReleaseValue)(self.value.as_ptr()) }
    }
}
