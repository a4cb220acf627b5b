//! One utterance's audio, and what the open-vocabulary recogniser is given
//! of it.
//!
//! Moonshine base returns an empty transcript for some utterances it
//! transcribes after a small change to the audio: 17 of the 465 noisy real
//! coffee orders of the held-out half (18, 12 and 6 dB kitchen noise) came
//! back empty from both the raw and the RNNoise-cleaned audio. Of those 17,
//! 9 gave words after one of five changes tried one by one (the first half
//! second cut off: 6; the last second cut off: 4; a second of silence
//! appended: 2; half or a quarter of the gain: 2), and 6 when cut to the
//! grammar decoder's words as [`Heard::tries`] does (docs/understand.md,
//! 4 December). The cause is inside the model and was not found (the C
//! API gives nothing but the text); what Emma controls is what it hears. So
//! an utterance is heard in turn as [`Heard::tries`] lists, the first
//! transcript with words winning.

use std::ops::Range;

use emma_speech::{SAMPLE_RATE, Utterance};

/// Audio kept before the grammar's first word when the utterance is cut to
/// its words: 0.3 s (Moonshine needs some quiet before speech; see
/// `emma_speech::moonshine::trim`).
const BEFORE_WORDS: usize = SAMPLE_RATE as usize * 3 / 10;
/// Audio kept after the grammar's last word: 0.5 s.
const AFTER_WORDS: usize = SAMPLE_RATE as usize / 2;
/// A cut must drop at least this much (0.25 s) to be worth another try.
const MIN_CUT: usize = SAMPLE_RATE as usize / 4;

/// One utterance's audio as the understander has it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Heard<'a> {
    /// What the grammar decoder heard (after RNNoise, when it is on).
    pub pcm: &'a [i16],
    /// The same stretch before RNNoise cleaned it, when it did.
    pub raw: Option<&'a [i16]>,
    /// Where in `pcm` (samples) the grammar decoder heard its first word
    /// start and its last word end, when it heard words.
    pub words: Option<(usize, usize)>,
}

impl<'a> Heard<'a> {
    /// The audio of `utterance` (if the decoder finished one): `pcm` from
    /// the stream's sample `start`, and `raw` beside it.
    pub fn of(
        pcm: &'a [i16],
        raw: Option<&'a [i16]>,
        utterance: Option<&Utterance>,
        start: u64,
    ) -> Self {
        let words = utterance.and_then(|u| {
            let sample = |s: f64| ((s * f64::from(SAMPLE_RATE)).max(0.0) as u64).checked_sub(start);
            let first = sample(u.result.words.first()?.start)?;
            let last = sample(u.result.words.last()?.end)?;
            Some((usize::try_from(first).ok()?, usize::try_from(last).ok()?))
        });
        Heard { pcm, raw, words }
    }

    /// What Moonshine hears, in turn, until one gives words: the raw audio
    /// (it hears noisy speech better than RNNoise's output), the cleaned
    /// audio, then the raw (else cleaned) audio cut to the grammar's words
    /// with [`BEFORE_WORDS`] and [`AFTER_WORDS`] around them, when that
    /// drops at least [`MIN_CUT`].
    pub fn tries(&self) -> Vec<&'a [i16]> {
        let mut out = vec![];
        out.extend(self.raw);
        out.push(self.pcm);
        let whole = self.raw.unwrap_or(self.pcm);
        if let Some(cut) = self.words.and_then(|w| cut(whole.len(), w)) {
            out.push(&whole[cut]);
        }
        out
    }
}

/// The samples of a `len`-sample utterance around its `words`, when that is
/// at least [`MIN_CUT`] shorter than the whole.
fn cut(len: usize, (first, last): (usize, usize)) -> Option<Range<usize>> {
    if first >= last || last > len {
        return None;
    }
    let range = first.saturating_sub(BEFORE_WORDS)..(last + AFTER_WORDS).min(len);
    (len - range.len() >= MIN_CUT).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = SAMPLE_RATE as usize;

    #[test]
    fn the_raw_audio_is_heard_first_then_the_cleaned_then_the_words_alone() {
        let raw = vec![1i16; 4 * S];
        let pcm = vec![2i16; 4 * S];
        let heard = Heard {
            pcm: &pcm,
            raw: Some(&raw),
            words: Some((2 * S, 3 * S)),
        };
        let tries = heard.tries();
        assert_eq!(tries.len(), 3);
        assert_eq!(tries[0][0], 1, "raw first");
        assert_eq!(tries[1][0], 2, "then cleaned");
        // The raw audio from 0.3 s before the first word to 0.5 s after the last.
        assert_eq!(tries[2].len(), S + BEFORE_WORDS + AFTER_WORDS);
        assert_eq!(tries[2][0], 1);
        // Without RNNoise: the audio, then its words.
        let plain = Heard { raw: None, ..heard };
        let tries = plain.tries();
        assert_eq!(tries.len(), 2);
        assert!(tries.iter().all(|t| t[0] == 2));
    }

    #[test]
    fn the_words_are_cut_out_only_when_that_drops_enough_audio() {
        // Words filling the utterance: the cut would drop nothing.
        assert_eq!(cut(2 * S, (S / 10, 2 * S - S / 10)), None);
        // Words at the very start: nothing before them to keep.
        assert_eq!(cut(3 * S, (0, S)), Some(0..S + AFTER_WORDS));
        // No words, or times outside the utterance: no cut.
        assert_eq!(cut(3 * S, (S, S)), None);
        assert_eq!(cut(3 * S, (S, 4 * S)), None);
        let alone = Heard {
            pcm: &[0; 10],
            ..Heard::default()
        };
        assert_eq!(
            alone.tries().len(),
            1,
            "no RNNoise, no words: the audio once"
        );
    }
}
