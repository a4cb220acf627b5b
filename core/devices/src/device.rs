//! What Emma knows about one device, area and floor.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kind of device, as Home Assistant names its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// A lamp (on/off, brightness, colour).
    Light,
    /// A plug or relay (on/off).
    Switch,
    /// Blinds, shutters, garage doors (open/close/position).
    Cover,
    /// Thermostats (target temperature).
    Climate,
    /// Fans (on/off, speed).
    Fan,
    /// Speakers and TVs (play/pause/volume).
    MediaPlayer,
    /// Read-only values (temperature, humidity…).
    Sensor,
    /// Read-only on/off values (door open, motion).
    BinarySensor,
    /// Door locks (lock/unlock).
    Lock,
    /// Robot vacuums (start/stop/return).
    Vacuum,
    /// Anything else a brand ships (a coffee machine…).
    Custom,
}

impl Domain {
    /// All domains, in declaration order.
    pub const ALL: [Domain; 11] = [
        Domain::Light,
        Domain::Switch,
        Domain::Cover,
        Domain::Climate,
        Domain::Fan,
        Domain::MediaPlayer,
        Domain::Sensor,
        Domain::BinarySensor,
        Domain::Lock,
        Domain::Vacuum,
        Domain::Custom,
    ];

    /// The snake_case name (`media_player`), as used in ids and intent contexts.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Light => "light",
            Domain::Switch => "switch",
            Domain::Cover => "cover",
            Domain::Climate => "climate",
            Domain::Fan => "fan",
            Domain::MediaPlayer => "media_player",
            Domain::Sensor => "sensor",
            Domain::BinarySensor => "binary_sensor",
            Domain::Lock => "lock",
            Domain::Vacuum => "vacuum",
            Domain::Custom => "custom",
        }
    }

    /// Parses a snake_case domain name; `None` when unknown.
    pub fn parse(name: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// Whether devices of this domain can be switched on and off.
    pub fn switchable(self) -> bool {
        matches!(
            self,
            Domain::Light
                | Domain::Switch
                | Domain::Fan
                | Domain::MediaPlayer
                | Domain::Climate
                | Domain::Custom
        )
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How commands for a device are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadSchema {
    /// Emma's own protocol: one JSON object per command carrying the command id,
    /// so receivers can drop duplicates (`{"id": "…", "state": "on", "brightness": 40}`).
    #[default]
    Emma,
    /// Home Assistant's default MQTT schema: plain payloads (`ON`/`OFF`) on one topic per attribute.
    Basic,
    /// Home Assistant's JSON schema (lights): one JSON object on the command topic.
    Json,
}

/// Where and how a device is reached over MQTT (from Home Assistant discovery or registration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MqttBinding {
    /// How command payloads are encoded.
    pub schema: PayloadSchema,
    /// The main command topic (on/off, open/close, lock/unlock, JSON commands).
    pub command_topic: Option<String>,
    /// Where the device reports its state.
    pub state_topic: Option<String>,
    /// Brightness commands (basic schema lights).
    pub brightness_command_topic: Option<String>,
    /// The brightness value that means 100 % (Home Assistant's `brightness_scale`, default 255).
    pub brightness_scale: Option<u32>,
    /// Colour commands as `r,g,b` (basic schema lights).
    pub rgb_command_topic: Option<String>,
    /// Cover position commands.
    pub set_position_topic: Option<String>,
    /// Climate target temperature commands.
    pub temperature_command_topic: Option<String>,
    /// Fan speed percentage commands.
    pub percentage_command_topic: Option<String>,
    /// Media player volume commands.
    pub volume_command_topic: Option<String>,
    /// Payload meaning "on" (default `ON`).
    pub payload_on: Option<String>,
    /// Payload meaning "off" (default `OFF`).
    pub payload_off: Option<String>,
    /// Cover "open" payload (default `OPEN`).
    pub payload_open: Option<String>,
    /// Cover "close" payload (default `CLOSE`).
    pub payload_close: Option<String>,
    /// Cover "stop" payload (default `STOP`).
    pub payload_stop: Option<String>,
    /// Lock "lock" payload (default `LOCK`).
    pub payload_lock: Option<String>,
    /// Lock "unlock" payload (default `UNLOCK`).
    pub payload_unlock: Option<String>,
    /// Media "play" payload (default `PLAY`).
    pub payload_play: Option<String>,
    /// Media "pause" payload (default `PAUSE`).
    pub payload_pause: Option<String>,
    /// The state payload meaning "on", when it differs from `payload_on`.
    pub state_on: Option<String>,
    /// The state payload meaning "off", when it differs from `payload_off`.
    pub state_off: Option<String>,
    /// A `{{ value_json.key }}`-style template picking the state out of a JSON state payload.
    pub value_template: Option<String>,
}

/// One device in the home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Stable id, `domain.object_id` (`light.kitchen_lamp`).
    pub id: String,
    /// The name people say ("kitchen lamp").
    pub name: String,
    /// Other names people say ("ceiling light").
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The area (room) id it is in, if any.
    #[serde(default)]
    pub area: Option<String>,
    /// What kind of device it is.
    pub domain: Domain,
    /// What it can do beyond its domain's basics (`brightness`, `color`, `position`, `volume`…).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Its current state (`on`, `off`, `open`, `21.5`…), once known.
    #[serde(default)]
    pub state: Option<String>,
    /// Other current values (`brightness`, `temperature`, `volume`…).
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// How to reach it over MQTT; `None` means Emma's own topics (`emma/device/<id>/set`).
    #[serde(default)]
    pub mqtt: Option<MqttBinding>,
}

impl Device {
    /// A device with just an id, a name and a domain; everything else empty.
    pub fn new(id: impl Into<String>, name: impl Into<String>, domain: Domain) -> Device {
        Device {
            id: id.into(),
            name: name.into(),
            aliases: Vec::new(),
            area: None,
            domain,
            capabilities: Vec::new(),
            state: None,
            attributes: Map::new(),
            mqtt: None,
        }
    }

    /// Builder: puts the device in an area.
    pub fn in_area(mut self, area: impl Into<String>) -> Device {
        self.area = Some(area.into());
        self
    }

    /// Builder: adds an alias.
    pub fn with_alias(mut self, alias: impl Into<String>) -> Device {
        self.aliases.push(alias.into());
        self
    }

    /// Builder: adds a capability.
    pub fn with_capability(mut self, capability: impl Into<String>) -> Device {
        self.capabilities.push(capability.into());
        self
    }

    /// Whether the device declares `capability`.
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// The topic Emma-protocol devices receive commands on.
    pub fn emma_command_topic(&self) -> String {
        format!("emma/device/{}/set", self.id)
    }

    /// The topic Emma-protocol devices report their state on.
    pub fn emma_state_topic(&self) -> String {
        format!("emma/device/{}/state", self.id)
    }

    /// The object part of the id (`kitchen_lamp` for `light.kitchen_lamp`).
    pub fn object_id(&self) -> &str {
        self.id.split_once('.').map(|(_, o)| o).unwrap_or(&self.id)
    }
}

/// A room or zone ("kitchen").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// Stable id (`kitchen`).
    pub id: String,
    /// The name people say.
    pub name: String,
    /// Other names people say.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The floor it is on, if any.
    #[serde(default)]
    pub floor: Option<String>,
}

/// A storey ("ground floor").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Floor {
    /// Stable id (`ground`).
    pub id: String,
    /// The name people say.
    pub name: String,
    /// Other names people say.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Level number (0 ground, 1 first, -1 basement), if known.
    #[serde(default)]
    pub level: Option<i32>,
}
