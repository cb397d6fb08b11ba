//! Evidence that an event is in the trail: an inclusion proof of its ledger record against a
//! signed checkpoint, checked before it is handed out. `auditrail prove` and the server's
//! `GET /api/v1/proof/{id}` both use [`Store::prove_events`] and [`EventProof::to_json`], so
//! that they answer the same.

use std::time::SystemTime;

use ledger::{Checkpoint, InclusionProof, ProofCheckError};
use serde::Serialize;
use serde_json::Value;

use crate::{Store, StoreError};

/// Why an event could not be proven.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The proof made does not verify (a damaged store: run `auditrail verify`).
    #[error("the proof of record {seq} does not verify: {source}; run `auditrail verify`")]
    Check {
        /// The record.
        seq: u64,
        /// What failed.
        #[source]
        source: ProofCheckError,
    },
}

/// One event's proof.
#[derive(Debug, Clone)]
pub struct EventProof {
    /// The ledger sequence number (the leaf index).
    pub seq: u64,
    /// The exact ledger record (the proof's leaf is SHA-256(0x00 ‖ record)).
    pub record: Vec<u8>,
    /// The inclusion proof, against the latest checkpoint.
    pub proof: InclusionProof,
}

/// The JSON of one proof, fields in this order.
#[derive(Serialize)]
struct ProofView<'a> {
    seq: u64,
    /// The exact ledger record (the proof's leaf is SHA-256(0x00 ‖ record)).
    record: std::borrow::Cow<'a, str>,
    /// The same record parsed: the event in auditrail's normalized form.
    event: Value,
    proof: Value,
}

impl EventProof {
    /// `{"seq", "record", "event", "proof"}` in that order: the record as text, the same
    /// record parsed (the event in auditrail's normalized form), and the proof as JSON. The
    /// record comes before its parsed copy, so that a reader that stops at the first match
    /// of a text finds the bytes the proof covers.
    pub fn to_json(&self) -> String {
        let view = ProofView {
            seq: self.seq,
            record: String::from_utf8_lossy(&self.record),
            event: serde_json::from_slice(&self.record).unwrap_or(Value::Null),
            proof: serde_json::from_str(&self.proof.to_json()).unwrap_or(Value::Null),
        };
        // Values that are already JSON serialise without error.
        serde_json::to_string(&view).unwrap_or_default()
    }
}

/// Which records `reference` names: a sequence number below `tree_size`, else the events
/// whose id it is, which `find_id` looks up (given as a function, so that a reader without
/// the store can look them up in its own way).
pub fn resolve_event(
    reference: &str,
    tree_size: u64,
    find_id: impl FnOnce(&str) -> Result<Vec<u64>, StoreError>,
) -> Result<Vec<u64>, StoreError> {
    match reference.parse::<u64>() {
        Ok(seq) if seq < tree_size => Ok(vec![seq]),
        _ => find_id(reference),
    }
}

impl Store {
    /// Proofs of the records `seqs`, each checked. Signs a new checkpoint first when the
    /// latest one does not cover them all.
    pub fn prove_events(
        &mut self,
        seqs: &[u64],
        now: SystemTime,
    ) -> Result<Vec<EventProof>, ProofError> {
        let covered = self
            .ledger()
            .latest_checkpoint()
            .and_then(|text| Checkpoint::parse_unverified(text).ok())
            .is_some_and(|checkpoint| seqs.iter().all(|seq| *seq < checkpoint.size));
        if !covered {
            self.checkpoint(now)?;
        }
        let verifier = self.ledger().verifier();
        let mut proofs = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let record = self.ledger().read(*seq).map_err(StoreError::from)?;
            let proof = self.ledger().prove(*seq).map_err(StoreError::from)?;
            proof
                .verify(&record, &verifier)
                .map_err(|source| ProofError::Check { seq: *seq, source })?;
            proofs.push(EventProof {
                seq: *seq,
                record,
                proof,
            });
        }
        Ok(proofs)
    }
}
