//! Inclusion proofs of one record, exported as C2SP tlog-proof text or JSON, and their
//! verification by anyone who holds the record and the verifier key.

use serde::{Deserialize, Serialize};

use crate::merkle::{self, Hash, ProofError, hex, leaf_hash};
use crate::note::{Checkpoint, NoteError, NoteVerifier, decode_hash, encode_hash};

/// Proof that record `index` is leaf `index` of the tree a signed checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Leaf index (= the record's sequence number).
    pub index: u64,
    /// Size of the checkpointed tree.
    pub tree_size: u64,
    /// RFC 6962 leaf hash of the record.
    pub leaf_hash: Hash,
    /// Audit path, leaf's sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (note text).
    pub checkpoint: String,
}

/// Why a proof was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ProofCheckError {
    /// The checkpoint's signature or format is bad.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The proof's tree size differs from the checkpoint's.
    #[error("proof is for tree size {proof} but the checkpoint has {checkpoint}")]
    SizeMismatch {
        /// Size in the proof.
        proof: u64,
        /// Size in the checkpoint.
        checkpoint: u64,
    },
    /// The record does not hash to the proof's leaf hash.
    #[error("record hashes to {actual}, the proof names {expected}", actual = hex(actual), expected = hex(expected))]
    LeafMismatch {
        /// Leaf hash in the proof.
        expected: Hash,
        /// Hash of the record given.
        actual: Hash,
    },
    /// The audit path does not lead to the checkpoint's root.
    #[error("audit path: {0}")]
    Path(#[from] ProofError),
    /// The text could not be parsed.
    #[error("malformed proof: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct ProofJson {
    format: String,
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    inclusion_proof: Vec<String>,
    checkpoint: String,
}

const JSON_FORMAT: &str = "auditrail-inclusion-proof/v1";
const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

impl InclusionProof {
    /// The proof as C2SP tlog-proof text (`c2sp.org/tlog-proof@v1`, `index N`, the
    /// hashes in base64, a blank line, the checkpoint).
    pub fn to_tlog_proof(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\nindex {}\n", self.index);
        for hash in &self.hashes {
            out.push_str(&encode_hash(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parse tlog-proof text; the leaf hash is taken from `record`.
    pub fn from_tlog_proof(text: &str, record: &[u8]) -> Result<InclusionProof, ProofCheckError> {
        let malformed = |reason: &str| ProofCheckError::Malformed {
            reason: reason.to_owned(),
        };
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| malformed("no blank line"))?;
        let mut lines = head.lines();
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(malformed("first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or_else(|| malformed("no index line"))?;
        if line.starts_with("extra ") {
            line = lines.next().ok_or_else(|| malformed("no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| malformed("bad index line"))?;
        let hashes = lines
            .map(|line| decode_hash(line).ok_or_else(|| malformed("bad hash line")))
            .collect::<Result<Vec<_>, _>>()?;
        let body = Checkpoint::parse_unverified(checkpoint)?;
        Ok(InclusionProof {
            index,
            tree_size: body.size,
            leaf_hash: leaf_hash(record),
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The proof as one JSON object: `format`, `index`, `tree_size`, `leaf_hash` (hex),
    /// `inclusion_proof` (base64 hashes, sibling first) and `checkpoint` (note text).
    pub fn to_json(&self) -> String {
        let json = ProofJson {
            format: JSON_FORMAT.to_owned(),
            index: self.index,
            tree_size: self.tree_size,
            leaf_hash: hex(&self.leaf_hash),
            inclusion_proof: self.hashes.iter().map(encode_hash).collect(),
            checkpoint: self.checkpoint.clone(),
        };
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    /// Parse the JSON form.
    pub fn from_json(text: &str) -> Result<InclusionProof, ProofCheckError> {
        let malformed = |reason: String| ProofCheckError::Malformed { reason };
        let json: ProofJson = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if json.format != JSON_FORMAT {
            return Err(malformed(format!("unknown format {:?}", json.format)));
        }
        let leaf_hash =
            parse_hex(&json.leaf_hash).ok_or_else(|| malformed("bad leaf_hash".to_owned()))?;
        let hashes = json
            .inclusion_proof
            .iter()
            .map(|h| decode_hash(h).ok_or_else(|| malformed("bad proof hash".to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InclusionProof {
            index: json.index,
            tree_size: json.tree_size,
            leaf_hash,
            hashes,
            checkpoint: json.checkpoint,
        })
    }

    /// Verify the proof: the checkpoint's signature under `verifier`, that `record`
    /// hashes to the leaf, and that the audit path leads to the checkpoint's root.
    /// Returns the verified checkpoint.
    pub fn verify(
        &self,
        record: &[u8],
        verifier: &NoteVerifier,
    ) -> Result<Checkpoint, ProofCheckError> {
        let checkpoint = Checkpoint::open(&self.checkpoint, verifier)?;
        if checkpoint.size != self.tree_size {
            return Err(ProofCheckError::SizeMismatch {
                proof: self.tree_size,
                checkpoint: checkpoint.size,
            });
        }
        let actual = leaf_hash(record);
        if actual != self.leaf_hash {
            return Err(ProofCheckError::LeafMismatch {
                expected: self.leaf_hash,
                actual,
            });
        }
        merkle::verify_inclusion(
            self.index,
            self.tree_size,
            &actual,
            &self.hashes,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }
}

fn parse_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
