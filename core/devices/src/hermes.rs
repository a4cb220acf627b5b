//! Hermes (Snips/Rhasspy) topics and JSON payloads, so existing Hermes apps work with Emma.
//!
//! The structs follow the Hermes protocol's camelCase JSON. Incoming payloads
//! are untrusted: [`parse`] caps their size and nesting and returns an error
//! naming the topic and the reason.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::discovery::parse_json;

/// Largest Hermes payload accepted.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// `hermes/asr/textCaptured`.
pub const TEXT_CAPTURED: &str = "hermes/asr/textCaptured";
/// `hermes/nlu/query`.
pub const NLU_QUERY: &str = "hermes/nlu/query";
/// `hermes/nlu/intentNotRecognized`.
pub const INTENT_NOT_RECOGNIZED: &str = "hermes/nlu/intentNotRecognized";
/// `hermes/tts/say`.
pub const TTS_SAY: &str = "hermes/tts/say";
/// `hermes/dialogueManager/startSession`.
pub const START_SESSION: &str = "hermes/dialogueManager/startSession";
/// `hermes/dialogueManager/endSession`.
pub const END_SESSION: &str = "hermes/dialogueManager/endSession";

/// `hermes/intent/<intentName>`.
pub fn intent_topic(intent: &str) -> String {
    format!("hermes/intent/{intent}")
}

/// `hermes/hotword/<wakewordId>/detected`.
pub fn hotword_topic(wakeword: &str) -> String {
    format!("hermes/hotword/{wakeword}/detected")
}

fn default_site() -> String {
    "default".into()
}

/// `hermes/asr/textCaptured`: speech recognised as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextCaptured {
    /// The text.
    pub text: String,
    /// Recogniser confidence in [0, 1].
    #[serde(default)]
    pub likelihood: f32,
    /// Seconds of audio.
    #[serde(default)]
    pub seconds: f32,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Wake word that started it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeword_id: Option<String>,
}

/// `hermes/nlu/query`: please recognise this text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NluQuery {
    /// The text.
    pub input: String,
    /// Only these intents, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_filter: Option<Vec<String>>,
    /// Request id, echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The intent part of an [`IntentMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentName {
    /// Intent name.
    pub intent_name: String,
    /// Confidence in [0, 1].
    pub confidence_score: f32,
}

/// A slot value: `{"kind": "Custom", "value": "…"}` (numbers use `Number`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotValueJson {
    /// `Custom`, `Number`, …
    pub kind: String,
    /// The value.
    pub value: Value,
}

/// One slot of an [`IntentMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// The list / entity name.
    pub entity: String,
    /// The slot name.
    pub slot_name: String,
    /// The words as spoken.
    pub raw_value: String,
    /// The value.
    pub value: SlotValueJson,
    /// Confidence in [0, 1].
    #[serde(default)]
    pub confidence: f32,
}

/// `hermes/intent/<intentName>`: an intent was recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentMessage {
    /// The text.
    pub input: String,
    /// The intent.
    pub intent: IntentName,
    /// Its slots.
    #[serde(default)]
    pub slots: Vec<Slot>,
    /// The query id it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Opaque data passed along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

/// `hermes/nlu/intentNotRecognized`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentNotRecognized {
    /// The text.
    pub input: String,
    /// The query id it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Opaque data passed along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

/// `hermes/tts/say`: speak this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TtsSay {
    /// What to say.
    pub text: String,
    /// Language, if not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// How a session starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SessionInit {
    /// Expect an answer (listen after speaking).
    #[serde(rename_all = "camelCase")]
    Action {
        /// What to say first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Whether it may wait for a running session.
        #[serde(default)]
        can_be_enqueued: bool,
        /// Only these intents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent_filter: Option<Vec<String>>,
        /// Publish `intentNotRecognized` rather than ending the session.
        #[serde(default)]
        send_intent_not_recognized: bool,
    },
    /// Just say something.
    #[serde(rename_all = "camelCase")]
    Notification {
        /// What to say.
        text: String,
    },
}

/// `hermes/dialogueManager/startSession`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSession {
    /// How it starts.
    pub init: SessionInit,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Opaque data passed along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

/// `hermes/dialogueManager/endSession`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndSession {
    /// The session.
    pub session_id: String,
    /// What to say last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Opaque data passed along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

/// `hermes/hotword/<wakewordId>/detected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotwordDetected {
    /// The wake-word model.
    pub model_id: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// `personal` or `universal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Detector sensitivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_sensitivity: Option<f32>,
    /// Satellite / room id.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Dialogue session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Language, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// A parsed Hermes message.
#[derive(Debug, Clone, PartialEq)]
pub enum HermesMessage {
    /// `hermes/asr/textCaptured`.
    TextCaptured(TextCaptured),
    /// `hermes/nlu/query`.
    NluQuery(NluQuery),
    /// `hermes/intent/<name>`.
    Intent(IntentMessage),
    /// `hermes/nlu/intentNotRecognized`.
    IntentNotRecognized(IntentNotRecognized),
    /// `hermes/tts/say`.
    TtsSay(TtsSay),
    /// `hermes/dialogueManager/startSession`.
    StartSession(StartSession),
    /// `hermes/dialogueManager/endSession`.
    EndSession(EndSession),
    /// `hermes/hotword/<id>/detected` (with the wake-word id from the topic).
    HotwordDetected(String, HotwordDetected),
}

/// Why a Hermes message was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hermes message on {topic}: {reason}; skipped")]
pub struct HermesError {
    /// The topic.
    pub topic: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses an untrusted Hermes message.
pub fn parse(topic: &str, payload: &[u8]) -> Result<HermesMessage, HermesError> {
    let err = |reason: String| HermesError {
        topic: topic.to_string(),
        reason,
    };
    let value = parse_json(topic, payload, MAX_PAYLOAD).map_err(|e| err(e.reason))?;
    fn de<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
        serde_json::from_value(v)
            .map_err(|e| format!("payload does not match the Hermes schema: {e}"))
    }
    let parts: Vec<&str> = topic.split('/').collect();
    let msg = match parts.as_slice() {
        ["hermes", "asr", "textCaptured"] => HermesMessage::TextCaptured(de(value).map_err(err)?),
        ["hermes", "nlu", "query"] => HermesMessage::NluQuery(de(value).map_err(err)?),
        ["hermes", "nlu", "intentNotRecognized"] => {
            HermesMessage::IntentNotRecognized(de(value).map_err(err)?)
        }
        ["hermes", "intent", name] if !name.is_empty() => {
            HermesMessage::Intent(de(value).map_err(err)?)
        }
        ["hermes", "tts", "say"] => HermesMessage::TtsSay(de(value).map_err(err)?),
        ["hermes", "dialogueManager", "startSession"] => {
            HermesMessage::StartSession(de(value).map_err(err)?)
        }
        ["hermes", "dialogueManager", "endSession"] => {
            HermesMessage::EndSession(de(value).map_err(err)?)
        }
        ["hermes", "hotword", id, "detected"] if !id.is_empty() => {
            HermesMessage::HotwordDetected(id.to_string(), de(value).map_err(err)?)
        }
        _ => return Err(err("not a Hermes topic Emma handles".into())),
    };
    Ok(msg)
}

/// The Hermes intent message for an intent-engine match.
#[cfg(feature = "intents")]
pub fn intent_message(
    input: &str,
    m: &emma_intent::IntentMatch,
    query: Option<&NluQuery>,
) -> IntentMessage {
    IntentMessage {
        input: input.to_string(),
        intent: IntentName {
            intent_name: m.intent.to_string(),
            confidence_score: m.confidence,
        },
        slots: m
            .slots
            .iter()
            .map(|(name, v)| {
                let value = match v.value.as_number() {
                    Some(n) => SlotValueJson {
                        kind: "Number".into(),
                        value: serde_json::json!(n),
                    },
                    None => SlotValueJson {
                        kind: "Custom".into(),
                        value: Value::String(v.value.to_string()),
                    },
                };
                Slot {
                    entity: name.to_string(),
                    slot_name: name.to_string(),
                    raw_value: if v.text.is_empty() {
                        v.value.to_string()
                    } else {
                        v.text.clone()
                    },
                    value,
                    confidence: m.confidence,
                }
            })
            .collect(),
        id: query.and_then(|q| q.id.clone()),
        site_id: query
            .map(|q| q.site_id.clone())
            .unwrap_or_else(default_site),
        session_id: query.and_then(|q| q.session_id.clone()),
        custom_data: None,
    }
}

/// Answers Hermes queries with Emma's home control: every `hermes/nlu/query`
/// and `hermes/asr/textCaptured` is understood and acted on; Emma publishes
/// `hermes/intent/<name>` (or `hermes/nlu/intentNotRecognized`) and speaks the
/// reply on `hermes/tts/say`. Runs until the bus stops.
#[cfg(feature = "intents")]
pub async fn serve(
    home: crate::home::Home,
    mut control: crate::control::HomeControl,
) -> crate::error::Result<()> {
    use crate::QoS;
    let bus = home.bus().clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    bus.subscribe_into(bus.config().shared(NLU_QUERY), tx.clone())
        .await?;
    bus.subscribe_into(bus.config().shared(TEXT_CAPTURED), tx)
        .await?;
    while let Some(msg) = rx.recv().await {
        let query = match parse(&msg.topic, &msg.payload) {
            Ok(HermesMessage::NluQuery(q)) => q,
            Ok(HermesMessage::TextCaptured(t)) => NluQuery {
                input: t.text,
                intent_filter: None,
                id: None,
                site_id: t.site_id,
                session_id: t.session_id,
            },
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(topic = %e.topic, reason = %e.reason, "hermes message skipped");
                continue;
            }
        };
        // `handle` refreshes the device lists first, so recognise after it.
        let outcome = control.handle(&home, &query.input).await;
        let recognized = control.recognize(&query.input);
        let reply = match (&recognized, &outcome) {
            (Some(m), Ok(o)) if o.intent.is_some() => {
                let message = intent_message(&query.input, m, Some(&query));
                let payload = serde_json::to_string(&message).expect("hermes messages serialize");
                bus.publish(intent_topic(&m.intent), payload, QoS::AtLeastOnce, false)
                    .await?;
                o.reply.clone()
            }
            (_, Ok(o)) => {
                let message = IntentNotRecognized {
                    input: query.input.clone(),
                    id: query.id.clone(),
                    site_id: query.site_id.clone(),
                    session_id: query.session_id.clone(),
                    custom_data: None,
                };
                let payload = serde_json::to_string(&message).expect("hermes messages serialize");
                bus.publish(INTENT_NOT_RECOGNIZED, payload, QoS::AtLeastOnce, false)
                    .await?;
                o.reply.clone()
            }
            (_, Err(e)) => e.to_string(),
        };
        let say = TtsSay {
            text: reply,
            lang: None,
            id: query.id.clone(),
            site_id: query.site_id.clone(),
            session_id: query.session_id.clone(),
        };
        let payload = serde_json::to_string(&say).expect("hermes messages serialize");
        bus.publish(TTS_SAY, payload, QoS::AtLeastOnce, false)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rhasspy_payloads() {
        let m = parse(
            NLU_QUERY,
            br#"{"input":"turn on the lamp","siteId":"kitchen","id":"q1"}"#,
        )
        .unwrap();
        let HermesMessage::NluQuery(q) = m else {
            panic!()
        };
        assert_eq!(
            (q.input.as_str(), q.site_id.as_str(), q.id.as_deref()),
            ("turn on the lamp", "kitchen", Some("q1"))
        );
        let m = parse(
            "hermes/intent/HassTurnOn",
            br#"{"input":"x","intent":{"intentName":"HassTurnOn","confidenceScore":1.0},
                 "slots":[{"entity":"name","slotName":"name","rawValue":"lamp","value":{"kind":"Custom","value":"light.lamp"},"confidence":1.0}],
                 "siteId":"default","sessionId":"s"}"#,
        )
        .unwrap();
        let HermesMessage::Intent(i) = m else {
            panic!()
        };
        assert_eq!(i.slots[0].value.value, "light.lamp");
        let m = parse(
            START_SESSION,
            br#"{"init":{"type":"notification","text":"hi"},"siteId":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            HermesMessage::StartSession(StartSession {
                init: SessionInit::Notification { text: "hi".into() },
                site_id: "x".into(),
                custom_data: None
            })
        );
        let m = parse(
            "hermes/hotword/emma/detected",
            br#"{"modelId":"emma","siteId":"default"}"#,
        )
        .unwrap();
        assert!(matches!(m, HermesMessage::HotwordDetected(id, _) if id == "emma"));
        let json = serde_json::to_value(TtsSay {
            text: "ok".into(),
            lang: None,
            id: None,
            site_id: "default".into(),
            session_id: Some("s".into()),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"text": "ok", "siteId": "default", "sessionId": "s"})
        );
    }

    #[test]
    fn rejects_bad_payloads_with_topic_and_reason() {
        for (topic, payload, reason) in [
            (NLU_QUERY, b"{}".to_vec(), "missing field `input`"),
            (NLU_QUERY, b"nope".to_vec(), "not valid JSON"),
            (NLU_QUERY, vec![0xc3, 0x28], "not UTF-8"),
            (TTS_SAY, vec![b' '; MAX_PAYLOAD + 1], "over the"),
            (TTS_SAY, "[".repeat(100).into_bytes(), "nested 100 levels"),
            ("hermes/unknown/x", b"{}".to_vec(), "not a Hermes topic"),
            (
                START_SESSION,
                br#"{"init":{"type":"shout"}}"#.to_vec(),
                "schema",
            ),
        ] {
            let e = parse(topic, &payload).unwrap_err();
            assert_eq!(e.topic, topic);
            assert!(e.reason.contains(reason), "{topic}: {}", e.reason);
        }
    }
}
