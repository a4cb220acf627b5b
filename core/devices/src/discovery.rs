//! Home Assistant MQTT discovery: `homeassistant/<component>/[<node_id>/]<object_id>/config`.
//!
//! Devices announce themselves with a retained JSON config on such a topic;
//! this module turns one into a [`Device`] with its command/state topics and
//! payloads. Everything from the network is untrusted: oversized, non-UTF-8,
//! non-JSON, deeply nested or malformed configs and unknown topics are
//! rejected with a [`DiscoveryError`] naming the topic and the reason, never a panic.

use serde_json::{Map, Value};

use crate::device::{Device, Domain, MqttBinding, PayloadSchema};

/// The default discovery prefix.
pub const PREFIX: &str = "homeassistant";

/// Largest discovery config accepted.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// Deepest JSON nesting accepted (real configs nest 2-3 levels).
pub const MAX_DEPTH: usize = 32;

/// Why a discovery message was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("discovery message on {topic}: {reason}; skipped")]
pub struct DiscoveryError {
    /// The MQTT topic it came on.
    pub topic: String,
    /// What is wrong with it.
    pub reason: String,
}

/// What a discovery message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Discovered {
    /// Add or update this device.
    Device(Box<Device>),
    /// The device with this id is gone (empty retained config).
    Removed(String),
}

/// Long names for Home Assistant's abbreviated config keys that Emma reads.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("cmd_t", "command_topic"),
    ("stat_t", "state_topic"),
    ("bri_cmd_t", "brightness_command_topic"),
    ("bri_scl", "brightness_scale"),
    ("rgb_cmd_t", "rgb_command_topic"),
    ("set_pos_t", "set_position_topic"),
    ("temp_cmd_t", "temperature_command_topic"),
    ("pct_cmd_t", "percentage_command_topic"),
    ("pl_on", "payload_on"),
    ("pl_off", "payload_off"),
    ("pl_open", "payload_open"),
    ("pl_cls", "payload_close"),
    ("pl_stop", "payload_stop"),
    ("pl_lock", "payload_lock"),
    ("pl_unlk", "payload_unlock"),
    ("stat_on", "state_on"),
    ("stat_off", "state_off"),
    ("val_tpl", "value_template"),
    ("stat_val_tpl", "state_value_template"),
    ("uniq_id", "unique_id"),
    ("obj_id", "object_id"),
    ("dev", "device"),
    ("sa", "suggested_area"),
    ("sup_clrm", "supported_color_modes"),
    ("bri", "brightness"),
];

fn err(topic: &str, reason: impl Into<String>) -> DiscoveryError {
    DiscoveryError {
        topic: topic.to_string(),
        reason: reason.into(),
    }
}

/// The component and object id of a discovery topic, or why it is not one.
pub fn parse_topic(topic: &str) -> Result<(&str, &str), DiscoveryError> {
    let parts: Vec<&str> = topic.split('/').collect();
    match parts.as_slice() {
        [PREFIX, component, object, "config"] | [PREFIX, component, _, object, "config"] => {
            if object.is_empty() || component.is_empty() {
                return Err(err(topic, "empty component or object id"));
            }
            Ok((component, object))
        }
        _ => Err(err(
            topic,
            "not a discovery topic (homeassistant/<component>/[<node>/]<object>/config)",
        )),
    }
}

/// Maps a discovery component to a domain; `None` for components Emma does not drive.
pub fn component_domain(component: &str) -> Option<Domain> {
    Some(match component {
        "light" => Domain::Light,
        "switch" => Domain::Switch,
        "cover" => Domain::Cover,
        "climate" => Domain::Climate,
        "fan" => Domain::Fan,
        "lock" => Domain::Lock,
        "sensor" => Domain::Sensor,
        "binary_sensor" => Domain::BinarySensor,
        "media_player" => Domain::MediaPlayer,
        "vacuum" => Domain::Vacuum,
        "button" | "number" | "select" | "siren" | "valve" | "humidifier" | "water_heater" => {
            Domain::Custom
        }
        _ => return None,
    })
}

/// Parses an untrusted JSON payload with size, UTF-8 and nesting checks.
pub fn parse_json(topic: &str, payload: &[u8], max_bytes: usize) -> Result<Value, DiscoveryError> {
    if payload.len() > max_bytes {
        return Err(err(
            topic,
            format!(
                "payload of {} bytes is over the {max_bytes}-byte limit",
                payload.len()
            ),
        ));
    }
    let text = std::str::from_utf8(payload).map_err(|e| {
        err(
            topic,
            format!("payload is not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let depth = json_depth(text);
    if depth > MAX_DEPTH {
        return Err(err(
            topic,
            format!("JSON nested {depth} levels deep, over the limit of {MAX_DEPTH}"),
        ));
    }
    serde_json::from_str(text).map_err(|e| err(topic, format!("not valid JSON: {e}")))
}

/// The deepest bracket nesting in `text`, ignoring brackets inside strings.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn expand(obj: &Map<String, Value>) -> Map<String, Value> {
    let base = obj.get("~").and_then(Value::as_str).map(str::to_string);
    let mut out = Map::new();
    for (k, v) in obj {
        let key = ABBREVIATIONS
            .iter()
            .find(|(short, _)| short == k)
            .map(|(_, long)| long.to_string())
            .unwrap_or_else(|| k.clone());
        let v = match (&base, v) {
            (Some(base), Value::String(s)) if key.ends_with("_topic") => {
                if let Some(rest) = s.strip_prefix('~') {
                    Value::String(format!("{base}{rest}"))
                } else if let Some(front) = s.strip_suffix('~') {
                    Value::String(format!("{front}{base}"))
                } else {
                    v.clone()
                }
            }
            (_, Value::Object(inner)) => Value::Object(expand(inner)),
            _ => v.clone(),
        };
        out.insert(key, v);
    }
    out
}

/// Longest device or area name taken from a discovery message, in characters.
const MAX_NAME_CHARS: usize = 100;

fn slug(text: &str) -> String {
    let mut s: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').to_string()
}

/// Turns one discovery message into a device (or a removal).
pub fn parse_config(topic: &str, payload: &[u8]) -> Result<Discovered, DiscoveryError> {
    let (component, object) = parse_topic(topic)?;
    let domain = component_domain(component).ok_or_else(|| {
        err(
            topic,
            format!("component {component:?} is not one Emma drives"),
        )
    })?;
    let object_id = slug(object);
    if object_id.is_empty() {
        return Err(err(topic, "object id has no letters or digits"));
    }
    let id = format!("{}.{object_id}", domain.as_str());
    if payload.is_empty() {
        return Ok(Discovered::Removed(id));
    }
    let value = parse_json(topic, payload, MAX_CONFIG_BYTES)?;
    let Value::Object(obj) = value else {
        return Err(err(topic, "config is not a JSON object"));
    };
    let c = expand(&obj);
    let text = |key: &str| -> Result<Option<String>, DiscoveryError> {
        match c.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(err(topic, format!("field {key} must be a string"))),
        }
    };
    let topic_field = |key: &str| -> Result<Option<String>, DiscoveryError> {
        let t = text(key)?;
        if let Some(t) = &t
            && (t.is_empty() || t.contains('+') || t.contains('#') || t.contains('\0'))
        {
            return Err(err(
                topic,
                format!("field {key} is not a valid topic to publish to: {t:?}"),
            ));
        }
        Ok(t)
    };
    let device_obj = c.get("device").and_then(Value::as_object);
    let name = text("name")?
        .or_else(|| {
            device_obj
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        // Any device on the network writes this; it is shown and spoken, so
        // escape sequences, controls and bidi characters go and it is capped.
        .map(|n| emma_untrusted::line(&n, MAX_NAME_CHARS))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| object_id.replace('_', " "));
    let area = device_obj
        .and_then(|d| d.get("suggested_area"))
        .and_then(Value::as_str)
        .map(|a| slug(&emma_untrusted::line(a, MAX_NAME_CHARS)))
        .filter(|a| !a.is_empty());
    let schema = match text("schema")?.as_deref() {
        Some("json") => PayloadSchema::Json,
        None | Some("default") | Some("basic") | Some("template") => PayloadSchema::Basic,
        Some(other) => {
            return Err(err(
                topic,
                format!("field schema {other:?} is not default or json"),
            ));
        }
    };
    let brightness_scale = match c.get("brightness_scale") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=65_535).contains(n))
                .ok_or_else(|| {
                    err(
                        topic,
                        "field brightness_scale must be a whole number 1-65535",
                    )
                })? as u32,
        ),
    };
    let binding = MqttBinding {
        schema,
        command_topic: topic_field("command_topic")?,
        state_topic: topic_field("state_topic")?,
        brightness_command_topic: topic_field("brightness_command_topic")?,
        brightness_scale,
        rgb_command_topic: topic_field("rgb_command_topic")?,
        set_position_topic: topic_field("set_position_topic")?,
        temperature_command_topic: topic_field("temperature_command_topic")?,
        percentage_command_topic: topic_field("percentage_command_topic")?,
        volume_command_topic: topic_field("volume_command_topic")?,
        payload_on: text("payload_on")?,
        payload_off: text("payload_off")?,
        payload_open: text("payload_open")?,
        payload_close: text("payload_close")?,
        payload_stop: text("payload_stop")?,
        payload_lock: text("payload_lock")?,
        payload_unlock: text("payload_unlock")?,
        payload_play: text("payload_play")?,
        payload_pause: text("payload_pause")?,
        state_on: text("state_on")?,
        state_off: text("state_off")?,
        value_template: text("value_template")?.or(text("state_value_template")?),
    };
    let read_only = matches!(domain, Domain::Sensor | Domain::BinarySensor);
    if !read_only && binding.command_topic.is_none() && binding.temperature_command_topic.is_none()
    {
        return Err(err(topic, format!("a {component} needs a command_topic")));
    }
    if read_only && binding.state_topic.is_none() {
        return Err(err(topic, format!("a {component} needs a state_topic")));
    }
    let mut device = Device::new(id, name, domain);
    device.area = area;
    let json_flag = |key: &str| c.get(key).and_then(Value::as_bool).unwrap_or(false);
    let color_modes: Vec<&str> = c
        .get("supported_color_modes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut caps = Vec::new();
    if binding.brightness_command_topic.is_some()
        || (schema == PayloadSchema::Json
            && (json_flag("brightness") || color_modes.iter().any(|m| *m != "onoff")))
    {
        caps.push("brightness");
    }
    if binding.rgb_command_topic.is_some()
        || color_modes
            .iter()
            .any(|m| matches!(*m, "rgb" | "rgbw" | "rgbww" | "hs" | "xy"))
    {
        caps.push("color");
    }
    if binding.set_position_topic.is_some() {
        caps.push("position");
    }
    if binding.temperature_command_topic.is_some() {
        caps.push("temperature");
    }
    if binding.percentage_command_topic.is_some() {
        caps.push("percentage");
    }
    if binding.volume_command_topic.is_some() {
        caps.push("volume");
    }
    if let Some(class) = text("device_class")? {
        device
            .attributes
            .insert("device_class".into(), Value::String(class));
    }
    if let Some(unit) = text("unit_of_measurement")? {
        device
            .attributes
            .insert("unit_of_measurement".into(), Value::String(unit));
    }
    device.capabilities = caps.into_iter().map(str::to_string).collect();
    device.mqtt = Some(binding);
    Ok(Discovered::Device(Box::new(device)))
}

/// The discovery config Emma publishes for one of its own sensors (assistant state, last intent).
pub fn own_sensor_config(object_id: &str, name: &str, state_topic: &str) -> (String, String) {
    let topic = format!("{PREFIX}/sensor/emma/{object_id}/config");
    let config = serde_json::json!({
        "name": name,
        "unique_id": format!("emma_{object_id}"),
        "object_id": format!("emma_{object_id}"),
        "state_topic": state_topic,
        "device": {
            "identifiers": ["emma"],
            "name": "Emma",
            "manufacturer": "Emma",
            "model": "voice assistant",
        },
    });
    (topic, config.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(topic: &str, json: &str) -> Device {
        match parse_config(topic, json.as_bytes()).unwrap() {
            Discovered::Device(d) => *d,
            other => panic!("expected a device, got {other:?}"),
        }
    }

    #[test]
    fn basic_light_with_abbreviations_and_base_topic() {
        let d = device(
            "homeassistant/light/node1/kitchen_lamp/config",
            r#"{"~":"home/kitchen/lamp","name":"Kitchen lamp","cmd_t":"~/set","stat_t":"~/state",
                "bri_cmd_t":"~/brightness/set","bri_scl":100,"pl_on":"1","pl_off":"0",
                "dev":{"name":"Lamp","sa":"Kitchen"}}"#,
        );
        assert_eq!(d.id, "light.kitchen_lamp");
        assert_eq!(d.name, "Kitchen lamp");
        assert_eq!(d.area.as_deref(), Some("kitchen"));
        let m = d.mqtt.as_ref().unwrap();
        assert_eq!(m.command_topic.as_deref(), Some("home/kitchen/lamp/set"));
        assert_eq!(
            m.brightness_command_topic.as_deref(),
            Some("home/kitchen/lamp/brightness/set")
        );
        assert_eq!(m.brightness_scale, Some(100));
        assert_eq!(m.payload_on.as_deref(), Some("1"));
        assert!(d.can("brightness"));
        assert!(!d.can("color"));
    }

    #[test]
    fn json_light_cover_climate_sensor() {
        let d = device(
            "homeassistant/light/desk/config",
            r#"{"schema":"json","command_topic":"z2m/desk/set","state_topic":"z2m/desk","supported_color_modes":["xy"]}"#,
        );
        assert_eq!(d.mqtt.as_ref().unwrap().schema, PayloadSchema::Json);
        assert!(d.can("brightness") && d.can("color"));
        assert_eq!(d.name, "desk");
        let d = device(
            "homeassistant/cover/blind/config",
            r#"{"name":"Blind","command_topic":"b/set","set_position_topic":"b/pos"}"#,
        );
        assert!(d.can("position"));
        let d = device(
            "homeassistant/climate/hall/config",
            r#"{"name":"Thermostat","temperature_command_topic":"t/set"}"#,
        );
        assert!(d.can("temperature"));
        let d = device(
            "homeassistant/sensor/temp/config",
            r#"{"name":"Temperature","state_topic":"s/t","unit_of_measurement":"°C","value_template":"{{ value_json.t }}"}"#,
        );
        assert_eq!(d.domain, Domain::Sensor);
        assert_eq!(d.attributes["unit_of_measurement"], "°C");
    }

    #[test]
    fn empty_payload_removes() {
        assert_eq!(
            parse_config("homeassistant/switch/kettle/config", b"").unwrap(),
            Discovered::Removed("switch.kettle".into())
        );
    }

    #[test]
    fn announced_names_cannot_drive_the_terminal() {
        let d = device(
            "homeassistant/light/evil/config",
            r#"{"name":"\u001b[2JEvil\u0007\r\u202eLamp","cmd_t":"x/set",
                "dev":{"sa":"\u001b]0;pwned\u0007Kitchen"}}"#,
        );
        assert_eq!(d.name, "Evil Lamp");
        assert_eq!(d.area.as_deref(), Some("kitchen"));
        let long = format!(r#"{{"name":"{}","cmd_t":"x/set"}}"#, "x".repeat(10_000));
        let d = device("homeassistant/light/long/config", &long);
        assert_eq!(d.name.chars().count(), MAX_NAME_CHARS);
        // Nothing printable left: the object id names it.
        let d = device(
            "homeassistant/light/blank_one/config",
            r#"{"name":"\u001b[2J\u200b","cmd_t":"x/set"}"#,
        );
        assert_eq!(d.name, "blank one");
    }

    #[test]
    fn bad_input_names_topic_and_reason() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "homeassistant/light/x/config",
                b"{not json".to_vec(),
                "not valid JSON",
            ),
            (
                "homeassistant/light/x/config",
                vec![0xff, 0xfe],
                "not UTF-8",
            ),
            (
                "homeassistant/light/x/config",
                b"[1,2]".to_vec(),
                "not a JSON object",
            ),
            (
                "homeassistant/light/x/config",
                vec![b' '; MAX_CONFIG_BYTES + 1],
                "over the 262144-byte limit",
            ),
            (
                "homeassistant/light/x/config",
                format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
                "nested 10000 levels",
            ),
            (
                "homeassistant/light/x/config",
                br#"{"name":"x"}"#.to_vec(),
                "needs a command_topic",
            ),
            (
                "homeassistant/light/x/config",
                br#"{"command_topic":"a/#"}"#.to_vec(),
                "not a valid topic",
            ),
            (
                "homeassistant/light/x/config",
                br#"{"command_topic":["a"]}"#.to_vec(),
                "field command_topic must be a string",
            ),
            (
                "homeassistant/light/x/config",
                br#"{"command_topic":"a","schema":"weird"}"#.to_vec(),
                "schema",
            ),
            (
                "homeassistant/light/x/config",
                br#"{"command_topic":"a","brightness_scale":-1}"#.to_vec(),
                "brightness_scale",
            ),
            (
                "homeassistant/sensor/x/config",
                br#"{"name":"x"}"#.to_vec(),
                "needs a state_topic",
            ),
            (
                "homeassistant/teleporter/x/config",
                b"{}".to_vec(),
                "not one Emma drives",
            ),
            (
                "homeassistant/light/x/state",
                b"{}".to_vec(),
                "not a discovery topic",
            ),
            (
                "other/light/x/config",
                b"{}".to_vec(),
                "not a discovery topic",
            ),
            (
                "homeassistant/light/%%%/config",
                b"{}".to_vec(),
                "no letters or digits",
            ),
        ];
        for (topic, payload, reason) in cases {
            let e = parse_config(topic, &payload).unwrap_err();
            assert_eq!(e.topic, topic);
            assert!(e.reason.contains(reason), "{topic}: {}", e.reason);
            assert!(
                e.to_string()
                    .starts_with(&format!("discovery message on {topic}: "))
            );
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(r#"{"a":"[[[[\"{{{{"}"#), 1);
        assert_eq!(json_depth(r#"{"a":{"b":[1]}}"#), 3);
    }

    #[test]
    fn own_entities_are_valid_discovery_configs() {
        let (topic, config) = own_sensor_config(
            "last_intent",
            "Emma last intent",
            "emma/assistant/last_intent",
        );
        let d = device(&topic, &config);
        assert_eq!(d.id, "sensor.last_intent");
        assert_eq!(
            d.mqtt.unwrap().state_topic.as_deref(),
            Some("emma/assistant/last_intent")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
                                           component in "[a-z_]{0,12}") {
            let topic = format!("homeassistant/{component}/obj/config");
            let _ = parse_config(&topic, &payload);
        }

        #[test]
        fn never_panics_on_json_like_text(text in r#"[\{\}\[\]":,a-z0-9~_ ]{0,300}"#) {
            let _ = parse_config("homeassistant/light/x/config", text.as_bytes());
            let _ = parse_json("t", text.as_bytes(), 1024);
        }

        #[test]
        fn arbitrary_json_objects_parse_or_fail_cleanly(
            keys in proptest::collection::vec("(cmd_t|stat_t|name|~|schema|bri_scl|dev|pl_on|command_topic)", 0..8),
            values in proptest::collection::vec("[a-z/~#+]{0,10}", 0..8)) {
            let obj: Map<String, Value> = keys.into_iter().zip(values).map(|(k, v)| (k, Value::String(v))).collect();
            let payload = serde_json::to_vec(&Value::Object(obj)).unwrap();
            let _ = parse_config("homeassistant/light/x/config", &payload);
        }
    }
}
