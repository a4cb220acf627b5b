//! The verification passes of grammar utterances, decoded while the
//! customer speaks.
//!
//! Two more PocketSphinx decoders (same model files, no language model), each
//! owned by a worker thread of its own: one holds the phone loop, the other
//! the word loop. They are fed the grammar utterance's audio chunk by chunk,
//! as [`PocketSphinx::accept`](super::PocketSphinx) receives it, from the
//! cepstral mean the grammar utterance started with, so at the end of speech
//! only their tail is left (the last chunks and `ps_end_utt`), and it runs on
//! the second core while the grammar decoder finishes on the caller's thread.
//!
//! The decoders are created inside their threads and never leave them; the
//! threads end when the [`Verifier`] is dropped (their command channel closes).
//!
//! They load the acoustic model but not the model's dictionary (134k words,
//! about 60 MiB per decoder): they start from an empty one, and the word loop
//! is given the pronunciations of its own words only, looked up in the
//! grammar decoder's dictionary ([`loop_words`]).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::{COMMON_WORDS, Segment, ffi};

/// The name of the phone-loop search.
const PHONE_LOOP: &str = "emma_phone_loop";
/// Most HMMs the word loop keeps active per frame (`-maxhmmpf`; PocketSphinx's
/// default keeps up to 30,000). In noise the unpruned loop of a few hundred
/// words was the costliest pass of the pipeline (a quarter of its CPU time
/// on 12 dB kitchen recordings, more than the grammar search), and the
/// grammar decoder waits for it at the end of speech. Pruned, the loop's
/// best path scores a little differently, which moves a command across the
/// sure point now and then: on the real recordings at 6 dB, 3,000 changed
/// one tuning file each way and no held-out one (1,000: one held-out file
/// lost), for most of the time saved (docs/understand.md).
const WORD_LOOP_MAX_HMMS: u32 = 3000;
/// How long [`Verifier::finish`] waits for a pass at most: far above the
/// tail of a 30 s utterance, so only a stuck worker reaches it.
const FINISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Which loop a worker decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loop {
    /// A uniform loop of context-independent phones (`allphone`, no phone
    /// language model: with the model's phone trigram or triphones one 2 s
    /// utterance took over a minute).
    Phones,
    /// Any sequence of the grammar's words and [`COMMON_WORDS`] (a JSGF
    /// search like the grammar's: triphones, real pronunciations).
    Words,
}

impl Loop {
    fn name(self) -> &'static str {
        match self {
            Loop::Phones => "phone loop",
            Loop::Words => "word loop",
        }
    }
}

/// What a worker is told, in order.
enum Command {
    /// The grammar changed: the word loop's own words with their
    /// pronunciations (word loop only).
    Words {
        serial: u32,
        words: Vec<(String, String)>,
    },
    /// Start utterance `id` from this cepstral mean.
    Start { id: u64, cmn: Option<ffi::CmnState> },
    /// More of the utterance's audio.
    Audio(Vec<i16>),
    /// End utterance `id` and send back its best path.
    Finish { id: u64 },
    /// End the utterance without a result (too long, or the grammar
    /// utterance was cut off).
    Abort,
    /// A new stream (the grammar decoder's stream restarted too).
    Restart,
}

/// A pass's best path, `None` when the loop's search could not be set up
/// (then the utterance is not verified against it), or what failed.
type PassResult = std::result::Result<Option<Vec<Segment>>, String>;

/// One worker thread and its channels.
struct Worker {
    kind: Loop,
    commands: Sender<Command>,
    replies: Receiver<(u64, PassResult)>,
}

impl Worker {
    fn spawn(kind: Loop, args: Vec<String>) -> std::result::Result<Worker, String> {
        let (commands, command_rx) = mpsc::channel();
        let (reply_tx, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("emma-ps-{}", kind.name().replace(' ', "-")))
            .spawn(move || run(kind, &args, &command_rx, &reply_tx))
            .map_err(|e| format!("cannot start the {} thread: {e}", kind.name()))?;
        Ok(Worker {
            kind,
            commands,
            replies,
        })
    }

    fn send(&self, command: Command) -> std::result::Result<(), String> {
        self.commands
            .send(command)
            .map_err(|_| format!("the {} worker stopped", self.kind.name()))
    }

    /// Waits (bounded) for utterance `id`'s path; replies to utterances
    /// given up on earlier are skipped.
    fn wait(&self, id: u64) -> PassResult {
        loop {
            match self.replies.recv_timeout(FINISH_TIMEOUT) {
                Ok((got, result)) if got == id => return result,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "the {} pass did not end within {} s",
                        self.kind.name(),
                        FINISH_TIMEOUT.as_secs()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("the {} worker stopped", self.kind.name()));
                }
            }
        }
    }
}

/// The loop passes' best paths over one utterance.
pub(super) struct LoopPaths {
    /// The phone loop's path; `None` when the phone loop could not be set up.
    pub(super) phones: Option<Vec<Segment>>,
    /// The word loop's path; `None` without a word loop.
    pub(super) words: Option<Vec<Segment>>,
}

/// The two loop decoders of one [`PocketSphinx`](super::PocketSphinx).
pub(super) struct Verifier {
    phones: Worker,
    words: Worker,
    /// The grammar serial the word loop was last told about.
    word_serial: Option<u32>,
    /// The utterance being decoded, if any.
    utt: Option<u64>,
    next_id: u64,
}

impl Verifier {
    /// Starts both workers; `args` configure the decoders (the grammar
    /// decoder's, without a language model). Loading the model happens in
    /// the workers, so this returns at once.
    pub(super) fn spawn(args: &[String]) -> std::result::Result<Verifier, String> {
        Ok(Verifier {
            phones: Worker::spawn(Loop::Phones, args.to_vec())?,
            words: Worker::spawn(Loop::Words, args.to_vec())?,
            word_serial: None,
            utt: None,
            next_id: 0,
        })
    }

    fn both(&self, command: impl Fn() -> Command) -> std::result::Result<(), String> {
        self.phones.send(command())?;
        self.words.send(command())
    }

    /// Starts an utterance of the grammar `serial` from the cepstral mean
    /// `cmn`; `words` gives the word loop's words (see [`loop_words`]) when
    /// the grammar changed since the last utterance.
    pub(super) fn start(
        &mut self,
        serial: u32,
        words: impl FnOnce() -> Vec<(String, String)>,
        cmn: Option<ffi::CmnState>,
    ) -> std::result::Result<(), String> {
        self.abort()?;
        if self.word_serial != Some(serial) {
            self.words.send(Command::Words {
                serial,
                words: words(),
            })?;
            self.word_serial = Some(serial);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.both(|| Command::Start {
            id,
            cmn: cmn.clone(),
        })?;
        self.utt = Some(id);
        Ok(())
    }

    /// Feeds the utterance's next chunk to both loops.
    pub(super) fn audio(&mut self, pcm: &[i16]) -> std::result::Result<(), String> {
        if self.utt.is_some() {
            self.both(|| Command::Audio(pcm.to_vec()))?;
        }
        Ok(())
    }

    /// Gives up the current utterance (no result).
    pub(super) fn abort(&mut self) -> std::result::Result<(), String> {
        if self.utt.take().is_some() {
            self.both(|| Command::Abort)?;
        }
        Ok(())
    }

    /// Restarts the loop decoders' stream, as the grammar decoder's.
    pub(super) fn restart(&mut self) -> std::result::Result<(), String> {
        self.abort()?;
        self.both(|| Command::Restart)
    }

    /// Ends the current utterance: both loops' best paths. Both tails run
    /// at once, in their own threads.
    pub(super) fn finish(&mut self) -> std::result::Result<LoopPaths, String> {
        let Some(id) = self.utt.take() else {
            return Ok(LoopPaths {
                phones: None,
                words: None,
            });
        };
        self.both(|| Command::Finish { id })?;
        let phones = self.phones.wait(id);
        let words = self.words.wait(id);
        Ok(LoopPaths {
            phones: phones?,
            words: words?,
        })
    }
}

/// A worker's decoder and the utterance it is in.
struct LoopDecoder {
    kind: Loop,
    decoder: ffi::Decoder,
    /// The loop's search is set up and active.
    ready: bool,
    /// The word loop's current search name.
    search: Option<String>,
    /// The utterance in progress (`None` when its start failed or none runs).
    utt: Option<u64>,
    /// What went wrong in the current utterance (reported at its end).
    error: Option<String>,
}

impl LoopDecoder {
    fn set_words(&mut self, serial: u32, prons: &[(String, String)]) {
        self.end();
        for (word, phones) in prons {
            if !self.decoder.knows_word(word) {
                self.decoder.add_word(word, phones);
            }
        }
        // The loop names base words; their variants (`read(2)`) come with them.
        let mut words: Vec<&str> = prons
            .iter()
            .map(|(w, _)| w.as_str())
            .filter(|w| !w.ends_with(')'))
            .filter(|w| self.decoder.knows_word(w))
            .collect();
        words.sort_unstable();
        words.dedup();
        let name = format!("emma_word_loop_{serial}");
        self.ready = !words.is_empty() && {
            let jsgf = format!(
                "#JSGF V1.0;\ngrammar emma_loop;\npublic <loop> = <word>+;\n<word> = {};\n",
                words.join(" | ")
            );
            self.decoder.set_jsgf(&name, &jsgf) && self.decoder.set_search(&name)
        };
        // The previous loop is no longer active: drop it.
        if let Some(old) = self.search.take()
            && old != name
        {
            self.decoder.unset_search(&old);
        }
        self.search = self.ready.then_some(name);
    }

    fn start(&mut self, id: u64, cmn: Option<&ffi::CmnState>) {
        self.end();
        self.error = None;
        if !self.ready {
            return;
        }
        if let Some(cmn) = cmn {
            self.decoder.set_cmn(cmn);
        }
        if self.decoder.start_utt() {
            self.utt = Some(id);
        } else {
            self.error = Some(format!("ps_start_utt failed ({})", self.kind.name()));
        }
    }

    fn audio(&mut self, pcm: &[i16]) {
        if self.utt.is_some() && self.error.is_none() && !self.decoder.process_raw(pcm) {
            self.error = Some(format!("ps_process_raw failed ({})", self.kind.name()));
        }
    }

    /// Ends the utterance in progress; `true` if it ended well.
    fn end(&mut self) -> bool {
        self.utt.take().is_some() && self.decoder.end_utt()
    }

    fn finish(&mut self, id: u64) -> PassResult {
        let running = self.utt == Some(id);
        let ended = self.end();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !running {
            // The loop could not be set up: not verified against it.
            return Ok(None);
        }
        if !ended {
            return Err(format!("ps_end_utt failed ({})", self.kind.name()));
        }
        Ok(Some(self.decoder.segments()))
    }
}

/// A worker thread's loop: creates its decoder, then follows commands until
/// the [`Verifier`] is dropped.
fn run(
    kind: Loop,
    args: &[String],
    commands: &Receiver<Command>,
    replies: &Sender<(u64, PassResult)>,
) {
    let mut args = args.to_vec();
    if kind == Loop::Words {
        args.extend(["-maxhmmpf".to_owned(), WORD_LOOP_MAX_HMMS.to_string()]);
    }
    let Some(decoder) = ffi::Decoder::new(&args) else {
        // Every utterance's end reports it.
        for command in commands {
            if let Command::Finish { id } = command {
                let failed = format!(
                    "libpocketsphinx could not create the {} decoder",
                    kind.name()
                );
                if replies.send((id, Err(failed))).is_err() {
                    return;
                }
            }
        }
        return;
    };
    let mut loop_decoder = LoopDecoder {
        kind,
        decoder,
        ready: false,
        search: None,
        utt: None,
        error: None,
    };
    if kind == Loop::Phones {
        let d = &mut loop_decoder.decoder;
        loop_decoder.ready = d.set_allphone(PHONE_LOOP, None) && d.set_search(PHONE_LOOP);
    }
    for command in commands {
        match command {
            Command::Words { serial, words } => loop_decoder.set_words(serial, &words),
            Command::Start { id, cmn } => loop_decoder.start(id, cmn.as_ref()),
            Command::Audio(pcm) => loop_decoder.audio(&pcm),
            Command::Finish { id } => {
                let result = loop_decoder.finish(id);
                if replies.send((id, result)).is_err() {
                    return;
                }
            }
            Command::Abort => {
                loop_decoder.end();
            }
            Command::Restart => {
                loop_decoder.end();
                loop_decoder.decoder.start_stream();
            }
        }
    }
}

/// The word loop's words, [`COMMON_WORDS`] and the grammar's, with every
/// pronunciation `decoder` (the grammar decoder, with the model's full
/// dictionary) has for them: `read`, `read(2)`, … Words it does not know are
/// left out, as the full dictionary's loop would.
pub(super) fn loop_words(
    decoder: &mut ffi::Decoder,
    grammar_words: &[String],
) -> Vec<(String, String)> {
    let mut words: Vec<&str> = COMMON_WORDS
        .iter()
        .copied()
        .chain(grammar_words.iter().map(String::as_str))
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut out = Vec::new();
    for word in words {
        let Some(phones) = decoder.pronunciation(word) else {
            continue;
        };
        out.push((word.to_owned(), phones));
        // Variants are numbered from 2 without gaps.
        for n in 2.. {
            let variant = format!("{word}({n})");
            match decoder.pronunciation(&variant) {
                Some(phones) => out.push((variant, phones)),
                None => break,
            }
        }
    }
    out
}
