//! Parcel-service brand skill: tells where a parcel is, and hands the
//! conversation to a human when the parcel is unknown or the customer is upset.
//!
//! A customer who asks for a person ("I want to talk to a person") needs no
//! intent here: Emma's built-in `EmmaTalkToPerson` hands the conversation to
//! the brand of the skill the customer was talking to. The skill asks for a
//! person (`handoff::request`) only when it cannot help itself.

use emma_skill::{Reply, Request, Skill, SkillError, export_skill, handoff, store};

struct Parcel;

/// The depot's view of parcels this demo knows (a real skill would sync these
/// through its brand backend into the store).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "EM123",
        "out for delivery, expected before 6 pm",
        "in Zustellung, voraussichtlich vor 18 Uhr",
    ),
    ("EM456", "at the depot in Hamburg", "im Depot in Hamburg"),
    (
        "EM789",
        "delivered to your neighbour",
        "bei deinem Nachbarn abgegeben",
    ),
];

fn normalise(tracking: &str) -> String {
    tracking
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase()
}

fn human(req: &Request, reason: &str, summary: &str) -> Result<Reply, SkillError> {
    handoff::request(reason, summary)?;
    let speech = if req.language == "de" {
        "Ich verbinde dich mit einem Mitarbeiter."
    } else {
        "I'm connecting you with a member of our team."
    };
    Ok(Reply::say(speech).handoff(reason, summary))
}

impl Skill for Parcel {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        let de = req.language == "de";
        match req.intent.as_str() {
            "WhereIsParcel" => {
                let tracking = match req.slot("tracking") {
                    Some(t) => normalise(t),
                    None => match store::get("last-tracking")? {
                        Some(t) => String::from_utf8_lossy(&t).into_owned(),
                        None => {
                            let ask = if de {
                                "Wie lautet die Sendungsnummer?"
                            } else {
                                "What's the tracking number?"
                            };
                            return Ok(Reply::say(ask).ask("tracking"));
                        }
                    },
                };
                store::set("last-tracking", tracking.as_bytes())?;
                match KNOWN.iter().find(|(id, _, _)| *id == tracking) {
                    Some((id, en, de_text)) => {
                        let speech = if de {
                            format!("Paket {id} ist {de_text}.")
                        } else {
                            format!("Parcel {id} is {en}.")
                        };
                        Ok(Reply::say(speech).card(&format!("Parcel {id}"), en))
                    }
                    None => human(
                        &req,
                        "unknown parcel",
                        &format!("customer asked about unknown tracking number {tracking}"),
                    ),
                }
            }
            "Complaint" => human(
                &req,
                "customer upset",
                req.slot("topic").unwrap_or("complaint about a delivery"),
            ),
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }
}

export_skill!(Parcel);
