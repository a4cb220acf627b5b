//! Watching the home's devices as they change, for apps that show them live
//! ([`Assistant::watch_devices`]). A watch sees every device event the
//! registry reports (added, changed, removed, new state), independently of
//! the skills and of the conversation.

use std::sync::Arc;

use emma_devices::{DeviceEvent, EventFilter, StreamItem};

use super::{Assistant, AssistantError};

/// Receives the device events of a watch, in order, one at a time, on a
/// thread of the assistant's blocking pool. A panic is caught and logged; the
/// watch goes on.
pub trait DeviceListener: Send + Sync {
    /// One device event.
    fn on_device_event(&self, event: &DeviceEvent);
    /// The listener was too slow and `missed` events were dropped.
    fn on_missed(&self, missed: u64) {
        tracing::warn!(missed, "a device watch missed events");
    }
}

/// A running watch: it stops when cancelled or dropped (a stopped assistant
/// reports no more device events).
#[derive(Debug)]
pub struct DeviceWatch {
    task: tokio::task::JoinHandle<()>,
}

impl DeviceWatch {
    /// Stops the watch; no event is delivered after the one in progress.
    pub fn cancel(&self) {
        self.task.abort();
    }

    /// Whether the watch still runs.
    pub fn is_active(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Assistant {
    /// Calls `listener` with every device event for the devices `filter`
    /// covers, from now until the returned watch is cancelled or dropped.
    /// Fails when the assistant is not running.
    pub fn watch_devices(
        &self,
        filter: EventFilter,
        listener: Arc<dyn DeviceListener>,
    ) -> Result<DeviceWatch, AssistantError> {
        let mut stream = self.home()?.subscribe(filter);
        let task = self.shared.runtime.spawn(async move {
            while let Some(item) = stream.next().await {
                let l = listener.clone();
                let call = move || {
                    let called =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match item {
                            StreamItem::Event(e) => l.on_device_event(&e),
                            StreamItem::Missed(n) => l.on_missed(n),
                        }));
                    if called.is_err() {
                        tracing::warn!("a device listener panicked; the watch goes on");
                    }
                };
                // The listener may block (an app's callback): keep it off the async workers.
                if tokio::task::spawn_blocking(call).await.is_err() {
                    break;
                }
            }
        });
        Ok(DeviceWatch { task })
    }
}
