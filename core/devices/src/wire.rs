//! What goes on the wire: device commands encoded for each payload schema,
//! and state messages decoded into [`StateUpdate`]s.

use serde_json::{Map, Value, json};

use crate::device::{Device, Domain, MqttBinding, PayloadSchema};
use crate::error::{DevicesError, Result};
use crate::registry::StateUpdate;

/// Largest state message accepted.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// Something to do to a device.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Switch on (lights, switches, fans, media players), open (covers), lock (locks)… — the domain's "on".
    TurnOn,
    /// Switch off, close, unlock — the domain's "off".
    TurnOff,
    /// Brightness in percent (0-100); switches the light on.
    Brightness(u8),
    /// Colour as red, green, blue.
    Color([u8; 3]),
    /// Cover position in percent (0 closed, 100 open).
    Position(u8),
    /// Climate target temperature.
    Temperature(f64),
    /// Fan speed in percent.
    Percentage(u8),
    /// Media volume in percent.
    Volume(u8),
    /// Pause media.
    Pause,
    /// Resume media.
    Play,
    /// Any other attribute (Emma-protocol devices only): `key=value`.
    Set(String, Value),
}

impl Action {
    /// Parses `key=value` as given to `emma devices set` (`state=on`, `brightness=40`, `color=red`…).
    pub fn parse_assignment(assignment: &str) -> Result<Action> {
        let bad = |reason: &str| DevicesError::Invalid {
            what: format!("{assignment:?}"),
            reason: reason.to_string(),
        };
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| bad("expected key=value, like state=on"))?;
        let (key, value) = (key.trim(), value.trim());
        let pct = || {
            value
                .trim_end_matches('%')
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| bad("expected a percentage 0-100"))
        };
        Ok(match key {
            "state" => match value.to_lowercase().as_str() {
                "on" | "open" | "locked" | "lock" | "true" | "1" => Action::TurnOn,
                "off" | "closed" | "close" | "unlocked" | "unlock" | "false" | "0" => {
                    Action::TurnOff
                }
                "pause" | "paused" => Action::Pause,
                "play" | "playing" => Action::Play,
                _ => {
                    return Err(bad(
                        "state is on, off, open, closed, locked, unlocked, play or pause",
                    ));
                }
            },
            "brightness" => Action::Brightness(pct()?),
            "position" => Action::Position(pct()?),
            "percentage" | "speed" => Action::Percentage(pct()?),
            "volume" => Action::Volume(pct()?),
            "temperature" => Action::Temperature(
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| bad("expected a number"))?,
            ),
            "color" | "colour" => Action::Color(color_rgb(value).ok_or_else(|| {
                bad("unknown colour; try red, green, blue, white, warm white or r,g,b")
            })?),
            "" => return Err(bad("empty key")),
            _ => Action::Set(
                key.to_string(),
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string())),
            ),
        })
    }
}

/// RGB for a colour name (English or German) or an `r,g,b` triple.
pub fn color_rgb(name: &str) -> Option<[u8; 3]> {
    let n = crate::registry::normalize(name);
    let parts: Vec<&str> = n.split(',').map(str::trim).collect();
    if let [r, g, b] = parts.as_slice() {
        return Some([r.parse().ok()?, g.parse().ok()?, b.parse().ok()?]);
    }
    Some(match n.as_str() {
        "red" | "rot" => [255, 0, 0],
        "green" | "grün" | "gruen" => [0, 255, 0],
        "blue" | "blau" => [0, 0, 255],
        "white" | "weiß" | "weiss" => [255, 255, 255],
        "warm white" | "warmweiß" | "warmweiss" => [255, 180, 107],
        "yellow" | "gelb" => [255, 255, 0],
        "orange" => [255, 165, 0],
        "purple" | "violet" | "lila" | "violett" => [128, 0, 128],
        "pink" | "rosa" => [255, 105, 180],
        "cyan" | "türkis" => [0, 255, 255],
        _ => return None,
    })
}

fn unsupported(device: &Device, what: &str) -> DevicesError {
    DevicesError::Unsupported {
        device: device.id.clone(),
        reason: format!("it cannot {what}"),
    }
}

fn or<'a>(v: &'a Option<String>, default: &'a str) -> &'a str {
    v.as_deref().unwrap_or(default)
}

/// The MQTT messages (topic, payload) that carry `action` to `device`.
/// Emma-protocol payloads carry `command_id` so the device can drop duplicates.
pub fn encode(device: &Device, action: &Action, command_id: &str) -> Result<Vec<(String, String)>> {
    check_domain(device, action)?;
    match &device.mqtt {
        None => Ok(vec![(
            device.emma_command_topic(),
            encode_emma(device, action, command_id).to_string(),
        )]),
        Some(m) if m.schema == PayloadSchema::Emma => {
            let topic = m
                .command_topic
                .clone()
                .unwrap_or_else(|| device.emma_command_topic());
            Ok(vec![(
                topic,
                encode_emma(device, action, command_id).to_string(),
            )])
        }
        Some(m) if m.schema == PayloadSchema::Json => encode_json(device, m, action),
        Some(m) => encode_basic(device, m, action),
    }
}

fn check_domain(device: &Device, action: &Action) -> Result<()> {
    let ok = match action {
        Action::TurnOn | Action::TurnOff => {
            !matches!(device.domain, Domain::Sensor | Domain::BinarySensor)
        }
        Action::Brightness(_) | Action::Color(_) => {
            device.domain == Domain::Light || device.domain == Domain::Custom
        }
        Action::Position(_) => matches!(device.domain, Domain::Cover | Domain::Custom),
        Action::Temperature(_) => matches!(device.domain, Domain::Climate | Domain::Custom),
        Action::Percentage(_) => matches!(device.domain, Domain::Fan | Domain::Custom),
        Action::Volume(_) | Action::Pause | Action::Play => {
            matches!(device.domain, Domain::MediaPlayer | Domain::Custom)
        }
        Action::Set(..) => device
            .mqtt
            .as_ref()
            .is_none_or(|m| m.schema == PayloadSchema::Emma),
    };
    if ok {
        Ok(())
    } else {
        Err(unsupported(device, &describe(action)))
    }
}

/// Words for an action, for messages ("set its brightness").
pub fn describe(action: &Action) -> String {
    match action {
        Action::TurnOn => "turn on".into(),
        Action::TurnOff => "turn off".into(),
        Action::Brightness(_) => "set its brightness".into(),
        Action::Color(_) => "change colour".into(),
        Action::Position(_) => "set a position".into(),
        Action::Temperature(_) => "set a temperature".into(),
        Action::Percentage(_) => "set a speed".into(),
        Action::Volume(_) => "set a volume".into(),
        Action::Pause => "pause".into(),
        Action::Play => "play".into(),
        Action::Set(k, _) => format!("set {k}"),
    }
}

fn on_off_words(domain: Domain) -> (&'static str, &'static str) {
    match domain {
        Domain::Cover => ("open", "closed"),
        Domain::Lock => ("locked", "unlocked"),
        _ => ("on", "off"),
    }
}

fn encode_emma(device: &Device, action: &Action, id: &str) -> Value {
    let (on, off) = on_off_words(device.domain);
    let mut v = match action {
        Action::TurnOn => json!({"state": on}),
        Action::TurnOff => json!({"state": off}),
        Action::Brightness(p) => json!({"state": "on", "brightness": p}),
        Action::Color(c) => json!({"state": "on", "color": c}),
        Action::Position(p) => json!({"position": p}),
        Action::Temperature(t) => json!({"temperature": t}),
        Action::Percentage(p) => json!({"percentage": p}),
        Action::Volume(p) => json!({"volume": p}),
        Action::Pause => json!({"media": "pause"}),
        Action::Play => json!({"media": "play"}),
        Action::Set(k, val) => {
            let mut m = Map::new();
            m.insert(k.clone(), val.clone());
            Value::Object(m)
        }
    };
    v["id"] = Value::String(id.to_string());
    v
}

fn scaled(pct: u8, scale: Option<u32>) -> u32 {
    let scale = scale.unwrap_or(255);
    ((pct as u32 * scale) + 50) / 100
}

fn encode_json(device: &Device, m: &MqttBinding, action: &Action) -> Result<Vec<(String, String)>> {
    let topic = m
        .command_topic
        .clone()
        .ok_or_else(|| unsupported(device, "receive commands (no command_topic)"))?;
    let payload = match action {
        Action::TurnOn => json!({"state": "ON"}),
        Action::TurnOff => json!({"state": "OFF"}),
        Action::Brightness(p) => {
            json!({"state": "ON", "brightness": scaled(*p, m.brightness_scale)})
        }
        Action::Color([r, g, b]) => json!({"state": "ON", "color": {"r": r, "g": g, "b": b}}),
        _ => return Err(unsupported(device, &describe(action))),
    };
    Ok(vec![(topic, payload.to_string())])
}

fn encode_basic(
    device: &Device,
    m: &MqttBinding,
    action: &Action,
) -> Result<Vec<(String, String)>> {
    let need = |t: &Option<String>, what: &str| t.clone().ok_or_else(|| unsupported(device, what));
    let cmd = || need(&m.command_topic, "receive commands (no command_topic)");
    Ok(vec![match action {
        Action::TurnOn => (
            cmd()?,
            match device.domain {
                Domain::Cover => or(&m.payload_open, "OPEN"),
                Domain::Lock => or(&m.payload_lock, "LOCK"),
                _ => or(&m.payload_on, "ON"),
            }
            .to_string(),
        ),
        Action::TurnOff => (
            cmd()?,
            match device.domain {
                Domain::Cover => or(&m.payload_close, "CLOSE"),
                Domain::Lock => or(&m.payload_unlock, "UNLOCK"),
                _ => or(&m.payload_off, "OFF"),
            }
            .to_string(),
        ),
        Action::Brightness(p) => (
            need(&m.brightness_command_topic, "set its brightness")?,
            scaled(*p, m.brightness_scale).to_string(),
        ),
        Action::Color([r, g, b]) => (
            need(&m.rgb_command_topic, "change colour")?,
            format!("{r},{g},{b}"),
        ),
        Action::Position(p) => (
            need(&m.set_position_topic, "set a position")?,
            p.to_string(),
        ),
        Action::Temperature(t) => (
            need(&m.temperature_command_topic, "set a temperature")?,
            t.to_string(),
        ),
        Action::Percentage(p) => (
            need(&m.percentage_command_topic, "set a speed")?,
            p.to_string(),
        ),
        Action::Volume(p) => (
            need(&m.volume_command_topic, "set a volume")?,
            format!("{}", *p as f64 / 100.0),
        ),
        Action::Pause => (cmd()?, or(&m.payload_pause, "PAUSE").to_string()),
        Action::Play => (cmd()?, or(&m.payload_play, "PLAY").to_string()),
        Action::Set(..) => return Err(unsupported(device, &describe(action))),
    }])
}

/// Picks a value out of JSON with a `{{ value_json.a.b }}` / `{{ value_json['a'] }}` / `{{ value }}` template.
fn apply_template(template: &str, payload: &str) -> Option<String> {
    let inner = template
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim();
    let inner = inner.split('|').next()?.trim();
    if inner == "value" {
        return Some(payload.to_string());
    }
    let path = inner.strip_prefix("value_json")?;
    let mut v: Value = serde_json::from_str(payload).ok()?;
    let mut rest = path;
    while !rest.is_empty() {
        let (key, next) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            (
                r[..end].trim_matches(|c| c == '\'' || c == '"'),
                &r[end + 1..],
            )
        } else {
            return None;
        };
        v = v.get(key)?.clone();
        rest = next;
    }
    Some(match v {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

/// Decodes a state message for `device`; `None` (logged) when it cannot be read.
pub fn decode_state(device: &Device, topic: &str, payload: &[u8]) -> Option<StateUpdate> {
    if payload.len() > MAX_STATE_BYTES {
        tracing::warn!(%topic, bytes = payload.len(), "state message over {MAX_STATE_BYTES} bytes skipped");
        return None;
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        tracing::warn!(%topic, "state message is not UTF-8; skipped");
        return None;
    };
    let schema = device
        .mqtt
        .as_ref()
        .map(|m| m.schema)
        .unwrap_or(PayloadSchema::Emma);
    let mut update = StateUpdate {
        device: device.id.clone(),
        state: None,
        attributes: Map::new(),
    };
    match schema {
        PayloadSchema::Emma | PayloadSchema::Json => {
            let obj = match crate::discovery::parse_json(topic, payload, MAX_STATE_BYTES) {
                Ok(Value::Object(o)) => o,
                Ok(_) => {
                    tracing::warn!(%topic, "state message is not a JSON object; skipped");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(%topic, reason = %e.reason, "state message skipped");
                    return None;
                }
            };
            for (k, v) in obj {
                match (k.as_str(), v) {
                    ("id", _) => {}
                    ("state", Value::String(s)) => update.state = Some(s.to_lowercase()),
                    (_, v) => {
                        update.attributes.insert(k, v);
                    }
                }
            }
        }
        PayloadSchema::Basic => {
            let m = device.mqtt.as_ref().expect("basic schema has a binding");
            let raw = match &m.value_template {
                Some(t) => match apply_template(t, text) {
                    Some(v) => v,
                    None => {
                        tracing::warn!(%topic, template = %t, "state message does not fit the value template; skipped");
                        return None;
                    }
                },
                None => text.trim().to_string(),
            };
            let is = |want: &Option<String>, fallback: &Option<String>, default: &str| {
                raw == want.as_deref().or(fallback.as_deref()).unwrap_or(default)
            };
            let state = match device.domain {
                _ if is(&m.state_on, &m.payload_on, "ON") => "on".to_string(),
                _ if is(&m.state_off, &m.payload_off, "OFF") => "off".to_string(),
                Domain::Sensor => raw,
                _ => raw.to_lowercase(),
            };
            update.state = Some(state);
        }
    }
    Some(update)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic_light() -> Device {
        let mut d = Device::new("light.k", "k", Domain::Light);
        d.mqtt = Some(MqttBinding {
            schema: PayloadSchema::Basic,
            command_topic: Some("k/set".into()),
            brightness_command_topic: Some("k/bri".into()),
            brightness_scale: Some(100),
            payload_on: Some("1".into()),
            payload_off: Some("0".into()),
            ..Default::default()
        });
        d
    }

    #[test]
    fn encodes_each_schema() {
        let emma = Device::new("light.lamp", "lamp", Domain::Light);
        let out = encode(&emma, &Action::Brightness(40), "c1").unwrap();
        assert_eq!(out[0].0, "emma/device/light.lamp/set");
        let v: Value = serde_json::from_str(&out[0].1).unwrap();
        assert_eq!(v, json!({"id": "c1", "state": "on", "brightness": 40}));

        let basic = basic_light();
        assert_eq!(
            encode(&basic, &Action::TurnOn, "x").unwrap(),
            vec![("k/set".into(), "1".into())]
        );
        assert_eq!(
            encode(&basic, &Action::Brightness(40), "x").unwrap(),
            vec![("k/bri".into(), "40".into())]
        );
        let err = encode(&basic, &Action::Color([1, 2, 3]), "x").unwrap_err();
        assert_eq!(err.to_string(), "device light.k: it cannot change colour");

        let mut json_light = Device::new("light.j", "j", Domain::Light);
        json_light.mqtt = Some(MqttBinding {
            schema: PayloadSchema::Json,
            command_topic: Some("j/set".into()),
            ..Default::default()
        });
        let out = encode(&json_light, &Action::Brightness(100), "x").unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&out[0].1).unwrap(),
            json!({"state": "ON", "brightness": 255})
        );

        let mut cover = Device::new("cover.b", "b", Domain::Cover);
        cover.mqtt = Some(MqttBinding {
            schema: PayloadSchema::Basic,
            command_topic: Some("b/set".into()),
            ..Default::default()
        });
        assert_eq!(encode(&cover, &Action::TurnOff, "x").unwrap()[0].1, "CLOSE");
        let err = encode(
            &Device::new("sensor.t", "t", Domain::Sensor),
            &Action::TurnOn,
            "x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot turn on"));
    }

    #[test]
    fn parses_assignments() {
        assert_eq!(
            Action::parse_assignment("state=on").unwrap(),
            Action::TurnOn
        );
        assert_eq!(
            Action::parse_assignment("brightness=40%").unwrap(),
            Action::Brightness(40)
        );
        assert_eq!(
            Action::parse_assignment("color=rot").unwrap(),
            Action::Color([255, 0, 0])
        );
        assert_eq!(
            Action::parse_assignment("mode=\"eco\"").unwrap(),
            Action::Set("mode".into(), json!("eco"))
        );
        for bad in [
            "state",
            "brightness=140",
            "state=maybe",
            "temperature=warm",
            "color=plaid",
            "=1",
        ] {
            let e = Action::parse_assignment(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{bad:?}: ")), "{e}");
        }
    }

    #[test]
    fn decodes_states() {
        let basic = basic_light();
        assert_eq!(
            decode_state(&basic, "k/state", b"1")
                .unwrap()
                .state
                .as_deref(),
            Some("on")
        );
        assert_eq!(
            decode_state(&basic, "k/state", b"0")
                .unwrap()
                .state
                .as_deref(),
            Some("off")
        );
        let mut sensor = Device::new("sensor.t", "t", Domain::Sensor);
        sensor.mqtt = Some(MqttBinding {
            schema: PayloadSchema::Basic,
            state_topic: Some("s".into()),
            value_template: Some("{{ value_json['env'].temp }}".into()),
            ..Default::default()
        });
        assert_eq!(
            decode_state(&sensor, "s", br#"{"env":{"temp":21.5}}"#)
                .unwrap()
                .state
                .as_deref(),
            Some("21.5")
        );
        assert!(decode_state(&sensor, "s", b"not json").is_none());
        let emma = Device::new("light.l", "l", Domain::Light);
        let u = decode_state(&emma, "t", br#"{"id":"x","state":"ON","brightness":30}"#).unwrap();
        assert_eq!(u.state.as_deref(), Some("on"));
        assert_eq!(u.attributes["brightness"], 30);
        assert!(!u.attributes.contains_key("id"));
        assert!(decode_state(&emma, "t", &[0xff]).is_none());
        assert!(decode_state(&emma, "t", &vec![b' '; MAX_STATE_BYTES + 1]).is_none());
    }
}
