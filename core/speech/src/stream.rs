//! Driving a recogniser over a stream: the endpointer decides where
//! utterances end, so a caller gets one final result per utterance promptly.

use std::time::{Duration, Instant};

use crate::audio::SAMPLE_RATE;
use crate::endpoint::{Boundary, EndpointConfig, Endpointer};
use crate::error::Result;
use crate::recognizer::{Event, FinalResult, SpeechRecognizer};

/// One finished utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// The recogniser's result.
    pub result: FinalResult,
    /// Where the utterance's audio started, seconds from the stream start.
    pub start_s: f64,
    /// Where it ended, seconds from the stream start.
    pub end_s: f64,
    /// Time spent in the recogniser for this utterance.
    pub decode: Duration,
    /// Time from the endpoint decision to the final result (the `finish` call).
    pub finish: Duration,
}

impl Utterance {
    /// Seconds of audio in the utterance.
    pub fn audio_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// What [`Listener::push`] produced.
#[derive(Debug, Clone, PartialEq)]
// One event per partial or utterance, moved once: boxing the large final
// (its acoustic verification scores) would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ListenEvent {
    /// The hypothesis so far.
    Partial(String),
    /// An utterance ended.
    Final(Utterance),
}

/// Feeds a stream into a recogniser and splits it into utterances.
pub struct Listener {
    recognizer: Box<dyn SpeechRecognizer>,
    endpointer: Endpointer,
    samples: u64,
    utt_start: u64,
    decode: Duration,
    had_speech: bool,
    report_unfinished: bool,
}

impl Listener {
    /// Wraps a recogniser and starts a new stream on it ([`SpeechRecognizer::reset`]).
    pub fn new(mut recognizer: Box<dyn SpeechRecognizer>, config: EndpointConfig) -> Result<Self> {
        recognizer.reset()?;
        Ok(Listener {
            recognizer,
            endpointer: Endpointer::new(config),
            samples: 0,
            utt_start: 0,
            decode: Duration::ZERO,
            had_speech: false,
            report_unfinished: false,
        })
    }

    /// The recogniser, e.g. to change its grammar between utterances.
    pub fn recognizer_mut(&mut self) -> &mut dyn SpeechRecognizer {
        self.recognizer.as_mut()
    }

    /// Takes the recogniser back.
    pub fn into_recognizer(self) -> Box<dyn SpeechRecognizer> {
        self.recognizer
    }

    /// Feeds audio; returns partials and finals in order.
    pub fn push(&mut self, pcm: &[i16]) -> Result<Vec<ListenEvent>> {
        let mut out = Vec::new();
        // Feed in 100 ms slices so endpoints are acted on promptly.
        for chunk in pcm.chunks(SAMPLE_RATE as usize / 10) {
            let t = Instant::now();
            let event = self.recognizer.accept(chunk)?;
            self.decode += t.elapsed();
            self.samples += chunk.len() as u64;
            match event {
                Some(Event::Partial(p)) if !p.is_empty() => out.push(ListenEvent::Partial(p)),
                Some(Event::Final(result)) => {
                    if self.keeps(&result) {
                        out.push(ListenEvent::Final(self.utterance(result, Duration::ZERO)));
                    }
                    self.utt_start = self.samples;
                    self.decode = Duration::ZERO;
                }
                _ => {}
            }
            for boundary in self.endpointer.push(chunk) {
                match boundary {
                    Boundary::SpeechStart(_) => self.had_speech = true,
                    Boundary::SpeechEnd(_) => {
                        if let Some(u) = self.finish_utterance()? {
                            out.push(ListenEvent::Final(u));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Ends the stream: finishes a pending utterance, if any.
    pub fn finish(&mut self) -> Result<Option<Utterance>> {
        if self.samples == self.utt_start {
            return Ok(None);
        }
        self.finish_utterance()
    }

    fn finish_utterance(&mut self) -> Result<Option<Utterance>> {
        let t = Instant::now();
        let result = self.recognizer.finish()?;
        let finish = t.elapsed();
        self.decode += finish;
        let keep = self.keeps(&result);
        let u = self.utterance(result, finish);
        self.utt_start = self.samples;
        self.decode = Duration::ZERO;
        self.had_speech = false;
        Ok(keep.then_some(u))
    }

    /// Also reports finals without a transcript that the engine verified
    /// (a grammar search that ended without a full path, see
    /// [`FinalResult::verification`]): callers that reject speech the grammar
    /// cannot hold need its score. Off by default.
    pub fn report_unfinished(&mut self, report: bool) {
        self.report_unfinished = report;
    }

    fn keeps(&self, result: &FinalResult) -> bool {
        !result.text.is_empty() || (self.report_unfinished && result.verification.is_some())
    }

    fn utterance(&self, result: FinalResult, finish: Duration) -> Utterance {
        Utterance {
            result,
            start_s: self.utt_start as f64 / f64::from(SAMPLE_RATE),
            end_s: self.samples as f64 / f64::from(SAMPLE_RATE),
            decode: self.decode,
            finish,
        }
    }

    /// Whether speech was detected since the last final.
    pub fn had_speech(&self) -> bool {
        self.had_speech
    }
}

/// Transcribes a whole buffer: every utterance the endpointer finds.
pub fn transcribe(
    recognizer: Box<dyn SpeechRecognizer>,
    pcm: &[i16],
    config: EndpointConfig,
) -> Result<(Vec<Utterance>, Box<dyn SpeechRecognizer>)> {
    let mut listener = Listener::new(recognizer, config)?;
    let mut finals: Vec<Utterance> = listener
        .push(pcm)?
        .into_iter()
        .filter_map(|e| match e {
            ListenEvent::Final(u) => Some(u),
            ListenEvent::Partial(_) => None,
        })
        .collect();
    finals.extend(listener.finish()?);
    Ok((finals, listener.into_recognizer()))
}
