//! The PocketSphinx backend: Debian's libpocketsphinx 5prealpha through a
//! small hand-written FFI layer ([`ffi`]); everything else here is safe code.
//!
//! Free decoding uses the model's n-gram language model (the search the
//! decoder starts with); a grammar is compiled from JSGF into a new named
//! search and activated with `ps_set_search`, so switching costs no model
//! reload.
//!
//! With verification on ([`SpeechRecognizer::set_verification`]), each
//! grammar utterance is also decoded with a phone loop and a word loop, on two
//! more decoders in worker threads ([`verifier`]) fed the same chunks as
//! [`SpeechRecognizer::accept`] receives, from the cepstral mean the grammar
//! utterance started with. At the end of speech only their tails are left,
//! running on the second core while this decoder finishes on the caller's
//! thread (before, both passes ran over the whole utterance after it ended, one
//! after the other on this decoder: `emma bench assistant --skills` end of
//! speech → device command p50 419 / p95 648 ms at load 8; with the loop
//! decoders p50 14 / p95 42 ms at the same load, docs/understand.md). They
//! cost nothing while verification is off (no decoders are created); while
//! on, each loads the acoustic model but only the dictionary words its loop
//! needs (`emma bench assistant --skills` peak RSS 273 → 280 MiB). On a
//! machine whose cores are taken by other work they fall behind the audio,
//! and the backlog lands at the end of speech (docs/understand.md, the
//! latency paragraph). An utterance whose phone-loop path holds no speech
//! phone (a quiet tail) is not verified: there is no speech to reject.

use std::ffi::{CStr, CString};
use std::path::Path;

use emma_grammar::Grammar;

use self::verifier::Verifier;
use crate::audio::SAMPLE_RATE;
use crate::error::{Result, SpeechError};
use crate::recognizer::{
    Alternative, Engine, Event, FinalResult, GrammarReport, SpeechRecognizer, Verification,
    WordTiming, pocketsphinx_model_files,
};

mod verifier;

/// How many n-best alternatives to collect at most.
const N_BEST: usize = 5;
/// The longest utterance kept for acoustic verification (30 s of audio);
/// longer ones are returned without a [`Verification`].
const MAX_VERIFY_SAMPLES: usize = 30 * SAMPLE_RATE as usize;
/// Frequent English words: with the grammar's own words, the word loop that
/// competes with the grammar in verification (any sequence of them).
const COMMON_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "always",
    "am",
    "an",
    "and",
    "any",
    "are",
    "around",
    "as",
    "ask",
    "at",
    "away",
    "back",
    "bad",
    "be",
    "because",
    "been",
    "before",
    "best",
    "better",
    "big",
    "book",
    "both",
    "boy",
    "bring",
    "but",
    "buy",
    "by",
    "call",
    "came",
    "can",
    "car",
    "change",
    "child",
    "city",
    "close",
    "come",
    "could",
    "day",
    "did",
    "do",
    "does",
    "dog",
    "done",
    "door",
    "down",
    "each",
    "eat",
    "end",
    "even",
    "every",
    "eye",
    "face",
    "fact",
    "family",
    "far",
    "feel",
    "few",
    "find",
    "first",
    "five",
    "for",
    "four",
    "friend",
    "from",
    "game",
    "get",
    "girl",
    "give",
    "go",
    "going",
    "good",
    "got",
    "great",
    "had",
    "hand",
    "happy",
    "has",
    "have",
    "he",
    "head",
    "hear",
    "hello",
    "help",
    "her",
    "here",
    "him",
    "his",
    "home",
    "house",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "job",
    "just",
    "keep",
    "kind",
    "know",
    "last",
    "late",
    "learn",
    "leave",
    "let",
    "life",
    "like",
    "little",
    "live",
    "long",
    "look",
    "lot",
    "love",
    "made",
    "make",
    "man",
    "many",
    "may",
    "me",
    "mean",
    "money",
    "more",
    "morning",
    "most",
    "mother",
    "much",
    "music",
    "must",
    "my",
    "name",
    "need",
    "never",
    "new",
    "next",
    "nice",
    "night",
    "no",
    "not",
    "nothing",
    "now",
    "number",
    "of",
    "off",
    "old",
    "on",
    "one",
    "only",
    "open",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "part",
    "people",
    "phone",
    "place",
    "play",
    "please",
    "put",
    "question",
    "read",
    "really",
    "right",
    "room",
    "said",
    "same",
    "saw",
    "say",
    "school",
    "see",
    "seem",
    "set",
    "she",
    "should",
    "show",
    "side",
    "six",
    "small",
    "so",
    "some",
    "something",
    "song",
    "soon",
    "sorry",
    "start",
    "still",
    "stop",
    "story",
    "sure",
    "take",
    "talk",
    "tell",
    "ten",
    "than",
    "thank",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "think",
    "this",
    "those",
    "three",
    "through",
    "time",
    "to",
    "today",
    "together",
    "told",
    "too",
    "took",
    "try",
    "two",
    "under",
    "until",
    "up",
    "us",
    "use",
    "very",
    "wait",
    "walk",
    "want",
    "was",
    "watch",
    "water",
    "way",
    "we",
    "week",
    "well",
    "went",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "woman",
    "word",
    "work",
    "world",
    "would",
    "write",
    "year",
    "yes",
    "yet",
    "you",
    "young",
    "your",
];
/// An empty dictionary for the loop decoders: they need the acoustic model,
/// not the model's 134k-word dictionary.
const EMPTY_DICT: &str = "/dev/null";
/// PocketSphinx's frame rate (frames per second, `-frate` default).
const FRAME_RATE: f64 = 100.0;

/// A PocketSphinx decoder.
pub struct PocketSphinx {
    decoder: ffi::Decoder,
    /// The arguments of the verification decoders (this decoder's, without
    /// the language model).
    loop_args: Vec<String>,
    free_search: String,
    grammar_serial: u32,
    in_utt: bool,
    samples: u64,
    utt_start: u64,
    last_partial: String,
    /// The active search is a grammar (utterances are verified).
    grammar_active: bool,
    /// Grammar results are verified against the loops (off by default).
    verification: bool,
    /// The loop decoders, created when verification is first needed (none
    /// while it is off).
    verifier: Option<Verifier>,
    /// The current utterance is being decoded by the loops too.
    verifying: bool,
    /// Samples of the current utterance so far.
    utt_samples: usize,
    /// What went wrong with the loops during the current utterance
    /// (reported when it finishes).
    verify_error: Option<String>,
    /// The current grammar's words (the word loop holds them too).
    grammar_words: Vec<String>,
}

fn engine_err(reason: impl Into<String>) -> SpeechError {
    SpeechError::Engine {
        engine: "pocketsphinx",
        reason: reason.into(),
    }
}

impl PocketSphinx {
    /// Loads the model in `dir` (see [`pocketsphinx_model_files`]).
    pub fn new(dir: &Path) -> Result<Self> {
        let files = pocketsphinx_model_files(dir)?;
        let arg = |p: &Path| p.to_string_lossy().into_owned();
        let mut loop_args = vec![
            "-hmm".to_owned(),
            arg(&files.hmm),
            "-samprate".to_owned(),
            SAMPLE_RATE.to_string(),
            // The verification phone loop uses context-independent phones:
            // several times faster than triphones, and the grammar search is unaffected.
            "-allphone_ci".to_owned(),
            "yes".to_owned(),
        ];
        let mut args = loop_args.clone();
        args.extend([
            "-dict".to_owned(),
            arg(&files.dict),
            "-lm".to_owned(),
            arg(&files.lm),
        ]);
        // The loop decoders start from an empty dictionary (the word loop
        // is given its own words: `verifier::loop_words`).
        loop_args.extend(["-dict".to_owned(), EMPTY_DICT.to_owned()]);
        let decoder = ffi::Decoder::new(&args).ok_or_else(|| SpeechError::ModelLoad {
            engine: "pocketsphinx",
            path: dir.to_owned(),
            reason: "libpocketsphinx could not initialise a decoder from these model files"
                .to_owned(),
        })?;
        let free_search = decoder.search().unwrap_or_else(|| "_default".to_owned());
        Ok(PocketSphinx {
            decoder,
            loop_args,
            free_search,
            grammar_serial: 0,
            in_utt: false,
            samples: 0,
            utt_start: 0,
            last_partial: String::new(),
            grammar_active: false,
            verification: false,
            verifier: None,
            verifying: false,
            utt_samples: 0,
            verify_error: None,
            grammar_words: Vec::new(),
        })
    }

    /// Starts the loop decoders (in the background) when grammar utterances
    /// are to be verified and they do not run yet.
    fn ensure_verifier(&mut self) {
        if self.verification && self.grammar_active && self.verifier.is_none() {
            match Verifier::spawn(&self.loop_args) {
                Ok(v) => self.verifier = Some(v),
                Err(e) => self.verify_error = Some(e),
            }
        }
    }

    /// Starts the loops' pass over a grammar utterance that starts now.
    fn start_verifying(&mut self) {
        self.verifying = false;
        self.ensure_verifier();
        let Some(verifier) = self.verifier.as_mut() else {
            return;
        };
        // The loops start from the cepstral mean this utterance starts from.
        let cmn = self.decoder.cmn();
        let (decoder, grammar_words) = (&mut self.decoder, &self.grammar_words);
        let words = || verifier::loop_words(decoder, grammar_words);
        match verifier.start(self.grammar_serial, words, cmn) {
            Ok(()) => self.verifying = true,
            Err(e) => self.lose_verifier(e),
        }
    }

    /// The loop workers failed: the error is reported when the utterance
    /// finishes, and the next utterance starts new ones.
    fn lose_verifier(&mut self, error: String) {
        self.verifier = None;
        self.verifying = false;
        self.verify_error.get_or_insert(error);
    }

    /// Gives up the loops' pass over the current utterance.
    fn stop_verifying(&mut self) {
        if std::mem::take(&mut self.verifying)
            && let Some(Err(e)) = self.verifier.as_mut().map(Verifier::abort)
        {
            self.lose_verifier(e);
        }
    }

    /// Scores the utterance just decoded with the grammar against the phone
    /// loop and the word loop over the same audio: the classic
    /// utterance-verification ratios. `grammar_segments` is the grammar path
    /// (all segments, fillers and silences included). `None` when there is
    /// nothing to verify or the phone loop cannot be set up.
    fn verify(
        &mut self,
        grammar_segments: &[Segment],
        posterior: f64,
        complete: bool,
    ) -> Result<Option<Verification>> {
        let verifying = std::mem::take(&mut self.verifying);
        if let Some(e) = self.verify_error.take() {
            return Err(engine_err(format!("utterance verification: {e}")));
        }
        if !verifying || !self.verification {
            return Ok(None);
        }
        let Some(verifier) = self.verifier.as_mut() else {
            return Ok(None);
        };
        let loops = match verifier.finish() {
            Ok(loops) => loops,
            Err(e) => {
                self.verifier = None;
                return Err(engine_err(format!("utterance verification: {e}")));
            }
        };
        let Some(first) = grammar_segments.first() else {
            return Ok(None);
        };
        // Without a speech phone on the phone loop's path (none at all when
        // the audio is too short for the loop to end anywhere, or only
        // silence and noise) the utterance held no speech: it is not
        // verified, so it cannot be taken for speech the grammar does not hold.
        let (Some(phones), words_path) = (
            loops
                .phones
                .filter(|p| p.iter().any(|s| !is_silence_phone(&s.word))),
            loops.words,
        ) else {
            return Ok(None);
        };
        Ok(Some(self.verification_scores(
            grammar_segments,
            first.start_frame,
            &phones,
            words_path.as_deref(),
            posterior,
            complete,
        )))
    }

    /// The [`Verification`] of a grammar path against the loops' paths.
    /// Each decoder counts frames from the start of its own stream, and a
    /// path starts at its utterance's first frame (PocketSphinx reports
    /// segment frames as the utterance's first frame in the stream plus the
    /// frame in the utterance), so a loop's frame for a grammar frame is
    /// offset by the difference of their first segments' start frames.
    fn verification_scores(
        &self,
        grammar_segments: &[Segment],
        grammar_start: i32,
        phones: &[Segment],
        word_loop: Option<&[Segment]>,
        posterior: f64,
        complete: bool,
    ) -> Verification {
        // Scores are in the decoder's log base, scaled down by 2^SENSCR_SHIFT
        // (10) as PocketSphinx stores senone scores: back to natural logs.
        let to_ln = |score: f64| self.decoder.log_to_ln(score) * 1024.0;
        let frames = |segs: &[Segment]| match (segs.first(), segs.last()) {
            (Some(f), Some(l)) => (l.end_frame - f.start_frame + 1).max(1) as u32,
            _ => 1,
        };
        let offset = |segs: &[Segment]| segs.first().map_or(0, |s| s.start_frame - grammar_start);
        let words = word_scores(grammar_segments, phones, offset(phones));
        let speech_frames: u32 = words.iter().map(|w| w.frames).sum();
        let word_loop = word_loop.filter(|w| !w.is_empty()).map(|segs| {
            let total = to_ln(segs.iter().map(|s| f64::from(s.ascr)).sum());
            let over_words: f64 = word_scores(grammar_segments, segs, offset(segs))
                .iter()
                .map(|w| w.phone_loop)
                .sum();
            (total, frames(segs), to_ln(over_words))
        });
        let min_word_ratio = words
            .iter()
            .map(|w| to_ln(w.path - w.phone_loop) / f64::from(w.frames.max(1)))
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
        Verification {
            path_score: to_ln(grammar_segments.iter().map(|s| f64::from(s.ascr)).sum()),
            path_frames: frames(grammar_segments),
            loop_score: to_ln(phones.iter().map(|s| f64::from(s.ascr)).sum()),
            loop_frames: frames(phones),
            speech_path_score: to_ln(words.iter().map(|w| w.path).sum()),
            speech_loop_score: to_ln(words.iter().map(|w| w.phone_loop).sum()),
            speech_frames,
            min_word_ratio,
            word_loop_score: word_loop.map(|w| w.0),
            word_loop_frames: word_loop.map_or(0, |w| w.1),
            speech_word_loop_score: word_loop.map(|w| w.2),
            posterior,
            complete,
            words: words.len().try_into().unwrap_or(u32::MAX),
        }
    }

    /// Ends the grammar decoder's utterance (the loops' pass is ended by
    /// [`PocketSphinx::verify`] or given up with it by [`PocketSphinx::drop_utt`]).
    fn end_utt(&mut self) -> Result<()> {
        if self.in_utt {
            self.in_utt = false;
            if !self.decoder.end_utt() {
                return Err(engine_err("ps_end_utt failed"));
            }
        }
        Ok(())
    }

    /// Drops the utterance in progress, if any (the stream is reset or the
    /// grammar changes).
    fn drop_utt(&mut self) -> Result<()> {
        self.stop_verifying();
        self.end_utt()
    }
}

/// Strips PocketSphinx's pronunciation-variant suffix: `read(2)` → `read`.
fn base_word(word: &str) -> &str {
    match word.find('(') {
        Some(i) if word.ends_with(')') => &word[..i],
        _ => word,
    }
}

fn is_filler(word: &str) -> bool {
    word.starts_with('<') || word.starts_with('[') || word.starts_with("++")
}

/// Whether a phone-loop segment is silence or noise (`SIL`, `+NSN+`, …), not
/// a speech phone.
fn is_silence_phone(phone: &str) -> bool {
    phone == "SIL" || phone.starts_with('+')
}

/// One grammar word's acoustic score against the phone loop's over the same frames.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WordScore {
    /// The word's acoustic score on the grammar path (decoder log base, scaled).
    path: f64,
    /// The phone loop's score over the word's frames: each phone overlapping
    /// them counts in proportion to the frames it shares with the word.
    phone_loop: f64,
    /// The word's frames.
    frames: u32,
}

/// Scores each word of `grammar` (fillers and silences left out) against the
/// `phones` of the loop pass over the same audio, whose frames are
/// `loop_offset` after the grammar path's.
fn word_scores(grammar: &[Segment], phones: &[Segment], loop_offset: i32) -> Vec<WordScore> {
    grammar
        .iter()
        .filter(|s| !is_filler(&s.word) && s.end_frame >= s.start_frame)
        .map(|w| {
            let (start, end) = (w.start_frame + loop_offset, w.end_frame + loop_offset);
            let phone_loop = phones
                .iter()
                .filter(|p| p.end_frame >= start && p.start_frame <= end)
                .map(|p| {
                    let shared = p.end_frame.min(end) - p.start_frame.max(start) + 1;
                    let len = p.end_frame - p.start_frame + 1;
                    f64::from(p.ascr) * f64::from(shared) / f64::from(len.max(1))
                })
                .sum();
            WordScore {
                path: f64::from(w.ascr),
                phone_loop,
                frames: (w.end_frame - w.start_frame + 1) as u32,
            }
        })
        .collect()
}

impl SpeechRecognizer for PocketSphinx {
    fn engine(&self) -> Engine {
        Engine::PocketSphinx
    }

    fn set_verification(&mut self, on: bool) {
        self.verification = on;
        if on {
            // Load the loop decoders now rather than at the next utterance.
            self.ensure_verifier();
        } else {
            self.stop_verifying();
            self.verifier = None;
        }
    }

    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>> {
        if !self.in_utt {
            if self.grammar_active && self.verification {
                self.start_verifying();
            }
            if !self.decoder.start_utt() {
                return Err(engine_err("ps_start_utt failed"));
            }
            self.in_utt = true;
            self.utt_start = self.samples;
            self.utt_samples = 0;
        }
        if self.verifying {
            // The loops decode this chunk in their threads while this one
            // decodes it with the grammar; longer utterances are not verified.
            if self.utt_samples + pcm.len() > MAX_VERIFY_SAMPLES {
                self.stop_verifying();
            } else if let Some(Err(e)) = self.verifier.as_mut().map(|v| v.audio(pcm)) {
                self.lose_verifier(e);
            }
        }
        if !self.decoder.process_raw(pcm) {
            return Err(engine_err("ps_process_raw failed"));
        }
        self.samples += pcm.len() as u64;
        self.utt_samples += pcm.len();
        let partial = self.decoder.hyp().map(|(h, _)| h).unwrap_or_default();
        if partial != self.last_partial {
            self.last_partial = partial.clone();
            return Ok(Some(Event::Partial(partial)));
        }
        Ok(None)
    }

    fn finish(&mut self) -> Result<FinalResult> {
        self.last_partial.clear();
        if !self.in_utt {
            return Ok(FinalResult::default());
        }
        // The best path so far, in case the grammar search ends without
        // reaching a final state (then there is no hypothesis after the end).
        let unfinished = if self.grammar_active {
            self.decoder.segments()
        } else {
            vec![]
        };
        self.end_utt()?;
        let Some((text, best_score)) = self.decoder.hyp() else {
            // No full grammar path: verify the best partial one, so speech
            // the grammar cannot hold is still recognised as such.
            let verification = if self.grammar_active {
                self.verify(&unfinished, 0.0, false)?
            } else {
                None
            };
            return Ok(FinalResult {
                verification,
                ..FinalResult::default()
            });
        };
        let segments = self.decoder.segments();
        // Segment frames count from the start of the stream (`ps_start_stream`).
        let words = segments
            .iter()
            .filter(|s| !is_filler(&s.word))
            .map(|s| WordTiming {
                word: base_word(&s.word).to_owned(),
                start: f64::from(s.start_frame) / FRAME_RATE,
                end: f64::from(s.end_frame + 1) / FRAME_RATE,
                conf: (s.posterior.clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
            })
            .collect();
        // The lattice's n-best also holds partial paths; the decoder's best
        // hypothesis always comes first.
        let mut alternatives: Vec<Alternative> = vec![Alternative {
            text: text.clone(),
            score: f64::from(best_score),
        }];
        for (hyp, score) in self.decoder.nbest(N_BEST * 4) {
            let hyp = hyp
                .split_whitespace()
                .filter(|w| !is_filler(w))
                .map(base_word)
                .collect::<Vec<_>>()
                .join(" ");
            if !hyp.is_empty() && !alternatives.iter().any(|a| a.text == hyp) {
                alternatives.push(Alternative {
                    text: hyp,
                    score: f64::from(score),
                });
            }
            if alternatives.len() == N_BEST {
                break;
            }
        }
        let verification = if self.grammar_active {
            let posterior = self.decoder.prob();
            self.verify(&segments, posterior, true)?
        } else {
            None
        };
        Ok(FinalResult {
            text,
            words,
            alternatives,
            verification,
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.drop_utt()?;
        self.last_partial.clear();
        self.verify_error = None;
        self.samples = 0;
        self.utt_start = 0;
        if !self.decoder.start_stream() {
            return Err(engine_err("ps_start_stream failed"));
        }
        // The loops' stream restarts with this one (their noise estimate
        // follows the same audio).
        if let Some(Err(e)) = self.verifier.as_mut().map(Verifier::restart) {
            self.verifier = None;
            return Err(engine_err(format!("utterance verification: {e}")));
        }
        Ok(())
    }

    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport> {
        self.drop_utt()?;
        self.last_partial.clear();
        self.verify_error = None;
        let Some(grammar) = grammar else {
            self.grammar_active = false;
            if !self.decoder.set_search(&self.free_search) {
                return Err(engine_err(format!(
                    "cannot switch back to search `{}`",
                    self.free_search
                )));
            }
            return Ok(GrammarReport::default());
        };
        let jsgf = grammar.to_jsgf()?;
        let unknown: Vec<String> = grammar
            .words()
            .into_iter()
            .filter(|w| !self.decoder.knows_word(w))
            .collect();
        if !unknown.is_empty() {
            return Err(SpeechError::UnknownWords {
                engine: "pocketsphinx",
                words: unknown,
            });
        }
        self.grammar_serial += 1;
        self.grammar_words = grammar.words().into_iter().collect();
        let name = format!("emma_grammar_{}", self.grammar_serial);
        if !self.decoder.set_jsgf(&name, &jsgf) {
            return Err(engine_err("libpocketsphinx rejected the JSGF grammar"));
        }
        if !self.decoder.set_search(&name) {
            return Err(engine_err(format!(
                "cannot activate grammar search `{name}`"
            )));
        }
        self.grammar_active = true;
        self.ensure_verifier();
        // Drop the previous grammar's search so switching often does not grow memory.
        if self.grammar_serial > 1 {
            self.decoder
                .unset_search(&format!("emma_grammar_{}", self.grammar_serial - 1));
        }
        Ok(GrammarReport::default())
    }
}

/// One word segment of a hypothesis (for keyphrase search: one detection).
pub(crate) struct Segment {
    /// The word (the keyphrase, for keyphrase search).
    pub(crate) word: String,
    /// First frame (10 ms) of the segment.
    pub(crate) start_frame: i32,
    /// Last frame of the segment.
    pub(crate) end_frame: i32,
    /// The segment's probability (for keyphrase search, the likelihood ratio of
    /// the phrase against the phone loop) as a linear value.
    pub(crate) posterior: f64,
    /// The same probability as the decoder's integer log (base 1.0001) value.
    pub(crate) log_prob: i32,
    /// Acoustic score (log base of the decoder's logmath).
    pub(crate) ascr: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(word: &str, start_frame: i32, end_frame: i32, ascr: i32) -> Segment {
        Segment {
            word: word.to_owned(),
            start_frame,
            end_frame,
            posterior: 1.0,
            log_prob: 0,
            ascr,
        }
    }

    #[test]
    fn words_are_scored_against_the_phones_over_their_own_frames() {
        // Grammar path: silence 0-9, "on" 10-19, "off" 20-29, silence 30-39.
        let grammar = [
            seg("<sil>", 0, 9, -100),
            seg("on", 10, 19, -500),
            seg("off(2)", 20, 29, -900),
            seg("[NOISE]", 30, 39, -100),
        ];
        // The loop pass's frames are 100 later; its phone 115-124 straddles both words.
        let phones = [
            seg("SIL", 100, 109, -50),
            seg("AA", 110, 114, -200),
            seg("N", 115, 124, -400),
            seg("F", 125, 129, -300),
            seg("SIL", 130, 139, -50),
        ];
        let words = word_scores(&grammar, &phones, 100);
        assert_eq!(
            words,
            vec![
                WordScore {
                    path: -500.0,
                    phone_loop: -400.0,
                    frames: 10
                },
                WordScore {
                    path: -900.0,
                    phone_loop: -500.0,
                    frames: 10
                },
            ]
        );
        // Without phones over the words, the loop scores nothing there.
        assert_eq!(word_scores(&grammar, &phones, 1000)[0].phone_loop, 0.0);
        assert!(word_scores(&grammar[..1], &phones, 100).is_empty());
    }
}

#[allow(unsafe_code)]
pub(crate) mod ffi {
    //! The only unsafe code of the PocketSphinx backend. [`Decoder`] owns a
    //! `ps_decoder_t*`; every method passes it to libpocketsphinx while
    //! holding `&self`/`&mut self`, so it is never used after `ps_free`.

    use std::ffi::{c_char, c_double, c_int, c_void};
    use std::ptr::NonNull;

    use super::{CStr, CString, Segment};

    #[repr(C)]
    struct PsDecoder {
        _private: [u8; 0],
    }
    #[repr(C)]
    struct CmdLn {
        _private: [u8; 0],
    }
    #[repr(C)]
    struct Arg {
        _private: [u8; 0],
    }
    #[repr(C)]
    struct Seg {
        _private: [u8; 0],
    }
    #[repr(C)]
    struct NBest {
        _private: [u8; 0],
    }
    #[repr(C)]
    struct LogMath {
        _private: [u8; 0],
    }
    /// sphinxbase's `cmn_t` (public in `sphinxbase/cmn.h`; `mfcc_t` is
    /// `float` in Debian's floating-point build).
    #[repr(C)]
    struct Cmn {
        cmn_mean: *mut f32,
        cmn_var: *mut f32,
        sum: *mut f32,
        nframe: i32,
        veclen: i32,
    }
    /// The leading fields of sphinxbase's `feat_t` (public in
    /// `sphinxbase/feat.h`), up to the cepstral-mean state.
    #[repr(C)]
    struct FeatHead {
        refcount: c_int,
        name: *mut c_char,
        cepsize: i32,
        n_stream: i32,
        stream_len: *mut u32,
        window_size: i32,
        n_sv: i32,
        sv_len: *mut u32,
        subvecs: *mut *mut i32,
        sv_buf: *mut f32,
        sv_dim: i32,
        cmn: c_int,
        varnorm: i32,
        agc: c_int,
        compute_feat: Option<unsafe extern "C" fn(*mut FeatHead, *mut *mut f32, *mut *mut f32)>,
        cmn_struct: *mut Cmn,
    }

    /// A copy of the decoder's live cepstral-mean state (current mean, the
    /// running sum and its frame count), to put back later.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct CmnState {
        mean: Vec<f32>,
        sum: Vec<f32>,
        nframe: i32,
    }

    #[link(name = "pocketsphinx")]
    #[link(name = "sphinxbase")]
    unsafe extern "C" {
        fn ps_args() -> *const Arg;
        fn cmd_ln_parse_r(
            inout: *mut CmdLn,
            defn: *const Arg,
            argc: i32,
            argv: *mut *mut c_char,
            strict: i32,
        ) -> *mut CmdLn;
        fn cmd_ln_free_r(cmdln: *mut CmdLn) -> c_int;
        fn ps_init(config: *mut CmdLn) -> *mut PsDecoder;
        fn ps_free(ps: *mut PsDecoder) -> c_int;
        fn ps_start_utt(ps: *mut PsDecoder) -> c_int;
        fn ps_start_stream(ps: *mut PsDecoder) -> c_int;
        fn ps_process_raw(
            ps: *mut PsDecoder,
            data: *const i16,
            n_samples: usize,
            no_search: c_int,
            full_utt: c_int,
        ) -> c_int;
        fn ps_end_utt(ps: *mut PsDecoder) -> c_int;
        fn ps_get_hyp(ps: *mut PsDecoder, out_best_score: *mut i32) -> *const c_char;
        fn ps_seg_iter(ps: *mut PsDecoder) -> *mut Seg;
        fn ps_seg_next(seg: *mut Seg) -> *mut Seg;
        fn ps_seg_word(seg: *mut Seg) -> *const c_char;
        fn ps_seg_frames(seg: *mut Seg, out_sf: *mut c_int, out_ef: *mut c_int);
        fn ps_seg_prob(
            seg: *mut Seg,
            out_ascr: *mut i32,
            out_lscr: *mut i32,
            out_lback: *mut i32,
        ) -> i32;
        fn ps_seg_free(seg: *mut Seg);
        fn ps_nbest(ps: *mut PsDecoder) -> *mut NBest;
        fn ps_nbest_next(nbest: *mut NBest) -> *mut NBest;
        fn ps_nbest_hyp(nbest: *mut NBest, out_score: *mut i32) -> *const c_char;
        fn ps_nbest_free(nbest: *mut NBest);
        fn ps_get_logmath(ps: *mut PsDecoder) -> *mut LogMath;
        fn ps_get_feat(ps: *mut PsDecoder) -> *mut FeatHead;
        fn logmath_exp(lmath: *mut LogMath, logb_p: c_int) -> c_double;
        fn logmath_get_base(lmath: *mut LogMath) -> c_double;
        fn ps_get_prob(ps: *mut PsDecoder) -> i32;
        fn ps_set_allphone_file(
            ps: *mut PsDecoder,
            name: *const c_char,
            path: *const c_char,
        ) -> c_int;
        fn ps_set_jsgf_string(
            ps: *mut PsDecoder,
            name: *const c_char,
            jsgf: *const c_char,
        ) -> c_int;
        fn ps_set_search(ps: *mut PsDecoder, name: *const c_char) -> c_int;
        fn ps_set_keyphrase(
            ps: *mut PsDecoder,
            name: *const c_char,
            keyphrase: *const c_char,
        ) -> c_int;
        fn ps_get_search(ps: *mut PsDecoder) -> *const c_char;
        fn ps_unset_search(ps: *mut PsDecoder, name: *const c_char) -> c_int;
        fn ps_lookup_word(ps: *mut PsDecoder, word: *const c_char) -> *mut c_char;
        fn ps_add_word(
            ps: *mut PsDecoder,
            word: *const c_char,
            phones: *const c_char,
            update: c_int,
        ) -> c_int;
        fn ckd_free(ptr: *mut c_void);
        fn err_set_logfp(stream: *mut c_void);
    }

    /// An owned `ps_decoder_t`.
    pub(crate) struct Decoder(NonNull<PsDecoder>);

    // SAFETY: a decoder is a plain heap object with no thread affinity
    // (libpocketsphinx keeps no thread-local state and takes no locks): its
    // model, dictionary, searches and feature state are its own, reference
    // counted inside it, so decoders in different threads are independent.
    // It is only used through `&mut self`/`&self` of its single owner, never
    // shared (`Decoder` is not `Sync`). The one process-wide state sphinxbase
    // touches is its log (`err.c`): `-logfn` would swap and `fclose` the
    // global log file while another thread's decoder writes to it, so no
    // decoder is given `-logfn` and logging is switched off once, before the
    // first decoder exists ([`quiet_logging`]).
    unsafe impl Send for Decoder {}

    /// Switches sphinxbase's process-wide logging off, once, before the first
    /// decoder is created (see the `Send` reasoning above).
    fn quiet_logging() {
        static QUIET: std::sync::Once = std::sync::Once::new();
        // SAFETY: `err_set_logfp(NULL)` is sphinxbase's documented way to
        // disable logging; `Once` runs it before any decoder can log.
        QUIET.call_once(|| unsafe { err_set_logfp(std::ptr::null_mut()) });
    }

    /// Copies a C string owned by the decoder (valid until the next call).
    fn owned(ptr: *const c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: non-null pointers returned by libpocketsphinx are
        // NUL-terminated strings valid until the next decoder call; we copy
        // immediately.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    impl Decoder {
        /// Parses command-line style arguments and initialises a decoder.
        pub(crate) fn new(args: &[String]) -> Option<Decoder> {
            quiet_logging();
            let cargs: Vec<CString> = std::iter::once("emma".to_owned())
                .chain(args.iter().cloned())
                .map(|a| CString::new(a).ok())
                .collect::<Option<_>>()?;
            let mut argv: Vec<*mut c_char> = cargs.iter().map(|a| a.as_ptr().cast_mut()).collect();
            let argc = i32::try_from(argv.len()).ok()?;
            // SAFETY: `argv` holds `argc` valid NUL-terminated strings that
            // outlive the call (cmd_ln copies what it keeps); `ps_args()` is a
            // static definition table. The config is released with
            // `cmd_ln_free_r` after `ps_init` took its own reference.
            unsafe {
                let config =
                    cmd_ln_parse_r(std::ptr::null_mut(), ps_args(), argc, argv.as_mut_ptr(), 1);
                if config.is_null() {
                    return None;
                }
                let ps = ps_init(config);
                cmd_ln_free_r(config);
                NonNull::new(ps).map(Decoder)
            }
        }

        fn ptr(&self) -> *mut PsDecoder {
            self.0.as_ptr()
        }

        pub(crate) fn start_stream(&mut self) -> bool {
            // SAFETY: the decoder pointer is valid for the lifetime of `self`;
            // called between utterances only.
            unsafe { ps_start_stream(self.ptr()) >= 0 }
        }

        pub(crate) fn start_utt(&mut self) -> bool {
            // SAFETY: the decoder pointer is valid for the lifetime of `self`.
            unsafe { ps_start_utt(self.ptr()) >= 0 }
        }

        pub(crate) fn process_raw(&mut self, pcm: &[i16]) -> bool {
            // SAFETY: `pcm` is a valid slice of `pcm.len()` samples; the
            // decoder copies what it needs before returning.
            unsafe { ps_process_raw(self.ptr(), pcm.as_ptr(), pcm.len(), 0, 0) >= 0 }
        }

        pub(crate) fn end_utt(&mut self) -> bool {
            // SAFETY: valid decoder pointer.
            unsafe { ps_end_utt(self.ptr()) >= 0 }
        }

        pub(crate) fn hyp(&mut self) -> Option<(String, i32)> {
            let mut score = 0;
            // SAFETY: valid decoder pointer and a valid out-pointer; the
            // returned string is copied by `owned` before any other call.
            let text = owned(unsafe { ps_get_hyp(self.ptr(), &mut score) })?;
            Some((text, score))
        }

        pub(crate) fn segments(&mut self) -> Vec<Segment> {
            let mut out = Vec::new();
            // SAFETY: `seg` comes from `ps_seg_iter` and is advanced with
            // `ps_seg_next`, which frees it and returns NULL at the end; we
            // stop at NULL, so it is never used after being freed. The
            // logmath belongs to the decoder.
            unsafe {
                let lmath = ps_get_logmath(self.ptr());
                let mut seg = ps_seg_iter(self.ptr());
                while !seg.is_null() && out.len() < 10_000 {
                    let word = owned(ps_seg_word(seg)).unwrap_or_default();
                    let (mut sf, mut ef) = (0, 0);
                    ps_seg_frames(seg, &mut sf, &mut ef);
                    let (mut ascr, mut lscr, mut lback) = (0, 0, 0);
                    let prob = ps_seg_prob(seg, &mut ascr, &mut lscr, &mut lback);
                    let posterior = if lmath.is_null() {
                        1.0
                    } else {
                        logmath_exp(lmath, prob)
                    };
                    out.push(Segment {
                        word,
                        start_frame: sf,
                        end_frame: ef,
                        posterior,
                        log_prob: prob,
                        ascr,
                    });
                    seg = ps_seg_next(seg);
                }
                if !seg.is_null() {
                    ps_seg_free(seg);
                }
            }
            out
        }

        pub(crate) fn nbest(&mut self, max: usize) -> Vec<(String, i32)> {
            let mut out = Vec::new();
            // SAFETY: same iterator protocol as `segments`: `ps_nbest_next`
            // frees the iterator when it returns NULL; an unfinished iterator
            // is freed with `ps_nbest_free`.
            unsafe {
                let mut nb = ps_nbest(self.ptr());
                while !nb.is_null() && out.len() < max {
                    let mut score = 0;
                    if let Some(h) = owned(ps_nbest_hyp(nb, &mut score)) {
                        out.push((h, score));
                    }
                    nb = ps_nbest_next(nb);
                }
                if !nb.is_null() {
                    ps_nbest_free(nb);
                }
            }
            out
        }

        /// The natural log of the current utterance's posterior probability
        /// (`ps_get_prob`: the best path's share of the lattice).
        pub(super) fn prob(&mut self) -> f64 {
            // SAFETY: valid decoder pointer, between utterances (after
            // `ps_end_utt`); the logmath belongs to the decoder.
            unsafe {
                let p = ps_get_prob(self.ptr());
                let lmath = ps_get_logmath(self.ptr());
                if lmath.is_null() {
                    return 0.0;
                }
                f64::from(p) * logmath_get_base(lmath).ln()
            }
        }

        /// The live cepstral-mean state, or `None` when the library's feature
        /// object does not look as `sphinxbase/feat.h` declares it (then the
        /// state is simply not saved).
        fn cmn_struct(&self) -> Option<NonNull<Cmn>> {
            // SAFETY: valid decoder pointer; `ps_get_feat` returns the
            // decoder's own feature object (or NULL), laid out as `feat_t`,
            // whose leading fields `FeatHead` mirrors. The pointer read is
            // checked below against the object's own cepstrum size before use.
            unsafe {
                let feat = ps_get_feat(self.ptr());
                if feat.is_null() {
                    return None;
                }
                let cmn = NonNull::new((*feat).cmn_struct)?;
                let c = cmn.as_ref();
                let ok = c.veclen == (*feat).cepsize
                    && (1..=64).contains(&c.veclen)
                    && !c.cmn_mean.is_null()
                    && !c.sum.is_null();
                ok.then_some(cmn)
            }
        }

        /// A copy of the live cepstral-mean state (see [`CmnState`]).
        pub(crate) fn cmn(&self) -> Option<CmnState> {
            let cmn = self.cmn_struct()?;
            // SAFETY: `cmn_struct` checked the pointers and that both arrays
            // hold `veclen` values (sphinxbase allocates them with the
            // cepstrum size); they belong to the decoder, which `&self` keeps alive.
            unsafe {
                let c = cmn.as_ref();
                let n = c.veclen as usize;
                Some(CmnState {
                    mean: std::slice::from_raw_parts(c.cmn_mean, n).to_vec(),
                    sum: std::slice::from_raw_parts(c.sum, n).to_vec(),
                    nframe: c.nframe,
                })
            }
        }

        /// Puts back a state copied with [`Decoder::cmn`] (between utterances).
        pub(crate) fn set_cmn(&mut self, state: &CmnState) {
            let Some(mut cmn) = self.cmn_struct() else {
                return;
            };
            // SAFETY: as in `cmn`; the arrays are written only when the copy
            // has exactly their length, through `&mut self`.
            unsafe {
                let c = cmn.as_mut();
                let n = c.veclen as usize;
                if state.mean.len() != n || state.sum.len() != n {
                    return;
                }
                std::slice::from_raw_parts_mut(c.cmn_mean, n).copy_from_slice(&state.mean);
                std::slice::from_raw_parts_mut(c.sum, n).copy_from_slice(&state.sum);
                c.nframe = state.nframe;
            }
        }

        /// Converts a score summed in the decoder's log base to a natural log.
        pub(super) fn log_to_ln(&self, score: f64) -> f64 {
            // SAFETY: valid decoder pointer; the logmath belongs to the
            // decoder and is only read.
            let base = unsafe {
                let lmath = ps_get_logmath(self.ptr());
                if lmath.is_null() {
                    return 0.0;
                }
                logmath_get_base(lmath)
            };
            score * base.ln()
        }

        /// Adds a phone-loop search `name` (phone n-gram `lm`, or a uniform
        /// loop when `None`).
        pub(super) fn set_allphone(&mut self, name: &str, lm: Option<&std::path::Path>) -> bool {
            let Ok(name) = CString::new(name) else {
                return false;
            };
            let lm = match lm.map(|p| CString::new(p.to_string_lossy().into_owned())) {
                Some(Ok(p)) => Some(p),
                Some(Err(_)) => return false,
                None => None,
            };
            let lm_ptr = lm.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
            // SAFETY: valid decoder pointer; `name` and `lm_ptr` (or NULL,
            // which the library accepts as "no language model") are
            // NUL-terminated strings that outlive the call; the decoder
            // copies the name and reads the file during the call.
            unsafe { ps_set_allphone_file(self.ptr(), name.as_ptr(), lm_ptr) >= 0 }
        }

        pub(crate) fn search(&self) -> Option<String> {
            // SAFETY: valid decoder pointer; string copied immediately.
            owned(unsafe { ps_get_search(self.ptr()) })
        }

        pub(crate) fn set_jsgf(&mut self, name: &str, jsgf: &str) -> bool {
            let (Ok(name), Ok(jsgf)) = (CString::new(name), CString::new(jsgf)) else {
                return false;
            };
            // SAFETY: valid decoder pointer and NUL-terminated strings that
            // outlive the call; the decoder copies them.
            unsafe { ps_set_jsgf_string(self.ptr(), name.as_ptr(), jsgf.as_ptr()) >= 0 }
        }

        /// Adds a keyphrase-spotting search named `name` for `phrase`, with the
        /// `-kws_threshold` the decoder was configured with.
        pub(crate) fn set_keyphrase(&mut self, name: &str, phrase: &str) -> bool {
            let (Ok(name), Ok(phrase)) = (CString::new(name), CString::new(phrase)) else {
                return false;
            };
            // SAFETY: valid decoder pointer and NUL-terminated strings that
            // outlive the call; the decoder copies the phrase into its search.
            unsafe { ps_set_keyphrase(self.ptr(), name.as_ptr(), phrase.as_ptr()) >= 0 }
        }

        pub(crate) fn set_search(&mut self, name: &str) -> bool {
            let Ok(name) = CString::new(name) else {
                return false;
            };
            // SAFETY: valid decoder pointer and string.
            unsafe { ps_set_search(self.ptr(), name.as_ptr()) >= 0 }
        }

        pub(crate) fn unset_search(&mut self, name: &str) -> bool {
            let Ok(name) = CString::new(name) else {
                return false;
            };
            // SAFETY: valid decoder pointer and string; the search being
            // removed is not the active one (callers activate another first).
            unsafe { ps_unset_search(self.ptr(), name.as_ptr()) >= 0 }
        }

        pub(crate) fn knows_word(&mut self, word: &str) -> bool {
            self.pronunciation(word).is_some()
        }

        /// The dictionary's phones for `word` (`None` when it has none).
        pub(crate) fn pronunciation(&mut self, word: &str) -> Option<String> {
            let w = CString::new(word).ok()?;
            // SAFETY: valid decoder pointer and string; the returned
            // pronunciation is heap memory we own: copied, then released
            // with `ckd_free`.
            unsafe {
                let pron = ps_lookup_word(self.ptr(), w.as_ptr());
                if pron.is_null() {
                    None
                } else {
                    let text = CStr::from_ptr(pron).to_string_lossy().into_owned();
                    ckd_free(pron.cast());
                    Some(text)
                }
            }
        }

        /// Adds `word` with `phones` to the dictionary (searches built
        /// afterwards can use it). False when the decoder refuses it.
        pub(crate) fn add_word(&mut self, word: &str, phones: &str) -> bool {
            let (Ok(w), Ok(p)) = (CString::new(word), CString::new(phones)) else {
                return false;
            };
            // SAFETY: valid decoder pointer and strings; the decoder copies both.
            unsafe { ps_add_word(self.ptr(), w.as_ptr(), p.as_ptr(), 0) >= 0 }
        }
    }

    impl Drop for Decoder {
        fn drop(&mut self) {
            // SAFETY: we own the only reference; it is not used afterwards.
            unsafe {
                ps_free(self.ptr());
            }
        }
    }
}
