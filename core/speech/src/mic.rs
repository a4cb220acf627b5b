//! Live microphone capture through cpal (ALSA on Linux), converted to 16 kHz
//! mono i16 for the recognisers.
//!
//! Not covered by automated tests: CI machines (and the one this was built
//! on) have no microphone. What is tested is that listing devices works and
//! that opening a capture without one is a clear error, not a panic.

use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use rubato::Resampler;

use crate::audio::{SAMPLE_RATE, to_i16};
use crate::error::{Result, SpeechError};

/// An audio input device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputDevice {
    /// Its name, as `--device` takes it.
    pub name: String,
    /// Whether it is the host's default input.
    pub default: bool,
    /// Default sample rate in Hz, if the device reports one.
    pub sample_rate: Option<u32>,
    /// Default channel count, if reported.
    pub channels: Option<u16>,
}

fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| "(unnamed device)".to_owned())
}

/// Lists the input devices of the default host. An empty list means none.
pub fn input_devices() -> Result<Vec<InputDevice>> {
    let host = cpal::default_host();
    let default = host.default_input_device().map(|d| device_name(&d));
    let devices = host
        .input_devices()
        .map_err(|e| SpeechError::Mic(format!("cannot list input devices: {e}")))?;
    Ok(devices
        .map(|d| {
            let name = device_name(&d);
            let config = d.default_input_config().ok();
            InputDevice {
                default: default.as_deref() == Some(name.as_str()),
                sample_rate: config.as_ref().map(|c| c.sample_rate()),
                channels: config.as_ref().map(|c| c.channels()),
                name,
            }
        })
        .collect())
}

/// A running capture. Dropping it stops the stream.
pub struct MicCapture {
    _stream: cpal::Stream,
    rx: mpsc::Receiver<std::result::Result<Vec<f32>, String>>,
    resampler: Option<rubato::Fft<f32>>,
    pending: Vec<f32>,
    /// Device name.
    pub name: String,
}

impl MicCapture {
    /// Opens `device` (by name) or the default input device and starts capturing.
    pub fn open(device: Option<&str>) -> Result<Self> {
        let host = cpal::default_host();
        let dev = match device {
            None => host.default_input_device().ok_or_else(|| {
                SpeechError::Mic("no input device found; connect a microphone or use --wav/--stdin (see `emma audio devices`)".to_owned())
            })?,
            Some(want) => host
                .input_devices()
                .map_err(|e| SpeechError::Mic(format!("cannot list input devices: {e}")))?
                .find(|d| device_name(d) == want)
                .ok_or_else(|| SpeechError::Mic(format!("no input device named {want:?}; see `emma audio devices`")))?,
        };
        let name = device_name(&dev);
        let config = dev.default_input_config().map_err(|e| {
            SpeechError::Mic(format!("{name}: cannot read its input configuration: {e}"))
        })?;
        let channels = usize::from(config.channels().max(1));
        let rate = config.sample_rate();
        let (tx, rx) = mpsc::sync_channel(256);
        let err_tx = tx.clone();
        let on_error = move |e: cpal::Error| {
            let _ = err_tx.try_send(Err(e.to_string()));
        };
        let mono = move |frames: Vec<f32>| -> Vec<f32> {
            frames
                .chunks_exact(channels)
                .map(|f| f.iter().sum::<f32>() / channels as f32)
                .collect()
        };
        let stream_config = config.config();
        let stream = match config.sample_format() {
            cpal::SampleFormat::F32 => dev.build_input_stream::<f32, _, _>(
                stream_config,
                move |data, _| {
                    let _ = tx.try_send(Ok(mono(data.to_vec())));
                },
                on_error,
                None,
            ),
            cpal::SampleFormat::I16 => dev.build_input_stream::<i16, _, _>(
                stream_config,
                move |data, _| {
                    let _ = tx.try_send(Ok(mono(
                        data.iter().map(|&s| f32::from(s) / 32768.0).collect(),
                    )));
                },
                on_error,
                None,
            ),
            cpal::SampleFormat::I32 => dev.build_input_stream::<i32, _, _>(
                stream_config,
                move |data, _| {
                    let _ = tx.try_send(Ok(mono(
                        data.iter().map(|&s| s as f32 / 2_147_483_648.0).collect(),
                    )));
                },
                on_error,
                None,
            ),
            other => {
                return Err(SpeechError::Mic(format!(
                    "{name}: sample format {other} is not supported"
                )));
            }
        }
        .map_err(|e| SpeechError::Mic(format!("{name}: cannot open a capture stream: {e}")))?;
        stream
            .play()
            .map_err(|e| SpeechError::Mic(format!("{name}: cannot start capturing: {e}")))?;
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            Some(
                rubato::Fft::<f32>::new(
                    rate as usize,
                    SAMPLE_RATE as usize,
                    1024,
                    1,
                    rubato::FixedSync::Input,
                )
                .map_err(|e| {
                    SpeechError::Mic(format!("{name}: cannot resample from {rate} Hz: {e}"))
                })?,
            )
        };
        Ok(MicCapture {
            _stream: stream,
            rx,
            resampler,
            pending: Vec::new(),
            name,
        })
    }

    /// Waits up to `timeout` for the next captured audio, 16 kHz mono. An
    /// empty vector means nothing arrived in time.
    pub fn next_chunk(&mut self, timeout: Duration) -> Result<Vec<i16>> {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(samples)) => self.pending.extend(samples),
            Ok(Err(e)) => return Err(SpeechError::Mic(format!("{}: {e}", self.name))),
            Err(mpsc::RecvTimeoutError::Timeout) => return Ok(Vec::new()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SpeechError::Mic(format!(
                    "{}: the capture stream stopped",
                    self.name
                )));
            }
        }
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(to_i16(&std::mem::take(&mut self.pending)));
        };
        let mut out = Vec::new();
        loop {
            let need = resampler.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            let chunk: Vec<f32> = self.pending.drain(..need).collect();
            let input =
                rubato::audioadapter_buffers::owned::InterleavedOwned::new_from(chunk, 1, need)
                    .map_err(|e| SpeechError::Mic(e.to_string()))?;
            let resampled = resampler
                .process(&input, None)
                .map_err(|e| SpeechError::Mic(e.to_string()))?;
            out.extend(to_i16(&resampled.take_data()));
        }
        Ok(out)
    }
}
