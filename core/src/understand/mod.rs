//! Speech → intent: one pipeline every host (CLI, bindings, daemons) shares.
//!
//! The intents are compiled into a restricted-decoding grammar
//! ([`IntentEngine::export_grammar`]), the recogniser decodes each utterance
//! with it, and the intent engine matches the transcript. When that gives no
//! intent, the hypotheses are tried in this order (first hit wins):
//! 1. the final transcript, then the engine's n-best alternatives, then the
//!    last partial hypothesis, each matched exactly;
//! 2. recovery of a cut-off command: the transcript is a prefix of grammar
//!    sentences (the speaker stopped early, or the decoder ended without a full
//!    path); its shortest completions are matched and the intent they agree on
//!    is reported with the slots they all share;
//! 3. fuzzy alignment: the grammar sentence nearest to the transcript in
//!    word edits (at most a third of its words) is matched;
//! 4. when the grammar cannot cover everything (wildcards decode as free
//!    text, or words the model cannot pronounce were pruned), the same audio
//!    is decoded freely and steps 1–3 run on that.
//!
//! Before any of that, a grammar hypothesis must pass **acoustic
//! verification** (see [`Rejection`]): the grammar forces any audio into
//! some command, so the acoustic likelihood of the grammar's words is
//! compared, per frame, with that of a loop of frequent English words over
//! the same audio. Speech that is not a command fits the word loop better;
//! it is rejected at once, and no recovery step or free-decoding pass may
//! turn it into an intent. The one exception is open vocabulary (below, when
//! set): an intent with a wildcard slot found in the open-vocabulary
//! transcript may still come from it, as the grammar cannot hear those.
//! While the agreement check below decides, only speech in which no grammar
//! word fits is rejected here; the word loop's verdict then only makes a
//! command unsure (in kitchen noise it rejected real orders that Moonshine
//! heard right).
//!
//! A command that passed the acoustic check can then be checked against an
//! open-vocabulary transcript of the same audio (Moonshine; [`agree`],
//! [`Understander::set_agreement`]). When the transcript is itself a command
//! of the grammar (read as [`open`] reads it: exactly, else aligned by
//! sound), the two commands settle it: the same one is sure; another one
//! replaces the grammar's, acted on when matched exactly and asked about
//! when aligned by sound (the grammar decoder forces speech into its
//! nearest sentence: "triple shot" heard as "double shot"). When the
//! transcript is no command but agrees with the grammar's (same intent or
//! enough shared words), its words are spliced into the grammar's sentence
//! where that still makes a command ([`splice`]); a command that changes
//! is asked about ([`Unsure::Disagreement`]). Otherwise, when
//! the transcript does not agree with the command, the utterance is not a
//! command either ([`RejectedBy::Agreement`]), unless the command was heard
//! whole and fit well: then it is [`Unsure::Disagreement`] and the
//! assistant asks.
//!
//! In noise, a command the transcript did not confirm whole is ranked
//! against its neighbours (one slot's value changed each) by Moonshine's
//! own probability, and the likeliest replaces it when clearly likelier
//! ([`rescore`]).
//!
//! The same recogniser can also hear what the grammar cannot enumerate
//! ([`Understander::set_open_vocabulary`], see [`open`]): wildcard slots
//! ("add {item} to my shopping list") are understood from its transcript.
//!
//! [`Decoding::Free`] skips the grammar (free decoding + matching only), for
//! comparison. The grammar walk behind steps 2 and 3 is [`walk`]; the
//! matching itself is in `recover`.

pub mod agree;
pub mod calibrate;
mod heard;
mod open;
mod recover;
pub mod rescore;
pub mod sounds;
mod splice;
pub mod walk;

/// [`Understood::via`] of a command [`splice`] made.
const SPLICED: &str = "open-splice";
/// [`Understood::via`] of a command that is the open-vocabulary
/// transcript word for word ([`open`]).
const TRANSCRIBED: &str = "open";

pub use agree::{Agreement, AgreementRule};
pub use calibrate::{Calibration, CalibrationError, CalibrationOptions};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use emma_grammar::Grammar;
use emma_intent::IntentEngine;
use emma_speech::{
    EndpointConfig, Engine, ListenEvent, Listener, SAMPLE_RATE, SpeechError, SpeechRecognizer,
    Utterance, Verification,
};
use heard::Heard;
use serde::Serialize;

/// How speech is decoded before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    /// Restricted to the grammar compiled from the intents (free decoding
    /// only backs up what the grammar cannot cover).
    #[default]
    Grammar,
    /// Free decoding with the model's language model, then matching.
    Free,
}

/// When a grammar hypothesis is rejected as "not a command".
///
/// Each score is a per-frame (10 ms) log-likelihood ratio (natural log) of
/// the grammar path against an unconstrained alternative decoded over the
/// same audio (see [`Verification`]); each threshold rejects what scores
/// below it, and `f64::NEG_INFINITY` turns it off:
/// - `min_word_loop_ratio`: the grammar's words against a loop of words
///   (frequent English words and the grammar's own) over the same frames
///   ([`Verification::speech_word_loop_ratio`]). Commands the grammar holds
///   mostly score above 0 (the grammar path wins); other speech, forced into
///   the grammar, mostly below.
/// - `min_speech_ratio`: the grammar's words against a phone loop over the
///   same frames ([`Verification::speech_ratio`]);
/// - `min_ratio`: the whole path, silences included, against the phone loop
///   ([`Verification::ratio_per_frame`]).
///
/// The default was chosen from the trade-off curves measured on spoken
/// in-domain commands and out-of-domain speech (`docs/understand.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejection {
    /// Threshold on the whole path's ratio against the phone loop.
    pub min_ratio: f64,
    /// Threshold on the grammar words' ratio against the phone loop.
    pub min_speech_ratio: f64,
    /// Threshold on the grammar words' ratio against the word loop.
    pub min_word_loop_ratio: f64,
    /// Also reject when the grammar search ended without a full path and
    /// not one grammar word fits the audio (the best partial path is silence).
    pub when_nothing_fits: bool,
    /// A command whose word-loop ratio passed `min_word_loop_ratio` but is
    /// below this is accepted as [`Unsure::AcousticFit`]: reported with its
    /// intent, and the assistant asks before acting on it. Also, while this
    /// is finite, reconstructed commands are [`Unsure::Recovered`];
    /// `f64::NEG_INFINITY`: nothing is unsure (never ask).
    pub sure_word_loop_ratio: f64,
}

impl Rejection {
    /// The default threshold on the word-loop ratio: just below the lowest
    /// correctly heard command of the measured corpora (`docs/understand.md`),
    /// so no in-domain command is lost; 0 would reject more than half the
    /// out-of-domain speech still accepted here, at the cost of 5 of 43 Home
    /// Assistant light commands.
    pub const DEFAULT_MIN_WORD_LOOP_RATIO: f64 = -0.75;
    /// The default threshold on the words' ratio against the phone loop: the
    /// highest that kept every measured in-domain command.
    pub const DEFAULT_MIN_SPEECH_RATIO: f64 = -4.0;
    /// The default word-loop ratio from which a command is acted on without
    /// asking ([`Rejection::sure_word_loop_ratio`]), chosen from the measured
    /// curves (`docs/understand.md`, "Asking instead of acting").
    pub const DEFAULT_SURE_WORD_LOOP_RATIO: f64 = 0.5;
    /// The acoustic confidence is 0.5 this far below the word-loop threshold.
    const CONFIDENCE_MARGIN: f64 = 0.5;
    /// How fast the acoustic confidence rises with the word-loop ratio.
    const CONFIDENCE_SCALE: f64 = 0.5;

    /// No acoustic rejection: every hypothesis goes on to matching.
    pub fn off() -> Self {
        Rejection {
            min_ratio: f64::NEG_INFINITY,
            min_speech_ratio: f64::NEG_INFINITY,
            min_word_loop_ratio: f64::NEG_INFINITY,
            when_nothing_fits: false,
            sure_word_loop_ratio: f64::NEG_INFINITY,
        }
    }

    /// Whether commands may be marked unsure at all (see
    /// [`Rejection::sure_word_loop_ratio`]).
    pub fn asks(&self) -> bool {
        self.sure_word_loop_ratio > f64::NEG_INFINITY
    }

    /// Whether a command that passed [`Rejection::rejects`] is too weak an
    /// acoustic fit to act on without asking.
    pub fn unsure(&self, v: &Verification) -> bool {
        self.asks()
            && v.speech_word_loop_ratio()
                .is_some_and(|s| s < self.sure_word_loop_ratio)
    }

    /// Why a command found `via` a recovery step (see [`Understood::via`]),
    /// with the acoustic evidence `v`, is to be asked about; `None`: act on it.
    /// A command spliced from two recognisers' words (`open-splice`) is
    /// asked about as their disagreement.
    pub fn doubt(&self, via: &str, v: Option<&Verification>) -> Option<Unsure> {
        if !self.asks() {
            None
        } else if via == SPLICED {
            Some(Unsure::Disagreement)
        } else if Unsure::recovered(via) {
            Some(Unsure::Recovered)
        } else if v.is_some_and(|v| self.unsure(v)) {
            Some(Unsure::AcousticFit)
        } else {
            None
        }
    }

    /// Whether any rule needs the verification passes' scores.
    pub fn verifies(&self) -> bool {
        self.when_nothing_fits
            || self.min_ratio.is_finite()
            || self.min_speech_ratio.is_finite()
            || self.min_word_loop_ratio.is_finite()
    }

    /// Whether `v` is rejected as "not a command".
    pub fn rejects(&self, v: &Verification) -> bool {
        let below =
            |score: Option<f64>, min: f64| min.is_finite() && score.is_some_and(|s| s < min);
        (self.when_nothing_fits && !v.complete && v.words == 0)
            || below(Some(v.ratio_per_frame()), self.min_ratio)
            || below(v.speech_ratio(), self.min_speech_ratio)
            || below(v.speech_word_loop_ratio(), self.min_word_loop_ratio)
    }

    /// The acoustic confidence of a word-loop ratio: a logistic curve that is
    /// 0.73 at the threshold (the default one when there is none), 0.5 half
    /// a unit below it, and above 0.99 at the median of correctly heard
    /// commands (1.5).
    fn confidence(&self, ratio: f64) -> f32 {
        let threshold = if self.min_word_loop_ratio.is_finite() {
            self.min_word_loop_ratio
        } else {
            Self::DEFAULT_MIN_WORD_LOOP_RATIO
        };
        let mid = threshold - Self::CONFIDENCE_MARGIN;
        (1.0 / (1.0 + (-(ratio - mid) / Self::CONFIDENCE_SCALE).exp())) as f32
    }
}

impl Default for Rejection {
    /// The no-fit rule, the word-loop ratio at
    /// [`Rejection::DEFAULT_MIN_WORD_LOOP_RATIO`] and the phone-loop words'
    /// ratio at [`Rejection::DEFAULT_MIN_SPEECH_RATIO`]: the strictest point
    /// of the measured curves that lost no in-domain command; commands below
    /// [`Rejection::DEFAULT_SURE_WORD_LOOP_RATIO`] are asked about.
    fn default() -> Self {
        Rejection {
            min_ratio: f64::NEG_INFINITY,
            min_speech_ratio: Self::DEFAULT_MIN_SPEECH_RATIO,
            min_word_loop_ratio: Self::DEFAULT_MIN_WORD_LOOP_RATIO,
            when_nothing_fits: true,
            sure_word_loop_ratio: Self::DEFAULT_SURE_WORD_LOOP_RATIO,
        }
    }
}

/// Why an utterance that was heard gave no intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejected {
    /// The audio fits an unconstrained phone loop much better than any
    /// command of the grammar: it was not a command (see [`Rejection`]).
    NotACommand,
    /// No hypothesis matched an intent, exactly or through recovery.
    NoMatch,
}

/// Which check rejected an utterance as [`Rejected::NotACommand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectedBy {
    /// The acoustic likelihood ratios of [`Rejection`].
    Acoustic,
    /// The open-vocabulary transcript did not agree with the grammar's
    /// command ([`AgreementRule`]; see [`Understander::set_agreement`]).
    Agreement,
}

impl RejectedBy {
    /// The name shown to people.
    pub fn name(self) -> &'static str {
        match self {
            RejectedBy::Acoustic => "acoustic fit",
            RejectedBy::Agreement => "open-vocabulary agreement",
        }
    }
}

/// Why a command was understood but should not be acted on without asking
/// the speaker first ("Did you say …?").
///
/// The grammar decoder forces speech into some command; when the evidence
/// for that command is weak, asking costs the customer one "yes", acting on
/// a question it did not understand costs their trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unsure {
    /// The words' fit against the word loop passed the rejection threshold
    /// but not [`Rejection::sure_word_loop_ratio`].
    AcousticFit,
    /// The command was reconstructed, not heard whole: completed from a
    /// cut-off transcript, aligned to the nearest grammar sentence, or found
    /// by free decoding.
    Recovered,
    /// A sure command (heard whole, a good fit) that the open-vocabulary
    /// transcript does not agree with ([`Understander::set_agreement`]), or
    /// agrees with only in part (neither the same intent nor three
    /// quarters of the words, and not every slot);
    /// an unsure one that it does not agree with is rejected, and so is a
    /// sure one when the transcript heard another sentence
    /// ([`Agreement::contradicts`]). Also a
    /// command whose words the transcript changed by [`splice`] (`via:
    /// open-splice`): the two recognisers heard it differently.
    Disagreement,
}

impl Unsure {
    /// The name shown to people.
    pub fn name(self) -> &'static str {
        match self {
            Unsure::AcousticFit => "weak acoustic fit",
            Unsure::Recovered => "reconstructed from a partial transcript",
            Unsure::Disagreement => "the open-vocabulary transcript disagrees",
        }
    }

    /// Whether the command found `via` a step (see [`Understood::via`]) was reconstructed.
    fn recovered(via: &str) -> bool {
        !matches!(via, "grammar" | "nbest" | "partial" | TRANSCRIBED)
    }
}

/// What one utterance was understood as.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Understood {
    /// The transcript the intent was found in (or the best transcript).
    pub text: String,
    /// The intent's name; `None` when nothing matched.
    pub intent: Option<String>,
    /// Slot values as written in the intents' source (empty without an intent).
    pub slots: BTreeMap<String, String>,
    /// The names of the slots of [`Understood::slots`] whose value is open
    /// text (a wildcard span: whatever was said there), not one of the
    /// grammar's values.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub open_slots: BTreeSet<String>,
    /// Confidence in 0..=1 (0 without an intent).
    pub confidence: f32,
    /// Which step found it: `grammar`, `nbest`, `partial`, `completion`,
    /// `fuzzy`, prefixed `free-` for free decoding; `open` or `open-fuzzy`
    /// for the open-vocabulary transcript ([`Understander::set_open_vocabulary`]),
    /// `open-splice` for its words spliced into the grammar's sentence ([`splice`]);
    /// `none` when nothing matched.
    pub via: String,
    /// The acoustic verification score of the grammar hypothesis: its
    /// words' ratio against the word loop (see [`Rejection`]); `None` when
    /// the engine gives none (Vosk, free decoding, no grammar word heard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<f64>,
    /// The acoustic evidence behind `fit`, as the engine reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Why there is no intent although speech was heard; `None` with an intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Rejected>,
    /// Which check made it [`Rejected::NotACommand`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<RejectedBy>,
    /// What the open-vocabulary transcript said about the grammar's command,
    /// when the agreement check ran (see [`Understander::set_agreement`]),
    /// or about the grammar's sentence for speech it gave no command for
    /// (see [`Understander::set_transcribe_non_commands`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Box<Agreement>>,
    /// Set when there is an intent but too little evidence to act on it
    /// without asking (see [`Unsure`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsure: Option<Unsure>,
    /// What ranking the command's neighbours by Moonshine's probability
    /// did, when it ran ([`rescore`], [`Understander::set_rescoring`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescored: Option<Box<rescore::Rescored>>,
}

impl Understood {
    /// No intent and no transcript: nothing was heard.
    pub fn nothing() -> Self {
        Understood {
            rejected: None,
            ..Understood::unmatched(String::new())
        }
    }

    /// An intent found in `text` by the step `via`, before any acoustic evidence is attached.
    fn found(
        text: String,
        intent: String,
        slots: BTreeMap<String, String>,
        confidence: f32,
        via: String,
    ) -> Self {
        Understood {
            intent: Some(intent),
            slots,
            confidence,
            via,
            rejected: None,
            ..Understood::unmatched(text)
        }
    }

    fn unmatched(text: String) -> Self {
        Understood {
            text,
            intent: None,
            slots: BTreeMap::new(),
            open_slots: BTreeSet::new(),
            confidence: 0.0,
            via: "none".into(),
            fit: None,
            verification: None,
            rejected: Some(Rejected::NoMatch),
            rejected_by: None,
            agreement: None,
            unsure: None,
            rescored: None,
        }
    }
}

/// Why understanding failed.
#[derive(Debug, thiserror::Error)]
pub enum UnderstandError {
    /// The speech engine failed (opening the model, setting the grammar, decoding).
    #[error(transparent)]
    Speech(#[from] SpeechError),
    /// The caller's result handler failed; the stream stopped there.
    #[error("the result handler failed: {0}")]
    Handler(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An earlier stream failed to reset the recogniser, which was dropped.
    #[error("the recogniser was lost after a failed reset; create a new understander")]
    Lost,
}

/// The speech → intent pipeline over one recogniser (plus a free-decoding one when needed).
pub struct Understander {
    intents: IntentEngine,
    /// The full grammar of the intents (before pruning), walked by recovery.
    walker_grammar: Grammar,
    /// Restricted decoding is in use (the grammar could be set).
    restricted: bool,
    /// The grammar has spans it cannot enumerate (wildcards) or lost words: free decoding backs it up.
    needs_free: bool,
    /// The grammar has wildcard spans (their commands are forced into other sentences).
    has_wildcards: bool,
    recognizer: Option<Box<dyn SpeechRecognizer>>,
    free: Option<Box<dyn SpeechRecognizer>>,
    engine: Engine,
    model: PathBuf,
    decoding: Decoding,
    warnings: Vec<String>,
    rejection: Rejection,
    /// PocketSphinx's live cepstral mean has been updated from real audio
    /// (see [`Understander::redecode_cold_start`]).
    cmn_warm: bool,
    /// Set while a stream is inside an utterance (see [`Understander::watch_speech`]).
    speaking: Option<Arc<AtomicBool>>,
    /// The open-vocabulary recogniser, when set, and what it is used for.
    open: Option<OpenVocabulary>,
    /// The calibration in use, if any ([`Understander::apply_calibration`]).
    calibrated: Option<calibrate::Applied>,
    /// RNNoise cleans the audio first ([`Understander::set_denoise`]).
    denoise: bool,
    /// Speech the grammar gives no command for is transcribed too
    /// ([`Understander::set_transcribe_non_commands`]).
    transcribe_non_commands: bool,
    /// Commands heard in noise are rescored ([`Understander::set_rescoring`]).
    rescoring: bool,
    /// The phrases of the grammar's slot lists, for rescoring.
    slot_phrases: rescore::SlotPhrases,
}

/// An open-vocabulary recogniser (Moonshine) and its uses.
struct OpenVocabulary {
    recognizer: Box<dyn SpeechRecognizer>,
    /// What `recognizer` was opened with (both uses share it).
    engine: Engine,
    model: PathBuf,
    /// The agreement check of grammar commands: `None` off; `Some(None)`:
    /// transcribe and report ([`Understood::agreement`]) without rejecting.
    agreement: Option<Option<AgreementRule>>,
    /// Wildcard intents (and what the grammar could not decode) are
    /// understood from the transcript ([`Understander::set_open_vocabulary`]).
    wildcards: bool,
    /// The dictionary transcripts are aligned to the grammar by sound with
    /// (open vocabulary, and the agreement check's own reading of the transcript).
    sounds: sounds::Pronunciations,
}

/// Settles a command the grammar `found` with the command the open-vocabulary
/// transcript is itself (`own`, from [`open::match_transcript`]), as the
/// agreement check's comparison `a` reports them:
/// - the same intent and slots: two recognisers agree, the command is sure;
/// - another command: the transcript's replaces the grammar's (the grammar
///   decoder forces whatever it hears into its closest sentence, an
///   open-vocabulary transcript that is a sentence of the grammar as it
///   stands is stronger evidence), acted on when the transcript matched
///   exactly and asked about when it was aligned by sound (`rejection`
///   decides, as for every reconstructed command; a command spliced into
///   the grammar's sentence by [`splice`] as [`Unsure::Disagreement`]).
fn settle(
    mut found: Understood,
    own: Understood,
    a: Agreement,
    rejection: Rejection,
) -> Understood {
    if own.intent == found.intent && own.slots == found.slots {
        found.unsure = None;
        found.agreement = Some(Box::new(a));
        return found;
    }
    tracing::debug!(grammar = %found.text, transcript = %own.text, via = %own.via, "the open-vocabulary transcript is another command: it replaces the grammar's");
    Understood {
        unsure: rejection.doubt(&own.via, None),
        agreement: Some(Box::new(a)),
        fit: found.fit,
        verification: found.verification,
        ..own
    }
}

/// `found` rejected as not a command by the open-vocabulary transcript's
/// agreement `a`; its acoustic evidence is kept.
fn refused(found: Understood, a: Agreement) -> Understood {
    Understood {
        fit: found.fit,
        verification: found.verification,
        rejected: Some(Rejected::NotACommand),
        rejected_by: Some(RejectedBy::Agreement),
        agreement: Some(Box::new(a)),
        ..Understood::unmatched(found.text)
    }
}

/// An open-vocabulary transcript of one utterance.
struct Transcript {
    /// As the recogniser wrote it.
    text: String,
    /// Milliseconds the transcription took.
    ms: u64,
    /// The command of the intents the transcript is itself, read once for
    /// both uses ([`open::match_transcript`]: exactly, else aligned by sound).
    own: Option<open::OpenMatch>,
}

/// What setting a grammar on a recogniser came to.
struct GrammarSet {
    restricted: bool,
    needs_free: bool,
}

/// Sets `grammar` on `recognizer` for `decoding`, pruning words the model
/// cannot pronounce (reported in `warnings`).
fn set_grammar(
    recognizer: &mut dyn SpeechRecognizer,
    grammar: &Grammar,
    decoding: Decoding,
    warnings: &mut Vec<String>,
) -> Result<GrammarSet, UnderstandError> {
    let mut restricted = false;
    let mut decode_grammar = grammar.clone();
    if decoding == Decoding::Grammar {
        for _ in 0..3 {
            match recognizer.set_grammar(Some(&decode_grammar)) {
                Ok(report) => {
                    if !report.unknown_words.is_empty() {
                        warnings.push(format!(
                            "the model does not know these grammar words: {}",
                            report.unknown_words.join(", ")
                        ));
                    }
                    restricted = true;
                    break;
                }
                Err(SpeechError::UnknownWords { words, .. }) => {
                    warnings.push(format!(
                        "the model does not know these grammar words; sentences using them are decoded freely: {}",
                        words.join(", ")
                    ));
                    match walk::prune(&decode_grammar, &words) {
                        Some(g) => decode_grammar = g,
                        None => break,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !restricted {
            recognizer.set_grammar(None)?;
        }
    }
    // Returned to the caller (who shows them), so only logged at debug level here.
    for w in warnings.iter() {
        tracing::debug!("{w}");
    }
    let needs_free = decoding == Decoding::Grammar
        && (!restricted || grammar.has_free() || decode_grammar != *grammar);
    Ok(GrammarSet {
        restricted,
        needs_free,
    })
}

impl std::fmt::Debug for Understander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Understander")
            .field("engine", &self.engine)
            .field("model", &self.model)
            .field("restricted", &self.restricted)
            .field("needs_free", &self.needs_free)
            .finish_non_exhaustive()
    }
}

impl Understander {
    /// Opens `engine` with the model at `model` and, for [`Decoding::Grammar`],
    /// sets the intents' grammar on it. Grammar words the model cannot
    /// pronounce are pruned (the sentences using them are then understood
    /// through free decoding) and reported in [`Understander::warnings`].
    pub fn new(
        intents: IntentEngine,
        engine: Engine,
        model: &Path,
        decoding: Decoding,
    ) -> Result<Understander, UnderstandError> {
        let export = intents.export_grammar();
        // Reported to the caller, who knows whether an empty list is news (a
        // user's template file) or the normal state of a home (no floors yet).
        let mut warnings: Vec<String> = export
            .warnings
            .iter()
            .map(|w| format!("grammar: {w}"))
            .collect();
        // Moonshine takes no grammar: free decoding and matching only.
        let decoding = if engine == Engine::Moonshine {
            Decoding::Free
        } else {
            decoding
        };
        let mut recognizer = emma_speech::open(engine, model)?;
        let set = set_grammar(
            recognizer.as_mut(),
            &export.grammar,
            decoding,
            &mut warnings,
        )?;
        let rejection = Rejection::default();
        recognizer.set_verification(rejection.verifies());
        Ok(Understander {
            intents,
            has_wildcards: export.grammar.has_free(),
            slot_phrases: rescore::SlotPhrases::of(&export.grammar),
            walker_grammar: export.grammar,
            restricted: set.restricted,
            needs_free: set.needs_free,
            decoding,
            recognizer: Some(recognizer),
            free: None,
            engine,
            model: model.to_owned(),
            warnings,
            rejection,
            cmn_warm: engine != Engine::PocketSphinx,
            speaking: None,
            open: None,
            calibrated: None,
            denoise: false,
            transcribe_non_commands: false,
            rescoring: true,
        })
    }

    /// Checks every command the grammar finds against an open-vocabulary
    /// transcript of the same utterance by `engine` with the model at
    /// `model` (Moonshine): with `Some(rule)`, a command whose transcript
    /// does not agree is rejected as [`Rejected::NotACommand`] by
    /// [`RejectedBy::Agreement`]; with `None` the comparison is only
    /// reported in [`Understood::agreement`]. With a rule, a transcript that
    /// is itself a command of the grammar settles the disagreement instead
    /// (see the module doc). Runs after the acoustic
    /// rejection, on utterances that passed it; with a rule, the acoustic
    /// check's word-loop and phone-loop thresholds reject nothing (only
    /// speech no grammar word fits is rejected first; weak fits are still
    /// asked about), as the agreement decides better in noise. It adds the
    /// transcription's time to each command's latency.
    pub fn set_agreement(
        &mut self,
        engine: Engine,
        model: &Path,
        rule: Option<AgreementRule>,
    ) -> Result<(), UnderstandError> {
        self.open_recognizer(engine, model)?.agreement = Some(rule);
        self.drop_stale_calibration("the agreement check changed");
        Ok(())
    }

    /// Understands wildcard slots, which the grammar cannot enumerate, from
    /// an open-vocabulary transcript of the utterance by `engine` with the
    /// model at `model` (Moonshine; see [`open`]). The transcript is made
    /// for every utterance when the intents have wildcards (the grammar
    /// forces their commands into other sentences, some of them sure), else
    /// only for utterances the grammar gave no sure command for, and it
    /// replaces the grammar decoder's free decoding. From an utterance the acoustic check rejected, only an
    /// intent with a wildcard slot is taken; an intent without one must
    /// come through the grammar, which hears it better.
    pub fn set_open_vocabulary(
        &mut self,
        engine: Engine,
        model: &Path,
    ) -> Result<(), UnderstandError> {
        self.open_recognizer(engine, model)?.wildcards = true;
        self.drop_stale_calibration("open vocabulary was turned on");
        Ok(())
    }

    /// Turns [`Understander::set_open_vocabulary`] on with the Moonshine
    /// English model when the intents are English, decoding is restricted
    /// to their grammar and `registry` has the model; returns whether it did.
    pub fn use_open_vocabulary_if_installed(
        &mut self,
        registry: &emma_speech::ModelRegistry,
    ) -> Result<bool, UnderstandError> {
        match self.installed_moonshine(registry) {
            Some(dir) => self
                .set_open_vocabulary(Engine::Moonshine, &dir)
                .map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether wildcard slots are understood from an open-vocabulary transcript.
    pub fn has_open_vocabulary(&self) -> bool {
        self.open.as_ref().is_some_and(|o| o.wildcards)
    }

    /// The open-vocabulary recogniser for `engine` and `model`: the one
    /// already open when it is the same (agreement and open vocabulary
    /// share it), else a new one (the uses already set stay).
    fn open_recognizer(
        &mut self,
        engine: Engine,
        model: &Path,
    ) -> Result<&mut OpenVocabulary, UnderstandError> {
        let same = self
            .open
            .as_ref()
            .is_some_and(|o| o.engine == engine && o.model == model);
        if !same {
            let recognizer = emma_speech::open(engine, model)?;
            let (agreement, wildcards, sounds) = match self.open.take() {
                Some(o) => (o.agreement, o.wildcards, o.sounds),
                None => (None, false, self.pronunciations()),
            };
            self.open = Some(OpenVocabulary {
                recognizer,
                engine,
                model: model.to_owned(),
                agreement,
                wildcards,
                sounds,
            });
        }
        Ok(self.open.as_mut().expect("set above"))
    }

    /// The pronunciation dictionary transcripts are aligned with: the
    /// PocketSphinx model's, else Debian's English one; without either,
    /// words are compared by their letters (logged).
    fn pronunciations(&self) -> sounds::Pronunciations {
        let dict = match self.engine {
            Engine::PocketSphinx => emma_speech::pocketsphinx_model_files(&self.model)
                .ok()
                .map(|m| m.dict),
            _ => None,
        }
        .unwrap_or_else(|| Path::new(emma_speech::POCKETSPHINX_EN_US).join("cmudict-en-us.dict"));
        sounds::Pronunciations::load(&dict).unwrap_or_else(|e| {
            tracing::warn!(
                "no pronunciation dictionary at {} ({e}): transcripts are aligned by spelling",
                dict.display()
            );
            sounds::Pronunciations::default()
        })
    }

    /// Changes the agreement rule of a check set with
    /// [`Understander::set_agreement`] (`None`: report only); no effect without one.
    pub fn set_agreement_rule(&mut self, rule: Option<AgreementRule>) {
        if let Some(o) = &mut self.open
            && o.agreement.is_some()
        {
            o.agreement = Some(rule);
        }
        self.drop_stale_calibration("the agreement rule changed");
    }

    /// Turns the agreement check off (open vocabulary, if set, stays).
    pub fn clear_agreement(&mut self) {
        if let Some(o) = &mut self.open {
            o.agreement = None;
        }
        if self.open.as_ref().is_some_and(|o| !o.wildcards) {
            self.open = None;
        }
        self.drop_stale_calibration("the agreement check was turned off");
    }

    /// Also transcribes speech the grammar gives no command for (rejected
    /// as not a command, matching no intent, or no words at all) with the
    /// open-vocabulary recogniser ([`Self::set_agreement`],
    /// [`Self::set_open_vocabulary`]; without one this does nothing):
    /// [`Understood::agreement`] then holds what it heard, compared with
    /// the grammar's sentence. For speech-to-text services (`emma wyoming
    /// serve --agreement`), whose clients want what was said rather than
    /// nothing; off by default, as it adds a transcription to every such
    /// utterance, which an assistant only answers with "Sorry".
    pub fn set_transcribe_non_commands(&mut self, on: bool) {
        self.transcribe_non_commands = on;
    }

    /// Ranks a command heard in noise against its neighbours (another value
    /// in one slot) by the open-vocabulary recogniser's probability, and
    /// takes the likeliest ([`rescore`]); needs the agreement check
    /// ([`Self::set_agreement`]) and runs only where the transcript did not
    /// confirm the command. On by default.
    pub fn set_rescoring(&mut self, on: bool) {
        self.rescoring = on;
    }

    /// The agreement check's rule: `None` without a check, `Some(None)` when it only reports.
    pub fn agreement_rule(&self) -> Option<Option<AgreementRule>> {
        self.open.as_ref().and_then(|o| o.agreement)
    }

    /// Turns rejection by agreement on with [`AgreementRule::DEFAULT`] when
    /// the intents are English, decoding is restricted to their grammar and
    /// the Moonshine English model is installed in `registry`; returns
    /// whether it did. A model that fails to load is reported as an error.
    pub fn use_agreement_if_installed(
        &mut self,
        registry: &emma_speech::ModelRegistry,
    ) -> Result<bool, UnderstandError> {
        match self.installed_moonshine(registry) {
            Some(dir) => self
                .set_agreement(Engine::Moonshine, &dir, Some(AgreementRule::DEFAULT))
                .map(|()| true),
            None => Ok(false),
        }
    }

    /// The Moonshine English model in `registry`, when these intents are
    /// English, decoding is restricted to their grammar and the engine is built in.
    fn installed_moonshine(&self, registry: &emma_speech::ModelRegistry) -> Option<PathBuf> {
        let english = emma_speech::model::same_language(self.intents.language(), "en");
        if !english || !self.restricted || !Engine::Moonshine.is_enabled() {
            return None;
        }
        registry.moonshine_english()
    }

    /// The open-vocabulary transcript of `pcm`, read once as a command
    /// ([`Transcript::own`]); `None` without the recogniser or when it
    /// cannot transcribe (logged).
    fn transcribe(
        &mut self,
        pcm: &[i16],
        draft: &str,
    ) -> Result<Option<Transcript>, UnderstandError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        let t = std::time::Instant::now();
        open.recognizer.reset()?;
        open.recognizer.hint(draft);
        let transcript = open
            .recognizer
            .accept(pcm)
            .and_then(|_| open.recognizer.finish());
        match transcript {
            Ok(r) => {
                let ms = t.elapsed().as_millis() as u64;
                let own = open::match_transcript(
                    &self.intents,
                    &self.walker_grammar,
                    &open.sounds,
                    &r.text,
                );
                Ok(Some(Transcript {
                    text: r.text,
                    ms,
                    own,
                }))
            }
            Err(e) => {
                // E.g. an utterance too long to transcribe: the grammar's verdict stands.
                tracing::warn!("open-vocabulary transcription skipped: {e}");
                Ok(None)
            }
        }
    }

    /// The open-vocabulary transcript of one utterance: of the first of
    /// [`Heard::tries`] Moonshine finds words in (the raw audio before the
    /// cleaned, then the grammar's words alone), else of the last tried;
    /// `ms` counts every try. `draft` is what the grammar decoder heard,
    /// which Moonshine checks rather than writing every word itself (the
    /// same transcript, sooner when it is right).
    fn transcribe_utterance(
        &mut self,
        heard: Heard<'_>,
        draft: &str,
    ) -> Result<Option<Transcript>, UnderstandError> {
        let mut spent = 0;
        let mut last = None;
        for pcm in heard.tries() {
            let Some(t) = self.transcribe(pcm, draft)? else {
                continue;
            };
            spent += t.ms;
            let words = !t.text.is_empty();
            last = Some(Transcript { ms: spent, ..t });
            if words {
                break;
            }
        }
        Ok(last)
    }

    /// Compares `found` (a command) with the open-vocabulary transcript of
    /// `heard` (see [`Self::transcribe_utterance`]); a command the
    /// rule says disagrees comes back rejected. `transcript` is the
    /// utterance's open-vocabulary transcript when it was already made.
    fn check_agreement(
        &mut self,
        mut found: Understood,
        heard: Heard<'_>,
        transcript: Option<Transcript>,
    ) -> Result<Understood, UnderstandError> {
        let Some(rule) = self.open.as_ref().and_then(|o| o.agreement) else {
            return Ok(found);
        };
        let Some(intent) = found.intent.clone() else {
            return Ok(found);
        };
        let transcript = match transcript {
            Some(t) => t,
            None => match self.transcribe_utterance(heard, &found.text)? {
                Some(t) => t,
                // Cannot check: the acoustic verdict stands.
                None => return Ok(found),
            },
        };
        let Some(a) = self.compare(&found, &intent, &transcript) else {
            return Ok(found);
        };
        tracing::debug!(grammar = %found.text, transcript = %a.transcript, audio_ms = heard.pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE), same_intent = a.same_intent, words = a.words, slots = ?a.slots, via = %found.via, ms = a.ms, "agreement");
        let Some(rule) = rule else {
            // Reported only.
            found.agreement = Some(Box::new(a));
            return Ok(found);
        };
        if let Some(own) = transcript.own.filter(|m| m.understood.intent.is_some()) {
            return Ok(settle(found, own.understood, a, self.rejection));
        }
        let agrees = rule.agrees(&a);
        if agrees
            && let Some(open) = &self.open
            && let Some(spliced) = splice::splice(
                &self.intents,
                &self.walker_grammar.words(),
                &open.sounds,
                &found.text,
                &transcript.text,
            )
        {
            // Near the grammar's command, but perhaps hearing a slot otherwise.
            return Ok(settle(found, spliced, a, self.rejection));
        }
        // The grammar's command was heard whole and fits well, but the
        // engines disagree: Moonshine mishears too, so ask rather than
        // reject, unless Moonshine heard another sentence altogether.
        // Whether the transcript has the command's slots is judged once
        // splicing and rescoring had their say ([`Self::judge_slots`]): a
        // value the transcript lacks may be replaced by one it has.
        let ask = !agrees && self.rejection.asks() && found.unsure.is_none();
        if a.other_words() || (!agrees && !ask) {
            return Ok(refused(found, a));
        }
        // A command rebuilt from what was heard (completion, fuzzy
        // alignment, free decoding) is confirmed only by a transcript that is
        // itself that command: shared words confirm what was heard, not what
        // was added to it ("wake up at six" rebuilt into a broadcast, and
        // "Wake me up at six.").
        let rebuilt = found.unsure == Some(Unsure::Recovered);
        if ask {
            found.unsure = Some(Unsure::Disagreement);
        } else if a.confirms() && (a.same_intent || !rebuilt) {
            // Two recognisers agree on the command: that is the evidence asking would seek.
            found.unsure = None;
        }
        found.agreement = Some(Box::new(a));
        Ok(found)
    }

    /// Changes when hypotheses are rejected as "not a command" (the default
    /// is the calibrated [`Rejection::default`]).
    /// A calibration applied before is replaced by this setting.
    pub fn set_rejection(&mut self, rejection: Rejection) {
        self.rejection = rejection;
        self.calibrated = None;
        // The verification pass runs only when a rule needs its score.
        if let Some(r) = self.recognizer.as_mut() {
            r.set_verification(rejection.verifies());
        }
    }

    /// Cleans the audio with RNNoise before the endpointer and the
    /// recognisers hear it ([`emma_speech::denoise`]; off by default). Measured
    /// on real recordings in kitchen noise: a little better on average, clean
    /// speech unchanged (docs/understand.md, "Speech enhancement before
    /// recognition").
    ///
    /// A calibration in use stops applying when this changes it (see
    /// [`Understander::fingerprint`]).
    pub fn set_denoise(&mut self, on: bool) {
        self.denoise = on;
        self.drop_stale_calibration("RNNoise was turned on or off");
    }

    /// Whether the audio is cleaned with RNNoise first.
    pub fn denoises(&self) -> bool {
        self.denoise
    }

    /// The current rejection setting.
    pub fn rejection(&self) -> Rejection {
        self.rejection
    }

    /// The rejection the acoustic check applies: the setting, except that
    /// while the agreement check decides ([`Self::set_agreement`] with a
    /// rule) its word-loop and phone-loop thresholds reject nothing; only
    /// speech in which no grammar word fits is rejected before Moonshine
    /// hears it. In kitchen noise the word loop fits real orders better
    /// than the grammar does and rejected them; the agreement check alone
    /// accepted as few of 520 spoken out-of-domain sentences (2, both asked
    /// about) and 12 dB orders went from 150 to 153 of 155
    /// (docs/understand.md, "The agreement check decides alone").
    /// Commands with a weak fit are still asked about
    /// ([`Rejection::sure_word_loop_ratio`]).
    fn acoustic_rejection(&self) -> Rejection {
        match self.agreement_rule() {
            Some(Some(_)) => Rejection {
                min_ratio: f64::NEG_INFINITY,
                min_speech_ratio: f64::NEG_INFINITY,
                min_word_loop_ratio: f64::NEG_INFINITY,
                ..self.rejection
            },
            _ => self.rejection,
        }
    }

    /// Keeps `flag` true while a stream ([`Understander::understand_stream_with_partials`])
    /// is inside an utterance: from the endpointer's start of speech until the
    /// utterance's result has been handed on and its handler has returned (the
    /// assistant's turn is done), or the stream ends. The
    /// assistant holds announcements while it is set, so Emma does not talk
    /// over the customer.
    pub fn watch_speech(&mut self, flag: Arc<AtomicBool>) {
        self.speaking = Some(flag);
    }

    /// What setting up decoding had to give up (grammar lists with no values,
    /// grammar words the model does not know), one human-readable line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether decoding is restricted to the intents' grammar.
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// The intent engine matching the transcripts.
    pub fn intents(&self) -> &IntentEngine {
        &self.intents
    }

    /// The intent engine, e.g. to load new runtime lists; call
    /// [`Understander::reload_grammar`] afterwards so decoding follows.
    pub fn intents_mut(&mut self) -> &mut IntentEngine {
        &mut self.intents
    }

    /// Exports the intents' grammar again and sets it on the recogniser
    /// (after the lists changed), without reloading the model.
    pub fn reload_grammar(&mut self) -> Result<(), UnderstandError> {
        let export = self.intents.export_grammar();
        let recognizer = self.recognizer.as_mut().ok_or(UnderstandError::Lost)?;
        let mut warnings: Vec<String> = export
            .warnings
            .iter()
            .map(|w| format!("grammar: {w}"))
            .collect();
        let set = set_grammar(
            recognizer.as_mut(),
            &export.grammar,
            self.decoding,
            &mut warnings,
        )?;
        self.has_wildcards = export.grammar.has_free();
        self.slot_phrases = rescore::SlotPhrases::of(&export.grammar);
        self.walker_grammar = export.grammar;
        self.restricted = set.restricted;
        self.needs_free = set.needs_free;
        self.warnings = warnings;
        self.drop_stale_calibration("the grammar's lists changed");
        Ok(())
    }

    /// Understands every utterance of 16 kHz mono `samples` (one recording).
    pub fn understand_samples(
        &mut self,
        endpoint: EndpointConfig,
        samples: &[i16],
    ) -> Result<Vec<Understood>, UnderstandError> {
        self.understand_stream(endpoint, std::iter::once(Ok(samples.to_vec())), &mut |_| {
            Ok(())
        })
    }

    /// Understands every utterance of a stream of 16 kHz mono chunks (a
    /// microphone, a socket), calling `on_result` as each utterance ends;
    /// returns all results. A handler error stops the stream and is returned
    /// as [`UnderstandError::Handler`].
    pub fn understand_stream<I>(
        &mut self,
        endpoint: EndpointConfig,
        chunks: I,
        on_result: &mut dyn FnMut(&Understood) -> Result<(), UnderstandError>,
    ) -> Result<Vec<Understood>, UnderstandError>
    where
        I: IntoIterator<Item = Result<Vec<i16>, SpeechError>>,
    {
        self.understand_stream_with_partials(endpoint, chunks, &mut |_| {}, on_result)
    }

    /// Like [`understand_stream`](Self::understand_stream), and calls
    /// `on_partial` with the decoder's partial hypothesis each time it
    /// changes while an utterance is being spoken (for live captions; a
    /// partial is words the grammar allows so far, not an understood intent).
    pub fn understand_stream_with_partials<I>(
        &mut self,
        endpoint: EndpointConfig,
        chunks: I,
        on_partial: &mut dyn FnMut(&str),
        on_result: &mut dyn FnMut(&Understood) -> Result<(), UnderstandError>,
    ) -> Result<Vec<Understood>, UnderstandError>
    where
        I: IntoIterator<Item = Result<Vec<i16>, SpeechError>>,
    {
        let denoiser = self
            .denoise
            .then(emma_speech::denoise::Denoiser::new)
            .transpose()?;
        let mut chunks = emma_speech::denoise::Denoised::new(chunks.into_iter(), denoiser);
        if self.open.is_some() {
            // Moonshine hears noisy speech better than RNNoise's output.
            chunks = chunks.keep_raw();
        }
        let recognizer = self.recognizer.take().ok_or(UnderstandError::Lost)?;
        // A failed reset drops the recogniser: later streams report `Lost`.
        let mut listener = Listener::new(recognizer, endpoint)?;
        // Utterances without a full grammar path still carry their score.
        listener.report_unfinished(true);
        let mut out = vec![];
        // Audio since the last final (for free decoding of the same utterance).
        let mut buffer: Vec<i16> = vec![];
        let mut buffer_start = 0u64;
        let mut last_partial = String::new();
        let result = (|| -> Result<(), UnderstandError> {
            while let Some(chunk) = chunks.next() {
                let chunk = chunk?;
                buffer.extend_from_slice(&chunk);
                let events = listener.push(&chunk)?;
                // An utterance that just ended still counts as speaking until
                // its result has been handed on (and handled): otherwise an
                // announcement slips in between the end of speech and the turn.
                let ending = events.iter().any(|e| matches!(e, ListenEvent::Final(_)));
                if let Some(flag) = &self.speaking {
                    flag.store(listener.had_speech() || ending, Ordering::Release);
                }
                for event in events {
                    match event {
                        ListenEvent::Partial(p) => {
                            if p != last_partial && !p.trim().is_empty() {
                                on_partial(&p);
                            }
                            last_partial = p;
                        }
                        ListenEvent::Final(u) => {
                            let end = ((u.end_s * f64::from(SAMPLE_RATE)) as u64)
                                .saturating_sub(buffer_start)
                                .min(buffer.len() as u64)
                                as usize;
                            let pcm_start = buffer_start;
                            let pcm: Vec<i16> = buffer.drain(..end).collect();
                            buffer_start += end as u64;
                            let u = self.redecode_cold_start(&mut listener, u, &pcm, pcm_start)?;
                            let raw = chunks.take_raw(end);
                            let audio = Heard::of(&pcm, raw.as_deref(), Some(&u), pcm_start);
                            let r = self.interpret(Some(&u), &last_partial, audio)?;
                            last_partial.clear();
                            on_result(&r)?;
                            out.push(r);
                        }
                    }
                }
                if ending && let Some(flag) = &self.speaking {
                    flag.store(listener.had_speech(), Ordering::Release);
                }
            }
            let last = match listener.finish()? {
                Some(u) => {
                    Some(self.redecode_cold_start(&mut listener, u, &buffer, buffer_start)?)
                }
                None => None,
            };
            if last.is_some() || !last_partial.is_empty() {
                // The decoder may end without a final (no full path): keep the partial.
                let raw = chunks.take_raw(buffer.len());
                let audio = Heard::of(&buffer, raw.as_deref(), last.as_ref(), buffer_start);
                let r = self.interpret(last.as_ref(), &last_partial, audio)?;
                on_result(&r)?;
                out.push(r);
            }
            Ok(())
        })();
        if let Some(flag) = &self.speaking {
            flag.store(false, Ordering::Release);
        }
        self.recognizer = Some(listener.into_recognizer());
        result?;
        Ok(out)
    }

    /// Decodes the recogniser's first utterance a second time.
    ///
    /// PocketSphinx normalises features with a live cepstral mean that starts
    /// from the model's `-cmninit` and is updated at the end of each
    /// utterance. On the first utterance after start the microphone's (or
    /// synthesiser's) channel has not been seen yet, and the mismatch costs
    /// the first words: measured with espeak-ng, 4 of 5 home commands decoded
    /// as the dialog's "do not" when they were the first utterance of the
    /// process, and all 5 right as later utterances. Once that utterance has
    /// updated the mean, decoding its audio again gives the later-utterance
    /// result, at the cost of one extra decode per recogniser lifetime.
    /// `pcm_start` is the stream sample `pcm` starts at (the second
    /// decoding's word times are moved to the stream's clock).
    fn redecode_cold_start(
        &mut self,
        listener: &mut Listener,
        first: Utterance,
        pcm: &[i16],
        pcm_start: u64,
    ) -> Result<Utterance, UnderstandError> {
        if self.cmn_warm || pcm.is_empty() {
            return Ok(first);
        }
        self.cmn_warm = true;
        let t = std::time::Instant::now();
        listener.reset_recognizer()?;
        let rec = listener.recognizer_mut();
        rec.accept(pcm)?;
        let mut again = rec.finish()?;
        listener.reset_recognizer()?;
        again.shift_words(pcm_start);
        tracing::debug!(
            first = %first.result.text,
            again = %again.text,
            ms = t.elapsed().as_millis() as u64,
            "first utterance decoded again with the updated cepstral mean"
        );
        if again.text.is_empty() && !first.result.text.is_empty() {
            return Ok(first);
        }
        Ok(Utterance {
            result: again,
            decode: first.decode + t.elapsed(),
            ..first
        })
    }

    /// Finds the intent of one utterance: through the grammar, then, when
    /// that gave no sure command, in the open-vocabulary transcript (when
    /// set); a command found is then checked for agreement (when set).
    /// `audio` is what the grammar decoder heard and, when RNNoise cleaned
    /// it, the same stretch before, which the open-vocabulary recogniser
    /// hears first ([`Heard::tries`]).
    fn interpret(
        &mut self,
        utterance: Option<&Utterance>,
        partial: &str,
        audio: Heard<'_>,
    ) -> Result<Understood, UnderstandError> {
        let heard = self.interpret_grammar(utterance, partial, audio.pcm)?;
        let sure = heard.intent.is_some() && heard.unsure.is_none();
        let mut transcript = None;
        // A grammar with wildcards forces their commands into other
        // sentences, some of them sure: every utterance is transcribed then.
        if self.has_open_vocabulary() && (self.has_wildcards || !sure) && !audio.pcm.is_empty() {
            transcript = self.transcribe_utterance(audio, &heard.text)?;
            if let Some(t) = &transcript
                && let Some(found) = self.open_match(&heard, sure, t)
            {
                return Ok(found);
            }
        }
        if heard.intent.is_some() {
            let found = self.check_agreement(heard, audio, transcript)?;
            let found = self.rescore(found, audio)?;
            return Ok(self.judge_slots(found));
        }
        if self.transcribe_non_commands {
            return self.transcribe_non_command(heard, audio, transcript);
        }
        Ok(heard)
    }

    /// `found`, as the agreement check, splicing and rescoring left it,
    /// rejected when the open-vocabulary transcript (which has words and not
    /// its intent) has none of its slots ([`Agreement::contradicts`]) or,
    /// for a command not heard whole by the grammar (rebuilt by a recovery
    /// step, spliced, or the transcript's own aligned by sound), none of
    /// the slots that hold one of the grammar's values
    /// ([`Agreement::misses_listed_slots`]). As it was when the agreement
    /// only reports ([`Self::set_agreement`] without a rule).
    ///
    /// A command kept that was sure and that the transcript neither
    /// confirms ([`Agreement::confirms`]) nor has every slot of is asked
    /// about ([`Unsure::Disagreement`]): "The living room is too dark." shares
    /// four of six words with "the living room chores to off" and has its
    /// area, but not the device it would switch off.
    fn judge_slots(&self, mut found: Understood) -> Understood {
        let deciding = matches!(self.agreement_rule(), Some(Some(_)));
        if !deciding || found.intent.is_none() {
            return found;
        }
        let (Some(open), Some(a)) = (self.open.as_ref(), found.agreement.as_deref()) else {
            return found;
        };
        let now = a.about(self.intents.language(), &open.sounds, &found);
        let pieced = found.via == SPLICED || Unsure::recovered(&found.via);
        tracing::debug!(command = %found.text, slots = ?now.slots, words = now.words, same_intent = now.same_intent, pieced, "slots judged");
        if now.contradicts() || (pieced && now.misses_listed_slots()) {
            let rescored = found.rescored.take();
            return Understood {
                rescored,
                ..refused(found, now)
            };
        }
        if found.unsure.is_none() && now.agrees_in_part() && self.rejection.asks() {
            found.unsure = Some(Unsure::Disagreement);
        }
        found
    }

    /// `found` with the likeliest of its neighbours when that is
    /// [`rescore::MARGIN`] likelier ([`Self::rescore_command`]), when
    /// rescoring is on and the agreement check ran and did not confirm the
    /// command, and the command is not Moonshine's own transcript; else as it was.
    fn rescore(
        &mut self,
        mut found: Understood,
        heard: Heard<'_>,
    ) -> Result<Understood, UnderstandError> {
        let checked = found
            .agreement
            .as_deref()
            .is_some_and(|a| !rescore::confirmed(a));
        // Moonshine's transcript is this command word for word: its own
        // reading chose every value already (held out, 16 such commands
        // rescored, none replaced), and the customer would wait for nothing.
        let transcribed = found.via == TRANSCRIBED;
        if !self.rescoring || found.intent.is_none() || !checked || transcribed {
            return Ok(found);
        }
        let raw = heard.raw.unwrap_or(heard.pcm);
        // Reported: how noisy the speech was, when RNNoise cleaned it.
        let snr = heard
            .raw
            .and_then(|raw| emma_speech::denoise::speech_to_noise_db(raw, heard.pcm));
        let transcript = found.agreement.as_ref().map(|a| a.transcript.clone());
        let (record, better) = match self.rescore_heard(&found.text, raw, transcript.as_deref()) {
            Ok(Some(done)) => done,
            Ok(None) => return Ok(found),
            Err(e) => {
                // E.g. an utterance too long for Moonshine: the command stands.
                tracing::warn!("rescoring skipped: {e}");
                return Ok(found);
            }
        };
        if let Some(better) = better {
            found.text = better.text;
            found.slots = better.slots;
            found.open_slots = better.open_slots;
        }
        found.rescored = Some(Box::new(rescore::Rescored {
            speech_to_noise_db: snr,
            ..record
        }));
        Ok(found)
    }

    /// Ranks the command `text` against its neighbours (another value in
    /// one slot, [`rescore`]) as what was said in `pcm`, with the
    /// open-vocabulary recogniser's probability: what was scored, and the
    /// neighbour's command (intent and slots) when one is more than
    /// [`rescore::MARGIN`] likelier — after that neighbour's own neighbours
    /// had their turn, at most [`rescore::MAX_ROUNDS`] rounds. `None`
    /// without an open-vocabulary recogniser that scores sentences
    /// ([`Self::set_agreement`]) or when `text` is not a command of the
    /// intents. Runs whatever the noise.
    pub fn rescore_command(
        &mut self,
        text: &str,
        pcm: &[i16],
    ) -> Result<Option<(rescore::Rescored, Option<Understood>)>, UnderstandError> {
        self.rescore_heard(text, pcm, None)
    }

    /// [`Self::rescore_command`], with the open-vocabulary transcript of
    /// `pcm` when there is one: a neighbour whose words it has, and not the
    /// command's, replaces the command when nearly as likely.
    fn rescore_heard(
        &mut self,
        text: &str,
        pcm: &[i16],
        transcript: Option<&str>,
    ) -> Result<Option<(rescore::Rescored, Option<Understood>)>, UnderstandError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        let heard: Vec<String> = transcript
            .map(|t| agree::normalise(self.intents.language(), t))
            .unwrap_or_default();
        let t = std::time::Instant::now();
        let mut record: Option<rescore::Rescored> = None;
        let mut better: Option<rescore::Neighbour> = None;
        // Greedy: the likeliest neighbour replaces the command, and its own
        // neighbours are scored next (two slots misheard, one at a time).
        for _ in 0..rescore::MAX_ROUNDS {
            let current = better.as_ref().map_or(text, |n| n.sentence.as_str());
            let Some(rescore::Neighbourhood {
                sentence,
                neighbours: near,
            }) = rescore::neighbours(&self.intents, &self.slot_phrases, current)
            else {
                break;
            };
            let sentences: Vec<&str> = std::iter::once(sentence.as_str())
                .chain(near.iter().map(|n| n.sentence.as_str()))
                .collect();
            // Which neighbours the transcript has: they replace the command
            // when nearly as likely (`TIE`), the others only when clearly
            // likelier (`MARGIN`). Only neighbours that can reach their
            // floor are read in full; the others cannot change the result.
            let written: Vec<bool> = near.iter().map(|n| n.heard_in(&heard)).collect();
            let floors: Vec<f64> = std::iter::once(f64::NEG_INFINITY)
                .chain(
                    written
                        .iter()
                        .map(|&w| if w { -rescore::TIE } else { rescore::MARGIN }),
                )
                .collect();
            let gains = match open.recognizer.compare(pcm, &sentences, &floors) {
                Some(gains) => gains?,
                None => return Ok(None),
            };
            let best = gains
                .iter()
                .enumerate()
                .skip(1)
                .filter_map(|(i, g)| Some((i - 1, (*g)?)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let r = record.get_or_insert_with(|| rescore::Rescored {
                sentence: sentence.clone(),
                neighbours: 0,
                unread: 0,
                best: None,
                replaced: false,
                replacements: vec![],
                speech_to_noise_db: None,
                ms: 0,
            });
            r.neighbours += near.len();
            r.unread += gains.iter().filter(|g| g.is_none()).count();
            r.best = best.map(|(i, g)| (near[i].sentence.clone(), g));
            // Nearly as likely, and what Moonshine wrote: the transcript breaks the tie.
            let supported = gains
                .iter()
                .skip(1)
                .enumerate()
                .filter_map(|(i, g)| Some((i, (*g)?)))
                .filter(|&(i, g)| g > -rescore::TIE && written[i])
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((i, gain)) = best.filter(|&(_, g)| g > rescore::MARGIN).or(supported) else {
                break;
            };
            let Some(next) = near.into_iter().nth(i) else {
                break;
            };
            r.replaced = true;
            r.replacements.push((next.sentence.clone(), gain));
            better = Some(next);
        }
        let Some(mut record) = record else {
            return Ok(None);
        };
        record.ms = t.elapsed().as_millis() as u64;
        tracing::debug!(command = %record.sentence, best = ?record.best, replacements = ?record.replacements, ms = record.ms, "rescored");
        let better =
            better.map(|n| recover::understood(&n.sentence, n.command, 1.0, "rescored".into()));
        Ok(Some((record, better)))
    }

    /// What the open-vocabulary transcript `t` says about the grammar's
    /// `heard` understood as `intent` (`None` without an open-vocabulary
    /// recogniser, whose dictionary compares words by sound).
    fn compare(&self, heard: &Understood, intent: &str, t: &Transcript) -> Option<Agreement> {
        let open = self.open.as_ref()?;
        Some(agree::compare(
            &self.intents,
            &open.sounds,
            heard,
            intent,
            &t.text,
            t.ms,
        ))
    }

    /// `heard`, no command, with the open-vocabulary transcript of its
    /// audio in [`Understood::agreement`] (made now unless `transcript`
    /// already is); as it was without a recogniser or audio.
    fn transcribe_non_command(
        &mut self,
        mut heard: Understood,
        audio: Heard<'_>,
        transcript: Option<Transcript>,
    ) -> Result<Understood, UnderstandError> {
        if self.open.is_none() || audio.pcm.is_empty() {
            return Ok(heard);
        }
        let transcript = match transcript {
            Some(t) => Some(t),
            None => self.transcribe_utterance(audio, &heard.text)?,
        };
        if let Some(t) = transcript {
            heard.agreement = self.compare(&heard, "", &t).map(Box::new);
        }
        Ok(heard)
    }

    /// The intent in the open-vocabulary transcript `t` that may replace
    /// what the grammar `heard` (a command it is `sure` of, or not): one
    /// with a wildcard slot (only heard whole, `via: open`, when the grammar
    /// was sure of its own command), or any when the grammar found nothing
    /// and did not reject the speech.
    fn open_match(&self, heard: &Understood, sure: bool, t: &Transcript) -> Option<Understood> {
        if !self.has_open_vocabulary() {
            return None;
        }
        let m = t.own.as_ref()?;
        let nothing_else = heard.intent.is_none() && heard.rejected != Some(Rejected::NotACommand);
        let allowed = if m.wildcards > 0 {
            !sure || m.understood.via == TRANSCRIBED
        } else {
            nothing_else
        };
        if !allowed {
            return None;
        }
        let intent = m.understood.intent.clone().unwrap_or_default();
        Some(Understood {
            unsure: self.rejection.doubt(&m.understood.via, None),
            agreement: Some(Box::new(self.compare(heard, &intent, t)?)),
            fit: heard.fit,
            verification: heard.verification,
            ..m.understood.clone()
        })
    }

    /// Finds the intent of one utterance through the grammar (and, without
    /// open vocabulary, free decoding), before any agreement check.
    fn interpret_grammar(
        &mut self,
        utterance: Option<&Utterance>,
        partial: &str,
        pcm: &[i16],
    ) -> Result<Understood, UnderstandError> {
        let prefix = if self.restricted { "" } else { "free-" };
        let rejection = self.acoustic_rejection();
        let verification = utterance.and_then(|u| u.result.verification);
        let fit = verification.and_then(|v| v.speech_word_loop_ratio());
        if verification.is_some_and(|v| rejection.rejects(&v)) {
            // Not a command: no recovery step and no free pass may make one of it.
            return Ok(Understood {
                fit,
                verification,
                rejected: Some(Rejected::NotACommand),
                rejected_by: Some(RejectedBy::Acoustic),
                ..Understood::unmatched(
                    utterance.map(|u| u.result.text.clone()).unwrap_or_default(),
                )
            });
        }
        // The acoustic fit scales confidence only once the word-loop rule is
        // in force; without it, confidences stay the matcher's.
        let acoustic = if rejection.min_word_loop_ratio.is_finite() {
            fit.map_or(1.0, |r| rejection.confidence(r))
        } else {
            1.0
        };
        let mut hyps: Vec<recover::Hypothesis> = vec![];
        if let Some(u) = utterance {
            hyps.push((u.result.text.clone(), 1.0, "grammar"));
            for alt in &u.result.alternatives {
                hyps.push((alt.text.clone(), 0.9, "nbest"));
            }
        }
        if !partial.is_empty() {
            hyps.push((partial.to_owned(), 0.8, "partial"));
        }
        if let Some(found) =
            recover::match_hypotheses(&self.intents, &self.walker_grammar, &hyps, prefix)
        {
            return Ok(Understood {
                confidence: found.confidence * acoustic,
                fit,
                verification,
                unsure: rejection.doubt(&found.via, verification.as_ref()),
                ..found
            });
        }
        // The open-vocabulary transcript, when there is one, does better.
        if self.needs_free && !self.has_open_vocabulary() && !pcm.is_empty() {
            let text = self.decode_free(pcm)?;
            let hyps = vec![(text, 0.9, "grammar")];
            if let Some(found) =
                recover::match_hypotheses(&self.intents, &self.walker_grammar, &hyps, "free-")
            {
                return Ok(Understood {
                    unsure: rejection.doubt(&found.via, None),
                    ..found
                });
            }
        }
        Ok(Understood {
            fit,
            verification,
            ..Understood::unmatched(hyps.first().map(|h| h.0.clone()).unwrap_or_default())
        })
    }

    /// Decodes `pcm` without the grammar (opening the free recogniser on first use).
    fn decode_free(&mut self, pcm: &[i16]) -> Result<String, UnderstandError> {
        let r = match &mut self.free {
            Some(r) => r,
            None => {
                let mut r = emma_speech::open(self.engine, &self.model)?;
                r.set_grammar(None)?;
                self.free.insert(r)
            }
        };
        r.reset()?;
        let padded: Vec<i16> = pcm
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, SAMPLE_RATE as usize / 5))
            .collect();
        for chunk in padded.chunks(SAMPLE_RATE as usize / 10) {
            r.accept(chunk)?;
        }
        Ok(r.finish()?.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete grammar path of 100 frames, 60 of them words.
    fn verification(speech_vs_phones: f64, speech_vs_words: f64) -> Verification {
        Verification {
            path_score: -300.0,
            path_frames: 100,
            loop_score: -250.0,
            loop_frames: 100,
            speech_path_score: -200.0,
            speech_loop_score: -200.0 - 60.0 * speech_vs_phones,
            speech_frames: 60,
            min_word_ratio: Some(-2.0),
            word_loop_score: Some(-400.0),
            word_loop_frames: 100,
            speech_word_loop_score: Some(-200.0 - 60.0 * speech_vs_words),
            posterior: 0.0,
            complete: true,
            words: 3,
        }
    }

    #[test]
    fn the_default_rejects_on_either_loop_and_on_nothing_fitting() {
        let r = Rejection::default();
        assert!(r.verifies());
        assert!(!r.rejects(&verification(-1.0, 0.5)));
        assert!(
            r.rejects(&verification(-1.0, -1.0)),
            "word loop fits better"
        );
        assert!(
            r.rejects(&verification(-4.5, 0.5)),
            "phone loop fits far better"
        );
        let nothing = Verification {
            complete: false,
            words: 0,
            speech_frames: 0,
            ..verification(0.0, 1.0)
        };
        assert!(r.rejects(&nothing));
        // Without words there is no words' score: only the no-fit rule decides.
        assert!(!r.rejects(&Verification {
            complete: true,
            ..nothing
        }));
        assert!(!Rejection::off().rejects(&verification(-9.0, -9.0)));
        assert!(!Rejection::off().verifies());
    }

    #[test]
    fn the_default_asks_about_weak_fits_and_reconstructed_commands() {
        let r = Rejection::default();
        assert!(r.asks());
        let sure = Rejection::DEFAULT_SURE_WORD_LOOP_RATIO;
        assert!(r.unsure(&verification(-1.0, sure - 0.1)));
        assert!(!r.unsure(&verification(-1.0, sure + 0.1)));
        // Rejected is not unsure: that is decided first, by `rejects`.
        assert!(r.rejects(&verification(-1.0, -1.0)));
        let never = Rejection {
            sure_word_loop_ratio: f64::NEG_INFINITY,
            ..r
        };
        assert!(!never.asks() && !never.unsure(&verification(-1.0, -0.5)));
        assert!(!Rejection::off().asks());
        for via in ["completion", "fuzzy", "free-grammar", "free-completion"] {
            assert!(Unsure::recovered(via), "{via}");
            assert_eq!(r.doubt(via, None), Some(Unsure::Recovered), "{via}");
            assert_eq!(never.doubt(via, None), None, "{via}");
        }
        for via in ["grammar", "nbest", "partial"] {
            assert!(!Unsure::recovered(via), "{via}");
            assert_eq!(r.doubt(via, None), None, "{via}");
        }
        let weak = verification(-1.0, sure - 0.1);
        assert_eq!(r.doubt("grammar", Some(&weak)), Some(Unsure::AcousticFit));
        assert_eq!(r.doubt("completion", Some(&weak)), Some(Unsure::Recovered));
        assert_eq!(never.doubt("grammar", Some(&weak)), None);
    }

    #[test]
    fn acoustic_confidence_rises_with_the_word_loop_ratio() {
        let r = Rejection::default();
        let at = |x: f64| r.confidence(x);
        let threshold = Rejection::DEFAULT_MIN_WORD_LOOP_RATIO;
        assert!((at(threshold) - 0.73).abs() < 0.01, "{}", at(threshold));
        assert!((at(threshold - 0.5) - 0.5).abs() < 1e-6);
        assert!(at(1.5) > 0.99 && at(1.5) <= 1.0);
        assert!(at(-3.0) < 0.05);
        assert!(at(0.0) > at(-0.5) && at(-0.5) > at(-1.0));
    }

    fn order(text: &str, shots: &str, via: &str) -> Understood {
        let slots = BTreeMap::from([
            ("coffeeDrink".to_owned(), "mocha".to_owned()),
            ("numberOfShots".to_owned(), shots.to_owned()),
        ]);
        Understood::found(text.into(), "orderDrink".into(), slots, 0.9, via.into())
    }

    /// The coffee-maker context with Moonshine's agreement on, as
    /// `emma understand --agreement` sets it (needs `scripts/setup`: the
    /// PocketSphinx en-us and Moonshine models).
    fn coffee_with_agreement() -> Understander {
        let context =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("intent/tests/data/import/coffee_maker.yml");
        let intents = IntentEngine::from_path(&context, "en").unwrap();
        let mut u = Understander::new(
            intents,
            Engine::PocketSphinx,
            Path::new(emma_speech::POCKETSPHINX_EN_US),
            Decoding::Grammar,
        )
        .expect("PocketSphinx en-us opens (scripts/setup installs it)");
        let home = std::env::var_os("EMMA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                    .join(".local/share/emma")
            });
        let moonshine = emma_speech::ModelRegistry::new(home.join("models"))
            .moonshine_english()
            .expect("the Moonshine model is installed (run scripts/setup)");
        u.set_agreement(Engine::Moonshine, &moonshine, Some(AgreementRule::DEFAULT))
            .unwrap();
        u
    }

    /// A transcript as [`Understander::transcribe`] makes it, from text.
    fn transcript(u: &Understander, text: &str) -> Transcript {
        let sounds = &u.open.as_ref().expect("agreement is set").sounds;
        Transcript {
            text: text.into(),
            ms: 900,
            own: open::match_transcript(&u.intents, &u.walker_grammar, sounds, text),
        }
    }

    /// Moonshine hears the audio before RNNoise when there is one, and the
    /// cleaned audio when it gives nothing for that.
    #[test]
    fn the_open_vocabulary_transcript_is_of_the_raw_audio_else_of_the_cleaned() {
        let mut u = coffee_with_agreement();
        let said = emma_speech::synth::espeak("give me a large latte", "en-us", 150)
            .expect("espeak-ng speaks (scripts/setup installs it)")
            .samples;
        // Shorter than Moonshine transcribes: an empty transcript.
        let nothing = emma_speech::synth::silence(50);
        let mut heard = |pcm: &[i16], raw: Option<&[i16]>| {
            let heard = Heard {
                pcm,
                raw,
                words: None,
            };
            let t = u.transcribe_utterance(heard, "").unwrap().unwrap();
            t.text.to_lowercase()
        };
        assert!(
            heard(&nothing, Some(&said)).contains("latte"),
            "the raw audio"
        );
        assert!(
            heard(&said, Some(&nothing)).contains("latte"),
            "nothing in it: the cleaned"
        );
        assert!(
            heard(&said, None).contains("latte"),
            "no RNNoise: the audio itself"
        );
        assert_eq!(heard(&nothing, None), "");
    }

    /// The agreement check itself, not only [`settle`]: a transcript that is
    /// a command of the grammar settles the disagreement, one that is not
    /// falls back to the rule.
    #[test]
    fn the_agreement_check_settles_by_the_transcripts_own_command() {
        let mut u = coffee_with_agreement();
        let slots = BTreeMap::from([
            ("coffeeDrink".to_owned(), "latte".to_owned()),
            ("size".to_owned(), "large".to_owned()),
        ]);
        let mut grammar = Understood::found(
            "give me a large latte".into(),
            "orderDrink".into(),
            slots,
            0.9,
            "grammar".into(),
        );
        grammar.fit = Some(0.3);
        grammar.unsure = Some(Unsure::AcousticFit);
        let check = |u: &mut Understander, said: &str| {
            let t = transcript(u, said);
            let r = u
                .check_agreement(grammar.clone(), Heard::default(), Some(t))
                .unwrap();
            u.judge_slots(r)
        };
        // Another command, heard exactly: it replaces the grammar's.
        let r = check(&mut u, "Give me a small latte.");
        assert_eq!(r.slots["size"], "small", "{r:?}");
        assert_eq!((r.via.as_str(), r.unsure), ("open", None));
        assert_eq!(r.fit, Some(0.3));
        assert_eq!(
            r.agreement.as_ref().map(|a| a.transcript.as_str()),
            Some("Give me a small latte.")
        );
        // A command rebuilt by completion from "give me a large": the
        // transcript shares its words but is no command, so it stays asked
        // about (it confirms what was heard, not what completion added).
        let mut rebuilt = grammar.clone();
        rebuilt.text = "give me a large".into();
        rebuilt.via = "completion".into();
        rebuilt.unsure = Some(Unsure::Recovered);
        let t = transcript(&u, "Give me a large one.");
        let r = u
            .check_agreement(rebuilt, Heard::default(), Some(t))
            .unwrap();
        let r = u.judge_slots(r);
        assert_eq!(
            (r.via.as_str(), r.unsure),
            ("completion", Some(Unsure::Recovered)),
            "{r:?}"
        );
        assert!(r.agreement.as_ref().is_some_and(|a| a.confirms()), "{r:?}");
        // Another command aligned by sound: it replaces the grammar's, asked about.
        let r = check(&mut u, "Give me a small lottie.");
        assert_eq!(
            r.slots.get("size").map(String::as_str),
            Some("small"),
            "{r:?}"
        );
        assert_eq!(
            (r.via.as_str(), r.unsure),
            ("open-fuzzy", Some(Unsure::Recovered))
        );
        // No command itself, but near the grammar's and hearing a slot
        // otherwise: its word spliced into the grammar's sentence, asked about.
        let r = check(&mut u, "Give me a small latte with a.");
        assert_eq!(r.text, "give me a small latte", "{r:?}");
        assert_eq!(r.slots["size"], "small");
        assert_eq!(
            (r.via.as_str(), r.unsure),
            (SPLICED, Some(Unsure::Disagreement))
        );
        assert_eq!(r.fit, Some(0.3), "the grammar's acoustic evidence stays");
        // The same command: two recognisers agree, the weak fit is no reason to ask.
        let r = check(&mut u, "Give me a large latte.");
        assert_eq!((r.via.as_str(), r.unsure), ("grammar", None), "{r:?}");
        // Some words alike, no command: not rejected, but not sure either.
        let r = check(&mut u, "Sing me a large song.");
        assert_eq!(
            (r.via.as_str(), r.unsure),
            ("grammar", Some(Unsure::AcousticFit)),
            "{r:?}"
        );
        // No command at all, and an unsure grammar command: not a command.
        let r = check(&mut u, "Tell me a joke.");
        assert_eq!(r.intent, None, "{r:?}");
        assert_eq!(r.rejected_by, Some(RejectedBy::Agreement));
        // A sure command: a mishearing sharing some words and a slot by
        // sound is asked about, another sentence (or one without any of
        // the command's slots) rejected, and hearing nothing is no evidence.
        let mut sure = grammar.clone();
        sure.fit = Some(0.9);
        sure.unsure = None;
        let check_sure = |u: &mut Understander, said: &str| {
            let t = transcript(u, said);
            let r = u
                .check_agreement(sure.clone(), Heard::default(), Some(t))
                .unwrap();
            u.judge_slots(r)
        };
        let r = check_sure(&mut u, "Give me, hmm, lodges of latter.");
        assert_eq!(
            (r.intent.as_deref(), r.unsure),
            (Some("orderDrink"), Some(Unsure::Disagreement)),
            "{r:?}"
        );
        // Half the words or more and one slot of two: the two recognisers
        // agree on part of the command only, so it is asked about.
        let r = check_sure(&mut u, "Give me a large cup of tea.");
        assert_eq!(
            (r.intent.as_deref(), r.unsure),
            (Some("orderDrink"), Some(Unsure::Disagreement)),
            "{r:?}"
        );
        let r = check_sure(&mut u, "Give me, hmm, lodges of tea.");
        assert_eq!(r.intent, None, "{r:?}");
        assert_eq!(r.rejected_by, Some(RejectedBy::Agreement));
        let r = check_sure(&mut u, "Do you know any good restaurants nearby?");
        assert_eq!(r.intent, None, "{r:?}");
        assert_eq!(r.rejected_by, Some(RejectedBy::Agreement));
        let r = check_sure(&mut u, "");
        assert_eq!(
            (r.via.as_str(), r.unsure),
            ("grammar", Some(Unsure::Disagreement)),
            "{r:?}"
        );
        // No intent from the grammar: nothing to check.
        let none = Understood::unmatched("tell me a joke".into());
        let t = transcript(&u, "Give me a small latte.");
        assert_eq!(
            u.check_agreement(none.clone(), Heard::default(), Some(t))
                .unwrap(),
            none
        );
    }

    fn compared(transcript: &str) -> Agreement {
        Agreement {
            transcript: transcript.into(),
            intent: Some("orderDrink".into()),
            same_intent: true,
            words: 0.8,
            slots: agree::SlotsHeard {
                said: 1,
                heard: 1,
                listed: 1,
            },
            ms: 900,
        }
    }

    #[test]
    fn the_transcripts_own_command_settles_a_disagreement_on_slots() {
        let mut grammar = order("make me a double shot mocha", "double shot", "grammar");
        grammar.fit = Some(0.3);
        grammar.unsure = Some(Unsure::AcousticFit);
        let asks = Rejection::default();
        // The same command: the two recognisers agree, nothing to ask.
        let same = order("make me a double shot mocha", "double shot", "open");
        let r = settle(
            grammar.clone(),
            same,
            compared("Make me a double shot mocha."),
            asks,
        );
        assert_eq!((r.via.as_str(), r.unsure), ("grammar", None));
        assert_eq!(r.agreement.as_ref().map(|a| a.ms), Some(900));
        // Another command, heard exactly: it replaces the grammar's and is acted on.
        let exact = order("Make me a triple shot mocha.", "triple shot", "open");
        let r = settle(
            grammar.clone(),
            exact,
            compared("Make me a triple shot mocha."),
            asks,
        );
        assert_eq!(r.slots["numberOfShots"], "triple shot");
        assert_eq!((r.via.as_str(), r.unsure), ("open", None));
        assert_eq!(r.fit, Some(0.3), "the grammar's acoustic evidence stays");
        // Aligned by sound: asked about, as the aligned sentence.
        let alike = order("make me a triple shot mocha", "triple shot", "open-fuzzy");
        let r = settle(
            grammar.clone(),
            alike.clone(),
            compared("Make me a triple shad mocha."),
            asks,
        );
        assert_eq!(
            (r.text.as_str(), r.unsure),
            ("make me a triple shot mocha", Some(Unsure::Recovered))
        );
        // Spliced into the grammar's sentence: the recognisers disagree on a slot, ask.
        let spliced = order("make me a triple shot mocha", "triple shot", SPLICED);
        let r = settle(
            grammar.clone(),
            spliced,
            compared("Mike me a triple shot mocha."),
            asks,
        );
        assert_eq!(
            (r.via.as_str(), r.unsure),
            (SPLICED, Some(Unsure::Disagreement))
        );
        // An app that never asks acts on it.
        let never = Rejection {
            sure_word_loop_ratio: f64::NEG_INFINITY,
            ..asks
        };
        assert_eq!(
            settle(
                grammar,
                alike,
                compared("Make me a triple shad mocha."),
                never
            )
            .unsure,
            None
        );
    }
}
