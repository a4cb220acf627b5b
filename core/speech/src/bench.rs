//! `emma bench asr`: real-time factor per engine, free vs grammar-restricted,
//! end-of-speech → final latency and memory, on speech synthesised in the run.
//!
//! Every figure is printed with its ratio to the target (the baseline of the
//! run); nothing here is a timed test.

use std::time::Instant;

use emma_grammar::Grammar;
use serde::Serialize;

use crate::endpoint::EndpointConfig;
use crate::error::Result;
use crate::recognizer::{Engine, SpeechRecognizer};
use crate::stream::transcribe;

/// Target real-time factor for grammar-restricted decoding.
pub const TARGET_GRAMMAR_RTF: f64 = 0.05;
/// Target latency from end of speech (the endpoint) to the final result, ms.
pub const TARGET_FINAL_LATENCY_MS: f64 = 100.0;

/// Measurements of one engine in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    /// `free` or `grammar`.
    pub mode: &'static str,
    /// Seconds of audio decoded.
    pub audio_s: f64,
    /// Seconds spent decoding.
    pub decode_s: f64,
    /// decode_s / audio_s.
    pub rtf: f64,
    /// Median time from endpoint to final result, ms.
    pub final_latency_ms_median: f64,
    /// Worst time from endpoint to final result, ms.
    pub final_latency_ms_max: f64,
    /// Utterances whose text equals the phrase spoken.
    pub exact: usize,
    /// Utterances decoded.
    pub utterances: usize,
}

/// Measurements of one engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineResult {
    /// The engine.
    pub engine: Engine,
    /// Seconds to load the model.
    pub load_s: f64,
    /// Seconds of the first (unmeasured) decode after loading.
    pub warmup_s: f64,
    /// Resident memory after loading, MiB (`VmRSS`).
    pub rss_loaded_mib: f64,
    /// Peak resident memory of the process so far, MiB (`VmHWM`).
    pub peak_rss_mib: f64,
    /// Free and grammar-restricted runs.
    pub modes: Vec<ModeResult>,
}

/// One benchmark input: the phrases and their audio, for one engine.
pub struct BenchInput {
    /// The phrases spoken, as the grammar spells them.
    pub phrases: Vec<String>,
    /// Their audio, 16 kHz mono, one per phrase.
    pub audio: Vec<Vec<i16>>,
}

/// Memory of this process from `/proc/self/status`: (current, peak) in MiB.
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The median and the largest of `values` (sorted here); 0 for none.
fn median_max(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or(0.0);
    (median, values.last().copied().unwrap_or(0.0))
}

/// Seconds spent per second of audio; 0 without audio.
fn rtf(decode_s: f64, audio_s: f64) -> f64 {
    if audio_s > 0.0 {
        decode_s / audio_s
    } else {
        0.0
    }
}

/// Loads `engine` with `load`, then decodes `input` freely and with a grammar of its phrases.
pub fn run_engine(
    engine: Engine,
    load: impl FnOnce() -> Result<Box<dyn SpeechRecognizer>>,
    input: &BenchInput,
    endpoint: EndpointConfig,
) -> Result<EngineResult> {
    let t = Instant::now();
    let mut recognizer = load()?;
    let load_s = t.elapsed().as_secs_f64();
    let (rss_loaded_mib, _) = rss_mib();
    // Warm-up, not measured: Vosk builds parts of a lookahead graph lazily
    // on the first decode after loading (seconds for large models).
    let t = Instant::now();
    if let Some(first) = input.audio.first() {
        let (_, back) = transcribe(recognizer, first, endpoint)?;
        recognizer = back;
    }
    let warmup_s = t.elapsed().as_secs_f64();
    let grammar = Grammar::from_phrases(&input.phrases);
    let mut modes = Vec::new();
    for mode in ["free", "grammar"] {
        recognizer.set_grammar(if mode == "grammar" {
            Some(&grammar)
        } else {
            None
        })?;
        let (mut audio_s, mut decode_s, mut exact, mut count) = (0.0, 0.0, 0, 0);
        let mut latencies = Vec::new();
        for (phrase, pcm) in input.phrases.iter().zip(&input.audio) {
            let (utterances, back) = transcribe(recognizer, pcm, endpoint)?;
            recognizer = back;
            audio_s += pcm.len() as f64 / f64::from(crate::audio::SAMPLE_RATE);
            for u in &utterances {
                decode_s += u.decode.as_secs_f64();
                // Finals the engine produced on its own (Vosk's endpointer) have
                // no finish call to time.
                if !u.finish.is_zero() {
                    latencies.push(u.finish.as_secs_f64() * 1000.0);
                }
                count += 1;
                if u.result.text == *phrase {
                    exact += 1;
                }
            }
        }
        let (median, max) = median_max(&mut latencies);
        modes.push(ModeResult {
            mode,
            audio_s,
            decode_s,
            rtf: rtf(decode_s, audio_s),
            final_latency_ms_median: median,
            final_latency_ms_max: max,
            exact,
            utterances: count,
        });
    }
    let (_, peak_rss_mib) = rss_mib();
    Ok(EngineResult {
        engine,
        load_s,
        warmup_s,
        rss_loaded_mib,
        peak_rss_mib,
        modes,
    })
}

/// Moonshine in one mode of [`run_moonshine_drafts`].
#[cfg(feature = "moonshine")]
#[derive(Debug, Clone, Serialize)]
pub struct DraftResult {
    /// `alone`, `right draft` or `wrong draft`.
    pub mode: &'static str,
    /// Seconds of audio transcribed.
    pub audio_s: f64,
    /// Seconds spent transcribing.
    pub decode_s: f64,
    /// decode_s / audio_s.
    pub rtf: f64,
    /// Median time of one transcription, ms: Moonshine is not streaming, so
    /// this follows the end of speech.
    pub latency_ms_median: f64,
    /// Worst time of one transcription, ms.
    pub latency_ms_max: f64,
    /// Decoder runs, all utterances.
    pub runs: usize,
    /// Tokens written, all utterances.
    pub tokens: usize,
    /// Utterances whose transcript is the one written alone.
    pub same_as_alone: usize,
    /// Utterances transcribed.
    pub utterances: usize,
}

/// Transcribes each utterance of `input` with `model` `rounds` times in
/// three modes: alone; checking the right draft (its phrase, as a grammar
/// decoder that heard it right would give it); checking a wrong one (the
/// next phrase). The first mode is the baseline of the other two.
#[cfg(feature = "moonshine")]
pub fn run_moonshine_drafts(
    model: &crate::moonshine::MoonshineModel,
    input: &BenchInput,
    rounds: usize,
) -> Result<Vec<DraftResult>> {
    let n = input.phrases.len();
    // Warm-up, not measured.
    if let Some(first) = input.audio.first() {
        model.transcribe(first)?;
    }
    let alone: Vec<String> = input
        .audio
        .iter()
        .map(|pcm| model.transcribe(pcm))
        .collect::<Result<_>>()?;
    let mut out = vec![];
    for mode in ["alone", "right draft", "wrong draft"] {
        let (mut audio_s, mut decode_s, mut runs, mut tokens, mut same) = (0.0, 0.0, 0, 0, 0);
        let mut latencies = vec![];
        for _ in 0..rounds {
            for (i, pcm) in input.audio.iter().enumerate() {
                let draft = match mode {
                    "alone" => "",
                    "right draft" => &input.phrases[i],
                    _ => &input.phrases[(i + 1) % n],
                };
                let t = Instant::now();
                let text = model.transcribe_with_draft(pcm, draft)?;
                let s = t.elapsed().as_secs_f64();
                let steps = model.last_steps();
                audio_s += pcm.len() as f64 / f64::from(crate::audio::SAMPLE_RATE);
                decode_s += s;
                latencies.push(s * 1000.0);
                runs += steps.runs;
                tokens += steps.tokens;
                same += usize::from(text == alone[i]);
            }
        }
        let (median, max) = median_max(&mut latencies);
        out.push(DraftResult {
            mode,
            audio_s,
            decode_s,
            rtf: rtf(decode_s, audio_s),
            latency_ms_median: median,
            latency_ms_max: max,
            runs,
            tokens,
            same_as_alone: same,
            utterances: latencies.len(),
        });
    }
    Ok(out)
}
