//! `emma demo`, the README's first command: the product tour on the
//! `Assistant` — synthetic speech through PocketSphinx, the built-in home
//! intents, the example coffee skill, an order proposal confirmed by voice
//! and a slot-filling exchange, all on the embedded broker.

use std::process::Command;

use serde_json::Value;

fn events(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[test]
fn the_tour_shows_home_control_a_skill_order_a_confirmed_reorder_and_slot_filling() {
    let out = Command::new(env!("CARGO_BIN_EXE_emma"))
        .args(["demo", "--json"])
        .output()
        .expect("run the emma binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out.stdout);

    // Each spoken command is understood as the intent it is (the grammar
    // holds the home intents, the coffee skill's and the dialog's answers).
    let intents: Vec<&str> = of(&ev, "intent")
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        intents,
        [
            "HassTurnOn",
            "HassTurnOff",
            "OrderDrink",
            "HassTurnOn",
            "HassTurnOn"
        ],
        "{ev:?}"
    );
    // The wake word was heard before each spoken command (not before answers).
    assert_eq!(of(&ev, "wake").len(), 4, "{ev:?}");
    // The typed question Emma cannot answer is not turned into a command:
    // after the bedroom lamp, only a not-understood answer follows.
    let bedroom = ev
        .iter()
        .rposition(|e| e["type"] == "device-command")
        .unwrap();
    assert_eq!(ev[bedroom]["device"], "bedroom_lamp");
    assert!(
        ev[bedroom..].iter().any(|e| e["type"] == "not-understood"),
        "{ev:?}"
    );
    let commands: Vec<(&str, &str)> = of(&ev, "device-command")
        .iter()
        .map(|e| (e["device"].as_str().unwrap(), e["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        commands,
        [
            ("kitchen_light", "built-in"),
            ("ceiling_light", "built-in"),
            ("sofa_lamp", "built-in"),
            ("coffee.machine", "com.example.coffee"),
            ("bedroom_lamp", "built-in"),
        ]
    );
    // The bean report became a proposal, confirmed by the spoken "yes".
    let proposal = of(&ev, "proposal");
    assert_eq!(proposal.len(), 1, "{ev:?}");
    let decided = of(&ev, "proposal-decided");
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["id"], proposal[0]["id"]);
    assert_eq!(decided[0]["decision"], "confirmed");
    // "turn on the lights" was answered with a question.
    assert!(
        of(&ev, "reply")
            .iter()
            .any(|r| r["text"] == "In which room?" && r["expects_answer"] == true)
    );
}
