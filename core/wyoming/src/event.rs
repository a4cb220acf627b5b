//! Typed Wyoming events and their conversion to and from [`Frame`]s.
//!
//! Field names and optionality follow the reference package (`wyoming` on
//! PyPI): unknown fields are ignored (newer peers add some), missing required
//! ones are an [`EventError::Data`] naming the event and the field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audio::AudioFormat;
use crate::frame::Frame;
use crate::info::Info;

/// Wyoming event types this crate does not model but that are part of the
/// protocol (satellites, timers, streaming synthesis, pipelines). A server
/// answers them with an `error` event and keeps the connection; a type
/// outside the protocol is [`EventError::Unknown`].
pub const OTHER_PROTOCOL_TYPES: &[&str] = &[
    "select-program",
    "intents-start",
    "intents-stop",
    "handled-start",
    "handled-chunk",
    "handled-stop",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "synthesize-stopped",
    "run-pipeline",
    "run-satellite",
    "pause-satellite",
    "satellite-connected",
    "satellite-disconnected",
    "streaming-started",
    "streaming-stopped",
    "voice-started",
    "voice-stopped",
    "played",
    "timer-started",
    "timer-updated",
    "timer-cancelled",
    "timer-finished",
    "user-event",
];

/// Start of an audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStart {
    /// The stream's format.
    #[serde(flatten)]
    pub format: AudioFormat,
    /// Milliseconds since some origin (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
}

/// One chunk of PCM audio.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// The chunk's format.
    pub format: AudioFormat,
    /// Milliseconds since some origin (optional).
    pub timestamp: Option<u64>,
    /// Raw PCM (the payload).
    pub audio: Vec<u8>,
}

/// A named value found in a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Slot name.
    pub name: String,
    /// Slot value (any JSON).
    #[serde(default)]
    pub value: Value,
}

/// A recognised intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Intent name.
    pub name: String,
    /// Slot values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Entity>,
    /// A human-readable response (the reference calls it so; Emma leaves it empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Context for the next interaction (Emma puts the sentence under `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// The voice requested by `synthesize`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SynthesizeVoice {
    /// Voice name from the `tts` info (overrides `language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Voice language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Speaker of a multi-speaker voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

/// A Wyoming event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `describe`: asks for [`Event::Info`].
    Describe,
    /// `info`: what the service offers.
    Info(Box<Info>),
    /// `ping`: asks for `pong`.
    Ping {
        /// Echoed text.
        text: Option<String>,
    },
    /// `pong`.
    Pong {
        /// The ping's text.
        text: Option<String>,
    },
    /// `error`.
    Error {
        /// Human-readable message.
        text: String,
        /// Machine-readable code.
        code: Option<String>,
    },
    /// `transcribe`: speech to text for the audio that follows.
    Transcribe {
        /// Model name.
        name: Option<String>,
        /// Language of the audio.
        language: Option<String>,
    },
    /// `audio-start`.
    AudioStart(AudioStart),
    /// `audio-chunk`.
    AudioChunk(AudioChunk),
    /// `audio-stop`.
    AudioStop {
        /// Milliseconds (optional).
        timestamp: Option<u64>,
    },
    /// `transcript`: the text of the audio.
    Transcript {
        /// The text.
        text: String,
        /// Its language.
        language: Option<String>,
    },
    /// `transcript-start` (streaming transcripts).
    TranscriptStart {
        /// Language of the text.
        language: Option<String>,
    },
    /// `transcript-chunk`.
    TranscriptChunk {
        /// A piece of the transcript.
        text: String,
    },
    /// `transcript-stop`.
    TranscriptStop,
    /// `recognize`: text → intent.
    Recognize {
        /// The sentence.
        text: String,
    },
    /// `intent`.
    Intent(Intent),
    /// `not-recognized`.
    NotRecognized {
        /// Human-readable response.
        text: Option<String>,
    },
    /// `handled`: the request was carried out.
    Handled {
        /// What to say.
        text: Option<String>,
    },
    /// `not-handled`.
    NotHandled {
        /// What to say.
        text: Option<String>,
    },
    /// `detect`: wake word detection on the audio that follows.
    Detect {
        /// Models to detect (`None`: any).
        names: Option<Vec<String>>,
    },
    /// `detection`: a wake word was heard.
    Detection {
        /// The model.
        name: Option<String>,
        /// Milliseconds into the stream.
        timestamp: Option<u64>,
    },
    /// `not-detected`: the stream ended without one.
    NotDetected,
    /// `synthesize`: text → speech (answered with audio events).
    Synthesize {
        /// What to say.
        text: String,
        /// Which voice.
        voice: Option<SynthesizeVoice>,
    },
    /// A protocol event Emma does not model (see [`OTHER_PROTOCOL_TYPES`]).
    Other(Frame),
}

/// Why a frame is not a valid event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The type is not part of the Wyoming protocol.
    #[error("unknown event type {kind:?}")]
    Unknown {
        /// The type (shortened to 64 characters).
        kind: String,
    },
    /// The data does not fit the event.
    #[error("invalid `{kind}` event: {reason}")]
    Data {
        /// The event type.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
struct TextOpt {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct TextReq {
    text: String,
}

#[derive(Deserialize)]
struct TranscribeData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
struct TranscriptData {
    text: String,
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
struct LanguageData {
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    text: String,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct TimestampData {
    #[serde(default)]
    timestamp: Option<u64>,
}

#[derive(Deserialize)]
struct DetectData {
    #[serde(default)]
    names: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct DetectionData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
}

#[derive(Deserialize)]
struct SynthesizeData {
    text: String,
    #[serde(default)]
    voice: Option<SynthesizeVoice>,
}

fn parse<T: DeserializeOwned>(
    kind: &'static str,
    data: Map<String, Value>,
) -> Result<T, EventError> {
    serde_json::from_value(Value::Object(data)).map_err(|e| EventError::Data {
        kind,
        reason: e.to_string(),
    })
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        map.insert(key.into(), v.into());
    }
}

impl Event {
    /// The event's wire type, e.g. `audio-chunk`.
    pub fn kind(&self) -> &str {
        match self {
            Event::Describe => "describe",
            Event::Info(_) => "info",
            Event::Ping { .. } => "ping",
            Event::Pong { .. } => "pong",
            Event::Error { .. } => "error",
            Event::Transcribe { .. } => "transcribe",
            Event::AudioStart(_) => "audio-start",
            Event::AudioChunk(_) => "audio-chunk",
            Event::AudioStop { .. } => "audio-stop",
            Event::Transcript { .. } => "transcript",
            Event::TranscriptStart { .. } => "transcript-start",
            Event::TranscriptChunk { .. } => "transcript-chunk",
            Event::TranscriptStop => "transcript-stop",
            Event::Recognize { .. } => "recognize",
            Event::Intent(_) => "intent",
            Event::NotRecognized { .. } => "not-recognized",
            Event::Handled { .. } => "handled",
            Event::NotHandled { .. } => "not-handled",
            Event::Detect { .. } => "detect",
            Event::Detection { .. } => "detection",
            Event::NotDetected => "not-detected",
            Event::Synthesize { .. } => "synthesize",
            Event::Other(f) => &f.kind,
        }
    }

    /// Decodes a frame.
    pub fn from_frame(frame: Frame) -> Result<Event, EventError> {
        let Frame {
            kind,
            data,
            payload,
        } = frame;
        Ok(match kind.as_str() {
            "describe" => Event::Describe,
            "info" => Event::Info(Box::new(parse("info", data)?)),
            "ping" => Event::Ping {
                text: parse::<TextOpt>("ping", data)?.text,
            },
            "pong" => Event::Pong {
                text: parse::<TextOpt>("pong", data)?.text,
            },
            "error" => {
                let d: ErrorData = parse("error", data)?;
                Event::Error {
                    text: d.text,
                    code: d.code,
                }
            }
            "transcribe" => {
                let d: TranscribeData = parse("transcribe", data)?;
                Event::Transcribe {
                    name: d.name,
                    language: d.language,
                }
            }
            "audio-start" => Event::AudioStart(parse("audio-start", data)?),
            "audio-chunk" => {
                let start: AudioStart = parse("audio-chunk", data)?;
                Event::AudioChunk(AudioChunk {
                    format: start.format,
                    timestamp: start.timestamp,
                    audio: payload.unwrap_or_default(),
                })
            }
            "audio-stop" => Event::AudioStop {
                timestamp: parse::<TimestampData>("audio-stop", data)?.timestamp,
            },
            "transcript" => {
                let d: TranscriptData = parse("transcript", data)?;
                Event::Transcript {
                    text: d.text,
                    language: d.language,
                }
            }
            "transcript-start" => Event::TranscriptStart {
                language: parse::<LanguageData>("transcript-start", data)?.language,
            },
            "transcript-chunk" => Event::TranscriptChunk {
                text: parse::<TextReq>("transcript-chunk", data)?.text,
            },
            "transcript-stop" => Event::TranscriptStop,
            "recognize" => Event::Recognize {
                text: parse::<TextReq>("recognize", data)?.text,
            },
            "intent" => Event::Intent(parse("intent", data)?),
            "not-recognized" => Event::NotRecognized {
                text: parse::<TextOpt>("not-recognized", data)?.text,
            },
            "handled" => Event::Handled {
                text: parse::<TextOpt>("handled", data)?.text,
            },
            "not-handled" => Event::NotHandled {
                text: parse::<TextOpt>("not-handled", data)?.text,
            },
            "detect" => Event::Detect {
                names: parse::<DetectData>("detect", data)?.names,
            },
            "detection" => {
                let d: DetectionData = parse("detection", data)?;
                Event::Detection {
                    name: d.name,
                    timestamp: d.timestamp,
                }
            }
            "not-detected" => Event::NotDetected,
            "synthesize" => {
                let d: SynthesizeData = parse("synthesize", data)?;
                Event::Synthesize {
                    text: d.text,
                    voice: d.voice,
                }
            }
            other if OTHER_PROTOCOL_TYPES.contains(&other) => Event::Other(Frame {
                kind,
                data,
                payload,
            }),
            other => {
                return Err(EventError::Unknown {
                    kind: other.chars().take(64).collect(),
                });
            }
        })
    }

    /// Encodes the event as a frame.
    pub fn to_frame(&self) -> Frame {
        let mut data = Map::new();
        let mut payload = None;
        match self {
            Event::Describe | Event::TranscriptStop | Event::NotDetected => {}
            Event::Info(info) => data = obj(serde_json::to_value(info).unwrap_or_default()),
            Event::Ping { text }
            | Event::Pong { text }
            | Event::NotRecognized { text }
            | Event::Handled { text }
            | Event::NotHandled { text } => put(&mut data, "text", text.clone()),
            Event::Error { text, code } => {
                put(&mut data, "text", Some(text.clone()));
                put(&mut data, "code", code.clone());
            }
            Event::Transcribe { name, language } => {
                put(&mut data, "name", name.clone());
                put(&mut data, "language", language.clone());
            }
            Event::AudioStart(start) => {
                data = obj(serde_json::to_value(start).unwrap_or_default());
            }
            Event::AudioChunk(chunk) => {
                data = obj(serde_json::to_value(AudioStart {
                    format: chunk.format,
                    timestamp: chunk.timestamp,
                })
                .unwrap_or_default());
                payload = Some(chunk.audio.clone());
            }
            Event::AudioStop { timestamp } => put(&mut data, "timestamp", *timestamp),
            Event::Transcript { text, language } => {
                put(&mut data, "text", Some(text.clone()));
                put(&mut data, "language", language.clone());
            }
            Event::TranscriptStart { language } => put(&mut data, "language", language.clone()),
            Event::TranscriptChunk { text } | Event::Recognize { text } => {
                put(&mut data, "text", Some(text.clone()));
            }
            Event::Intent(intent) => data = obj(serde_json::to_value(intent).unwrap_or_default()),
            Event::Detect { names } => put(&mut data, "names", names.clone()),
            Event::Detection { name, timestamp } => {
                put(&mut data, "name", name.clone());
                put(&mut data, "timestamp", *timestamp);
            }
            Event::Synthesize { text, voice } => {
                put(&mut data, "text", Some(text.clone()));
                if let Some(v) = voice {
                    data.insert("voice".into(), serde_json::to_value(v).unwrap_or_default());
                }
            }
            Event::Other(frame) => return frame.clone(),
        }
        Frame {
            kind: self.kind().to_owned(),
            data,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(kind: &str, data: Value) -> Frame {
        Frame {
            kind: kind.into(),
            data: obj(data),
            payload: None,
        }
    }

    #[test]
    fn every_modelled_event_round_trips() {
        let events = vec![
            Event::Describe,
            Event::Ping {
                text: Some("x".into()),
            },
            Event::Error {
                text: "bad".into(),
                code: Some("c".into()),
            },
            Event::Transcribe {
                name: None,
                language: Some("en".into()),
            },
            Event::AudioStart(AudioStart {
                format: AudioFormat::EMMA,
                timestamp: Some(5),
            }),
            Event::AudioChunk(AudioChunk {
                format: AudioFormat::EMMA,
                timestamp: None,
                audio: vec![1, 2, 3, 4],
            }),
            Event::AudioStop { timestamp: None },
            Event::Transcript {
                text: "hello".into(),
                language: None,
            },
            Event::TranscriptStart {
                language: Some("en".into()),
            },
            Event::TranscriptChunk { text: "he".into() },
            Event::TranscriptStop,
            Event::Recognize {
                text: "turn on".into(),
            },
            Event::Intent(Intent {
                name: "HassTurnOn".into(),
                entities: vec![Entity {
                    name: "name".into(),
                    value: json!("light"),
                }],
                text: None,
                context: None,
            }),
            Event::NotRecognized { text: None },
            Event::Handled {
                text: Some("done".into()),
            },
            Event::NotHandled { text: None },
            Event::Detect {
                names: Some(vec!["emma".into()]),
            },
            Event::Detection {
                name: Some("emma".into()),
                timestamp: Some(1200),
            },
            Event::NotDetected,
            Event::Synthesize {
                text: "hi".into(),
                voice: Some(SynthesizeVoice {
                    name: Some("en-us".into()),
                    ..Default::default()
                }),
            },
        ];
        for e in events {
            assert_eq!(Event::from_frame(e.to_frame()).unwrap(), e, "{}", e.kind());
        }
    }

    #[test]
    fn reads_what_the_reference_client_writes() {
        // AudioChunk.event() in the reference sends a null timestamp.
        let chunk = frame(
            "audio-chunk",
            json!({"rate": 22050, "width": 2, "channels": 2, "timestamp": null}),
        );
        let Event::AudioChunk(c) = Event::from_frame(chunk).unwrap() else {
            panic!()
        };
        assert_eq!(
            c.format,
            AudioFormat {
                rate: 22050,
                width: 2,
                channels: 2
            }
        );
        assert!(c.audio.is_empty());
        // Detect sends `names: null`; extra fields are ignored.
        let detect = frame("detect", json!({"names": null, "context": {"a": 1}}));
        assert_eq!(
            Event::from_frame(detect).unwrap(),
            Event::Detect { names: None }
        );
    }

    #[test]
    fn names_the_event_and_field_that_is_wrong() {
        let e = Event::from_frame(frame("recognize", json!({}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid `recognize` event: missing field `text`"
        );
        let e = Event::from_frame(frame(
            "audio-start",
            json!({"rate": "fast", "width": 2, "channels": 1}),
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid `audio-start` event: invalid type: string \"fast\""),
            "{e}"
        );
        let e = Event::from_frame(frame(&"x".repeat(100), json!({}))).unwrap_err();
        assert_eq!(
            e,
            EventError::Unknown {
                kind: "x".repeat(64)
            }
        );
        let other =
            Event::from_frame(frame("run-pipeline", json!({"start_stage": "wake"}))).unwrap();
        assert_eq!(other.kind(), "run-pipeline");
    }
}
