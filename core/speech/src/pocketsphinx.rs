//! The PocketSphinx backend: Debian's libpocketsphinx 5prealpha through a
//! small hand-written FFI layer ([`ffi`]); everything else here is safe code.
//!
//! Free decoding uses the model's n-gram language model (the search the
//! decoder starts with); a grammar is compiled from JSGF into a new named
//! search and activated with `ps_set_search`, so switching costs no model
//! reload.

use std::ffi::{CStr, CString};
use std::path::Path;

use emma_grammar::Grammar;

use crate::audio::SAMPLE_RATE;
use crate::error::{Result, SpeechError};
use crate::recognizer::{
    Alternative, Engine, Event, FinalResult, GrammarReport, SpeechRecognizer, WordTiming,
    pocketsphinx_model_files,
};

/// How many n-best alternatives to collect at most.
const N_BEST: usize = 5;
/// PocketSphinx's frame rate (frames per second, `-frate` default).
const FRAME_RATE: f64 = 100.0;

/// A PocketSphinx decoder.
pub struct PocketSphinx {
    decoder: ffi::Decoder,
    free_search: String,
    grammar_serial: u32,
    in_utt: bool,
    samples: u64,
    utt_start: u64,
    last_partial: String,
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
        let args = [
            "-hmm".to_owned(),
            arg(&files.hmm),
            "-dict".to_owned(),
            arg(&files.dict),
            "-lm".to_owned(),
            arg(&files.lm),
            "-logfn".to_owned(),
            "/dev/null".to_owned(),
            "-samprate".to_owned(),
            SAMPLE_RATE.to_string(),
        ];
        let decoder = ffi::Decoder::new(&args).ok_or_else(|| SpeechError::ModelLoad {
            engine: "pocketsphinx",
            path: dir.to_owned(),
            reason: "libpocketsphinx could not initialise a decoder from these model files"
                .to_owned(),
        })?;
        let free_search = decoder.search().unwrap_or_else(|| "_default".to_owned());
        Ok(PocketSphinx {
            decoder,
            free_search,
            grammar_serial: 0,
            in_utt: false,
            samples: 0,
            utt_start: 0,
            last_partial: String::new(),
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

impl SpeechRecognizer for PocketSphinx {
    fn engine(&self) -> Engine {
        Engine::PocketSphinx
    }

    fn accept(&mut self, pcm: &[i16]) -> Result<Option<Event>> {
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
        self.end_utt()?;
        let Some((text, best_score)) = self.decoder.hyp() else {
            return Ok(FinalResult::default());
        };
        // Segment frames count from the start of the stream (`ps_start_stream`).
        let offset = 0.0;
        let words = self
            .decoder
            .segments()
            .into_iter()
            .filter(|s| !is_filler(&s.word))
            .map(|s| WordTiming {
                word: base_word(&s.word).to_owned(),
                start: offset + f64::from(s.start_frame) / FRAME_RATE,
                end: offset + f64::from(s.end_frame + 1) / FRAME_RATE,
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
        Ok(FinalResult {
            text,
            words,
            alternatives,
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.end_utt()?;
        self.last_partial.clear();
        self.samples = 0;
        self.utt_start = 0;
        if !self.decoder.start_stream() {
            return Err(engine_err("ps_start_stream failed"));
        }
        Ok(())
    }

    fn set_grammar(&mut self, grammar: Option<&Grammar>) -> Result<GrammarReport> {
        self.end_utt()?;
        self.last_partial.clear();
        let Some(grammar) = grammar else {
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
        let name = format!("emma_grammar_{}", self.grammar_serial);
        if !self.decoder.set_jsgf(&name, &jsgf) {
            return Err(engine_err("libpocketsphinx rejected the JSGF grammar"));
        }
        if !self.decoder.set_search(&name) {
            return Err(engine_err(format!(
                "cannot activate grammar search `{name}`"
            )));
        }
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
        fn logmath_exp(lmath: *mut LogMath, logb_p: c_int) -> c_double;
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
        fn ckd_free(ptr: *mut c_void);
    }

    /// An owned `ps_decoder_t`.
    pub(crate) struct Decoder(NonNull<PsDecoder>);

    // SAFETY: a decoder is a plain heap object with no thread affinity; it is
    // only used through `&mut self`/`&self` of its single owner, never shared.
    unsafe impl Send for Decoder {}

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
            let Ok(w) = CString::new(word) else {
                return false;
            };
            // SAFETY: valid decoder pointer and string; the returned
            // pronunciation is heap memory we own and release with `ckd_free`.
            unsafe {
                let pron = ps_lookup_word(self.ptr(), w.as_ptr());
                if pron.is_null() {
                    false
                } else {
                    ckd_free(pron.cast());
                    true
                }
            }
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
