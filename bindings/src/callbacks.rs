//! Calls from Emma's threads into the app, counted, so that an app can wait
//! until none is running before its runtime shuts down
//! ([`wait_for_callbacks`]).
//!
//! # Why
//!
//! Emma's threads call the app: uniffi's continuation callback when an async
//! call completes (the thread that finished the work wakes the awaiting
//! coroutine), the event and device listeners, speech synthesis, calibration
//! progress. In CPython before 3.14, a thread that wants the GIL back while the
//! interpreter is finalizing is ended with `pthread_exit`; that forced unwind
//! cannot cross the Rust frames below the callback (the thread's `extern "C"`
//! start), and the process aborts with "FATAL: exception not rethrown"
//! (SIGABRT). uniffi's Python continuation callback releases the GIL inside
//! `call_soon_threadsafe` (the socket write that wakes the event loop), so
//! the awaiting coroutine, `asyncio.run` and the whole program can finish
//! before the waking thread has returned: CI saw it once, in the Python
//! example, after its last `await assistant.stop()`. moq-dev/moq#3766 traced
//! the same stack with uniffi's Python bindings.
//!
//! # How
//!
//! Every call into the app holds an [`InApp`] while it runs: the adapters of
//! listeners and speech synthesis take one, and [`crate::jvm::attach_waker`]
//! takes one around every wake of an async call's future (that wake is where
//! uniffi's continuation callback runs). [`wait_for_callbacks`] blocks until
//! none is held. A Python app registers it with `atexit`: exit handlers run
//! before finalization starts, and while the main thread waits inside this
//! foreign call (the GIL released) the other thread takes the GIL back and
//! returns. Kotlin needs none of this (the JVM stops daemon threads without
//! unwinding them).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How many calls into the app are running.
static RUNNING: Mutex<usize> = Mutex::new(0);
/// Notified when [`RUNNING`] drops to 0.
static IDLE: Condvar = Condvar::new();

fn running() -> MutexGuard<'static, usize> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held while one call into the app runs; see the module docs.
pub(crate) struct InApp(());

impl InApp {
    /// Counts a call into the app until the value is dropped.
    pub(crate) fn enter() -> InApp {
        *running() += 1;
        InApp(())
    }
}

impl Drop for InApp {
    fn drop(&mut self) {
        let mut n = running();
        *n = n.saturating_sub(1);
        if *n == 0 {
            IDLE.notify_all();
        }
    }
}

/// Prepares the current thread for a call into the app (attaches it to the
/// JVM when there is one) and counts the call until the value is dropped.
pub(crate) fn enter_app() -> InApp {
    crate::jvm::attach_current_thread();
    InApp::enter()
}

/// Waits until no thread of Emma's is inside a call into the app (an async
/// call's completion, an event or device listener, speech synthesis), or
/// until `timeout_ms` have passed; returns whether none is. Python apps
/// register it before they exit, so that the interpreter never ends one of
/// Emma's threads in the middle of such a call (which aborts the process):
/// `atexit.register(emma.wait_for_callbacks, 2000)`. Calling it from a
/// listener waits for that listener itself, until the timeout.
#[uniffi::export]
pub fn wait_for_callbacks(timeout_ms: u32) -> bool {
    let n = running();
    let (n, _) = IDLE
        .wait_timeout_while(n, Duration::from_millis(timeout_ms.into()), |n| *n > 0)
        .unwrap_or_else(|e| e.into_inner());
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn waiting_ends_when_the_last_call_into_the_app_returns() {
        let (entered, inside) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let app = std::thread::spawn(move || {
            let _call = InApp::enter();
            entered.send(()).unwrap();
            released.recv().unwrap();
        });
        inside.recv().unwrap();
        assert!(!wait_for_callbacks(20), "a call is running");
        let waiter = std::thread::spawn(|| wait_for_callbacks(10_000));
        std::thread::sleep(Duration::from_millis(50));
        release.send(()).unwrap();
        assert!(
            waiter.join().unwrap(),
            "the wait ends when the call returns"
        );
        app.join().unwrap();
        assert!(wait_for_callbacks(5_000));
    }
}
