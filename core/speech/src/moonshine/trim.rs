//! Cutting near-silent ends off an utterance before Moonshine hears it.
//!
//! Moonshine base returns nothing for a command followed by 0.8 s of
//! silence (see the module docs of [`super`]); endpointers and `--wav`
//! padding routinely leave that much. Only ends far quieter than the
//! utterance's loudest part are cut, and [`KEEP_QUIET`] of them is kept, so
//! a soft word or a noise floor stays as it was.

use crate::audio::SAMPLE_RATE;

/// Quiet audio kept before the first and after the last audible frame:
/// 0.5 s. Moonshine needs some: with 0.25 s, "tell me a joke" came back
/// "Tell me, unjogue," and "good morning" "Go tomorrow, ding." (espeak-ng,
/// measured), where 0.3 s before and 0.5 s after give the words.
pub const KEEP_QUIET: usize = SAMPLE_RATE as usize / 2;
/// One frame: 10 ms.
const FRAME: usize = SAMPLE_RATE as usize / 100;
/// A frame is quiet below the loudest frame's RMS over this (40 dB) ...
const BELOW_PEAK: f64 = 100.0;
/// ... or below this RMS (about -66 dBFS, dither and near-digital silence).
const FLOOR: f64 = 16.0;

/// `pcm` without its quiet ends beyond [`KEEP_QUIET`]; all of it when no
/// frame is audible.
pub fn trim_quiet_ends(pcm: &[i16]) -> &[i16] {
    let rms: Vec<f64> = pcm
        .chunks(FRAME)
        .map(|f| (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt())
        .collect();
    let peak = rms.iter().copied().fold(0.0, f64::max);
    let audible = |r: &f64| *r >= (peak / BELOW_PEAK).max(FLOOR);
    let (Some(first), Some(last)) = (rms.iter().position(audible), rms.iter().rposition(audible))
    else {
        return pcm;
    };
    let start = (first * FRAME).saturating_sub(KEEP_QUIET);
    let end = ((last + 1) * FRAME + KEEP_QUIET).min(pcm.len());
    &pcm[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (i as f64 * 0.2).sin()) as i16)
            .collect()
    }

    #[test]
    fn long_silent_ends_are_cut_to_half_a_second() {
        let second = SAMPLE_RATE as usize;
        let mut pcm = vec![0i16; 2 * second];
        pcm.extend(tone(second, 8000.0));
        pcm.extend(vec![1i16; 2 * second]);
        let t = trim_quiet_ends(&pcm);
        assert_eq!(t.len(), second + 2 * KEEP_QUIET);
        assert_eq!(t[..KEEP_QUIET].iter().filter(|&&s| s != 0).count(), 0);
        assert!(t[KEEP_QUIET + 10] != 0);
    }

    #[test]
    fn short_quiet_ends_a_soft_part_and_a_noise_floor_stay() {
        let second = SAMPLE_RATE as usize;
        // A loud word, a soft one 30 dB lower, 0.1 s of silence.
        let mut pcm = tone(second, 8000.0);
        pcm.extend(tone(second / 2, 250.0));
        pcm.extend(vec![0i16; second / 10]);
        assert_eq!(trim_quiet_ends(&pcm).len(), pcm.len());
        // A noise floor 30 dB below the speech is audible, not silence.
        let mut noisy = tone(second, 8000.0);
        noisy.extend(tone(2 * second, 250.0));
        assert_eq!(trim_quiet_ends(&noisy).len(), noisy.len());
    }

    #[test]
    fn silence_alone_and_empty_input_are_left_alone() {
        assert!(trim_quiet_ends(&[]).is_empty());
        let silence = vec![0i16; 3 * SAMPLE_RATE as usize];
        assert_eq!(trim_quiet_ends(&silence).len(), silence.len());
    }
}
