//! Keeps the threads that finish the bindings' async calls attached to the
//! Java VM, so Kotlin's `suspend` calls do not pay for a thread attach and
//! detach each time.
//!
//! # Why
//!
//! uniffi's Kotlin bindings learn that an async call (`processText`, `start`,
//! …) can make progress through a JNA callback (uniffi's
//! `UniffiRustFutureContinuationCallback`), invoked on whichever thread wakes
//! the call's future: the assistant's conversation thread for `processText`,
//! a tokio blocking-pool thread for `start`/`stop`/`endAudio`, a tokio worker
//! for device commands. None of them is a Java thread. JNA attaches such a
//! thread to the JVM for the callback and detaches it again afterwards, on
//! every callback: the JVM creates and registers a `java.lang.Thread` for it
//! and tears it down each time, which made a Kotlin `processText` cost
//! 0.2–0.5 ms more than the same call from Rust. A thread that is already
//! attached when the callback comes is left attached: JNA's
//! `callback_dispatch` only detaches threads it attached itself.
//!
//! # How
//!
//! Every async method wraps its future in [`attach_waker`]. The waker it hands
//! down attaches the waking thread to the JVM the first time that thread wakes
//! a call (`AttachCurrentThreadAsDaemon`: a daemon never keeps the JVM from
//! exiting), and the thread stays attached until it ends, when a thread-local
//! guard detaches it. Threads that are attached already (Java threads, or
//! threads inside a JNA callback) are left alone.
//!
//! The adapters that call the app (event and device listeners, speech
//! synthesis) call [`attach_current_thread`] first as well. Measured with JNA
//! 5.13: once JNA itself has attached a thread for a callback (the
//! conversation thread's first listener call), it detaches that thread after
//! its later callbacks too, even when something else attached it meanwhile;
//! a thread that only this module ever attached stays attached. The Kotlin
//! test `Assistant.kt` checks it: the listener calls of later turns all come
//! from one daemon `Thread`. The JVM is found with
//! `JNI_GetCreatedJavaVMs` from the libjvm already in the process: JNA loads
//! this library with `dlopen`, so `JNI_OnLoad` is never called. In a process
//! without a JVM (Python, Swift, Rust callers) attaching is a no-op and the
//! wrapper only counts the wake as a call into the app (`crate::callbacks`);
//! where `JNI_GetCreatedJavaVMs` cannot be found
//! (Android before API 31 does not export it) JNA attaches per callback as
//! before.
//!
//! This module is infrastructure, not behaviour: it changes which thread
//! state the callbacks run in, never what a call does or returns.

// JNI's invocation interface and dlsym are C APIs; each unsafe block says why it holds.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

/// Wraps an async method's future so that the thread that wakes it is
/// attached to the JVM (when there is one) before the foreign callback runs,
/// and the callback is counted as a call into the app ([`crate::callbacks`]).
pub(crate) fn attach_waker<F: Future>(future: F) -> AttachWaker<F> {
    AttachWaker {
        future: Box::pin(future),
        wakers: None,
    }
}

/// The future [`attach_waker`] returns.
pub(crate) struct AttachWaker<F> {
    future: Pin<Box<F>>,
    /// The caller's waker and the attaching one wrapping it, reused while the caller's stays the same.
    wakers: Option<(Waker, Waker)>,
}

impl<F: Future> Future for AttachWaker<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if !matches!(&this.wakers, Some((theirs, _)) if theirs.will_wake(cx.waker())) {
            let ours = Waker::from(Arc::new(Attaching(cx.waker().clone())));
            this.wakers = Some((cx.waker().clone(), ours));
        }
        let (_, ours) = this.wakers.as_ref().expect("set above");
        this.future.as_mut().poll(&mut Context::from_waker(ours))
    }
}

/// A waker that attaches the waking thread, then wakes the caller's waker
/// (counted as a call into the app).
struct Attaching(Waker);

impl Wake for Attaching {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The caller's waker runs uniffi's continuation callback: a call into the app.
        let _app = crate::callbacks::enter_app();
        self.0.wake_by_ref();
    }
}

/// The process's Java VM.
#[derive(Clone, Copy)]
struct JavaVm(*mut jni_sys::JavaVM);

// SAFETY: a `JavaVM` pointer is valid for the life of the process and the
// invocation interface may be called from any thread (JNI specification).
unsafe impl Send for JavaVm {}
// SAFETY: as above; the pointer is never written through.
unsafe impl Sync for JavaVm {}

/// The process's Java VM, if it has one (looked up once).
fn java_vm() -> Option<JavaVm> {
    static VM: OnceLock<Option<JavaVm>> = OnceLock::new();
    *VM.get_or_init(find_java_vm)
}

/// Detaches the current thread from the JVM when the thread ends.
struct Attached(JavaVm);

impl Drop for Attached {
    fn drop(&mut self) {
        let vm = (self.0).0;
        // SAFETY: `vm` is a live JavaVM (see `JavaVm`); this thread attached
        // itself with it; detaching a thread that was detached meanwhile is a no-op.
        unsafe { ((**vm).v1_1.DetachCurrentThread)(vm) };
    }
}

thread_local! {
    /// Set once this thread attached itself to the JVM.
    static ATTACHED: RefCell<Option<Attached>> = const { RefCell::new(None) };
}

/// Attaches the current thread to the JVM as a daemon unless it is attached
/// already (a no-op without a JVM); it stays attached until it ends.
pub(crate) fn attach_current_thread() {
    let Some(vm) = java_vm() else { return };
    let raw = vm.0;
    let mut env: *mut std::ffi::c_void = ptr::null_mut();
    // SAFETY: `raw` is a live JavaVM; GetEnv only reads this thread's state.
    let state = unsafe { ((**raw).v1_2.GetEnv)(raw, &mut env, jni_sys::JNI_VERSION_1_4) };
    if state != jni_sys::JNI_EDETACHED {
        return;
    }
    // `try_with` fails while the thread's locals are torn down: then leave it to JNA.
    let _ = ATTACHED.try_with(|slot| {
        // SAFETY: `raw` is a live JavaVM and this thread is not attached;
        // null attach arguments are allowed (the JVM names the thread).
        let status =
            unsafe { ((**raw).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, ptr::null_mut()) };
        if status == jni_sys::JNI_OK {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(Attached(vm));
            }
        } else {
            tracing::debug!(
                "could not attach a thread to the JVM ({status}): JNA attaches per callback"
            );
        }
    });
}

/// `JNI_GetCreatedJavaVMs`.
type GetCreatedJavaVms = unsafe extern "system" fn(
    *mut *mut jni_sys::JavaVM,
    jni_sys::jsize,
    *mut jni_sys::jsize,
) -> jni_sys::jint;

/// The Java VM of this process, from `JNI_GetCreatedJavaVMs` in its libjvm.
fn find_java_vm() -> Option<JavaVm> {
    let symbol = find_symbol(c"JNI_GetCreatedJavaVMs")?;
    // SAFETY: the symbol is JNI's `JNI_GetCreatedJavaVMs`, whose C signature `GetCreatedJavaVms` is.
    let get = unsafe { std::mem::transmute::<*mut std::ffi::c_void, GetCreatedJavaVms>(symbol) };
    let mut vm: *mut jni_sys::JavaVM = ptr::null_mut();
    let mut count: jni_sys::jsize = 0;
    // SAFETY: a buffer of one VM pointer and a count, as the function takes.
    let status = unsafe { get(&mut vm, 1, &mut count) };
    (status == jni_sys::JNI_OK && count >= 1 && !vm.is_null()).then_some(JavaVm(vm))
}

/// `name` in the process: globally visible (the `java` launcher loads libjvm
/// with `RTLD_GLOBAL`) or in a runtime library already loaded (an embedder's
/// libjvm, Android's libnativehelper from API 31).
#[cfg(unix)]
fn find_symbol(name: &std::ffi::CStr) -> Option<*mut std::ffi::c_void> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the global scope.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if !symbol.is_null() {
        return Some(symbol);
    }
    for library in [
        c"libjvm.so",
        c"libjvm.dylib",
        c"libnativehelper.so",
        c"libart.so",
    ] {
        // SAFETY: RTLD_NOLOAD only returns a library that is loaded already; never loads one.
        let handle = unsafe { libc::dlopen(library.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        if handle.is_null() {
            continue;
        }
        // SAFETY: `handle` is a valid handle from dlopen; the name is NUL-terminated.
        let symbol = unsafe { libc::dlsym(handle, name.as_ptr()) };
        // SAFETY: drops the reference dlopen took; the library stays loaded (it was before).
        unsafe { libc::dlclose(handle) };
        if !symbol.is_null() {
            return Some(symbol);
        }
    }
    None
}

/// No lookup outside Unix: JNA attaches per callback there.
#[cfg(not(unix))]
fn find_symbol(_name: &std::ffi::CStr) -> Option<*mut std::ffi::c_void> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn no_jvm_in_a_rust_process() {
        assert!(java_vm().is_none());
    }

    #[test]
    fn wakes_reach_the_callers_waker_and_output_passes_through() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut fut = attach_waker(rx);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        std::thread::spawn(move || tx.send(7).expect("receiver alive"))
            .join()
            .expect("sender thread");
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut fut).poll(&mut cx),
            Poll::Ready(Ok(7))
        ));
    }
}
