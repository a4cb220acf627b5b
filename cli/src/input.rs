//! Text that reaches the CLI from outside: an argument, or stdin for `-`.
//!
//! An utterance is untrusted: it may be empty, huge or not UTF-8. This module
//! turns each of those into a clear error before any engine sees it;
//! anything else goes to the engine, which answers "not understood" when no
//! intent fits.

use std::io::Read;

use anyhow::{Context, bail};

/// Longest utterance accepted, in bytes. Spoken commands are a few hundred
/// bytes; this bounds what stdin is read into memory and what the matcher
/// is asked to consider.
pub const MAX_UTTERANCE_BYTES: usize = 4096;

/// The utterance given as `arg`: the text itself, or all of stdin when it is `-`.
pub fn utterance(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_UTTERANCE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .context("reading the text from stdin")?;
        return check(&bytes, "stdin");
    }
    check(arg.as_bytes(), "the text")
}

/// Checks raw bytes as an utterance from `source` (for messages).
pub fn check(bytes: &[u8], source: &str) -> anyhow::Result<String> {
    if bytes.len() > MAX_UTTERANCE_BYTES {
        bail!("{source} is longer than {MAX_UTTERANCE_BYTES} bytes; say one command at a time");
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => bail!(
            "{source} is not UTF-8 text (invalid byte at offset {}); convert it to UTF-8",
            e.valid_up_to()
        ),
    };
    if text.trim().is_empty() {
        bail!(
            "{source} is empty; give the sentence to recognise, e.g. \"turn on the kitchen light\""
        );
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        bail!(
            "{source} contains the control character U+{:04X}; give plain text",
            u32::from(c)
        );
    }
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_trimmed() {
        assert_eq!(
            check(b"  turn on the light\n", "t").unwrap(),
            "turn on the light"
        );
        assert_eq!(
            check("Schalte das Licht ein ü".as_bytes(), "t").unwrap(),
            "Schalte das Licht ein ü"
        );
    }

    #[test]
    fn empty_huge_binary_and_control_text_are_errors() {
        let e = check(b" \n\t", "stdin").unwrap_err().to_string();
        assert!(e.contains("stdin is empty"), "{e}");
        let e = check(&vec![b'a'; MAX_UTTERANCE_BYTES + 1], "stdin")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 4096 bytes"), "{e}");
        let e = check(b"turn on \xff\xfe", "stdin").unwrap_err().to_string();
        assert!(e.contains("not UTF-8") && e.contains("offset 8"), "{e}");
        let e = check(b"turn\x00on", "the text").unwrap_err().to_string();
        assert!(e.contains("U+0000"), "{e}");
    }
}
