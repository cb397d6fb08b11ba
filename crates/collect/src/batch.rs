//! What a source hands on: a [`Batch`] of decoded events, the malformed records, and the
//! [`Position`] to commit once they are durable; and the [`Sink`] that makes them durable.

use std::sync::Arc;

use event::AuditEvent;

use crate::error::CollectError;
use crate::state::Position;

/// A malformed input record, raw, for the quarantine file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The input: a file path, or `journal:NAME`.
    pub input: String,
    /// 1-based line (for the journal: the entry's number since `journalctl` started).
    pub line: u64,
    /// Byte offset of the record in its file (for the journal: as `line`).
    pub offset: u64,
    /// Why it was not decoded.
    pub message: String,
    /// The record as read.
    pub raw: Vec<u8>,
}

/// Events and malformed records read from one source, with the position that is safe to
/// resume from once they are durable.
#[derive(Debug)]
pub struct Batch {
    /// The source's name.
    pub source: Arc<str>,
    /// Events decoded (the policy is not applied yet).
    pub events: Vec<AuditEvent>,
    /// Malformed records.
    pub rejected: Vec<Rejected>,
    /// Bytes of input read for this batch.
    pub bytes: usize,
    /// To commit (`Offsets::commit`) once every event and record above is durable.
    pub position: Position,
}

impl Batch {
    /// True when there is nothing to store (only a position to commit, perhaps).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.rejected.is_empty()
    }
}

/// Where batches go. `deliver` is called from the source's own thread, one batch at a time
/// per source, in order; it may block (that is the back-pressure: a source reads no further
/// while its sink is full).
///
/// Contract: the sink commits `batch.position` to the source's [`crate::Offsets`] only after
/// every event and rejected record of the batch is durable (and every earlier batch of the
/// same source). `auditrail serve` stores the batch in the ledger and then commits;
/// `auditrail agent` spools it and commits when the server acknowledged it.
pub trait Sink: Send + Sync {
    /// Takes a batch; `Err` when it cannot be taken (the source then rereads from its last
    /// committed position), `Err(CollectError::Stopped)` when shutting down.
    fn deliver(&self, batch: Batch) -> Result<(), CollectError>;
}
