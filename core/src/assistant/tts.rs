//! Speech out: a trait apps implement with their own synthesis, and espeak-ng
//! run as a subprocess (GPL-licensed, so never linked).

use super::event::ReplyAudio;

/// Turns reply text into audio.
pub trait TextToSpeech: Send + Sync {
    /// Speaks `text` in `language`.
    fn synthesize(&self, text: &str, language: &str) -> Result<ReplyAudio, String>;
}

/// espeak-ng as a subprocess.
#[derive(Debug, Clone)]
pub struct Espeak {
    /// Voice (`en-us`, `de`); `None` uses the language code.
    pub voice: Option<String>,
    /// Words per minute.
    pub speed: u32,
}

impl TextToSpeech for Espeak {
    fn synthesize(&self, text: &str, language: &str) -> Result<ReplyAudio, String> {
        let voice = self.voice.clone().unwrap_or_else(|| match language {
            "en" => "en-us".to_string(),
            other => other.to_string(),
        });
        let audio =
            emma_speech::synth::espeak(text, &voice, self.speed).map_err(|e| e.to_string())?;
        Ok(ReplyAudio {
            sample_rate: emma_speech::SAMPLE_RATE,
            duration_s: audio.duration_s(),
            samples: audio.samples,
        })
    }
}
