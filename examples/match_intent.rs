//! Match a sentence against hassil-format intents.
//!
//! Run: `cargo run -p emma-intent --example match_intent -- PATH LANG "sentence"`
//! (PATH: a Home Assistant intents tree, a sentences directory, one YAML file,
//! a Rhino context or an Alexa model). Without arguments it uses a small
//! built-in template set.

use emma_intent::{Context, IntentEngine, ListValue};

const BUILTIN: &str = r#"
language: en
intents:
  TurnOn:
    data:
      - sentences:
          - "turn on [the] {name} [in [the] {area}]"
          - "switch on [the] {name}"
lists:
  area:
    values: [Kitchen, Living Room]
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut engine, sentence) = match args.as_slice() {
        [path, lang, sentence] => (
            IntentEngine::from_path(std::path::Path::new(path), lang)?,
            sentence.clone(),
        ),
        _ => (
            IntentEngine::from_yaml_str(BUILTIN, "builtin", "en")?,
            "turn on the ceiling light in the kitchen".to_string(),
        ),
    };
    // Runtime list: device names, no recompilation of the templates.
    engine.set_list(
        "name",
        vec![ListValue::new("ceiling light", "light.ceiling").with_context("domain", "light")],
    );
    let recognition = engine.recognize(&sentence, &Context::default());
    match recognition.best {
        Some(m) => {
            println!("{} (confidence {:.2})", m.intent, m.confidence);
            for (slot, value) in &m.slots {
                println!("  {slot} = {} ({:?})", value.value, value.text);
            }
        }
        None => println!("no intent for {sentence:?}"),
    }
    Ok(())
}
