//! Out-of-domain speech: what a voice assistant hears that is not a command.
//!
//! Two sources, neither of which holds a command of the coffee-maker or the
//! Home Assistant light intents, so every utterance must come back without
//! an intent:
//! - [`sentences`]: questions, chit-chat, requests Emma cannot serve, and
//!   near-misses that share words with the commands ("turn on the radio",
//!   "I'd like a cup of tea"), spoken with espeak-ng under
//!   [`conditions`] (voices, speeds, clean and with noise) through
//!   [`speech_corpus::synthesize`](crate::speech_corpus::synthesize);
//! - [`wake_word_files`]: the 1,124 real recordings of wake words ("alexa",
//!   "computer", "jarvis") by many speakers in `../shared/data/wake-words`.

use std::path::{Path, PathBuf};

use crate::speech_corpus::{Condition, Noise, SpokenCommand, synthesize};

/// Out-of-domain sentences for both intent sets.
pub fn sentences() -> Vec<&'static str> {
    vec![
        // Questions.
        "what time is it",
        "what is the weather like tomorrow",
        "how old is the president",
        "who won the football game last night",
        "what is the capital of australia",
        "how far is the moon from the earth",
        "when does the supermarket close",
        "how do you spell necessary",
        "what is twelve times fourteen",
        "is it going to rain this afternoon",
        "what day of the week is it",
        "how many people live in london",
        "why is the sky blue",
        "where did I leave my keys",
        "what does this word mean",
        "how long should I boil an egg",
        "who wrote romeo and juliet",
        "what is the meaning of life",
        "how tall is mount everest",
        "what are you doing",
        "can dogs eat chocolate",
        "what should I cook for dinner",
        "which train goes to the airport",
        "how much does a new car cost",
        "do you know any good restaurants nearby",
        "what was the score of the match",
        "is the post office open on sunday",
        "how do I get to the station",
        "what language do they speak in brazil",
        "who is the best singer in the world",
        // Chit-chat.
        "tell me a joke",
        "good morning how are you",
        "thank you very much",
        "I am so tired today",
        "you are really funny",
        "I love you",
        "what is your name",
        "nice to meet you",
        "have a good night",
        "I had a terrible day at work",
        "the children are playing outside",
        "my sister is coming to visit next week",
        "that movie was really boring",
        "I think it is going to snow",
        "hello there",
        "see you later",
        "are you listening to me",
        "that is not what I meant",
        "let me think about it",
        "happy birthday to you",
        "the cat is sleeping on the sofa",
        "we should go for a walk",
        "I forgot to call my mother",
        "this soup is delicious",
        "the neighbours are very loud tonight",
        "my phone battery is almost empty",
        "I need a holiday",
        "do you want to play a game",
        "sing me a song",
        "tell me a story about dragons",
        // Requests Emma cannot serve.
        "play some jazz music",
        "call my brother",
        "send a message to anna",
        "set an alarm for seven",
        "remind me to buy milk",
        "book a table for two at eight",
        "order a pizza with mushrooms",
        "translate hello into french",
        "read me the news",
        "how is the traffic on the highway",
        "find a recipe for pancakes",
        "start a timer for ten minutes",
        "add eggs to my shopping list",
        "what is on my calendar today",
        "take a picture",
        "open the front door",
        "lock the car",
        "water the plants in the garden",
        "vacuum the living room",
        "feed the dog",
        "call a taxi to the airport",
        "pay the electricity bill",
        "what is my bank balance",
        "wake me up at six",
        "show me photos from last summer",
        "record this conversation",
        "turn the page",
        "skip this song",
        "buy a new pair of shoes",
        "search the internet for cheap flights",
        // Near-misses: words the commands use, in sentences they do not hold.
        "turn on the radio",
        "turn off the television",
        "switch on the washing machine",
        "turn up the heating",
        "open the kitchen window",
        "close the garage door",
        "the light bulb in the bathroom is broken",
        "I like the light in this room",
        "the living room is too dark",
        "set the oven to two hundred degrees",
        "dim the screen on my laptop",
        "how bright is the sun",
        "the bedroom needs a new lamp",
        "I'd like a cup of tea",
        "make me a sandwich",
        "give me a glass of water",
        "can I have an orange juice",
        "I want a hot chocolate",
        "the coffee shop is closed today",
        "coffee gives me a headache",
        "order me a new coffee machine",
        "how much sugar is in a cola",
        "make it rain",
        "cancel my dentist appointment",
        "never say never",
        "change the channel",
        "brew some beer at home",
        "four cups of flour and two eggs",
        "a large pizza and a small salad",
        "switch the television to channel four",
        "turn left at the next corner",
        "the kitchen is a mess",
        "set the table for dinner",
        "I turned off my phone",
        "the lights of the city are beautiful",
        "give me a break",
        "make up your mind",
        "I'll have the fish please",
        "change my password",
        "strong winds are expected tonight",
    ]
}

/// How the out-of-domain sentences are spoken: four voices and speeds,
/// clean and mixed with white (20 dB) or pink (10 dB) noise.
pub fn conditions() -> Vec<Condition> {
    let white = Some(Noise {
        kind: "whitenoise",
        snr_db: 20.0,
    });
    let pink = Some(Noise {
        kind: "pinknoise",
        snr_db: 10.0,
    });
    [
        ("en-us", 175, None),
        ("en-gb", 140, None),
        ("en+m3", 160, white),
        ("en+f2", 190, pink),
    ]
    .into_iter()
    .map(|(voice, speed, noise)| Condition {
        voice,
        speed,
        noise,
    })
    .collect()
}

/// Speaks `sentences` under `condition` into `dir` as `NNN.wav` (reusing
/// files already there); returns the files in sentence order.
pub fn speak(sentences: &[&str], condition: Condition, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let expected: Vec<PathBuf> = (0..sentences.len())
        .map(|i| dir.join(format!("{i:03}.wav")))
        .collect();
    if expected.iter().all(|f| f.is_file()) {
        return Ok(expected);
    }
    let as_commands: Vec<SpokenCommand> = sentences
        .iter()
        .map(|s| SpokenCommand::new(s, "", &[]))
        .collect();
    synthesize(&as_commands, condition, dir)
}

/// The real wake-word recordings (FLAC), sorted by path.
pub fn wake_word_files() -> anyhow::Result<Vec<PathBuf>> {
    let root = crate::shared_data().join("wake-words");
    let mut files = vec![];
    for dir in std::fs::read_dir(&root)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", root.display()))?
    {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir)? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "flac") {
                files.push(f);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_large_enough_and_has_no_duplicates() {
        let s = sentences();
        let mut unique = s.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), s.len(), "duplicate sentences");
        assert!(s.len() * conditions().len() >= 500, "{} sentences", s.len());
    }

    /// The sure point is calibrated on other sentences than it is measured on.
    #[test]
    fn calibration_speaks_none_of_the_measured_sentences() {
        let measured = sentences();
        for s in emma_core::understand::calibrate::SENTENCES {
            assert!(!measured.contains(s), "{s:?} is in both");
        }
    }
}
