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

use std::cell::{Ref, RefCell};
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
/// How far (natural log) a candidate's bound may fall below the floor and
/// the candidate still be read ([`Decoder::compare`]): the batched run that
/// reads it rounds differently from the first's run that bounds it (by
/// about 1e-5).
const BOUND_SLACK: f64 = 0.01;
/// Candidates scored in one decoder run at most.
const MAX_BATCH: usize = 16;
/// Bytes of encoder states and caches a batched decoder run may copy: each
/// candidate in it gets its own copy (about 3 MiB per second of audio), so
/// long utterances are scored in smaller batches.
const MAX_BATCH_BYTES: usize = 64 << 20;

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
    /// The last audio encoded and its hidden states: the understander asks
    /// for a transcript and then, in noise, for scores of the same audio.
    encoded: RefCell<Option<(Vec<f32>, Value)>>,
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

/// Which outputs a decoder run makes besides the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// None: scoring reads the logits only.
    Logits,
    /// Every cache: the first run of a sentence.
    Caches,
    /// The decoder's own caches: later runs, after which the encoder's
    /// caches are the ones made on the first.
    DecoderCaches,
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
            encoded: RefCell::new(None),
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
        let mut caches = self.empty_caches(1)?;
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
            let ids: Vec<u32> = std::iter::once(pending)
                .chain(proposed.iter().copied())
                .collect();
            let want = if cached {
                Want::DecoderCaches
            } else {
                Want::Caches
            };
            let (logits, outputs) = self.run_decoder(1, &ids, &states, cached, &caches, want)?;
            steps.runs += 1;
            let best = best_tokens(&logits, ids.len())?;
            let accepted = proposed
                .iter()
                .zip(&best)
                .take_while(|(p, b)| p == b)
                .count();
            let next = best[accepted];
            for (input, output) in outputs {
                caches[input] = Some(output);
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

    /// How much likelier Moonshine finds each of `candidates` (token ids,
    /// each ending with `</s>`) than the first as the transcript of `audio`:
    /// the difference of their log probabilities, each token's given the
    /// audio and the tokens before it (0 for the first), and the first's own
    /// log probability.
    ///
    /// With `context`, a candidate is judged on the tokens where it differs
    /// from the first and the `context` tokens after them, and the first on
    /// the same stretch of its own: how likely a slot's value is with what
    /// follows it, not how likely the rest of the sentence is after it
    /// (which barely depends on the value and costs decoder work). Without,
    /// on all their tokens (each token's log probability is then the one
    /// reading the candidate alone gives, up to float rounding).
    ///
    /// The candidates are usually a sentence and its neighbours (another
    /// value in one slot), so the audio is encoded once, the first is read
    /// whole keeping its caches, and the others are read in batched decoder
    /// runs from the first's caches of the tokens they share with it at the
    /// start ([`plan`] groups them into as few runs as pays).
    ///
    /// **Only what can reach its floor is read.** A candidate's first token
    /// that differs from the first's is predicted by the first's own run
    /// (the tokens before it are the same), and every later token can only
    /// lower its log probability, so that token's log probability minus
    /// the first's window is an upper bound of the candidate's difference.
    /// A candidate whose bound is below its floor (`floors[i]` for
    /// candidate `i`; none past the end of `floors`) cannot reach it and is
    /// not read: `None` in its place (branch and bound; with no floors
    /// every candidate is read). What is read is exactly what reading every
    /// candidate gives.
    pub fn compare(
        &self,
        audio: &[f32],
        candidates: &[Vec<u32>],
        context: Option<usize>,
        floors: &[f64],
    ) -> Result<(f64, Vec<Option<f64>>)> {
        let Some(first) = candidates.first() else {
            return Ok((0.0, vec![]));
        };
        let states = self.encode(audio)?;
        let ids: Vec<u32> = std::iter::once(START)
            .chain(first.iter().copied())
            .collect();
        let mut caches = self.empty_caches(1)?;
        let (logits, outputs) = self.run_decoder(1, &ids, &states, false, &caches, Want::Caches)?;
        // The first's predictions after each of its tokens, and the log
        // probability of each of its tokens.
        let rows: Vec<&[f32]> = logit_rows(&logits, 1, ids.len())?.collect();
        let known: Vec<f64> = rows
            .iter()
            .zip(first)
            .map(|(row, &next)| log_probability(row, next))
            .collect();
        for (input, output) in outputs {
            caches[input] = Some(output);
        }
        let mut out: Vec<Option<f64>> = vec![None; candidates.len()];
        out[0] = Some(0.0);
        let mut windows: Vec<Window> = vec![];
        for (i, c) in candidates.iter().enumerate().skip(1) {
            if c == first {
                out[i] = Some(0.0);
                continue;
            }
            let w = Window::of(i, c, first, context);
            // The candidate's first own token, predicted by the first's run.
            let bound = match (rows.get(w.shared), c.get(w.shared)) {
                (Some(row), Some(&next)) => {
                    log_probability(row, next) - known[w.shared..w.first_end].iter().sum::<f64>()
                }
                _ => f64::INFINITY,
            };
            let floor = floors.get(i).copied().unwrap_or(f64::NEG_INFINITY);
            if bound >= floor - BOUND_SLACK {
                windows.push(w);
            }
        }
        // What one more candidate in a batch copies.
        let per_candidate: usize = std::iter::once(&*states)
            .chain(
                self.caches
                    .iter()
                    .zip(&caches)
                    .filter(|(kind, _)| **kind == Some(Cache::Encoder))
                    .filter_map(|(_, c)| c.as_ref()),
            )
            .map(|v| v.floats().map_or(0, |f| f.len() * 4))
            .sum();
        let batch = (MAX_BATCH_BYTES / per_candidate.max(1)).clamp(1, MAX_BATCH);
        for run in plan(windows, batch) {
            let from = run.iter().map(|w| w.shared).min().unwrap_or(0);
            let tails: Vec<&[u32]> = run
                .iter()
                .map(|w| &candidates[w.index][from..w.end])
                .collect();
            let read = self.read_tails(&states, &caches, first, from, &tails)?;
            for (w, rows) in run.iter().zip(read) {
                let theirs: f64 = rows[w.shared - from..w.end - from].iter().sum();
                let ours: f64 = known[w.shared..w.first_end].iter().sum();
                out[w.index] = Some(theirs - ours);
            }
        }
        Ok((known.iter().sum(), out))
    }

    /// The log probability of each token of `tails`, each read after the
    /// first `shared` tokens of `first`, whose caches (of `<s>` and all of
    /// `first`) are `caches`: one batched decoder run from the last shared
    /// token (from `<s>` when none is) over the caches of what precedes it.
    fn read_tails(
        &self,
        states: &Value,
        caches: &[Option<Value>],
        first: &[u32],
        shared: usize,
        tails: &[&[u32]],
    ) -> Result<Vec<Vec<f64>>> {
        let batch = tails.len();
        let (from, prefix) = match shared {
            0 => (START, self.empty_caches(batch)?),
            n => {
                let drop = 1 + first.len() - n;
                let prefix = self
                    .caches
                    .iter()
                    .zip(caches)
                    .map(|(kind, cache)| match (kind, cache) {
                        (Some(Cache::Decoder), Some(c)) => {
                            self.cut(c, drop)?.tiled(batch).map(Some)
                        }
                        (Some(Cache::Encoder), Some(c)) => c.tiled(batch).map(Some),
                        _ => Ok(None),
                    })
                    .collect::<Result<Vec<_>>>()?;
                (first[n - 1], prefix)
            }
        };
        let len = 1 + tails.iter().map(|t| t.len()).max().unwrap_or(0);
        // Each padded with `</s>` after its end: the decoder is causal, so
        // what follows a token changes nothing before it.
        let ids: Vec<u32> = tails
            .iter()
            .flat_map(|t| {
                std::iter::once(from)
                    .chain(t.iter().copied())
                    .chain(std::iter::repeat_n(END, len - 1 - t.len()))
            })
            .collect();
        let states = states.tiled(batch)?;
        let (logits, _) =
            self.run_decoder(batch, &ids, &states, shared > 0, &prefix, Want::Logits)?;
        let rows: Vec<&[f32]> = logit_rows(&logits, batch, len)?.collect();
        Ok(rows
            .chunks_exact(len)
            .zip(tails)
            .map(|(rows, tail)| {
                rows.iter()
                    .zip(tail.iter())
                    .map(|(row, &next)| log_probability(row, next))
                    .collect()
            })
            .collect())
    }

    /// The encoder's hidden states for `audio` (encoded again only when
    /// it is not the audio encoded last).
    fn encode(&self, audio: &[f32]) -> Result<Ref<'_, Value>> {
        let cached = self
            .encoded
            .borrow()
            .as_ref()
            .is_some_and(|(last, _)| last.as_slice() == audio);
        if !cached {
            self.encoded.replace(None);
            let input = Value::f32(&self.runtime, &[1, audio.len() as i64], audio.to_vec())?;
            let states = self
                .encoder
                .run(&[&input])?
                .into_iter()
                .next()
                .ok_or_else(|| engine_error("the encoder gave no output".into()))?;
            self.encoded.replace(Some((audio.to_vec(), states)));
        }
        Ref::filter_map(self.encoded.borrow(), |e| {
            e.as_ref().map(|(_, states)| states)
        })
        .map_err(|_| engine_error("the encoder's states were lost".into()))
    }

    /// One empty cache of `batch` rows per cache input (`None` for the
    /// other inputs).
    fn empty_caches(&self, batch: usize) -> Result<Vec<Option<Value>>> {
        let shape = [batch as i64, self.heads, 0, self.width];
        self.caches
            .iter()
            .map(|c| {
                c.map(|_| Value::f32(&self.runtime, &shape, vec![]))
                    .transpose()
            })
            .collect()
    }

    /// One decoder run on `ids` (`batch` rows of equal length) over the
    /// encoder's `states`, after the `caches` when `cached` (else from
    /// scratch): the logits, and the caches `want`ed, each with the index
    /// of the input it feeds.
    fn run_decoder(
        &self,
        batch: usize,
        ids: &[u32],
        states: &Value,
        cached: bool,
        caches: &[Option<Value>],
        want: Want,
    ) -> Result<(Value, Vec<(usize, Value)>)> {
        let len = (ids.len() / batch.max(1)) as i64;
        let ids: Vec<i64> = ids.iter().copied().map(i64::from).collect();
        let ids = Value::i64(&self.runtime, &[batch as i64, len], ids)?;
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
        // Output 0 is the logits; output k > 0 feeds input `feeds[k - 1]`.
        let (caches_out, fed): (Vec<usize>, Vec<usize>) = self
            .feeds
            .iter()
            .enumerate()
            .filter(|&(_, &input)| match want {
                Want::Logits => false,
                Want::Caches => true,
                Want::DecoderCaches => self.caches[input] == Some(Cache::Decoder),
            })
            .map(|(k, &input)| (k + 1, input))
            .unzip();
        let wanted: Vec<usize> = std::iter::once(0).chain(caches_out).collect();
        let mut outputs = self.decoder.run_for(&inputs, &wanted)?.into_iter();
        let logits = outputs
            .next()
            .ok_or_else(|| engine_error("the decoder gave no logits".into()))?;
        Ok((logits, fed.into_iter().zip(outputs).collect()))
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

/// Where a candidate differs from the first one and is judged
/// ([`Decoder::compare`]).
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The candidate's index.
    index: usize,
    /// Tokens it shares with the first at the start: its window begins there.
    shared: usize,
    /// Where its window ends in it, and in the first.
    end: usize,
    first_end: usize,
}

impl Window {
    /// The window of candidate `index` (`tokens`) against `first`: from the
    /// first difference to `context` tokens after the last (to the end
    /// without `context`).
    fn of(index: usize, tokens: &[u32], first: &[u32], context: Option<usize>) -> Window {
        let shared = tokens.iter().zip(first).take_while(|(a, b)| a == b).count();
        let same_end = tokens
            .iter()
            .rev()
            .zip(first.iter().rev())
            .take_while(|(a, b)| a == b)
            .count()
            .min(tokens.len() - shared)
            .min(first.len() - shared);
        let after = context.map_or(same_end, |c| c.min(same_end));
        Window {
            index,
            shared,
            end: tokens.len() - same_end + after,
            first_end: first.len() - same_end + after,
        }
    }
}

/// A decoder run costs about as much as reading this many more tokens in
/// one (measured on 2 cores after 3–8 s of audio: 35 ms for 2 × 6 tokens,
/// 84 ms for 16 × 10).
const RUN_IN_TOKENS: usize = 90;

/// `windows` grouped into decoder runs: sorted by where they begin, cut
/// into consecutive groups of at most `batch` so that the runs plus the
/// tokens they read (each group from its earliest beginning, padded to its
/// longest) cost least.
fn plan(mut windows: Vec<Window>, batch: usize) -> Vec<Vec<Window>> {
    windows.sort_by_key(|w| (w.shared, w.end));
    let n = windows.len();
    // best[i]: the cheapest cost of the first i windows, and where its last group begins.
    let mut best: Vec<(usize, usize)> = vec![(0, 0); n + 1];
    for i in 1..=n {
        best[i] = (usize::MAX, 0);
        let mut longest = 0;
        for j in (i.saturating_sub(batch.max(1))..i).rev() {
            longest = longest.max(windows[j].end);
            let tokens = (i - j) * (1 + longest - windows[j].shared);
            let cost = best[j].0.saturating_add(RUN_IN_TOKENS + tokens);
            if cost < best[i].0 {
                best[i] = (cost, j);
            }
        }
    }
    let mut runs = vec![];
    let mut i = n;
    while i > 0 {
        let j = best[i].1;
        runs.push(windows[j..i].to_vec());
        i = j;
    }
    runs.reverse();
    runs
}

/// The rows of `logits` (shape `[batch, n, vocabulary]`): the scores of
/// every token after each of the `n` positions read, batch row after batch row.
fn logit_rows(logits: &Value, batch: usize, n: usize) -> Result<std::slice::ChunksExact<'_, f32>> {
    let shape = logits.shape()?;
    let [rows_b, rows, vocabulary] = shape[..] else {
        return Err(engine_error(format!("logits of shape {shape:?}")));
    };
    if rows_b as usize != batch || rows as usize != n || vocabulary <= 0 {
        return Err(engine_error(format!(
            "logits of shape {shape:?} for {batch} × {n} tokens"
        )));
    }
    Ok(logits.floats()?.chunks_exact(vocabulary as usize))
}

/// The log probability of token `next` in a row of logits (log-softmax).
fn log_probability(row: &[f32], next: u32) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
    let at = row.get(next as usize).copied().unwrap_or(f32::NEG_INFINITY);
    f64::from(at - max) - sum.ln()
}

/// The most likely token after each of the `n` positions of `logits`.
fn best_tokens(logits: &Value, n: usize) -> Result<Vec<u32>> {
    Ok(logit_rows(logits, 1, n)?
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

#[cfg(test)]
mod tests {
    use super::*;

    fn window(index: usize, shared: usize, end: usize) -> Window {
        Window {
            index,
            shared,
            end,
            first_end: end,
        }
    }

    #[test]
    fn a_plan_reads_every_window_once_in_batches_that_pay() {
        // Two slots: five values near the start, three near the end of a
        // long sentence.
        let mut windows: Vec<Window> = (0..5).map(|i| window(i, 2, 6)).collect();
        windows.extend((5..8).map(|i| window(i, 40, 44)));
        let runs = plan(windows.clone(), MAX_BATCH);
        let mut seen: Vec<usize> = runs.iter().flatten().map(|w| w.index).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        // Reading the second slot's from the first's start would read 38
        // more tokens each: two runs cost less than 8 × 42 tokens.
        assert_eq!(runs.len(), 2, "{runs:?}");
        // Windows close together share a run.
        let close: Vec<Window> = (0..6).map(|i| window(i, 3 + i % 2, 8)).collect();
        assert_eq!(plan(close.clone(), MAX_BATCH).len(), 1);
        // A smaller batch (long audio) splits them, never beyond it.
        let small = plan(close, 4);
        assert!(
            small.len() >= 2 && small.iter().all(|r| r.len() <= 4),
            "{small:?}"
        );
        assert!(plan(vec![], MAX_BATCH).is_empty());
        assert_eq!(plan(windows, 0).len(), 8, "a batch of at least one");
    }

    #[test]
    fn a_window_spans_the_difference_and_its_context() {
        let first = [10, 11, 12, 13, 14, 15, END];
        // One token replaced by two in the middle.
        let w = Window::of(1, &[10, 11, 20, 21, 13, 14, 15, END], &first, Some(2));
        assert_eq!((w.shared, w.end, w.first_end), (2, 6, 5));
        // Without context: to the end of both.
        let w = Window::of(1, &[10, 11, 20, 21, 13, 14, 15, END], &first, None);
        assert_eq!((w.end, w.first_end), (8, 7));
        // Different at the very end: the context cannot reach further.
        let w = Window::of(1, &[10, 11, 12, 13, 14, 16, END], &first, Some(3));
        assert_eq!((w.shared, w.end, w.first_end), (5, 7, 7));
    }
}
