//! PCM formats as Wyoming describes them (`rate`, `width`, `channels`) and
//! conversion of a chunk to mono 16-bit samples.
//!
//! Wyoming audio is signed little-endian PCM of 1–4 bytes per sample
//! (Python's `audioop` conventions), channels interleaved. Emma decodes
//! 16 kHz mono i16: [`to_mono_i16`] converts width and channels here; the
//! rate is converted by the host (it needs a real resampler, see
//! `emma_speech::audio::resample`).

use serde::{Deserialize, Serialize};

/// The rate Emma's recognisers decode.
pub const TARGET_RATE: u32 = 16_000;

/// Lowest and highest sample rates accepted.
pub const RATES: std::ops::RangeInclusive<u32> = 4_000..=192_000;
/// Most channels accepted.
pub const MAX_CHANNELS: u16 = 8;

/// The format of a stream (`audio-start`) or chunk (`audio-chunk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioFormat {
    /// Samples per second (Hz).
    pub rate: u32,
    /// Bytes per sample.
    pub width: u16,
    /// Interleaved channels (1 = mono).
    pub channels: u16,
}

impl AudioFormat {
    /// 16 kHz, 16-bit, mono: what Home Assistant sends and Emma decodes.
    pub const EMMA: AudioFormat = AudioFormat {
        rate: TARGET_RATE,
        width: 2,
        channels: 1,
    };

    /// Checks the format is one Emma can convert.
    pub fn validate(&self) -> Result<(), AudioError> {
        if !RATES.contains(&self.rate) {
            return Err(AudioError::Unsupported {
                format: *self,
                reason: format!(
                    "rate {} Hz is outside {}–{} Hz",
                    self.rate,
                    RATES.start(),
                    RATES.end()
                ),
            });
        }
        if !(1..=4).contains(&self.width) {
            return Err(AudioError::Unsupported {
                format: *self,
                reason: format!("width {} bytes is not 1, 2, 3 or 4", self.width),
            });
        }
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return Err(AudioError::Unsupported {
                format: *self,
                reason: format!("{} channels is not 1 to {MAX_CHANNELS}", self.channels),
            });
        }
        Ok(())
    }

    /// Bytes per frame (one sample of every channel).
    pub fn frame_bytes(&self) -> usize {
        usize::from(self.width) * usize::from(self.channels)
    }
}

impl std::fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} Hz, {}-bit, {} channel{}",
            self.rate,
            self.width * 8,
            self.channels,
            if self.channels == 1 { "" } else { "s" }
        )
    }
}

/// Why audio was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// A format Emma cannot convert.
    #[error("unsupported audio format ({format}): {reason}")]
    Unsupported {
        /// The format.
        format: AudioFormat,
        /// What is out of range.
        reason: String,
    },
    /// A payload that is not a whole number of frames.
    #[error("audio chunk of {bytes} bytes is not a whole number of {frame}-byte frames ({format})")]
    Partial {
        /// The payload size.
        bytes: usize,
        /// Bytes per frame.
        frame: usize,
        /// The format.
        format: AudioFormat,
    },
}

/// Converts one chunk of `format` PCM to mono 16-bit samples at the same
/// rate: channels are averaged, widths scaled (8-bit is signed, as in `audioop`).
pub fn to_mono_i16(format: AudioFormat, pcm: &[u8]) -> Result<Vec<i16>, AudioError> {
    format.validate()?;
    let frame = format.frame_bytes();
    if !pcm.len().is_multiple_of(frame) {
        return Err(AudioError::Partial {
            bytes: pcm.len(),
            frame,
            format,
        });
    }
    let width = usize::from(format.width);
    if format
        == (AudioFormat {
            rate: format.rate,
            width: 2,
            channels: 1,
        })
    {
        return Ok(pcm
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect());
    }
    let sample = |b: &[u8]| -> i64 {
        // Sign-extend a little-endian sample of 1–4 bytes, scaled to 32 bits.
        let mut v: i32 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= i32::from(byte) << (8 * (4 - width + i));
        }
        i64::from(v)
    };
    Ok(pcm
        .chunks_exact(frame)
        .map(|f| {
            let sum: i64 = f.chunks_exact(width).map(sample).sum();
            let mean = sum / i64::from(format.channels);
            (mean >> 16) as i16
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(width: u16, channels: u16) -> AudioFormat {
        AudioFormat {
            rate: 16_000,
            width,
            channels,
        }
    }

    #[test]
    fn converts_widths_and_channels() {
        let pcm: Vec<u8> = [1000i16, -2000, i16::MIN, i16::MAX]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            to_mono_i16(fmt(2, 1), &pcm).unwrap(),
            vec![1000, -2000, i16::MIN, i16::MAX]
        );
        // Stereo: (1000 + -2000) / 2, (MIN + MAX) / 2.
        assert_eq!(to_mono_i16(fmt(2, 2), &pcm).unwrap(), vec![-500, -1]);
        // 32-bit: the top 16 bits.
        let wide: Vec<u8> = [0x1234_5678i32, -0x0100_0000]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            to_mono_i16(fmt(4, 1), &wide).unwrap(),
            vec![0x1234, -0x0100]
        );
        // 8-bit signed and 24-bit.
        assert_eq!(
            to_mono_i16(fmt(1, 1), &[0x7f, 0x80]).unwrap(),
            vec![0x7f00, -0x8000]
        );
        assert_eq!(
            to_mono_i16(fmt(3, 1), &[0x00, 0x34, 0x12]).unwrap(),
            vec![0x1234]
        );
    }

    #[test]
    fn refuses_what_it_cannot_convert() {
        let e = to_mono_i16(fmt(2, 2), &[0; 6]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "audio chunk of 6 bytes is not a whole number of 4-byte frames (16000 Hz, 16-bit, 2 channels)"
        );
        assert!(
            to_mono_i16(fmt(5, 1), &[0; 5])
                .unwrap_err()
                .to_string()
                .contains("width 5 bytes")
        );
        assert!(
            to_mono_i16(fmt(2, 0), &[])
                .unwrap_err()
                .to_string()
                .contains("0 channels")
        );
        let slow = AudioFormat {
            rate: 100,
            width: 2,
            channels: 1,
        };
        assert!(
            slow.validate()
                .unwrap_err()
                .to_string()
                .contains("rate 100 Hz")
        );
    }
}
