//! Audio input: WAV and FLAC files of any common format, and raw PCM, turned
//! into what every recogniser here wants: 16 kHz mono signed 16-bit PCM.
//!
//! Hostile files are expected (RELIABILITY.md §3, test 11). The whole input is
//! read into memory after checking its size against [`MAX_AUDIO_BYTES`], and
//! no buffer is ever sized from a length a header declares, so memory stays
//! bounded by a small multiple of the real file size. The decoders run under
//! `catch_unwind`, so a decoder bug becomes an `Err` naming the file.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use rubato::Resampler;

use crate::error::{Result, SpeechError};

/// The sample rate every recogniser in this crate is fed with.
pub const SAMPLE_RATE: u32 = 16_000;

/// The largest audio input accepted, in bytes (512 MiB, about 4.6 hours of
/// 16 kHz 16-bit stereo WAV).
pub const MAX_AUDIO_BYTES: u64 = 512 * 1024 * 1024;

/// Decoded audio: 16 kHz mono i16, plus what the source was.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples at [`SAMPLE_RATE`], one channel.
    pub samples: Vec<i16>,
    /// What the input was before conversion.
    pub source: SourceFormat,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// The format of the audio before conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFormat {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: u16,
    /// Bits per sample.
    pub bits: u16,
    /// Whether samples were IEEE floats.
    pub float: bool,
}

/// Reads a WAV or FLAC file and converts it to 16 kHz mono.
pub fn read_file(path: &Path) -> Result<Audio> {
    let meta = std::fs::metadata(path).map_err(|e| SpeechError::io(path, e))?;
    if meta.is_dir() {
        return Err(SpeechError::bad_audio(
            path,
            "is a directory, not an audio file",
        ));
    }
    if meta.len() > MAX_AUDIO_BYTES {
        return Err(SpeechError::AudioTooLarge {
            path: path.to_owned(),
            size: meta.len(),
            max: MAX_AUDIO_BYTES,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| SpeechError::io(path, e))?;
    let mut bytes = Vec::new();
    // `take` guards against a file that grows between the metadata call and the read.
    file.take(MAX_AUDIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SpeechError::io(path, e))?;
    decode(path, &bytes)
}

/// Decodes WAV or FLAC bytes (`name` is used in errors) to 16 kHz mono.
pub fn decode(name: &Path, bytes: &[u8]) -> Result<Audio> {
    if bytes.len() as u64 > MAX_AUDIO_BYTES {
        return Err(SpeechError::AudioTooLarge {
            path: name.to_owned(),
            size: bytes.len() as u64,
            max: MAX_AUDIO_BYTES,
        });
    }
    if bytes.is_empty() {
        return Err(SpeechError::bad_audio(
            name,
            "file is empty, expected WAV or FLAC audio",
        ));
    }
    let decoded = std::panic::catch_unwind(|| {
        if bytes.starts_with(b"RIFF") {
            decode_wav(bytes)
        } else if bytes.starts_with(b"fLaC") {
            decode_flac(bytes)
        } else if bytes.starts_with(b"RF64") {
            Err("RF64 WAV is not supported; convert it to plain WAV or FLAC".to_owned())
        } else {
            Err("not a WAV or FLAC file (no RIFF or fLaC header)".to_owned())
        }
    });
    let (interleaved, source) = match decoded {
        Ok(Ok(v)) => v,
        Ok(Err(reason)) => return Err(SpeechError::bad_audio(name, reason)),
        Err(_) => {
            return Err(SpeechError::bad_audio(
                name,
                "the audio decoder crashed on this file; it is malformed",
            ));
        }
    };
    let mono = downmix(&interleaved, source.channels);
    drop(interleaved);
    let resampled =
        resample(&mono, source.sample_rate).map_err(|r| SpeechError::bad_audio(name, r))?;
    Ok(Audio {
        samples: to_i16(&resampled),
        source,
    })
}

fn check_format(sample_rate: u32, channels: u16) -> Result<(), String> {
    if channels == 0 {
        return Err("header declares 0 channels".to_owned());
    }
    if sample_rate == 0 {
        return Err("header declares a sample rate of 0 Hz".to_owned());
    }
    if !(1_000..=768_000).contains(&sample_rate) {
        return Err(format!(
            "sample rate {sample_rate} Hz is outside 1000..=768000 Hz"
        ));
    }
    Ok(())
}

fn decode_wav(bytes: &[u8]) -> Result<(Vec<f32>, SourceFormat), String> {
    let reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| format!("invalid WAV: {e}"))?;
    let spec = reader.spec();
    check_format(spec.sample_rate, spec.channels)?;
    let source = SourceFormat {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits: spec.bits_per_sample,
        float: spec.sample_format == hound::SampleFormat::Float,
    };
    // Refuse a data chunk that claims more bytes than the file holds before
    // reading a sample, so a lying header costs no memory at all.
    let declared = u64::from(reader.len()) * u64::from(spec.bits_per_sample.div_ceil(8));
    if declared > bytes.len() as u64 {
        return Err(format!(
            "WAV data is truncated: the data chunk declares {declared} bytes but the file holds only {}",
            bytes.len()
        ));
    }
    let truncated = |e: hound::Error| match e {
        hound::Error::IoError(_) => {
            "WAV data is truncated (the file ends inside the data chunk)".to_owned()
        }
        other => format!("invalid WAV data: {other}"),
    };
    // Never `Vec::with_capacity(reader.len())`: the header's length may be a lie.
    let mut out = Vec::new();
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for s in reader.into_samples::<f32>() {
                out.push(s.map_err(truncated)?);
            }
        }
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            for s in reader.into_samples::<i32>() {
                out.push(s.map_err(truncated)? as f32 * scale);
            }
        }
        (format, bits) => {
            return Err(format!(
                "unsupported WAV sample format {format:?} with {bits} bits"
            ));
        }
    }
    if out.len() % usize::from(spec.channels) != 0 {
        return Err("WAV data is truncated (ends in the middle of a frame)".to_owned());
    }
    Ok((out, source))
}

fn decode_flac(bytes: &[u8]) -> Result<(Vec<f32>, SourceFormat), String> {
    let mut reader =
        claxon::FlacReader::new(Cursor::new(bytes)).map_err(|e| format!("invalid FLAC: {e}"))?;
    let info = reader.streaminfo();
    let channels = u16::try_from(info.channels).map_err(|_| "too many FLAC channels".to_owned())?;
    check_format(info.sample_rate, channels)?;
    let bits = info.bits_per_sample;
    if !(4..=32).contains(&bits) {
        return Err(format!("unsupported FLAC bit depth {bits}"));
    }
    let scale = 1.0 / (1u64 << (bits - 1)) as f32;
    let mut out = Vec::new();
    for s in reader.samples() {
        out.push(s.map_err(|e| format!("invalid or truncated FLAC data: {e}"))? as f32 * scale);
    }
    let source = SourceFormat {
        sample_rate: info.sample_rate,
        channels,
        bits: bits as u16,
        float: false,
    };
    Ok((out, source))
}

/// Averages interleaved channels into one.
pub fn downmix(interleaved: &[f32], channels: u16) -> Vec<f32> {
    let n = usize::from(channels.max(1));
    if n == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(n)
        .map(|frame| frame.iter().sum::<f32>() / n as f32)
        .collect()
}

/// Resamples mono audio from `rate` Hz to [`SAMPLE_RATE`].
pub fn resample(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE || mono.is_empty() {
        return Ok(mono.to_vec());
    }
    let mut resampler = rubato::Fft::<f32>::new(
        rate as usize,
        SAMPLE_RATE as usize,
        1024,
        1,
        rubato::FixedSync::Input,
    )
    .map_err(|e| format!("cannot resample from {rate} Hz: {e}"))?;
    let input = rubato::audioadapter_buffers::owned::InterleavedOwned::new_from(
        mono.to_vec(),
        1,
        mono.len(),
    )
    .map_err(|e| format!("cannot resample from {rate} Hz: {e}"))?;
    let out = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| format!("cannot resample from {rate} Hz: {e}"))?;
    Ok(out.take_data())
}

/// Converts float samples in `[-1, 1]` to i16 (clipping).
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect()
}

/// Reads raw signed 16-bit little-endian 16 kHz mono PCM from a stream in chunks.
pub struct RawPcmReader<R> {
    inner: R,
    name: PathBuf,
    pending: Option<u8>,
    total: u64,
}

impl<R: Read> RawPcmReader<R> {
    /// Wraps `inner`; `name` (e.g. `<stdin>`) is used in errors.
    pub fn new(inner: R, name: impl Into<PathBuf>) -> Self {
        RawPcmReader {
            inner,
            name: name.into(),
            pending: None,
            total: 0,
        }
    }

    /// Reads up to `max_samples` samples; `Ok(None)` at end of stream.
    pub fn next_chunk(&mut self, max_samples: usize) -> Result<Option<Vec<i16>>> {
        let mut buf = vec![0u8; max_samples.max(1) * 2];
        let mut filled = 0;
        if let Some(b) = self.pending.take() {
            buf[0] = b;
            filled = 1;
        }
        loop {
            let n = match self.inner.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SpeechError::io(&self.name, e)),
            };
            filled += n;
            if n == 0 || filled >= 2 {
                break;
            }
        }
        self.total += filled as u64;
        if filled == 0 {
            return Ok(None);
        }
        if filled == 1 {
            return Err(SpeechError::bad_audio(
                &self.name,
                format!(
                    "raw PCM ends with half a sample after {} bytes; expected s16le 16 kHz mono",
                    self.total
                ),
            ));
        }
        if filled % 2 == 1 {
            self.pending = Some(buf[filled - 1]);
            filled -= 1;
        }
        Ok(Some(
            buf[..filled]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(spec: hound::WavSpec, frames: usize) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..frames * usize::from(spec.channels) {
            let v = (i as f32 * 0.05).sin() * 0.5;
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(v).unwrap(),
                (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                (_, 24) => w.write_sample((v * 8_388_607.0) as i32).unwrap(),
                _ => w.write_sample((v * 2_147_483_647.0) as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    fn spec(rate: u32, channels: u16, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    #[test]
    fn every_common_format_becomes_16k_mono() {
        for (rate, ch, bits, float) in [
            (16_000, 1, 16, false),
            (8_000, 1, 8, false),
            (44_100, 2, 16, false),
            (48_000, 2, 24, false),
            (22_050, 1, 32, false),
            (32_000, 6, 32, true),
        ] {
            let bytes = wav_bytes(spec(rate, ch, bits, float), rate as usize / 2);
            let audio = decode(Path::new("x.wav"), &bytes).unwrap();
            assert_eq!(audio.source.sample_rate, rate);
            assert_eq!(audio.source.channels, ch);
            let expected = SAMPLE_RATE as usize / 2;
            let got = audio.samples.len();
            assert!(
                got.abs_diff(expected) <= 16,
                "{rate} Hz {ch} ch {bits} bit: {got} samples"
            );
            let peak = audio
                .samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap();
            assert!(
                (12_000..=20_000).contains(&peak),
                "{rate}/{ch}/{bits}: peak {peak}"
            );
        }
    }

    #[test]
    fn hostile_headers_are_errors_naming_the_file() {
        let good = wav_bytes(spec(16_000, 1, 16, false), 1600);
        // 0 channels (offset 22) and 0 Hz (offset 24) in the fmt chunk.
        let mut zero_ch = good.clone();
        zero_ch[22..24].copy_from_slice(&0u16.to_le_bytes());
        let mut zero_hz = good.clone();
        zero_hz[24..28].copy_from_slice(&0u32.to_le_bytes());
        // Data chunk size 0xFFFFFFFF (offset 40).
        let mut huge = good.clone();
        huge[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        let truncated = good[..good.len() - 1001].to_vec();
        for (label, bytes) in [
            ("zero channels", zero_ch),
            ("zero hz", zero_hz),
            ("huge chunk", huge),
            ("truncated", truncated),
            ("empty", Vec::new()),
            ("text", b"hello, this is not audio".to_vec()),
        ] {
            let err = decode(Path::new("/tmp/evil.wav"), &bytes).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("/tmp/evil.wav: "), "{label}: {msg}");
        }
    }

    #[test]
    fn raw_pcm_reads_chunks_and_rejects_half_samples() {
        let data: Vec<u8> = [1i16, -2, 300]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut r = RawPcmReader::new(Cursor::new(data.clone()), "<stdin>");
        assert_eq!(r.next_chunk(2).unwrap(), Some(vec![1, -2]));
        assert_eq!(r.next_chunk(2).unwrap(), Some(vec![300]));
        assert_eq!(r.next_chunk(2).unwrap(), None);
        let mut odd = data;
        odd.push(7);
        let mut r = RawPcmReader::new(Cursor::new(odd), "<stdin>");
        assert!(r.next_chunk(3).unwrap().is_some());
        let err = r.next_chunk(3).unwrap_err().to_string();
        assert!(
            err.contains("<stdin>") && err.contains("half a sample"),
            "{err}"
        );
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = decode(Path::new("fuzz.wav"), &bytes);
        }

        #[test]
        fn corrupted_wavs_never_panic(pos in 0usize..200, val in proptest::num::u8::ANY) {
            let mut bytes = wav_bytes(spec(44_100, 2, 16, false), 40);
            let p = pos % bytes.len();
            bytes[p] = val;
            let _ = decode(Path::new("fuzz.wav"), &bytes);
        }
    }
}
