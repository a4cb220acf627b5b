//! Skill bundles: `skill.toml` + `skill.wasm` (a component) + intent templates
//! per language, signed with ed25519 by the publisher.
//!
//! Layout (little-endian):
//! `EMMASKL\x01`, `u32` entry count, then per entry `u16` name length, name,
//! `u32` data length, data; then optionally the signature trailer
//! `SIG1`, 32-byte public key, 64-byte signature over
//! `"emma-skill-bundle-v1" || sha256(everything before the trailer)`.
//! An unsigned bundle is a development bundle: only `--dev` installs it.

use crate::manifest::{Manifest, ManifestError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::Path;

const MAGIC: &[u8; 8] = b"EMMASKL\x01";
const SIG_MAGIC: &[u8; 4] = b"SIG1";
const SIG_DOMAIN: &[u8] = b"emma-skill-bundle-v1";
const TRAILER_LEN: usize = 4 + 32 + 64;
/// Largest bundle accepted.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
const MAX_ENTRIES: usize = 64;

/// Errors reading, writing or verifying bundles and keys.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file is not a bundle or is cut short.
    #[error("{origin}: not a valid skill bundle: {reason}")]
    Malformed {
        /// File or origin.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The manifest inside is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The signature does not match the contents.
    #[error(
        "{origin}: signature check failed: the bundle was modified after signing or signed with another key; get a fresh copy from the publisher"
    )]
    BadSignature {
        /// File or origin.
        origin: String,
    },
    /// Signed, but by a key nobody trusted.
    #[error(
        "{origin}: signed by untrusted key {key}; trust the publisher's key with `emma skill trust` or install with --dev"
    )]
    UntrustedKey {
        /// File or origin.
        origin: String,
        /// Hex public key.
        key: String,
    },
    /// Unsigned bundle outside dev mode.
    #[error("{origin}: bundle is unsigned; sign it with `emma skill sign` or install with --dev")]
    Unsigned {
        /// File or origin.
        origin: String,
    },
    /// A key file is invalid.
    #[error("{origin}: not a valid {what}: {reason}")]
    BadKey {
        /// File or origin.
        origin: String,
        /// Public or secret key.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An unpacked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The validated manifest.
    pub manifest: Manifest,
    /// Raw `skill.toml` text.
    pub manifest_text: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// Intent templates: (language, YAML text).
    pub intents: Vec<(String, String)>,
    /// Signer's public key, if signed.
    pub signer: Option<VerifyingKey>,
}

/// How a bundle's signature turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Signed by one of the trusted keys.
    Trusted(String),
    /// Accepted in dev mode without a trusted signature.
    Dev,
}

impl Bundle {
    /// Assembles a bundle from parts, validating the manifest.
    pub fn new(
        manifest_text: String,
        component: Vec<u8>,
        intents: Vec<(String, String)>,
    ) -> Result<Bundle, BundleError> {
        let manifest = Manifest::parse(&manifest_text, "skill.toml")?;
        Ok(Bundle {
            manifest,
            manifest_text,
            component,
            intents,
            signer: None,
        })
    }

    fn payload(&self) -> Vec<u8> {
        let mut entries: Vec<(String, &[u8])> = vec![
            ("skill.toml".into(), self.manifest_text.as_bytes()),
            ("skill.wasm".into(), &self.component),
        ];
        for (lang, yaml) in &self.intents {
            entries.push((format!("intents/{lang}.yaml"), yaml.as_bytes()));
        }
        let mut out = Vec::with_capacity(self.component.len() + 4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (name, data) in entries {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    /// Serialises the bundle, signed with `key` if given.
    pub fn to_bytes(&self, key: Option<&SigningKey>) -> Vec<u8> {
        let mut out = self.payload();
        if let Some(key) = key {
            let sig = key.sign(&signed_message(&out));
            out.extend_from_slice(SIG_MAGIC);
            out.extend_from_slice(key.verifying_key().as_bytes());
            out.extend_from_slice(&sig.to_bytes());
        }
        out
    }

    /// Parses bundle bytes and checks the signature matches the contents (not yet whether the key is trusted).
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Bundle, BundleError> {
        let bad = |reason: &str| BundleError::Malformed {
            origin: origin.to_string(),
            reason: reason.to_string(),
        };
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(bad(&format!(
                "{} bytes is over the {MAX_BUNDLE_BYTES}-byte limit",
                bytes.len()
            )));
        }
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(bad(
                "missing EMMASKL header; build one with `emma skill build`",
            ));
        }
        let mut pos = 8;
        let take = |pos: &mut usize, n: usize| -> Result<&[u8], BundleError> {
            let end = pos
                .checked_add(n)
                .filter(|e| *e <= bytes.len())
                .ok_or_else(|| bad("truncated entry"))?;
            let s = &bytes[*pos..end];
            *pos = end;
            Ok(s)
        };
        let count = u32::from_le_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes")) as usize;
        if count > MAX_ENTRIES {
            return Err(bad(&format!(
                "{count} entries is over the limit of {MAX_ENTRIES}"
            )));
        }
        let (mut manifest_text, mut component, mut intents) = (None, None, Vec::new());
        for _ in 0..count {
            let nlen = u16::from_le_bytes(take(&mut pos, 2)?.try_into().expect("2 bytes")) as usize;
            let name = std::str::from_utf8(take(&mut pos, nlen)?)
                .map_err(|_| bad("entry name is not UTF-8"))?
                .to_string();
            let dlen = u32::from_le_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes")) as usize;
            let data = take(&mut pos, dlen)?;
            match name.as_str() {
                "skill.toml" if manifest_text.is_none() => {
                    manifest_text = Some(
                        String::from_utf8(data.to_vec())
                            .map_err(|_| bad("skill.toml is not UTF-8"))?,
                    )
                }
                "skill.wasm" if component.is_none() => component = Some(data.to_vec()),
                n => {
                    let lang = n
                        .strip_prefix("intents/")
                        .and_then(|l| l.strip_suffix(".yaml"))
                        .filter(|l| {
                            (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase())
                        })
                        .ok_or_else(|| bad(&format!("unexpected or duplicate entry `{n}`")))?;
                    if intents.iter().any(|(l, _): &(String, String)| l == lang) {
                        return Err(bad(&format!("duplicate entry `{n}`")));
                    }
                    let yaml = String::from_utf8(data.to_vec())
                        .map_err(|_| bad(&format!("{n} is not UTF-8")))?;
                    intents.push((lang.to_string(), yaml));
                }
            }
        }
        let signed_len = pos;
        let signer = match bytes.len() - pos {
            0 => None,
            TRAILER_LEN if &bytes[pos..pos + 4] == SIG_MAGIC => {
                let key = VerifyingKey::from_bytes(
                    bytes[pos + 4..pos + 36].try_into().expect("32 bytes"),
                )
                .map_err(|_| BundleError::BadSignature {
                    origin: origin.to_string(),
                })?;
                let sig = Signature::from_bytes(bytes[pos + 36..].try_into().expect("64 bytes"));
                key.verify(&signed_message(&bytes[..signed_len]), &sig)
                    .map_err(|_| BundleError::BadSignature {
                        origin: origin.to_string(),
                    })?;
                Some(key)
            }
            _ => return Err(bad("trailing bytes after the last entry")),
        };
        let manifest_text = manifest_text.ok_or_else(|| bad("no skill.toml entry"))?;
        let component = component.ok_or_else(|| bad("no skill.wasm entry"))?;
        let manifest = Manifest::parse(&manifest_text, &format!("{origin}!skill.toml"))?;
        Ok(Bundle {
            manifest,
            manifest_text,
            component,
            intents,
            signer,
        })
    }

    /// Reads and parses a bundle file.
    pub fn read(path: &Path) -> Result<Bundle, BundleError> {
        let len = std::fs::metadata(path).map_err(io(path))?.len();
        if len > MAX_BUNDLE_BYTES as u64 {
            return Err(BundleError::Malformed {
                origin: path.display().to_string(),
                reason: format!("{len} bytes is over the {MAX_BUNDLE_BYTES}-byte limit"),
            });
        }
        let bytes = std::fs::read(path).map_err(io(path))?;
        Bundle::from_bytes(&bytes, &path.display().to_string())
    }

    /// Decides whether to accept the bundle: signed by a trusted key, or `dev` mode.
    pub fn check_trust(
        &self,
        trusted: &[VerifyingKey],
        dev: bool,
        origin: &str,
    ) -> Result<Trust, BundleError> {
        match &self.signer {
            Some(key) if trusted.contains(key) => Ok(Trust::Trusted(key_hex(key))),
            _ if dev => Ok(Trust::Dev),
            Some(key) => Err(BundleError::UntrustedKey {
                origin: origin.to_string(),
                key: key_hex(key),
            }),
            None => Err(BundleError::Unsigned {
                origin: origin.to_string(),
            }),
        }
    }

    /// SHA-256 of the component, hex.
    pub fn component_digest(&self) -> String {
        hex(&Sha256::digest(&self.component))
    }
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut m = SIG_DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(payload));
    m
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A public key as hex.
pub fn key_hex(key: &VerifyingKey) -> String {
    hex(key.as_bytes())
}

const SECRET_HEADER: &str = "emma-skill-secret-key-v1";
const PUBLIC_HEADER: &str = "emma-skill-public-key-v1";

/// Makes a new signing key from the OS random source.
pub fn generate_key() -> Result<SigningKey, BundleError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| BundleError::BadKey {
        origin: "os random source".into(),
        what: "secret key",
        reason: e.to_string(),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Text form of a secret key file.
pub fn secret_key_text(key: &SigningKey) -> String {
    format!("{SECRET_HEADER}\n{}\n", hex(key.as_bytes()))
}

/// Text form of a public key file.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_HEADER} {}\n", key_hex(key))
}

/// Parses a secret key file's text.
pub fn parse_secret_key(text: &str, origin: &str) -> Result<SigningKey, BundleError> {
    let bad = |reason: &str| BundleError::BadKey {
        origin: origin.into(),
        what: "secret key",
        reason: reason.into(),
    };
    let mut words = text.split_whitespace();
    if words.next() != Some(SECRET_HEADER) {
        return Err(bad(&format!(
            "missing `{SECRET_HEADER}` header; make one with `emma skill keygen`"
        )));
    }
    let bytes = words
        .next()
        .and_then(unhex)
        .ok_or_else(|| bad("key is not hex"))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| bad("key is not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a public key: a public key file's text, or bare 64-digit hex.
pub fn parse_public_key(text: &str, origin: &str) -> Result<VerifyingKey, BundleError> {
    let bad = |reason: &str| BundleError::BadKey {
        origin: origin.into(),
        what: "public key",
        reason: reason.into(),
    };
    let text = text.trim();
    let hexpart = text
        .strip_prefix(PUBLIC_HEADER)
        .map(str::trim)
        .unwrap_or(text);
    let bytes = unhex(hexpart).ok_or_else(|| bad("expected 64 hex digits"))?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| bad("expected 32 bytes"))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| bad("not a valid ed25519 point"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "id = \"com.example.hello\"\nversion = \"0.1.0\"\npublisher = \"Ex\"\nlanguages = [\"en\"]\nintents = [\"Hello\"]\n";

    fn bundle() -> Bundle {
        Bundle::new(
            MANIFEST.into(),
            b"\0asm fake".to_vec(),
            vec![("en".into(), "intents: {}".into())],
        )
        .unwrap()
    }

    #[test]
    fn signed_round_trip_and_trust() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let bytes = bundle().to_bytes(Some(&key));
        let b = Bundle::from_bytes(&bytes, "b").unwrap();
        assert_eq!(
            b.intents,
            vec![("en".to_string(), "intents: {}".to_string())]
        );
        assert_eq!(
            b.check_trust(&[key.verifying_key()], false, "b").unwrap(),
            Trust::Trusted(key_hex(&key.verifying_key()))
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(matches!(
            b.check_trust(&[other], false, "b"),
            Err(BundleError::UntrustedKey { .. })
        ));
        assert_eq!(b.check_trust(&[other], true, "b").unwrap(), Trust::Dev);
    }

    #[test]
    fn any_flipped_byte_is_caught() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let bytes = bundle().to_bytes(Some(&key));
        for i in (0..bytes.len()).step_by(7) {
            let mut t = bytes.clone();
            t[i] ^= 0x20;
            assert!(Bundle::from_bytes(&t, "t").is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn unsigned_needs_dev_and_garbage_is_rejected() {
        let b = Bundle::from_bytes(&bundle().to_bytes(None), "u").unwrap();
        assert!(matches!(
            b.check_trust(&[], false, "u"),
            Err(BundleError::Unsigned { .. })
        ));
        assert!(matches!(
            Bundle::from_bytes(b"hello", "g"),
            Err(BundleError::Malformed { .. })
        ));
        let mut trunc = bundle().to_bytes(None);
        trunc.truncate(trunc.len() - 3);
        assert!(matches!(
            Bundle::from_bytes(&trunc, "t"),
            Err(BundleError::Malformed { .. })
        ));
    }

    #[test]
    fn key_files_round_trip() {
        let key = SigningKey::from_bytes(&[3; 32]);
        assert_eq!(
            parse_secret_key(&secret_key_text(&key), "k")
                .unwrap()
                .as_bytes(),
            key.as_bytes()
        );
        let vk = key.verifying_key();
        assert_eq!(parse_public_key(&public_key_text(&vk), "p").unwrap(), vk);
        assert_eq!(parse_public_key(&key_hex(&vk), "p").unwrap(), vk);
        assert!(parse_public_key("zz", "p").is_err());
    }
}
