//! C2SP signed notes with Ed25519 keys, and C2SP tlog checkpoints.
//!
//! Formats (c2sp.org/signed-note, c2sp.org/tlog-checkpoint, matching Go's
//! `golang.org/x/mod/sumdb/note`):
//! - key ID = first 4 bytes (big-endian) of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key);
//! - verifier key = `<name>+<8 hex digits of key ID>+<base64(0x01 ‖ public key)>`;
//! - signer key = `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 ‖ 32-byte seed)>`;
//! - note = text (ending in a newline), an empty line, then signature lines
//!   `— <name> <base64(key ID ‖ signature)>` (U+2014 em dash);
//! - checkpoint text = origin line, decimal tree size, base64 root hash, each ending in a
//!   newline.
//!
//! Verification ignores signatures by unknown (name, key ID) pairs, as the spec demands,
//! and fails unless at least one known key verified and no known key failed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::limits::{CHECKPOINT_BYTES_MAX, NOTE_SIGNATURES_MAX, ORIGIN_BYTES_MAX};
use crate::merkle::Hash;

/// Signature type byte of Ed25519 note keys.
const ALG_ED25519: u8 = 0x01;
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key, note or checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or has a space, `+` or control character.
    #[error("invalid key name or origin {name:?}")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A verifier or signer key string is malformed.
    #[error("malformed key: {reason}")]
    MalformedKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// A note's layout is wrong.
    #[error("malformed note: {reason}")]
    MalformedNote {
        /// What is wrong.
        reason: &'static str,
    },
    /// A known key's signature did not verify.
    #[error("signature by {name} does not verify")]
    BadSignature {
        /// Key name.
        name: String,
    },
    /// No signature by a known key.
    #[error("no signature by a known key (expected {name}+{key_id:08x})")]
    NoKnownSignature {
        /// Name of the expected key.
        name: String,
        /// Its key ID.
        key_id: u32,
    },
    /// The checkpoint text is not origin / size / root.
    #[error("malformed checkpoint: {reason}")]
    MalformedCheckpoint {
        /// What is wrong.
        reason: &'static str,
    },
    /// The checkpoint belongs to another log.
    #[error("checkpoint origin {found:?} differs from {expected:?}")]
    WrongOrigin {
        /// Origin the verifier expects.
        expected: String,
        /// Origin in the checkpoint.
        found: String,
    },
}

/// Check a key name / origin: non-empty, at most [`ORIGIN_BYTES_MAX`] bytes, no Unicode
/// whitespace, no `+`, no control characters.
pub fn validate_name(name: &str) -> Result<(), NoteError> {
    let bad = name.is_empty()
        || name.len() > ORIGIN_BYTES_MAX
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
    if bad {
        return Err(NoteError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The signed-note key ID of an Ed25519 key.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0A, ALG_ED25519]);
    hasher.update(public_key);
    let digest: [u8; 32] = hasher.finalize().into();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// An Ed25519 note signer: a key name and a private key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print private key material.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<NoteSigner, NoteError> {
        validate_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, &key.verifying_key().to_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// Parse a signer key `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`.
    pub fn from_signer_key(text: &str) -> Result<NoteSigner, NoteError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey {
                reason: "missing PRIVATE+KEY+ prefix",
            })?;
        let (name, id, key) = split_key(rest)?;
        let seed: [u8; 32] = key.try_into().map_err(|_| NoteError::MalformedKey {
            reason: "private key is not 32 bytes",
        })?;
        let signer = NoteSigner::from_seed(&name, seed)?;
        if signer.key_id != id {
            return Err(NoteError::MalformedKey {
                reason: "key ID does not match the key",
            });
        }
        Ok(signer)
    }

    /// The signer key text (secret: store owner-only).
    pub fn signer_key(&self) -> String {
        let mut payload = vec![ALG_ED25519];
        payload.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(payload)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            key_id: self.key_id,
        }
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sign note text (which must end in a newline) and return the full note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_note_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut payload = Vec::with_capacity(68);
        payload.extend_from_slice(&self.key_id.to_be_bytes());
        payload.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(payload)
        ))
    }
}

/// An Ed25519 note verifier: a key name, key ID and public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    key_id: u32,
}

impl NoteVerifier {
    /// Parse a verifier key `<name>+<hex id>+<base64(0x01 ‖ public key)>`.
    pub fn from_verifier_key(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, key) = split_key(text)?;
        let bytes: [u8; 32] = key.try_into().map_err(|_| NoteError::MalformedKey {
            reason: "public key is not 32 bytes",
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::MalformedKey {
            reason: "not an Ed25519 public key",
        })?;
        if key_id(&name, &bytes) != id {
            return Err(NoteError::MalformedKey {
                reason: "key ID does not match the key",
            });
        }
        Ok(NoteVerifier {
            name,
            key,
            key_id: id,
        })
    }

    /// The verifier key text.
    pub fn verifier_key(&self) -> String {
        let mut payload = vec![ALG_ED25519];
        payload.extend_from_slice(&self.key.to_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(payload)
        )
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Verify a signed note and return its text.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, signatures) = split_note(note)?;
        let mut verified = false;
        for (name, id, signature) in signatures {
            if name != self.name || id != self.key_id {
                continue;
            }
            let signature =
                Signature::from_slice(&signature).map_err(|_| NoteError::BadSignature {
                    name: name.to_owned(),
                })?;
            self.key
                .verify_strict(text.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature {
                    name: name.to_owned(),
                })?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::NoKnownSignature {
                name: self.name.clone(),
                key_id: self.key_id,
            });
        }
        Ok(text)
    }
}

fn split_key(text: &str) -> Result<(String, u32, Vec<u8>), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey {
            reason: "expected name+id+key",
        });
    };
    validate_name(name)?;
    if id.len() != 8
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(NoteError::MalformedKey {
            reason: "key ID is not 8 lowercase hex digits",
        });
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::MalformedKey {
        reason: "key ID is not hex",
    })?;
    let decoded = BASE64.decode(key).map_err(|_| NoteError::MalformedKey {
        reason: "key is not base64",
    })?;
    match decoded.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name.to_owned(), id, key.to_vec())),
        _ => Err(NoteError::MalformedKey {
            reason: "not an Ed25519 (0x01) key",
        }),
    }
}

fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedNote {
            reason: "text does not end in a newline",
        });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::MalformedNote {
            reason: "control character in text",
        });
    }
    Ok(())
}

type SignatureLine<'a> = (&'a str, u32, Vec<u8>);

/// Split a note into its text and its parsed signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.len() > CHECKPOINT_BYTES_MAX {
        return Err(NoteError::MalformedNote {
            reason: "note too large",
        });
    }
    if !note.ends_with('\n') {
        return Err(NoteError::MalformedNote {
            reason: "note does not end in a newline",
        });
    }
    // The last blank line separates the text from the signatures.
    let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote {
        reason: "no blank line before signatures",
    })?;
    let text = &note[..split + 1];
    check_note_text(text)?;
    let block = &note[split + 2..];
    let mut signatures = Vec::new();
    for line in block.lines() {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::MalformedNote {
                reason: "signature line without em dash",
            })?;
        let (name, encoded) = rest.split_once(' ').ok_or(NoteError::MalformedNote {
            reason: "signature line without key name",
        })?;
        validate_name(name).map_err(|_| NoteError::MalformedNote {
            reason: "bad key name",
        })?;
        let payload = BASE64
            .decode(encoded)
            .map_err(|_| NoteError::MalformedNote {
                reason: "signature is not base64",
            })?;
        if payload.len() < 5 {
            return Err(NoteError::MalformedNote {
                reason: "signature too short",
            });
        }
        let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        signatures.push((name, id, payload[4..].to_vec()));
        if signatures.len() > NOTE_SIGNATURES_MAX {
            return Err(NoteError::MalformedNote {
                reason: "too many signatures",
            });
        }
    }
    if signatures.is_empty() {
        return Err(NoteError::MalformedNote {
            reason: "no signature lines",
        });
    }
    Ok((text, signatures))
}

/// The body of a C2SP checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity (also the signing key's name).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash at that size.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, one per line.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parse checkpoint text (extension lines are rejected: this ledger writes none and
    /// monitors cannot audit them).
    pub fn parse_text(text: &str) -> Result<Checkpoint, NoteError> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect();
        let [origin, size, root] = lines[..] else {
            return Err(NoteError::MalformedCheckpoint {
                reason: "expected three lines",
            });
        };
        validate_name(origin).map_err(|_| NoteError::MalformedCheckpoint {
            reason: "bad origin line",
        })?;
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        if !canonical || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NoteError::MalformedCheckpoint {
                reason: "bad tree size line",
            });
        }
        let size = size
            .parse::<u64>()
            .map_err(|_| NoteError::MalformedCheckpoint {
                reason: "tree size overflows",
            })?;
        let root: Hash = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(NoteError::MalformedCheckpoint {
                reason: "bad root hash line",
            })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Verify a signed checkpoint note with `verifier` and parse it. The origin must equal
    /// the verifier's key name.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let text = verifier.open(note)?;
        let checkpoint = Checkpoint::parse_text(text)?;
        if checkpoint.origin != verifier.name() {
            return Err(NoteError::WrongOrigin {
                expected: verifier.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }

    /// Parse a checkpoint note without verifying it (the ledger's own recovery path,
    /// which trusts its files; `verify` checks the signatures).
    pub fn parse_unverified(note: &str) -> Result<Checkpoint, NoteError> {
        let (text, _) = split_note(note)?;
        Checkpoint::parse_text(text)
    }
}

/// Decode a base64 hash (used by proof parsers).
pub(crate) fn decode_hash(text: &str) -> Option<Hash> {
    BASE64
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
}

/// Encode a hash as standard base64.
pub(crate) fn encode_hash(hash: &Hash) -> String {
    BASE64.encode(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note of golang.org/x/mod/sumdb/note (note_test.go and the
    // package documentation).
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n\
                           \n\
                           \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_vector_signer_reproduces_the_note_byte_for_byte() {
        let signer = NoteSigner::from_signer_key(GO_SKEY).unwrap();
        assert_eq!(signer.signer_key(), GO_SKEY);
        assert_eq!(signer.verifier().verifier_key(), GO_VKEY);
        assert_eq!(signer.sign(GO_TEXT).unwrap(), GO_NOTE);
    }

    #[test]
    fn go_vector_note_verifies_and_tampering_fails() {
        let verifier = NoteVerifier::from_verifier_key(GO_VKEY).unwrap();
        assert_eq!(verifier.key_id(), 0xc74f20a3);
        assert_eq!(verifier.open(GO_NOTE).unwrap(), GO_TEXT);
        let tampered = GO_NOTE.replace("cryptography", "cryptographY");
        assert!(matches!(
            verifier.open(&tampered),
            Err(NoteError::BadSignature { .. })
        ));
        let other = NoteSigner::from_seed("PeterNeumann", [7; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            other.open(GO_NOTE),
            Err(NoteError::NoKnownSignature { .. })
        ));
    }

    #[test]
    fn checkpoint_round_trip() {
        let signer = NoteSigner::from_seed("example.com/log", [1; 32]).unwrap();
        let checkpoint = Checkpoint {
            origin: "example.com/log".to_owned(),
            size: 42,
            root: [9; 32],
        };
        let note = signer.sign(&checkpoint.to_text()).unwrap();
        assert_eq!(
            Checkpoint::open(&note, &signer.verifier()).unwrap(),
            checkpoint
        );
        assert!(Checkpoint::parse_text("example.com/log\n042\nAA==\n").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("a+b").is_err());
    }
}
