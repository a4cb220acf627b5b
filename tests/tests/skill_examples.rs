//! The example skills end to end: utterance → `emma-intent` (their own
//! hassil YAML, English and German) → skill → reply, effects and denials.

mod skill_support;

use emma_intent::{Context, IntentEngine};
use emma_skill_host::{DeviceEvent, Effect, LocalServices, Request, SkillDb, SkillInstance};
use skill_support::{bundle, load, speech};

const COFFEE: &str = "skills/examples/coffee";
const PARCEL: &str = "skills/examples/parcel";
const LIGHTS: &str = "skills/examples/lights";

/// Recognises `text` with the skill's own templates for `lang` and builds the request.
fn understand(rel: &str, lang: &str, text: &str) -> Request {
    let b = bundle(rel);
    let (_, yaml) = b
        .intents
        .iter()
        .find(|(l, _)| l == lang)
        .unwrap_or_else(|| panic!("{rel}: no {lang} templates"));
    let engine = IntentEngine::from_yaml_str(yaml, &format!("{rel}/intents/{lang}.yaml"), lang)
        .unwrap_or_else(|e| panic!("{rel} {lang} templates: {e}"));
    let m = engine
        .recognize(text, &Context::default())
        .best
        .unwrap_or_else(|| panic!("{lang}: `{text}` not recognised"));
    let mut req = Request::new(m.intent, lang);
    for (name, slot) in m.slots {
        req = req.slot(name, slot.value);
    }
    req
}

fn coffee(grants: &[&str]) -> SkillInstance {
    let services = LocalServices::new().with_device("coffee.machine", "idle");
    load(COFFEE, grants, SkillDb::in_memory().unwrap(), services)
}

#[test]
fn every_example_ships_english_and_german_templates_that_load() {
    for rel in [COFFEE, PARCEL, LIGHTS] {
        let b = bundle(rel);
        assert_eq!(
            b.manifest.languages,
            vec!["en".to_string(), "de".to_string()],
            "{rel}"
        );
        for lang in ["en", "de"] {
            let (_, yaml) = b
                .intents
                .iter()
                .find(|(l, _)| l == lang)
                .expect("templates bundled");
            let engine = IntentEngine::from_yaml_str(yaml, rel, lang)
                .unwrap_or_else(|e| panic!("{rel} {lang}: {e}"));
            drop(engine);
        }
    }
}

#[test]
fn coffee_orders_a_drink_from_speech_in_both_languages() {
    let mut skill = coffee(&["device:coffee.*:control", "store", "order:propose"]);
    let req = understand(COFFEE, "en", "make me a large latte with 2 shots");
    assert_eq!(req.intent, "OrderDrink");
    let o = skill.handle_intent(&req).unwrap();
    assert_eq!(
        speech(&o),
        "One large latte with 2 shot(s) of medium roast, coming up."
    );
    let reply = o.result.unwrap();
    assert_eq!(reply.actions[0].device, "coffee.machine");
    assert!(
        matches!(&o.effects[0], Effect::DeviceControl { device, command, .. } if device == "coffee.machine" && command == "brew")
    );

    let req = understand(COFFEE, "de", "mach mir einen großen cappuccino");
    let o = skill.handle_intent(&req).unwrap();
    assert_eq!(
        speech(&o),
        "Ein large cappuccino mit 1 Shot(s), medium Röstung, kommt sofort."
    );

    // The usual comes from the skill's own store.
    let o = skill
        .handle_intent(&understand(COFFEE, "en", "the usual please"))
        .unwrap();
    assert_eq!(speech(&o), "Your usual, coming up.");
    assert!(o.result.unwrap().data.unwrap().contains("cappuccino"));
}

#[test]
fn coffee_low_beans_proposes_an_order_the_customer_must_confirm() {
    let mut skill = coffee(&["order:propose"]);
    let high = DeviceEvent {
        device: "coffee.machine".into(),
        kind: "bean-level".into(),
        value: "60".into(),
    };
    assert_eq!(skill.handle_event(&high).unwrap().result, Ok(None));
    let low = DeviceEvent {
        value: "12".into(),
        ..high.clone()
    };
    let o = skill.handle_event(&low).unwrap();
    let reply = o.result.unwrap().expect("a question for the customer");
    assert_eq!(reply.follow_up.as_deref(), Some("confirm-reorder"));
    match &o.effects[..] {
        [
            Effect::OrderProposal {
                lines, confirmed, ..
            },
        ] => {
            assert!(!confirmed, "only the customer confirms");
            assert_eq!(lines[0].sku, "BEANS-HOUSE-1KG");
        }
        other => panic!("expected one order proposal, got {other:?}"),
    }
    // Without the grant, nothing is proposed.
    let mut denied = coffee(&[]);
    let o = denied.handle_event(&low).unwrap();
    assert!(o.effects.is_empty());
    assert_eq!(o.denials[0].permission, "order:propose");
}

#[test]
fn parcel_answers_known_parcels_and_hands_off_the_rest() {
    let mut skill = load(
        PARCEL,
        &["handoff", "store"],
        SkillDb::in_memory().unwrap(),
        LocalServices::new(),
    );
    let req = understand(PARCEL, "en", "where is my parcel EM123");
    assert_eq!(req.intent, "WhereIsParcel");
    let o = skill.handle_intent(&req).unwrap();
    assert_eq!(
        speech(&o),
        "Parcel EM123 is out for delivery, expected before 6 pm."
    );
    assert!(o.result.unwrap().handoff.is_none());

    let o = skill
        .handle_intent(&understand(PARCEL, "de", "wo ist mein paket EM456"))
        .unwrap();
    assert_eq!(speech(&o), "Paket EM456 ist im Depot in Hamburg.");

    let o = skill
        .handle_intent(&understand(PARCEL, "en", "where is my parcel ZZ000"))
        .unwrap();
    assert_eq!(
        o.result.as_ref().unwrap().handoff.as_ref().unwrap().reason,
        "unknown parcel"
    );
    assert!(matches!(&o.effects[..], [Effect::Handoff { .. }]));

    let o = skill
        .handle_intent(&understand(PARCEL, "en", "this is ridiculous"))
        .unwrap();
    assert_eq!(o.result.unwrap().handoff.unwrap().reason, "customer upset");
}

#[test]
fn lights_control_only_granted_devices() {
    let services = LocalServices::new()
        .with_device("light.kitchen", "off")
        .with_device("light.bedroom", "off");
    let services = std::sync::Arc::new(services);
    let (b, c) = skill_support::compiled(LIGHTS);
    let grants = emma_skill_host::PermissionSet::parse(["device:light.kitchen:control"]).unwrap();
    let mut skill = skill_support::runtime()
        .load(
            &c,
            &b.manifest,
            grants,
            SkillDb::in_memory().unwrap(),
            services.clone(),
        )
        .unwrap();

    let o = skill
        .handle_intent(&understand(LIGHTS, "en", "turn on the kitchen light"))
        .unwrap();
    assert_eq!(speech(&o), "Turning on the kitchen light.");
    assert_eq!(services.state("light.kitchen").as_deref(), Some("turn-on"));

    let o = skill
        .handle_intent(&understand(LIGHTS, "en", "turn on the bedroom light"))
        .unwrap();
    assert_eq!(speech(&o), "I'm not allowed to control the bedroom light.");
    assert_eq!(o.denials[0].permission, "device:light.bedroom:control");
    assert_eq!(
        services.state("light.bedroom").as_deref(),
        Some("off"),
        "an ungranted light must not change"
    );

    let o = skill
        .handle_intent(&understand(
            LIGHTS,
            "de",
            "stelle das licht in der küche auf 40 prozent",
        ))
        .unwrap();
    assert_eq!(speech(&o), "Ich stelle das Licht kitchen ein.");
    assert_eq!(
        services.state("light.kitchen").as_deref(),
        Some("brightness 40")
    );

    // Revoking takes effect on the next call.
    skill.set_grants(emma_skill_host::PermissionSet::default());
    let o = skill
        .handle_intent(&understand(LIGHTS, "en", "turn off the kitchen light"))
        .unwrap();
    assert_eq!(speech(&o), "I'm not allowed to control the kitchen light.");
    assert_eq!(
        services.state("light.kitchen").as_deref(),
        Some("brightness 40")
    );
}
