//! `emma demo`, the README's first command: synthetic speech through
//! PocketSphinx, the intent engine and the built-in handlers to MQTT commands
//! on the embedded broker.

use std::process::Command;

#[test]
fn demo_turns_speech_into_device_commands_and_honest_replies() {
    let out = Command::new(env!("CARGO_BIN_EXE_emma"))
        .args(["demo", "--json"])
        .output()
        .expect("run the emma binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");

    // Every command is heard exactly as said (grammar-restricted decoding).
    for l in &lines {
        assert_eq!(l["heard"], l["said"], "{l}");
    }
    assert_eq!(lines[0]["intent"], "HassTurnOn");
    let topics: Vec<&str> = lines[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["emma/device/kitchen_light/set"]);
    assert!(
        lines[0]["commands"][0]["payload"]
            .as_str()
            .unwrap()
            .contains(r#""state":"on""#)
    );

    // An area command reaches every light there and nothing else.
    assert_eq!(lines[1]["intent"], "HassTurnOff");
    assert_eq!(lines[1]["commands"].as_array().unwrap().len(), 2);

    // No light in the bedroom: nothing is sent and Emma says so.
    assert_eq!(lines[3]["intent"], "HassTurnOn");
    assert!(lines[3]["commands"].as_array().unwrap().is_empty());
    assert_eq!(lines[3]["reply"], "There is no light in the bedroom");
}
