//! Coffee-machine brand skill: order a drink with size, roast and shots;
//! when the bean level drops, propose a reorder the customer must confirm.

use emma_skill::{
    OrderLine, Reply, Request, Skill, SkillError, devices, export_skill, orders, store,
};

struct Coffee;

const MACHINE: &str = "coffee.machine";
const LOW_BEANS_PERCENT: u32 = 20;

fn de(req_lang: &str) -> bool {
    req_lang == "de"
}

fn order(req: &Request) -> Result<Reply, SkillError> {
    let drink = req.require("drink")?;
    let size = req.slot("size").unwrap_or("medium");
    let roast = req.slot("roast").unwrap_or("medium");
    let shots: u32 = match req.slot("shots") {
        None => 1,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=4).contains(n))
            .ok_or_else(|| SkillError::Failed(format!("shots must be 1 to 4, got `{s}`")))?,
    };
    let recipe =
        format!(r#"{{"drink":"{drink}","size":"{size}","roast":"{roast}","shots":{shots}}}"#);
    devices::control(MACHINE, "brew", Some(&recipe))?;
    store::set("favourite", recipe.as_bytes())?;
    let speech = if de(&req.language) {
        format!("Ein {size} {drink} mit {shots} Shot(s), {roast} Röstung, kommt sofort.")
    } else {
        format!("One {size} {drink} with {shots} shot(s) of {roast} roast, coming up.")
    };
    Ok(Reply::say(speech)
        .action(MACHINE, "brew", Some(&recipe))
        .data(recipe))
}

fn favourite(req: &Request) -> Result<Reply, SkillError> {
    match store::get("favourite")? {
        Some(bytes) => {
            let recipe = String::from_utf8_lossy(&bytes).into_owned();
            devices::control(MACHINE, "brew", Some(&recipe))?;
            let speech = if de(&req.language) {
                "Dein Lieblingsgetränk kommt."
            } else {
                "Your usual, coming up."
            };
            Ok(Reply::say(speech)
                .action(MACHINE, "brew", Some(&recipe))
                .data(recipe))
        }
        None => Ok(Reply::say(if de(&req.language) {
            "Du hast noch kein Lieblingsgetränk. Was möchtest du?"
        } else {
            "You have no usual yet. What would you like?"
        })
        .ask("drink")),
    }
}

impl Skill for Coffee {
    fn handle_intent(req: Request) -> Result<Reply, SkillError> {
        match req.intent.as_str() {
            "OrderDrink" => order(&req),
            "Favourite" => favourite(&req),
            other => Err(SkillError::UnsupportedIntent(other.into())),
        }
    }

    fn handle_event(event: emma_skill::DeviceEvent) -> Result<Option<Reply>, SkillError> {
        if event.kind != "bean-level" {
            return Ok(None);
        }
        let level: u32 = event.value.trim_end_matches('%').parse().map_err(|_| {
            SkillError::Failed(format!("bean level `{}` is not a percentage", event.value))
        })?;
        if level >= LOW_BEANS_PERCENT {
            return Ok(None);
        }
        let line = OrderLine {
            sku: "BEANS-HOUSE-1KG".into(),
            quantity: 1,
            description: "House blend beans, 1 kg".into(),
        };
        let id = orders::propose(&[line], &format!("Beans at {level}%"))?;
        Ok(Some(
            Reply::say(format!("Your coffee beans are at {level} percent. Shall I reorder a kilo of the house blend?"))
                .ask("confirm-reorder")
                .data(format!(r#"{{"proposal":"{id}"}}"#)),
        ))
    }
}

export_skill!(Coffee);
