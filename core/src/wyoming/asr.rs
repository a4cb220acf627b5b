//! Speech to text for Wyoming: a pool of [`Understander`]s (each holds an
//! open recogniser with the grammar set, which takes a while to build) and one
//! streaming decode per `audio-start` … `audio-stop`.
//!
//! The decode runs on a blocking thread and is fed chunk by chunk as they
//! arrive, so at `audio-stop` only the tail remains: that is the latency a
//! pipeline sees. At most [`AsrConfig::max_streams`] streams decode at once;
//! a stream that cannot get a recogniser within [`AsrConfig::wait`] is refused.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emma_intent::IntentEngine;
use emma_speech::{EndpointConfig, Engine};
use emma_wyoming::{AudioFormat, TARGET_RATE};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::feed::Feed;

use crate::understand::{AgreementRule, Decoding, UnderstandError, Understander, Understood};

/// Builds the intent engine an [`Understander`] compiles its grammar from.
pub type IntentLoader = Arc<dyn Fn() -> Result<IntentEngine, String> + Send + Sync>;

/// How speech is decoded.
#[derive(Debug, Clone)]
pub struct AsrConfig {
    /// The engine.
    pub engine: Engine,
    /// The model directory.
    pub model: PathBuf,
    /// The model's name in `info`.
    pub model_name: String,
    /// Grammar (with free fallback) or free decoding.
    pub decoding: Decoding,
    /// Endpointing within a stream (utterances inside one stream are joined).
    pub endpoint: EndpointConfig,
    /// Streams decoded at once.
    pub max_streams: usize,
    /// Longest wait for a free recogniser before a stream is refused.
    pub wait: Duration,
    /// A Moonshine model directory: wildcard slots ("add {item} to my
    /// shopping list") are heard in its transcript
    /// ([`Understander::set_open_vocabulary`]); each pooled decoder loads it.
    pub open_vocabulary: Option<PathBuf>,
    /// A Moonshine model directory: every command the grammar finds must
    /// agree with Moonshine's transcript of the utterance
    /// ([`Understander::set_agreement`] with [`AgreementRule::DEFAULT`]);
    /// speech that is no command (rejected by that check or the acoustic
    /// one, or matching no intent) is sent as Moonshine's transcript, not
    /// as the grammar's forced sentence or nothing
    /// ([`Understander::set_transcribe_non_commands`]). Each pooled decoder
    /// loads it.
    pub agreement: Option<PathBuf>,
    /// Clean the audio with RNNoise before it is heard ([`Understander::set_denoise`]).
    pub denoise: bool,
}

/// Recognisers shared by all connections.
pub struct SpeechPool {
    config: AsrConfig,
    loader: IntentLoader,
    idle: Mutex<Vec<Understander>>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for SpeechPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechPool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SpeechPool {
    /// A pool that builds its first recogniser now (so a bad model or
    /// grammar fails at startup); returns it with the grammar warnings.
    pub fn new(
        config: AsrConfig,
        loader: IntentLoader,
    ) -> Result<(SpeechPool, Vec<String>), UnderstandError> {
        let first = build(&config, &loader)?;
        let warnings = first.warnings().to_vec();
        let pool = SpeechPool {
            slots: Arc::new(Semaphore::new(config.max_streams.max(1))),
            config,
            loader,
            idle: Mutex::new(vec![first]),
        };
        Ok((pool, warnings))
    }

    /// The configuration.
    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// Starts decoding a stream of `format` audio (waiting for a free slot).
    pub async fn start(self: &Arc<Self>, format: AudioFormat) -> Result<AudioStream, String> {
        let permit = match tokio::time::timeout(
            self.config.wait,
            self.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            _ => {
                return Err(format!(
                    "all {} speech decoders are busy; try again shortly",
                    self.config.max_streams
                ));
            }
        };
        let reused = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let understander = match reused {
            Some(u) => u,
            None => {
                let pool = self.clone();
                tokio::task::spawn_blocking(move || build(&pool.config, &pool.loader))
                    .await
                    .map_err(|e| format!("the speech decoder could not start: {e}"))?
                    .map_err(|e| format!("the speech decoder could not start: {e}"))?
            }
        };
        let endpoint = self.config.endpoint;
        let feed = Feed::start(
            format.rate,
            "the speech decoder",
            move |mut chunks, results| {
                let mut understander = understander;
                let input = std::iter::from_fn(move || chunks.blocking_recv().map(Ok));
                let r = understander.understand_stream(endpoint, input, &mut |u| {
                    let _ = results.send(u.clone());
                    Ok(())
                });
                (understander, r)
            },
        );
        Ok(AudioStream {
            format,
            feed,
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    fn give_back(&self, understander: Understander) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(understander);
        }
    }
}

fn build(config: &AsrConfig, loader: &IntentLoader) -> Result<Understander, UnderstandError> {
    let intents = loader().map_err(|e| UnderstandError::Handler(e.into()))?;
    let mut u = Understander::new(intents, config.engine, &config.model, config.decoding)?;
    if let Some(dir) = &config.open_vocabulary {
        u.set_open_vocabulary(Engine::Moonshine, dir)?;
    }
    if let Some(dir) = &config.agreement {
        u.set_agreement(Engine::Moonshine, dir, Some(AgreementRule::DEFAULT))?;
        // A speech-to-text client wants what was said, command or not.
        u.set_transcribe_non_commands(true);
    }
    u.set_denoise(config.denoise);
    Ok(u)
}

/// What the blocking decode of one stream returns: the understander, to go
/// back to the pool, with its result.
type Decoded = (Understander, Result<Vec<Understood>, UnderstandError>);

/// One stream being decoded.
pub struct AudioStream {
    /// The format `audio-start` announced.
    pub format: AudioFormat,
    feed: Feed<Understood, Decoded>,
    pool: Arc<SpeechPool>,
    permit: Option<OwnedSemaphorePermit>,
}

impl AudioStream {
    /// Feeds 16-bit mono samples at the stream's rate (resampled to 16 kHz here).
    pub async fn push(&mut self, mono: Vec<i16>) -> Result<(), String> {
        self.feed.push(mono).await
    }

    /// Utterances finished so far (for streaming transcripts).
    pub fn ready(&mut self) -> Vec<Understood> {
        self.feed.ready()
    }

    /// Ends the stream: decodes the tail and returns the utterances not yet
    /// taken by [`AudioStream::ready`]. The recogniser goes back to the pool.
    pub async fn finish(mut self) -> Result<Vec<Understood>, String> {
        let (understander, result) = self.feed.end().await?;
        match result {
            // The recogniser is gone: do not pool a useless understander.
            Err(e @ UnderstandError::Lost) => Err(format!("speech decoding failed: {e}")),
            Err(e) => {
                self.pool.give_back(understander);
                Err(format!("speech decoding failed: {e}"))
            }
            Ok(_) => {
                self.pool.give_back(understander);
                Ok(self.feed.ready())
            }
        }
    }
}

impl Drop for AudioStream {
    /// A stream abandoned mid-way (the client left): stop feeding and return
    /// the recogniser to the pool once the decoder has finished.
    fn drop(&mut self) {
        if let Some(worker) = self.feed.abandon() {
            let pool = self.pool.clone();
            let permit = self.permit.take();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Ok((u, _)) = worker.await {
                        pool.give_back(u);
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// Converts a stream's rate to 16 kHz in blocks of 250 ms (each block through
/// the FFT resampler of `emma_speech::audio`), or passes 16 kHz through.
pub(super) struct Resampler {
    rate: u32,
    pending: Vec<i16>,
}

impl Resampler {
    pub(super) fn new(rate: u32) -> Self {
        Resampler {
            rate,
            pending: vec![],
        }
    }

    pub(super) fn push(&mut self, mono: Vec<i16>) -> Result<Vec<i16>, String> {
        if self.rate == TARGET_RATE {
            return Ok(mono);
        }
        self.pending.extend(mono);
        if self.pending.len() < (self.rate / 4) as usize {
            return Ok(vec![]);
        }
        self.flush()
    }

    pub(super) fn flush(&mut self) -> Result<Vec<i16>, String> {
        if self.pending.is_empty() {
            return Ok(vec![]);
        }
        let block: Vec<f32> = self
            .pending
            .drain(..)
            .map(|s| f32::from(s) / 32768.0)
            .collect();
        let out = emma_speech::audio::resample(&block, self.rate)?;
        Ok(emma_speech::audio::to_i16(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resamples_in_blocks_and_keeps_the_length() {
        let mut r = Resampler::new(48_000);
        let mut out = vec![];
        for _ in 0..10 {
            out.extend(r.push(vec![1000; 4800]).unwrap());
        }
        out.extend(r.flush().unwrap());
        // One second at 48 kHz is one second at 16 kHz (± a block's rounding).
        assert!((out.len() as i64 - 16_000).abs() < 100, "{}", out.len());
        let mut same = Resampler::new(16_000);
        assert_eq!(same.push(vec![1, 2, 3]).unwrap(), vec![1, 2, 3]);
    }
}
