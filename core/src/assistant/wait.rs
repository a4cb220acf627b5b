//! Waiting for a message that usually comes within microseconds.
//!
//! A text turn is two hand-offs between threads: the caller's request to
//! the conversation thread, and the turn back. A thread blocked in
//! `recv` sleeps in the kernel, and waking it from another core costs an
//! inter-processor interrupt: on this project's 2-core VM a text turn took
//! about 62 µs when the two threads shared a core and about 99 µs when they
//! did not (`process_text`, median of 300, each process settling into one
//! mode or the other; `cargo bench --bench ffi_overhead` showed the same
//! split between runs of the Rust baseline). [`recv_soon`] polls for a
//! short while first, yielding the core between polls (so a thread on the
//! same core runs meanwhile), and only then sleeps: a message that comes in
//! time is taken without a wake-up at all. [`try_soon`] does the same for
//! an async turn's reply, for a shorter while ([`ASYNC_POLL`]), before the
//! turn yields to its executor.

use std::sync::mpsc::{Receiver, RecvError, TryRecvError};
use std::time::{Duration, Instant};

/// How long [`recv_soon`] polls before it sleeps: a text turn's hand-offs
/// (tens of microseconds) fit; a spoken turn (hundreds of milliseconds)
/// costs this much polling, once.
pub const POLL: Duration = Duration::from_micros(200);

/// How long an async text turn ([`super::Assistant::process_text_async`])
/// polls for its reply before it yields to its executor: a text turn
/// usually ends within it (about 60 µs), so the caller's executor is not
/// woken from another thread for it; longer turns block the executor's
/// thread this long, once.
pub const ASYNC_POLL: Duration = Duration::from_micros(100);

/// The message of `rx` if it comes within `poll` (polling, yielding the
/// core between polls); `None` when it has not come by then (await `rx`).
pub fn try_soon<T>(
    rx: &mut tokio::sync::oneshot::Receiver<T>,
    poll: Duration,
) -> Option<Result<T, RecvError>> {
    use tokio::sync::oneshot::error::TryRecvError;
    poll_for(poll, || match rx.try_recv() {
        Ok(v) => Some(Ok(v)),
        Err(TryRecvError::Closed) => Some(Err(RecvError)),
        Err(TryRecvError::Empty) => None,
    })
}

/// The next message of `rx`, polling for `poll` (yielding between polls)
/// before blocking. `Err` when every sender is gone.
pub fn recv_soon<T>(rx: &Receiver<T>, poll: Duration) -> Result<T, RecvError> {
    poll_for(poll, || match rx.try_recv() {
        Ok(v) => Some(Ok(v)),
        Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
        Err(TryRecvError::Empty) => None,
    })
    .unwrap_or_else(|| rx.recv())
}

/// What `attempt` gives, tried again (yielding the core in between) until
/// it gives something or `poll` has passed; `None` then.
fn poll_for<T>(poll: Duration, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = attempt() {
            return Some(v);
        }
        if start.elapsed() >= poll {
            return None;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_reply_in_time_is_taken_and_a_late_one_is_left_to_await() {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        tx.send(1).unwrap();
        assert_eq!(try_soon(&mut rx, ASYNC_POLL), Some(Ok(1)));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<i32>();
        let t = Instant::now();
        assert_eq!(try_soon(&mut rx, ASYNC_POLL), None, "nothing came");
        assert!(t.elapsed() >= ASYNC_POLL);
        tx.send(2).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rx), Ok(2), "still there to await");
        let (tx, mut rx) = tokio::sync::oneshot::channel::<i32>();
        drop(tx);
        assert_eq!(try_soon(&mut rx, ASYNC_POLL), Some(Err(RecvError)));
    }

    #[test]
    fn a_message_is_taken_whether_it_comes_while_polling_or_after() {
        let (tx, rx) = mpsc::channel();
        tx.send(1).unwrap();
        assert_eq!(recv_soon(&rx, POLL), Ok(1));
        // Long after the polling ends: the blocking receive takes it.
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(2).unwrap();
            tx
        });
        let t = Instant::now();
        assert_eq!(recv_soon(&rx, POLL), Ok(2));
        assert!(t.elapsed() >= Duration::from_millis(50));
        drop(late.join().unwrap());
        // Every sender gone: an error, not a hang.
        assert_eq!(recv_soon(&rx, POLL), Err(RecvError));
    }
}
