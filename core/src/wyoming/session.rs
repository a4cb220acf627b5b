//! One Wyoming connection: its requests, in order, against the shared [`Services`].
//!
//! Requests a session cannot serve (a service not offered, audio before
//! `audio-start`, a chunk whose format differs from its stream's, a language
//! or voice Emma does not have) are refused with an `error` event naming the
//! problem; the connection stays open.

use std::sync::Arc;

use emma_intent::Context;
use emma_wyoming::event::{AudioChunk, AudioStart, Entity, Intent};
use emma_wyoming::{AudioFormat, Event, Flow, Handler, HandlerError, Responder, to_mono_i16};
use serde_json::Value;

use super::asr::AudioStream;
use super::handle::Request;
use super::tts::CHUNK_SAMPLES;
use super::wake::{WakeHit, WakeStream};
use super::{MAX_TEXT, Services};
use crate::understand::{Rejected, Understood};

/// A connection's state.
pub struct Session {
    services: Arc<Services>,
    peer: String,
    /// Set by `transcribe`, used by the next `audio-start`.
    requested_language: Option<String>,
    /// Set by `detect` (with the names asked for): the next audio stream is
    /// listened to for wake words instead of transcribed.
    detect: Option<Option<Vec<String>>>,
    stream: Option<Transcribing>,
    wake: Option<Detecting>,
}

struct Detecting {
    audio: WakeStream,
    /// Whether a `detection` was sent.
    detected: bool,
}

struct Transcribing {
    audio: AudioStream,
    language: String,
    /// Utterance texts already sent as `transcript-chunk`s.
    texts: Vec<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("streaming", &self.stream.is_some())
            .field("detecting", &self.wake.is_some())
            .finish()
    }
}

fn refuse(code: &str, message: impl Into<String>) -> HandlerError {
    HandlerError::refuse(code, message)
}

fn unsupported(what: &str) -> HandlerError {
    refuse(
        "unsupported",
        format!("this Emma server does not offer {what}; `describe` lists what it does"),
    )
}

/// Same primary language (`en` = `en-US` = `en_GB`).
fn same_language(a: &str, b: &str) -> bool {
    let primary = |s: &str| {
        s.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    primary(a) == primary(b)
}

fn mismatch(chunk: &AudioChunk, format: AudioFormat) -> HandlerError {
    refuse(
        "audio-format-mismatch",
        format!(
            "`audio-chunk` is {} but its stream's `audio-start` said {format}; chunk dropped",
            chunk.format
        ),
    )
}

fn check_text(text: &str) -> Result<(), HandlerError> {
    if text.len() > MAX_TEXT {
        return Err(refuse(
            "text-too-long",
            format!(
                "text of {} bytes is longer than the limit of {MAX_TEXT}",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// The text an utterance contributes to the transcript: none when nothing
/// was heard, or when the speech was rejected as not a command. The grammar
/// decoder forces any speech into some command; sending that forced text
/// would have Home Assistant act on a question it never understood. With
/// Moonshine ([`AsrConfig::agreement`]) speech that is no command is sent
/// as Moonshine's transcript instead: what was said, for Home Assistant's
/// own conversation agent to answer.
///
/// [`AsrConfig::agreement`]: super::AsrConfig::agreement
fn heard(u: Understood) -> Option<String> {
    if u.intent.is_none()
        && let Some(said) = u.agreement.as_ref().and_then(|a| a.said())
    {
        tracing::debug!(grammar = %u.text, transcript = %said, "wyoming: no command; Moonshine's transcript is sent");
        return Some(said.to_owned());
    }
    if u.rejected == Some(Rejected::NotACommand) {
        tracing::debug!(forced = %u.text, "wyoming: speech rejected as not a command, no transcript");
        return None;
    }
    (!u.text.is_empty()).then_some(u.text)
}

async fn send(out: &mut Responder, event: Event) -> Result<(), HandlerError> {
    out.send(&event)
        .await
        .map_err(|e| HandlerError::fatal("write-failed", format!("cannot answer: {e}")))
}

impl Session {
    /// A session for the client `peer`.
    pub fn new(services: Arc<Services>, peer: &str) -> Self {
        Session {
            services,
            peer: peer.into(),
            requested_language: None,
            detect: None,
            stream: None,
            wake: None,
        }
    }

    fn streaming(&self) -> bool {
        self.stream.is_some() || self.wake.is_some()
    }

    /// `detect`: the next audio stream is listened to for wake words.
    fn detect(&mut self, names: Option<Vec<String>>) -> Result<(), HandlerError> {
        let wake = self
            .services
            .wake
            .as_ref()
            .ok_or_else(|| unsupported("wake word detection"))?;
        if self.streaming() {
            return Err(refuse(
                "stream-running",
                "`detect` while audio is streaming; send audio-stop first",
            ));
        }
        wake.select(names.as_deref())
            .map_err(|e| refuse("unknown-wake-word", e))?;
        self.detect = Some(names);
        Ok(())
    }

    async fn start_detecting(
        &mut self,
        start: &AudioStart,
        names: Option<Vec<String>>,
    ) -> Result<(), HandlerError> {
        let wake = self
            .services
            .wake
            .as_ref()
            .ok_or_else(|| unsupported("wake word detection"))?;
        let which = wake
            .select(names.as_deref())
            .map_err(|e| refuse("unknown-wake-word", e))?;
        let audio = wake
            .start(which, start.format)
            .await
            .map_err(|e| refuse("wake-busy", e))?;
        self.wake = Some(Detecting {
            audio,
            detected: false,
        });
        Ok(())
    }

    async fn send_hits(
        out: &mut Responder,
        hits: Vec<WakeHit>,
        detected: &mut bool,
    ) -> Result<(), HandlerError> {
        for h in hits {
            *detected = true;
            send(
                out,
                Event::Detection {
                    name: Some(h.name),
                    timestamp: Some(h.timestamp_ms),
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn transcribe(
        &mut self,
        name: Option<String>,
        language: Option<String>,
    ) -> Result<(), HandlerError> {
        let asr = self
            .services
            .asr
            .as_ref()
            .ok_or_else(|| unsupported("speech to text"))?;
        if self.streaming() {
            return Err(refuse(
                "stream-running",
                "`transcribe` while audio is streaming; send audio-stop first",
            ));
        }
        if let Some(name) = &name
            && name != &asr.config().model_name
            && name != "emma-asr"
        {
            return Err(refuse(
                "unknown-model",
                format!(
                    "there is no speech model {name:?} here (have: {})",
                    asr.config().model_name
                ),
            ));
        }
        if let Some(lang) = &language
            && !same_language(lang, &self.services.language)
        {
            return Err(refuse(
                "unsupported-language",
                format!(
                    "this server understands {}, not {lang}",
                    self.services.language
                ),
            ));
        }
        self.requested_language = language;
        Ok(())
    }

    async fn audio_start(
        &mut self,
        start: AudioStart,
        out: &mut Responder,
    ) -> Result<(), HandlerError> {
        if self.streaming() {
            return Err(refuse(
                "stream-running",
                "`audio-start` while a stream is running; send audio-stop first",
            ));
        }
        start
            .format
            .validate()
            .map_err(|e| refuse("unsupported-audio", e.to_string()))?;
        // After `detect`, or on a server that only detects wake words, the
        // audio is listened to for wake words.
        if let Some(names) = self.detect.take() {
            return self.start_detecting(&start, names).await;
        }
        if self.services.asr.is_none() && self.services.wake.is_some() {
            return self.start_detecting(&start, None).await;
        }
        let asr = self
            .services
            .asr
            .as_ref()
            .ok_or_else(|| unsupported("speech to text"))?;
        let audio = asr
            .start(start.format)
            .await
            .map_err(|e| refuse("asr-busy", e))?;
        let language = self
            .requested_language
            .take()
            .unwrap_or_else(|| self.services.language.clone());
        send(
            out,
            Event::TranscriptStart {
                language: Some(language.clone()),
            },
        )
        .await?;
        self.stream = Some(Transcribing {
            audio,
            language,
            texts: vec![],
        });
        Ok(())
    }

    async fn audio_chunk(
        &mut self,
        chunk: AudioChunk,
        out: &mut Responder,
    ) -> Result<(), HandlerError> {
        if let Some(wake) = &mut self.wake {
            if chunk.format != wake.audio.format {
                return Err(mismatch(&chunk, wake.audio.format));
            }
            let mono = to_mono_i16(chunk.format, &chunk.audio)
                .map_err(|e| refuse("bad-audio", e.to_string()))?;
            if let Err(e) = wake.audio.push(mono).await {
                self.wake = None;
                return Err(refuse("wake-failed", e));
            }
            let hits = wake.audio.ready();
            return Self::send_hits(out, hits, &mut wake.detected).await;
        }
        let Some(stream) = &mut self.stream else {
            return Err(refuse(
                "audio-before-start",
                "`audio-chunk` before `audio-start`; start the stream first",
            ));
        };
        if chunk.format != stream.audio.format {
            return Err(mismatch(&chunk, stream.audio.format));
        }
        let mono = to_mono_i16(chunk.format, &chunk.audio)
            .map_err(|e| refuse("bad-audio", e.to_string()))?;
        if let Err(e) = stream.audio.push(mono).await {
            self.stream = None;
            return Err(refuse("asr-failed", e));
        }
        for text in stream.audio.ready().into_iter().filter_map(heard) {
            send(out, Event::TranscriptChunk { text: text.clone() }).await?;
            stream.texts.push(text);
        }
        Ok(())
    }

    async fn audio_stop(&mut self, out: &mut Responder) -> Result<(), HandlerError> {
        if let Some(Detecting {
            audio,
            mut detected,
        }) = self.wake.take()
        {
            let hits = audio.finish().await.map_err(|e| refuse("wake-failed", e))?;
            Self::send_hits(out, hits, &mut detected).await?;
            if !detected {
                send(out, Event::NotDetected).await?;
            }
            return Ok(());
        }
        let Some(stream) = self.stream.take() else {
            return Err(refuse(
                "audio-before-start",
                "`audio-stop` without `audio-start`",
            ));
        };
        let Transcribing {
            audio,
            language,
            mut texts,
        } = stream;
        let rest = audio.finish().await.map_err(|e| refuse("asr-failed", e))?;
        // Utterances already streamed are not repeated as chunks; the final
        // transcript joins them all.
        for text in rest.into_iter().filter_map(heard) {
            send(out, Event::TranscriptChunk { text: text.clone() }).await?;
            texts.push(text);
        }
        send(out, Event::TranscriptStop).await?;
        let text = texts.join(" ");
        tracing::debug!("wyoming: {}: transcript {text:?}", self.peer);
        send(
            out,
            Event::Transcript {
                text,
                language: Some(language),
            },
        )
        .await
    }
}

impl Handler for Session {
    async fn handle(&mut self, event: Event, out: &mut Responder) -> Result<Flow, HandlerError> {
        match event {
            Event::Describe => send(out, Event::Info(Box::new(self.services.info()))).await?,
            Event::Ping { text } => send(out, Event::Pong { text }).await?,
            Event::Transcribe { name, language } => self.transcribe(name, language).await?,
            Event::AudioStart(start) => self.audio_start(start, out).await?,
            Event::AudioChunk(chunk) => self.audio_chunk(chunk, out).await?,
            Event::AudioStop { .. } => self.audio_stop(out).await?,
            Event::Recognize { text } => {
                let reply = self.recognize(&text)?;
                send(out, reply).await?;
            }
            Event::Transcript { text, .. } => {
                check_text(&text)?;
                let text = emma_untrusted::line(&text, MAX_TEXT);
                let reply = self.carry_out(Request::Text(text)).await?;
                send(out, reply).await?;
            }
            Event::Intent(intent) => {
                let request = intent_request(intent)?;
                let reply = self.carry_out(request).await?;
                send(out, reply).await?;
            }
            Event::Detect { names } => self.detect(names)?,
            Event::Synthesize { text, voice } => self.synthesize(text, voice, out).await?,
            other => {
                return Err(refuse(
                    "unexpected-event",
                    format!(
                        "`{}` is something a server sends, not a request",
                        other.kind()
                    ),
                ));
            }
        }
        Ok(Flow::Continue)
    }

    async fn closed(&mut self) {
        if self.stream.take().is_some() || self.wake.take().is_some() {
            tracing::info!(
                "wyoming: {}: left in the middle of an audio stream",
                self.peer
            );
        }
    }
}

impl Session {
    fn recognize(&self, text: &str) -> Result<Event, HandlerError> {
        check_text(text)?;
        let (_, engine) = self
            .services
            .intents
            .as_ref()
            .ok_or_else(|| unsupported("intent recognition"))?;
        let Some(m) = engine.recognize(text, &Context::new()).best else {
            return Ok(Event::NotRecognized { text: None });
        };
        let mut context = serde_json::Map::new();
        context.insert("text".into(), Value::String(text.into()));
        context.insert("confidence".into(), Value::from(f64::from(m.confidence)));
        Ok(Event::Intent(Intent {
            name: m.intent.to_string(),
            entities: m
                .slots
                .into_iter()
                .map(|(name, v)| Entity {
                    name: name.to_string(),
                    value: serde_json::to_value(&v.value).unwrap_or(Value::Null),
                })
                .collect(),
            text: None,
            context: Some(context),
        }))
    }

    /// Has the handler (the assistant) carry out `request`.
    async fn carry_out(&self, request: Request) -> Result<Event, HandlerError> {
        let handler = self
            .services
            .handler
            .as_ref()
            .ok_or_else(|| unsupported("handling"))?;
        let h = handler
            .handle(request)
            .await
            .map_err(|e| refuse("handle-failed", e))?;
        Ok(if h.handled {
            Event::Handled {
                text: Some(h.reply),
            }
        } else {
            Event::NotHandled {
                text: Some(h.reply),
            }
        })
    }

    async fn synthesize(
        &self,
        text: String,
        voice: Option<emma_wyoming::event::SynthesizeVoice>,
        out: &mut Responder,
    ) -> Result<(), HandlerError> {
        check_text(&text)?;
        let tts = self
            .services
            .tts
            .clone()
            .ok_or_else(|| unsupported("speech synthesis"))?;
        let voice = voice.unwrap_or_default();
        let name = tts
            .pick(voice.name.as_deref(), voice.language.as_deref())
            .map_err(|e| refuse("unknown-voice", e))?;
        let samples = tokio::task::spawn_blocking(move || tts.speak(&text, &name))
            .await
            .map_err(|e| refuse("tts-failed", e.to_string()))?
            .map_err(|e| refuse("tts-failed", e))?;
        let format = AudioFormat::EMMA;
        send(
            out,
            Event::AudioStart(AudioStart {
                format,
                timestamp: Some(0),
            }),
        )
        .await?;
        let mut ms = 0u64;
        for chunk in samples.chunks(CHUNK_SAMPLES) {
            let audio = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
            send(
                out,
                Event::AudioChunk(AudioChunk {
                    format,
                    timestamp: Some(ms),
                    audio,
                }),
            )
            .await?;
            ms += (chunk.len() as u64 * 1000) / u64::from(format.rate);
        }
        send(
            out,
            Event::AudioStop {
                timestamp: Some(ms),
            },
        )
        .await
    }
}

/// The handling request for an `intent`: its name and entities (as slots),
/// with the sentence from the `context` Emma's `recognize` puts it in (an
/// intent's own `text` is a response in Wyoming, not the sentence). All of
/// it comes from the client: escape sequences, controls and bidi characters
/// are removed (replies may repeat it).
fn intent_request(intent: Intent) -> Result<Request, HandlerError> {
    check_text(&intent.name)?;
    let name = emma_untrusted::line(&intent.name, emma_untrusted::LINE_CHARS);
    if name.is_empty() {
        return Err(refuse("bad-intent", "the `intent` has no name"));
    }
    let text = intent
        .context
        .as_ref()
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .map(|t| {
            check_text(t)?;
            Ok(emma_untrusted::line(t, MAX_TEXT))
        })
        .transpose()?;
    let mut slots = std::collections::BTreeMap::new();
    for e in intent.entities {
        let value = match e.value {
            Value::Null => continue,
            Value::String(s) => s,
            other => other.to_string(),
        };
        check_text(&value)?;
        slots.insert(
            emma_untrusted::line(&e.name, emma_untrusted::LINE_CHARS),
            emma_untrusted::line(&value, MAX_TEXT),
        );
    }
    Ok(Request::Intent { name, slots, text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::RejectedBy;

    fn intent(json: serde_json::Value) -> Intent {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_rejected_utterance_adds_nothing_to_the_transcript() {
        // What the grammar forced "tell me a joke" into, measured.
        let forced = Understood {
            text: "turn all the light on".into(),
            rejected: Some(Rejected::NotACommand),
            ..Understood::nothing()
        };
        assert_eq!(heard(forced), None);
        assert_eq!(heard(Understood::nothing()), None);
        let command = Understood {
            text: "turn on the kitchen light".into(),
            intent: Some("HassTurnOn".into()),
            rejected: None,
            ..Understood::nothing()
        };
        assert_eq!(heard(command).as_deref(), Some("turn on the kitchen light"));
        // Speech no intent matched is still a transcript (Home Assistant may know more).
        let other = Understood {
            text: "pause music".into(),
            rejected: Some(Rejected::NoMatch),
            ..Understood::nothing()
        };
        assert_eq!(heard(other).as_deref(), Some("pause music"));
    }

    #[test]
    fn rejected_speech_is_sent_as_what_moonshine_heard() {
        let agreement = |transcript: &str| crate::understand::Agreement {
            transcript: transcript.into(),
            intent: None,
            same_intent: false,
            words: 0.75,
            slots: crate::understand::agree::SlotsHeard {
                said: 1,
                heard: 0,
                listed: 0,
            },
            ms: 700,
        };
        let rejected = |transcript: &str, by: RejectedBy| Understood {
            text: "give me a light".into(),
            rejected: Some(Rejected::NotACommand),
            rejected_by: Some(by),
            agreement: Some(Box::new(agreement(transcript))),
            ..Understood::nothing()
        };
        assert_eq!(
            heard(rejected(" Give me a break. ", RejectedBy::Agreement)).as_deref(),
            Some("Give me a break.")
        );
        // Rejected by the acoustic check and transcribed for the client.
        assert_eq!(
            heard(rejected("Give me a break.", RejectedBy::Acoustic)).as_deref(),
            Some("Give me a break.")
        );
        // Moonshine heard nothing: nothing is sent, never the forced command.
        assert_eq!(heard(rejected(" ... ", RejectedBy::Agreement)), None);
        // No intent matched: Moonshine's words rather than the grammar's.
        let unmatched = Understood {
            text: "what is the".into(),
            rejected: Some(Rejected::NoMatch),
            agreement: Some(Box::new(agreement("What is the time?"))),
            ..Understood::nothing()
        };
        assert_eq!(heard(unmatched).as_deref(), Some("What is the time?"));
    }

    #[test]
    fn an_intent_becomes_a_request_with_its_slots_and_sentence() {
        let r = intent_request(intent(serde_json::json!({
            "name": "HassLightSet",
            "entities": [
                {"name": "name", "value": "light.kitchen"},
                {"name": "brightness", "value": 40},
                {"name": "color", "value": null}
            ],
            "text": "Done",
            "context": {"text": "set the kitchen light to 40 percent"}
        })))
        .unwrap();
        let Request::Intent { name, slots, text } = r else {
            panic!("{r:?}")
        };
        assert_eq!(name, "HassLightSet");
        assert_eq!(slots.get("name").map(String::as_str), Some("light.kitchen"));
        assert_eq!(slots.get("brightness").map(String::as_str), Some("40"));
        assert!(!slots.contains_key("color"), "null entities are left out");
        // The intent's own `text` is a response in Wyoming, not the sentence.
        assert_eq!(text.as_deref(), Some("set the kitchen light to 40 percent"));

        // What the client sent is cleaned before the assistant (and its replies) see it.
        let r = intent_request(intent(serde_json::json!({
            "name": "Hass\u{1b}[2JTurnOn\u{202e}",
            "entities": [{"name": "name", "value": "lamp\r\u{1b}]0;pwned\u{7}"}]
        })))
        .unwrap();
        let Request::Intent { name, slots, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(name, "HassTurnOn");
        assert_eq!(slots["name"], "lamp");
        let e = intent_request(intent(serde_json::json!({"name": "\u{1b}[2J"}))).unwrap_err();
        assert_eq!(e.code, "bad-intent");

        let bare = intent_request(intent(serde_json::json!({"name": "HassTurnOn"}))).unwrap();
        assert_eq!(
            bare,
            Request::Intent {
                name: "HassTurnOn".into(),
                slots: Default::default(),
                text: None
            }
        );
    }

    #[test]
    fn oversized_intents_are_refused() {
        let long = "x".repeat(MAX_TEXT + 1);
        for json in [
            serde_json::json!({"name": long}),
            serde_json::json!({"name": "A", "entities": [{"name": "n", "value": long}]}),
            serde_json::json!({"name": "A", "context": {"text": long}}),
        ] {
            let e = intent_request(intent(json)).unwrap_err();
            assert_eq!(e.code, "text-too-long", "{}", e.message);
        }
    }
}
