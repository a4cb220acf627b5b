//! Calibrating, per grammar, when a command is sure enough to act on without
//! asking.
//!
//! A command's acoustic evidence is its word-loop ratio
//! ([`Verification::speech_word_loop_ratio`](emma_speech::Verification::speech_word_loop_ratio)):
//! how much better the grammar's words fit the audio than a loop of common
//! English words. Below [`Rejection::sure_word_loop_ratio`] the assistant asks
//! "Did you say …?" instead of acting. How high speech that is *not* a
//! command scores once forced into a grammar depends on the grammar: a
//! question finds more to fit in a small grammar of coffee orders than in Home
//! Assistant's light commands, whose own commands score lower too (median 0.5
//! against the coffee orders' 1.5; `docs/understand.md`). Measured at the one
//! default sure point (0.5), 4.6% of spoken out-of-domain sentences were acted
//! on against the coffee context and none against the light intents, while
//! half of the right light commands were asked about. One number cannot serve
//! both.
//!
//! So the sure point can be set for a grammar the way a detector's threshold
//! is set for a false-alarm rate: [`Understander::calibrate`] speaks a fixed
//! set of out-of-domain sentences ([`SENTENCES`]; none is in the test corpus
//! the result is measured on) with several espeak-ng voices, clean and in
//! noise ([`voices`]), understands each
//! recording with the grammar, and chooses the lowest word-loop ratio at which
//! so few recordings would still be acted on that the share of out-of-domain
//! speech acted on is at most [`CalibrationOptions::max_acted`] (2%) with
//! [`CalibrationOptions::confidence`] (95%; [`allowed`]: 3 of 400
//! recordings), then [`sure_point`]. Sentences the grammar itself matches as text are
//! left out: they are commands of this grammar. The commands' side is not
//! needed to choose it: a command below the sure point is asked about, not
//! lost.
//!
//! A [`Calibration`] is saved as JSON with a fingerprint of the grammar, the
//! engine and the model, and of the steps that change which recordings are
//! acted on or how they fit (RNNoise, agreement with Moonshine and its rule,
//! open vocabulary; none of them for the defaults, so calibrations made
//! before they were counted still apply to the defaults);
//! [`Understander::apply_calibration`] refuses one made for another grammar
//! or pipeline (a new skill or device name changes the grammar, and with it
//! what out-of-domain speech fits), and one in use stops applying as soon as
//! the grammar or one of those steps changes.

use std::path::Path;

use emma_intent::Context;
use emma_speech::EndpointConfig;
use emma_speech::synth::{self, NoiseKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Rejection, UnderstandError, Understander, Unsure};

/// Out-of-domain sentences spoken for calibration: questions, chit-chat,
/// requests an assistant may not serve, and everyday phrases. Disjoint from
/// the out-of-domain corpus the calibration is measured on
/// (`tests/src/ood_corpus.rs`; a unit test checks it).
pub const SENTENCES: &[&str] = &[
    "how many days are there in a leap year",
    "what is the square root of eighty one",
    "who painted the mona lisa",
    "how do airplanes stay in the air",
    "what currency do they use in switzerland",
    "when was the eiffel tower built",
    "how much does an elephant weigh",
    "what is the tallest building in the world",
    "which planet is closest to the sun",
    "how do you say thank you in japanese",
    "what rhymes with orange",
    "how many bones are in the human body",
    "is a tomato a fruit or a vegetable",
    "what is the population of canada",
    "how long does it take to fly to new york",
    "why do cats purr",
    "what is the speed of light",
    "how hot is the surface of the sun",
    "who invented the telephone",
    "what is the biggest ocean",
    "do you know any good podcasts",
    "can you recommend a good book",
    "who scored the winning goal",
    "how is the traffic on the motorway",
    "are the shops open on sunday",
    "when is the next bus to the station",
    "what films are on at the cinema tonight",
    "how do I get to the train station",
    "is there a pharmacy near here",
    "what is the exchange rate for the euro",
    "good evening how are you doing",
    "I had a really long day at work",
    "my cousin is getting married in june",
    "the neighbours are very noisy tonight",
    "I think I left the oven on",
    "that was a great film",
    "the garden needs watering",
    "we ran out of milk yesterday",
    "the children are asleep upstairs",
    "I can't find the remote control",
    "it is freezing outside this morning",
    "congratulations on your new job",
    "thank you very much for your help",
    "see you later alligator",
    "what a lovely day it is",
    "that is not what I asked",
    "you are not very clever are you",
    "you are my best friend",
    "can you sing me a song",
    "do you like dogs or cats",
    "did you hear what I just said",
    "what is your favourite colour",
    "where do you live",
    "how old are you",
    "tell me something interesting",
    "let's play a game",
    "read me the news headlines",
    "send a text message to my mother",
    "call the doctor's surgery",
    "remind me to take my pills at nine",
    "wake me up at half past six",
    "do I have any meetings this afternoon",
    "translate good morning into french",
    "spell the word rhythm",
    "convert ten miles to kilometres",
    "how many calories are in a banana",
    "open the front door camera",
    "where is my parcel",
    "move my haircut to thursday",
    "book a taxi to the airport",
    "renew my car insurance",
    "check my bank balance",
    "post a photo on social media",
    "find my phone",
    "buy tickets for the concert",
    "what did the doctor say",
    "the baby is crying again",
    "pass me the salt please",
    "could you close the window",
    "please be quiet",
    "hurry up we are late",
    "take the rubbish out",
    "feed the goldfish",
    "hoover the living room carpet",
    "iron my shirts for tomorrow",
    "wash the car on saturday",
    "paint the fence green",
    "the printer is out of paper",
    "my computer keeps crashing",
    "the internet is very slow today",
    "charge my electric car overnight",
    "water the tomatoes in the greenhouse",
    "the dog wants to go out",
    "lock the shed",
    "a pint of bitter please",
    "I would like a table by the window",
    "can we have the bill please",
    "two tickets to brighton please",
    "is breakfast included",
    "does this bus go to the hospital",
];

/// How one set of calibration recordings is spoken.
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    /// The espeak-ng voice (`en-us`, `en+m3`).
    pub name: String,
    /// Words per minute.
    pub speed: u32,
    /// Noise mixed in, and its signal-to-noise ratio in dB; `None`: clean.
    pub noise: Option<(NoiseKind, f64)>,
}

impl Voice {
    /// A clean voice.
    pub fn clean(name: &str, speed: u32) -> Voice {
        Voice {
            name: name.into(),
            speed,
            noise: None,
        }
    }
}

impl std::fmt::Display for Voice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} wpm", self.name, self.speed)?;
        match self.noise {
            Some((kind, snr)) => write!(f, ", {kind:?} noise at {snr} dB"),
            None => write!(f, ", clean"),
        }
    }
}

/// The voices calibration speaks [`SENTENCES`] with by default: four voices,
/// slow to fast, two of them in noise (white at 20 dB, pink at 10 dB), as a
/// home hears speech.
pub fn voices() -> Vec<Voice> {
    vec![
        Voice::clean("en-us", 175),
        Voice::clean("en-gb", 140),
        Voice {
            noise: Some((NoiseKind::White, 20.0)),
            ..Voice::clean("en+m3", 160)
        },
        Voice {
            noise: Some((NoiseKind::Pink, 10.0)),
            ..Voice::clean("en+f2", 190)
        },
    ]
}

/// The lowest sure point a calibration chooses: below 0 the loop of common
/// words fits the audio better than the command, which is never sure.
pub const MIN_SURE_POINT: f64 = 0.0;

/// How a grammar is calibrated.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationOptions {
    /// The out-of-domain sentences to speak.
    pub sentences: Vec<String>,
    /// How they are spoken.
    pub voices: Vec<Voice>,
    /// The share of out-of-domain speech that may be acted on at the chosen
    /// point (0.02: two in a hundred) ...
    pub max_acted: f64,
    /// ... shown with this confidence (0.95) from the recordings: the
    /// one-sided upper confidence bound of the share acted on must not
    /// exceed `max_acted` ([`allowed`]).
    pub confidence: f64,
}

impl Default for CalibrationOptions {
    /// [`SENTENCES`] spoken by [`voices`], at most 2% acted on with 95% confidence.
    fn default() -> Self {
        CalibrationOptions {
            sentences: SENTENCES.iter().map(|s| s.to_string()).collect(),
            voices: voices(),
            max_acted: 0.02,
            confidence: 0.95,
        }
    }
}

/// A calibration in use: the grammar it was made for and the sure point it
/// replaced, which comes back when the grammar changes
/// ([`Understander::reload_grammar`]).
#[derive(Debug, Clone)]
pub(super) struct Applied {
    fingerprint: String,
    replaced: f64,
}

/// The sure point calibrated for one grammar, and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Which grammar, engine and model it was measured with
    /// ([`Understander::fingerprint`]).
    pub fingerprint: String,
    /// The chosen [`Rejection::sure_word_loop_ratio`].
    pub sure_word_loop_ratio: f64,
    /// The share of out-of-domain speech allowed to be acted on ...
    pub max_acted: f64,
    /// ... with this confidence.
    pub confidence: f64,
    /// Out-of-domain recordings understood.
    pub recordings: usize,
    /// How many of them could be acted on and still show `max_acted` with
    /// `confidence` ([`allowed`]).
    pub allowed: usize,
    /// Of those, how many would be acted on at the chosen point.
    pub acted: usize,
    /// Of those, how many would be acted on at
    /// [`Rejection::DEFAULT_SURE_WORD_LOOP_RATIO`], for comparison.
    pub acted_at_default: usize,
    /// Sentences left out because the grammar matches them as text.
    pub skipped: Vec<String>,
    /// The word-loop ratio of every recording that would be acted on at some
    /// point (a command heard whole and not rejected), highest first.
    pub fits: Vec<f64>,
}

impl Calibration {
    /// Reads a calibration saved by [`Calibration::save`].
    pub fn load(path: &Path) -> Result<Calibration, CalibrationError> {
        let text = std::fs::read_to_string(path).map_err(|e| CalibrationError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let c: Calibration = serde_json::from_str(&text).map_err(|e| CalibrationError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if !c.sure_word_loop_ratio.is_finite() {
            return Err(CalibrationError::Format {
                path: path.display().to_string(),
                reason: "sure_word_loop_ratio is not a finite number".into(),
            });
        }
        Ok(c)
    }

    /// Writes the calibration as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| CalibrationError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text + "\n").map_err(|e| CalibrationError::Io {
            path: path.display().to_string(),
            source: e,
        })
    }
}

/// Why a calibration could not be made, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Reading or writing the file failed.
    #[error("calibration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a calibration.
    #[error("calibration file {path} is not a calibration: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The calibration was made for another grammar, engine or model.
    #[error(
        "the calibration was made for another grammar, model or setup (RNNoise, agreement, open vocabulary) (fingerprint {found}, this one is {expected}); calibrate again"
    )]
    OtherGrammar {
        /// This understander's fingerprint.
        expected: String,
        /// The calibration's.
        found: String,
    },
    /// Calibration needs grammar decoding with acoustic verification.
    #[error(
        "calibration needs grammar decoding with acoustic verification (PocketSphinx and a grammar the model can decode)"
    )]
    NoVerification,
    /// No sentence was left to speak.
    #[error("every calibration sentence is a command of this grammar; nothing to calibrate with")]
    NoSentences,
    /// Speaking or understanding a sentence failed.
    #[error("calibrating with {sentence:?} ({voice}): {source}")]
    Understand {
        /// The sentence.
        sentence: String,
        /// The voice.
        voice: String,
        /// What failed.
        #[source]
        source: Box<UnderstandError>,
    },
}

/// The most of `recordings` that may be acted on while the share of
/// out-of-domain speech acted on is still shown to be at most `max_acted`
/// with `confidence`: the largest `k` whose one-sided Clopper–Pearson upper
/// bound is at most `max_acted`, i.e. `P(X ≤ k) ≤ 1 − confidence` for `X`
/// binomial(`recordings`, `max_acted`). 0 when even none would not show it
/// (too few recordings): the point then lies above every recording.
pub fn allowed(recordings: usize, max_acted: f64, confidence: f64) -> usize {
    let alpha = 1.0 - confidence;
    if !(max_acted > 0.0 && max_acted < 1.0 && alpha > 0.0) {
        return 0;
    }
    let n = recordings as f64;
    let (ln_p, ln_q) = (max_acted.ln(), (1.0 - max_acted).ln());
    // The binomial probability of k, in logs, built up term by term.
    let mut ln_pmf = n * ln_q;
    let mut cdf = 0.0;
    let mut best = 0;
    for k in 0..=recordings {
        if k > 0 {
            ln_pmf += ((n - k as f64 + 1.0) / k as f64).ln() + ln_p - ln_q;
        }
        cdf += ln_pmf.exp();
        if cdf > alpha {
            break;
        }
        best = k;
    }
    best
}

/// The lowest word-loop ratio, not below `floor`, at which at most `allowed`
/// recordings would be acted on, given the `fits` of those that would be
/// acted on at some point (commands heard whole and not rejected). A
/// recording is acted on when its fit is at or above the point.
pub fn sure_point(fits: &[f64], allowed: usize, floor: f64) -> f64 {
    let mut sorted: Vec<f64> = fits.iter().copied().filter(|f| f.is_finite()).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    // The (allowed + 1)-th highest fit must fall below the point.
    match sorted.get(allowed) {
        Some(&f) if f >= floor => f.next_up(),
        _ => floor,
    }
}

/// A model's directory name (its registry name), or the path as given.
fn model_name(model: &Path) -> &std::ffi::OsStr {
    model.file_name().unwrap_or(model.as_os_str())
}

impl Understander {
    /// A fingerprint of what a calibration depends on: the intents' grammar,
    /// the engine and the model's name (not its path, so a calibration made
    /// on one machine applies on another with the same model), and the steps
    /// that change the fits or which recordings are acted on: RNNoise,
    /// agreement (its rule and model) and open vocabulary (its model).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"emma-calibration-1\n");
        h.update(format!("{:?}\n", self.engine).as_bytes());
        h.update(model_name(&self.model).as_encoded_bytes());
        h.update(b"\n");
        match self.walker_grammar.to_jsgf() {
            Ok(jsgf) => h.update(jsgf.as_bytes()),
            Err(_) => h.update(format!("{:?}", self.walker_grammar).as_bytes()),
        }
        // Only what is on is hashed: the defaults keep the fingerprint they
        // had before these steps were counted.
        if self.denoise {
            h.update(b"\ndenoise");
        }
        if let Some(open) = &self.open {
            let model = model_name(&open.model).to_string_lossy();
            if let Some(rule) = open.agreement {
                h.update(format!("\nagreement {rule:?} {:?} {model}", open.engine).as_bytes());
            }
            if open.wildcards {
                h.update(format!("\nopen-vocabulary {:?} {model}", open.engine).as_bytes());
            }
        }
        let digest = h.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Calibrates the sure point for this understander's grammar (see the
    /// module doc) and returns it; `progress(done, total)` is called after
    /// each recording. The understander's rejection is not changed:
    /// [`Understander::apply_calibration`] does that.
    pub fn calibrate(
        &mut self,
        options: &CalibrationOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Calibration, CalibrationError> {
        if !self.restricted || !self.rejection.verifies() {
            return Err(CalibrationError::NoVerification);
        }
        let ctx = Context::new();
        let (commands, sentences): (Vec<&String>, Vec<&String>) = options
            .sentences
            .iter()
            .partition(|s| self.intents.recognize(s, &ctx).best.is_some());
        if sentences.is_empty() {
            return Err(CalibrationError::NoSentences);
        }
        let total = sentences.len() * options.voices.len();
        let mut fits = vec![];
        let mut done = 0;
        for voice in &options.voices {
            for (i, sentence) in sentences.iter().enumerate() {
                let failed = |e: UnderstandError| CalibrationError::Understand {
                    sentence: sentence.to_string(),
                    voice: voice.to_string(),
                    source: Box::new(e),
                };
                let audio = synth::espeak(sentence, &voice.name, voice.speed)
                    .map_err(|e| failed(UnderstandError::Speech(e)))?;
                let speech_rms = synth::rms(&audio.samples);
                let mut padded = [synth::silence(300), audio.samples, synth::silence(600)].concat();
                if let Some((kind, snr_db)) = voice.noise {
                    // Seeded per recording: the same calibration every time.
                    synth::mix_noise(&mut padded, speech_rms, kind, snr_db, i as u64);
                }
                let heard = self
                    .understand_samples(EndpointConfig::default(), &padded)
                    .map_err(failed)?;
                // A recording is acted on if any of its utterances is: its best fit counts.
                let best = heard
                    .iter()
                    .filter(|u| {
                        u.intent.is_some() && u.rejected.is_none() && !Unsure::recovered(&u.via)
                    })
                    .filter_map(|u| u.fit.filter(|f| f.is_finite()))
                    .max_by(f64::total_cmp);
                fits.extend(best);
                done += 1;
                progress(done, total);
            }
        }
        fits.sort_by(|a, b| b.total_cmp(a));
        let allowed = allowed(total, options.max_acted, options.confidence);
        let sure = sure_point(&fits, allowed, MIN_SURE_POINT);
        let acted_at = |point: f64| fits.iter().filter(|&&f| f >= point).count();
        Ok(Calibration {
            fingerprint: self.fingerprint(),
            sure_word_loop_ratio: sure,
            max_acted: options.max_acted,
            confidence: options.confidence,
            recordings: total,
            allowed,
            acted: acted_at(sure),
            acted_at_default: acted_at(Rejection::DEFAULT_SURE_WORD_LOOP_RATIO),
            skipped: commands.into_iter().cloned().collect(),
            fits,
        })
    }

    /// Acts without asking from `calibration`'s sure point on, if it was made
    /// for this grammar, engine and model ([`Understander::fingerprint`]).
    pub fn apply_calibration(&mut self, calibration: &Calibration) -> Result<(), CalibrationError> {
        let expected = self.fingerprint();
        if calibration.fingerprint != expected {
            return Err(CalibrationError::OtherGrammar {
                expected,
                found: calibration.fingerprint.clone(),
            });
        }
        let replaced = self
            .calibrated
            .take()
            .map_or(self.rejection.sure_word_loop_ratio, |a| a.replaced);
        let mut rejection = self.rejection;
        rejection.sure_word_loop_ratio = calibration.sure_word_loop_ratio;
        self.set_rejection(rejection);
        self.calibrated = Some(Applied {
            fingerprint: expected,
            replaced,
        });
        Ok(())
    }

    /// Whether a calibration made for the current grammar is in use.
    pub fn is_calibrated(&self) -> bool {
        self.calibrated.is_some()
    }

    /// After the grammar changed (new lists: a device or an area was added or
    /// renamed) or a step the fingerprint counts was turned on or off
    /// (`what` says which), a calibration made before no longer says how
    /// out-of-domain speech fits: the sure point it replaced comes back, with
    /// a warning ([`Understander::is_calibrated`] says false from then on).
    pub(super) fn drop_stale_calibration(&mut self, what: &str) {
        let Some(applied) = &self.calibrated else {
            return;
        };
        if applied.fingerprint == self.fingerprint() {
            return;
        }
        self.rejection.sure_word_loop_ratio = applied.replaced;
        self.calibrated = None;
        self.warnings.push(format!(
            "calibration: made before {what}; commands are acted on without asking from the word-loop ratio {} again until it is calibrated for this setup",
            self.rejection.sure_word_loop_ratio
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sure_point_lets_through_at_most_the_allowed_recordings() {
        let fits = [2.0, 1.5, 1.2, 0.9, 0.1, -0.3];
        let p = sure_point(&fits, 2, 0.0);
        assert!(p > 1.2 && p < 1.5, "{p}");
        assert_eq!(fits.iter().filter(|&&f| f >= p).count(), 2);
        // Fewer candidates than allowed: the floor.
        assert_eq!(sure_point(&[0.4], 2, 0.0), 0.0);
        // The floor holds when the cut falls below it.
        assert_eq!(sure_point(&[0.5, -0.2, -0.4], 1, 0.0), 0.0);
        // None allowed: above the highest.
        let p = sure_point(&[0.7, 0.3], 0, 0.0);
        assert!(p > 0.7 && p < 0.7001, "{p}");
        // Not-a-number fits (no evidence) are ignored, not sorted first.
        let p = sure_point(&[f64::NAN, 0.3], 0, 0.0);
        assert!(p > 0.3 && p < 0.3001, "{p}");
    }

    #[test]
    fn allowed_recordings_keep_the_upper_confidence_bound_under_the_target() {
        // Binomial(400, 0.02): P(X ≤ 3) = 0.041, P(X ≤ 4) = 0.097.
        assert_eq!(allowed(400, 0.02, 0.95), 3);
        // Binomial(400, 0.01): P(X = 0) = 0.018, P(X ≤ 1) = 0.090.
        assert_eq!(allowed(400, 0.01, 0.95), 0);
        // More recordings, more may be acted on; the share allowed grows toward the target.
        let k = allowed(4000, 0.02, 0.95);
        assert!((59..=67).contains(&k), "{k}");
        // Too few recordings to show it at all, and nonsense options: none.
        assert_eq!(allowed(50, 0.02, 0.95), 0);
        assert_eq!(allowed(400, 0.0, 0.95), 0);
        assert_eq!(allowed(400, 0.02, 1.0), 0);
        assert_eq!(allowed(400, f64::NAN, 0.95), 0);
    }

    #[test]
    fn calibration_sentences_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for s in SENTENCES {
            assert!(seen.insert(*s), "{s:?} twice");
            assert_eq!(*s, s.trim(), "{s:?}");
        }
        assert!(SENTENCES.len() * voices().len() >= 400);
    }

    #[test]
    fn a_calibration_file_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let c = Calibration {
            fingerprint: "abc".into(),
            sure_word_loop_ratio: 1.25,
            max_acted: 0.02,
            confidence: 0.95,
            recordings: 400,
            allowed: 3,
            acted: 4,
            acted_at_default: 20,
            skipped: vec!["lock the shed".into()],
            fits: vec![2.0, 1.0],
        };
        let path = dir.path().join("c.json");
        c.save(&path).unwrap();
        assert_eq!(Calibration::load(&path).unwrap(), c);
        std::fs::write(&path, "{\"fingerprint\": 3}").unwrap();
        let e = Calibration::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("c.json") && e.contains("not a calibration"),
            "{e}"
        );
        let e = Calibration::load(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}
