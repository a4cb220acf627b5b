//! Energy-based end-of-utterance detection.
//!
//! Audio is cut into 10 ms frames. A frame is speech when its energy is
//! `margin_db` above a slowly adapting noise floor and above `min_db`.
//! `speech_start_ms` of speech starts an utterance; `silence_end_ms` of
//! non-speech after that ends it. That hangover is the latency the caller
//! chooses; the recogniser's own finishing time comes on top.

use crate::audio::SAMPLE_RATE;

/// Endpointing settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointConfig {
    /// Consecutive speech needed to start an utterance, in ms.
    pub speech_start_ms: u32,
    /// Trailing non-speech that ends an utterance, in ms.
    pub silence_end_ms: u32,
    /// Speech must be this many dB above the noise floor.
    pub margin_db: f32,
    /// Absolute minimum speech level, dBFS.
    pub min_db: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            speech_start_ms: 50,
            silence_end_ms: 400,
            margin_db: 12.0,
            min_db: -45.0,
        }
    }
}

/// What a frame changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// Speech started; the value is the stream sample index where it began.
    SpeechStart(u64),
    /// Speech ended; the value is the stream sample index of the last speech frame's end.
    SpeechEnd(u64),
}

/// Streaming energy endpointer over 16 kHz mono i16.
#[derive(Debug, Clone)]
pub struct Endpointer {
    config: EndpointConfig,
    frame: Vec<i16>,
    noise_db: f32,
    speech_run: u32,
    silence_run: u32,
    in_speech: bool,
    samples_seen: u64,
    last_speech_end: u64,
}

const FRAME: usize = (SAMPLE_RATE / 100) as usize;

impl Endpointer {
    /// A new endpointer.
    pub fn new(config: EndpointConfig) -> Self {
        Endpointer {
            config,
            frame: Vec::with_capacity(FRAME),
            noise_db: -70.0,
            speech_run: 0,
            silence_run: 0,
            in_speech: false,
            samples_seen: 0,
            last_speech_end: 0,
        }
    }

    /// Whether an utterance is in progress.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Feeds samples; returns the boundaries they contain, in order.
    pub fn push(&mut self, pcm: &[i16]) -> Vec<Boundary> {
        let mut out = Vec::new();
        for &s in pcm {
            self.frame.push(s);
            if self.frame.len() == FRAME {
                self.samples_seen += FRAME as u64;
                if let Some(b) = self.frame_done() {
                    out.push(b);
                }
                self.frame.clear();
            }
        }
        out
    }

    fn frame_done(&mut self) -> Option<Boundary> {
        let energy = self
            .frame
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / FRAME as f64;
        let db = (10.0 * (energy / (32768.0f64 * 32768.0)).max(1e-10).log10()) as f32;
        let speech = db > self.config.min_db && db > self.noise_db + self.config.margin_db;
        if !speech {
            // Follow the noise floor quickly down, slowly up.
            let rate = if db < self.noise_db { 0.3 } else { 0.02 };
            self.noise_db += (db - self.noise_db) * rate;
        }
        let start_frames = self.config.speech_start_ms.div_ceil(10).max(1);
        let end_frames = self.config.silence_end_ms.div_ceil(10).max(1);
        if speech {
            self.speech_run += 1;
            self.silence_run = 0;
            self.last_speech_end = self.samples_seen;
            if !self.in_speech && self.speech_run >= start_frames {
                self.in_speech = true;
                let start = self
                    .samples_seen
                    .saturating_sub(u64::from(self.speech_run) * FRAME as u64);
                return Some(Boundary::SpeechStart(start));
            }
        } else {
            self.speech_run = 0;
            self.silence_run += 1;
            if self.in_speech && self.silence_run >= end_frames {
                self.in_speech = false;
                return Some(Boundary::SpeechEnd(self.last_speech_end));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize) -> Vec<i16> {
        (0..ms * 16)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect()
    }

    #[test]
    fn two_bursts_give_two_utterances() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        let mut pcm = vec![0i16; 16 * 300];
        pcm.extend(tone(500));
        pcm.extend(vec![0; 16 * 800]);
        pcm.extend(tone(300));
        pcm.extend(vec![0; 16 * 800]);
        let b = ep.push(&pcm);
        assert_eq!(b.len(), 4, "{b:?}");
        assert!(matches!(b[0], Boundary::SpeechStart(s) if s == 16 * 300));
        assert!(matches!(b[1], Boundary::SpeechEnd(e) if e == 16 * 800));
        assert!(matches!(b[2], Boundary::SpeechStart(_)));
        assert!(matches!(b[3], Boundary::SpeechEnd(_)));
        assert!(!ep.in_speech());
    }

    #[test]
    fn short_pause_does_not_split() {
        let mut ep = Endpointer::new(EndpointConfig {
            silence_end_ms: 300,
            ..Default::default()
        });
        let mut pcm = tone(300);
        pcm.extend(vec![0; 16 * 150]);
        pcm.extend(tone(300));
        let b = ep.push(&pcm);
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(ep.in_speech());
    }

    #[test]
    fn steady_noise_is_not_speech() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        // Low-level constant hum well under the absolute minimum.
        let pcm: Vec<i16> = (0..16_000 * 2)
            .map(|i| ((i as f32 * 0.1).sin() * 100.0) as i16)
            .collect();
        assert!(ep.push(&pcm).is_empty());
    }
}
