//! Built-in home-control intents: text → intent → device commands → reply.
//!
//! Emma's own templates (`intents/en.yaml`, `intents/de.yaml`, hassil format)
//! cover turning things on and off, light brightness and colour, cover
//! position, thermostat temperature, state questions and media. The `{name}`,
//! `{area}` and `{floor}` lists come from the registry. Planning (which devices,
//! which action, what to say) is a pure function of the match and the registry;
//! [`HomeControl::handle`] then sends the commands through the [`Home`]'s outbox.
//! What it says comes from per-language response files ([`crate::responses`]),
//! not from code.

use std::collections::BTreeMap;

use emma_intent::{Context, IntentEngine, IntentMatch, ListValue};
use serde::Serialize;

use crate::device::{Device, Domain};
use crate::error::{DevicesError, Result};
use crate::home::{Home, SentCommand};
use crate::registry::{IntentLists, Registry, Target};
use crate::responses::ControlResponses;
use crate::wire::{Action, color_rgb};

/// Emma's English home-control templates.
pub const EN_YAML: &str = include_str!("../intents/en.yaml");
/// Emma's German home-control templates.
pub const DE_YAML: &str = include_str!("../intents/de.yaml");

/// Languages with built-in templates.
pub const BUILTIN_LANGUAGES: [&str; 2] = ["en", "de"];

/// What Emma did with one utterance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The recognised intent, if any.
    pub intent: Option<String>,
    /// Slot values (slot name → value).
    pub slots: BTreeMap<String, String>,
    /// Commands sent (or, from [`HomeControl::plan`], to send).
    pub commands: Vec<SentCommand>,
    /// What Emma answers.
    pub reply: String,
}

/// Loads the registry's `{name}`, `{area}` and `{floor}` lists into any engine
/// (one built from these templates, or one merged with skills' templates).
pub fn load_lists(engine: &mut IntentEngine, lists: &IntentLists) {
    for (name, entries) in [
        ("name", &lists.name),
        ("area", &lists.area),
        ("floor", &lists.floor),
    ] {
        let values = entries
            .iter()
            .map(|e| {
                e.context.iter().fold(
                    ListValue::new(e.text.clone(), e.value.clone()),
                    |v, (k, c)| v.with_context(k.clone(), c.clone()),
                )
            })
            .collect();
        engine.set_list(name, values);
    }
}

/// A match's slots as [`Slots`]: the value as text, and the words said (the
/// value itself for fixed slots, which have no spoken text).
pub fn slots_of(m: &IntentMatch) -> Slots {
    m.slots
        .iter()
        .map(|(k, v)| {
            let value = v.value.to_string();
            let spoken = if v.text.is_empty() {
                value.clone()
            } else {
                v.text.clone()
            };
            (k.to_string(), (value, spoken))
        })
        .collect()
}

/// The slot a dialog fills with the device ids "it" / "them" refers to (comma-separated).
pub const DEVICES_SLOT: &str = "devices";

/// Slot values with the words they were said with: slot → (value, spoken text).
pub type Slots = BTreeMap<String, (String, String)>;

/// A plan for one utterance: device actions plus the reply once they are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The intent.
    pub intent: String,
    /// Slot values.
    pub slots: BTreeMap<String, String>,
    /// What to do to which device (by id).
    pub actions: Vec<(String, Action)>,
    /// The reply.
    pub reply: String,
}

/// The intent engine loaded with home-control templates and the registry's lists.
pub struct HomeControl {
    engine: IntentEngine,
    responses: ControlResponses,
    generation: Option<u64>,
}

impl std::fmt::Debug for HomeControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeControl")
            .field("language", &self.responses.language())
            .finish()
    }
}

impl HomeControl {
    /// Emma's built-in templates for `lang` (`en` or `de`).
    pub fn builtin(lang: &str) -> Result<HomeControl> {
        let yaml = match lang {
            "en" => EN_YAML,
            "de" => DE_YAML,
            other => {
                return Err(DevicesError::Intents {
                    origin: "built-in".into(),
                    reason: format!(
                        "no built-in home-control intents for language {other:?} (have: en, de); pass --intents"
                    ),
                });
            }
        };
        HomeControl::from_yaml(yaml, &format!("built-in {lang}.yaml"), lang)
    }

    /// Templates from YAML (hassil format); replies are the built-in responses for
    /// `lang`, or English when it has none (replace them with [`HomeControl::with_responses`]).
    pub fn from_yaml(yaml: &str, origin: &str, lang: &str) -> Result<HomeControl> {
        let engine =
            IntentEngine::from_yaml_str(yaml, origin, lang).map_err(|e| DevicesError::Intents {
                origin: origin.to_string(),
                reason: e.to_string(),
            })?;
        Ok(HomeControl {
            engine,
            responses: ControlResponses::builtin_or_english(lang),
            generation: None,
        })
    }

    /// Templates from a file or HA intents tree, as the intent engine loads them.
    pub fn from_path(path: &std::path::Path, lang: &str) -> Result<HomeControl> {
        let engine = IntentEngine::from_path(path, lang).map_err(|e| DevicesError::Intents {
            origin: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(HomeControl {
            engine,
            responses: ControlResponses::builtin_or_english(lang),
            generation: None,
        })
    }

    /// Speaks with `responses` (e.g. a language without built-in responses).
    pub fn with_responses(mut self, responses: ControlResponses) -> HomeControl {
        self.responses = responses;
        self
    }

    /// What this handler says.
    pub fn responses(&self) -> &ControlResponses {
        &self.responses
    }

    /// The compiled intents (with the lists last loaded), e.g. to export a speech grammar.
    pub fn intents(&self) -> &IntentEngine {
        &self.engine
    }

    /// Loads the registry's `{name}`, `{area}` and `{floor}` lists (only when devices changed).
    pub fn refresh_lists(&mut self, registry: &Registry) {
        if self.generation == Some(registry.generation()) {
            return;
        }
        self.set_lists(&registry.intent_lists());
        self.generation = Some(registry.generation());
    }

    /// Loads explicit lists.
    pub fn set_lists(&mut self, lists: &IntentLists) {
        load_lists(&mut self.engine, lists);
    }

    /// The best intent for `text`, if any.
    pub fn recognize(&self, text: &str) -> Option<IntentMatch> {
        self.engine.recognize(text, &Context::new()).best
    }

    /// Plans what to do for `text`: `Err` carries the reply when nothing can be done
    /// (not understood, no such device, device cannot do it).
    pub fn plan(&mut self, registry: &Registry, text: &str) -> std::result::Result<Plan, Outcome> {
        self.refresh_lists(registry);
        let Some(m) = self.recognize(text) else {
            return Err(Outcome {
                intent: None,
                slots: BTreeMap::new(),
                commands: Vec::new(),
                reply: self.not_understood(),
            });
        };
        self.plan_match(registry, &m)
    }

    /// What Emma says when nothing matched.
    pub fn not_understood(&self) -> String {
        self.responses.error("not_understood", &[])
    }

    /// Whether `intent` is one of the built-in home-control intents this handler plans.
    pub fn handles(&self, intent: &str) -> bool {
        self.engine.intent_names().iter().any(|i| i == intent)
    }

    /// Plans what to do for an intent recognised elsewhere (e.g. by an engine
    /// merged from these templates and skills' templates): which devices, which
    /// action, what to say. `Err` carries the reply when nothing can be done.
    pub fn plan_match(
        &self,
        registry: &Registry,
        m: &IntentMatch,
    ) -> std::result::Result<Plan, Outcome> {
        self.plan_slots(registry, &m.intent, &slots_of(m))
    }

    /// Plans `intent` with slot values and the words they were said with
    /// ([`Slots`]), e.g. after a dialog filled in a missing area.
    pub fn plan_slots(
        &self,
        registry: &Registry,
        intent: &str,
        given: &Slots,
    ) -> std::result::Result<Plan, Outcome> {
        let mut slots: BTreeMap<String, String> = given
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        // A name the registry does not know (wildcard templates) is looked up like any name.
        if let Some(unknown) = slots.remove("unknown_name") {
            slots.entry("name".into()).or_insert(unknown);
        }
        let fail = |reply: String| Outcome {
            intent: Some(intent.to_string()),
            slots: slots.clone(),
            commands: Vec::new(),
            reply,
        };
        let spoken = |key: &str| {
            let key = if key == "name" && !given.contains_key("name") {
                "unknown_name"
            } else {
                key
            };
            given.get(key).map(|(_, text)| text.clone())
        };
        let fixed_domain = slots.get("domain").and_then(|d| Domain::parse(d));
        let domains = match (intent, fixed_domain) {
            (_, Some(d)) => vec![d],
            ("HassLightSet", _) => vec![Domain::Light],
            ("HassSetPosition", _) => vec![Domain::Cover],
            ("HassClimateSetTemperature", _) => vec![Domain::Climate],
            ("HassMediaPause" | "HassMediaUnpause" | "HassSetVolume", _) => {
                vec![Domain::MediaPlayer]
            }
            ("HassTurnOn" | "HassTurnOff", _) if !slots.contains_key("name") => vec![Domain::Light],
            _ => Vec::new(),
        };
        let target = Target {
            name: slots.get("name").cloned(),
            area: slots.get("area").cloned(),
            floor: slots.get("floor").cloned(),
            domains,
        };
        let no_place = !slots.contains_key("area") && !slots.contains_key("floor");
        if slots.get("place").is_some_and(|p| p == "ask") && no_place {
            return Err(fail(self.responses.error("which_room", &[])));
        }
        let referenced: Option<Vec<Device>> = slots.get(DEVICES_SLOT).map(|ids| {
            ids.split(',')
                .filter_map(|id| registry.device(id.trim()).cloned())
                .collect()
        });
        if slots.contains_key("reference") && referenced.as_ref().is_none_or(Vec::is_empty) {
            return Err(fail(self.responses.error("which_device", &[])));
        }
        let resolved = match referenced {
            Some(devices) => Ok(devices),
            None => registry
                .resolve(&target)
                .map(|d| d.into_iter().cloned().collect()),
        };
        let devices: Vec<Device> = match resolved {
            Ok(d) => d,
            Err(_) => {
                return Err(fail(self.not_found(
                    registry,
                    &target,
                    spoken("name"),
                    spoken("area"),
                    spoken("floor"),
                )));
            }
        };
        let number = |key: &str| -> Option<f64> {
            slots
                .get(key)
                .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
        };
        let pct = |key: &str| number(key).map(|v| v.round().clamp(0.0, 100.0) as u8);
        let action = match intent {
            "HassTurnOn" => Action::TurnOn,
            "HassTurnOff" => Action::TurnOff,
            "HassLightSet" => match (pct("brightness"), slots.get("color")) {
                (Some(b), _) => Action::Brightness(b),
                (None, Some(c)) => match color_rgb(c) {
                    Some(rgb) => Action::Color(rgb),
                    None => {
                        return Err(fail(self.responses.error("unknown_color", &[("color", c)])));
                    }
                },
                (None, None) => {
                    return Err(fail(self.responses.error("set_to_what", &[])));
                }
            },
            "HassSetPosition" => match pct("position") {
                Some(p) => Action::Position(p),
                None => return Err(fail(self.responses.error("which_position", &[]))),
            },
            "HassClimateSetTemperature" => match number("temperature") {
                Some(t) => Action::Temperature(t),
                None => {
                    return Err(fail(self.responses.error("which_temperature", &[])));
                }
            },
            "HassMediaPause" => Action::Pause,
            "HassMediaUnpause" => Action::Play,
            "HassSetVolume" => match pct("volume_level") {
                Some(v) => Action::Volume(v),
                None => return Err(fail(self.responses.error("which_volume", &[]))),
            },
            "HassGetState" => {
                let reply = self.state_reply(&devices, slots.get("state").map(String::as_str));
                return Ok(Plan {
                    intent: intent.to_string(),
                    slots,
                    actions: Vec::new(),
                    reply,
                });
            }
            other => {
                return Err(fail(
                    self.responses.error("not_supported", &[("intent", other)]),
                ));
            }
        };
        // Keep the devices that can do it; say so when none can.
        let able: Vec<&Device> = devices
            .iter()
            .filter(|d| crate::wire::encode(d, &action, "check").is_ok())
            .collect();
        if able.is_empty() {
            let d = &devices[0];
            let what = self.responses.action(&action);
            return Err(fail(
                self.responses
                    .error("cannot", &[("name", &d.name), ("action", &what)]),
            ));
        }
        let names = self
            .responses
            .join(able.iter().map(|d| d.name.clone()).collect());
        let reply = self.responses.done(intent, &action, able[0].domain, &names);
        Ok(Plan {
            intent: intent.to_string(),
            slots,
            actions: able
                .iter()
                .map(|d| (d.id.clone(), action.clone()))
                .collect(),
            reply,
        })
    }

    /// Understands `text`, sends the commands through `home` and says what was done.
    pub async fn handle(&mut self, home: &Home, text: &str) -> Result<Outcome> {
        let plan = {
            let reg = home.registry();
            self.plan(&reg, text)
        };
        let plan = match plan {
            Ok(p) => p,
            Err(outcome) => return Ok(outcome),
        };
        let mut commands = Vec::new();
        for (device, action) in &plan.actions {
            commands.extend(home.command(device, action).await?);
        }
        Ok(Outcome {
            intent: Some(plan.intent),
            slots: plan.slots,
            commands,
            reply: plan.reply,
        })
    }

    fn state_reply(&self, devices: &[Device], asked: Option<&str>) -> String {
        let d = &devices[0];
        match (&d.state, asked) {
            (None, _) => self.responses.state("unknown", &d.name, ""),
            (Some(state), Some(asked)) => {
                let yes = state.eq_ignore_ascii_case(asked)
                    || (asked == "closed" && state == "off")
                    || (asked == "open" && state == "on");
                self.responses
                    .state(if yes { "yes" } else { "no" }, &d.name, state)
            }
            (Some(state), None) => self.responses.state("state", &d.name, state),
        }
    }

    fn not_found(
        &self,
        registry: &Registry,
        target: &Target,
        name: Option<String>,
        area: Option<String>,
        floor: Option<String>,
    ) -> String {
        if let Some(a) = &target.area
            && registry.area(a).is_none()
            && !registry
                .areas()
                .any(|x| crate::registry::normalize(&x.name) == crate::registry::normalize(a))
        {
            let a = area.unwrap_or_else(|| a.clone());
            return self.responses.error("no_area", &[("area", &a)]);
        }
        let place = self.responses.place(area.as_deref(), floor.as_deref());
        match &name {
            Some(n) if registry.is_empty() => self
                .responses
                .error("no_devices_yet", &[("name", n), ("place", &place)]),
            Some(n) => self
                .responses
                .error("no_device_named", &[("name", n), ("place", &place)]),
            None => {
                let kind = self.responses.kind(target.domains.first().copied());
                self.responses
                    .error("no_device_of_kind", &[("kind", &kind), ("place", &place)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Area, Floor};

    fn home() -> Registry {
        let mut reg = Registry::in_memory().unwrap();
        reg.upsert_floor(Floor {
            id: "ground".into(),
            name: "ground floor".into(),
            aliases: vec!["erdgeschoss".into()],
            level: Some(0),
        })
        .unwrap();
        reg.upsert_area(Area {
            id: "kitchen".into(),
            name: "kitchen".into(),
            aliases: vec!["küche".into()],
            floor: Some("ground".into()),
        })
        .unwrap();
        reg.upsert_area(Area {
            id: "living_room".into(),
            name: "living room".into(),
            aliases: vec!["wohnzimmer".into()],
            floor: Some("ground".into()),
        })
        .unwrap();
        reg.upsert_device(
            Device::new("light.kitchen_light", "kitchen light", Domain::Light)
                .in_area("kitchen")
                .with_alias("küchenlicht"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("switch.kettle", "kettle", Domain::Switch)
                .in_area("kitchen")
                .with_alias("wasserkocher"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("light.floor_lamp", "floor lamp", Domain::Light)
                .in_area("living_room")
                .with_alias("stehlampe"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("cover.blind", "blind", Domain::Cover)
                .in_area("living_room")
                .with_alias("rollo"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("climate.thermostat", "thermostat", Domain::Climate).in_area("living_room"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("media_player.speaker", "speaker", Domain::MediaPlayer)
                .in_area("living_room")
                .with_alias("lautsprecher"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("sensor.temperature", "temperature sensor", Domain::Sensor)
                .in_area("kitchen"),
        )
        .unwrap();
        reg.apply_states(&[crate::registry::StateUpdate {
            device: "light.floor_lamp".into(),
            state: Some("on".into()),
            attributes: Default::default(),
        }])
        .unwrap();
        reg
    }

    /// (text, intent, device ids and action, reply); `None` intent/actions for failures.
    /// One fixture row: text, intent, (device id, action) pairs, reply.
    type Case<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, Action)], &'a str);

    fn check(lang: &str, cases: &[Case<'_>]) {
        let reg = home();
        let mut control = HomeControl::builtin(lang).unwrap();
        for (text, intent, actions, reply) in cases {
            let (got_intent, got_actions, got_reply) = match control.plan(&reg, text) {
                Ok(p) => (Some(p.intent), p.actions, p.reply),
                Err(o) => (o.intent, Vec::new(), o.reply),
            };
            let want: Vec<(String, Action)> = actions
                .iter()
                .map(|(d, a)| (d.to_string(), a.clone()))
                .collect();
            assert_eq!(got_intent.as_deref(), *intent, "{text}");
            assert_eq!(got_actions, want, "{text}");
            assert_eq!(got_reply, *reply, "{text}");
        }
    }

    #[test]
    fn english() {
        check(
            "en",
            &[
                (
                    "turn on the kitchen light",
                    Some("HassTurnOn"),
                    &[("light.kitchen_light", Action::TurnOn)],
                    "Turned on the kitchen light",
                ),
                (
                    "switch the kettle off",
                    Some("HassTurnOff"),
                    &[("switch.kettle", Action::TurnOff)],
                    "Turned off the kettle",
                ),
                (
                    "turn off the lights in the living room",
                    Some("HassTurnOff"),
                    &[("light.floor_lamp", Action::TurnOff)],
                    "Turned off the floor lamp",
                ),
                (
                    "turn on the lights on the ground floor",
                    Some("HassTurnOn"),
                    &[
                        ("light.floor_lamp", Action::TurnOn),
                        ("light.kitchen_light", Action::TurnOn),
                    ],
                    "Turned on the floor lamp and kitchen light",
                ),
                (
                    "set the floor lamp to 40%",
                    Some("HassLightSet"),
                    &[("light.floor_lamp", Action::Brightness(40))],
                    "Set the floor lamp to 40%",
                ),
                (
                    "make the kitchen light red",
                    Some("HassLightSet"),
                    &[("light.kitchen_light", Action::Color([255, 0, 0]))],
                    "Changed the colour of the kitchen light",
                ),
                (
                    "open the blind",
                    Some("HassTurnOn"),
                    &[("cover.blind", Action::TurnOn)],
                    "Opened the blind",
                ),
                (
                    "set the blind to 30 percent",
                    Some("HassSetPosition"),
                    &[("cover.blind", Action::Position(30))],
                    "Set the blind to 30%",
                ),
                (
                    "set the temperature in the living room to 21 degrees",
                    Some("HassClimateSetTemperature"),
                    &[("climate.thermostat", Action::Temperature(21.0))],
                    "Set the thermostat to 21 degrees",
                ),
                (
                    "pause the speaker",
                    Some("HassMediaPause"),
                    &[("media_player.speaker", Action::Pause)],
                    "Paused the speaker",
                ),
                (
                    "set the volume of the speaker to 25%",
                    Some("HassSetVolume"),
                    &[("media_player.speaker", Action::Volume(25))],
                    "Set the volume of the speaker to 25%",
                ),
                (
                    "is the floor lamp on",
                    Some("HassGetState"),
                    &[],
                    "Yes, the floor lamp is on",
                ),
                (
                    "is the floor lamp off",
                    Some("HassGetState"),
                    &[],
                    "No, the floor lamp is on",
                ),
                (
                    "what is the state of the kitchen light",
                    Some("HassGetState"),
                    &[],
                    "I don't know the state of the kitchen light yet",
                ),
                (
                    "turn on the kettle in the living room",
                    Some("HassTurnOn"),
                    &[],
                    "There is no device named kettle in the living room",
                ),
                (
                    "turn on the temperature sensor",
                    Some("HassTurnOn"),
                    &[],
                    "The temperature sensor cannot turn on",
                ),
                (
                    "turn on the oven in the kitchen",
                    Some("HassTurnOn"),
                    &[],
                    "There is no device named oven in the kitchen",
                ),
                (
                    "sing me a song",
                    None,
                    &[],
                    "Sorry, I didn't understand that",
                ),
            ],
        );
    }

    #[test]
    fn german() {
        check(
            "de",
            &[
                (
                    "schalte das küchenlicht ein",
                    Some("HassTurnOn"),
                    &[("light.kitchen_light", Action::TurnOn)],
                    "kitchen light eingeschaltet",
                ),
                (
                    "mach den wasserkocher aus",
                    Some("HassTurnOff"),
                    &[("switch.kettle", Action::TurnOff)],
                    "kettle ausgeschaltet",
                ),
                (
                    "schalte das licht im wohnzimmer aus",
                    Some("HassTurnOff"),
                    &[("light.floor_lamp", Action::TurnOff)],
                    "floor lamp ausgeschaltet",
                ),
                (
                    "dimme die stehlampe auf 50 prozent",
                    Some("HassLightSet"),
                    &[("light.floor_lamp", Action::Brightness(50))],
                    "floor lamp auf 50 % gestellt",
                ),
                (
                    "mach die stehlampe blau",
                    Some("HassLightSet"),
                    &[("light.floor_lamp", Action::Color([0, 0, 255]))],
                    "Farbe von floor lamp geändert",
                ),
                (
                    "stelle das rollo auf 70 prozent",
                    Some("HassSetPosition"),
                    &[("cover.blind", Action::Position(70))],
                    "blind auf 70 % gestellt",
                ),
                (
                    "stelle die temperatur im wohnzimmer auf 22 grad",
                    Some("HassClimateSetTemperature"),
                    &[("climate.thermostat", Action::Temperature(22.0))],
                    "thermostat auf 22 Grad gestellt",
                ),
                (
                    "pausiere den lautsprecher",
                    Some("HassMediaPause"),
                    &[("media_player.speaker", Action::Pause)],
                    "speaker pausiert",
                ),
                (
                    "ist die stehlampe an",
                    Some("HassGetState"),
                    &[],
                    "Ja, floor lamp ist an",
                ),
                (
                    "schalte den wasserkocher im wohnzimmer ein",
                    Some("HassTurnOn"),
                    &[],
                    "Es gibt kein Gerät namens wasserkocher im Bereich wohnzimmer",
                ),
                (
                    "schalte den ofen in der küche ein",
                    Some("HassTurnOn"),
                    &[],
                    "Es gibt kein Gerät namens ofen im Bereich küche",
                ),
                (
                    "erzähl einen witz",
                    None,
                    &[],
                    "Das habe ich leider nicht verstanden",
                ),
            ],
        );
    }

    #[test]
    fn lists_follow_the_registry() {
        let mut reg = home();
        let mut control = HomeControl::builtin("en").unwrap();
        assert!(control.plan(&reg, "turn on the coffee machine").is_err());
        reg.upsert_device(Device::new(
            "switch.coffee",
            "coffee machine",
            Domain::Switch,
        ))
        .unwrap();
        let plan = control.plan(&reg, "turn on the coffee machine").unwrap();
        assert_eq!(
            plan.actions,
            vec![("switch.coffee".to_string(), Action::TurnOn)]
        );
    }

    #[test]
    fn unknown_language_is_a_clear_error() {
        let err = HomeControl::builtin("fr").unwrap_err().to_string();
        assert!(
            err.contains("no built-in home-control intents for language \"fr\""),
            "{err}"
        );
    }
}
