//! Wake word detection for Wyoming: `detect` then `audio-start` …
//! `audio-stop` → a `detection` as soon as a phrase is heard, or
//! `not-detected` at `audio-stop` when none was.
//!
//! The detectors are [`emma_speech::wake`]'s engines (PocketSphinx keyphrase
//! spotting, livekit-wakeword), one [`WakeModel`] per engine and phrase.
//! Each stream runs its detectors on a blocking thread fed chunk by chunk
//! (converted to 16 kHz mono); detectors are reused between streams (reset,
//! not reloaded), and at most [`WakePool::new`]'s `max_streams` streams run
//! at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use emma_speech::wake::{WakeEngine, WakeOptions, WakeWordDetector, normalize_phrase, open_wake};
use emma_wyoming::{AudioFormat, TARGET_RATE};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::feed::Feed;

/// One wake word Emma listens for: an engine and a phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct WakeModel {
    /// The model's name in `info` and `detection`, e.g. `pocketsphinx-computer`.
    pub name: String,
    /// The engine.
    pub engine: WakeEngine,
    /// The phrase, normalised (lowercase, single spaces).
    pub phrase: String,
    /// How the detector is opened (threshold, model files).
    pub options: WakeOptions,
}

impl WakeModel {
    /// A model for `phrase` with `engine`; the name joins them
    /// (`livekit-hey_livekit`). The phrase is checked, not yet loaded.
    pub fn new(engine: WakeEngine, phrase: &str, options: WakeOptions) -> Result<Self, String> {
        let phrase = normalize_phrase(phrase).map_err(|e| e.to_string())?;
        Ok(WakeModel {
            name: format!("{engine}-{}", phrase.replace(' ', "_")),
            engine,
            phrase,
            options,
        })
    }

    /// Parses `ENGINE:PHRASE` (`pocketsphinx:computer`, `livekit:hey livekit`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (engine, phrase) = spec.split_once(':').ok_or_else(|| {
            format!("wake word {spec:?} is not ENGINE:PHRASE (e.g. pocketsphinx:computer)")
        })?;
        let engine: WakeEngine = engine.parse().map_err(|e| format!("{e}"))?;
        WakeModel::new(engine, phrase, WakeOptions::default())
    }

    /// Whether a client's `detect` name means this model: its name, or its
    /// phrase written with spaces or underscores, in any case.
    pub fn answers_to(&self, name: &str) -> bool {
        let wanted = name.trim().to_lowercase().replace('_', " ");
        name.eq_ignore_ascii_case(&self.name) || wanted == self.phrase
    }

    /// A description for `info`.
    pub fn description(&self) -> String {
        match self.engine {
            WakeEngine::PocketSphinx => {
                format!("\"{}\" by PocketSphinx keyphrase spotting", self.phrase)
            }
            WakeEngine::LiveKit => format!(
                "\"{}\" by livekit-wakeword (openWakeWord-style classifier)",
                self.phrase
            ),
        }
    }
}

/// A wake word heard in a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WakeHit {
    /// The [`WakeModel::name`].
    pub name: String,
    /// Where the phrase ended, in milliseconds of the stream's audio.
    pub timestamp_ms: u64,
}

/// Idle detectors, by model index.
type Idle = Vec<Vec<Box<dyn WakeWordDetector>>>;

/// A stream's detectors with their model indices.
type Detectors = Vec<(usize, Box<dyn WakeWordDetector>)>;

/// The wake words offered, with detectors kept for reuse.
pub struct WakePool {
    models: Vec<WakeModel>,
    idle: Mutex<Idle>,
    slots: Arc<Semaphore>,
    max_streams: usize,
    wait: Duration,
}

impl std::fmt::Debug for WakePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakePool")
            .field("models", &self.models)
            .field("max_streams", &self.max_streams)
            .finish_non_exhaustive()
    }
}

impl WakePool {
    /// Opens one detector per model now (so a phrase outside the dictionary
    /// or a missing classifier is an error at start, naming the model);
    /// `max_streams` streams may detect at once, a further one waits up to
    /// `wait` and is refused.
    pub fn new(models: Vec<WakeModel>, max_streams: usize, wait: Duration) -> Result<Self, String> {
        if models.is_empty() {
            return Err("no wake words given".into());
        }
        let mut idle = Vec::new();
        for m in &models {
            let d = open_wake(m.engine, &m.phrase, &m.options)
                .map_err(|e| format!("wake word {}: {e}", m.name))?;
            idle.push(vec![d]);
        }
        Ok(WakePool {
            models,
            idle: Mutex::new(idle),
            slots: Arc::new(Semaphore::new(max_streams.max(1))),
            max_streams: max_streams.max(1),
            wait,
        })
    }

    /// The models offered.
    pub fn models(&self) -> &[WakeModel] {
        &self.models
    }

    /// The models a `detect` asks for (all when it names none); an error
    /// names the unknown names and what is offered.
    pub fn select(&self, names: Option<&[String]>) -> Result<Vec<usize>, String> {
        let names = match names {
            Some(n) if !n.is_empty() => n,
            _ => return Ok((0..self.models.len()).collect()),
        };
        let mut picked = Vec::new();
        let mut unknown = Vec::new();
        for n in names {
            match self.models.iter().position(|m| m.answers_to(n)) {
                Some(i) if !picked.contains(&i) => picked.push(i),
                Some(_) => {}
                None => unknown.push(n.chars().take(80).collect::<String>()),
            }
        }
        if picked.is_empty() {
            let have: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            return Err(format!(
                "there is no wake word {unknown:?} here (have: {})",
                have.join(", ")
            ));
        }
        if !unknown.is_empty() {
            tracing::info!("wyoming: detect: ignoring unknown wake words {unknown:?}");
        }
        Ok(picked)
    }

    /// Starts a stream of `format` listening for the models `which`.
    pub async fn start(
        self: &Arc<Self>,
        which: Vec<usize>,
        format: AudioFormat,
    ) -> Result<WakeStream, String> {
        let permit = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        {
            Ok(Ok(p)) => p,
            _ => {
                return Err(format!(
                    "all {} wake word streams are busy; try again shortly",
                    self.max_streams
                ));
            }
        };
        let pool = self.clone();
        let detectors = tokio::task::spawn_blocking(move || pool.take(&which))
            .await
            .map_err(|e| format!("the wake word detector could not start: {e}"))??;
        let names: Vec<String> = detectors
            .iter()
            .map(|(i, _)| self.models[*i].name.clone())
            .collect();
        let feed = Feed::start(
            format.rate,
            "the wake word detector",
            move |chunks, hits| listen(detectors, names, chunks, hits),
        );
        Ok(WakeStream {
            format,
            feed,
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    /// Idle detectors for `which`, opening those missing (blocking).
    fn take(&self, which: &[usize]) -> Result<Detectors, String> {
        let mut out = Vec::new();
        for &i in which {
            let reused = self
                .idle
                .lock()
                .map(|mut idle| idle.get_mut(i).and_then(Vec::pop))
                .unwrap_or(None);
            let d = match reused {
                Some(d) => d,
                None => {
                    let m = &self.models[i];
                    open_wake(m.engine, &m.phrase, &m.options)
                        .map_err(|e| format!("wake word {}: {e}", m.name))?
                }
            };
            out.push((i, d));
        }
        Ok(out)
    }

    fn give_back(&self, detectors: Detectors) {
        if let Ok(mut idle) = self.idle.lock() {
            for (i, d) in detectors {
                if let Some(v) = idle.get_mut(i) {
                    v.push(d);
                }
            }
        }
    }
}

/// The blocking loop of one stream: every chunk through every detector.
/// Returns the detectors, reset, for reuse (none after an engine error).
fn listen(
    mut detectors: Detectors,
    names: Vec<String>,
    mut chunks: mpsc::Receiver<Vec<i16>>,
    hits: mpsc::UnboundedSender<WakeHit>,
) -> Result<Detectors, String> {
    while let Some(pcm) = chunks.blocking_recv() {
        for ((_, d), name) in detectors.iter_mut().zip(&names) {
            let hit = d.push(&pcm).map_err(|e| format!("wake word {name}: {e}"))?;
            if let Some(hit) = hit {
                let _ = hits.send(WakeHit {
                    name: name.clone(),
                    timestamp_ms: hit.end_sample * 1000 / u64::from(TARGET_RATE),
                });
            }
        }
    }
    for ((_, d), name) in detectors.iter_mut().zip(&names) {
        d.reset().map_err(|e| format!("wake word {name}: {e}"))?;
    }
    Ok(detectors)
}

/// One `audio-start` … `audio-stop` listened to for wake words.
pub struct WakeStream {
    /// The format its `audio-start` announced.
    pub format: AudioFormat,
    feed: Feed<WakeHit, Result<Detectors, String>>,
    pool: Arc<WakePool>,
    permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for WakeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeStream")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl WakeStream {
    /// Feeds mono samples at the stream's rate (waits when the detectors lag).
    pub async fn push(&mut self, mono: Vec<i16>) -> Result<(), String> {
        self.feed.push(mono).await
    }

    /// Wake words heard so far, not yet taken.
    pub fn ready(&mut self) -> Vec<WakeHit> {
        self.feed.ready()
    }

    /// Ends the stream: the rest of the audio is listened to; returns the
    /// wake words heard since the last [`WakeStream::ready`].
    pub async fn finish(mut self) -> Result<Vec<WakeHit>, String> {
        let detectors = self.feed.end().await??;
        self.pool.give_back(detectors);
        Ok(self.feed.ready())
    }
}

impl Drop for WakeStream {
    fn drop(&mut self) {
        // A stream dropped mid-way (the client left): its detectors go back
        // to the pool once the worker has seen the end of the feed.
        if let Some(worker) = self.feed.abandon() {
            let pool = self.pool.clone();
            let permit = self.permit.take();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Ok(Ok(detectors)) = worker.await {
                        pool.give_back(detectors);
                    }
                    drop(permit);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_and_answer_to_their_name_or_phrase() {
        let m = WakeModel::parse("pocketsphinx:Hey  Emma").unwrap();
        assert_eq!(m.name, "pocketsphinx-hey_emma");
        assert_eq!(m.phrase, "hey emma");
        assert!(m.answers_to("pocketsphinx-hey_emma"));
        assert!(m.answers_to("hey_emma"));
        assert!(m.answers_to("Hey Emma"));
        assert!(!m.answers_to("ok_nabu"));
        let e = WakeModel::parse("computer").unwrap_err();
        assert!(e.contains("ENGINE:PHRASE"), "{e}");
        let e = WakeModel::parse("sphinxy:computer").unwrap_err();
        assert!(e.contains("sphinxy"), "{e}");
        let e = WakeModel::parse("pocketsphinx:c3po").unwrap_err();
        assert!(e.contains("c3po"), "{e}");
    }
}
