//! Audio the app captures itself: chunks in any rate, as `i16` or `f32`,
//! converted to 16 kHz mono and streamed through the speech → intent
//! pipeline on a thread of their own, one audio session from the first
//! [`process_audio`](super::Assistant::process_audio) to
//! [`end_audio`](super::Assistant::end_audio).
//!
//! The session borrows the [`Understander`] for its duration (the worker
//! refreshes the grammar when it is given back). Each utterance the
//! endpointer closes goes to the conversation worker as a turn; the session
//! waits for that turn before reading on, so turns stay in order and audio
//! queues in the channel meanwhile.
//!
//! With a wake word, audio reaches the recogniser only after the phrase, for
//! one utterance; but when Emma has just asked something ("In which room?",
//! a skill's "Shall I reorder?"), the answer is heard without the wake word,
//! as a person would expect ([`QuestionWatch`]).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use emma_speech::wake::WakeWordDetector;
use emma_speech::{EndpointConfig, SAMPLE_RATE};

use super::conversation::Request;
use super::error::AssistantError;
use super::event::{AssistantEvent, EventListener, Hub, Turn};
use crate::understand::{UnderstandError, Understander};

/// Most samples one chunk may carry (10 s at 48 kHz).
pub const MAX_CHUNK_SAMPLES: usize = 480_000;

/// A chunk of mono audio.
#[derive(Debug, Clone, Copy)]
pub enum AudioChunk<'a> {
    /// 16-bit samples at `rate` Hz.
    I16 {
        /// Samples.
        samples: &'a [i16],
        /// Samples per second.
        rate: u32,
    },
    /// Float samples in -1..=1 at `rate` Hz.
    F32 {
        /// Samples.
        samples: &'a [f32],
        /// Samples per second.
        rate: u32,
    },
}

impl AudioChunk<'_> {
    /// 16 kHz mono `i16`, resampled when needed.
    pub fn to_16k(&self) -> Result<Vec<i16>, AssistantError> {
        let (len, rate) = match self {
            AudioChunk::I16 { samples, rate } => (samples.len(), *rate),
            AudioChunk::F32 { samples, rate } => (samples.len(), *rate),
        };
        if !(8_000..=192_000).contains(&rate) {
            return Err(AssistantError::Audio(format!(
                "sample rate {rate} Hz is outside 8000..=192000"
            )));
        }
        if len > MAX_CHUNK_SAMPLES {
            return Err(AssistantError::Audio(format!(
                "a chunk of {len} samples is too long; send at most {MAX_CHUNK_SAMPLES} per call"
            )));
        }
        match self {
            AudioChunk::I16 { samples, rate } if *rate == SAMPLE_RATE => Ok(samples.to_vec()),
            AudioChunk::I16 { samples, rate } => {
                let f: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
                resample(&f, *rate)
            }
            AudioChunk::F32 { samples, rate } => {
                if samples.iter().any(|s| !s.is_finite()) {
                    return Err(AssistantError::Audio(
                        "float samples must be finite (no NaN or infinity)".into(),
                    ));
                }
                resample(samples, *rate)
            }
        }
    }
}

fn resample(samples: &[f32], rate: u32) -> Result<Vec<i16>, AssistantError> {
    let out = emma_speech::audio::resample(samples, rate).map_err(AssistantError::Audio)?;
    Ok(emma_speech::audio::to_i16(&out))
}

/// Remembers when Emma last asked a question (a reply that expects an answer).
#[derive(Debug, Default)]
pub(crate) struct QuestionWatch {
    asked: Mutex<Option<Instant>>,
}

impl QuestionWatch {
    /// Whether a question was asked within `within` and not answered since.
    pub fn pending(&self, within: Duration) -> bool {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t.elapsed() < within)
    }
}

impl EventListener for QuestionWatch {
    fn on_event(&self, event: &AssistantEvent) {
        if let AssistantEvent::Reply { expects_answer, .. } = event {
            *self.asked.lock().unwrap_or_else(|e| e.into_inner()) =
                expects_answer.then(Instant::now);
        }
    }
}

/// The wake-word detector, shared by audio sessions (`None` inside: no wake word).
pub(crate) type WakeSlot = Arc<Mutex<Option<Box<dyn WakeWordDetector>>>>;

/// A running audio session.
pub(crate) struct AudioSession {
    tx: mpsc::Sender<Vec<i16>>,
    thread: JoinHandle<Result<Vec<Turn>, AssistantError>>,
}

impl AudioSession {
    /// Starts a session: takes the understander from `slot` (given back at the end).
    /// `answering`: Emma just asked something, so the first utterance needs no wake word.
    pub fn start(
        slot: Arc<Mutex<Option<Understander>>>,
        wake: WakeSlot,
        answering: bool,
        endpoint: EndpointConfig,
        worker: mpsc::Sender<Request>,
        hub: Hub,
    ) -> Result<AudioSession, AssistantError> {
        let understander = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(AssistantError::Understand(UnderstandError::Lost))?;
        let (tx, rx) = mpsc::channel::<Vec<i16>>();
        let thread = std::thread::Builder::new()
            .name("emma-audio".into())
            .spawn(move || {
                run(
                    understander,
                    slot,
                    wake,
                    answering,
                    endpoint,
                    rx,
                    worker,
                    hub,
                )
            })
            .map_err(|e| AssistantError::Audio(format!("cannot start the audio thread: {e}")))?;
        Ok(AudioSession { tx, thread })
    }

    /// Queues 16 kHz samples.
    pub fn push(&self, pcm: Vec<i16>) -> Result<(), AssistantError> {
        self.tx.send(pcm).map_err(|_| AssistantError::Stopped)
    }

    /// Ends the audio and waits for the last turns.
    pub fn finish(self) -> Result<Vec<Turn>, AssistantError> {
        drop(self.tx);
        match self.thread.join() {
            Ok(r) => r,
            Err(_) => Err(AssistantError::Audio(
                "the audio thread panicked; the session was dropped".into(),
            )),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    mut understander: Understander,
    slot: Arc<Mutex<Option<Understander>>>,
    wake: WakeSlot,
    answering: bool,
    endpoint: EndpointConfig,
    rx: mpsc::Receiver<Vec<i16>>,
    worker: mpsc::Sender<Request>,
    hub: Hub,
) -> Result<Vec<Turn>, AssistantError> {
    let mut detector = wake.lock().unwrap_or_else(|e| e.into_inner()).take();
    let detector_present = detector.is_some();
    // Without a wake word every utterance is for Emma; with one, so is the answer to a question.
    let awake = Rc::new(Cell::new(detector.is_none() || answering));
    if awake.get() {
        hub.emit(AssistantEvent::Listening);
    }
    let mut turns = Vec::new();
    let gate_awake = awake.clone();
    let gate_hub = hub.clone();
    let detector_ref = &mut detector;
    // Audio reaches the recogniser only after the wake word (then until the utterance ends).
    let chunks = rx.into_iter().filter_map(move |pcm| {
        if gate_awake.get() {
            return Some(Ok(pcm));
        }
        let d = detector_ref.as_mut()?;
        match d.push(&pcm) {
            Ok(Some(detection)) => {
                gate_hub.emit(AssistantEvent::Wake {
                    phrase: detection.phrase,
                    score: detection.score,
                });
                gate_hub.emit(AssistantEvent::Listening);
                gate_awake.set(true);
                None
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    });
    let sleep_after = detector_present;
    let partial_hub = hub.clone();
    let answer_hub = hub.clone();
    let mut on_partial = move |text: &str| {
        partial_hub.emit(AssistantEvent::Partial {
            text: text.to_string(),
        });
    };
    let result =
        understander.understand_stream_with_partials(endpoint, chunks, &mut on_partial, &mut |u| {
            if sleep_after {
                awake.set(false);
            }
            if u.text.trim().is_empty() && u.intent.is_none() && u.rejected.is_none() {
                return Ok(()); // noise, not an utterance
            }
            let (tx, back) = mpsc::channel();
            worker
                .send(Request::Heard {
                    understood: u.clone(),
                    reply: Box::new(move |t| {
                        let _ = tx.send(t);
                    }),
                })
                .map_err(|_| UnderstandError::Handler(Box::new(AssistantError::Stopped)))?;
            match back.recv() {
                Ok(Ok(turn)) => {
                    if sleep_after && turn.expects_answer {
                        // Emma asked something: the answer needs no wake word.
                        awake.set(true);
                        answer_hub.emit(AssistantEvent::Listening);
                    }
                    turns.push(turn);
                    Ok(())
                }
                Ok(Err(e)) => Err(UnderstandError::Handler(Box::new(e))),
                Err(_) => Err(UnderstandError::Handler(Box::new(AssistantError::Stopped))),
            }
        });
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(understander);
    if let Some(mut d) = detector {
        let _ = d.reset();
        *wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(d);
    }
    match result {
        Ok(_) => Ok(turns),
        Err(e) => {
            hub.emit(AssistantEvent::Error {
                stage: "speech".into(),
                message: e.to_string(),
            });
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_converted_to_16k_and_bad_ones_named() {
        let pcm = vec![1000i16; 1600];
        assert_eq!(
            AudioChunk::I16 {
                samples: &pcm,
                rate: 16_000
            }
            .to_16k()
            .unwrap(),
            pcm
        );
        let f = vec![0.25f32; 4800];
        let out = AudioChunk::F32 {
            samples: &f,
            rate: 48_000,
        }
        .to_16k()
        .unwrap();
        assert!((1500..=1700).contains(&out.len()), "{}", out.len());
        let e = AudioChunk::I16 {
            samples: &pcm,
            rate: 0,
        }
        .to_16k()
        .unwrap_err();
        assert!(e.to_string().contains("sample rate 0"), "{e}");
        let nan = [f32::NAN];
        assert!(
            AudioChunk::F32 {
                samples: &nan,
                rate: 16_000
            }
            .to_16k()
            .is_err()
        );
    }
}
