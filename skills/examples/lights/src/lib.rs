//! Lights skill: on, off and brightness for `light.<area>` devices. The host
//! lets it touch only the lights the customer granted; when a light is not
//! granted the skill says so instead of failing silently.

use emma_skill::{CapError, Reply, Request, Skill, SkillError, devices, export_skill};

struct Lights;

fn device_for(req: &Request) -> Result<(String, String), SkillError> {
    let area = req.require("area")?;
    let id: String = area
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' { '_' } else { c })
        .collect();
    Ok((format!("light.{id}"), area.to_string()))
}

fn control(
    req: &Request,
    command: &str,
    value: Option<&str>,
    done_en: &str,
    done_de: &str,
) -> Result<Reply, SkillError> {
    let (device, area) = device_for(req)?;
    let de = req.language == "de";
    match devices::control(&device, command, value) {
        Ok(()) => {
            let speech = if de {
                done_de.replace("{area}", &area)
            } else {
                done_en.replace("{area}", &area)
            };
            Ok(Reply::say(speech).action(&device, command, value))
        }
        Err(CapError::Denied(_)) => Ok(Reply::say(if de {
            format!("Ich darf das Licht {area} nicht steuern.")
        } else {
            format!("I'm not allowed to control the {area} light.")
        })),
        Err(CapError::Unavailable(_)) => Ok(Reply::say(if de {
            format!("Ich finde kein Licht {area}.")
        } else {
            format!("I can't find a {area} light.")
        })),
        Err(e) => Err(e.into()),
    }
}

impl Skill for Lights {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        match req.intent.as_str() {
            "TurnOn" => control(
                &req,
                "turn-on",
                None,
                "Turning on the {area} light.",
                "Ich schalte das Licht {area} ein.",
            ),
            "TurnOff" => control(
                &req,
                "turn-off",
                None,
                "Turning off the {area} light.",
                "Ich schalte das Licht {area} aus.",
            ),
            "SetBrightness" => {
                let level = req.require("brightness")?;
                let pct: u32 = level
                    .trim_end_matches('%')
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| {
                        SkillError::Failed(format!("brightness must be 0 to 100, got `{level}`"))
                    })?;
                let v = pct.to_string();
                control(
                    &req,
                    "brightness",
                    Some(&v),
                    "Setting the {area} light.",
                    "Ich stelle das Licht {area} ein.",
                )
            }
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }
}

export_skill!(Lights);
