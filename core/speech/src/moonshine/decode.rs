//! Greedy decoding of Moonshine's encoder–decoder model, checking a draft.
//!
//! The encoder turns the audio into hidden states once; the decoder then
//! writes the transcript token by token, each step taking the most likely
//! next token (greedy, as moonshine-cpp does) and keeping the attention
//! caches (`past_key_values.*`) between steps. It stops at `</s>` or after
//! [`MAX_TOKENS_PER_SECOND`] tokens per second of audio. The encoder costs
//! about a tenth of a transcription; the decoder's steps, one per token,
//! the rest.
//!
//! **Checking a draft.** Emma usually knows what was said before Moonshine
//! is asked: the grammar decoder has heard a command, and Moonshine is asked
//! whether it agrees. The decoder reads the draft's tokens in one step, as
//! it reads a prompt, and its predictions after each of them say how far
//! the draft is what it would have written itself: those tokens are
//! accepted, the first prediction that differs is taken as the next token,
//! and the caches of the rest are cut off (speculative decoding, with the
//! grammar's sentence as the draft model). The transcript is the one
//! greedy decoding gives, token for token — a draft changes how many
//! decoder steps it takes, not what they write. After a difference, the
//! draft goes on from where the model's own words meet it again (it skips
//! draft tokens the model passed over, or waits while the model writes
//! words the draft lacks); after [`MISSES`] steps in a row without an
//! accepted token, the rest is decoded one token at a time.

use std::sync::Arc;

use super::runtime::{Runtime, Session, Value, engine_error};
use crate::error::Result;

/// `<s>`, the first token of every transcript.
const START: u32 = 1;
/// `</s>`, the end of a transcript.
pub const END: u32 = 2;
/// The most tokens written per second of audio (moonshine-cpp's bound,
/// which ends hallucinated repetitions).
pub const MAX_TOKENS_PER_SECOND: f64 = 6.5;
/// Draft tokens proposed in one step at most.
const PROPOSE: usize = 12;
/// Steps in a row without an accepted draft token after which the draft is
/// dropped.
const MISSES: usize = 2;
/// How far ahead in the draft a token the model wrote is looked for.
const LOOK_AHEAD: usize = 3;

/// What one transcription did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Steps {
    /// Decoder runs.
    pub runs: usize,
    /// Tokens written (without `<s>` and `</s>`).
    pub tokens: usize,
    /// Of those, tokens taken from the draft.
    pub drafted: usize,
}

/// The encoder and decoder sessions and the decoder's cache layout.
pub struct Decoder {
    runtime: Arc<Runtime>,
    encoder: Session,
    decoder: Session,
    /// Per decoder input: which cache it is (`None`: `input_ids`,
    /// `encoder_hidden_states` or `use_cache_branch`).
    caches: Vec<Option<Cache>>,
    /// Per decoder output after `logits`: the input its cache feeds.
    feeds: Vec<usize>,
    /// Attention heads and their width, from the cache inputs' shapes.
    heads: i64,
    width: i64,
}

/// A cache input: of the decoder's own tokens (grows each step) or of the
/// encoder's states (made once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    Decoder,
    Encoder,
}

impl Decoder {
    /// Checks that `encoder` and `decoder` are Moonshine's (a merged decoder
    /// with caches) and learns the cache layout.
    pub fn new(runtime: Arc<Runtime>, encoder: Session, decoder: Session) -> Result<Decoder> {
        let inputs: Vec<String> = decoder.inputs().map(str::to_owned).collect();
        let expect = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(engine_error(format!(
                    "not a Moonshine model: the {what} (decoder inputs: {})",
                    inputs.join(", ")
                )))
            }
        };
        expect(
            encoder.inputs().eq(["input_values"]),
            "encoder does not take input_values alone",
        )?;
        for name in ["input_ids", "encoder_hidden_states", "use_cache_branch"] {
            expect(inputs.iter().any(|i| i == name), name)?;
        }
        let caches: Vec<Option<Cache>> = inputs
            .iter()
            .map(|i| {
                let cache = i.strip_prefix("past_key_values.")?;
                Some(if cache.contains(".encoder.") {
                    Cache::Encoder
                } else {
                    Cache::Decoder
                })
            })
            .collect();
        let outputs: Vec<String> = decoder.outputs().map(str::to_owned).collect();
        expect(
            outputs.first().is_some_and(|o| o == "logits"),
            "first decoder output is not logits",
        )?;
        let feeds = outputs[1..]
            .iter()
            .map(|o| {
                let past = o.replacen("present.", "past_key_values.", 1);
                inputs.iter().position(|i| *i == past)
            })
            .collect::<Option<Vec<usize>>>();
        let feeds = feeds.ok_or_else(|| {
            engine_error(format!(
                "not a Moonshine model: a cache output has no input (outputs: {})",
                outputs.join(", ")
            ))
        })?;
        let n_caches = caches.iter().flatten().count();
        expect(
            n_caches > 0 && n_caches == feeds.len(),
            "caches in and out do not pair up",
        )?;
        let first = caches.iter().position(Option::is_some).unwrap_or(0);
        let shape = decoder.input_shape(first)?;
        let (heads, width) = match shape[..] {
            [_, heads, _, width] if heads > 0 && width > 0 => (heads, width),
            _ => {
                return Err(engine_error(format!(
                    "not a Moonshine model: a cache input of shape {shape:?}"
                )));
            }
        };
        Ok(Decoder {
            runtime,
            encoder,
            decoder,
            caches,
            feeds,
            heads,
            width,
        })
    }

    /// The tokens of `audio` (16 kHz mono in [-1, 1]), greedily decoded,
    /// checking `draft` (token ids, possibly empty, possibly ending with
    /// `</s>` ([`END`]) to propose the end too) on the way.
    pub fn transcribe(&self, audio: &[f32], draft: &[u32]) -> Result<(Vec<u32>, Steps)> {
        let states = self.encode(audio)?;
        let max = (audio.len() as f64 / 16_000.0 * MAX_TOKENS_PER_SECOND).ceil() as usize;
        let mut caches = self.empty_caches()?;
        let mut steps = Steps::default();
        let mut tokens: Vec<u32> = vec![];
        let mut pending = START;
        let mut cached = false;
        // Where the draft goes on, and steps without an accepted token.
        let mut next_draft = 0;
        let mut misses = 0;
        while tokens.len() < max {
            let room = max - tokens.len() - 1;
            let proposed: &[u32] = if misses < MISSES {
                let end = draft.len().min(next_draft + PROPOSE.min(room));
                &draft[next_draft.min(end)..end]
            } else {
                &[]
            };
            let (logits, outputs) =
                self.run_decoder(pending, proposed, &states, cached, &caches)?;
            steps.runs += 1;
            let best = best_tokens(&logits, 1 + proposed.len())?;
            let accepted = proposed
                .iter()
                .zip(&best)
                .take_while(|(p, b)| p == b)
                .count();
            let next = best[accepted];
            for (output, &input) in outputs.zip(&self.feeds) {
                match self.caches[input] {
                    // The encoder's caches are made on the first step only.
                    Some(Cache::Encoder) if cached => {}
                    _ => caches[input] = Some(output),
                }
            }
            let rejected = proposed.len() - accepted;
            if rejected > 0 {
                for (input, kind) in self.caches.iter().enumerate() {
                    if *kind == Some(Cache::Decoder)
                        && let Some(c) = caches[input].take()
                    {
                        caches[input] = Some(self.cut(&c, rejected)?);
                    }
                }
            }
            cached = true;
            // A draft may end with `</s>`: accepted, the transcript is done.
            let ended = proposed[..accepted].iter().position(|&t| t == END);
            let accepted = ended.unwrap_or(accepted);
            tokens.extend_from_slice(&proposed[..accepted]);
            steps.drafted += accepted;
            next_draft += accepted;
            misses = if accepted > 0 { 0 } else { misses + 1 };
            if ended.is_some() || next == END || tokens.len() >= max {
                break;
            }
            tokens.push(next);
            pending = next;
            // Where the model's own token meets the draft again.
            if let Some(skip) = draft
                .iter()
                .skip(next_draft)
                .take(LOOK_AHEAD)
                .position(|&d| d == next)
            {
                next_draft += skip + 1;
                misses = 0;
            }
        }
        steps.tokens = tokens.len();
        Ok((tokens, steps))
    }

    /// How likely Moonshine finds each of `candidates` (token ids, each
    /// ending with `</s>`) as the transcript of `audio`: the sum of the log
    /// probabilities of its tokens, each given the audio and the tokens
    /// before it (one decoder run per candidate, the audio encoded once).
    pub fn score(&self, audio: &[f32], candidates: &[Vec<u32>]) -> Result<Vec<f64>> {
        let states = self.encode(audio)?;
        let empty = self.empty_caches()?;
        let mut out = Vec::with_capacity(candidates.len());
        for tokens in candidates {
            let (logits, _) = self.run_decoder(START, tokens, &states, false, &empty)?;
            let total: f64 = logit_rows(&logits, 1 + tokens.len())?
                .zip(tokens)
                .map(|(row, &next)| {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
                    let at = row.get(next as usize).copied().unwrap_or(f32::NEG_INFINITY);
                    f64::from(at - max) - sum.ln()
                })
                .sum();
            out.push(total);
        }
        Ok(out)
    }

    /// The encoder's hidden states for `audio`.
    fn encode(&self, audio: &[f32]) -> Result<Value> {
        let input = Value::f32(&self.runtime, &[1, audio.len() as i64], audio.to_vec())?;
        self.encoder
            .run(&[&input])?
            .into_iter()
            .next()
            .ok_or_else(|| engine_error("the encoder gave no output".into()))
    }

    /// One empty cache per cache input (`None` for the other inputs).
    fn empty_caches(&self) -> Result<Vec<Option<Value>>> {
        self.caches
            .iter()
            .map(|c| {
                c.map(|_| Value::f32(&self.runtime, &[1, self.heads, 0, self.width], vec![]))
                    .transpose()
            })
            .collect()
    }

    /// One decoder run on token `first` and `then` over the encoder's
    /// `states`, after the `caches` when `cached` (else from scratch): the
    /// logits, and the caches' outputs in the order of `feeds`.
    fn run_decoder(
        &self,
        first: u32,
        then: &[u32],
        states: &Value,
        cached: bool,
        caches: &[Option<Value>],
    ) -> Result<(Value, std::vec::IntoIter<Value>)> {
        let ids: Vec<i64> = std::iter::once(first)
            .chain(then.iter().copied())
            .map(i64::from)
            .collect();
        let ids = Value::i64(&self.runtime, &[1, ids.len() as i64], ids)?;
        let use_cache = Value::bool(&self.runtime, &[1], vec![cached])?;
        let inputs: Vec<&Value> = self
            .decoder
            .inputs()
            .zip(caches)
            .map(|(name, cache)| match (name, cache) {
                ("input_ids", _) => Ok(&ids),
                ("encoder_hidden_states", _) => Ok(states),
                ("use_cache_branch", _) => Ok(&use_cache),
                (_, Some(c)) => Ok(c),
                (other, None) => Err(engine_error(format!("no value for input {other}"))),
            })
            .collect::<Result<_>>()?;
        let mut outputs = self.decoder.run(&inputs)?.into_iter();
        let logits = outputs
            .next()
            .ok_or_else(|| engine_error("the decoder gave no logits".into()))?;
        Ok((logits, outputs))
    }

    /// A decoder cache without its last `drop` positions.
    fn cut(&self, cache: &Value, drop: usize) -> Result<Value> {
        let shape = cache.shape()?;
        let [1, heads, len, width] = shape[..] else {
            return Err(engine_error(format!("a decoder cache of shape {shape:?}")));
        };
        let keep = len - drop as i64;
        if keep < 0 || heads <= 0 || width <= 0 {
            return Err(engine_error(format!(
                "cannot cut {drop} of {len} cached tokens"
            )));
        }
        let data = cache.floats()?;
        let (len, kept, wide) = (len as usize, keep as usize, width as usize);
        let mut out = Vec::with_capacity(heads as usize * kept * wide);
        for head in data.chunks_exact(len * wide) {
            out.extend_from_slice(&head[..kept * wide]);
        }
        Value::f32(&self.runtime, &[1, heads, keep, width], out)
    }
}

/// The rows of `logits` (shape `[1, n, vocabulary]`): the scores of every
/// token after each of the `n` positions read.
fn logit_rows(logits: &Value, n: usize) -> Result<std::slice::ChunksExact<'_, f32>> {
    let shape = logits.shape()?;
    let [1, rows, vocabulary] = shape[..] else {
        return Err(engine_error(format!("logits of shape {shape:?}")));
    };
    if rows as usize != n || vocabulary <= 0 {
        return Err(engine_error(format!(
            "logits of shape {shape:?} for {n} tokens"
        )));
    }
    Ok(logits.floats()?.chunks_exact(vocabulary as usize))
}

/// The most likely token after each of the `n` positions of `logits`.
fn best_tokens(logits: &Value, n: usize) -> Result<Vec<u32>> {
    Ok(logit_rows(logits, n)?
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0 as u32
        })
        .collect())
}
