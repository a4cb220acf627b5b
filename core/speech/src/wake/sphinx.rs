//! PocketSphinx keyphrase spotting: the acoustic model scores the phrase's
//! phones against a loop of all phones; a detection is reported when the
//! phrase's likelihood beats the loop's by the threshold (`-kws_threshold`).
//! No language model is loaded. The FFI lives in [`crate::pocketsphinx`].

use std::path::Path;

use crate::error::{Result, SpeechError};
use crate::pocketsphinx::ffi::Decoder;
use crate::recognizer::pocketsphinx_model_files;
use crate::wake::{Detection, WakeWordDetector};

/// The search's name inside the decoder.
const SEARCH: &str = "emma_wake";
/// After this much audio in one utterance, the next quiet chunk restarts it
/// (the search's detection list and frame counters stay small).
const RESTART_QUIET_AFTER: u64 = 20 * 16_000;
/// After this much audio in one utterance it is restarted even if not quiet.
const RESTART_ALWAYS_AFTER: u64 = 60 * 16_000;
/// A chunk whose samples all stay below this magnitude counts as quiet (-30 dBFS).
const QUIET_PEAK: i32 = 1_036;
/// log10 of PocketSphinx's log base (1.0001).
const LOG10_BASE: f64 = 4.342_727e-5;
// (log10(1.0001): converts the decoder's integer log probabilities.)

fn engine_err(reason: impl Into<String>) -> SpeechError {
    SpeechError::Engine {
        engine: "pocketsphinx",
        reason: reason.into(),
    }
}

/// Keyphrase spotting for one phrase.
pub(crate) struct SphinxDetector {
    decoder: Decoder,
    phrase: String,
    /// Samples fed since creation or reset.
    samples: u64,
    /// `samples` when the current utterance started.
    utt_start: u64,
    in_utt: bool,
}

impl SphinxDetector {
    /// Loads the acoustic model and dictionary in `dir` and sets up spotting
    /// of `phrase` (normalised) at `threshold` (log10 of `-kws_threshold`).
    pub(crate) fn new(phrase: &str, threshold: f32, dir: &Path) -> Result<Self> {
        let files = pocketsphinx_model_files(dir)?;
        let arg = |p: &Path| p.to_string_lossy().into_owned();
        let args = [
            "-hmm".to_owned(),
            arg(&files.hmm),
            "-dict".to_owned(),
            arg(&files.dict),
            "-samprate".to_owned(),
            crate::audio::SAMPLE_RATE.to_string(),
            "-kws_threshold".to_owned(),
            format!("1e{threshold}"),
        ];
        let mut decoder = Decoder::new(&args).ok_or_else(|| SpeechError::ModelLoad {
            engine: "pocketsphinx",
            path: dir.to_owned(),
            reason: "libpocketsphinx could not initialise a decoder from these model files"
                .to_owned(),
        })?;
        let unknown: Vec<String> = phrase
            .split(' ')
            .filter(|w| !decoder.knows_word(w))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() {
            return Err(SpeechError::BadWakePhrase {
                phrase: phrase.to_owned(),
                reason: format!(
                    "the pocketsphinx dictionary {} has no {}; choose words it lists",
                    files.dict.display(),
                    unknown.join(", ")
                ),
            });
        }
        if !decoder.set_keyphrase(SEARCH, phrase) || !decoder.set_search(SEARCH) {
            return Err(engine_err(format!(
                "cannot set up keyphrase search for {phrase:?}"
            )));
        }
        Ok(SphinxDetector {
            decoder,
            phrase: phrase.to_owned(),
            samples: 0,
            utt_start: 0,
            in_utt: false,
        })
    }

    fn end_utt(&mut self) -> Result<()> {
        if self.in_utt {
            self.in_utt = false;
            if !self.decoder.end_utt() {
                return Err(engine_err("ps_end_utt failed"));
            }
        }
        Ok(())
    }
}

impl WakeWordDetector for SphinxDetector {
    fn push(&mut self, pcm: &[i16]) -> Result<Option<Detection>> {
        if pcm.is_empty() {
            return Ok(None);
        }
        if !self.in_utt {
            if !self.decoder.start_utt() {
                return Err(engine_err("ps_start_utt failed"));
            }
            self.in_utt = true;
            self.utt_start = self.samples;
        }
        if !self.decoder.process_raw(pcm) {
            return Err(engine_err("ps_process_raw failed"));
        }
        self.samples += pcm.len() as u64;
        let detected = self.decoder.hyp().is_some_and(|(h, _)| !h.is_empty());
        if detected {
            // The decoder's keyphrase segments do not carry usable phrase-end
            // frames across utterance restarts, so the detection is placed at
            // the end of the chunk that produced it (feed short chunks).
            let score = self
                .decoder
                .segments()
                .iter()
                .map(|s| (f64::from(s.log_prob) * LOG10_BASE) as f32)
                .fold(f32::NEG_INFINITY, f32::max);
            let end_sample = self.samples;
            self.end_utt()?;
            return Ok(Some(Detection {
                phrase: self.phrase.clone(),
                score,
                end_sample,
            }));
        }
        let utt_len = self.samples - self.utt_start;
        let quiet = pcm.iter().all(|&s| i32::from(s).abs() < QUIET_PEAK);
        if utt_len > RESTART_ALWAYS_AFTER || (utt_len > RESTART_QUIET_AFTER && quiet) {
            self.end_utt()?;
        }
        Ok(None)
    }

    fn reset(&mut self) -> Result<()> {
        self.end_utt()?;
        if !self.decoder.start_stream() {
            return Err(engine_err("ps_start_stream failed"));
        }
        self.samples = 0;
        self.utt_start = 0;
        Ok(())
    }

    fn phrase(&self) -> &str {
        &self.phrase
    }
}
