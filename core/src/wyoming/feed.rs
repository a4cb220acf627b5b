//! One Wyoming audio stream feeding a blocking worker (a speech decoder or
//! wake-word detectors): chunks are resampled to 16 kHz here and sent in
//! order, waiting when the worker lags (a bounded channel: a fast client
//! cannot queue unbounded audio); what the worker finds comes back on a
//! channel, taken with [`Feed::ready`]; [`Feed::end`] sends the tail and
//! waits for the worker's own result (what it gives back to its pool).

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::asr::Resampler;

/// Chunks in flight to a worker before [`Feed::push`] waits.
const IN_FLIGHT: usize = 64;

/// Audio going to one blocking worker that reports `R`s as it goes and
/// returns `W` when the audio ends.
pub(super) struct Feed<R, W> {
    resampler: Resampler,
    chunks: Option<mpsc::Sender<Vec<i16>>>,
    results: mpsc::UnboundedReceiver<R>,
    worker: Option<JoinHandle<W>>,
    /// What the worker is, for errors: "the speech decoder".
    what: &'static str,
}

impl<R: Send + 'static, W: Send + 'static> Feed<R, W> {
    /// Runs `work` on a blocking thread with the stream's 16 kHz chunks and a
    /// sender for what it finds; `rate` is the client's sample rate.
    pub(super) fn start(
        rate: u32,
        what: &'static str,
        work: impl FnOnce(mpsc::Receiver<Vec<i16>>, mpsc::UnboundedSender<R>) -> W + Send + 'static,
    ) -> Self {
        let (chunks, rx) = mpsc::channel::<Vec<i16>>(IN_FLIGHT);
        let (tx, results) = mpsc::unbounded_channel();
        let worker = tokio::task::spawn_blocking(move || work(rx, tx));
        Feed {
            resampler: Resampler::new(rate),
            chunks: Some(chunks),
            results,
            worker: Some(worker),
            what,
        }
    }

    /// Feeds mono samples at the stream's rate (waits when the worker lags).
    pub(super) async fn push(&mut self, mono: Vec<i16>) -> Result<(), String> {
        let pcm = self.resampler.push(mono)?;
        if pcm.is_empty() {
            return Ok(());
        }
        match &self.chunks {
            Some(chunks) => chunks
                .send(pcm)
                .await
                .map_err(|_| format!("{} stopped", self.what)),
            None => Err("the stream has ended".into()),
        }
    }

    /// What the worker found so far, not yet taken.
    pub(super) fn ready(&mut self) -> Vec<R> {
        let mut out = vec![];
        while let Ok(r) = self.results.try_recv() {
            out.push(r);
        }
        out
    }

    /// Sends the rest of the audio, ends the feed and waits for the worker's
    /// result; what it found meanwhile stays for [`Feed::ready`].
    pub(super) async fn end(&mut self) -> Result<W, String> {
        let tail = self.resampler.flush()?;
        if let Some(chunks) = self.chunks.take()
            && !tail.is_empty()
        {
            let _ = chunks.send(tail).await;
        }
        let worker = self
            .worker
            .take()
            .ok_or_else(|| "the stream has ended".to_string())?;
        worker
            .await
            .map_err(|e| format!("{} failed: {e}", self.what))
    }

    /// Ends the feed without waiting (a stream dropped mid-way): the worker,
    /// when it is still running, to be awaited elsewhere.
    pub(super) fn abandon(&mut self) -> Option<JoinHandle<W>> {
        self.chunks.take();
        self.worker.take()
    }
}
