//! Driving a recogniser over a stream: the endpointer decides where
//! utterances end, so a caller gets one final result per utterance promptly.

use std::collections::VecDeque;
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
///
/// The endpointer decides where the recogniser's utterances end. With
/// [`EndpointConfig::gate`] only audio inside an utterance reaches the
/// recogniser: from the endpointer's start of speech less the pre-roll
/// (`pre_roll_ms`) to its end of speech, so noise between utterances is never
/// decoded. Without it (the default) the recogniser hears the whole stream,
/// and an utterance the endpointer drops as too short is ended and discarded.
/// With `whole_stream` set the whole stream is one utterance.
pub struct Listener {
    recognizer: Box<dyn SpeechRecognizer>,
    endpointer: Endpointer,
    /// Recent audio, for the pre-roll: `ring[0]` is stream sample `ring_start`.
    ring: VecDeque<i16>,
    ring_start: u64,
    ring_cap: usize,
    /// Stream samples seen.
    samples: u64,
    /// Stream index up to which the recogniser has been fed (audio before it
    /// is never fed again; audio after it that was skipped lies in the ring
    /// while it is recent).
    fed_until: u64,
    /// Where the recogniser's current utterance starts (stream index).
    utt_start: u64,
    /// Whether the recogniser has been fed audio since its last final.
    pending: bool,
    /// Whether the endpointer's utterance is open (audio goes to the recogniser).
    open: bool,
    /// Samples the recogniser has been fed since its last reset: its own
    /// clock, which word times count in.
    rec_fed: u64,
    /// Stream index of the recogniser's sample 0 in the audio it is being
    /// fed now (the stream skips what it does not feed, the recogniser's
    /// clock does not): added to word times to put them on the stream's clock.
    rec_origin: u64,
    decode: Duration,
    had_speech: bool,
    report_unfinished: bool,
}

impl Listener {
    /// Wraps a recogniser and starts a new stream on it ([`SpeechRecognizer::reset`]).
    pub fn new(mut recognizer: Box<dyn SpeechRecognizer>, config: EndpointConfig) -> Result<Self> {
        recognizer.reset()?;
        let ms = |v: u32| v as usize * SAMPLE_RATE as usize / 1000;
        Ok(Listener {
            recognizer,
            endpointer: Endpointer::new(config),
            ring: VecDeque::new(),
            ring_start: 0,
            ring_cap: ms(config.pre_roll_ms) + ms(config.speech_start_ms) + ms(300),
            samples: 0,
            fed_until: 0,
            utt_start: 0,
            pending: false,
            open: config.whole_stream || !config.gate,
            rec_fed: 0,
            rec_origin: 0,
            decode: Duration::ZERO,
            had_speech: false,
            report_unfinished: false,
        })
    }

    /// The recogniser, e.g. to change its grammar between utterances.
    pub fn recognizer_mut(&mut self) -> &mut dyn SpeechRecognizer {
        self.recognizer.as_mut()
    }

    /// Resets the recogniser between utterances ([`SpeechRecognizer::reset`]),
    /// e.g. after decoding an utterance again on it: its clock starts over,
    /// and the listener's word-time mapping with it.
    pub fn reset_recognizer(&mut self) -> Result<()> {
        self.recognizer.reset()?;
        self.rec_fed = 0;
        self.pending = false;
        Ok(())
    }

    /// Takes the recogniser back.
    pub fn into_recognizer(self) -> Box<dyn SpeechRecognizer> {
        self.recognizer
    }

    /// Feeds audio; returns partials and finals in order.
    pub fn push(&mut self, pcm: &[i16]) -> Result<Vec<ListenEvent>> {
        let mut out = Vec::new();
        // Work in 100 ms slices so endpoints are acted on promptly.
        for chunk in pcm.chunks(SAMPLE_RATE as usize / 10) {
            self.ring.extend(chunk.iter().copied());
            self.samples += chunk.len() as u64;
            let excess = self.ring.len().saturating_sub(self.ring_cap);
            self.ring.drain(..excess);
            self.ring_start += excess as u64;
            for boundary in self.endpointer.push(chunk) {
                match boundary {
                    Boundary::SpeechStart(s) => {
                        self.had_speech = true;
                        if self.endpointer.config().gate {
                            // Feed from the pre-roll on, never again what was fed.
                            self.open = true;
                            let from = s
                                .saturating_sub(self.endpointer.config().pre_roll_samples())
                                .max(self.fed_until)
                                .max(self.ring_start);
                            if !self.pending {
                                self.utt_start = from;
                            }
                            self.fed_until = from;
                        }
                    }
                    Boundary::SpeechEnd(_) => {
                        self.feed_to(self.samples, &mut out)?;
                        self.open = !self.endpointer.config().gate;
                        if let Some(u) = self.finish_utterance()? {
                            out.push(ListenEvent::Final(u));
                        }
                    }
                    Boundary::Dropped(_) => {
                        // Too short for an utterance: its result is discarded.
                        self.feed_to(self.samples, &mut out)?;
                        self.open = !self.endpointer.config().gate;
                        self.had_speech = false;
                        if self.pending {
                            self.recognizer.finish()?;
                            self.pending = false;
                            self.decode = Duration::ZERO;
                        }
                    }
                }
            }
            // While no utterance is open nothing is fed, and `fed_until` stays
            // where feeding stopped: the next utterance's pre-roll may reach
            // back into that audio (from the ring), but never before it.
            if self.open {
                self.feed_to(self.samples, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Hands the recogniser the audio from `fed_until` to `to` (all in the ring).
    fn feed_to(&mut self, to: u64, out: &mut Vec<ListenEvent>) -> Result<()> {
        if to <= self.fed_until {
            return Ok(());
        }
        let from = (self.fed_until.max(self.ring_start) - self.ring_start) as usize;
        let upto = (to - self.ring_start) as usize;
        let audio: Vec<i16> = self.ring.range(from..upto).copied().collect();
        if !self.pending {
            self.utt_start = self.ring_start + from as u64;
        }
        self.pending = true;
        // The recogniser's next sample is this stream sample (the same after
        // every contiguous feed; it moves when audio between utterances was skipped).
        self.rec_origin = (self.ring_start + from as u64).saturating_sub(self.rec_fed);
        let t = Instant::now();
        let event = self.recognizer.accept(&audio)?;
        self.decode += t.elapsed();
        self.rec_fed += audio.len() as u64;
        self.fed_until = to;
        match event {
            Some(Event::Partial(p)) if !p.is_empty() => out.push(ListenEvent::Partial(p)),
            Some(Event::Final(result)) => {
                // The engine ended an utterance on its own (Vosk's endpointer).
                if self.keeps(&result) {
                    out.push(ListenEvent::Final(self.utterance(result, Duration::ZERO)));
                }
                self.utt_start = self.fed_until;
                self.pending = false;
                self.decode = Duration::ZERO;
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends the stream: finishes a pending utterance, if any.
    pub fn finish(&mut self) -> Result<Option<Utterance>> {
        if !self.pending || !self.open {
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
        self.utt_start = self.fed_until;
        self.pending = false;
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

    fn utterance(&self, mut result: FinalResult, finish: Duration) -> Utterance {
        // Word times count on the recogniser's clock: put them on the stream's.
        result.shift_words(self.rec_origin);
        Utterance {
            result,
            start_s: self.utt_start as f64 / f64::from(SAMPLE_RATE),
            end_s: self.fed_until as f64 / f64::from(SAMPLE_RATE),
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
