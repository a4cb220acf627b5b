//! Speech out for Wyoming with espeak-ng, run as a separate program (it is
//! GPL; Emma never links it): `synthesize` → `audio-start`, `audio-chunk`s of
//! 1,024 samples, `audio-stop`, at 16 kHz 16-bit mono.

use std::process::Command;

use emma_wyoming::info::{Artifact, Attribution, TtsVoice};

/// espeak-ng with its installed voices.
#[derive(Debug, Clone)]
pub struct Espeak {
    voices: Vec<TtsVoice>,
    default_voice: String,
    speed: u32,
}

/// Samples per `audio-chunk` sent.
pub const CHUNK_SAMPLES: usize = 1024;

impl Espeak {
    /// Lists espeak-ng's voices (`espeak-ng --voices`); `default_voice` (e.g.
    /// `en-us`) must be one of them. `speed` is in words per minute.
    pub fn new(default_voice: &str, speed: u32) -> Result<Espeak, String> {
        let out = Command::new("espeak-ng")
            .arg("--voices")
            .output()
            .map_err(|e| format!("cannot run espeak-ng ({e}); install it (scripts/setup does)"))?;
        if !out.status.success() {
            return Err(format!("espeak-ng --voices exited with {}", out.status));
        }
        let voices = parse_voices(&String::from_utf8_lossy(&out.stdout));
        if !voices.iter().any(|v| v.artifact.name == default_voice) {
            return Err(format!(
                "espeak-ng has no voice {default_voice:?}; `espeak-ng --voices` lists them"
            ));
        }
        Ok(Espeak {
            voices,
            default_voice: default_voice.into(),
            speed,
        })
    }

    /// The voices, for `info`.
    pub fn voices(&self) -> &[TtsVoice] {
        &self.voices
    }

    /// The voice for a request: its name if given (it must exist), else the
    /// first voice of its language, else the default.
    pub fn pick(&self, name: Option<&str>, language: Option<&str>) -> Result<String, String> {
        if let Some(name) = name {
            return match self.voices.iter().find(|v| v.artifact.name == name) {
                Some(v) => Ok(v.artifact.name.clone()),
                None => Err(format!(
                    "there is no voice {name:?}; `describe` lists the voices"
                )),
            };
        }
        if let Some(lang) = language {
            let lang = lang.to_ascii_lowercase().replace('_', "-");
            let found = self
                .voices
                .iter()
                .find(|v| v.artifact.name == lang)
                .or_else(|| self.voices.iter().find(|v| v.languages.contains(&lang)));
            return match found {
                Some(v) => Ok(v.artifact.name.clone()),
                None => Err(format!(
                    "there is no voice for language {lang:?}; `describe` lists the voices"
                )),
            };
        }
        Ok(self.default_voice.clone())
    }

    /// Speaks `text` with `voice` (blocking: run it on a blocking thread).
    pub fn speak(&self, text: &str, voice: &str) -> Result<Vec<i16>, String> {
        emma_speech::synth::espeak(text, voice, self.speed)
            .map(|a| a.samples)
            .map_err(|e| e.to_string())
    }
}

/// Parses `espeak-ng --voices`: `Pty Language Age/Gender VoiceName File Other Languages`.
fn parse_voices(listing: &str) -> Vec<TtsVoice> {
    let by = Attribution {
        name: "espeak-ng".into(),
        url: "https://github.com/espeak-ng/espeak-ng".into(),
    };
    listing
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 5 {
                return None;
            }
            let lang = cols[1].to_string();
            let mut languages = vec![lang.clone()];
            // "(zh-cmn 5)(zh 5)": language and priority pairs.
            let others = cols[5..].join(" ");
            languages.extend(
                others
                    .split('(')
                    .filter_map(|p| p.split_whitespace().next())
                    .map(str::to_string),
            );
            Some(TtsVoice {
                artifact: Artifact::new(lang, cols[3].replace('_', " "), by.clone()),
                languages,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_voice_listing() {
        let listing = "Pty Language       Age/Gender VoiceName          File                 Other Languages\n \
             5  af              --/M      Afrikaans          gmw/af\n \
             2  en-us           --/M      English_(America)  gmw/en-US            (en 3)\n \
             5  cmn             --/M      Chinese_(Mandarin) sit/cmn              (zh-cmn 5)(zh 5)\n";
        let v = parse_voices(listing);
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].languages, vec!["cmn", "zh-cmn", "zh"]);
        assert_eq!(v[1].artifact.name, "en-us");
        assert_eq!(v[1].languages, vec!["en-us", "en"]);
        assert_eq!(
            v[1].artifact.description.as_deref(),
            Some("English (America)")
        );
    }
}
